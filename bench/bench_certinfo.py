#!/usr/bin/python3
"""Benchmark: what the expiry watch (CURLOPT_CERTINFO) costs a check round.

One round of 1,000 https targets on 200 loopback addresses
(bench_checks --many 1000 --type https), with and without --tls-expiry
(the default tls_expiry_warning / tls_expiry_error: libcurl prints the
server's certificate chain as text on every connection, flipper reads the
leaf's expiry date). Rounds alternate, ROUNDS of each (default 8), so the
machine's noise falls on both alike.

The backends are tests/world/backends.py (a Python thread per
connection): the round's wall time is theirs as much as flipper's, so the
figure that counts is bench_checks' own CPU time per round (user + system,
libcurl's threads included, the backend process not), reported as
cpu_ms. Loopback only. BACKEND=gnutls runs bench_checks with
libcurl-gnutls (libcurl.so.4 hidden in a private mount namespace); MANY
sets the number of targets (default 1000; the GnuTLS build reads the CA
directory on every connection, about 28 ms each here, so 1,000 at once
time out: use MANY=100 there).
"""
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "world"))
import world  # noqa: E402

BENCH = os.environ.get("BENCH_CHECKS", os.path.join(ROOT, "build", "release", "bench_checks"))
ROUNDS = int(os.environ.get("ROUNDS", "8"))
MANY = int(os.environ.get("MANY", "1000"))
PORT = 18743
ADDRS = ["127.0.9.%d" % i for i in range(1, 201)]


def hide_openssl_build(cmd):
    lib = os.path.realpath("/usr/lib/x86_64-linux-gnu/libcurl.so.4")
    script = 'mount --bind /dev/null "$1" && shift && exec "$@"'
    return ["unshare", "-m", "sh", "-c", script, "sh", lib] + cmd


def one_round(be, watch):
    cmd = [BENCH, "--many", str(MANY), "--base-addr", ADDRS[0], "--addrs", str(len(ADDRS)),
           "--port", str(PORT), "--type", "https", "--host", "check.example.test",
           "--ca-file", be.ca_file, "--timeout-ms", "30000"]
    if watch:
        cmd.append("--tls-expiry")
    if os.environ.get("BACKEND") == "gnutls":
        cmd = hide_openssl_build(cmd)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        sys.exit("bench_checks failed: %s" % p.stderr)
    summary = [json.loads(l) for l in p.stderr.splitlines() if l.startswith("{")][-1]
    results = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    if summary["ok"] != MANY:
        sys.exit("not every target passed: %s" % summary)
    if watch and not all(r["cert_not_after"] > 0 for r in results):
        sys.exit("the watch read no expiry for some target")
    if not watch and any(r["cert_not_after"] for r in results):
        sys.exit("an expiry was read with the watch off")
    return summary


def main():
    with world.Backends() as be:
        be.bulk(ADDRS, PORT, tls=True)
        figures = {False: [], True: []}
        one_round(be, False)            # warm the backends' threads and caches
        for _ in range(ROUNDS):
            for watch in (False, True):
                figures[watch].append(one_round(be, watch))
    for watch in (False, True):
        cpu = [s["cpu_ms"] for s in figures[watch]]
        wall = [s["wall_ms"] for s in figures[watch]]
        print("%-14s cpu_ms median %6.0f (min %d, max %d)   wall_ms median %6.0f" %
              ("expiry watch" if watch else "without", statistics.median(cpu), min(cpu),
               max(cpu), statistics.median(wall)))
    off = statistics.median(s["cpu_ms"] for s in figures[False])
    on = statistics.median(s["cpu_ms"] for s in figures[True])
    print("CERTINFO: %+.0f ms CPU per round of %d https checks (%+.1f %%), %+.0f us per check" %
          (on - off, MANY, 100.0 * (on - off) / off, 1000.0 * (on - off) / MANY))


if __name__ == "__main__":
    main()
