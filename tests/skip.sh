#!/bin/sh
# skip.sh MESSAGE — the rule for a part of the tests that cannot run on this
# machine (a tool is not installed, the ../shared corpus is not beside the
# checkout): print one line, "skip - MESSAGE", and exit 0 so the run goes
# on. Under FLIPPER_CI=1 (.ci/run sets it) the same is a failure: print
# "FAIL - MESSAGE" and exit 1, so CI always runs everything. MESSAGE names
# what is missing and, for a tool, the Debian package that has it.
#
# The Makefile's steps and tests/contrib-verify.sh use it; pytest tests
# use tests/world/harness.py's need_tool()/need_path(), the unit tests
# SKIP() in tests/unit/test.h: the same rule three times, once per runner.
if [ "${FLIPPER_CI:-}" = 1 ]; then
	echo "FAIL - $* (FLIPPER_CI=1: nothing may be skipped)"
	exit 1
fi
echo "skip - $*"
