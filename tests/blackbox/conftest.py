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


def run_flipper(*args, env=None, timeout=120, cwd=None):
    e = dict(os.environ)
    e.pop("HCLOUD_TOKEN", None)
    e.pop("HCLOUD_ENDPOINT", None)
    e.pop("FLIPPER_CONFIG", None)
    e.pop("FLIPPER_STATE", None)
    if env:
        e.update(env)
    p = subprocess.run([FLIPPER, *args], capture_output=True, text=True,
                       timeout=timeout, env=e, cwd=cwd)
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
            checks = [{"id": "http", "type": "http", "port": 8080, "path": "/health",
                       "interval": "1s", "timeout": "2s", "fall": 1, "rise": 1}]
        if groups is None:
            g = {
                "id": "web", "display_name": "Web",
                "poll_interval": "0s", "plan_apply_timeout": "20s",
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
    return Env(tmp_path, cloud, backends, sink)
