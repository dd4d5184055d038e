# SPDX-License-Identifier: LGPL-2.1-or-later
"""The example GDBus client against a real gunyahd: it lists the VMs,
starts one, follows its state through signals and exits with its reason."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))

from gunyah_fixtures import env, gd  # noqa: E402,F401 (fixtures)
from gunyah_harness import spec_json  # noqa: E402


def client(gd, *args):
    return subprocess.run([os.environ["GUNYAH_CLIENT"], f"--bus-address={gd.bus.address}", "--timeout=30", *args],
                          capture_output=True, text=True, timeout=60)


def test_lists_the_vms(gd):
    gd.manager().CreateVM(spec_json("listed", "hello", vcpus=2), 0)
    p = client(gd)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATE", "REASON", "VCPUS", "MEMORY"], p.stdout
    assert lines[1].split() == ["listed", "defined", "2", "64.0", "MiB"], p.stdout


def test_starts_hello_and_exits_with_its_poweroff(gd):
    gd.manager().CreateVM(spec_json("hello", "hello"), 0)
    p = client(gd, "hello")
    assert p.returncode == 0, f"exit {p.returncode}\n{p.stdout}{p.stderr}"
    assert p.stdout.splitlines()[-1] == "hello: stopped (poweroff)", p.stdout
    assert "hello: running (start)" in p.stdout.splitlines(), p.stdout
    assert gd.state("hello") == ("stopped", "poweroff")


def test_a_crashing_guest_exits_with_the_crashed_code(gd):
    gd.manager().CreateVM(spec_json("crash", "crash"), 0)
    p = client(gd, "crash")
    assert p.returncode == 4, f"exit {p.returncode}\n{p.stdout}{p.stderr}"
    assert p.stdout.splitlines()[-1].startswith("crash: stopped (crashed"), p.stdout


def test_an_unknown_vm_is_reported_in_the_daemon_words(gd):
    p = client(gd, "nosuch")
    assert p.returncode == 1
    assert "nosuch" in p.stderr, p.stderr
