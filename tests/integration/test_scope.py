# SPDX-License-Identifier: LGPL-2.1-or-later
"""Per-VM scopes and machined (issue 15) where systemd is not PID 1, as on
the development machines: the VM's processes stay children of gunyahd and
the debug log says why there is no scope; the spec's resources are
accepted and change nothing. tests/systemd checks the scope and machined
under a real systemd."""
import os

import dbus
import pytest

from gunyah_harness import spec_json

START = 2


def ppid(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("PPid:")).split()[1])


def test_without_systemd_processes_stay_children_of_the_daemon(gd):
    if os.path.isdir("/run/systemd/system"):
        pytest.skip("systemd is PID 1 here: tests/systemd covers this machine's case")
    gd.manager().CreateVM(spec_json("noscope", "spin", vcpus=2, resources={"cpu_weight": 20, "memory_max": "1G"}),
                          dbus.UInt64(START))
    gd.wait_state("noscope", "running")
    pids = [int(p) for p in gd.vm_props("noscope")["WorkerPIDs"]]
    assert len(pids) == 2
    for pid in pids:
        assert ppid(pid) == gd.proc.pid, f"worker {pid} is not a child of gunyahd {gd.proc.pid}"
    log = gd.read_log()
    assert "VM noscope: systemd is not PID 1: no scope unit, no machined" in log, log[-2000:]
    assert "StartTransientUnit" not in log and "machined did not" not in log, log[-2000:]
