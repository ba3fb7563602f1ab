"""Black-box tests of the health-check runner (src/check.c) against real
HTTP/HTTPS backends on loopback (tests/world/backends.py).

The runner is driven through bench/bench_checks.c (built as
build/release/bench_checks; $BENCH_CHECKS overrides the path), which takes
one target per line (ADDR PORT TYPE HOST PATH TIMEOUT_MS [CA_FILE]), runs
check_round_run() and prints one JSON object per target, plus a summary
per round on stderr.

Run: cd /work/main && /usr/bin/python3 -m pytest -q tests/blackbox/test_checks.py
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "world"))
import world  # noqa: E402
from harness import free_port, need_path  # noqa: E402

DRIVER = os.environ.get("BENCH_CHECKS") or os.path.join(
    ROOT, "build", "release", "bench_checks")
HOST = "check.example.test"      # in the test server certificate
# The driver and flipper are built from one library: the version flipper
# reports (VERSION plus git describe) is the one in the User-Agent.
VERSION = subprocess.run([os.environ.get("FLIPPER", os.path.join(ROOT, "flipper")), "version"],
                         capture_output=True, text=True, check=True).stdout.split()[1]


class Round:
    """One run of the driver: .results (per target, in input order, of the
    last round), .all (every round), .summaries (stderr lines)."""

    def __init__(self, proc):
        self.rc = proc.returncode
        self.stderr = proc.stderr
        self.all = [json.loads(l) for l in proc.stdout.splitlines() if l.strip()]
        self.summaries = [json.loads(l) for l in proc.stderr.splitlines()
                          if l.startswith("{")]
        last = max((r["round"] for r in self.all), default=0)
        self.results = [r for r in self.all if r["round"] == last]

    def __getitem__(self, i):
        return self.results[i]


def line(addr, port, host=None, path="/", timeout_ms=2000, tls=False, ca=None):
    parts = [addr, str(port), "https" if tls else "http", host or "-", path,
             str(timeout_ms)]
    if ca:
        parts.append(ca)
    return " ".join(parts)


@pytest.fixture(scope="module")
def be():
    if os.environ.get("BENCH_CHECKS") and not os.path.exists(DRIVER):
        pytest.fail("BENCH_CHECKS=%s does not exist" % DRIVER)
    need_path(DRIVER, "the check driver is not built (make -C bench build)")
    with world.Backends() as b:
        yield b


@pytest.fixture
def run(tmp_path):
    counter = [0]

    def _run(lines, *opts, env=None, timeout=60):
        counter[0] += 1
        f = tmp_path / ("targets-%d" % counter[0])
        f.write_text("\n".join(lines) + "\n")
        e = dict(os.environ)
        e.update(env or {})
        proc = subprocess.run([DRIVER] + list(opts) + [str(f)], env=e,
                              capture_output=True, text=True, timeout=timeout)
        r = Round(proc)
        assert r.rc == 0, "driver failed (%d): %s" % (r.rc, r.stderr)
        return r
    return _run


def start(be, addr, **kw):
    """A backend on addr with a port of its choosing; returns the port."""
    return be.add(addr, 0, **kw)["port"]


# ---- plain HTTP ------------------------------------------------------------

def test_http_200_passes_and_sends_host(be, run):
    port = start(be, "127.0.0.21")
    r = run([line("127.0.0.21", port, HOST, "/health"),
             line("127.0.0.21", port, None, "/plain")])
    for res in r.results:
        assert res["ok"] is True, res
        assert res["http_status"] == 200
        assert res["error"] is None
        assert res["family"] == 4
    reqs = {q["path"]: q for q in be.requests("127.0.0.21", port)}
    # Connected to 127.0.0.21, but spoke to the configured host; a
    # non-default port is part of the Host header (RFC 9110).
    assert reqs["/health"]["host"] == "%s:%d" % (HOST, port)
    # Without a host the address itself is the URL's host.
    assert reqs["/plain"]["host"] == "127.0.0.21:%d" % port
    for q in reqs.values():
        assert q["method"] == "GET"
        assert q["headers"]["User-Agent"] == "flipper-check/" + VERSION
        assert q["tls"] is False


def test_http_503_fails_with_status(be, run):
    port = start(be, "127.0.0.22", status=503)
    r = run([line("127.0.0.22", port, HOST)])
    assert r[0]["ok"] is False
    assert r[0]["http_status"] == 503
    assert r[0]["error"] == "HTTP 503"


def test_connection_refused_fails_with_curl_message(be, run):
    port = start(be, "127.0.0.23")
    be.set("127.0.0.23", port, down=True)
    r = run([line("127.0.0.23", port, HOST), line("127.0.0.23", port)])
    for res in r.results:
        assert res["ok"] is False
        assert res["http_status"] == 0
        assert "Couldn't connect to server" in res["error"], res
        assert str(port) in res["error"]


def test_slow_backend_times_out(be, run):
    port = start(be, "127.0.0.24", delay=3)
    r = run([line("127.0.0.24", port, HOST, timeout_ms=300)])
    res = r[0]
    assert res["ok"] is False
    assert "timed out" in res["error"], res
    # The timeout bounds the whole request.
    assert 250 <= res["duration_ms"] < 2000, res


def test_drop_without_answer_fails(be, run):
    port = start(be, "127.0.0.25", drop=True)
    r = run([line("127.0.0.25", port, HOST)])
    assert r[0]["ok"] is False
    assert r[0]["error"] == "Empty reply from server"


def test_redirect_not_followed(be, run):
    port = start(be, "127.0.0.26", status=301)
    be.set("127.0.0.26", port,
           headers={"Location": "http://127.0.0.26:%d/moved" % port})
    r = run([line("127.0.0.26", port, HOST, "/health")])
    assert r[0]["ok"] is False
    assert r[0]["http_status"] == 301
    assert r[0]["error"] == "HTTP 301"
    # Unless 301 is expected.
    r = run([line("127.0.0.26", port, HOST, "/health")],
            "--expect", "200,204,301-302")
    assert r[0]["ok"] is True, r[0]
    paths = [q["path"] for q in be.requests("127.0.0.26", port)]
    assert paths == ["/health", "/health"], "redirect followed: %s" % paths


def test_expect_status_list(be, run):
    statuses = [200, 204, 301, 302, 303, 500, 201]
    lines = []
    for i, st in enumerate(statuses):
        addr = "127.0.0.%d" % (30 + i)
        lines.append(line(addr, start(be, addr, status=st), HOST))
    r = run(lines, "--expect", "200,204,301-302")
    got = {res["http_status"]: res["ok"] for res in r.results}
    assert got == {200: True, 204: True, 301: True, 302: True,
                   303: False, 500: False, 201: False}
    for res in r.results:
        if not res["ok"]:
            assert res["error"] == "HTTP %d" % res["http_status"]


def test_extra_headers_sent(be, run):
    port = start(be, "127.0.0.40")
    r = run([line("127.0.0.40", port, HOST)],
            "--header", "X-Health-Check: flipper",
            "--header", "Authorization: Bearer s3cret",
            "--header", "X-Empty:")
    assert r[0]["ok"] is True, r[0]
    h = be.requests("127.0.0.40", port)[0]["headers"]
    assert h["X-Health-Check"] == "flipper"
    assert h["Authorization"] == "Bearer s3cret"
    assert h["X-Empty"] == ""


def test_methods_head_and_post(be, run):
    port = start(be, "127.0.0.41")
    r = run([line("127.0.0.41", port, HOST, "/h")], "--method", "HEAD")
    assert r[0]["ok"] is True, r[0]
    r = run([line("127.0.0.41", port, HOST, "/p")], "--method", "POST")
    assert r[0]["ok"] is True, r[0]
    reqs = be.requests("127.0.0.41", port)
    assert [q["method"] for q in reqs] == ["HEAD", "POST"]
    assert reqs[1]["headers"].get("Content-Length") == "0"


def test_fresh_connection_every_round(be, run):
    port = start(be, "127.0.0.42")
    r = run([line("127.0.0.42", port, HOST)] * 2, "--rounds", "3")
    assert all(res["ok"] for res in r.all)
    assert len(r.all) == 6
    # Two targets, three rounds: six connections, none reused.
    assert be.info("127.0.0.42", port)["connections"] == 6


def test_large_body_judged_by_status(be, run):
    port = start(be, "127.0.0.43", body="x" * (1024 * 1024))
    r = run([line("127.0.0.43", port, HOST)])
    assert r[0]["ok"] is True, r[0]
    port = start(be, "127.0.0.44", body="x" * (1024 * 1024), status=500)
    r = run([line("127.0.0.44", port, HOST)])
    assert r[0]["error"] == "HTTP 500"


def test_proxy_environment_ignored(be, run):
    port = start(be, "127.0.0.45")
    env = {"http_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
           "ALL_PROXY": "http://127.0.0.1:9"}
    r = run([line("127.0.0.45", port, HOST)], env=env)
    assert r[0]["ok"] is True, r[0]


def test_bad_inputs_fail_only_their_target(be, run):
    port = start(be, "127.0.0.46")
    r = run([line("127.0.0.46", port, HOST),
             line("127.0.0.46", port, "bad/host"),
             line("::1", port, HOST),                      # nobody on ::1 there
             line("127.0.0.46", port, HOST, tls=True, ca="/nonexistent/ca.pem")])
    assert r[0]["ok"] is True
    assert r[1]["error"] == 'host "bad/host": not a valid host name'
    assert r[2]["ok"] is False and r[2]["family"] == 6
    assert r[3]["error"] == 'ca_file "/nonexistent/ca.pem": No such file or directory'


def test_invalid_method_fails_before_connecting(be, run):
    port = start(be, "127.0.0.47")
    r = run([line("127.0.0.47", port, HOST)], "--method", "GET /x HTTP/1.1\r\nX:")
    assert r[0]["ok"] is False
    assert r[0]["error"].startswith('method "GET /x')
    assert be.info("127.0.0.47", port)["connections"] == 0


# ---- IPv6 ------------------------------------------------------------------

def test_ipv6_on_loopback(be, run):
    port = start(be, "::1")
    r = run([line("::1", port, HOST, "/v6"), line("::1", port, None, "/bare")])
    for res in r.results:
        assert res["ok"] is True, res
        assert res["family"] == 6
    reqs = {q["path"]: q for q in be.requests("::1", port)}
    assert reqs["/v6"]["client"][0] == "::1"
    assert reqs["/v6"]["host"] == "%s:%d" % (HOST, port)
    assert reqs["/bare"]["host"] == "[::1]:%d" % port


# ---- HTTPS -----------------------------------------------------------------

def test_https_host_sni_and_ca_file(be, run):
    port = start(be, "127.0.0.50", tls=True)
    r = run([line("127.0.0.50", port, HOST, "/tls", tls=True, ca=be.ca_file)])
    assert r[0]["ok"] is True, r[0]
    q = be.requests("127.0.0.50", port)[0]
    assert q["tls"] is True
    assert q["sni"] == HOST
    assert q["host"] == "%s:%d" % (HOST, port)
    assert q["client"][0] == "127.0.0.1"


def test_https_wrong_host_fails(be, run):
    port = start(be, "127.0.0.51", tls=True)
    r = run([line("127.0.0.51", port, "other.example.test", tls=True,
                  ca=be.ca_file)])
    assert r[0]["ok"] is False
    assert "other.example.test" in r[0]["error"]
    assert "certificate" in r[0]["error"] or "subject name" in r[0]["error"], r[0]


def test_https_unknown_ca_fails(be, run):
    port = start(be, "127.0.0.52", tls=True)
    # No ca_file: the test CA is not in the system trust.
    r = run([line("127.0.0.52", port, HOST, tls=True),
             # The wrong CA as ca_file.
             line("127.0.0.52", port, HOST, tls=True, ca=be.wrong_ca_file)])
    for res in r.results:
        assert res["ok"] is False
        assert res["error"].startswith("SSL certificate problem"), res


@pytest.fixture
def hashed_dir(be):
    """A CA directory (as /etc/ssl/certs) holding only the wrong CA."""
    d = tempfile.mkdtemp(prefix="flipper-cadir-")
    shutil.copy(be.wrong_ca_file, d)
    h = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in",
                        be.wrong_ca_file], capture_output=True, text=True,
                       check=True).stdout.strip()
    shutil.copy(be.wrong_ca_file, os.path.join(d, h + ".0"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_ca_file_adds_to_system_directory(be, run, hashed_dir):
    """ca_file adds trust: with the wrong CA standing in for the system CA
    directory, certificates of both CAs pass when ca_file names the test CA."""
    good = start(be, "127.0.0.53", tls=True)
    other = start(be, "127.0.0.54", tls=True, cert="wrong-server")
    lines = [line("127.0.0.53", good, HOST, tls=True, ca=be.ca_file),
             line("127.0.0.54", other, HOST, tls=True, ca=be.ca_file)]
    r = run(lines, "--default-ca-path", hashed_dir)
    assert [res["ok"] for res in r.results] == [True, True], r.results
    # Control: with the real system directory, the wrong CA is unknown.
    r = run(lines)
    assert [res["ok"] for res in r.results] == [True, False], r.results


def test_ca_file_adds_to_system_bundle(be, run):
    """Same, for a libcurl without a CA directory: the bundle and ca_file
    are joined in memory."""
    good = start(be, "127.0.0.55", tls=True)
    other = start(be, "127.0.0.56", tls=True, cert="wrong-server")
    opts = ["--default-ca-path", "", "--default-ca-file", be.wrong_ca_file]
    r = run([line("127.0.0.55", good, HOST, tls=True, ca=be.ca_file),
             line("127.0.0.56", other, HOST, tls=True, ca=be.ca_file),
             # Without ca_file only the bundle is trusted.
             line("127.0.0.55", good, HOST, tls=True),
             line("127.0.0.56", other, HOST, tls=True)], *opts)
    assert [res["ok"] for res in r.results] == [True, True, False, True], r.results


def test_many_https_targets_in_one_round(be, run):
    """The system bundle is not parsed again for every connection."""
    port = start(be, "127.0.0.57", tls=True)
    lines = [line("127.0.0.57", port, HOST, tls=True, ca=be.ca_file)] * 50
    lines += [line("127.0.0.57", port, HOST, tls=True)] * 50
    r = run(lines)
    assert [res["ok"] for res in r.results] == [True] * 50 + [False] * 50
    print("100 https targets: %s" % r.summaries[-1])


# ---- scale -----------------------------------------------------------------

def test_1000_slow_targets_in_one_round(be, run):
    """1,000 targets on 200 loopback addresses, each answering after 200 ms,
    all in one round. Timing belongs to the benchmark: printed, not asserted."""
    n_addrs, port = 200, free_port("127.0.6.1")
    addrs = ["127.0.6.%d" % i for i in range(1, n_addrs + 1)]
    be.bulk(addrs, port, delay=0.2)
    try:
        lines = [line(addrs[i % n_addrs], port, HOST, "/slow", timeout_ms=10000)
                 for i in range(1000)]
        r = run(lines, timeout=120)
        bad = [res for res in r.results if not res["ok"]]
        assert not bad, "%d failed, first: %s" % (len(bad), bad[:3])
        assert len(r.results) == 1000
        print("1000 targets x 200 ms: %s" % r.summaries[-1])
    finally:
        for a in addrs:
            be.remove(a, port)


def test_benchmark_mode_with_builtin_backend():
    """The driver's own epoll backend (--serve-delay), used by the benchmark
    so that it measures the runner rather than a Python test server."""
    need_path(DRIVER, "the check driver is not built (make -C bench build)")
    proc = subprocess.run([DRIVER, "--many", "1000", "--addrs", "100",
                           "--base-addr", "127.0.7.1", "--port", str(free_port("127.0.7.1")),
                           "--serve-delay", "200", "--timeout-ms", "10000",
                           "--rounds", "2"],
                          capture_output=True, text=True, timeout=120)
    r = Round(proc)
    assert r.rc == 0, r.stderr
    assert len(r.all) == 2000
    bad = [res for res in r.all if not res["ok"]]
    assert not bad, "%d failed, first: %s" % (len(bad), bad[:3])
    assert all(res["duration_ms"] >= 200 for res in r.all)
    print("built-in backend, 1000 x 200 ms: %s" % r.summaries)
