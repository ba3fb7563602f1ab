#!/usr/bin/python3
"""Check that the project's fixtures have the shape of the reference ones.

    fixture-crosscheck.py [--shared ../shared]

tests/fixtures/hetzner/NAME.json and SHARED/hetzner-fixtures/NAME.json must
parse to the same structure: the same keys at the same places, holding the
same JSON types (null counts as a type, so a field that may be null in one
must be null somewhere in the other), arrays of the same element shape;
label keys are data, so `labels` objects compare as maps of strings.
Values may differ, and so may how many elements an array has. Every
reference fixture needs a counterpart here, so a new one cannot go
unnoticed. tests/fixtures/original/readme-shape.yaml and
SHARED/original-config.yaml are compared the same way (keys and nesting
only: the values are ours to choose).

Prints one line per pair, then "fixture-crosscheck: N passed, M failed";
exits 1 if any failed.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# Objects whose keys are data, not field names: compared as maps.
MAPS = ("labels",)


def json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def shape(v, path="", out=None, types=True):
    """The set of (path, type) a document holds; array indices become []."""
    if out is None:
        out = set()
    t = json_type(v)
    if types or t in ("array", "object"):
        out.add((path or ".", t))
    else:
        out.add((path or ".", "scalar"))
    if t == "object":
        as_map = path.rsplit(".", 1)[-1] in MAPS
        for k, sub in v.items():
            k = "*" if as_map else k
            shape(sub, "%s.%s" % (path, k) if path else k, out, types)
    elif t == "array":
        for sub in v:
            shape(sub, path + "[]", out, types)
    return out


def compare(name, ours, theirs, types=True):
    a, b = shape(ours, types=types), shape(theirs, types=types)
    if a == b:
        print("ok   - %s: same keys%s and nesting (%d paths)"
              % (name, ", types" if types else "", len(a)))
        return True
    print("FAIL - %s: the fixture's shape differs from the reference" % name)
    for p, t in sorted(b - a):
        print("       reference only: %s (%s)" % (p, t))
    for p, t in sorted(a - b):
        print("       ours only:      %s (%s)" % (p, t))
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "shared"))
    ap.add_argument("--ours", default=os.path.join(HERE, "fixtures"))
    args = ap.parse_args()
    passed = failed = 0

    ref_dir = os.path.join(args.shared, "hetzner-fixtures")
    our_dir = os.path.join(args.ours, "hetzner")
    refs = sorted(f for f in os.listdir(ref_dir) if f.endswith(".json"))
    if not refs:
        print("FAIL - %s: no reference fixtures to compare with" % ref_dir)
        failed += 1
    for name in refs:
        mine = os.path.join(our_dir, name)
        if not os.path.exists(mine):
            print("FAIL - %s: no counterpart in %s (write one)" % (name, our_dir))
            failed += 1
            continue
        try:
            with open(mine) as f:
                ours = json.load(f)
            with open(os.path.join(ref_dir, name)) as f:
                theirs = json.load(f)
        except ValueError as e:
            print("FAIL - %s: %s" % (name, e))
            failed += 1
            continue
        if compare("hetzner/" + name, ours, theirs):
            passed += 1
        else:
            failed += 1

    ref_cfg = os.path.join(args.shared, "original-config.yaml")
    our_cfg = os.path.join(args.ours, "original", "readme-shape.yaml")
    if os.path.exists(ref_cfg):
        try:
            import yaml
        except ImportError:
            print("FAIL - original-config.yaml: %s has no yaml module "
                  "(Debian package python3-yaml)" % sys.executable)
            failed += 1
        else:
            with open(our_cfg) as f:
                ours = yaml.safe_load(f)
            with open(ref_cfg) as f:
                theirs = yaml.safe_load(f)
            if compare("original/readme-shape.yaml", ours, theirs, types=False):
                passed += 1
            else:
                failed += 1

    print("fixture-crosscheck: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
