#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Host <-> guest latency and throughput over vsock (issue 13), one run,
printed as a table; never asserts.

One Linux guest (the guest set's /init: gunyah.test=vsock-serve,console-echo)
on gunyahd --backend=sim, vsock CID 3, socat listeners inside: an echo, a
source of zeros, a sink. Measured from the host:
  vsock      1-byte ping-pong through <vmdir>/vsock ("CONNECT P"), to the
             guest's socat echo and back; one connection's throughput guest
             to host (zeros read for --seconds) and host to guest (--mib MiB
             into the sink, until the guest closes after EOF)
  console    the same ping-pong over the PL011 console (OpenConsole's fd; the
             guest's console raw, cat echoing)
  socketpair the same ping-pong between two threads over a Unix socketpair on
             the host, and its throughput: the floor
and the vsock device process's memory: VmRSS and VmHWM, and VmRSS less the
Rss of its guest-memory (memfd) mappings (goal: at most 2 MiB beyond).

Where a vsock round trip goes (the device's debug log with per-packet
times, strace of the device and a vCPU worker, issue 13): nearly all of it
is the guest's. Per 1-byte echo Linux takes the interrupt, its rx worker
queues the byte, socat reads it (and Linux 6.1.192 sends a CREDIT_UPDATE
whenever a read empties the socket), writes it through its pipe and back:
3 to 4 ms of the simulated CPU, about 2 ms to the CREDIT_UPDATE and the
rest to the data. The device reads the host's byte and raises the
interrupt in about 0.1 ms, and sends the echo to the host about 0.1 ms
after the kick. Throughput is the guest's too: guest to host one 8 KiB
socat write per packet every 3.4 ms (the credit never runs out), host to
guest Linux's 4 KiB rx buffers, each about 1.4 ms of guest time. The p99
is host scheduling: vCPUs and devices run SCHED_IDLE.

  vsock.py [--rounds 2000] [--console-rounds 300] [--seconds 10] [--mib 32] [--vcpus 2]

Run through `meson test --benchmark vsock` (it sets the paths), or by hand
with the environment of tests/linux/meson.build.
"""
import argparse
import json
import os
import socket
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "linux"))
import linux_guest  # noqa: E402  (puts tests/integration on sys.path too)
import vsock_host  # noqa: E402
from linux_guest import BOOT_TIMEOUT  # noqa: E402

ECHO, ZERO, SINK = 1234, 1235, 1236
NAME = "vbench"


def guest_memory_rss(pid):
    """Rss of the process's guest-memory mappings (the VM's memfds), bytes."""
    total, in_memfd = 0, False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            words = line.split()
            if "-" in words[0] and not words[0].endswith(":"):
                in_memfd = len(words) >= 6 and words[5].startswith("/memfd:")
            elif in_memfd and words[0] == "Rss:":
                total += int(words[1]) * 1024
    return total


def percentiles(samples):
    s = sorted(samples)
    return s[len(s) // 2], s[min(len(s) - 1, int(len(s) * 0.99))]


def ping_pong(send, recv, rounds):
    """Seconds per round trip of one byte, each round waiting for its echo."""
    out = []
    for i in range(rounds):
        b = bytes([33 + i % 90])
        t0 = time.perf_counter()
        send(b)
        got = b""
        while not got.endswith(b):
            chunk = recv()
            if not chunk:
                raise RuntimeError("the echo ended")
            got += chunk
        out.append(time.perf_counter() - t0)
    return out


def socketpair_figures(rounds, mib):
    a, b = socket.socketpair()

    def echo():
        while True:
            d = b.recv(1)
            if not d:
                return
            b.sendall(d)
    t = threading.Thread(target=echo, daemon=True)
    t.start()
    lat = ping_pong(a.sendall, lambda: a.recv(1), rounds)
    a.close()
    t.join()
    b.close()
    a, b = socket.socketpair()
    total = mib << 20

    def drain():
        n = 0
        while n < total:
            n += len(b.recv(1 << 20))
    t = threading.Thread(target=drain)
    chunk = bytes(1 << 16)
    t0 = time.perf_counter()
    t.start()
    for _ in range(total // len(chunk)):
        a.sendall(chunk)
    t.join()
    mibs = mib / (time.perf_counter() - t0)
    a.close()
    b.close()
    return lat, mibs, mibs


def vsock_figures(path, rounds, seconds, mib):
    s, _ = vsock_host.connect_when_listening(path, ECHO)
    with s:
        try:
            lat = ping_pong(s.sendall, lambda: s.recv(16), rounds)
        except socket.timeout as err:
            raise RuntimeError("the vsock ping-pong got no echo in 30 s") from err
    s, _ = vsock_host.connect_when_listening(path, ZERO)
    with s:
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            n += len(s.recv(1 << 20))
        to_host = n / (1 << 20) / (time.perf_counter() - t0)
    s, _ = vsock_host.connect_when_listening(path, SINK)
    with s:
        chunk = bytes(1 << 16)
        t0 = time.perf_counter()
        for _ in range((mib << 20) // len(chunk)):
            s.sendall(chunk)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(600)
        while s.recv(4096):
            pass
        to_guest = mib / (time.perf_counter() - t0)
    return lat, to_host, to_guest


def console_figures(gd, rounds):
    s = socket.socket(fileno=gd.vm(NAME).OpenConsole().take())
    with s:
        s.settimeout(60)
        # the first byte once the console is raw: cat may not run yet
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            s.sendall(b"\x01")
            try:
                if b"\x01" in s.recv(4096):
                    break
            except socket.timeout:
                continue
        return ping_pong(s.sendall, lambda: s.recv(16), rounds)


def device_memory(gd):
    """(VmRSS, VmHWM, VmRSS less the guest-memory mappings' Rss) of the vsock device, bytes."""
    for pid in gd.device_pids(NAME):
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if b"--type=vsock" not in f.read().split(b"\0"):
                continue
        with open(f"/proc/{pid}/status") as f:
            st = {k: v.split() for k, _, v in (line.partition(":") for line in f)}
        rss, hwm = int(st["VmRSS"][0]) * 1024, int(st["VmHWM"][0]) * 1024
        return rss, hwm, rss - guest_memory_rss(pid)
    return None


def run(args, gdir):
    from gunyah_harness import Env
    e = Env()
    try:
        e.daemon.start()
        extra = f"gunyah.vsock.echo={ECHO} gunyah.vsock.zero={ZERO} gunyah.vsock.sink={SINK}"
        d = linux_guest.spec(NAME, gdir, vcpus=args.vcpus, test="vsock-serve,console-echo", extra=extra,
                             memory={"size": "512M", "mode": "share"}, vsock={"cid": 3})
        path = os.path.join(e.tmp, NAME + ".json")
        with open(path, "w") as f:
            json.dump(d, f)
        e.daemon.ctl("create", path, "--start")
        e.daemon.wait_state(NAME, "running", timeout=120)
        deadline = time.monotonic() + BOOT_TIMEOUT
        while b"GUNYAH-CONSOLE-ECHO" not in e.daemon.console_log(NAME):
            if time.monotonic() > deadline or e.daemon.state(NAME)[0] != "running":
                raise RuntimeError(f"the guest did not get to its echo: {e.daemon.state(NAME)}")
            time.sleep(0.5)
        vpath = str(e.daemon.vm_props(NAME)["VsockPath"])
        rows = {}
        for name, measure in (("vsock (sim)", lambda: vsock_figures(vpath, args.rounds, args.seconds, args.mib)),
                              ("PL011 console (sim)",
                               lambda: (console_figures(e.daemon, args.console_rounds), None, None))):
            try:
                rows[name] = measure()
            except Exception as err:  # noqa: BLE001 - one path failing must not hide the others
                rows[name] = f"failed: {err!r}"
        return rows, device_memory(e.daemon)
    finally:
        e.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2000)
    ap.add_argument("--console-rounds", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--mib", type=int, default=32)
    ap.add_argument("--vcpus", type=int, default=2)
    args = ap.parse_args()
    try:
        gdir = linux_guest.guest_dir()
    except linux_guest.Unreachable as err:
        print(f"vsock: no Linux guest set, nothing measured: {err}")
        return 0
    try:
        rows, memory = run(args, gdir)
    except Exception as err:  # noqa: BLE001 - the floor is still worth printing
        rows, memory = {}, None
        print(f"vsock: the guest runs failed: {err}")
    rows["Unix socketpair (host)"] = socketpair_figures(args.rounds * 10, 1024)

    print(f"1-byte ping-pong rounds: {args.rounds} (console {args.console_rounds}, socketpair {args.rounds * 10}); "
          f"guest to host {args.seconds:g} s of zeros, host to guest {args.mib} MiB")
    print(f"{'path':24}{'p50 us':>10}{'p99 us':>10}{'to host MiB/s':>15}{'to guest MiB/s':>16}")
    for name, row in rows.items():
        if isinstance(row, str):
            print(f"{name:24}{'-':>10}{'-':>10}{'-':>15}{'-':>16}  {row}")
            continue
        lat, to_host, to_guest = row
        p50, p99 = percentiles(lat)
        fmt = lambda v: f"{v:.1f}" if v is not None else "-"  # noqa: E731
        print(f"{name:24}{p50 * 1e6:10.1f}{p99 * 1e6:10.1f}{fmt(to_host):>15}{fmt(to_guest):>16}")
    if memory:
        rss, hwm, beyond = memory
        print(f"vsock device process: VmRSS {rss / 1024:.0f} KiB, VmHWM {hwm / 1024:.0f} KiB, "
              f"VmRSS less guest memory {beyond / 1024:.0f} KiB (goal <= 2048 KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
