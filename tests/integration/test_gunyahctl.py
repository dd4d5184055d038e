# SPDX-License-Identifier: LGPL-2.1-or-later
"""gunyahctl against a real gunyahd on the simulator (issue 4): every verb,
its output and its exit code, driven as a user or a unit file would."""
import json
import os
import pty
import select
import signal
import subprocess
import time

import pytest

from gunyah_harness import Bus, env_path, guest_path, spec

EXIT_FAILURE, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_ABNORMAL = 1, 2, 3, 4


def expected(guest, ext="txt"):
    with open(os.path.join(env_path("GUNYAH_GUEST_EXPECTED_DIR"), f"{guest}.{ext}"), "rb") as f:
        return f.read()


def write_spec(env, name, guest="hello", **extra):
    path = os.path.join(env.tmp, name + ".json")
    with open(path, "w") as f:
        json.dump(spec(name, guest, **extra), f)
    return path


def create(env, name, guest="hello", *flags, **extra):
    p = env.daemon.ctl("create", write_spec(env, name, guest, **extra), *flags)
    assert p.stdout.strip() == name, p.stdout
    return p


def status_json(gd, name):
    return json.loads(gd.ctl("status", "--json", name).stdout)


def popen_ctl(gd, *args, **kwargs):
    cmd = [env_path("GUNYAHCTL"), f"--bus-address={gd.bus.address}"] + [str(a) for a in args]
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(cmd, **kwargs)


def wait_for(what, predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# --- output and exit information ---

def test_hello_prints_through_console_and_ends_poweroff(env, gd):
    create(env, "hello", "hello", "--start")
    p = gd.ctl("console", "hello", input="")
    assert p.stdout.encode() == expected("hello"), p.stdout
    gd.wait_state("hello", "stopped")
    st = status_json(gd, "hello")
    assert (st["State"], st["StateReason"]) == ("stopped", "poweroff"), st
    info = st["ExitInfo"]
    assert info["exit_type_name"] == "PSCI_POWER_OFF" and info["exit_type"] == 1, info
    assert info["status"] == 2 and info["vcpu"] == 0, info
    text = gd.ctl("status", "hello").stdout
    assert "stopped (poweroff)" in text and "PSCI_POWER_OFF" in text and "vCPU 0" in text, text


def test_start_console_prints_hello_and_returns_when_it_stops(env, gd):
    create(env, "hello")
    p = gd.ctl("start", "--console", "hello", input="")
    assert p.stdout.encode() == expected("hello"), p.stdout


def test_start_wait_exits_0_for_poweroff(env, gd):
    create(env, "hello")
    p = gd.ctl("start", "--wait", "hello")
    assert p.returncode == 0
    assert gd.state("hello") == ("stopped", "poweroff")


def test_start_wait_exits_4_for_crash(env, gd):
    create(env, "crash", "crash")
    p = gd.ctl("start", "--wait", "crash", check=False)
    assert p.returncode == EXIT_ABNORMAL, (p.returncode, p.stderr)
    assert "crashed" in p.stderr, p.stderr


def test_start_wait_keeps_waiting_across_reboots(env, gd):
    create(env, "rb", "reset", on_reboot="restart")
    waiter = popen_ctl(gd, "start", "--wait", "rb", text=True)
    banner = expected("reset").splitlines()[0]
    try:
        wait_for("two boots of rb", lambda: gd.console_log("rb").count(banner) >= 2)
        assert waiter.poll() is None, f"start --wait returned at a reboot: {waiter.communicate()}"
        gd.ctl("kill", "rb")
        out, err = waiter.communicate(timeout=20)
    finally:
        if waiter.poll() is None:
            waiter.kill()
    assert waiter.returncode == EXIT_ABNORMAL, (waiter.returncode, err)
    assert "killed" in err, err


def test_start_wait_exits_0_after_a_graceful_stop(env, gd):
    """The gunyah-vm@.service flow: ExecStart=start --wait, ExecStop=stop."""
    create(env, "idle", "idle")
    waiter = popen_ctl(gd, "start", "--wait", "idle", text=True)
    try:
        gd.wait_state("idle", "running")
        stopper = popen_ctl(gd, "stop", "--timeout=30", "idle", text=True)
        # nobody types on the console: only the power button can make it power off
        # (a dead button ends it "killed" when the 30 s run out)
        out, err = stopper.communicate(timeout=60)
        assert stopper.returncode == 0, err
        assert "stopped (shutdown)" in out, out
        assert b"idle: power button\nidle: powering off\n" in gd.console_log("idle"), gd.console_log("idle")
        out, err = waiter.communicate(timeout=20)
    finally:
        for p in (waiter,):
            if p.poll() is None:
                p.kill()
    assert waiter.returncode == 0, (waiter.returncode, err)


# --- create ---

def test_create_start_persist_writes_the_state_file(env, gd):
    create(env, "keep", "spin", "--start", "--persist")
    path = os.path.join(gd.dirs["state"], "vms", "keep.json")
    assert os.path.exists(path), os.listdir(gd.dirs["state"])
    gd.wait_state("keep", "running")
    assert status_json(gd, "keep")["Persistent"] is True
    gd.ctl("kill", "keep")
    gd.wait_state("keep", "stopped")
    gd.ctl("destroy", "keep")
    assert not os.path.exists(path)
    assert gd.ctl("status", "keep", check=False).returncode == EXIT_FAILURE


def test_create_resolves_a_relative_kernel_against_the_spec_directory(env, gd):
    specdir = os.path.join(env.tmp, "specs")
    os.makedirs(specdir)
    d = spec("rel", "hello")
    d["kernel"]["path"] = os.path.relpath(guest_path("hello"), specdir)
    with open(os.path.join(specdir, "rel.json"), "w") as f:
        json.dump(d, f)
    cmd = [env_path("GUNYAHCTL"), f"--bus-address={gd.bus.address}", "create", "specs/rel.json"]
    p = subprocess.run(cmd, cwd=env.tmp, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    stored = json.loads(status_json(gd, "rel")["Spec"])
    assert stored["kernel"]["path"] == os.path.join(specdir, d["kernel"]["path"]), stored
    assert gd.ctl("start", "--wait", "rel").returncode == 0


def test_create_transient_vm_vanishes_after_it_stops(env, gd):
    create(env, "tr", "hello", "--transient")
    gd.ctl("start", "--wait", "tr")
    wait_for("tr removed", lambda: gd.ctl("status", "tr", check=False).returncode == EXIT_FAILURE)


# --- stop, kill, status of a running VM ---

def test_stop_timeout_ends_spin_killed(env, gd):
    create(env, "spin", "spin", "--start")
    gd.wait_state("spin", "running")
    t0 = time.monotonic()
    p = gd.ctl("stop", "--timeout=1", "spin")
    assert time.monotonic() - t0 < 20
    assert "stopped (killed" in p.stdout, p.stdout
    state, reason = gd.state("spin")
    assert state == "stopped" and reason.startswith("killed"), reason


def test_stop_force_and_kill(env, gd):
    create(env, "a", "spin", "--start")
    create(env, "b", "spin", "--start")
    gd.wait_state("a", "running")
    gd.wait_state("b", "running")
    p = gd.ctl("stop", "--force", "a")
    assert "stopped (killed" in p.stdout, p.stdout
    gd.ctl("kill", "b")
    assert gd.wait_state("b", "stopped")[1].startswith("killed")


def test_status_of_a_running_vm_lists_a_worker_per_vcpu(env, gd):
    create(env, "smp", "spin", "--start", vcpus=2)
    gd.wait_state("smp", "running")
    pids = status_json(gd, "smp")["WorkerPIDs"]
    assert len(pids) == 2 and len(set(pids)) == 2, pids
    for pid in pids:
        assert os.path.exists(f"/proc/{pid}"), pid
    text = gd.ctl("status", "smp").stdout
    assert f"Workers: {pids[0]} {pids[1]}" in text, text
    assert "vCPUs: 2" in text and "running (start)" in text, text
    gd.ctl("kill", "smp")


def test_list_json_and_table(env, gd):
    assert json.loads(gd.ctl("list", "--json").stdout) == []
    create(env, "one")
    create(env, "two", "hello", "--start")
    gd.wait_state("two", "stopped")
    vms = json.loads(gd.ctl("--json", "list").stdout)
    assert [(v["name"], v["state"], v["reason"]) for v in vms] == \
        [("one", "defined", ""), ("two", "stopped", "poweroff")], vms
    table = gd.ctl("list").stdout.splitlines()
    assert table[0].split() == ["NAME", "STATE", "REASON"], table
    assert table[2].split() == ["two", "stopped", "poweroff"], table


# --- errors ---

@pytest.mark.parametrize("verb", [["status"], ["start"], ["start", "--wait"], ["stop"], ["kill"],
                                  ["destroy"], ["console"]])
def test_unknown_vm_fails_with_no_such_vm(gd, verb):
    p = gd.ctl(*verb, "nope", check=False, input="")
    assert p.returncode == EXIT_FAILURE, (p.returncode, p.stderr)
    assert "NoSuchVM" in p.stderr and "'nope'" in p.stderr, p.stderr


def test_invalid_state_is_reported_with_the_daemon_message(env, gd):
    create(env, "d")
    p = gd.ctl("stop", "d", check=False)
    assert p.returncode == EXIT_FAILURE
    assert "gunyahctl: stop d: InvalidState: " in p.stderr, p.stderr


def test_bad_spec_fails_before_the_daemon(env, gd):
    path = write_spec(env, "bad", memory={"size": 1000000})
    p = gd.ctl("create", path, check=False)
    assert p.returncode == EXIT_FAILURE
    assert "memory.size" in p.stderr, p.stderr
    assert json.loads(gd.ctl("list", "--json").stdout) == []
    # also without any bus at all: the spec is checked first
    p = subprocess.run([env_path("GUNYAHCTL"), "--bus-address=unix:path=/nonexistent", "create", path],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == EXIT_FAILURE and "memory.size" in p.stderr, p.stderr


def test_no_daemon_on_the_bus_exits_3(env):
    other = Bus(env.tmp)  # a bus where nobody owns org.gunyah.Manager1
    try:
        # A method call to the unowned name is ServiceUnknown (the bus cannot
        # activate it); events first asks the bus for the name's owner.
        unknown = "gunyahd is not reachable: ServiceUnknown: "
        for args, what, error in ((["list"], "list", unknown), (["status", "x"], "status x", unknown),
                                  (["start", "--wait", "x"], "start x", unknown),
                                  (["events"], "events", "gunyahd is not reachable: NameHasNoOwner: "),
                                  (["create", write_spec(env, "x")], "create x", unknown)):
            cmd = [env_path("GUNYAHCTL"), f"--bus-address={other.address}"] + args
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            assert p.returncode == EXIT_UNREACHABLE, (args, p.returncode, p.stderr)
            assert p.stderr.startswith(f"gunyahctl: {what}: {error}"), p.stderr
    finally:
        other.stop()


def test_no_bus_exits_3(env):
    p = subprocess.run([env_path("GUNYAHCTL"), f"--bus-address=unix:path={env.tmp}/none", "list"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == EXIT_UNREACHABLE, (p.returncode, p.stderr)


@pytest.mark.parametrize("args", [["status"], ["status", "a", "b"], ["start", "--bogus", "x"],
                                  ["stop", "--timeout=abc", "x"], ["list", "extra"], ["create"],
                                  ["create", "--persist", "--transient", "f.json"], ["kill"],
                                  ["events", "extra"], ["console"]])
def test_usage_errors_exit_2(gd, args):
    p = gd.ctl(*args, check=False)
    assert p.returncode == EXIT_USAGE, (args, p.returncode, p.stderr)


def test_help_documents_verbs_and_exit_codes():
    p = subprocess.run([env_path("GUNYAHCTL"), "--help"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0
    for word in ("list", "status", "create", "start", "stop", "kill", "destroy", "console", "events",
                 "--json", "--user", "--bus-address", "3  gunyahd unreachable", "4  the VM ended"):
        assert word in p.stdout, word


# --- events ---

def read_line(proc, timeout):
    """One line of proc's stdout, or None after timeout seconds; "" at EOF.
    Reads the fd itself (a buffered readline() would hide lines from select)."""
    pending = getattr(proc, "pending", b"")
    deadline = time.monotonic() + timeout
    while b"\n" not in pending:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([proc.stdout.fileno()], [], [], left)[0]:
            proc.pending = pending
            return None
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            proc.pending = b""
            return pending.decode()
        pending += chunk
    line, _, proc.pending = pending.partition(b"\n")
    return line.decode() + "\n"


def read_events(proc, until, timeout=20):
    """Reads JSON lines of events from proc until until(list) holds."""
    events = []
    deadline = time.monotonic() + timeout
    while not until(events):
        assert time.monotonic() < deadline, f"events so far: {events}"
        line = read_line(proc, max(0.0, deadline - time.monotonic()))
        if line is None:
            continue
        assert line, f"events ended early: {events} {proc.stderr.read()}"
        events.append(json.loads(line))
    return events


def wait_subscribed(env, proc, timeout=20, seen=lambda line, name: json.loads(line).get("vm") == name):
    """gunyahctl events subscribes after it starts, at a moment the test
    cannot see: create probe VMs until one shows up in its output. Returns
    the names of the probes created."""
    probes = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        name = f"probe{len(probes)}"
        create(env, name)
        probes.append(name)
        end = time.monotonic() + 1
        while time.monotonic() < end:
            line = read_line(proc, 0.2)
            if line and seen(line, name):
                return probes
    raise AssertionError("gunyahctl events never reported a probe VM")


def test_events_json_follows_a_hello_run_in_order(env, gd):
    proc = popen_ctl(gd, "events", "--json", text=True)
    try:
        # a VM that appears proves the subscription is in place
        probe = wait_subscribed(env, proc)[-1]
        create(env, "hello", "hello", "--start")
        ev = read_events(proc, lambda ev: any(e.get("state") == "stopped" for e in ev))
        gd.ctl("destroy", probe)
        ev += read_events(proc, lambda ev: any(e["event"] == "removed" for e in ev))
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    hello = [(e["event"], e.get("state"), e.get("reason")) for e in ev if e["vm"] == "hello" and "state" in e]
    assert [s for _, s, _ in hello] == ["defined", "starting", "running", "stopping", "stopped"], hello
    assert hello[0][0] == "added" and hello[-1][2] == "poweroff", hello
    assert ev[-1] == {"vm": probe, "event": "removed"}, ev


def test_events_text_and_sigterm(env, gd):
    proc = popen_ctl(gd, "events", text=True)
    try:
        seen = []
        probes = wait_subscribed(env, proc, seen=lambda line, name: seen.append(line) or
                                 line.startswith(f"VM {name}:"))
        assert seen[-1] == f"VM {probes[-1]}: added defined\n", seen
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0


# --- console input ---

def test_echo_console_input_comes_back(env, gd):
    create(env, "echo", "echo", "--start")
    gd.wait_state("echo", "running")
    p = gd.ctl("console", "echo", input="hi\n\x04")
    assert "hi" in p.stdout and "echo: bye" in p.stdout, p.stdout
    assert gd.wait_state("echo", "stopped")[1] == "poweroff"


def test_start_console_sends_input_to_the_guest(env, gd):
    create(env, "echo", "echo")
    p = gd.ctl("start", "--console", "--wait", "echo", input="hi\n\x04")
    assert "hi" in p.stdout and "echo: bye" in p.stdout, p.stdout


def test_console_on_a_terminal_detaches_with_ctrl_bracket(env, gd):
    create(env, "spin", "spin", "--start")
    gd.wait_state("spin", "running")
    leader, follower = pty.openpty()
    try:
        proc = popen_ctl(gd, "console", "spin", stdin=follower, stdout=subprocess.DEVNULL, text=True)
        os.close(follower)
        follower = -1
        time.sleep(0.5)  # not a timing assertion: the detach works whenever it is read
        os.write(leader, b"\x1d")
        _, err = proc.communicate(timeout=20)
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert proc.returncode == 0, err
    assert "Ctrl-]" in err and "Detached" in err, err
    assert gd.state("spin")[0] == "running"
    gd.ctl("kill", "spin")
