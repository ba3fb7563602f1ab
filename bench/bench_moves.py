#!/usr/bin/python3
"""Benchmark: how many floating IPs move per event (SPEC section 8).

Every move drops the connections that use the IP, so the figure that
matters is moves, not milliseconds. A group of 100 servers and 100 IPs
without labels, one IP per server, goes through the events of an
ordinary life, and `flipper simulate --json` counts the moves each one
causes (the plan is applied before the next event):

  all healthy; one server fails; it recovers; a server whose name sorts
  first joins; ten fail at once; they recover

once with the defaults and once with `rebalance: true`. Targets: all
healthy 0, one fails: its IPs only, it recovers 0 (without rebalance),
a server joins 0.

FLIPPER_BEFORE=/path/to/an/older/flipper adds a column for that binary
(the planner before the stay pass moved 63 IPs for one failure and 100
for a join). Offline: no network, no state.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FLIPPER = os.environ.get("FLIPPER", os.path.join(ROOT, "flipper"))
BEFORE = os.environ.get("FLIPPER_BEFORE")
N = 100


def plan(binary, doc, tmp):
    path = os.path.join(tmp, "snap.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    p = subprocess.run([binary, "simulate", path, "--json"], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{binary} simulate failed ({p.returncode}): {p.stderr}")
    g = json.loads(p.stdout)["groups"][0]
    return [a for a in g["actions"] if a["reason"] != "pending"]


def events(binary, options, tmp):
    """(event, moves, moved that had to) for each event, applying each plan."""
    servers = [{"id": 1000 + i, "name": "lb-%03d" % i, "location": "fsn1",
                "network_zone": "eu-central", "status": "healthy"} for i in range(N)]
    fips = [{"id": 1 + i, "name": "vip-%03d" % i, "location": "fsn1",
             "network_zone": "eu-central", "server": 1000 + i} for i in range(N)]
    out = []

    def step(name, must):
        doc = dict(options, servers=servers, floating_ips=fips)
        acts = plan(binary, doc, tmp)
        by_id = {f["id"]: f for f in fips}
        for a in acts:
            by_id[a["floating_ip"]]["server"] = a["to"]
        out.append((name, len(acts), must))

    def on(sid):
        return sum(f["server"] == sid for f in fips)

    step("all healthy", 0)
    servers[37]["status"] = "unhealthy"
    step("one server fails", on(1037))
    servers[37]["status"] = "healthy"
    step("it recovers", 0)
    servers.insert(0, {"id": 999, "name": "aaa-new", "location": "fsn1",
                       "network_zone": "eu-central", "status": "healthy"})
    step("a server joins (name sorts first)", 0)
    ten = [s for s in servers if s["id"] in range(1050, 1060)]
    held = sum(on(s["id"]) for s in ten)
    for s in ten:
        s["status"] = "unhealthy"
    step("ten servers fail at once", held)
    for s in ten:
        s["status"] = "healthy"
    step("they recover", 0)
    return out


def main():
    with tempfile.TemporaryDirectory(prefix="flipper-moves-") as tmp:
        binaries = [("this flipper", FLIPPER)] + ([("before", BEFORE)] if BEFORE else [])
        for label, options in (("defaults", {}), ("rebalance: true", {"rebalance": True})):
            cols = []
            for name, binary in binaries:
                if name == "before" and options:
                    continue        # the old planner had no such option
                cols.append((name, events(binary, options, tmp)))
            print(f"== {N} servers, {N} floating IPs, no labels; {label}")
            head = "%-36s %8s" % ("event", "must") + "".join(" %14s" % n for n, _ in cols)
            print(head)
            for i, (event, _, must) in enumerate(cols[0][1]):
                print("%-36s %8d" % (event, must) +
                      "".join(" %14d" % c[i][1] for _, c in cols))
            ok = all(moves == must for _, moves, must in cols[0][1][:4])
            if not options:
                print("targets (0 / its IPs / 0 / 0):", "OK" if ok else "MISSED")
            print()


if __name__ == "__main__":
    main()
