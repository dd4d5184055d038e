# SPDX-License-Identifier: LGPL-2.1-or-later
"""gunyahctl --varlink against a real gunyahd (issue 6 item 3): every online
verb over io.gunyah.Manager, the same output as over D-Bus, the same exit
codes, and the console refused for want of fd passing.

Every varlink invocation is given a bus address where no bus is, so a verb
that quietly fell back to D-Bus would fail here."""
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from gunyah_harness import env_path, spec

EXIT_FAILURE, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_ABNORMAL = 1, 2, 3, 4
DEFAULT_SOCKET = "/run/gunyahd/io.gunyah.Manager"


def socket_path(gd):
    return os.path.join(gd.dirs["run"], "io.gunyah.Manager")


def vl_cmd(gd, *args, path=None):
    return [env_path("GUNYAHCTL"), f"--bus-address=unix:path={gd.workdir}/no-bus",
            f"--varlink={path or socket_path(gd)}"] + [str(a) for a in args]


def vctl(gd, *args, check=True, timeout=30, input=None, path=None):
    """gunyahctl --varlink=<the daemon's socket> ARGS."""
    cmd = vl_cmd(gd, *args, path=path)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} exited {p.returncode}\nstdout:{p.stdout}\nstderr:{p.stderr}\n"
                             f"daemon log:\n{gd.read_log()[-4000:]}")
    return p


def vpopen(gd, *args, **kwargs):
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    kwargs.setdefault("text", True)
    return subprocess.Popen(vl_cmd(gd, *args), **kwargs)


def dbus_popen(gd, *args):
    cmd = [env_path("GUNYAHCTL"), f"--bus-address={gd.bus.address}"] + list(args)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def write_spec(env, name, guest="hello", **extra):
    path = os.path.join(env.tmp, name + ".json")
    with open(path, "w") as f:
        json.dump(spec(name, guest, **extra), f)
    return path


def vcreate(env, name, guest="hello", *flags, **extra):
    p = vctl(env.daemon, "create", write_spec(env, name, guest, **extra), *flags)
    assert p.stdout.strip() == name, p.stdout
    return p


def wait_for(what, predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def finish(proc, timeout=20):
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out, err


# --- the same output as over D-Bus ---

def test_list_and_status_print_what_dbus_prints(env, gd):
    assert vctl(gd, "list", "--json").stdout == gd.ctl("list", "--json").stdout == "[]\n"
    vcreate(env, "defined")
    vcreate(env, "hello", "hello", "--start")
    vcreate(env, "crash", "crash", "--start")
    vcreate(env, "spin", "spin", "--start", vcpus=2)
    gd.wait_state("hello", "stopped")
    gd.wait_state("crash", "stopped")
    gd.wait_state("spin", "running")
    try:
        for args in (["list"], ["list", "--json"], ["--json", "list"]):
            v, d = vctl(gd, *args).stdout, gd.ctl(*args).stdout
            assert v == d, f"{args}: varlink printed\n{v}\nD-Bus printed\n{d}"
        for name in ("defined", "hello", "crash", "spin"):
            for args in (["status", name], ["status", "--json", name]):
                v, d = vctl(gd, *args).stdout, gd.ctl(*args).stdout
                assert v == d, f"{args}: varlink printed\n{v}\nD-Bus printed\n{d}"
        # the comparison covered the interesting parts: exit info, workers
        crash = json.loads(vctl(gd, "status", "--json", "crash").stdout)
        assert crash["StateReason"].startswith("crashed") and crash["ExitInfo"]["exit_type_name"], crash
        assert len(json.loads(vctl(gd, "status", "--json", "spin").stdout)["WorkerPIDs"]) == 2
    finally:
        gd.ctl("kill", "spin", check=False)


# --- create, start, stop, kill, destroy ---

def test_create_start_persist_then_kill_and_destroy(env, gd):
    vcreate(env, "keep", "spin", "--start", "--persist")
    path = os.path.join(gd.dirs["state"], "vms", "keep.json")
    assert os.path.exists(path), os.listdir(gd.dirs["state"])
    gd.wait_state("keep", "running")
    assert json.loads(vctl(gd, "status", "--json", "keep").stdout)["Persistent"] is True
    vctl(gd, "kill", "keep")
    assert gd.wait_state("keep", "stopped")[1].startswith("killed")
    vctl(gd, "destroy", "keep")
    assert not os.path.exists(path)
    p = vctl(gd, "status", "keep", check=False)
    assert p.returncode == EXIT_FAILURE and "NoSuchVM" in p.stderr, p.stderr


def test_create_sends_the_spec_normalized_locally(env, gd):
    specdir = os.path.join(env.tmp, "specs")
    os.makedirs(specdir)
    d = spec("rel", "hello")
    d["kernel"]["path"] = os.path.relpath(d["kernel"]["path"], specdir)
    with open(os.path.join(specdir, "rel.json"), "w") as f:
        json.dump(d, f)
    p = subprocess.run(vl_cmd(gd, "create", "specs/rel.json"), cwd=env.tmp, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    stored = json.loads(json.loads(vctl(gd, "status", "--json", "rel").stdout)["Spec"])
    assert stored["kernel"]["path"] == os.path.join(specdir, d["kernel"]["path"]), stored


def test_create_transient_vm_vanishes_after_start_wait(env, gd):
    vcreate(env, "tr", "hello", "--transient")
    assert vctl(gd, "start", "--wait", "tr").returncode == 0
    wait_for("tr removed", lambda: vctl(gd, "status", "tr", check=False).returncode == EXIT_FAILURE)


def test_create_of_an_existing_name_fails_with_vm_exists(env, gd):
    vcreate(env, "twice")
    p = vctl(gd, "create", write_spec(env, "twice"), check=False)
    assert p.returncode == EXIT_FAILURE and "gunyahctl: create twice: VMExists: " in p.stderr, p.stderr


def test_start_wait_exits_0_for_poweroff(env, gd):
    vcreate(env, "hello")
    assert vctl(gd, "start", "--wait", "hello").returncode == 0
    assert gd.state("hello") == ("stopped", "poweroff")


def test_start_wait_exits_4_for_crash(env, gd):
    vcreate(env, "crash", "crash")
    p = vctl(gd, "start", "--wait", "crash", check=False)
    assert p.returncode == EXIT_ABNORMAL and "crashed" in p.stderr, (p.returncode, p.stderr)


def test_start_wait_keeps_waiting_across_reboots(env, gd):
    vcreate(env, "rb", "reset", on_reboot="restart")
    with open(os.path.join(env_path("GUNYAH_GUEST_EXPECTED_DIR"), "reset.txt"), "rb") as f:
        banner = f.read().splitlines()[0]
    waiter = vpopen(gd, "start", "--wait", "rb")
    try:
        wait_for("two boots of rb", lambda: gd.console_log("rb").count(banner) >= 2)
        assert waiter.poll() is None, f"start --wait returned at a reboot: {waiter.communicate()}"
        vctl(gd, "kill", "rb")
        out, err = finish(waiter)
    finally:
        if waiter.poll() is None:
            waiter.kill()
    assert waiter.returncode == EXIT_ABNORMAL and "killed" in err, (waiter.returncode, err)


def test_start_wait_and_graceful_stop(env, gd):
    """The gunyah-vm@.service flow, over varlink."""
    vcreate(env, "idle", "idle")
    waiter = vpopen(gd, "start", "--wait", "idle")
    try:
        gd.wait_state("idle", "running")
        stopper = vpopen(gd, "stop", "--timeout=30", "idle")
        # nobody types on the console: only the power button can make it power off
        # (a dead button ends it "killed" when the 30 s run out)
        out, err = finish(stopper, timeout=60)
        assert stopper.returncode == 0, err
        assert out == "VM idle: stopped (shutdown)\n", out
        assert b"idle: power button\nidle: powering off\n" in gd.console_log("idle"), gd.console_log("idle")
        out, err = finish(waiter)
    finally:
        if waiter.poll() is None:
            waiter.kill()
    assert waiter.returncode == 0, (waiter.returncode, err)


def test_stop_timeout_force_and_no_wait(env, gd):
    for name in ("a", "b", "c"):
        vcreate(env, name, "spin", "--start")
    for name in ("a", "b", "c"):
        gd.wait_state(name, "running")
    t0 = time.monotonic()
    p = vctl(gd, "stop", "--timeout=1", "a")
    assert time.monotonic() - t0 < 20
    assert p.stdout.startswith("VM a: stopped (killed"), p.stdout
    p = vctl(gd, "stop", "--force", "b")
    assert p.stdout.startswith("VM b: stopped (killed"), p.stdout
    p = vctl(gd, "stop", "--no-wait", "--timeout=0", "c")
    assert p.stdout == "", p.stdout
    assert gd.wait_state("c", "stopped")[1].startswith("killed")


def test_start_wait_exits_3_when_the_daemon_goes_away(env, gd):
    vcreate(env, "spin", "spin", "--start")
    gd.wait_state("spin", "running")
    p = vctl(gd, "stop", "--no-wait", "--timeout=0", "spin")
    gd.wait_state("spin", "stopped")
    waiter = vpopen(gd, "start", "--wait", "spin")
    # start --wait subscribes, calls StartVM, then GetVM: once the daemon has
    # that GetVM the waiter is past its calls and waits for events
    get_vm = f"varlink: io.gunyah.Manager.GetVM from pid {waiter.pid} "
    wait_for("the waiter's GetVM", lambda: get_vm in gd.read_log())
    gd.kill()
    out, err = finish(waiter)
    assert waiter.returncode == EXIT_UNREACHABLE, (waiter.returncode, err)
    # not "is not reachable": a client that never got through exits 3 too
    assert err == "gunyahctl: start spin: gunyahd left the bus\n", err
    assert p.returncode == 0


# --- errors ---

@pytest.mark.parametrize("verb", [["status"], ["start"], ["start", "--wait"], ["stop"], ["stop", "--force"],
                                  ["kill"], ["destroy"]])
def test_unknown_vm_fails_with_no_such_vm(gd, verb):
    v = vctl(gd, *verb, "nope", check=False)
    d = gd.ctl(*verb, "nope", check=False)
    assert v.returncode == d.returncode == EXIT_FAILURE, (v.returncode, v.stderr)
    assert "NoSuchVM: No VM named 'nope'." in v.stderr, v.stderr
    assert v.stderr == d.stderr, (v.stderr, d.stderr)


def test_invalid_state_is_reported_with_the_daemon_message(env, gd):
    vcreate(env, "d")
    p = vctl(gd, "stop", "d", check=False)
    assert p.returncode == EXIT_FAILURE
    assert "gunyahctl: stop d: InvalidState: " in p.stderr, p.stderr


def test_read_only_callers_may_list_but_not_change(env, gd):
    vcreate(env, "owned")
    # the test's directories are private to root; the socket's must be reachable
    for d in (gd.workdir, gd.dirs["run"]):
        os.chmod(d, 0o755)
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run(nobody + [env_path("GUNYAHCTL"), "--version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"uid 65534 cannot run the build's gunyahctl: {probe.stderr.strip()}")
    p = subprocess.run(nobody + vl_cmd(gd, "list", "--json"), capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and json.loads(p.stdout)[0]["name"] == "owned", (p.returncode, p.stderr)
    for verb in (["start"], ["kill"], ["destroy"], ["stop", "--no-wait"]):
        p = subprocess.run(nobody + vl_cmd(gd, *verb, "owned"), capture_output=True, text=True, timeout=30)
        assert p.returncode == EXIT_FAILURE, (verb, p.returncode, p.stderr)
        assert "PermissionDenied: " in p.stderr, (verb, p.stderr)
    assert gd.state("owned")[0] == "defined"


def unreachable_verbs(env):
    return (["list"], ["status", "x"], ["start", "x"], ["start", "--wait", "x"], ["stop", "x"],
            ["stop", "--no-wait", "x"], ["kill", "x"], ["destroy", "x"], ["events"],
            ["create", write_spec(env, "x")])


def test_missing_socket_exits_3(env, gd):
    missing = os.path.join(env.tmp, "missing.sock")
    for args in unreachable_verbs(env):
        p = vctl(gd, *args, path=missing, check=False)
        assert p.returncode == EXIT_UNREACHABLE, (args, p.returncode, p.stderr)
        assert "gunyahd is not reachable" in p.stderr and missing in p.stderr, (args, p.stderr)


def test_refused_connection_exits_3(env, gd):
    dead = os.path.join(env.tmp, "dead.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(dead)  # bound, never listening: connect() is refused
    try:
        for args in unreachable_verbs(env):
            p = vctl(gd, *args, path=dead, check=False)
            assert p.returncode == EXIT_UNREACHABLE, (args, p.returncode, p.stderr)
            assert "Connection refused" in p.stderr, (args, p.stderr)
    finally:
        s.close()


def test_default_socket_path(gd):
    if os.path.exists(DEFAULT_SOCKET):
        pytest.skip(f"a gunyahd serves {DEFAULT_SOCKET} on this machine")
    p = subprocess.run([env_path("GUNYAHCTL"), "--varlink", "list"], capture_output=True, text=True, timeout=30)
    assert p.returncode == EXIT_UNREACHABLE and DEFAULT_SOCKET in p.stderr, (p.returncode, p.stderr)


def test_invalid_spec_fails_before_connecting(env, gd):
    path = write_spec(env, "bad", memory={"size": 1000000})
    p = vctl(gd, "create", path, path=os.path.join(env.tmp, "missing.sock"), check=False)
    assert p.returncode == EXIT_FAILURE and "memory.size" in p.stderr, p.stderr


# --- console: D-Bus only ---

@pytest.mark.parametrize("args", [["console", "hello"], ["start", "--console", "hello"],
                                  ["start", "--wait", "--console", "hello"]])
def test_console_needs_dbus(env, gd, args):
    vcreate(env, "hello")
    p = vctl(gd, *args, check=False, input="")
    assert p.returncode == EXIT_USAGE, (args, p.returncode, p.stderr)
    assert "needs D-Bus" in p.stderr, p.stderr
    assert gd.state("hello")[0] == "defined", "a refused start --console started the VM"


@pytest.mark.parametrize("args", [["--varlink=", "list"], ["--varlink=/x", "status"]])
def test_usage_errors_exit_2(args):
    p = subprocess.run([env_path("GUNYAHCTL")] + args, capture_output=True, text=True, timeout=30)
    assert p.returncode == EXIT_USAGE, (args, p.returncode, p.stderr)


# --- events ---

def wait_subscribed(gd, proc):
    """Until the daemon has taken proc's SubscribeEvents: it logs the call
    before serving it, and serves calls in order."""
    wait_for(f"gunyahctl {proc.pid} to subscribe",
             lambda: f"SubscribeEvents from pid {proc.pid} " in gd.read_log(), timeout=40)


def read_events(proc, until, timeout=20):
    events = []
    deadline = time.monotonic() + timeout
    while not until(events):
        assert time.monotonic() < deadline, f"events so far: {events}"
        line = proc.stdout.readline()
        assert line, f"events ended early: {events} {proc.stderr.read()}"
        events.append(json.loads(line))
    return events


def test_events_json_follow_a_hello_run_in_order_like_dbus(env, gd):
    dproc = dbus_popen(gd, "events", "--json")
    vproc = vpopen(gd, "events", "--json")
    try:
        wait_subscribed(gd, vproc)
        # a VM that appears proves both subscriptions are in place
        vcreate(env, "probe")
        for proc in (vproc, dproc):
            read_events(proc, lambda ev: any(e["vm"] == "probe" and e["event"] == "added" for e in ev))
        vcreate(env, "hello", "hello", "--start")
        gd.wait_state("hello", "stopped")
        vctl(gd, "destroy", "probe")
        done = lambda ev: any(e["event"] == "removed" for e in ev)
        vev, dev = read_events(vproc, done), read_events(dproc, done)
        for proc in (vproc, dproc):
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=10)
    finally:
        for proc in (vproc, dproc):
            if proc.poll() is None:
                proc.kill()
    assert vproc.returncode == 0, vproc.stderr.read()
    hello = [(e["event"], e.get("state"), e.get("reason")) for e in vev if e["vm"] == "hello"]
    assert [s for _, s, _ in hello] == ["defined", "starting", "running", "stopping", "stopped"], hello
    assert hello[0][0] == "added" and hello[-1][2] == "poweroff", hello
    assert vev[-1] == {"vm": "probe", "event": "removed"}, vev
    # the same objects as over D-Bus, but for the exit info varlink events lack
    strip = lambda ev: [{k: v for k, v in e.items() if k != "exit_info"} for e in ev
                        if e["event"] != "changed"]
    assert strip(vev) == strip(dev), f"varlink: {vev}\nD-Bus: {dev}"


def test_events_text_and_sigterm(env, gd):
    proc = vpopen(gd, "events")
    try:
        wait_subscribed(gd, proc)
        vcreate(env, "probe")
        line = proc.stdout.readline()
        assert line == "VM probe: added defined\n", line
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0


def test_events_exit_3_when_the_daemon_goes_away(env, gd):
    proc = vpopen(gd, "events")
    wait_subscribed(gd, proc)
    vcreate(env, "probe")
    assert proc.stdout.readline() == "VM probe: added defined\n"
    gd.kill()
    out, err = finish(proc)
    assert proc.returncode == EXIT_UNREACHABLE and "closed the connection" in err, (proc.returncode, err)
