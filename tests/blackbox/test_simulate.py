"""Black-box tests of `flipper simulate`: the real binary on snapshot files."""

import json
import os
import random
import subprocess
from pathlib import Path

import pytest

FLIPPER = os.environ.get("FLIPPER", "/work/main/flipper")
DATA = Path(__file__).parent / "data" / "simulate"


def run(*args, stdin=None):
    return subprocess.run(
        [FLIPPER, *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def simulate_json(path):
    r = run("simulate", path, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def server(id, name, location="fsn1", zone="eu-central", status="healthy", **extra):
    return {"id": id, "name": name, "location": location, "network_zone": zone,
            "status": status, **extra}


def fip(id, location="fsn1", zone="eu-central", **extra):
    return {"id": id, "location": location, "network_zone": zone, **extra}


def write(tmp_path, doc, name="snap.json"):
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return p


# --- the human diff -------------------------------------------------------

def test_human_diff_lists_each_move_with_names_health_and_reason():
    r = run("simulate", DATA / "failover.json")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    assert lines[0] == "group web"
    moves = [l.split() for l in lines if "->" in l]
    # vip-4 stays on lb-4: an unknown server keeps what it holds.
    assert moves == [
        ["vip-2", "203.0.113.2", "lb-2", "(unhealthy)", "->", "lb-1", "(healthy)", "target_unhealthy"],
        ["vip-3", "2001:db8:3::/64", "unassigned", "->", "lb-3", "(healthy)", "unassigned"],
    ]
    # The arrows line up: one column per field.
    assert len({l.index("->") for l in lines if "->" in l}) == 1
    assert "left alone: vip-5 203.0.113.5: points at server 99, outside this group" in r.stdout
    assert ("left alone: vip-6 198.51.100.6: unassigned, no candidate server in "
            "network zone us-east") in r.stdout
    assert "vip-1" not in r.stdout          # already where it belongs
    assert "vip-4" not in r.stdout
    assert lines[-1] == "2 floating IPs to move in 1 group"


def test_human_no_changes():
    r = run("simulate", DATA / "steady.json")
    assert r.returncode == 0
    assert "group snapshot" in r.stdout
    assert r.stdout.splitlines()[-1] == "no changes"
    assert "->" not in r.stdout


def test_human_frozen_when_nothing_is_healthy():
    r = run("simulate", DATA / "all-down.json")
    assert r.returncode == 0
    assert ("frozen: no server is healthy; no floating IP moves until one is "
            "(when_none_healthy: freeze)") in r.stdout
    assert "->" not in r.stdout
    assert "no candidate" not in r.stdout       # one line for the group, not one per IP
    assert r.stdout.splitlines()[-1] == "no changes; 1 group frozen"


def test_human_fail_open_with_spread(tmp_path):
    doc = json.loads((DATA / "all-down.json").read_text())
    doc["when_none_healthy"] = "spread"
    doc["floating_ips"].append(fip(3, name="vip-3", ip="203.0.113.3"))
    r = run("simulate", write(tmp_path, doc))
    assert r.returncode == 0, r.stderr
    assert "no server is healthy" in r.stdout and "fail-open" in r.stdout
    # vip-1 and vip-2 stay on lb-1; the new one goes to the emptier lb-2.
    assert [l.split() for l in r.stdout.splitlines() if "->" in l] == [
        ["vip-3", "203.0.113.3", "unassigned", "->", "lb-2", "(unhealthy)", "unassigned"]]
    assert r.stdout.splitlines()[-1] == "1 floating IP to move in 1 group"


def test_human_output_escapes_control_characters(tmp_path):
    doc = {"group": "g\x07",
           "servers": [server(1, "evil\x1b[2J\nname")],
           "floating_ips": [fip(7, name="vip\r\x7f", ip="192.0.2.7\x1b]0;x\x07")]}
    r = run("simulate", write(tmp_path, doc))
    assert r.returncode == 0, r.stderr
    for c in "\x1b\x07\r\x7f":
        assert c not in r.stdout
    assert "evil\\x1b[2J\\nname (healthy)" in r.stdout
    assert "vip\\r\\x7f" in r.stdout
    # One move, so exactly header, move, blank, summary.
    assert len(r.stdout.splitlines()) == 4


def test_stdin():
    text = (DATA / "failover.json").read_text()
    r = run("simulate", "-", "--json", stdin=text)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == simulate_json(DATA / "failover.json")


def test_help():
    for args in (["simulate", "--help"], ["help", "simulate"]):
        r = run(*args)
        assert r.returncode == 0
        assert "usage: flipper simulate SNAPSHOT.json [--json]" in r.stdout
        assert "floating_ips" in r.stdout and "network_zone" in r.stdout


# --- JSON -----------------------------------------------------------------

def test_json_structure():
    doc = simulate_json(DATA / "failover.json")
    assert list(doc) == ["groups"]
    assert len(doc["groups"]) == 1
    g = doc["groups"][0]
    assert list(g) == ["id", "display_name", "readonly", "deferred", "defer_reason", "error",
                       "fail_open", "frozen", "candidates", "actions", "skipped"]
    assert g["id"] == "web"
    assert g["readonly"] is False and g["deferred"] is False
    assert g["fail_open"] is False and g["frozen"] is False
    assert g["candidates"] == 2
    assert [(a["floating_ip"], a["from"], a["to"], a["reason"]) for a in g["actions"]] == [
        (2, 12, 11, "target_unhealthy"),
        (3, None, 13, "unassigned"),
    ]
    a = g["actions"][0]
    assert a["floating_ip_name"] == "vip-2" and a["ip"] == "203.0.113.2"
    assert a["from_name"] == "lb-2" and a["from_status"] == "unhealthy"
    assert a["to_name"] == "lb-1"
    assert a["to_status"] == "healthy"
    assert g["actions"][1]["from_name"] is None
    assert [(s["floating_ip"], s["server"], s["reason"]) for s in g["skipped"]] == [
        (5, 99, "foreign_target"),
        (6, None, "no_candidate"),
    ]


def test_json_default_group_and_no_changes():
    g = simulate_json(DATA / "steady.json")["groups"][0]
    assert g["id"] == "snapshot"
    assert g["actions"] == [] and g["skipped"] == []


def test_json_strings_stay_valid(tmp_path):
    doc = {"servers": [server(1, "ä \"q\" \\ \x01")],
           "floating_ips": [fip(2, name="vïp\n")]}
    g = simulate_json(write(tmp_path, doc))["groups"][0]
    assert g["actions"][0]["to_name"] == "ä \"q\" \\ \x01"
    assert g["actions"][0]["floating_ip_name"] == "vïp\n"


def test_int64_ids_survive(tmp_path):
    big = 2**53 - 1
    doc = {"servers": [server(big, "a")], "floating_ips": [fip(big - 1, server=None)]}
    g = simulate_json(write(tmp_path, doc))["groups"][0]
    assert g["actions"][0]["to"] == big
    assert g["actions"][0]["floating_ip"] == big - 1


def test_same_plan_whatever_the_order(tmp_path):
    rnd = random.Random(7)
    locs = [("fsn1", "eu-central"), ("nbg1", "eu-central"), ("hel1", "eu-central"),
            ("ash", "us-east"), ("hil", "us-west")]
    servers = []
    for i in range(300):
        loc, zone = rnd.choice(locs[:4])
        extra = {"resource_index": rnd.randrange(5)} if rnd.random() < 0.5 else {}
        if rnd.random() < 0.2:
            extra["probation"] = True
        servers.append(server(1000 + i, f"lb-{rnd.randrange(40)}", loc, zone,
                              rnd.choice(["healthy", "healthy", "unhealthy", "unknown",
                                          "uncheckable"]), **extra))
    fips = []
    for i in range(500):
        loc, zone = rnd.choice(locs)
        # Crowded: a few servers hold many IPs, so rebalance has work.
        target = rnd.choice([None, 5, rnd.choice(servers)["id"], rnd.choice(servers[:8])["id"]])
        fips.append(fip(1 + i, loc, zone, server=target,
                        resource_index=rnd.choice([None, 0, 1, 2, 7])))
    # A location whose only server is back, in probation: its IPs wait in fsn1.
    host = next(x for x in servers if x["location"] == "fsn1" and x["status"] == "healthy")
    servers.append(server(2000, "lb-new", "fsn9", "eu-central", probation=True))
    fips += [fip(600 + i, "fsn9", "eu-central", server=host["id"]) for i in range(3)]
    doc = {"rebalance": True, "servers": servers, "floating_ips": fips}
    first = simulate_json(write(tmp_path, doc))
    reasons = {a["reason"] for a in first["groups"][0]["actions"]}
    assert {"unassigned", "target_unhealthy", "return_home", "canonical", "rebalance",
            "pending"} <= reasons, "a dull world proves nothing: %s" % reasons
    assert first["groups"][0]["skipped"]
    for k in range(3):
        rnd.shuffle(servers)
        rnd.shuffle(fips)
        again = simulate_json(write(tmp_path, {"floating_ips": fips, "servers": servers,
                                               "rebalance": True}, f"shuffled{k}.json"))
        assert again == first


# --- the rules, as an operator sees them -----------------------------------

def lbs(n, status="healthy", **extra):
    return [server(100 + i, "lb-%d" % i, status=status, **extra) for i in range(n)]


def test_healthy_ips_never_move_without_a_reason(tmp_path):
    """The issue's first case: four healthy servers, three IPs on lb-1..3."""
    doc = {"servers": lbs(4), "floating_ips": [fip(i, name="vip-%d" % i, server=100 + i)
                                                for i in (1, 2, 3)]}
    r = run("simulate", write(tmp_path, doc))
    assert r.returncode == 0, r.stderr
    assert "->" not in r.stdout
    assert r.stdout.splitlines()[-1] == "no changes"


def test_rebalance_is_shown_apart_from_the_failover(tmp_path):
    servers = lbs(3) + [server(200, "lb-x", status="unhealthy")]
    fips = [fip(i, name="vip-%d" % i, server=100) for i in range(1, 5)]
    fips.append(fip(9, name="vip-9", server=200))
    doc = {"rebalance": True, "servers": servers, "floating_ips": fips}
    r = run("simulate", write(tmp_path, doc))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    head = lines.index("  rebalance (evening out, rebalance: true):")
    # The failover first (vip-9 to the emptiest), then the evening out:
    # lb-0 gives its highest ids, one each, to lb-1 and lb-2.
    assert [l.split() for l in lines[1:head]] == [
        ["vip-9", "-", "lb-x", "(unhealthy)", "->", "lb-1",
         "(healthy)", "target_unhealthy"]]
    assert [l.split()[0] for l in lines[head + 1:] if "->" in l] == ["vip-3", "vip-4"]
    assert all(l.split()[-1] == "rebalance" for l in lines[head + 1:] if "->" in l)
    assert lines[-1] == "3 floating IPs to move in 1 group"
    # Without the option nothing but the failover moves.
    doc["rebalance"] = False
    g = simulate_json(write(tmp_path, doc, "plain.json"))["groups"][0]
    assert [(a["floating_ip"], a["reason"]) for a in g["actions"]] == [(9, "target_unhealthy")]


def test_probation_withholds_the_failback(tmp_path):
    """lb-0 is back but in probation: vip-0 waits on lb-1 for its canonical
    server; an unassigned IP and one whose server died go there at once."""
    servers = [server(100, "lb-0", resource_index=0, probation=True),
               server(101, "lb-1", resource_index=1),
               server(102, "lb-dead", status="unhealthy")]
    fips = [fip(1, name="vip-0", resource_index=0, server=101),
            fip(2, name="vip-new", resource_index=0),
            fip(3, name="vip-orphan", server=102)]
    doc = {"servers": servers, "floating_ips": fips}
    r = run("simulate", write(tmp_path, doc))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    i = lines.index("  waiting for a probation to end (failback_delay):")
    assert lines[i + 1].split() == ["vip-0", "-", "lb-1", "(healthy)", "->", "lb-0",
                                    "(healthy,", "probation)", "canonical", "when", "the",
                                    "probation", "ends"]
    assert lines[-1] == ("2 floating IPs to move in 1 group; "
                         "1 move waiting for a probation to end")
    g = simulate_json(write(tmp_path, doc))["groups"][0]
    assert [(a["floating_ip"], a["from"], a["to"], a["reason"], a.get("pending_reason"),
             a.get("due_at", "absent")) for a in g["actions"]] == [
        (1, 101, 100, "pending", "canonical", None),
        (2, None, 100, "unassigned", None, "absent"),
        (3, 102, 100, "target_unhealthy", None, "absent"),
    ]
    # Probation over: the failback is an action like any other.
    servers[0]["probation"] = False
    g = simulate_json(write(tmp_path, doc, "later.json"))["groups"][0]
    assert (1, 101, 100, "canonical") in [(a["floating_ip"], a["from"], a["to"], a["reason"])
                                          for a in g["actions"]]


def test_target_missing_and_uncheckable(tmp_path):
    doc = {"servers": lbs(2) + [server(300, "lb-dark", status="uncheckable")],
           "floating_ips": [fip(1, name="vip-1", server=77, server_missing=True),
                            fip(2, name="vip-2", server=78),
                            fip(3, name="vip-3", server=300)]}
    g = simulate_json(write(tmp_path, doc))["groups"][0]
    assert [(a["floating_ip"], a["from"], a["to"], a["reason"]) for a in g["actions"]] == [
        (1, 77, 100, "target_missing")]
    assert [(k["floating_ip"], k["reason"]) for k in g["skipped"]] == [(2, "foreign_target")]


def moves(tmp_path, servers, fips, name):
    g = simulate_json(write(tmp_path, {"servers": servers, "floating_ips": fips}, name))
    return g["groups"][0]["actions"]


def test_moves_per_event_on_a_hundred_servers(tmp_path):
    """SPEC section 8: 100 servers and 100 IPs without labels."""
    servers = [server(1000 + i, "lb-%03d" % i) for i in range(100)]
    fips = [fip(1 + i, name="vip-%d" % i, server=1000 + i) for i in range(100)]
    assert moves(tmp_path, servers, fips, "steady.json") == []
    servers[37]["status"] = "unhealthy"
    acts = moves(tmp_path, servers, fips, "fail.json")
    assert [(a["floating_ip"], a["from"], a["reason"]) for a in acts] == \
        [(38, 1037, "target_unhealthy")]
    fips[37]["server"] = acts[0]["to"]
    servers[37]["status"] = "healthy"
    assert moves(tmp_path, servers, fips, "recover.json") == []
    servers.insert(0, server(999, "aaa-new"))           # its name sorts first
    assert moves(tmp_path, servers, fips, "join.json") == []


def test_unknown_keys_are_warnings(tmp_path):
    doc = {"servers": [server(1, "a", colour="red")], "floating_ips": [], "note": 1}
    p = write(tmp_path, doc)
    r = run("simulate", p)
    assert r.returncode == 0
    assert f"{p}: servers[0].colour: unknown key, ignored" in r.stderr
    assert f"{p}: note: unknown key, ignored" in r.stderr


# --- bad input: exit 2, the file and the field named, nothing on stdout ----

def check_bad(r, *wanted):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    for w in wanted:
        assert w in r.stderr, f"{w!r} not in {r.stderr!r}"


def test_invalid_json_names_line_and_column(tmp_path):
    p = write(tmp_path, '{"servers": [\n  {"id": 1,}\n]}', "broken.json")
    check_bad(run("simulate", p), f"{p}:2:12: invalid JSON: unexpected '}}'")
    p = write(tmp_path, '{"servers": [],\n "floating_ips": []', "cut.json")
    check_bad(run("simulate", p), f"{p}:2:20: invalid JSON: unexpected end of input")
    p = write(tmp_path, "", "empty.json")
    check_bad(run("simulate", p), f"{p}:1:1: invalid JSON")
    p = write(tmp_path, '{"servers": [], "floating_ips": []}\nx', "trailing.json")
    check_bad(run("simulate", p), f"{p}:2:1: invalid JSON: unexpected 'x'")


def test_not_an_object(tmp_path):
    p = write(tmp_path, "[]")
    check_bad(run("simulate", p), f"{p}: expected an object")


def test_missing_fields_all_reported(tmp_path):
    p = write(tmp_path, {"servers": [{"id": 1}], "floating_ips": [{"name": "x"}]})
    r = run("simulate", p)
    check_bad(r,
              f"{p}: servers[0].name: missing (required)",
              f"{p}: servers[0].location: missing (required)",
              f"{p}: servers[0].network_zone: missing (required)",
              f"{p}: servers[0].status: missing (required)",
              f"{p}: floating_ips[0].id: missing (required)",
              f"{p}: floating_ips[0].location: missing (required)",
              f"{p}: floating_ips[0].network_zone: missing (required)")
    p = write(tmp_path, {"servers": []}, "nofips.json")
    check_bad(run("simulate", p), f"{p}: floating_ips: missing (required)")


def test_duplicate_ids(tmp_path):
    p = write(tmp_path, {"servers": [server(1, "a"), server(2, "b"), server(1, "c")],
                         "floating_ips": [fip(7), fip(7)]})
    check_bad(run("simulate", p),
              f"{p}: servers[2]: duplicate id 1 (also servers[0])",
              f"{p}: floating_ips[1]: duplicate id 7 (also floating_ips[0])")


def test_unknown_status(tmp_path):
    p = write(tmp_path, {"servers": [server(1, "a", status="sick")], "floating_ips": []})
    check_bad(run("simulate", p),
              f'{p}: servers[0].status: unknown status "sick" (healthy, unhealthy, unknown or uncheckable)')
    p = write(tmp_path, {"servers": [server(1, "a", probation="yes")], "floating_ips": [],
                         "when_none_healthy": "fail-open", "rebalance": 1}, "opts.json")
    check_bad(run("simulate", p),
              f'{p}: servers[0].probation: expected true or false, got a string "yes"',
              f'{p}: when_none_healthy: unknown value "fail-open" (freeze or spread)',
              f"{p}: rebalance: expected true or false, got 1")


def test_server_id_not_a_number(tmp_path):
    p = write(tmp_path, {"servers": [server(1, "a"), server(2, "b"), server(3, "c"),
                                     server("4", "d")], "floating_ips": []})
    check_bad(run("simulate", p), f'{p}: servers[3].id: expected an integer, got a string "4"')
    p = write(tmp_path, {"servers": [server(1.5, "a")], "floating_ips": []}, "frac.json")
    check_bad(run("simulate", p), f"{p}: servers[0].id: expected an integer")
    p = write(tmp_path, '{"servers": [{"id": 1e300, "name": "a", "location": "l", '
              '"network_zone": "z", "status": "healthy"}], "floating_ips": []}', "huge.json")
    check_bad(run("simulate", p), f"{p}: servers[0].id: expected an integer")


def test_bad_floating_ip_fields(tmp_path):
    p = write(tmp_path, {"servers": [], "floating_ips": [
        fip(1, server="11"), fip(2, resource_index="x"), fip(3, server=0)]})
    check_bad(run("simulate", p),
              f'{p}: floating_ips[0].server: expected a server id or null, got a string "11"',
              f'{p}: floating_ips[1].resource_index: expected an integer or null',
              f"{p}: floating_ips[2].server: expected a positive integer, got 0")


def test_unreadable_file(tmp_path):
    p = tmp_path / "absent.json"
    check_bad(run("simulate", p), f"{p}: cannot read: No such file or directory")
    check_bad(run("simulate", tmp_path), f"{tmp_path}: cannot read:")
    if os.geteuid() != 0:
        q = write(tmp_path, "{}", "secret.json")
        q.chmod(0)
        check_bad(run("simulate", q), f"{q}: cannot read: Permission denied")


def test_stdin_errors_name_stdin():
    check_bad(run("simulate", "-", stdin="{nope"), "<stdin>:1:2: invalid JSON")


def test_usage_errors():
    check_bad(run("simulate"), "missing SNAPSHOT.json", "usage: flipper simulate")
    check_bad(run("simulate", "--frobnicate", DATA / "steady.json"), "unknown option '--frobnicate'")
    check_bad(run("simulate", DATA / "steady.json", DATA / "failover.json"),
              "one snapshot at a time")


def test_many_errors_are_capped(tmp_path):
    p = write(tmp_path, {"servers": [server(i, "a", status="sick") for i in range(1, 501)],
                         "floating_ips": []})
    r = run("simulate", p)
    check_bad(r, f"{p}: servers[0].status", "more problems not shown")
    assert len(r.stderr.splitlines()) < 30
