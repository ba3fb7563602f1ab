#!/usr/bin/python3
"""flipper's local demo: a simulated Hetzner Cloud and real backends on
loopback, and the real flipper binary keeping two floating IPs on healthy
servers through a failover and a failback.

Nothing leaves this machine: the fake API, the backends and the webhook
sink all listen on 127.0.0.x. Everything is cleaned up at the end.

    make demo            (or: tests/demo.py --flipper ./flipper)
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "world"))

import world  # noqa: E402

TOKEN = "demo-token-not-a-real-secret"
BOLD = "\033[1m" if sys.stdout.isatty() else ""
DIM = "\033[2m" if sys.stdout.isatty() else ""
RESET = "\033[0m" if sys.stdout.isatty() else ""

SERVERS = [
    {"id": 5000000011, "name": "lb-fsn1-a", "location": "fsn1", "ipv4": "127.0.0.11",
     "labels": {"role": "lb", "resource_index": "0"}},
    {"id": 5000000012, "name": "lb-fsn1-b", "location": "fsn1", "ipv4": "127.0.0.12",
     "labels": {"role": "lb", "resource_index": "1"}},
    {"id": 5000000021, "name": "lb-nbg1-a", "location": "nbg1", "ipv4": "127.0.0.21",
     "labels": {"role": "lb", "resource_index": "0"}},
]
FIPS = [
    {"id": 3000000001, "name": "vip-web-1", "ip": "203.0.113.10", "home_location": "fsn1",
     "server": None, "labels": {"role": "vip", "resource_index": "0"}},
    {"id": 3000000002, "name": "vip-web-2", "ip": "203.0.113.11", "home_location": "fsn1",
     "server": None, "labels": {"role": "vip", "resource_index": "1"}},
]


def say(text):
    print(f"\n{BOLD}== {text}{RESET}", flush=True)


def show(out):
    for line in out.rstrip().splitlines():
        print(f"   {line}")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flipper", default=os.path.join(os.path.dirname(HERE), "flipper"))
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="flipper-demo-")
    state = os.path.join(tmp, "flipper.db")
    cfg_path = os.path.join(tmp, "flipper.yaml")

    def flipper(*a, check=False):
        env = dict(os.environ, HCLOUD_TOKEN=TOKEN)
        env.pop("HCLOUD_ENDPOINT", None)
        p = subprocess.run([args.flipper, "-c", cfg_path, "--state", state,
                            "--log-format", "text", "--log-level", "warn", *a],
                           capture_output=True, text=True, env=env, timeout=120)
        if check and p.returncode != 0:
            sys.exit(f"flipper {' '.join(a)} failed ({p.returncode}):\n{p.stderr}")
        return p

    def where():
        names = {s["id"]: s["name"] for s in SERVERS}
        rows = []
        for f in FIPS:
            sid = cloud.floating_ip(f["id"])["server"]
            rows.append(f"{f['name']} ({f['ip']}) -> {names.get(sid, 'unassigned')}")
        show("\n".join(rows))

    try:
        with world.FakeCloud(token=TOKEN) as cloud, world.Backends() as be, world.Sink() as sink:
            say("A simulated Hetzner Cloud on " + cloud.endpoint)
            cloud.settings(action_seconds=0.3)
            cloud.add_servers(SERVERS)
            cloud.add_floating_ips(FIPS)
            # The first backend takes a free port, the others share it.
            port = 0
            for s in SERVERS:
                port = be.add(s["ipv4"], port)["port"]
                print(f"   server {s['name']:10} in {s['location']}: backend http://{s['ipv4']}:{port}/")
            for f in FIPS:
                print(f"   floating IP {f['name']} {f['ip']} (home fsn1), unassigned")

            with open(cfg_path, "w") as fh:
                fh.write(f"""\
version: 1
groups:
  - id: web
    display_name: "Web frontends"
    poll_interval: always
    hetzner:
      project_id: 123456
      endpoint: {cloud.endpoint}
      servers:
        label_selector: role=lb
      floating_ips:
        label_selector: role=vip
    checks:
      - id: health
        display_name: "HTTP /health"
        type: http
        port: {port}
        path: /health
        interval: 1s
        timeout: 1s
        fall: 2
        rise: 2
notifications:
  enabled: true
  targets:
    - type: mattermost
      url: {sink.url}/hooks/demo
      channel: ops
""")
            say("flipper validate")
            show(flipper("validate", check=True).stdout)

            say("First rounds: servers start unknown, become healthy after rise=2 rounds")
            for _ in range(2):
                flipper("reconcile", "--once")
                time.sleep(1.0)
            show(flipper("status").stdout)
            say("The plan assigns each IP to its canonical server (resource_index), applied:")
            flipper("reconcile", "--once", check=True)
            where()

            say("Take lb-fsn1-a's backend down (HTTP 503)")
            be.set("127.0.0.11", port, status=503)
            time.sleep(1.0)
            flipper("reconcile", "--once")
            time.sleep(1.0)
            say("flipper plan (dry run: changes nothing) after fall=2 failing checks:")
            show(flipper("plan").stdout)

            say("flipper reconcile --once: the failover")
            flipper("reconcile", "--once", check=True)
            where()

            say("Bring lb-fsn1-a back; after rise=2 good rounds the IP fails back")
            be.set("127.0.0.11", port, status=200)
            for _ in range(3):
                time.sleep(1.0)
                flipper("reconcile", "--once")
            where()

            say("What the chat channel received (Mattermost webhook sink):")
            for r in sink.requests(method="POST"):
                first = r["body"]["text"].splitlines()[0] if isinstance(r["body"], dict) else r["body"]
                print(f"   {DIM}{first}{RESET}")
            posts = [r for r in cloud.requests(method="POST")]
            say(f"API mutations made: {len(posts)} assign calls")
        if args.keep:
            say(f"Done: everything stopped; the state file is kept at {state} "
                f"(try: {args.flipper} --state {state} status)")
        else:
            say("Done: everything stopped and cleaned up "
                "(run tests/demo.py --keep to keep the state file).")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
