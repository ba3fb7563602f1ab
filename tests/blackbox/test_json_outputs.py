"""The JSON flipper writes is an interface: `validate --print`,
`status --json` and the webhook payloads must read the same, byte for byte,
whatever writes them. The golden files in data/golden/ were written by the
binary before the JSON writer (src/json_writer.c) replaced hand-placed
punctuation; the tests compare the current binary's output with them.

Only what changes from run to run is masked before comparing (timestamps,
durations measured, temporary paths, the sink's port). To rewrite the
golden files after a deliberate change, run with GOLDEN_UPDATE=1 and
review the diff.
"""

import json
import os
import re
import time

import pytest

from conftest import FIXTURES, HOOK_PATH, run_flipper

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "data", "golden")
# The original's format, with our own values (tests/fixtures/README.md).
CONFIGS = os.path.join(FIXTURES, "original")
UPDATE = os.environ.get("GOLDEN_UPDATE") == "1"


def compare(name, text):
    path = os.path.join(GOLDEN, name)
    if UPDATE:
        with open(path, "w") as f:
            f.write(text)
    with open(path) as f:
        want = f.read()
    assert text == want, f"{name} differs from the golden file:\n{text}\n---\n{want}"


# ---- validate --print ---------------------------------------------------------

def test_validate_print_full(tmp_path):
    token = tmp_path / "token"
    token.write_text("file-token\n")
    os.chmod(token, 0o600)
    ca = tmp_path / "ca.pem"
    ca.write_text("not parsed by validate\n")
    with open(os.path.join(GOLDEN, "full.yaml")) as f:
        text = f.read().replace("TOKENFILE", str(token)).replace("CAFILE", str(ca))
    p = tmp_path / "full.yaml"
    p.write_text(text)
    os.chmod(p, 0o600)
    r = run_flipper("-c", str(p), "validate", "--print")
    assert r.rc == 0, r
    out = r.out.replace(str(token), "TOKENFILE").replace(str(ca), "CAFILE")
    compare("full.print.json", out)
    # The warnings, in any order: the key table may read keys in another order.
    warnings = sorted(l.replace(str(p), "FILE") for l in r.err.splitlines())
    compare("full.print.stderr", "\n".join(warnings) + "\n")


@pytest.mark.parametrize("name", ["readme-shape.yaml", "readme-shape.json", "readme-shape.toml"])
def test_validate_print_originals(name):
    r = run_flipper("-c", os.path.join(CONFIGS, name), "validate", "--print")
    assert r.rc == 0, r
    compare(name.replace(".", "-") + ".print.json", r.out)


def test_validate_print_minimal(tmp_path):
    p = tmp_path / "m.json"
    p.write_text(json.dumps({"version": 1, "groups": [{
        "id": "g", "display_name": "G", "hetzner": {
            "servers": {"label_selector": "a"}, "floating_ips": {"label_selector": "b"}}}]}))
    r = run_flipper("-c", str(p), "validate", "--print", env={"HCLOUD_TOKEN": "t"})
    assert r.rc == 0, r
    compare("minimal.print.json", r.out)


# ---- status --json and webhook payloads ----------------------------------------

TIMES = re.compile(r'"(inventory_at|last_round_at|last_round_ms|since|last_run|last_ok|'
                   r'duration_ms|last_at|last_ok_at|until)":-?\d+')
STATE = re.compile(r'^\{"state":"[^"]*",')
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
CORRELATION = re.compile(r"correlation id [0-9a-f]+")


def mask_status(text):
    text = CORRELATION.sub("correlation id X", text)
    text = STATE.sub('{"state":"STATE",', text)
    return TIMES.sub(lambda m: '"%s":0' % m.group(1), text)


def mask_text(text):
    return CORRELATION.sub("correlation id X", STAMP.sub("TIMESTAMP", text))


def reconcile(env, rc=0):
    time.sleep(0.1)          # the 100 ms check interval is due again
    r = env.reconcile()
    assert r.rc == rc, r
    return r


def test_status_json_and_webhook_payloads(env):
    env.pair()
    cfg = env.config(checks=[env.check()])
    cfg["notifications"] = {"enabled": True, "targets": [
        {"type": "mattermost", "url": env.sink.url + HOOK_PATH, "channel": "ops",
         "username": "flipper \"bot\"", "icon_url": "https://example.test/f.png",
         "icon_emoji": ":dolphin:"},
        {"type": "slack", "url": env.sink.url + "/hooks/slack", "channel": "#alerts",
         "username": "flipper", "icon_url": "https://example.test/s.png",
         "icon_emoji": ":rotating_light:"}]}
    with open(env.config_path, "w") as f:
        json.dump(cfg, f, indent=2)

    reconcile(env)
    compare("status-healthy.json", mask_status(env.run("status", "--json").out))

    env.cloud.add_fault(method="POST", path=r"/actions/assign$", status=422,
                        code="invalid_input", message="server in \"maintenance\"", count=-1)
    env.backends.set("127.0.0.11", env.port, status=503)
    reconcile(env, rc=1)
    r = env.run("status", "--json")
    assert r.rc == 1, r                  # a group is failing
    compare("status-failing.json", mask_status(r.out))

    bodies = []
    for path in (HOOK_PATH, "/hooks/slack"):
        for req in env.sink.requests("POST", path):
            bodies.append(mask_text(req["raw_body"]))
    assert len(bodies) == 8, bodies
    compare("webhooks.txt", "\n".join(bodies) + "\n")
