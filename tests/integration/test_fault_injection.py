# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fault injection (issue 15): gunyahd killed with SIGKILL at each step of a
VM's start, and killed again and again under ten running VMs; the next
daemon, on the same directories, must reach a clean state.

Each step of a start (gunyahd --list-test-die-steps, hook builds only:
-Dsandbox-test-hooks=true) is reached once by a daemon started with
--test-die-at=VM:STEP, which raise(SIGKILL)s itself there. Before "running"
the next daemon must publish the VM failed (load-failed: daemon-restart)
with nothing of the start left: no process of the VM, no memfd it had, no
runtime directory, no fd more in the daemon; its definition as it was, and
a start that works. At "running" it must adopt the VM as it was.

Twenty kill -9 and restart cycles under ten running ticker VMs need no hook
and run in every build."""
import json
import os
import re
import signal
import subprocess
import time
from collections import Counter

import dbus
import pytest

from gunyah_harness import Env, env_path, spec
from test_adoption import alive, kill_left, read_record

PERSIST, START = 1, 2
TICK = re.compile(rb"^ticker: (\d+)$", re.M)
# What one restart may lose of a console (test_adoption.py): what the killed
# daemon had read and not yet logged, at most one 4 KiB read, i.e. this many
# numbers skipped after the line torn at the restart.
MAX_JUMP = 1 + 4096 // len("ticker: 0\n")


def die_steps():
    """The steps of --test-die-at in start order, or [] in a build without hooks."""
    p = subprocess.run([env_path("GUNYAHD"), "--list-test-die-steps"], capture_output=True, text=True)
    return p.stdout.split() if p.returncode == 0 else []


STEPS = die_steps()
needs_hooks = pytest.mark.skipif(not STEPS, reason="needs meson -Dsandbox-test-hooks=true (--test-die-at)")


# --- what /proc says ---

def proc_entries():
    return [int(e) for e in os.listdir("/proc") if e.isdigit()]


def stat_fields(pid):
    with open(f"/proc/{pid}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()


def vm_processes(name):
    """Live gunyah-* processes whose command line names VM name (--vm=NAME)."""
    found = []
    for pid in proc_entries():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if os.path.basename(argv[0]).startswith(b"gunyah-") and f"--vm={name}".encode() in argv and alive(pid):
            found.append((pid, os.path.basename(argv[0]).decode()))
    return found


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def group_processes(pgid):
    """Live processes of process group pgid (the harness gives each daemon its own)."""
    found = []
    for pid in proc_entries():
        try:
            fields = stat_fields(pid)
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":
            found.append(pid)
    return found


def group_members(pgid):
    return [(pid, cmdline(pid)) for pid in group_processes(pgid)]


def fd_targets(pid):
    targets = []
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return targets
    for fd in fds:
        try:
            targets.append((fd, os.readlink(f"/proc/{pid}/fd/{fd}")))
        except OSError:
            pass
    return targets


def memfds_of(pid):
    """Inodes of the memfds pid has open or mapped."""
    inodes = set()
    for fd, target in fd_targets(pid):
        if target.startswith("/memfd:"):
            try:
                inodes.add(os.stat(f"/proc/{pid}/fd/{fd}").st_ino)
            except OSError:
                pass
    try:
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                fields = line.split(None, 5)
                if len(fields) == 6 and fields[5].startswith("/memfd:"):
                    inodes.add(int(fields[4]))
    except OSError:
        pass
    return inodes


def memfd_holders(inodes):
    """Which processes still have any of inodes (memfds) open or mapped."""
    if not inodes:
        return {}
    return {pid: held for pid in proc_entries() if (held := memfds_of(pid) & inodes)}


def fd_kinds(pid):
    """pid's open fds by kind (socket, pipe, anon_inode:[pidfd], a path...)."""
    return Counter(re.sub(r":\[\d+\]$", "", t) for _, t in fd_targets(pid))


def wait_for(what, check, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if not value or time.monotonic() > deadline:
            assert not value, f"{what}: {value}"
            return
        time.sleep(0.05)


def settled_fd_kinds(pid, timeout=5):
    """fd_kinds once it stays the same for 0.3 s (a spare worker being started settles)."""
    deadline = time.monotonic() + timeout
    last = fd_kinds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = fd_kinds(pid)
        if now == last:
            return now
        last = now
    return last


def restart(gd, extra_args=()):
    """A new daemon on the same directories, the previous one already dead."""
    gd.log.close()
    gd.extra_args = list(extra_args)
    gd.start()


def wait_ticks(gd, name, past=0, lines=1, timeout=20):
    """Until VM name's console log has lines ticker lines beyond byte past."""
    wait_for(f"fewer than {lines} ticker lines of {name} after byte {past}",
             lambda: len(TICK.findall(gd.console_log(name)[past:])) < lines, timeout)


# --- a start cut short at each step ---

def die_spec(name, rng=False):
    """rng: the default rng device (memory the host can reach), else no device."""
    if rng:
        return spec(name, "ticker", vcpus=2, memory={"size": "64M", "mode": "share"})
    return spec(name, "ticker", vcpus=2, rng=False)


def die_at(gd, name, step):
    """Starts VM name on a daemon told to die at step; returns when it died."""
    try:
        gd.vm(name).Start()
    except dbus.DBusException:
        pass  # it died during the call
    rc = gd.proc.wait(timeout=30)
    assert rc == -signal.SIGKILL, (rc, gd.read_log()[-3000:])
    assert f"VM {name}: --test-die-at: dying at step {step}" in gd.read_log()


def assert_nothing_left(gd, name, old_group, recorded, memfds):
    """No process, memfd or runtime file of VM name. Workers do not name
    their VM: they are among the recorded PIDs and in old_group, the dead
    daemon's process group (whose spare worker leaves on EOF too)."""
    wait_for(f"processes of {name}", lambda: vm_processes(name))
    wait_for(f"recorded processes of {name}", lambda: [(p, cmdline(p)) for p in recorded if alive(p)])
    wait_for("processes of the killed daemon", lambda: group_members(old_group))
    assert memfd_holders(memfds) == {}
    assert not memfds_of(gd.proc.pid), "the daemon holds a memfd with no VM running"
    assert not os.path.exists(os.path.join(gd.dirs["run"], "vms", name)), \
        os.listdir(os.path.join(gd.dirs["run"], "vms", name))


def assert_torn_down(gd, name, before, fds_before):
    props = gd.vm_props(name)
    assert (str(props["State"]), str(props["StateReason"])) == ("failed", "load-failed: daemon-restart"), \
        gd.read_log()[-3000:]
    assert str(props["ExitInfo"]["step"]) == "daemon-restart"
    assert json.loads(str(props["Spec"])) == json.loads(str(before["Spec"])) and bool(props["Persistent"])
    # the daemon has what a daemon with this definition has, nothing of the start
    deadline = time.monotonic() + 5
    while (fds := settled_fd_kinds(gd.proc.pid)) != fds_before and time.monotonic() < deadline:
        pass
    assert fds == fds_before, (fds - fds_before, fds_before - fds)
    # and it starts again
    gd.vm(name).Start()
    gd.wait_state(name, "running")
    wait_ticks(gd, name, len(gd.console_log(name)))


def assert_adopted(gd, name, before, rec, window):
    props = gd.vm_props(name)
    assert str(props["State"]) == "running", gd.read_log()[-3000:]
    assert str(props["UUID"]) == str(before["UUID"]) == rec["uuid"]
    started = int(props["StartedTimestamp"])
    assert started == rec["started_realtime_usec"] and window[0] <= started <= window[1], (started, window)
    assert sorted(int(p) for p in props["WorkerPIDs"]) == \
        sorted(p["pid"] for p in rec["processes"] if p["role"] == "vcpu")
    wait_ticks(gd, name, len(gd.console_log(name)))


def run_die_case(step, rng=False):
    name = f"fault-{step}"
    e = Env([f"--test-die-at={name}:{step}"])
    gd = e.daemon
    old_group = None
    try:
        gd.start()
        gd.manager().CreateVM(json.dumps(die_spec(name, rng)), dbus.UInt64(PERSIST))
        definition = os.path.join(gd.dirs["state"], "vms", name + ".json")
        with open(definition, "rb") as f:
            defined = f.read()
        before = gd.vm_props(name)
        fds_before = settled_fd_kinds(gd.proc.pid)
        window = [time.time_ns() // 1000]
        die_at(gd, name, step)
        window.append(time.time_ns() // 1000)
        old_group = gd.proc.pid
        memfds = set().union(*(memfds_of(pid) for pid in group_processes(old_group)))
        rec = read_record(gd, name)
        assert rec and rec["phase"] == ("running" if step == "running" else "starting"), rec
        recorded = [p["pid"] for p in rec["processes"]]
        restart(gd)
        if step == "running":
            assert_adopted(gd, name, before, rec, window)
        else:
            assert_nothing_left(gd, name, old_group, recorded, memfds)
            assert_torn_down(gd, name, before, fds_before)
        with open(definition, "rb") as f:
            assert f.read() == defined
        # either way the VM ends like any other, and nothing of it is left
        gd.vm(name).Kill()
        assert gd.wait_state(name, "stopped") == ("stopped", "killed")
        assert_nothing_left(gd, name, old_group, recorded, memfds)
    finally:
        kill_left([pid for pid, _ in vm_processes(name)] + (group_processes(old_group) if old_group else []))
        e.close()


@pytest.mark.skipif(bool(STEPS), reason="checks the default build")
def test_default_build_has_no_die_option():
    for arg in ("--list-test-die-steps", "--test-die-at=x:keeper"):
        p = subprocess.run([env_path("GUNYAHD"), arg], capture_output=True, text=True, timeout=10)
        assert p.returncode != 0 and "unrecognized option" in p.stderr, (arg, p.stderr)


@needs_hooks
def test_die_steps_run_from_the_keeper_to_running():
    assert STEPS[0] == "keeper" and STEPS[-1] == "running", STEPS
    assert len(set(STEPS)) == len(STEPS)
    for arg in ("x:nowhere", "keeper"):
        p = subprocess.run([env_path("GUNYAHD"), f"--test-die-at={arg}"], capture_output=True, text=True, timeout=10)
        assert p.returncode != 0 and "expected VM:STEP" in p.stderr, (arg, p.stderr)


def step_params():
    return list(STEPS) or ["none"]


@needs_hooks
@pytest.mark.parametrize("step", step_params())
def test_die_at_step_then_a_new_daemon_is_clean(step):
    run_die_case(step)


@needs_hooks
@pytest.mark.parametrize("step", step_params())
def test_die_rng_at_step_then_a_new_daemon_is_clean(step):
    """The same with the default rng device (device processes)."""
    run_die_case(step, rng=True)


# --- kill -9 cycles under running VMs ---

def console_jumps(text, boundaries):
    """The ticker numbers of a console log written by successive daemons
    (boundaries: the log's size at each death) and, at each boundary, the
    jump from the last complete line before to the first line after the
    one torn there (as test_adoption.py reads it)."""
    segments, jumps, start = [], [], 0
    for b in boundaries + [len(text)]:
        seg = text[start:b]
        if start:
            seg = seg[seg.find(b"\n") + 1:] if b"\n" in seg else b""
        segments.append([int(n) for n in TICK.findall(seg[:seg.rfind(b"\n") + 1])])
        start = b
    for prev, nxt in zip(segments, segments[1:]):
        if prev and nxt:
            jumps.append(nxt[0] - prev[-1])
    return segments, jumps


def test_twenty_kill9_restarts_under_ten_running_vms(env):
    gd = env.daemon
    names = [f"cycle{i}" for i in range(10)]
    for n in names:
        gd.manager().CreateVM(json.dumps(spec(n, "ticker", rng=False)), dbus.UInt64(START))
    identity = {}
    for n in names:
        gd.wait_state(n, "running", timeout=60)
        p = gd.vm_props(n)
        identity[n] = (str(p["UUID"]), int(p["StartedTimestamp"]), sorted(int(w) for w in p["WorkerPIDs"]))
    pids = [p["pid"] for n in names for p in read_record(gd, n)["processes"]]
    boundaries = {n: [] for n in names}
    fds = []
    try:
        for cycle in range(20):
            for n in names:
                # past the line torn at the last restart, two more to compare
                wait_ticks(gd, n, boundaries[n][-1] if boundaries[n] else 0, lines=3)
            if cycle in (1, 19):
                fds.append(settled_fd_kinds(gd.proc.pid))
            os.kill(gd.proc.pid, signal.SIGKILL)
            gd.proc.wait()
            for n in names:
                boundaries[n].append(os.path.getsize(os.path.join(gd.dirs["log"], n + ".log")))
            time.sleep(0.1)  # the guests print on, into the sockets the keepers hold
            restart(gd)
            for n in names:
                p = gd.vm_props(n)
                assert (str(p["State"]), str(p["UUID"]), int(p["StartedTimestamp"]),
                        sorted(int(w) for w in p["WorkerPIDs"])) == ("running", *identity[n]), \
                    (cycle, n, gd.read_log()[-3000:])
        # the first adopting daemon has what the nineteenth has: nothing piles up
        assert fds[0] == fds[1], (fds[1] - fds[0], fds[0] - fds[1])
        for n in names:
            wait_ticks(gd, n, boundaries[n][-1], lines=3)
            segments, jumps = console_jumps(gd.console_log(n), boundaries[n])
            for seg in segments:
                assert seg == list(range(seg[0], seg[0] + len(seg))) if seg else True, (n, "lines lost or repeated")
            assert segments[0][0] == 0 and len(jumps) == 20, (n, jumps)
            assert all(0 < j <= MAX_JUMP for j in jumps), (n, jumps)
        for n in names:
            gd.vm(n).Kill()
        for n in names:
            gd.wait_state(n, "stopped")
        wait_for("processes of the VMs", lambda: [pid for pid in pids if alive(pid)])
    finally:
        kill_left(pids)
