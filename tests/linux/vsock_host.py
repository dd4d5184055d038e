# SPDX-License-Identifier: LGPL-2.1-or-later
"""The host's side of vsock for the Linux-guest tests and bench/vsock.py:
clients of a VM's <vmdir>/vsock (the hybrid "CONNECT P" protocol) and
listeners on <vmdir>/vsock_P that the guest connects to."""
import hashlib
import os
import selectors
import socket
import threading
import time


def read_line(sock, limit=64):
    """Bytes up to and including the first newline (or EOF: what came)."""
    line = b""
    while not line.endswith(b"\n") and len(line) < limit:
        b = sock.recv(1)
        if not b:
            break
        line += b
    return line


def connect(path, port, first=b"", timeout=30):
    """A client of <vmdir>/vsock: "CONNECT port\\n" (and `first` in the same
    write); returns (socket, the answer line: b"OK <n>\\n", or b"" when the
    device closed it)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(f"CONNECT {port}\n".encode() + first)
    return s, read_line(s)


def connect_when_listening(path, port, first=b"", timeout=300):
    """connect() until the guest's listener answers (socat binds a moment
    after /init says it started): (socket, host port)."""
    deadline = time.monotonic() + timeout
    while True:
        s, line = connect(path, port, first)
        if line.startswith(b"OK "):
            return s, int(line[3:])
        s.close()
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing answered on vsock port {port} within {timeout}s (last {line!r})")
        time.sleep(0.5)


def exchange(socks_and_data, timeout=900, stall=60):
    """Writes each socket's data while reading what comes back, shuts each
    socket's write side when its data is out, reads until EOF: the bytes
    each got back, in order. All sockets at once, one thread. Fails when
    nothing moved for `stall` seconds, or after `timeout`."""
    sel = selectors.DefaultSelector()
    state = []
    for s, data in socks_and_data:
        s.setblocking(False)
        st = {"sock": s, "out": memoryview(data), "back": bytearray(), "eof": False}
        state.append(st)
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, st)
    deadline = time.monotonic() + timeout
    moved = time.monotonic()
    while any(not st["eof"] for st in state):
        now = time.monotonic()
        if now > deadline or now - moved > stall:
            raise AssertionError(f"exchange unfinished after {timeout if now > deadline else stall}s "
                                 f"{'in all' if now > deadline else 'without a byte moving'}; "
                                 f"(bytes left to send, bytes back) per connection: "
                                 f"{[(len(st['out']), len(st['back'])) for st in state]}")
        for key, events in sel.select(1.0):
            st = key.data
            s = st["sock"]
            if events & selectors.EVENT_WRITE and st["out"]:
                try:
                    n = s.send(st["out"][:65536])
                except BlockingIOError:
                    n = 0
                st["out"] = st["out"][n:]
                moved = time.monotonic() if n else moved
                if not st["out"]:
                    s.shutdown(socket.SHUT_WR)
                    sel.modify(s, selectors.EVENT_READ, st)
            if events & selectors.EVENT_READ:
                try:
                    chunk = s.recv(262144)
                except BlockingIOError:
                    continue
                if chunk:
                    st["back"] += chunk
                    moved = time.monotonic()
                else:
                    st["eof"] = True
                    sel.unregister(s)
    sel.close()
    return [bytes(st["back"]) for st in state]


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Listener:
    """A host app's listener on <vmdir>/vsock_P, made as root with the default
    umask; serve(conn) runs for each accepted connection in its own thread."""

    def __init__(self, path, serve):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(128)
        self.serve = serve
        self.results = []
        self.lock = threading.Lock()
        self.threads = []
        self.closed = False
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._run, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _run(self, conn):
        with conn:
            try:
                r = self.serve(conn)
            except OSError as e:
                r = e
        with self.lock:
            self.results.append(r)

    def wait(self, count, timeout=600):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.results) >= count:
                    return list(self.results)
            time.sleep(0.2)
        raise AssertionError(f"{self.path}: {len(self.results)} of {count} connections served in {timeout}s")

    def close(self):
        self.closed = True
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def read_all(conn):
    data = bytearray()
    while True:
        chunk = conn.recv(262144)
        if not chunk:
            return bytes(data)
        data += chunk


def echo_all(conn):
    """Reads until the guest's EOF, sends it all back, closes: (bytes, sha256)."""
    data = read_all(conn)
    conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)
    return len(data), sha256(data)
