"""Black-box tests of one real round (SPEC section 3): the real ./flipper
binary against the fake Hetzner API, real HTTP/HTTPS backends on
127.77.0.x and ::1, and the webhook sink, all on loopback.

Every test looks at what was sent (the fake's request log), what was
stored (`flipper status --json`, `status --snapshot`, or the state file
read-only with sqlite3) and what was printed. No timing thresholds here:
timing belongs in bench/.

Checks use `interval: 1ms` so every invocation finds them due, and
`poll_interval: always` (the default of env.config) so every invocation
lists the inventory afresh, unless a test is about the cache.

Run: cd /work/main && make flipper &&
     FLIPPER=$PWD/flipper /usr/bin/python3 -m pytest -q tests/blackbox/test_round.py
"""

import glob
import json
import os
import re
import resource
import signal
import socket
import sqlite3

import pytest

from conftest import (LB_A, LB_B, LB_C, TOKEN, VIP_1, VIP_2,
                      free_port, run_flipper, stderr_of, wait_for)

# Backend addresses of this file (other files use 127.0.0.x).
A, B, C = "127.77.0.11", "127.77.0.12", "127.77.0.13"
# One port for every backend of this file (a check has one port), free
# when the file is loaded: two test runs on one machine never collide.
PORT = free_port(A)
ASSIGN = r"^/v1/floating_ips/\d+/actions/assign$"
SERVERS = r"^/v1/servers$"
FIPS = r"^/v1/floating_ips$"
HOST = "check.example.test"      # in the test server certificate
SANITIZER = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:")


def check(**kw):
    c = {"id": "http", "display_name": "HTTP health", "type": "http",
         "port": PORT, "path": "/health", "interval": "1ms", "timeout": "2s",
         "fall": 1, "rise": 1}
    c.update(kw)
    return c


@pytest.fixture
def w(env):
    """env with fast actions; every run is checked for the token, and at
    the end every file flipper wrote and every webhook it sent as well.
    Background flippers (env.start) are killed at the end."""
    env.cloud.settings(action_seconds=0)
    env.port = PORT         # env.add_lb() puts backends there
    env.runs = []
    plain_run = env.run

    def run(*args, **kw):
        r = plain_run(*args, **kw)
        assert TOKEN not in r.out and TOKEN not in r.err, "token printed: %r" % r
        assert not SANITIZER.search(r.err), r.err       # a SANITIZE= build
        env.runs.append(r)
        return r
    env.run = run           # Env.reconcile() goes through self.run
    try:
        yield env
    finally:
        env.stop_all()
    for p in getattr(env, "_procs", []):
        assert not SANITIZER.search(stderr_of(p)), stderr_of(p)
    for path in glob.glob(str(env.tmp / "*")):
        if os.path.isfile(path) and path != env.config_path:
            with open(path, "rb") as f:
                assert TOKEN.encode() not in f.read(), "token in " + path
    for req in env.sink.requests():
        assert TOKEN not in json.dumps(req), "token sent to the sink"


# ---- helpers -----------------------------------------------------------------

def three(env, loc_c="nbg1", vip_on=LB_A):
    """lb-a, lb-b in fsn1 and lb-c in loc_c, all answering 200; vip-1
    (fsn1) on vip_on."""
    env.add_lb(LB_A, "lb-a", A)
    env.add_lb(LB_B, "lb-b", B)
    env.add_lb(LB_C, "lb-c", C, location=loc_c)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", vip_on)


def down(env, addr, status=503):
    env.backends.set(addr, PORT, status=status)


def up(env, addr):
    env.backends.set(addr, PORT, status=200)


def assigns(env, since=0):
    """(floating ip id, server id) of every assign POST, in order."""
    out = []
    for r in env.cloud.requests("POST", ASSIGN, since=since):
        fid = int(r["path"].split("/")[3])
        out.append((fid, r["body"]["server"]))
    return out


def mutations(env):
    return [r for r in env.cloud.requests() if r["method"] != "GET"]


def last_seq(env):
    reqs = env.cloud.requests()
    return reqs[-1]["seq"] if reqs else 0


def status(env):
    """status --json: exit 0 while every group's last pass succeeded, 1
    when one failed (the JSON is the same either way)."""
    r = env.run("status", "--json")
    assert r.rc in (0, 1), r
    doc = json.loads(r.out)
    failing = any(g["pass"]["failing"] for g in doc["groups"])
    assert r.rc == (1 if failing else 0), r
    return doc


def group(env, gid="web"):
    for g in status(env)["groups"]:
        if g["id"] == gid:
            return g
    raise AssertionError("no group %s in the state" % gid)


def health(env):
    return {s["name"]: s["status"] for s in group(env)["servers"]}


def target(env, server, check_id="http", family="ipv4"):
    for s in group(env)["servers"]:
        if s["name"] == server:
            for t in s["targets"]:
                if t["check"] == check_id and t["family"] == family:
                    return t
    raise AssertionError("no target %s/%s/%s" % (server, check_id, family))


def stored_fips(env):
    return {f["id"]: f["server"] for f in group(env)["floating_ips"]}


def queued(run):
    """Kinds of the notifications a run queued, in order."""
    return [l["kind"] for l in run.logs() if l.get("msg") == "notification queued"]


def msgs(run):
    return [l.get("msg", l.get("text")) for l in run.logs()]


def logs_with(run, msg):
    return [l for l in run.logs() if l.get("msg") == msg]


def state_bytes(env):
    out = {}
    for suffix in ("", "-wal"):
        p = env.state + suffix
        if os.path.exists(p):
            with open(p, "rb") as f:
                out[suffix] = f.read()
    return out


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- 1. failover after `fall` rounds, failback after `rise` -------------------

def test_failover_after_fall_rounds_and_failback_after_rise(w):
    env = w
    three(env)              # lb-c (nbg1) exists and must never be chosen
    env.config(checks=[check(fall=3, rise=2)])

    r = env.reconcile()     # rise 1 of 2: everybody still unknown
    assert r.rc == 0, r
    assert health(env) == {"lb-a": "unknown", "lb-b": "unknown", "lb-c": "unknown"}
    assert queued(r) == ["started_watching"]
    r = env.reconcile()
    assert r.rc == 0, r
    assert health(env) == {"lb-a": "healthy", "lb-b": "healthy", "lb-c": "healthy"}
    assert mutations(env) == []
    assert "started_watching" not in queued(r)

    down(env, A)
    for n in (1, 2):        # fall 1 and 2 of 3: nothing moves
        r = env.reconcile()
        assert r.rc == 0, r
        assert health(env)["lb-a"] == "healthy"
        t = target(env, "lb-a")
        assert (t["fall"], t["rise"], t["error"]) == (n, 0, "HTTP 503")
        assert mutations(env) == []
        assert env.cloud.floating_ip(VIP_1)["server"] == LB_A

    seq = last_seq(env)
    r = env.reconcile()     # fall 3 of 3: unhealthy, vip-1 moves within fsn1
    assert r.rc == 0, r
    assert health(env) == {"lb-a": "unhealthy", "lb-b": "healthy", "lb-c": "healthy"}
    assert assigns(env) == [(VIP_1, LB_B)]
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_B
    assert stored_fips(env) == {VIP_1: LB_B}
    # Re-read before acting: a floating IP list between the check and the POST.
    after = [(q["method"], q["path"]) for q in env.cloud.requests(since=seq)]
    assert after.index(("GET", "/v1/floating_ips"), 1) < after.index(
        ("POST", "/v1/floating_ips/%d/actions/assign" % VIP_1))
    applying = logs_with(r, "applying")
    assert [(l["floating_ip"], l["from"], l["to"], l["reason"]) for l in applying] == \
        [("vip-1", "lb-a", "lb-b", "target_unhealthy")]
    assert queued(r) == ["server_unhealthy", "plan_executing", "plan_outcome"]
    texts = env.texts()
    assert any("Server unhealthy" in t and "lb-a" in t and "HTTP 503" in t and
               "3 failures in a row" in t for t in texts), texts
    assert any("Plan applied" in t for t in texts), texts

    up(env, A)
    r = env.reconcile()     # rise 1 of 2: lb-a stays unhealthy, nothing moves
    assert r.rc == 0, r
    assert health(env)["lb-a"] == "unhealthy"
    assert assigns(env) == [(VIP_1, LB_B)]

    r = env.reconcile()     # rise 2 of 2: healthy; vip-1 has no reason to move back
    assert r.rc == 0, r
    assert health(env)["lb-a"] == "healthy"
    assert assigns(env) == [(VIP_1, LB_B)]
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_B
    assert logs_with(r, "applying") == []
    assert queued(r) == ["server_healthy"]
    assert any("healthy again" in t and "lb-a" in t for t in env.texts())
    # lb-c was never a target, and "started watching" was sent once.
    assert all(to != LB_C for _, to in assigns(env))
    assert sum("started watching" in t for t in env.texts()) == 1

    r = env.reconcile()     # steady: nothing more
    assert r.rc == 0, r
    assert len(assigns(env)) == 1


# ---- 2. canonical mapping by resource_index -------------------------------------

def test_canonical_mapping_by_resource_index(w):
    env = w
    env.add_lb(LB_A, "lb-a", A, labels={"resource_index": "1"})
    env.add_lb(LB_B, "lb-b", B, labels={"resource_index": "0"})
    env.add_lb(LB_C, "lb-c", C)                                  # none
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A, labels={"resource_index": "0"})
    env.add_vip(VIP_2, "vip-2", "198.51.100.2", None, labels={"resource_index": "1"})
    env.add_vip(VIP_2 + 1, "vip-3", "198.51.100.3", LB_B, labels={"resource_index": "7"})
    env.add_vip(VIP_2 + 2, "vip-4", "198.51.100.4", LB_C, labels={"resource_index": "x"})
    env.config(checks=[check()])

    r = env.reconcile()
    assert r.rc == 0, r
    # Canonical: vip-1 (0) -> lb-b (0), vip-2 (1) -> lb-a (1). vip-3 (7
    # matches nobody) and vip-4 (not an integer: none) stay where they
    # are: their servers are healthy. Actions on distinct servers run at
    # once: the order of the POSTs is theirs to choose.
    assert sorted(assigns(env)) == [(VIP_1, LB_B), (VIP_2, LB_A)]
    reasons = {l["floating_ip"]: l["reason"] for l in logs_with(r, "applying")}
    assert reasons == {"vip-1": "canonical", "vip-2": "unassigned"}
    assert stored_fips(env) == {VIP_1: LB_B, VIP_2: LB_A, VIP_2 + 1: LB_B,
                                VIP_2 + 2: LB_C}
    idx = {s["name"]: s["resource_index"] for s in group(env)["servers"]}
    assert idx == {"lb-a": 1, "lb-b": 0, "lb-c": None}

    # lb-b (index 0) fails. Canonical: vip-2 stays on lb-a, vip-4 stays on
    # lb-c. What lb-b held spreads over lb-a (1 so far) and lb-c (1):
    # vip-1 -> lb-a (tie, first in candidate order: index 1 before none),
    # then vip-3 -> lb-c.
    down(env, B)
    n = len(assigns(env))
    r = env.reconcile()
    assert r.rc == 0, r
    assert assigns(env)[n:] == [(VIP_1, LB_A), (VIP_2 + 1, LB_C)]
    assert env.cloud.floating_ip(VIP_2)["server"] == LB_A
    assert stored_fips(env) == {VIP_1: LB_A, VIP_2: LB_A, VIP_2 + 1: LB_C,
                                VIP_2 + 2: LB_C}


# ---- 3. nothing healthy: freeze, or fail open ---------------------------------------

def test_freeze_when_every_server_is_unhealthy(w):
    env = w
    env.add_lb(LB_A, "lb-a", A, up=False)
    env.add_lb(LB_B, "lb-b", B, up=False)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A)
    env.add_vip(VIP_2, "vip-2", "198.51.100.2", None)
    env.config(checks=[check()])

    r = env.reconcile()
    assert r.rc == 0, r
    assert health(env) == {"lb-a": "unhealthy", "lb-b": "unhealthy"}
    assert mutations(env) == []
    assert queued(r).count("frozen") == 1
    assert "no server is healthy: frozen, nothing moves" in msgs(r)
    assert group(env)["alert"] == "frozen"
    frozen = [t for t in env.texts() if "Frozen" in t]
    assert len(frozen) == 1 and "when\\_none\\_healthy: freeze" in frozen[0], frozen
    p = env.run("plan", "--json", "--no-checks")
    g = json.loads(p.out)["groups"][0]
    assert (g["frozen"], g["fail_open"], g["actions"], g["skipped"]) == (True, False, [], [])

    r = env.reconcile()     # the same outage: no second alert, nothing moves
    assert r.rc == 0, r
    assert "frozen" not in queued(r)
    assert mutations(env) == []
    assert sum("Frozen" in t for t in env.texts()) == 1

    up(env, A)              # over: the alert is cleared, vip-1 never moved
    r = env.reconcile()
    assert r.rc == 0, r
    assert group(env)["alert"] is None
    assert assigns(env) == [(VIP_2, LB_A)]
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_A


def test_fail_open_with_when_none_healthy_spread(w):
    env = w
    env.add_lb(LB_A, "lb-a", A, up=False)
    env.add_lb(LB_B, "lb-b", B, up=False)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A)
    env.add_vip(VIP_2, "vip-2", "198.51.100.2", None)
    env.config(checks=[check()], group_extra={"when_none_healthy": "spread"})

    # Both began failing at once: first the correlated-failure hold (SPEC 9).
    r = env.reconcile()
    assert r.rc == 0, r
    assert health(env) == {"lb-a": "unhealthy", "lb-b": "unhealthy"}
    assert "correlated_failure" in queued(r)
    assert assigns(env) == []
    assert "fail_open" in queued(r)
    assert "no server is healthy: failing open" in msgs(r)

    r = env.reconcile()
    assert r.rc == 0, r
    # Every server is a candidate: vip-1 stays, vip-2 gets the other one.
    assert assigns(env) == [(VIP_2, LB_B)]
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_A
    assert env.cloud.floating_ip(VIP_2)["server"] == LB_B
    assert group(env)["alert"] == "fail-open"
    assert sum("Fail-open" in t for t in env.texts()) == 1

    r = env.reconcile()     # the same outage: no second alert, nothing moves
    assert r.rc == 0, r
    assert "fail_open" not in queued(r)
    assert len(assigns(env)) == 1
    assert sum("Fail-open" in t for t in env.texts()) == 1

    up(env, A)              # over: the alert is cleared, vip-2 leaves lb-b for lb-a
    r = env.reconcile()
    assert r.rc == 0, r
    assert group(env)["alert"] is None
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_A
    assert env.cloud.floating_ip(VIP_2)["server"] == LB_A


# ---- 4. deferral while a server is unknown ------------------------------------------

@pytest.mark.parametrize("apply_unknown", [False, True])
def test_plan_deferred_while_a_server_is_unknown(w, apply_unknown):
    """Only a move whose destination could change once the unknown server
    is checked waits: vip-1 goes to lb-b now, but to lb-a (which holds
    nothing) if lb-a turns out healthy."""
    env = w
    env.add_lb(LB_A, "lb-a", A, up=False)
    env.add_lb(LB_B, "lb-b", B)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", None)
    env.add_vip(VIP_2, "vip-2", "198.51.100.2", LB_B)
    env.config(checks=[check(fall=2)],
               group_extra={"plan_apply_with_unknown_status": apply_unknown})

    # Pass 1: lb-a failed once of two (unknown), lb-b healthy.
    r = env.reconcile()
    assert r.rc == 0, r
    assert health(env) == {"lb-a": "unknown", "lb-b": "healthy"}
    if not apply_unknown:
        assert mutations(env) == []
        deferred = logs_with(r, "plan deferred")
        assert len(deferred) == 1
        assert deferred[0]["reason"] == "server lb-a has unknown status"
        p = env.run("plan", "--json", "--no-checks")
        assert p.rc == 0, p
        g = json.loads(p.out)["groups"][0]
        assert g["deferred"] is True
        assert "lb-a" in g["defer_reason"]
        assert [(a["floating_ip"], a["to"]) for a in g["actions"]] == [(VIP_1, LB_B)]
    else:
        assert logs_with(r, "plan deferred") == []
        assert assigns(env) == [(VIP_1, LB_B)]
    # Pass 2: lb-a is known unhealthy now: vip-1 goes to lb-b.
    r = env.reconcile()
    assert r.rc == 0, r
    assert health(env)["lb-a"] == "unhealthy"
    assert logs_with(r, "plan deferred") == []
    assert assigns(env) == [(VIP_1, LB_B)]
    assert env.cloud.floating_ip(VIP_2)["server"] == LB_B


@pytest.mark.parametrize("mode", ["freeze", "spread"])
def test_new_state_waits_until_every_check_has_judged(w, mode):
    """Nothing is healthy yet: frozen (no plan at all), or with spread a
    plan deferred while the servers are unknown. No outage is alerted."""
    env = w
    env.add_lb(LB_A, "lb-a", A)
    env.add_lb(LB_B, "lb-b", B)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", None)
    env.config(checks=[check(rise=2)], group_extra={"when_none_healthy": mode})
    r = env.reconcile()
    assert r.rc == 0, r
    assert set(health(env).values()) == {"unknown"}
    assert mutations(env) == []
    assert len(logs_with(r, "plan deferred")) == (mode == "spread")
    assert queued(r) == ["started_watching"]
    r = env.reconcile()
    assert r.rc == 0, r
    assert assigns(env) == [(VIP_1, LB_A)]


# ---- 5. readonly group ------------------------------------------------------------

def test_readonly_group_logs_and_notifies_once_never_posts(w):
    env = w
    env.add_lb(LB_A, "lb-a", A, up=False)
    env.add_lb(LB_B, "lb-b", B)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A)
    env.config(checks=[check()], group_extra={"readonly": True})

    r = env.reconcile()
    assert r.rc == 0, r
    assert mutations(env) == []
    would = logs_with(r, "readonly: would apply")
    assert [(l["floating_ip"], l["from"], l["to"], l["reason"]) for l in would] == \
        [("vip-1", "lb-a", "lb-b", "target_unhealthy")]
    assert queued(r).count("readonly_plan") == 1
    ro = [t for t in env.texts() if "Readonly plan" in t]
    assert len(ro) == 1 and "vip-1" in ro[0] and "lb-b" in ro[0]

    r = env.reconcile()     # the same plan again: logged, not notified
    assert r.rc == 0, r
    assert len(logs_with(r, "readonly: would apply")) == 1
    assert "readonly_plan" not in queued(r)
    assert len([t for t in env.texts() if "Readonly plan" in t]) == 1
    assert mutations(env) == []
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_A
    assert stored_fips(env) == {VIP_1: LB_A}

    # A different plan is notified again.
    env.add_lb(LB_C, "lb-c", C)
    env.add_vip(VIP_2, "vip-2", "198.51.100.2", None)
    r = env.reconcile()
    assert r.rc == 0, r
    assert queued(r).count("readonly_plan") == 1
    assert mutations(env) == []


# ---- 6. plan changes nothing ----------------------------------------------------------

def test_plan_changes_nothing(w):
    env = w
    env.add_lb(LB_A, "lb-a", A)
    env.add_lb(LB_B, "lb-b", B)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A)
    env.config(checks=[check()],
               heartbeat={"enabled": True, "url": env.sink.url + "/beat",
                          "interval": "1ms", "timeout": "2s"})
    r = env.reconcile()
    assert r.rc == 0, r
    assert len(env.beats()) == 1
    down(env, A)
    before = state_bytes(env)
    assert before[""]
    env.sink.clear()
    env.cloud.clear_requests()
    env.backends.clear_requests(A, PORT)

    p = env.run("plan")
    assert p.rc == 0, p
    lines = [l for l in p.out.splitlines() if "vip-1" in l]
    assert len(lines) == 1
    assert re.search(r"vip-1\s+198\.51\.100\.1\s+lb-a \(unhealthy\) -> lb-b \(healthy\)\s+"
                     r"target_unhealthy", lines[0]), p.out
    assert p.out.rstrip().endswith("1 floating IP to move in 1 group")
    assert env.backends.requests(A, PORT), "plan ran no check"

    pj = env.run("plan", "--json")
    assert pj.rc == 0, pj
    doc = json.loads(pj.out)
    g = doc["groups"][0]
    assert (g["id"], g["readonly"], g["deferred"]) == ("web", False, False)
    assert [{k: a[k] for k in ("floating_ip", "from", "to", "reason")}
            for a in g["actions"]] == \
        [{"floating_ip": VIP_1, "from": LB_A, "to": LB_B, "reason": "target_unhealthy"}]

    d = env.run("plan", "--detailed-exitcode")
    assert d.rc == 3, d

    # --no-checks plans from the stored health (lb-a healthy): no changes,
    # and lb-a's backend is not asked.
    env.backends.clear_requests(A, PORT)
    n = env.run("plan", "--no-checks", "--detailed-exitcode")
    assert n.rc == 0, n
    assert "no changes" in n.out
    assert env.backends.requests(A, PORT) == []

    # Nothing was written, posted, notified or beaten.
    assert state_bytes(env) == before
    assert [q for q in env.cloud.requests() if q["method"] != "GET"] == []
    assert {q["path"] for q in env.cloud.requests()} <= {"/v1/servers", "/v1/floating_ips"}
    assert env.sink.requests() == []
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_A

    up(env, A)
    z = env.run("plan", "--detailed-exitcode")
    assert z.rc == 0, z
    assert "no changes" in z.out
    assert state_bytes(env) == before


def test_plan_without_state_creates_none(w):
    env = w
    env.add_lb(LB_A, "lb-a", A, up=False)
    env.add_lb(LB_B, "lb-b", B)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A)
    env.config(checks=[check()])
    p = env.run("plan", "--json", "--detailed-exitcode")
    assert p.rc == 3, p
    acts = json.loads(p.out)["groups"][0]["actions"]
    assert [(a["floating_ip"], a["to"]) for a in acts] == [(VIP_1, LB_B)]
    assert not os.path.exists(env.state)
    assert glob.glob(env.state + "*") == []
    assert mutations(env) == []
    assert env.sink.requests() == []


# ---- 7. more than one page ------------------------------------------------------

def test_more_than_50_servers_and_ips_are_read_from_every_page(w):
    env = w
    n_servers, n_fips = 60, 55
    sids = [5000000100 + k for k in range(1, n_servers + 1)]
    fids = [3000000100 + k for k in range(1, n_fips + 1)]
    addrs = ["127.77.1.%d" % k for k in range(1, n_servers + 1)]
    env.backends.bulk(addrs, PORT)
    env.cloud.add_servers([{"id": sid, "name": "lb-%02d" % k, "location": "fsn1",
                            "ipv4": addr, "ipv6": None, "labels": {"role": "lb"}}
                           for k, (sid, addr) in enumerate(zip(sids, addrs), 1)])
    # IP k sits on server k, where the spread pass puts it, except IP 51
    # (on page 2), which is unassigned: its POST proves page 2 was used.
    env.cloud.add_floating_ips([{"id": fid, "name": "vip-%02d" % k,
                                 "ip": "198.51.100.%d" % k, "home_location": "fsn1",
                                 "server": None if k == 51 else sids[k - 1],
                                 "labels": {"role": "vip"}}
                                for k, fid in enumerate(fids, 1)])
    env.config(checks=[check()])

    r = env.reconcile()
    assert r.rc == 0, r
    for path, wanted in ((SERVERS, 1), (FIPS, 2)):     # the IPs: poll and re-read
        pages = [(q["query"]["page"], q["query"]["per_page"], q["status"])
                 for q in env.cloud.requests("GET", path)]
        assert pages == [(["1"], ["50"], 200), (["2"], ["50"], 200)] * wanted, pages
    assert assigns(env) == [(fids[50], sids[50])]
    g = group(env)
    assert [s["id"] for s in g["servers"]] == sids
    assert {s["status"] for s in g["servers"]} == {"healthy"}
    assert stored_fips(env) == {fid: sids[k] for k, fid in enumerate(fids)}
    assert "inventory refreshed" in msgs(r)
    inv = logs_with(r, "inventory refreshed")[0]
    assert (inv["servers"], inv["floating_ips"]) == (60, 55)


# ---- 8. retries and fail-fast -------------------------------------------------------

FAULTS = {
    "409-conflict": {"status": 409},
    "423-locked": {"status": 423},
    "429-rate-limit": {"status": 429},
    "502-json": {"status": 502},
    "502-html": {"status": 502, "body": "<html><body><h1>502 Bad Gateway</h1></body></html>"},
    "504-timeout": {"status": 504},
    "dropped-connection": {"drop": True},
}


def failover_world(env, **group_extra):
    """lb-a down, lb-b up, vip-1 on lb-a: one round moves it (fall 1)."""
    env.add_lb(LB_A, "lb-a", A, up=False)
    env.add_lb(LB_B, "lb-b", B)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A)
    env.config(checks=[check()], group_extra=group_extra or None)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_transient_faults_are_retried_and_the_round_succeeds(w, fault):
    env = w
    failover_world(env)
    rules = [dict(FAULTS[fault], method="POST", path=ASSIGN)]
    if fault != "423-locked":       # locked belongs to mutations
        rules.append(dict(FAULTS[fault], method="GET", path=SERVERS))
    env.cloud.add_faults(rules)

    r = env.reconcile()
    assert r.rc == 0, r
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_B
    assert stored_fips(env) == {VIP_1: LB_B}
    expect_status = None if fault == "dropped-connection" else FAULTS[fault]["status"]
    posts = env.cloud.requests("POST", ASSIGN)
    assert [(q["status"], bool(q["fault"])) for q in posts] == \
        [(expect_status, True), (201, False)]
    assert [q["body"] for q in posts] == [{"server": LB_B}] * 2
    lists = env.cloud.requests("GET", SERVERS)
    if fault == "423-locked":
        assert [q["status"] for q in lists] == [200]
    else:
        assert [(q["status"], bool(q["fault"])) for q in lists] == \
            [(expect_status, True), (200, False)]
    retried = logs_with(r, "hcloud request failed, retrying")
    if fault == "dropped-connection":
        # libcurl itself re-sends a request whose reused connection died
        # without an answer (the POST here); only the list, on a fresh
        # connection, goes through flipper's retry loop.
        assert len(retried) == 1, r.err
        assert retried[0]["error"].startswith("GET /servers: transport: "), r.err
    else:
        assert len(retried) == len(rules), r.err
    assert queued(r)[-1:] == ["plan_outcome"]
    assert any("Plan applied" in t for t in env.texts())


def test_failover_through_an_api_that_will_not_move_an_assigned_ip(w):
    """api.md §4.1: should the API answer 422 floating_ip_assigned to a
    move, the round still fails over: unassign from the server the plan
    found it on, then assign."""
    env = w
    failover_world(env)
    env.cloud.settings(reassign="reject")
    r = env.reconcile()
    assert r.rc == 0, r
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_B
    assert stored_fips(env) == {VIP_1: LB_B}
    posts = [q["path"].rsplit("/", 1)[1] for q in env.cloud.requests("POST")]
    assert posts == ["assign", "unassign", "assign"], posts
    assert logs_with(r, "the API will not move the floating IP directly; "
                        "unassigning it, then assigning it again"), r.err
    assert any("Plan applied" in t for t in env.texts())


def test_unauthorized_list_fails_fast(w):
    env = w
    failover_world(env)
    env.config(checks=[check()],
               heartbeat={"enabled": True, "url": env.sink.url + "/beat",
                          "interval": "1ms", "timeout": "2s"})
    env.cloud.add_fault(method="GET", path=SERVERS, status=401, count=-1,
                        headers={"X-Correlation-Id": "corr-4711-unauth"})
    r = env.reconcile()
    assert r.rc == 1, r
    failed = logs_with(r, "inventory refresh failed")
    assert len(failed) == 1, r.err
    assert "unauthorized" in failed[0]["error"]
    assert "corr-4711-unauth" in failed[0]["error"]
    assert len(env.cloud.requests("GET", SERVERS)) == 1
    assert env.cloud.requests("GET", FIPS) == []
    assert mutations(env) == []
    assert env.beats() == []          # cannot reach Hetzner: fall silent


def test_wrong_token_fails_fast_with_one_request(w):
    env = w
    failover_world(env)
    env.cloud.settings(token="a-different-token-0000")
    r = env.reconcile()
    assert r.rc == 1, r
    assert len(env.cloud.requests()) == 1
    assert re.search(r"unauthorized.*correlation id [0-9a-f]{16}", r.err), r.err


def test_unauthorized_assign_fails_fast(w):
    env = w
    failover_world(env)
    env.cloud.add_fault(method="POST", path=ASSIGN, status=401, count=-1,
                        headers={"X-Correlation-Id": "corr-4712-assign"})
    r = env.reconcile()
    assert r.rc == 1, r
    assert len(env.cloud.requests("POST", ASSIGN)) == 1
    failed = logs_with(r, "assigning the floating IP failed")
    assert len(failed) == 1, r.err
    assert "unauthorized" in failed[0]["error"] and "corr-4712-assign" in failed[0]["error"]
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_A
    assert stored_fips(env) == {VIP_1: LB_A}
    assert queued(r)[-2:] == ["plan_executing", "plan_outcome"]
    fail = [t for t in env.texts() if "Plan failed" in t]
    assert len(fail) == 1 and "unauthorized" in fail[0], env.texts()


def test_a_hung_request_is_retried_within_poll_timeout(w):
    """One request may take a third of poll_timeout: a request that hangs
    is cut and retried, rather than using up the whole deadline."""
    env = w
    failover_world(env, poll_timeout="3s")
    env.cloud.add_fault(method="GET", path=SERVERS, delay=60)
    r = env.reconcile()
    assert r.rc == 0, r
    lists = env.cloud.requests("GET", SERVERS)
    assert [bool(q["fault"]) for q in lists] == [True, False]
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_B
    retried = logs_with(r, "hcloud request failed, retrying")
    assert len(retried) == 1 and "transport" in retried[0]["error"], r.err


def _disk_full_at(limit):
    """A child whose files cannot grow past limit bytes: to SQLite, a full
    disk (EFBIG instead of SIGXFSZ)."""
    def pre():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return pre


def test_a_state_file_that_cannot_be_written_fails_the_round_loudly(w):
    """Disk full: in WAL mode only COMMIT notices. The round must exit 1,
    keep the heartbeat silent, hold back deliveries it could not record,
    and lose nothing once the disk has room again."""
    env = w
    env.add_lb(LB_A, "lb-a", A)
    env.add_lb(LB_B, "lb-b", B)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A)
    env.config(checks=[check(fall=2)],
               heartbeat={"enabled": True, "url": env.sink.url + "/beat",
                          "interval": "1ms", "timeout": "2s"})
    quick = {"FLIPPER_NOTIFY_BACKOFF_MS": "0"}
    env.sink.mode(status=500)                 # "started watching" stays queued
    for _ in range(3):
        assert env.reconcile(env=quick).rc == 0
    assert [k for k, _, _ in env.outbox()] == ["started_watching"]
    env.sink.mode(status=200)
    env.sink.clear()
    down(env, A)
    wal = os.path.getsize(env.state + "-wal")
    assert wal >= os.path.getsize(env.state), "the limit must stop the WAL growing"
    before = target(env, "lb-a")

    for _ in range(2):
        r = env.reconcile(env=quick, preexec=_disk_full_at(wal))
        assert r.rc == 1, r
        assert logs_with(r, "cannot save the health; not planning"), r.err
        assert logs_with(r, "the state file cannot be written: counters, notifications "
                            "and the inventory may be lost"), r.err
    assert env.beats() == []                  # a flipper that cannot save falls silent
    assert env.webhooks() == []               # nothing sent that could not be recorded
    assert assigns(env) == []
    assert target(env, "lb-a") == before      # nothing of those rounds stored
    assert [k for k, _, _ in env.outbox()] == ["started_watching"]

    # Room again: fall=2 counts from what was stored, and nothing is lost.
    for _ in range(2):
        assert env.reconcile(env=quick).rc == 0
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_B
    titles = [t.split("**")[1] for t in env.texts()]
    assert titles == ["flipper started watching", "Server unhealthy", "Executing plan",
                      "Plan applied"], titles
    assert env.outbox() == []
    assert len(env.beats()) == 2


# ---- 9. the state lock -----------------------------------------------------------

def test_second_invocation_exits_75_and_kill_9_leaves_no_stale_lock(w):
    env = w
    failover_world(env)
    # The holder stalls in its first API request, holding the lock.
    env.cloud.add_fault(method="GET", path=SERVERS, delay=60)
    holder = env.start("reconcile", "--once")
    wait_for(lambda: env.cloud.requests("GET", SERVERS), what="the holder's request")
    n = len(env.cloud.requests())

    r = env.reconcile()
    assert r.rc == 75, r
    assert holder.poll() is None, "the second run waited for the holder"
    assert "another flipper holds the state lock; nothing done" in msgs(r)
    assert len(env.cloud.requests()) == n          # contacted nothing

    holder.kill()                                  # SIGKILL
    holder.wait(10)
    assert holder.returncode == -9
    r = env.reconcile()
    assert r.rc == 0, r
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_B
    assert health(env) == {"lb-a": "unhealthy", "lb-b": "healthy"}


def test_second_invocation_while_a_round_runs_then_holder_finishes(w):
    env = w
    failover_world(env)
    # The holder's listing takes 10 s: time enough for the second run to
    # start, even on a loaded machine.
    env.cloud.add_fault(method="GET", path=SERVERS, delay=10)
    holder = env.start("reconcile", "--once")
    wait_for(lambda: env.cloud.requests("GET", SERVERS), what="the holder's request")
    r = env.reconcile()
    assert r.rc == 75, r
    assert holder.poll() is None, stderr_of(holder)
    assert holder.wait(30) == 0, stderr_of(holder)
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_B
    r = env.reconcile()
    assert r.rc == 0, r


# ---- 10. a state file that is not flipper's ------------------------------------------
# In test_state.py: what is refused and left untouched, what is moved aside.


# ---- 11. HTTPS and IPv6 checks ----------------------------------------------------------

def _https_world(env, host):
    port = env.backends.add(A, 0, tls=True)["port"]
    env.cloud.add_server(id=LB_A, name="lb-a", location="fsn1", ipv4=A, ipv6=None,
                         labels={"role": "lb"})
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A)
    env.config(checks=[check(id="tls", type="https", port=port, host=host,
                             ca_file=env.backends.ca_file)])
    return port


def test_https_check_with_the_right_certificate_passes(w):
    env = w
    port = _https_world(env, HOST)
    r = env.reconcile()
    assert r.rc == 0, r
    t = target(env, "lb-a", "tls")
    assert (t["state"], t["error"]) == ("healthy", None)
    assert health(env) == {"lb-a": "healthy"}
    reqs = env.backends.requests(A, port)
    assert reqs and reqs[-1]["tls"] and reqs[-1]["sni"] == HOST
    assert reqs[-1]["host"] == "%s:%d" % (HOST, port)


def test_https_check_with_the_wrong_host_fails(w):
    env = w
    port = _https_world(env, "wrong.example.test")
    r = env.reconcile()
    assert r.rc == 0, r
    t = target(env, "lb-a", "tls")
    assert t["state"] == "unhealthy"
    assert re.search(r"certificate|SSL|subject name", t["error"], re.I), t["error"]
    assert health(env) == {"lb-a": "unhealthy"}
    assert env.backends.requests(A, port) == []     # no request over a bad TLS
    failed = logs_with(r, "check failed")
    assert len(failed) == 1 and failed[0]["server"] == "lb-a"


def test_ipv6_check_on_host_1_of_the_64(w):
    env = w
    port = env.backends.add("::1", 0)["port"]
    env.cloud.add_servers([
        {"id": LB_A, "name": "lb-6", "location": "fsn1", "ipv4": None, "ipv6": "::/64",
         "labels": {"role": "lb"}},
        # Both families: IPv4 has no backend on that port, so lb-b is
        # unhealthy although its IPv6 target passes.
        {"id": LB_B, "name": "lb-b", "location": "fsn1", "ipv4": B, "ipv6": "::/64",
         "labels": {"role": "lb"}},
    ])
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_B)
    env.config(checks=[check(port=port, ip_version="both")])
    r = env.reconcile()
    assert r.rc == 0, r
    g = group(env)
    six = {s["name"]: s for s in g["servers"]}
    assert six["lb-6"]["ipv6"] == "::1" and six["lb-6"]["ipv4"] is None
    assert [t["family"] for t in six["lb-6"]["targets"]] == ["ipv6"]
    assert target(env, "lb-6", family="ipv6")["state"] == "healthy"
    assert target(env, "lb-b", family="ipv6")["state"] == "healthy"
    assert target(env, "lb-b", family="ipv4")["state"] == "unhealthy"
    assert health(env) == {"lb-6": "healthy", "lb-b": "unhealthy"}
    assert len(env.backends.requests("::1", port)) == 2
    assert assigns(env) == [(VIP_1, LB_A)]


# ---- 12. the token never appears ------------------------------------------------------

def test_token_never_appears_anywhere(w):
    env = w
    env.add_lb(LB_A, "lb-a", A, up=False)
    env.add_lb(LB_B, "lb-b", B)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A)
    env.config(checks=[check()], metrics=True,
               heartbeat={"enabled": True, "url": env.sink.url + "/beat",
                          "interval": "1ms", "timeout": "2s"})
    # The API echoes the token in an error message and in a gateway page.
    env.cloud.add_faults([
        {"method": "GET", "path": SERVERS, "status": 502,
         "body": "<html>upstream said Bearer %s</html>" % TOKEN},
        {"method": "POST", "path": ASSIGN, "status": 403, "code": "forbidden",
         "message": "token %s may not do this" % TOKEN},
    ])
    r = env.reconcile()
    assert r.rc == 1, r                   # the 403 is permanent
    assert "forbidden" in r.err
    fail = [t for t in env.texts() if "Plan failed" in t]
    assert len(fail) == 1 and "forbidden" in fail[0]
    r = env.reconcile()                   # and succeeds the next time
    assert r.rc == 0, r
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_B

    env.cloud.add_fault(method="GET", path=FIPS, status=401, count=-1,
                        message="bad token %s" % TOKEN)
    for args in (("plan",), ("plan", "--json"), ("plan", "--no-checks"),
                 ("reconcile", "--once"), ("status",), ("status", "--json"),
                 ("status", "--snapshot", "web"),
                 ("--log-level", "debug", "--log-format", "text", "reconcile", "--once")):
        env.run(*args)            # w checks every run's stdout and stderr
    env.cloud.clear_faults()
    p = env.run("plan", "--json")
    assert p.rc == 0, p
    assert os.path.exists(env.metrics)
    # The files and the sink are checked by the fixture, after the test;
    # here the state itself, with its outbox, and the webhook bodies.
    for (payload,) in env.db("SELECT payload FROM outbox"):
        assert TOKEN not in payload
    assert env.sink.requests()
    for q in env.sink.requests():
        assert TOKEN not in q["raw_body"] and TOKEN not in json.dumps(q["headers"])
    # The fake saw the token only where it belongs.
    assert all(q["auth_ok"] for q in env.cloud.requests())


# ---- 13. legacy datacenter shape -------------------------------------------------------

def test_legacy_datacenter_location(w):
    env = w
    env.cloud.settings(location_field=False, legacy_datacenter=True)
    three(env)
    _, _, body = env.cloud.api("GET", "/servers")
    assert "location" not in body["servers"][0]
    assert body["servers"][0]["datacenter"]["location"]["name"] == "fsn1"
    env.config(checks=[check()])
    down(env, A)
    r = env.reconcile()
    assert r.rc == 0, r
    g = group(env)
    assert {s["name"]: (s["location"], s["network_zone"]) for s in g["servers"]} == \
        {"lb-a": ("fsn1", "eu-central"), "lb-b": ("fsn1", "eu-central"),
         "lb-c": ("nbg1", "eu-central")}
    human = env.run("status")
    assert re.search(r"lb-c\s+nbg1\s+healthy", human.out), human.out
    # Locations drive the plan: the same-location server is chosen.
    assert assigns(env) == [(VIP_1, LB_B)]


# ---- 14. the inventory cache -----------------------------------------------------------

def test_inventory_is_cached_for_poll_interval(w):
    env = w
    env.add_lb(LB_A, "lb-a", A)
    env.add_lb(LB_B, "lb-b", B)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A)
    env.config(checks=[check()], group_extra={"poll_interval": "1h"})

    r = env.reconcile()
    assert r.rc == 0, r
    inventory_at = group(env)["inventory_at"]
    assert len(env.cloud.requests("GET", SERVERS)) == 1
    env.cloud.clear_requests()
    env.backends.clear_requests(A, PORT)

    r = env.reconcile()     # within poll_interval: no list, checks still run
    assert r.rc == 0, r
    assert env.cloud.requests() == []
    assert len(env.backends.requests(A, PORT)) == 1
    assert group(env)["inventory_at"] == inventory_at
    # plan always asks the API (read-only).
    p = env.run("plan")
    assert p.rc == 0, p
    assert len(env.cloud.requests("GET", SERVERS)) == 1
    env.cloud.clear_requests()

    env.add_lb(LB_C, "lb-c", C)
    env.cloud.delete_server(LB_B)
    clock = env.clock
    clock.set(wall_ms=3600 * 1000)
    r = env.run("reconcile", "--once", env=clock.env())     # an hour on: listed again
    assert r.rc == 0, r
    assert len(env.cloud.requests("GET", SERVERS)) == 1
    assert len(env.cloud.requests("GET", FIPS)) == 1
    inventory_at2 = group(env)["inventory_at"]
    assert inventory_at2 > inventory_at
    assert set(health(env)) == {"lb-a", "lb-c"}
    assert queued(r).count("resources_changed") == 1
    changed = [t for t in env.texts() if "Resources changed" in t]
    assert len(changed) == 1
    # A server one listing lacks is not gone yet (SPEC 9): it is told
    # removed once two listings agree, or once it was kept its 10 minutes.
    assert "added server lb-c" in changed[0] and "lb-b" not in changed[0]
    clock.set(wall_ms=2 * 3600 * 1000)
    r = env.run("reconcile", "--once", env=clock.env())     # another hour on: listed again
    assert r.rc == 0, r
    assert len(env.cloud.requests("GET", SERVERS)) == 2
    changed = [t for t in env.texts() if "Resources changed" in t]
    assert len(changed) == 2
    assert "removed server lb-b" in changed[1] and "added" not in changed[1]


def test_failed_refresh_keeps_the_old_inventory_and_does_not_plan(w):
    env = w
    failover_world(env)
    up(env, A)
    r = env.reconcile()
    assert r.rc == 0, r
    inventory_at = group(env)["inventory_at"]
    down(env, A)
    env.cloud.add_fault(method="GET", path=FIPS, status=500, count=-1)
    r = env.reconcile()
    assert r.rc == 1, r
    assert "inventory refresh failed; keeping the previous inventory and not planning" in msgs(r)
    assert mutations(env) == []
    # The checks ran on the kept inventory; the health is saved.
    assert health(env) == {"lb-a": "unhealthy", "lb-b": "healthy"}
    assert group(env)["inventory_at"] == inventory_at
    assert stored_fips(env) == {VIP_1: LB_A}
    p = env.run("plan", "--detailed-exitcode")
    assert p.rc == 1, p
    env.cloud.clear_faults()
    r = env.reconcile()
    assert r.rc == 0, r
    assert assigns(env) == [(VIP_1, LB_B)]


def test_max_actions_per_round_refuses_the_whole_plan(w):
    env = w
    env.add_lb(LB_A, "lb-a", A, up=False)
    env.add_lb(LB_B, "lb-b", B)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A)
    env.add_vip(VIP_2, "vip-2", "198.51.100.2", LB_A)
    env.config(checks=[check()], group_extra={"max_actions_per_round": 1})
    r = env.reconcile()
    assert r.rc == 0, r
    assert mutations(env) == []
    refused = logs_with(r, "plan refused: more actions than max_actions_per_round")
    assert len(refused) == 1
    assert (refused[0]["actions"], refused[0]["max_actions_per_round"]) == (2, 1)
    assert "plan_refused" in queued(r)
    assert any("Plan refused" in t and "Nothing was applied" in t for t in env.texts())
    assert stored_fips(env) == {VIP_1: LB_A, VIP_2: LB_A}
    # The same refused plan again: refused and logged, not notified again.
    r = env.reconcile()
    assert r.rc == 0, r
    assert mutations(env) == []
    assert len(logs_with(r, "plan refused: more actions than max_actions_per_round")) == 1
    assert "plan_refused" not in queued(r)
    # Once the limit allows it, the plan is applied.
    env.config(checks=[check()], group_extra={"max_actions_per_round": 2})
    r = env.reconcile()
    assert r.rc == 0, r
    assert sorted(fid for fid, _ in assigns(env)) == [VIP_1, VIP_2]


# ---- 15. apply re-reads the floating IPs ---------------------------------------------------

def test_apply_rereads_ips_already_moved_by_someone_else(w):
    env = w
    three(env, loc_c="fsn1")
    env.config(checks=[check()], group_extra={"poll_interval": "1h"})
    r = env.reconcile()
    assert r.rc == 0, r
    assert mutations(env) == []
    env.cloud.clear_requests()

    # Somebody moves vip-1 to lb-b, where the plan will want it; the cache
    # still says lb-a.
    down(env, A)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_B)
    r = env.reconcile()
    assert r.rc == 0, r
    assert env.cloud.requests("GET", SERVERS) == []         # cache used
    assert len(env.cloud.requests("GET", FIPS)) == 1        # the re-read
    assert mutations(env) == []                             # fresh data: nothing to do
    assert "the floating IPs are already where the plan wants them" in msgs(r)
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_B
    assert stored_fips(env) == {VIP_1: LB_B}

    env.cloud.clear_requests()
    r = env.reconcile()     # the cache knows now: no re-read, no POST
    assert r.rc == 0, r
    assert env.cloud.requests() == []


def test_apply_rereads_ips_and_acts_on_a_new_one(w):
    env = w
    three(env, loc_c="fsn1")
    env.config(checks=[check()], group_extra={"poll_interval": "1h"})
    r = env.reconcile()
    assert r.rc == 0, r
    down(env, A)
    env.add_vip(VIP_2, "vip-2", "198.51.100.2", None)      # not in the cache
    r = env.reconcile()
    assert r.rc == 0, r
    # The re-read updates targets, never adds an IP (SPEC 9): vip-1 moves,
    # vip-2 waits for the listing, which the next run makes at once.
    assert assigns(env) == [(VIP_1, LB_B)]
    assert stored_fips(env) == {VIP_1: LB_B}
    assert logs_with(r, "the floating IPs re-read before applying include some the "
                        "inventory lacks; they are left alone until the inventory is listed, next")
    env.cloud.clear_requests()
    r = env.reconcile()
    assert r.rc == 0, r
    assert len(env.cloud.requests("GET", SERVERS)) == 1     # listed, within poll_interval
    assert assigns(env) == [(VIP_2, LB_C)]
    assert stored_fips(env) == {VIP_1: LB_B, VIP_2: LB_C}


def test_apply_does_not_touch_an_ip_deleted_meanwhile(w):
    env = w
    three(env, loc_c="fsn1")
    env.add_vip(VIP_2, "vip-2", "198.51.100.2", LB_B)
    env.config(checks=[check()], group_extra={"poll_interval": "1h"})
    r = env.reconcile()
    assert r.rc == 0, r
    assert mutations(env) == []
    down(env, A)
    env.cloud.delete_floating_ip(VIP_1)
    r = env.reconcile()
    # A re-read that lacks an IP is not believed: nothing moves, the run
    # says why and fails, and the next one lists (read twice) first.
    assert r.rc == 1, r
    assert mutations(env) == []
    assert "apply_held" in queued(r)
    assert stored_fips(env) == {VIP_1: LB_A, VIP_2: LB_B}
    env.cloud.clear_requests()
    r = env.reconcile()
    assert r.rc == 0, r
    assert len(env.cloud.requests("GET", FIPS)) == 2        # the listing, confirmed
    # Only vip-2 is left; the spread pass puts it on lb-b, where it is.
    assert mutations(env) == []
    assert stored_fips(env) == {VIP_2: LB_B}


# ---- 16. status and snapshot ---------------------------------------------------------------

def test_status_and_snapshot_feed_simulate_with_the_plan_of_plan(w):
    env = w
    three(env)
    env.config(checks=[check()], group_extra={"readonly": True})
    down(env, A)
    r = env.reconcile()
    assert r.rc == 0, r

    human = env.run("status")
    assert human.rc == 0, human
    out = human.out
    assert re.search(r"^group web\b", out, re.M), out
    assert re.search(r"lb-a\s+fsn1\s+unhealthy", out), out
    assert re.search(r"lb-b\s+fsn1\s+healthy", out), out
    assert re.search(r"lb-c\s+nbg1\s+healthy", out), out
    assert re.search(r"http\s+ipv4\s+unhealthy\s+rise 0 fall 1.*HTTP 503", out), out
    assert re.search(r"vip-1\s+198\.51\.100\.1\s+fsn1\s+-> lb-a", out), out
    assert re.search(r"^outbox: \d+ notifications? queued$", out, re.M), out
    assert env.cloud.requests() and len(env.cloud.requests()) == 2   # status: no I/O

    snap = env.run("status", "--snapshot", "web")
    assert snap.rc == 0, snap
    doc = json.loads(snap.out)
    assert {s["name"]: s["status"] for s in doc["servers"]} == \
        {"lb-a": "unhealthy", "lb-b": "healthy", "lb-c": "healthy"}
    path = env.tmp / "snap.json"
    path.write_text(snap.out)
    sim = run_flipper("simulate", str(path), "--json")
    assert sim.rc == 0, sim
    plan = env.run("plan", "--json", "--no-checks")
    assert plan.rc == 0, plan
    plan_full = env.run("plan", "--json")
    assert plan_full.rc == 0, plan_full

    def actions(text):
        return [{k: a[k] for k in ("floating_ip", "from", "to", "reason")}
                for a in json.loads(text)["groups"][0]["actions"]]
    want = [{"floating_ip": VIP_1, "from": LB_A, "to": LB_B, "reason": "target_unhealthy"}]
    assert actions(sim.out) == want
    assert actions(plan.out) == want
    assert actions(plan_full.out) == want

    # "What if lb-b fails too?" — one edit, and vip-1 leaves fsn1 for its zone.
    for s in doc["servers"]:
        if s["name"] == "lb-b":
            s["status"] = "unhealthy"
    path.write_text(json.dumps(doc))
    sim = run_flipper("simulate", str(path), "--json")
    assert sim.rc == 0, sim
    assert [(a["floating_ip"], a["to"]) for a in json.loads(sim.out)["groups"][0]["actions"]] \
        == [(VIP_1, LB_C)]

    bad = env.run("status", "--snapshot", "nope")
    assert bad.rc == 2, bad


# ---- 16b. move only what must move; failback probation ---------------------------------------

def test_hundred_servers_move_only_the_ip_of_the_one_that_dies(w):
    """SPEC 8's figures through real rounds: 100 servers with one IP each,
    no labels. One backend dies: its IP alone is assigned. It recovers:
    nothing. A server whose name sorts first joins: nothing. The fake
    API's request log counts the assigns."""
    env = w
    n = 100
    addrs = ["127.77.1.%d" % (i + 1) for i in range(n + 1)]
    env.backends.bulk(addrs, PORT)
    sid = [6000000000 + i for i in range(n)]
    env.cloud.add_servers([{"id": sid[i], "name": "lb-%03d" % i, "location": "fsn1",
                            "ipv4": addrs[i], "ipv6": None, "labels": {"role": "lb"}}
                           for i in range(n)])
    env.cloud.add_floating_ips([{"id": 7000000000 + i, "name": "vip-%03d" % i,
                                 "ip": "203.0.113.%d" % i, "home_location": "fsn1",
                                 "server": sid[i], "labels": {"role": "vip"}}
                                for i in range(n)])
    env.config(checks=[check()])
    r = env.reconcile()
    assert r.rc == 0, r
    assert set(health(env).values()) == {"healthy"}
    assert assigns(env) == []                          # all healthy: 0 moves

    down(env, addrs[37])
    r = env.reconcile()
    assert r.rc == 0, r
    moved = assigns(env)
    assert [f for f, _ in moved] == [7000000037]       # one fails: exactly its IP
    assert moved[0][1] != sid[37]
    assert [l["reason"] for l in logs_with(r, "applying")] == ["target_unhealthy"]

    up(env, addrs[37])
    r = env.reconcile()
    assert r.rc == 0, r
    assert health(env)["lb-037"] == "healthy"
    assert assigns(env) == moved                       # it recovers: 0 moves

    env.cloud.add_server(id=5999999999, name="aaa-new", location="fsn1", ipv4=addrs[n],
                         ipv6=None, labels={"role": "lb"})
    r = env.reconcile()
    assert r.rc == 0, r
    assert health(env)["aaa-new"] == "healthy"
    assert assigns(env) == moved                       # a server joins: 0 moves


def test_failback_waits_for_the_probation(w):
    """failback_delay: lb-a is back, but vip-1 (its canonical IP) stays on
    lb-b until lb-a has been healthy that long. plan, status and the
    snapshot say what waits and until when; the delay over, it moves."""
    env = w
    env.add_lb(LB_A, "lb-a", A, labels={"resource_index": "0"})
    env.add_lb(LB_B, "lb-b", B, labels={"resource_index": "1"})
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A, labels={"resource_index": "0"})
    env.add_vip(VIP_2, "vip-2", "198.51.100.2", None)
    env.config(checks=[check()], group_extra={"failback_delay": "1h"})
    r = env.reconcile()
    assert r.rc == 0, r
    # vip-2 has no server yet: lb-a and lb-b became healthy just now, both
    # in probation, and an unassigned IP is not a failback: it goes at once
    # (to lb-b, which holds fewer).
    assert assigns(env) == [(VIP_2, LB_B)]
    down(env, A)
    r = env.reconcile()
    assert r.rc == 0, r
    assert assigns(env) == [(VIP_2, LB_B), (VIP_1, LB_B)]

    up(env, A)
    r = env.reconcile()
    assert r.rc == 0, r
    assert len(assigns(env)) == 2                      # nothing moved back
    waits = logs_with(r, "failback waits for the end of a probation")
    assert [(l["floating_ip"], l["to"], l["reason"]) for l in waits] == \
        [("vip-1", "lb-a", "canonical")]
    st = group(env)
    since = {s["name"]: s["since"] for s in st["servers"]}
    due = since["lb-a"] + 3600 * 1000
    # Both are in probation: lb-b became healthy in the first round.
    assert {s["name"]: s["probation_until"] for s in st["servers"]} == \
        {"lb-a": due, "lb-b": since["lb-b"] + 3600 * 1000}
    assert [(p["floating_ip"], p["from"], p["to"], p["pending_reason"], p["due_at"])
            for p in st["pending"]] == [(VIP_1, LB_B, LB_A, "canonical", due)]
    human = env.run("status")
    assert re.search(r"lb-a\s+fsn1\s+healthy\s+since .*, probation until \d{4}-", human.out), \
        human.out
    assert re.search(r"failbacks waiting for a probation to end \(1\):\n\s+vip-1\s+"
                     r"lb-b -> lb-a  canonical at \d{4}-\d\d-\d\dT", human.out), human.out

    plan = env.run("plan", "--json", "--no-checks")
    assert plan.rc == 0, plan
    g = json.loads(plan.out)["groups"][0]
    assert [(a["floating_ip"], a["reason"], a["pending_reason"], a["due_at"])
            for a in g["actions"]] == [(VIP_1, "pending", "canonical", due)]
    d = env.run("plan", "--no-checks", "--detailed-exitcode")
    assert d.rc == 0, d                                # waiting is not a change
    assert "waiting for a probation to end (failback_delay):" in d.out
    assert d.out.rstrip().endswith("no changes; 1 move waiting for a probation to end")

    # The snapshot carries the probation: simulate shows the same wait.
    snap = env.run("status", "--snapshot", "web")
    doc = json.loads(snap.out)
    assert {s["name"]: s.get("probation", False) for s in doc["servers"]} == \
        {"lb-a": True, "lb-b": True}
    assert (doc["when_none_healthy"], doc["rebalance"]) == ("freeze", False)
    path = env.tmp / "snap.json"
    path.write_text(snap.out)
    sim = run_flipper("simulate", str(path), "--json")
    assert [(a["floating_ip"], a["reason"], a["pending_reason"], a["due_at"])
            for a in json.loads(sim.out)["groups"][0]["actions"]] == \
        [(VIP_1, "pending", "canonical", None)]

    # The delay over (here: shortened), the failback is a plain move.
    env.config(checks=[check()], group_extra={"failback_delay": "1ms"})
    r = env.reconcile()
    assert r.rc == 0, r
    assert assigns(env)[2:] == [(VIP_1, LB_A)]
    assert [l["reason"] for l in logs_with(r, "applying")] == ["canonical"]
    assert group(env)["pending"] == []


def test_loop_plans_again_when_a_probation_ends(w):
    """Nothing else falls due (checks hourly, inventory cached): the loop
    wakes for the failback when lb-a's probation ends."""
    env = w
    env.add_lb(LB_A, "lb-a", A, labels={"resource_index": "0"})
    env.add_lb(LB_B, "lb-b", B)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A, labels={"resource_index": "0"})
    extra = {"failback_delay": "2s", "poll_interval": "1h"}
    env.config(checks=[check()], group_extra=extra)
    assert env.reconcile().rc == 0
    down(env, A)
    assert env.reconcile().rc == 0
    assert assigns(env) == [(VIP_1, LB_B)]
    up(env, A)
    r = env.reconcile()                                # lb-a back: probation begins
    assert r.rc == 0, r
    assert assigns(env) == [(VIP_1, LB_B)]
    assert len(logs_with(r, "failback waits for the end of a probation")) == 1
    checks_before = len(env.backends.requests(A, PORT))

    env.config(checks=[check(interval="1h")], group_extra=extra)
    r = env.run("reconcile", "--for", "8s", timeout=60)
    assert r.rc == 0, r
    assert assigns(env) == [(VIP_1, LB_B), (VIP_1, LB_A)]
    assert [l["reason"] for l in logs_with(r, "applying")] == ["canonical"]
    # It was the probation's end that woke it: no check ran meanwhile.
    assert len(env.backends.requests(A, PORT)) == checks_before
    waits = [i for i, l in enumerate(r.logs()) if l.get("msg") ==
             "failback waits for the end of a probation"]
    applying = [i for i, l in enumerate(r.logs()) if l.get("msg") == "applying"]
    assert waits and applying and waits[0] < applying[0]


# ---- 17. exit codes ------------------------------------------------------------------------

def test_bad_config_exits_2_and_contacts_nothing(w):
    env = w
    failover_world(env)
    env.config(checks=[check(timeout="5")])         # a duration without a unit
    r = env.reconcile()
    assert r.rc == 2, r
    assert "timeout" in r.err and "unit" in r.err
    assert env.cloud.requests() == []
    assert env.sink.requests() == []
    assert not os.path.exists(env.state)
    p = env.run("plan")
    assert p.rc == 2, p
    assert env.cloud.requests() == []

    env.config(checks=[check()])
    g = env.reconcile("--group", "nope")
    assert g.rc == 2, g
    assert "nope" in g.err
    assert env.cloud.requests() == []
    assert not os.path.exists(env.state)


def test_unreachable_api_exits_1_and_falls_silent(w):
    env = w
    failover_world(env)
    hetzner = {"api_token": TOKEN, "endpoint": "http://127.0.0.1:%d/v1" % closed_port(),
               "servers": {"label_selector": "role=lb"},
               "floating_ips": {"label_selector": "role=vip"}}
    env.config(checks=[check()], group_extra={"hetzner": hetzner, "poll_timeout": "1s"},
               heartbeat={"enabled": True, "url": env.sink.url + "/beat",
                          "interval": "1ms", "timeout": "2s"})
    r = env.reconcile()
    assert r.rc == 1, r
    failed = logs_with(r, "inventory refresh failed")
    assert len(failed) == 1 and "transport" in failed[0]["error"], r.err
    assert env.beats() == []
    assert env.backends.requests(A, PORT) == []     # no inventory: no checks
    p = env.run("plan")
    assert p.rc == 1, p
    assert "no plan" in p.out


# ---- schema migration ------------------------------------------------------------------------

def test_state_of_schema_1_is_migrated_forward_keeping_its_data(w):
    """A state written by the first schema (sql/001 only) is migrated to
    the current one in place, and what it held is kept: the group's
    "started watching" is not sent again, the counters carry on."""
    env = w
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "sql", "001-initial.sql")) as f:
        v1 = f.read()
    db = sqlite3.connect(env.state)
    db.executescript(v1)
    db.execute("PRAGMA application_id = %d" % 0x464C5052)
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO groups (id, watching_since) VALUES ('web', 1700000000000)")
    db.execute("INSERT INTO counters (name, labels, value) VALUES "
               "('flipper_actions_total', 'group=\"web\",result=\"success\"', 7)")
    db.commit()
    db.close()
    env.add_lb(LB_A, "lb-a", A)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A)
    env.config(checks=[check()])
    r = env.reconcile()
    assert r.rc == 0, r
    assert "started_watching" not in queued(r)
    db = sqlite3.connect("file:%s?mode=ro" % env.state, uri=True)
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        cols = [row[1] for row in db.execute("PRAGMA table_info(groups)")]
        kept = db.execute("SELECT value FROM counters WHERE name = 'flipper_actions_total'").fetchone()
    finally:
        db.close()
    assert version == len(glob.glob(os.path.join(root, "sql", "*.sql")))
    assert version >= 2 and "refused_plan" in cols
    assert kept == (7,)


def test_state_of_a_newer_flipper_is_refused_and_left_alone(w):
    env = w
    db = sqlite3.connect(env.state)
    db.execute("CREATE TABLE future (x)")
    db.execute("PRAGMA application_id = %d" % 0x464C5052)
    db.execute("PRAGMA user_version = 999")
    db.commit()
    db.close()
    before = open(env.state, "rb").read()
    env.add_lb(LB_A, "lb-a", A)
    env.config(checks=[check()])
    r = env.reconcile()
    assert r.rc == 1, r
    assert "newer flipper" in r.err
    assert open(env.state, "rb").read() == before
    assert not glob.glob(env.state + ".corrupt-*")
    assert mutations(env) == []


# ---- checks run only when due; the state file is private ---------------------------------

def test_checks_run_only_when_due_across_invocations(w):
    """interval is honoured between invocations: a second run within the
    interval sends no check request, one after it does (the tolerance
    lets a timer firing at the interval through). The hour passes on the
    test clock."""
    env = w
    env.add_lb(LB_A, "lb-a", A)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A)
    env.config(checks=[check(interval="1h")])
    env.backends.clear_requests(A, PORT)
    assert env.reconcile().rc == 0
    assert len(env.backends.requests(A, PORT)) == 1
    assert env.reconcile().rc == 0             # within the hour: not due
    assert len(env.backends.requests(A, PORT)) == 1
    first = target(env, "lb-a")["last_run"]
    clock = env.clock
    clock.set(wall_ms=3599 * 1000)             # the hour minus a second: due by tolerance
    assert env.run("reconcile", "--once", env=clock.env()).rc == 0
    assert len(env.backends.requests(A, PORT)) == 2
    assert target(env, "lb-a")["last_run"] > first


def test_state_file_is_private(w):
    env = w
    env.add_lb(LB_A, "lb-a", A)
    env.config(checks=[check()])
    old = os.umask(0o022)
    try:
        assert env.reconcile().rc == 0
    finally:
        os.umask(old)
    for path in (env.state, env.state + "-wal", env.state + "-shm", env.state + ".lock"):
        if os.path.exists(path):
            assert os.stat(path).st_mode & 0o077 == 0, (path, oct(os.stat(path).st_mode))
