#!/bin/sh
# contrib-verify.sh — check what ships beside the binary:
#
#   - contrib/systemd/*: `systemd-analyze verify` prints nothing (on a copy
#     whose ExecStart points at the built binary, with the man page on
#     MANPATH so Documentation=man:flipper(1) resolves);
#   - contrib/k8s/*.yaml: parse, and hang together (names, keys, the
#     security context the SPEC asks for, kustomization lists them all);
#   - contrib/flipper.example.yaml and the ConfigMap's flipper.yaml:
#     `flipper validate` says "configuration OK" without a warning;
#   - man/flipper.1: groff -ww and man(1) render it without a warning, and
#     it names every command, configuration key, notification kind and
#     metric the code has.
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

# Drift: whatever the code knows, the man page must name. Sources: the key
# lists in config.c, the command table in main.c, the notification kinds
# and metric families in round.c.
{
	awk '/static const char \*const [a-z_]*keys[a-z_]*\[\] = \{/ { on = 1 }
	     on { print } /NULL/ { on = 0 }' src/config.c |
		grep -o '"[a-z_]*"' | tr -d '"'
	sed -n 's/^[[:space:]]*{ "\([a-z]*\)", cmd_.*/\1/p' src/main.c
	sed -n 's/.*post(e, [a-z]*, "\([a-z_]*\)".*/\1/p; s/.*notify_post([^"]*"\([a-z_]*\)".*/\1/p' src/round.c
	sed -n 's/.*metrics_family(m, "\([a-z_]*\)".*/\1/p' src/round.c
} | sort -u >"$TMP/names"
man_text=$TMP/man.plain
sed 's/\\-/-/g; s/\\f[BIRP]//g' man/flipper.1 >"$man_text"
: >"$TMP/undocumented"
while read -r name; do
	[ -n "$name" ] || continue
	grep -q -w -- "$name" "$man_text" || echo "$name" >>"$TMP/undocumented"
done <"$TMP/names"
if [ ! -s "$TMP/names" ]; then
	fail "man/flipper.1: found no names in the sources to compare with"
elif [ -s "$TMP/undocumented" ]; then
	fail "man/flipper.1: names the code has but the man page does not" "$TMP/undocumented"
else
	ok "man/flipper.1: documents all $(wc -l <"$TMP/names") keys, commands, notification kinds and metrics"
fi

# ---- systemd ----------------------------------------------------------------
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$TMP/units"
	for u in contrib/systemd/*.service contrib/systemd/*.timer; do
		sed "s#^ExecStart=/usr/local/bin/flipper #ExecStart=$FLIPPER #" "$u" \
			>"$TMP/units/$(basename "$u")"
	done
	if grep -q '^ExecStart=/usr/local/bin/' "$TMP/units"/*.service; then
		fail "contrib/systemd: an ExecStart= does not run /usr/local/bin/flipper"
	fi
	# verify runs man(1) for Documentation=man:flipper(1).
	if (cd "$TMP/units" && MANPATH="$TMP/man:" SYSTEMD_LOG_COLOR=0 \
	    systemd-analyze verify ./*.service ./*.timer) >"$TMP/verify.err" 2>&1 &&
	   [ ! -s "$TMP/verify.err" ]; then
		ok "contrib/systemd: systemd-analyze verify passes without a warning"
	else
		fail "contrib/systemd: systemd-analyze verify" "$TMP/verify.err"
	fi
	# What the SPEC and the operators rely on, in case an edit drops it.
	s=contrib/systemd/flipper.service
	m=contrib/systemd/flipper-monitor.service
	missing=""
	for want in "Type=oneshot" "SuccessExitStatus=75" "StateDirectory=flipper" \
		    "DynamicUser=yes" "reconcile --once" "-c /etc/flipper/flipper.yaml"; do
		grep -q -F -- "$want" "$s" || missing="$missing $s:'$want'"
	done
	for want in "Type=simple" "Restart=on-failure" "KillSignal=SIGTERM" " monitor" \
		    "StateDirectory=flipper"; do
		grep -q -F -- "$want" "$m" || missing="$missing $m:'$want'"
	done
	grep -q '^OnUnitActiveSec=10s' contrib/systemd/flipper.timer ||
		missing="$missing flipper.timer:'OnUnitActiveSec=10s'"
	for f in "$s" "$m"; do
		for want in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes \
			    PrivateTmp=yes PrivateDevices=yes CapabilityBoundingSet= \
			    SystemCallFilter=@system-service UMask=0077 \
			    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"; do
			grep -q -x -F -- "$want" "$f" || missing="$missing $f:'$want'"
		done
	done
	if [ -z "$missing" ]; then
		ok "contrib/systemd: oneshot, timer and monitor units carry the required settings"
	else
		fail "contrib/systemd: missing settings:$missing"
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
if "$PYTHON" -c 'import yaml' 2>/dev/null; then
	if "$PYTHON" - "$TMP/configmap-flipper.yaml" >"$TMP/k8s.err" 2>&1 <<'EOF'
import os
import sys

import yaml

out = sys.argv[1]
d = "contrib/k8s"
problems = []


def load(name):
    with open(os.path.join(d, name)) as f:
        docs = [x for x in yaml.safe_load_all(f) if x is not None]
    if len(docs) != 1:
        problems.append(f"{name}: expected one document, found {len(docs)}")
    return docs[0] if docs else {}


def want(cond, what):
    if not cond:
        problems.append(what)


files = sorted(f for f in os.listdir(d) if f.endswith(".yaml"))
docs = {f: load(f) for f in files}

k = docs.get("kustomization.yaml", {})
want(k.get("kind") == "Kustomization", "kustomization.yaml: kind Kustomization")
res = k.get("resources") or []
for r in res:
    want(os.path.exists(os.path.join(d, r)), f"kustomization.yaml: {r} does not exist")
for f in files:
    if f != "kustomization.yaml":
        want(f in res, f"kustomization.yaml does not list {f}")

cj = docs.get("cronjob.yaml", {})
pvc = docs.get("pvc.yaml", {})
cm = docs.get("configmap.yaml", {})
sec = docs.get("secret.yaml", {})
want(cj.get("kind") == "CronJob", "cronjob.yaml: kind CronJob")
want(pvc.get("kind") == "PersistentVolumeClaim", "pvc.yaml: kind PersistentVolumeClaim")
want(cm.get("kind") == "ConfigMap", "configmap.yaml: kind ConfigMap")
want(sec.get("kind") == "Secret", "secret.yaml: kind Secret")

spec = cj.get("spec", {})
want(spec.get("concurrencyPolicy") == "Forbid", "cronjob: concurrencyPolicy Forbid")
want(spec.get("schedule") == "* * * * *", "cronjob: schedule every minute")
want(isinstance(spec.get("startingDeadlineSeconds"), int), "cronjob: startingDeadlineSeconds")
want(isinstance(spec.get("successfulJobsHistoryLimit"), int), "cronjob: successfulJobsHistoryLimit")
pod = spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec", {})
psc = pod.get("securityContext", {})
want(psc.get("runAsNonRoot") is True, "pod: runAsNonRoot")
want(psc.get("runAsUser") == 65532, "pod: runAsUser 65532")
want(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "pod: seccomp RuntimeDefault")
cs = pod.get("containers") or [{}]
c = cs[0]
args = c.get("args") or []
want("reconcile" in args and "--for" in args, "container: reconcile --for")
want(args[:2] == ["-c", "/etc/flipper/flipper.yaml"], "container: -c /etc/flipper/flipper.yaml")
csc = c.get("securityContext", {})
want(csc.get("readOnlyRootFilesystem") is True, "container: readOnlyRootFilesystem")
want(csc.get("allowPrivilegeEscalation") is False, "container: allowPrivilegeEscalation false")
want(csc.get("capabilities", {}).get("drop") == ["ALL"], "container: capabilities drop ALL")
want(csc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "container: seccomp RuntimeDefault")
r = c.get("resources", {})
want(r.get("requests") and r.get("limits"), "container: resources requests and limits")

env = {e["name"]: e for e in c.get("env", [])}
want(env.get("FLIPPER_STATE", {}).get("value") == "/var/lib/flipper/flipper.db",
     "container: FLIPPER_STATE=/var/lib/flipper/flipper.db")
secret_data = sec.get("stringData") or {}
for name, e in env.items():
    ref = e.get("valueFrom", {}).get("secretKeyRef")
    if ref:
        want(ref.get("name") == sec.get("metadata", {}).get("name"),
             f"env {name}: secretKeyRef names the Secret")
        want(ref.get("key") in secret_data, f"env {name}: the Secret has key {ref.get('key')}")
want("secretKeyRef" in env.get("HCLOUD_TOKEN", {}).get("valueFrom", {}),
     "container: HCLOUD_TOKEN from a secretKeyRef")
for key, value in secret_data.items():
    want("REPLACE-ME" in str(value), f"secret.yaml: {key} is not a marked placeholder")

mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
vols = {v["name"]: v for v in pod.get("volumes", [])}
sm = mounts.get("/var/lib/flipper")
want(sm and vols.get(sm["name"], {}).get("persistentVolumeClaim", {}).get("claimName")
     == pvc.get("metadata", {}).get("name"), "state mount /var/lib/flipper from the PVC")
cmnt = mounts.get("/etc/flipper")
want(cmnt and vols.get(cmnt["name"], {}).get("configMap", {}).get("name")
     == cm.get("metadata", {}).get("name"), "config mount /etc/flipper from the ConfigMap")
want(pvc.get("spec", {}).get("accessModes") == ["ReadWriteOnce"], "pvc: ReadWriteOnce")
want(pvc.get("spec", {}).get("resources", {}).get("requests", {}).get("storage") == "100Mi",
     "pvc: 100Mi")

text = (cm.get("data") or {}).get("flipper.yaml")
want(isinstance(text, str), "configmap: data flipper.yaml")
with open(out, "w") as f:
    f.write(text or "")

if problems:
    print("\n".join(problems))
    sys.exit(1)
EOF
	then
		ok "contrib/k8s: manifests parse and hang together"
		validate "$TMP/configmap-flipper.yaml" "contrib/k8s/configmap.yaml (flipper.yaml)"
	else
		fail "contrib/k8s: manifests" "$TMP/k8s.err"
	fi
else
	skip "contrib/k8s: $PYTHON has no yaml module (Debian: python3-yaml)"
fi

for w in FROM "USER 65532" 'ENTRYPOINT ["flipper"]' libcurl4 libcjson1 libyaml-0-2 \
	 libsqlite3-0 ca-certificates bookworm; do
	grep -q -F -- "$w" contrib/k8s/Containerfile || { echo "$w" >>"$TMP/cf.err"; }
done
if [ -s "$TMP/cf.err" ]; then
	fail "contrib/k8s/Containerfile lacks" "$TMP/cf.err"
else
	ok "contrib/k8s/Containerfile: bookworm, runtime libraries only, USER 65532"
fi

echo "contrib-verify: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
