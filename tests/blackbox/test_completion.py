"""Shell completions (`flipper completion bash|zsh|fish`), made from the
same option tables as the help: bash completes real words here; zsh and
fish scripts must parse (and fish completes words) where those shells are
installed."""

import os
import re
import shutil
import subprocess

import pytest

from conftest import need_tool, run_flipper

COMMANDS = ["reconcile", "plan", "monitor", "status", "state", "simulate", "validate",
            "version", "help", "completion"]


def script(shell, tmp_path):
    r = run_flipper("completion", shell)
    assert r.rc == 0 and r.err == "", r
    p = tmp_path / ("flipper." + shell)
    p.write_text(r.out)
    return p


def bash_complete(path, words, cwd=None):
    """What bash offers for the last of words (COMPREPLY), via the
    script's own function, as readline would call it."""
    prog = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); '
            'COMP_LINE="$*"; _flipper; printf "%s\\n" "${COMPREPLY[@]}"')
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog, "bash", str(path), *words],
                       capture_output=True, text=True, timeout=60, cwd=cwd)
    assert p.returncode == 0 and p.stderr == "", p
    return sorted(w for w in p.stdout.splitlines() if w)


def help_options(cmd):
    text = run_flipper(*cmd.split(), "--help").out
    return set(re.findall(r"^  (?:-\w, )?(--[a-z-]+)", text, re.M))


def test_bash_completes_commands_options_and_values(tmp_path):
    s = script("bash", tmp_path)
    assert bash_complete(s, ["flipper", "rec"]) == ["reconcile"]
    assert bash_complete(s, ["flipper", ""]) == sorted(COMMANDS)
    assert bash_complete(s, ["flipper", "s"]) == ["simulate", "state", "status"]
    assert bash_complete(s, ["flipper", "status", "--g"]) == ["--group"]
    assert bash_complete(s, ["flipper", "--log-level", ""]) == ["debug", "error", "info", "warn"]
    # "--opt=value": bash splits the word at '='.
    assert bash_complete(s, ["flipper", "status", "--log-format", "=", "j"]) == ["json"]
    # A global option's value is not the command.
    assert bash_complete(s, ["flipper", "-c", "x.yaml", "stat"]) == ["state", "status"]
    assert bash_complete(s, ["flipper", "--state", "=", "s.db", "plan", "--no"]) == ["--no-checks"]
    assert bash_complete(s, ["flipper", "help", "s"]) == ["simulate", "state", "status"]
    assert bash_complete(s, ["flipper", "completion", ""]) == ["bash", "fish", "zsh"]
    assert bash_complete(s, ["flipper", "reconcile", "--for", ""]) == []
    # Files where a FILE is wanted.
    (tmp_path / "snap.json").write_text("{}")
    assert bash_complete(s, ["flipper", "simulate", "sn"], cwd=str(tmp_path)) == ["snap.json"]
    assert bash_complete(s, ["flipper", "--config", "sn"], cwd=str(tmp_path)) == ["snap.json"]


@pytest.mark.parametrize("cmd", COMMANDS)
def test_bash_offers_every_option_the_help_lists(cmd, tmp_path):
    s = script("bash", tmp_path)
    offered = set(bash_complete(s, ["flipper", cmd, "--"]))
    assert help_options(cmd) <= offered, (cmd, help_options(cmd) - offered)
    globals_ = {"--config", "--state", "--log-level", "--log-format"}
    assert globals_ <= offered
    assert set(w for w in offered if w.startswith("--")) == help_options(cmd) | globals_


def need(shell, package):
    need_tool(shell, package)


def test_zsh_script_parses_and_registers(tmp_path):
    need("zsh", "zsh")
    s = script("zsh", tmp_path)
    p = subprocess.run(["zsh", "-n", str(s)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    # Installed as _flipper on $fpath, compinit picks it up for flipper.
    d = tmp_path / "fpath"
    d.mkdir()
    shutil.copy(s, d / "_flipper")
    prog = ('fpath=(%s $fpath); autoload -U compinit; compinit -u -d %s/zcompdump; '
            'print -r -- $_comps[flipper]' % (d, tmp_path))
    p = subprocess.run(["zsh", "-f", "-c", prog], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "_flipper", p
    # Sourced (source <(flipper completion zsh)), it registers itself.
    prog = ('autoload -U compinit; compinit -u -d %s/zcompdump; source %s; '
            'print -r -- $_comps[flipper]' % (tmp_path, s))
    p = subprocess.run(["zsh", "-f", "-c", prog], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "_flipper", p


def fish_complete(path, line, cwd=None):
    p = subprocess.run(["fish", "--no-config", "-c", "source %s; complete -C '%s'" % (path, line)],
                       capture_output=True, text=True, timeout=60, cwd=cwd)
    assert p.returncode == 0 and p.stderr == "", p
    return sorted(l.split("\t")[0] for l in p.stdout.splitlines())


def test_fish_script_parses_and_completes(tmp_path):
    need("fish", "fish")
    s = script("fish", tmp_path)
    p = subprocess.run(["fish", "--no-config", "--no-execute", str(s)], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    assert fish_complete(s, "flipper rec") == ["reconcile"]
    assert fish_complete(s, "flipper -c x.yaml statu") == ["status"]
    assert fish_complete(s, "flipper --log-level ") == ["debug", "error", "info", "warn"]
    assert fish_complete(s, "flipper help s") == ["simulate", "state", "status"]
    assert "--no-checks" in fish_complete(s, "flipper plan --")
    assert set(fish_complete(s, "flipper status --")) >= help_options("status")


def test_bash_completes_subcommands_then_their_options_and_files(tmp_path):
    s = script("bash", tmp_path)
    assert bash_complete(s, ["flipper", "state", ""]) == ["backup"]
    assert bash_complete(s, ["flipper", "state", "b"]) == ["backup"]
    assert bash_complete(s, ["flipper", "--state", "=", "s.db", "state", "b"]) == ["backup"]
    # The subcommand's options, and the global ones, after it; not before.
    offered = set(bash_complete(s, ["flipper", "state", "backup", "--"]))
    assert offered == help_options("state backup") | {"--config", "--state", "--log-level",
                                                      "--log-format"}
    assert "--force" in offered
    assert "--force" not in bash_complete(s, ["flipper", "state", "--"])
    assert bash_complete(s, ["flipper", "state", "--state", "x.db", "backup", "--fo"]) == ["--force"]
    (tmp_path / "flipper-backup.db").write_text("")
    assert bash_complete(s, ["flipper", "state", "backup", "flipper-b"],
                         cwd=str(tmp_path)) == ["flipper-backup.db"]


def test_fish_completes_subcommands(tmp_path):
    need("fish", "fish")
    s = script("fish", tmp_path)
    assert fish_complete(s, "flipper state ") == ["backup"]
    assert "--force" in fish_complete(s, "flipper state backup --")
    assert "--force" in fish_complete(s, "flipper --state x.db state backup --")
    assert "--force" not in fish_complete(s, "flipper state --")
    (tmp_path / "flipper-backup.db").write_text("")
    assert fish_complete(s, "flipper state backup flipper-b",
                         cwd=str(tmp_path)) == ["flipper-backup.db"]


def test_unknown_shell_is_a_usage_error():
    r = run_flipper("completion", "tcsh")
    assert r.rc == 2 and "unknown shell 'tcsh'" in r.err
