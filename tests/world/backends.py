#!/usr/bin/python3
"""Real HTTP/HTTPS health-check backends on loopback, driven over HTTP.

    backends.py --control 127.0.0.1:0 --ready-file PATH [--cert-dir DIR]

Writes the control "host:port" to the ready file (atomically) and to stdout.
--cert-dir (default: a fresh temporary directory) gets the default test PKI
from certs.ensure_default; backends with "tls": true use DIR/server.pem
unless they name another cert ("cert": "wrong-server" or any NAME whose
DIR/NAME.pem and DIR/NAME.key exist).

Control API (JSON in and out):

  GET    /backends                      -> {"backends": [info...]}
  POST   /backends        {config}      -> info   (starts a backend)
  POST   /backends/bulk   {"addrs": [...], "port": P, ...config} -> {"backends": [info...]}
  GET    /backends/{addr}/{port}        -> info
  POST   /backends/{addr}/{port} {any of config} -> info
  DELETE /backends/{addr}/{port}        stop one
  DELETE /backends                      stop all
  GET    /backends/{addr}/{port}/requests -> [record...] (oldest first)
  DELETE /backends/{addr}/{port}/requests
  GET    /certs                         -> {"dir": DIR, "ca": path, "server": path,
                                            "wrongca": path, "wrong-server": path}

config: {"addr": "127.0.0.11", "port": 8080, "tls": false, "status": 200,
         "delay": 0, "down": false, "body": "ok\\n", "drop": false,
         "hang": false, "cert": "server", "headers": {}, "routes": {}}
  delay  seconds to wait before answering
  hang   accept and read the request, then hold the connection without a
         byte of answer until hang is set false again or the backend goes
  down   true: close the listening socket (connections are REFUSED) and cut
         live connections; false: listen again on the same port
  drop   accept and read the request, then close without answering
  routes per request path (exact, query included): {"status", "headers",
         "body"} answered instead of the backend's own, e.g. a redirect:
         {"/": {"status": 302, "headers": {"Location": "http://b.test/ok"}}}
info:   config + {"connections": N, "requests": N, "hanging": N (requests held
        by hang right now), "tls_errors": [...]}
A request record: {"time", "method", "path", "headers", "host", "sni",
                   "tls", "client", "body"}.
{addr} in a path may be written as is ("::1") or percent-encoded.
"""

import argparse
import json
import os
import ssl
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import certs  # noqa: E402
import netkit  # noqa: E402

CONFIG_KEYS = ("status", "delay", "down", "body", "drop", "hang", "cert", "headers",
               "routes")


class Backend:
    def __init__(self, hub, addr, port, tls):
        self.hub = hub
        self.addr = addr
        self.tls = tls
        self.status = 200
        self.delay = 0.0
        self.down = False
        self.body = "ok\n"
        self.drop = False
        self.hang = False
        self.hanging = 0
        self.released = threading.Event()   # set while not hanging
        self.released.set()
        self.cert = "server"
        self.headers = {}
        self.routes = {}
        self.requests = []
        self.tls_errors = []
        self.lock = threading.Lock()
        self.site = netkit.Site(addr, port, self.serve)

    @property
    def port(self):
        return self.site.port

    def configure(self, cfg):
        for k in CONFIG_KEYS:
            if k not in cfg:
                continue
            v = cfg[k]
            if k == "status":
                v = int(v)
            elif k == "delay":
                v = float(v)
            elif k in ("down", "drop", "hang"):
                v = bool(v)
            elif k == "cert":
                self.hub.tls_context(v)  # fail now if the files are missing
            setattr(self, k, v)
            if k == "hang":
                if v:
                    self.released.clear()
                else:
                    self.released.set()

    def info(self):
        with self.lock:
            return {"addr": self.addr, "port": self.port, "tls": self.tls,
                    "status": self.status, "delay": self.delay,
                    "down": self.down, "body": self.body, "drop": self.drop,
                    "hang": self.hang, "hanging": self.hanging,
                    "cert": self.cert, "headers": self.headers,
                    "routes": self.routes,
                    "connections": self.site.accepted,
                    "requests": len(self.requests),
                    "tls_errors": list(self.tls_errors)}

    # Runs on the connection's own thread.
    def serve(self, conn, client, site):
        sni = None
        if self.tls:
            ctx = self.hub.tls_context(self.cert)
            conn.settimeout(10)
            try:
                conn = ctx.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError) as e:
                with self.lock:
                    self.tls_errors.append({"time": time.time(), "error": str(e)})
                return
            sni = getattr(conn, "flipper_sni", None)
            conn.settimeout(None)
        BackendHandler(conn, client, BackendServer(self, sni))


class BackendServer(netkit.FakeServer):
    def __init__(self, backend, sni):
        super().__init__(backend)
        self.backend = backend
        self.sni = sni


class BackendHandler(netkit.QuietHandlerMixin, BaseHTTPRequestHandler):
    def do_any(self):
        b = self.server.backend
        body = self.read_body()
        rec = {
            "time": time.time(),
            "method": self.command,
            "path": self.path,
            "headers": dict(self.headers.items()),
            "host": self.headers.get("Host"),
            "sni": self.server.sni,
            "tls": b.tls,
            "client": list(self.client_address[:2]),
            "body": body.decode("utf-8", "replace"),
        }
        with b.lock:
            b.requests.append(rec)
            status, delay, data = b.status, b.delay, b.body
            drop, headers, hang = b.drop, dict(b.headers), b.hang
            route = b.routes.get(self.path)
            if route is not None:
                status = int(route.get("status", status))
                data = route.get("body", data)
                headers = dict(route.get("headers", headers))
            if hang:
                b.hanging += 1
        if hang:
            # Hold the connection, answering nothing, until released.
            b.released.wait()
            with b.lock:
                b.hanging -= 1
            self.close_connection = True
            return
        if delay > 0:
            time.sleep(delay)
        if drop:
            self.close_connection = True
            return
        try:
            self.send_plain(status, data, extra=headers)
        except OSError:
            self.close_connection = True  # cut by "down" meanwhile


class Hub:
    """All backends of this process, plus the TLS contexts they share."""

    def __init__(self, cert_dir):
        self.cert_dir = cert_dir
        self.cert_files = certs.ensure_default(cert_dir)
        self.conn_server = netkit.ConnServer()
        self.backends = {}       # (addr, port) -> Backend
        self.contexts = {}
        self.lock = threading.Lock()

    def tls_context(self, name):
        with self.lock:
            ctx = self.contexts.get(name)
            if ctx is not None:
                return ctx
            if "/" in name or name.startswith("."):
                raise ValueError("bad cert name %r" % name)
            crt = os.path.join(self.cert_dir, name + ".pem")
            key = os.path.join(self.cert_dir, name + ".key")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(crt, key)

            def sni_callback(sslsock, server_name, _ctx):
                # Recorded per connection; None when the client sent no SNI
                # (e.g. it connected to an IP literal).
                sslsock.flipper_sni = server_name
                return None
            ctx.sni_callback = sni_callback
            self.contexts[name] = ctx
            return ctx

    def add(self, cfg):
        addr = netkit.canon_addr(str(cfg.get("addr", "127.0.0.1")))
        port = int(cfg.get("port", 0))
        key = (addr, port)
        if port and key in self.backends:
            # Re-adding reconfigures (and revives) the existing backend.
            b = self.backends[key]
            b.configure(cfg)
            self._apply_down(b)
            return b
        b = Backend(self, addr, port, bool(cfg.get("tls", False)))
        b.configure(cfg)
        if not b.down:
            self.conn_server.open(b.site)
        elif port == 0:
            raise ValueError("a backend that starts down needs a fixed port")
        self.backends[(addr, b.port)] = b
        return b

    def _apply_down(self, b):
        listening = b.site.sock is not None
        if b.down and listening:
            self.conn_server.close(b.site)
        elif not b.down and not listening:
            self.conn_server.open(b.site)

    def get(self, addr, port):
        b = self.backends.get((netkit.canon_addr(addr), int(port)))
        if b is None:
            raise KeyError("no backend %s" % netkit.hostport(addr, int(port)))
        return b

    def update(self, addr, port, cfg):
        b = self.get(addr, port)
        b.configure(cfg)
        self._apply_down(b)
        return b

    def remove(self, addr, port):
        b = self.get(addr, port)
        b.released.set()
        self.conn_server.close(b.site)
        del self.backends[(b.addr, b.port)]

    def remove_all(self):
        for b in list(self.backends.values()):
            b.released.set()
            self.conn_server.close(b.site)
        self.backends.clear()


class ControlHandler(netkit.QuietHandlerMixin, BaseHTTPRequestHandler):
    def do_any(self):
        hub = self.server.hub
        try:
            raw = self.read_body()
            data = json.loads(raw) if raw.strip() else {}
            status, out = self.route(hub, self.command,
                                     urllib.parse.urlsplit(self.path).path, data)
        except KeyError as e:
            status, out = 404, {"error": str(e.args[0] if e.args else e)}
        except (ValueError, TypeError, OSError) as e:
            status, out = 400, {"error": str(e)}
        self.send_json(status, out)

    def route(self, hub, method, path, data):
        if path == "/backends":
            if method == "GET":
                return 200, {"backends": [b.info() for b in hub.backends.values()]}
            if method == "POST":
                return 200, hub.add(data).info()
            if method == "DELETE":
                hub.remove_all()
                return 200, {"backends": []}
        if path == "/backends/bulk" and method == "POST":
            common = {k: v for k, v in data.items() if k != "addrs"}
            out = [hub.add(dict(common, addr=a)).info() for a in data["addrs"]]
            return 200, {"backends": out}
        if path == "/certs" and method == "GET":
            return 200, dict(hub.cert_files, dir=hub.cert_dir)
        if path.startswith("/backends/"):
            rest = path[len("/backends/"):]
            want_requests = rest.endswith("/requests")
            if want_requests:
                rest = rest[:-len("/requests")]
            addr, _, port = rest.rpartition("/")
            addr = urllib.parse.unquote(addr)
            if want_requests:
                b = hub.get(addr, port)
                with b.lock:
                    if method == "DELETE":
                        b.requests = []
                    return 200, list(b.requests)
            if method == "GET":
                return 200, hub.get(addr, port).info()
            if method == "POST":
                return 200, hub.update(addr, port, data).info()
            if method == "DELETE":
                hub.remove(addr, port)
                return 200, {"ok": True}
        return 404, {"error": "no such control route: %s %s" % (method, path)}


def main(argv=None):
    ap = argparse.ArgumentParser(description="loopback health-check backends")
    ap.add_argument("--control", default="127.0.0.1:0")
    ap.add_argument("--ready-file")
    ap.add_argument("--cert-dir")
    args = ap.parse_args(argv)
    cert_dir = args.cert_dir or tempfile.mkdtemp(prefix="flipper-pki-")
    hub = Hub(cert_dir)
    host, port = netkit.parse_hostport(args.control)
    control = netkit.ControlServer((host, port), ControlHandler)
    control.hub = hub
    t = threading.Thread(target=control.serve_forever, args=(0.1,),
                         daemon=True)

    def start():
        t.start()
        hp = netkit.hostport(host, control.server_address[1])
        if args.ready_file:
            netkit.write_ready(args.ready_file, hp + "\n")
        print(hp, flush=True)

    def stop():
        control.shutdown()
        control.server_close()
        hub.remove_all()
        hub.conn_server.stop()

    netkit.serve_until_signal(start, stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
