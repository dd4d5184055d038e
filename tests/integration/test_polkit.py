# SPDX-License-Identifier: LGPL-2.1-or-later
"""polkit authorization of the D-Bus API (issue 6 item 3), with real
components: a dbus-daemon with a system-bus configuration, the real polkitd
on it (in a mount namespace where our actions and a test rules directory
replace the host's), gunyahd on that bus, and callers running as uid 65534."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import dbus
import pytest

from gunyah_harness import Bus, Daemon, spec_json

POLKITD = "/usr/lib/polkit-1/polkitd"
NOBODY = 65534
HERE = os.path.dirname(os.path.abspath(__file__))
CALLER = os.path.join(HERE, "polkit", "caller.py")
POLICY = os.path.join(HERE, "..", "..", "policy", "org.gunyah.policy")
DENIED = "org.freedesktop.DBus.Error.AccessDenied"
INTERACTIVE = "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"

# Used when the tree has no policy/org.gunyah.policy: the two actions.
FALLBACK_POLICY = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE policyconfig PUBLIC "-//freedesktop//DTD PolicyKit Policy Configuration 1.0//EN"
        "http://www.freedesktop.org/standards/PolicyKit/1/policyconfig.dtd">
<policyconfig>
  <action id="org.gunyah.manage-vms">
    <description>Manage Gunyah VMs</description><message>Manage Gunyah VMs</message>
    <defaults><allow_any>auth_admin_keep</allow_any><allow_inactive>auth_admin_keep</allow_inactive>
      <allow_active>auth_admin_keep</allow_active></defaults>
  </action>
  <action id="org.gunyah.console">
    <description>Open a Gunyah VM console</description><message>Open a Gunyah VM console</message>
    <defaults><allow_any>auth_admin_keep</allow_any><allow_inactive>auth_admin_keep</allow_inactive>
      <allow_active>auth_admin_keep</allow_active></defaults>
  </action>
</policyconfig>
"""

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""

# Deterministic "no" for the unprivileged test user where no other rule
# answered first (rules files run in name order), so the tests see
# AccessDenied rather than polkit's default auth_admin challenge.
DENY_RULES = """polkit.addRule(function(action, subject) {
    if (action.id.indexOf("org.gunyah.") == 0 && subject.user == "nobody")
        return polkit.Result.NO;
});
"""

# Grants exactly: start/set-autostart of VM "a", console of "a", and create;
# kill, stop and destroy stay denied, which proves the details arrive.
GRANT_RULES = """polkit.addRule(function(action, subject) {
    if (subject.user != "nobody")
        return;
    var vm = action.lookup("vm"), verb = action.lookup("verb");
    if (action.id == "org.gunyah.manage-vms" && vm == "a" && (verb == "start" || verb == "set-autostart"))
        return polkit.Result.YES;
    if (action.id == "org.gunyah.manage-vms" && vm == undefined && verb == "create")
        return polkit.Result.YES;
    if (action.id == "org.gunyah.console" && vm == "a" && verb == "console")
        return polkit.Result.YES;
});
"""

# Holds polkitd in the check of VM "slow" until the test creates the file
# GATE (polkit.spawn() waits for its helper, at most 10 s), then denies.
GATED_RULES = """polkit.addRule(function(action, subject) {
    if (action.lookup("vm") == "slow") {
        polkit.spawn(["/bin/sh", "-c", "while [ ! -e GATE ]; do sleep 0.05; done"]);
        return polkit.Result.NO;
    }
});
"""


class SystemBus(Bus):
    """dbus-daemon with a system-bus configuration on a socket in workdir,
    reachable by every uid."""

    def __init__(self, workdir):
        sock = os.path.join(workdir, "system_bus_socket")
        config = os.path.join(workdir, "bus.conf")
        with open(config, "w") as f:
            f.write(BUS_CONFIG.format(socket=sock))
        super().__init__(workdir, [f"--config-file={config}"])


class Polkit:
    """polkitd on bus, seeing only actions_dir and rules_dir (bind mounts in
    a private mount namespace, so the host's directories stay untouched)."""

    def __init__(self, bus, workdir, actions_dir, rules_dir):
        self.log = open(os.path.join(workdir, "polkitd.log"), "w")
        script = ('mount --bind "$1" /usr/share/polkit-1/actions && '
                  'mount --bind "$2" /etc/polkit-1/rules.d && exec "$3" --no-debug')
        self.proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", actions_dir, rules_dir, POLKITD],
            env=dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while not bus.has_owner("org.freedesktop.PolicyKit1"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                with open(self.log.name) as f:
                    raise RuntimeError(f"polkitd did not come up:\n{f.read()}")
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def polkit_unavailable():
    if os.geteuid() != 0:
        return "needs root: polkitd runs in its own mount namespace"
    for tool in ("unshare", "setpriv", "dbus-daemon"):
        if not shutil.which(tool):
            return f"{tool} is not installed"
    if not os.access(POLKITD, os.X_OK):
        return f"{POLKITD} is not installed (Debian package polkitd)"
    if not os.path.isdir("/usr/share/polkit-1/actions") or not os.path.isdir("/etc/polkit-1/rules.d"):
        return "the polkit directories to bind over do not exist"
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        return "cannot create a mount namespace here"
    return None


class PolkitEnv:
    def __init__(self, with_polkit=True, rules=None):
        self.tmp = tempfile.mkdtemp(prefix="gunyah-pk-")
        os.chmod(self.tmp, 0o755)   # the unprivileged callers reach the bus socket through it
        self.actions = os.path.join(self.tmp, "actions")
        self.rules = os.path.join(self.tmp, "rules.d")
        os.makedirs(self.actions)
        os.makedirs(self.rules)
        if os.path.exists(POLICY):
            shutil.copy(POLICY, os.path.join(self.actions, "org.gunyah.policy"))
        else:
            with open(os.path.join(self.actions, "org.gunyah.policy"), "w") as f:
                f.write(FALLBACK_POLICY)
        for name, text in (rules or {}).items():
            self.write_rules(name, text)
        self.bus = SystemBus(self.tmp)
        self.polkit = None
        self.daemon = None
        try:
            if with_polkit:
                self.polkit = Polkit(self.bus, self.tmp, self.actions, self.rules)
            self.daemon = Daemon(self.bus, os.path.join(self.tmp, "gunyahd"))
            self.daemon.start()
        except Exception:
            self.close()
            raise

    def write_rules(self, name, text):
        tmp = os.path.join(self.rules, "." + name)
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, os.path.join(self.rules, name))

    def call(self, verb, *args, background=False):
        """verb(args) on gunyahd as uid 65534; returns the caller's JSON."""
        cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
               sys.executable, "-c", open(CALLER).read(), self.bus.address, verb] + [str(a) for a in args]
        if background:
            return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, f"caller failed: {p.stderr}"
        return json.loads(p.stdout)

    def call_until_ok(self, verb, *args, timeout=20):
        """polkitd picks up rules changes on its own; wait for it, bounded."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.call(verb, *args)
            if "ok" in r or time.monotonic() > deadline:
                return r
            time.sleep(0.2)

    def close(self):
        try:
            if self.daemon:
                self.daemon.kill()
        finally:
            if self.polkit:
                self.polkit.stop()
            self.bus.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture
def make_env():
    """make_env(rules={file: text}, with_polkit=True): a started PolkitEnv."""
    reason = polkit_unavailable()
    if reason and os.environ.get("GUNYAH_REQUIRE_POLKIT") == "1":
        pytest.fail(f"GUNYAH_REQUIRE_POLKIT=1 (CI) but the polkit tests cannot run: {reason}")
    if reason:
        pytest.skip(reason)
    envs = []

    def make(**kwargs):
        envs.append(PolkitEnv(**kwargs))
        return envs[-1]
    try:
        yield make
    finally:
        for e in envs:
            e.close()


@pytest.fixture
def pk(make_env):
    return make_env(rules={"90-deny.rules": DENY_RULES})


def manager(env):
    return dbus.Interface(env.bus.conn.get_object("org.gunyah.Manager1", "/org/gunyah/Manager1"),
                          "org.gunyah.Manager1")


def assert_denied(r, what):
    assert r.get("error") == DENIED, f"{what}: expected AccessDenied, got {r}"


def test_unprivileged_caller_is_denied_then_granted_by_rules(pk):
    manager(pk).CreateVM(spec_json("a", "spin"), dbus.UInt64(0))   # root: no polkit involved

    assert_denied(pk.call("StartVM", "a"), "StartVM")
    assert_denied(pk.call("VM.Start", "a"), "VM1.Start")
    assert_denied(pk.call("CreateVM", spec_json("b")), "CreateVM")
    assert_denied(pk.call("VM.OpenConsole", "a"), "OpenConsole")
    assert_denied(pk.call("SetAutostart", "a", "true"), "Set Autostart")
    assert pk.call("GetState", "a") == {"ok": "defined"}, "the denied calls changed something"
    assert pk.call("GetAutostart", "a") == {"ok": False}

    pk.write_rules("10-grant.rules", GRANT_RULES)
    assert pk.call_until_ok("StartVM", "a") == {"ok": None}, "StartVM still denied after the rules granted it"
    pk.daemon.wait_state("a", "running")
    assert pk.call("VM.OpenConsole", "a") == {"ok": True}
    assert pk.call("SetAutostart", "a", "true") == {"ok": None}
    assert pk.call("GetAutostart", "a") == {"ok": True}
    assert pk.call("CreateVM", spec_json("b")) == {"ok": "/org/gunyah/Manager1/vm/b"}

    # the rules grant by vm and verb: other verbs and VMs stay denied
    assert_denied(pk.call("KillVM", "a"), "KillVM of a (only start granted)")
    assert_denied(pk.call("VM.Kill", "a"), "VM1.Kill of a")
    assert_denied(pk.call("StartVM", "b"), "StartVM of b (only a granted)")
    assert_denied(pk.call("VM.OpenConsole", "b"), "OpenConsole of b")
    assert_denied(pk.call("DestroyVM", "b"), "DestroyVM of b")
    assert pk.daemon.state("a")[0] == "running"
    assert "b" in pk.call("ListVMs")["ok"]


def test_connect_vsock_is_authorized_as_the_console(pk):
    """Who may open a VM's console may talk to its vsock ports: the same
    action, the same rule. Granted, the caller gets a connected socket."""
    for name, cid in (("a", 3), ("b", 4)):
        d = json.loads(spec_json(name, "spin", vsock={"cid": cid}))
        d["memory"]["mode"] = "share"
        manager(pk).CreateVM(json.dumps(d), dbus.UInt64(2))     # root starts them
        pk.daemon.wait_state(name, "running")
    assert_denied(pk.call("VM.ConnectVsock", "a", 1234), "ConnectVsock without a rule")
    pk.write_rules("10-grant.rules", GRANT_RULES)
    assert pk.call_until_ok("VM.ConnectVsock", "a", 1234) == {"ok": True}, "still denied with the console rule"
    assert_denied(pk.call("VM.ConnectVsock", "b", 1234), "ConnectVsock of b (only a's console granted)")


def test_read_only_calls_need_no_authorization(pk):
    manager(pk).CreateVM(spec_json("a"), dbus.UInt64(0))
    assert pk.call("GetVM", "a") == {"ok": "/org/gunyah/Manager1/vm/a"}
    assert pk.call("ListVMs") == {"ok": ["a"]}
    assert pk.call("GetState", "a") == {"ok": "defined"}
    assert pk.call("GetAutostart", "a") == {"ok": False}
    # lookups happen before authorization: an unknown VM is reported as such
    assert pk.call("StartVM", "nope")["error"] == "org.gunyah.Manager1.Error.NoSuchVM"


def test_challenge_without_interaction_is_interactive_authorization_required(make_env):
    # no rules: the policy's auth_admin_keep applies, which needs an agent
    pk = make_env()
    manager(pk).CreateVM(spec_json("a"), dbus.UInt64(0))
    r = pk.call("StartVM", "a")
    assert r.get("error") == INTERACTIVE, r
    assert "allowing user interaction" not in pk.daemon.read_log()
    # a caller that allows interaction is checked with AllowUserInteraction
    # (polkit would then ask the caller's agent; there is none here)
    p = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "busctl",
                        f"--address={pk.bus.address}", "--allow-interactive-authorization=yes", "call",
                        "org.gunyah.Manager1", "/org/gunyah/Manager1", "org.gunyah.Manager1", "StartVM", "s", "a"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0, "StartVM succeeded without authorization"
    assert "Asking polkit about start of VM 'a' (org.gunyah.manage-vms) for" in pk.daemon.read_log()
    assert "allowing user interaction" in pk.daemon.read_log(), "AllowUserInteraction was not passed on"
    assert pk.daemon.state("a")[0] == "defined"


def test_other_calls_are_answered_while_authorizations_are_pending(make_env):
    """Proven by order, not by time: polkitd cannot answer before the test
    opens the gate, and the daemon answers the other calls before that."""
    gate = os.path.join(tempfile.mkdtemp(prefix="gunyah-pk-gate-"), "open")
    os.chmod(os.path.dirname(gate), 0o755)   # polkitd's helper runs as polkitd
    pk = make_env(rules={"10-slow.rules": GATED_RULES.replace("GATE", gate)})
    asking = "Asking polkit about start of VM 'slow'"
    manager(pk).CreateVM(spec_json("slow"), dbus.UInt64(0))
    callers = [pk.call("StartVM", "slow", background=True) for _ in range(3)]
    try:
        deadline = time.monotonic() + 30
        while pk.daemon.read_log().count(asking) < 3:
            assert time.monotonic() < deadline, f"the daemon did not ask polkit 3 times:\n{pk.daemon.read_log()}"
            time.sleep(0.05)
        m = manager(pk)
        for _ in range(20):
            assert [str(v[0]) for v in m.ListVMs()] == ["slow"]
            assert str(m.GetVM("slow")) == "/org/gunyah/Manager1/vm/slow"
        assert [c.poll() for c in callers] == [None] * 3, "an authorization ended before the gate opened"
    finally:
        open(gate, "w").close()
        results = [json.loads(c.communicate(timeout=60)[0]) for c in callers]
        shutil.rmtree(os.path.dirname(gate), ignore_errors=True)
    for r in results:
        assert_denied(r, "StartVM of slow")
    assert pk.daemon.state("slow")[0] == "defined"


def test_polkit_unreachable_is_access_denied(make_env):
    env = make_env(with_polkit=False)
    manager(env).CreateVM(spec_json("a"), dbus.UInt64(0))
    r = env.call("StartVM", "a")
    assert r.get("error") == DENIED and "polkit could not be asked" in r["message"], r
    assert env.call("ListVMs") == {"ok": ["a"]}
