"""The state file, through the real binary (SPEC section 9, "Safety";
issue 15 items 4 and 5).

Whose file: only a flipper database (application_id), or a damaged file
beside the lock flipper marked, is ever moved aside. Anything else at the
state path (the configuration by a typo, another application's SQLite
database, a directory, a FIFO, someone else's file) is refused with exit 1
and a message naming the file and what it looks like, and left untouched:
its name, mode and content, the directory around it, and a symbolic link
pointing at it. Every check compares before and after.

The WAL: checkpointed every 64 pages, folded in (TRUNCATE) when monitor or
reconcile --for ends. `flipper state backup FILE` copies a consistent
snapshot, also while another flipper holds the lock, and the documented
restore (stop, copy over, remove -wal/-shm, start) brings it back.
"""

import gzip
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import stat
import tempfile

import pytest

from conftest import LB_B, TOKEN, VIP_1, log_lines, run_flipper, stderr_of, wait_for

FLPR = 0x464C5052
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SANITIZER = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:")
NOBODY = 65534


@pytest.fixture
def st(env):
    """env, every run checked for the token and sanitizer reports, and a
    failover world: lb-a down, lb-b up, vip-1 on lb-a (one round moves it)."""
    env.cloud.settings(action_seconds=0)
    env.pair()
    env.backends.set("127.0.0.11", env.port, status=503)
    env.config(checks=[env.check(interval="1ms")])
    plain_run = env.run

    def run(*args, **kw):
        r = plain_run("--log-format", "json", *args, **kw)
        assert TOKEN not in r.out and TOKEN not in r.err, "token printed: %r" % r
        assert not SANITIZER.search(r.err), r.err
        return r
    env.run = run
    try:
        yield env
    finally:
        env.stop_all()
    for p in getattr(env, "_procs", []):
        assert not SANITIZER.search(stderr_of(p)), stderr_of(p)


def fingerprint(path):
    """Everything that would show a touch: kind, mode, owner, inode, the
    change time (a chmod or rename sets it), and the bytes."""
    s = os.lstat(path)
    data = None
    if stat.S_ISREG(s.st_mode):
        with open(path, "rb") as f:
            data = f.read()
    elif stat.S_ISLNK(s.st_mode):
        data = os.readlink(path)
    return (stat.S_IFMT(s.st_mode), stat.S_IMODE(s.st_mode), s.st_uid, s.st_ino,
            s.st_ctime_ns, s.st_mtime_ns, data)


def listing(d):
    return sorted(os.listdir(d))


def errors(r):
    return [l for l in r.logs() if l.get("level") == "error"]


def refused(r, path, phrase):
    """Exit 1, one error naming the resolved file and what it looks like."""
    assert r.rc == 1, r
    errs = [e for e in errors(r) if e.get("msg") == "state unusable"]
    assert len(errs) == 1, r.err
    msg = errs[0]["error"]
    assert msg.startswith('refusing "%s" as the state file: ' % os.path.realpath(path)), msg
    assert phrase in msg, (phrase, msg)
    assert "left untouched" in msg, msg
    return msg


def header(path):
    with open(path, "rb") as f:
        return f.read(100)


def app_id_in_header(path):
    return int.from_bytes(header(path)[68:72], "big")


# ---- files that are not flipper's ------------------------------------------------

def _yaml(p):
    with open(p, "w") as f:
        f.write("# flipper configuration\nversion: 1\ngroups:\n  - id: web\n")


def _toml(p):
    with open(p, "w") as f:
        f.write("version = 1\n\n[[groups]]\nid = \"web\"\n")


def _text(p):
    with open(p, "w") as f:
        f.write("shopping list\nmilk\n")


def _random(p):
    with open(p, "wb") as f:
        f.write(random.Random(7).randbytes(8192))


def _gzip(p):
    with open(p, "wb") as f:
        f.write(gzip.compress(b"a backup of something\n" * 100))


def _sqlite(p, wal=False, app_id=0):
    con = sqlite3.connect(p)
    if wal:
        con.execute("PRAGMA journal_mode = WAL")
    if app_id:
        con.execute("PRAGMA application_id = %d" % app_id)
    con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    con.execute("INSERT INTO notes (body) VALUES ('somebody else''s data')")
    con.commit()
    con.close()


FOREIGN = {
    "yaml": (_yaml, "it looks like YAML text, not a flipper database"),
    "toml": (_toml, "it looks like TOML text"),
    "text": (_text, "it looks like text"),
    "random-bytes": (_random, "it looks like binary data"),
    "gzip": (_gzip, "it looks like gzip-compressed data"),
    "sqlite": (_sqlite, "it is a SQLite database of another application "
               "(no application_id; tables: notes)"),
    "sqlite-wal": (lambda p: _sqlite(p, wal=True),
                   "a SQLite database of another application (no application_id; tables: notes)"),
    "sqlite-app-id": (lambda p: _sqlite(p, app_id=0x1234),
                      "another application (application_id 0x00001234; tables: notes)"),
}


@pytest.mark.parametrize("kind", sorted(FOREIGN))
def test_a_file_that_is_not_flipper_s_is_refused_untouched(st, kind):
    env = st
    make, phrase = FOREIGN[kind]
    d = env.tmp / "elsewhere"
    d.mkdir()
    path = str(d / "file")
    make(path)
    os.chmod(path, 0o644)
    before, around = fingerprint(path), listing(d)
    env.state = path

    for args in (("reconcile", "--once"), ("reconcile", "--for", "2s"), ("monitor",),
                 ("plan",), ("status",)):
        refused(env.run(*args), path, phrase)
        assert fingerprint(path) == before, args
        assert listing(d) == around, args          # no lock, -wal, -shm or copy beside it
    r = env.run("state", "backup", str(env.tmp / "backup.db"))
    assert r.rc == 1 and phrase in r.err, r
    assert not os.path.exists(env.tmp / "backup.db")
    assert fingerprint(path) == before and listing(d) == around
    assert env.cloud.requests() == []               # refused before anything was contacted


def test_the_configuration_named_as_the_state_by_a_typo_is_refused(st):
    """The issue's case: --state pointing at the configuration itself."""
    env = st
    before = fingerprint(env.config_path)
    around = listing(env.tmp)
    r = env.run("--state", env.config_path, "reconcile", "--once")
    refused(r, env.config_path, "it looks like JSON text, not a flipper database")
    assert fingerprint(env.config_path) == before and listing(env.tmp) == around
    # The configuration still loads: the next run with the right state works.
    r = env.reconcile()
    assert r.rc == 0, r
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_B


def test_through_a_symlink_the_target_is_refused_and_the_link_untouched(st):
    env = st
    d = env.tmp / "etc"
    d.mkdir()
    target = str(d / "flipper.yaml")
    _yaml(target)
    os.chmod(target, 0o640)
    os.symlink(target, env.state)
    link_before, target_before = fingerprint(env.state), fingerprint(target)
    around, here = listing(d), listing(env.tmp)
    for args in (("reconcile", "--once"), ("plan",), ("status",)):
        msg = refused(env.run(*args), target, "YAML text")
        assert msg.startswith('refusing "%s"' % target), msg
    assert fingerprint(env.state) == link_before
    assert fingerprint(target) == target_before      # mode 0640 kept, not 0600
    assert listing(d) == around and listing(env.tmp) == here


def test_a_dangling_symlink_is_refused_and_nothing_created(st):
    env = st
    d = env.tmp / "data"
    d.mkdir()
    os.symlink(str(d / "flipper.db"), env.state)
    before = fingerprint(env.state)
    r = env.reconcile()
    assert r.rc == 1, r
    msg = errors(r)[0]["error"]
    assert msg.startswith('refusing "%s" as the state file: it is a symbolic link to "%s", '
                          "which does not exist" % (env.state, d / "flipper.db")), msg
    assert listing(d) == [] and fingerprint(env.state) == before
    assert not os.path.exists(env.state + ".lock")


def test_a_symlink_to_flipper_s_database_is_followed_and_logged_once(st):
    env = st
    d = env.tmp / "data"
    d.mkdir()
    real = str(d / "flipper.db")
    r = env.run("--state", real, "reconcile", "--once")
    assert r.rc == 0, r
    os.unlink(real + ".lock")
    os.chmod(real, 0o644)                    # flipper's own file: made 0600 again
    os.symlink(real, env.state)
    env.backends.set("127.0.0.11", env.port, status=200)
    r = env.reconcile()
    assert r.rc == 0, r
    assert os.path.islink(env.state) and os.readlink(env.state) == real
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o600
    note = [l for l in r.logs()
            if l.get("msg") == "the state path is a symbolic link; using the file it points to"]
    assert len(note) == 1 and note[0]["resolved"] == real and note[0]["state"] == env.state
    # The lock sits beside the file it guards, and says which file that is.
    assert not os.path.exists(env.state + ".lock")
    with open(real + ".lock") as f:
        assert f.read() == "flipper state lock for %s\n" % real

    # A loop of rounds logs it once, at the start.
    env.config(checks=[env.check(interval="100ms")])
    p = env.start("reconcile", "--for", "2s")
    assert p.wait(60) == 0, stderr_of(p)
    lines = log_lines(stderr_of(p))
    assert sum(1 for l in lines if l.get("msg", "").startswith("the state path is a symbolic")) == 1
    assert len([l for l in lines if l.get("msg") == "inventory refreshed"]) > 1, lines

    # flipper's own damaged database behind the link: moved aside beside
    # the file, the link kept, a fresh state behind it.
    with open(real, "r+b") as f:
        f.seek(0)
        f.write(random.Random(3).randbytes(4096))
    r = env.reconcile()
    assert r.rc == 0, r
    moved = [n for n in os.listdir(d) if n.startswith("flipper.db.corrupt-")]
    assert len(moved) == 1, os.listdir(d)
    assert os.path.islink(env.state) and os.readlink(env.state) == real
    assert app_id_in_header(real) == FLPR


def test_a_file_of_another_user_is_refused_for_writing(st):
    """Even a flipper database: a root flipper on the service's file would
    leave root-owned -wal and -shm files the service cannot open. Reading
    (status) is fine."""
    env = st
    r = env.reconcile()
    assert r.rc == 0, r
    r = env.run("status", "--json")
    assert r.rc == 0, r
    for side in ("-wal", "-shm"):
        if os.path.exists(env.state + side):
            os.chown(env.state + side, NOBODY, NOBODY)
    os.chown(env.state, NOBODY, NOBODY)
    before, around = fingerprint(env.state), listing(env.tmp)
    for args in (("reconcile", "--once"), ("monitor",)):
        refused(env.run(*args), env.state,
                "it is owned by uid %d, not by uid %d that flipper runs as" % (NOBODY, os.geteuid()))
    assert fingerprint(env.state) == before and listing(env.tmp) == around
    assert env.run("status").rc == 0

    # What the file is comes first: a configuration named by a typo is not
    # something to chown.
    other = str(env.tmp / "flipper.yaml")
    _yaml(other)
    os.chown(other, NOBODY, NOBODY)
    before = fingerprint(other)
    refused(env.run("--state", other, "reconcile", "--once"), other,
            "it looks like YAML text, not a flipper database")
    assert fingerprint(other) == before


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_directory_or_fifo_is_refused(st, kind):
    env = st
    if kind == "directory":
        os.mkdir(env.state)
        phrase = "it is a directory, not a regular file"
    else:
        os.mkfifo(env.state)
        phrase = "it is a FIFO (named pipe), not a regular file"
    before, around = fingerprint(env.state), listing(env.tmp)
    for args in (("reconcile", "--once"), ("plan",), ("status",)):
        refused(env.run(*args, timeout=60), env.state, phrase)     # and never blocks on the FIFO
    assert fingerprint(env.state) == before and listing(env.tmp) == around


def test_a_file_that_cannot_be_read_is_refused(st):
    """flipper running as a user who may not read the file: refused with
    the reason, untouched. (Root reads anything: this runs as nobody.)"""
    env = st
    d = tempfile.mkdtemp(prefix="flipper-unreadable-")
    try:
        os.chmod(d, 0o777)
        path = os.path.join(d, "flipper.db")
        _text(path)
        os.chown(path, NOBODY, NOBODY)
        os.chmod(path, 0)
        config = os.path.join(d, "flipper.json")
        shutil.copy(env.config_path, config)
        os.chmod(config, 0o644)
        before, around = fingerprint(path), listing(d)

        def as_nobody():
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        for args in (("reconcile", "--once"), ("status",)):
            r = run_flipper("-c", config, "--state", path, "--log-format", "json", *args,
                            preexec=as_nobody)
            assert r.rc == 1, r
            msg = [l for l in r.logs() if l.get("msg") == "state unusable"][0]["error"]
            assert msg == ('cannot read the state file "%s": Permission denied; '
                           "it was left untouched" % path), msg
            assert TOKEN not in r.err
        assert fingerprint(path) == before and listing(d) == around
    finally:
        shutil.rmtree(d)


# ---- flipper's own file ------------------------------------------------------------

def test_the_lock_is_marked_and_a_new_database_says_whose_it_is(st):
    env = st
    r = env.reconcile()
    assert r.rc == 0, r
    with open(env.state + ".lock") as f:
        assert f.read() == "flipper state lock for %s\n" % os.path.realpath(env.state)
    # The header itself carries the application_id, not only the WAL.
    assert app_id_in_header(env.state) == FLPR
    assert stat.S_IMODE(os.stat(env.state).st_mode) == 0o600


@pytest.mark.parametrize("garbage", ["random-bytes", "text"])
def test_a_damaged_file_beside_flipper_s_marked_lock_is_moved_aside(st, garbage):
    env = st
    r = env.reconcile()
    assert r.rc == 0, r
    (_random if garbage == "random-bytes" else _yaml)(env.state)
    with open(env.state, "rb") as f:
        original = f.read()

    # plan and status refuse it and leave it alone.
    for args in (("plan",), ("status",)):
        r = env.run(*args)
        assert r.rc == 1 and "damaged (not a SQLite database; it looks like" in r.err, r
    assert [n for n in listing(env.tmp) if ".corrupt-" in n] == []

    env.backends.set("127.0.0.11", env.port, status=200)
    r = env.reconcile()
    assert r.rc == 0, r
    moved = [str(env.tmp / n) for n in listing(env.tmp) if n.startswith("state.db.corrupt-")]
    assert len(moved) == 1
    assert re.fullmatch(re.escape(env.state) + r"\.corrupt-\d{8}T\d{6}Z", moved[0])
    with open(moved[0], "rb") as f:
        assert f.read() == original
    note = [l for l in r.logs() if l.get("msg", "").startswith("the state file was not a usable")]
    assert len(note) == 1 and note[0]["moved_to"] == moved[0], r.err
    assert note[0]["reason"].startswith("damaged (not a SQLite database; it looks like")
    assert len([t for t in env.texts() if "State reset" in t]) == 1
    # The fresh state works and stays.
    assert env.db("PRAGMA application_id") == [(FLPR,)]
    r = env.reconcile()
    assert r.rc == 0, r
    assert len([n for n in listing(env.tmp) if ".corrupt-" in n]) == 1


LOCKS = {
    "no lock file": None,
    "an empty lock (older flipper)": "",
    "a marker for another file": "flipper state lock for /var/lib/flipper/other.db\n",
    "someone else's lock": "pid 4242\n",
}


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_a_damaged_file_beside_a_lock_not_marked_for_it_is_refused(st, lock):
    env = st
    _random(env.state)
    if LOCKS[lock] is not None:
        with open(env.state + ".lock", "w") as f:
            f.write(LOCKS[lock])
    files = {n: fingerprint(str(env.tmp / n)) for n in listing(env.tmp)}
    for args in (("reconcile", "--once"), ("monitor",), ("plan",), ("status",)):
        refused(env.run(*args), env.state,
                "it looks like binary data, not a flipper database, and no lock file of "
                "flipper's beside it marks it as flipper's")
    assert {n: fingerprint(str(env.tmp / n)) for n in listing(env.tmp)} == files


def test_a_lock_marked_by_another_user_does_not_count(st):
    env = st
    r = env.reconcile()
    assert r.rc == 0, r
    os.chown(env.state + ".lock", NOBODY, NOBODY)
    _random(env.state)
    before = fingerprint(env.state)
    refused(env.reconcile(), env.state, "no lock file of flipper's beside it")
    assert fingerprint(env.state) == before


def test_a_damaged_page_behind_a_sound_header_is_moved_aside(st):
    """A real flipper state whose header and schema are intact but whose
    table pages are damaged (a bad sector, a torn copy): it is flipper's by
    its application_id, so it is moved aside even without the lock."""
    env = st
    r = env.reconcile()
    assert r.rc == 0, r
    os.unlink(env.state + ".lock")
    # Damage the root page of every table and index, but not sqlite_master
    # (page 1 and, as the schema grows, the pages it spills onto).
    con = sqlite3.connect(env.state)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = con.execute("PRAGMA page_size").fetchone()[0]
    roots = [r for (r,) in con.execute("SELECT rootpage FROM sqlite_master WHERE rootpage > 1")]
    con.close()
    assert len(roots) > 2
    rnd = random.Random(11)
    with open(env.state, "r+b") as f:
        for n in roots:
            f.seek((n - 1) * page)
            f.write(rnd.randbytes(page))
    with open(env.state, "rb") as f:
        original = f.read()

    for args in (("plan",), ("status",)):
        r = env.run(*args)
        assert r.rc == 1 and "damaged" in r.err, r
    assert [n for n in listing(env.tmp) if ".corrupt-" in n] == []

    r = env.reconcile()
    assert r.rc == 0, r
    moved = [str(env.tmp / n) for n in listing(env.tmp) if n.startswith("state.db.corrupt-")]
    assert len(moved) == 1
    with open(moved[0], "rb") as f:
        assert f.read() == original
    note = [l for l in r.logs() if l.get("msg", "").startswith("the state file was not a usable")]
    assert len(note) == 1 and note[0]["reason"].startswith("damaged"), r.err
    assert env.db("PRAGMA quick_check") == [("ok",)]


@pytest.mark.parametrize("kind", ["empty file", "empty sqlite database"])
def test_an_empty_file_is_a_new_state(st, kind):
    """Nobody's data: an empty file (an admin's `touch`, a provisioning
    tool) or an empty SQLite database becomes the state; its mode is
    tightened to 0600 like a file flipper creates."""
    env = st
    if kind == "empty file":
        open(env.state, "wb").close()
    else:
        con = sqlite3.connect(env.state)       # a SQLite header, no tables
        con.execute("VACUUM")
        con.close()
        assert header(env.state)[:16] == b"SQLite format 3\0"
    os.chmod(env.state, 0o644)
    r = env.reconcile()
    assert r.rc == 0, r
    assert [n for n in listing(env.tmp) if ".corrupt-" in n] == []
    assert "state_reset" not in [l.get("kind") for l in r.logs()
                                 if l.get("msg") == "notification queued"]
    assert stat.S_IMODE(os.stat(env.state).st_mode) == 0o600
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_B


def test_a_flipper_database_whose_header_waits_in_the_wal_is_flipper_s(st):
    """A state an earlier flipper wrote and never checkpointed: the
    database file's header still says application_id 0, the WAL says
    flipper. That is flipper's file, not another application's."""
    env = st
    src = str(env.tmp / "build")
    os.mkdir(src)
    db = os.path.join(src, "flipper.db")
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA wal_autocheckpoint = 0")
    migrations = sorted(n for n in os.listdir(os.path.join(ROOT, "sql")) if n.endswith(".sql"))
    for n in migrations:
        with open(os.path.join(ROOT, "sql", n)) as f:
            con.executescript(f.read())
    con.execute("PRAGMA application_id = %d" % FLPR)
    con.execute("PRAGMA user_version = %d" % len(migrations))
    # A crash image: the files as they are while the connection is open.
    shutil.copyfile(db, env.state)
    shutil.copyfile(db + "-wal", env.state + "-wal")
    con.close()
    assert app_id_in_header(env.state) == 0
    r = env.reconcile()
    assert r.rc == 0, r
    assert [n for n in listing(env.tmp) if ".corrupt-" in n] == []
    assert not errors(r), r.err
    assert env.cloud.floating_ip(VIP_1)["server"] == LB_B


# ---- the WAL ------------------------------------------------------------------------

def wal_header(path):
    """(checkpoint sequence, page size) from a WAL file's header."""
    with open(path, "rb") as f:
        h = f.read(32)
    if len(h) < 32:
        return 0, 0
    return int.from_bytes(h[12:16], "big"), int.from_bytes(h[8:12], "big")


def test_the_wal_is_checkpointed_every_64_pages(st):
    """SQLite's default waits for 1,000 pages (4 MiB). flipper checkpoints
    at 64: the WAL starts over (its checkpoint sequence counts up), is cut
    back to 512 KiB when it does, and stays small. Killed with -9, so no
    exit checkpoint helps."""
    env = st
    env.config(checks=[env.check(interval="50ms")])
    p = env.start("monitor")
    wal = env.state + "-wal"
    biggest = [0]

    def restarted_thrice():
        if not os.path.exists(wal):
            return False
        seq = wal_header(wal)[0]
        if seq >= 1:                    # once started over, it stays small
            biggest[0] = max(biggest[0], os.path.getsize(wal))
        return seq >= 3
    wait_for(restarted_thrice, timeout=120, what="three WAL checkpoints")
    p.kill()
    p.wait(10)
    assert wal_header(wal)[1] == 4096
    biggest[0] = max(biggest[0], os.path.getsize(wal))
    assert 0 < biggest[0] <= 512 * 1024, biggest[0]
    assert env.db("PRAGMA quick_check") == [("ok",)]


@pytest.mark.parametrize("how", ["monitor", "reconcile --for"])
def test_a_long_run_leaves_the_database_file_complete_on_exit(st, how):
    env = st
    env.config(checks=[env.check(interval="100ms")])
    if how == "monitor":
        p = env.start("monitor")
        wait_for(lambda: env.cloud.floating_ip(VIP_1)["server"] == LB_B and
                 len(env.backends.requests("127.0.0.12", env.port)) >= 3,
                 timeout=60, what="a few rounds")
        p.send_signal(signal.SIGTERM)
    else:
        p = env.start("reconcile", "--for", "2s")
    assert p.wait(60) == 0, stderr_of(p)
    assert os.path.getsize(env.state + "-wal") == 0
    # The database file alone holds everything.
    alone = str(env.tmp / "alone")
    os.mkdir(alone)
    shutil.copyfile(env.state, os.path.join(alone, "state.db"))
    a = run_flipper("--state", os.path.join(alone, "state.db"), "status", "--json")
    b = env.run("status", "--json")
    assert a.rc == 0 and b.rc == 0, (a, b)
    copy, original = json.loads(a.out), json.loads(b.out)
    # Each names the file it read; everything else is the same.
    assert copy.pop("state") == os.path.join(alone, "state.db")
    assert original.pop("state") == env.state
    assert copy == original


# ---- backup and restore ---------------------------------------------------------------

def status_json(env, state=None, must=True):
    r = run_flipper("--log-format", "json", "--state", state or env.state, "status", "--json")
    if not must and r.rc != 0:
        return None
    assert r.rc == 0, r
    out = json.loads(r.out)
    return {g["id"]: ({s["name"]: s["status"] for s in g["servers"]},
                      {f["id"]: f["server"] for f in g["floating_ips"]})
            for g in out["groups"]}


def test_state_backup_writes_a_checked_self_contained_copy(st):
    env = st
    r = env.reconcile()
    assert r.rc == 0, r
    backup = str(env.tmp / "backups" / "flipper-backup.db")
    os.mkdir(os.path.dirname(backup))

    def umask_022():
        os.umask(0o022)
    r = env.run("state", "backup", backup, preexec=umask_022)
    assert r.rc == 0 and r.out == "", r
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    assert listing(os.path.dirname(backup)) == ["flipper-backup.db"]   # no -wal, no temp file
    h = header(backup)
    assert h[18:20] == b"\x01\x01"                  # rollback journal: complete alone
    assert app_id_in_header(backup) == FLPR
    con = sqlite3.connect("file:%s?mode=ro" % backup, uri=True)
    assert con.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    con.close()
    assert status_json(env, backup) == status_json(env)
    assert "lb-a" in status_json(env)["web"][0]

    # Never replaced silently; --force replaces.
    before = fingerprint(backup)
    r = env.run("state", "backup", backup)
    assert r.rc == 1, r
    assert [e["error"] for e in errors(r)] == ['"%s" exists; give --force to replace it' % backup]
    assert fingerprint(backup) == before
    r = env.run("state", "backup", "--force", backup)
    assert r.rc == 0, r
    assert os.stat(backup).st_ino != before[3]
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600

    # Not onto the state or its companions, not into a directory.
    state_before = fingerprint(env.state)
    for dest in (env.state, env.state + "-wal", env.state + ".lock"):
        r = env.run("state", "backup", "--force", dest)
        assert r.rc == 1 and "is the state itself or a file beside it" in r.err, r
    assert fingerprint(env.state) == state_before
    r = env.run("state", "backup", str(env.tmp))
    assert r.rc == 1 and "is a directory" in r.err, r


def test_state_backup_without_a_state_says_so(st):
    env = st
    r = env.run("state", "backup", str(env.tmp / "b.db"))
    assert r.rc == 1, r
    assert 'no state at "%s" to back up' % env.state in errors(r)[0]["error"]
    assert listing(env.tmp) == ["flipper.json"]


def test_state_backup_while_another_flipper_holds_the_lock(st):
    """The backup reads; it needs no lock and holds no one up: a monitor
    keeps running rounds, and each copy is a consistent database."""
    env = st
    env.config(checks=[env.check(interval="50ms")])
    p = env.start("monitor")
    wait_for(lambda: (status_json(env, must=False) or {}).get("web", (0, 0))[1] == {VIP_1: LB_B},
             timeout=60, what="the failover, stored")
    r = env.reconcile()
    assert r.rc == 75, r                   # the lock is held
    for i in range(5):
        backup = str(env.tmp / ("b%d.db" % i))
        n = len(env.backends.requests("127.0.0.12", env.port))
        r = env.run("state", "backup", backup)
        assert r.rc == 0, r
        con = sqlite3.connect("file:%s?mode=ro" % backup, uri=True)
        assert con.execute("PRAGMA quick_check").fetchall() == [("ok",)]
        con.close()
        assert status_json(env, backup)["web"][1] == {VIP_1: LB_B}
        # The monitor went on checking meanwhile.
        wait_for(lambda: len(env.backends.requests("127.0.0.12", env.port)) > n,
                 timeout=60, what="another round")
    assert p.poll() is None
    p.send_signal(signal.SIGTERM)
    assert p.wait(60) == 0, stderr_of(p)


def test_restore_as_the_readme_says(st):
    env = st
    r = env.reconcile()
    assert r.rc == 0, r
    backed_up = status_json(env)
    assert backed_up["web"][0]["lb-a"] == "unhealthy"
    backup = str(env.tmp / "backup.db")
    assert env.run("state", "backup", backup).rc == 0

    env.backends.set("127.0.0.11", env.port, status=200)
    assert env.reconcile().rc == 0
    assert status_json(env)["web"][0]["lb-a"] == "healthy"

    # 1. stop flipper (nothing runs here); 2. copy the backup over the
    # state path; 3. remove -wal and -shm; 4. start.
    shutil.copyfile(backup, env.state)
    for side in ("-wal", "-shm"):
        if os.path.exists(env.state + side):
            os.unlink(env.state + side)
    assert status_json(env) == backed_up
    env.backends.set("127.0.0.11", env.port, status=503)
    r = env.reconcile()
    assert r.rc == 0, r
    assert not errors(r), r.err
    assert [n for n in listing(env.tmp) if ".corrupt-" in n] == []
    assert "state_reset" not in [l.get("kind") for l in r.logs()
                                 if l.get("msg") == "notification queued"]
