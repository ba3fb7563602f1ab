#!/usr/bin/python3
"""Benchmark: time from a backend's death to its floating IP moving.

`flipper monitor` with fall=3, interval=2s (the SPEC's figure: at most
fall x interval + 2 s = 8 s). The backend starts answering 503 at t0; the
script polls the fake API until the IP points at the peer. Repeated a few
times; loopback only. Also runs the same with `reconcile --for 60s`.
"""
import os
import signal
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
REPEAT = int(os.environ.get("REPEAT", "3"))
A, B = 5000000201, 5000000202
FIP = 3000000201


def trial(mode):
    tmp = tempfile.mkdtemp(prefix="flipper-failover-")
    cfg = os.path.join(tmp, "flipper.yaml")
    with world.FakeCloud(token=TOKEN) as cloud, world.Backends() as be:
        cloud.settings(action_seconds=0.5)
        cloud.add_servers([
            {"id": A, "name": "lb-a", "location": "fsn1", "ipv4": "127.0.8.1", "labels": {"role": "lb"}},
            {"id": B, "name": "lb-b", "location": "fsn1", "ipv4": "127.0.8.2", "labels": {"role": "lb"}}])
        cloud.add_floating_ips([{"id": FIP, "name": "vip", "ip": "203.0.113.200",
                                 "home_location": "fsn1", "server": A, "labels": {"role": "vip"}}])
        be.add("127.0.8.1", 8080)
        be.add("127.0.8.2", 8080)
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
      - {{id: h, type: http, port: 8080, interval: 2s, timeout: 1s, fall: 3, rise: 2}}
""")
        args = ["monitor"] if mode == "monitor" else ["reconcile", "--for", "60s"]
        p = subprocess.Popen([FLIPPER, "-c", cfg, "--state", os.path.join(tmp, "s.db"), *args],
                             env=dict(os.environ, HCLOUD_TOKEN=TOKEN),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(5)  # rise=2: both healthy after the second round
            assert cloud.floating_ip(FIP)["server"] == A
            t0 = time.monotonic()
            be.set("127.0.8.1", 8080, status=503)
            while cloud.floating_ip(FIP)["server"] != B:
                if time.monotonic() - t0 > 30:
                    raise SystemExit("no failover within 30 s")
                time.sleep(0.05)
            return time.monotonic() - t0
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)


def main():
    for mode in ("monitor", "reconcile --for"):
        times = sorted(trial(mode.split()[0]) for _ in range(REPEAT))
        print(f"failover, fall=3 interval=2s, {mode}: "
              + ", ".join(f"{t:.2f}" for t in times)
              + f" s (median {times[len(times) // 2]:.2f} s; target <= 8 s = fall*interval + 2 s)")
    print(f"machine: {os.cpu_count()} cores (shared)")


if __name__ == "__main__":
    main()
