# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Linux guest set (tools/fetch-linux-guest.sh) for tests and benchmarks:
where it is, specs built from examples/linux.json, and QEMU booting the same
kernel, initramfs and command line as the reference.

Paths come from the environment meson test sets (tests/linux/meson.build):
GUNYAH_FETCH_LINUX (the fetch script), GUNYAH_EXAMPLES_DIR, and optionally
GUNYAH_LINUX_DIR (where the guest set lives; the script's default otherwise).
"""
import json
import os
import re
import selectors
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "integration"))

MARKER = "GUNYAH-LINUX-MARKER"
BANNER = b"Booting Linux on physical CPU"
# A software CPU boots Linux in tens of seconds; these only bound a hang.
BOOT_TIMEOUT = float(os.environ.get("GUNYAH_LINUX_BOOT_TIMEOUT", "600"))
UNREACHABLE = 2  # fetch-linux-guest.sh: apt cannot reach its registry


class Unreachable(Exception):
    pass


def fetch_script():
    return os.environ.get("GUNYAH_FETCH_LINUX") or os.path.join(SOURCE_ROOT, "tools", "fetch-linux-guest.sh")


def guest_dir():
    """Runs the fetch script (silent and instant when the set is complete) and
    returns the directory. Raises Unreachable when apt cannot reach Debian."""
    p = subprocess.run(["bash", fetch_script(), "--print-dir"], capture_output=True, text=True, timeout=1800)
    if p.returncode == UNREACHABLE:
        raise Unreachable("apt cannot reach Debian's package registry, so there is no Linux guest set "
                          f"(tools/fetch-linux-guest.sh):\n{p.stderr}")
    if p.returncode != 0:
        raise RuntimeError(f"tools/fetch-linux-guest.sh failed with {p.returncode}:\n{p.stderr}")
    return p.stdout.strip().splitlines()[-1]


def marker(cpus):
    return f"{MARKER} cpus={cpus}".encode()


def cmdline(test=None, extra=""):
    """The example's command line plus gunyah.test=TEST for /init."""
    words = [example_spec()["kernel"]["cmdline"]]
    if test:
        words.append(f"gunyah.test={test}")
    if extra:
        words.append(extra)
    return " ".join(words)


def example_spec():
    with open(os.path.join(os.environ.get("GUNYAH_EXAMPLES_DIR", os.path.join(SOURCE_ROOT, "examples")),
                           "linux.json")) as f:
        return json.load(f)


def spec(name, gdir, vcpus=2, test=None, extra="", **overrides):
    """examples/linux.json with absolute paths into gdir and the given changes."""
    d = example_spec()
    d["name"] = name
    d["vcpus"] = vcpus
    d["kernel"]["path"] = os.path.join(gdir, os.path.basename(d["kernel"]["path"]))
    d["kernel"]["cmdline"] = cmdline(test, extra)
    d["initrd"] = os.path.join(gdir, os.path.basename(d["initrd"]))
    d.update(overrides)
    return d


def qemu_args(gdir, vcpus, append, extra=()):
    """qemu-system-aarch64 -M virt,gic-version=3 (TCG) on the same kernel, initramfs
    and command line as the sim, console on stdio."""
    mem = example_spec()["memory"]["size"]
    mem = {"1G": "1024"}.get(mem, mem)
    return [shutil.which("qemu-system-aarch64") or "qemu-system-aarch64",
            "-M", "virt,gic-version=3", "-cpu", "cortex-a57", "-smp", str(vcpus), "-m", mem,
            "-display", "none", "-nodefaults", "-serial", "stdio", "-no-reboot",
            "-kernel", os.path.join(gdir, "Image"), "-initrd", os.path.join(gdir, "initrd.gz"),
            "-append", append, *extra]


class Qemu:
    """A QEMU run whose console is read as it comes, for the reference tests."""

    def __init__(self, gdir, vcpus=1, append=None, extra=()):
        self.args = qemu_args(gdir, vcpus, append if append is not None else cmdline(), extra)
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.out = b""
        self.sel = selectors.DefaultSelector()
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)

    def read_until(self, what, timeout=BOOT_TIMEOUT):
        """Reads the console until the bytes or regex pattern shows up or QEMU exits;
        returns the time it took from the start of QEMU, or None."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(what, self.out) if isinstance(what, re.Pattern) else what in self.out
            if found:
                return time.monotonic() - self.t0
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if self.sel.select(min(left, 1.0)):
                chunk = self.proc.stdout.read(65536)
                if not chunk:
                    return None
                self.out += chunk

    def write(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def wait(self, timeout=BOOT_TIMEOUT):
        """Waits for QEMU to exit (the guest powered off or reset, with -no-reboot);
        returns its exit status, or None after the timeout."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.read_until(b"\0never\0", timeout=min(1.0, deadline - time.monotonic()))
        self.read_until(b"\0never\0", timeout=0.2)
        return self.proc.poll()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.sel.close()
        self.proc.stdout.close()
        self.proc.stdin.close()

    def text(self):
        return self.out.decode(errors="replace")
