# SPDX-License-Identifier: LGPL-2.1-or-later
"""Real components for the integration tests: a private dbus-daemon, a
gunyahd on the simulator with temporary directories, gunyahctl and busctl.

Paths come from the environment meson test sets (see meson.build here):
GUNYAHD, GUNYAHCTL, GUNYAH_VCPU, GUNYAH_GUEST_DIR.
"""
import json
import os
import shutil
import socket
import signal
import subprocess
import tempfile
import time

import dbus

BUS_NAME = "org.gunyah.Manager1"
MANAGER_PATH = "/org/gunyah/Manager1"
MANAGER_IFACE = "org.gunyah.Manager1"
VM_IFACE = "org.gunyah.VM1"
PROPS_IFACE = "org.freedesktop.DBus.Properties"


def env_path(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run the integration tests through meson test")
    return value


def keeper_path():
    """gunyah-keeper: $GUNYAH_KEEPER, else beside gunyahd in the build tree
    (suites that set only GUNYAHD, GUNYAH_VCPU and GUNYAH_DEVICE)."""
    value = os.environ.get("GUNYAH_KEEPER")
    if value:
        return value
    return os.path.join(os.path.dirname(env_path("GUNYAHD")), "..", "keeper", "gunyah-keeper")


def guest_path(name):
    return os.path.join(env_path("GUNYAH_GUEST_DIR"), name + ".elf")


class Bus:
    """A private dbus-daemon: the session configuration with a socket in
    workdir, or whatever config_args name (a system-bus-like config file)."""

    def __init__(self, workdir, config_args=None):
        if config_args is None:
            config_args = ["--session", f"--address=unix:dir={workdir}"]
        self.proc = subprocess.Popen(
            ["dbus-daemon", *config_args, "--nofork", "--print-address=1", "--nopidfile"],
            stdout=subprocess.PIPE, text=True)
        self.address = self.proc.stdout.readline().strip()
        if not self.address:
            raise RuntimeError("dbus-daemon did not print its address")
        self._conn = None

    @property
    def conn(self):
        if self._conn is None:
            self._conn = dbus.bus.BusConnection(self.address)
        return self._conn

    def has_owner(self, name):
        obj = self.conn.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus")
        return bool(obj.NameHasOwner(name, dbus_interface="org.freedesktop.DBus"))

    def stop(self):
        if self._conn is not None:
            self._conn.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Daemon:
    """gunyahd --backend=sim on a Bus, with its own state/log/runtime/config dirs."""

    def __init__(self, bus, workdir, extra_args=(), stop_vms_on_exit=True):
        self.bus = bus
        self.workdir = workdir
        self.dirs = {d: os.path.join(workdir, d) for d in ("state", "log", "run", "etc")}
        for d in self.dirs.values():
            os.makedirs(d, exist_ok=True)
        # Tests end their daemon with SIGTERM and expect its VMs gone with it;
        # the tests of VMs outliving the daemon (the default) say so.
        self.extra_args = (["--stop-vms-on-exit"] if stop_vms_on_exit else []) + list(extra_args)
        self.worker_binary = None  # default: $GUNYAH_VCPU
        self.notify_socket = None  # a test acting as the service manager sets it
        self.proc = None
        self.log_path = os.path.join(workdir, "gunyahd.log")

    def spawn(self):
        """Execs gunyahd and returns at once (start() also waits for its bus name)."""
        args = [env_path("GUNYAHD"), "--backend=sim", f"--bus-address={self.bus.address}",
                f"--state-dir={self.dirs['state']}", f"--log-dir={self.dirs['log']}",
                f"--runtime-dir={self.dirs['run']}", f"--config-dir={self.dirs['etc']}",
                f"--worker-binary={self.worker_binary or env_path('GUNYAH_VCPU')}",
                f"--device-binary={env_path('GUNYAH_DEVICE')}",
                f"--keeper-binary={keeper_path()}",
                "--log-level=debug", "--worker-user=65534"] + self.extra_args
        self.log = open(self.log_path, "a")
        # its own process group: killing the group also ends workers that a
        # killed daemon leaves behind (they outlive it by design)
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, NOTIFY_SOCKET=self.notify_socket or ""),
                                     start_new_session=True)

    def start(self, timeout=10):
        self.spawn()
        deadline = time.monotonic() + timeout
        dbus_obj = self.bus.conn.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunyahd exited with {self.proc.returncode}:\n{self.read_log()}")
            if dbus_obj.NameHasOwner(BUS_NAME, dbus_interface="org.freedesktop.DBus"):
                # It takes the name before it loads its VMs and adopts
                # running ones, and answers only after: one round trip and
                # its start-up is over (what a test then looks at is done).
                self.bus.conn.get_object(BUS_NAME, MANAGER_PATH).Ping(
                    dbus_interface="org.freedesktop.DBus.Peer", timeout=timeout)
                return
            time.sleep(0.02)
        raise RuntimeError(f"gunyahd did not take {BUS_NAME} in {timeout}s:\n{self.read_log()}")

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.log.close()

    def kill(self):
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def device_pids(self, vm):
        """PIDs of this daemon's gunyah-device children serving VM vm (by
        their command line; one that is forked but not yet exec'd is not)."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
                with open(f"/proc/{entry}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == self.proc.pid and os.path.basename(argv[0]) == b"gunyah-device" and \
                    f"--vm={vm}".encode() in argv:
                pids.append(int(entry))
        return pids

    def console_log(self, name):
        """What VM name wrote to its console so far (its log file), b"" if nothing."""
        try:
            with open(os.path.join(self.dirs["log"], name + ".log"), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def read_log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    # --- D-Bus helpers ---
    def manager(self):
        return dbus.Interface(self.bus.conn.get_object(BUS_NAME, MANAGER_PATH), MANAGER_IFACE)

    def vm_path(self, name):
        return str(self.manager().GetVM(name))

    def vm(self, name):
        return dbus.Interface(self.bus.conn.get_object(BUS_NAME, self.vm_path(name)), VM_IFACE)

    def vm_props(self, name):
        obj = self.bus.conn.get_object(BUS_NAME, self.vm_path(name))
        return obj.GetAll(VM_IFACE, dbus_interface=PROPS_IFACE)

    def state(self, name):
        p = self.vm_props(name)
        return str(p["State"]), str(p["StateReason"])

    def wait_state(self, name, states, timeout=20):
        if isinstance(states, str):
            states = (states,)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.state(name)
            if last[0] in states:
                return last
            time.sleep(0.02)
        raise AssertionError(f"VM {name} is {last}, expected one of {states} within {timeout}s\n"
                             f"daemon log:\n{self.read_log()[-4000:]}")

    def ctl(self, *args, check=True, timeout=30, input=None):
        cmd = [env_path("GUNYAHCTL"), f"--bus-address={self.bus.address}"] + [str(a) for a in args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input)
        if check and p.returncode != 0:
            raise AssertionError(f"{cmd} exited {p.returncode}\nstdout:{p.stdout}\nstderr:{p.stderr}\n"
                                 f"daemon log:\n{self.read_log()[-4000:]}")
        return p


def spec(name, guest="hello", vcpus=1, **extra):
    d = {"name": name, "vcpus": vcpus, "memory": {"size": "64M"},
         "kernel": {"path": guest_path(guest)}}
    d.update(extra)
    return d


def spec_json(*args, **kwargs):
    return json.dumps(spec(*args, **kwargs))


class Env:
    """A bus and a daemon, torn down even when the test fails."""

    def __init__(self, daemon_args=(), stop_vms_on_exit=True):
        self.tmp = tempfile.mkdtemp(prefix="gunyah-it-")
        self.bus = Bus(self.tmp)
        self.daemon = Daemon(self.bus, self.tmp, daemon_args, stop_vms_on_exit)

    def close(self):
        try:
            self.daemon.kill()
        finally:
            self.bus.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)


def read_console(gd, name, until, timeout=10):
    """What a reader of VM name's console gets on attaching (the replay and
    on), until `until` is in it or timeout."""
    fd = gd.vm(name).OpenConsole()
    s = socket.socket(fileno=fd.take())
    s.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while until not in data and time.monotonic() < deadline:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    return data
