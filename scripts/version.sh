#!/bin/sh
# Print flipper's version: the release in VERSION, and where this tree
# stands from it, in git describe's shape:
#
#   0.1.0                    the commit that made the release
#   0.1.0-12-gabc1234        twelve commits later
#   0.1.0-12-gabc1234-dirty  with uncommitted changes to tracked files
#
# The release point is the tag v$(cat VERSION) when there is one, else the
# commit that last changed VERSION. Outside a git checkout (a release
# tarball, a container build without .git) or without git: VERSION alone.
#
#   sh scripts/version.sh [SOURCE_DIR]      (default: this script's tree)
set -eu

dir=${1:-$(dirname "$0")/..}
cd "$dir"
base=$(sed -n '1{s/[[:space:]]//g;p;}' VERSION 2>/dev/null || true)
[ -n "$base" ] || base=0.0.0

# Only this tree's own repository counts: a tarball unpacked inside some
# other checkout must not take that checkout's history.
top=$(git rev-parse --show-toplevel 2>/dev/null || true)
if [ -z "$top" ] || [ "$(cd "$top" && pwd -P)" != "$(pwd -P)" ] ||
   ! git rev-parse -q --verify HEAD >/dev/null 2>&1; then
	echo "$base"
	exit 0
fi

if desc=$(git describe --tags --match "v$base" --dirty --abbrev=7 2>/dev/null); then
	echo "${desc#v}"
	exit 0
fi

since=$(git log -1 --format=%H -- VERSION 2>/dev/null || true)
if [ -n "$since" ]; then
	n=$(git rev-list --count "$since..HEAD")
else
	n=$(git rev-list --count HEAD)
fi
dirty=
git update-index -q --refresh >/dev/null 2>&1 || true
git diff-index --quiet HEAD -- 2>/dev/null || dirty=-dirty
if [ "$n" -eq 0 ]; then
	echo "$base$dirty"
else
	echo "$base-$n-g$(git rev-parse --short=7 HEAD)$dirty"
fi
