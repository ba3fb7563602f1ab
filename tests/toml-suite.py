#!/usr/bin/python3
"""Run the toml-test conformance suite against a decoder.

    toml-suite.py --decoder build/release/toml-decoder --suite $TOML_TEST_DIR

(`make toml-suite` passes TOML_TEST_DIR, default ../shared/toml-test/tests,
and skips with one line when the corpus is not there.)

Runs exactly the files listed in SUITE/files-toml-1.0.0: valid/X.toml must
decode (exit 0) to tagged JSON equal to valid/X.json; invalid/X.toml must be
rejected (exit 1 with a "line:col: message" error). Scalars compare by value:
integers as numbers (0xff == 255), floats as numbers (inf and nan as words,
the sign of zero counts), date-times after normalising the spellings RFC 3339
allows (t/T/space, z/Z, +00:00, trailing zeros of the fraction).

A sanitizer report on stderr fails the file whatever the exit status; a
listed file that cannot be read fails with the reason.
Prints every failure, then "toml-test: N passed, M failed"; exits 1 if any
failed.
"""

import argparse
import concurrent.futures
import json
import math
import os
import re
import subprocess
import sys

LIST = "files-toml-1.0.0"
SCALARS = {"string", "integer", "float", "bool",
           "datetime", "datetime-local", "date-local", "time-local"}
ERROR_LINE = re.compile(r"^\d+:\d+: \S")
SANITIZER = re.compile(r"Sanitizer|runtime error:")
DATETIME = re.compile(
    r"^(?:(\d{4}-\d{2}-\d{2}))?(?:[Tt ]?(\d{2}:\d{2}:\d{2})(?:\.(\d+))?)?"
    r"([Zz]|[+-]\d{2}:\d{2})?$")


def norm_datetime(s):
    m = DATETIME.match(s)
    if not m:
        return s
    date, time, frac, off = m.groups()
    frac = (frac or "").rstrip("0")
    if off and off.upper() in ("Z", "+00:00", "-00:00"):
        off = "Z"
    return (date, time, frac, off)


def parse_float(s):
    return float(s.replace("_", ""))


def same_scalar(exp, act, where):
    et, at = exp["type"], act["type"]
    ev, av = exp["value"], act["value"]
    if et != at:
        return "%s: type %s, expected %s" % (where, at, et)
    try:
        if et == "integer":
            ok = int(ev, 0) == int(av, 0)
        elif et == "float":
            e, a = parse_float(ev), parse_float(av)
            if math.isnan(e) or math.isnan(a):
                ok = math.isnan(e) and math.isnan(a)
            else:
                ok = e == a and math.copysign(1, e) == math.copysign(1, a)
        elif et.startswith(("datetime", "date", "time")):
            ok = norm_datetime(ev) == norm_datetime(av)
        else:
            ok = ev == av
    except ValueError:
        ok = False
    if not ok:
        return "%s: %s %r, expected %r" % (where, et, av, ev)
    return None


def is_tagged(v):
    return (isinstance(v, dict) and set(v) == {"type", "value"}
            and isinstance(v["type"], str) and isinstance(v["value"], str)
            and v["type"] in SCALARS)


def compare(exp, act, where="$"):
    """None if act matches exp, else a description of the first difference."""
    if is_tagged(exp):
        if not is_tagged(act):
            return "%s: got %s, expected a %s" % (where, json.dumps(act)[:80], exp["type"])
        return same_scalar(exp, act, where)
    if isinstance(exp, dict):
        if not isinstance(act, dict) or is_tagged(act):
            return "%s: got %s, expected a table" % (where, json.dumps(act)[:80])
        missing = sorted(set(exp) - set(act))
        extra = sorted(set(act) - set(exp))
        if missing or extra:
            return "%s: missing keys %r, unexpected keys %r" % (where, missing, extra)
        for k in exp:
            r = compare(exp[k], act[k], "%s.%s" % (where, json.dumps(k)))
            if r:
                return r
        return None
    if isinstance(exp, list):
        if not isinstance(act, list):
            return "%s: got %s, expected an array" % (where, json.dumps(act)[:80])
        if len(exp) != len(act):
            return "%s: %d elements, expected %d" % (where, len(act), len(exp))
        for i, (e, a) in enumerate(zip(exp, act)):
            r = compare(e, a, "%s[%d]" % (where, i))
            if r:
                return r
        return None
    return "%s: unexpected value %r in the expected file" % (where, exp)


def run_decoder(decoder, path, timeout):
    with open(path, "rb") as f:
        data = f.read()
    return subprocess.run([decoder], input=data, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)


def check(decoder, suite, name, timeout):
    """None on success, else why the file failed."""
    path = os.path.join(suite, name)
    try:
        p = run_decoder(decoder, path, timeout)
    except subprocess.TimeoutExpired:
        return "timed out after %gs" % timeout
    except OSError as e:
        return "cannot read: %s" % e
    err = p.stderr.decode("utf-8", "replace")
    if SANITIZER.search(err):
        return "sanitizer report:\n" + err[:4000]
    if name.startswith("invalid/"):
        if p.returncode == 0:
            return "accepted an invalid document; output: %s" % p.stdout.decode(
                "utf-8", "replace")[:200]
        if p.returncode != 1:
            return "exit status %d, expected 1: %s" % (p.returncode, err[:200])
        if not ERROR_LINE.match(err):
            return "error not in 'line:col: message' form: %r" % err[:200]
        return None
    if p.returncode != 0:
        return "rejected (exit %d): %s" % (p.returncode, err.strip()[:300])
    try:
        with open(path[:-len(".toml")] + ".json", encoding="utf-8") as f:
            expected = json.load(f)
    except (OSError, ValueError) as e:
        return "cannot read the expected result: %s" % e
    try:
        actual = json.loads(p.stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        return "output is not JSON (%s): %r" % (e, p.stdout[:200])
    return compare(expected, actual)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--decoder", required=True)
    ap.add_argument("--suite", required=True, help="the toml-test tests directory")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per file")
    ap.add_argument("only", nargs="*", help="run only files whose name contains one of these")
    args = ap.parse_args()

    decoder = os.path.abspath(args.decoder)
    if not os.access(decoder, os.X_OK):
        print("toml-suite: no decoder at %s" % decoder, file=sys.stderr)
        return 2
    try:
        with open(os.path.join(args.suite, LIST), encoding="utf-8") as f:
            names = [l.strip() for l in f if l.strip().endswith(".toml")]
    except OSError as e:
        print("toml-suite: no toml-test corpus at %s: %s" % (args.suite, e), file=sys.stderr)
        return 2
    if args.only:
        names = [n for n in names if any(o in n for o in args.only)]
    if not names:
        print("toml-suite: no test files listed", file=sys.stderr)
        return 2

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(
            lambda n: (n, check(decoder, args.suite, n, args.timeout)), names))
    failed = 0
    for name, why in results:
        if why:
            failed += 1
            print("FAIL %s: %s" % (name, why))
    print("toml-test: %d passed, %d failed" % (len(results) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
