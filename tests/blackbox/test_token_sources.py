"""Where a group's Hetzner token comes from, and what flipper says when a
token file is wrong: api_token / api_token_file in the file, then the
systemd credential $CREDENTIALS_DIRECTORY/hcloud-token, then $HCLOUD_TOKEN
(SPEC section 9's precedence). Each message names the file and what is
wrong with it, never the token."""

import json
import os

from conftest import run_flipper

CONFIG = """\
version: 1
groups:
  - id: web
    display_name: Web
    hetzner:
{token_line}      servers: {{label_selector: role=lb}}
      floating_ips: {{label_selector: role=vip}}
    checks:
      - id: h
        type: http
"""


def config(tmp_path, token_line=""):
    p = tmp_path / "flipper.yaml"
    p.write_text(CONFIG.format(token_line=token_line))
    os.chmod(p, 0o600)
    return str(p)


def credentials(tmp_path, content, mode=0o400):
    d = tmp_path / "credentials"
    d.mkdir(exist_ok=True)
    if content is not None:
        f = d / "hcloud-token"
        f.write_text(content)
        os.chmod(f, mode)
    return str(d)


def source(r):
    assert r.rc == 0, r
    return json.loads(r.out.splitlines()[0])["groups"][0]["hetzner"]["token_source"]


def validate(path, env=None):
    return run_flipper("-c", path, "validate", "--print", env=env)


def secret_free(r, *secrets):
    for s in secrets:
        assert s not in r.out + r.err


def test_credential_is_a_token_source(tmp_path):
    cred = credentials(tmp_path, "cred-token-111\n")
    r = validate(config(tmp_path), env={"CREDENTIALS_DIRECTORY": cred})
    assert source(r) == "$CREDENTIALS_DIRECTORY/hcloud-token"
    assert "readable by group" not in r.err
    secret_free(r, "cred-token-111")


def test_credential_outranks_hcloud_token(tmp_path):
    cred = credentials(tmp_path, "cred-token-111\n")
    r = validate(config(tmp_path), env={"CREDENTIALS_DIRECTORY": cred,
                                        "HCLOUD_TOKEN": "env-token-222"})
    assert source(r) == "$CREDENTIALS_DIRECTORY/hcloud-token"
    secret_free(r, "cred-token-111", "env-token-222")


def test_file_outranks_credential(tmp_path):
    cred = credentials(tmp_path, "cred-token-111\n")
    tok = tmp_path / "token"
    tok.write_text("file-token-333\n")
    os.chmod(tok, 0o600)
    p = config(tmp_path, f"      api_token_file: {tok}\n")
    r = validate(p, env={"CREDENTIALS_DIRECTORY": cred, "HCLOUD_TOKEN": "env-token-222"})
    assert source(r) == "api_token_file"
    p = config(tmp_path, "      api_token: ${MY_TOKEN}\n")
    r = validate(p, env={"CREDENTIALS_DIRECTORY": cred, "MY_TOKEN": "var-token-444"})
    assert source(r) == "api_token"
    secret_free(r, "cred-token-111", "var-token-444")


def test_absent_credential_falls_back_to_hcloud_token(tmp_path):
    # A credentials directory without hcloud-token (the unit loads other
    # credentials), or none at all.
    cred = credentials(tmp_path, None)
    r = validate(config(tmp_path), env={"CREDENTIALS_DIRECTORY": cred,
                                        "HCLOUD_TOKEN": "env-token-222"})
    assert source(r) == "$HCLOUD_TOKEN"
    r = validate(config(tmp_path), env={"HCLOUD_TOKEN": "env-token-222"})
    assert source(r) == "$HCLOUD_TOKEN"


def test_blank_credential_counts_as_absent(tmp_path):
    # The shipped units default the credential to a blank line
    # (SetCredential=hcloud-token:\n) so that a machine that keeps its
    # token in $HCLOUD_TOKEN still starts.
    cred = credentials(tmp_path, "\n")
    r = validate(config(tmp_path), env={"CREDENTIALS_DIRECTORY": cred,
                                        "HCLOUD_TOKEN": "env-token-222"})
    assert source(r) == "$HCLOUD_TOKEN"
    r = validate(config(tmp_path), env={"CREDENTIALS_DIRECTORY": cred})
    assert r.rc == 2, r
    assert "groups[0].hetzner.api_token: no API token" in r.err
    assert f'token file "{cred}/hcloud-token" is empty' in r.err


def test_no_token_anywhere(tmp_path):
    r = validate(config(tmp_path))
    assert r.rc == 2, r
    assert ("no API token: set api_token, api_token_file or $HCLOUD_TOKEN, "
            "or load the systemd credential hcloud-token") in r.err
    assert "is empty" not in r.err


def test_credential_with_two_lines_is_an_error(tmp_path):
    cred = credentials(tmp_path, "cred-token-111\nsecond-line-555\n")
    r = validate(config(tmp_path), env={"CREDENTIALS_DIRECTORY": cred,
                                        "HCLOUD_TOKEN": "env-token-222"})
    assert r.rc == 2, r
    assert f'token file "{cred}/hcloud-token" holds more than one line' in r.err
    secret_free(r, "cred-token-111", "second-line-555")


def test_token_file_missing(tmp_path):
    tok = tmp_path / "nope"
    p = config(tmp_path, f"      api_token_file: {tok}\n")
    r = validate(p, env={"HCLOUD_TOKEN": "env-token-222"})
    assert r.rc == 2, r
    assert f'groups[0].hetzner.api_token_file: token file "{tok}" is missing' in r.err
    assert ":6:" in r.err  # the line of api_token_file
    assert "must hold the token" not in r.err


def test_token_file_empty(tmp_path):
    tok = tmp_path / "token"
    tok.write_text("  \n\n")
    os.chmod(tok, 0o600)
    r = validate(config(tmp_path, f"      api_token_file: {tok}\n"))
    assert r.rc == 2, r
    assert f'groups[0].hetzner.api_token_file: token file "{tok}" is empty' in r.err


def test_token_file_with_two_lines(tmp_path):
    tok = tmp_path / "token"
    tok.write_text("file-token-333\nfile-token-666\n")
    os.chmod(tok, 0o600)
    r = validate(config(tmp_path, f"      api_token_file: {tok}\n"))
    assert r.rc == 2, r
    assert f'token file "{tok}" holds more than one line; put the token alone in it' in r.err
    secret_free(r, "file-token-333", "file-token-666")


def test_token_file_unreadable(tmp_path):
    # A directory where the file should be: readable by no one, root included.
    tok = tmp_path / "token"
    tok.mkdir()
    r = validate(config(tmp_path, f"      api_token_file: {tok}\n"))
    assert r.rc == 2, r
    assert f'token file "{tok}" cannot be read: Is a directory' in r.err


# ---- a token the API refuses, under monitor ------------------------------------

def _monitor_with_token_file(env, token_path, content, extra_env=None):
    token_path.write_text(content)
    os.chmod(token_path, 0o600)
    env.pair()
    cfg = env.config(checks=[env.check()], group_extra={"poll_interval": "4s"})
    del cfg["groups"][0]["hetzner"]["api_token"]
    cfg["groups"][0]["hetzner"]["api_token_file"] = str(token_path)
    with open(env.config_path, "w") as f:
        json.dump(cfg, f)
    return env.start("monitor", extra_env=extra_env)


def _refusals(env):
    return [r for r in env.cloud.requests("GET", r"/v1/servers$") if not r["auth_ok"]]


def test_refused_token_backs_off_and_the_rotated_file_is_used(env, tmp_path):
    """401 for a stale token: flipper reads the file again, waits 1s, 2s,
    4s (doubling up to poll_interval, 4s) between requests, tells people
    once, and as soon as the file holds the new token (a rotated
    Kubernetes Secret) uses it without a restart, and tells once that the
    group passes again."""
    from conftest import log_lines, stderr_of, wait_for
    from conftest import TOKEN
    token_file = tmp_path / "token"
    p = _monitor_with_token_file(env, token_file, "stale-token-0123456789abcdef\n")
    try:
        waits = lambda: [l["next_attempt_in"] for l in log_lines(stderr_of(p))
                         if l.get("msg", "").startswith("the API refuses the token")]
        wait_for(lambda: len(waits()) >= 4, 60, what="four refusals")
        assert waits()[:4] == ["1s", "2s", "4s", "4s"], waits()
        # One request per wait: the backoff holds the API calls back.
        assert len(_refusals(env)) <= len(waits()) + 1
        refused = [t for t in env.texts() if "unauthorized" in t]
        assert len(refused) == 1, "\n-----\n".join(env.texts())

        # Replaced in one step, as Kubernetes swaps a Secret's files.
        (tmp_path / "token.new").write_text(TOKEN + "\n")
        os.replace(tmp_path / "token.new", token_file)
        wait_for(lambda: [r for r in env.cloud.requests("GET", r"/v1/servers$") if r["auth_ok"]],
                 30, what="a request with the new token")
        wait_for(lambda: [t for t in env.texts() if "Group passes again" in t], 30,
                 what="the recovery message")
        logs = log_lines(stderr_of(p))
        assert any(l.get("msg", "").startswith("the token changed where it came from")
                   and l.get("source") == "api_token_file" for l in logs)
        assert len([t for t in env.texts() if "unauthorized" in t]) == 1, "\n-----\n".join(env.texts())
        assert len([t for t in env.texts() if "Group passes again" in t]) == 1
        out = stderr_of(p)
        assert TOKEN not in out and "stale-token" not in out
    finally:
        p.send_signal(15)
        assert p.wait(30) == 0, stderr_of(p)


def test_refused_credential_is_read_again(env, tmp_path):
    """The same with the systemd credential $CREDENTIALS_DIRECTORY/hcloud-token."""
    from conftest import TOKEN, stderr_of, wait_for
    cred = credentials(tmp_path, "stale-credential-0123456789\n", mode=0o600)
    env.pair()
    cfg = env.config(checks=[env.check()], group_extra={"poll_interval": "4s"})
    del cfg["groups"][0]["hetzner"]["api_token"]
    with open(env.config_path, "w") as f:
        json.dump(cfg, f)
    p = env.start("monitor", extra_env={"CREDENTIALS_DIRECTORY": cred})
    try:
        wait_for(lambda: _refusals(env), 30, what="a refusal")
        with open(os.path.join(cred, "hcloud-token"), "w") as f:
            f.write(TOKEN + "\n")
        wait_for(lambda: [r for r in env.cloud.requests("GET", r"/v1/servers$") if r["auth_ok"]],
                 30, what="a request with the new credential")
    finally:
        p.send_signal(15)
        assert p.wait(30) == 0, stderr_of(p)


def test_forbidden_backs_off_as_unauthorized_does(env, tmp_path):
    """403 (a token without the permission) is a refusal too: the same
    doubling wait, told once, and the group passes again without a
    restart once the API takes the token."""
    from conftest import TOKEN, log_lines, stderr_of, wait_for
    p = _monitor_with_token_file(env, tmp_path / "token", TOKEN + "\n")
    env.cloud.add_fault(method="GET", path=r"/v1/servers$", status=403, code="forbidden",
                        count=-1)
    try:
        waits = lambda: [(l["http_status"], l["next_attempt_in"]) for l in log_lines(stderr_of(p))
                         if l.get("msg", "").startswith("the API refuses the token")]
        wait_for(lambda: len(waits()) >= 3, 60, what="three refusals")
        assert waits()[:3] == [(403, "1s"), (403, "2s"), (403, "4s")], waits()
        wait_for(lambda: [t for t in env.texts() if "forbidden" in t], 30,
                 what="the failure told")
        env.cloud.clear_faults()
        wait_for(lambda: [t for t in env.texts() if "Group passes again" in t], 30,
                 what="the recovery message")
        assert len([t for t in env.texts() if "forbidden" in t]) == 1, "\n-----\n".join(env.texts())
    finally:
        p.send_signal(15)
        assert p.wait(30) == 0, stderr_of(p)
