"""Black-box tests of the commands that run many rounds in one process:
`reconcile --for DURATION` and `monitor`, their cadence, their signals and
their lock, against the fake Hetzner API and real backends on loopback.

The bounds here are behavioural, not benchmarks: "about one round per
check interval, and done before the duration ends", with margins for a
loaded machine or a sanitizer build.

Run: cd /work/main && make flipper && \\
     FLIPPER=$PWD/flipper /usr/bin/python3 -m pytest -q tests/blackbox/test_loop.py
"""

import json
import signal
import sqlite3
import time

import pytest

from conftest import LB_B, VIP_1, log_lines, stderr_of, wait_for

EXIT_LOCKED = 75


@pytest.fixture
def env(env):
    yield env
    env.stop_all()      # a failed test must not leave a monitor running


def checks_at(env, addr="127.0.0.11"):
    """Arrival times of the health checks one backend received."""
    return [r["time"] for r in env.backends.requests(addr, env.port)]


def configure(env, interval="1s", poll="60s", **kw):
    check = env.check(interval=interval)
    kw.setdefault("checks", [check])
    kw.setdefault("group_extra", {"poll_interval": poll})
    return env.config(**kw)


def stop(p, sig=signal.SIGTERM, timeout=30):
    p.send_signal(sig)
    return p.wait(timeout)


def integrity(env):
    con = sqlite3.connect("file:%s?mode=ro" % env.state, uri=True, timeout=10)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def status_json(env):
    r = env.run("status", "--json")
    assert r.rc == 0, r
    return json.loads(r.out)


# ---- reconcile --for ----------------------------------------------------------

def test_for_runs_rounds_at_the_check_cadence_and_stops_in_time(env):
    """Counts, not timing (the cadence's precision is bench/'s to measure):
    a check each time it falls due, none after the duration, and a process
    that ends by itself."""
    env.pair()
    configure(env, interval="1s")
    started = time.time()
    r = env.run("reconcile", "--for", "5s", timeout=60)
    assert r.rc == 0, r
    times = checks_at(env)
    # One round per check interval, 5 or 6 when nothing delays them (a
    # round starts when the check falls due, within the 10 % tolerance):
    # at most 7 even if every round came at 0.9 s; a loaded machine may
    # delay a few.
    assert 3 <= len(times) <= 7, times
    # The inventory is cached for poll_interval: polled once.
    assert len(env.cloud.requests("GET", r"^/v1/servers$")) == 1
    # No round started after the 5 s (its check may arrive a little later
    # on a loaded machine, not a round's interval later).
    assert times[-1] < started + 5.0 + 0.9, (started, times)


def test_for_fails_over_within_the_run(env):
    env.pair()
    configure(env, interval="500ms")
    p = env.start("reconcile", "--for", "4s")
    wait_for(lambda: len(checks_at(env)) >= 2, 10, what="two rounds")
    env.backends.set("127.0.0.11", env.port, status=503)
    env.cloud.wait_assigned(VIP_1, LB_B, timeout=10)
    assert p.wait(30) == 0, stderr_of(p)
    # How fast (SPEC 8: fall * interval + 2 s) is bench/bench_failover.py's to say.


def test_for_retries_a_failing_plan_at_the_check_cadence_not_faster(env):
    """An inventory that cannot be read is retried within a second; a plan
    the API refuses (403, read-only token) only when checks fall due again:
    retrying it every second would spend the hourly API budget."""
    env.pair()
    configure(env, interval="2s")
    env.backends.set("127.0.0.11", env.port, status=503)
    env.cloud.add_fault(method="POST", path=r"^/v1/floating_ips/\d+/actions/assign$",
                        status=403, code="forbidden", count=-1)
    p = env.start("reconcile", "--for", "7s")
    assert p.wait(30) == 1, stderr_of(p)
    attempts = env.cloud.requests("POST", r"/actions/assign$")
    rounds_with_checks = len(checks_at(env))
    assert attempts, "the plan was never tried"
    # Counts, not timing: the retry waits a whole pass interval after each
    # pass, the checks start every interval, so the retries never outrun them.
    assert len(attempts) <= rounds_with_checks, (len(attempts), rounds_with_checks)


def test_for_holds_the_lock_throughout(env):
    env.pair()
    configure(env, interval="500ms")
    p = env.start("reconcile", "--for", "3s")
    wait_for(lambda: len(checks_at(env)) >= 1, 10, what="the first round")
    # Between rounds too: the lock is held for the whole run.
    for _ in range(3):
        r = env.reconcile()
        assert r.rc == EXIT_LOCKED, r
        assert "another flipper holds the state lock" in r.err
        # Without waiting: the holder is still running when it gave up.
        assert p.poll() is None, stderr_of(p)
        time.sleep(0.3)
    assert p.wait(30) == 0, stderr_of(p)
    # Released at the end.
    time.sleep(0.5)
    assert env.reconcile().rc == 0


def test_for_rejects_bad_durations(env):
    env.pair()
    configure(env)
    for bad in ("0s", "5", "-1s", "soon"):
        r = env.run("reconcile", "--for", bad)
        assert r.rc == 2, (bad, r)
        assert "--for wants a positive duration" in r.err
    r = env.run("reconcile", "--once", "--for", "5s")
    assert r.rc == 2, r
    assert env.cloud.requests() == []


# ---- monitor ---------------------------------------------------------------------

def test_monitor_sigterm_finishes_cleanly(env):
    env.pair()
    configure(env, interval="200ms")
    p = env.start("monitor")
    wait_for(lambda: len(checks_at(env)) >= 3, 10, what="three rounds")
    # The lock is held while it runs.
    r = env.reconcile()
    assert r.rc == EXIT_LOCKED, r
    assert stop(p, signal.SIGTERM, timeout=30) == 0, stderr_of(p)
    logs = log_lines(stderr_of(p))
    assert "stopping on signal" in [l.get("msg") for l in logs[-3:]], logs[-3:]
    assert integrity(env) == "ok"
    st = status_json(env)
    text = json.dumps(st)
    assert "lb-a" in text and "lb-b" in text and "vip-1" in text
    assert text.count('"healthy"') >= 2, st
    # The lock went with it.
    assert env.reconcile().rc == 0
    # It said "started watching" once, in all those rounds.
    assert len(env.texts()) == 1


def test_monitor_sigint_drops_checks_in_flight_and_exits_cleanly(env):
    """A stop signal does not wait for checks: those in flight are dropped
    and not counted; the state is saved and consistent; what was queued
    is delivered; exit 0."""
    env.pair()
    configure(env, interval="200ms", checks=[env.check(interval="200ms", timeout="30s")])
    env.backends.set("127.0.0.11", env.port, delay=30)
    env.backends.set("127.0.0.12", env.port, delay=30)
    p = env.start("monitor")
    wait_for(lambda: checks_at(env) and checks_at(env, "127.0.0.12"), 10,
             what="both checks in flight")
    p.send_signal(signal.SIGINT)        # while both checks wait for their answer
    assert p.wait(30) == 0, stderr_of(p)
    # Neither backend had answered: nothing was counted.
    assert len(checks_at(env)) == 1 and len(checks_at(env, "127.0.0.12")) == 1
    st = status_json(env)
    targets = [t for s in st["groups"][0]["servers"] for t in s["targets"]]
    assert targets and all((t["rise"], t["fall"], t["last_run"]) == (0, 0, 0)
                           for t in targets), targets
    assert integrity(env) == "ok"
    assert len(env.texts()) == 1 and "started watching" in env.texts()[0]
    logs = log_lines(stderr_of(p))
    assert "stopping on signal" in [l.get("msg") for l in logs]


def test_monitor_exits_zero_on_signal_even_after_failed_rounds(env):
    env.pair()
    configure(env, interval="200ms",
              group_extra={"poll_interval": "always", "poll_timeout": "500ms"})
    env.cloud.add_fault(path="^/v1/servers$", status=503, count=-1)
    # A single round reports the failure...
    assert env.reconcile().rc == 1
    # ...a daemon told to stop has nothing left to report.
    env.cloud.clear_requests()
    p = env.start("monitor")
    wait_for(lambda: len(env.cloud.requests("GET", r"^/v1/servers$")) >= 3, 20,
             what="failing rounds")
    assert stop(p) == 0, stderr_of(p)
    assert integrity(env) == "ok"


def test_monitor_slow_webhook_does_not_delay_the_next_round(env):
    env.pair()
    configure(env, interval="500ms")
    env.sink.mode(delay=2.5)
    p = env.start("monitor")
    try:
        wait_for(lambda: len(checks_at(env)) >= 3, 15, what="three rounds")
    finally:
        stop(p)
    times = checks_at(env)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert max(gaps[:2]) < 1.5, gaps


def test_monitor_rejects_arguments(env):
    env.pair()
    configure(env)
    r = env.run("monitor", "--for", "5s")
    assert r.rc == 2, r
    r = env.run("monitor", "--group", "nope")
    assert r.rc == 2, r
    assert "unknown group 'nope'" in r.err
    assert env.cloud.requests() == []


def test_monitor_second_instance_exits_75(env):
    env.pair()
    configure(env, interval="500ms")
    p = env.start("monitor")
    wait_for(lambda: checks_at(env), 10, what="the first round")
    r = env.run("monitor", timeout=10)
    assert r.rc == EXIT_LOCKED, r
    assert stop(p) == 0
    assert len(env.texts()) == 1      # the second one did nothing at all
