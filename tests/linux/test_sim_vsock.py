# SPDX-License-Identifier: LGPL-2.1-or-later
"""vsock and virtio-rng on gunyahd (issue 13): Debian's arm64 kernel on the
simulator with the vsock and virtio-rng modules, Debian's socat inside
(tests/guests/linux/init: hwrng, vsock-serve, vsock-client, then
console-echo), host apps on the VM's <vmdir>/vsock and <vmdir>/vsock_P
sockets.

One Linux VM ("vs", CID 3) is booted for the whole module (a boot costs a
minute on the software CPU); the tests use it in turn (the heaviest, 64
host-to-guest echo connections, last):
  /dev/hwrng gives data; an echo through `gunyahctl vsock` and through a raw
  CONNECT client; the guest connects to a host listener after being reset
  while nothing listened; 64 connections of 1 MiB each way, host to guest
  (socat echo) and guest to host (host echo), checksums equal; the console
  (raw, cat) echoes each byte at once, as bench/vsock.py needs; a host client
  that never reads stalls neither the others nor the guest; a second VM with
  the same CID fails to start naming "vs"; kill -9 of another VM's vsock
  device ends that VM worker-failed naming it while "vs" goes on."""
import json
import os
import signal
import socket
import subprocess
import time

import pytest

import vsock_host
from gunyah_harness import Env, env_path, guest_path
from linux_disk import lines
from test_linux import create, status, wait_console, why

NAME = "vs"
CID = 3
ECHO, ZERO, HELLO, BULK = 1234, 1235, 5000, 5001
CONNS, MIB = 64, 1 << 20
RNG_BYTES = 65536
EXTRA = (f"gunyah.rng.bytes={RNG_BYTES} gunyah.vsock.echo={ECHO} gunyah.vsock.zero={ZERO} "
         f"gunyah.vsock.connect={HELLO} gunyah.vsock.bulk={BULK} gunyah.vsock.conns={CONNS}")
HOST_REPLY = b"hello from the host\n"


@pytest.fixture(scope="module")
def menv(gdir):
    e = Env()
    e.daemon.start()
    try:
        yield e
    finally:
        e.close()


class Vm:
    def __init__(self, gd, name):
        self.gd = gd
        self.name = name
        self.vmdir = None
        self.path = None
        self.bulk = None
        self.hello = None

    def console(self):
        return self.gd.console_log(self.name)

    def why(self):
        return why(self.gd, self.name)


@pytest.fixture(scope="module")
def vm(menv, gdir):
    """The booted VM, its vsock listeners started, the host's bulk listener
    (echo) in place before the guest's client gets that far."""
    gd = menv.daemon
    create(menv, NAME, gdir, "--start", vcpus=2, test="hwrng,vsock-serve,vsock-client,console-echo", extra=EXTRA,
           memory={"size": "512M", "mode": "share"}, vsock={"cid": CID})
    v = Vm(gd, NAME)
    gd.wait_state(NAME, "running", timeout=60)
    v.path = str(gd.vm_props(NAME)["VsockPath"])
    assert v.path == os.path.join(gd.dirs["run"], "vms", NAME, "vsock"), v.path
    v.vmdir = os.path.dirname(v.path)
    v.bulk = vsock_host.Listener(os.path.join(v.vmdir, f"vsock_{BULK}"), vsock_host.echo_all)
    wait_console(gd, NAME, b"GUNYAH-VSOCK-SERVE")
    try:
        yield v
    finally:
        v.bulk.close()
        if v.hello:
            v.hello.close()


def console_lines(v, kind):
    return lines(v.console(), kind)


def test_dev_hwrng_gives_data(vm):
    wait_console(vm.gd, NAME, b"GUNYAH-HWRNG")
    assert console_lines(vm, "GUNYAH-RNG") == [{"current": "virtio_rng.0"}], vm.why()
    [rng] = console_lines(vm, "GUNYAH-HWRNG")
    assert rng["status"] == "0" and rng["bytes"] == str(RNG_BYTES), rng
    assert rng["sha256"] != vsock_host.sha256(bytes(RNG_BYTES)), "/dev/hwrng gave zeros"
    assert status(vm.gd, NAME)["Rng"] is True


def test_echo_through_a_raw_connect_client(vm):
    s, hostport = vsock_host.connect_when_listening(vm.path, ECHO)
    with s:
        assert hostport >= 1024, hostport
        # the bytes sent right behind the CONNECT line are kept
        s2, line = vsock_host.connect(vm.path, ECHO, first=b"right behind the line")
        with s2:
            assert line.startswith(b"OK ") and int(line[3:]) not in (hostport,), line
            got = b""
            while len(got) < 21:
                chunk = s2.recv(64)
                assert chunk, got
                got += chunk
            assert got == b"right behind the line"
        data = os.urandom(200000)
        [back] = vsock_host.exchange([(s, data)], timeout=300)
    assert back == data, (len(back), len(data))


def test_nothing_listening_closes_the_host_connection(vm):
    s, line = vsock_host.connect(vm.path, 4321)
    with s:
        assert line == b"", line
    p = vm.gd.ctl("vsock", NAME, "4321", check=False, input="")
    assert p.returncode == 1 and f"nothing listens on port 4321 in VM {NAME}" in p.stderr, p.stderr


def test_echo_through_gunyahctl_vsock(vm):
    vsock_host.connect_when_listening(vm.path, ECHO)[0].close()
    data = os.urandom(100000)
    p = subprocess.run([env_path("GUNYAHCTL"), f"--bus-address={vm.gd.bus.address}", "vsock", NAME, str(ECHO)],
                       input=data, capture_output=True, timeout=300)
    assert p.returncode == 0, (p.returncode, p.stderr, vm.why())
    assert p.stdout == data, (len(p.stdout), len(data), p.stderr)


def hello_server(conn):
    got = vsock_host.read_all(conn)
    conn.sendall(HOST_REPLY)
    return got


def test_guest_to_host_is_reset_while_nothing_listens_then_connects(vm):
    # the guest retries while its connects are reset; then the app listens
    wait_console(vm.gd, NAME, b"GUNYAH-VSOCK-RETRY")
    [retry, *_] = console_lines(vm, "GUNYAH-VSOCK-RETRY")
    assert retry["port"] == str(HELLO) and "reset" in retry["error"].lower(), retry
    vm.hello = vsock_host.Listener(os.path.join(vm.vmdir, f"vsock_{HELLO}"), hello_server)
    assert vm.hello.wait(1)[0] == b"hello from the guest\n"
    wait_console(vm.gd, NAME, b"GUNYAH-VSOCK-HELLO")
    [hello] = console_lines(vm, "GUNYAH-VSOCK-HELLO")
    assert hello["reply"] == HOST_REPLY.decode().strip() and int(hello["tries"]) >= 2, hello


# A connect takes the guest seconds here (its REQUEST waits in its send queue
# behind the data of the connections that stream, the RESPONSE for its rx
# worker): each asks for 60 s, Linux's 2 s default is far too short (see
# bulk_connection in tests/guests/linux/init).
def test_64_connections_guest_to_host_1_mib_each(vm):
    if not console_lines(vm, "GUNYAH-VSOCK-HELLO"):
        pytest.skip("the guest's client waits for the hello test before its bulk connections")
    wait_console(vm.gd, NAME, b"GUNYAH-VSOCK-BULK-DONE")
    [sent] = console_lines(vm, "GUNYAH-VSOCK-BULK-SENT")
    assert sent["conns"] == str(CONNS) and sent["bytes"] == str(MIB), sent
    # 64 connects at once: the device hands 16 at a time to the host and
    # queues the rest, so none is reset (a reset one would be tried again
    # by the guest and counted in its tries) and none times out.
    got = console_lines(vm, "GUNYAH-VSOCK-BULK")
    assert [(g["status"], g["tries"], g["bytes"], g["sha256"]) for g in got] == \
        [("0", "1", str(MIB), sent["sha256"])] * CONNS, [g for g in got if g["status"] != "0" or g["tries"] != "1"] or got
    vm.bulk.wait(CONNS, timeout=60)
    time.sleep(1)
    served = [r for r in vm.bulk.results if r[0] > 0]
    assert served == [(MIB, sent["sha256"])] * CONNS, served


def test_the_console_echoes_each_byte_at_once(vm):
    # After its client's connections the guest's console is raw with cat
    # echoing (bench/vsock.py's ping-pong against vsock): each byte must come
    # back before the next is sent. The PL011 kept a byte without a newline
    # until the guest touched the UART again, i.e. until the next input.
    if not console_lines(vm, "GUNYAH-VSOCK-HELLO"):
        pytest.skip("the guest's console echo starts after its client's connections")
    wait_console(vm.gd, NAME, b"GUNYAH-CONSOLE-ECHO", timeout=600)
    s = socket.socket(fileno=vm.gd.vm(NAME).OpenConsole().take())
    with s:
        s.settimeout(10)
        deadline = time.monotonic() + 120
        while True:  # "stty raw -echo" may not have run yet
            s.sendall(b"\x01")
            try:
                if b"\x01" in s.recv(4096):
                    break
            except socket.timeout:
                assert time.monotonic() < deadline, f"the console echoed nothing in 120 s\n{vm.why()}"
        for b in b"ping, one byte at a time":
            s.sendall(bytes([b]))
            got = b""
            try:
                while not got.endswith(bytes([b])):
                    got += s.recv(16)
            except socket.timeout:
                pytest.fail(f"{bytes([b])!r} did not come back in 10 s (got {got!r})")


def test_a_host_client_that_never_reads_stalls_nothing_else(vm):
    # zeros from the guest to a client that never reads, and an echo client
    # that writes without reading: the device must not wait for either
    idle_zero, _ = vsock_host.connect_when_listening(vm.path, ZERO)
    idle_echo, _ = vsock_host.connect_when_listening(vm.path, ECHO)
    idle_echo.setblocking(False)
    stuffed = 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            stuffed += idle_echo.send(bytes(65536))
        except BlockingIOError:
            time.sleep(0.2)
    try:
        time.sleep(2)  # let the zeros fill whatever the device would buffer
        for _ in range(3):
            s, _ = vsock_host.connect_when_listening(vm.path, ECHO, timeout=60)
            data = os.urandom(300000)
            [back] = vsock_host.exchange([(s, data)], timeout=120)
            s.close()
            assert back == data, (len(back), stuffed)
        assert vm.gd.state(NAME) == ("running", "start"), vm.why()
    finally:
        idle_zero.close()
        idle_echo.close()


def bare_spec(menv, name, cid):
    d = {"name": name, "vcpus": 1, "memory": {"size": "64M", "mode": "share"},
         "kernel": {"path": guest_path("idle")}, "vsock": {"cid": cid}}
    path = os.path.join(menv.tmp, name + ".json")
    with open(path, "w") as f:
        json.dump(d, f)
    return path


def test_a_second_vm_with_the_same_cid_does_not_start(vm, menv):
    gd = menv.daemon
    gd.ctl("create", bare_spec(menv, "twin", CID))
    p = gd.ctl("start", "twin", check=False)
    assert p.returncode != 0 and NAME in p.stderr and str(CID) in p.stderr, (p.stdout, p.stderr)
    assert gd.state("twin")[0] in ("stopped", "failed", "defined"), gd.state("twin")
    # nothing half-started: no device process, no directory, no socket
    assert gd.device_pids("twin") == []
    assert not os.path.exists(os.path.join(gd.dirs["run"], "vms", "twin", "vsock"))
    assert str(gd.vm_props("twin")["VsockPath"]) == ""
    s, hostport = vsock_host.connect_when_listening(vm.path, ECHO, timeout=60)
    s.close()


def vsock_device_pids(gd, name):
    pids = []
    for pid in gd.device_pids(name):
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if b"--type=vsock" in f.read().split(b"\0"):
                pids.append(pid)
    return pids


def test_kill9_of_a_vsock_device_fails_its_vm_and_spares_the_other(vm, menv):
    gd = menv.daemon
    gd.ctl("create", bare_spec(menv, "other", CID + 1), "--start")
    gd.wait_state("other", "running")
    [pid] = vsock_device_pids(gd, "other")
    assert vsock_device_pids(gd, NAME), "the Linux VM has no vsock device process"
    os.kill(pid, signal.SIGKILL)
    state, reason = gd.wait_state("other", ("failed", "stopped"), timeout=30)
    assert state == "stopped" and reason.startswith("worker-failed: device vsock (virtio-vsock at ") and \
        reason.endswith(" killed by SIGKILL"), (state, reason)
    assert not os.path.exists(os.path.join(gd.dirs["run"], "vms", "other", "vsock"))
    s, _ = vsock_host.connect_when_listening(vm.path, ECHO, timeout=60)
    [back] = vsock_host.exchange([(s, b"still here")], timeout=120)
    s.close()
    assert back == b"still here"
    assert gd.state(NAME) == ("running", "start"), vm.why()


def test_64_connections_host_to_guest_1_mib_each(vm):
    socks = [vsock_host.connect_when_listening(vm.path, ECHO)[0] for _ in range(CONNS)]
    data = [os.urandom(MIB) for _ in range(CONNS)]
    t0 = time.monotonic()
    try:
        back = vsock_host.exchange(list(zip(socks, data)))
    except AssertionError as e:
        pytest.fail(f"{e}\n{vm.why()}")
    finally:
        for s in socks:
            s.close()
    print(f"host to guest: {CONNS} x 1 MiB echoed in {time.monotonic() - t0:.1f}s")
    bad = [i for i in range(CONNS) if vsock_host.sha256(back[i]) != vsock_host.sha256(data[i])]
    assert not bad, [(i, len(back[i])) for i in bad]
