"""follow_redirects: a check follows at most N redirects, every hop dialled
at the target's address whatever host or port the redirect names, TLS
verified against each hop's own host name (src/check.c).

The runner is driven through bench_checks as in test_checks.py; the host
names the redirects name (*.example.test) resolve nowhere, so a request
that arrives at the backend came through the address pinning, never DNS.
The last test runs the real flipper with the key in its configuration."""

import json

from conftest import run_flipper
from test_checks import HOST, be, line, run, start  # noqa: F401 (fixtures)

ELSEWHERE = "elsewhere.example.test"    # resolves nowhere, in no certificate


def paths_and_hosts(be, addr, port):
    return [(q["path"], q["host"]) for q in be.requests(addr, port)]


def test_redirect_to_another_host_is_followed_at_the_same_address(be, run):
    port = start(be, "127.0.0.61")
    # The redirect names the backend's own port (known only now).
    be.set("127.0.0.61", port, routes={
        "/start": {"status": 302,
                   "headers": {"Location": "http://%s:%d/final" % (ELSEWHERE, port)}}})
    r = run([line("127.0.0.61", port, HOST, "/start")], "--follow-redirects", "3")
    assert r[0]["ok"] is True and r[0]["http_status"] == 200 and r[0]["error"] is None, r[0]
    # Both requests at the one backend: the second with the new Host.
    assert paths_and_hosts(be, "127.0.0.61", port) == [
        ("/start", "%s:%d" % (HOST, port)), ("/final", "%s:%d" % (ELSEWHERE, port))]


def test_redirect_without_host_is_pinned_too(be, run):
    """A check without host names the address in its URL; a redirect to a
    name must still dial that address, not resolve the name."""
    port = start(be, "127.0.0.62")
    be.set("127.0.0.62", port, routes={
        "/start": {"status": 301, "headers": {"Location": "http://%s:%d/final" % (ELSEWHERE, port)}}})
    r = run([line("127.0.0.62", port, None, "/start")], "--follow-redirects", "1")
    assert r[0]["ok"] is True, r[0]
    assert paths_and_hosts(be, "127.0.0.62", port) == [
        ("/start", "127.0.0.62:%d" % port), ("/final", "%s:%d" % (ELSEWHERE, port))]


def test_redirect_to_another_port_dials_that_port_at_the_same_address(be, run):
    first = start(be, "127.0.0.63")
    second = start(be, "127.0.0.63")
    # The same port on another address: a hop that left the target would land here.
    be.add("127.0.0.64", second)
    be.set("127.0.0.63", first, routes={
        "/start": {"status": 307, "headers": {"Location": "http://%s:%d/final" % (ELSEWHERE, second)}}})
    r = run([line("127.0.0.63", first, HOST, "/start")], "--follow-redirects", "2")
    assert r[0]["ok"] is True, r[0]
    assert paths_and_hosts(be, "127.0.0.63", first) == [("/start", "%s:%d" % (HOST, first))]
    assert paths_and_hosts(be, "127.0.0.63", second) == [("/final", "%s:%d" % (ELSEWHERE, second))]
    assert be.requests("127.0.0.64", second) == []


def test_https_hops_are_verified_against_their_own_host(be, run):
    port = start(be, "127.0.0.65", tls=True)
    # localhost is in the test certificate; ELSEWHERE is not.
    be.set("127.0.0.65", port, routes={
        "/good": {"status": 302, "headers": {"Location": "https://localhost:%d/final" % port}},
        "/bad": {"status": 302, "headers": {"Location": "https://%s:%d/final" % (ELSEWHERE, port)}}})
    r = run([line("127.0.0.65", port, HOST, "/good", tls=True, ca=be.ca_file),
             line("127.0.0.65", port, HOST, "/bad", tls=True, ca=be.ca_file)],
            "--follow-redirects", "2")
    assert r[0]["ok"] is True, r[0]
    assert r[1]["ok"] is False and r[1]["http_status"] == 302, r[1]
    assert ELSEWHERE in r[1]["error"], r[1]
    reqs = {(q["path"], q["host"]): q for q in be.requests("127.0.0.65", port)}
    assert set(reqs) == {("/good", "%s:%d" % (HOST, port)), ("/final", "localhost:%d" % port),
                         ("/bad", "%s:%d" % (HOST, port))}, sorted(reqs)
    # Each hop sent its own host name as SNI.
    assert reqs[("/final", "localhost:%d" % port)]["sni"] == "localhost"
    assert reqs[("/good", "%s:%d" % (HOST, port))]["sni"] == HOST
    # The hop to a name the certificate lacks reached the same backend
    # (four connections: two per check) but sent no request over it.
    assert be.info("127.0.0.65", port)["connections"] == 4


def test_too_many_redirects_fail_with_a_clear_error(be, run):
    port = start(be, "127.0.0.66")
    chain = {"/%d" % i: {"status": 302, "headers": {"Location": "/%d" % (i + 1)}}
             for i in range(10)}
    be.set("127.0.0.66", port, routes=chain)
    r = run([line("127.0.0.66", port, HOST, "/0")], "--follow-redirects", "2")
    assert r[0]["ok"] is False and r[0]["http_status"] == 302, r[0]
    assert r[0]["error"] == "more than 2 redirects (follow_redirects): the last answer was HTTP 302"
    # The first request and two hops; the third redirect is not followed.
    assert [p for p, _ in paths_and_hosts(be, "127.0.0.66", port)] == ["/0", "/1", "/2"]
    be.clear_requests("127.0.0.66", port)
    # Enough hops: the chain ends in the backend's own 200 at /10.
    r = run([line("127.0.0.66", port, HOST, "/0")], "--follow-redirects", "10")
    assert r[0]["ok"] is True, r[0]
    assert len(be.requests("127.0.0.66", port)) == 11


def test_zero_judges_the_redirect_by_expect_status(be, run):
    port = start(be, "127.0.0.67")
    be.set("127.0.0.67", port, routes={
        "/start": {"status": 302, "headers": {"Location": "/final"}}})
    r = run([line("127.0.0.67", port, HOST, "/start")], "--follow-redirects", "0")
    assert r[0]["ok"] is False and r[0]["error"] == "HTTP 302", r[0]
    r = run([line("127.0.0.67", port, HOST, "/start")], "--follow-redirects", "0",
            "--expect", "200-399")
    assert r[0]["ok"] is True, r[0]
    assert [p for p, _ in paths_and_hosts(be, "127.0.0.67", port)] == ["/start", "/start"]


def test_flipper_follows_as_configured(env):
    """The key through the real binary: validate prints it, a round follows
    the redirect at the server's address, and the server is healthy."""
    env.pair()
    for addr in ("127.0.0.11", "127.0.0.12"):
        env.backends.set(addr, env.port, routes={
            "/health": {"status": 302,
                        "headers": {"Location": "http://%s:%d/ok" % (ELSEWHERE, env.port)}}})
    env.config(checks=[env.check(host=HOST, follow_redirects=1)])
    v = run_flipper("-c", env.config_path, "validate", "--print")
    assert v.rc == 0, v
    check = json.loads(v.out)["groups"][0]["checks"][0]
    assert check["follow_redirects"] == 1
    assert (check["tls_expiry_warning"], check["tls_expiry_error"]) == ("336h0m0s", "168h0m0s")
    r = env.reconcile()
    assert r.rc == 0, r
    for addr in ("127.0.0.11", "127.0.0.12"):
        assert paths_and_hosts(env.backends, addr, env.port) == [
            ("/health", "%s:%d" % (HOST, env.port)), ("/ok", "%s:%d" % (ELSEWHERE, env.port))]
    status = json.loads(env.run("status", "--json").out)
    assert {s["name"]: s["status"] for s in status["groups"][0]["servers"]} == \
        {"lb-a": "healthy", "lb-b": "healthy"}, status
    # Without the key a 302 is a failure, as before.
    env.config(checks=[env.check(host=HOST, interval="1ms")])   # due at once
    r = env.reconcile()
    failed = json.loads(env.run("status", "--json").out)
    errors = {t["error"] for s in failed["groups"][0]["servers"] for t in s["targets"]}
    assert errors == {"HTTP 302"}, failed
