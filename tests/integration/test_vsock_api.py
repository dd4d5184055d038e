# SPDX-License-Identifier: LGPL-2.1-or-later
"""vsock and rng from the daemon's side (issue 13), with no guest driver:
the spec keys as VM1 properties, varlink fields and gunyahctl status lines;
ConnectVsock and gunyahctl vsock refused where they cannot work; the
per-VM directory and its listening socket (modes, cleanup); CID conflicts
(the second start fails naming the holder, nothing half-started); the
device processes' death (worker-failed naming the device, the other VM
unaffected); the CONNECT protocol's refusals seen by a host client;
gunyahctl vsock's bridge against a fake daemon (half-close, no deadlock).
Guest-side vsock (echo, guest to host, 64 connections) is
test_vsock_guest.py's and tests/linux's."""
import json
import os
import signal
import socket
import stat
import subprocess
import time

import dbus
import pytest

from gunyah_harness import Bus, Env, env_path, spec

START = 2
INVALID_STATE = "org.gunyah.Manager1.Error.InvalidState"


def vm_spec(name, guest="idle", memory=None, **extra):
    d = spec(name, guest, **extra)
    d["memory"] = memory or {"size": "64M", "mode": "share"}
    return json.dumps(d)


def create(gd, name, flags=0, **kwargs):
    gd.manager().CreateVM(vm_spec(name, **kwargs), dbus.UInt64(flags))


def devices(gd, name, count, timeout=10):
    """{type: pid} of the VM's device processes, once there are count of them."""
    deadline = time.monotonic() + timeout
    while True:
        found = {}
        for pid in gd.device_pids(name):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            kind = [a[len(b"--type="):].decode() for a in argv if a.startswith(b"--type=")]
            found[kind[0] if kind else "?"] = pid
        if len(found) == count or time.monotonic() > deadline:
            assert len(found) == count, (found, gd.read_log()[-3000:])
            return found
        time.sleep(0.02)


def device_argv(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode() for a in f.read().split(b"\0") if a]


def answer(sock):
    """What the device said before it closed: a close with our bytes unread
    is a reset, which says nothing more than an end of file."""
    try:
        return sock.recv(64)
    except ConnectionResetError:
        return b""


def vm_dir(gd, name):
    return os.path.join(gd.dirs["run"], "vms", name)


def varlink_vm(gd, name):
    p = gd.ctl("--varlink=" + os.path.join(gd.dirs["run"], "io.gunyah.Manager"), "status", name, "--json")
    return json.loads(p.stdout)


# ---- properties, varlink, status ----

def test_properties_say_what_the_spec_asked(gd):
    create(gd, "both", vsock={"cid": 42})
    create(gd, "plain", rng=False)
    create(gd, "lent", memory={"size": "64M"})     # lend without a pool: no devices
    for name, cid, rng in (("both", 42, True), ("plain", 0, False), ("lent", 0, False)):
        p = gd.vm_props(name)
        assert (int(p["VsockCid"]), str(p["VsockPath"]), bool(p["Rng"])) == (cid, "", rng), (name, p)
        # the normalized spec says the same: rng always, vsock when set
        s = json.loads(str(p["Spec"]))
        assert s["rng"] is rng and s.get("vsock") == ({"cid": cid} if cid else None), s


def test_varlink_fields_and_status_lines(gd):
    create(gd, "both", vsock={"cid": 42})
    create(gd, "plain", rng=False)
    v = varlink_vm(gd, "both")
    assert (v["VsockCid"], v["VsockPath"], v["Rng"]) == (42, "", True), v
    v = varlink_vm(gd, "plain")
    assert (v["VsockCid"], v["VsockPath"], v["Rng"]) == (0, "", False), v

    out = gd.ctl("status", "both").stdout
    assert "          Vsock: CID 42\n" in out and "            Rng: yes\n" in out, out
    out = gd.ctl("status", "plain").stdout
    assert "          Vsock: none\n" in out and "            Rng: no\n" in out, out


def test_a_reloaded_spec_emits_the_new_values(gd):
    """An inactive admin definition reloaded with vsock: VsockCid and Rng
    change and are announced (PropertiesChanged), as Disks are."""
    path = os.path.join(gd.dirs["etc"], "a.json")
    with open(path, "w") as f:
        f.write(vm_spec("a", rng=False))
    gd.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "a" in [str(v[0]) for v in gd.manager().ListVMs()])
    monitor = subprocess.Popen(["dbus-monitor", "--address", gd.bus.address,
                                "type='signal',interface='org.freedesktop.DBus.Properties'"],
                               stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)     # the monitor's match is in place
        with open(path, "w") as f:
            f.write(vm_spec("a", vsock={"cid": 7}))
        gd.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: int(gd.vm_props("a")["VsockCid"]) == 7)
        assert bool(gd.vm_props("a")["Rng"]) is True
        time.sleep(0.5)
    finally:
        monitor.terminate()
    out = monitor.communicate(timeout=10)[0]
    assert 'string "VsockCid"' in out and 'uint32 7' in out and 'string "Rng"' in out, out


def wait_for(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_bad_vsock_specs_are_refused_naming_the_key(gd):
    for extra, path, words in (({"vsock": {"cid": 2}}, "vsock.cid", "2 (host)"),
                               ({"vsock": {"cid": 3, "port": 5}}, "vsock.port", 'unknown key "port"'),
                               ({"rng": "yes"}, "rng", "must be true or false")):
        with pytest.raises(dbus.DBusException) as e:
            gd.manager().CreateVM(vm_spec("bad", **extra), dbus.UInt64(0))
        assert e.value.get_dbus_name() == "org.gunyah.Manager1.Error.InvalidSpec", e.value
        assert path in e.value.get_dbus_message() and words in e.value.get_dbus_message(), e.value
    with pytest.raises(dbus.DBusException) as e:
        gd.manager().CreateVM(vm_spec("bad", memory={"size": "64M"}, vsock={"cid": 3}), dbus.UInt64(0))
    assert 'set memory.mode to "share"' in e.value.get_dbus_message(), e.value


# ---- ConnectVsock where it cannot work ----

def test_connect_vsock_refused_when_stopped_or_without_vsock(gd):
    create(gd, "novsock", START)
    gd.wait_state("novsock", "running")
    create(gd, "stopped", vsock={"cid": 5})
    for name, words in (("novsock", "has no vsock"), ("stopped", "is defined")):
        with pytest.raises(dbus.DBusException) as e:
            gd.vm(name).ConnectVsock(dbus.UInt32(1234))
        assert e.value.get_dbus_name() == INVALID_STATE and words in e.value.get_dbus_message(), e.value
        p = gd.ctl("vsock", name, "1234", check=False)
        assert p.returncode == 1 and words in p.stderr, (p.returncode, p.stderr)
    p = gd.ctl("vsock", "stopped", "port", check=False)
    assert p.returncode == 2 and "PORT 'port' is not a number" in p.stderr, p.stderr
    p = gd.ctl("--varlink=" + os.path.join(gd.dirs["run"], "io.gunyah.Manager"), "vsock", "stopped", "1",
               check=False)
    assert p.returncode == 2 and "drop --varlink" in p.stderr, p.stderr


# ---- rng ----

def test_rng_runs_by_default_in_a_shared_vm_with_fd7_devnull(gd):
    create(gd, "r", START)
    gd.wait_state("r", "running")
    d = devices(gd, "r", 1)
    assert list(d) == ["rng"], d
    assert "--device=rng" in device_argv(d["rng"])
    assert os.readlink(f"/proc/{d['rng']}/fd/7") == "/dev/null"
    # and its transport is in the devicetree the guest got, as virtio,mmio
    dtb = bytes(gd.vm("r").GetDeviceTree())
    assert b"virtio_mmio@a000000" in dtb

    create(gd, "off", START, rng=False)
    gd.wait_state("off", "running")
    assert gd.device_pids("off") == []


def test_kill9_of_the_rng_device_ends_its_vm_worker_failed(gd):
    create(gd, "victim", START)
    create(gd, "other", START)
    gd.wait_state("victim", "running")
    gd.wait_state("other", "running")
    victim, other = devices(gd, "victim", 1)["rng"], devices(gd, "other", 1)["rng"]
    os.kill(victim, signal.SIGKILL)
    state = gd.wait_state("victim", ("stopped", "failed"))
    assert state == ("stopped", "worker-failed: device rng (virtio-rng at 0xa000000) killed by SIGKILL"), state
    assert gd.proc.poll() is None
    assert gd.state("other") == ("running", "start") and devices(gd, "other", 1)["rng"] == other


# ---- vsock: the directory, the socket, CIDs (the device must exist) ----

def start_vsock(gd, name, cid, **kwargs):
    create(gd, name, START, vsock={"cid": cid}, **kwargs)
    gd.wait_state(name, "running")
    return devices(gd, name, 2 if kwargs.get("rng", True) else 1)


def test_vm_dir_and_socket_modes_then_cleanup(gd):
    d = start_vsock(gd, "v", 3)
    argv = device_argv(d["vsock"])
    assert "--cid=3" in argv and "--device=vsock" in argv, argv
    vmdir = vm_dir(gd, "v")
    sock = os.path.join(vmdir, "vsock")
    assert str(gd.vm_props("v")["VsockPath"]) == sock
    assert f"          Vsock: CID 3, {sock}\n" in gd.ctl("status", "v").stdout
    assert varlink_vm(gd, "v")["VsockPath"] == sock
    st = os.stat(vmdir)
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == 0, oct(st.st_mode)
    st = os.stat(sock)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0, oct(st.st_mode)
    assert stat.S_IMODE(os.stat(os.path.dirname(vmdir)).st_mode) == 0o755
    # the device holds the listening socket at fd 7
    assert os.readlink(f"/proc/{d['vsock']}/fd/7").startswith("socket:")

    gd.vm("v").Kill()
    gd.wait_state("v", "stopped")
    assert not os.path.exists(vmdir), os.listdir(vmdir)
    assert str(gd.vm_props("v")["VsockPath"]) == ""

    # a host application's vsock_P socket is its own: the directory stays
    start_vsock(gd, "v2", 4)
    host = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    host.bind(os.path.join(vm_dir(gd, "v2"), "vsock_5000"))
    gd.vm("v2").Kill()
    gd.wait_state("v2", "stopped")
    assert os.listdir(vm_dir(gd, "v2")) == ["vsock_5000"]
    host.close()


def test_vsock_group_must_exist():
    e = Env(daemon_args=["--vsock-group=no-such-group-gunyah"])
    try:
        with pytest.raises(RuntimeError) as err:
            e.daemon.start()
        assert "--vsock-group=no-such-group-gunyah: no such group" in str(err.value), err.value
    finally:
        e.close()


def test_vsock_group_gets_the_directory_and_socket():
    """gunyahd --vsock-group: a member connects to <vmdir>/vsock itself."""
    e = Env(daemon_args=["--vsock-group=65534"])
    try:
        e.daemon.start()
        gd = e.daemon
        os.chmod(e.tmp, 0o755)
        os.chmod(gd.dirs["run"], 0o755)
        start_vsock(gd, "g", 40)
        vmdir = vm_dir(gd, "g")
        st = os.stat(vmdir)
        assert stat.S_IMODE(st.st_mode) == 0o2770 and (st.st_uid, st.st_gid) == (0, 65534), oct(st.st_mode)
        st = os.stat(os.path.join(vmdir, "vsock"))
        assert stat.S_IMODE(st.st_mode) == 0o660 and (st.st_uid, st.st_gid) == (0, 65534), oct(st.st_mode)
        probe = ("import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print('connected')")
        for groups, ok in ((["--groups=65534"], True), (["--clear-groups"], False)):
            p = subprocess.run(["setpriv", "--reuid=65533", "--regid=65533"] + groups +
                               ["/usr/bin/python3", "-c", probe, os.path.join(vmdir, "vsock")],
                               capture_output=True, text=True, timeout=30)
            assert (p.stdout.strip() == "connected") == ok, (groups, p.stdout, p.stderr)
    finally:
        e.close()


def test_a_cid_belongs_to_one_running_vm(gd):
    start_vsock(gd, "first", 9)
    create(gd, "second", vsock={"cid": 9})
    with pytest.raises(dbus.DBusException) as e:
        gd.vm("second").Start()
    message = e.value.get_dbus_message()
    assert e.value.get_dbus_name() == "org.gunyah.Manager1.Error.StartFailed", e.value
    assert "vsock.cid 9 is taken by VM first, which is running" in message, message
    # nothing half-started: no device, no worker, no directory
    assert gd.device_pids("second") == []
    assert list(gd.vm_props("second")["WorkerPIDs"]) == []
    assert not os.path.exists(vm_dir(gd, "second"))
    state, reason = gd.state("second")
    assert state == "failed" and "taken by VM first" in reason, (state, reason)
    # the first is untouched, and once it is gone the CID is free
    assert gd.state("first") == ("running", "start") and os.path.exists(os.path.join(vm_dir(gd, "first"), "vsock"))
    gd.vm("first").Kill()
    gd.wait_state("first", "stopped")
    gd.vm("second").Start()
    gd.wait_state("second", "running")
    # a different CID never conflicts
    start_vsock(gd, "third", 10)


def test_kill9_of_the_vsock_device_ends_its_vm_other_vm_unaffected(gd):
    victim = start_vsock(gd, "victim", 20, rng=False)["vsock"]
    other = start_vsock(gd, "other", 21, rng=False)["vsock"]
    os.kill(victim, signal.SIGKILL)
    state = gd.wait_state("victim", ("stopped", "failed"))
    assert state == ("stopped", "worker-failed: device vsock (virtio-vsock at 0xa000000) killed by SIGKILL"), state
    assert not os.path.exists(vm_dir(gd, "victim"))
    assert gd.state("other") == ("running", "start") and gd.device_pids("other") == [other]
    # the other VM's socket still answers
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(os.path.join(vm_dir(gd, "other"), "vsock"))
    c.close()


def test_host_clients_without_a_valid_connect_line_are_closed(gd):
    start_vsock(gd, "v", 30)
    path = os.path.join(vm_dir(gd, "v"), "vsock")
    for line in (b"HELLO\n", b"CONNECT x\n", b"CONNECT 1" + b"0" * 40 + b"\n"):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(10)
        c.connect(path)
        c.sendall(line)
        assert answer(c) == b"", line     # closed, no OK
        c.close()
    assert gd.state("v") == ("running", "start")


def test_a_host_client_that_says_nothing_is_closed_after_5s(gd):
    start_vsock(gd, "v", 32)
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(20)
    c.connect(os.path.join(vm_dir(gd, "v"), "vsock"))
    c.sendall(b"CONN")      # a partial line, then silence
    t0 = time.monotonic()
    assert answer(c) == b""
    assert 4 <= time.monotonic() - t0 <= 15, time.monotonic() - t0
    assert gd.state("v") == ("running", "start")


def test_gunyahctl_vsock_says_when_nothing_listens(gd):
    """The idle guest has no vsock driver: nothing can listen on any port,
    the device closes the connection, gunyahctl says so and exits 1."""
    start_vsock(gd, "v", 33)
    p = gd.ctl("vsock", "v", "5000", check=False, input="hello\n", timeout=30)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert p.stderr == "gunyahctl: vsock v 5000: nothing listens on port 5000 in VM v\n", p.stderr
    assert p.stdout == ""
    assert gd.state("v") == ("running", "start")


def test_connect_vsock_hands_over_a_socket_that_sent_connect(gd):
    start_vsock(gd, "v", 31)
    fd = gd.vm("v").ConnectVsock(dbus.UInt32(4321)).take()
    s = socket.socket(fileno=fd)
    assert s.family == socket.AF_UNIX and s.getblocking()
    assert s.getpeername() == os.path.join(vm_dir(gd, "v"), "vsock")
    s.close()


# ---- gunyahctl vsock's bridge, against a fake daemon ----

# Owns org.gunyah.Manager1 on the bus given; ConnectVsock hands out one end
# of a socketpair whose other end plays the vsock device and a guest echo
# server: "OK 1234", then every byte back upper-cased, then, once the
# client half-closed, "BYE" and the end.
FAKE_DAEMON = r"""
import socket, sys, threading
import dbus, dbus.service, dbus.mainloop.glib
from gi.repository import GLib

def serve(s):
    s.sendall(b"OK 1234\n")
    while data := s.recv(65536):
        s.sendall(data.upper())
    s.sendall(b"BYE\n")
    s.close()

class Manager(dbus.service.Object):
    @dbus.service.method("org.gunyah.Manager1", in_signature="s", out_signature="o")
    def GetVM(self, name):
        return "/org/gunyah/Manager1/vm/fake"

class Vm(dbus.service.Object):
    @dbus.service.method("org.gunyah.VM1", in_signature="u", out_signature="h")
    def ConnectVsock(self, port):
        ours, theirs = socket.socketpair()
        threading.Thread(target=serve, args=(ours,), daemon=True).start()
        return dbus.types.UnixFd(theirs)

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(sys.argv[1])
name = dbus.service.BusName("org.gunyah.Manager1", bus)
Manager(bus, "/org/gunyah/Manager1")
Vm(bus, "/org/gunyah/Manager1/vm/fake")
print("ready", flush=True)
GLib.MainLoop().run()
"""


@pytest.fixture
def fake_daemon(tmp_path):
    bus = Bus(str(tmp_path))
    proc = subprocess.Popen(["/usr/bin/python3", "-c", FAKE_DAEMON, bus.address], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield bus
    finally:
        proc.kill()
        proc.wait()
        bus.stop()


def run_vsock(bus, data, timeout=60):
    return subprocess.run([env_path("GUNYAHCTL"), f"--bus-address={bus.address}", "vsock", "fake", "5000"],
                          input=data, capture_output=True, timeout=timeout)


def test_gunyahctl_vsock_bridges_both_ways_and_half_closes(fake_daemon):
    p = run_vsock(fake_daemon, b"hello vsock\n")
    assert (p.returncode, p.stdout, p.stderr) == (0, b"HELLO VSOCK\nBYE\n", b""), p


def test_gunyahctl_vsock_does_not_deadlock_on_an_echo(fake_daemon):
    """4 MiB through a peer that echoes as it reads: both directions must
    move at once, or both socket buffers fill and nothing moves."""
    data = bytes(range(97, 123)) * (4 * 1024 * 1024 // 26)
    p = run_vsock(fake_daemon, data)
    assert p.returncode == 0, p.stderr
    assert p.stdout == data.upper() + b"BYE\n", (len(p.stdout), len(data))

