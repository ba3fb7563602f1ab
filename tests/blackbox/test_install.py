"""`make install` and `make uninstall`: into a DESTDIR, with PREFIX and
SYSCONFDIR honoured; every file, its mode, the paths rendered into the
systemd units, the configuration never overwritten, shell completions
when the binary can make them, and an uninstall that leaves only a
configuration the user edited. Also the version string
(scripts/version.sh) against a scratch git history."""

import os
import re
import subprocess

from conftest import FLIPPER, need_tool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "contrib", "flipper.example.yaml")
UNITS = ("flipper.service", "flipper-monitor.service", "flipper.timer")


def make(*args):
    p = subprocess.run(["make", "-s", "-C", ROOT, *args], capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout + p.stderr


def mode(path):
    return oct(os.stat(path).st_mode & 0o777)


def files_under(root):
    out = set()
    for d, _, names in os.walk(root):
        for n in names:
            out.add(os.path.relpath(os.path.join(d, n), root))
    return out


def test_install_and_uninstall(tmp_path):
    dest = tmp_path / "root"
    opts = ["PREFIX=/opt/flip", f"DESTDIR={dest}"]
    out = make("install", *opts)
    binary = dest / "opt/flip/bin/flipper"
    man = dest / "opt/flip/share/man/man1/flipper.1"
    unitdir = dest / "opt/flip/lib/systemd/system"
    config = dest / "etc/flipper/flipper.yaml"
    pristine = dest / "opt/flip/share/doc/flipper/flipper.example.yaml"

    assert binary.is_file() and mode(binary) == oct(0o755)
    v = subprocess.run([str(binary), "version"], capture_output=True, text=True)
    assert v.returncode == 0 and v.stdout.startswith("flipper "), v
    assert mode(man) == oct(0o644) and ".TH FLIPPER 1" in man.read_text()
    for u in UNITS:
        assert mode(unitdir / u) == oct(0o644), u
        text = (unitdir / u).read_text()
        assert not re.search(r"@[A-Z_]+@", text), u
        assert "/usr/local/bin" not in text, u
    svc = (unitdir / "flipper.service").read_text()
    mon = (unitdir / "flipper-monitor.service").read_text()
    assert "ExecStart=/opt/flip/bin/flipper -c /etc/flipper/flipper.yaml reconcile --once\n" in svc
    assert "ExecStart=/opt/flip/bin/flipper -c /etc/flipper/flipper.yaml monitor\n" in mon
    assert "LoadCredential=hcloud-token:/etc/flipper/hcloud-token\n" in svc
    assert config.read_text() == open(EXAMPLE).read() and mode(config) == oct(0o644)
    assert pristine.read_text() == open(EXAMPLE).read()

    completions = {"bash": "opt/flip/share/bash-completion/completions/flipper",
                   "zsh": "opt/flip/share/zsh/site-functions/_flipper",
                   "fish": "opt/flip/share/fish/vendor_completions.d/flipper.fish"}
    installed = files_under(dest)
    # The completions, where each shell looks for them, as the binary makes them.
    for shell, path in completions.items():
        assert path in installed and mode(dest / path) == oct(0o644), path
        made = subprocess.run([str(binary), "completion", shell], capture_output=True, text=True)
        assert made.returncode == 0 and (dest / path).read_text() == made.stdout, path
    expected = {"opt/flip/bin/flipper", "opt/flip/share/man/man1/flipper.1",
                "etc/flipper/flipper.yaml", "opt/flip/share/doc/flipper/flipper.example.yaml",
                *(f"opt/flip/lib/systemd/system/{u}" for u in UNITS)}
    assert installed - set(completions.values()) == expected
    assert not os.path.exists("/opt/flip/bin/flipper")  # nothing outside DESTDIR

    # A second install keeps the configuration the user edited.
    config.write_text("# mine\nversion: 1\n")
    out = make("install", *opts)
    assert config.read_text() == "# mine\nversion: 1\n"
    assert f"kept the existing {config}" in out

    # Uninstall keeps an edited configuration, and only that.
    out = make("uninstall", *opts)
    assert f"kept {config}" in out
    assert files_under(dest) == {"etc/flipper/flipper.yaml"}
    assert not (dest / "opt/flip/share/doc/flipper").exists()

    # An unedited one goes, and so does its directory.
    config.unlink()
    make("install", *opts)
    make("uninstall", *opts)
    assert files_under(dest) == set()
    assert not (dest / "etc/flipper").exists()


def test_sysconfdir_and_unit_dir(tmp_path):
    dest = tmp_path / "root"
    make("install-units", "install-config", f"DESTDIR={dest}", "PREFIX=/usr",
         "SYSCONFDIR=/usr/local/etc", "SYSTEMDUNITDIR=/etc/systemd/system")
    svc = (dest / "etc/systemd/system/flipper.service").read_text()
    assert "ExecStart=/usr/bin/flipper -c /usr/local/etc/flipper/flipper.yaml reconcile" in svc
    assert "LoadCredential=hcloud-token:/usr/local/etc/flipper/hcloud-token\n" in svc
    assert "EnvironmentFile=-/usr/local/etc/flipper/flipper.env\n" in svc
    assert "/etc/flipper" not in svc.replace("/usr/local/etc/flipper", "")
    assert (dest / "usr/local/etc/flipper/flipper.yaml").is_file()


# ---- the version string -----------------------------------------------------

VERSION_RE = re.compile(r"^flipper (\d+\.\d+\.\d+)(-\d+-g[0-9a-f]{7,})?(-dirty)?$")


def test_flipper_version_is_version_plus_describe():
    base = open(os.path.join(ROOT, "VERSION")).read().strip()
    v = subprocess.run([FLIPPER, "version"], capture_output=True, text=True)
    assert v.returncode == 0
    first = v.stdout.splitlines()[0]
    m = VERSION_RE.match(first)
    assert m and m.group(1) == base, v.stdout
    # --version prints the first line of `version` (without loading libcurl).
    assert subprocess.run([FLIPPER, "--version"], capture_output=True,
                          text=True).stdout == first + "\n"


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t",
                    *args], check=True, capture_output=True)


def test_version_script(tmp_path):
    need_tool("git", "git")
    script = os.path.join(ROOT, "scripts", "version.sh")

    def version(d):
        return subprocess.run(["sh", script, str(d)], capture_output=True, text=True,
                              check=True).stdout.strip()

    repo = tmp_path / "src"
    repo.mkdir()
    (repo / "VERSION").write_text("1.2.3\n")
    assert version(repo) == "1.2.3"  # not a checkout: VERSION alone
    git(repo, "init", "-q")
    git(repo, "add", "VERSION")
    git(repo, "commit", "-q", "-m", "release")
    assert version(repo) == "1.2.3"
    (repo / "a").write_text("a\n")
    git(repo, "add", "a")
    git(repo, "commit", "-q", "-m", "a")
    (repo / "a").write_text("b\n")
    git(repo, "commit", "-q", "-am", "b")
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short=7", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    assert version(repo) == f"1.2.3-2-g{head}"
    (repo / "a").write_text("c\n")
    assert version(repo) == f"1.2.3-2-g{head}-dirty"
    git(repo, "checkout", "-q", "a")
    # A release tag, when there is one, is the reference.
    git(repo, "tag", "v1.2.3", "HEAD~1")
    assert version(repo) == f"1.2.3-1-g{head}"
    # A tarball unpacked inside another checkout is not that checkout.
    inner = repo / "unpacked"
    inner.mkdir()
    (inner / "VERSION").write_text("9.9.9\n")
    assert version(inner) == "9.9.9"


# ---- scripts/deps.sh --------------------------------------------------------

def deps(*args):
    p = subprocess.run(["sh", os.path.join(ROOT, "scripts", "deps.sh"), *args],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout.split()


def test_dependency_sets():
    runtime, build, test = deps("--runtime", "--list"), deps("--build", "--list"), deps("--list")
    assert deps("--test", "--list") == test
    assert set(build) <= set(test)
    # A server gets no compiler, no headers, no test stack.
    for p in runtime:
        assert not p.endswith("-dev"), p
    for p in ("gcc", "clang", "make", "python3", "python3-pytest", "prometheus"):
        assert p not in runtime, p
    assert "libcurl4-openssl-dev" in build and "gcc" in build and "python3-pytest" not in build


def test_runtime_set_covers_what_the_binary_loads():
    """Every shared library the binary links, and libcurl.so.4 it loads on
    first network use, comes from a package in --runtime (or libc)."""
    need_tool("dpkg-query", "dpkg")
    need_tool("ldd", "libc-bin")
    runtime = set(deps("--runtime", "--list"))
    out = subprocess.run(["ldd", FLIPPER], capture_output=True, text=True, check=True).stdout
    libs = re.findall(r"=> (/\S+)", out)
    curl = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True).stdout
    m = re.search(r"libcurl\.so\.4 .*=> (\S+)", curl)
    assert m, "libcurl.so.4 is not installed"
    libs.append(m.group(1))
    owners = {}
    for lib in libs:
        for path in (lib, os.path.realpath(lib)):
            p = subprocess.run(["dpkg-query", "-S", path], capture_output=True, text=True)
            if p.returncode == 0:
                owners[lib] = p.stdout.split(":")[0]
                break
    # flipper's own dependencies; libc and their transitive libraries come
    # with them (and sanitizer runtimes are not flipper's).
    ours = {lib: o for lib, o in owners.items() if re.match(r"lib(curl|cjson|yaml|sqlite3)", o)}
    assert {re.match(r"lib(curl|cjson|yaml|sqlite3)", o).group(1) for o in ours.values()} == \
        {"curl", "cjson", "yaml", "sqlite3"}, owners
    for lib, owner in ours.items():
        assert owner in runtime, f"{lib} comes from {owner}, which --runtime lacks"
