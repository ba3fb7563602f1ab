"""`flipper validate` and the configuration loader, through the binary:
good files in three formats, every kind of bad input, warnings, secrets,
and the CLI's help and exit codes."""

import json
import os
import shutil

import pytest

from conftest import FIXTURES, SHARED, need_path, run_flipper

# Configurations in the original's format, one per feature it has
# (tests/fixtures/README.md).
ORIGINAL = os.path.join(FIXTURES, "original")


def write(tmp_path, name, text, mode=0o600):
    p = tmp_path / name
    p.write_text(text)
    os.chmod(p, mode)
    return str(p)


def validate(path, *extra, env=None):
    return run_flipper("-c", path, "validate", *extra, env=env)


MINIMAL = """\
version: 1
groups:
  - id: web
    display_name: Web
    hetzner:
      api_token: tok-literal-1234
      servers: {label_selector: role=lb}
      floating_ips: {label_selector: role=vip}
    checks:
      - id: h
        type: http
"""


def test_original_readme_example_validates_unchanged():
    """The original README's own example, when the reference material is
    beside the checkout (our readme-shape.* below stand in for it)."""
    r = validate(need_path(os.path.join(SHARED, "original-config.yaml"),
                           "the original README's example"))
    assert r.rc == 0, r
    assert r.out.strip().endswith("configuration OK")
    assert "error" not in r.err


def original_fixtures():
    return sorted(f for f in os.listdir(ORIGINAL) if f.endswith((".yaml", ".json", ".toml")))


def private_copy(tmp_path, name):
    """The fixture, mode 0600 (a checkout's 0644 would draw the literal-token warning)."""
    p = tmp_path / name
    shutil.copyfile(os.path.join(ORIGINAL, name), p)
    os.chmod(p, 0o600)
    return str(p)


@pytest.mark.parametrize("name", original_fixtures())
def test_original_format_validates_without_a_word(tmp_path, name):
    r = validate(private_copy(tmp_path, name))
    assert r.rc == 0, r
    assert r.out == "configuration OK\n", r
    if name == "server-section.yaml":
        # monitor serves enabled, host, port and shutdown_timeout; the web
        # UI's files are the one thing not used: one warning, at assets.
        assert r.err == ("warning: %s:10:3: server: accepted for compatibility with the "
                         "original flipper but not used: assets, templates\n"
                         % os.path.join(str(tmp_path), name)), r
    else:
        assert r.err == "", r


def effective(path):
    r = validate(path, "--print")
    assert r.rc == 0, r
    return json.loads(r.out.splitlines()[0])


def test_three_formats_mean_the_same():
    y = effective(os.path.join(ORIGINAL, "readme-shape.yaml"))
    j = effective(os.path.join(ORIGINAL, "readme-shape.json"))
    t = effective(os.path.join(ORIGINAL, "readme-shape.toml"))
    assert y == j == t
    # and the effective values are the ones written
    g = y["groups"][0]
    assert g["id"] == "shop_frontend"
    assert g["poll_interval"] == "45s"
    assert g["hetzner"]["project_id"] == "3141592"
    c = g["checks"][0]
    assert c["type"] == "https" and c["host"] == "shop.example.org"
    assert c["interval"] == "3s" and c["timeout"] == "1.5s"
    # fast_interval is new: it defaults to the interval.
    assert c["fast_interval"] == "3s"
    assert c["fall"] == 4 and c["rise"] == 3
    assert c["port"] == 8443 and c["ip_version"] == "ipv4"
    assert y["heartbeat"]["interval"] == "1m30s"
    assert y["telemetry"]["logging"] == {"level": "warn", "format": "text"}


# What each feature's file must mean: (file, path in `validate --print`, value).
FEATURES = [
    ("minimal.yaml", "groups.0.poll_interval", "1m0s"),
    ("minimal.yaml", "groups.0.checks.0.port", 80),
    ("minimal.yaml", "groups.0.checks.0.path", "/"),
    ("minimal.yaml", "groups.0.checks.0.ip_version", "both"),
    ("minimal.yaml", "notifications.enabled", False),
    ("several-groups.yaml", "groups.0.readonly", True),
    ("several-groups.yaml", "groups.0.hetzner.project_id", "2718281"),
    ("several-groups.yaml", "groups.1.readonly", False),
    ("several-groups.yaml", "groups.1.hetzner.project_id", "1618033"),
    ("several-groups.yaml", "groups.1.hetzner.floating_ips.label_selector",
     "svc=dns,scope=public"),
    ("group-timing.yaml", "groups.0.poll_interval", "2m30s"),
    ("group-timing.yaml", "groups.0.poll_timeout", "12s"),
    ("group-timing.yaml", "groups.0.plan_apply_timeout", "45s"),
    ("group-timing.yaml", "groups.0.plan_apply_with_unknown_status", True),
    ("check-http.yaml", "groups.0.checks.0.method", "HEAD"),
    ("check-http.yaml", "groups.0.checks.0.host", "api.example.net"),
    ("check-http.yaml", "groups.0.checks.0.path", "/v2/health?deep=1"),
    ("check-http.yaml", "groups.0.checks.0.fall", 2),
    ("check-http.yaml", "groups.0.checks.0.rise", 5),
    ("check-http.yaml", "groups.0.checks.0.ip_version", "ipv4"),
    ("check-http.yaml", "groups.0.checks.1.ip_version", "ipv6"),
    ("check-https.yaml", "groups.0.checks.0.type", "https"),
    ("check-https.yaml", "groups.0.checks.0.port", 443),
    ("check-https.yaml", "groups.0.checks.0.host", "portal.example.com"),
    ("heartbeat.yaml", "heartbeat.enabled", True),
    ("heartbeat.yaml", "heartbeat.interval", "2m0s"),
    ("heartbeat.yaml", "heartbeat.timeout", "7s"),
    ("notifications.yaml", "notifications.targets.0.type", "mattermost"),
    ("notifications.yaml", "notifications.targets.0.username", "failover-bot"),
    ("notifications.yaml", "notifications.targets.0.icon_url",
     "https://static.example.com/icons/flip.png"),
    ("notifications.yaml", "notifications.targets.1.type", "slack"),
    ("notifications.yaml", "notifications.targets.1.channel", "#ops"),
    ("notifications.yaml", "notifications.targets.1.icon_emoji", ":ocean:"),
    ("logging.yaml", "telemetry.logging.level", "debug"),
    ("logging.yaml", "telemetry.logging.format", "text"),
    # monitor's HTTP endpoint (assets and templates are not kept: unused)
    ("server-section.yaml", "server.enabled", True),
    ("server-section.yaml", "server.host", "127.0.0.1"),
    ("server-section.yaml", "server.port", 9180),
    ("server-section.yaml", "server.shutdown_timeout", "15s"),
]


@pytest.mark.parametrize("name,path,want", FEATURES,
                         ids=["%s:%s" % (f, p) for f, p, _ in FEATURES])
def test_original_format_means_what_it_says(name, path, want):
    v = effective(os.path.join(ORIGINAL, name))
    for part in path.split("."):
        v = v[int(part)] if isinstance(v, list) else v[part]
    assert v == want


def test_every_original_feature_file_is_checked_for_meaning():
    """A new feature file needs its expectations above. (The README shape
    has its own test.)"""
    named = {f for f, _, _ in FEATURES}
    yaml_files = {f for f in original_fixtures() if f.endswith(".yaml")
                  and not f.startswith("readme-shape.")}
    assert yaml_files == named


def test_poll_interval_always_is_its_own_spelling(tmp_path):
    always = effective(write(tmp_path, "a.yaml", MINIMAL.replace(
        "    display_name: Web\n", "    display_name: Web\n    poll_interval: always\n")))
    zero = effective(write(tmp_path, "z.yaml", MINIMAL.replace(
        "    display_name: Web\n", "    display_name: Web\n    poll_interval: 0s\n")))
    assert always["groups"][0]["poll_interval"] == "always"
    # 0s is the original's "default": one minute, as it was there
    assert zero["groups"][0]["poll_interval"] == "1m0s"


def test_print_masks_secrets(tmp_path):
    p = write(tmp_path, "f.yaml", MINIMAL + """\
notifications:
  enabled: true
  targets: [{type: slack, url: "https://hooks.example.test/services/T000/B000/XXXXsecret"}]
""")
    r = validate(p, "--print")
    assert r.rc == 0, r
    assert "tok-literal-1234" not in r.out + r.err
    assert "XXXXsecret" not in r.out + r.err
    cfg = json.loads(r.out.splitlines()[0])
    assert cfg["groups"][0]["hetzner"]["api_token"] == "(set)"


def test_defaults_filled_in(tmp_path):
    cfg = effective(write(tmp_path, "f.yaml", MINIMAL))
    g = cfg["groups"][0]
    assert g["poll_interval"] == "1m0s"
    assert g["poll_timeout"] == "20s"
    assert g["plan_apply_timeout"] == "30s"
    assert g["readonly"] is False
    assert (g["failback_delay"], g["rebalance"], g["when_none_healthy"]) == ("0s", False, "freeze")
    assert g["hetzner"]["endpoint"] == "https://api.hetzner.cloud/v1"
    c = g["checks"][0]
    assert (c["interval"], c["timeout"], c["fall"], c["rise"]) == ("1m0s", "10s", 1, 1)
    assert (c["method"], c["port"], c["path"], c["ip_version"]) == ("GET", 80, "/", "both")
    assert c["expect_status"] == "200-299"
    assert cfg["telemetry"]["logging"] == {"level": "info", "format": "json"}


BAD = """\
version: 1
groups:
  - id: web
    display_name: Web
    poll_interval: 5
    hetzner:
      api_token: t
      servers: {label_selector: a}
      floating_ips: {label_selector: ""}
    checks:
      - id: a
        type: https
        timeout: 10x
      - id: a
        type: http
        path: health
        ip_version: ipv5
        expect_status: "600"
"""


def test_every_error_reported_with_position(tmp_path):
    p = write(tmp_path, "bad.yaml", BAD)
    r = validate(p)
    assert r.rc == 2, r
    assert "configuration OK" not in r.out
    err = r.err
    expected = [
        f"{p}:5:20: groups[0].poll_interval: invalid duration \"5\"",
        f"{p}:9:38: groups[0].hetzner.floating_ips.label_selector: must not be empty",
        f"{p}:13:18: groups[0].checks[0].timeout: invalid duration \"10x\"",
        "groups[0].checks[0].host: required for https",
        f"{p}:16:15: groups[0].checks[1].path: must start with /",
        f"{p}:17:21: groups[0].checks[1].ip_version: unknown value \"ipv5\"",
        "groups[0].checks[1].expect_status",
        f"{p}:14:13: groups[0].checks[1].id: duplicate check id \"a\"",
    ]
    for e in expected:
        assert e in err, f"missing {e!r} in:\n{err}"
    assert "a number needs a unit" in err
    assert "8 errors" in err


def test_json_syntax_error_has_position(tmp_path):
    p = write(tmp_path, "bad.json", '{\n  "version": 1,\n  "groups": [,]\n}\n')
    r = validate(p)
    assert r.rc == 2
    assert f"{p}:3:14: invalid JSON: unexpected ','" in r.err


def test_yaml_syntax_error_has_position(tmp_path):
    p = write(tmp_path, "bad.yaml", "version: 1\ngroups:\n  - id: [x\n")
    r = validate(p)
    assert r.rc == 2
    assert f"{p}:" in r.err


def test_toml_syntax_error_has_position(tmp_path):
    p = write(tmp_path, "bad.toml", 'version = 1\n[[groups]]\nid = "web"\nid = "x"\n')
    r = validate(p)
    assert r.rc == 2
    assert f"{p}:4:" in r.err


def test_unknown_keys_are_errors(tmp_path):
    p = write(tmp_path, "f.yaml", MINIMAL + "colour: blue\n")
    r = validate(p)
    assert r.rc == 2, r
    assert f"error: {p}:12:1: colour: unknown key\n" in r.err


def test_duplicate_keys_are_errors(tmp_path):
    p = write(tmp_path, "f.json", json.dumps({"version": 1})[:-1] + ', "version": 1}')
    r = validate(p)
    assert r.rc == 2
    assert "duplicate key" in r.err


def test_environment_references(tmp_path):
    text = MINIMAL.replace("tok-literal-1234", "${FLIPPER_TEST_TOKEN}")
    p = write(tmp_path, "f.yaml", text)
    r = validate(p)
    assert r.rc == 2
    assert "groups[0].hetzner.api_token: environment variable FLIPPER_TEST_TOKEN is not set" in r.err
    r = validate(p, env={"FLIPPER_TEST_TOKEN": "from-env"})
    assert r.rc == 0, r


def test_token_from_hcloud_token_env(tmp_path):
    p = write(tmp_path, "f.yaml", MINIMAL.replace("      api_token: tok-literal-1234\n", ""))
    r = validate(p)
    assert r.rc == 2
    assert "no API token" in r.err
    r = validate(p, "--print", env={"HCLOUD_TOKEN": "envtoken-xyz"})
    assert r.rc == 0, r
    assert json.loads(r.out.splitlines()[0])["groups"][0]["hetzner"]["token_source"] == "$HCLOUD_TOKEN"
    assert "envtoken-xyz" not in r.out + r.err


def test_token_file_and_its_mode(tmp_path):
    tok = write(tmp_path, "token", "file-token-abc\n", mode=0o644)
    p = write(tmp_path, "f.yaml", MINIMAL.replace("api_token: tok-literal-1234",
                                                  f"api_token_file: {tok}"))
    r = validate(p)
    assert r.rc == 0, r
    assert "readable by group or others" in r.err and "token file" in r.err
    os.chmod(tok, 0o600)
    r = validate(p)
    assert r.rc == 0 and "readable by group" not in r.err, r
    assert "file-token-abc" not in r.out + r.err
    os.unlink(tok)
    r = validate(p)
    assert r.rc == 2 and f'token file "{tok}" is missing' in r.err


def test_literal_token_in_readable_config_warns(tmp_path):
    p = write(tmp_path, "f.yaml", MINIMAL, mode=0o644)
    r = validate(p)
    assert r.rc == 0
    assert "holds a literal API token and is readable by group or others" in r.err
    os.chmod(p, 0o600)
    assert "literal API token" not in validate(p).err


def test_unknown_extension_and_missing_file(tmp_path):
    p = write(tmp_path, "f.ini", MINIMAL)
    r = validate(p)
    assert r.rc == 2 and "unknown configuration format" in r.err
    r = validate(str(tmp_path / "nope.yaml"))
    assert r.rc == 2 and "cannot read" in r.err


def test_default_config_path_and_env(tmp_path):
    write(tmp_path, "flipper.yaml", MINIMAL)
    r = run_flipper("validate", cwd=str(tmp_path))
    assert r.rc == 0, r
    other = write(tmp_path, "other.yaml", "version: 2\n")
    r = run_flipper("validate", cwd=str(tmp_path), env={"FLIPPER_CONFIG": other})
    assert r.rc == 2 and "unsupported version 2" in r.err


@pytest.mark.parametrize("cmd", ["reconcile", "plan", "monitor", "status", "simulate", "validate"])
def test_every_command_has_help(cmd):
    r = run_flipper(cmd, "--help")
    assert r.rc == 0
    assert r.out.startswith("usage: flipper")
    assert cmd in r.out
    r2 = run_flipper("help", cmd)
    assert r2.rc == 0 and r2.out == r.out


def test_help_documents_exit_codes_and_version():
    r = run_flipper("help")
    assert r.rc == 0
    for code in ("0 ", "1 ", "2 ", "3 ", "75 "):
        assert f"  {code}" in r.out
    v = run_flipper("version")
    assert v.rc == 0 and v.out.startswith("flipper ")
    # --version: the first line only (`version` adds the libcurl in use).
    assert run_flipper("--version").out == v.out.splitlines(keepends=True)[0]


def test_usage_errors_exit_2():
    assert run_flipper().rc == 2
    r = run_flipper("frobnicate")
    assert r.rc == 2 and "unknown command 'frobnicate'" in r.err
    r = run_flipper("--log-level", "loud", "version")
    assert r.rc == 2 and "--log-level" in r.err
    r = run_flipper("-c")
    assert r.rc == 2
    r = run_flipper("reconcile", "--bogus")
    assert r.rc == 2 and "--bogus" in r.err
    r = run_flipper("reconcile", "--for", "5")
    assert r.rc == 2 and "--for" in r.err


def test_bad_config_contacts_nothing(tmp_path, cloud):
    cloud.clear_requests()
    p = write(tmp_path, "f.yaml", BAD.replace("      api_token: t\n",
                                              f"      api_token: t\n      endpoint: {cloud.endpoint}\n"))
    r = run_flipper("-c", p, "--state", str(tmp_path / "s.db"), "reconcile", "--once")
    assert r.rc == 2
    assert "nothing was contacted" in r.err
    assert cloud.requests() == []
    assert not os.path.exists(tmp_path / "s.db")


def test_fast_interval_is_printed_and_checked(tmp_path):
    base = MINIMAL.replace("        type: http\n",
                           "        type: http\n        interval: 2s\n        fast_interval: 500ms\n")
    r = validate(write(tmp_path, "f.yaml", base), "--print")
    assert r.rc == 0, r
    c = json.loads(r.out.splitlines()[0])["groups"][0]["checks"][0]
    assert (c["interval"], c["fast_interval"]) == ("2s", "500ms")
    r = validate(write(tmp_path, "g.yaml", base.replace("500ms", "5")))
    assert r.rc == 2, r
    assert "fast_interval: invalid duration" in r.err
