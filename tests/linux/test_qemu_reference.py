# SPDX-License-Identifier: LGPL-2.1-or-later
"""The reference: qemu-system-aarch64 -M virt,gic-version=3 (TCG) boots the
guest set with the command line of examples/linux.json, and /init does what
the gunyahd tests (test_linux.py) expect of it. When a test here fails, the
guest set is wrong; when only test_linux.py fails, gunyahd or the sim is."""
import os
import shutil
import socket
import tempfile
import time

import pytest

from linux_guest import Qemu, cmdline, marker

pytestmark = pytest.mark.skipif(not shutil.which("qemu-system-aarch64"),
                                reason="qemu-system-aarch64 is not installed (tools/setup.sh installs it)")


def start(runs, *args, **kwargs):
    q = Qemu(*args, **kwargs)
    runs.append(q)
    return q


@pytest.mark.parametrize("vcpus", [1, 2])
def test_boots_to_the_marker_and_powers_off(gdir, qemu_runs, vcpus):
    q = start(qemu_runs, gdir, vcpus)
    assert q.read_until(marker(vcpus)) is not None, q.text()
    assert q.wait() == 0, q.text()
    assert b"reboot: Power down" in q.out, q.text()
    if vcpus == 2:
        assert b"smp: Brought up 1 node, 2 CPUs" in q.out, q.text()


def test_shell_runs_a_command_typed_into_the_console(gdir, qemu_runs):
    q = start(qemu_runs, gdir, 1, cmdline("shell"))
    assert q.read_until(b"GUNYAH-LINUX-SHELL") is not None, q.text()
    assert q.read_until(b"# ") is not None, q.text()
    q.write(b"echo hi-$((6*7))\n")
    assert q.read_until(b"hi-42\r\n", timeout=60) is not None, q.text()
    q.write(b"exit\n")
    assert q.wait() == 0, q.text()
    assert b"reboot: Power down" in q.out, q.text()


def test_reboot_resets_the_machine(gdir, qemu_runs):
    q = start(qemu_runs, gdir, 1, cmdline("reboot"))
    assert q.wait() == 0, q.text()  # -no-reboot: a reset ends QEMU
    assert marker(1) in q.out and b"reboot: Restarting system" in q.out, q.text()


def test_panic_with_panic_minus_1_resets_at_once(gdir, qemu_runs):
    q = start(qemu_runs, gdir, 1, cmdline("panic", "panic=-1"))
    assert q.wait() == 0, q.text()
    assert b"Kernel panic - not syncing: sysrq triggered crash" in q.out, q.text()


def test_power_button_powers_off_an_idle_guest(gdir, qemu_runs):
    mon = os.path.join(tempfile.mkdtemp(prefix="gunyah-qemu-"), "monitor")
    q = start(qemu_runs, gdir, 1, cmdline("idle"), extra=["-monitor", f"unix:{mon},server,nowait"])
    try:
        assert q.read_until(b"GUNYAH-LINUX-IDLE button=/dev/input/event") is not None, q.text()
        s = socket.socket(socket.AF_UNIX)
        s.connect(mon)
        # the button is pressed until the guest has reacted: QEMU's PL061 line is an edge
        for _ in range(60):
            s.sendall(b"system_powerdown\n")
            if q.read_until(b"GUNYAH-LINUX-POWER-BUTTON", timeout=2) is not None:
                break
        s.close()
        assert q.wait() == 0, q.text()
        assert b"GUNYAH-LINUX-POWER-BUTTON" in q.out and b"reboot: Power down" in q.out, q.text()
    finally:
        shutil.rmtree(os.path.dirname(mon), ignore_errors=True)


def test_hang_runs_until_killed(gdir, qemu_runs):
    q = start(qemu_runs, gdir, 1, cmdline("hang"))
    assert q.read_until(b"GUNYAH-LINUX-HANG") is not None, q.text()
    time.sleep(1)  # not a timing assertion: it must simply still be there
    assert q.proc.poll() is None, q.text()
