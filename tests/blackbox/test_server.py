"""server.* in `flipper monitor`: GET /v1/health (200 while every group's
last pass succeeded lately, else 503 with the reasons), GET /v1/version
and GET /metrics (the textfile's metrics) on server.host:server.port,
through libmicrohttpd, loaded only when server.enabled is set. What a
Kubernetes probe and a Prometheus scrape of the monitor Deployment use.

As everywhere here: the order of events, never how long they took."""

import http.client
import json
import os
import signal
import socket
import subprocess

import pytest

from harness import missing
from conftest import FLIPPER, flipper_env, log_lines, run_flipper, stderr_of, wait_for
from test_libcurl import hide_and_run, library_file
from test_metrics import parse_prom, promtool_check, value


@pytest.fixture
def env(env):
    env.cloud.settings(action_seconds=0)
    yield env
    env.stop_all()
    env.backends.clear()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serving(env, **server):
    env.pair()
    env.server_port = free_port()
    srv = {"enabled": True, "host": "127.0.0.1", "port": env.server_port,
           "shutdown_timeout": "1s"}
    srv.update(server)
    return env.config(checks=[env.check(interval="200ms", timeout="1s")],
                      group_extra={"poll_interval": "always"}, server=srv)


def get(env, path, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", env.server_port, timeout=30)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read().decode()
    finally:
        c.close()


def started(env, p):
    wait_for(lambda: any(l.get("msg") == "HTTP endpoint listening"
                         for l in log_lines(stderr_of(p))), 20, what="the endpoint")


def health(env):
    status, headers, body = get(env, "/v1/health")
    assert headers["content-type"] == "application/json"
    return status, json.loads(body)


def test_health_flips_when_a_groups_api_fails(env):
    serving(env)
    p = env.start("monitor")
    started(env, p)
    wait_for(lambda: health(env)[0] == 200, 20, what="healthy")
    status, doc = health(env)
    assert doc["status"] == "ok" and doc["groups"][0]["id"] == "web" and doc["groups"][0]["ok"]

    env.cloud.add_fault(method="GET", path=r"/v1/servers$", status=500, code="server_error",
                        count=-1)
    wait_for(lambda: health(env)[0] == 503, 30, what="unhealthy")
    status, doc = health(env)
    g = doc["groups"][0]
    assert doc["status"] == "failing" and not g["ok"], doc
    assert g["reason"] == "its last pass failed", g
    assert g["failing"]["phase"] == "inventory" and "server_error" in g["failing"]["error"], g

    env.cloud.clear_faults()
    wait_for(lambda: health(env)[0] == 200, 30, what="healthy again")
    env.stop_all()


def test_version_metrics_and_unknown_paths(env):
    serving(env)
    p = env.start("monitor")
    started(env, p)
    wait_for(lambda: health(env)[0] == 200, 20, what="a pass")
    status, headers, body = get(env, "/v1/version")
    assert status == 200, body
    doc = json.loads(body)
    version = run_flipper("version").out.splitlines()
    assert "flipper " + doc["version"] == version[0]
    assert doc["libcurl"] and doc["libmicrohttpd"], doc

    status, headers, text = get(env, "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    fams = parse_prom(text)
    assert value(fams, "flipper_group_up", group="web") == 1
    assert value(fams, "flipper_group_failures_total", group="web", phase="inventory") == 0
    assert value(fams, "flipper_server_health", server="lb-a", status="healthy") == 1
    promtool_check(text)

    assert get(env, "/nope")[0] == 404
    status, headers, _ = get(env, "/v1/health", method="POST")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    assert get(env, "/v1/health", method="HEAD")[0] == 200
    env.stop_all()


def test_sigterm_closes_what_is_open_at_the_shutdown_timeout(env):
    """A client that opened a connection and never finishes its request
    would hold MHD for its idle timeout; after SIGTERM it gets
    server.shutdown_timeout (1s), then it is closed and flipper exits 0.
    No new connection is taken once the signal came."""
    serving(env)
    p = env.start("monitor")
    started(env, p)
    slow = socket.create_connection(("127.0.0.1", env.server_port), timeout=30)
    slow.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")     # no blank line: unfinished
    wait_for(lambda: health(env)[0] in (200, 503), 10, what="an answer meanwhile")
    p.send_signal(signal.SIGTERM)
    assert p.wait(60) == 0, stderr_of(p)
    msgs = [l.get("msg") for l in log_lines(stderr_of(p))]
    order = ["stopping on signal",
             "server.shutdown_timeout: closing the HTTP connections still open",
             "HTTP endpoint stopped"]
    assert [m for m in msgs if m in order] == order, msgs
    assert slow.recv(100) == b""           # closed by flipper, unanswered
    slow.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", env.server_port), timeout=5).close()


def test_a_quick_stop_when_nothing_is_open(env):
    serving(env, shutdown_timeout="1h")
    p = env.start("monitor")
    started(env, p)
    assert health(env)[0] in (200, 503)
    p.send_signal(signal.SIGTERM)
    assert p.wait(60) == 0, stderr_of(p)
    msgs = [l.get("msg") for l in log_lines(stderr_of(p))]
    assert "HTTP endpoint stopped" in msgs
    assert "server.shutdown_timeout: closing the HTTP connections still open" not in msgs


def test_address_in_use_is_one_clear_error(env):
    serving(env)
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", env.server_port))
        s.listen(1)
        r = env.run("monitor", timeout=60)
    assert r.rc == 1, r
    errors = [l for l in r.logs() if l.get("level") == "error"]
    assert len(errors) == 1, r.err
    assert errors[0]["msg"] == "cannot serve the HTTP endpoint of server.*"
    assert errors[0]["error"] == "cannot listen on 127.0.0.1 port %d: Address already in use" \
        % env.server_port


def test_only_monitor_serves(env):
    serving(env)
    r = env.reconcile()
    assert r.rc == 0, r
    assert "server.enabled: only monitor serves the HTTP endpoint" in \
        [l.get("msg") for l in r.logs()]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", env.server_port), timeout=5).close()


def test_without_libmicrohttpd_monitor_says_so_and_validate_warns(env):
    """The library hidden (as a broken installation would have it):
    monitor refuses with one error that names the package; validate
    warns; everything that does not serve HTTP runs as before."""
    serving(env)
    if not library_file("libmicrohttpd.so.12"):
        missing("libmicrohttpd.so.12 is not installed (Debian package libmicrohttpd12)")
    p = hide_and_run(["libmicrohttpd.so.12"], "-c", env.config_path, "--state", env.state,
                     "monitor")
    assert p.returncode == 1, p.stderr
    errors = [l for l in log_lines(p.stderr) if l.get("level") == "error"]
    assert len(errors) == 1, p.stderr
    assert errors[0]["msg"] == "cannot serve the HTTP endpoint of server.*"
    assert "libmicrohttpd.so.12" in errors[0]["error"]
    assert errors[0]["error"].endswith("install libmicrohttpd12"), errors

    v = hide_and_run(["libmicrohttpd.so.12"], "-c", env.config_path, "--log-format", "json",
                     "validate")
    assert v.returncode == 0 and v.stdout.strip() == "configuration OK", v
    warn = [l for l in log_lines(v.stderr) if l.get("level") == "warn"]
    assert len(warn) == 1 and "server.enabled" in warn[0]["msg"], v.stderr

    r = hide_and_run(["libmicrohttpd.so.12"], "-c", env.config_path, "--state", env.state,
                     "reconcile")
    assert r.returncode == 0, r.stderr
    ver = hide_and_run(["libmicrohttpd.so.12"], "version")
    assert ver.returncode == 0 and "libmicrohttpd not available" in ver.stdout, ver


def test_a_reload_that_moves_the_endpoint_is_refused(env):
    cfg = serving(env)
    p = env.start("monitor")
    started(env, p)
    cfg["server"]["port"] = free_port()
    cfg["groups"][0]["display_name"] = "Renamed"
    with open(env.config_path, "w") as f:
        json.dump(cfg, f)
    p.send_signal(signal.SIGHUP)
    wait_for(lambda: [l for l in log_lines(stderr_of(p)) if l.get("msg", "").startswith(
        "configuration reload refused")], 20, what="the refusal")
    line = [l for l in log_lines(stderr_of(p))
            if l.get("msg", "").startswith("configuration reload refused")][0]
    assert line["reason"] == "server.* changed: the HTTP endpoint needs a restart", line
    # Still served where it was.
    assert health(env)[0] in (200, 503)
    env.stop_all()


def test_a_group_whose_passes_stall_is_not_healthy(env):
    """200 needs a pass that ended lately, not only one that succeeded.
    Group web's assignment is held by the API; a reload arrives, so no
    group starts a pass until that apply ends. Group db's last pass
    succeeded, but it grows old: 503, 'no pass has ended lately'. Once the
    apply ends, db passes again and the endpoint says 200."""
    from test_reload import ASSIGN, D, web_and_db
    from conftest import VIP_1, LB_B
    cfg, db = web_and_db(env)
    cfg["groups"][0]["plan_apply_timeout"] = "2m"
    db.update(poll_timeout="1s", plan_apply_timeout="1s")
    cfg["groups"].append(db)
    env.server_port = free_port()
    cfg["server"] = {"enabled": True, "host": "127.0.0.1", "port": env.server_port}
    with open(env.config_path, "w") as f:
        json.dump(cfg, f)
    env.cloud.add_fault(method="POST", path=ASSIGN, hold="assign", count=1)
    p = env.start("monitor")
    started(env, p)
    wait_for(lambda: health(env)[0] == 200, 30, what="both groups passing")
    env.backends.set("127.0.0.11", env.port, status=503)
    wait_for(lambda: [r for r in env.cloud.requests("POST", ASSIGN) if r.get("held")], 30,
             what="web's assignment held")
    p.send_signal(signal.SIGHUP)
    wait_for(lambda: "the new configuration takes over when the apply in flight ends" in
             [l.get("msg") for l in log_lines(stderr_of(p))], 20, what="the reload waiting")

    def stale():
        status, doc = health(env)
        g = {x["id"]: x for x in doc["groups"]}
        return status == 503 and g["db"]["reason"] == "no pass has ended lately" and g
    g = wait_for(stale, 30, what="db's last pass growing old")
    assert g["db"]["failing"] is None and g["db"]["last_pass_ms_ago"] > 0, g
    assert len(env.backends.requests(D, env.port)) > 0

    env.cloud.release("assign")
    env.cloud.wait_assigned(VIP_1, LB_B, timeout=30)
    wait_for(lambda: health(env)[0] == 200, 30, what="healthy again")
    env.stop_all()
