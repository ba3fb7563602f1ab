"""Black-box tests of notifications, the outbox and the heartbeat: the real
flipper against the fake Hetzner API, real backends and the webhook sink
(tests/world), all on loopback.

Every message kind of SPEC 3 is produced by a real round and its JSON
payload asserted as the sink received it. The outbox tests take the
webhook down (refused, 5xx, slow, killed mid-delivery) and check that
everything arrives later, in order, without loss; the heartbeat tests
check its cadence across invocations and its silence while the API
fails.

FLIPPER_NOTIFY_BACKOFF_MS (a test knob read by src/notify.c) shortens the
first retry delay so retries happen on the next invocation instead of
15 s later.

Run: cd /work/main && make flipper && \\
     FLIPPER=$PWD/flipper /usr/bin/python3 -m pytest -q tests/blackbox/test_notify.py
"""

import json
import re
import os
import signal
import sqlite3
import time

import pytest

import world
from conftest import HOOK_PATH, LB_A, LB_B, LB_C, TOKEN, VIP_1, VIP_2

CONSOLE = "https://console.hetzner.com/projects/4242"
FAST_RETRY = {"FLIPPER_NOTIFY_BACKOFF_MS": "1"}
HEAD = "group **Web** (`web`)"


@pytest.fixture
def env(env):
    yield env
    env.stop_all()      # nothing started in the background may outlive a test


def group(env, gid="web", name="Web", project_id=4242, token=TOKEN,
          endpoint=None, **extra):
    """A group like conftest's default, with the fast check."""
    hz = {"api_token": token, "endpoint": endpoint or env.cloud.endpoint,
          "servers": {"label_selector": "role=lb"},
          "floating_ips": {"label_selector": "role=vip"}}
    if project_id is not None:
        hz["project_id"] = project_id
    g = {"id": gid, "display_name": name, "poll_interval": "always",
         "poll_timeout": "2s", "plan_apply_timeout": "20s", "hetzner": hz,
         "checks": [env.check()]}
    g.update(extra)
    return g


def configure(env, targets=None, **kw):
    """env.config() with the fast check; targets replaces the webhook list."""
    kw.setdefault("checks", [env.check()])
    cfg = env.config(**kw)
    if targets is not None:
        cfg["notifications"] = {"enabled": True, "targets": targets}
        with open(env.config_path, "w") as f:
            json.dump(cfg, f, indent=2)
    return cfg


def reconcile(env, *args, rc=0, extra_env=None):
    """One round; the 100 ms check interval is always due again."""
    time.sleep(0.1)
    r = env.reconcile(*args, env=extra_env)
    assert r.rc == rc, r
    return r


def new_texts(env, before):
    return env.texts()[before:]


def by_title(texts, title):
    return [t for t in texts if title in t]


def one(texts, title):
    found = by_title(texts, title)
    assert len(found) == 1, (title, texts)
    return found[0]


def assert_header(text, title, emoji=None):
    first = text.splitlines()[0]
    assert "**%s**" % title in first, text
    assert HEAD in first, text
    assert "[console](%s/servers)" % CONSOLE in first, text
    if emoji:
        assert first.startswith(emoji), text


def link(name, sid):
    return "[%s](%s/servers/%d/overview)" % (name, CONSOLE, sid)


def assigns(env):
    return env.cloud.requests("POST", r"/actions/assign$")


def to_slack(md):
    """What flipper's Mattermost Markdown becomes for a Slack webhook."""
    md = md.replace("&", "&amp;")
    md = re.sub(r"\[([^\]]*)\]\(([^)]*)\)", r"<\2|\1>", md)
    md = md.replace("**", "*")
    md = re.sub(r"\\([^<>])", r"\1", md)
    return md


# ---- message kinds ---------------------------------------------------------

def test_started_watching_once_with_payload_fields(env):
    env.pair()
    configure(env, targets=[
        {"type": "mattermost", "url": env.sink.url + HOOK_PATH, "channel": "ops",
         "username": "flipper", "icon_url": "https://example.test/flipper.png"},
        {"type": "slack", "url": env.sink.url + "/hooks/slack", "channel": "#alerts",
         "icon_emoji": ":rotating_light:"}])
    reconcile(env)
    reconcile(env)

    mm = env.sink.requests("POST", HOOK_PATH)
    sl = env.sink.requests("POST", "/hooks/slack")
    assert len(mm) == 1 and len(sl) == 1, (mm, sl)
    body = mm[0]["body"]
    assert set(body) == {"text", "channel", "username", "icon_url"}
    assert body["channel"] == "ops"
    assert body["username"] == "flipper"
    assert body["icon_url"] == "https://example.test/flipper.png"
    assert mm[0]["headers"]["Content-Type"] == "application/json"
    assert sl[0]["body"] == {"text": to_slack(body["text"]), "channel": "#alerts",
                             "icon_emoji": ":rotating_light:"}
    # Slack's mrkdwn: *bold* and <url|text>, not Mattermost's **bold** and [text](url).
    assert sl[0]["body"]["text"].startswith(":wave: *flipper started watching* — group *Web* (`web`)")
    assert "<https://console.hetzner.com/projects/4242/servers|console>" in sl[0]["body"]["text"]
    assert "**" not in sl[0]["body"]["text"] and "](" not in sl[0]["body"]["text"]
    text = body["text"]
    assert_header(text, "flipper started watching", ":wave:")
    assert "Watching 2 servers and 1 floating IP with 1 check." in text
    # Servers came from unknown: that is not "healthy again".
    assert "healthy again" not in json.dumps([r["body"] for r in mm + sl])


def test_unhealthy_then_healthy_again(env):
    env.pair()
    configure(env)
    reconcile(env)
    n = len(env.texts())
    assert n == 1     # started watching only

    env.backends.set("127.0.0.11", env.port, status=503)
    reconcile(env)
    texts = new_texts(env, n)
    down = texts[0]
    assert_header(down, "Server unhealthy", ":red_circle:")
    assert "Server %s (fsn1) is **unhealthy** (was healthy)." % link("lb-a", LB_A) in down
    assert "- check HTTP health (IPv4): `HTTP 503` — 1 failure in a row" in down
    assert "lb-b" not in down
    assert by_title(texts, "Executing plan") and by_title(texts, "Plan applied")
    env.cloud.wait_assigned(VIP_1, LB_B)

    n = len(env.texts())
    reconcile(env)     # still down: no repeat
    assert not by_title(new_texts(env, n), "Server unhealthy")

    env.backends.set("127.0.0.11", env.port, status=200)
    reconcile(env)
    up = one(new_texts(env, n), "Server healthy again")
    assert_header(up, "Server healthy again", ":large_green_circle:")
    assert "Server %s (fsn1) is **healthy** again." % link("lb-a", LB_A) in up


def _two_checks(env):
    env.pair()
    env.alt_port = env.backends.add("127.0.0.12", 0)["port"]   # nothing on lb-a there
    alt = env.check(id="alt", display_name="Alt port", port=env.alt_port, path="/alt")
    configure(env, checks=[env.check(), alt])


def test_unhealthy_names_every_failed_check_and_its_error(env):
    _two_checks(env)
    # lb-a: 503 on one check, nothing listening on the other.
    env.backends.set("127.0.0.11", env.port, status=503)
    reconcile(env)
    down = one(env.texts(), "Server unhealthy")
    assert "Server %s (fsn1) is **unhealthy** (was unknown)." % link("lb-a", LB_A) in down
    lines = [l for l in down.splitlines() if l.startswith("- check ")]
    assert len(lines) == 2, down
    assert "- check HTTP health (IPv4): `HTTP 503` — 1 failure in a row" in lines
    alt_line = [l for l in lines if "Alt port" in l][0]
    assert "Couldn't connect to server" in alt_line, alt_line
    assert "port %d" % env.alt_port in alt_line, alt_line


def test_second_round_with_two_checks_per_server(env):
    _two_checks(env)
    reconcile(env)
    reconcile(env)


def test_executing_plan_and_success_outcome(env):
    env.pair()
    configure(env)
    reconcile(env)
    n = len(env.texts())
    env.backends.set("127.0.0.11", env.port, status=503)
    reconcile(env)
    texts = new_texts(env, n)
    assert [t.splitlines()[0].split("**")[1] for t in texts] == [
        "Server unhealthy", "Executing plan", "Plan applied"]
    plan = texts[1]
    assert_header(plan, "Executing plan", ":twisted_rightwards_arrows:")
    assert ("- vip-1 `198.51.100.1`: %s (unhealthy) → %s (healthy), reason: target_unhealthy"
            % (link("lb-a", LB_A), link("lb-b", LB_B))) in plan
    done = texts[2]
    assert_header(done, "Plan applied", ":white_check_mark:")
    assert "All 1 action succeeded." in done
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_B


def test_plan_failure_names_action_and_api_error(env):
    env.pair()
    configure(env)
    reconcile(env)
    n = len(env.texts())
    env.cloud.add_fault(method="POST", path=r"/actions/assign$", status=422,
                        code="invalid_input", message="server 5000000002 is in maintenance",
                        count=-1)
    env.backends.set("127.0.0.11", env.port, status=503)
    reconcile(env, rc=1)
    texts = new_texts(env, n)
    assert by_title(texts, "Executing plan")
    failed = one(texts, "Plan failed")
    assert_header(failed, "Plan failed", ":x:")
    assert "1 of 1 actions failed:" in failed
    line = [l for l in failed.splitlines() if l.startswith("- vip-1 → lb-b: `")]
    assert line, failed
    assert "server 5000000002 is in maintenance" in line[0]
    assert "invalid_input" in line[0]
    assert not by_title(texts, "Plan applied")
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_A


def test_a_plan_that_keeps_failing_is_told_once_then_on_change_and_on_success(env):
    """A plan the API keeps refusing is retried every round but told once:
    again when what fails changes, as an hourly reminder, and when it
    finally succeeds. Without this a timer posts two messages a minute."""
    env.pair()
    configure(env)
    reconcile(env)
    n = len(env.texts())
    env.cloud.add_fault(method="POST", path=r"/actions/assign$", status=422,
                        code="invalid_input", message="server in maintenance", count=-1)
    env.backends.set("127.0.0.11", env.port, status=503)
    reconcile(env, rc=1)
    texts = new_texts(env, n)
    assert [t.splitlines()[0].split("**")[1] for t in texts] == [
        "Server unhealthy", "Executing plan", "Plan failed"], texts
    assert "tells again when what fails changes, or in an hour" in texts[2]
    n = len(env.texts())

    # The same failure again: retried (an assign each time), logged, not told.
    tries = len(assigns(env))
    for _ in range(2):
        r = reconcile(env, rc=1)
        assert any(l.get("msg") == "the plan failed again the same way; not notified"
                   for l in r.logs()), r.err
    assert len(assigns(env)) > tries
    assert new_texts(env, n) == []
    st = json.loads(env.run("status", "--json").out)
    failing = st["groups"][0]["failing_plan"]
    assert failing["attempts"] == 3 and failing["errors"].endswith(":invalid_input;"), failing
    assert "plan failing: 3 attempts" in env.run("status").out

    # What fails changes: told again, with the attempt count.
    env.cloud.clear_faults()
    env.cloud.add_fault(method="POST", path=r"/actions/assign$", status=403,
                        code="forbidden", message="token is read-only", count=-1)
    reconcile(env, rc=1)
    texts = new_texts(env, n)
    failed = one(texts, "Plan failed")
    assert "Attempt 4, failing since " in failed and "forbidden" in failed, failed
    assert not by_title(texts, "Executing plan")
    n = len(env.texts())

    # An hour on (the clock of the last message moved back): a reminder
    # that names the plan, then quiet again.
    con = sqlite3.connect(env.state)
    con.execute("UPDATE groups SET failed_told_at = failed_told_at - 3600000")
    con.commit()
    con.close()
    reconcile(env, rc=1)
    texts = new_texts(env, n)
    still = one(texts, "Plan still failing")
    assert "Attempt 5" in still and "vip-1" in still and "→" in still, still
    n = len(env.texts())
    reconcile(env, rc=1)
    assert new_texts(env, n) == []

    # It succeeds: one message that says how long it took; nothing stored.
    env.cloud.clear_faults()
    reconcile(env)
    texts = new_texts(env, n)
    assert [t.splitlines()[0].split("**")[1] for t in texts] == ["Plan applied"], texts
    assert "after 6 failed attempts since " in texts[0], texts[0]
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_B
    st = json.loads(env.run("status", "--json").out)
    assert st["groups"][0]["failing_plan"] is None


def test_resources_added_and_removed(env):
    env.pair()
    configure(env)
    reconcile(env)
    # The first poll is not a change.
    assert not by_title(env.texts(), "Resources changed")
    n = len(env.texts())

    env.add_lb(LB_C, "lb-c", "127.0.0.13")
    env.add_vip(VIP_2, "vip-2", "198.51.100.2", LB_B)
    reconcile(env)
    added = one(new_texts(env, n), "Resources changed")
    assert_header(added, "Resources changed", ":arrows_counterclockwise:")
    assert "- added server lb-c (%d)" % LB_C in added
    assert "- added floating IP vip-2 (%d)" % VIP_2 in added
    assert "removed" not in added

    n = len(env.texts())
    reconcile(env)     # nothing changed: nothing said
    assert not by_title(new_texts(env, n), "Resources changed")

    env.cloud.delete_server(LB_C)
    env.cloud.delete_floating_ip(VIP_2)
    reconcile(env)
    removed = one(new_texts(env, n), "Resources changed")
    assert "- removed server lb-c (%d)" % LB_C in removed
    assert "- removed floating IP vip-2 (%d)" % VIP_2 in removed
    assert "added" not in removed


def test_readonly_plan_notified_once_per_distinct_plan(env):
    env.pair()
    configure(env, group_extra={"readonly": True})
    reconcile(env)
    n = len(env.texts())
    env.backends.set("127.0.0.11", env.port, status=503)
    reconcile(env)
    ro = one(new_texts(env, n), "Readonly plan")
    assert_header(ro, "Readonly plan (not applied)", ":eyes:")
    assert ("- vip-1 `198.51.100.1`: %s (unhealthy) → %s (healthy), reason: target_unhealthy"
            % (link("lb-a", LB_A), link("lb-b", LB_B))) in ro

    n = len(env.texts())
    reconcile(env)
    reconcile(env)
    assert not by_title(new_texts(env, n), "Readonly plan")

    # A different plan is news again.
    env.add_vip(VIP_2, "vip-2", "198.51.100.2", LB_A)
    reconcile(env)
    ro2 = one(new_texts(env, n), "Readonly plan")
    assert "vip-1" in ro2 and "vip-2" in ro2
    n = len(env.texts())
    reconcile(env)
    assert not by_title(new_texts(env, n), "Readonly plan")
    assert not assigns(env)
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_A


@pytest.mark.parametrize("mode,title,emoji", [("freeze", "Frozen", ":snowflake:"),
                                                ("spread", "Fail-open", ":rotating_light:")])
def test_nothing_healthy_alert_once(env, mode, title, emoji):
    env.pair()
    configure(env, group_extra={"when_none_healthy": mode})
    reconcile(env)
    n = len(env.texts())
    env.backends.set("127.0.0.11", env.port, status=503)
    env.backends.set("127.0.0.12", env.port, status=503)
    reconcile(env)
    texts = new_texts(env, n)
    assert len(by_title(texts, "Server unhealthy")) == 2
    fo = one(texts, title)
    assert_header(fo, title, emoji)
    assert "No server in this group is healthy" in fo
    n = len(env.texts())
    reconcile(env)
    assert new_texts(env, n) == []
    # The IP stays where it is.
    assert not assigns(env)


def test_location_without_healthy_server(env):
    env.pair(loc_a="fsn1", loc_b="nbg1")
    configure(env)
    reconcile(env)
    n = len(env.texts())
    env.backends.set("127.0.0.11", env.port, status=503)
    reconcile(env)
    texts = new_texts(env, n)
    loc = one(texts, "Location without a healthy server")
    assert_header(loc, "Location without a healthy server", ":warning:")
    body = loc.splitlines()[1]
    assert body.startswith("No healthy server in: ") and "fsn1" in body, loc
    assert "nbg1" not in loc
    plan = one(texts, "Executing plan")
    assert "→ %s (healthy)" % link("lb-b", LB_B) in plan
    n = len(env.texts())
    reconcile(env)
    assert not by_title(new_texts(env, n), "Location without")


def test_location_alert_names_locations_plainly(env):
    env.pair(loc_a="fsn1", loc_b="nbg1")
    configure(env)
    reconcile(env)
    env.backends.set("127.0.0.11", env.port, status=503)
    reconcile(env)
    loc = one(env.texts(), "Location without a healthy server")
    assert "No healthy server in: fsn1." in loc


def _three_for_refusal(env):
    env.pair()
    env.add_lb(LB_C, "lb-c", "127.0.0.13")
    env.add_vip(VIP_2, "vip-2", "198.51.100.2", LB_B)
    configure(env, group_extra={"max_actions_per_round": 1})
    reconcile(env)
    env.backends.set("127.0.0.11", env.port, status=503)
    env.backends.set("127.0.0.12", env.port, status=503)


def test_plan_refused_by_max_actions_per_round(env):
    _three_for_refusal(env)
    n = len(env.texts())
    reconcile(env)
    texts = new_texts(env, n)
    ref = one(texts, "Plan refused")
    assert_header(ref, "Plan refused", ":no_entry:")
    assert "The plan has 2 actions, more than max\\_actions\\_per\\_round (1)." in ref
    assert "Nothing was applied." in ref
    assert "- vip-1 `198.51.100.1`: %s (unhealthy) → %s (healthy)" % (
        link("lb-a", LB_A), link("lb-c", LB_C)) in ref
    assert "- vip-2 `198.51.100.2`: %s (unhealthy) → %s (healthy)" % (
        link("lb-b", LB_B), link("lb-c", LB_C)) in ref
    assert not by_title(texts, "Executing plan")
    assert not assigns(env)


def test_plan_refused_notified_once_while_unchanged(env):
    # Not every round: a --for 55s run with a 2 s interval would say it ~27 times.
    _three_for_refusal(env)
    reconcile(env)
    reconcile(env)
    reconcile(env)
    assert len(by_title(env.texts(), "Plan refused")) == 1
    assert not assigns(env)
    # Once the plan fits, it is applied.
    env.backends.set("127.0.0.11", env.port, status=200)
    reconcile(env)
    assert len(assigns(env)) == 1
    assert env.cloud.floating_ip(VIP_2)["server"] == LB_C


def test_plan_refused_again_after_it_went_away_is_notified_again(env):
    _three_for_refusal(env)
    reconcile(env)
    assert len(by_title(env.texts(), "Plan refused")) == 1
    # Both recover: nothing to do, nothing pending.
    env.backends.set("127.0.0.11", env.port, status=200)
    env.backends.set("127.0.0.12", env.port, status=200)
    reconcile(env)
    # The same failure again is news again.
    env.backends.set("127.0.0.11", env.port, status=503)
    env.backends.set("127.0.0.12", env.port, status=503)
    reconcile(env)
    assert len(by_title(env.texts(), "Plan refused")) == 2
    assert not assigns(env)


def test_corrupt_state_reset_is_notified(env):
    env.pair()
    configure(env)
    reconcile(env)              # flipper's state, and the lock marked for it
    env.sink.reset()
    with open(env.state, "wb") as f:
        f.write(b"this is not an SQLite database\n" * 200)
    r = reconcile(env)
    moved = [p for p in os.listdir(env.tmp) if p.startswith("state.db.corrupt-")]
    assert len(moved) == 1, os.listdir(env.tmp)
    texts = env.texts()
    assert len(texts) == 2, texts
    reset, started = texts
    assert reset.startswith(":warning: **State reset**"), reset
    assert "moved aside to `%s`" % os.path.join(str(env.tmp), moved[0]) in reset
    assert "health counters begin again" in reset
    assert "flipper started watching" in started
    assert any(l.get("msg", "").startswith("the state file was not a usable flipper database")
               for l in r.logs())
    # Said once: the next round has a good state.
    reconcile(env)
    assert len(by_title(env.texts(), "State reset")) == 1


def test_no_project_id_means_no_console_links(env):
    env.pair()
    configure(env, groups=[group(env, project_id=None)])
    reconcile(env)
    env.backends.set("127.0.0.11", env.port, status=503)
    reconcile(env)
    texts = env.texts()
    assert len(texts) == 4, texts
    for t in texts:
        assert "console.hetzner" not in t and "](" not in t, t
        assert "group **Web** (`web`)\n" in t.splitlines()[0] + "\n", t
    assert "Server **lb-a** (fsn1) is **unhealthy**" in texts[1]
    assert "**lb-a** (unhealthy) → **lb-b** (healthy)" in texts[2]


def test_group_id_with_underscore_reads_well(env):
    env.pair()
    configure(env, groups=[group(env, gid="web_eu", name="Web EU")])
    reconcile(env)
    assert "group **Web EU** (`web_eu`)" in env.texts()[0]


def test_notifications_disabled_queue_nothing(env):
    env.pair()
    configure(env, notifications=False)
    reconcile(env)
    env.backends.set("127.0.0.11", env.port, status=503)
    reconcile(env)
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_B
    assert env.sink.requests() == []
    assert env.outbox() == []


# ---- the outbox -----------------------------------------------------------

def _churn(env, extra_env=None):
    """Rounds that produce messages: started watching; lb-a fails
    (unhealthy, executing, applied); lb-a back (healthy again, executing,
    applied: vip-1's canonical server). Returns the runs. env.pair(canonical=True)."""
    runs = [reconcile(env, extra_env=extra_env)]
    env.backends.set("127.0.0.11", env.port, status=503)
    runs.append(reconcile(env, extra_env=extra_env))
    env.cloud.wait_assigned(VIP_1, LB_B)
    env.backends.set("127.0.0.11", env.port, status=200)
    runs.append(reconcile(env, extra_env=extra_env))
    env.cloud.wait_assigned(VIP_1, LB_A)
    return runs


def test_webhook_down_then_up_everything_in_order_once(env):
    env.pair(canonical=True)
    configure(env)
    env.sink.mode(down=True)          # connection refused
    runs = _churn(env, FAST_RETRY)
    env.sink.mode(down=False, status=500)   # up, but failing
    runs.append(reconcile(env, extra_env=FAST_RETRY))
    assert len(env.sink.requests("POST", HOOK_PATH)) == 1   # only the head was tried
    env.sink.mode(down=True)
    runs.append(reconcile(env, extra_env=FAST_RETRY))

    queued = env.outbox()
    kinds = [k for k, _, _ in queued]
    assert kinds == ["started_watching", "server_unhealthy", "plan_executing",
                     "plan_outcome", "server_healthy", "plan_executing", "plan_outcome"]
    assert queued[0][2] == 5          # the head: one attempt per round
    assert all(a == 0 for _, _, a in queued[1:])
    # Applying never waited for the webhook.
    assert len(assigns(env)) == 2

    env.sink.clear()
    env.sink.mode(down=False, status=200, delay=0.2)   # slow, within the timeout
    runs.append(reconcile(env, extra_env=FAST_RETRY))
    got = env.webhooks()
    assert got == [p for _, p, _ in queued]
    assert env.outbox() == []
    runs.append(reconcile(env, extra_env=FAST_RETRY))
    assert env.webhooks() == got       # nothing twice

    # Each failure was logged, with the webhook redacted.
    logs = [l for r in runs for l in r.logs()]
    retry = [l for l in logs if l.get("msg") == "notification not delivered; will retry"]
    assert len(retry) == 5
    assert {l["webhook"] for l in retry} == {env.sink.url + "/…"}
    assert "HTTP 500" in {l["error"] for l in retry}
    assert any("Couldn't connect" in l["error"] for l in retry)
    secret = HOOK_PATH.rsplit("/", 1)[1]
    for r in runs:
        assert secret not in r.err and secret not in r.out
    for name in os.listdir(env.tmp):
        if name.startswith("state.db"):
            with open(os.path.join(env.tmp, name), "rb") as f:
                assert secret.encode() not in f.read(), name


def test_backoff_defers_retries_and_keeps_order(env):
    env.pair()
    configure(env)
    env.sink.mode(status=503)
    before = time.time() * 1000
    reconcile(env)                       # no knob: the real 15 s first delay
    after = time.time() * 1000
    assert len(env.sink.requests("POST", HOOK_PATH)) == 1
    (nxt, att), = env.db("SELECT next_attempt, attempts FROM outbox")
    assert att == 1
    # 15 s from the failed attempt, which came between before and after.
    assert before - 1 + 15000 <= nxt <= after + 15000, (before, nxt, after)

    env.backends.set("127.0.0.11", env.port, status=503)
    reconcile(env)                       # within the backoff: not even tried
    reconcile(env)
    assert len(env.sink.requests("POST", HOOK_PATH)) == 1
    # ... and the failover did not wait for it.
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_B
    assert [(k, a) for k, _, a in env.outbox()] == [
        ("started_watching", 1), ("server_unhealthy", 0), ("plan_executing", 0),
        ("plan_outcome", 0)]


def test_backoff_doubles(env):
    env.pair()
    configure(env, checks=[])
    env.sink.mode(status=500)
    knob = {"FLIPPER_NOTIFY_BACKOFF_MS": "300"}
    delays = []
    for _ in range(3):
        before = time.time() * 1000
        r = env.reconcile(env=knob)
        after = time.time() * 1000
        assert r.rc == 0, r
        (nxt, att), = env.db("SELECT next_attempt, attempts FROM outbox")
        delays.append((att, before, nxt, after))
        time.sleep(max(0.0, (nxt - time.time() * 1000) / 1000 + 0.05))
    assert [d[0] for d in delays] == [1, 2, 3]
    # The delay counts from the failed attempt, made between before and after.
    for (att, before, nxt, after), want in zip(delays, (300, 600, 1200)):
        assert before - 1 + want <= nxt <= after + want, delays
    assert len(env.sink.requests("POST", HOOK_PATH)) == 3
    env.sink.mode(status=200)
    r = env.reconcile(env=knob)
    assert r.rc == 0
    assert len(env.sink.requests("POST", HOOK_PATH)) == 4
    assert env.outbox() == []


def test_each_target_keeps_its_own_queue_and_order(env):
    """One webhook down must not hold back another; when it comes back it
    gets its whole backlog, in order."""
    env.pair(canonical=True)
    with world.Sink() as other:
        configure(env, targets=[
            {"type": "mattermost", "url": env.sink.url + HOOK_PATH, "channel": "ops"},
            {"type": "slack", "url": other.url + "/hooks/other", "username": "flipper"}])
        other.mode(down=True)
        _churn(env, FAST_RETRY)
        first = env.webhooks()
        assert len(first) == 7
        assert other.requests() == []
        queued = env.outbox()
        assert len(queued) == 7
        assert [p["text"] for _, p, _ in queued] == [to_slack(b["text"]) for b in first]
        # the original's default icon comes along: the target sets no icon_url
        assert all(p == {"text": p["text"], "username": "flipper", "icon_emoji": ":dolphin:"}
                   for _, p, _ in queued)

        other.mode(down=False)
        reconcile(env, extra_env=FAST_RETRY)
        assert [r["body"] for r in other.requests("POST", "/hooks/other")] == \
            [p for _, p, _ in queued]
        assert env.webhooks() == first      # the healthy target got nothing twice
        assert env.outbox() == []


def test_slow_webhook_delivered_once_after_the_apply(env):
    env.pair()
    configure(env)
    reconcile(env)
    env.sink.clear()
    env.sink.mode(delay=0.4)          # slow, well within the 5 s timeout
    env.backends.set("127.0.0.11", env.port, status=503)
    reconcile(env)
    reqs = env.sink.requests("POST", HOOK_PATH)
    assert [r["body"]["text"].split("**")[1] for r in reqs] == [
        "Server unhealthy", "Executing plan", "Plan applied"]
    # The floating IP moved (assign and its action polled to success)
    # before the first message of the round was even sent.
    api = env.cloud.requests()
    assign = [e for e in api if e["method"] == "POST"][0]
    last_api = max(e["time"] for e in api)
    assert assign["time"] < reqs[0]["time"]
    assert last_api <= reqs[0]["time"]
    assert env.outbox() == []
    reconcile(env)
    assert len(env.sink.requests("POST", HOOK_PATH)) == 3


def test_webhook_timeout_is_retried_at_least_once(env):
    """A webhook that receives the message but answers after flipper's
    5 s timeout cannot be told apart from one that never got it: the
    message stays queued and is sent again (at-least-once, documented in
    src/notify.h). It is never lost and order holds."""
    env.pair()
    configure(env)
    env.sink.mode(delay=6)
    t0 = time.monotonic()
    r = reconcile(env, extra_env=FAST_RETRY)
    took = time.monotonic() - t0
    assert took >= 4.5, took                # it gave the webhook its 5 s...
    retry = [l for l in r.logs() if l.get("msg") == "notification not delivered; will retry"]
    # ...and no more: it timed out rather than take the answer at 6 s.
    assert len(retry) == 1 and "timed out" in retry[0]["error"], retry
    assert [k for k, _, _ in env.outbox()] == ["started_watching"]

    env.sink.mode(delay=0)
    env.backends.set("127.0.0.11", env.port, status=503)
    reconcile(env, extra_env=FAST_RETRY)
    texts = [t.split("**")[1] for t in env.texts()]
    assert texts == ["flipper started watching", "flipper started watching",
                     "Server unhealthy", "Executing plan", "Plan applied"]
    assert env.outbox() == []


def test_killed_mid_delivery_resends_only_the_unacknowledged(env):
    """Each delivered message leaves the outbox at once (its own commit):
    flipper killed with SIGKILL during delivery sends again only the
    message that was in flight."""
    env.pair()
    configure(env)
    reconcile(env)
    env.sink.clear()
    env.sink.mode(delay=1.0)
    env.backends.set("127.0.0.11", env.port, status=503)
    time.sleep(0.15)                  # the 100 ms check is due again
    p = env.start("reconcile", "--once")
    try:
        env.sink.wait_for(2, timeout=20, method="POST", path=HOOK_PATH)
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
    env.sink.mode(delay=0)
    reconcile(env)
    texts = [t.split("**")[1] for t in env.texts()]
    assert texts == ["Server unhealthy", "Executing plan", "Executing plan", "Plan applied"]
    assert env.outbox() == []
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_B


# ---- heartbeat ---------------------------------------------------------------

def beat_cfg(env, interval="2s", timeout="1s"):
    return {"enabled": True, "url": env.sink.url + "/beat?src=flipper",
            "interval": interval, "timeout": timeout}


def test_heartbeat_once_per_interval_across_invocations(env):
    env.pair()
    configure(env, notifications=False, heartbeat=beat_cfg(env, "2s"))
    reconcile(env)
    beats = env.beats()
    assert len(beats) == 1
    assert beats[0]["query"] == {"src": ["flipper"]}
    assert beats[0]["raw_body"] == ""
    first = beats[0]["time"]
    reconcile(env)
    reconcile(env)
    assert len(env.beats()) == 1
    # The interval has passed since the last success: the next round beats
    # (a timer firing right at the interval must not skip a beat).
    time.sleep(max(0.0, first + 2.0 - time.time()))
    reconcile(env)
    beats = env.beats()
    assert len(beats) == 2
    assert beats[1]["time"] - first >= 1.8
    reconcile(env)
    assert len(env.beats()) == 2


def test_heartbeat_silent_while_the_api_fails(env):
    env.pair()
    configure(env, notifications=False, heartbeat=beat_cfg(env, "1s"))
    reconcile(env)
    assert len(env.beats()) == 1

    # 401: the round cannot complete.
    configure(env, notifications=False, heartbeat=beat_cfg(env, "1s"),
              groups=[group(env, token="wrong-token-0000")])
    time.sleep(1.1)
    r = reconcile(env, rc=1)
    assert any("unauthorized" in json.dumps(l) for l in r.logs()), r
    reconcile(env, rc=1)
    assert len(env.beats()) == 1

    # Unreachable: nothing listens there.
    configure(env, notifications=False, heartbeat=beat_cfg(env, "1s"),
              groups=[group(env, endpoint="http://127.0.0.1:9/v1", poll_timeout="1s")])
    reconcile(env, rc=1)
    assert len(env.beats()) == 1

    # One group of two failing is enough to stay silent.
    configure(env, notifications=False, heartbeat=beat_cfg(env, "1s"),
              groups=[group(env), group(env, gid="bad", name="Bad", token="nope-0000")])
    reconcile(env, rc=1)
    assert len(env.beats()) == 1

    configure(env, notifications=False, heartbeat=beat_cfg(env, "1s"))
    reconcile(env)
    assert len(env.beats()) == 2


def test_heartbeat_failure_is_retried_next_round(env):
    env.pair()
    configure(env, notifications=False, heartbeat=beat_cfg(env, "1h", "300ms"))
    env.sink.mode(status=500)
    r = reconcile(env)                     # the round itself is fine: exit 0
    assert [l for l in r.logs() if l.get("msg") == "heartbeat failed"]
    env.sink.mode(status=200, delay=1.5)   # too slow for heartbeat.timeout
    r = reconcile(env)
    # Cut at the 300 ms timeout: waiting for the answer would have been a success.
    fail = [l for l in r.logs() if l.get("msg") == "heartbeat failed"]
    assert fail and "timed out" in fail[0]["error"], fail
    assert "/beat" not in json.dumps(fail)      # the URL is redacted
    env.sink.mode(delay=0)
    reconcile(env)
    reconcile(env)                          # sent: not due for an hour
    assert len(env.beats()) == 3


def test_no_heartbeat_when_disabled(env):
    env.pair()
    configure(env, notifications=False,
              heartbeat=dict(beat_cfg(env), enabled=False))
    reconcile(env)
    assert env.sink.requests() == []
