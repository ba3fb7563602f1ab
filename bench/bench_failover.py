#!/usr/bin/python3
"""Benchmark: time from a backend's death to its floating IP moving.

The README's timing (interval 2s, timeout 4s, fall 3, rise 2) under
`flipper monitor`, side by side in one run, trials interleaved so the
machine's noise falls on both alike:

  alone      lb-a and lb-b
  hanging    the same, beside lb-c whose backend accepts every check and
             never answers (target: within 0.5 s of "alone")
  fast       alone, with fast_interval 500ms (target: <= interval +
             (fall - 1) x fast_interval + 1 s = 4.0 s)
  for        alone, under `reconcile --for 60s`
  apihang    the same group beside a second group whose API request is
             held open by the fake API, never answered (target: within
             0.5 s of "alone")

The backend starts answering 503 at t0; the script polls the fake API
until the IP points at the peer. Loopback only. REPEAT trials each
(default 5); MODES picks some (comma-separated).
"""
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "world"))
import world  # noqa: E402

TOKEN = "bench-token-0123456789"
FLIPPER = os.environ.get("FLIPPER", os.path.join(ROOT, "flipper"))
REPEAT = int(os.environ.get("REPEAT", "5"))
MODES = os.environ.get("MODES", "alone,hanging,apihang,fast,for").split(",")
A, B, C = 5000000201, 5000000202, 5000000203
FIP = 3000000201


def trial(mode):
    tmp = tempfile.mkdtemp(prefix="flipper-failover-")
    cfg = os.path.join(tmp, "flipper.yaml")
    with world.FakeCloud(token=TOKEN) as cloud, world.Backends() as be:
        cloud.settings(action_seconds=0.5)
        servers = [
            {"id": A, "name": "lb-a", "location": "fsn1", "ipv4": "127.0.8.1", "labels": {"role": "lb"}},
            {"id": B, "name": "lb-b", "location": "fsn1", "ipv4": "127.0.8.2", "labels": {"role": "lb"}}]
        if mode == "hanging":
            servers.append({"id": C, "name": "lb-c", "location": "fsn1", "ipv4": "127.0.8.3",
                            "labels": {"role": "lb"}})
        cloud.add_servers(servers)
        cloud.add_floating_ips([{"id": FIP, "name": "vip", "ip": "203.0.113.200",
                                 "home_location": "fsn1", "server": A, "labels": {"role": "vip"}}])
        be.add("127.0.8.1", 8080)
        be.add("127.0.8.2", 8080)
        if mode == "hanging":
            be.add("127.0.8.3", 8080, hang=True)
        fast = ", fast_interval: 500ms" if mode == "fast" else ""
        other = ""
        if mode == "apihang":
            # A second group whose listing the API holds open for ever.
            cloud.add_fault(method="GET", path="^/v1/servers$", query="role%3Dother",
                            hold="other", count=-1)
            other = f"""  - id: other
    display_name: Other
    poll_interval: 60s
    poll_timeout: 60s
    hetzner:
      endpoint: {cloud.endpoint}
      servers: {{label_selector: role=other}}
      floating_ips: {{label_selector: role=othervip}}
    checks:
      - {{id: h, type: http, port: 8080, interval: 2s, timeout: 4s, fall: 3, rise: 2}}
"""
        with open(cfg, "w") as f:
            f.write(f"""version: 1
telemetry: {{logging: {{level: warn, format: text}}}}
groups:
  - id: bench
    display_name: Bench
    poll_interval: 60s
    hetzner:
      endpoint: {cloud.endpoint}
      servers: {{label_selector: role=lb}}
      floating_ips: {{label_selector: role=vip}}
    checks:
      - {{id: h, type: http, port: 8080, interval: 2s, timeout: 4s, fall: 3, rise: 2{fast}}}
{other}""")
        args = ["reconcile", "--for", "60s"] if mode == "for" else ["monitor"]
        p = subprocess.Popen([FLIPPER, "-c", cfg, "--state", os.path.join(tmp, "s.db"), *args],
                             env=dict(os.environ, HCLOUD_TOKEN=TOKEN),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # rise=2: both healthy after the second check; then a random
            # phase against the check schedule, as a real death has.
            time.sleep(5 + (time.monotonic_ns() % 2000) / 1000)
            assert cloud.floating_ip(FIP)["server"] == A
            t0 = time.monotonic()
            be.set("127.0.8.1", 8080, status=503)
            while cloud.floating_ip(FIP)["server"] != B:
                if time.monotonic() - t0 > 30:
                    raise SystemExit("no failover within 30 s (%s)" % mode)
                time.sleep(0.02)
            return time.monotonic() - t0
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)
            be.clear()


def main():
    times = {m: [] for m in MODES}
    for _ in range(REPEAT):
        for m in MODES:
            times[m].append(trial(m))
    for m in MODES:
        t = sorted(times[m])
        print(f"failover, interval 2s timeout 4s fall 3 rise 2, {m:8}: "
              + ", ".join(f"{x:.2f}" for x in t)
              + f" s (median {statistics.median(t):.2f}, mean {statistics.mean(t):.2f})")
    if "alone" in times and "hanging" in times:
        d = statistics.mean(times["hanging"]) - statistics.mean(times["alone"])
        print(f"beside a hanging backend: {d:+.2f} s on the mean (target: within 0.5 s)")
    if "alone" in times and "apihang" in times:
        d = statistics.mean(times["apihang"]) - statistics.mean(times["alone"])
        print(f"beside a group whose API hangs: {d:+.2f} s on the mean (target: within 0.5 s)")
    if "fast" in times:
        print(f"fast_interval 500ms: worst {max(times['fast']):.2f} s (target <= 4.0 s)")
    print("targets: <= fall x interval + 2 s = 8 s")
    print(f"machine: {os.cpu_count()} cores (shared)")


if __name__ == "__main__":
    main()
