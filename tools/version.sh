#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
# The build's version for --version, /healthz and the backup manifest: `git describe` of a
# release tag (v1.2.3 -> 1.2.3, with -N-gHASH after it for later commits and -dirty for local
# changes), or PROJECT_VERSION+gHASH before the first tag. Outside a git checkout (a source
# tarball) meson's vcs_tag falls back to the project version itself.
set -eu
base="$1"
# A copy made for packaging (scripts/build-deb.sh) carries the version of the checkout it came from.
here=$(dirname "$0")/..
if [ -f "$here/.build-version" ]; then
	cat "$here/.build-version"
	exit 0
fi
if d=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null); then
	echo "${d#v}"
else
	h=$(git describe --always --dirty --abbrev=9)
	echo "${base}+g${h}"
fi
