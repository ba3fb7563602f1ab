"""Small socket helpers shared by backends.py and sink.py (stdlib only).

ConnServer runs ONE acceptor thread over any number of listening sockets and
hands every accepted connection to its own daemon thread. That is what the
health-check tests need:

  * thousands of listeners (one per 127.0.0.x backend) cost one thread, not
    one thread each;
  * a slow answer (delay) only ever blocks its own connection thread, so
    1000 concurrent slow checks are served in parallel;
  * a listener can be closed and re-opened on the same address and port, so
    "down" really means ECONNREFUSED, and its live keep-alive connections
    can be cut too.

All changes to the selector happen on the acceptor thread (other threads
queue a call and wait for it), so nobody mutates the selector while it is
being polled.
"""

import http.server
import ipaddress
import json
import os
import selectors
import signal
import socket
import threading

# 1000+ connection threads are expected; a small stack keeps that cheap.
threading.stack_size(512 * 1024)

LISTEN_BACKLOG = 4096


def canon_addr(addr):
    """'::0001' -> '::1', and reject anything that is not loopback."""
    ip = ipaddress.ip_address(addr.strip("[]"))
    if not ip.is_loopback:
        raise ValueError("only loopback addresses are allowed: %s" % addr)
    return str(ip)


def hostport(host, port):
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def parse_hostport(s):
    host, _, port = s.rpartition(":")
    return canon_addr(host), int(port)


def write_ready(path, text):
    """Atomic: a reader sees either nothing or the whole file."""
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def make_listener(addr, port):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        # Re-listening on the same port after "down" must not trip over
        # connections still in TIME_WAIT.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        s.listen(LISTEN_BACKLOG)
        s.setblocking(False)
    except OSError:
        s.close()
        raise
    return s


class Site:
    """One listening address. handler(sock, client_addr, site) serves a
    connection on its own thread and must not close the socket itself."""

    def __init__(self, addr, port, handler):
        self.addr = addr
        self.port = port
        self.handler = handler
        self.sock = None
        self.conns = set()
        self.lock = threading.Lock()
        self.accepted = 0


class ConnServer:
    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.sel.register(self.wake_r, selectors.EVENT_READ, None)
        self.calls = []
        self.calls_lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, name="acceptor",
                                       daemon=True)
        self.thread.start()

    # ---- public API (any thread) -----------------------------------------

    def open(self, site):
        """Start listening for site (site.port 0 picks a port and stores it)."""
        def do():
            sock = make_listener(site.addr, site.port)
            site.port = sock.getsockname()[1]
            site.sock = sock
            self.sel.register(sock, selectors.EVENT_READ, site)
        self._call(do)

    def close(self, site, cut_connections=True):
        """Stop listening (new connections are refused) and optionally cut
        the live ones, as a crashed server would."""
        def do():
            if site.sock is not None:
                self.sel.unregister(site.sock)
                site.sock.close()
                site.sock = None
        self._call(do)
        if cut_connections:
            with site.lock:
                conns = list(site.conns)
            for c in conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self):
        self.stopping = True
        self.wake_w.send(b"x")
        self.thread.join(5)

    # ---- internals --------------------------------------------------------

    def _call(self, fn):
        if threading.current_thread() is self.thread:
            return fn()
        done = threading.Event()
        box = {}

        def run():
            try:
                box["result"] = fn()
            except BaseException as e:  # handed back to the caller
                box["error"] = e
            finally:
                done.set()
        with self.calls_lock:
            self.calls.append(run)
        self.wake_w.send(b"x")
        if not done.wait(10):
            raise RuntimeError("acceptor thread did not respond")
        if "error" in box:
            raise box["error"]
        return box.get("result")

    def _loop(self):
        while not self.stopping:
            for key, _ in self.sel.select(timeout=1.0):
                site = key.data
                if site is None:
                    try:
                        while self.wake_r.recv(4096):
                            pass
                    except BlockingIOError:
                        pass
                    with self.calls_lock:
                        calls, self.calls = self.calls, []
                    for c in calls:
                        c()
                    continue
                # Drain a burst of pending connections in one go.
                for _ in range(256):
                    if site.sock is None:
                        break
                    try:
                        conn, addr = site.sock.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    conn.setblocking(True)
                    with site.lock:
                        site.conns.add(conn)
                        site.accepted += 1
                    t = threading.Thread(target=self._serve,
                                         args=(site, conn, addr), daemon=True)
                    t.start()
        for key in list(self.sel.get_map().values()):
            if key.data is not None and key.data.sock is not None:
                key.data.sock.close()

    @staticmethod
    def _serve(site, conn, addr):
        try:
            site.handler(conn, addr, site)
        except Exception:
            pass
        finally:
            with site.lock:
                site.conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass


class QuietHandlerMixin:
    """BaseHTTPRequestHandler pieces shared by the backends and the sink."""

    protocol_version = "HTTP/1.1"
    server_version = "flipper-testworld/1"

    def version_string(self):
        return self.server_version
    timeout = 60  # idle keep-alive connections go away eventually

    def log_message(self, fmt, *args):
        pass

    def __getattr__(self, name):
        # Any method (GET, HEAD, POST, OPTIONS, ...) goes to do_any.
        if name.startswith("do_"):
            return self.do_any
        raise AttributeError(name)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_plain(self, status, data, ctype="text/plain", extra=None):
        if isinstance(data, str):
            data = data.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_json(self, status, obj):
        self.send_plain(status, json.dumps(obj), "application/json")


class FakeServer:
    """Just enough of a socketserver.BaseServer for a BaseHTTPRequestHandler
    run by hand on a ConnServer connection."""

    def __init__(self, owner):
        self.owner = owner


class ControlServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, handler):
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, handler)


def serve_until_signal(start_fn, stop_fn):
    """Run start_fn(), wait for SIGTERM/SIGINT, then run stop_fn()."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    start_fn()
    while not stop.wait(0.1):
        pass
    stop_fn()
