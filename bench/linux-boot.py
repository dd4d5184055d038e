#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Linux boot on gunyahd's simulator against QEMU TCG (issue 8), one run,
printed as a table; never asserts.

For 1 and 2 vCPUs: StartVM -> the guest's userspace marker on the console,
and StartVM -> stopped (poweroff), gunyahd --backend=sim against
qemu-system-aarch64 -M virt,gic-version=3 -cpu cortex-a57 booting the same
kernel, initramfs and command line (tools/fetch-linux-guest.sh,
examples/linux.json). Goal: at most 2x QEMU's time. Also the host CPU time
of the vCPU workers (the daemon's reaped children) and of QEMU, the peak
RSS of the daemon, the workers and QEMU, and the host CPU an idle Linux
guest (gunyah.test=hang) uses over 10 s (goal: under 2% of one core).

Run through `meson test --benchmark linux-boot` (it sets the paths), or by
hand with the environment of tests/linux/meson.build.
"""
import json
import os
import resource
import select
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "linux"))
import linux_guest  # noqa: E402  (puts tests/integration on sys.path too)
from linux_guest import BOOT_TIMEOUT, Qemu, cmdline, marker  # noqa: E402

import dbus  # noqa: E402

from gunyah_harness import Env  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")
IDLE_SECONDS = 10


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid, children=False):
    """utime+stime (or cutime+cstime of reaped children) of pid, in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    first = 13 if children else 11  # fields 16/17 or 14/15, counted after the comm
    return (int(fields[first]) + int(fields[first + 1])) / HZ


class Run:
    """One boot's measurements; times are seconds from StartVM / QEMU's exec."""

    def __init__(self):
        self.marker = self.stopped = self.cpu = None
        self.rss_daemon = self.rss_workers = self.rss_qemu = 0
        self.outcome = ""


def sim_boot(gd, name, vcpus, test=None, idle_probe=None):
    spec = linux_guest.spec(name, gdir, vcpus=vcpus, test=test, on_reboot="stop")
    m = gd.manager()
    vm_path = m.CreateVM(json.dumps(spec), dbus.UInt64(0))
    vm = dbus.Interface(gd.bus.conn.get_object("org.gunyah.Manager1", vm_path), "org.gunyah.VM1")
    con = socket.socket(fileno=vm.OpenConsole().take())
    con.setblocking(False)
    want = marker(vcpus) if test != "hang" else b"GUNYAH-LINUX-HANG"
    r, out, workers = Run(), b"", {}
    children_before = cpu_seconds(gd.proc.pid, children=True)
    t0 = time.perf_counter()
    vm.Start()
    deadline = time.monotonic() + BOOT_TIMEOUT
    while time.monotonic() < deadline:
        if select.select([con], [], [], 0.05)[0]:
            chunk = con.recv(65536)
            out += chunk
            if r.marker is None and want in out:
                r.marker = time.perf_counter() - t0
                if idle_probe:
                    break
        props = gd.vm_props(name)
        for pid in props["WorkerPIDs"]:
            workers[int(pid)] = max(workers.get(int(pid), 0), rss_kib(int(pid)))
        r.rss_daemon = max(r.rss_daemon, rss_kib(gd.proc.pid))
        if str(props["State"]) in ("stopped", "failed"):
            r.stopped = time.perf_counter() - t0
            r.outcome = f"{props['State']} ({props['StateReason']})"
            break
    else:
        r.outcome = f"still {gd.state(name)} after {BOOT_TIMEOUT:.0f} s"
    r.rss_workers = sum(workers.values())
    if idle_probe and r.marker is not None:
        pids = [int(p) for p in gd.vm_props(name)["WorkerPIDs"]]
        r.idle = idle_probe(pids)
    if gd.state(name)[0] not in ("stopped", "failed"):
        vm.Kill()
        gd.wait_state(name, ("stopped", "failed"), timeout=60)
    time.sleep(0.2)  # the daemon reaps its workers: their times move to its children's
    r.cpu = cpu_seconds(gd.proc.pid, children=True) - children_before
    con.close()
    vm.Destroy()
    if r.marker is None:
        r.outcome += f"; console ended with: {out[-200:].decode(errors='replace')!r}"
    return r


def qemu_boot(vcpus, test=None, idle_probe=None):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    q = Qemu(gdir, vcpus, cmdline(test))
    r = Run()
    want = marker(vcpus) if test != "hang" else b"GUNYAH-LINUX-HANG"
    try:
        r.marker = q.read_until(want)
        r.rss_qemu = rss_kib(q.proc.pid)
        if idle_probe and r.marker is not None:
            r.idle = idle_probe([q.proc.pid])
        else:
            status = q.wait()
            r.stopped = time.monotonic() - q.t0 if status == 0 else None
            r.outcome = f"exit status {status}"
    finally:
        q.close()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    r.cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return r


def idle_cpu(pids):
    """Percent of one core the processes used over IDLE_SECONDS."""
    before = sum(cpu_seconds(p) or 0 for p in pids)
    t0 = time.monotonic()
    time.sleep(IDLE_SECONDS)
    used = sum(cpu_seconds(p) or 0 for p in pids) - before
    return 100 * used / (time.monotonic() - t0)


def fmt(v, unit="s", width=10):
    return f"{v:{width}.2f}" if v is not None else f"{'-':>{width}}"


def main():
    global gdir
    try:
        gdir = linux_guest.guest_dir()
    except linux_guest.Unreachable as e:
        print(f"linux-boot: no Linux guest set, nothing measured: {e}")
        return 0
    with open(os.path.join(gdir, "VERSION")) as f:
        print(f"Linux guest: {f.readline().strip()}; command line: {cmdline()}")
    e = Env()
    rows = {}
    try:
        e.daemon.start()
        for n in (1, 2):
            rows[("gunyahd (sim)", n)] = sim_boot(e.daemon, f"boot{n}", n)
            rows[("qemu TCG", n)] = qemu_boot(n)
        sim_idle = sim_boot(e.daemon, "idle", 1, test="hang", idle_probe=idle_cpu)
        qemu_idle = qemu_boot(1, test="hang", idle_probe=idle_cpu)
    finally:
        e.close()

    print("\nStartVM -> userspace marker / -> stopped (s), host CPU time of the vCPUs (s), peak RSS (MiB)")
    print(f"{'':22}{'vCPUs':>6}{'marker':>10}{'stopped':>10}{'CPU':>10}{'daemon':>10}{'vCPUs RSS':>11}  outcome")
    for (who, n), r in rows.items():
        rss_v = r.rss_workers if who.startswith("gunyahd") else r.rss_qemu
        print(f"{who:22}{n:6d}{fmt(r.marker)}{fmt(r.stopped)}{fmt(r.cpu)}"
              f"{fmt(r.rss_daemon / 1024 if r.rss_daemon else None)}{fmt(rss_v / 1024 if rss_v else None, width=11)}"
              f"  {r.outcome}")
    for n in (1, 2):
        s, q = rows[("gunyahd (sim)", n)], rows[("qemu TCG", n)]
        if s.marker is None:
            print(f"ratio sim/qemu, {n} vCPU(s): none, the simulator did not boot Linux to the marker "
                  f"({s.outcome})")
        elif q.marker:
            print(f"ratio sim/qemu, {n} vCPU(s): marker {s.marker / q.marker:.2f}x"
                  + (f", stopped {s.stopped / q.stopped:.2f}x" if s.stopped and q.stopped else "")
                  + " (goal <= 2x)")

    print(f"\nidle Linux guest (gunyah.test=hang, 1 vCPU), host CPU over {IDLE_SECONDS} s (% of one core; goal < 2%)")
    for who, r in (("gunyahd (sim)", sim_idle), ("qemu TCG", qemu_idle)):
        if getattr(r, "idle", None) is not None:
            print(f"{who:22}{r.idle:10.2f}")
        else:
            print(f"{who:22}{'-':>10}  never went idle: {r.outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
