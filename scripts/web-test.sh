#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
# The web client's tests: the Node unit tests (protocol, crypto, identity and consent vectors)
# and the browser tests in Debian's chromium against a real relay from BUILD_DIR.
# Usage: scripts/web-test.sh BUILD_DIR [SCREENSHOT_DIR]. Ends with `N passed, N failed`.
set -u
BUILD=${1:?usage: scripts/web-test.sh BUILD_DIR [SCREENSHOT_DIR]}
SHOTS=${2:-}
cd "$(dirname "$0")/.."

WAKKS_EXTRA_PACKAGES=chromium ./scripts/deps.sh || { echo "web-test: could not install chromium" >&2; echo "0 passed, 1 failed"; exit 1; }
./scripts/web-build.sh || { echo "web-test: the web client does not build" >&2; echo "0 passed, 1 failed"; exit 1; }
# The certified OpenID provider the log-in scenario runs against (tests/browser/oidc.mjs).
./tests/oidc/install.sh || { echo "web-test: could not install the test OpenID provider" >&2; echo "0 passed, 1 failed"; exit 1; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT

(cd clients/web && node --test test/) >"$out" 2>&1
unit_pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$out")
unit_fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$out")
grep -E '^not ok' "$out" >&2 || true
echo "web unit tests: ${unit_pass:-0} passed, ${unit_fail:-1} failed" >&2

timeout 240 node tests/browser/run.mjs "$BUILD" $SHOTS >"$out" 2>&1
grep -Ev '^[0-9]+ passed, [0-9]+ failed$' "$out" | grep -v '^time=' >&2
line=$(tail -n 1 "$out")
br_pass=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
br_fail=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
[ -n "$br_pass" ] || { br_pass=0; br_fail=1; }

passed=$((${unit_pass:-0} + br_pass))
failed=$((${unit_fail:-1} + br_fail))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
