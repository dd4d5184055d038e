# SPDX-License-Identifier: LGPL-2.1-or-later
"""gunyahd's sd_notify protocol (Type=notify): READY=1 with a STATUS= line
once it serves the bus, RELOADING=1/READY=1 around SIGHUP, STOPPING=1 on
SIGTERM. The test is the service manager: it owns the NOTIFY_SOCKET."""
import os
import signal
import socket
import time

import dbus

from gunyah_harness import spec_json


def recv_until(sock, wanted, timeout=15):
    """Datagrams until one contains the line wanted; returns all lines seen."""
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(4096).decode()
        except socket.timeout:
            break
        lines += data.splitlines()
        if wanted in lines:
            return lines
    raise AssertionError(f"no {wanted!r} from gunyahd; got {lines}")


def test_ready_status_reload_and_stopping(env):
    gd = env.daemon
    gd.stop()
    path = os.path.join(env.tmp, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    try:
        gd.notify_socket = path
        gd.start()
        lines = recv_until(sock, "READY=1")
        status = [l for l in lines if l.startswith("STATUS=")]
        assert status and "sim" in status[-1], lines

        gd.manager().CreateVM(spec_json("n1", "spin"), dbus.UInt64(2))
        gd.wait_state("n1", "running")

        gd.proc.send_signal(signal.SIGHUP)
        lines = recv_until(sock, "READY=1")
        assert "RELOADING=1" in lines, lines

        gd.proc.send_signal(signal.SIGTERM)
        lines = recv_until(sock, "STOPPING=1")
        assert gd.proc.wait(timeout=15) == 0
    finally:
        sock.close()
