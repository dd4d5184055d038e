#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""gunyahd lifecycle benchmarks (issue 4), printed as tables; never asserts.

(a) StartVM call -> first console byte of the hello guest, p50/p95 over N
    runs, against qemu-system-aarch64 -M virt booting the same ELF until its
    first byte, in the same run.
(b) D-Bus round trip p50/p99 of VM1 GetAll and Manager1 ListVMs with 100
    VMs defined.
(c) daemon RSS growth per defined VM and per running VM, worker RSS.
(d) create+start+poweroff+destroy cycles per second with hello.

Run through `meson test --benchmark lifecycle` (it sets the paths), or by
hand with the environment of tests/integration/meson.build.
"""
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import dbus  # noqa: E402

from gunyah_harness import Env, guest_path, spec_json  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "20"))


def pct(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_stopped(gd, name, timeout=20):
    # tight polling: the harness's 20 ms interval would dominate a cycle
    deadline = time.monotonic() + timeout
    while gd.state(name)[0] != "stopped":
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not stop")
        time.sleep(0.0005)


def first_byte_gunyahd(gd, i):
    name = f"fb{i}"
    vm_path = gd.manager().CreateVM(spec_json(name), dbus.UInt64(0))
    vm = dbus.Interface(gd.bus.conn.get_object("org.gunyah.Manager1", vm_path), "org.gunyah.VM1")
    s = socket.socket(fileno=vm.OpenConsole().take())
    s.settimeout(10)
    t0 = time.perf_counter()
    vm.Start()
    s.recv(1)
    dt = time.perf_counter() - t0
    s.close()
    wait_stopped(gd, name)
    vm.Destroy()
    return dt


def first_byte_qemu():
    qemu = shutil.which("qemu-system-aarch64")
    if not qemu:
        return None
    t0 = time.perf_counter()
    p = subprocess.Popen([qemu, "-M", "virt", "-cpu", "cortex-a57", "-m", "2G", "-display", "none",
                          "-nodefaults", "-serial", "stdio", "-kernel", guest_path("hello")],
                         stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    p.stdout.read(1)
    dt = time.perf_counter() - t0
    p.kill()
    p.wait()
    return dt


def bench_first_byte(gd):
    ours = [first_byte_gunyahd(gd, i) for i in range(RUNS)]
    qemu = [q for q in (first_byte_qemu() for _ in range(RUNS)) if q is not None]
    print("\n(a) StartVM -> first console byte of hello (ms)")
    print(f"{'':24}{'p50':>10}{'p95':>10}")
    print(f"{'gunyahd (sim)':24}{pct(ours, 50) * 1e3:10.2f}{pct(ours, 95) * 1e3:10.2f}")
    if qemu:
        print(f"{'qemu-system-aarch64':24}{pct(qemu, 50) * 1e3:10.2f}{pct(qemu, 95) * 1e3:10.2f}")
        print(f"{'ratio qemu/gunyahd':24}{pct(qemu, 50) / pct(ours, 50):10.1f}x (goal >= 5x)")
    else:
        print("qemu-system-aarch64 not found: no peer in this run")


def bench_round_trips(gd):
    m = gd.manager()
    for i in range(100):
        m.CreateVM(spec_json(f"rt{i:03d}"), dbus.UInt64(0))
    obj = gd.bus.conn.get_object("org.gunyah.Manager1", gd.vm_path("rt050"))
    getall, listvms = [], []
    for _ in range(500):
        t0 = time.perf_counter()
        obj.GetAll("org.gunyah.VM1", dbus_interface="org.freedesktop.DBus.Properties")
        getall.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        m.ListVMs()
        listvms.append(time.perf_counter() - t0)
    print("\n(b) D-Bus round trips with 100 VMs defined (ms; goal p99 < 2 ms)")
    print(f"{'':24}{'p50':>10}{'p99':>10}")
    print(f"{'VM1 GetAll':24}{pct(getall, 50) * 1e3:10.3f}{pct(getall, 99) * 1e3:10.3f}")
    print(f"{'Manager1 ListVMs':24}{pct(listvms, 50) * 1e3:10.3f}{pct(listvms, 99) * 1e3:10.3f}")
    for i in range(100):
        m.DestroyVM(f"rt{i:03d}")


def bench_rss(gd):
    pid = gd.proc.pid
    m = gd.manager()
    base = rss_kib(pid)
    for i in range(100):
        m.CreateVM(spec_json(f"rss{i:03d}", "spin"), dbus.UInt64(0))
    defined = rss_kib(pid)
    for i in range(10):
        m.StartVM(f"rss{i:03d}")
    for i in range(10):
        gd.wait_state(f"rss{i:03d}", "running")
    running = rss_kib(pid)
    workers = [rss_kib(int(p)) for i in range(10) for p in gd.vm_props(f"rss{i:03d}")["WorkerPIDs"]]
    print("\n(c) memory (KiB)")
    print(f"{'daemon RSS, no VMs':36}{base:10d}")
    print(f"{'growth per defined VM':36}{(defined - base) / 100:10.1f}")
    print(f"{'growth per running VM':36}{(running - defined) / 10:10.1f}")
    print(f"{'worker RSS (spin guest), median':36}{statistics.median(workers):10.0f}")
    for i in range(100):
        if i < 10:
            m.KillVM(f"rss{i:03d}")
            gd.wait_state(f"rss{i:03d}", "stopped")
        m.DestroyVM(f"rss{i:03d}")


def bench_cycles(gd):
    m = gd.manager()
    n = 50
    t0 = time.perf_counter()
    for i in range(n):
        name = f"cy{i}"
        m.CreateVM(spec_json(name), dbus.UInt64(2))
        wait_stopped(gd, name)
        m.DestroyVM(name)
    dt = time.perf_counter() - t0
    cores = os.cpu_count() or 1
    print("\n(d) create+start+poweroff+destroy cycles with hello")
    print(f"{'cycles/s':24}{n / dt:10.1f}")
    print(f"{'cycles/s per core':24}{n / dt / cores:10.1f} (goal >= 25; {cores} cores, one client)")


def main():
    env = Env()
    try:
        env.daemon.extra_args = ["--log-level=warning"]
        env.daemon.start()
        bench_first_byte(env.daemon)
        bench_round_trips(env.daemon)
        bench_rss(env.daemon)
        bench_cycles(env.daemon)
    finally:
        env.close()


if __name__ == "__main__":
    main()
