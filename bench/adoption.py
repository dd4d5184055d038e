#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Adoption benchmark (issue 15), printed as tables; never asserts.

For N = 1, 10, 50 running VMs (the button guest: one vCPU waiting in WFI,
4 MiB of RAM, the least a kernel fits in; "rng": false and no other
device, since device processes are not adopted yet; persistent
definitions), each N on a fresh bus and directories:

- start N: a first gunyahd creates and starts the N VMs (every CreateVM
  sent at once), first call -> the last VM seen running;
- adopt: that daemon is killed with SIGKILL and a new one exec'd on the
  same directories. It takes its bus name, reads the records, adopts,
  then sends READY=1 and only then answers calls; measured from just
  before its exec to READY=1 on its NOTIFY_SOCKET, with its CPU time by
  then (/proc/PID/schedstat: the rest is exec and waiting for a CPU on a
  shared machine), and to the N-th GetAll answered with State running
  and the VM's UUID (the N calls sent at once on a connection of their
  own, their replies awaited; "GetAll xN" is the same against the first
  daemon). ADOPT_RUNS kill -9 + adoption cycles: median/max;
- defined: exec -> READY=1 with the N definitions and no VM running
  (what adopting adds to loading them), and with nothing defined;
- RSS: VmRSS of the first daemon (N running, settled) against the last
  adopting one (after its GetAll calls, settled); goal within 10 %.

Goal: exec -> 50 VMs adopted and answering in under 50 ms. A whole run
takes about 15 s on 2 cores. Run through `meson test -C build --benchmark
adoption` (it sets the paths), or by hand with the environment of
tests/integration/meson.build; BENCH_ADOPT_COUNTS (e.g. "1,10") and
BENCH_ADOPT_RUNS change the counts and cycles.

Where the time went for 50 (Dec 2026, perf and strace of the adopting
daemon): about a third of its CPU time is a bare start (exec, dynamic
linking, bus), a third loading the 50 definitions, half of that
console_new() zeroing and faulting in each VM's inline 64 KiB console
ring, and a third adoption itself (record parse, pidfds and start times,
the keeper's HANDBACK, publishing); off the CPU, the 50 keeper round trips
are made one after the other. On a shared machine the run-queue wait
column is what the other load added. The adopting daemon's RSS is the
smaller: it maps none of the simulator's per-VM shared state (an adopted
instance has no hypervisor handle; about 28 KiB of RssShmem a VM in the
first daemon) and its heap has not seen the starts.
"""
import os
import signal
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import dbus  # noqa: E402
from dbus.mainloop.glib import DBusGMainLoop  # noqa: E402
from gi.repository import GLib  # noqa: E402

from gunyah_harness import BUS_NAME, PROPS_IFACE, VM_IFACE, Env, spec_json  # noqa: E402
from lifecycle import rss_kib  # noqa: E402

COUNTS = [int(n) for n in os.environ.get("BENCH_ADOPT_COUNTS", "1,10,50").split(",")]
ADOPT_RUNS = int(os.environ.get("BENCH_ADOPT_RUNS", "5"))
FLOOR_RUNS = 5
PERSIST_START = 3
SETTLE = 1.0  # seconds before reading VmRSS


def vm_spec(name):
    return spec_json(name, "button", memory={"size": "4M"}, rng=False)


class Notify:
    """The daemon's NOTIFY_SOCKET: READY=1 arrives once it is through startup."""

    def __init__(self, gd):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        path = os.path.join(gd.workdir, "notify")
        self.sock.bind(path)
        self.sock.settimeout(60)
        gd.notify_socket = path

    def wait_ready(self):
        while b"READY=1" not in self.sock.recv(4096):
            pass
        return time.perf_counter()


def schedstat(pid):
    """Seconds pid has run on a CPU and waited runnable for one so far."""
    with open(f"/proc/{pid}/schedstat") as f:
        run, wait = f.read().split()[:2]
    return int(run) / 1e9, int(wait) / 1e9


class Ready:
    """One exec of a daemon: seconds to READY=1, its CPU and run-queue time
    by then, and t0."""

    def __init__(self, gd, notify):
        self.t0 = time.perf_counter()
        gd.spawn()
        self.wall = notify.wait_ready() - self.t0
        self.cpu, self.wait = schedstat(gd.proc.pid)


class GetAllClient:
    """A bus connection of its own with a main loop: every VM's GetAll is
    sent at once and the replies taken as they come, so the figure is the
    daemon's answering, not one client round trip after another."""

    def __init__(self, gd):
        self.gd = gd
        self.conn = dbus.bus.BusConnection(gd.bus.address, mainloop=DBusGMainLoop())

    def getall_all(self, vms):
        """Checks State running and the UUID each VM had; returns when all answered."""
        loop, wrong = GLib.MainLoop(), []
        pending = len(vms)

        def answered(name, uuid, props=None, error=None):
            nonlocal pending
            if error or (str(props["State"]), str(props["UUID"])) != ("running", uuid):
                wrong.append((name, error or (str(props["State"]), str(props["UUID"]))))
            pending -= 1
            if pending == 0:
                loop.quit()

        for name, (path, uuid) in vms.items():
            self.conn.call_async(BUS_NAME, path, PROPS_IFACE, "GetAll", "s", (VM_IFACE,),
                                 lambda props, name=name, uuid=uuid: answered(name, uuid, props),
                                 lambda error, name=name, uuid=uuid: answered(name, uuid, error=error))
        timeout = GLib.timeout_add_seconds(60, loop.quit)
        loop.run()
        GLib.source_remove(timeout)
        if wrong or pending:
            raise RuntimeError(f"GetAll: {wrong}, {pending} unanswered\n{self.gd.read_log()[-3000:]}")


def start_all(gd, names):
    m = gd.manager()
    t0 = time.perf_counter()
    for name in names:
        m.CreateVM(vm_spec(name), dbus.UInt64(PERSIST_START))
    pending = list(names)
    while pending:
        states = {n: gd.state(n) for n in pending}
        bad = {n: s for n, s in states.items() if s[0] not in ("defined", "starting", "running")}
        if bad:
            raise RuntimeError(f"VMs did not start: {bad}\n{gd.read_log()[-3000:]}")
        pending = [n for n, s in states.items() if s[0] != "running"]
        if pending:
            time.sleep(0.002)
    return time.perf_counter() - t0


def kill9(gd, pids):
    pids.append(gd.proc.pid)
    os.kill(gd.proc.pid, signal.SIGKILL)
    gd.proc.wait()
    gd.log.close()


def adopt_once(gd, notify, client, vms, pids):
    """kill -9 of gd, a new daemon: its Ready and exec -> N-th GetAll running.
    vms: name -> (object path, UUID) under the first daemon."""
    kill9(gd, pids)
    ready = Ready(gd, notify)
    client.getall_all(vms)
    return ready, time.perf_counter() - ready.t0


def stop_all(gd, names):
    m = gd.manager()
    for name in names:
        m.KillVM(name)
    for name in names:
        gd.wait_state(name, "stopped")


def restarts(gd, notify):
    """FLOOR_RUNS plain starts and stops of gd: median (wall, CPU) to READY=1."""
    runs = []
    for _ in range(FLOOR_RUNS):
        runs.append(Ready(gd, notify))
        gd.stop()
    return statistics.median(r.wall for r in runs), statistics.median(r.cpu for r in runs)


def bench_floor():
    env = Env()
    try:
        return restarts(env.daemon, Notify(env.daemon))
    finally:
        env.close()


def bench_count(n):
    """One fresh environment with n VMs: the figures of one table row."""
    env = Env()
    pids = []  # daemons killed: their process groups hold the VMs
    names = [f"vm{i:03d}" for i in range(n)]
    row = {"n": n}
    client = None
    try:
        gd = env.daemon
        gd.extra_args = ["--log-level=info"]
        notify = Notify(gd)
        Ready(gd, notify)
        row["start"] = start_all(gd, names)
        vms = {name: (gd.vm_path(name), str(gd.vm_props(name)["UUID"])) for name in names}
        client = GetAllClient(gd)
        t0 = time.perf_counter()
        client.getall_all(vms)
        row["getall_before"] = time.perf_counter() - t0
        time.sleep(SETTLE)
        row["rss_start"] = rss_kib(gd.proc.pid)
        row["adopt"], row["getall"] = zip(*(adopt_once(gd, notify, client, vms, pids) for _ in range(ADOPT_RUNS)))
        time.sleep(SETTLE)
        row["rss_adopt"] = rss_kib(gd.proc.pid)
        stop_all(gd, names)
        gd.stop()
        row["defined"] = restarts(gd, notify)
        return row
    finally:
        if client:
            client.conn.close()
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        env.close()


def ms(seconds):
    return f"{seconds * 1e3:.1f}"


def med_max(values):
    return f"{ms(statistics.median(values))}/{ms(max(values))}"


def print_tables(floor, rows):
    print(f"\nAdoption after kill -9 (ms; adopt: median/max of {ADOPT_RUNS}; goal: exec -> 50 adopted < 50 ms)")
    print(f"{'N':>4}{'start N':>10}{'GetAll xN':>11}{'defined':>9}{'cpu':>7}"
          f"{'adopt READY':>14}{'cpu':>7}{'rq wait':>9}{'adopt GetAll':>15}")
    print(f"{'none':>4}{'':>10}{'':>11}{ms(floor[0]):>9}{ms(floor[1]):>7}")
    for r in rows:
        adopt = r["adopt"]
        print(f"{r['n']:>4}{ms(r['start']):>10}{ms(r['getall_before']):>11}{ms(r['defined'][0]):>9}"
              f"{ms(r['defined'][1]):>7}{med_max([a.wall for a in adopt]):>14}"
              f"{ms(statistics.median(a.cpu for a in adopt)):>7}{ms(statistics.median(a.wait for a in adopt)):>9}"
              f"{med_max(r['getall']):>15}")
    print("start N: first CreateVM -> all N running, by the first daemon; GetAll xN: N GetAll calls sent\n"
          "to it at once -> the last reply; defined: exec -> READY=1 of a daemon with the N definitions and\n"
          f"no VM running (none: nothing defined; both medians of {FLOOR_RUNS}); adopt READY: exec -> READY=1\n"
          "with N VMs adopted; cpu, rq wait: the daemon's time on a CPU and runnable waiting for one by then\n"
          "(schedstat, medians); adopt GetAll: exec -> the N-th GetAll answered running with its UUID")
    print("\nDaemon RSS (VmRSS, KiB; goal: adopting within 10 % of starting)")
    print(f"{'N':>4}{'started them':>14}{'adopted them':>14}{'diff':>8}")
    for r in rows:
        diff = (r["rss_adopt"] - r["rss_start"]) / r["rss_start"] * 100
        print(f"{r['n']:>4}{r['rss_start']:>14}{r['rss_adopt']:>14}{diff:>+7.1f}%")


def main():
    t0 = time.perf_counter()
    floor = bench_floor()
    rows = [bench_count(n) for n in COUNTS]
    print_tables(floor, rows)
    print(f"(whole benchmark: {time.perf_counter() - t0:.1f} s; {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
