"""`make install` honours PREFIX and DESTDIR and installs a working binary,
the man page and the shell completions."""

import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_make_install_prefix_destdir(tmp_path):
    dest = tmp_path / "root"
    p = subprocess.run(["make", "-s", "-C", ROOT, "install", "PREFIX=/opt/flip",
                        f"DESTDIR={dest}"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    binary = dest / "opt/flip/bin/flipper"
    man = dest / "opt/flip/share/man/man1/flipper.1"
    assert binary.is_file() and os.access(binary, os.X_OK)
    assert oct(binary.stat().st_mode & 0o777) == oct(0o755)
    assert man.is_file() and oct(man.stat().st_mode & 0o777) == oct(0o644)
    v = subprocess.run([str(binary), "version"], capture_output=True, text=True)
    assert v.returncode == 0 and v.stdout.startswith("flipper ")
    assert ".TH FLIPPER 1" in man.read_text()
    # The completions, where each shell looks for them, as the binary makes them.
    for shell, path in (("bash", "share/bash-completion/completions/flipper"),
                        ("zsh", "share/zsh/site-functions/_flipper"),
                        ("fish", "share/fish/vendor_completions.d/flipper.fish")):
        f = dest / "opt/flip" / path
        assert f.is_file() and oct(f.stat().st_mode & 0o777) == oct(0o644), path
        made = subprocess.run([str(binary), "completion", shell], capture_output=True, text=True)
        assert made.returncode == 0 and f.read_text() == made.stdout, path
    # nothing outside DESTDIR
    assert not os.path.exists("/opt/flip/bin/flipper")
