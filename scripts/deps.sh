#!/bin/sh
# Install (or check for) the Debian packages flipper needs. As root it runs
# apt-get; otherwise it prints the exact command.
#
#   scripts/deps.sh [--runtime|--build|--test] [--check]
#
#   --runtime  what a server running flipper needs: the shared libraries
#              and CA certificates, nothing else. libmicrohttpd12 is
#              optional: only monitor's HTTP endpoint (server.enabled)
#              loads it; without it every other command runs
#   --build    what `make` needs: a compiler and the -dev packages
#   --test     what `make test` needs: the build set and the test stack
#              (pytest, clang for the fuzz smoke, promtool, systemd-analyze,
#              groff, git, ...). The default.
#   --check    install nothing: exit 0 when the set is there, 1 otherwise
#   --list     print the set's packages, one a line
set -eu

RUNTIME="libcurl4 libcjson1 libyaml-0-2 libsqlite3-0 ca-certificates libmicrohttpd12"
BUILD="gcc libc6-dev make pkg-config libcurl4-openssl-dev libcjson-dev libyaml-dev \
libsqlite3-dev libmicrohttpd-dev"
TEST="$BUILD python3 python3-pytest python3-yaml openssl clang libclang-rt-14-dev \
hcloud-cli prometheus systemd groff-base man-db git zsh fish libcurl3-gnutls"

set_name=test
check=no
list=no
for a in "$@"; do
	case $a in
	--runtime) set_name=runtime ;;
	--build) set_name=build ;;
	--test) set_name=test ;;
	--check) check=yes ;;
	--list) list=yes ;;
	-h | --help)
		sed -n '2,16s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*)
		echo "deps: unknown option '$a' (see: $0 --help)" >&2
		exit 2
		;;
	esac
done
case $set_name in
runtime) PACKAGES=$RUNTIME ;;
build) PACKAGES=$BUILD ;;
test) PACKAGES=$TEST ;;
esac

if [ "$list" = yes ]; then
	printf '%s\n' $PACKAGES
	exit 0
fi

missing() {
	m=""
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || m="$m $p"
	done
	echo "$m"
}

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps: not a Debian system; install the equivalents of: $PACKAGES" >&2
	exit 1
fi

todo=$(missing)
if [ "$check" = yes ]; then
	[ -z "$todo" ] && exit 0
	echo "deps: missing ($set_name):$todo" >&2
	exit 1
fi
if [ -z "$todo" ]; then
	echo "deps: everything for --$set_name is installed"
	exit 0
fi
cmd="apt-get install -y --no-install-recommends$todo"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing ($set_name):$todo" >&2
	echo "deps: run as root:  apt-get update && $cmd" >&2
	exit 1
fi
echo "deps: installing ($set_name):$todo"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $todo
