"""`flipper status` is what an operator runs first when something looks
wrong: it must list every configured group (a group whose API calls fail
above all), say what failed and how long ago, exit non-zero when a group
is not working, read the state file that reconcile and monitor write (and
say which), and when there is none, point at the ones that exist."""

import json
import os

from conftest import TOKEN, run_flipper


def two_groups(env, db_token=TOKEN, state_path=None):
    env.pair()
    cfg = env.config(checks=[env.check()], notifications=False)
    web = cfg["groups"][0]
    db = json.loads(json.dumps(web))
    db.update(id="db", display_name="DB")
    db["hetzner"]["api_token"] = db_token
    cfg["groups"] = [web, db]
    if state_path:
        cfg["state"] = {"path": state_path}
    with open(env.config_path, "w") as f:
        json.dump(cfg, f)
    return cfg


def test_every_configured_group_with_its_error_and_exit_1(env):
    two_groups(env, db_token="wrong-token-0123456789abcdef")
    r = env.reconcile()
    assert r.rc == 1, r
    r = env.run("status")
    assert r.rc == 1, r
    assert r.out.splitlines()[0] == "state: %s" % env.state, r.out
    web = [l for l in r.out.splitlines() if l.startswith("group web")]
    db = [l for l in r.out.splitlines() if l.startswith("group db")]
    assert web and web[0].startswith("group web — ok, last pass "), r.out
    assert db and db[0].startswith("group db — FAILING in the inventory phase since "), r.out
    assert "ago" in db[0] and "last success never" in db[0], db
    lines = r.out.splitlines()
    err = lines[lines.index(db[0]) + 1]
    assert err.startswith("  last error: GET /servers: unauthorized"), err
    assert "wrong-token" not in r.out

    js = env.run("status", "--json")
    assert js.rc == 1, js
    doc = json.loads(js.out)
    assert doc["state"] == env.state
    groups = {g["id"]: g for g in doc["groups"]}
    assert [g["id"] for g in doc["groups"]] == ["web", "db"]     # the configuration's order
    assert groups["web"]["status"] == "ok" and groups["web"]["pass"]["last_ok_at"] > 0
    assert groups["db"]["status"] == "failing"
    assert groups["db"]["pass"]["failing"]["phase"] == "inventory"
    assert "unauthorized" in groups["db"]["pass"]["failing"]["error"]
    assert groups["db"]["pass"]["last_ok_at"] == 0

    # The working group alone: exit 0.
    assert env.run("status", "--group", "web").rc == 0


def test_a_group_that_never_ran_is_listed_and_fails(env):
    env.pair()
    cfg = env.config(checks=[env.check()], notifications=False)
    assert env.reconcile().rc == 0
    assert env.run("status").rc == 0
    new = json.loads(json.dumps(cfg["groups"][0]))
    new.update(id="new", display_name="New")
    cfg["groups"].append(new)
    with open(env.config_path, "w") as f:
        json.dump(cfg, f)
    r = env.run("status")
    assert r.rc == 1, r
    assert "group new — NO PASS RECORDED" in r.out, r.out
    assert json.loads(env.run("status", "--json").out)["groups"][1]["status"] == "never_passed"
    # A group removed from the configuration is shown for what it is, and
    # does not decide the exit status.
    cfg["groups"] = [new]
    with open(env.config_path, "w") as f:
        json.dump(cfg, f)
    assert env.reconcile().rc == 0
    r = env.run("status")
    assert r.rc == 0, r
    assert "group web — not in the configuration" in r.out, r.out


def test_state_path_resolved_as_reconcile_does(env, tmp_path):
    """No --state: state.path of the configuration, else $STATE_DIRECTORY,
    as reconcile; status names the file it read."""
    sd = tmp_path / "statedir"
    sd.mkdir()
    env.pair()
    env.config(checks=[env.check()], notifications=False)
    r = run_flipper("-c", env.config_path, "reconcile", env={"STATE_DIRECTORY": str(sd)},
                    cwd=str(tmp_path))
    assert r.rc == 0, r
    r = run_flipper("-c", env.config_path, "status", env={"STATE_DIRECTORY": str(sd)},
                    cwd=str(tmp_path))
    assert r.rc == 0, r
    assert r.out.splitlines()[0] == "state: %s" % (sd / "flipper.db"), r.out

    # state.path outranks $STATE_DIRECTORY, for both.
    two_groups(env, state_path=str(tmp_path / "configured.db"))
    r = run_flipper("-c", env.config_path, "reconcile", env={"STATE_DIRECTORY": str(sd)})
    assert r.rc == 0, r
    r = run_flipper("-c", env.config_path, "status", env={"STATE_DIRECTORY": str(sd)})
    assert r.rc == 0, r
    assert r.out.splitlines()[0] == "state: %s" % (tmp_path / "configured.db"), r.out
    # A symbolic link is read through, as reconcile follows it.
    os.symlink(str(tmp_path / "configured.db"), str(tmp_path / "link.db"))
    r = run_flipper("-c", env.config_path, "--state", str(tmp_path / "link.db"), "status")
    assert r.rc == 0, r
    assert r.out.splitlines()[0] == "state: %s" % (tmp_path / "configured.db"), r.out


def test_missing_state_lists_the_files_that_exist(env, tmp_path):
    env.pair()
    env.config(checks=[env.check()], notifications=False)
    assert env.reconcile().rc == 0
    sd = tmp_path / "sd"
    sd.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    for dest in (sd / "flipper.db", work / "flipper.db"):
        r = env.run("state", "backup", str(dest))
        assert r.rc == 0, r
    two_groups(env, state_path=str(tmp_path / "nowhere.db"))
    r = run_flipper("-c", env.config_path, "status", env={"STATE_DIRECTORY": str(sd)},
                    cwd=str(work))
    assert r.rc == 1 and r.out == "", r
    lines = r.err.splitlines()
    assert "no state file here" in lines[0] and str(tmp_path / "nowhere.db") in lines[0], r.err
    assert "state.path of the configuration" in lines[0], r.err
    assert lines[1] == "state files that exist:", r.err
    for f in (sd / "flipper.db", work / "flipper.db"):
        assert "    flipper --state %s status" % f in lines, r.err
    # What it suggests works.
    r = run_flipper("-c", env.config_path, "--state", str(sd / "flipper.db"), "status")
    assert r.rc == 1 and "group web — ok" in r.out and "group db — NO PASS RECORDED" in r.out, r

    # Nothing anywhere: it says so.
    r = run_flipper("--state", str(tmp_path / "none.db"), "status", cwd=str(tmp_path))
    assert r.rc == 1, r
    assert "has flipper run on this machine?" in r.err, r.err
