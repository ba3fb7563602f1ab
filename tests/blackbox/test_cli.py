"""The command line, through the binary: one option parser for every
command (--opt=value and --opt value, global options before or after the
command), one usage-error shape, help made from the option tables, -v, and
output that must reach its file (stdout checked at exit)."""

import json
import os
import re
import subprocess

import pytest

from conftest import FIXTURES, FLIPPER, run_flipper

COMMANDS = ["reconcile", "plan", "monitor", "status", "state", "simulate", "validate",
            "version", "help", "completion"]
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
SNAPSHOT = os.path.join(DATA, "simulate", "failover.json")


def usage_line(cmd):
    """The synopsis line of `flipper CMD --help`."""
    r = run_flipper(*cmd.split(), "--help")
    assert r.rc == 0, r
    return r.out.splitlines()[0]


def assert_usage_error(r, cmd, message):
    """The one shape: what is wrong, the synopsis, where to read more."""
    assert r.rc == 2, r
    assert r.out == "", r
    name = "flipper %s" % cmd if cmd else "flipper"
    hint = "Try 'flipper %s --help'." % cmd if cmd else "Try 'flipper help'."
    synopsis = usage_line(cmd) if cmd else run_flipper("help").out.splitlines()[0]
    assert r.err.splitlines() == ["%s: %s" % (name, message), synopsis, hint], r.err


@pytest.fixture
def state_env(env):
    """A state file that knows group web after one round."""
    env.pair()
    env.config(checks=[env.check()])
    r = env.reconcile()
    assert r.rc == 0, r
    return env


# ---- --opt=value everywhere --------------------------------------------------

def test_status_takes_group_and_snapshot_with_equals(state_env):
    e = state_env
    spaced = e.run("status", "--json", "--group", "web")
    joined = e.run("status", "--json", "--group=web")
    assert spaced.rc == joined.rc == 0, (spaced, joined)
    assert joined.out == spaced.out
    assert [g["id"] for g in json.loads(joined.out)["groups"]] == ["web"]
    assert_usage_error(e.run("status", "--json", "--group=db"), "status",
                       "no group 'db' in the configuration or the state")
    snap = e.run("status", "--snapshot=web")
    assert snap.rc == 0 and snap.out == e.run("status", "--snapshot", "web").out
    assert json.loads(snap.out)["group"] == "web"


def test_reconcile_for_with_equals_is_parsed_like_spaced():
    assert_usage_error(run_flipper("reconcile", "--for=5"), "reconcile",
                       "--for wants a positive duration such as 55s (got '5')")
    assert_usage_error(run_flipper("reconcile", "--for", "5"), "reconcile",
                       "--for wants a positive duration such as 55s (got '5')")


# ---- global options before or after the command ---------------------------------

def test_validate_takes_config_after_the_command(tmp_path):
    cfg = os.path.join(FIXTURES, "original", "readme-shape.yaml")
    for args in (["-c", cfg, "validate"], ["validate", "-c", cfg], ["validate", "--config", cfg],
                 ["validate", "--config=" + cfg], ["validate", "-c" + cfg]):
        r = run_flipper(*args, cwd=str(tmp_path))
        assert r.rc == 0, (args, r)
        assert r.out == "configuration OK\n", (args, r)
    # Without -c, ./flipper.yaml is read: there is none here.
    r = run_flipper("validate", cwd=str(tmp_path))
    assert r.rc == 2 and "flipper.yaml: cannot read" in r.err, r


def test_state_and_logging_options_after_the_command(state_env):
    e = state_env
    before = run_flipper("--state", e.state, "status", "--json")
    after = run_flipper("status", "--json", "--state", e.state)
    assert before.rc == after.rc == 0, (before, after)
    assert after.out == before.out
    # --log-format after the command governs the round's log lines.
    r = run_flipper("reconcile", "--once", "-c", e.config_path, "--state", e.state,
                    "--log-format=text", "--log-level", "debug")
    assert r.rc == 0, r
    lines = r.err.splitlines()
    assert lines and not any(l.startswith("{") for l in lines), r.err
    assert any(" debug " in l for l in lines), r.err


def test_a_later_value_wins_and_options_end_at_double_dash(tmp_path):
    cfg = os.path.join(FIXTURES, "original", "readme-shape.yaml")
    r = run_flipper("-c", str(tmp_path / "absent.yaml"), "validate", "-c", cfg)
    assert r.rc == 0, r
    # After "--", "-x" is an operand: simulate reads a file named so.
    r = run_flipper("simulate", "--", "-x")
    assert r.rc == 2 and "-x: cannot read" in r.err, r


# ---- -v / --version / version ---------------------------------------------------

def test_v_prints_the_version():
    version = run_flipper("version")
    assert version.rc == 0, version
    first = version.out.splitlines()[0]
    assert re.fullmatch(r"flipper \d+\.\d+\.\d+(-\d+-g[0-9a-f]+)?(-dirty)?", first), version.out
    for flag in ("-v", "--version"):
        r = run_flipper(flag)
        assert r.rc == 0 and r.out == first + "\n" and r.err == "", (flag, r)
    # Not an option of a command.
    assert_usage_error(run_flipper("status", "-v"), "status", "unknown option '-v'")


# ---- one usage-error shape ------------------------------------------------------

@pytest.mark.parametrize("cmd", ["reconcile", "plan", "monitor", "status", "simulate",
                                 "validate", "version", "help", "completion"])
def test_unknown_option_has_one_shape(cmd):
    assert_usage_error(run_flipper(cmd, "--x"), cmd, "unknown option '--x'")
    assert_usage_error(run_flipper(cmd, "-q"), cmd, "unknown option '-q'")


def test_every_usage_error_has_the_same_shape(tmp_path):
    cases = [
        ((), None, None),  # no command: the full usage, below
        (("frobnicate",), None, "unknown command 'frobnicate'"),
        (("--bogus", "status"), None, "unknown option '--bogus'"),
        (("-c",), None, "option '-c' needs FILE"),
        (("--log-level", "loud", "status"), "status",
         "--log-level wants debug, info, warn or error (got 'loud')"),
        (("status", "--log-format=xml"), "status", "--log-format wants json or text (got 'xml')"),
        (("status", "--snapshot"), "status", "option '--snapshot' needs GROUP"),
        (("status", "--group="), "status", "option '--group' needs a non-empty ID"),
        (("status", "--json=yes"), "status", "option '--json' takes no value"),
        (("status", "extra"), "status", "unexpected argument 'extra'"),
        (("validate", "extra"), "validate", "unexpected argument 'extra'"),
        (("reconcile", "--once", "--for", "5s"), "reconcile", "--once and --for exclude each other"),
        (("plan", "--once"), "plan", "unknown option '--once'"),
        (("monitor", "--for", "5s"), "monitor", "unknown option '--for'"),
        (("simulate",), "simulate", "missing SNAPSHOT.json"),
        (("simulate", SNAPSHOT, SNAPSHOT), "simulate", "one snapshot at a time (also got '%s')" % SNAPSHOT),
        (("help", "nope"), "help", "unknown command 'nope'"),
        (("completion", "tcsh"), "completion", "unknown shell 'tcsh' (bash, zsh or fish)"),
    ]
    for args, cmd, message in cases:
        r = run_flipper(*args, cwd=str(tmp_path))
        if message is None:
            assert r.rc == 2 and r.out == "" and r.err == run_flipper("help").out, r
            continue
        assert_usage_error(r, cmd, message)


def test_unknown_group_is_a_usage_error(state_env):
    e = state_env
    e.cloud.clear_requests()
    for cmd in ("reconcile", "plan", "monitor"):
        r = e.run(cmd, "--group=nope")
        assert_usage_error(r, cmd, "unknown group 'nope' (configured: web)")
    assert e.cloud.requests() == []


# ---- help from the tables ---------------------------------------------------------

def help_options(text):
    """Long options listed in a help text's option lines, with whether
    they take a value ("--for DURATION")."""
    return dict(re.findall(r"^  (?:-\w, )?(--[a-z-]+)( [A-Z]\w*)?", text, re.M))


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_lists_what_the_parser_accepts(cmd):
    r = run_flipper(cmd, "--help")
    assert r.rc == 0 and r.err == "", r
    assert run_flipper("help", cmd).out == r.out
    assert run_flipper(cmd, "-h").out == r.out
    synopsis = r.out.splitlines()[0]
    assert synopsis.startswith("usage: flipper %s" % cmd)
    opts = help_options(r.out)
    del opts["--help"]
    for o in opts:
        assert o in synopsis, (o, synopsis)
    # Every listed option parses, the way the help spells it.
    for o, arg in opts.items():
        rr = run_flipper(cmd, o + ("=x" if arg else ""), "--help")
        assert rr.rc == 0 and rr.out == r.out, (o, rr)
    # The global options are named in every command's help.
    assert "Global options (-c FILE, --state FILE, --log-level L, --log-format F)" in r.out


def test_a_subcommand_has_its_own_help_and_usage_errors(tmp_path):
    """`state backup`: help and usage errors name the whole path, as a
    command's do; the parent lists its subcommands."""
    r = run_flipper("state", "backup", "--help")
    assert r.rc == 0 and r.err == "", r
    assert r.out.splitlines()[0] == "usage: flipper state backup FILE [-f]"
    assert run_flipper("help", "state", "backup").out == r.out
    assert run_flipper("state", "backup", "-h").out == r.out
    assert run_flipper("--state", "x.db", "state", "backup", "--help").out == r.out
    assert set(help_options(r.out)) == {"--force", "--help"}
    parent = run_flipper("state", "--help")
    assert parent.rc == 0 and re.search(r"^Subcommands:\n  state backup FILE", parent.out, re.M)
    assert re.search(r"^  state backup FILE \[-f\]", run_flipper("help").out, re.M)
    cases = [
        (("state",), "state", "which one? backup"),
        (("state", "nope"), "state", "unknown subcommand 'nope'"),
        (("state", "--force", "backup"), "state", "unknown option '--force'"),
        (("state", "backup"), "state backup", "missing FILE"),
        (("state", "backup", "a", "b"), "state backup", "one FILE at a time (also got 'b')"),
        (("state", "backup", "--x"), "state backup", "unknown option '--x'"),
        (("state", "backup", "a", "--force=yes"), "state backup",
         "option '--force' takes no value"),
        (("help", "state", "nope"), "help", "unknown command 'state nope'"),
        (("help", "state", "backup", "x"), "help", "one command at a time (also got 'x')"),
    ]
    for args, cmd, message in cases:
        assert_usage_error(run_flipper(*args, cwd=str(tmp_path)), cmd, message)


def test_top_help_lists_every_command_and_global_option():
    r = run_flipper("help")
    assert r.rc == 0
    for cmd in COMMANDS:
        assert re.search(r"^  %s\b" % cmd, r.out, re.M), cmd
    assert set(help_options(r.out)) == {"--config", "--state", "--log-level", "--log-format",
                                        "--version", "--help"}
    assert run_flipper("--help").out == r.out == run_flipper("-h").out


# ---- stdout must reach its file -------------------------------------------------

def run_to_full(*args, **kw):
    """Run with stdout on /dev/full: every write fails with ENOSPC."""
    with open("/dev/full", "w") as full:
        p = subprocess.run([FLIPPER, *args], stdout=full, stderr=subprocess.PIPE,
                           text=True, timeout=60, **kw)
    return p


def test_status_to_a_full_disk_fails(state_env):
    e = state_env
    ok = e.run("status")
    assert ok.rc == 0 and "group web" in ok.out, ok
    for extra in ([], ["--json"], ["--snapshot", "web"]):
        p = run_to_full("-c", e.config_path, "--state", e.state, "status", *extra)
        assert p.returncode == 1, (extra, p.stderr)
        assert "write failure on standard output" in p.stderr, p.stderr
        assert "No space left on device" in p.stderr, p.stderr


def test_validate_print_to_a_full_disk_fails(tmp_path):
    cfg = os.path.join(FIXTURES, "original", "readme-shape.yaml")
    p = run_to_full("-c", cfg, "validate", "--print")
    assert p.returncode == 1, p.stderr
    assert "write failure on standard output" in p.stderr
    # In the configured log format: a JSON line when asked for JSON.
    p = run_to_full("-c", cfg, "--log-format", "json", "validate")
    assert p.returncode == 1, p.stderr
    line = json.loads(p.stderr.strip().splitlines()[-1])
    assert line["msg"] == "write failure on standard output" and line["level"] == "error"


@pytest.mark.parametrize("args", [("simulate", SNAPSHOT), ("simulate", SNAPSHOT, "--json"),
                                  ("help",), ("status", "--help"), ("completion", "bash"),
                                  ("-v",)])
def test_other_output_to_a_full_disk_fails(args):
    p = run_to_full(*args)
    assert p.returncode == 1, (args, p.stderr)
    assert "write failure on standard output" in p.stderr



# ---- status's own errors: the logger, the usage-error shape, the diagnostics ----

def test_status_errors_go_through_one_printer_each(state_env, tmp_path):
    e = state_env
    r = run_flipper("status", "--state", str(tmp_path / "none.db"), "--log-format", "json")
    assert r.rc == 1 and r.out == "", r
    line = json.loads(r.err.splitlines()[0])
    assert line["level"] == "error" and line["msg"].startswith("no state file here"), r.err
    assert line["state"] == str(tmp_path / "none.db"), r.err
    assert_usage_error(e.run("status", "--snapshot", "db"), "status",
                       "the state has no group 'db'")
    # A configuration that cannot be read: said once, through the
    # diagnostics printer, and status goes on with the state's groups.
    bad = tmp_path / "bad.yaml"
    bad.write_text("state: [\n")
    r = run_flipper("-c", str(bad), "--state", e.state, "status")
    assert r.rc == 0, r
    lines = r.err.splitlines()
    assert lines[0].startswith("error: %s:" % bad), r.err
    assert lines[-1] == "%s: 1 error; status lists the groups the state file knows" % bad, r.err
    assert "group web — ok" in r.out, r.out
