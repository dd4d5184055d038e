#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What one gunyah-device process costs (issue 12), printed as two tables;
one run, never asserts.

The Linux guest set's gunyah.test=bench run (bench/linux-disk.py: dd write,
dd read, 4 KiB random reads at queue depth 1) on gunyahd --backend=sim with
one writable raw image. While it runs, the block device process serving it
is sampled every 50 ms through /proc:

  CPU     utime+stime (/proc/PID/stat) per phase, the phase ending when the
          guest prints its GUNYAH-BENCH line: per MiB moved for the dd
          phases (bytes from /proc/PID/io), per request for the random
          reads (the guest counts them), and as a share of the phase's wall
          time (the device must not be the bottleneck).
  memory  /proc/PID/smaps at its largest: Rss of the shared memfd mappings
          (guest memory, the register page) apart from everything else, and
          Private_Dirty/Anonymous outside them. Goal: at most 2 MiB beyond
          the guest memory it maps.

  device-process.py [--mib 256] [--seconds 10] [--vcpus 1]

Run through `meson test --benchmark device-process` (it sets the paths), or
by hand with GUNYAHD, GUNYAHCTL, GUNYAH_VCPU and GUNYAH_DEVICE set.
"""
import argparse
import importlib.util
import json
import os
import re
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "linux"))
import disk_image  # noqa: E402
import linux_guest  # noqa: E402  (puts tests/integration on sys.path too)
from linux_disk import lines  # noqa: E402
from linux_guest import BOOT_TIMEOUT  # noqa: E402
from test_device_sandbox import device_pids  # noqa: E402

VM = "diskbench"
PHASES = ("boot", "seqwrite", "seqread", "randread")
TICK = os.sysconf("SC_CLK_TCK")
MIB = 1 << 20


def linux_disk_module():
    """bench/linux-disk.py (its name is no module name): for its gunyahd spec."""
    spec = importlib.util.spec_from_file_location("linux_disk_bench", os.path.join(HERE, "linux-disk.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def io_bytes(pid):
    with open(f"/proc/{pid}/io") as f:
        io = dict(line.split(": ") for line in f.read().splitlines())
    return int(io["rchar"]) + int(io["wchar"])


def smaps(pid):
    """{"shared": Rss of /memfd: mappings, "other": Rss of the rest,
    "private_dirty": Private_Dirty of the rest, "anon": Anonymous of the rest}, bytes."""
    out = dict.fromkeys(("shared", "other", "private_dirty", "anon"), 0)
    header = re.compile(r"^[0-9a-f]+-[0-9a-f]+ ")
    shared = False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if header.match(line):
                parts = line.split(None, 5)
                shared = len(parts) == 6 and parts[5].startswith("/memfd:")
                continue
            key, _, rest = line.partition(":")
            kib = rest.split()
            if not kib or not kib[0].isdigit():
                continue
            value = int(kib[0]) * 1024
            if key == "Rss":
                out["shared" if shared else "other"] += value
            elif key == "Private_Dirty" and not shared:
                out["private_dirty"] += value
            elif key == "Anonymous" and not shared:
                out["anon"] += value
    return out


class Sampler(threading.Thread):
    """Samples the device process until the VM's console says it is done."""

    def __init__(self, daemon):
        super().__init__(daemon=True)
        self.gd = daemon
        self.phase_end = {}  # phase -> (wall, cpu, io bytes) at its end
        self.start_sample = None
        self.peak = None
        self.done = threading.Event()

    def run(self):
        pids = []
        while not pids and not self.done.is_set():
            pids = device_pids(self.gd, VM)
            time.sleep(0.05)
        pid = pids[0] if pids else None
        last = None
        try:
            while pid is not None and not self.done.is_set():
                now = (time.monotonic(), cpu_seconds(pid), io_bytes(pid))
                last = now
                if self.start_sample is None:
                    self.start_sample = now
                mem = smaps(pid)
                if self.peak is None or mem["other"] + mem["shared"] > self.peak["other"] + self.peak["shared"]:
                    self.peak = mem
                done = {b["op"] for b in lines(self.gd.console_log(VM), "GUNYAH-BENCH")}
                if lines(self.gd.console_log(VM), "GUNYAH-DISK"):
                    done.add("boot")
                for phase in PHASES:
                    if phase in done and phase not in self.phase_end:
                        self.phase_end[phase] = now
                if set(PHASES) <= set(self.phase_end):
                    return
                time.sleep(0.05)
        except OSError:
            pass  # the device ended with its VM
        if last is not None:
            for phase in PHASES:
                self.phase_end.setdefault(phase, last)


def run(gdir, mib, seconds, vcpus, bench):
    from gunyah_harness import Env
    e = Env()
    with tempfile.TemporaryDirectory(prefix="gunyah-devbench-") as tmp:
        image = os.path.join(tmp, "bench.img")
        disk_image.make_blank(image, mib)
        disks = [{"path": image, "readonly": False, "serial": "bench0"}]
        try:
            e.daemon.start()
            path = os.path.join(e.tmp, VM + ".json")
            with open(path, "w") as f:
                json.dump(bench.gunyahd_spec(gdir, disks, bench.guest_append(mib, seconds), vcpus), f)
            s = Sampler(e.daemon)
            s.start()
            e.daemon.ctl("create", path, "--start")
            e.daemon.wait_state(VM, ("stopped", "failed"), timeout=BOOT_TIMEOUT)
            s.done.set()
            s.join(timeout=5)
            return s, e.daemon.console_log(VM)
        finally:
            e.close()


def print_tables(s, console):
    found = {b["op"]: b for b in lines(console, "GUNYAH-BENCH")}
    print(f"{'phase':10}{'wall s':>8}{'device CPU s':>14}{'CPU share':>11}{'MiB moved':>11}"
          f"{'requests':>10}{'CPU per unit':>22}")
    prev = s.start_sample
    for phase in PHASES:
        end = s.phase_end.get(phase)
        if prev is None or end is None:
            print(f"{phase:10}  (not sampled)")
            continue
        wall, cpu, moved = end[0] - prev[0], end[1] - prev[1], (end[2] - prev[2]) / MIB
        share = cpu / wall if wall > 0 else 0.0
        if phase == "randread" and "ios" in found.get("randread", {}):
            n = int(found["randread"]["ios"])
            unit = f"{cpu / n * 1e6:10.1f} us/request" if n else "-"
            reqs = str(n)
        elif phase in ("seqwrite", "seqread") and moved > 0:
            unit, reqs = f"{cpu / moved * 1e3:10.2f} ms/MiB", "-"
        else:
            unit, reqs = "-", "-"
        print(f"{phase:10}{wall:8.1f}{cpu:14.2f}{share:10.1%} {moved:11.1f}{reqs:>10}{unit:>22}")
        prev = end
    print(f"(CPU from /proc/PID/stat at {TICK} Hz; MiB moved = rchar+wchar of /proc/PID/io;"
          f" randread requests counted by the guest)")
    print()
    p = s.peak
    if p is None:
        print("memory: not sampled")
        return
    print(f"{'device process memory (peak)':40}{'KiB':>10}")
    print(f"{'Rss, shared memfd mappings':40}{p['shared'] // 1024:10}")
    print(f"{'Rss, everything else':40}{p['other'] // 1024:10}")
    print(f"{'  of which Private_Dirty':40}{p['private_dirty'] // 1024:10}")
    print(f"{'  of which Anonymous':40}{p['anon'] // 1024:10}")
    verdict = "met" if p["other"] <= 2 * MIB else "NOT met"
    print(f"goal: at most 2048 KiB beyond the guest memory it maps: {p['other'] // 1024} KiB, {verdict}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--vcpus", type=int, default=1)
    args = ap.parse_args()
    try:
        gdir = linux_guest.guest_dir()
    except linux_guest.Unreachable as err:
        print(f"device-process: no Linux guest set, nothing measured: {err}")
        return 0
    bench = linux_disk_module()
    with open(os.path.join(gdir, "VERSION")) as f:
        print(f"Linux guest: {f.readline().strip()}, {args.vcpus} vCPU(s), gunyahd --backend=sim; "
              f"{args.mib} MiB raw image, direct I/O, rand read queue depth 1 for {args.seconds} s")
    s, console = run(gdir, args.mib, args.seconds, args.vcpus, bench)
    if not lines(console, "GUNYAH-BENCH-DONE"):
        print("the guest did not finish its run; console ended with:\n" + console[-1500:].decode(errors="replace"))
    print_tables(s, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
