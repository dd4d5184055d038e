# SPDX-License-Identifier: LGPL-2.1-or-later
"""Debian's arm64 Linux on gunyahd --backend=sim, driven with gunyahctl
(issue 8). The same guest set boots on QEMU in test_qemu_reference.py; a
failure here that QEMU does not share is gunyahd's or the simulator's.

The simulator executes guest code on a software CPU: a boot takes tens of
seconds or more. Timeouts (GUNYAH_LINUX_BOOT_TIMEOUT, 600 s by default) only
bound a hang; nothing here measures time (bench/linux-boot.py does)."""
import json
import os
import subprocess
import time

import pytest

from gunyah_harness import env_path
from linux_guest import BANNER, BOOT_TIMEOUT, marker, spec

SMP2 = b"smp: Brought up 1 node, 2 CPUs"
PANIC = b"Kernel panic - not syncing: sysrq triggered crash"
# Linux's PSCI driver resets through SYSTEM_RESET2 only for reboot=warm or
# reboot=soft; the guest set's command line leaves the default, a cold reset.
COLD_RESET = "PSCI_SYSTEM_RESET"


def create(env, name, gdir, *flags, **kwargs):
    path = os.path.join(env.tmp, name + ".json")
    with open(path, "w") as f:
        json.dump(spec(name, gdir, **kwargs), f)
    env.daemon.ctl("create", path, *flags)


def status(gd, name):
    return json.loads(gd.ctl("status", "--json", name).stdout)


def why(gd, name):
    """What a failure message needs: state, exit info, the console's tail, the daemon's tail."""
    try:
        st = status(gd, name)
        head = f"VM {name}: {st['State']} ({st['StateReason']}), exit info {st.get('ExitInfo')}"
    except Exception as e:  # noqa: BLE001 - a failure report must not fail itself
        head = f"VM {name}: no status ({e})"
    log = gd.console_log(name).decode(errors="replace")
    return (f"{head}\n--- console (last 3000 bytes of {len(log)}):\n{log[-3000:]}\n"
            f"--- daemon log (tail):\n{gd.read_log()[-3000:]}")


def ended(gd, name):
    """Stopped or failed for good: an on_reboot restart passes through
    "stopped" for an instant, so a second look a moment later decides."""
    if gd.state(name)[0] not in ("stopped", "failed"):
        return False
    time.sleep(1)
    return gd.state(name)[0] in ("stopped", "failed")


def wait_console(gd, name, what, count=1, timeout=BOOT_TIMEOUT):
    """Waits until the console log holds `what` `count` times; fails early, and
    clearly, when the VM ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gd.console_log(name).count(what) >= count:
            return
        if ended(gd, name) and gd.console_log(name).count(what) < count:
            pytest.fail(f"the guest ended before printing {what!r} (x{count}):\n{why(gd, name)}")
        time.sleep(0.2)
    pytest.fail(f"no {what!r} (x{count}) on the console within {timeout:.0f}s:\n{why(gd, name)}")


def wait_for(gd, name, what, predicate, timeout=BOOT_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if ended(gd, name):
            pytest.fail(f"the guest ended before {what}:\n{why(gd, name)}")
        time.sleep(0.2)
    pytest.fail(f"no {what} within {timeout:.0f}s:\n{why(gd, name)}")


def wait_stopped(gd, name, timeout=BOOT_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gd.state(name)[0] in ("stopped", "failed"):
            return status(gd, name)
        time.sleep(0.2)
    pytest.fail(f"VM {name} still not stopped after {timeout:.0f}s:\n{why(gd, name)}")


@pytest.mark.parametrize("vcpus", [1, 2])
def test_boot_reaches_the_marker_and_powers_off(env, gd, gdir, vcpus):
    create(env, "linux", gdir, "--start", vcpus=vcpus)
    wait_console(gd, "linux", marker(vcpus))
    st = wait_stopped(gd, "linux")
    assert (st["State"], st["StateReason"]) == ("stopped", "poweroff"), why(gd, "linux")
    info = st["ExitInfo"]
    assert info["exit_type_name"] == "PSCI_POWER_OFF" and info["exit_type"] == 1, info
    assert info["vcpu"] in range(vcpus), info
    log = gd.console_log("linux")
    assert log.count(BANNER) == 1, why(gd, "linux")
    assert b"reboot: Power down" in log, why(gd, "linux")
    if vcpus == 2:
        assert SMP2 in log, why(gd, "linux")


def test_reboot_ends_reboot_with_on_reboot_stop(env, gd, gdir):
    create(env, "linux", gdir, "--start", vcpus=2, test="reboot", on_reboot="stop")
    wait_console(gd, "linux", marker(2))
    st = wait_stopped(gd, "linux")
    assert (st["State"], st["StateReason"]) == ("stopped", "reboot"), why(gd, "linux")
    assert st["ExitInfo"]["exit_type_name"] == COLD_RESET, st["ExitInfo"]
    assert b"reboot: Restarting system" in gd.console_log("linux"), why(gd, "linux")
    assert gd.console_log("linux").count(BANNER) == 1, why(gd, "linux")


def test_reboot_with_on_reboot_restart_boots_again(env, gd, gdir):
    create(env, "linux", gdir, "--start", vcpus=2, test="reboot", on_reboot="restart")
    # the guest reboots forever: two banners and two markers are two boots
    wait_console(gd, "linux", marker(2), count=2, timeout=2 * BOOT_TIMEOUT)
    assert gd.console_log("linux").count(BANNER) >= 2, why(gd, "linux")
    gd.ctl("kill", "linux")
    assert gd.wait_state("linux", "stopped")[1].startswith("killed")


def test_panic_with_panic_minus_1_ends_reboot(env, gd, gdir):
    """panic=-1: Linux resets at once through PSCI SYSTEM_RESET; a Gunyah guest
    has no other way to tell the host it panicked, so gunyahd records a reboot
    (on_reboot decides what follows), never "crashed"."""
    create(env, "linux", gdir, "--start", vcpus=1, test="panic", extra="panic=-1", on_reboot="stop")
    wait_console(gd, "linux", PANIC)
    st = wait_stopped(gd, "linux")
    assert (st["State"], st["StateReason"]) == ("stopped", "reboot"), why(gd, "linux")
    assert st["ExitInfo"]["exit_type_name"] == COLD_RESET, st["ExitInfo"]


def test_panic_with_panic_0_keeps_running_until_killed(env, gd, gdir):
    """panic=0: Linux halts forever in its panic loop; the VM stays running
    (the host sees nothing) until it is killed."""
    create(env, "linux", gdir, "--start", vcpus=1, test="panic", extra="panic=0")
    wait_console(gd, "linux", PANIC)
    time.sleep(2)  # not a timing assertion: a halted guest must still be there after any delay
    assert gd.state("linux") == ("running", "start"), why(gd, "linux")
    gd.ctl("kill", "linux")
    assert gd.wait_state("linux", "stopped")[1].startswith("killed")


def test_command_typed_into_the_console_runs_in_a_shell(env, gd, gdir):
    create(env, "linux", gdir, "--start", vcpus=2, test="shell")
    wait_console(gd, "linux", b"GUNYAH-LINUX-SHELL")
    wait_for(gd, "linux", "the shell's prompt",
             lambda: b"# " in gd.console_log("linux").split(b"GUNYAH-LINUX-SHELL", 1)[-1])
    console = subprocess.Popen([env_path("GUNYAHCTL"), f"--bus-address={gd.bus.address}", "console", "linux"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        console.stdin.write(b"echo hi-$((6*7))\n")
        console.stdin.flush()
        wait_for(gd, "linux", "hi-42 from the shell", lambda: b"hi-42\r\n" in gd.console_log("linux"))
        # communicate() writes, closes stdin and waits (it refuses a closed stdin)
        out, err = console.communicate(b"exit\n", timeout=BOOT_TIMEOUT)
    finally:
        if console.poll() is None:
            console.kill()
            console.wait()
    assert b"hi-42" in out, f"console output:\n{out!r}\n{err!r}\n{why(gd, 'linux')}"
    st = wait_stopped(gd, "linux")
    assert (st["State"], st["StateReason"]) == ("stopped", "poweroff"), why(gd, "linux")


def test_stop_presses_the_power_button_and_linux_powers_off(env, gd, gdir):
    """The graceful path: Stop() raises the PL061 line; the kernel's gpio-keys
    driver (loaded by /init, busybox itself ignores KEY_POWER) reports
    KEY_POWER and /init powers off, so the VM ends "shutdown", not "killed"."""
    create(env, "linux", gdir, "--start", vcpus=2, test="idle")
    wait_console(gd, "linux", b"GUNYAH-LINUX-IDLE button=/dev/input/event")
    t0 = time.monotonic()
    p = gd.ctl("stop", "--timeout=120", "linux", timeout=300)
    took = time.monotonic() - t0
    st = status(gd, "linux")
    path = "graceful" if st["StateReason"] == "shutdown" else "forced"
    print(f"Stop() of a running Linux guest: {path} path ({st['StateReason']}) after {took:.1f}s")
    assert st["StateReason"] == "shutdown", f"{p.stdout}\n{why(gd, 'linux')}"
    assert b"GUNYAH-LINUX-POWER-BUTTON" in gd.console_log("linux"), why(gd, "linux")
    assert st["ExitInfo"]["exit_type_name"] == "PSCI_POWER_OFF", st["ExitInfo"]


def test_stop_forces_a_guest_deaf_to_the_button_within_its_timeout(env, gd, gdir):
    create(env, "linux", gdir, "--start", vcpus=2, test="hang")
    wait_console(gd, "linux", b"GUNYAH-LINUX-HANG")
    p = gd.ctl("stop", "--timeout=2", "linux", timeout=120)
    assert "stopped (killed" in p.stdout, f"{p.stdout}\n{why(gd, 'linux')}"
    assert gd.state("linux")[0] == "stopped"
