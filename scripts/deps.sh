#!/bin/sh
# Install (or check for) everything flipper needs to build and test on
# Debian. As root it runs apt-get; otherwise it prints the exact command.
#
#   scripts/deps.sh           install what is missing
#   scripts/deps.sh --check   exit 0 when everything is there, 1 otherwise
set -eu

PACKAGES="gcc make pkg-config libcurl4-openssl-dev libcjson-dev libyaml-dev \
libsqlite3-dev python3 python3-pytest openssl clang libclang-rt-14-dev \
hcloud-cli prometheus systemd groff-base man-db python3-yaml zsh fish"

missing() {
	m=""
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || m="$m $p"
	done
	echo "$m"
}

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps: not a Debian system; install the equivalents of:$PACKAGES" >&2
	exit 1
fi

todo=$(missing)
if [ "${1:-}" = "--check" ]; then
	[ -z "$todo" ] && exit 0
	echo "deps: missing:$todo" >&2
	exit 1
fi
if [ -z "$todo" ]; then
	echo "deps: everything is installed"
	exit 0
fi
cmd="apt-get install -y --no-install-recommends$todo"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing:$todo" >&2
	echo "deps: run as root:  apt-get update && $cmd" >&2
	exit 1
fi
echo "deps: installing:$todo"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $todo
