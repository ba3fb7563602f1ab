"""Fixtures for black-box tests: the real flipper binary against the test
world (fake Hetzner API, real HTTP/HTTPS backends on 127.0.0.x, a webhook
sink), all on loopback."""

import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "world"))

import world  # noqa: E402
# One rule for optional tools, the test clock, free ports: harness.py.
from harness import (SHARED, FIXTURES, TestClock, free_port,  # noqa: E402,F401
                     missing, need_path, need_tool)

FLIPPER = os.environ.get("FLIPPER", os.path.join(ROOT, "flipper"))
TOKEN = "test-token-s3cr3t-0123456789abcdef"


class Run:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def logs(self):
        """stderr parsed as JSON log lines (non-JSON lines kept as text)."""
        out = []
        for line in self.err.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"text": line})
        return out

    def __repr__(self):
        return f"Run(rc={self.rc}, out={self.out!r}, err={self.err!r})"


def run_flipper(*args, env=None, timeout=120, cwd=None, preexec=None):
    e = dict(os.environ)
    e.pop("HCLOUD_TOKEN", None)
    e.pop("HCLOUD_ENDPOINT", None)
    e.pop("FLIPPER_CONFIG", None)
    e.pop("FLIPPER_STATE", None)
    # Set when the tests themselves run under systemd; each would be a
    # token or state source the test did not ask for.
    e.pop("CREDENTIALS_DIRECTORY", None)
    e.pop("STATE_DIRECTORY", None)
    # FLIPPER_SECTION__KEY overrides the configuration: only a test's own.
    for k in [k for k in e if k.startswith("FLIPPER_")]:
        del e[k]
    if env:
        e.update(env)
    p = subprocess.run([FLIPPER, *args], capture_output=True, text=True,
                       timeout=timeout, env=e, cwd=cwd, preexec_fn=preexec)
    return Run(p)


def to_yaml(obj, indent=0):
    """JSON is YAML: good enough for configs written by tests."""
    return json.dumps(obj, indent=2)


class Env:
    """One test's world and flipper invocation helpers."""

    def __init__(self, tmp_path, cloud, backends, sink):
        self.tmp = tmp_path
        self.cloud = cloud
        self.backends = backends
        self.sink = sink
        self.state = str(tmp_path / "state.db")
        self.config_path = str(tmp_path / "flipper.json")
        self.metrics = str(tmp_path / "metrics.prom")

    def config(self, groups=None, checks=None, group_extra=None, notifications=True,
               heartbeat=None, metrics=False, **top):
        if checks is None:
            checks = [{"id": "http", "type": "http", "port": self.backend_port(), "path": "/health",
                       "interval": "1s", "timeout": "2s", "fall": 1, "rise": 1}]
        if groups is None:
            g = {
                "id": "web", "display_name": "Web",
                "poll_interval": "always", "plan_apply_timeout": "20s",
                "hetzner": {
                    "api_token": TOKEN, "endpoint": self.cloud.endpoint,
                    "project_id": 4242,
                    "servers": {"label_selector": "role=lb"},
                    "floating_ips": {"label_selector": "role=vip"},
                },
                "checks": checks,
            }
            g.update(group_extra or {})
            groups = [g]
        cfg = {"version": 1, "groups": groups,
               "telemetry": {"logging": {"level": "debug", "format": "json"}}}
        if notifications:
            cfg["notifications"] = {"enabled": True, "targets": [
                {"type": "mattermost", "url": self.sink.url + "/hooks/abc123secret",
                 "channel": "ops", "username": "flipper"}]}
        if heartbeat:
            cfg["heartbeat"] = heartbeat
        if metrics:
            cfg["telemetry"]["metrics"] = {"textfile": self.metrics}
        cfg.update(top)
        with open(self.config_path, "w") as f:
            json.dump(cfg, f, indent=2)
        os.chmod(self.config_path, 0o600)
        return cfg

    def run(self, *args, **kw):
        return run_flipper("-c", self.config_path, "--state", self.state, *args, **kw)

    def reconcile(self, *args, **kw):
        return self.run("reconcile", "--once", *args, **kw)


@pytest.fixture(scope="session")
def cloud():
    with world.FakeCloud(token=TOKEN) as c:
        yield c


@pytest.fixture(scope="session")
def backends():
    with world.Backends() as b:
        yield b


@pytest.fixture(scope="session")
def sink():
    with world.Sink() as s:
        yield s


@pytest.fixture
def env(tmp_path, cloud, backends, sink):
    cloud.reset()
    backends.clear()
    sink.reset()
    e = Env(tmp_path, cloud, backends, sink)
    yield e
    # A flipper a failed test left running would talk to the next test's
    # world (the fake API, the backends and the sink are shared).
    e.stop_all()


# ---- helpers for the notification, loop and metrics tests -------------------
# (test_notify.py, test_loop.py, test_metrics.py)

import sqlite3  # noqa: E402

HOOK_PATH = "/hooks/abc123secret"     # the default target's path: a secret
LB_A, LB_B, LB_C = 5000000001, 5000000002, 5000000003
VIP_1, VIP_2 = 3000000001, 3000000002
FAST_CHECK = {"id": "http", "display_name": "HTTP health", "type": "http",
              "port": 0, "path": "/health", "interval": "100ms",   # port: env.check()
              "timeout": "1s", "fall": 1, "rise": 1}


def flipper_env(extra=None):
    """The environment run_flipper() gives flipper, for Popen users."""
    e = dict(os.environ)
    for k in [k for k in e if k in ("HCLOUD_TOKEN", "HCLOUD_ENDPOINT") or k.startswith("FLIPPER_")]:
        e.pop(k, None)
    if extra:
        e.update(extra)
    return e


def _env_add_lb(self, sid, name, addr, location="fsn1", labels=None, up=True):
    """A server labelled role=lb and its backend on addr:self.port (503
    unless up). The first backend picks a free port and the later ones
    share it (a check has one port): test runs going on at the same time
    never collide."""
    lab = {"role": "lb"}
    lab.update(labels or {})
    self.cloud.add_server(id=sid, name=name, location=location, ipv4=addr,
                          ipv6=None, labels=lab)
    info = self.backends.add(addr, getattr(self, "port", 0), status=200 if up else 503)
    self.port = info["port"]


def _env_backend_port(self):
    """The port of this test's backends (add_lb), or a free one before
    the first backend is added."""
    if not getattr(self, "port", 0):
        self.port = free_port()
    return self.port


def _env_check(self, **over):
    """FAST_CHECK on the backends' port, with overrides."""
    c = dict(FAST_CHECK, port=self.backend_port())
    c.update(over)
    return c


def _env_add_vip(self, fid, name, ip, server, location="fsn1", labels=None):
    lab = {"role": "vip"}
    lab.update(labels or {})
    self.cloud.add_floating_ip(id=fid, name=name, ip=ip, home_location=location,
                               server=server, labels=lab)


def _env_pair(self, loc_a="fsn1", loc_b="fsn1", canonical=False):
    """lb-a (127.0.0.11) and lb-b (127.0.0.12), both answering 200, and
    vip-1 (198.51.100.1) on lb-a, on a free port (add_lb). canonical: lb-a
    and vip-1 share resource_index 0, so vip-1 goes back to lb-a when lb-a
    recovers."""
    index = {"resource_index": "0"} if canonical else None
    self.add_lb(LB_A, "lb-a", "127.0.0.11", loc_a, labels=index)
    self.add_lb(LB_B, "lb-b", "127.0.0.12", loc_b)
    self.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A, loc_a, labels=index)


def _env_webhooks(self, path=HOOK_PATH):
    """Bodies POSTed to a webhook path of the sink, oldest first."""
    return [r["body"] for r in self.sink.requests("POST", path)]


def _env_texts(self, path=HOOK_PATH):
    return [b["text"] for b in self.webhooks(path)]


def _env_beats(self, path="/beat"):
    return self.sink.requests("GET", path)


def _env_db(self, sql, args=()):
    """Rows of a query on the state file (read-only)."""
    con = sqlite3.connect("file:%s?mode=ro" % self.state, uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def _env_outbox(self):
    """Queued messages: (kind, payload dict, attempts), in delivery order."""
    return [(k, json.loads(p), a) for k, p, a in
            self.db("SELECT kind, payload, attempts FROM outbox ORDER BY id")]


def _env_start(self, *args, extra_env=None):
    """Start flipper in the background (monitor, reconcile --for); stderr
    goes to a file so a long run never blocks on a full pipe."""
    n = getattr(self, "_started", 0) + 1
    self._started = n
    errp = str(self.tmp / ("stderr-%d.log" % n))
    errf = open(errp, "w")
    p = subprocess.Popen([FLIPPER, "-c", self.config_path, "--state", self.state, *args],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errf,
                         text=True, env=flipper_env(extra_env))
    errf.close()
    p.stderr_path = errp
    self._procs = getattr(self, "_procs", []) + [p]
    return p


def _env_stop_all(self):
    """Kill whatever start() left running (a failed test must not leak)."""
    for p in getattr(self, "_procs", []):
        if p.poll() is None:
            p.kill()
            p.wait(10)


def _env_clock(self):
    """This test's injected clock (harness.TestClock), created at offset 0;
    pass clock.env() to start()/run() to let flipper read it."""
    if not hasattr(self, "_clock"):
        self._clock = TestClock(self.tmp / "clock")
    return self._clock


Env.add_lb = _env_add_lb
Env.check = _env_check
Env.backend_port = _env_backend_port
Env.add_vip = _env_add_vip
Env.pair = _env_pair
Env.webhooks = _env_webhooks
Env.texts = _env_texts
Env.beats = _env_beats
Env.db = _env_db
Env.outbox = _env_outbox
Env.start = _env_start
Env.stop_all = _env_stop_all
Env.clock = property(_env_clock)


def stderr_of(proc):
    with open(proc.stderr_path) as f:
        return f.read()


def log_lines(text):
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"text": line})
    return out


def wait_for(pred, timeout=10.0, interval=0.05, what="condition"):
    return world.wait_until(pred, timeout, interval, what)
