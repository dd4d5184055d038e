# SPDX-License-Identifier: LGPL-2.1-or-later
"""virtio-vsock's error paths on gunyahd with the simulator (issue 13),
driven by the bare-metal guest tests/guests/vsock-errors.c: packets with
wrong lengths, unknown operations and types, connections to CIDs other than
the host's, a spoofed source, a credit overflow and a flood of REQUESTs are
dropped or reset; the device stays up (no DEVICE_NEEDS_RESET, a later
connection to a host listener works) and the daemon logs each kind of
guest error once for the VM."""
import json
import os
import re
import socket
import threading
import time

import dbus

from gunyah_harness import guest_path, spec

START = 2
PORT = 7000
CID = 5
LINE = re.compile(r"^vsock: case=(\S+)((?: [a-z_0-9]+=\S*)*)\r?$", re.M)
DROPPED_OR_RESET = ("none", "RST")


def cases(console):
    """The guest's "vsock: case=NAME k=v..." lines as {NAME: {k: v}}."""
    text = console.decode(errors="replace")
    return {m.group(1): dict(w.split("=", 1) for w in m.group(2).split()) for m in LINE.finditer(text)}


class HostApp:
    """The host's listener on <vmdir>/vsock_PORT: a connection starting with
    "hold" is never read again (the credit overflow's peer), "ping" is
    answered "pong"; each connection's first bytes are recorded."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(64)
        self.first = []
        self.done = threading.Event()
        self.conns = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        conn.settimeout(30)
        try:
            head = conn.recv(4)
            self.first.append(head)
            if head == b"hold":
                self.done.wait(120)
            elif head == b"ping":
                conn.sendall(b"pong")
                conn.recv(1)
        except OSError:
            pass

    def close(self):
        self.done.set()
        self.sock.close()
        for c in self.conns:
            c.close()


def wait_vmdir(gd, name, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        path = str(gd.vm_props(name)["VsockPath"])
        if path:
            return os.path.dirname(path)
        time.sleep(0.01)
    raise AssertionError(f"VM {name} got no VsockPath: {gd.state(name)}\n{gd.read_log()[-3000:]}")


def test_bad_packets_are_dropped_or_reset_and_the_device_stays_up(gd):
    d = spec("vsbad", "vsock-errors")
    d["memory"] = {"size": "64M", "mode": "share"}
    d["vsock"] = {"cid": CID}
    d["kernel"]["cmdline"] = f"port={PORT} peer=3 flood=300"
    gd.manager().CreateVM(json.dumps(d), dbus.UInt64(START))
    app = HostApp(os.path.join(wait_vmdir(gd, "vsbad"), f"vsock_{PORT}"))
    try:
        state = gd.wait_state("vsbad", "stopped", timeout=180)
    finally:
        app.close()
    console = gd.console_log("vsbad")
    text = console.decode(errors="replace")
    assert state == ("stopped", "poweroff"), (state, text, gd.read_log()[-4000:])
    assert f"vsock: init cid={CID} result=0\n" in text and text.endswith("vsock: done\n"), text
    c = cases(console)
    assert c["connect"]["op"] == "RESPONSE", text
    for name in ("short-header", "len-beyond-chain", "unknown-op", "bad-type", "other-cid", "spoofed-src"):
        assert c[name] == {"op": c[name]["op"], "sent": "1"} and c[name]["op"] in DROPPED_OR_RESET, (name, c[name])
    for name in ("rw-len-beyond-chain", "unknown-op-open", "credit-overflow"):
        assert c[name]["connected"] == "1" and c[name]["op"] in DROPPED_OR_RESET, (name, c[name])
    overflow = c["credit-overflow"]
    assert int(overflow["sent"]) > int(overflow["buf_alloc"]) > 0, overflow
    flood = c["flood"]
    assert flood["requests"] == "300" and flood["tx_ok"] == "1" and flood["responses"] == "0", flood
    assert int(flood["rsts"]) <= 300, flood
    # the device stayed up: a good connection, and no DEVICE_NEEDS_RESET
    assert c["good-after"] == {"connected": "1", "ok": "1"}, (c["good-after"], text)
    assert b"ping" in app.first and b"hold" in app.first, app.first
    status = int(re.search(r"vsock: status=(0x[0-9a-f]+)", text).group(1), 16)
    assert status & 0x40 == 0 and status & 0x04, hex(status)

    # each kind of guest error logged once for this VM, however often it happened
    log = gd.read_log()
    said = re.findall(r"VM vsbad: device vsock: the guest drove it wrong: (.*)", log)
    # wrong lengths, unknown ops, other CIDs, a credit overflow, a flood: at
    # least four kinds however the device groups them
    assert len(set(said)) >= 4, said
    assert len(said) == len(set(said)), said
    assert gd.proc.poll() is None
