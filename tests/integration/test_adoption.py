# SPDX-License-Identifier: LGPL-2.1-or-later
"""VMs outlive the daemon (issue 15), first slice: the per-VM record in
<runtime_dir>/vms/NAME/record.json and the VM's gunyah-keeper. The record
says "running" with every process of the VM once it runs and is left
behind when the daemon is killed (what the next daemon finds); the keeper
holds the daemon's ends of the VM's sockets, so the VM goes on without a
daemon, and leaves once the VM's processes are gone. Both go with the
VM's directory when it stops."""
import json
import os
import re
import signal
import subprocess
import time

import dbus
import pytest

from gunyah_harness import Env, env_path, read_console, spec_json

PERSIST = 1
START = 2


def record_path(gd, name):
    return os.path.join(gd.dirs["run"], "vms", name, "record.json")


def read_record(gd, name):
    with open(record_path(gd, name)) as f:
        return json.load(f)


def start_time(pid):
    with open(f"/proc/{pid}/stat", "rb") as f:
        return int(f.read().rsplit(b")", 1)[1].split()[19])


def alive(pid):
    """True while pid runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False


def keeper_of(rec):
    keepers = [p["pid"] for p in rec["processes"] if p["role"] == "keeper"]
    assert len(keepers) == 1, rec
    with open(f"/proc/{keepers[0]}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    assert os.path.basename(argv[0]) == b"gunyah-keeper" and f"--vm={rec['name']}".encode() in argv, argv
    return keepers[0]


def wait_gone(pids, timeout=10):
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids):
        assert time.monotonic() < deadline, [p for p in pids if alive(p)]
        time.sleep(0.02)


def test_record_of_a_running_vm_names_its_processes_and_goes_with_it(gd):
    gd.manager().CreateVM(spec_json("rec", "spin", vcpus=2), dbus.UInt64(START))
    gd.wait_state("rec", "running")
    props = gd.vm_props("rec")
    rec = read_record(gd, "rec")
    assert rec["version"] == 1 and rec["name"] == "rec" and rec["phase"] == "running"
    assert rec["uuid"] == str(props["UUID"])
    assert rec["started_realtime_usec"] == int(props["StartedTimestamp"]) > 0
    assert json.loads(str(props["Spec"])) == rec["spec"]
    workers = sorted(int(p) for p in props["WorkerPIDs"])
    vcpus = [p for p in rec["processes"] if p["role"] == "vcpu"]
    assert sorted(p["index"] for p in vcpus) == [0, 1]
    assert sorted(p["pid"] for p in vcpus) == workers
    for p in vcpus:
        assert p["start_time"] == start_time(p["pid"])
    st = os.stat(record_path(gd, "rec"))
    assert st.st_mode & 0o777 == 0o600 and st.st_uid == os.geteuid()
    keeper = keeper_of(rec)
    sock = os.stat(os.path.join(gd.dirs["run"], "vms", "rec", "keeper"))
    assert sock.st_mode & 0o777 == 0o600

    gd.vm("rec").Kill()
    gd.wait_state("rec", "stopped")
    assert not os.path.exists(os.path.join(gd.dirs["run"], "vms", "rec"))
    assert not alive(keeper)


def test_without_a_daemon_the_keeper_keeps_the_vm_and_then_what_it_said(env):
    gd = env.daemon
    gd.manager().CreateVM(spec_json("left", "spin", vcpus=2), dbus.UInt64(PERSIST | START))
    gd.wait_state("left", "running")
    uuid = str(gd.vm_props("left")["UUID"])
    os.kill(gd.proc.pid, signal.SIGKILL)
    gd.proc.wait()
    gd.log.close()
    rec = read_record(gd, "left")
    assert rec["phase"] == "running" and rec["uuid"] == uuid
    keeper = keeper_of(rec)
    workers = [p["pid"] for p in rec["processes"] if p["role"] == "vcpu"]
    assert len(workers) == 2
    try:
        # no EOF on their control sockets: the workers run on (without a keeper
        # they leave at once), and so does the keeper
        time.sleep(1)
        assert all(alive(p) for p in workers + [keeper]), gd.read_log()[-3000:]
        # the VM's processes gone: the keeper stays for the next daemon, which
        # learns how the VM ended from what it holds
        for p in workers:
            os.kill(p, signal.SIGKILL)
        wait_gone(workers)
        time.sleep(0.5)
        assert alive(keeper)
        gd.start()
        state, reason = gd.wait_state("left", ("stopped", "failed"))
        assert reason.split(":")[0] == "worker-failed", (state, reason, gd.read_log()[-3000:])
        assert str(gd.vm_props("left")["UUID"]) == uuid
        wait_gone([keeper])
        assert not os.path.exists(os.path.join(gd.dirs["run"], "vms", "left"))
    finally:
        kill_left(workers + [keeper])


def test_a_vm_that_powers_off_while_no_daemon_runs_is_stopped_poweroff_after(env):
    """The guest powers off 3 s after it starts; the daemon is killed first.
    Its worker's exit report waits on the socket the keeper holds: the next
    daemon publishes the VM stopped, poweroff, with the exit info and the
    time it happened, not the time the daemon learned it."""
    gd = env.daemon
    gd.manager().CreateVM(spec_json("off", "later-off"), dbus.UInt64(PERSIST | START))
    gd.wait_state("off", "running")
    uuid = str(gd.vm_props("off")["UUID"])
    rec = read_record(gd, "off")
    pids = [p["pid"] for p in rec["processes"]]
    workers = [p["pid"] for p in rec["processes"] if p["role"] == "vcpu"]
    keeper = keeper_of(rec)
    try:
        os.kill(gd.proc.pid, signal.SIGKILL)
        gd.proc.wait()
        gd.log.close()
        wait_gone(workers, timeout=20)
        assert alive(keeper)
        time.sleep(0.5)
        restarted_usec = time.time_ns() // 1000
        gd.start()
        state, reason = gd.wait_state("off", ("stopped", "failed"))
        props = gd.vm_props("off")
        assert (state, reason) == ("stopped", "poweroff"), (state, reason, gd.read_log()[-3000:])
        info = props["ExitInfo"]
        assert (int(info["status"]), int(info["exit_type"])) == (2, 1), info
        assert str(info["exit_type_name"]) == "PSCI_POWER_OFF"
        assert int(props["StartedTimestamp"]) < int(info["timestamp"]) < restarted_usec, info
        assert str(props["UUID"]) == uuid
        assert "later-off: bye" in gd.console_log("off").decode()
        wait_gone([keeper])
        assert not os.path.exists(os.path.join(gd.dirs["run"], "vms", "off"))
    finally:
        kill_left(pids)


def test_a_vm_with_devices_is_adopted_and_its_devices_watched(env):
    """rng and vsock device processes are adopted with the workers: the CID
    stays taken, VsockPath is published, and a device killed after the
    restart ends the VM worker-failed naming it."""
    gd = env.daemon
    extra = dict(memory={"size": "64M", "mode": "share"}, vsock={"cid": 77}, rng=True)
    gd.manager().CreateVM(spec_json("dev", "spin", **extra), dbus.UInt64(PERSIST | START))
    gd.wait_state("dev", "running")
    before = gd.vm_props("dev")
    rec = read_record(gd, "dev")
    pids = [p["pid"] for p in rec["processes"]]
    devices = sorted((p["index"], p["pid"]) for p in rec["processes"] if p["role"] == "device")
    assert len(devices) == 2, rec
    try:
        restart_after_kill9(gd)
        after = gd.vm_props("dev")
        assert (str(after["State"]), str(after["UUID"])) == ("running", str(before["UUID"])), gd.read_log()[-3000:]
        assert int(after["StartedTimestamp"]) == int(before["StartedTimestamp"])
        assert int(after["VsockCid"]) == 77 and bool(after["Rng"])
        assert str(after["VsockPath"]) == str(before["VsockPath"]) != ""
        assert os.path.exists(str(after["VsockPath"]))
        # the CID is still this VM's
        gd.manager().CreateVM(spec_json("dev2", "spin", **extra), dbus.UInt64(PERSIST))
        with pytest.raises(dbus.DBusException) as e:
            gd.vm("dev2").Start()
        assert "vsock.cid 77 is taken by VM dev, which is running" in e.value.get_dbus_message(), e.value
        # the rng device (transport 1, after vsock) killed: the VM ends naming it
        os.kill(devices[1][1], signal.SIGKILL)
        state, reason = gd.wait_state("dev", ("stopped", "failed"))
        assert reason.startswith("worker-failed: device rng (virtio-rng at 0x"), (state, reason)
        wait_gone(pids)
        assert not os.path.exists(os.path.join(gd.dirs["run"], "vms", "dev"))
    finally:
        kill_left(pids)


def kill_left(pids):
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def group_members(pgid):
    """gunyah-* processes of process group pgid (a daemon's session: the
    harness starts each daemon in its own)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv0 = os.path.basename(f.read().split(b"\0")[0])
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z" and argv0.startswith(b"gunyah-"):
            found.append((int(entry), argv0))
    return found


def restart_after_kill9(gd):
    os.kill(gd.proc.pid, signal.SIGKILL)
    gd.proc.wait()
    gd.log.close()
    gd.start()


def test_a_new_daemon_adopts_the_running_vm_and_stops_it(env):
    """kill -9 of gunyahd, a new one on the same directories: the VM is
    running with its UUID, StartedTimestamp and workers; Stop presses the
    button and it ends; nothing of it is left."""
    gd = env.daemon
    gd.manager().CreateVM(spec_json("adopt", "button", vcpus=2), dbus.UInt64(START))
    gd.wait_state("adopt", "running")
    before = gd.vm_props("adopt")
    rec = read_record(gd, "adopt")
    pids = [p["pid"] for p in rec["processes"]]
    old_group = gd.proc.pid
    try:
        restart_after_kill9(gd)
        assert set(pids) <= {pid for pid, _ in group_members(old_group)}
        after = gd.vm_props("adopt")
        assert (str(after["State"]), str(after["UUID"])) == ("running", str(before["UUID"])), gd.read_log()[-3000:]
        assert int(after["StartedTimestamp"]) == int(before["StartedTimestamp"])
        assert sorted(int(p) for p in after["WorkerPIDs"]) == sorted(int(p) for p in before["WorkerPIDs"])
        assert "VM adopt: running (adopted from a previous gunyahd, 2 worker(s))" in gd.read_log()
        # its console history: what the guest printed before the restart is replayed
        history = read_console(gd, "adopt", b"button: waiting")
        assert history.startswith(b"button: waiting, spi "), history

        gd.vm("adopt").Stop(dbus.UInt64(10_000_000))
        state, reason = gd.wait_state("adopt", ("stopped", "failed"))
        assert state == "stopped" and reason in ("shutdown", "poweroff"), (state, reason, gd.read_log()[-3000:])
        wait_gone(pids)
        assert not os.path.exists(os.path.join(gd.dirs["run"], "vms", "adopt"))
        # the killed daemon's spare worker left on EOF too: nothing of it is left
        deadline = time.monotonic() + 10
        while group_members(old_group):
            assert time.monotonic() < deadline, group_members(old_group)
            time.sleep(0.05)
    finally:
        kill_left(pids)


def test_a_vm_killed_after_adoption_ends_and_leaves_nothing(env):
    gd = env.daemon
    gd.manager().CreateVM(spec_json("adkill", "spin", vcpus=1), dbus.UInt64(START))
    gd.wait_state("adkill", "running")
    pids = [p["pid"] for p in read_record(gd, "adkill")["processes"]]
    try:
        restart_after_kill9(gd)
        gd.wait_state("adkill", "running")
        gd.vm("adkill").Kill()
        assert gd.wait_state("adkill", "stopped") == ("stopped", "killed")
        wait_gone(pids)
        assert not os.path.exists(os.path.join(gd.dirs["run"], "vms", "adkill"))
    finally:
        kill_left(pids)


def test_a_vm_left_starting_is_torn_down_load_failed_daemon_restart(env):
    """A record still "starting" (the daemon died mid-start): its processes
    are killed (here a stand-in), its files removed, the definition failed."""
    gd = env.daemon
    gd.manager().CreateVM(spec_json("half", "spin"), dbus.UInt64(1))  # persist, no start
    uuid = str(gd.vm_props("half")["UUID"])
    gd.stop()
    stand_in = subprocess.Popen(["sleep", "60"])
    try:
        d = os.path.join(gd.dirs["run"], "vms", "half")
        os.makedirs(d, mode=0o700)
        rec = {"version": 1, "name": "half", "uuid": uuid, "phase": "starting", "spec": {"name": "half"},
               "processes": [{"role": "keeper", "index": 0, "pid": stand_in.pid,
                              "start_time": start_time(stand_in.pid)}]}
        write_record(d, rec)
        gd.start()
        assert stand_in.wait(timeout=10) == -signal.SIGKILL
        assert gd.state("half") == ("failed", "load-failed: daemon-restart")
        assert not os.path.exists(d)
    finally:
        stand_in.kill()
        stand_in.wait()


def test_a_record_with_a_reused_pid_kills_nothing(env):
    """The recorded start time does not match: that PID is someone else now."""
    gd = env.daemon
    gd.stop()
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        d = os.path.join(gd.dirs["run"], "vms", "gone")
        os.makedirs(d, mode=0o700)
        rec = {"version": 1, "name": "gone", "uuid": "0e4a8c9e-3b1d-4f6a-9c2e-5d7b8a1f2c3d", "phase": "running",
               "spec": {"name": "gone"}, "processes": [{"role": "keeper", "index": 0, "pid": bystander.pid,
                                                        "start_time": start_time(bystander.pid) + 1}]}
        write_record(d, rec)
        gd.start()
        assert not os.path.exists(d)
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_a_record_of_another_backend_is_left_alone(env):
    """A kernel-backend VM's record under this simulator daemon's runtime
    directory: not this daemon's to adopt or to end."""
    gd = env.daemon
    gd.stop()
    other = subprocess.Popen(["sleep", "60"])
    try:
        d = os.path.join(gd.dirs["run"], "vms", "hw")
        os.makedirs(d, mode=0o700)
        rec = {"version": 1, "name": "hw", "uuid": "0e4a8c9e-3b1d-4f6a-9c2e-5d7b8a1f2c3d", "phase": "running",
               "backend": "kernel", "spec": {"name": "hw"},
               "processes": [{"role": "keeper", "index": 0, "pid": other.pid, "start_time": start_time(other.pid)}]}
        write_record(d, rec)
        gd.start()
        assert "VM hw runs on the kernel backend, this gunyahd on sim: leaving it alone" in gd.read_log()
        assert os.path.exists(os.path.join(d, "record.json"))
        time.sleep(0.3)
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def write_record(d, rec):
    """A record as the daemon writes it: root's, 0600."""
    with open(os.path.join(d, "record.json"), "w") as f:
        json.dump(rec, f)
    os.chmod(os.path.join(d, "record.json"), 0o600)


def tick_numbers(text):
    return [int(n) for n in re.findall(r"^ticker: (\d+)$", text, re.M)]


def test_console_output_made_while_no_daemon_ran_reaches_the_log(env):
    """The ticker guest prints numbered lines all along. Without a daemon
    its output waits in the console socket the keeper holds (the vCPU
    blocks once that is full); the new daemon logs it. The one thing
    lost is what the killed daemon had read and not yet written: at most
    one read (4 KiB), right where it died."""
    gd = env.daemon
    gd.manager().CreateVM(spec_json("tick", "ticker"), dbus.UInt64(START))
    gd.wait_state("tick", "running")
    pids = [p["pid"] for p in read_record(gd, "tick")["processes"]]
    try:
        deadline = time.monotonic() + 10
        while len(tick_numbers(gd.console_log("tick").decode())) < 50:
            assert time.monotonic() < deadline, gd.console_log("tick")[-500:]
            time.sleep(0.02)
        os.kill(gd.proc.pid, signal.SIGKILL)
        gd.proc.wait()
        gd.log.close()
        before = gd.console_log("tick").decode()
        time.sleep(1)  # the guest prints on, into the keeper's socket
        assert len(gd.console_log("tick").decode()) == len(before)
        gd.start()
        gd.wait_state("tick", "running")
        old = tick_numbers(before[:before.rfind("\n") + 1])
        assert old == list(range(len(old)))
        deadline = time.monotonic() + 10
        while True:
            new_text = gd.console_log("tick").decode()[len(before):]
            new = tick_numbers(new_text[new_text.find("\n") + 1:])  # the first line may be a torn one
            if len(new) >= 500 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert len(new) >= 500, new_text[-500:]
        assert new == list(range(new[0], new[0] + len(new))), "lines lost or repeated after the restart"
        assert 0 < new[0] - old[-1] <= 1 + 4096 // len("ticker: 0\n"), (old[-1], new[0])
        gd.vm("tick").Kill()
        gd.wait_state("tick", "stopped")
        wait_gone(pids)
    finally:
        kill_left(pids)


def test_a_corrupt_record_is_reported_and_its_vm_ends_the_others_are_adopted(env):
    gd = env.daemon
    gd.manager().CreateVM(spec_json("bad", "spin"), dbus.UInt64(START))
    gd.manager().CreateVM(spec_json("good", "spin"), dbus.UInt64(START))
    gd.wait_state("bad", "running")
    gd.wait_state("good", "running")
    bad = [p["pid"] for p in read_record(gd, "bad")["processes"]]
    good = [p["pid"] for p in read_record(gd, "good")["processes"]]
    try:
        os.kill(gd.proc.pid, signal.SIGKILL)
        gd.proc.wait()
        gd.log.close()
        with open(record_path(gd, "bad"), "r+") as f:
            f.truncate(40)  # as a full disk or a torn write would leave it
        gd.start()
        wait_gone(bad)  # killed through the pidfds its keeper held
        bad_dir = os.path.join(gd.dirs["run"], "vms", "bad")
        assert not os.path.exists(bad_dir), (os.listdir(bad_dir), gd.read_log()[-3000:])
        assert "the VM's record is unreadable" in gd.read_log()
        assert gd.state("good") == ("running", "start")
        gd.vm("good").Kill()
        gd.wait_state("good", "stopped")
        wait_gone(good)
    finally:
        kill_left(bad + good)


def test_sigterm_leaves_running_vms_to_the_next_daemon():
    """`systemctl restart gunyahd` sends SIGTERM: by default the running VMs
    (devices and all) run on, and the next daemon adopts them."""
    e = Env(stop_vms_on_exit=False)
    e.daemon.start()
    gd = e.daemon
    pids = []
    try:
        extra = dict(memory={"size": "64M", "mode": "share"}, vsock={"cid": 78})
        gd.manager().CreateVM(spec_json("stay", "ticker", **extra), dbus.UInt64(PERSIST | START))
        gd.wait_state("stay", "running")
        before = gd.vm_props("stay")
        rec = read_record(gd, "stay")
        pids = [p["pid"] for p in rec["processes"]]
        assert len(pids) == 4, rec  # keeper, vCPU 0, vsock, rng
        assert gd.stop() == 0
        log = gd.read_log()
        assert "leaving running VMs to the next gunyahd" in log and "VM stay: left running" in log, log[-2000:]
        assert "stopping (daemon-exit)" not in log
        time.sleep(0.5)
        assert all(alive(p) for p in pids), [p for p in pids if not alive(p)]
        assert read_record(gd, "stay")["phase"] == "running"
        gd.start()
        after = gd.vm_props("stay")
        assert (str(after["State"]), str(after["UUID"])) == ("running", str(before["UUID"]))
        assert int(after["StartedTimestamp"]) == int(before["StartedTimestamp"])
        assert str(after["VsockPath"]) == str(before["VsockPath"])
        gd.vm("stay").Kill()
        assert gd.wait_state("stay", "stopped") == ("stopped", "killed")
        wait_gone(pids)
        assert not os.path.exists(os.path.join(gd.dirs["run"], "vms", "stay"))
    finally:
        kill_left(pids)
        e.close()


def test_with_stop_vms_on_exit_sigterm_stops_them_first(env):
    """The harness's daemons run with --stop-vms-on-exit (its tests end
    daemons with SIGTERM): the VMs stop, reason daemon-exit, nothing left."""
    gd = env.daemon
    gd.manager().CreateVM(spec_json("gone", "spin"), dbus.UInt64(PERSIST | START))
    gd.wait_state("gone", "running")
    pids = [p["pid"] for p in read_record(gd, "gone")["processes"]]
    try:
        assert gd.stop() == 0
        assert "VM gone: stopping (daemon-exit: gunyahd is stopping)" in gd.read_log(), gd.read_log()[-2000:]
        wait_gone(pids)
        assert not os.path.exists(os.path.join(gd.dirs["run"], "vms", "gone"))
    finally:
        kill_left(pids)


def test_gunyahctl_start_wait_outlives_a_daemon_restart():
    """A gunyah-vm@ unit is `gunyahctl start --wait NAME`: a daemon restart
    (SIGTERM, then kill -9) does not end it; the VM's end afterwards does,
    with the usual verdict (a poweroff: 0)."""
    e = Env(stop_vms_on_exit=False)
    e.daemon.start()
    gd = e.daemon
    pids, ctl = [], None
    try:
        gd.manager().CreateVM(spec_json("unit", "button"), dbus.UInt64(PERSIST))
        ctl = subprocess.Popen([env_path("GUNYAHCTL"), f"--bus-address={gd.bus.address}", "start", "--wait", "unit"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        gd.wait_state("unit", "running")
        pids = [p["pid"] for p in read_record(gd, "unit")["processes"]]
        assert gd.stop() == 0
        time.sleep(0.3)
        assert ctl.poll() is None, ctl.communicate()
        gd.start()
        assert gd.state("unit")[0] == "running"
        restart_after_kill9(gd)
        time.sleep(0.3)
        assert ctl.poll() is None, ctl.communicate()
        gd.vm("unit").Stop(dbus.UInt64(10_000_000))  # the button guest powers off
        out, err = ctl.communicate(timeout=20)
        assert ctl.returncode == 0, (ctl.returncode, err)
        assert gd.state("unit")[0] == "stopped"
        wait_gone(pids)
    finally:
        if ctl and ctl.poll() is None:
            ctl.kill()
        kill_left(pids)
        e.close()
