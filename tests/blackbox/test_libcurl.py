"""libcurl is loaded when a run first needs the network (src/curl_api.c):
never linked, declared to packagers in a .note.dlopen ELF note, reported
by `flipper version`, and when it cannot be loaded, every command says so
through the logger with the code libcurl_unavailable.

The missing-library cases hide the real files: inside a private mount
namespace (unshare -m) /dev/null is bind-mounted over them, so the dynamic
loader finds them as any broken installation would. Skipped where the
kernel or the sandbox does not allow that."""

import ctypes
import json
import os
import re
import subprocess

from conftest import FIXTURES, FLIPPER, flipper_env, log_lines, missing, run_flipper

SONAMES = ["libcurl.so.4", "libcurl-gnutls.so.4"]


def library_file(soname):
    """The real file behind soname (what the dynamic loader would open)."""
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.strip().split(" => ")
        if len(parts) == 2 and parts[0].split()[0] == soname and "x86-64" in parts[0]:
            return os.path.realpath(parts[1])
    return None


def hide_and_run(sonames, *args, env=None):
    """Run flipper with the files behind sonames replaced by /dev/null."""
    files = [library_file(s) for s in sonames]
    if any(f is None for f in files):
        missing("%s is not installed here" % ", ".join(s for s, f in zip(sonames, files) if not f))
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        missing("unshare -m is not permitted here (needs root or user namespaces)")
    script = 'for f in "$@"; do [ "$f" = -- ] && break; mount --bind /dev/null "$f" || exit 99; ' \
             'shift; done; shift; exec "$@"'
    p = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", *files, "--", FLIPPER, *args],
                       capture_output=True, text=True, timeout=120, env=flipper_env(env))
    assert p.returncode != 99, p.stderr
    return p


def curl_version():
    lib = ctypes.CDLL("libcurl.so.4")
    lib.curl_version.restype = ctypes.c_char_p
    # "libcurl/7.88.1 OpenSSL/..." -> "7.88.1"
    return lib.curl_version().decode().split()[0].split("/")[1]


# ---- how the binary declares it --------------------------------------------------

def test_binary_does_not_link_libcurl():
    d = subprocess.run(["readelf", "-d", FLIPPER], capture_output=True, text=True, check=True)
    needed = re.findall(r"\(NEEDED\).*\[(.*)\]", d.stdout)
    assert needed and not [n for n in needed if "curl" in n or "microhttpd" in n], needed


def test_binary_declares_libcurl_in_a_dlopen_note(tmp_path):
    # readelf before binutils 2.43 lists the note but does not know its
    # type, and then exits 1: the listing is what counts here.
    n = subprocess.run(["readelf", "-W", "-n", FLIPPER], capture_output=True, text=True)
    section = n.stdout.split("Displaying notes found in: .note.dlopen")
    assert len(section) == 2, n.stdout
    assert re.search(r"^\s*FDO\s+0x[0-9a-f]+\s+.*0x407c0c0a", section[1], re.M), section[1]
    # The payload: the note's descriptor, a NUL-terminated JSON array.
    raw = tmp_path / "note"
    subprocess.run(["objcopy", "--dump-section", ".note.dlopen=%s" % raw, FLIPPER,
                    str(tmp_path / "copy")], check=True)
    data = raw.read_bytes()
    notes = []
    while data:
        namesz, descsz, ntype = (int.from_bytes(data[i:i + 4], "little") for i in (0, 4, 8))
        assert (namesz, ntype) == (4, 0x407c0c0a) and data[12:16] == b"FDO\0"
        desc = data[16:16 + descsz]
        assert desc.endswith(b"\0")
        notes += json.loads(desc[:-1])
        data = data[16 + (descsz + 3) // 4 * 4:]         # each note padded to 4
    by_feature = {n["feature"]: n for n in notes}
    assert sorted(by_feature) == ["curl", "http-server"], notes
    assert by_feature["curl"] == {"feature": "curl", "priority": "required", "soname": SONAMES,
                                  "description": by_feature["curl"]["description"]}
    # libmicrohttpd: only monitor's HTTP endpoint (server.enabled) loads it.
    mhd = by_feature["http-server"]
    assert mhd["priority"] == "suggested" and mhd["soname"] == ["libmicrohttpd.so.12"], mhd


def test_version_names_the_libcurl_it_would_use():
    r = run_flipper("version")
    assert r.rc == 0 and r.err == "", r
    lines = r.out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("flipper "), r.out
    assert lines[1] == "libcurl %s (libcurl.so.4)" % curl_version()
    # The optional library: named when there, said to be optional when not.
    if library_file("libmicrohttpd.so.12"):
        assert re.fullmatch(r"libmicrohttpd \d+\.\d+\.\d+ \(libmicrohttpd\.so\.12\)", lines[2]), lines
    else:
        assert lines[2] == ("libmicrohttpd not available (only server.enabled needs it; "
                            "install libmicrohttpd12)"), lines


# ---- loaded only when the network is needed ---------------------------------------

def loaded_objects(tmp_path, *args, env=None):
    """The shared objects the dynamic loader opened for one run (LD_DEBUG)."""
    out = tmp_path / "ld"
    for f in tmp_path.glob("ld.*"):
        f.unlink()
    e = {"LD_DEBUG": "files", "LD_DEBUG_OUTPUT": str(out)}
    e.update(env or {})
    r = run_flipper(*args, env=e)
    text = "".join(f.read_text() for f in tmp_path.glob("ld.*"))
    return r, set(re.findall(r"file=(\S+)\s+\[0\];\s+(?:dynamically loaded|needed)", text))


def test_a_run_with_nothing_due_does_not_load_libcurl(env, tmp_path):
    env.pair()
    env.config(checks=[env.check(interval="1h")], group_extra={"poll_interval": "1h"},
               notifications=False)
    r, first = loaded_objects(tmp_path, "-c", env.config_path, "--state", env.state,
                              "reconcile", "--once")
    assert r.rc == 0, r
    assert "libcurl.so.4" in first, first
    r, second = loaded_objects(tmp_path, "-c", env.config_path, "--state", env.state,
                               "reconcile", "--once")
    assert r.rc == 0, r
    assert not [f for f in second if "curl" in f], second
    assert "libsqlite3.so.0" in second       # the probe itself sees loads
    r, status = loaded_objects(tmp_path, "-c", env.config_path, "--state", env.state, "status")
    assert r.rc == 0 and not [f for f in status if "curl" in f], status


# ---- when it cannot be loaded ---------------------------------------------------

def test_version_without_libcurl_fails_and_says_why():
    p = hide_and_run(SONAMES, "version")
    assert p.returncode == 1, p
    assert p.stdout.startswith("flipper ") and "libcurl" not in p.stdout
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    assert "no usable libcurl" in lines[0] and "libcurl_unavailable: cannot load libcurl" in lines[0]
    for s in SONAMES:
        assert s in lines[0]


def test_validate_without_libcurl_warns(tmp_path):
    cfg = os.path.join(FIXTURES, "original", "readme-shape.yaml")
    p = hide_and_run(SONAMES, "-c", cfg, "--log-format", "json", "validate")
    assert p.returncode == 0, p
    assert p.stdout == "configuration OK\n"
    warn = [l for l in log_lines(p.stderr) if l.get("level") == "warn"]
    assert len(warn) == 1 and warn[0]["error"].startswith("libcurl_unavailable: "), p.stderr


def test_reconcile_without_libcurl_fails_with_one_log_line(env):
    env.pair()
    env.config(checks=[env.check()])
    env.cloud.clear_requests()
    for cmd in (["reconcile", "--once"], ["plan"]):
        p = hide_and_run(SONAMES, "-c", env.config_path, "--state", env.state,
                         "--log-level", "info", *cmd)
        assert p.returncode == 1, (cmd, p)
        lines = p.stderr.splitlines()
        assert len(lines) == 1, (cmd, p.stderr)
        line = json.loads(lines[0])        # the configured format: JSON
        # One line for the run: its event loop needs libcurl before anything.
        assert line["level"] == "error" and "group" not in line, line
        assert line["error"].startswith("libcurl_unavailable: cannot load libcurl ("), line
        assert "invalid_argument" not in p.stderr
    assert env.cloud.requests() == []


def test_checks_without_libcurl_fail_the_round_not_the_backends(env):
    """With the inventory cached, a round needs libcurl for its checks only:
    the check round reports the library, and no backend is marked down."""
    env.pair()
    first = env.check(id="first", interval="1h")
    env.config(checks=[first], group_extra={"poll_interval": "1h"}, notifications=False)
    r = env.reconcile()
    assert r.rc == 0, r
    before = env.run("status", "--json").out
    # A check added since: its targets are due, the inventory is not.
    env.config(checks=[first, env.check(id="second", interval="1h")],
               group_extra={"poll_interval": "1h"}, notifications=False)
    p = hide_and_run(SONAMES, "-c", env.config_path, "--state", env.state, "--log-level", "info",
                     "reconcile", "--once")
    assert p.returncode == 1, p
    errors = [l for l in log_lines(p.stderr) if l.get("level") == "error"]
    assert len(errors) == 1 and errors[0]["msg"] == "cannot run: the network is out of reach", \
        p.stderr
    assert "libcurl_unavailable: cannot load libcurl" in errors[0]["error"]
    # No target was judged: the first check's stay as they were, the new
    # one's never ran (a library problem is not a backend failure). The
    # run stopped before it loaded anything: the new targets are not
    # even stored yet.
    def targets(doc):
        return {(s["id"], t["check"]): (t["state"], t["last_run"], t["error"])
                for s in json.loads(doc)["groups"][0]["servers"] for t in s["targets"]}
    after = targets(env.run("status", "--json").out)
    for key, was in targets(before).items():
        assert after[key] == was, (key, was, after[key])
    new = {k: v for k, v in after.items() if k[1] == "second"}
    assert all(v == ("unknown", 0, None) for v in new.values()), new


def test_the_gnutls_build_is_used_when_the_openssl_one_is_missing(env):
    if not library_file("libcurl-gnutls.so.4"):
        missing("libcurl-gnutls.so.4 is not installed (Debian package libcurl3-gnutls)")
    p = hide_and_run(["libcurl.so.4"], "version")
    assert p.returncode == 0, p
    assert p.stdout.splitlines()[1].endswith("(libcurl-gnutls.so.4)"), p.stdout
    # And a real round works through it: inventory, checks, apply.
    env.pair()
    env.config(checks=[env.check()])
    p = hide_and_run(["libcurl.so.4"], "-c", env.config_path, "--state", env.state,
                     "reconcile", "--once")
    assert p.returncode == 0, p.stderr
    assert env.cloud.requests("GET", r"/servers")
    assert env.backends.requests("127.0.0.11", env.port), "no check reached a backend"
