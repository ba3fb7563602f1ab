"""The injected test clock (FLIPPER_TEST_CLOCK_FILE, src/util.c): it shifts
flipper's wall clock and, separately, its monotonic clock, a running
flipper follows a change, and it is refused unless FLIPPER_TEST_MODE=1.

These tests prove the harness (harness.TestClock, env.clock); what flipper
should do when a clock steps is for the tests of that behaviour.
"""

import calendar
import re
import signal
import time

from conftest import log_lines, stderr_of, wait_for

TEN_MINUTES = 600 * 1000


def epoch(ts):
    """Seconds since the epoch of a log line's "ts" (RFC 3339, UTC, with
    milliseconds)."""
    whole, ms = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z", ts).groups()
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + int(ms) / 1000


def timestamps(p):
    return [epoch(l["ts"]) for l in log_lines(stderr_of(p)) if "ts" in l]


def settle(clock):
    """flipper looks at the clock file at least every 5 ms of real time:
    anything it logs once this returns uses the new offsets."""
    time.sleep(0.1)


def test_without_test_mode_the_clock_file_is_refused(env):
    env.pair()
    env.config(checks=[env.check()])
    clock = env.clock
    clock.set(wall_ms=TEN_MINUTES)
    r = env.run("reconcile", "--once", env={"FLIPPER_TEST_CLOCK_FILE": clock.path,
                                            "FLIPPER_TEST_MODE": ""})
    assert r.rc == 2, r
    assert "FLIPPER_TEST_CLOCK_FILE" in r.err and "FLIPPER_TEST_MODE=1" in r.err, r
    # Refused before anything happened: no request, no state.
    assert env.cloud.requests() == []
    assert env.backends.requests("127.0.0.11", env.port) == []
    r = env.run("status", env={"FLIPPER_TEST_CLOCK_FILE": clock.path})
    assert r.rc == 2 and "no state" not in r.err, r
    # A clock file that cannot be used is refused in test mode too.
    r = env.run("reconcile", "--once",
                env={"FLIPPER_TEST_MODE": "1", "FLIPPER_TEST_CLOCK_FILE": str(env.tmp / "none")})
    assert r.rc == 2 and "No such file" in r.err, r
    assert env.cloud.requests() == []


def test_status_ages_follow_the_wall_clock(env):
    env.pair()
    env.config(checks=[env.check()])
    assert env.reconcile().rc == 0
    clock = env.clock
    clock.set(wall_ms=2 * 3600 * 1000)
    r = env.run("status", env=clock.env())
    assert r.rc == 0, r
    assert re.search(r"last pass 2h0m\d+s ago", r.out), r.out
    # The real clock, for comparison: moments ago.
    r = env.run("status")
    assert re.search(r"last pass \d+s ago", r.out), r.out


def test_a_running_monitor_sees_the_wall_clock_step_back(env):
    env.pair()
    env.config(checks=[env.check(interval="100ms")])
    clock = env.clock
    p = env.start("monitor", extra_env=clock.env())
    wait_for(lambda: len(env.backends.requests("127.0.0.11", env.port)) >= 2 and timestamps(p),
             30, what="two checks and a log line")
    before = timestamps(p)[-1]
    clock.step(wall_ms=-TEN_MINUTES)
    settle(clock)
    p.send_signal(signal.SIGTERM)
    assert p.wait(30) == 0, stderr_of(p)
    last = [l for l in log_lines(stderr_of(p)) if l.get("msg", "").startswith("stopping on signal")]
    assert last, stderr_of(p)
    # Logged after the step: ten minutes earlier than what came before it.
    assert epoch(last[-1]["ts"]) <= before - 590, (before, last[-1])


def test_a_running_flipper_sees_the_monotonic_clock_jump_alone(env):
    """`reconcile --for 1h` measures its hour on the monotonic clock: moved
    an hour on, the run ends by itself, while the wall clock stays put."""
    env.pair()
    env.config(checks=[env.check(interval="200ms")])
    clock = env.clock
    started = time.time()
    p = env.start("reconcile", "--for", "1h", extra_env=clock.env())
    wait_for(lambda: env.backends.requests("127.0.0.11", env.port), 30, what="the first check")
    clock.step(mono_ms=3600 * 1000)
    # Ends by itself (a step in the middle of a round may fail that round,
    # hence 0 or 1), not on a signal.
    assert p.wait(60) in (0, 1), stderr_of(p)
    assert "stopping on signal" not in stderr_of(p)
    assert all(started - 2 <= t <= time.time() + 2 for t in timestamps(p)), stderr_of(p)
