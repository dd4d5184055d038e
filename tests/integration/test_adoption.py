# SPDX-License-Identifier: LGPL-2.1-or-later
"""VMs outlive the daemon (issue 15), first slice: the per-VM record in
<runtime_dir>/vms/NAME/record.json and the VM's gunyah-keeper. The record
says "running" with every process of the VM once it runs and is left
behind when the daemon is killed (what the next daemon finds); the keeper
holds the daemon's ends of the VM's sockets, so the VM goes on without a
daemon, and leaves once the VM's processes are gone. Both go with the
VM's directory when it stops."""
import json
import os
import signal
import time

import dbus

from gunyah_harness import spec_json

START = 2


def record_path(gd, name):
    return os.path.join(gd.dirs["run"], "vms", name, "record.json")


def read_record(gd, name):
    with open(record_path(gd, name)) as f:
        return json.load(f)


def start_time(pid):
    with open(f"/proc/{pid}/stat", "rb") as f:
        return int(f.read().rsplit(b")", 1)[1].split()[19])


def alive(pid):
    """True while pid runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False


def keeper_of(rec):
    keepers = [p["pid"] for p in rec["processes"] if p["role"] == "keeper"]
    assert len(keepers) == 1, rec
    with open(f"/proc/{keepers[0]}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    assert os.path.basename(argv[0]) == b"gunyah-keeper" and f"--vm={rec['name']}".encode() in argv, argv
    return keepers[0]


def wait_gone(pids, timeout=10):
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids):
        assert time.monotonic() < deadline, [p for p in pids if alive(p)]
        time.sleep(0.02)


def test_record_of_a_running_vm_names_its_processes_and_goes_with_it(gd):
    gd.manager().CreateVM(spec_json("rec", "spin", vcpus=2), dbus.UInt64(START))
    gd.wait_state("rec", "running")
    props = gd.vm_props("rec")
    rec = read_record(gd, "rec")
    assert rec["version"] == 1 and rec["name"] == "rec" and rec["phase"] == "running"
    assert rec["uuid"] == str(props["UUID"])
    assert rec["started_realtime_usec"] == int(props["StartedTimestamp"]) > 0
    assert json.loads(str(props["Spec"])) == rec["spec"]
    workers = sorted(int(p) for p in props["WorkerPIDs"])
    vcpus = [p for p in rec["processes"] if p["role"] == "vcpu"]
    assert sorted(p["index"] for p in vcpus) == [0, 1]
    assert sorted(p["pid"] for p in vcpus) == workers
    for p in vcpus:
        assert p["start_time"] == start_time(p["pid"])
    st = os.stat(record_path(gd, "rec"))
    assert st.st_mode & 0o777 == 0o600 and st.st_uid == os.geteuid()
    keeper = keeper_of(rec)
    sock = os.stat(os.path.join(gd.dirs["run"], "vms", "rec", "keeper"))
    assert sock.st_mode & 0o777 == 0o600

    gd.vm("rec").Kill()
    gd.wait_state("rec", "stopped")
    assert not os.path.exists(os.path.join(gd.dirs["run"], "vms", "rec"))
    assert not alive(keeper)


def test_without_a_daemon_the_keeper_keeps_the_vm_until_its_processes_end(env):
    gd = env.daemon
    gd.manager().CreateVM(spec_json("left", "spin", vcpus=2), dbus.UInt64(START))
    gd.wait_state("left", "running")
    uuid = str(gd.vm_props("left")["UUID"])
    os.kill(gd.proc.pid, signal.SIGKILL)
    gd.proc.wait()
    rec = read_record(gd, "left")
    assert rec["phase"] == "running" and rec["uuid"] == uuid
    keeper = keeper_of(rec)
    workers = [p["pid"] for p in rec["processes"] if p["role"] == "vcpu"]
    assert len(workers) == 2
    # no EOF on their control sockets: the workers run on (without a keeper
    # they leave at once), and so does the keeper
    time.sleep(1)
    assert all(alive(p) for p in workers + [keeper]), gd.read_log()[-3000:]
    # the VM's processes gone, nothing is left to keep
    for p in workers:
        os.kill(p, signal.SIGKILL)
    wait_gone([keeper])
