# SPDX-License-Identifier: LGPL-2.1-or-later
"""The device processes' sandbox (issue 12, docs/sandbox.md): a real
gunyah-device serving a real disk of a real VM, read back through /proc,
the way test_sandbox.py checks the vCPU workers.

Tests named *hook* need a build with -Dsandbox-test-hooks=true; meson
registers them only there (GUNYAH_SANDBOX_TEST_HOOKS=1)."""
import os
import re
import signal
import subprocess
import time

import dbus
import pytest

from gunyah_harness import env_path, spec_json
from test_sandbox import HOOK_MARKER, HOOKS, NAMESPACES, WORKER_UID, make_env, needs_hooks, status_fields  # noqa: F401

START = 2
SHARE = {"size": "64M", "mode": "share"}
# The disks are the VMs' only devices here (rng is on by default in a
# shared VM): the tests count and name device processes. The rng device's
# own sandbox is test_rng_device_process_is_confined_the_same_way.
NO_RNG = {"rng": False}


@pytest.fixture
def image(tmp_path):
    """A small raw image; the test guests never touch it, the device serves it anyway."""
    path = tmp_path / "disk.img"
    with open(path, "wb") as f:
        f.truncate(1 << 20)
    return str(path)


def start_with_disk(gd, name, image, guest="spin", vcpus=1, readonly=False):
    gd.manager().CreateVM(spec_json(name, guest, vcpus=vcpus, memory=SHARE, **NO_RNG,
                                    disks=[{"path": image, "readonly": readonly, "serial": "sb0"}]),
                          dbus.UInt64(START))
    gd.wait_state(name, "running")
    # READY comes after the filter: wait for it, not just for the process.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pids = gd.device_pids(name)
        if pids and f"VM {name}: device disk0 (pid {pids[0]}) ready" in gd.read_log():
            return pids[0]
        time.sleep(0.02)
    raise AssertionError(f"no ready device process for {name}:\n{gd.read_log()[-3000:]}")


def fd_targets(pid):
    return {int(fd): os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}


def limits(pid):
    with open(f"/proc/{pid}/limits") as f:
        return {line[:26].strip(): line[26:].split() for line in f.read().splitlines()[1:]}


def test_device_process_is_unprivileged_without_caps_with_seccomp(gd, image):
    pid = start_with_disk(gd, "conf", image)
    st = status_fields(pid)
    for key in ("Uid", "Gid"):
        assert st[key].split() == [str(WORKER_UID)] * 4, f"{key} of device {pid}: {st[key]!r}"
    assert st["Groups"].split() == [], st["Groups"]
    for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(st[key], 16) == 0, f"{key} of device {pid}: {st[key]}"
    assert st["NoNewPrivs"].strip() == "1", st["NoNewPrivs"]
    assert st["Seccomp"].strip() == "2", st["Seccomp"]
    # one filter: the block allow-list, loaded once everything is mapped (no idle phase)
    assert st["Seccomp_filters"].strip() == "1", st["Seccomp_filters"]
    assert st["Threads"].strip() == "1", "the device process must stay single-threaded"
    # not dumpable: the kernel then gives its /proc/PID files to root, although it runs as 65534
    assert os.stat(f"/proc/{pid}/status").st_uid == 0, "the device process must not be dumpable"
    with open(f"/proc/{pid}/stat") as f:
        nice = int(f.read().rsplit(")", 1)[1].split()[16])
    assert nice == 10, f"the device process runs at nice 10 like the workers, not {nice}"


def test_device_process_holds_exactly_its_fds_and_limits(gd, image):
    pid = start_with_disk(gd, "fds", image)
    fds = fd_targets(pid)
    assert sorted(fds) == list(range(9)), fds
    assert fds[0] == fds[1] == "/dev/null", fds
    assert fds[2] == os.readlink(f"/proc/{gd.proc.pid}/fd/2"), (fds[2], "stderr must be the daemon's log")
    assert fds[3].startswith("socket:"), fds
    assert fds[4] == "/memfd:gunyah-virtio-regs (deleted)", fds
    assert fds[5] == fds[6] == "anon_inode:[eventfd]", fds
    assert fds[7] == image, fds
    assert fds[8].startswith("/memfd:"), fds
    # the image is open for writing (the disk is not readonly): O_RDWR in flags
    with open(f"/proc/{pid}/fdinfo/7") as f:
        flags = int(next(line for line in f if line.startswith("flags:")).split()[1], 8)
    assert flags & os.O_ACCMODE == os.O_RDWR, oct(flags)
    lim = limits(pid)
    assert lim["Max open files"][:2] == ["9", "9"], lim["Max open files"]
    assert lim["Max core file size"][:2] == ["0", "0"], lim["Max core file size"]
    assert lim["Max processes"][:2] == ["0", "0"], lim["Max processes"]


def test_readonly_disk_is_handed_read_only(gd, image):
    pid = start_with_disk(gd, "ro", image, readonly=True)
    with open(f"/proc/{pid}/fdinfo/7") as f:
        flags = int(next(line for line in f if line.startswith("flags:")).split()[1], 8)
    assert flags & os.O_ACCMODE == os.O_RDONLY, oct(flags)


def test_device_process_has_an_empty_read_only_root_and_own_namespaces(gd, image):
    pid = start_with_disk(gd, "ns", image)
    root = f"/proc/{pid}/root"
    # Not readlink(root) == "/": seen from a chroot (tools/fresh-check.sh) the
    # kernel names the device's root by where it sits in the machine's tree.
    # Its one mount below, at its "/", says the same everywhere.
    assert os.listdir(root) == [], "the device's root must be empty"
    assert os.statvfs(root).f_flag & os.ST_RDONLY, "the device's root must be read-only"
    with open(f"/proc/{pid}/mountinfo") as f:
        mounts = [line.split() for line in f.read().splitlines()]
    assert len(mounts) == 1, f"only the empty root may be mounted: {mounts}"
    fields = mounts[0]
    sep = fields.index("-")
    assert fields[4] == "/" and fields[sep + 1] == "tmpfs", fields
    assert "ro" in fields[5].split(","), fields
    assert fields[sep + 2] == "gunyah-device", f"the root tmpfs is named after its process: {fields}"
    for ns in NAMESPACES:
        mine, its = os.readlink(f"/proc/self/ns/{ns}"), os.readlink(f"/proc/{pid}/ns/{ns}")
        assert mine != its, f"device shares the daemon's {ns} namespace ({its})"
    with open(f"/proc/{pid}/net/dev") as f:
        ifaces = [line.split(":")[0].strip() for line in f.read().splitlines()[2:]]
    assert ifaces == ["lo"], f"device network namespace has {ifaces}"


def test_each_disk_gets_its_own_device_process(gd, tmp_path):
    images = []
    for k in range(2):
        path = tmp_path / f"d{k}.img"
        with open(path, "wb") as f:
            f.truncate(1 << 20)
        images.append({"path": str(path)})
    gd.manager().CreateVM(spec_json("two", "spin", memory=SHARE, disks=images, **NO_RNG), dbus.UInt64(START))
    gd.wait_state("two", "running")
    deadline = time.monotonic() + 10
    while len(gd.device_pids("two")) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    pids = gd.device_pids("two")
    assert len(pids) == 2, pids
    # each holds its own image and nothing of the other's
    assert sorted(fd_targets(pid)[7] for pid in pids) == sorted(i["path"] for i in images)


def test_rng_device_process_is_confined_the_same_way(gd):
    """The rng device (on by default in a shared VM): the worker user, no
    capabilities, its own seccomp filter, /dev/null at fd 7, nothing more."""
    gd.manager().CreateVM(spec_json("rng", "spin", memory=SHARE), dbus.UInt64(START))
    gd.wait_state("rng", "running")
    deadline = time.monotonic() + 10
    while not ((pids := gd.device_pids("rng")) and f"VM rng: device rng (pid {pids[0]}) ready" in gd.read_log()):
        assert time.monotonic() < deadline, gd.read_log()[-3000:]
        time.sleep(0.02)
    assert len(pids) == 1, pids
    st = status_fields(pids[0])
    assert st["Uid"].split() == [str(WORKER_UID)] * 4, st["Uid"]
    assert int(st["CapEff"], 16) == 0 and int(st["CapBnd"], 16) == 0, (st["CapEff"], st["CapBnd"])
    assert st["NoNewPrivs"].strip() == "1" and st["Seccomp"].strip() == "2", (st["NoNewPrivs"], st["Seccomp"])
    fds = fd_targets(pids[0])
    assert sorted(fds) == list(range(9)), fds
    assert fds[7] == "/dev/null", fds
    assert "--type=rng" in open(f"/proc/{pids[0]}/cmdline").read().split("\0")


def test_no_sandbox_device_process_runs_unconfined_with_a_warning(make_env, image):
    gd = make_env("--no-sandbox")
    pid = start_with_disk(gd, "open", image)
    st = status_fields(pid)
    assert st["Seccomp"].strip() == "0" and st["NoNewPrivs"].strip() == "0", (st["Seccomp"], st["NoNewPrivs"])
    assert st["Uid"].split()[0] == str(os.getuid())
    assert os.readlink(f"/proc/{pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt")
    assert "VM open: starting its device processes WITHOUT their sandbox" in gd.read_log()


def test_device_by_hand_says_it_is_started_by_gunyahd(tmp_path):
    device = env_path("GUNYAH_DEVICE")
    p = subprocess.run([device, "--help"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0 and "gunyahd" in p.stdout and "--uid=UID" in p.stdout, (p.returncode, p.stdout)
    p = subprocess.run([device, "--type=block", "--vm=x", "--device=d", "--memory=0x40000000:4096",
                        "--no-sandbox"], capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    assert p.returncode != 0 and "started by gunyahd only" in p.stderr, p.stderr
    p = subprocess.run([device, "--type=block", "--vm=x", "--device=d", "--memory=0x40000000:4096"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode != 0 and "--uid and --gid are required" in p.stderr, p.stderr


@pytest.mark.skipif(HOOKS, reason="checks the default build")
def test_default_build_has_no_attempt_code_or_option():
    device = env_path("GUNYAH_DEVICE")
    with open(device, "rb") as f:
        assert HOOK_MARKER not in f.read(), "the default build's device program contains the test hooks"
    p = subprocess.run([device, "--test-hook=openat", "--no-sandbox"], capture_output=True, text=True, timeout=10)
    assert p.returncode != 0 and "unrecognized option" in p.stderr, p.stderr
    p = subprocess.run([env_path("GUNYAHD"), "--device-test-hook=x:openat"], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode != 0 and "unrecognized option" in p.stderr, p.stderr


@needs_hooks
def test_hook_build_is_marked():
    with open(env_path("GUNYAH_DEVICE"), "rb") as f:
        assert HOOK_MARKER in f.read(), "the marker the default-build test looks for is missing"


# Every attempt is outside the block allow-list: the kernel kills the device with SIGSYS.
HOOK_ATTEMPTS = ["openat", "socket", "execve", "ptrace", "mmap", "write-control", "pwritev-regs", "read-irq"]


@needs_hooks
@pytest.mark.parametrize("attempt", HOOK_ATTEMPTS)
def test_hook_forbidden_syscall_kills_only_that_device(make_env, image, tmp_path, attempt):
    gd = make_env(f"--device-test-hook=victim:{attempt}")
    other = str(tmp_path / "other.img")
    with open(other, "wb") as f:
        f.truncate(1 << 20)
    bystander_device = start_with_disk(gd, "bystander", other, vcpus=2)
    bystander_workers = [int(p) for p in gd.vm_props("bystander")["WorkerPIDs"]]
    gd.manager().CreateVM(spec_json("victim", "spin", memory=SHARE, disks=[{"path": image}], **NO_RNG),
                          dbus.UInt64(START))
    state, reason = gd.wait_state("victim", ("stopped", "failed"))
    log = gd.read_log()
    # StateReason names the device and how it died: the exit signal, not the audit log.
    assert state == "stopped", (state, reason, log[-3000:])
    assert re.fullmatch(r"worker-failed: device disk0 \(virtio-blk at 0x[0-9a-f]+\) killed by SIGSYS", reason), reason
    assert f"test-hook: attempting {attempt}" in log, log[-3000:]
    assert "hook-survived" not in log, log[-3000:]
    # ExitInfo says it as for a worker: the signal, no vCPU (a device is none)
    info = gd.vm_props("victim")["ExitInfo"]
    assert int(info.get("signal", 0)) == signal.SIGSYS == 31, dict(info)
    assert int(info.get("vcpu", -1)) == -1, dict(info)
    # The daemon and the other VM, its workers and its device, did not notice.
    assert gd.proc.poll() is None
    assert gd.state("bystander") == ("running", "start")
    assert [int(p) for p in gd.vm_props("bystander")["WorkerPIDs"]] == bystander_workers
    assert gd.device_pids("bystander") == [bystander_device]
    assert status_fields(bystander_device)["State"].split()[0] in "RS"
    assert gd.device_pids("victim") == []


@needs_hooks
def test_hook_seccomp_log_mode_is_test_only_and_still_confines(make_env, image):
    gd = make_env("--device-test-hook=logged:seccomp-log")
    pid = start_with_disk(gd, "logged", image)
    st = status_fields(pid)
    assert st["Seccomp"].strip() == "2" and int(st["CapEff"], 16) == 0 and st["Uid"].split()[0] == str(WORKER_UID)


@needs_hooks
def test_hook_device_test_hook_names_one_vm_only(make_env, image, tmp_path):
    gd = make_env("--device-test-hook=victim:openat")
    pid = start_with_disk(gd, "other", image)
    assert "--test-hook=openat" not in open(f"/proc/{pid}/cmdline").read()
    time.sleep(0.3)
    assert gd.state("other") == ("running", "start")


@needs_hooks
def test_hook_logging_and_time_fallbacks_are_allowed(make_env, image):
    gd = make_env("--device-test-hook=allowed:allowed")
    pid = start_with_disk(gd, "allowed", image)
    deadline = time.monotonic() + 10
    while "test-hook allowed: all returned" not in gd.read_log() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = gd.read_log()
    assert "test-hook allowed: a log line with an errno text: Input/output error" in log, log[-3000:]
    assert "test-hook allowed: all returned" in log, log[-3000:]
    assert gd.state("allowed") == ("running", "start")
    assert gd.device_pids("allowed") == [pid] and status_fields(pid)["State"].split()[0] in "RS"
