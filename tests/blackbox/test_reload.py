"""SIGHUP reloads `flipper monitor` (and reconcile --for) instead of ending
it: checks, groups, notification targets and the log level come from the
file again; a configuration that does not validate, or that names another
state file, is refused with the reason and the running one stays; an
apply in flight finishes under the configuration it started with;
counters survive for targets whose server and check are unchanged; a
removed group's checks stop.

As everywhere in tests/blackbox, the assertions are about the order of
events in the backends' and the fake API's request logs and in flipper's
own log, never about how long something took."""

import json
import os
import signal

import pytest

import subprocess

from conftest import FLIPPER, LB_B, LB_C, VIP_1, flipper_env, log_lines, stderr_of, wait_for

A, B = "127.0.0.11", "127.0.0.12"
D = "127.0.0.23"              # group db's server
ASSIGN = r"^/v1/floating_ips/\d+/actions/assign$"


@pytest.fixture
def env(env):
    env.cloud.settings(action_seconds=0)
    yield env
    env.stop_all()
    env.backends.clear()


def write(env, cfg):
    with open(env.config_path, "w") as f:
        json.dump(cfg, f)


def logs(p):
    return log_lines(stderr_of(p))


def msgs(p):
    return [l.get("msg") for l in logs(p)]


def hup(p, n_before=None):
    """SIGHUP, then wait until flipper has dealt with it (reloaded or refused)."""
    done = lambda: [l for l in logs(p) if l.get("msg") in (
        "configuration reloaded", "configuration reload refused; the running configuration stays")]
    n = len(done()) if n_before is None else n_before
    p.send_signal(signal.SIGHUP)
    try:
        wait_for(lambda: len(done()) > n, 30, what="the reload's outcome")
    except Exception:
        raise AssertionError(stderr_of(p)[-3000:])
    assert p.poll() is None, stderr_of(p)
    return done()[-1]


def hits(env, addr, path=None):
    return [r for r in env.backends.requests(addr, env.port) if path is None or r["path"] == path]


def stop(p):
    p.send_signal(signal.SIGTERM)
    assert p.wait(30) == 0, stderr_of(p)


def web_and_db(env, **check_over):
    """Group web (lb-a, lb-b; vip-1 on lb-a) and group db (db-1 on D),
    checked every 200 ms."""
    env.pair()
    env.backends.add(D, env.port)
    env.cloud.add_server(id=LB_C, name="db-1", location="fsn1", ipv4=D, ipv6=None,
                         labels={"role": "db"})
    check = env.check(interval="200ms", timeout="1s", **check_over)
    cfg = env.config(checks=[check], group_extra={"poll_interval": "60s"})
    db = json.loads(json.dumps(cfg["groups"][0]))
    db.update(id="db", display_name="DB")
    db["hetzner"]["servers"]["label_selector"] = "role=db"
    db["hetzner"]["floating_ips"]["label_selector"] = "role=db-vip"
    return cfg, db


def test_sighup_adds_a_group_and_does_not_end_monitor(env):
    cfg, db = web_and_db(env)
    p = env.start("monitor")
    wait_for(lambda: len(hits(env, A)) >= 2, 20, what="web's checks")
    assert hits(env, D) == []
    cfg["groups"].append(db)
    write(env, cfg)
    line = hup(p)
    assert line["msg"] == "configuration reloaded" and line["added"] == 1, line
    assert line["groups"] == 2 and line["removed"] == 0
    wait_for(lambda: len(hits(env, D)) >= 2, 20, what="db's checks after the reload")
    n = len(hits(env, A))
    wait_for(lambda: len(hits(env, A)) >= n + 2, 20, what="web's checks going on")
    wait_for(lambda: any("db" in l and "ok" in l for l in
                         env.run("status").out.splitlines() if l.startswith("group db")),
             20, what="db passing")
    stop(p)
    assert env.run("status").rc == 0


def start_without_state_option(env):
    """monitor with the state path from the configuration (state.path),
    not from --state, which would outrank it."""
    errp = str(env.tmp / "stderr-nostate.log")
    with open(errp, "w") as errf:
        p = subprocess.Popen([FLIPPER, "-c", env.config_path, "monitor"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errf,
                             env=flipper_env())
    p.stderr_path = errp
    env._procs = getattr(env, "_procs", []) + [p]
    return p


def test_refused_reloads_keep_the_running_configuration(env):
    cfg, db = web_and_db(env)
    cfg["state"] = {"path": env.state}
    write(env, cfg)
    p = start_without_state_option(env)
    wait_for(lambda: len(hits(env, A)) >= 2, 20, what="web's checks")

    # Another state file: needs a restart.
    moved = dict(cfg, groups=cfg["groups"] + [db], state={"path": str(env.tmp / "other.db")})
    write(env, moved)
    line = hup(p)
    assert line["msg"].startswith("configuration reload refused"), line
    assert line["reason"] == "state.path changed: another state file needs a restart", line
    assert str(env.tmp / "other.db") in line["detail"] and env.state in line["detail"]
    assert not os.path.exists(env.tmp / "other.db")

    # One that does not validate: every error is logged, nothing changes.
    bad = dict(cfg, groups=cfg["groups"] + [db])
    bad["groups"][0] = dict(bad["groups"][0], poll_interval="5")
    write(env, bad)
    line = hup(p)
    assert line["reason"] == "the configuration does not validate", line
    errors = [l for l in logs(p) if l.get("msg") == "configuration error"]
    assert errors and "groups[0].poll_interval" in errors[-1]["diagnostic"], errors

    # The running configuration carried on all along: web checked, db never.
    n = len(hits(env, A))
    wait_for(lambda: len(hits(env, A)) >= n + 2, 20, what="web's checks going on")
    assert hits(env, D) == []

    # Fixed: taken.
    write(env, dict(cfg, groups=cfg["groups"] + [db]))
    assert hup(p)["msg"] == "configuration reloaded"
    wait_for(lambda: hits(env, D), 20, what="db's checks")
    stop(p)


def test_a_removed_groups_checks_stop(env):
    cfg, db = web_and_db(env)
    cfg["groups"].append(db)
    write(env, cfg)
    p = env.start("monitor")
    wait_for(lambda: len(hits(env, D)) >= 3 and len(hits(env, A)) >= 3, 20, what="both groups")
    cfg["groups"] = cfg["groups"][:1]
    write(env, cfg)
    line = hup(p)
    assert line["removed"] == 1 and line["groups"] == 1, line
    n_db = len(hits(env, D))
    n_web = len(hits(env, A))
    wait_for(lambda: len(hits(env, A)) >= n_web + 5, 20, what="web's checks going on")
    # At most the one that was in flight when the reload came.
    assert len(hits(env, D)) <= n_db + 1
    stop(p)


def test_counters_survive_unless_the_check_changed(env):
    """Two checks on a dead lb-b: 'same' is unchanged by the reload and
    keeps counting its failures; 'moved' gets another path and counts from
    zero. fall is large, so nothing moves meanwhile."""
    env.pair()
    env.backends.set(B, env.port, status=503)
    same = env.check(id="same", interval="100ms", timeout="1s", fall=1000, path="/health")
    moved = env.check(id="moved", interval="100ms", timeout="1s", fall=1000, path="/old")
    cfg = env.config(checks=[same, moved], group_extra={"poll_interval": "60s"})
    p = env.start("monitor")
    wait_for(lambda: len(hits(env, B, "/old")) >= 5 and len(hits(env, B, "/health")) >= 5, 20,
             what="both checks failing a few times")
    cfg["groups"][0]["checks"][1] = dict(moved, path="/new")
    cfg["groups"][0]["display_name"] = "Web, renamed"
    write(env, cfg)
    assert hup(p)["targets_reset"] == 2          # 'moved' on lb-a and on lb-b
    wait_for(lambda: len(hits(env, B, "/new")) >= 3, 20, what="the changed check running")
    stop(p)
    rows = dict((c, f) for c, f in env.db(
        "SELECT check_id, fall_count FROM targets WHERE server_id = ?", (LB_B,)))
    n_new, n_all = len(hits(env, B, "/new")), len(hits(env, B, "/health"))
    # The changed check counted only its new requests (one may have been
    # dropped in flight when flipper stopped)...
    assert n_new - 1 <= rows["moved"] <= n_new, (rows, n_new)
    # ...the unchanged one every request since the start, less those in
    # flight at the reload and at the stop.
    assert n_all - 2 <= rows["same"] <= n_all, (rows, n_all)
    assert rows["same"] > n_new + 2


def test_an_apply_in_flight_finishes_under_the_old_configuration(env):
    """lb-a dies; the assignment is held by the API. A reload making the
    group readonly arrives meanwhile: the apply still finishes (the IP
    moves), and only then does the new configuration take over."""
    env.pair()
    cfg = env.config(checks=[env.check(interval="200ms", timeout="1s")],
                     group_extra={"poll_interval": "60s"})
    env.cloud.add_fault(method="POST", path=ASSIGN, hold="assign", count=1)
    p = env.start("monitor")
    wait_for(lambda: len(hits(env, A)) >= 2, 20, what="checks")
    env.backends.set(A, env.port, status=503)
    wait_for(lambda: [r for r in env.cloud.requests("POST", ASSIGN) if r.get("held")], 30,
             what="the assignment held")
    cfg["groups"][0]["readonly"] = True
    write(env, cfg)
    p.send_signal(signal.SIGHUP)
    wait_for(lambda: "the new configuration takes over when the apply in flight ends" in msgs(p),
             20, what="the reload waiting")
    assert "configuration reloaded" not in msgs(p)
    env.cloud.release("assign")
    env.cloud.wait_assigned(VIP_1, LB_B, timeout=30)
    wait_for(lambda: "configuration reloaded" in msgs(p), 30, what="the reload")
    m = msgs(p)
    applied = [i for i, x in enumerate(m) if x == "floating IP assigned"]
    assert applied and applied[0] < m.index("configuration reloaded"), m
    # Readonly from now on: lb-b dies, lb-a is back, nothing is applied.
    n = len(env.cloud.requests("POST", ASSIGN))
    env.backends.set(A, env.port, status=200)
    env.backends.set(B, env.port, status=503)
    wait_for(lambda: "readonly: would apply" in msgs(p)[m.index("configuration reloaded"):],
             30, what="the readonly plan")
    assert len(env.cloud.requests("POST", ASSIGN)) == n
    stop(p)


def test_notification_targets_and_log_level_reload(env):
    env.pair()
    cfg = env.config(checks=[env.check(interval="200ms", timeout="1s")],
                     group_extra={"poll_interval": "always"})
    p = env.start("monitor")
    wait_for(lambda: any(l.get("level") == "debug" for l in logs(p)), 20, what="debug lines")
    cfg["notifications"]["targets"][0]["url"] = env.sink.url + "/hooks/new"
    cfg["telemetry"]["logging"]["level"] = "info"
    write(env, cfg)
    hup(p)
    at = len(logs(p))
    env.backends.set(A, env.port, status=503)
    env.cloud.wait_assigned(VIP_1, LB_B, timeout=30)
    wait_for(lambda: any("unhealthy" in t.lower() for t in env.texts("/hooks/new")), 30,
             what="a notification to the new target")
    # The API is listed every pass (poll_interval 0s): its debug lines
    # would be there; at info they are not.
    n = len(env.cloud.requests("GET", r"/v1/servers$"))
    wait_for(lambda: len(env.cloud.requests("GET", r"/v1/servers$")) >= n + 3, 20,
             what="more listings")
    after = logs(p)[at:]
    assert after and not [l for l in after if l.get("level") == "debug"], after
    stop(p)
