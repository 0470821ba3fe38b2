#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
# `make deb`: builds the Debian package from this checkout with dpkg-buildpackage -b -us -uc and
# moves the .deb (and its .buildinfo/.changes) into OUT (default build-deb). The build happens in
# a clean copy of the checkout's tracked files, so a developer's build directories, var/ and
# node_modules never end up in the package, and dpkg-buildpackage's results land beside that copy
# rather than in the checkout's parent directory.
set -eu
cd "$(dirname "$0")/.."
out=${1:-build-deb}
./scripts/deps.sh packaging
rm -rf "$out"
mkdir -p "$out/src"
# The working tree's files that git does not ignore (uncommitted changes included: `make deb`
# builds what you see), and the version this checkout reports, which the copy's
# tools/version.sh reports in turn.
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$out/src"
./tools/version.sh "$(sed -n "s/^  version : '\(.*\)',$/\1/p" meson.build)" >"$out/src/.build-version"
# The web client's packages, when already installed here, save a download.
[ -d clients/web/node_modules ] && cp -a clients/web/node_modules "$out/src/clients/web/"
(cd "$out/src" && dpkg-buildpackage -b -us -uc >../build.log 2>&1) || {
	tail -n 40 "$out/build.log" >&2
	echo "build-deb: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
	exit 1
}
rm -rf "$out/src"
ls "$out"/*.deb
