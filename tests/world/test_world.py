"""Tests of the test world itself: fake Hetzner API, backends, sink, hcloud CLI.

Run: cd /work/main && /usr/bin/python3 -m pytest -q tests/world/test_world.py
"""

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import http.client
import urllib.parse

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world  # noqa: E402
from harness import free_port, need_tool  # noqa: E402

TOKEN = "tok-" + "a1b2c3d4" * 6

# A realistic pair of servers and floating IPs (IDs above 2^31 and 2^32).
S_A = {"id": 5000000001, "name": "lb-fsn1-a", "location": "fsn1",
       "ipv4": "127.0.0.11", "ipv6": "2001:db8:c012:8f2e::/64",
       "labels": {"role": "lb", "env": "prod"}}
S_B = {"id": 128452389, "name": "lb-nbg1-b", "location": "nbg1",
       "ipv4": "127.0.0.12", "ipv6": None,
       "labels": {"role": "lb", "env": "staging"}}
S_C = {"id": 4294967297, "name": "lb-ash-c", "location": "ash",
       "ipv4": None, "ipv6": "::/64", "labels": {"role": "db"}}
F_1 = {"id": 41234567, "name": "vip-web-v4", "type": "ipv4",
       "ip": "203.0.113.47", "home_location": "fsn1", "server": 5000000001,
       "labels": {"role": "lb", "env": "prod"}}
F_2 = {"id": 3000000002, "name": "vip-web-v6", "type": "ipv6",
       "ip": "2001:db8:1c1c:4a3d::/64", "home_location": "nbg1",
       "server": None, "labels": {"role": "lb"}}


@pytest.fixture(scope="module")
def cloud_proc():
    with world.FakeCloud(token=TOKEN) as c:
        yield c


@pytest.fixture
def cloud(cloud_proc):
    cloud_proc.reset()
    cloud_proc.settings(action_seconds=0.2)
    return cloud_proc


@pytest.fixture
def populated(cloud):
    cloud.add_servers([S_A, S_B, S_C])
    cloud.add_floating_ips([F_1, F_2])
    return cloud


@pytest.fixture(scope="module")
def backends():
    with world.Backends() as b:
        yield b
        b.clear()


@pytest.fixture(scope="module")
def sink_proc():
    with world.Sink() as s:
        yield s


@pytest.fixture
def sink(sink_proc):
    sink_proc.reset()
    return sink_proc


def ids(objs):
    return [o["id"] for o in objs]


# --------------------------------------------------------------------------
# Process behaviour
# --------------------------------------------------------------------------

def test_cli_ready_file_stdout_and_sigterm(tmp_path):
    ready = tmp_path / "ready"
    p = subprocess.Popen([sys.executable, os.path.join(world.HERE, "fakecloud.py"),
                          "--listen", "127.0.0.1:0", "--token", "x",
                          "--ready-file", str(ready)],
                         stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().strip()
        assert re.fullmatch(r"127\.0\.0\.1:\d+", line)
        assert ready.read_text().strip() == line
        host, port = line.split(":")
        status, _, _ = world.http_json(host, int(port), "GET", "/v1/servers",
                                       headers={"Authorization": "Bearer x"})
        assert status == 200
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(5) == 0
        p.stdout.close()


def test_child_start_failure_reports_stderr():
    c = world.FakeCloud(listen="not-an-address")
    with pytest.raises(world.WorldError) as e:
        c.start()
    assert "fakecloud.py exited" in str(e.value)
    assert "Traceback" in str(e.value) or "error" in str(e.value)


# --------------------------------------------------------------------------
# Listing, pagination, selectors, sort
# --------------------------------------------------------------------------

def test_pagination_120_fips(cloud):
    cloud.add_floating_ips([{"id": 3000000001 + i, "ip": "198.51.100.%d" % (i + 1),
                             "labels": {"role": "lb"}} for i in range(120)])
    seen = []
    for page, (n, prev, nxt) in enumerate([(50, None, 2), (50, 1, 3), (20, 2, None)], 1):
        st, h, body = cloud.api("GET", "/floating_ips?label_selector=role%%3Dlb&page=%d&per_page=50" % page)
        assert st == 200
        assert len(body["floating_ips"]) == n
        assert body["meta"]["pagination"] == {
            "page": page, "per_page": 50, "previous_page": prev,
            "next_page": nxt, "last_page": 3, "total_entries": 120}
        rels = dict((rel, url) for url, rel in
                    re.findall(r'<([^>]+)>; rel="(\w+)"', h["link"]))
        assert set(rels) == {k for k, v in (("prev", prev), ("next", nxt)) if v} | {"last"}
        assert "page=3" in rels["last"] and "per_page=50" in rels["last"]
        assert "label_selector=role%3Dlb" in rels["last"]
        if nxt:
            assert "page=%d" % nxt in rels["next"]
        seen += ids(body["floating_ips"])
    assert seen == sorted(seen) and len(set(seen)) == 120
    # Past the end: empty, next_page null.
    st, _, body = cloud.api("GET", "/floating_ips?page=4&per_page=50")
    assert body["floating_ips"] == []
    assert body["meta"]["pagination"]["next_page"] is None
    # Default 25, clamp to 50.
    _, _, body = cloud.api("GET", "/floating_ips")
    assert body["meta"]["pagination"]["per_page"] == 25
    assert body["meta"]["pagination"]["last_page"] == 5
    _, _, body = cloud.api("GET", "/floating_ips?per_page=500")
    assert body["meta"]["pagination"]["per_page"] == 50
    assert len(body["floating_ips"]) == 50
    st, _, body = cloud.api("GET", "/floating_ips?page=0")
    assert st == 400 and body["error"]["code"] == "invalid_input"


SELECTOR_CASES = [
    ("role=lb", [S_A, S_B]),
    ("role==lb", [S_A, S_B]),
    ("role!=lb", [S_C]),
    ("env!=prod", [S_B, S_C]),          # S_C lacks env: != matches it
    ("env", [S_A, S_B]),
    ("!env", [S_C]),
    ("env in (prod,staging)", [S_A, S_B]),
    ("env in (prod)", [S_A]),
    ("env notin (prod)", [S_B, S_C]),   # notin matches a missing key too
    ("role=lb,env=prod", [S_A]),
    ("role in (lb, db),!env", [S_C]),
    ("  role = lb ,  env notin ( staging , x )  ", [S_A]),
    ("role=nope", []),
]


@pytest.mark.parametrize("selector,expected", SELECTOR_CASES)
def test_label_selector(populated, selector, expected):
    q = urllib.parse.quote(selector, safe="")
    st, _, body = populated.api("GET", "/servers?label_selector=" + q)
    assert st == 200, body
    assert sorted(ids(body["servers"])) == sorted(ids(expected))


def test_label_selector_plus_and_percent20_spaces(populated):
    for q in ("env+in+(prod,staging)", "env%20in%20(prod%2Cstaging)",
              "env%20notin%20(staging)"):
        st, _, body = populated.api("GET", "/servers?label_selector=" + q)
        assert st == 200
    st, _, body = populated.api("GET", "/floating_ips?label_selector=role+in+(lb)")
    assert sorted(ids(body["floating_ips"])) == sorted([F_1["id"], F_2["id"]])


@pytest.mark.parametrize("bad", ["role=lb env=prod", "=x", "role in (a", "a,,b",
                                 "env in ()", "k!x"])
def test_label_selector_invalid(populated, bad):
    st, h, body = populated.api("GET", "/floating_ips?label_selector=" +
                                urllib.parse.quote(bad, safe=""))
    assert st == 400
    assert body["error"]["code"] == "invalid_input"
    assert body["error"]["message"].startswith("invalid label_selector: ")
    assert h["content-type"] == "application/json"


def test_name_filter_and_sort(populated):
    _, _, body = populated.api("GET", "/servers?name=lb-nbg1-b")
    assert ids(body["servers"]) == [S_B["id"]]
    _, _, body = populated.api("GET", "/servers?sort=name:desc")
    assert [s["name"] for s in body["servers"]] == ["lb-nbg1-b", "lb-fsn1-a", "lb-ash-c"]
    _, _, body = populated.api("GET", "/servers?sort=id:desc")
    assert ids(body["servers"]) == [S_A["id"], S_C["id"], S_B["id"]]
    _, _, body = populated.api("GET", "/floating_ips?sort=created:desc")
    assert ids(body["floating_ips"]) == [F_2["id"], F_1["id"]]
    # api.md §0.11: floating IPs cannot be sorted by name.
    st, _, body = populated.api("GET", "/floating_ips?sort=name")
    assert st == 400 and body["error"]["code"] == "invalid_input"
    _, _, body = populated.api("GET", "/servers?status=off")
    assert body["servers"] == []


def test_shapes_current_server_and_fip(populated):
    st, _, body = populated.api("GET", "/servers/%d" % S_A["id"])
    s = body["server"]
    assert "datacenter" not in s
    assert s["location"]["name"] == "fsn1" and s["location"]["network_zone"] == "eu-central"
    assert s["public_net"]["ipv4"]["ip"] == "127.0.0.11"
    assert isinstance(s["public_net"]["ipv4"]["dns_ptr"], str)
    assert s["public_net"]["ipv6"]["ip"] == "2001:db8:c012:8f2e::/64"
    assert s["public_net"]["ipv6"]["dns_ptr"] == []
    assert s["public_net"]["floating_ips"] == [F_1["id"]]
    assert s["created"].endswith("Z")
    for key in ("server_type", "image", "private_net", "protection", "labels",
                "status", "volumes", "load_balancers", "primary_disk_size"):
        assert key in s
    _, _, body = populated.api("GET", "/servers/%d" % S_B["id"])
    assert body["server"]["public_net"]["ipv6"] is None
    _, _, body = populated.api("GET", "/servers/%d" % S_C["id"])
    assert body["server"]["public_net"]["ipv4"] is None
    assert body["server"]["location"]["network_zone"] == "us-east"
    _, _, body = populated.api("GET", "/floating_ips/%d" % F_2["id"])
    f = body["floating_ip"]
    assert f["ip"] == "2001:db8:1c1c:4a3d::/64" and f["type"] == "ipv6"
    assert f["server"] is None and f["dns_ptr"] == [] and f["description"] is None
    assert f["home_location"]["name"] == "nbg1"
    assert set(f) == {"id", "name", "description", "ip", "type", "server",
                      "dns_ptr", "home_location", "blocked", "protection",
                      "labels", "created"}
    st, _, body = populated.api("GET", "/servers/999")
    assert st == 404 and body["error"]["code"] == "not_found"
    st, _, body = populated.api("GET", "/floating_ips/999")
    assert st == 404 and body["error"]["code"] == "not_found"


def test_legacy_datacenter_and_location_switches(populated):
    populated.settings(legacy_datacenter=True)
    _, _, body = populated.api("GET", "/servers/%d" % S_A["id"])
    dc = body["server"]["datacenter"]
    assert dc["name"] == "fsn1-dc14"
    assert dc["location"]["name"] == "fsn1"
    assert set(dc["server_types"]) == {"supported", "available", "available_for_migration"}
    assert body["server"]["location"]["name"] == "fsn1"
    populated.settings(location_field=False)
    _, _, body = populated.api("GET", "/servers")
    for s in body["servers"]:
        assert "location" not in s and "datacenter" in s
    populated.settings(legacy_datacenter=False, location_field=True)
    _, _, body = populated.api("GET", "/servers")
    assert all("datacenter" not in s and "location" in s for s in body["servers"])


# --------------------------------------------------------------------------
# Assign, actions, locks
# --------------------------------------------------------------------------

def test_assign_running_then_success_updates_both(populated):
    c = populated
    st, _, body = c.api("POST", "/floating_ips/%d/actions/assign" % F_1["id"],
                        {"server": S_B["id"]})
    assert st == 201
    a = body["action"]
    assert a["status"] == "running" and a["command"] == "assign_floating_ip"
    assert a["finished"] is None and a["error"] is None and a["progress"] == 0
    assert a["resources"] == [{"id": S_B["id"], "type": "server"},
                              {"id": F_1["id"], "type": "floating_ip"}]
    assert a["id"] > 2 ** 32
    # Not yet visible while running.
    assert c.floating_ip(F_1["id"])["server"] == S_A["id"]
    time.sleep(0.3)
    st, _, body = c.api("GET", "/actions/%d" % a["id"])
    assert body["action"]["status"] == "success"
    assert body["action"]["finished"].endswith("Z")
    assert body["action"]["progress"] == 100
    assert c.floating_ip(F_1["id"])["server"] == S_B["id"]
    assert c.server(S_B["id"])["public_net"]["floating_ips"] == [F_1["id"]]
    assert c.server(S_A["id"])["public_net"]["floating_ips"] == []
    # Same server again: floating_ip_assigned.
    st, _, body = c.api("POST", "/floating_ips/%d/actions/assign" % F_1["id"],
                        {"server": S_B["id"]})
    assert (st, body["error"]["code"]) == (422, "floating_ip_assigned")
    assert body["error"]["message"] == "The Floating IP is already assigned"
    # Unassign: no body at all, and "{}".
    st, _, body = c.api("POST", "/floating_ips/%d/actions/unassign" % F_1["id"])
    assert st == 201 and body["action"]["command"] == "unassign_floating_ip"
    c.wait_assigned(F_1["id"], None, timeout=3)
    assert c.server(S_B["id"])["public_net"]["floating_ips"] == []
    st, _, _ = c.api("POST", "/floating_ips/%d/actions/unassign" % F_2["id"], {})
    assert st == 201


def test_action_endpoints(populated):
    c = populated
    c.settings(action_seconds=0)
    _, _, body = c.api("POST", "/floating_ips/%d/actions/assign" % F_2["id"],
                       {"server": S_B["id"]})
    aid = body["action"]["id"]
    for path in ("/actions/%d" % aid, "/floating_ips/actions/%d" % aid,
                 "/floating_ips/%d/actions/%d" % (F_2["id"], aid)):
        st, _, body = c.api("GET", path)
        assert st == 200 and body["action"]["id"] == aid
        assert body["action"]["status"] == "success"
    for path in ("/actions/1", "/floating_ips/actions/1",
                 "/floating_ips/%d/actions/1" % F_2["id"],
                 "/floating_ips/%d/actions/%d" % (F_1["id"], aid)):
        st, _, body = c.api("GET", path)
        assert st == 404 and body["error"]["code"] == "not_found", path
    st, _, body = c.api("GET", "/actions?id=%d&id=12345&sort=status&sort=id&page=1" % aid)
    assert st == 200
    assert ids(body["actions"]) == [aid]
    assert body["meta"]["pagination"]["total_entries"] == 1
    st, _, body = c.api("GET", "/actions")
    assert st == 400 and body["error"]["code"] == "invalid_input"
    st, _, body = c.api("GET", "/actions?id=%d&sort=bogus" % aid)
    assert st == 400


def test_action_polls_mode(populated):
    c = populated
    c.settings(action_polls=2)
    _, _, body = c.api("POST", "/floating_ips/%d/actions/assign" % F_2["id"],
                       {"server": S_A["id"]})
    aid = body["action"]["id"]
    statuses = [c.api("GET", "/actions?id=%d" % aid)[2]["actions"][0]["status"]
                for _ in range(3)]
    assert statuses == ["running", "running", "success"]
    assert c.floating_ip(F_2["id"])["server"] == S_A["id"]


def test_locked_while_running_and_grace(populated):
    c = populated
    c.settings(action_seconds=0.4, lock_grace_seconds=0.4)
    st, _, _ = c.api("POST", "/floating_ips/%d/actions/assign" % F_1["id"],
                     {"server": S_B["id"]})
    assert st == 201
    # Same FIP, other server: the FIP is locked.
    st, h, body = c.api("POST", "/floating_ips/%d/actions/assign" % F_1["id"],
                        {"server": S_C["id"]})
    assert st == 423
    assert body == {"error": {"code": "locked", "details": None,
                              "message": "cannot perform operation because server is locked"}}
    assert "ratelimit-remaining" in h
    # Other FIP, same (locked) server.
    st, _, body = c.api("POST", "/floating_ips/%d/actions/assign" % F_2["id"],
                        {"server": S_B["id"]})
    assert st == 423 and body["error"]["code"] == "locked"
    # Reads are fine while locked.
    assert c.api("GET", "/floating_ips/%d" % F_1["id"])[0] == 200
    time.sleep(0.5)
    # Action done, but still in the grace period.
    st, _, body = c.api("POST", "/floating_ips/%d/actions/unassign" % F_1["id"])
    assert st == 423
    time.sleep(0.4)
    st, _, body = c.api("POST", "/floating_ips/%d/actions/unassign" % F_1["id"])
    assert st == 201


def test_action_error_injection(populated):
    c = populated
    c.settings(action_seconds=0.05,
               action_error={"code": "action_failed", "message": "Action failed"})
    _, _, body = c.api("POST", "/floating_ips/%d/actions/assign" % F_1["id"],
                       {"server": S_B["id"]})
    aid = body["action"]["id"]
    time.sleep(0.1)
    st, _, body = c.api("GET", "/actions/%d" % aid)
    assert st == 200
    assert body["action"]["status"] == "error"
    assert body["action"]["error"] == {"code": "action_failed", "message": "Action failed"}
    assert body["action"]["finished"] is not None
    assert c.floating_ip(F_1["id"])["server"] == S_A["id"]  # unchanged


def test_assign_validation(populated):
    c = populated
    path = "/floating_ips/%d/actions/assign" % F_2["id"]
    st, _, body = c.api("POST", path, {})
    assert st == 422 and body["error"]["code"] == "invalid_input"
    assert body["error"]["details"]["fields"][0]["name"] == "server"
    st, _, body = c.api("POST", path, {"server": "abc"})
    assert st == 422 and body["error"]["code"] == "invalid_input"
    st, _, body = c.api("POST", path, {"server": 77777777777})
    assert st == 422 and body["error"]["code"] == "invalid_input"
    assert "77777777777" in body["error"]["message"]
    st, _, body = c.api("POST", path, "{not json")
    assert st == 400 and body["error"]["code"] == "json_error"
    st, _, body = c.api("POST", "/floating_ips/999/actions/assign", {"server": S_A["id"]})
    assert st == 404 and body["error"]["code"] == "not_found"
    # Cross network zone (nbg1 FIP -> ash server).
    c.settings(cross_zone="reject")
    st, _, body = c.api("POST", path, {"server": S_C["id"]})
    assert st == 422 and body["error"]["code"] == "invalid_input"
    assert "network zone" in body["error"]["message"]
    c.settings(cross_zone="accept")
    st, _, body = c.api("POST", path, {"server": S_C["id"]})
    assert st == 201


def test_reassign_switch(populated):
    c = populated
    c.settings(reassign="reject")
    st, _, body = c.api("POST", "/floating_ips/%d/actions/assign" % F_1["id"],
                        {"server": S_B["id"]})
    assert st == 422 and body["error"]["code"] == "floating_ip_assigned"


# --------------------------------------------------------------------------
# Auth, rate limit, headers, log
# --------------------------------------------------------------------------

def test_auth_and_readonly_token(populated):
    c = populated
    unauth = {"error": {"code": "unauthorized", "message": "unable to authenticate",
                        "details": None}}
    assert c.api("GET", "/servers", token=None)[0::2] == (401, unauth)
    assert c.api("GET", "/servers", token="wrong")[0::2] == (401, unauth)
    st, _, _ = c.api("GET", "/servers", token=None, headers={"Authorization": TOKEN})
    assert st == 401  # no "Bearer "
    c.settings(readonly_token="ro-token")
    assert c.api("GET", "/servers", token="ro-token")[0] == 200
    st, _, body = c.api("POST", "/floating_ips/%d/actions/unassign" % F_1["id"],
                        token="ro-token")
    assert st == 401 and body["error"]["code"] == "token_readonly"
    c.settings(readonly_status=403)
    st, _, body = c.api("POST", "/floating_ips/%d/actions/unassign" % F_1["id"],
                        token="ro-token")
    assert st == 403 and body["error"]["code"] == "token_readonly"


def test_rate_limit(populated):
    c = populated
    c.settings(rate_capacity=3, rate_refill_per_sec=1)
    now = int(time.time())
    statuses = []
    for tok in (True, None, True, True):  # unauthenticated requests count too
        st, h, body = c.api("GET", "/servers", token=tok)
        statuses.append(st)
        assert h["ratelimit-limit"] == "3"
    assert statuses == [200, 401, 200, 429]
    assert body == {"error": {"code": "rate_limit_exceeded",
                              "message": "limit of 3 requests per hour reached",
                              "details": None}}
    assert h["ratelimit-remaining"] == "0"
    assert now + 2 <= int(h["ratelimit-reset"]) <= now + 5
    time.sleep(1.05)   # refill 1/s
    st, h, _ = c.api("GET", "/servers")
    assert st == 200 and h["ratelimit-remaining"] == "0"


def test_headers_on_every_response_and_unknown_route(populated):
    c = populated
    for path in ("/servers", "/nope", "/floating_ips/1"):
        st, h, body = c.api("GET", path)
        assert h["content-type"] == "application/json"
        assert re.fullmatch(r"[0-9a-f]{16}", h["x-correlation-id"])
        for k in ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"):
            assert k in h
    st, _, body = c.api("GET", "/nope")
    assert (st, body) == (404, {"error": {"code": "not_found",
                                          "message": "api route not found",
                                          "details": None}})
    st, _, body = c.api("DELETE", "/servers")
    assert st == 404


def test_request_log_never_holds_the_token(populated):
    c = populated
    c.clear_requests()
    c.api("GET", "/floating_ips?label_selector=role+in+(lb,db)&sort=id:asc")
    c.api("POST", "/floating_ips/%d/actions/assign" % F_2["id"], {"server": S_A["id"]})
    c.api("GET", "/servers", token=None)
    log = c.requests()
    assert [r["method"] for r in log] == ["GET", "POST", "GET"]
    assert log[0]["query"] == {"label_selector": ["role in (lb,db)"], "sort": ["id:asc"]}
    assert log[1]["body"] == {"server": S_A["id"]}
    assert [r["status"] for r in log] == [200, 201, 401]
    assert [r["auth_ok"] for r in log] == [True, True, False]
    assert [r["authorization_present"] for r in log] == [True, True, False]
    assert TOKEN not in json.dumps(log)
    c.api("GET", "/servers?leak=" + TOKEN)   # a client bug must not leak it
    assert TOKEN not in json.dumps(c.requests())
    assert c.requests(method="POST", path=r"/assign$")[0]["status"] == 201


# --------------------------------------------------------------------------
# Fault injection
# --------------------------------------------------------------------------

FAULT_CASES = [
    ({"status": 409, "code": "conflict"}, 409, "conflict"),
    ({"status": 423, "code": "locked"}, 423, "locked"),
    ({"status": 429, "code": "rate_limit_exceeded"}, 429, "rate_limit_exceeded"),
    ({"status": 502, "code": "bad_gateway"}, 502, "bad_gateway"),
    ({"status": 502, "body": "<html><body>502 Bad Gateway</body></html>"}, 502, None),
    ({"status": 503, "code": "unavailable"}, 503, "unavailable"),
    ({"status": 504, "code": "timeout"}, 504, "timeout"),
    ({"status": 504, "body": "<html>504 Gateway Time-out</html>"}, 504, None),
    ({"status": 500, "body": "Internal Server Error\n"}, 500, None),
    ({"status": 401}, 401, "unauthorized"),
    ({"status": 403, "code": "forbidden"}, 403, "forbidden"),
    ({"status": 404, "code": "not_found"}, 404, "not_found"),
    ({"code": "invalid_input", "details": {"fields": [{"name": "server", "messages": ["x"]}]}},
     422, "invalid_input"),
    ({"code": "floating_ip_assigned", "message": "The Floating IP is already assigned"},
     422, "floating_ip_assigned"),
]


@pytest.mark.parametrize("rule,status,code", FAULT_CASES)
def test_fault_classes(populated, rule, status, code):
    c = populated
    c.add_fault(method="POST", path=r"/floating_ips/\d+/actions/assign$", **rule)
    c.api("GET", "/servers")  # does not match: not consumed
    st, h, body = c.api("POST", "/floating_ips/%d/actions/assign" % F_2["id"],
                        {"server": S_A["id"]})
    assert st == status
    assert "ratelimit-remaining" in h and "x-correlation-id" in h
    if code is None:
        assert not h["content-type"].startswith("application/json")
        assert body == rule["body"]
    else:
        assert h["content-type"] == "application/json"
        assert body["error"]["code"] == code
        assert body["error"]["message"]
        if "details" in rule:
            assert body["error"]["details"] == rule["details"]
    # count defaults to 1: the next request is normal.
    st, _, _ = c.api("POST", "/floating_ips/%d/actions/assign" % F_2["id"],
                     {"server": S_A["id"]})
    assert st == 201
    assert c.faults() == []


def test_fault_headers_override(populated):
    populated.add_fault(status=429, headers={"RateLimit-Remaining": "0"})
    st, h, body = populated.api("GET", "/servers")
    assert st == 429 and h["ratelimit-remaining"] == "0"
    assert body["error"]["code"] == "rate_limit_exceeded"


def test_fault_count_order_and_forever(populated):
    c = populated
    c.add_faults([{"method": "GET", "path": "^/v1/servers$", "status": 503, "count": 2},
                  {"method": "GET", "path": "^/v1/servers$", "status": 502, "count": 1},
                  {"method": "*", "path": "floating_ips", "status": 409, "count": -1}])
    got = [c.api("GET", "/servers")[0] for _ in range(4)]
    assert got == [503, 503, 502, 200]
    assert [c.api("GET", "/floating_ips")[0] for _ in range(3)] == [409] * 3
    assert c.faults()[0]["hits"] == 3
    c.clear_faults()
    assert c.api("GET", "/floating_ips")[0] == 200
    log = c.requests(path="^/v1/servers$")
    assert [r["status"] for r in log] == [503, 503, 502, 200]
    assert log[0]["fault"]["status"] == 503


def test_fault_delay_and_drop(populated):
    c = populated
    # A delay longer than the client's timeout: a transport timeout.
    c.add_fault(method="GET", path="^/v1/servers$", delay=1.0)
    with pytest.raises(socket.timeout):
        c.api("GET", "/servers", timeout=0.3)
    # A delay-only rule answers normally afterwards.
    c.add_fault(method="GET", path="^/v1/servers$", delay=0.2)
    t0 = time.monotonic()
    assert c.api("GET", "/servers")[0] == 200
    assert time.monotonic() - t0 >= 0.2
    # Drop: connection closed without a response.
    c.add_fault(path="^/v1/floating_ips$", drop=True)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        c.api("GET", "/floating_ips")
    assert c.api("GET", "/floating_ips")[0] == 200
    dropped = c.requests(path="^/v1/floating_ips$")[0]
    assert dropped.get("dropped") is True and dropped["status"] is None


def test_fault_hold_until_released_and_query_match(populated):
    c = populated
    c.add_fault(method="GET", path="^/v1/servers$", query="label_selector=role%3Da",
                hold="A", count=-1)
    out = {}

    def held():
        out["status"] = c.api("GET", "/servers?label_selector=role%3Da")[0]
    t = threading.Thread(target=held)
    t.start()
    world.wait_until(lambda: any(r.get("held") for r in c.requests(path="^/v1/servers$")),
                     what="the held request")
    # Another query is not held; the held one is still open meanwhile.
    assert c.api("GET", "/servers?label_selector=role%3Db")[0] == 200
    assert t.is_alive() and "status" not in out
    entry = [r for r in c.requests(path="^/v1/servers$") if r.get("held")][0]
    assert "released" not in entry and entry["status"] is None
    c.release("A")
    t.join(10)
    assert out["status"] == 200
    entry = [r for r in c.requests(path="^/v1/servers$") if r.get("held")][0]
    assert entry["released"] is True and entry["status"] == 200
    with pytest.raises(world.WorldError):
        c.release("nobody")


def test_control_validation(cloud):
    with pytest.raises(world.WorldError):
        cloud.settings(no_such_setting=1)
    with pytest.raises(world.WorldError):
        cloud.add_floating_ips([{"ip": "203.0.113.5", "server": 1}])  # no server 1
    f = cloud.add_floating_ip(ip="203.0.113.5")
    assert f["id"] > 2 ** 31 and f["server"] is None
    s = cloud.add_server(name="auto", ipv4="127.0.0.20")
    assert s["id"] > 2 ** 32
    cloud.add_floating_ips([dict(id=f["id"], ip="203.0.113.5", server=s["id"])])
    assert cloud.server(s["id"])["public_net"]["floating_ips"] == [f["id"]]
    cloud.delete_server(s["id"])
    assert cloud.floating_ip(f["id"])["server"] is None
    cloud.delete_floating_ip(f["id"])
    assert cloud.state()["floating_ips"] == []


# --------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------

def curl(*args, timeout=10):
    return subprocess.run(["curl", "-sS", "--noproxy", "*", "--max-time", "5"] + list(args),
                          capture_output=True, text=True, timeout=timeout)


def test_backend_status_flip_down_delay(backends):
    b = backends
    info = b.add("127.0.0.31", 0)
    port = info["port"]
    st, h, body = world.http_json("127.0.0.31", port, "GET", "/healthz",
                                  headers={"Host": "app.example.test"})
    assert (st, body) == (200, "ok\n")
    b.set("127.0.0.31", port, status=503, body="sick\n")
    st, _, body = world.http_json("127.0.0.31", port, "GET", "/healthz")
    assert (st, body) == (503, "sick\n")
    reqs = b.requests("127.0.0.31", port)
    assert [r["path"] for r in reqs] == ["/healthz", "/healthz"]
    assert reqs[0]["host"] == "app.example.test" and reqs[0]["sni"] is None
    # Down: connection refused; up again on the same port.
    b.set("127.0.0.31", port, down=True)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.31", port), timeout=2)
    b.set("127.0.0.31", port, down=False, status=200)
    assert world.http_json("127.0.0.31", port, "GET", "/")[0] == 200
    # Delay.
    b.set("127.0.0.31", port, delay=0.3)
    t0 = time.monotonic()
    assert world.http_json("127.0.0.31", port, "GET", "/")[0] == 200
    assert time.monotonic() - t0 >= 0.3
    with pytest.raises(socket.timeout):
        world.http_json("127.0.0.31", port, "GET", "/", timeout=0.1)
    # Drop: accepted, then closed without an answer.
    b.set("127.0.0.31", port, delay=0, drop=True)
    r = curl("http://127.0.0.31:%d/" % port)
    assert r.returncode == 52  # empty reply from server
    b.remove("127.0.0.31", port)


def test_backend_hang_holds_until_released(backends):
    b = backends
    port = b.add("127.0.0.32", 0, hang=True)["port"]
    with pytest.raises(socket.timeout):
        world.http_json("127.0.0.32", port, "GET", "/", timeout=0.3)
    world.wait_until(lambda: b.info("127.0.0.32", port)["hanging"] == 1, what="a held check")
    assert b.info("127.0.0.32", port)["requests"] == 1
    b.set("127.0.0.32", port, hang=False)
    world.wait_until(lambda: b.info("127.0.0.32", port)["hanging"] == 0, what="the release")
    assert world.http_json("127.0.0.32", port, "GET", "/")[0] == 200
    b.remove("127.0.0.32", port)


def test_backend_down_cuts_keepalive(backends):
    b = backends
    port = b.add("127.0.0.32", 0)["port"]
    conn = http.client.HTTPConnection("127.0.0.32", port, timeout=5)
    conn.request("GET", "/")
    assert conn.getresponse().read() == b"ok\n"
    b.set("127.0.0.32", port, down=True)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, OSError)):
        conn.request("GET", "/")
        conn.getresponse()
    conn.close()
    b.remove("127.0.0.32", port)


def test_backend_ipv6(backends):
    port = backends.add("::1", 0)["port"]
    st, _, body = world.http_json("::1", port, "GET", "/v6")
    assert st == 200
    assert backends.requests("::1", port)[0]["client"][0] == "::1"
    backends.remove("::1", port)


def test_backend_https_sni_python_and_curl(backends):
    b = backends
    port = b.add("127.0.0.33", 0, tls=True)["port"]

    def get(cafile, sni="check.example.test"):
        ctx = ssl.create_default_context(cafile=cafile)
        with socket.create_connection(("127.0.0.33", port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=sni) as s:
                s.sendall(b"GET /tls HTTP/1.1\r\nHost: check.example.test\r\n"
                          b"Connection: close\r\n\r\n")
                return s.recv(4096)
    assert get(b.ca_file).startswith(b"HTTP/1.1 200")
    with pytest.raises(ssl.SSLCertVerificationError):
        get(b.wrong_ca_file)
    with pytest.raises(ssl.SSLCertVerificationError):
        get(b.ca_file, sni="other.example.test")  # name not in the cert
    r = curl("--cacert", b.ca_file, "--resolve", "check.example.test:%d:127.0.0.33" % port,
             "https://check.example.test:%d/curl" % port)
    assert r.returncode == 0 and r.stdout == "ok\n", r.stderr
    r = curl("--cacert", b.wrong_ca_file, "--resolve",
             "check.example.test:%d:127.0.0.33" % port,
             "https://check.example.test:%d/curl" % port)
    assert r.returncode == 60  # peer certificate cannot be authenticated
    reqs = b.requests("127.0.0.33", port)
    assert [(r["path"], r["sni"]) for r in reqs] == [("/tls", "check.example.test"),
                                                     ("/curl", "check.example.test")]
    info = b.info("127.0.0.33", port)
    assert len(info["tls_errors"]) >= 2
    # A backend serving a certificate from the wrong CA.
    b.set("127.0.0.33", port, cert="wrong-server")
    with pytest.raises(ssl.SSLCertVerificationError):
        get(b.ca_file)
    assert get(b.wrong_ca_file).startswith(b"HTTP/1.1 200")
    b.remove("127.0.0.33", port)


def test_backend_bulk_1000_slow_targets_in_parallel(backends):
    addrs = ["127.0.%d.%d" % (100 + i // 250, 1 + i % 250) for i in range(1000)]
    port = free_port(addrs[0])
    out = backends.bulk(addrs, port, delay=0.2)
    assert len(out) == 1000 and all(o["port"] == port for o in out)
    results = []
    lock = threading.Lock()

    def get(a):
        try:
            st = world.http_json(a, port, "GET", "/", timeout=30)[0]
        except OSError as e:
            st = repr(e)
        with lock:
            results.append(st)
    threads = [threading.Thread(target=get, args=(a,)) for a in addrs]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    assert results == [200] * 1000
    # Served in parallel: one after another would take 1000 x 0.2 s.
    assert elapsed < 100, elapsed
    for a in addrs:
        backends.remove(a, port)


# --------------------------------------------------------------------------
# Sink
# --------------------------------------------------------------------------

def test_sink_records_and_modes(sink):
    st, _, body = world.http_json(sink.host, sink.port, "POST", "/hook?x=1",
                                  {"event": "failover", "group": "web"},
                                  headers={"X-Signature": "abc"})
    assert (st, body) == (200, "ok")
    world.http_json(sink.host, sink.port, "GET", "/ping/hb-1")
    world.http_json(sink.host, sink.port, "POST", "/raw", "not json")
    reqs = sink.requests()
    assert [(r["method"], r["path"]) for r in reqs] == [
        ("POST", "/hook"), ("GET", "/ping/hb-1"), ("POST", "/raw")]
    assert reqs[0]["body"] == {"event": "failover", "group": "web"}
    assert reqs[0]["query"] == {"x": ["1"]}
    assert reqs[0]["headers"]["X-Signature"] == "abc"
    assert reqs[2]["body"] == "not json"
    assert reqs[0]["time"] <= reqs[1]["time"] <= reqs[2]["time"]
    assert sink.requests(method="GET", path="/ping/hb-1")
    sink.mode(status=500)
    assert world.http_json(sink.host, sink.port, "POST", "/hook", {})[0] == 500
    sink.mode(status=200, delay=0.3)
    t0 = time.monotonic()
    assert world.http_json(sink.host, sink.port, "POST", "/hook", {})[0] == 200
    assert time.monotonic() - t0 >= 0.3
    sink.mode(delay=0, down=True)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((sink.host, sink.port), timeout=2)
    sink.mode(down=False)
    assert world.http_json(sink.host, sink.port, "GET", "/hb")[0] == 200
    sink.clear()
    assert sink.requests() == []
    threading.Timer(0.2, lambda: world.http_json(sink.host, sink.port, "POST", "/late", {})).start()
    assert sink.wait_for(1, timeout=3)[0]["path"] == "/late"


# --------------------------------------------------------------------------
# hcloud CLI compatibility (Debian's hcloud-cli 1.30.3, hcloud-go 1.35)
# --------------------------------------------------------------------------

@pytest.fixture
def hcloud(populated, tmp_path):
    binary = need_tool("hcloud", "hcloud-cli")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "HCLOUD_TOKEN": TOKEN, "HCLOUD_ENDPOINT": populated.url,
           "NO_PROXY": "*", "no_proxy": "*"}

    def run(*args):
        r = subprocess.run([binary] + list(args), env=env, capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, "hcloud %s: %s" % (" ".join(args), r.stderr)
        return r.stdout
    return run


def test_hcloud_list_and_assign(populated, hcloud):
    out = hcloud("floating-ip", "list")
    assert "vip-web-v4" in out and "203.0.113.47" in out and "lb-fsn1-a" in out
    data = json.loads(hcloud("floating-ip", "list", "-o", "json"))
    assert {f["id"]: f["server"] for f in data} == {F_1["id"]: S_A["id"], F_2["id"]: None}
    out = hcloud("floating-ip", "list", "-l", "role=lb,env=prod")
    assert "vip-web-v4" in out and "vip-web-v6" not in out
    out = hcloud("server", "list")
    assert "lb-fsn1-a" in out and "lb-nbg1-b" in out and "127.0.0.12" in out
    out = hcloud("floating-ip", "assign", str(F_1["id"]), "lb-nbg1-b")
    assert "assigned to server %d" % S_B["id"] in out
    data = json.loads(hcloud("floating-ip", "list", "-o", "json"))
    assert {f["id"]: f["server"] for f in data}[F_1["id"]] == S_B["id"]
    assert populated.floating_ip(F_1["id"])["server"] == S_B["id"]
    # hcloud-go 1.35 waits with the list form of the actions endpoint.
    polls = populated.requests(method="GET", path="^/v1/actions$")
    assert polls and "id" in polls[0]["query"]


def test_hcloud_datacenter_column_needs_legacy_shape(populated, hcloud):
    # hcloud-go 1.35 predates server.location: it reads the location only via
    # server.datacenter. Without it the CLI still succeeds but shows an empty
    # DATACENTER column; with legacy_datacenter it shows the DC name.
    out = hcloud("server", "list")
    assert "fsn1-dc14" not in out
    populated.settings(legacy_datacenter=True)
    out = hcloud("server", "list")
    assert "fsn1-dc14" in out and "nbg1-dc3" in out
    data = json.loads(hcloud("server", "list", "-o", "json"))
    assert {s["datacenter"]["location"]["name"] for s in data} == {"fsn1", "nbg1", "ash"}
