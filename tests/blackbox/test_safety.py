"""Black-box tests of flipper's safety rules (SPEC section 9, "Safety";
issue 15): what flipper does when the world lies. A listing that glitches,
a re-read that lacks an IP, a checker that goes blind, a flipper killed in
the middle of an apply, a clock that steps, a webhook URL that changes.

The real flipper against the fake Hetzner API (its fault rules play the
glitches), real backends on loopback and the webhook sink. Assertions are
about the ORDER of events in the fake API's and the backends' logs, never
about how long something took.
"""

import json
import signal
import time

import pytest

from conftest import LB_A, LB_B, LB_C, VIP_1, VIP_2, log_lines, stderr_of, wait_for

A, B, C, D = "127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14"
LB_D = LB_C + 1
VIP_3, VIP_4 = VIP_2 + 1, VIP_2 + 2
ASSIGN = r"^/v1/floating_ips/\d+/actions/assign$"
SERVERS = r"^/v1/servers$"
FIPS = r"^/v1/floating_ips$"


@pytest.fixture
def env(env):
    env.cloud.settings(action_seconds=0)
    yield env
    env.stop_all()
    env.backends.clear()      # releases hanging connections


def assigns(env, since=0):
    return [(int(r["path"].split("/")[3]), r["body"]["server"])
            for r in env.cloud.requests("POST", ASSIGN, since=since)]


def last_seq(env):
    reqs = env.cloud.requests()
    return reqs[-1]["seq"] if reqs else 0


def group(env):
    r = env.run("status", "--json")
    assert r.rc == 0, r
    return json.loads(r.out)["groups"][0]


def health(env):
    return {s["name"]: s["status"] for s in group(env)["servers"]}


def all_healthy(env):
    """For waits: every server healthy (False while there is no state yet)."""
    r = env.run("status", "--json")
    if r.rc != 0:
        return False
    groups = json.loads(r.out)["groups"]
    servers = groups[0]["servers"] if groups else []
    return servers and all(s["status"] == "healthy" for s in servers)


def logs(p, msg):
    return [l for l in log_lines(stderr_of(p)) if l.get("msg") == msg]


def queued(run):
    return [l["kind"] for l in run.logs() if l.get("msg") == "notification queued"]


def stop(p):
    p.send_signal(signal.SIGTERM)
    return p.wait(30)


def empty_page(kind):
    """A well-formed, empty list page: what a glitching API answered."""
    return json.dumps({kind: [], "meta": {"pagination": {
        "page": 1, "per_page": 50, "previous_page": None, "next_page": None,
        "last_page": 1, "total_entries": 0}}})


def answer_empty(env, path, kind):
    env.cloud.add_fault(method="GET", path=path, status=200, body=empty_page(kind),
                        content_type="application/json")


def times(env, addr):
    return [r["time"] for r in env.backends.requests(addr, env.port)]


# ---- 1. a listing that shrinks sharply -------------------------------------------

def test_an_empty_server_listing_is_read_again_and_costs_nothing(env):
    """One GET /servers answers 200 {"servers": []}, then the full list
    again (issue 15, case 1). The empty answer is read again before it is
    believed: no counters are dropped, nobody is told "Resources changed"
    or "no server is healthy", and with rise 5 / fall 2 the next real
    failure fails over after fall checks, not after the others rise again."""
    env.port = 0
    env.add_lb(LB_A, "lb-a", A)
    env.add_lb(LB_B, "lb-b", B)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A)
    env.config(checks=[env.check(interval="200ms", rise=5, fall=2)],
               group_extra={"poll_interval": "1s"})
    p = env.start("monitor")
    wait_for(lambda: all_healthy(env), 60, what="both healthy")

    seq = last_seq(env)
    answer_empty(env, SERVERS, "servers")
    wait_for(lambda: any(r["fault"] for r in env.cloud.requests("GET", SERVERS, since=seq)), 30,
             what="the empty listing")
    # At once, while the glitch is fresh: lb-a dies.
    died = env.backends.requests(A, env.port)[-1]["time"]
    env.backends.set(A, env.port, status=503)
    wait_for(lambda: assigns(env, since=seq), 30, what="the failover")
    assign_at = env.cloud.requests("POST", ASSIGN, since=seq)[0]["time"]
    assert assigns(env, since=seq) == [(VIP_1, LB_B)]
    assert stop(p) == 0, stderr_of(p)

    # The empty answer was read again at once (a listing is servers, then
    # floating IPs), and the second read was believed.
    reqs = [r for r in env.cloud.requests(since=seq) if r["method"] == "GET"]
    glitch = next(i for i, r in enumerate(reqs) if r["fault"])
    assert [r["path"] for r in reqs[glitch:glitch + 4]] == \
        ["/v1/servers", "/v1/floating_ips", "/v1/servers", "/v1/floating_ips"], reqs
    assert len(logs(p, "the listing lacks much of the inventory; reading it again before "
                       "believing it")) == 1
    assert not logs(p, "server missing from the listing; its counters are kept for 10 minutes")
    assert not logs(p, "resources changed")
    texts = env.texts()
    for title in ("Resources changed", "Frozen", "Fail-open", "Location without"):
        assert not [t for t in texts if title in t], (title, texts)
    # lb-b kept its counters: its run of successes counts every check it
    # ever had (one may have been in flight at the stop), not only those
    # after the glitch; so the move did not wait for it to rise 5 times again.
    checks_b = times(env, B)
    rise_b = next(s for s in group(env)["servers"] if s["name"] == "lb-b")["targets"][0]["rise"]
    assert len([t for t in checks_b if t < died]) >= 5
    assert rise_b >= len(checks_b) - 1, (rise_b, len(checks_b))
    assert len([t for t in times(env, A) if died < t < assign_at]) >= 2     # fall


def test_a_server_one_listing_lacks_keeps_its_counters_and_its_ip(env):
    """One listing lacks lb-a (its label is gone for a moment): lb-a is kept
    with its counters, the IP on it stays (the API says lb-a exists), and
    when lb-a is listed again nothing happened: no unknown health, no news."""
    env.port = 0
    env.add_lb(LB_A, "lb-a", A)
    env.add_lb(LB_B, "lb-b", B)
    env.add_lb(LB_C, "lb-c", C)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A)
    env.config(checks=[env.check(interval="1ms", rise=2)])
    for _ in range(2):
        assert env.reconcile().rc == 0
    assert set(health(env).values()) == {"healthy"}
    n = len(env.texts())

    env.cloud.add_server(id=LB_A, name="lb-a", ipv4=A, ipv6=None, labels={"role": "other"})
    r = env.reconcile()
    assert r.rc == 0, r
    assert [l["server"] for l in r.logs() if l.get("msg") ==
            "server missing from the listing; its counters are kept for 10 minutes"] == ["lb-a"]
    # vip-1 points at it: the API is asked, and says it exists.
    assert len(env.cloud.requests("GET", r"^/v1/servers/%d$" % LB_A)) == 1
    assert [l for l in r.logs() if l.get("msg", "").startswith("server left the group but exists")]
    assert assigns(env) == []
    assert set(health(env)) == {"lb-b", "lb-c"}

    env.cloud.add_server(id=LB_A, name="lb-a", ipv4=A, ipv6=None, labels={"role": "lb"})
    r = env.reconcile()
    assert r.rc == 0, r
    assert [l for l in r.logs() if l.get("msg") == "server listed again; its counters were kept"]
    assert health(env) == {"lb-a": "healthy", "lb-b": "healthy", "lb-c": "healthy"}
    lb_a = next(s for s in group(env)["servers"] if s["name"] == "lb-a")
    assert lb_a["targets"][0]["rise"] >= 3              # 2 before, 1 now: kept
    assert assigns(env) == []
    assert env.texts()[n:] == []                         # nothing worth telling


@pytest.mark.parametrize("how", ["404", "two listings"])
def test_an_ip_on_a_server_the_listing_lacks_moves_once_it_is_confirmed_gone(env, how):
    """lb-a vanishes from the listing while vip-1 points at it. It counts as
    missing (vip-1 moves, reason target_missing) only once GET /servers/{id}
    answers 404, or, when the API cannot say, once two listings agree."""
    env.port = 0
    env.add_lb(LB_A, "lb-a", A)
    env.add_lb(LB_B, "lb-b", B)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_A)
    env.config(checks=[env.check(interval="1ms")])
    assert env.reconcile().rc == 0
    env.cloud.add_server(id=LB_A, name="lb-a", ipv4=A, ipv6=None, labels={"role": "gone"})
    lookup = r"^/v1/servers/%d$" % LB_A
    if how == "404":
        env.cloud.add_fault(method="GET", path=lookup, status=404, code="not_found", count=-1)
    else:
        env.cloud.add_fault(method="GET", path=lookup, status=403, code="forbidden", count=-1)
        r = env.reconcile()      # one listing lacks it: unsure, vip-1 stays
        assert r.rc == 0, r
        assert assigns(env) == []
        assert [l for l in r.logs() if l.get("msg", "").startswith(
            "cannot ask the API about a server the listing lacks")]
    seq = last_seq(env)
    r = env.reconcile()
    assert r.rc == 0, r
    assert assigns(env, since=seq) == [(VIP_1, LB_B)]
    executing = [t for t in env.texts() if "Executing plan" in t]
    assert len(executing) == 1 and "reason: target_missing" in executing[0], executing
    if how == "404":
        assert [l for l in r.logs() if l.get("msg", "").startswith("server no longer exists")]


# ---- 2. the re-read before an apply ---------------------------------------------------

def test_an_empty_reread_holds_the_apply_and_the_next_pass_fails_over(env):
    """The pre-apply GET /floating_ips answers an empty list once (issue 15,
    case 2): it is not cached, nothing moves on it, a log line and a
    notification say why, and the next pass lists the inventory and fails
    over."""
    env.pair()
    env.config(checks=[env.check(interval="200ms", fall=2)], group_extra={"poll_interval": "1h"})
    p = env.start("monitor")
    wait_for(lambda: all_healthy(env), 60, what="both healthy")
    seq = last_seq(env)
    answer_empty(env, FIPS, "floating_ips")
    env.backends.set(A, env.port, status=503)
    env.cloud.wait_assigned(VIP_1, LB_B, timeout=60)
    wait_for(lambda: [t for t in env.texts() if "Plan applied" in t], 30, what="the outcome")
    assert stop(p) == 0, stderr_of(p)

    reqs = env.cloud.requests(since=seq)
    order = [("held" if r["fault"] else r["method"] + " " + r["path"]) for r in reqs]
    held = order.index("held")
    # The held re-read, then a listing (servers, floating IPs), then the
    # re-read of the next pass, then the move.
    assert order[held:held + 5] == ["held", "GET /v1/servers", "GET /v1/floating_ips",
                                    "GET /v1/floating_ips",
                                    "POST /v1/floating_ips/%d/actions/assign" % VIP_1], order
    assert assigns(env, since=seq) == [(VIP_1, LB_B)]
    held_logs = logs(p, "the floating IPs re-read before applying lack some the inventory has; "
                        "nothing applied, the inventory is listed again (confirmed) first")
    assert len(held_logs) == 1 and held_logs[0]["floating_ips"] == "vip-1", held_logs
    told = [t for t in env.texts() if "Apply held" in t]
    assert len(told) == 1 and "lack 1 of the 1" in told[0] and "vip-1" in told[0], told
    assert not [t for t in env.texts() if "Resources changed" in t]
    assert group(env)["pass"]["ok"] is True


# ---- 3. a blind checker ------------------------------------------------------------------

def four(env):
    """lb-0..lb-3 (127.0.0.11-14), each holding one of vip-0..vip-3."""
    env.port = 0
    servers = [(LB_A, A), (LB_B, B), (LB_C, C), (LB_D, D)]
    for i, (sid, addr) in enumerate(servers):
        env.add_lb(sid, "lb-%d" % i, addr)
    for i, (sid, _) in enumerate(servers):
        env.add_vip(VIP_1 + i, "vip-%d" % i, "198.51.100.%d" % (i + 1), sid)
    return [addr for _, addr in servers]


def failures(env):
    """Each server's failed checks in a row, as the state has them."""
    return {s["name"]: s["targets"][0]["fall"] for s in group(env)["servers"]}


THAW_BEGUN = ("a server is healthy again after a freeze; moves wait until every server had "
              "its rise checks")
THAW_OVER = "leaving the freeze: planning once with every server's health known"


def blind_then_back(env, p, addrs, seconds=30, step=3):
    """Every check fails until every server is unhealthy (frozen) and then
    for `seconds` more of flipper's clock (the test clock, stepped `step`
    seconds at a time; after each step every server is seen failing once
    more). Then the checker is back, and lb-0 recovers first: the others'
    first checks are held open by their backends until lb-0 is healthy
    again, then answered. Whichever server recovers first must not collect
    the IPs (the thaw waits for every server's rise checks, counted from
    when lb-0 was healthy again)."""
    wait_for(lambda: [t for t in env.texts() if "Frozen" in t], 60, what="the freeze")
    assert set(health(env).values()) == {"unhealthy"}
    for _ in range(seconds // step):
        before = failures(env)
        env.clock.step(wall_ms=step * 1000, mono_ms=step * 1000)
        wait_for(lambda: all(n > before[k] for k, n in failures(env).items()), 60,
                 what="one more failed check of every server")
    assert set(health(env).values()) == {"unhealthy"}
    for a in addrs[1:]:
        env.backends.set(a, env.port, down=False, status=200, hang=True)
    env.backends.set(addrs[0], env.port, down=False, status=200, hang=False)
    wait_for(lambda: logs(p, THAW_BEGUN), 60, what="lb-0 healthy again")
    assert health(env) == {"lb-0": "healthy", "lb-1": "unhealthy", "lb-2": "unhealthy",
                           "lb-3": "unhealthy"}
    for a in addrs[1:]:
        env.backends.set(a, env.port, hang=False)
    wait_for(lambda: logs(p, THAW_OVER), 60, what="the end of the freeze")
    wait_for(lambda: all_healthy(env), 60, what="all healthy again")


def test_two_of_ten_failing_together_fail_over_at_once(env):
    """Two servers of ten failing together are two failures, not a blind
    checker: no hold, their IPs move in the run that sees them fail (the
    hold is for more than a quarter of the servers, or more than half)."""
    env.port = 0
    lbs = [(LB_A + 100 + i, "127.0.0.%d" % (31 + i)) for i in range(10)]
    for i, (sid, addr) in enumerate(lbs):
        env.add_lb(sid, "lb-%d" % i, addr)
        env.add_vip(VIP_1 + 100 + i, "vip-%d" % i, "198.51.100.%d" % (101 + i), sid)
    env.config()            # interval 1s, fall 1, rise 1
    r = env.reconcile(env=env.clock.env())
    assert r.rc == 0, r
    assert assigns(env) == []
    for _, addr in lbs[:2]:
        env.backends.set(addr, env.port, status=503)
    env.clock.step(wall_ms=2000, mono_ms=2000)     # every check due again
    r = env.reconcile(env=env.clock.env())
    assert r.rc == 0, r
    assert "correlated_failure" not in queued(r)
    moved = dict(assigns(env))
    assert sorted(moved) == [VIP_1 + 100, VIP_1 + 101], moved
    assert not set(moved.values()) & {lbs[0][0], lbs[1][0]}, moved
    assert not any("moves held" in t for t in env.texts()), env.texts()


def test_a_blind_checker_moves_nothing(env):
    """The checker loses its network for 30 s (by the test clock): every
    check of the 4 servers fails (connections refused), then it is back.
    Moves are held while the failures are new, the group freezes once
    nothing is healthy, and leaving the freeze waits for every server:
    0 assigns. (The timeout is long: the checks held open while lb-0
    recovers must not time out, and the thaw must end with every server's
    rise checks, not when rise x interval + timeout has passed.)"""
    addrs = four(env)
    env.config(checks=[env.check(interval="300ms", timeout="20s", fall=2, rise=2)],
               group_extra={"poll_interval": "1h"})
    p = env.start("monitor", extra_env=env.clock.env())
    wait_for(lambda: all_healthy(env), 60, what="all healthy")
    # The checks started together; spread them over the interval, as they
    # would be in a long-running flipper: a slow answer of lb-1 (lb-2)
    # puts its next check 100 (200) ms later than lb-0's and lb-3's.
    for a, delay in ((B, 0.4), (C, 0.5)):
        env.backends.set(a, env.port, delay=delay)
    seen = {a: len(env.backends.requests(a, env.port)) for a in (B, C)}
    wait_for(lambda: all(len(env.backends.requests(a, env.port)) >= seen[a] + 2 for a in (B, C)),
             30, what="one slow answer each")
    for a in (B, C):
        env.backends.set(a, env.port, delay=0)
    for a in addrs:
        env.backends.set(a, env.port, down=True)
    blind_then_back(env, p, addrs)
    assert stop(p) == 0, stderr_of(p)
    assert assigns(env) == []
    held = [t for t in env.texts() if "Correlated failure: moves held" in t]
    assert len(held) == 1, env.texts()
    msgs = [l.get("msg") for l in log_lines(stderr_of(p))]
    assert msgs.count(THAW_BEGUN) == 1 and THAW_OVER in msgs[msgs.index(THAW_BEGUN):], msgs


def test_a_blind_checker_moves_nothing_when_a_server_was_already_failing(env):
    """The case of issue 15: lb-0 already had one failed check when the
    checker went blind, and lb-1 failed once before lb-0 failed again.
    Without the hold, vip-0 moved to lb-1 ("healthy", one failure behind)."""
    addrs = four(env)
    env.config(checks=[env.check(interval="1s", timeout="20s", fall=2, rise=2)],
               group_extra={"poll_interval": "1h"})
    p = env.start("monitor", extra_env=env.clock.env())
    wait_for(lambda: all_healthy(env), 60, what="all healthy")

    # lb-0's one failure: a check held open, then cut without an answer...
    env.backends.set(A, env.port, hang=True)
    wait_for(lambda: env.backends.info(A, env.port)["hanging"] == 1, 30, what="lb-0's check")
    env.backends.set(A, env.port, hang=False)
    wait_for(lambda: env.backends.info(A, env.port)["hanging"] == 0, 30)
    # ...and its next check is held as well: the checker goes blind.
    env.backends.set(A, env.port, hang=True)
    seen = {a: len(env.backends.requests(a, env.port)) for a in addrs[1:]}
    for a in addrs[1:]:
        env.backends.set(a, env.port, status=503)
    wait_for(lambda: all(len(env.backends.requests(a, env.port)) > seen[a] for a in addrs[1:]),
             30, what="lb-1..lb-3 failing once")
    wait_for(lambda: env.backends.info(A, env.port)["hanging"] == 1, 30, what="lb-0's next check")
    env.backends.set(A, env.port, hang=False, status=503)     # lb-0's second failure
    blind_then_back(env, p, addrs)
    assert stop(p) == 0, stderr_of(p)
    assert assigns(env) == []
    assert [t for t in env.texts() if "Correlated failure: moves held" in t]


# ---- 6. an interrupted apply ---------------------------------------------------------------

def killed_mid_apply(env, hold_path, vips=1):
    """reconcile --once fails lb-a over and is killed (SIGKILL) while the
    request at hold_path is held open by the fake API."""
    env.pair()
    if vips == 2:
        env.add_vip(VIP_2, "vip-2", "198.51.100.2", LB_A)
    env.config(checks=[env.check(interval="1ms")])
    assert env.reconcile().rc == 0
    env.cloud.add_fault(path=hold_path, hold="mid-apply")
    env.backends.set(A, env.port, status=503)
    p = env.start("reconcile", "--once")
    wait_for(lambda: [r for r in env.cloud.requests() if r.get("held")], 30, what="the held request")
    p.kill()
    p.wait(10)
    rows = env.db("SELECT fip_id, to_server FROM apply_step ORDER BY fip_id")
    assert rows, "the apply was not recorded before its first request"
    return p


def concluded(r):
    lines = [l for l in r.logs() if l.get("msg") == "flipper stopped while applying a plan; concluded"]
    assert len(lines) == 1, r
    return lines[0]["outcome"]


def test_killed_before_the_api_answered_the_assign(env):
    """The POST arrived, no answer came back: the next run finds the IP
    where it was and says the apply was not applied, then fails over."""
    killed_mid_apply(env, r"^/v1/floating_ips/%d/actions/assign$" % VIP_1)
    seq = last_seq(env)
    r = env.reconcile()
    assert r.rc == 0, r
    assert concluded(r) == "not applied"
    told = [t for t in env.texts() if "Interrupted apply concluded" in t]
    assert len(told) == 1 and "**not applied**" in told[0] and "vip-1: lb-a → lb-b: not applied" \
        in told[0], told
    assert assigns(env, since=seq) == [(VIP_1, LB_B)]
    assert env.db("SELECT count(*) FROM apply_step") == [(0,)]


def test_killed_while_polling_the_action_is_concluded_by_asking_the_api(env):
    """The API named the action (recorded), the poll was held: the next run
    asks GET /actions/{id}, learns it succeeded, and moves nothing again."""
    env.cloud.settings(action_seconds=0, action_polls=0)
    killed_mid_apply(env, r"^/v1/actions/\d+$")
    (action_id,) = env.db("SELECT action_id FROM apply_step")[0]
    assert action_id > 0
    seq = last_seq(env)
    r = env.reconcile()
    assert r.rc == 0, r
    assert concluded(r) == "applied"
    assert [q["path"] for q in env.cloud.requests("GET", r"^/v1/actions/", since=seq)] == \
        ["/v1/actions/%d" % action_id]
    assert assigns(env, since=seq) == []
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_B
    told = [t for t in env.texts() if "Interrupted apply concluded" in t]
    assert len(told) == 1 and "**applied**" in told[0], told


def test_killed_between_two_actions_is_partly_applied(env):
    """Two IPs leave lb-a, one after the other (they share it): the first
    moved, the second's POST was held. Partly applied; the next run moves
    the second."""
    killed_mid_apply(env, r"^/v1/floating_ips/%d/actions/assign$" % VIP_2, vips=2)
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_B
    seq = last_seq(env)
    r = env.reconcile()
    assert r.rc == 0, r
    assert concluded(r) == "partly applied"
    told = [t for t in env.texts() if "Interrupted apply concluded" in t]
    assert len(told) == 1, told
    assert "vip-1: lb-a → lb-b: applied" in told[0] and "vip-2: lb-a → lb-b: not applied" in told[0]
    assert assigns(env, since=seq) == [(VIP_2, LB_B)]


def test_killed_and_moved_by_someone_else_meanwhile_is_superseded(env):
    killed_mid_apply(env, r"^/v1/floating_ips/%d/actions/assign$" % VIP_1)
    env.add_lb(LB_C, "lb-c", C)
    env.add_vip(VIP_1, "vip-1", "198.51.100.1", LB_C)          # somebody else
    r = env.reconcile()
    assert r.rc == 0, r
    assert concluded(r) == "superseded"
    told = [t for t in env.texts() if "Interrupted apply concluded" in t]
    assert len(told) == 1 and "vip-1: lb-a → lb-b: superseded" in told[0], told


def test_a_few_kills_at_different_points_are_all_concluded(env):
    """Kill -9 at several points of applies in a row (the POST held, the
    action's poll held; the held request let go after the kill, or not):
    every run that follows concludes what the killed one left, once, fails
    over if it still must, and leaves no record behind."""
    env.pair()
    env.add_lb(LB_C, "lb-c", C)
    env.config(checks=[env.check(interval="1ms")])
    assert env.reconcile().rc == 0
    addr = {LB_A: A, LB_B: B, LB_C: C}
    poll = r"^/v1/actions/\d+$"
    points = [(ASSIGN, False), (poll, False), (ASSIGN, True), (poll, True)]
    for i, (point, release) in enumerate(points):
        on = env.cloud.floating_ip(VIP_1)["server"]
        for sid, a in addr.items():
            env.backends.set(a, env.port, status=503 if sid == on else 200)
        # A poll-counted action ends when read; a timed one when its time is up.
        env.cloud.settings(action_seconds=0, action_polls=0 if point == poll else None)
        seq = last_seq(env)
        env.cloud.add_fault(path=point, hold="kill-%d" % i)
        p = env.start("reconcile", "--once")
        wait_for(lambda: [r for r in env.cloud.requests(since=seq) if r.get("held")], 30,
                 what="the held request")
        p.kill()
        p.wait(10)
        if release:
            env.cloud.release("kill-%d" % i)
        env.cloud.clear_faults()
        r = env.reconcile()
        assert r.rc == 0, r
        assert concluded(r) in ("applied", "not applied"), r
        assert env.db("SELECT count(*) FROM apply_step") == [(0,)]
        assert env.cloud.floating_ip(VIP_1)["server"] not in (on, None)
    assert len([t for t in env.texts() if "Interrupted apply concluded" in t]) == len(points)


# ---- 7. clock steps and the outbox ------------------------------------------------------------

def test_a_message_stamped_a_day_ahead_does_not_block_its_webhook(env):
    env.pair()
    env.config(checks=[env.check(interval="1ms")])
    clock = env.clock
    env.sink.mode(status=500)
    clock.set(wall_ms=24 * 3600 * 1000)
    extra = dict(clock.env(), FLIPPER_NOTIFY_BACKOFF_MS="0")
    r = env.reconcile(env=extra)
    assert r.rc == 0, r
    (stamped,) = env.db("SELECT next_attempt FROM outbox")[0]
    assert stamped > (time.time() + 23 * 3600) * 1000          # a day ahead
    env.sink.mode(status=200)
    clock.set(wall_ms=0)
    env.sink.clear()
    r = env.reconcile(env=extra)
    assert r.rc == 0, r
    assert [t for t in env.texts() if "flipper started watching" in t]
    assert env.outbox() == []


def test_a_49_hour_jump_drops_no_queued_message(env):
    env.pair()
    env.config(checks=[env.check(interval="1ms")])
    clock = env.clock
    env.sink.mode(down=True)
    r = env.reconcile(env=clock.env())
    assert r.rc == 0, r
    queued_before = [k for k, _, _ in env.outbox()]
    assert "started_watching" in queued_before
    env.sink.mode(down=False)
    env.sink.clear()
    clock.set(wall_ms=49 * 3600 * 1000)
    r = env.reconcile(env=clock.env())
    assert r.rc == 0, r
    assert not [l for l in r.logs() if l.get("msg", "").startswith("giving up on a notification")]
    assert [t for t in env.texts() if "flipper started watching" in t]
    assert env.outbox() == []


# ---- 8. a webhook's identity ----------------------------------------------------------------

# A failed delivery is tried again at once, not after 15 s.
NOW = {"FLIPPER_NOTIFY_BACKOFF_MS": "0"}


def target(env, path, **kw):
    t = {"type": "mattermost", "url": env.sink.url + path, "channel": "ops", "username": "flipper"}
    t.update(kw)
    return t


def with_targets(env, targets):
    cfg = env.config(checks=[env.check(interval="1ms")])
    cfg["notifications"] = {"enabled": True, "targets": targets}
    with open(env.config_path, "w") as f:
        json.dump(cfg, f)


def test_a_rotated_webhook_url_gets_the_backlog(env):
    env.pair()
    with_targets(env, [target(env, "/hooks/old-secret")])
    env.sink.mode(down=True)
    assert env.reconcile(env=NOW).rc == 0
    assert [k for k, _, _ in env.outbox()] == ["started_watching"]
    with_targets(env, [target(env, "/hooks/new-secret")])
    env.sink.mode(down=False)
    r = env.reconcile(env=NOW)
    assert r.rc == 0, r
    assert env.sink.requests("POST", "/hooks/old-secret") == []
    got = [q["body"]["text"] for q in env.sink.requests("POST", "/hooks/new-secret")]
    assert len(got) == 1 and "flipper started watching" in got[0]
    assert env.outbox() == []


def test_a_message_for_a_target_that_is_gone_is_dropped_not_sent_elsewhere(env):
    """The target at the same place in the list is another one now (another
    channel): what was queued for the old one is dropped with a warning."""
    env.pair()
    with_targets(env, [target(env, "/hooks/a")])
    env.sink.mode(down=True)
    assert env.reconcile(env=NOW).rc == 0
    with_targets(env, [target(env, "/hooks/a", channel="other")])
    env.sink.mode(down=False)
    r = env.reconcile(env=NOW)
    assert r.rc == 0, r
    assert [q for q in env.sink.requests("POST", "/hooks/a")
            if "flipper started watching" in q["body"]["text"]] == []
    dropped = [l for l in r.logs() if l.get("msg", "").startswith("dropping queued notification")]
    assert len(dropped) == 1 and dropped[0]["target"] == "mattermost|ops|flipper", dropped


def test_an_explicit_id_carries_the_backlog_across_any_change(env):
    env.pair()
    with_targets(env, [target(env, "/hooks/a", id="chat")])
    env.sink.mode(down=True)
    assert env.reconcile(env=NOW).rc == 0
    with_targets(env, [target(env, "/hooks/b", id="chat", channel="elsewhere")])
    env.sink.mode(down=False)
    assert env.reconcile(env=NOW).rc == 0
    got = [q["body"]["text"] for q in env.sink.requests("POST", "/hooks/b")]
    assert any("flipper started watching" in t for t in got)


def test_validate_asks_for_a_channel_or_an_id(env):
    env.pair()
    with_targets(env, [{"type": "slack", "url": env.sink.url + "/hooks/x"}])
    r = env.run("validate")
    assert r.rc == 0, r
    assert "notifications.targets[0]" in r.err and "give this target a channel or an id" in r.err
