"""The configuration, strict where a typo is dangerous and compatible where
the original flipper (koanf, mapstructure) was lenient (issue 16), and the
transport and masking rules of issue 15 items 9 and 10, through the real
binary: exact error shapes, exit codes, what a run does with the result.
"""

import json
import os

import pytest

from conftest import HOOK_PATH, TOKEN, log_lines, run_flipper
from test_validate import ORIGINAL, validate, write


def printed(path, env=None):
    """validate --print: stdout is the JSON alone, "configuration OK" on stderr."""
    r = validate(path, "--print", env=env)
    assert r.rc == 0, r
    assert "configuration OK" in r.err
    return json.loads(r.out), r


GROUP = """\
version: 1
groups:
  - id: web
    display_name: Web
    hetzner:
      api_token: tok-literal-1234
      servers: {label_selector: role=lb}
      floating_ips: {label_selector: role=vip}
"""
CHECK = "    checks: [{id: h, type: http}]\n"


# ---- strict: unknown keys --------------------------------------------------------

def test_a_typo_is_an_error_with_a_hint(tmp_path):
    p = write(tmp_path, "f.yaml", GROUP + "    readonyl: true\n" + CHECK)
    r = validate(p)
    assert r.rc == 2, r
    assert r.out == ""
    assert r.err == (f"error: {p}:9:5: groups[0].readonyl: unknown key; did you mean `readonly`?\n"
                     f"{p}: 1 error\n")


def test_checks_indented_one_level_too_deep(tmp_path, cloud):
    """The group would have had no checks and never failed over."""
    text = GROUP + "      checks:\n        - {id: h, type: http}\n"
    p = write(tmp_path, "f.yaml", text.replace(
        "      api_token:", f"      endpoint: {cloud.endpoint}\n      api_token:"))
    r = validate(p)
    assert r.rc == 2
    assert (f"error: {p}:10:7: groups[0].hetzner.checks: unknown key; did you mean `checks` one "
            "level up, in groups[0]? check the indentation\n") in r.err
    # A run refuses it before contacting anything.
    cloud.clear_requests()
    r = run_flipper("-c", p, "--state", str(tmp_path / "s.db"), "reconcile", "--once")
    assert r.rc == 2 and "nothing was contacted" in r.err, r
    assert cloud.requests() == []


def test_a_key_one_level_down(tmp_path):
    p = write(tmp_path, "f.yaml", GROUP + CHECK + "telemetry: {level: debug}\n")
    r = validate(p)
    assert r.rc == 2
    assert f"{p}:10:13: telemetry.level: unknown key; did you mean `logging.level`, " \
           "one level down?" in r.err


def test_top_level_x_keys_hold_anchors(tmp_path):
    p = write(tmp_path, "f.yaml", "x-check: &c {type: http, fall: 2}\n" + GROUP +
              "    checks: [{<<: *c, id: h}]\n")
    cfg, r = printed(p)
    assert cfg["groups"][0]["checks"][0]["fall"] == 2
    assert "x-check" not in r.out
    p = write(tmp_path, "g.yaml", "defaults: &c {type: http}\n" + GROUP + CHECK)
    r = validate(p)
    assert r.rc == 2 and f"{p}:1:1: defaults: unknown key (a mapping kept only for YAML " \
        "anchors may sit under a top-level key starting with x-)" in r.err


# ---- strict: keys the original had, unused ----------------------------------------

SERVER = "server: {enabled: true, port: 8080, assets: /srv/assets, templates: \"\"}\n"


def test_unused_server_keys_warn_once_from_validate(tmp_path):
    p = write(tmp_path, "f.yaml", SERVER + GROUP + CHECK)
    r = validate(p)
    assert r.rc == 0, r
    # enabled and port are monitor's HTTP endpoint; the web UI's files are not used.
    assert r.err == (f"warning: {p}:1:37: server: accepted for compatibility with the original "
                     "flipper but not used: assets\n")


def test_unused_server_keys_are_not_logged_by_runs(env):
    env.pair()
    env.config(checks=[env.check()])
    with open(env.config_path) as f:
        cfg = json.load(f)
    cfg["server"] = {"enabled": True, "host": "0.0.0.0", "assets": "/srv/assets"}
    with open(env.config_path, "w") as f:
        json.dump(cfg, f)
    for _ in range(2):
        r = env.reconcile()
        assert r.rc == 0, r
        # once there was an info line on every run: "server.* settings ... not used"
        assert "server.*" not in r.err and "not used" not in r.err, r.err


def test_the_originals_server_section_says_nothing(tmp_path):
    """enabled: false with empty assets and templates asks for nothing."""
    r = validate(os.path.join(ORIGINAL, "readme-shape.yaml"))
    assert r.rc == 0, r
    assert "server" not in r.err


# ---- strict: empty token, control characters --------------------------------------

def test_empty_api_token_is_an_error(tmp_path):
    p = write(tmp_path, "f.yaml", GROUP.replace("tok-literal-1234", '""') + CHECK)
    r = validate(p, env={"HCLOUD_TOKEN": "would-have-been-used"})
    assert r.rc == 2
    assert (f"error: {p}:6:18: groups[0].hetzner.api_token: is empty; remove the key to use "
            "api_token_file, the systemd credential or $HCLOUD_TOKEN\n") in r.err
    p = write(tmp_path, "g.yaml", GROUP.replace("tok-literal-1234", "${HCLOUD_TOKEN_WEB}") + CHECK)
    r = validate(p, env={"HCLOUD_TOKEN_WEB": ""})
    assert r.rc == 2
    assert (f"{p}:6:18: groups[0].hetzner.api_token: is empty (the environment variable it "
            "references is set but empty); remove the key") in r.err


def test_control_characters_in_path_host_and_headers(tmp_path):
    p = write(tmp_path, "f.yaml", GROUP + "    checks:\n"
              '      - {id: h, type: http, path: "/a\\rb", host: "h\\x00x",'
              ' headers: {X-A: "v\\x1b[31m"}}\n')
    r = validate(p)
    assert r.rc == 2
    assert "groups[0].checks[0].path: must not contain control characters" in r.err
    assert "groups[0].checks[0].host: string contains a NUL character" in r.err
    assert "groups[0].checks[0].headers.X-A: header value must not contain control " \
           "characters" in r.err
    assert "3 errors" in r.err


# ---- compatible: case, weak typing, merge keys, zero ---------------------------------

def test_keys_in_any_case(tmp_path):
    p = write(tmp_path, "f.yaml", GROUP.replace("display_name", "Display_Name") +
              "    ReadOnly: true\n    Checks: [{ID: h, TYPE: http}]\n")
    cfg, _ = printed(p)
    assert cfg["groups"][0]["readonly"] is True
    assert cfg["groups"][0]["checks"][0]["id"] == "h"


def test_two_spellings_of_one_key_and_upper_case_values(tmp_path):
    p = write(tmp_path, "f.yaml", GROUP + "    readonly: false\n    ReadOnly: true\n"
              "    checks: [{id: h, type: HTTP}]\n")
    r = validate(p)
    assert r.rc == 2
    assert (f"error: {p}:10:5: groups[0].ReadOnly: duplicate key: `ReadOnly` is `readonly` "
            "(line 9); keys match without regard to case\n") in r.err
    assert f'{p}:11:28: groups[0].checks[0].type: unknown value "HTTP" (want http, https)' in r.err


def test_header_names_keep_their_spelling_on_the_wire(env):
    env.pair()
    env.config(checks=[env.check(headers={"x-PROBE-name": "flipper"})])
    r = env.reconcile()
    assert r.rc == 0, r
    reqs = env.backends.requests("127.0.0.11", env.port)
    assert reqs and all(q["headers"].get("x-PROBE-name") == "flipper" for q in reqs), reqs


@pytest.mark.parametrize("fmt", ["yaml", "json", "toml"])
def test_weak_typing_in_every_format(tmp_path, fmt):
    texts = {
        "yaml": GROUP.replace("version: 1", 'version: "1"') +
        '    readonly: "true"\n    checks: [{id: h, type: http, port: "8080", fall: "3", '
        'rise: "2"}]\n',
        "json": json.dumps({"version": "1", "groups": [{
            "id": "web", "display_name": "Web", "readonly": "true",
            "hetzner": {"api_token": "t", "servers": {"label_selector": "a"},
                        "floating_ips": {"label_selector": "b"}},
            "checks": [{"id": "h", "type": "http", "port": "8080", "fall": "3", "rise": 2.0}]}]}),
        "toml": 'version = "1"\n[[groups]]\nid = "web"\ndisplay_name = "Web"\nreadonly = "true"\n'
        '[groups.hetzner]\napi_token = "t"\nservers.label_selector = "a"\n'
        'floating_ips.label_selector = "b"\n[[groups.checks]]\nid = "h"\ntype = "http"\n'
        'port = "8080"\nfall = "3"\nrise = "2"\n',
    }
    cfg, _ = printed(write(tmp_path, "f." + fmt, texts[fmt]))
    c = cfg["groups"][0]["checks"][0]
    assert cfg["version"] == 1 and cfg["groups"][0]["readonly"] is True
    assert (c["port"], c["fall"], c["rise"]) == (8080, 3, 2)


def test_durations_still_want_a_unit(tmp_path):
    p = write(tmp_path, "f.yaml", GROUP + '    checks: [{id: h, type: http, timeout: "5"}]\n')
    r = validate(p)
    assert r.rc == 2
    assert f'{p}:9:43: groups[0].checks[0].timeout: invalid duration "5": ' in r.err


def test_yaml_merge_keys(tmp_path):
    p = write(tmp_path, "f.yaml", """\
x-fast: &fast {interval: 2s, fall: 3, timeout: 1s}
x-strict: &strict {fall: 5, rise: 4, method: HEAD}
""" + GROUP + """\
    checks:
      - <<: [*fast, *strict]
        id: a
        type: http
        timeout: 3s
""")
    cfg, _ = printed(p)
    c = cfg["groups"][0]["checks"][0]
    # explicit keys win, then the earlier source
    assert (c["interval"], c["timeout"], c["fall"], c["rise"], c["method"]) == \
        ("2s", "3s", 3, 4, "HEAD")


def test_merge_keys_are_yaml_only(tmp_path):
    p = write(tmp_path, "f.json", json.dumps({"version": 1, "<<": {}, "groups": []}))
    r = validate(p)
    assert r.rc == 2
    assert f"{p}:1:16: <<: unknown key (merge keys work only in YAML, unquoted)" in r.err


def test_zero_means_the_default(tmp_path):
    p = write(tmp_path, "f.yaml", GROUP + "    poll_interval: 0s\n    poll_timeout: 0s\n"
              "    plan_apply_timeout: 0\n    failback_delay: 0s\n    checks:\n"
              "      - {id: h, type: https, host: h.example, port: 0, fall: 0, rise: 0, "
              "interval: 0s, timeout: 0s}\n")
    cfg, _ = printed(p)
    g = cfg["groups"][0]
    c = g["checks"][0]
    assert (g["poll_interval"], g["poll_timeout"], g["plan_apply_timeout"]) == \
        ("1m0s", "20s", "30s")
    assert g["failback_delay"] == "0s"
    assert (c["port"], c["fall"], c["rise"], c["interval"], c["timeout"]) == \
        (443, 1, 1, "1m0s", "10s")
    p = write(tmp_path, "g.yaml", GROUP + "    poll_interval: always\n" + CHECK)
    assert printed(p)[0]["groups"][0]["poll_interval"] == "always"


def test_a_file_without_extension_is_toml(tmp_path):
    with open(os.path.join(ORIGINAL, "readme-shape.toml")) as f:
        toml = f.read()
    p = write(tmp_path, "flipper", toml)
    r = validate(p)
    assert r.rc == 0 and r.out == "configuration OK\n", r
    p = write(tmp_path, "config", GROUP + CHECK)
    r = validate(p)
    assert r.rc == 2 and f"{p}:1:8:" in r.err, r      # YAML read as TOML


# ---- compatible: FLIPPER_* ------------------------------------------------------------

def test_env_overrides_and_print_marks_them(tmp_path):
    p = write(tmp_path, "f.yaml", GROUP + CHECK + "telemetry: {logging: {level: warn}}\n")
    env = {"FLIPPER_TELEMETRY__LOGGING__LEVEL": "debug",
           "FLIPPER_HEARTBEAT__ENABLED": "true",
           "FLIPPER_HEARTBEAT__URL": "https://hb.example/ping/s3cret",
           "FLIPPER_HEARTBEAT__INTERVAL": "1m", "FLIPPER_HEARTBEAT__TIMEOUT": "5s",
           "FLIPPER_CONFIG": p, "FLIPPER_STATE": str(tmp_path / "s.db")}
    cfg, r = printed(p, env=env)
    assert cfg["telemetry"]["logging"]["level"] == "debug"
    assert cfg["heartbeat"]["enabled"] is True
    assert cfg["heartbeat"]["url"] == "https://hb.example/…"
    assert cfg["from_environment"] == {
        "heartbeat.enabled": "FLIPPER_HEARTBEAT__ENABLED",
        "heartbeat.interval": "FLIPPER_HEARTBEAT__INTERVAL",
        "heartbeat.timeout": "FLIPPER_HEARTBEAT__TIMEOUT",
        "heartbeat.url": "FLIPPER_HEARTBEAT__URL",
        "telemetry.logging.level": "FLIPPER_TELEMETRY__LOGGING__LEVEL"}
    assert "s3cret" not in r.out + r.err
    assert r.err == "configuration OK\n"       # reserved names are not overrides
    # Without overrides, the JSON has no such key.
    assert "from_environment" not in printed(p)[0]


def test_env_overrides_that_name_no_key(tmp_path):
    p = write(tmp_path, "f.yaml", GROUP + CHECK)
    r = validate(p, env={"FLIPPER_TELEMETRY__LOGING__LEVEL": "debug",
                         "FLIPPER_GROUPS__0__READONLY": "true"})
    assert r.rc == 0, r
    assert r.err == (
        f"warning: {p}: FLIPPER_GROUPS__0__READONLY: groups is a list: its elements cannot be "
        "set from the environment; ignored\n"
        f"warning: {p}: FLIPPER_TELEMETRY__LOGING__LEVEL: names no configuration key "
        "(telemetry.loging.level); ignored; did you mean FLIPPER_TELEMETRY__LOGGING__LEVEL?\n")


def test_a_bad_override_names_its_variable(tmp_path):
    p = write(tmp_path, "f.yaml", GROUP + CHECK)
    r = validate(p, env={"FLIPPER_HEARTBEAT__ENABLED": "maybe"})
    assert r.rc == 2
    assert (f"error: {p}: heartbeat.enabled: expected true or false, got \"maybe\" "
            "(set by $FLIPPER_HEARTBEAT__ENABLED)\n") in r.err


def test_precedence_command_line_environment_file(env):
    """--log-format beats FLIPPER_*, which beats the file."""
    env.pair()
    env.config(checks=[env.check()])          # the file says json, debug
    over = {"FLIPPER_TELEMETRY__LOGGING__FORMAT": "text",
            "FLIPPER_TELEMETRY__LOGGING__LEVEL": "info"}
    r = env.reconcile(env=over)
    assert r.rc == 0, r
    lines = r.err.splitlines()
    assert lines and not any(l.startswith("{") for l in lines), r.err
    assert not any(" debug " in l for l in lines), r.err
    r = env.reconcile("--log-format", "json", env=over)
    assert r.rc == 0, r
    assert all(l.startswith("{") for l in r.err.splitlines()), r.err


# ---- notifications and logs -------------------------------------------------------------

def test_the_originals_icon_and_its_spelling(env):
    env.pair()
    env.config(checks=[env.check()], notifications=False)
    with open(env.config_path) as f:
        cfg = json.load(f)
    cfg["notifications"] = {"enabled": True, "targets": [
        {"type": "mattermost", "url": env.sink.url + HOOK_PATH, "channel": "ops"},
        {"type": "mattermost", "url": env.sink.url + "/hooks/two", "iconemoji": ":whale:"},
        {"type": "mattermost", "url": env.sink.url + "/hooks/three",
         "icon_url": "https://example.test/i.png"}]}
    with open(env.config_path, "w") as f:
        json.dump(cfg, f)
    r = env.reconcile()
    assert r.rc == 0, r
    one, two, three = env.webhooks(), env.webhooks("/hooks/two"), env.webhooks("/hooks/three")
    assert one and two and three
    assert all(b["icon_emoji"] == ":dolphin:" for b in one)
    assert all(b["icon_emoji"] == ":whale:" for b in two)
    assert all("icon_emoji" not in b and b["icon_url"] == "https://example.test/i.png"
               for b in three)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_service_name_on_every_log_line(env, fmt):
    env.pair()
    env.config(checks=[env.check()], service={"name": "edge lb"})
    r = env.reconcile("--log-format", fmt, "--log-level", "debug")
    assert r.rc == 0, r
    lines = r.err.splitlines()
    assert len(lines) > 3, r.err
    if fmt == "json":
        assert all(l["service"] == "edge lb" for l in log_lines(r.err)), r.err
    else:
        assert all(' service="edge lb"' in l for l in lines), r.err


def test_validate_print_pipes_into_a_json_reader(tmp_path):
    p = write(tmp_path, "f.yaml", GROUP + CHECK)
    r = validate(p, "--print")
    assert r.rc == 0
    json.loads(r.out)               # the whole of stdout, not its first line
    assert r.out.count("\n") == 1
    assert r.err == "configuration OK\n"


# ---- issue 15: the endpoint's transport, masking in --print --------------------------------

def test_plain_http_endpoint_is_refused_unless_loopback_or_allowed(tmp_path):
    remote = GROUP.replace("      api_token:", "      endpoint: http://api.example.test/v1\n"
                           "      api_token:") + CHECK
    p = write(tmp_path, "f.yaml", remote)
    r = validate(p)
    assert r.rc == 2
    assert r.err == (
        f"error: {p}:6:17: groups[0].hetzner.endpoint: endpoint is plain http:// to a host "
        "that is not loopback: the API token would travel in clear text; use https://, or set "
        f"allow_insecure_endpoint: true\n{p}: 1 error\n")
    p = write(tmp_path, "g.yaml", remote.replace(
        "      api_token:", "      allow_insecure_endpoint: true\n      api_token:"))
    assert validate(p).rc == 0
    for host in ("127.0.0.1:8080", "127.1.2.3", "localhost:9", "[::1]:80"):
        p = write(tmp_path, "h.yaml", remote.replace("api.example.test", host))
        r = validate(p)
        assert r.rc == 0, (host, r)


def test_plain_http_hcloud_endpoint_is_refused(tmp_path):
    p = write(tmp_path, "f.yaml", GROUP + CHECK)
    r = validate(p, env={"HCLOUD_ENDPOINT": "http://api.example.test/v1"})
    assert r.rc == 2
    assert (f"error: {p}:6:7: groups[0].hetzner.endpoint: $HCLOUD_ENDPOINT is plain http:// "
            "to a host that is not loopback") in r.err
    cfg, _ = printed(p, env={"HCLOUD_ENDPOINT": "http://127.0.0.1:1/v1"})
    assert cfg["groups"][0]["hetzner"]["endpoint"] == "http://127.0.0.1:1/v1"


def test_the_files_endpoint_outranks_hcloud_endpoint(env):
    env.pair()
    env.config(checks=[env.check()])     # the file names the fake cloud
    env.cloud.clear_requests()
    r = env.reconcile(env={"HCLOUD_ENDPOINT": "http://127.0.0.1:9/v1"})
    assert r.rc == 0, r
    assert env.cloud.requests(), "the file's endpoint was not used"


def test_print_masks_header_values_and_userinfo(tmp_path):
    p = write(tmp_path, "f.yaml", GROUP.replace(
        "      api_token:", "      endpoint: https://robot:ep-s3cret@api.example.test/v1\n"
        "      api_token:") + "    checks:\n      - id: h\n        type: http\n"
        "        headers: {Authorization: Basic cm9ib3Q6cHc=, X-Api-Key: key-s3cret}\n")
    cfg, r = printed(p)
    g = cfg["groups"][0]
    assert g["checks"][0]["headers"] == {"Authorization": "(set)", "X-Api-Key": "(set)"}
    assert g["hetzner"]["endpoint"] == "https://***@api.example.test/v1"
    for secret in ("cm9ib3Q6cHc=", "key-s3cret", "ep-s3cret", "robot", "tok-literal-1234"):
        assert secret not in r.out + r.err


def test_original_readme_example_in_three_formats_unchanged():
    outs = []
    for name in ("readme-shape.yaml", "readme-shape.json", "readme-shape.toml"):
        cfg, r = printed(os.path.join(ORIGINAL, name))
        assert "error" not in r.err and r.err.endswith("configuration OK\n"), r
        outs.append(cfg)
    assert outs[0] == outs[1] == outs[2]
    assert outs[0]["notifications"]["targets"][0]["icon_emoji"] == ":dolphin:"


def test_token_from_hcloud_token_stays_out_of_output(tmp_path):
    p = write(tmp_path, "f.yaml", GROUP.replace("      api_token: tok-literal-1234\n", "") + CHECK)
    cfg, r = printed(p, env={"HCLOUD_TOKEN": TOKEN})
    assert cfg["groups"][0]["hetzner"]["token_source"] == "$HCLOUD_TOKEN"
    assert TOKEN not in r.out + r.err


def test_state_path_from_the_environment_reaches_status(env):
    """status reads only state.path from the file: the override applies there too."""
    env.pair()
    env.config(checks=[env.check()])
    assert env.reconcile().rc == 0
    r = run_flipper("-c", env.config_path, "status", "--json",
                    env={"FLIPPER_STATE__PATH": env.state})
    assert r.rc == 0, r
    assert [g["id"] for g in json.loads(r.out)["groups"]] == ["web"]
    # --state outranks it
    r = run_flipper("-c", env.config_path, "--state", str(env.tmp / "none.db"), "status",
                    env={"FLIPPER_STATE__PATH": env.state})
    assert r.rc == 1 and "no state" in (r.out + r.err).lower(), r
