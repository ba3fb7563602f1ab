"""A configuration that does not parse never quotes a secret back (issue
15 item 10): a TOML value written without quotes is as likely an
api_token, a webhook URL or a header value as a typo, so the reader's
errors say where (file:line:col) and what kind of value is wrong, never
its text. YAML and JSON syntax errors are held to the same rule.
Through the real binary: validate, plan and reconcile share the loader."""

import json
import os
import re

import pytest

from conftest import FIXTURES, run_flipper

# The original's format, with our own values (tests/fixtures/README.md).
DATA = os.path.join(FIXTURES, "original")

# Secrets written bare, each of a shape that sends the TOML reader down a
# different path (bare word, number, radix, overflow, date, time).
BARE = {
    "token": "tok-Zq8Xv3Lk9Pw2Rt5Y",
    "digits-first": "7f3Zq8Xv3Lk9Pw2Rt5Y",
    "hex-like": "0x7fZq8Xv3Lk9Pw2",
    "long-number": "98765432109876543210987654321",
    "leading-zero": "0123456789012345678",
    "date-like": "2024-13-45Zq8Xv3Lk9",
    "time-like": "23:61:00Zq8Xv3Lk9",
}

# Where a secret lives in readme-shape.toml: (the quoted line, its key).
PLACES = {
    "api_token": 'api_token = "fixture-token-7f3a"',
    "heartbeat.url": 'url = "https://beats.example.org/ping/7f3a"',
    "notifications.targets.url": 'url = "https://chat.example.org/hooks/fixture-hook-id"',
}


def original_toml():
    with open(os.path.join(DATA, "readme-shape.toml")) as f:
        return f.read()


def secret_part(secret):
    """The part of a secret that must never appear: all of it but a
    leading prefix a message could name for its own reasons."""
    return secret[-12:]


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    os.chmod(p, 0o600)
    return str(p)


def position_of(text, needle):
    """1-based line and column of needle's first character."""
    at = text.index(needle)
    line = text.count("\n", 0, at) + 1
    col = at - (text.rfind("\n", 0, at) + 1) + 1
    return line, col


def assert_refused_without_secret(tmp_path, path, secret, where=None):
    for args in (("validate",), ("plan",), ("reconcile", "--once")):
        r = run_flipper("-c", path, "--state", str(tmp_path / "state.db"), *args)
        assert r.rc == 2, (args, r)
        assert secret_part(secret) not in r.err + r.out, (args, r)
        if where:
            assert "%s:%d:%d: " % (path, where[0], where[1]) in r.err, (where, r.err)
    assert not os.path.exists(tmp_path / "state.db")


@pytest.mark.parametrize("shape", sorted(BARE))
@pytest.mark.parametrize("place", sorted(PLACES))
def test_an_unquoted_secret_in_toml_is_never_quoted_back(tmp_path, place, shape):
    secret = BARE[shape]
    line = PLACES[place]
    text = original_toml()
    assert line in text
    bad = text.replace(line, line.split("=")[0] + "= " + secret)
    path = write(tmp_path, "flipper.toml", bad)
    where = position_of(bad, secret)
    assert_refused_without_secret(tmp_path, path, secret)
    # The position points into the value: at its start, or at the one
    # character that stopped it being a value.
    r = run_flipper("-c", path, "validate")
    m = re.search(re.escape(path) + r":(\d+):(\d+): ", r.err)
    assert m, r.err
    assert int(m.group(1)) == where[0], r.err
    assert where[1] <= int(m.group(2)) <= where[1] + len(secret), r.err


def test_an_unquoted_header_value_in_toml_is_never_quoted_back(tmp_path):
    secret = "Basic_dXNlcjpwYXNzd29yZA"
    text = original_toml().replace(
        'ip_version = "ipv4"\n', 'ip_version = "ipv4"\nheaders = { Authorization = %s }\n' % secret)
    path = write(tmp_path, "flipper.toml", text)
    assert_refused_without_secret(tmp_path, path, secret, where=position_of(text, secret))


BROKEN = {
    # An unterminated string runs to the end of the line.
    "yaml-unterminated": ("flipper.yaml", 'api_token: "fixture-token-7f3a"',
                          'api_token: "tok-Zq8Xv3Lk9Pw2Rt5Y'),
    "yaml-bad-indent": ("flipper.yaml", 'api_token: "fixture-token-7f3a"',
                        "api_token: tok-Zq8Xv3Lk9Pw2Rt5Y\n   bad: [indent"),
    "yaml-bad-escape": ("flipper.yaml", 'api_token: "fixture-token-7f3a"',
                        'api_token: "tok-Zq8X\\qv3Lk9Pw2Rt5Y"'),
    "yaml-webhook": ("flipper.yaml", "url: https://chat.example.org/hooks/fixture-hook-id",
                     "url: https://chat.example.org/hooks/tok-Zq8Xv3Lk9Pw2Rt5Y: x: y"),
    "json-bare": ("flipper.json", '"api_token": "fixture-token-7f3a"',
                  '"api_token": tok-Zq8Xv3Lk9Pw2Rt5Y'),
    "json-unterminated": ("flipper.json", '"api_token": "fixture-token-7f3a"',
                          '"api_token": "tok-Zq8Xv3Lk9Pw2Rt5Y'),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_yaml_and_json_syntax_errors_do_not_quote_a_secret(tmp_path, case):
    name, good, bad = BROKEN[case]
    ext = os.path.splitext(name)[1]
    with open(os.path.join(DATA, "readme-shape" + ext)) as f:
        text = f.read()
    assert good in text, good
    path = write(tmp_path, name, text.replace(good, bad))
    assert_refused_without_secret(tmp_path, path, "tok-Zq8Xv3Lk9Pw2Rt5Y")
    r = run_flipper("-c", path, "validate")
    assert re.search(re.escape(path) + r":\d+:\d+: ", r.err), r.err


def test_a_quoted_secret_still_loads(tmp_path):
    """The other side: the same values, quoted, are a valid configuration."""
    text = original_toml()
    for place, line in PLACES.items():
        key = line.split("=")[0]
        value = BARE["token"] if place == "api_token" else "https://hooks.example.com/" + BARE["token"]
        text = text.replace(line, key + '= "%s"' % value)
    path = write(tmp_path, "flipper.toml", text)
    r = run_flipper("-c", path, "validate", "--print")
    assert r.rc == 0, r
    assert BARE["token"] not in r.out       # masked in --print
    assert json.loads(r.out[r.out.index("{"):r.out.rindex("}") + 1])
