# SPDX-License-Identifier: LGPL-2.1-or-later
"""What gunyah-vm@.service relies on (ExecStart=gunyahctl start --wait,
ExecStop=gunyahctl stop --timeout=...), and what an administrator sees on the
console when a VM starts again."""
import json
import os
import subprocess

from gunyah_harness import env_path, spec


def create(env, name, guest):
    path = os.path.join(env.tmp, name + ".json")
    with open(path, "w") as f:
        json.dump(spec(name, guest), f)
    assert env.daemon.ctl("create", path).stdout.strip() == name


def popen_ctl(gd, *args):
    return subprocess.Popen([env_path("GUNYAHCTL"), f"--bus-address={gd.bus.address}", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_start_wait_exits_0_when_a_requested_stop_is_forced_after_its_timeout(env, gd):
    """systemctl stop of a guest that ignores its power button: the VM is
    forced off after the timeout, as the administrator asked, so the unit's
    main process succeeds (the unit ends inactive, not failed)."""
    create(env, "deaf", "spin")  # spins, never looks at the power button
    waiter = popen_ctl(gd, "start", "--wait", "deaf")
    try:
        gd.wait_state("deaf", "running")
        stop = gd.ctl("stop", "--timeout=1", "deaf", check=False)
        assert gd.state("deaf") == ("stopped", "killed: stop timeout expired"), (gd.state("deaf"), stop.stderr)
        out, err = waiter.communicate(timeout=20)
    finally:
        if waiter.poll() is None:
            waiter.kill()
    assert waiter.returncode == 0, (waiter.returncode, err)


def test_start_wait_still_fails_for_a_plain_kill(env, gd):
    create(env, "k", "spin")
    waiter = popen_ctl(gd, "start", "--wait", "k")
    try:
        gd.wait_state("k", "running")
        gd.ctl("kill", "k")
        out, err = waiter.communicate(timeout=20)
    finally:
        if waiter.poll() is None:
            waiter.kill()
    assert waiter.returncode == 4, (waiter.returncode, err)
    assert "killed" in err, err


def test_start_console_shows_this_run_once(env, gd):
    """The console replays what the guest wrote in this run, not the runs before."""
    create(env, "hello", "hello")
    line = "hello: Hello from gunyah guest\n"
    assert gd.ctl("start", "--wait", "hello").returncode == 0
    for _ in range(2):
        p = gd.ctl("start", "--console", "--wait", "hello")
        assert p.stdout.count(line) == 1, p.stdout
    # The log keeps every run.
    assert gd.console_log("hello").count(line.encode()) == 3
