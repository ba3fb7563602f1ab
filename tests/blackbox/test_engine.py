"""Black-box tests of the engine (SPEC section 9): every check target on
its own schedule, unknown that cannot block, fast_interval. The real
flipper against the fake Hetzner API and real backends on loopback.

Every assertion is about the ORDER of events in the fake API's and the
backends' request logs, never about how long something took: timing
figures are bench/'s (bench_failover.py).
"""

import json
import signal

import pytest

from conftest import LB_A, LB_B, LB_C, VIP_1, stderr_of, wait_for

A, B, C = "127.0.0.11", "127.0.0.12", "127.0.0.13"
ASSIGN = r"^/v1/floating_ips/\d+/actions/assign$"


@pytest.fixture
def env(env):
    env.cloud.settings(action_seconds=0)
    yield env
    env.stop_all()
    env.backends.clear()      # releases hanging connections


def requests_to(env, addr):
    return env.backends.requests(addr, env.port)


def assigns(env):
    return [(int(r["path"].split("/")[3]), r["body"]["server"])
            for r in env.cloud.requests("POST", ASSIGN)]


def status_json(env):
    r = env.run("status", "--json")
    assert r.rc == 0, r
    return json.loads(r.out)["groups"][0]


def stop(p):
    p.send_signal(signal.SIGTERM)
    return p.wait(20)


def test_a_hanging_backend_delays_nobody_else(env):
    """lb-c accepts its check and never answers. lb-a dies: it keeps
    being checked at its own cadence, reaches fall, and its IP moves,
    all while lb-c's first check is still held open."""
    env.port = 0
    env.add_lb(LB_A, "lb-a", A)
    env.add_lb(LB_B, "lb-b", B)
    env.add_lb(LB_C, "lb-c", C)
    env.backends.set(C, env.port, hang=True)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A)
    env.config(checks=[env.check(interval="200ms", timeout="60s", fall=3)],
               group_extra={"poll_interval": "60s"})
    p = env.start("monitor")
    wait_for(lambda: len(requests_to(env, A)) >= 2 and len(requests_to(env, B)) >= 2
             and env.backends.info(C, env.port)["hanging"] == 1, 20,
             what="lb-a and lb-b checked, lb-c held")
    env.backends.set(A, env.port, status=503)
    died_at = len(requests_to(env, A))
    env.cloud.wait_assigned(VIP_1, LB_B, timeout=30)

    # lb-a was checked on, at least fall times, after it died...
    assert len(requests_to(env, A)) - died_at >= 3
    # ...while lb-c's one and only check was still unanswered.
    info = env.backends.info(C, env.port)
    assert info["hanging"] == 1 and info["requests"] == 1, info
    assert assigns(env) == [(VIP_1, LB_B)]
    assert stop(p) == 0, stderr_of(p)
    st = status_json(env)
    assert {s["name"]: s["status"] for s in st["servers"]} == \
        {"lb-a": "unhealthy", "lb-b": "healthy", "lb-c": "unknown"}


def test_an_uncheckable_server_blocks_nothing_and_is_told_once(env):
    """lb-c has no IPv4 address and the check is IPv4 only: no check can
    reach it. It is reported once (log, notification, status, metric),
    and it defers nothing: when lb-a dies, its IP moves."""
    env.port = 0
    env.add_lb(LB_A, "lb-a", A)
    env.add_lb(LB_B, "lb-b", B)
    env.cloud.add_server(id=LB_C, name="lb-c", location="fsn1", ipv4=None,
                         ipv6="2001:db8:c::/64", labels={"role": "lb"})
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A)
    env.config(checks=[env.check(interval="200ms", ip_version="ipv4", fall=2)],
               group_extra={"poll_interval": "60s"}, metrics=True)
    p = env.start("monitor")
    wait_for(lambda: any("Server uncheckable" in t for t in env.texts()), 20,
             what="the uncheckable notification")
    env.backends.set(A, env.port, status=503)
    env.cloud.wait_assigned(VIP_1, LB_B, timeout=30)
    wait_for(lambda: any("Plan applied" in t for t in env.texts()), 20, what="the outcome")
    assert stop(p) == 0, stderr_of(p)

    assert assigns(env) == [(VIP_1, LB_B)]
    told = [t for t in env.texts() if "Server uncheckable" in t]
    assert len(told) == 1, told
    assert "lb-c" in told[0] and "only IPv6" in told[0]
    logs = [l for l in map(json.loads, stderr_of(p).splitlines())
            if l.get("msg", "").startswith("server has no address any check can use")]
    assert len(logs) == 1 and logs[0]["server"] == "lb-c", logs
    st = status_json(env)
    assert {s["name"]: s["status"] for s in st["servers"]}["lb-c"] == "uncheckable"
    with open(env.metrics) as f:
        assert ('flipper_server_health{group="web",server="lb-c",location="fsn1",'
                'status="uncheckable"} 1') in f.read()
    # A later run says nothing again.
    env.sink.clear()
    r = env.reconcile()
    assert r.rc == 0, r
    assert not any("uncheckable" in t for t in env.texts())


def test_fast_interval_checks_a_failing_target_sooner(env):
    """interval 3s, fast_interval 100ms, fall 3: once lb-a fails, its
    next checks come at the fast interval, so it reaches fall and its IP
    moves before lb-b (healthy, settled) is due for its next check."""
    env.port = 0
    env.pair()
    env.config(checks=[env.check(interval="3s", fast_interval="100ms", fall=3, rise=1)],
               group_extra={"poll_interval": "60s"})
    p = env.start("monitor")
    wait_for(lambda: requests_to(env, A) and requests_to(env, B), 20, what="the first checks")
    env.backends.set(A, env.port, status=503)
    env.cloud.wait_assigned(VIP_1, LB_B, timeout=30)
    a, b = len(requests_to(env, A)), len(requests_to(env, B))
    assert stop(p) == 0, stderr_of(p)
    # One good check and three failures of lb-a in the time lb-b had two checks.
    assert a >= 4, a
    assert b <= 2, b
