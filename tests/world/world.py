"""Start and drive the test world: fake Hetzner API, backends, webhook sink.

Each class starts its server as a child process (sys.executable), waits for
the ready file, and wraps the control API. All are context managers:

    with FakeCloud(token="t0k") as cloud, Backends() as be, Sink() as sink:
        cloud.add_servers([{"id": 5000000001, "name": "lb-a",
                            "ipv4": "127.0.0.11", "labels": {"role": "lb"}}])
        be.add("127.0.0.11", 8080)
        ...

Control traffic uses http.client directly, so proxy environment variables
can never send it anywhere but loopback.
"""

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
READY_TIMEOUT = 10.0


class WorldError(RuntimeError):
    pass


def http_json(host, port, method, path, body=None, headers=None, timeout=30):
    """One request; returns (status, headers dict (lower-case keys), decoded
    body: JSON when it parses, else text)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        rh = {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()
    text = raw.decode("utf-8", "replace")
    try:
        out = json.loads(text) if text else None
    except ValueError:
        out = text
    return resp.status, rh, out


# No wait is shorter than this: a loaded 2-core machine running a sanitizer
# build is slow, and a generous wait costs time only when the test fails.
WAIT_FLOOR = 30.0


def wait_until(pred, timeout=10.0, interval=0.05, what="condition"):
    """Poll pred() until it returns something truthy; return that. The
    timeout is at least WAIT_FLOOR seconds."""
    timeout = max(timeout, WAIT_FLOOR)
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise WorldError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def _split_hostport(s):
    host, _, port = s.strip().rpartition(":")
    return host.strip("[]"), int(port)


class _Child:
    """A server child process with a ready file."""

    script = None
    name = "child"

    def __init__(self):
        self.proc = None
        self.tmp = None
        self.ready_lines = None

    def _args(self, ready_file):
        raise NotImplementedError

    def start(self):
        if self.proc is not None:
            return self
        self.tmp = tempfile.mkdtemp(prefix="flipper-%s-" % self.name)
        ready = os.path.join(self.tmp, "ready")
        self.stderr_path = os.path.join(self.tmp, "stderr")
        self._stderr = open(self.stderr_path, "wb")
        cmd = [sys.executable, os.path.join(HERE, self.script)] + self._args(ready)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=self._stderr)
        deadline = time.monotonic() + READY_TIMEOUT
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                why = ("exited with status %s" % self.proc.returncode
                       if self.proc.poll() is not None else
                       "not ready after %.0fs" % READY_TIMEOUT)
                err = self.stderr_text()
                self.stop()
                raise WorldError("%s %s; stderr:\n%s" % (self.script, why, err))
            time.sleep(0.02)
        with open(ready) as f:
            self.ready_lines = f.read().splitlines()
        self._on_ready()
        return self

    def _on_ready(self):
        pass

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            self.proc = None
            self._stderr.close()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _control(self, method, path, body=None, ok=(200,)):
        status, _, out = http_json(self.control_host, self.control_port,
                                   method, path, body)
        if status not in ok:
            raise WorldError("%s %s -> %s: %s" % (method, path, status, out))
        return out


# --------------------------------------------------------------------------

class FakeCloud(_Child):
    """The fake Hetzner Cloud API (fakecloud.py).

    .url / .endpoint  "http://127.0.0.1:PORT/v1" (HCLOUD_ENDPOINT-style)
    .base             "http://127.0.0.1:PORT"
    .host, .port, .token
    """

    script = "fakecloud.py"
    name = "fakecloud"

    def __init__(self, token="test-token-0123456789", listen="127.0.0.1:0",
                 verbose=False):
        super().__init__()
        self.token = token
        self.listen = listen
        self.verbose = verbose

    def _args(self, ready):
        a = ["--listen", self.listen, "--token", self.token, "--ready-file", ready]
        return a + (["--verbose"] if self.verbose else [])

    def _on_ready(self):
        self.host, self.port = _split_hostport(self.ready_lines[0])
        self.control_host, self.control_port = self.host, self.port
        h = "[%s]" % self.host if ":" in self.host else self.host
        self.base = "http://%s:%d" % (h, self.port)
        self.url = self.endpoint = self.base + "/v1"

    # ---- control API ----------------------------------------------------

    def reset(self):
        self._control("POST", "/_control/reset")

    def settings(self, **kw):
        """Change settings (none: just read them); returns all settings."""
        if kw:
            return self._control("POST", "/_control/settings", kw)["settings"]
        return self._control("GET", "/_control/settings")["settings"]

    def add_servers(self, servers):
        """servers: list of {"id", "name", "location", "ipv4", "ipv6",
        "labels", "status", ...}; returns the API objects."""
        return self._control("POST", "/_control/servers",
                             {"servers": list(servers)})["servers"]

    def add_server(self, **spec):
        return self.add_servers([spec])[0]

    def delete_server(self, sid):
        self._control("DELETE", "/_control/servers/%d" % sid)

    def add_floating_ips(self, fips):
        """fips: list of {"id", "name", "type", "ip", "home_location",
        "server", "labels", ...}; returns the API objects."""
        return self._control("POST", "/_control/floating_ips",
                             {"floating_ips": list(fips)})["floating_ips"]

    def add_floating_ip(self, **spec):
        return self.add_floating_ips([spec])[0]

    def delete_floating_ip(self, fid):
        self._control("DELETE", "/_control/floating_ips/%d" % fid)

    def add_faults(self, *rules):
        """Append fault rules; each a dict (see fakecloud.py) or a list of them."""
        flat = []
        for r in rules:
            flat.extend(r if isinstance(r, list) else [r])
        return self._control("POST", "/_control/faults", {"rules": flat})["rules"]

    def add_fault(self, **rule):
        return self.add_faults(rule)

    def faults(self):
        return self._control("GET", "/_control/faults")["rules"]

    def clear_faults(self):
        self._control("DELETE", "/_control/faults")

    def release(self, hold):
        """Let the requests held by fault rules with "hold": hold go."""
        self._control("POST", "/_control/release", {"hold": hold})

    def requests(self, method=None, path=None, since=0):
        """The /v1 request log, optionally filtered by method and by a path
        regex (re.search)."""
        out = self._control("GET", "/_control/requests?since=%d" % since)
        if method:
            out = [r for r in out if r["method"] == method]
        if path:
            out = [r for r in out if re.search(path, r["path"])]
        return out

    def clear_requests(self):
        self._control("DELETE", "/_control/requests")

    def state(self):
        """{"servers": [...], "floating_ips": [...], "actions": [...], "rate": {...}}"""
        return self._control("GET", "/_control/state")

    def server(self, sid):
        for s in self.state()["servers"]:
            if s["id"] == sid:
                return s
        return None

    def floating_ip(self, fid):
        for f in self.state()["floating_ips"]:
            if f["id"] == fid:
                return f
        return None

    def actions(self):
        return self.state()["actions"]

    def wait_assigned(self, fid, sid, timeout=10.0):
        """Wait until floating IP fid points at server sid (None: unassigned)."""
        return wait_until(lambda: (self.floating_ip(fid) or {}).get("server", -1) == sid,
                          timeout, what="floating ip %d -> %s" % (fid, sid))

    # ---- direct API calls (for tests of the fake itself) ------------------

    def api(self, method, path, body=None, token=True, headers=None, timeout=30):
        """Call /v1 + path. token=True uses self.token, a string uses that,
        None sends no Authorization. Returns (status, headers, body)."""
        hdrs = dict(headers or {})
        if token is True:
            token = self.token
        if token is not None:
            hdrs["Authorization"] = "Bearer " + token
        return http_json(self.host, self.port, method, "/v1" + path, body,
                         hdrs, timeout)


class Backends(_Child):
    """HTTP/HTTPS health-check backends (backends.py).

    .cert_dir, .ca_file, .wrong_ca_file, .server_cert, .wrong_server_cert
    """

    script = "backends.py"
    name = "backends"

    def __init__(self, cert_dir=None, control="127.0.0.1:0"):
        super().__init__()
        self.cert_dir = cert_dir
        self.control = control

    def _args(self, ready):
        if self.cert_dir is None:
            self.cert_dir = os.path.join(self.tmp, "pki")
        return ["--control", self.control, "--ready-file", ready,
                "--cert-dir", self.cert_dir]

    def _on_ready(self):
        self.control_host, self.control_port = _split_hostport(self.ready_lines[0])
        c = self._control("GET", "/certs")
        self.ca_file = c["ca"]
        self.wrong_ca_file = c["wrongca"]
        self.server_cert = c["server"]
        self.wrong_server_cert = c["wrong-server"]

    @staticmethod
    def _path(addr, port, suffix=""):
        return "/backends/%s/%d%s" % (urllib.parse.quote(addr, safe=""), port, suffix)

    def add(self, addr, port=0, tls=False, status=200, delay=0, down=False,
            body=None, drop=False, cert=None, headers=None, hang=False, routes=None):
        """Start a backend; returns its info (info["port"] is the real port)."""
        cfg = {"addr": addr, "port": port, "tls": tls, "status": status,
               "delay": delay, "down": down, "drop": drop, "hang": hang}
        if routes is not None:
            cfg["routes"] = routes
        if body is not None:
            cfg["body"] = body
        if cert is not None:
            cfg["cert"] = cert
        if headers is not None:
            cfg["headers"] = headers
        return self._control("POST", "/backends", cfg)

    def bulk(self, addrs, port, **cfg):
        """Start one backend per address, same port and config."""
        return self._control("POST", "/backends/bulk",
                             dict(cfg, addrs=list(addrs), port=port))["backends"]

    def set(self, addr, port, **cfg):
        """Change status / delay / down / body / drop / hang / cert / headers / routes."""
        return self._control("POST", self._path(addr, port), cfg)

    def info(self, addr, port):
        return self._control("GET", self._path(addr, port))

    def list(self):
        return self._control("GET", "/backends")["backends"]

    def requests(self, addr, port):
        return self._control("GET", self._path(addr, port, "/requests"))

    def clear_requests(self, addr, port):
        self._control("DELETE", self._path(addr, port, "/requests"))

    def remove(self, addr, port):
        self._control("DELETE", self._path(addr, port))

    def clear(self):
        """Stop all backends."""
        self._control("DELETE", "/backends")


class Sink(_Child):
    """Webhook / heartbeat sink (sink.py).

    .url "http://127.0.0.1:PORT", .host, .port (the sink itself)
    """

    script = "sink.py"
    name = "sink"

    def __init__(self, listen="127.0.0.1:0"):
        super().__init__()
        self.listen = listen

    def _args(self, ready):
        return ["--listen", self.listen, "--ready-file", ready]

    def _on_ready(self):
        self.host, self.port = _split_hostport(self.ready_lines[0])
        ctl = self.ready_lines[1].split(None, 1)[1]
        self.control_host, self.control_port = _split_hostport(ctl)
        h = "[%s]" % self.host if ":" in self.host else self.host
        self.url = "http://%s:%d" % (h, self.port)

    def requests(self, method=None, path=None):
        out = self._control("GET", "/_sink/requests")
        if method:
            out = [r for r in out if r["method"] == method]
        if path:
            out = [r for r in out if r["path"] == path]
        return out

    def clear(self):
        self._control("DELETE", "/_sink/requests")

    def mode(self, **kw):
        """Any of status=, delay=, down=, body=; returns the current mode."""
        if kw:
            return self._control("POST", "/_sink/mode", kw)
        return self._control("GET", "/_sink/mode")

    def reset(self):
        return self._control("POST", "/_sink/reset")

    def wait_for(self, n=1, timeout=10.0, method=None, path=None):
        """Wait until at least n matching requests arrived; return them."""
        return wait_until(lambda: (lambda r: r if len(r) >= n else None)(
            self.requests(method, path)), timeout,
            what="%d sink request(s)" % n)


def main():
    """Start all three servers for a manual demo and print how to reach them;
    runs until Ctrl-C / SIGTERM."""
    import signal
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    token = os.environ.get("FAKECLOUD_TOKEN", "demo-token")
    with FakeCloud(token=token) as cloud, Backends() as be, Sink() as sink:
        print("HCLOUD_ENDPOINT=%s" % cloud.url)
        print("HCLOUD_TOKEN=%s" % token)
        print("fakecloud control: %s/_control/" % cloud.base)
        print("backends control:  http://%s:%d/backends  (CA %s)"
              % (be.control_host, be.control_port, be.ca_file))
        print("sink:              %s  (control http://%s:%d/_sink/)"
              % (sink.url, sink.control_host, sink.control_port), flush=True)
        try:
            while not stop:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
