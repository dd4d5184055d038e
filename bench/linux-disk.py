#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Disk throughput in the Linux guest (issue 12), one run per VMM, printed as
a table; never asserts.

The guest side is the same on every VMM: the guest set's /init in
gunyah.test=bench mode (tests/guests/linux/init) on one blank raw image,
writable, serial "bench0":
  seq write   dd if=/dev/zero of=/dev/vda bs=1M count=256 oflag=direct conv=fsync
  seq read    dd if=/dev/vda of=/dev/null bs=1M count=256 iflag=direct
  rand read   /bin/diskbench randread: 4 KiB O_DIRECT preads at random aligned
              offsets over those 256 MiB, queue depth 1, for 10 s
(busybox dd prints no time: /bin/diskbench clock brackets each dd).

A VMM is a function (disks, append, vcpus) -> console bytes, `disks` in
gunyahd's spec form ([{"path", "readonly", "serial"}]):
  qemu      qemu-system-aarch64 -M virt,gic-version=3 (TCG), virtio-blk-device
  gunyahd   gunyahd --backend=sim: examples/linux-disk.json (memory mode share)
            with the disks and command line; measured only when that example
            exists or --vmm gunyahd asks for it
  any other VMM: --command 'TEMPLATE', run through sh, whose stdout is the
            console; {kernel} {initrd} {append} {disk} are substituted (quoted).

  linux-disk.py [--vmm qemu|gunyahd|all] [--command TEMPLATE] [--mib 256] [--seconds 10] [--vcpus 1]

Run through `meson test --benchmark linux-disk` (it sets the paths), or by
hand with the environment of tests/linux/meson.build.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "linux"))
import disk_image  # noqa: E402
import linux_guest  # noqa: E402  (puts tests/integration on sys.path too)
from linux_disk import BENCH_OPS, bench_figures, qemu_args  # noqa: E402
from linux_guest import BOOT_TIMEOUT, Qemu, cmdline  # noqa: E402

def guest_append(mib, seconds):
    return cmdline("bench", f"gunyah.bench.mib={mib} gunyah.bench.seconds={seconds}")


def run_qemu(gdir, disks, append, vcpus):
    q = Qemu(gdir, vcpus, append, extra=qemu_args(disks))
    try:
        q.wait(timeout=BOOT_TIMEOUT)
        return q.out
    finally:
        q.close()


def run_command(template, gdir, disks, append):
    words = {"kernel": os.path.join(gdir, "Image"), "initrd": os.path.join(gdir, "initrd.gz"),
             "append": append, "disk": disks[0]["path"]}
    cmd = template.format(**{k: shlex.quote(v) for k, v in words.items()})
    p = subprocess.run(["sh", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=BOOT_TIMEOUT)
    return p.stdout


def gunyahd_spec(gdir, disks, append, vcpus):
    """examples/linux-disk.json (else linux.json with "memory": {"mode": "share"})
    with the guest set's paths, these disks and this command line."""
    examples = os.environ.get("GUNYAH_EXAMPLES_DIR", os.path.join(linux_guest.SOURCE_ROOT, "examples"))
    path = os.path.join(examples, "linux-disk.json")
    if not os.path.exists(path):
        path = os.path.join(examples, "linux.json")
    with open(path) as f:
        d = json.load(f)
    # rng=False: the disk is the one device process (device-process.py samples it)
    d.update(name="diskbench", vcpus=vcpus, disks=disks, on_reboot="stop", rng=False)
    d["memory"] = dict(d["memory"], mode="share")
    d["kernel"]["path"] = os.path.join(gdir, os.path.basename(d["kernel"]["path"]))
    d["kernel"]["cmdline"] = append
    d["initrd"] = os.path.join(gdir, os.path.basename(d["initrd"]))
    return d


def run_gunyahd(gdir, disks, append, vcpus):
    from gunyah_harness import Env
    e = Env()
    try:
        e.daemon.start()
        path = os.path.join(e.tmp, "diskbench.json")
        with open(path, "w") as f:
            json.dump(gunyahd_spec(gdir, disks, append, vcpus), f)
        e.daemon.ctl("create", path, "--start")
        e.daemon.wait_state("diskbench", ("stopped", "failed"), timeout=BOOT_TIMEOUT)
        return e.daemon.console_log("diskbench")
    finally:
        e.close()


def measure(name, run, mib, seconds):
    """One run of the guest side on a fresh blank image; (figures or error, seconds)."""
    with tempfile.TemporaryDirectory(prefix="gunyah-diskbench-") as tmp:
        image = os.path.join(tmp, "bench.img")
        disk_image.make_blank(image, mib)
        disks = [{"path": image, "readonly": False, "serial": "bench0"}]
        t0 = time.monotonic()
        try:
            console = run(disks, guest_append(mib, seconds))
        except Exception as err:  # noqa: BLE001 - one VMM failing must not hide the others
            return f"{name} failed: {err}", time.monotonic() - t0
        return bench_figures(console), time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vmm", choices=("qemu", "gunyahd", "all"), default=None)
    ap.add_argument("--command", help="another VMM: a shell command template, see above")
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--vcpus", type=int, default=1)
    args = ap.parse_args()
    try:
        gdir = linux_guest.guest_dir()
    except linux_guest.Unreachable as err:
        print(f"linux-disk: no Linux guest set, nothing measured: {err}")
        return 0
    examples = os.environ.get("GUNYAH_EXAMPLES_DIR", os.path.join(linux_guest.SOURCE_ROOT, "examples"))
    vmms = []
    if args.vmm in (None, "qemu", "all"):
        vmms.append(("qemu TCG", lambda d, a: run_qemu(gdir, d, a, args.vcpus)))
    if args.vmm in ("gunyahd", "all") or (args.vmm is None and os.path.exists(os.path.join(examples, "linux-disk.json"))):
        vmms.append(("gunyahd (sim)", lambda d, a: run_gunyahd(gdir, d, a, args.vcpus)))
    if args.command:
        vmms.append(("command", lambda d, a: run_command(args.command, gdir, d, a)))

    with open(os.path.join(gdir, "VERSION")) as f:
        print(f"Linux guest: {f.readline().strip()}, {args.vcpus} vCPU(s); {args.mib} MiB raw image, "
              f"direct I/O, rand read queue depth 1 for {args.seconds} s")
    print(f"{'VMM':16}{'seq write MiB/s':>17}{'seq read MiB/s':>16}{'4K rand read IOPS':>19}{'run s':>8}")
    rows = {}
    for name, run in vmms:
        got, took = measure(name, run, args.mib, args.seconds)
        rows[name] = got
        if isinstance(got, str):
            print(f"{name:16}{'-':>17}{'-':>16}{'-':>19}{took:8.1f}  {got}")
        else:
            print(f"{name:16}{got['seqwrite']:17.1f}{got['seqread']:16.1f}{got['randread']:19.0f}{took:8.1f}")
    base = rows.get("qemu TCG")
    for name, got in rows.items():
        if name != "qemu TCG" and isinstance(got, dict) and isinstance(base, dict):
            print(f"ratio {name}/qemu: " + ", ".join(f"{op} {got[op] / base[op]:.2f}x" for op in BENCH_OPS)
                  + " (goal >= 1x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
