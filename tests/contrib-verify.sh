#!/bin/sh
# contrib-verify.sh — check what ships beside the binary:
#
#   - contrib/systemd/*.in: rendered by `make install-units` with
#     ExecStart= at the built binary, `systemd-analyze verify` prints
#     nothing (the man page on MANPATH so Documentation=man:flipper(1)
#     resolves); the settings operators rely on; the metrics recipe;
#   - contrib/k8s: the overlays' configurations agree and validate, no
#     Secret is shipped; `kubectl kustomize` renders each overlay and the
#     objects hang together (tests/contrib_k8s.py);
#   - contrib/flipper.example.yaml: `flipper validate` says
#     "configuration OK" without a warning;
#   - man/flipper.1: groff -ww and man(1) render it without a warning, and
#     it names every command, option, configuration key, notification kind
#     and metric the code has.
#
# A missing tool is a skip with a message naming its Debian package (a
# failure under FLIPPER_CI=1, see tests/skip.sh). Needs the built
# binary: $FLIPPER, default ./flipper. Prints one "N passed, N failed"
# line last; exits 1 if anything failed.
#
#   sh tests/contrib-verify.sh
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FLIPPER=${FLIPPER:-$ROOT/flipper}
PYTHON=${PYTHON:-/usr/bin/python3}
passed=0 failed=0 skipped=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/contrib-verify.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM

ok() { passed=$((passed + 1)); echo "ok   - $1"; }
# A missing tool: one line, or a failure under FLIPPER_CI=1 (tests/skip.sh).
skip() {
	if sh "$ROOT/tests/skip.sh" "$1"; then
		skipped=$((skipped + 1))
	else
		failed=$((failed + 1))
	fi
}
fail() {
	failed=$((failed + 1))
	echo "FAIL - $1"
	if [ -n "${2:-}" ] && [ -s "$2" ]; then sed 's/^/       /' "$2"; fi
}

cd "$ROOT" || exit 1

if [ ! -x "$FLIPPER" ]; then
	fail "the flipper binary $FLIPPER is missing (run make flipper first)"
	echo "contrib-verify: $passed passed, $failed failed, $skipped skipped"
	exit 1
fi

# ---- man page ---------------------------------------------------------------
mkdir -p "$TMP/man/man1"
cp man/flipper.1 "$TMP/man/man1/flipper.1"

if command -v groff >/dev/null 2>&1; then
	if groff -man -Tutf8 -ww man/flipper.1 >/dev/null 2>"$TMP/groff.err" &&
	   [ ! -s "$TMP/groff.err" ]; then
		ok "man/flipper.1: groff -man -ww renders it without a warning"
	else
		fail "man/flipper.1: groff -man -ww complains" "$TMP/groff.err"
	fi
else
	skip "man/flipper.1: groff is not installed (Debian: groff-base)"
fi

if command -v man >/dev/null 2>&1; then
	if MANWIDTH=80 man --warnings -l man/flipper.1 >"$TMP/man.txt" 2>"$TMP/man.err" &&
	   [ ! -s "$TMP/man.err" ] && grep -q "EXIT STATUS" "$TMP/man.txt"; then
		ok "man/flipper.1: man -l renders it without a warning"
	else
		fail "man/flipper.1: man -l complains" "$TMP/man.err"
	fi
else
	skip "man/flipper.1: man is not installed (Debian: man-db)"
fi

# Drift: whatever the code knows, the man page must name. Sources: the
# configuration's key table, through `flipper validate --keys` (every key
# by its full path, e.g. groups[].checks[].port), the commands and options
# of `flipper help` (generated from the option tables), the notification
# kinds and metric families in the sources.
if ! "$FLIPPER" validate --keys >"$TMP/keys" 2>"$TMP/keys.err" || [ ! -s "$TMP/keys" ]; then
	fail "flipper validate --keys lists no keys" "$TMP/keys.err"
fi
cut -f1 "$TMP/keys" | sort -u >"$TMP/keys.names"
{
	# Commands and every option: from the binary's help, which its
	# option tables generate.
	# A subcommand is listed with its parent: "state backup".
	"$FLIPPER" help |
		sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z]*\( [a-z][a-z]*\)\{0,1\}\)\( .*\)\{0,1\}$/\1/p' \
		>"$TMP/commands"
	cat "$TMP/commands"
	"$FLIPPER" help | sed -n 's/^  \(-[a-z], \)\{0,1\}--\([a-z-]*\).*/--\2/p'
	while read -r cmd; do
		# shellcheck disable=SC2086 # "state backup" is two words
		"$FLIPPER" $cmd --help | sed -n 's/^  \(-[a-z], \)\{0,1\}--\([a-z-]*\).*/--\2/p'
	done <"$TMP/commands"
	# (src/round.c until the engine's rooms took its parts.)
	cat src/*.c | sed -n 's/.*\(engine\|notify\)_post([^"]*"\([a-z_]*\)".*/\2/p'
	cat src/*.c | sed -n 's/.*metrics_family(m, "\([a-z_]*\)".*/\1/p'
} | sort -u >"$TMP/names"
man_text=$TMP/man.plain
sed 's/\\-/-/g; s/\\f[BIRP]//g' man/flipper.1 >"$man_text"
: >"$TMP/undocumented"
while read -r name; do
	[ -n "$name" ] || continue
	grep -q -w -- "$name" "$man_text" || echo "$name" >>"$TMP/undocumented"
done <"$TMP/names"
# Keys by their whole path, so a key of one section is not passed by a
# namesake in another.
while read -r key; do
	[ -n "$key" ] || continue
	grep -q -F -w -- "$key" "$man_text" || echo "$key" >>"$TMP/undocumented"
done <"$TMP/keys.names"
if [ ! -s "$TMP/names" ] || [ ! -s "$TMP/keys.names" ]; then
	fail "man/flipper.1: found no names in the sources to compare with"
elif [ -s "$TMP/undocumented" ]; then
	fail "man/flipper.1: names the code has but the man page does not" "$TMP/undocumented"
else
	ok "man/flipper.1: documents all $(wc -l <"$TMP/keys.names") keys and $(wc -l <"$TMP/names") commands, options, notification kinds and metrics"
fi

# ---- systemd ----------------------------------------------------------------
# The units are templates (contrib/systemd/*.in); check them as `make
# install` renders them, with ExecStart= at the binary under test.
if command -v systemd-analyze >/dev/null 2>&1; then
	bindir=$(cd "$(dirname "$FLIPPER")" && pwd)
	units=$TMP/root/units
	if [ "$(basename "$FLIPPER")" != flipper ]; then
		fail "contrib/systemd: the binary under test must be named flipper, not $FLIPPER"
	elif ! make -s -C "$ROOT" install-units DESTDIR="$TMP/root" SYSTEMDUNITDIR=/units \
		BINDIR="$bindir" SYSCONFDIR=/etc >"$TMP/render.err" 2>&1; then
		fail "contrib/systemd: make install-units" "$TMP/render.err"
	else
		grep -n '@[A-Z_]*@' "$units"/* >"$TMP/placeholders" 2>&1
		if [ -s "$TMP/placeholders" ]; then
			fail "contrib/systemd: placeholders left after rendering" "$TMP/placeholders"
		fi
		# verify runs man(1) for Documentation=man:flipper(1).
		if (cd "$units" && MANPATH="$TMP/man:" SYSTEMD_LOG_COLOR=0 \
		    systemd-analyze verify ./*.service ./*.timer) >"$TMP/verify.err" 2>&1 &&
		   [ ! -s "$TMP/verify.err" ]; then
			ok "contrib/systemd: systemd-analyze verify passes without a warning"
		else
			fail "contrib/systemd: systemd-analyze verify" "$TMP/verify.err"
		fi
	fi
	# What the SPEC and the operators rely on, in case an edit drops it.
	s=$units/flipper.service
	m=$units/flipper-monitor.service
	missing=""
	for want in "Type=oneshot" "SuccessExitStatus=75" "StateDirectory=flipper" \
		    "DynamicUser=yes" "reconcile --once" "ExecStart=$bindir/flipper " \
		    "-c /etc/flipper/flipper.yaml"; do
		grep -q -F -- "$want" "$s" || missing="$missing flipper.service:'$want'"
	done
	for want in "Type=simple" "Restart=on-failure" "KillSignal=SIGTERM" " monitor" \
		    "StateDirectory=flipper" "ExecStart=$bindir/flipper "; do
		grep -q -F -- "$want" "$m" || missing="$missing flipper-monitor.service:'$want'"
	done
	grep -q '^OnUnitActiveSec=10s' "$units/flipper.timer" ||
		missing="$missing flipper.timer:'OnUnitActiveSec=10s'"
	for f in "$s" "$m"; do
		for want in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes \
			    PrivateTmp=yes PrivateDevices=yes CapabilityBoundingSet= \
			    SystemCallFilter=@system-service UMask=0077 User=flipper \
			    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" \
			    "LoadCredential=hcloud-token:/etc/flipper/hcloud-token" \
			    'SetCredential=hcloud-token:\n'; do
			grep -q -x -F -- "$want" "$f" || missing="$missing $(basename "$f"):'$want'"
		done
	done
	if [ -z "$missing" ]; then
		ok "contrib/systemd: oneshot, timer and monitor units carry the required settings"
	else
		fail "contrib/systemd: missing settings:$missing"
	fi
	# The metrics recipe. Under DynamicUser= the service can write only
	# its own directories, and node_exporter (another user) must read the
	# file: a RuntimeDirectory= others may enter, kept between the
	# oneshot's rounds, and the textfile path the comments give inside it.
	# (flipper writes the file 0644 whatever the umask: test_metrics.py.)
	: >"$TMP/metrics.err"
	for f in "$s" "$m"; do
		u=$(basename "$f")
		grep -q -x 'RuntimeDirectory=flipper' "$f" ||
			echo "$u: no RuntimeDirectory=flipper" >>"$TMP/metrics.err"
		mode=$(sed -n 's/^RuntimeDirectoryMode=//p' "$f")
		case $mode in
		0755 | 0751 | 0711 | 0555 | 0511) ;;
		*) echo "$u: RuntimeDirectoryMode=$mode does not let node_exporter in" >>"$TMP/metrics.err" ;;
		esac
		grep -n '^ReadWritePaths=\|^ReadWriteDirectories=\|^BindPaths=' "$f" |
			sed "s/^/$u: writes outside its own directories: /" >>"$TMP/metrics.err"
	done
	grep -q -x 'RuntimeDirectoryPreserve=yes' "$s" ||
		echo "flipper.service: the metrics file must outlive the round (RuntimeDirectoryPreserve=yes)" >>"$TMP/metrics.err"
	recipe=$(sed -n 's/^#[[:space:]]*telemetry\.metrics\.textfile:[[:space:]]*//p' "$s")
	case $recipe in
	/run/flipper/*.prom) ;;
	*) echo "flipper.service: the textfile recipe ('$recipe') is not a .prom file in /run/flipper" >>"$TMP/metrics.err" ;;
	esac
	if [ -s "$TMP/metrics.err" ]; then
		fail "contrib/systemd: metrics textfile recipe" "$TMP/metrics.err"
	else
		ok "contrib/systemd: metrics textfile in the unit's RuntimeDirectory ($recipe), readable by node_exporter"
	fi
else
	skip "contrib/systemd: systemd-analyze is not installed (Debian: systemd)"
fi

# ---- example configuration --------------------------------------------------
validate() {
	# $1 file, $2 label
	if env HCLOUD_TOKEN=contrib-verify-token \
	       MATTERMOST_WEBHOOK_URL=https://chat.invalid/hooks/x \
	       HEARTBEAT_URL=https://heartbeat.invalid/x \
	       "$FLIPPER" -c "$1" validate >"$TMP/validate.out" 2>"$TMP/validate.err" &&
	   grep -q -x "configuration OK" "$TMP/validate.out" && [ ! -s "$TMP/validate.err" ]; then
		ok "$2: flipper validate says configuration OK, no warning"
	else
		cat "$TMP/validate.out" >>"$TMP/validate.err"
		fail "$2: flipper validate" "$TMP/validate.err"
	fi
}
validate contrib/flipper.example.yaml contrib/flipper.example.yaml

# ---- Kubernetes manifests ---------------------------------------------------
# tests/contrib_k8s.py does the checking; here it is run on the shipped
# files, then on what `kubectl kustomize` renders from each overlay.
validate_k8s() {
	# $1 file, $2 label. The monitor overlay turns on server.*, which
	# monitor serves (libmicrohttpd is in the build set): no warning.
	if env HCLOUD_TOKEN=contrib-verify-token MATTERMOST_WEBHOOK_URL=https://chat.invalid/hooks/x \
	       "$FLIPPER" -c "$1" validate >"$TMP/validate.out" 2>"$TMP/validate.err" &&
	   grep -q -x "configuration OK" "$TMP/validate.out" && [ ! -s "$TMP/validate.err" ]; then
		ok "$2: flipper validate says configuration OK"
	else
		cat "$TMP/validate.out" >>"$TMP/validate.err"
		fail "$2: flipper validate" "$TMP/validate.err"
	fi
}
if "$PYTHON" -c 'import yaml' 2>/dev/null; then
	mkdir -p "$TMP/k8s"
	if "$PYTHON" tests/contrib_k8s.py files "$TMP/k8s" >"$TMP/k8s.err" 2>&1; then
		ok "contrib/k8s: the monitor overlay's flipper.yaml is the base's plus server:, no Secret in the repository"
	else
		fail "contrib/k8s: configuration files" "$TMP/k8s.err"
	fi
	validate_k8s "$TMP/k8s/base.yaml" "contrib/k8s/base/flipper.yaml"
	validate_k8s "$TMP/k8s/monitor.yaml" "contrib/k8s/overlays/monitor/config/flipper.yaml"
	if command -v kubectl >/dev/null 2>&1 && kubectl kustomize --help >/dev/null 2>&1; then
		for o in cronjob monitor; do
			if ! kubectl kustomize "contrib/k8s/overlays/$o" >"$TMP/k8s/$o.yaml" 2>"$TMP/k8s.err"; then
				fail "contrib/k8s/overlays/$o: kubectl kustomize" "$TMP/k8s.err"
			elif "$PYTHON" tests/contrib_k8s.py render "$o" "$TMP/k8s/$o.yaml" "$TMP/k8s" \
				>"$TMP/k8s.err" 2>&1; then
				ok "contrib/k8s/overlays/$o: renders, hangs together, no Secret, shutdown allowances cover a round"
				validate_k8s "$TMP/k8s/$o-flipper.yaml" "contrib/k8s/overlays/$o: the rendered ConfigMap"
			else
				fail "contrib/k8s/overlays/$o: rendered manifests" "$TMP/k8s.err"
			fi
		done
	else
		skip "contrib/k8s: kubectl with kustomize (1.24 or later) is not installed; the Kubernetes project's apt repository has it"
	fi
else
	skip "contrib/k8s: $PYTHON has no yaml module (Debian: python3-yaml)"
fi

for w in FROM "USER 65532" 'ENTRYPOINT ["flipper"]' "deps.sh --build" "deps.sh --runtime" \
	 bookworm; do
	grep -q -F -- "$w" contrib/k8s/Containerfile || { echo "$w" >>"$TMP/cf.err"; }
done
if [ -s "$TMP/cf.err" ]; then
	fail "contrib/k8s/Containerfile lacks" "$TMP/cf.err"
else
	ok "contrib/k8s/Containerfile: bookworm, the build set to build, the runtime set to run, USER 65532"
fi

echo "contrib-verify: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
