# SPDX-License-Identifier: LGPL-2.1-or-later
"""VMs outlive the daemon (issue 15), first slice: the per-VM record in
<runtime_dir>/vms/NAME/record.json. Written "running" with every process
of the VM once it runs, left behind when the daemon is killed (what the
next daemon finds), removed with the VM's directory when it stops."""
import json
import os
import signal

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

    gd.vm("rec").Kill()
    gd.wait_state("rec", "stopped")
    assert not os.path.exists(os.path.join(gd.dirs["run"], "vms", "rec"))


def test_a_killed_daemon_leaves_the_record_behind(env):
    gd = env.daemon
    gd.manager().CreateVM(spec_json("left", "spin"), dbus.UInt64(START))
    gd.wait_state("left", "running")
    uuid = str(gd.vm_props("left")["UUID"])
    os.kill(gd.proc.pid, signal.SIGKILL)
    gd.proc.wait()
    rec = read_record(gd, "left")
    assert rec["phase"] == "running" and rec["uuid"] == uuid
