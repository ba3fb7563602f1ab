"""Black-box tests of the engine (SPEC section 9): every check target on
its own schedule, unknown that cannot block, fast_interval. The real
flipper against the fake Hetzner API and real backends on loopback.

Every assertion is about the ORDER of events in the fake API's and the
backends' request logs, never about how long something took: timing
figures are bench/'s (bench_failover.py).
"""

import json
import os
import signal
import time

import pytest

from conftest import LB_A, LB_B, LB_C, TOKEN, VIP_1, stderr_of, wait_for

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
    keeps the IP it holds, and defers nothing: when lb-a dies, its IP
    moves."""
    env.port = 0
    env.add_lb(LB_A, "lb-a", A)
    env.add_lb(LB_B, "lb-b", B)
    env.cloud.add_server(id=LB_C, name="lb-c", location="fsn1", ipv4=None,
                         ipv6="2001:db8:c::/64", labels={"role": "lb"})
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A)
    env.add_vip(VIP_1 + 5, "vip-c", "198.51.100.5", LB_C)
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
    assert env.cloud.floating_ip(VIP_1 + 5)["server"] == LB_C    # kept
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


# ---- groups that cannot stall each other (issue 14) ---------------------------------

def two_groups(env, **group_extra):
    """Group a (servers role=a-lb) and group b (role=b-lb) in one flipper,
    against the same fake API; b's servers answer on 127.0.0.21 and .22,
    checked every 200 ms with fall 1."""
    env.port = env.backends.add("127.0.0.21", 0)["port"]
    env.backends.add("127.0.0.22", env.port)
    env.cloud.add_servers([
        {"id": LB_A, "name": "a-1", "ipv4": "127.0.0.31", "labels": {"role": "a-lb"}},
        {"id": LB_B, "name": "b-1", "ipv4": "127.0.0.21", "labels": {"role": "b-lb"}},
        {"id": LB_C, "name": "b-2", "ipv4": "127.0.0.22", "labels": {"role": "b-lb"}}])
    env.cloud.add_floating_ips([{"id": VIP_1, "name": "vip-b", "ip": "198.51.100.9",
                                 "server": LB_B, "labels": {"role": "b-vip"}}])
    check = env.check(interval="200ms", timeout="1s", fall=1, rise=1)

    def group(gid):
        g = {"id": gid, "display_name": gid.upper(), "poll_interval": "60s",
             "poll_timeout": "60s", "plan_apply_timeout": "20s",
             "hetzner": {"api_token": TOKEN, "endpoint": env.cloud.endpoint,
                         "servers": {"label_selector": "role=%s-lb" % gid},
                         "floating_ips": {"label_selector": "role=%s-vip" % gid}},
             "checks": [check]}
        g.update(group_extra)
        return g
    return [group("a"), group("b")]


def b_checks(env):
    return len(env.backends.requests("127.0.0.21", env.port))


def test_a_group_whose_api_hangs_delays_no_other_group(env):
    """Group a's listing is held open by the API. Group b meanwhile keeps
    checking at its cadence, and when its backend dies its IP moves, all
    before a's request is released."""
    env.config(groups=two_groups(env))
    env.cloud.add_fault(method="GET", path=r"^/v1/servers$", query="role%3Da-lb",
                        hold="A", count=-1)
    p = env.start("monitor")
    wait_for(lambda: [r for r in env.cloud.requests("GET", r"^/v1/servers$")
                      if r.get("held")], 20, what="group a's listing held")
    held = [r for r in env.cloud.requests("GET", r"^/v1/servers$") if r.get("held")][0]
    # b keeps its cadence while a's request hangs...
    n = b_checks(env)
    wait_for(lambda: b_checks(env) >= n + 3, 20, what="b's checks going on")
    env.backends.set("127.0.0.21", env.port, status=503)
    env.cloud.wait_assigned(VIP_1, LB_C, timeout=30)
    # ...and b failed over while that very request was still held.
    entry = [r for r in env.cloud.requests() if r["seq"] == held["seq"]][0]
    assert entry.get("held") and not entry.get("released"), entry
    assert [r["path"] for r in env.cloud.requests("POST")] == \
        ["/v1/floating_ips/%d/actions/assign" % VIP_1]
    env.cloud.release("A")
    assert stop(p) == 0, stderr_of(p)


def test_four_ips_leaving_one_server_all_move_in_one_pass(env):
    """1 s actions, plan_apply_timeout 4s: the four assignments share their
    source server, so they run one after the other, about 6 s in all;
    each has 4 s of its own, and all four succeed in one pass."""
    env.cloud.settings(action_seconds=1.0)
    env.port = 0
    env.add_lb(LB_A, "lb-a", A, up=False)
    env.add_lb(LB_B, "lb-b", B)
    env.add_lb(LB_C, "lb-c", C)
    vips = [VIP_1 + i for i in range(4)]
    for i, v in enumerate(vips):
        env.add_vip(v, "vip-%d" % i, "198.51.100.%d" % (20 + i), LB_A)
    env.config(checks=[env.check(interval="1ms")],
               group_extra={"plan_apply_timeout": "4s"})
    r = env.reconcile()
    assert r.rc == 0, r.err
    assert len(assigns(env)) == 4
    for v in vips:
        assert env.cloud.floating_ip(v)["server"] in (LB_B, LB_C)
    # One after the other: each POST came after the previous action's last poll.
    seqs = [q["seq"] for q in env.cloud.requests("POST", ASSIGN)]
    polls = [q["seq"] for q in env.cloud.requests("GET", r"^/v1/actions/\d+$")]
    for a, b in zip(seqs, seqs[1:]):
        assert any(a < s < b for s in polls), (seqs, polls)


def test_actions_on_distinct_servers_run_at_once(env):
    """vip-1 leaves dead lb-a for lb-b, unassigned vip-2 goes to lb-c: no
    server in common, so the assignment to lb-c is sent before the action
    of the one to lb-b has finished (before anyone polled it)."""
    env.cloud.settings(action_seconds=1.0)
    env.port = 0
    env.add_lb(LB_A, "lb-a", A, up=False)
    env.add_lb(LB_B, "lb-b", B)
    env.add_lb(LB_C, "lb-c", C)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A)
    env.add_vip(VIP_1 + 1, "vip-2", "198.51.100.2", None)
    env.config(checks=[env.check(interval="1ms")])
    r = env.reconcile()
    assert r.rc == 0, r.err
    assert sorted(assigns(env)) == [(VIP_1, LB_B), (VIP_1 + 1, LB_C)]
    posts = {q["body"]["server"]: q["seq"] for q in env.cloud.requests("POST", ASSIGN)}
    first_poll = min(q["seq"] for q in env.cloud.requests("GET", r"^/v1/actions/\d+$"))
    assert posts[LB_C] < first_poll and posts[LB_B] < first_poll, (posts, first_poll)


def test_an_ip_moved_outside_flipper_is_told_and_left_alone(env):
    """vip-1 belongs on lb-a (resource_index 0). Somebody moves it to
    lb-b: flipper says so once and does not move it back while the hold
    lasts; when lb-b dies it moves anyway."""
    env.port = 0
    env.add_lb(LB_A, "lb-a", A, labels={"resource_index": "0"})
    env.add_lb(LB_B, "lb-b", B, labels={"resource_index": "1"})
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A, labels={"resource_index": "0"})
    env.config(checks=[env.check(interval="1ms")], group_extra={"poll_interval": "always"})
    assert env.reconcile().rc == 0
    assert assigns(env) == []
    env.cloud.add_floating_ip(id=VIP_1, name="vip-1", ip="198.51.100.1", home_location="fsn1",
                              server=LB_B, labels={"role": "vip", "resource_index": "0"})
    for _ in range(2):
        r = env.reconcile()
        assert r.rc == 0, r.err
        assert assigns(env) == []
    told = [t for t in env.texts() if "Moved outside flipper" in t]
    assert len(told) == 1 and "vip-1" in told[0] and "lb-b" in told[0], told
    st = status_json(env)
    assert [h["floating_ip"] for h in st["held"]] == [VIP_1]
    env.backends.set(B, env.port, status=503)
    r = env.reconcile()
    assert r.rc == 0, r.err
    assert assigns(env) == [(VIP_1, LB_A)]


def test_no_blocking_calls_in_src():
    """Nothing in src/ waits: no sleep_ms and no curl_easy_perform."""
    import glob
    import os
    root = os.path.join(os.path.dirname(__file__), "..", "..", "src")
    files = glob.glob(os.path.join(root, "*.[ch]"))
    assert len(files) > 20
    for path in files:
        with open(path) as f:
            text = f.read()
        for banned in ("sleep_ms", "curl_easy_perform"):
            assert banned not in text, "%s uses %s" % (os.path.basename(path), banned)


def test_heartbeat_waits_for_every_group(env):
    """The heartbeat goes out only while every group passes: group a's API
    failing keeps it silent although group b passes again and again."""
    groups = two_groups(env, poll_interval="always", poll_timeout="1s")
    env.config(groups=groups, heartbeat={"enabled": True, "url": env.sink.url + "/beat",
                                         "interval": "200ms", "timeout": "1s"})
    env.cloud.add_fault(method="GET", path=r"^/v1/servers$", query="role%3Da-lb",
                        status=503, count=-1)
    p = env.start("monitor")
    wait_for(lambda: len(env.cloud.requests("GET", r"^/v1/floating_ips$")) >= 5, 20,
             what="group b passing again and again")
    assert env.beats() == []
    env.cloud.clear_faults()
    wait_for(lambda: env.beats(), 20, what="the heartbeat")
    assert stop(p) == 0, stderr_of(p)


# ---- time that cannot step (issue 13) ----------------------------------------------

def write_clock(path, wall_ms, mono_ms=0):
    """The injected test clock (FLIPPER_TEST_CLOCK_FILE): offsets added to
    flipper's wall and monotonic clocks; replaced at once."""
    with open(str(path) + ".tmp", "w") as f:
        f.write("%d %d\n" % (wall_ms, mono_ms))
    os.replace(str(path) + ".tmp", str(path))


def clock_env(env):
    path = env.tmp / "clock"
    if not path.exists():
        write_clock(path, 0)
    # A flipper that ignored these would make the tests prove nothing: it
    # must refuse the clock file without FLIPPER_TEST_MODE, so it reads it.
    probe = env.run("validate", env={"FLIPPER_TEST_CLOCK_FILE": str(path)})
    assert probe.rc == 2 and "FLIPPER_TEST_MODE" in probe.err, probe
    return path, {"FLIPPER_TEST_MODE": "1", "FLIPPER_TEST_CLOCK_FILE": str(path)}


def test_a_clock_step_back_does_not_stop_the_checks(env):
    """The wall clock steps back 10 minutes in the middle of monitor: the
    checks go on at their cadence (schedules are monotonic), and what is
    stored afterwards is on the stepped clock."""
    env.port = 0
    env.pair()
    env.config(checks=[env.check(interval="300ms")], group_extra={"poll_interval": "60s"})
    clock, cenv = clock_env(env)
    p = env.start("monitor", extra_env=cenv)
    wait_for(lambda: len(requests_to(env, A)) >= 2, 20, what="the first checks")
    write_clock(clock, -600000)
    stepped = time.time() * 1000 - 600000
    n = len(requests_to(env, A))
    # A stalled loop would wait ten minutes: a generous wait still ends.
    wait_for(lambda: len(requests_to(env, A)) >= n + 2, 30, what="checks after the step")
    assert stop(p) == 0, stderr_of(p)
    runs = [t["last_run"] for s in status_json(env)["servers"] for t in s["targets"]]
    assert runs and all(r < stepped + 60000 for r in runs), (runs, stepped)


def test_a_clock_step_back_costs_a_one_shot_run_at_most_one_interval(env):
    """Timer runs: the clock steps back 10 minutes after a check ran; the
    stored time lies ahead, is taken as now, and the target is due again
    one interval later, not ten minutes later."""
    env.port = 0
    env.pair()
    env.config(checks=[env.check(interval="1s")], group_extra={"poll_interval": "60s"})
    clock, cenv = clock_env(env)
    assert env.reconcile(env=cenv).rc == 0
    n = len(requests_to(env, A))
    write_clock(clock, -600000)

    def checked_again():
        assert env.reconcile(env=cenv).rc == 0
        return len(requests_to(env, A)) > n
    wait_for(checked_again, 30, interval=0.2, what="a check after the step")


def test_moves_wait_for_an_unknown_server_a_bounded_time(env):
    """lb-a's checks hang, so its health stays unknown. vip-1 (unassigned)
    would go to lb-a if lb-a turned out healthy, so it waits, but only
    rise x interval + timeout; then it moves to lb-b and an alert names
    lb-a, still unknown."""
    env.port = 0
    env.add_lb(LB_A, "lb-a", A)
    env.add_lb(LB_B, "lb-b", B)
    env.backends.set(A, env.port, hang=True)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", None)
    env.add_vip(VIP_1 + 1, "vip-2", "198.51.100.2", LB_B)
    env.config(checks=[env.check(interval="200ms", timeout="3s", fall=3, rise=1)],
               group_extra={"poll_interval": "60s"})
    p = env.start("monitor")
    env.cloud.wait_assigned(VIP_1, LB_B, timeout=30)
    wait_for(lambda: any("Not waiting any longer" in t for t in env.texts()), 20,
             what="the alert")
    # lb-a's checks had not reached fall: it was still unknown.
    assert len(requests_to(env, A)) < 3
    assert stop(p) == 0, stderr_of(p)
    told = [t for t in env.texts() if "Not waiting any longer" in t]
    assert len(told) == 1 and "lb-a" in told[0], told
    logs = [json.loads(l) for l in stderr_of(p).splitlines() if l.startswith("{")]
    deferred = [l for l in logs if l.get("msg") == "plan deferred"]
    assert deferred and deferred[0]["reason"] == "server lb-a has unknown status"
    assert assigns(env) == [(VIP_1, LB_B)]


def test_sigterm_lets_an_apply_in_flight_finish(env):
    """SIGTERM while an assignment's action runs: flipper waits for it
    (bounded by plan_apply_timeout), records the outcome and exits 0."""
    env.cloud.settings(action_seconds=1.5)
    env.port = 0
    env.pair()
    env.config(checks=[env.check(interval="200ms", fall=1)],
               group_extra={"poll_interval": "60s", "plan_apply_timeout": "20s"})
    p = env.start("monitor")
    wait_for(lambda: len(requests_to(env, A)) >= 2, 20, what="the first checks")
    env.backends.set(A, env.port, status=503)
    wait_for(lambda: env.cloud.requests("POST", ASSIGN), 20, what="the assignment")
    assert stop(p) == 0, stderr_of(p)
    # It waited for the action: the IP moved, and the state knows it.
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_B
    polls = env.cloud.requests("GET", r"^/v1/actions/\d+$")
    assert polls and polls[-1]["seq"] > env.cloud.requests("POST", ASSIGN)[0]["seq"]
    st = status_json(env)
    assert {f["name"]: f["server"] for f in st["floating_ips"]} == {"vip-1": LB_B}
    assert any("Plan applied" in t for t in env.texts())
