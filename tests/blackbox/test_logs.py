"""What the logs look like to the journal and to a log pipeline: the
sd-daemon priority prefix when standard error is the journal, numbers as
JSON numbers, milliseconds, the service, and a repeating state told when
it changes and then once a minute, not on every check."""

import json
import os
import re
import signal
import subprocess

import pytest

from conftest import FLIPPER, flipper_env, log_lines, stderr_of, wait_for

A, B = "127.0.0.11", "127.0.0.12"


def run_to_file(tmp_path, args, journal=None):
    """flipper with stderr in a file; journal: JOURNAL_STREAM names that
    file ("same"), another file ("other"), or is unset (None)."""
    errp = tmp_path / "stderr.log"
    other = tmp_path / "other"
    other.write_text("")
    with open(errp, "w") as f:
        env = flipper_env()
        env.pop("JOURNAL_STREAM", None)
        if journal:
            st = os.fstat(f.fileno()) if journal == "same" else os.stat(other)
            env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
        p = subprocess.run([FLIPPER, *args], stdout=subprocess.DEVNULL, stderr=f, env=env,
                           timeout=60)
    return p.returncode, errp.read_text()


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_journal_gets_the_priority_prefix(tmp_path, fmt):
    args = ["--log-format", fmt, "--log-level", "debug", "--state", str(tmp_path / "none.db"),
            "status"]
    rc, err = run_to_file(tmp_path, args, journal="same")
    assert rc == 1
    lines = [l for l in err.splitlines() if l.startswith("<")]
    assert lines and all(re.match(r"<[3467]>", l) for l in lines), err
    error = [l for l in lines if "no state file here" in l]
    assert error and error[0].startswith("<3>"), err
    if fmt == "json":
        doc = json.loads(error[0][3:])
        assert doc["level"] == "error" and doc["service"] == "flipper"
    # Redirected elsewhere (JOURNAL_STREAM inherited, stderr not the
    # journal), or not under systemd: no prefix.
    for journal in ("other", None):
        rc, err = run_to_file(tmp_path, args, journal=journal)
        assert rc == 1 and not [l for l in err.splitlines() if l.startswith("<")], err


@pytest.fixture
def env(env):
    yield env
    env.stop_all()
    env.backends.clear()


def test_a_dead_backend_is_logged_when_its_failure_changes(env):
    """lb-b answers 503 to a check every 100 ms: one "check failed" line,
    not one per check, until its failure changes (the backend goes down
    altogether): then one more. JSON numbers are numbers, ts has
    milliseconds, every line has the service."""
    env.pair()
    env.backends.set(B, env.port, status=503)
    env.config(checks=[env.check(interval="100ms", timeout="1s", fall=1000)],
               group_extra={"poll_interval": "60s"}, service={"name": "flipper-test"})
    p = env.start("monitor")

    def failed_lines():
        return [l for l in log_lines(stderr_of(p))
                if l.get("msg") == "check failed" and l.get("server") == "lb-b"]

    wait_for(lambda: len(env.backends.requests(B, env.port)) >= 15, 30, what="15 checks of lb-b")
    lines = failed_lines()
    assert len(lines) == 1, lines
    first = lines[0]
    assert first["error"] == "HTTP 503" and first["failure"] == "http_status", first
    assert first["fall"] == 1 and first["repeated"] == 0
    assert isinstance(first["fall"], int)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"]), first
    assert all(l.get("service") == "flipper-test" for l in log_lines(stderr_of(p))
               if "ts" in l)

    env.backends.set(B, env.port, down=True)
    wait_for(lambda: len(failed_lines()) >= 2, 30, what="the changed failure logged")
    second = failed_lines()[1]
    assert second["error"] != "HTTP 503" and second["fall"] > first["fall"], second
    n = len(env.backends.requests(B, env.port))
    # lb-a is fine all along: nothing about it.
    assert not [l for l in log_lines(stderr_of(p))
                if l.get("msg") == "check failed" and l.get("server") == "lb-a"]
    p.send_signal(signal.SIGTERM)
    assert p.wait(30) == 0, stderr_of(p)
    assert len(failed_lines()) == 2, failed_lines()
    assert n >= 15


def test_a_repeating_failure_is_told_again_a_minute_later(env):
    """The same failure, check after check: one line, then, a minute later
    on flipper's clock (the test clock moves it on), one more with the
    number of lines held back meanwhile. Not one per check."""
    env.pair()
    env.backends.set(B, env.port, status=503)
    env.config(checks=[env.check(interval="100ms", timeout="1s", fall=1000)],
               group_extra={"poll_interval": "60s"})
    clock = env.clock
    p = env.start("monitor", extra_env=clock.env())

    def failed_lines():
        return [l for l in log_lines(stderr_of(p))
                if l.get("msg") == "check failed" and l.get("server") == "lb-b"]

    wait_for(lambda: len(env.backends.requests(B, env.port)) >= 15, 30, what="15 checks of lb-b")
    assert len(failed_lines()) == 1, failed_lines()
    clock.step(mono_ms=61 * 1000)
    wait_for(lambda: len(failed_lines()) >= 2, 30, what="the failure told again")
    first, again = failed_lines()[:2]
    assert again["error"] == first["error"] == "HTTP 503", again
    # The checks between the two lines were held back, and counted.
    assert again["repeated"] >= 10 and again["fall"] > first["fall"], again
    n = len(env.backends.requests(B, env.port))
    wait_for(lambda: len(env.backends.requests(B, env.port)) >= n + 10, 30,
             what="ten more checks of lb-b")
    p.send_signal(signal.SIGTERM)
    assert p.wait(30) == 0, stderr_of(p)
    # Within the new minute: nothing more.
    assert len(failed_lines()) == 2, failed_lines()
