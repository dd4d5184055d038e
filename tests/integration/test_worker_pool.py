# SPDX-License-Identifier: LGPL-2.1-or-later
"""The daemon's spare worker (docs/worker-pool.md): started ahead of time,
holding nothing of a VM, handed to a VM start, replaced, gone with the daemon."""
import os
import signal
import time

import dbus

from gunyah_harness import spec_json
from test_sandbox import WORKER_UID, assert_unprivileged_with_seccomp, status_fields

START = 2


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except FileNotFoundError:
        return []


def spares(gd):
    return [p for p in children(gd.proc.pid) if b"--spare" in cmdline(p)]


def wait_spare(gd, other_than=None, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = [p for p in spares(gd) if p != other_than]
        # idle once it blocks on its control socket (state S, fd 3 its only socket)
        if s and spare_is_idle(s[0]):
            return s[0]
        time.sleep(0.02)
    raise AssertionError(f"no spare worker (other than {other_than}) within {timeout}s; children "
                         f"{[(p, cmdline(p)) for p in children(gd.proc.pid)]}\n{gd.read_log()[-3000:]}")


def spare_is_idle(pid):
    try:
        with open(f"/proc/{pid}/wchan") as f:
            wchan = f.read()
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state == "S" and wchan not in ("", "0")


def gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def run_hello(gd, name):
    gd.manager().CreateVM(spec_json(name), dbus.UInt64(START))
    state, reason = gd.wait_state(name, ("stopped", "failed"))
    assert (state, reason) == ("stopped", "poweroff"), (state, reason, gd.read_log()[-3000:])
    gd.manager().DestroyVM(name)


def test_spare_holds_only_its_control_socket(gd):
    pid = wait_spare(gd)
    fds = {int(fd): os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    assert sorted(fds) == [0, 1, 2, 3], f"spare {pid} holds {fds}"
    assert fds[3].startswith("socket:"), fds
    # who it is, nothing of a VM: that comes in its WorkerConfig
    assert cmdline(pid)[1:] == [b"--spare", b"--uid=%d" % WORKER_UID, b"--gid=%d" % WORKER_UID, b""], cmdline(pid)
    # it entered the sandbox's namespaces and empty root while idle
    assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
    assert os.listdir(f"/proc/{pid}/root") == []


def test_idle_spare_is_unprivileged_and_filtered(gd):
    # It has no guest input yet, but the sandbox does not wait for one: the
    # idle filter only, before any VM exists.
    assert_unprivileged_with_seccomp(wait_spare(gd), "idle spare", filters=1)


def test_assigned_spare_stacks_its_backend_filter(gd):
    spare = wait_spare(gd)
    gd.manager().CreateVM(spec_json("stacked", "spin"), dbus.UInt64(START))
    gd.wait_state("stacked", "running")
    assert [int(p) for p in gd.vm_props("stacked")["WorkerPIDs"]] == [spare]
    st = status_fields(spare)
    assert st["Seccomp_filters"].strip() == "2", f"idle filter plus the backend's expected: {st['Seccomp_filters']!r}"
    gd.manager().KillVM("stacked")
    assert gd.wait_state("stacked", "stopped")[1] == "killed"


def test_start_takes_the_spare_and_a_new_one_replaces_it(gd):
    spare = wait_spare(gd)
    gd.manager().CreateVM(spec_json("taker", "spin"), dbus.UInt64(START))
    gd.wait_state("taker", "running")
    assert [int(p) for p in gd.vm_props("taker")["WorkerPIDs"]] == [spare]
    assert b"--spare" in cmdline(spare)  # same process, now a sandboxed worker
    with open(f"/proc/{spare}/status") as f:
        assert "Seccomp:\t2" in f.read(), "the assigned spare must be sandboxed"
    fresh = wait_spare(gd, other_than=spare)
    assert fresh != spare
    gd.manager().KillVM("taker")
    assert gd.wait_state("taker", "stopped")[1] == "killed"


def test_killed_spare_is_replaced_and_vms_still_start(gd):
    spare = wait_spare(gd)
    os.kill(spare, signal.SIGKILL)
    # right away: no spare is ready, the start forks a worker as before
    run_hello(gd, "nospare")
    fresh = wait_spare(gd, other_than=spare)
    assert gone(spare)
    run_hello(gd, "withspare")
    assert "runs in spare worker pid %d" % fresh in gd.read_log()


def test_starts_with_and_without_a_spare_behave_the_same(gd):
    # two vCPUs: the first takes the spare, the second is forked. The spare
    # must be ready first: a daemon that just started may still be loading it.
    spare = wait_spare(gd)
    deadline = time.monotonic() + 10
    while f"Spare worker {spare} is idle" not in gd.read_log() and time.monotonic() < deadline:
        time.sleep(0.02)
    gd.manager().CreateVM(spec_json("smp", "smp", vcpus=2), dbus.UInt64(START))
    state, reason = gd.wait_state("smp", ("stopped", "failed"))
    assert (state, reason) == ("stopped", "poweroff"), (state, reason)
    log = gd.read_log()
    assert "runs in spare worker" in log and "runs in new worker" in log, log[-3000:]


def test_no_spare_left_after_sigterm(env):
    gd = env.daemon
    spare = wait_spare(gd)
    gd.manager().CreateVM(spec_json("t", "spin"), dbus.UInt64(START))
    gd.wait_state("t", "running")
    fresh = wait_spare(gd, other_than=spare)
    assert gd.stop() == 0
    assert gone(spare) and gone(fresh)


def test_no_spare_left_after_sigint_when_idle(env):
    gd = env.daemon
    spare = wait_spare(gd)
    assert gd.stop(signal.SIGINT) == 0
    assert gone(spare)


def test_spare_of_a_killed_daemon_leaves_by_itself(env):
    gd = env.daemon
    spare = wait_spare(gd)
    gd.proc.send_signal(signal.SIGKILL)
    gd.proc.wait()
    # its control socket hung up: it exits instead of waiting forever
    deadline = time.monotonic() + 10
    while not gone(spare) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert gone(spare), f"spare {spare} outlived its daemon"
