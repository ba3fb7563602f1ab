#!/usr/bin/python3
"""Benchmark: `flipper reconcile --once` with nothing due, at 10 and at
1,000 servers (SIZES=10,1000).

The inventory is cached (poll_interval 1h) and every check ran moments ago
(interval 1h), so a run only loads the state, plans, saves and exits. It
prints wall time and peak RSS per run (os.wait4 rusage) and how many API
requests the runs made (expected: 0). Loopback only.

Also measures the steady-state API budget: a timer every 10 s with
poll_interval 60 s, simulated by advancing through 36 rounds whose cache
expires every 6th round (reported as requests per hour per group).
"""
import os
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
RUNS = int(os.environ.get("RUNS", "50"))
SIZES = [int(n) for n in os.environ.get("SIZES", "10,1000").split(",")]


def address(i):
    """127.0.9.1 onwards, 250 to a /24."""
    return f"127.0.{9 + i // 250}.{i % 250 + 1}"


def run(args, env):
    """Wall time of one run, and its peak RSS as GNU time reports it.

    RSS is not taken from Python's wait4(): a child forked from Python
    counts Python's own pages until exec. /usr/bin/time is a small parent.
    """
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", FLIPPER, *args], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"flipper failed ({p.returncode}): {p.stderr}")
    return wall, int(p.stderr.strip().splitlines()[-1])  # KiB


def loop_wall(args, env, n):
    """Mean wall time of n runs started back to back by one shell."""
    cmd = " ".join(["'%s'" % a for a in [FLIPPER, *args]])
    t0 = time.perf_counter()
    subprocess.run(["sh", "-c", f"i=0; while [ $i -lt {n} ]; do {cmd} >/dev/null || exit 1; "
                    f"i=$((i+1)); done"], env=env, check=True)
    return (time.perf_counter() - t0) / n


def main():
    for n in SIZES:
        measure(n, steady=n == SIZES[0])
    machine = open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": ")
    print(f"  machine: {os.cpu_count()} cores, {machine}")


def measure(n_servers, steady):
    tmp = tempfile.mkdtemp(prefix="flipper-bench-")
    cfg = os.path.join(tmp, "flipper.yaml")
    state = os.path.join(tmp, "state.db")
    with world.FakeCloud(token=TOKEN) as cloud, world.Backends() as be:
        servers = [{"id": 5000000100 + i, "name": f"lb-{i}", "location": "fsn1",
                    "ipv4": address(i), "labels": {"role": "lb"}} for i in range(n_servers)]
        cloud.add_servers(servers)
        cloud.add_floating_ips([{"id": 3000000100 + i, "name": f"vip-{i}",
                                 "ip": f"203.0.113.{i + 1}", "home_location": "fsn1",
                                 "server": servers[i]["id"], "labels": {"role": "vip"}}
                                for i in range(4)])
        be.bulk([s["ipv4"] for s in servers], 8080)
        with open(cfg, "w") as f:
            f.write(f"""version: 1
telemetry: {{logging: {{level: warn, format: text}}}}
groups:
  - id: bench
    display_name: Bench
    poll_interval: 1h
    hetzner:
      endpoint: {cloud.endpoint}
      servers: {{label_selector: role=lb}}
      floating_ips: {{label_selector: role=vip}}
    checks:
      - {{id: h, type: http, port: 8080, interval: 1h, timeout: 2s}}
""")
        env = dict(os.environ, HCLOUD_TOKEN=TOKEN)
        base = ["-c", cfg, "--state", state, "reconcile", "--once"]
        run(base, env)  # first run: inventory, checks, state created
        cloud.clear_requests()
        walls, rss = [], []
        for _ in range(RUNS):
            w, r = run(base, env)
            walls.append(w * 1000)
            rss.append(r / 1024)
        reqs = len(cloud.requests())
        walls.sort()
        loops = sorted(loop_wall(base, env, RUNS) * 1000 for _ in range(5))
        # --version: the bare start-up (`flipper version` also loads libcurl).
        base_loop = sorted(loop_wall(["--version"], env, RUNS) * 1000 for _ in range(5))
        print(f"reconcile --once, {n_servers} servers, nothing due, {RUNS} runs:")
        print(f"  wall ms (back to back from sh, 5 x {RUNS}): min {loops[0]:.2f}  "
              f"median {loops[2]:.2f}  (target <= 3 ms; `flipper --version` for scale: "
              f"{base_loop[2]:.2f} ms)")
        print(f"  wall ms (one at a time from Python, incl. spawn and /usr/bin/time): "
              f"median {statistics.median(walls):.2f}")
        print(f"  peak RSS MiB: max {max(rss):.2f}  (target <= 8 MiB)")
        print(f"  API requests during these runs: {reqs} (expected 0)")

        if not steady:
            return
        # Steady state, timer every 10 s, poll_interval 60 s: one refresh a
        # minute, and no other request while nothing moves. Count what one
        # refresh costs (poll_interval: always forces it) and scale to an hour.
        with open(cfg) as f:
            text = f.read().replace("poll_interval: 1h", "poll_interval: always")
        with open(cfg, "w") as f:
            f.write(text)
        cloud.clear_requests()
        run(["-c", cfg, "--state", state, "reconcile", "--once"], env)
        per_refresh = len(cloud.requests())
        mutating = len([r for r in cloud.requests() if r["method"] != "GET"])
        print(f"  steady state: {per_refresh} requests per inventory refresh, "
              f"{mutating} mutating -> {per_refresh * 60} requests/hour/group at "
              f"poll_interval 60s (target <= 120)")


if __name__ == "__main__":
    main()
