#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Adoption benchmark (issue 15), printed as a table; never asserts.

For N = 1, 10, 50 running VMs (the button guest: one vCPU waiting in WFI,
4 MiB of RAM (the least a kernel fits in), "rng": false, no devices, persistent definitions), on a
fresh bus and directories each:

- start: a first gunyahd creates and starts the N VMs, all calls sent at
  once; the time from the first CreateVM to the last VM seen running;
- adopt: that daemon is killed with SIGKILL and a new one exec'd on the
  same directories; the time from just before its exec to its READY=1
  (sent once every record is read and every VM adopted: it takes its bus
  name first and answers nothing before) and to the N-th GetAll answered
  with State running and the VM's old UUID (the client's sequential
  GetAll calls are in this figure). Repeated ADOPT_RUNS times (kill -9,
  new daemon): median and max;
- defined: the same N definitions, no VM running: a daemon's exec to
  READY=1, what loading them costs without adopting anything;
- the floor: exec to READY=1 of a daemon with nothing defined;
- RSS: VmRSS of the daemon that started the VMs (with all N running,
  settled) against that of the last adopting one (after its GetAll calls,
  settled); goal within 10 %.

Goal: adopting 50 under 50 ms. Run through `meson test -C build
--benchmark adoption` (it sets the paths), or by hand with the environment
of tests/integration/meson.build.
"""
import os
import signal
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import dbus  # noqa: E402

from gunyah_harness import BUS_NAME, PROPS_IFACE, VM_IFACE, Env, spec_json  # noqa: E402

COUNTS = [int(n) for n in os.environ.get("BENCH_ADOPT_COUNTS", "1,10,50").split(",")]
ADOPT_RUNS = int(os.environ.get("BENCH_ADOPT_RUNS", "5"))
FLOOR_RUNS = 5
PERSIST_START = 3
SETTLE = 1.0  # seconds before reading VmRSS


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


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


def exec_to_ready(gd, notify):
    """Execs gd and returns seconds to its READY=1."""
    t0 = time.perf_counter()
    gd.spawn()
    return notify.wait_ready() - t0, t0


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


def adopt_once(gd, notify, vms, pids):
    """kill -9 of gd, a new daemon: (exec -> READY, exec -> N-th GetAll running).
    vms: name -> (object path, UUID) under the first daemon."""
    kill9(gd, pids)
    ready, t0 = exec_to_ready(gd, notify)
    for name, (path, uuid) in vms.items():
        # one round trip each: no GetVM, no introspection
        props = gd.bus.conn.get_object(BUS_NAME, path, introspect=False).GetAll(VM_IFACE, dbus_interface=PROPS_IFACE)
        if (str(props["State"]), str(props["UUID"])) != ("running", uuid):
            raise RuntimeError(f"VM {name} after adoption: {props['State']} {props['UUID']}\n"
                               f"{gd.read_log()[-3000:]}")
    return ready, time.perf_counter() - t0


def stop_all(gd, names):
    m = gd.manager()
    for name in names:
        m.KillVM(name)
    for name in names:
        gd.wait_state(name, "stopped")


def bench_floor():
    env = Env()
    try:
        gd = env.daemon
        notify = Notify(gd)
        runs = []
        for _ in range(FLOOR_RUNS):
            runs.append(exec_to_ready(gd, notify)[0])
            gd.stop()
        return statistics.median(runs)
    finally:
        env.close()


def bench_count(n):
    """One fresh environment with n VMs: the figures of one table row."""
    env = Env()
    pids = []  # daemons killed: their process groups hold the VMs
    names = [f"vm{i:03d}" for i in range(n)]
    row = {"n": n}
    try:
        gd = env.daemon
        gd.extra_args = ["--log-level=info"]
        notify = Notify(gd)
        exec_to_ready(gd, notify)
        row["start"] = start_all(gd, names)
        vms = {name: (gd.vm_path(name), str(gd.vm_props(name)["UUID"])) for name in names}
        time.sleep(SETTLE)
        row["rss_start"] = rss_kib(gd.proc.pid)
        ready, getall = zip(*(adopt_once(gd, notify, vms, pids) for _ in range(ADOPT_RUNS)))
        row["ready"], row["getall"] = ready, getall
        time.sleep(SETTLE)
        row["rss_adopt"] = rss_kib(gd.proc.pid)
        stop_all(gd, names)
        gd.stop()
        row["defined"] = exec_to_ready(gd, notify)[0]
        return row
    finally:
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        env.close()


def ms(seconds):
    return f"{seconds * 1e3:.1f}"


def print_table(floor, rows):
    print(f"\nAdoption after kill -9 (ms; median/max of {ADOPT_RUNS} adoptions; goal < 50 ms for 50)")
    print(f"floor: exec -> READY=1, nothing defined: {ms(floor)} ms (median of {FLOOR_RUNS})")
    print(f"{'N':>4}{'start N':>11}{'defined':>10}{'adopt->READY':>16}{'->N GetAll':>16}"
          f"{'RSS start':>12}{'RSS adopt':>12}{'diff':>8}")
    for r in rows:
        ready = f"{ms(statistics.median(r['ready']))}/{ms(max(r['ready']))}"
        getall = f"{ms(statistics.median(r['getall']))}/{ms(max(r['getall']))}"
        diff = (r["rss_adopt"] - r["rss_start"]) / r["rss_start"] * 100
        print(f"{r['n']:>4}{ms(r['start']):>11}{ms(r['defined']):>10}{ready:>16}{getall:>16}"
              f"{r['rss_start']:>9} KiB{r['rss_adopt']:>8} KiB{diff:>+7.1f}%")
    print("start N: first CreateVM -> all N running (the daemon that starts them); defined: exec -> READY=1\n"
          "with the N definitions and no VM running; RSS goal: adopt within 10 % of start")


def main():
    t0 = time.perf_counter()
    floor = bench_floor()
    rows = [bench_count(n) for n in COUNTS]
    print_table(floor, rows)
    print(f"(whole benchmark: {time.perf_counter() - t0:.1f} s, {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
