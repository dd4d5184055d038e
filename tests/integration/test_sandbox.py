# SPDX-License-Identifier: LGPL-2.1-or-later
"""The vCPU workers' sandbox (issue 5, docs/sandbox.md): real workers, real
kernel enforcement, read back through /proc.

Tests named *hook* need a build with -Dsandbox-test-hooks=true; meson
registers them only there (GUNYAH_SANDBOX_TEST_HOOKS=1)."""
import os
import signal
import subprocess
import time

import dbus
import pytest

from gunyah_harness import Env, env_path, spec_json

START = 2
WORKER_UID = 65534  # the harness runs workers as --worker-user=65534
HOOKS = os.environ.get("GUNYAH_SANDBOX_TEST_HOOKS") == "1"
HOOK_MARKER = b"GUNYAH-SANDBOX-TEST-HOOKS-ENABLED"
NAMESPACES = ("mnt", "net", "ipc", "uts")

needs_hooks = pytest.mark.skipif(not HOOKS, reason="needs meson -Dsandbox-test-hooks=true")


@pytest.fixture
def make_env():
    envs = []

    def make(*daemon_args):
        e = Env(daemon_args)
        envs.append(e)
        e.daemon.start()
        return e.daemon
    yield make
    for e in envs:
        e.close()


def status_fields(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.split(":", 1) for line in f.read().splitlines())


def worker_pids(gd, name):
    return [int(p) for p in gd.vm_props(name)["WorkerPIDs"]]


def start_running(gd, name, guest="spin", vcpus=1):
    gd.manager().CreateVM(spec_json(name, guest, vcpus=vcpus), dbus.UInt64(START))
    gd.wait_state(name, "running")
    pids = worker_pids(gd, name)
    assert len(pids) == vcpus, pids
    return pids


def assert_unprivileged_with_seccomp(pid, what, filters):
    st = status_fields(pid)
    for key in ("Uid", "Gid"):
        assert st[key].split() == [str(WORKER_UID)] * 4, f"{key} of {what} {pid}: {st[key]!r}"
    assert st["Groups"].split() == [], f"supplementary groups of {what} {pid}: {st['Groups']!r}"
    for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(st[key], 16) == 0, f"{key} of {what} {pid}: {st[key]}"
    assert st["NoNewPrivs"].strip() == "1", f"{what} {pid}: NoNewPrivs {st['NoNewPrivs']!r}"
    assert st["Seccomp"].strip() == "2", f"seccomp mode 2 (filter) expected of {what} {pid}: {st['Seccomp']!r}"
    assert st["Seccomp_filters"].strip() == str(filters), f"filters of {what} {pid}: {st['Seccomp_filters']!r}"
    assert st["Threads"].strip() == "1", f"{what} {pid} must stay single-threaded"
    # guest code runs below everything else: any other task waking up takes the CPU at once
    assert os.sched_getscheduler(pid) == os.SCHED_IDLE, f"{what} {pid}: policy {os.sched_getscheduler(pid)}, not SCHED_IDLE"


def test_running_worker_is_unprivileged_without_caps_with_seccomp(gd):
    for pid in start_running(gd, "conf", vcpus=2):
        # the idle filter, loaded before it read its config, and the backend's on top
        assert_unprivileged_with_seccomp(pid, "worker", filters=2)


def test_running_worker_holds_only_the_protocol_fds(gd):
    pid = start_running(gd, "fds")[0]
    fds = {int(fd): os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    # sim: 6 = the VM's shared state memfd, 7 = guest memory memfd
    assert sorted(fds) == [0, 1, 2, 3, 4, 5, 6, 7], fds
    assert fds[0] == fds[1] == "/dev/null", fds
    assert fds[3].startswith("socket:") and fds[4].startswith("socket:"), fds
    assert fds[5] == "/memfd:gunyah-devices (deleted)", fds
    assert all(fds[fd].startswith("/memfd:") for fd in (6, 7)), fds
    with open(f"/proc/{pid}/limits") as f:
        limits = {line[:26].strip(): line[26:].split() for line in f.read().splitlines()[1:]}
    assert limits["Max open files"][:2] == ["8", "8"], limits["Max open files"]
    assert limits["Max core file size"][:2] == ["0", "0"]
    assert limits["Max processes"][:2] == ["0", "0"]


def test_running_worker_has_an_empty_read_only_root_and_own_namespaces(gd):
    pid = start_running(gd, "ns")[0]
    root = f"/proc/{pid}/root"
    assert os.listdir(root) == [], "the worker's root must be empty"
    assert os.statvfs(root).f_flag & os.ST_RDONLY, "the worker's root must be read-only"
    for ns in NAMESPACES:
        mine, its = os.readlink(f"/proc/self/ns/{ns}"), os.readlink(f"/proc/{pid}/ns/{ns}")
        assert mine != its, f"worker shares the daemon's {ns} namespace ({its})"
    # Documented: no PID namespace, the simulator's cross-worker kick needs real pids.
    assert os.readlink(f"/proc/self/ns/pid") == os.readlink(f"/proc/{pid}/ns/pid")
    with open(f"/proc/{pid}/net/dev") as f:
        ifaces = [line.split(":")[0].strip() for line in f.read().splitlines()[2:]]
    assert ifaces == ["lo"], f"worker network namespace has {ifaces}"


def test_gunyahctl_status_lists_sandboxed_worker_pids(gd):
    pids = start_running(gd, "st", vcpus=2)
    out = gd.ctl("status", "st").stdout
    for pid in pids:
        assert str(pid) in out, f"gunyahctl status does not list worker {pid}:\n{out}"
        st = status_fields(pid)
        assert st["Uid"].split()[0] != "0" and int(st["CapEff"], 16) == 0
        assert st["NoNewPrivs"].strip() == "1" and st["Seccomp"].strip() == "2"


def test_missing_worker_user_fails_the_start_clearly(make_env):
    gd = make_env("--worker-user=gunyah-no-such-user")
    gd.manager().CreateVM(spec_json("nouser", "spin"), dbus.UInt64(0))
    with pytest.raises(dbus.DBusException) as e:
        gd.vm("nouser").Start()
    assert "worker user 'gunyah-no-such-user' does not exist" in e.value.get_dbus_message()
    state, reason = gd.state("nouser")
    assert state == "failed" and reason.startswith("load-failed: worker-user: ESRCH"), (state, reason)
    assert gd.vm_props("nouser")["ExitInfo"]["step"] == "worker-user"
    assert gd.proc.poll() is None, "the daemon must survive"


def test_worker_refuses_root_and_the_vm_fails_with_the_sandbox_step(make_env):
    gd = make_env("--worker-user=0")
    gd.manager().CreateVM(spec_json("asroot", "spin"), dbus.UInt64(START))
    state, reason = gd.wait_state("asroot", "failed")
    assert reason == "load-failed: sandbox-setgid: EPERM (worker of vCPU 0)", reason
    assert gd.vm_props("asroot")["ExitInfo"]["step"] == "sandbox-setgid"


def test_no_sandbox_is_a_feature_and_warns_on_every_start(make_env):
    gd = make_env("--no-sandbox")
    features = [str(f) for f in gd.bus.conn.get_object("org.gunyah.Manager1", "/org/gunyah/Manager1").Get(
        "org.gunyah.Manager1", "Features", dbus_interface="org.freedesktop.DBus.Properties")]
    assert "no-sandbox" in features, features
    gd.manager().CreateVM(spec_json("open", "spin"), dbus.UInt64(START))
    gd.wait_state("open", "running")
    pid = worker_pids(gd, "open")[0]
    assert status_fields(pid)["Seccomp"].strip() == "0"
    gd.vm("open").Kill()
    gd.wait_state("open", "stopped")
    gd.vm("open").Start()
    gd.wait_state("open", "running")
    warnings = [line for line in gd.read_log().splitlines() if "VM open: starting its vCPU workers WITHOUT" in line]
    assert len(warnings) == 2, f"expected one warning per start, got {warnings}"


@pytest.mark.skipif(HOOKS, reason="checks the default build")
def test_default_build_has_no_attempt_code_or_option():
    worker = env_path("GUNYAH_VCPU")
    with open(worker, "rb") as f:
        assert HOOK_MARKER not in f.read(), "the default build's worker contains the test hooks"
    p = subprocess.run([worker, "--test-hook=openat", "--no-sandbox"], capture_output=True, text=True, timeout=10)
    assert p.returncode != 0 and "unrecognized option" in p.stderr, p.stderr
    p = subprocess.run([env_path("GUNYAHD"), "--worker-test-hook=x:openat"], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode != 0 and "unrecognized option" in p.stderr, p.stderr


def test_worker_by_hand_says_it_is_started_by_gunyahd():
    worker = env_path("GUNYAH_VCPU")
    p = subprocess.run([worker, "--help"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0 and "gunyahd" in p.stdout and "--uid=UID" in p.stdout, (p.returncode, p.stdout)
    # no control socket on fd 3: refused before anything else happens
    p = subprocess.run([worker, "--no-sandbox"], capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    assert p.returncode != 0 and "started by gunyahd only" in p.stderr, p.stderr
    p = subprocess.run([worker], capture_output=True, text=True, timeout=10)
    assert p.returncode != 0 and "--uid and --gid are required" in p.stderr, p.stderr
    # the VM is no command-line matter any more
    p = subprocess.run([worker, "--no-sandbox", "--vm=x"], capture_output=True, text=True, timeout=10)
    assert p.returncode != 0 and "unrecognized option" in p.stderr, p.stderr


@needs_hooks
def test_hook_build_is_marked():
    with open(env_path("GUNYAH_VCPU"), "rb") as f:
        assert HOOK_MARKER in f.read(), "the marker the default-build test looks for is missing"


# Every attempt is outside the allow-list: the kernel kills the worker with SIGSYS.
HOOK_ATTEMPTS = ["openat", "socket", "execve", "ptrace", "mount", "kill", "ioctl", "setuid"]


@needs_hooks
@pytest.mark.parametrize("attempt", HOOK_ATTEMPTS)
def test_hook_forbidden_syscall_kills_only_that_worker(make_env, attempt):
    gd = make_env(f"--worker-test-hook=victim:{attempt}")
    bystander = start_running(gd, "bystander", vcpus=2)
    gd.manager().CreateVM(spec_json("victim", "spin"), dbus.UInt64(START))
    state, reason = gd.wait_state("victim", ("stopped", "failed"))
    info = gd.vm_props("victim")["ExitInfo"]
    assert (state, reason) == ("stopped", "worker-failed"), (state, reason, dict(info), gd.read_log()[-3000:])
    assert int(info["signal"]) == signal.SIGSYS == 31, dict(info)
    assert f"test-hook: attempting {attempt}" in gd.read_log()
    # The daemon and the other VM did not notice.
    assert gd.proc.poll() is None
    assert gd.state("bystander") == ("running", "start")
    assert worker_pids(gd, "bystander") == bystander
    assert all(status_fields(pid)["State"].split()[0] in "RS" for pid in bystander)
    assert len(gd.manager().ListVMs()) == 2


@needs_hooks
def test_hook_layers_below_seccomp_refuse_on_their_own(make_env):
    gd = make_env("--worker-test-hook=layers:layers")
    start_running(gd, "layers")
    assert "test-hook layers: all attempts refused below seccomp" in gd.read_log(), gd.read_log()[-3000:]


@needs_hooks
def test_hook_seccomp_log_mode_is_test_only_and_still_confines(make_env):
    gd = make_env("--worker-test-hook=logged:seccomp-log")
    pid = start_running(gd, "logged")[0]
    st = status_fields(pid)
    assert st["Seccomp"].strip() == "2" and int(st["CapEff"], 16) == 0


# The time syscalls the vDSO falls back to (clocksource without a vDSO mode,
# e.g. hpet under QEMU TCG), made as real syscalls by a running worker: all
# allowed, the worker lives on (docs/sandbox.md).
CLOCK_SYSCALLS = ["clock_gettime", "gettimeofday", "clock_getres"] + (["time"] if os.uname().machine == "x86_64" else [])


@needs_hooks
def test_hook_vdso_time_fallbacks_are_allowed(make_env):
    gd = make_env("--worker-test-hook=clock:clock-syscalls")
    pid = start_running(gd, "clock")[0]
    deadline = time.monotonic() + 10
    while "test-hook clock-syscalls: " + CLOCK_SYSCALLS[-1] not in gd.read_log() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = gd.read_log()
    for name in CLOCK_SYSCALLS:
        assert f"test-hook clock-syscalls: {name} allowed" in log, (name, log[-3000:])
    assert gd.state("clock") == ("running", "start")
    assert worker_pids(gd, "clock") == [pid] and status_fields(pid)["State"].split()[0] in "RS"
