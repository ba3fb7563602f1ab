"""What the pytest files share besides the world's servers: the rule for
parts that need what this machine may lack, the injected test clock, and
free ports.

Optional tools and corpora (the same rule as tests/skip.sh and SKIP() in
tests/unit/test.h):

    promtool = need_tool("promtool", "prometheus")
    path = need_path(os.path.join(SHARED, "original-config.yaml"), "the original's example")

skip the test with one line naming what is missing (for a tool, its Debian
package); under FLIPPER_CI=1 (.ci/run sets it) they fail it instead, so CI
always runs everything.

The test clock (src/util.c; honoured only with FLIPPER_TEST_MODE=1):

    clock = TestClock(tmp_path / "clock")
    p = env.start("monitor", extra_env=clock.env())
    clock.step(wall_ms=-600000)     # the wall clock goes back ten minutes

flipper picks up a change within a few milliseconds of real time.
"""

import os
import shutil
import socket

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# The reference material beside the checkout (the Makefile's SHARED).
SHARED = os.environ.get("FLIPPER_SHARED_DIR") or os.path.join(ROOT, "..", "shared")
SHARED = os.path.normpath(os.path.join(ROOT, SHARED))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
CI = os.environ.get("FLIPPER_CI") == "1"


def missing(what):
    """This test cannot run here: skip it, or fail it under FLIPPER_CI=1."""
    if CI:
        pytest.fail("%s (FLIPPER_CI=1: nothing may be skipped)" % what, pytrace=False)
    try:
        # Reported at the test, not at this helper (pytest >= 7.0).
        raise pytest.skip.Exception(what, _use_item_location=True)
    except TypeError:
        pytest.skip(what)


def need_tool(name, package):
    """The path of tool NAME, or skip naming the Debian PACKAGE."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if not path:
        missing("%s is not installed (Debian package %s)" % (name, package))
    return path


def need_path(path, what):
    """PATH when it exists, else skip saying WHAT is missing."""
    if not os.path.exists(path):
        missing("%s: %s not found" % (what, path))
    return path


class TestClock:
    """The file behind FLIPPER_TEST_CLOCK_FILE: "WALL_OFFSET_MS MONO_OFFSET_MS",
    added to flipper's wall and monotonic clocks. Every change replaces the
    file at once (rename), so flipper never reads half of one."""

    __test__ = False        # not a test class, whatever its name says

    def __init__(self, path, wall_ms=0, mono_ms=0):
        self.path = str(path)
        self.wall_ms = wall_ms
        self.mono_ms = mono_ms
        self._write()

    def env(self):
        """The environment that lets flipper use this clock."""
        return {"FLIPPER_TEST_MODE": "1", "FLIPPER_TEST_CLOCK_FILE": self.path}

    def set(self, wall_ms=None, mono_ms=None):
        if wall_ms is not None:
            self.wall_ms = wall_ms
        if mono_ms is not None:
            self.mono_ms = mono_ms
        self._write()

    def step(self, wall_ms=0, mono_ms=0):
        """Move the clocks by these amounts (negative: back)."""
        self.set(self.wall_ms + wall_ms, self.mono_ms + mono_ms)

    def _write(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d %d\n" % (self.wall_ms, self.mono_ms))
        os.replace(tmp, self.path)


def free_port(addr="127.0.0.1"):
    """A TCP port nothing listens on at ADDR right now, for servers that
    must share one port across addresses (a check has one port), so that
    two test runs on one machine do not collide on a fixed number."""
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]
