# SPDX-License-Identifier: LGPL-2.1-or-later
"""io.gunyah.Manager over varlink (issue 6 item 2): every method and error,
the interface descriptions, the event stream, and the transport's bounds,
against the real daemon with a varlink client written here (socket + json)."""
import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time

import pytest

from gunyah_harness import spec, spec_json

IFACE = "io.gunyah.Manager"
SERVICE = "org.varlink.service"
MESSAGE_MAX = 1024 * 1024 + 64 * 1024   # VARLINK_MESSAGE_MAX
CONNECTIONS_MAX = 128                   # VARLINK_CONNECTIONS_MAX


class VarlinkError(Exception):
    def __init__(self, error, parameters):
        super().__init__(f"{error} {parameters}")
        self.error = error
        self.parameters = parameters


class Closed(Exception):
    pass


class Varlink:
    """A minimal varlink client: NUL-terminated JSON over a Unix socket."""

    def __init__(self, path, timeout=20):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send(self, method, parameters=None, more=False, oneway=False):
        msg = {"method": method}
        if parameters is not None:
            msg["parameters"] = parameters
        if more:
            msg["more"] = True
        if oneway:
            msg["oneway"] = True
        self.sock.sendall(json.dumps(msg).encode() + b"\0")

    def recv(self):
        while b"\0" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed(f"connection closed, {len(self.buf)} bytes unframed")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, **parameters):
        self.send(method, parameters)
        reply = self.recv()
        assert "continues" not in reply, reply
        if "error" in reply:
            raise VarlinkError(reply["error"], reply.get("parameters", {}))
        return reply["parameters"]

    def is_closed(self, timeout=10):
        """True when the daemon hangs up (EOF or reset) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def socket_path(gd):
    return os.path.join(gd.dirs["run"], IFACE)


@pytest.fixture
def vl(gd):
    c = Varlink(socket_path(gd))
    yield c
    c.close()


def error_of(fn, *args, **kwargs):
    with pytest.raises(VarlinkError) as e:
        fn(*args, **kwargs)
    return e.value


def wait_vm_state(vl, name, states, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        vm = vl.call(f"{IFACE}.GetVM", name=name)["vm"]
        if vm["state"] in states:
            return vm
        time.sleep(0.02)
    raise AssertionError(f"VM {name} is {vm['state']} ({vm['stateReason']}), expected {states}")


def assert_daemon_answers(gd):
    c = Varlink(socket_path(gd))
    try:
        assert c.call(f"{SERVICE}.GetInfo")["product"] == "gunyahd"
    finally:
        c.close()
    assert gd.proc.poll() is None, gd.read_log()[-3000:]


# ---- socket ----

def test_socket_is_world_accessible_and_removed_at_exit(gd):
    path = socket_path(gd)
    st = os.stat(path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o666, oct(st.st_mode)
    assert gd.stop() == 0
    assert not os.path.exists(path), "socket left behind after exit"


# ---- org.varlink.service ----

def test_get_info(vl):
    info = vl.call(f"{SERVICE}.GetInfo")
    assert info["product"] == "gunyahd"
    assert info["vendor"] and info["url"] and re.match(r"\d+\.\d+", info["version"]), info
    assert info["interfaces"] == [SERVICE, IFACE]


def idl_members(text, keyword):
    return re.findall(rf"^{keyword} (\w+)", text, re.M)


def idl_type_fields(text, name):
    m = re.search(rf"^type {name} \((.*?)^\)", text, re.M | re.S)
    assert m, f"type {name} not in the description"
    return re.findall(r"^\s+(\w+): ", m.group(1), re.M)


def assert_everything_commented(text):
    """Every interface, type, method, error and field line follows a comment."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^(interface|type|method|error) ", line) or re.match(r"^\s+\w+: ", line):
            assert i > 0 and lines[i - 1].lstrip().startswith("#"), f"line {i + 1} undocumented: {line!r}"


def test_interface_description_documents_every_method_and_field(vl):
    text = vl.call(f"{SERVICE}.GetInterfaceDescription", interface=IFACE)["description"]
    assert re.search(r"^interface io\.gunyah\.Manager$", text, re.M)
    assert set(idl_members(text, "method")) == {
        "CreateVM", "GetVM", "ListVMs", "StartVM", "StopVM", "KillVM", "DestroyVM", "SubscribeEvents"}
    assert {"NoSuchVM", "VMExists", "InvalidSpec", "InvalidState", "StartFailed", "ReadOnlyDefinition",
            "PermissionDenied", "Failed"} <= set(idl_members(text, "error"))
    assert_everything_commented(text)

    svc = vl.call(f"{SERVICE}.GetInterfaceDescription", interface=SERVICE)["description"]
    assert set(idl_members(svc, "method")) == {"GetInfo", "GetInterfaceDescription"}
    assert_everything_commented(svc)


def test_vm_type_in_the_description_matches_what_get_vm_returns(vl):
    text = vl.call(f"{SERVICE}.GetInterfaceDescription", interface=IFACE)["description"]
    vl.call(f"{IFACE}.CreateVM", spec=spec_json("hello"), start=True)
    vm = wait_vm_state(vl, "hello", ("stopped",))
    assert set(vm) == set(idl_type_fields(text, "VM")), set(vm) ^ set(idl_type_fields(text, "VM"))
    assert set(vm["exitInfo"]) <= set(idl_type_fields(text, "ExitInfo"))


def test_get_interface_description_of_an_unknown_interface(vl):
    e = error_of(vl.call, f"{SERVICE}.GetInterfaceDescription", interface="com.example.Nope")
    assert e.error == f"{SERVICE}.InterfaceNotFound" and e.parameters == {"interface": "com.example.Nope"}


# ---- io.gunyah.Manager ----

def test_create_get_list_start_destroy(gd, vl):
    r = vl.call(f"{IFACE}.CreateVM", spec=spec_json("hello"))
    assert r == {"name": "hello", "path": "/org/gunyah/Manager1/vm/hello"}
    vm = vl.call(f"{IFACE}.GetVM", name="hello")["vm"]
    assert vm["state"] == "defined" and "exitInfo" not in vm
    assert [v["name"] for v in vl.call(f"{IFACE}.ListVMs")["vms"]] == ["hello"]

    # every field is the D-Bus property of the same name
    props = gd.vm_props("hello")
    for field, prop in [("name", "Name"), ("uuid", "UUID"), ("state", "State"), ("stateReason", "StateReason"),
                        ("vcpus", "VCPUs"), ("memorySize", "MemorySize"), ("autostart", "Autostart"),
                        ("persistent", "Persistent"), ("spec", "Spec"), ("crashRestartCount", "CrashRestartCount"),
                        ("crashRestartLimit", "CrashRestartLimit"),
                        ("crashRestartBackoffUSec", "CrashRestartBackoffUSec"),
                        ("createdTimestamp", "CreatedTimestamp"), ("startedTimestamp", "StartedTimestamp"),
                        ("stoppedTimestamp", "StoppedTimestamp")]:
        assert vm[field] == props[prop], f"{field}: varlink {vm[field]!r}, D-Bus {props[prop]!r}"
    assert vm["memorySize"] == 64 * 1024 * 1024 and vm["workerPIDs"] == []

    assert vl.call(f"{IFACE}.StartVM", name="hello") == {}
    vm = wait_vm_state(vl, "hello", ("stopped",))
    assert vm["stateReason"] == "poweroff"
    assert vm["exitInfo"]["exitTypeName"] == "PSCI_POWER_OFF" and vm["exitInfo"]["vcpu"] == 0, vm
    assert vm["startedTimestamp"] > 0 and vm["stoppedTimestamp"] >= vm["startedTimestamp"]

    assert vl.call(f"{IFACE}.DestroyVM", name="hello") == {}
    assert vl.call(f"{IFACE}.ListVMs") == {"vms": []}


def test_create_flags_persist_and_transient(gd, vl):
    vl.call(f"{IFACE}.CreateVM", spec=spec_json("kept"), persist=True)
    assert vl.call(f"{IFACE}.GetVM", name="kept")["vm"]["persistent"] is True
    assert os.path.exists(os.path.join(gd.dirs["state"], "vms", "kept.json"))
    vl.call(f"{IFACE}.CreateVM", spec=spec_json("once"), transient=True, start=True)
    deadline = time.monotonic() + 20
    while "once" in [v["name"] for v in vl.call(f"{IFACE}.ListVMs")["vms"]]:
        assert time.monotonic() < deadline, "transient VM still listed after it stopped"
        time.sleep(0.05)


def test_stop_and_kill(vl):
    vl.call(f"{IFACE}.CreateVM", spec=spec_json("spin1", "spin"), start=True)
    vm = wait_vm_state(vl, "spin1", ("running",))
    assert len(vm["workerPIDs"]) == 1 and vm["workerPIDs"][0] > 0, vm
    vl.call(f"{IFACE}.StopVM", name="spin1", timeoutUSec=100000)
    vm = wait_vm_state(vl, "spin1", ("stopped",))
    assert vm["stateReason"].startswith("killed"), vm["stateReason"]   # spin ignores the poweroff request

    vl.call(f"{IFACE}.CreateVM", spec=spec_json("spin2", "spin"), start=True)
    wait_vm_state(vl, "spin2", ("running",))
    vl.call(f"{IFACE}.KillVM", name="spin2")
    assert wait_vm_state(vl, "spin2", ("stopped",))["stateReason"] == "killed"


# ---- errors ----

def test_model_errors(gd, vl, tmp_path):
    e = error_of(vl.call, f"{IFACE}.GetVM", name="nope")
    assert e.error == f"{IFACE}.NoSuchVM" and e.parameters["name"] == "nope"
    for verb in ("StartVM", "StopVM", "KillVM", "DestroyVM"):
        assert error_of(vl.call, f"{IFACE}.{verb}", name="nope").error == f"{IFACE}.NoSuchVM"

    vl.call(f"{IFACE}.CreateVM", spec=spec_json("twice"))
    e = error_of(vl.call, f"{IFACE}.CreateVM", spec=spec_json("twice"))
    assert e.error == f"{IFACE}.VMExists" and "twice" in e.parameters["message"]

    e = error_of(vl.call, f"{IFACE}.CreateVM", spec=json.dumps(spec("bad", vcpus=0)))
    assert e.error == f"{IFACE}.InvalidSpec" and "vcpus" in e.parameters["message"], e
    assert error_of(vl.call, f"{IFACE}.CreateVM", spec="{").error == f"{IFACE}.InvalidSpec"

    e = error_of(vl.call, f"{IFACE}.KillVM", name="twice")
    assert e.error == f"{IFACE}.InvalidState" and "defined" in e.parameters["message"], e

    kernel = tmp_path / "vanishing.elf"
    kernel.write_bytes(open(spec("x")["kernel"]["path"], "rb").read())
    d = spec("vanish")
    d["kernel"]["path"] = str(kernel)
    vl.call(f"{IFACE}.CreateVM", spec=json.dumps(d))
    kernel.unlink()
    e = error_of(vl.call, f"{IFACE}.StartVM", name="vanish")
    assert e.error == f"{IFACE}.StartFailed" and "prepare-images" in e.parameters["message"], e


def test_read_only_definition(gd):
    with open(os.path.join(gd.dirs["etc"], "admin.json"), "w") as f:
        f.write(spec_json("admin"))
    gd.stop()
    gd.start()
    c = Varlink(socket_path(gd))
    try:
        e = error_of(c.call, f"{IFACE}.DestroyVM", name="admin")
        assert e.error == f"{IFACE}.ReadOnlyDefinition", e
    finally:
        c.close()


@pytest.mark.parametrize("method,params,parameter", [
    ("GetVM", {}, "name"),
    ("GetVM", {"name": 7}, "name"),
    ("GetVM", {"name": "../etc"}, "name"),
    ("GetVM", {"name": "x", "extra": 1}, "extra"),
    ("CreateVM", {}, "spec"),
    ("CreateVM", {"spec": "{}", "start": "yes"}, "start"),
    ("CreateVM", {"spec": "{}", "persist": True, "transient": True}, "transient"),
    ("StopVM", {"name": "x", "timeoutUSec": "soon"}, "timeoutUSec"),
    ("ListVMs", {"name": "x"}, "name"),
])
def test_invalid_parameter(vl, method, params, parameter):
    if method == "StopVM":
        vl.call(f"{IFACE}.CreateVM", spec=spec_json("x"))
    e = error_of(vl.call, f"{IFACE}.{method}", **params)
    assert (e.error, e.parameters) == (f"{SERVICE}.InvalidParameter", {"parameter": parameter})


def test_unknown_method_and_interface(vl):
    e = error_of(vl.call, f"{IFACE}.Reboot")
    assert (e.error, e.parameters) == (f"{SERVICE}.MethodNotFound", {"method": f"{IFACE}.Reboot"})
    e = error_of(vl.call, f"{SERVICE}.Frobnicate")
    assert e.error == f"{SERVICE}.MethodNotFound"
    e = error_of(vl.call, "com.example.Thing.Do")
    assert (e.error, e.parameters) == (f"{SERVICE}.InterfaceNotFound", {"interface": "com.example.Thing"})
    # the connection stays usable after errors
    assert vl.call(f"{SERVICE}.GetInfo")["product"] == "gunyahd"


def test_subscribe_without_more(vl):
    assert error_of(vl.call, f"{IFACE}.SubscribeEvents").error == f"{SERVICE}.ExpectedMore"


def run_as_nobody(gd, method, parameters):
    """One call from uid 65534, through a client run under setpriv."""
    # the test's directories are private to root; the socket's directory must be reachable
    for d in (gd.workdir, gd.dirs["run"]):
        os.chmod(d, 0o755)
    script = ("import json, socket, sys\n"
              "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
              "s.sendall(json.dumps({'method': sys.argv[2], 'parameters': json.loads(sys.argv[3])}).encode() + b'\\0')\n"
              "b = b''\n"
              "while not b.endswith(b'\\0'):\n"
              "    b += s.recv(65536)\n"
              "print(b[:-1].decode())\n")
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", script,
                        socket_path(gd), method, json.dumps(parameters)],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_unprivileged_callers_may_only_read(gd, vl):
    vl.call(f"{IFACE}.CreateVM", spec=spec_json("owned"))
    r = run_as_nobody(gd, f"{IFACE}.GetVM", {"name": "owned"})
    assert r["parameters"]["vm"]["name"] == "owned", r
    assert run_as_nobody(gd, f"{IFACE}.ListVMs", {})["parameters"]["vms"][0]["name"] == "owned"
    assert run_as_nobody(gd, f"{SERVICE}.GetInfo", {})["parameters"]["product"] == "gunyahd"
    for method, params in [("CreateVM", {"spec": spec_json("evil")}), ("StartVM", {"name": "owned"}),
                           ("StopVM", {"name": "owned"}), ("KillVM", {"name": "owned"}),
                           ("DestroyVM", {"name": "owned"})]:
        r = run_as_nobody(gd, f"{IFACE}.{method}", params)
        assert r.get("error") == f"{IFACE}.PermissionDenied", (method, r)
    assert [v["name"] for v in vl.call(f"{IFACE}.ListVMs")["vms"]] == ["owned"]
    assert vl.call(f"{IFACE}.GetVM", name="owned")["vm"]["state"] == "defined"


# ---- SubscribeEvents ----

def read_events(sub, name, until_state, timeout=20, last=None):
    events = []
    sub.sock.settimeout(timeout)
    while True:
        reply = sub.recv()
        assert reply.get("continues") is True and "error" not in reply, reply
        p = reply["parameters"]
        if p.get("vm") != name:
            continue
        events.append((p["event"], p["state"], p["stateReason"]))
        if p["event"] == "state" and p["state"] == until_state:
            if last is not None:
                last.update(p)
            return events


def test_subscribe_streams_state_changes_in_order(gd):
    sub = Varlink(socket_path(gd))
    ctl = Varlink(socket_path(gd))
    try:
        ctl.call(f"{IFACE}.CreateVM", spec=spec_json("before"))
        sub.send(f"{IFACE}.SubscribeEvents", more=True)
        first = sub.recv()
        assert first["continues"] is True and first["parameters"]["event"] == "subscribed"
        assert [v["name"] for v in first["parameters"]["vms"]] == ["before"]

        ctl.call(f"{IFACE}.CreateVM", spec=spec_json("hello"), start=True)
        stopped = {}
        events = read_events(sub, "hello", "stopped", last=stopped)
        assert events == [("added", "defined", ""), ("state", "starting", "start"),
                          ("state", "running", "start"), ("state", "stopping", "poweroff"),
                          ("state", "stopped", "poweroff")], events
        # the event that ends a run says how it ended
        assert stopped["exitInfo"]["status"] == 2, stopped
        assert stopped["exitInfo"]["exitType"] == 1, stopped

        ctl.call(f"{IFACE}.DestroyVM", name="hello")
        p = sub.recv()["parameters"]
        assert (p["event"], p["vm"]) == ("removed", "hello"), p
        # D-Bus changes are streamed too
        gd.manager().StartVM("before")
        assert read_events(sub, "before", "stopped")[-1] == ("state", "stopped", "poweroff")
    finally:
        sub.close()
        ctl.close()


def test_subscriber_that_disconnects_mid_stream_is_dropped(gd):
    ctl = Varlink(socket_path(gd))
    live = Varlink(socket_path(gd))
    deaf = []
    try:
        live.send(f"{IFACE}.SubscribeEvents", more=True)
        live.recv()
        for i in range(10):
            sub = Varlink(socket_path(gd))
            sub.send(f"{IFACE}.SubscribeEvents", more=True)
            sub.recv()
            if i == 0:
                ctl.call(f"{IFACE}.CreateVM", spec=spec_json("hello"), start=True)
            sub.close()   # gone while hello changes state
        wait_vm_state(ctl, "hello", ("stopped",))
        # 3 that stop reading without hanging up: the daemon sees no hang-up,
        # only the failed write of the next event
        for i in range(3):
            deaf.append(Varlink(socket_path(gd)))
            deaf[-1].send(f"{IFACE}.SubscribeEvents", more=True)
            deaf[-1].recv()
            deaf[-1].sock.shutdown(socket.SHUT_RD)
        ctl.call(f"{IFACE}.StartVM", name="hello")
        wait_vm_state(ctl, "hello", ("stopped",))
        # the live subscriber saw both runs, every event in order; the dead ones cost nothing
        run = [("state", "starting", "start"), ("state", "running", "start"),
               ("state", "stopping", "poweroff"), ("state", "stopped", "poweroff")]
        assert read_events(live, "hello", "stopped") == [("added", "defined", "")] + run
        assert read_events(live, "hello", "stopped") == run
        assert_daemon_answers(gd)
        # Each of the 13 is dropped once: at its hang-up (end of input, or a
        # reset when it left events unread), or, when an event was written to
        # it first, at that failed write, after which nothing more is written.
        # For the 10 that closed, which one is a race between the close and
        # the next event, so the daemon's log says which: one "write failed"
        # drop per failed write; the 3 deaf ones are dropped at a failed write.
        closed = re.compile(rf"varlink: closing connection of pid {os.getpid()} uid \d+: "
                            r"(end of input|read failed|write failed)$")

        def drops():
            return [m.group(1) for m in map(closed.search, gd.read_log().splitlines()) if m]
        deadline = time.monotonic() + 20
        while len(drops()) < 13 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(drops()) >= 13, drops()
        assert drops().count("write failed") >= 3, drops()
        failed = [l for l in gd.read_log().splitlines() if "varlink: write to pid" in l]
        assert len(failed) <= 13, failed
        assert len(failed) == drops().count("write failed"), (failed, drops())
    finally:
        ctl.close()
        live.close()
        for sub in deaf:
            sub.close()


def test_subscriber_calls_after_subscribing_are_ignored_not_fatal(gd):
    sub = Varlink(socket_path(gd))
    try:
        sub.send(f"{IFACE}.SubscribeEvents", more=True)
        sub.recv()
        sub.send(f"{SERVICE}.GetInfo")
        Varlink(socket_path(gd)).call(f"{IFACE}.CreateVM", spec=spec_json("c"))
        p = sub.recv()["parameters"]
        assert (p["event"], p["vm"]) == ("added", "c"), p
    finally:
        sub.close()


# ---- transport robustness ----

@pytest.mark.parametrize("raw,error", [
    (b"{not json", f"{IFACE}.ProtocolError"),
    (b"[1, 2]", f"{IFACE}.ProtocolError"),
    (b'{"method": "io.gunyah.Manager.ListVMs"} trailing', f"{IFACE}.ProtocolError"),
    (b'{"parameters": {}}', f"{SERVICE}.InvalidParameter"),
    (b'{"method": 42}', f"{SERVICE}.InvalidParameter"),
    (b'{"method": "io.gunyah.Manager.ListVMs", "parameters": []}', f"{SERVICE}.InvalidParameter"),
])
def test_malformed_message_gets_an_error_then_hangup(gd, raw, error):
    c = Varlink(socket_path(gd))
    try:
        c.sock.sendall(raw + b"\0" + json.dumps({"method": f"{SERVICE}.GetInfo"}).encode() + b"\0")
        reply = c.recv()
        assert reply["error"] == error, reply
        assert c.is_closed(), "connection still open after a malformed message"
        assert c.buf == b"", "the call after the malformed message was answered"
    finally:
        c.close()
    assert_daemon_answers(gd)


def test_unterminated_message_then_close(gd):
    c = Varlink(socket_path(gd))
    c.sock.sendall(b'{"method": "org.varlink.service.GetInfo"}')   # no NUL
    c.sock.shutdown(socket.SHUT_WR)
    assert c.is_closed()
    assert c.buf == b""
    c.close()
    assert_daemon_answers(gd)


def test_oversized_message_closes_the_connection(gd):
    c = Varlink(socket_path(gd))
    try:
        try:
            c.sock.sendall(b"x" * (MESSAGE_MAX + 4096))   # never terminated
        except (BrokenPipeError, ConnectionResetError):
            pass   # the daemon hung up while we were still sending
        assert c.is_closed()
    finally:
        c.close()
    c = Varlink(socket_path(gd))
    try:
        blob = json.dumps({"method": f"{IFACE}.GetVM", "parameters": {"name": "n" * (MESSAGE_MAX + 10)}})
        try:
            c.sock.sendall(blob.encode() + b"\0")
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert c.is_closed()
        assert c.buf == b"", "an oversized call was answered"
    finally:
        c.close()
    assert_daemon_answers(gd)


def test_large_message_within_the_limit_is_served(vl):
    e = error_of(vl.call, f"{IFACE}.GetVM", name="n" * (1024 * 1024))
    assert e.parameters == {"parameter": "name"}
    e = error_of(vl.call, f"{IFACE}.CreateVM", spec=" " * (1024 * 1024 + 1))
    # a spec over 1 MiB (VM_SPEC_SIZE_MAX) is refused for its size, before it is parsed
    assert (e.error, e.parameters) == (f"{SERVICE}.InvalidParameter", {"parameter": "spec"}), e


def test_client_that_never_reads_is_disconnected(gd):
    greedy = Varlink(socket_path(gd))
    other = Varlink(socket_path(gd))
    try:
        call = json.dumps({"method": f"{SERVICE}.GetInterfaceDescription",
                           "parameters": {"interface": IFACE}}).encode() + b"\0"
        size = len(json.dumps(other.call(f"{SERVICE}.GetInterfaceDescription", interface=IFACE))) + 20
        n = (8 * 1024 * 1024) // size   # twice the daemon's output bound
        try:
            greedy.sock.sendall(call * n)
        except (BrokenPipeError, ConnectionResetError):
            pass
        # the daemon keeps serving others while greedy's replies pile up (in
        # whatever time an ASan build on a loaded machine takes)
        other.sock.settimeout(120)
        assert other.call(f"{SERVICE}.GetInfo")["product"] == "gunyahd"
        time.sleep(0.5)
        received = 0
        greedy.sock.settimeout(10)
        try:
            while True:
                chunk = greedy.sock.recv(1 << 20)
                if not chunk:
                    break
                received += len(chunk)
        except ConnectionResetError:
            pass
        assert received < n * size, f"all {n} replies arrived ({received} bytes): no bound"
        assert "does not read its replies" in gd.read_log()
    finally:
        greedy.close()
        other.close()
    assert_daemon_answers(gd)


def test_oneway_call_gets_no_reply(vl):
    vl.send(f"{IFACE}.CreateVM", {"spec": spec_json("quiet")}, oneway=True)
    assert vl.call(f"{SERVICE}.GetInfo")["product"] == "gunyahd"   # the next reply is GetInfo's
    assert vl.call(f"{IFACE}.GetVM", name="quiet")["vm"]["name"] == "quiet"


def test_pipelined_calls_are_answered_in_order(vl):
    for i in range(50):
        vl.send(f"{IFACE}.GetVM", {"name": f"v{i}"})
    for i in range(50):
        reply = vl.recv()
        assert reply["parameters"]["name"] == f"v{i}", reply


def test_concurrent_clients(gd):
    errors = []

    def client(i):
        try:
            c = Varlink(socket_path(gd))
            c.call(f"{IFACE}.CreateVM", spec=spec_json(f"c{i:02d}", "hello"), start=True)
            for _ in range(20):
                assert c.call(f"{IFACE}.GetVM", name=f"c{i:02d}")["vm"]["name"] == f"c{i:02d}"
                c.call(f"{IFACE}.ListVMs")
            wait_vm_state(c, f"c{i:02d}", ("stopped",), timeout=60)
            c.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"client {i}: {e!r}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not errors, errors
    c = Varlink(socket_path(gd))
    assert len(c.call(f"{IFACE}.ListVMs")["vms"]) == 8
    c.close()


def test_connection_limit(gd):
    conns = [Varlink(socket_path(gd), timeout=5) for _ in range(CONNECTIONS_MAX + 4)]
    refused = 0
    try:
        for c in conns:
            try:
                assert c.call(f"{SERVICE}.GetInfo")["product"] == "gunyahd"
            except (Closed, ConnectionResetError, BrokenPipeError):
                refused += 1
        assert refused == 4, f"{refused} of {len(conns)} connections refused"
        assert "connections open, refusing another" in gd.read_log()
    finally:
        for c in conns:
            c.close()
    time.sleep(0.2)
    assert_daemon_answers(gd)
