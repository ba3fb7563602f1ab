"""Black-box tests of the Hetzner client (src/hcloud.c) against the fake API.

The client is driven through tests/hcloud-driver.c (built as
build/release/hcloud-driver; $HCLOUD_DRIVER overrides the path), which
prints servers / floating IPs / assign results as JSON lines plus one
{"stats": ...} line, and the formatted error on stderr.

Run: cd /work/main && /usr/bin/python3 -m pytest -q tests/blackbox/test_hcloud_client.py
"""

import json
import os
import re
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "world"))
import world  # noqa: E402
from harness import need_path  # noqa: E402

DRIVER = os.environ.get("HCLOUD_DRIVER") or os.path.join(
    ROOT, "build", "release", "hcloud-driver")
TOKEN = "tok-" + "9f8e7d6c" * 7

# Fast but still exponential retries; every test checks the token never leaks.
BASE_ENV = {
    "HCLOUD_RETRY_BASE_MS": "100",
    "HCLOUD_RETRY_CAP_MS": "400",
    "HCLOUD_POLL_MS": "100",
    "HCLOUD_LOG_LEVEL": "debug",
}


class Result:
    def __init__(self, proc, elapsed):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.elapsed = elapsed
        lines = [json.loads(l) for l in proc.stdout.splitlines() if l.strip()]
        self.items = [l for l in lines if "stats" not in l]
        stats = [l["stats"] for l in lines if "stats" in l]
        self.stats = stats[-1] if stats else None

    def requests_by(self, kind):
        return sum(r["count"] for r in self.stats["requests"] if r["kind"] == kind)

    def error_line(self):
        lines = [l for l in self.stderr.splitlines() if l.startswith("hcloud-driver: ")]
        return lines[-1][len("hcloud-driver: "):] if lines else ""


# Its own fake (own token) rather than conftest's session-wide one, so the
# token checks below know exactly which secret must never appear.
@pytest.fixture(scope="module")
def hc_cloud():
    if os.environ.get("HCLOUD_DRIVER") and not os.path.exists(DRIVER):
        pytest.fail("HCLOUD_DRIVER=%s does not exist" % DRIVER)
    need_path(DRIVER, "the Hetzner client driver is not built (make build/release/hcloud-driver)")
    with world.FakeCloud(token=TOKEN) as c:
        yield c


@pytest.fixture
def fc(hc_cloud):
    hc_cloud.reset()
    yield hc_cloud


def drive(fc, *args, token=TOKEN, timeout=60, **env):
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
         "HCLOUD_ENDPOINT": fc.endpoint, "HCLOUD_TOKEN": token}
    e.update(BASE_ENV)
    e.update({k: str(v) for k, v in env.items()})
    t0 = time.monotonic()
    p = subprocess.run([DRIVER] + [str(a) for a in args], env=e,
                       capture_output=True, text=True, timeout=timeout)
    r = Result(p, time.monotonic() - t0)
    # The token may appear only in the Authorization header: never in any
    # output, debug logs included.
    assert TOKEN not in r.stdout and TOKEN not in r.stderr
    if token != TOKEN and len(token) >= 8:
        assert token not in r.stdout and token not in r.stderr
    assert r.stats is not None or r.rc != 0, r.stderr
    return r


def api_requests(fc, path_re, method=None):
    return fc.requests(method=method, path=path_re)


def server(sid, name=None, **kw):
    s = {"id": sid, "name": name or "srv-%d" % sid, "ipv4": "127.0.0.%d" % (sid % 200 + 10),
         "labels": {"role": "lb"}}
    s.update(kw)
    return s


# ---- listing and pagination ------------------------------------------------

def test_servers_pagination_120_ids_above_2_32(fc):
    base = 2 ** 32 + 5
    ids = [base + 7919 * i for i in range(119)] + [2 ** 53 - 1]
    fc.add_servers([server(i, labels={"role": "lb", "env": "prod"}) for i in ids])
    fc.add_servers([server(2 ** 40 + i, labels={"role": "db"}) for i in range(5)])
    r = drive(fc, "servers", "role=lb")
    assert r.rc == 0, r.stderr
    assert [s["id"] for s in r.items] == sorted(ids)   # exact, in id order
    reqs = api_requests(fc, r"^/v1/servers$", "GET")
    assert [q["query"]["page"] for q in reqs] == [["1"], ["2"], ["3"]]
    assert all(q["query"]["per_page"] == ["50"] for q in reqs)
    assert all(q["query"]["label_selector"] == ["role=lb"] for q in reqs)
    assert r.requests_by("servers") == 3
    assert r.stats["retries"] == 0


def test_floating_ips_pagination_120(fc):
    srv = 2 ** 33 + 1
    fc.add_servers([server(srv)])
    fips = []
    for i in range(120):
        f = {"id": 2 ** 32 + 1000 + i, "name": "vip-%03d" % i,
             "ip": "198.51.%d.%d" % (100 + i // 200, i % 200 + 1),
             "home_location": "nbg1", "labels": {"role": "vip"}}
        if i % 3 == 0:
            f["server"] = srv
        fips.append(f)
    fips.append({"id": 2 ** 52 + 3, "name": "vip-v6", "type": "ipv6",
                 "ip": "2001:db8:1c1c:4a3d::/64", "labels": {"role": "vip"}})
    fc.add_floating_ips(fips)
    r = drive(fc, "fips", "role=vip")
    assert r.rc == 0, r.stderr
    assert len(r.items) == 121
    by_id = {f["id"]: f for f in r.items}
    assert set(by_id) == {f["id"] for f in fips}
    first = by_id[2 ** 32 + 1000]
    assert first["server"] == srv and first["type"] == "ipv4"
    assert first["location"] == "nbg1" and first["network_zone"] == "eu-central"
    assert by_id[2 ** 32 + 1001]["server"] is None
    v6 = by_id[2 ** 52 + 3]
    assert v6["ip"] == "2001:db8:1c1c:4a3d::/64" and v6["type"] == "ipv6"
    assert v6["location"] == "fsn1"
    assert r.requests_by("floating_ips") == 3


def test_failed_later_page_gives_no_partial_list(fc):
    fc.add_servers([server(5000000000 + i) for i in range(60)])
    # The first rule (no reply) lets page 1 through; page 2 gets a 404.
    fc.add_faults({"path": r"^/v1/servers$", "count": 1},
                  {"path": r"^/v1/servers$", "status": 404, "code": "not_found"})
    r = drive(fc, "servers", "role=lb")
    assert r.rc == 1
    assert r.items == []
    assert r.error_line().startswith("GET /servers: not_found: ")
    assert len(api_requests(fc, r"^/v1/servers$")) == 2


def test_transient_failure_on_later_page_is_retried(fc):
    fc.add_servers([server(5000000000 + i) for i in range(60)])
    fc.add_faults({"path": r"^/v1/servers$", "count": 1},
                  {"path": r"^/v1/servers$", "status": 502, "body": "<html>502</html>"})
    r = drive(fc, "servers", "role=lb")
    assert r.rc == 0, r.stderr
    assert len(r.items) == 60
    assert r.stats["retries"] == 1


@pytest.mark.parametrize("selector,expected", [
    ("role=lb", {1, 2, 3}),
    ("role==lb,env!=prod", {2, 3}),
    ("env in (prod,staging)", {1, 2}),
    ("role=lb, env notin (prod)", {2, 3}),
    ("!env", {3, 4}),
    ("role=lb,tier", {2}),
    ("app.example.com/team in ( a , b )", {1}),
])
def test_label_selector_url_encoding(fc, selector, expected):
    fc.add_servers([
        server(1, labels={"role": "lb", "env": "prod", "app.example.com/team": "a"}),
        server(2, labels={"role": "lb", "env": "staging", "tier": "x"}),
        server(3, labels={"role": "lb"}),
        server(4, labels={"role": "db"}),
    ])
    r = drive(fc, "servers", selector)
    assert r.rc == 0, r.stderr
    assert {s["id"] for s in r.items} == expected
    (req,) = api_requests(fc, r"^/v1/servers$")
    assert req["query"]["label_selector"] == [selector]


def test_invalid_selector_fails_fast(fc):
    r = drive(fc, "servers", "role=lb env=prod")
    assert r.rc == 1
    assert "GET /servers: invalid_input: invalid label_selector" in r.error_line()
    assert "(HTTP 400" in r.error_line()
    assert len(api_requests(fc, r"^/v1/servers$")) == 1


def test_ipv6_host_and_null_addresses(fc):
    fc.add_servers([
        server(11, ipv4="203.0.113.10", ipv6="2001:db8:c012:8f2e::/64"),
        server(12, ipv4=None, ipv6=None),
        server(13, ipv4=None, ipv6="2a01:4f8:1c1c:a0a1::/64"),
        server(14, ipv4="198.51.100.77", ipv6=None, location="ash"),
    ])
    r = drive(fc, "servers", "role=lb")
    assert r.rc == 0, r.stderr
    got = {s["id"]: (s["ipv4"], s["ipv6"]) for s in r.items}
    assert got == {
        11: ("203.0.113.10", "2001:db8:c012:8f2e::1"),
        12: (None, None),
        13: (None, "2a01:4f8:1c1c:a0a1::1"),
        14: ("198.51.100.77", None),
    }
    ash = [s for s in r.items if s["id"] == 14][0]
    assert (ash["location"], ash["network_zone"]) == ("ash", "us-east")


def test_legacy_datacenter_location(fc):
    fc.settings(location_field=False, legacy_datacenter=True)
    fc.add_servers([server(21, location="hel1"), server(22, location="hil")])
    r = drive(fc, "servers", "role=lb")
    assert r.rc == 0, r.stderr
    got = {s["id"]: (s["location"], s["network_zone"]) for s in r.items}
    assert got == {21: ("hel1", "eu-central"), 22: ("hil", "us-west")}


def test_resource_index_label(fc):
    fc.add_servers([server(31, labels={"role": "lb", "resource_index": "2"}),
                    server(32, labels={"role": "lb", "resource_index": "two"}),
                    server(33)])
    r = drive(fc, "servers", "role=lb")
    assert r.rc == 0, r.stderr
    assert {s["id"]: s["resource_index"] for s in r.items} == {31: 2, 32: None, 33: None}


def test_request_headers(fc):
    fc.add_servers([server(41)])
    r = drive(fc, "servers", "role=lb")
    assert r.rc == 0, r.stderr
    (req,) = api_requests(fc, r"^/v1/servers$")
    hdrs = {k.lower(): v for k, v in req["headers"].items()}
    assert req["auth_ok"]
    assert hdrs["user-agent"].startswith("flipper/")
    assert hdrs["accept"] == "application/json"
    # Rate limit headers are read into the counters.
    assert r.stats["ratelimit_limit"] == 3600
    assert 0 <= r.stats["ratelimit_remaining"] < 3600
    assert r.stats["ratelimit_reset"] > 1700000000


def test_endpoint_trailing_slash(fc):
    fc.add_servers([server(42)])
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
         "HCLOUD_ENDPOINT": fc.endpoint + "/", "HCLOUD_TOKEN": TOKEN}
    p = subprocess.run([DRIVER, "servers", "role=lb"], env=e, capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert [r["path"] for r in api_requests(fc, r"servers")] == ["/v1/servers"]


# ---- assign ------------------------------------------------------------------

def setup_pair(fc, fip_server=None):
    sid, fid = 5000000001, 3000000001
    fc.add_servers([server(sid), server(sid + 1)])
    fc.add_floating_ips([{"id": fid, "ip": "203.0.113.47", "server": fip_server}])
    return fid, sid


def test_assign_and_wait_success(fc):
    fid, sid = setup_pair(fc)
    fc.settings(action_polls=3, action_seconds=0)
    r = drive(fc, "assign", fid, sid, 10000)
    assert r.rc == 0, r.stderr
    assert r.items == [{"assigned": True, "floating_ip": fid, "server": sid}]
    assert fc.floating_ip(fid)["server"] == sid
    (post,) = api_requests(fc, r"/actions/assign$", "POST")
    assert post["path"] == "/v1/floating_ips/%d/actions/assign" % fid
    assert post["body"] == {"server": sid}
    hdrs = {k.lower(): v for k, v in post["headers"].items()}
    assert hdrs["content-type"] == "application/json"
    polls = api_requests(fc, r"^/v1/actions/\d+$", "GET")
    assert len(polls) == 4          # three "running" answers, then success
    (action,) = fc.actions()
    assert all(p["path"] == "/v1/actions/%d" % action["id"] for p in polls)
    assert r.requests_by("assign") == 1 and r.requests_by("actions") == 4


def test_assign_moves_from_another_server(fc):
    fid, sid = setup_pair(fc, fip_server=5000000002)
    r = drive(fc, "assign", fid, sid, 10000)
    assert r.rc == 0, r.stderr
    assert fc.floating_ip(fid)["server"] == sid


def test_assign_action_error(fc):
    fid, sid = setup_pair(fc)
    fc.settings(action_error={"code": "action_failed", "message": "Action failed"},
                action_seconds=0.2)
    r = drive(fc, "assign", fid, sid, 10000)
    assert r.rc == 1
    assert r.error_line().startswith(
        "POST /floating_ips/%d/actions/assign: action_failed: Action failed (action " % fid)
    assert fc.floating_ip(fid)["server"] is None


def test_assign_already_on_target_is_success(fc):
    fid, sid = setup_pair(fc, fip_server=5000000001)
    r = drive(fc, "assign", fid, sid, 10000)
    assert r.rc == 0, r.stderr
    assert len(api_requests(fc, r"/actions/assign$", "POST")) == 1
    assert len(api_requests(fc, r"^/v1/floating_ips/%d$" % fid, "GET")) == 1
    assert r.stats["retries"] == 0


def test_assign_refused_because_assigned_elsewhere_unassigns_then_assigns(fc):
    """api.md §4.1: an API that will not move an assigned IP directly
    answers 422 floating_ip_assigned; the client looks, unassigns, waits,
    and assigns again."""
    fid, sid = setup_pair(fc, fip_server=5000000002)
    fc.settings(reassign="reject")
    r = drive(fc, "assign", fid, sid, 10000, 5000000002)
    assert r.rc == 0, r.stderr
    assert fc.floating_ip(fid)["server"] == sid
    posts = [(q["method"], q["path"]) for q in fc.requests()
             if q["method"] == "POST" or re.search(r"/floating_ips/\d+$", q["path"])]
    assert posts == [
        ("POST", "/v1/floating_ips/%d/actions/assign" % fid),
        ("GET", "/v1/floating_ips/%d" % fid),
        ("POST", "/v1/floating_ips/%d/actions/unassign" % fid),
        ("POST", "/v1/floating_ips/%d/actions/assign" % fid)], posts
    assert [a["command"] for a in fc.actions()] == ["unassign_floating_ip", "assign_floating_ip"]
    assert r.requests_by("unassign") == 1 and r.requests_by("assign") == 2
    assert "unassigning it, then assigning it again" in r.stderr


def test_assign_refused_and_the_ip_on_a_third_server_is_left_alone(fc):
    """The plan found the IP on one server; by the time the API refuses
    the assign, somebody else put it on another. flipper does not unassign
    somebody else's choice: an error, and the next round plans again."""
    fid, sid = setup_pair(fc, fip_server=5000000002)
    fc.settings(reassign="reject")
    r = drive(fc, "assign", fid, sid, 10000, 5000000003)
    assert r.rc == 1
    assert ("floating_ip_assigned: floating IP %d is on server 5000000002, not on 5000000003 "
            "as planned" % fid in r.error_line()), r.stderr
    assert api_requests(fc, r"/actions/unassign$", "POST") == []
    assert fc.floating_ip(fid)["server"] == 5000000002


def test_assign_taken_again_by_someone_else_is_an_error(fc):
    """Between the unassign and the second assign someone else assigned
    the IP again: no loop, an error that says so."""
    fid, sid = setup_pair(fc, fip_server=5000000002)
    fc.settings(reassign="reject")
    fc.add_fault(method="POST", path=r"/actions/assign$", status=422,
                 code="floating_ip_assigned", message="The Floating IP is already assigned",
                 count=-1)
    r = drive(fc, "assign", fid, sid, 10000)
    assert r.rc == 1
    assert ("floating_ip_assigned: floating IP %d was assigned again by someone else" % fid
            in r.error_line()), r.stderr
    assert len(api_requests(fc, r"/actions/assign$", "POST")) == 2
    assert len(api_requests(fc, r"/actions/unassign$", "POST")) == 1


def test_assign_retries_locked_then_succeeds(fc):
    fid, sid = setup_pair(fc)
    fc.add_fault(method="POST", path=r"/actions/assign$", status=423, code="locked",
                 count=2)
    r = drive(fc, "assign", fid, sid, 10000)
    assert r.rc == 0, r.stderr
    assert len(api_requests(fc, r"/actions/assign$", "POST")) == 3
    assert r.stats["retries"] == 2
    assert fc.floating_ip(fid)["server"] == sid


def test_assign_poll_retries_transient_errors(fc):
    fid, sid = setup_pair(fc)
    fc.settings(action_polls=1, action_seconds=0)
    fc.add_fault(method="GET", path=r"^/v1/actions/", status=504, body="gateway timeout",
                 count=2)
    r = drive(fc, "assign", fid, sid, 10000)
    assert r.rc == 0, r.stderr
    assert r.stats["retries"] == 2


def test_assign_unknown_server_fails_fast(fc):
    fid, _ = setup_pair(fc)
    r = drive(fc, "assign", fid, 777, 10000)
    assert r.rc == 1
    assert "invalid_input" in r.error_line() and "(HTTP 422" in r.error_line()
    assert len(api_requests(fc, r"/actions/assign$", "POST")) == 1


def test_assign_deadline_while_action_runs(fc):
    fid, sid = setup_pair(fc)
    fc.settings(action_seconds=60)
    r = drive(fc, "assign", fid, sid, 1500)
    assert r.rc == 1
    (action,) = fc.actions()
    assert ("deadline_exceeded: action %d still running at the deadline" % action["id"]) \
        in r.error_line()
    # Gave up at the deadline, not when the action ended a minute later.
    assert 1.0 <= r.elapsed < 50, r.elapsed


# ---- retries -------------------------------------------------------------------

RETRY_CASES = {
    "409-conflict": {"status": 409, "code": "conflict"},
    "423-locked": {"status": 423, "code": "locked"},
    "429-rate-limit": {"status": 429, "code": "rate_limit_exceeded",
                       "headers": {"RateLimit-Remaining": "0"}},
    "502-json": {"status": 502, "code": "bad_gateway"},
    "502-html": {"status": 502, "body": "<html><h1>502 Bad Gateway</h1></html>"},
    "504-json": {"status": 504, "code": "timeout"},
    "504-plain": {"status": 504, "body": "upstream timed out"},
    "503-unavailable": {"status": 503, "code": "unavailable"},
    "dropped-connection": {"drop": True},
    "read-timeout": {"delay": 1.5},
}


@pytest.mark.parametrize("case", sorted(RETRY_CASES))
def test_retry_then_success(fc, case):
    fc.add_servers([server(51), server(52)])
    rule = dict(RETRY_CASES[case], path=r"^/v1/servers$", count=2)
    fc.add_faults(rule)
    r = drive(fc, "servers", "role=lb", HCLOUD_REQUEST_TIMEOUT_MS=500)
    assert r.rc == 0, r.stderr
    assert [s["id"] for s in r.items] == [51, 52]
    assert r.stats["retries"] == 2
    assert len(api_requests(fc, r"^/v1/servers$")) == 3
    assert "retrying" in r.stderr
    if case == "429-rate-limit":
        # The budget refills 1/s: each retry waited at least a second.
        assert r.elapsed >= 2.0


def test_connection_refused_is_retried_until_deadline(fc):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                     # nothing listens there now
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
         "HCLOUD_ENDPOINT": "http://127.0.0.1:%d/v1" % port, "HCLOUD_TOKEN": TOKEN,
         "HCLOUD_DEADLINE_MS": "1200"}
    e.update(BASE_ENV)
    p = subprocess.run([DRIVER, "servers", "role=lb"], env=e, capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 1
    assert TOKEN not in p.stderr and TOKEN not in p.stdout
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("hcloud-driver: GET /servers: transport: ")
    assert "deadline reached" in last
    stats = [json.loads(l)["stats"] for l in p.stdout.splitlines()][-1]
    assert stats["retries"] >= 2
    assert stats["requests"] and all(q["status"] == 0 for q in stats["requests"])


# ---- fail fast -------------------------------------------------------------------

def test_unauthorized_fails_fast_with_clear_message(fc):
    fc.add_servers([server(61)])
    r = drive(fc, "servers", "role=lb", token="wrong-token-123456")
    assert r.rc == 1
    line = r.error_line()
    assert line.startswith("GET /servers: unauthorized: unable to authenticate "
                           "(HTTP 401, correlation id ")
    assert line.endswith(")") and "attempts" not in line
    reqs = api_requests(fc, r".")
    assert len(reqs) == 1 and not reqs[0]["auth_ok"]
    assert r.stats["retries"] == 0


FAIL_FAST = {
    "403-forbidden": {"status": 403, "code": "forbidden"},
    "404-not-found": {"status": 404, "code": "not_found"},
    "422-invalid-input": {"status": 422, "code": "invalid_input"},
    "400-json-error": {"status": 400, "code": "json_error"},
    # Same statuses as retried codes: the code decides, not the status.
    "423-protected": {"status": 423, "code": "protected"},
    "409-uniqueness": {"status": 409, "code": "uniqueness_error"},
    "401-token-readonly": {"status": 401, "code": "token_readonly"},
    "410-deprecated": {"status": 410, "code": "deprecated_api_endpoint"},
    "500-plain": {"status": 500, "body": "internal error"},
    "503-html": {"status": 503, "body": "<html>maintenance</html>"},
    "301-redirect": {"status": 301, "body": "",
                     "headers": {"Location": "http://127.0.0.1:9/v1/servers"}},
}


@pytest.mark.parametrize("case", sorted(FAIL_FAST))
def test_fail_fast(fc, case):
    fc.add_servers([server(71)])
    rule = dict(FAIL_FAST[case], path=r"^/v1/servers$", count=-1)
    fc.add_faults(rule)
    r = drive(fc, "servers", "role=lb")
    assert r.rc == 1
    assert r.items == []
    assert len(api_requests(fc, r".")) == 1
    assert r.stats["retries"] == 0
    line = r.error_line()
    assert line.startswith("GET /servers: ")
    assert "(HTTP %d" % rule["status"] in line
    if "code" in rule:
        assert line.startswith("GET /servers: %s: " % rule["code"])
    else:
        assert line.startswith("GET /servers: http_error: ")


def test_assign_fail_fast_on_forbidden(fc):
    fid, sid = setup_pair(fc)
    fc.add_fault(method="POST", path=r"/actions/assign$", status=403, code="forbidden",
                 count=-1)
    r = drive(fc, "assign", fid, sid, 10000)
    assert r.rc == 1
    assert r.error_line().startswith(
        "POST /floating_ips/%d/actions/assign: forbidden: " % fid)
    assert len(api_requests(fc, r".")) == 1


# ---- deadlines -------------------------------------------------------------------

@pytest.mark.parametrize("rule", [
    {"status": 423, "code": "locked"},
    {"status": 503, "code": "unavailable"},
    {"status": 502, "body": "bad gateway"},
], ids=["locked", "unavailable", "502-plain"])
def test_endless_transient_errors_stop_at_deadline(fc, rule):
    fc.add_servers([server(81)])
    fc.add_faults(dict(rule, path=r"^/v1/servers$", count=-1))
    r = drive(fc, "servers", "role=lb", HCLOUD_DEADLINE_MS=2000)
    assert r.rc == 1
    line = r.error_line()
    assert "deadline reached" in line and "attempts" in line
    # The errors never end: only the deadline stopped the retries.
    assert r.elapsed >= 1.5, r.elapsed
    n = len(api_requests(fc, r"^/v1/servers$"))
    assert n >= 4 and r.stats["retries"] == n - 1


def test_assign_endless_locked_stops_at_deadline(fc):
    fid, sid = setup_pair(fc)
    fc.add_fault(method="POST", path=r"/actions/assign$", status=423, code="locked",
                 count=-1)
    r = drive(fc, "assign", fid, sid, 1500)
    assert r.rc == 1
    assert r.error_line().startswith("POST /floating_ips/%d/actions/assign: locked: " % fid)
    assert "deadline reached" in r.error_line()
    assert r.elapsed >= 1.0, r.elapsed


def test_slow_request_is_cut_at_deadline(fc):
    fc.add_servers([server(82)])
    fc.add_fault(path=r"^/v1/servers$", delay=30, count=-1)
    r = drive(fc, "servers", "role=lb", HCLOUD_DEADLINE_MS=1000)
    assert r.rc == 1
    assert "transport: " in r.error_line() and "deadline reached" in r.error_line()
    # Cut at the deadline: the API would have answered after 30 s.
    assert r.elapsed < 20, r.elapsed


# ---- hostile answers and secrets ---------------------------------------------

def test_token_echoed_by_api_is_redacted(fc):
    fc.add_fault(path=r"^/v1/servers$", status=401, code="unauthorized",
                 message="token %s is not valid\nnext line" % TOKEN, count=-1)
    r = drive(fc, "servers", "role=lb")
    assert r.rc == 1
    assert "token [redacted] is not valid next line" in r.error_line()


@pytest.mark.parametrize("cut_at", [120, 1024])
def test_token_cut_short_by_a_length_cap_is_still_redacted(fc, cut_at):
    """A cap on remote text can leave only the token's first characters;
    those are still the token. 120: the snippet of a non-API answer (a proxy
    page echoing the request); 1024: the cap on an API error message."""
    lead = "x" * (cut_at - 20)
    if cut_at == 120:
        fc.add_fault(path=r"^/v1/servers$", status=403, count=-1,
                     body=lead + "Bearer " + TOKEN + " rest of the page",
                     content_type="text/html")
    else:
        fc.add_fault(path=r"^/v1/servers$", status=403, code="forbidden",
                     message=lead + "Bearer " + TOKEN, count=-1)
    r = drive(fc, "servers", "role=lb")
    assert r.rc == 1
    line = r.error_line()
    assert "Bearer [redacted]" in line, line
    for n in range(8, len(TOKEN) + 1):
        assert TOKEN[:n] not in r.stdout + r.stderr


def test_oversized_body_is_an_error(fc):
    fc.add_fault(path=r"^/v1/servers$", status=200, body="x" * (9 << 20),
                 content_type="application/json", count=-1)
    r = drive(fc, "servers", "role=lb")
    assert r.rc == 1
    assert "response_too_large" in r.error_line()
    assert len(api_requests(fc, r"^/v1/servers$")) == 1


def test_garbage_success_body_is_an_error(fc):
    fc.add_fault(path=r"^/v1/servers$", status=200,
                 body='{"servers":[{"id":"12","name":"x"}],'
                      '"meta":{"pagination":{"next_page":null}}}',
                 content_type="application/json", count=-1)
    r = drive(fc, "servers", "role=lb")
    assert r.rc == 1
    assert r.error_line().startswith(
        "GET /servers: invalid_response: servers[0].id: expected an integer (HTTP 200")


def test_bad_token_characters_rejected_before_any_request(fc):
    r = drive(fc, "servers", "role=lb", token="abc def\r\nX-Evil: 1")
    assert r.rc == 1
    assert "token contains spaces or control characters" in r.stderr
    assert api_requests(fc, r".") == []
