# SPDX-License-Identifier: LGPL-2.1-or-later
"""VM lifecycle on gunyahd with the simulator, over D-Bus (issue 4)."""
import json
import os
import signal
import socket
import subprocess
import time

import dbus
import pytest

from gunyah_harness import env_path, read_console, spec, spec_json

START = 2
PERSIST = 1


def flood_spec(name, n):
    d = spec(name, "mmio-flood")
    d["kernel"]["cmdline"] = f"flood={n}"
    return json.dumps(d)


def expected(guest):
    with open(os.path.join(env_path("GUNYAH_GUEST_EXPECTED_DIR"), guest + ".txt"), "rb") as f:
        return f.read()


def test_hello_powers_off_with_exit_info(gd):
    gd.manager().CreateVM(spec_json("hello"), dbus.UInt64(START))
    state, reason = gd.wait_state("hello", "stopped")
    assert reason == "poweroff"
    info = gd.vm_props("hello")["ExitInfo"]
    assert int(info["status"]) == 2, info
    assert int(info["exit_type"]) == 1, info
    assert str(info["exit_type_name"]) == "PSCI_POWER_OFF"
    assert int(info["vcpu"]) == 0
    # the console ring buffer replays what the guest printed
    assert read_console(gd, "hello", expected("hello")) == expected("hello")
    # and the log file has it too
    with open(os.path.join(gd.dirs["log"], "hello.log"), "rb") as f:
        assert f.read() == expected("hello")


def test_crash_ends_crashed(gd):
    gd.manager().CreateVM(spec_json("crash", "crash"), dbus.UInt64(START))
    state, reason = gd.wait_state("crash", "stopped")
    assert reason == "crashed", reason
    # what the hypervisor reports on a real stack: HYP_ERROR, reason 00 00 00 00
    info = gd.vm_props("crash")["ExitInfo"]
    assert str(info["exit_type_name"]) == "HYP_ERROR" and int(info["exit_type"]) == 5, info
    assert int(info["reason_size"]) == 4 and bytes(info["reason"]) == b"\0\0\0\0", info


def test_reset_restarts_per_on_reboot(gd):
    gd.manager().CreateVM(spec_json("rb", "reset", on_reboot="restart"), dbus.UInt64(START))
    # the guest resets forever; wait for two boots in the console log
    log = os.path.join(gd.dirs["log"], "rb.log")
    banner = expected("reset").splitlines()[0]
    deadline = time.monotonic() + 20
    data = b""
    while time.monotonic() < deadline:
        if os.path.exists(log):
            data = open(log, "rb").read()
            if data.count(banner) >= 2:
                break
        time.sleep(0.05)
    assert data.count(banner) >= 2, data
    gd.vm("rb").Kill()
    gd.wait_state("rb", "stopped")


def test_reset_stays_stopped_with_on_reboot_stop(gd):
    gd.manager().CreateVM(spec_json("rs", "reset", on_reboot="stop"), dbus.UInt64(START))
    state, reason = gd.wait_state("rs", "stopped")
    assert reason == "reboot"
    assert int(gd.vm_props("rs")["ExitInfo"]["exit_type"]) == 2


def test_spin_stop_timeout_ends_killed(gd):
    gd.manager().CreateVM(spec_json("spin", "spin"), dbus.UInt64(START))
    gd.wait_state("spin", "running")
    read_console(gd, "spin", b"spinning")
    gd.vm("spin").Stop(dbus.UInt64(1_000_000))
    state, reason = gd.wait_state("spin", "stopped", timeout=10)
    # killed by the expiry of its timeout, after the press went unanswered
    assert reason == "killed: stop timeout expired", reason


def test_stop_leaves_a_guest_deaf_to_the_button_its_timeout(gd):
    """The guest runs on after Stop(): it still echoes console input while
    its timeout runs; only then is it killed."""
    gd.manager().CreateVM(spec_json("deaf", "echo"), dbus.UInt64(START))
    gd.wait_state("deaf", "running")
    s = socket.socket(fileno=gd.vm("deaf").OpenConsole().take())
    s.settimeout(0.2)

    def read_until(data, what):
        deadline = time.monotonic() + 30
        while what not in data:
            assert gd.state("deaf")[0] != "stopped", f"stopped {gd.state('deaf')} before {what!r}: {data!r}"
            assert time.monotonic() < deadline, f"no {what!r} within 30 s: {data!r}"
            try:
                data += s.recv(4096)
            except socket.timeout:
                pass
        return data
    try:
        data = read_until(b"", b"echo: ready\n")
        gd.vm("deaf").Stop(dbus.UInt64(10_000_000))
        assert gd.state("deaf")[0] == "stopping"
        s.sendall(b"after the press\n")
        read_until(data, b"after the press\n")
    finally:
        s.close()
    assert gd.wait_state("deaf", "stopped", timeout=30) == ("stopped", "killed: stop timeout expired")


def test_kill9_of_a_worker_ends_worker_failed(gd):
    gd.manager().CreateVM(spec_json("victim", "spin"), dbus.UInt64(START))
    gd.wait_state("victim", "running")
    pids = [int(p) for p in gd.vm_props("victim")["WorkerPIDs"]]
    assert len(pids) == 1
    os.kill(pids[0], signal.SIGKILL)
    state, reason = gd.wait_state("victim", "stopped")
    assert reason == "worker-failed"
    info = gd.vm_props("victim")["ExitInfo"]
    assert int(info["signal"]) == signal.SIGKILL


def test_kill_and_invalid_transitions(gd):
    gd.manager().CreateVM(spec_json("k", "spin"), dbus.UInt64(0))
    with pytest.raises(dbus.DBusException) as e:
        gd.vm("k").Kill()
    assert e.value.get_dbus_name() == "org.gunyah.Manager1.Error.InvalidState"
    assert "defined" in e.value.get_dbus_message()
    gd.vm("k").Start()
    gd.wait_state("k", "running")
    with pytest.raises(dbus.DBusException) as e:
        gd.vm("k").Start()
    assert e.value.get_dbus_name() == "org.gunyah.Manager1.Error.InvalidState"
    gd.vm("k").Kill()
    assert gd.wait_state("k", "stopped")[1] == "killed"
    gd.vm("k").Destroy()
    with pytest.raises(dbus.DBusException) as e:
        gd.manager().GetVM("k")
    assert e.value.get_dbus_name() == "org.gunyah.Manager1.Error.NoSuchVM"


def test_a_line_written_by_two_vcpus_keeps_its_order(gd):
    # The console's output leaves in the order the guest wrote it, even when
    # the line moves from one vCPU (worker) to another in its middle.
    gd.manager().CreateVM(spec_json("handoff", "handoff", vcpus=2), dbus.UInt64(START))
    state, reason = gd.wait_state("handoff", "stopped", timeout=30)
    assert (state, reason) == ("stopped", "poweroff"), gd.read_log()[-2000:]
    log = gd.console_log("handoff").decode()
    assert log == "handoff: begun by cpu 0, ended by cpu 1\nhandoff: done\n", log


def test_smp_four_vcpus(gd):
    gd.manager().CreateVM(spec_json("smp", "smp", vcpus=4), dbus.UInt64(START))
    state, reason = gd.wait_state("smp", "stopped", timeout=30)
    assert reason == "poweroff"
    with open(os.path.join(gd.dirs["log"], "smp.log"), "rb") as f:
        assert f.read() == expected("smp")


def test_bad_input_changes_nothing(gd):
    m = gd.manager()
    m.CreateVM(spec_json("good"), dbus.UInt64(0))
    before = [tuple(map(str, v)) for v in m.ListVMs()]

    bad = spec("x")
    bad["memory"] = {"size": "1000"}
    with pytest.raises(dbus.DBusException) as e:
        m.CreateVM(json.dumps(bad), dbus.UInt64(0))
    assert e.value.get_dbus_name() == "org.gunyah.Manager1.Error.InvalidSpec"
    assert "memory.size" in e.value.get_dbus_message()

    with pytest.raises(dbus.DBusException) as e:
        m.CreateVM("{not json", dbus.UInt64(0))
    assert e.value.get_dbus_name() == "org.gunyah.Manager1.Error.InvalidSpec"

    with pytest.raises(dbus.DBusException) as e:
        m.CreateVM(spec_json("good"), dbus.UInt64(0))
    assert e.value.get_dbus_name() == "org.gunyah.Manager1.Error.VMExists"

    with pytest.raises(dbus.DBusException) as e:
        m.StartVM("nope")
    assert e.value.get_dbus_name() == "org.gunyah.Manager1.Error.NoSuchVM"

    huge = spec("huge")
    huge["kernel"]["cmdline"] = "x" * (1024 * 1024 + 1)
    with pytest.raises(dbus.DBusException) as e:
        m.CreateVM(json.dumps(huge), dbus.UInt64(0))
    assert e.value.get_dbus_name() == "org.freedesktop.DBus.Error.InvalidArgs"

    with pytest.raises(dbus.DBusException) as e:
        m.CreateVM(spec_json("flags"), dbus.UInt64(1 << 40))
    assert e.value.get_dbus_name() == "org.freedesktop.DBus.Error.InvalidArgs"

    after = [tuple(map(str, v)) for v in m.ListVMs()]
    assert before == after
    assert os.listdir(os.path.join(gd.dirs["state"], "vms")) == []


def test_persisted_vm_survives_restart_and_autostarts(env):
    gd = env.daemon
    gd.manager().CreateVM(spec_json("keep", "spin", autostart=True), dbus.UInt64(PERSIST))
    gd.manager().CreateVM(spec_json("gone"), dbus.UInt64(0))
    path = os.path.join(gd.dirs["state"], "vms", "keep.json")
    assert json.load(open(path))["name"] == "keep"
    assert gd.stop() == 0
    gd.start()
    names = [str(v[0]) for v in gd.manager().ListVMs()]
    assert names == ["keep"]
    assert gd.wait_state("keep", "running")[1] == "autostart"
    gd.vm("keep").Kill()
    gd.wait_state("keep", "stopped")
    gd.vm("keep").Destroy()
    assert not os.path.exists(path)


def test_sigterm_stops_running_vms_and_keeps_definitions(env):
    gd = env.daemon
    gd.manager().CreateVM(spec_json("t1", "spin"), dbus.UInt64(PERSIST | START))
    gd.wait_state("t1", "running")
    pids = [int(p) for p in gd.vm_props("t1")["WorkerPIDs"]]
    assert gd.stop() == 0
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert os.path.exists(os.path.join(gd.dirs["state"], "vms", "t1.json"))


def test_twenty_vms_at_once(gd):
    m = gd.manager()
    for i in range(20):
        m.CreateVM(spec_json(f"s{i:02d}", "spin"), dbus.UInt64(START))
    for i in range(20):
        gd.wait_state(f"s{i:02d}", "running")
    states = {str(v[0]): str(v[1]) for v in m.ListVMs()}
    assert len(states) == 20 and set(states.values()) == {"running"}
    for i in range(20):
        m.KillVM(f"s{i:02d}")
    for i in range(20):
        assert gd.wait_state(f"s{i:02d}", "stopped")[1] == "killed"


def test_start_failure_in_a_step_leaves_vm_failed_with_step_and_errno(gd, tmp_path):
    kernel = tmp_path / "vanishing.elf"
    kernel.write_bytes(open(spec("x")["kernel"]["path"], "rb").read())
    d = spec("vanish")
    d["kernel"]["path"] = str(kernel)
    gd.manager().CreateVM(json.dumps(d), dbus.UInt64(0))
    kernel.unlink()
    with pytest.raises(dbus.DBusException) as e:
        gd.vm("vanish").Start()
    assert e.value.get_dbus_name() == "org.gunyah.Manager1.Error.StartFailed"
    assert "prepare-images" in e.value.get_dbus_message()
    state, reason = gd.state("vanish")
    assert state == "failed"
    assert reason.startswith("load-failed: prepare-images: ENOENT"), reason
    info = gd.vm_props("vanish")["ExitInfo"]
    assert str(info["step"]) == "prepare-images"
    assert str(info["errno_name"]) == "ENOENT"
    # nothing is left running and the VM can be started again once fixed
    assert list(gd.vm_props("vanish")["WorkerPIDs"]) == []
    kernel.write_bytes(open(spec("x")["kernel"]["path"], "rb").read())
    gd.vm("vanish").Start()
    assert gd.wait_state("vanish", "stopped") == ("stopped", "poweroff")
    assert gd.console_log("vanish") == expected("hello")


def test_worker_that_cannot_start_fails_the_vm(env):
    gd = env.daemon
    gd.stop()
    # a "worker" that exits at once: the start must end failed, not running
    fake = os.path.join(env.tmp, "false-worker")
    with open(fake, "w") as f:
        f.write("#!/bin/sh\nexit 3\n")
    os.chmod(fake, 0o755)
    gd.worker_binary = fake
    gd.start()
    gd.manager().CreateVM(spec_json("nw"), dbus.UInt64(START))
    state, reason = gd.wait_state("nw", ("failed", "stopped"))
    assert state == "failed", (state, reason)
    assert reason.startswith("load-failed: spawn-workers: worker of vCPU 0 exited with status 3"), reason


def test_stop_presses_the_power_button_and_ends_shutdown(gd):
    gd.manager().CreateVM(spec_json("idle", "idle"), dbus.UInt64(START))
    gd.wait_state("idle", "running")
    read_console(gd, "idle", b"waiting")
    gd.vm("idle").Stop(dbus.UInt64(10_000_000))
    state, reason = gd.wait_state("idle", "stopped", timeout=10)
    assert reason == "shutdown", reason
    log = open(os.path.join(gd.dirs["log"], "idle.log"), "rb").read()
    assert b"idle: power button\nidle: powering off\n" in log, log
    assert int(gd.vm_props("idle")["ExitInfo"]["exit_type"]) == 1


@pytest.mark.parametrize("vcpus", [1, 2])
def test_stop_button_press_interrupts_a_guest_in_wfi(gd, vcpus):
    """The power button as Linux takes it, without Linux: the guest waits in
    WFI for the PL061's SPI (with 2 vCPUs, routed to vCPU 1 while vCPU 0
    keeps executing, so the press reaches worker 0 and must wake worker 1);
    nothing polls, so only the interrupt can end it "shutdown"."""
    gd.manager().CreateVM(spec_json("btn", "button", vcpus=vcpus), dbus.UInt64(START))
    gd.wait_state("btn", "running")
    target = vcpus - 1
    # The whole line: a press while vCPU 0 still prints it interleaves the
    # target's report into it.
    waiting = f"button: waiting, spi 7 on cpu {target}\n".encode()
    assert waiting in read_console(gd, "btn", waiting)
    gd.vm("btn").Stop(dbus.UInt64(10_000_000))
    state, reason = gd.wait_state("btn", "stopped", timeout=10)
    log = open(os.path.join(gd.dirs["log"], "btn.log"), "rb").read()
    assert reason == "shutdown", (reason, log)
    assert (f"button: cpu {target} took the PL061 interrupt, mis 0x8, line 1\n"
            "button: powering off\n").encode() in log, log


def test_crash_restart_backs_off_and_stops_at_the_limit(gd):
    gd.manager().CreateVM(spec_json("cr", "crash", on_crash="restart",
                                    crash_restart={"limit": 2, "backoff": "100ms"}), dbus.UInt64(START))
    # the daemon's decision to stay stopped, logged after the third crash
    limit = "VM cr: crashed 2 times, restart limit 2 reached, staying stopped"
    deadline = time.monotonic() + 30
    while limit not in gd.read_log():
        assert time.monotonic() < deadline, gd.read_log()[-4000:]
        time.sleep(0.05)
    # and a back-off past the longest a third restart would have had (400 ms):
    # nothing happens any more
    time.sleep(1.0)
    p = gd.vm_props("cr")
    assert int(p["CrashRestartLimit"]) == 2
    assert int(p["CrashRestartBackoffUSec"]) == 100_000
    assert int(p["CrashRestartCount"]) == 2, dict(p)
    assert (str(p["State"]), str(p["StateReason"])) == ("stopped", "crashed"), dict(p)
    # three boots in the log, no fourth
    log = open(os.path.join(gd.dirs["log"], "cr.log"), "rb").read()
    assert log.count(expected("crash").splitlines()[0]) == 3, log
    assert gd.read_log().count("VM cr: restarting after crash") == 2, gd.read_log()[-4000:]


def test_refused_restart_after_reboot_backs_off_and_ends_failed(gd, tmp_path):
    # A restart whose new start is refused (on real Gunyah: a Resource
    # Manager that allows one VM per boot answers EPERM) ends failed and
    # obeys the crash back-off and limit, never a tight loop. Here the
    # refusal is the guest image gone after the first boot.
    kernel = tmp_path / "reset.elf"
    kernel.write_bytes(open(spec("x", "reset")["kernel"]["path"], "rb").read())
    d = spec("rr", "reset", on_reboot="restart", crash_restart={"limit": 2, "backoff": "100ms"})
    d["kernel"]["path"] = str(kernel)
    gd.manager().CreateVM(json.dumps(d), dbus.UInt64(START))
    kernel.unlink()
    limit = "VM rr: restart refused, restart limit 2 reached, staying failed"
    deadline = time.monotonic() + 30
    while limit not in gd.read_log():
        assert time.monotonic() < deadline, gd.read_log()[-4000:]
        time.sleep(0.05)
    time.sleep(1.0)  # past the longest back-off a third retry would have had
    p = gd.vm_props("rr")
    assert str(p["State"]) == "failed", dict(p)
    assert str(p["StateReason"]).startswith("load-failed: prepare-images: ENOENT"), dict(p)
    assert int(p["CrashRestartCount"]) == 2, dict(p)
    assert gd.read_log().count("VM rr: retrying the refused restart") == 2, gd.read_log()[-4000:]
    assert gd.read_log().count("VM rr: start failed at step prepare-images") == 3, gd.read_log()[-4000:]
    # what an administrator reads
    text = gd.ctl("status", "rr").stdout
    assert "failed (load-failed: prepare-images: ENOENT" in text, text


def test_console_log_is_capped_and_rotated_once(gd):
    # 1.5 MiB of output: more than the 1 MiB cap of one log file
    gd.manager().CreateVM(flood_spec("fl", 1572864), dbus.UInt64(START))
    gd.wait_state("fl", "stopped", timeout=60)
    cur = os.path.join(gd.dirs["log"], "fl.log")
    old = cur + ".1"
    assert os.path.getsize(cur) <= 1024 * 1024
    assert os.path.getsize(old) <= 1024 * 1024
    total = os.path.getsize(cur) + os.path.getsize(old)
    assert total >= 1572864, total
    assert open(cur, "rb").read().endswith(b"flood: done 1572864\n")


def test_several_console_readers_and_a_slow_one(gd):
    # below the 256 KiB a reader may lag before the daemon drops its output
    gd.manager().CreateVM(flood_spec("multi", 200000), dbus.UInt64(0))
    vm = gd.vm("multi")
    readers = [socket.socket(fileno=vm.OpenConsole().take()) for _ in range(3)]
    stalled = readers[2]  # never read: must not hold the guest or the daemon back
    vm.Start()
    got = [b"", b""]
    deadline = time.monotonic() + 60
    for r in readers[:2]:
        r.settimeout(0.2)
    # up to the newline: the last line may arrive in two pieces
    while time.monotonic() < deadline and not all(b"flood: done 200000\n" in g for g in got):
        for i, r in enumerate(readers[:2]):
            try:
                got[i] += r.recv(65536)
            except socket.timeout:
                pass
    assert all(b"flood: done 200000" in g for g in got)
    assert got[0] == got[1]
    assert gd.wait_state("multi", "stopped")[1] == "poweroff"
    # the daemon still answers while the stalled reader holds its socket
    assert str(gd.manager().GetVM("multi")).endswith("/multi")
    for r in readers:
        r.close()


def test_corrupt_definition_is_reported_and_left_alone(env):
    gd = env.daemon
    gd.stop()
    bad = os.path.join(gd.dirs["state"], "vms", "broken.json")
    os.makedirs(os.path.dirname(bad), exist_ok=True)
    with open(bad, "w") as f:
        f.write('{"name": "broken", "memory": {"size": "1000"}')
    admin = os.path.join(gd.dirs["etc"], "admin.json")
    with open(admin, "w") as f:
        f.write(spec_json("admin", "spin"))
    before = open(bad, "rb").read()
    gd.start()
    names = [str(v[0]) for v in gd.manager().ListVMs()]
    assert names == ["admin"]
    assert "broken.json" in gd.read_log()
    assert open(bad, "rb").read() == before
    # admin definitions are read-only over the API
    with pytest.raises(dbus.DBusException) as e:
        gd.vm("admin").Destroy()
    assert e.value.get_dbus_name() == "org.gunyah.Manager1.Error.ReadOnlyDefinition"
    assert os.path.exists(admin)


def test_failed_starts_leak_nothing(env):
    gd = env.daemon
    gd.stop()
    fake = os.path.join(env.tmp, "bad-worker")
    with open(fake, "w") as f:
        f.write("#!/bin/sh\nexit 7\n")
    os.chmod(fake, 0o755)
    gd.worker_binary = fake
    gd.start()
    pid = gd.proc.pid
    # The pool's spare of this binary exits at once: wait until the pool has
    # given up on it, so that its fds are not counted on one side only.
    deadline = time.monotonic() + 30
    while "started on demand from now on" not in gd.read_log():
        assert time.monotonic() < deadline, gd.read_log()[-2000:]
        time.sleep(0.05)
    gd.manager().CreateVM(spec_json("w0"), dbus.UInt64(START))
    gd.wait_state("w0", "failed")
    fds_before = len(os.listdir(f"/proc/{pid}/fd"))
    maps_before = open(f"/proc/{pid}/maps").read().count("memfd:")
    for i in range(10):
        gd.vm("w0").Start()
        gd.wait_state("w0", "failed")
    assert len(os.listdir(f"/proc/{pid}/fd")) == fds_before
    assert open(f"/proc/{pid}/maps").read().count("memfd:") == maps_before
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    assert children == []


def test_sighup_reloads_admin_definitions(gd):
    etc = gd.dirs["etc"]
    with open(os.path.join(etc, "a1.json"), "w") as f:
        f.write(spec_json("a1", vcpus=1))
    gd.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "a1" not in [str(v[0]) for v in gd.manager().ListVMs()] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert int(gd.vm_props("a1")["VCPUs"]) == 1
    # changed: an inactive VM takes the new spec
    with open(os.path.join(etc, "a1.json"), "w") as f:
        f.write(spec_json("a1", vcpus=2))
    gd.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while int(gd.vm_props("a1")["VCPUs"]) != 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert int(gd.vm_props("a1")["VCPUs"]) == 2
    # removed: forgotten
    os.unlink(os.path.join(etc, "a1.json"))
    gd.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "a1" in [str(v[0]) for v in gd.manager().ListVMs()] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [str(v[0]) for v in gd.manager().ListVMs()] == []
    assert gd.proc.poll() is None


def irqfd_labels(gd, name):
    prefix = f"VM {name}: irqfd registered for doorbell "
    return sorted(int(line.split(prefix, 1)[1].split()[0])
                  for line in gd.read_log().splitlines() if prefix in line)


def test_start_registers_one_irqfd_per_doorbell(gd):
    d = spec("bells", "spin")
    d["console"] = {"type": "pl011", "spi": 5}
    gd.manager().CreateVM(json.dumps(d), dbus.UInt64(START))
    gd.wait_state("bells", "running")
    # the PL011's doorbell and the power button's (SPI 7)
    assert irqfd_labels(gd, "bells") == [5, 7], gd.read_log()[-3000:]
    # the sim's workers drive their lines through the backend: no irqfd reaches them
    pid = int(gd.vm_props("bells")["WorkerPIDs"][0])
    assert not any(os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:[eventfd]"
                   for fd in os.listdir(f"/proc/{pid}/fd"))
    gd.manager().KillVM("bells")
    gd.wait_state("bells", "stopped")


def test_start_stop_cycles_close_their_irqfds(gd):
    pid = gd.proc.pid
    gd.manager().CreateVM(spec_json("cyc"), dbus.UInt64(0))

    def eventfds():
        return sum(os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:[eventfd]"
                   for fd in os.listdir(f"/proc/{pid}/fd"))

    def spare_idle():
        # the spare a start took is replaced after the stop: count with it there
        from test_worker_pool import wait_spare
        wait_spare(gd)

    def cycle():
        gd.vm("cyc").Start()
        assert gd.wait_state("cyc", ("stopped", "failed")) == ("stopped", "poweroff")
        spare_idle()

    cycle()
    fds_before, eventfds_before = len(os.listdir(f"/proc/{pid}/fd")), eventfds()
    for _ in range(20):
        cycle()
    assert irqfd_labels(gd, "cyc").count(7) == 21
    assert eventfds() == eventfds_before
    assert len(os.listdir(f"/proc/{pid}/fd")) == fds_before


def test_autostart_change_that_cannot_be_saved_changes_nothing(gd):
    """Setting Autostart of a persistent VM whose definition cannot be
    written fails, and Autostart and Spec still say what is on disk: the
    model changes only once the new definition is saved."""
    gd.manager().CreateVM(spec_json("save", "spin"), dbus.UInt64(PERSIST))
    path = os.path.join(gd.dirs["state"], "vms", "save.json")
    before = gd.vm_props("save")
    assert json.loads(str(before["Spec"]))["autostart"] is False
    # rename() onto a directory fails, also for root.
    os.unlink(path)
    os.mkdir(path)
    obj = gd.bus.conn.get_object("org.gunyah.Manager1", gd.vm_path("save"))
    with pytest.raises(dbus.DBusException) as e:
        obj.Set("org.gunyah.VM1", "Autostart", dbus.Boolean(True),
                dbus_interface="org.freedesktop.DBus.Properties")
    assert "Failed to save VM 'save'" in str(e.value), e.value
    after = gd.vm_props("save")
    assert after["Autostart"] == dbus.Boolean(False)
    assert str(after["Spec"]) == str(before["Spec"]), (before["Spec"], after["Spec"])
