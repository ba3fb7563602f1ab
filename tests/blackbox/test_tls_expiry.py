"""The expiry watch of https server certificates (src/certwatch.c): a
certificate inside tls_expiry_warning (336h) or tls_expiry_error (168h)
gives one certificate_expiring notification per certificate and day, the
check still passes, and the metric
flipper_tls_certificate_expiry_timestamp_seconds carries its notAfter.

The certificates are made at test time (tests/world/certs.py) with a short
validity: 2 days is inside both windows, 10 days only inside the warning."""

import json
import os
import re
import sqlite3
import ssl
import subprocess

import pytest

import certs
from harness import missing
from conftest import TOKEN  # noqa: F401
from test_libcurl import hide_and_run
from test_metrics import read_metrics, series, value

HOST = "check.example.test"
KIND_ERROR = "Certificate expires soon"
KIND_WARNING = "Certificate expiring"


def short_cert(env, days):
    """A server certificate for the usual test names, valid for days from now."""
    name = "expiring-%dd" % days
    d = env.backends.cert_dir
    if not os.path.exists(os.path.join(d, name + ".pem")):
        certs.make_cert(d, name, certs.DEFAULT_HOSTS, "ca", days=days)
    return name


def not_after(env, name):
    """The certificate's notAfter as unix seconds, as the openssl CLI reads it."""
    out = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in",
                          os.path.join(env.backends.cert_dir, name + ".pem")],
                         capture_output=True, text=True, check=True).stdout
    return int(ssl.cert_time_to_seconds(out.strip().split("=", 1)[1]))


@pytest.fixture
def tls(env):
    """lb-a and lb-b with vip-1 (env.pair), each also serving https with a
    certificate valid for 2 days; returns a function that configures the
    https check (with overrides) and the metrics file."""
    env.pair()
    name = short_cert(env, 2)
    port = env.backends.add("127.0.0.11", 0, tls=True, cert=name)["port"]
    env.backends.add("127.0.0.12", port, tls=True, cert=name)
    env.tls_port, env.cert = port, name

    def configure(cert=None, **over):
        if cert:
            for addr in ("127.0.0.11", "127.0.0.12"):
                env.backends.set(addr, port, cert=cert)
            env.cert = cert
        check = env.check(id="https", display_name="HTTPS", type="https", host=HOST,
                          port=port, ca_file=env.backends.ca_file, interval="1ms")
        check.update(over)
        return env.config(checks=[check], metrics=True)
    return configure


def cert_texts(env):
    return [t for t in env.texts() if "Certificate expir" in t]


def expiry_metric(env):
    return {l["server"]: v for l, v in
            series(read_metrics(env), "flipper_tls_certificate_expiry_timestamp_seconds")}


def healthy(env):
    status = json.loads(env.run("status", "--json").out)
    return {s["name"]: s["status"] for s in status["groups"][0]["servers"]}


def test_error_window_is_told_once_and_the_check_passes(env, tls):
    tls()
    r = env.reconcile()
    assert r.rc == 0, r
    texts = cert_texts(env)
    # Both servers serve the same certificate: one message.
    assert len(texts) == 1, texts
    t = texts[0]
    assert t.startswith(":rotating_light: **%s**" % KIND_ERROR), t
    assert "`%s`" % HOST in t and re.search(r", in 4[0-7] hours \(check HTTPS on ", t), t
    assert "tls\\_expiry\\_error (168h0m0s)" in t, t
    assert healthy(env) == {"lb-a": "healthy", "lb-b": "healthy"}
    # The metric: the certificate's own notAfter, for each server.
    want = not_after(env, env.cert)
    assert expiry_metric(env) == {"lb-a": want, "lb-b": want}
    assert value(read_metrics(env), "flipper_tls_certificate_expiry_timestamp_seconds",
                 group="web", server="lb-a", check="https") == want
    # The log line the original wrote, at error level.
    logs = [l for l in r.logs() if l.get("msg") == "TLS certificate expires soon"]
    assert len(logs) == 1 and logs[0]["level"] == "error" and logs[0]["host"] == HOST, logs
    # The next pass checks again: told already today.
    r = env.reconcile()
    assert r.rc == 0, r
    assert len(cert_texts(env)) == 1, cert_texts(env)
    assert not [l for l in r.logs() if l.get("msg") == "TLS certificate expires soon"]
    assert expiry_metric(env) == {"lb-a": want, "lb-b": want}
    # A day later (the notice's time moved back by a day) it is told again.
    con = sqlite3.connect(env.state)
    with con:
        n = con.execute("UPDATE cert_notice SET told_at = told_at - 86400000").rowcount
    con.close()
    assert n == 1
    r = env.reconcile()
    assert r.rc == 0, r
    assert len(cert_texts(env)) == 2, cert_texts(env)


def test_warning_window_then_error_window_is_told_at_once(env, tls):
    name = short_cert(env, 10)
    tls(cert=name)
    r = env.reconcile()
    assert r.rc == 0, r
    texts = cert_texts(env)
    assert len(texts) == 1 and texts[0].startswith(":warning: **%s**" % KIND_WARNING), texts
    assert "tls\\_expiry\\_warning (336h0m0s)" in texts[0] and "in 9 days" in texts[0], texts
    logs = [l for l in r.logs() if l.get("msg") == "TLS certificate expires soon"]
    assert [l["level"] for l in logs] == ["warn"], logs
    # A wider error window takes it in: told again at once, as an error.
    tls(cert=name, tls_expiry_error="300h")
    assert env.reconcile().rc == 0
    texts = cert_texts(env)
    assert len(texts) == 2 and texts[1].startswith(":rotating_light: **%s**" % KIND_ERROR), texts
    assert "tls\\_expiry\\_error (300h0m0s)" in texts[1], texts
    # And not once more.
    assert env.reconcile().rc == 0
    assert len(cert_texts(env)) == 2


def test_outside_the_windows_nothing_is_told_but_the_metric(env, tls):
    tls(cert="server")     # the default test certificate: 30 days
    assert env.reconcile().rc == 0
    assert cert_texts(env) == []
    want = not_after(env, "server")
    assert expiry_metric(env) == {"lb-a": want, "lb-b": want}


def test_zero_windows_turn_the_watch_off(env, tls):
    tls(tls_expiry_warning="0s", tls_expiry_error="0s")
    assert env.reconcile().rc == 0
    assert cert_texts(env) == []
    assert expiry_metric(env) == {}
    assert healthy(env) == {"lb-a": "healthy", "lb-b": "healthy"}
    # Turned on again: the watch reads the certificate from the next check.
    tls()
    assert env.reconcile().rc == 0
    assert len(cert_texts(env)) == 1
    # And off: the metric goes with it.
    tls(tls_expiry_warning="0s", tls_expiry_error="0s")
    assert env.reconcile().rc == 0
    assert expiry_metric(env) == {}


def test_the_gnutls_build_reads_the_same_date(env, tls):
    """libcurl-gnutls spells the date "2027-11-26 12:00:00 GMT" under the
    label "Expire Date": the same notification and the same metric."""
    from test_libcurl import library_file
    if not library_file("libcurl-gnutls.so.4"):
        missing("libcurl-gnutls.so.4 is not installed (Debian package libcurl3-gnutls)")
    tls()
    p = hide_and_run(["libcurl.so.4"], "-c", env.config_path, "--state", env.state,
                     "reconcile", "--once")
    assert p.returncode == 0, p.stderr
    assert "libcurl-gnutls.so.4" in hide_and_run(["libcurl.so.4"], "version").stdout
    texts = cert_texts(env)
    assert len(texts) == 1 and texts[0].startswith(":rotating_light:"), texts
    want = not_after(env, env.cert)
    assert expiry_metric(env) == {"lb-a": want, "lb-b": want}
    assert "cannot read the server certificate" not in p.stderr


def test_after_redirects_the_last_hops_certificate_counts(env, tls):
    """An https hop to another host name (same address, see
    test_redirects.py): the notification names the host that served the
    certificate. A last hop over plain http has none to read."""
    for addr in ("127.0.0.11", "127.0.0.12"):
        env.backends.set(addr, env.tls_port, routes={
            "/health": {"status": 302, "headers": {
                "Location": "https://localhost:%d/ok" % env.tls_port}}})
    tls(follow_redirects=1)
    assert env.reconcile().rc == 0
    texts = cert_texts(env)
    assert len(texts) == 1 and "certificate of `localhost` expires" in texts[0], texts
    assert healthy(env) == {"lb-a": "healthy", "lb-b": "healthy"}


def test_a_last_hop_over_http_reads_no_certificate(env, tls):
    # env.pair()'s plain http backends share the addresses, on env.port.
    for addr in ("127.0.0.11", "127.0.0.12"):
        env.backends.set(addr, env.tls_port, routes={
            "/health": {"status": 302, "headers": {
                "Location": "http://%s:%d/health" % (HOST, env.port)}}})
    tls(follow_redirects=1)
    r = env.reconcile()
    assert r.rc == 0, r
    assert healthy(env) == {"lb-a": "healthy", "lb-b": "healthy"}
    assert [q["path"] for q in env.backends.requests("127.0.0.11", env.port)] == ["/health"]
    assert cert_texts(env) == [] and expiry_metric(env) == {}
    assert "cannot read the server certificate" not in r.err
