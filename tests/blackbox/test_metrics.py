"""Black-box tests of telemetry.metrics.textfile: the Prometheus text file
flipper writes after every round (for node_exporter's textfile collector).

The format is checked twice: by a strict parser of the text exposition
format written here (so it is checked on any machine), and by Prometheus's
own `promtool check metrics` when it is installed (Debian: prometheus;
/usr/bin/promtool). The content is checked against what really happened:
the fake API's request log, the backends, a failover.

Run: cd /work/main && make flipper && \\
     FLIPPER=$PWD/flipper /usr/bin/python3 -m pytest -q tests/blackbox/test_metrics.py
"""

import json
import math
import os
import re
import subprocess
import threading
import time

import pytest

from conftest import LB_A, LB_B, VIP_1, VIP_2, need_tool, stderr_of, wait_for


@pytest.fixture
def env(env):
    yield env
    env.stop_all()


# ---- a strict parser of the text exposition format (0.0.4) ------------------

class FormatError(AssertionError):
    pass


NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
VALUE_RE = re.compile(r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Inf)|NaN")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def _labels(line, pos, lineno):
    """Parse {a="b",...} at line[pos]; returns (dict, position after '}')."""
    out = {}
    pos += 1
    while True:
        if line.startswith("}", pos):
            return out, pos + 1
        m = LABEL_RE.match(line, pos)
        if not m:
            raise FormatError("line %d: bad label name at column %d" % (lineno, pos + 1))
        name = m.group(0)
        pos = m.end()
        if not line.startswith('="', pos):
            raise FormatError("line %d: expected =\" after label %s" % (lineno, name))
        pos += 2
        val = []
        while True:
            if pos >= len(line):
                raise FormatError("line %d: unterminated label value" % lineno)
            c = line[pos]
            if c == "\\":
                nxt = line[pos + 1:pos + 2]
                if nxt not in ("\\", '"', "n"):
                    raise FormatError("line %d: bad escape \\%s" % (lineno, nxt))
                val.append({"\\": "\\", '"': '"', "n": "\n"}[nxt])
                pos += 2
            elif c == '"':
                pos += 1
                break
            else:
                val.append(c)
                pos += 1
        if name in out:
            raise FormatError("line %d: label %s twice" % (lineno, name))
        if name.startswith("__"):
            raise FormatError("line %d: reserved label %s" % (lineno, name))
        out[name] = "".join(val)
        if line.startswith(",", pos):
            pos += 1
        elif not line.startswith("}", pos):
            raise FormatError("line %d: expected , or } at column %d" % (lineno, pos + 1))


def parse_prom(text):
    """Parse and validate; returns {family: {"type", "help", "samples":
    [(labels dict, value float)]}} in file order. Raises FormatError."""
    if not text.endswith("\n"):
        raise FormatError("the file does not end with a newline")
    fams = {}
    current = None          # the family whose samples may follow
    closed = set()          # families whose sample block has ended
    for lineno, line in enumerate(text[:-1].split("\n"), 1):
        if line.strip() == "":
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[0] == "#" and parts[1] in ("HELP", "TYPE"):
                kind, name = parts[1], parts[2]
                if not NAME_RE.fullmatch(name):
                    raise FormatError("line %d: bad metric name %r" % (lineno, name))
                rest = parts[3] if len(parts) == 4 else ""
                f = fams.get(name)
                if f is None:
                    if current is not None:
                        closed.add(current)
                    f = fams[name] = {"type": None, "help": None, "samples": []}
                    current = name
                elif name != current or f["samples"]:
                    raise FormatError("line %d: %s of %s after its samples or elsewhere"
                                      % (lineno, kind, name))
                if kind == "HELP":
                    if f["help"] is not None:
                        raise FormatError("line %d: second HELP for %s" % (lineno, name))
                    if re.search(r"\\[^\\n]|\\$", rest):
                        raise FormatError("line %d: bad escape in HELP" % lineno)
                    f["help"] = rest
                else:
                    if f["type"] is not None:
                        raise FormatError("line %d: second TYPE for %s" % (lineno, name))
                    if rest not in TYPES:
                        raise FormatError("line %d: unknown type %r" % (lineno, rest))
                    f["type"] = rest
            continue
        m = NAME_RE.match(line)
        if not m:
            raise FormatError("line %d: no metric name: %r" % (lineno, line))
        name = m.group(0)
        pos = m.end()
        labels = {}
        if line.startswith("{", pos):
            labels, pos = _labels(line, pos, lineno)
        if not line.startswith(" ", pos):
            raise FormatError("line %d: expected a space before the value" % lineno)
        fields = line[pos + 1:].split(" ")
        if not 1 <= len(fields) <= 2 or not VALUE_RE.fullmatch(fields[0]):
            raise FormatError("line %d: bad value/timestamp %r" % (lineno, line[pos + 1:]))
        if len(fields) == 2 and not re.fullmatch(r"-?\d+", fields[1]):
            raise FormatError("line %d: bad timestamp %r" % (lineno, fields[1]))
        value = float(fields[0])
        # Strict for what flipper writes: every sample is typed and
        # documented, and a family's samples are one block.
        if name not in fams or fams[name]["type"] is None or fams[name]["help"] is None:
            raise FormatError("line %d: sample of %s without HELP and TYPE" % (lineno, name))
        if name != current or name in closed:
            raise FormatError("line %d: samples of %s are not contiguous" % (lineno, name))
        f = fams[name]
        if any(l == labels for l, _ in f["samples"]):
            raise FormatError("line %d: duplicate series %s%s" % (lineno, name, labels))
        if f["type"] == "counter" and (math.isnan(value) or value < 0):
            raise FormatError("line %d: counter %s is %s" % (lineno, name, fields[0]))
        f["samples"].append((labels, value))
    return fams


def test_the_parser_itself_rejects_what_it_should():
    good = ('# HELP a_total Things.\n# TYPE a_total counter\na_total{x="1",y="q\\"\\\\\\n"} 3\n'
            '# HELP b Gauge.\n# TYPE b gauge\nb -1.5e3\nb{z=""} NaN\n')
    f = parse_prom(good)
    assert f["a_total"]["samples"] == [({"x": "1", "y": 'q"\\\n'}, 3.0)]
    assert f["b"]["samples"][0] == ({}, -1500.0)
    bad = [
        good[:-1],                                             # no final newline
        good + "a_total 1\n",                                  # not contiguous
        good.replace('b{z=""}', "b"),                          # duplicate series
        good.replace("# TYPE b gauge\n", ""),                  # untyped sample
        good.replace("# HELP b Gauge.\n", ""),                 # undocumented sample
        good.replace("b -1.5e3", "b 1,5"),                     # bad value
        good.replace("b -1.5e3", "b 1 2 3"),                   # junk after timestamp
        good.replace('x="1"', 'x="\\t"'),                      # bad escape
        good.replace('x="1"', 'x="1'),                         # unterminated
        good.replace('x="1"', '1x="1"'),                       # bad label name
        good + "a-b 1\n",                                       # bad metric name
        good.replace("# TYPE a_total", "# TYPE a-total"),      # bad name in TYPE
        good.replace("a_total{", "a_total{x=\"2\",").replace('x="2",x="1"', 'x="1",x="1"'),
        good.replace("3\n", "-3\n", 1),                        # negative counter
        good + "# TYPE b gauge\n",                             # second TYPE
        good.replace("counter", "countr"),                     # unknown type
    ]
    for i, text in enumerate(bad):
        with pytest.raises(FormatError):
            parse_prom(text)
            print("accepted bad case", i)


def promtool_check(text):
    """Prometheus' own verdict; the strict parser in this file ran before."""
    promtool = need_tool("promtool", "prometheus")
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, (p.stdout, p.stderr, text)
    # Lint findings are printed even when they are only advice.
    assert p.stdout.strip() == "" and p.stderr.strip() == "", (p.stdout, p.stderr)


# ---- helpers ------------------------------------------------------------------

def configure(env, **kw):
    kw.setdefault("checks", [env.check()])
    return env.config(metrics=True, **kw)


def reconcile(env, rc=0):
    time.sleep(0.1)
    r = env.reconcile()
    assert r.rc == rc, r
    return r


def read_metrics(env):
    with open(env.metrics) as f:
        return parse_prom(f.read())


def value(fams, name, **labels):
    found = [v for l, v in fams[name]["samples"] if all(l.get(k) == w for k, w in labels.items())]
    assert len(found) == 1, (name, labels, fams[name]["samples"])
    return found[0]


def series(fams, name):
    return fams[name]["samples"]


def api_counts(env):
    """The fake's request log as {(endpoint, status): n}, in flipper's
    endpoint names."""
    out = {}
    for e in env.cloud.requests():
        p = e["path"]
        if re.fullmatch(r"/v1/servers", p):
            k = "servers"
        elif re.fullmatch(r"/v1/floating_ips", p):
            k = "floating_ips"
        elif re.fullmatch(r"/v1/floating_ips/\d+/actions/assign", p):
            k = "assign"
        elif re.fullmatch(r"/v1/actions/\d+", p):
            k = "actions"
        else:
            k = p
        key = (k, str(e["status"] or 0))
        out[key] = out.get(key, 0) + 1
    return out


def flipper_api_counts(fams):
    return {(l["endpoint"], l["status"]): v for l, v in series(fams, "flipper_api_requests_total")
            if l["group"] == "web"}


# ---- content -----------------------------------------------------------------

def test_metrics_after_a_failover(env):
    env.pair()
    configure(env)
    reconcile(env)
    env.backends.set("127.0.0.11", env.port, status=503)
    before = time.time()
    reconcile(env)
    after = time.time()
    env.cloud.wait_assigned(VIP_1, LB_B)
    with open(env.metrics) as f:
        text = f.read()
    fams = parse_prom(text)

    want = {
        "flipper_server_health": "gauge",
        "flipper_check_duration_seconds": "gauge",
        "flipper_check_last_success_timestamp_seconds": "gauge",
        "flipper_floating_ip_assigned": "gauge",
        "flipper_actions_total": "counter",
        "flipper_api_requests_total": "counter",
        "flipper_api_ratelimit_remaining": "gauge",
        "flipper_notifications_queued": "gauge",
        "flipper_last_round_timestamp_seconds": "gauge",
        "flipper_api_budget_remaining": "gauge",
        "flipper_group_up": "gauge",
        "flipper_group_last_success_timestamp_seconds": "gauge",
        "flipper_group_failures_total": "counter",
        "flipper_group_failing_since_timestamp_seconds": "gauge",
        "flipper_last_round_duration_seconds": "gauge",
        "flipper_tls_certificate_expiry_timestamp_seconds": "gauge",
    }
    assert {n: f["type"] for n, f in fams.items()} == want
    assert all(f["help"] for f in fams.values())

    # Health by group, server and location: one status set per server.
    for status, a, b in (("healthy", 0, 1), ("unhealthy", 1, 0), ("unknown", 0, 0)):
        assert value(fams, "flipper_server_health", group="web", server="lb-a",
                     location="fsn1", status=status) == a
        assert value(fams, "flipper_server_health", group="web", server="lb-b",
                     location="fsn1", status=status) == b

    # Per target: the last check's duration and the last success.
    for srv in ("lb-a", "lb-b"):
        d = value(fams, "flipper_check_duration_seconds", group="web", server=srv,
                  check="http", family="ipv4")
        assert 0 <= d < 1.0
    # Whole seconds, so compare with the state's milliseconds: lb-a last
    # succeeded in the first round, lb-b in the second.
    ok_a = value(fams, "flipper_check_last_success_timestamp_seconds", server="lb-a")
    ok_b = value(fams, "flipper_check_last_success_timestamp_seconds", server="lb-b")
    stored = {(s["name"], t["family"]): t["last_ok"]
              for s in json.loads(env.run("status", "--json").out)["groups"][0]["servers"]
              for t in s["targets"]}
    ms_a, ms_b = stored[("lb-a", "ipv4")], stored[("lb-b", "ipv4")]
    assert (ok_a, ok_b) == (ms_a // 1000, ms_b // 1000), (ok_a, ok_b, stored)
    assert ms_a < before * 1000 <= ms_b + 1 and ms_b <= after * 1000, (ms_a, ms_b, before, after)

    # Which server the floating IP points at: the new one.
    assert series(fams, "flipper_floating_ip_assigned") == [
        ({"group": "web", "floating_ip": "vip-1", "ip": "198.51.100.1", "server": "lb-b"}, 1)]

    assert series(fams, "flipper_actions_total") == [({"group": "web", "result": "success"}, 1)]

    # API requests by endpoint and status: exactly what the fake saw.
    assert flipper_api_counts(fams) == api_counts(env)
    assert api_counts(env)[("assign", "201")] == 1

    rl = value(fams, "flipper_api_ratelimit_remaining", group="web")
    tokens = env.cloud.state()["rate"]["tokens"]
    assert 3600 - len(env.cloud.requests()) - 1 <= rl <= 3600 and abs(rl - tokens) < 10

    assert value(fams, "flipper_notifications_queued") == 0
    ts = value(fams, "flipper_last_round_timestamp_seconds")
    assert before <= ts <= after, (before, ts, after)
    # To the millisecond: the end of the group's last successful pass, as
    # the state recorded it.
    (ended,), = env.db("SELECT last_ok_at FROM group_pass WHERE group_id = 'web'")
    assert abs(ts - ended / 1000) < 1e-6, (ts, ended)
    assert value(fams, "flipper_group_last_success_timestamp_seconds", group="web") == ts
    assert value(fams, "flipper_group_up", group="web") == 1
    # Every phase counted from the start, at 0 while nothing failed.
    assert series(fams, "flipper_group_failures_total") == [
        ({"group": "web", "phase": ph}, 0)
        for ph in sorted(("inventory", "checks", "plan", "apply", "state"))]
    dur = value(fams, "flipper_last_round_duration_seconds")
    assert 0 < dur <= after - before

    promtool_check(text)


def test_counters_survive_invocations(env):
    env.pair(canonical=True)
    configure(env)
    reconcile(env)
    env.backends.set("127.0.0.11", env.port, status=503)
    reconcile(env)                      # vip-1 -> lb-b
    env.backends.set("127.0.0.11", env.port, status=200)
    reconcile(env)                      # and back (canonical)
    env.cloud.wait_assigned(VIP_1, LB_A)
    first = read_metrics(env)
    assert value(first, "flipper_actions_total", result="success") == 2
    env.cloud.add_fault(method="POST", path=r"/actions/assign$", status=422,
                        code="invalid_input", count=-1)
    env.backends.set("127.0.0.11", env.port, status=503)
    reconcile(env, rc=1)
    fams = read_metrics(env)
    assert series(fams, "flipper_actions_total") == [
        ({"group": "web", "result": "failure"}, 1), ({"group": "web", "result": "success"}, 2)]
    counts = flipper_api_counts(fams)
    assert counts == api_counts(env)
    assert counts[("assign", "422")] == 1
    for key, n in flipper_api_counts(first).items():
        assert counts[key] >= n
    # Health and the IP's target follow the last round only.
    assert value(fams, "flipper_server_health", server="lb-a", status="unhealthy") == 1
    assert value(fams, "flipper_floating_ip_assigned", floating_ip="vip-1") == 1
    assert series(fams, "flipper_floating_ip_assigned")[0][0]["server"] == "lb-a"


def test_outbox_depth_and_unassigned_ip(env):
    env.pair()
    env.add_vip(VIP_2, "vip-2", "198.51.100.2", None)
    configure(env, group_extra={"readonly": True})
    env.sink.mode(status=500)
    reconcile(env)
    fams = read_metrics(env)
    queued = len(env.outbox())
    assert queued >= 2          # started watching, the readonly plan
    assert value(fams, "flipper_notifications_queued") == queued
    assert value(fams, "flipper_floating_ip_assigned", floating_ip="vip-2") == 1
    assert [l["server"] for l, _ in series(fams, "flipper_floating_ip_assigned")] == ["lb-a", ""]
    # Nothing applied (readonly): no action samples, the family is still there.
    assert series(fams, "flipper_actions_total") == []
    with open(env.metrics) as f:
        promtool_check(f.read())


def test_file_is_replaced_atomically(env):
    """A reader polling the file while monitor rewrites it after passes
    only ever sees complete files; no temporary file is left behind."""
    env.pair()
    configure(env, checks=[env.check(interval="100ms")])
    p = env.start("monitor")
    wait_for(lambda: os.path.exists(env.metrics), 10, what="the metrics file")
    seen = {"reads": 0, "inodes": set(), "rounds": set(), "errors": []}
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                with open(env.metrics) as f:
                    seen["inodes"].add(os.fstat(f.fileno()).st_ino)
                    text = f.read()
                fams = parse_prom(text)
                if not fams["flipper_last_round_duration_seconds"]["samples"]:
                    seen["errors"].append("incomplete file")
                seen["rounds"].add(value(fams, "flipper_last_round_timestamp_seconds"))
            except (AssertionError, KeyError) as e:
                seen["errors"].append(repr(e))
            seen["reads"] += 1

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(4.5)
    stop.set()
    t.join()
    p.send_signal(15)
    assert p.wait(30) == 0, stderr_of(p)
    assert seen["errors"] == []
    assert seen["reads"] > 50
    # Rewritten pass after pass (at most once a second), each time as a
    # new file (rename), not in place (inode numbers may be reused, so
    # count loosely).
    assert len(seen["rounds"]) >= 3, seen["rounds"]
    assert len(seen["inodes"]) >= 2, seen["inodes"]
    leftovers = [n for n in os.listdir(env.tmp) if n.startswith("metrics.prom.")]
    assert leftovers == []
    assert oct(os.stat(env.metrics).st_mode & 0o777) == oct(0o644)


def test_file_is_readable_by_others_whatever_the_umask(env):
    # The shipped systemd units run flipper with UMask=0077 as a dynamic
    # user; node_exporter runs as another user and must still read the
    # file. The metrics hold no secret.
    env.pair()
    configure(env)
    time.sleep(0.1)
    r = env.reconcile(preexec=lambda: os.umask(0o077))
    assert r.rc == 0, r
    assert oct(os.stat(env.metrics).st_mode & 0o777) == oct(0o644)
    assert oct(os.stat(env.state).st_mode & 0o777) == oct(0o600)


def test_unwritable_path_is_a_warning_not_a_failure(env):
    env.pair()
    configure(env)
    cfgtext = open(env.config_path).read().replace(
        env.metrics, str(env.tmp / "no-such-dir" / "metrics.prom"))
    with open(env.config_path, "w") as f:
        f.write(cfgtext)
    r = reconcile(env)
    warn = [l for l in r.logs() if l.get("msg") == "metrics not written"]
    assert warn and "no-such-dir" in warn[0]["error"], r.err
    assert "No such file or directory" in warn[0]["error"]


def test_plan_writes_no_metrics(env):
    env.pair()
    configure(env)
    r = env.run("plan")
    assert r.rc == 0, r
    assert not os.path.exists(env.metrics)


# ---- a broken flipper must not look healthy ------------------------------------

def test_a_failing_group_is_down_and_counted(env):
    """Groups whose API fails: flipper_group_up 0, their failures counted
    by phase (and kept in the state across invocations), their last
    success and flipper_last_round_timestamp_seconds stay where the last
    good pass left them."""
    env.pair()
    cfg = configure(env)
    web = cfg["groups"][0]
    env.config(metrics=True, groups=[web, dict(web, id="web2", display_name="Web 2")])
    reconcile(env)
    good = read_metrics(env)
    assert value(good, "flipper_group_up", group="web") == 1
    last_ok = value(good, "flipper_group_last_success_timestamp_seconds", group="web")
    assert last_ok > 0
    assert value(good, "flipper_last_round_timestamp_seconds") == min(
        value(good, "flipper_group_last_success_timestamp_seconds", group=g)
        for g in ("web", "web2"))

    # The API fails for both groups.
    env.cloud.add_fault(method="GET", path=r"/v1/servers$", status=500, code="server_error",
                        count=-1)
    for n in (1, 2):
        reconcile(env, rc=1)
        fams = read_metrics(env)
        for gid in ("web", "web2"):
            assert value(fams, "flipper_group_up", group=gid) == 0
            assert value(fams, "flipper_group_failures_total", group=gid, phase="inventory") == n
            assert value(fams, "flipper_group_failures_total", group=gid, phase="apply") == 0
            assert value(fams, "flipper_group_last_success_timestamp_seconds",
                         group=gid) == value(good, "flipper_group_last_success_timestamp_seconds",
                                             group=gid)
        # The newest pass failed: the timestamp an alert watches does not move.
        assert value(fams, "flipper_last_round_timestamp_seconds") == value(
            good, "flipper_last_round_timestamp_seconds")
        failing = value(fams, "flipper_group_failing_since_timestamp_seconds", group="web",
                        phase="inventory")
        assert failing > last_ok
    with open(env.metrics) as f:
        promtool_check(f.read())

    env.cloud.clear_faults()
    reconcile(env)
    fams = read_metrics(env)
    assert value(fams, "flipper_group_up", group="web") == 1
    assert value(fams, "flipper_group_failures_total", group="web", phase="inventory") == 2
    assert value(fams, "flipper_group_last_success_timestamp_seconds", group="web") > last_ok
    assert series(fams, "flipper_group_failing_since_timestamp_seconds") == []


def test_a_state_from_before_schema_7_keeps_its_last_success(env):
    """sql/007 adds group_pass.last_ok_at; a state written before it takes
    its last pass's end as the last success when that pass succeeded. A
    failing pass after the upgrade leaves it there, so the metric an alert
    watches starts from what the old state knew, not from 0."""
    import sqlite3
    env.pair()
    configure(env)
    reconcile(env)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    migrations = sorted(n for n in os.listdir(os.path.join(root, "sql")) if n.endswith(".sql"))
    n_schema = len(migrations)
    before = 1700000000123
    con = sqlite3.connect(env.state, isolation_level=None)
    try:
        assert con.execute("PRAGMA user_version").fetchone()[0] == n_schema
        # Back to the schema before 007, as that flipper left it: what 007
        # and the migrations after it added goes (008: the safety rules).
        con.execute("ALTER TABLE group_pass DROP COLUMN last_ok_at")
        for table, cols in (("servers", ("vanished_at", "absent_listings", "gone")),
                            ("group_pass", ("confirm_listing", "corr_since", "corr_hold_until",
                                            "frozen_since", "thaw_since")),
                            ("outbox", ("target_key",))):
            for col in cols:
                con.execute("ALTER TABLE %s DROP COLUMN %s" % (table, col))
        con.execute("DROP TABLE apply_step")
        con.execute("UPDATE group_pass SET last_pass_at = ?, last_pass_ok = 1", (before,))
        con.execute("PRAGMA user_version = %d" % migrations.index("007-group-health.sql"))
    finally:
        con.close()
    env.cloud.add_fault(method="GET", path=r"/v1/servers$", status=500, code="server_error",
                        count=-1)
    reconcile(env, rc=1)
    fams = read_metrics(env)
    assert value(fams, "flipper_group_up", group="web") == 0
    assert value(fams, "flipper_group_last_success_timestamp_seconds",
                 group="web") == before / 1000
    assert env.db("PRAGMA user_version") == [(n_schema,)]
    assert env.db("SELECT last_ok_at FROM group_pass WHERE group_id = 'web'") == [(before,)]
