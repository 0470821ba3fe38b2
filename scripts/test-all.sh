#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
# `make test`: the C tests of every build directory given (run-tests.sh), then the web client's
# tests against the first one (web-test.sh). Both always run; the last line is the total,
# `N passed, N failed`, and the exit status is non-zero when anything failed.
set -u
[ $# -ge 1 ] || { echo "usage: $0 TEST_BUILD [MORE_BUILDS...]" >&2; exit 2; }
here=$(dirname "$0")
c_out=$(mktemp)
web_out=$(mktemp)
trap 'rm -f "$c_out" "$web_out"' EXIT

"$here/run-tests.sh" "$@" 2>&1 | tee "$c_out"
"$here/web-test.sh" "$1" 2>&1 | tee "$web_out"

total() { # the numbers of the last `N passed, N failed` line of a log; a missing line is a failure
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1)
	[ -n "$line" ] || { echo "0 1"; return; }
	echo "$line" | sed 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/'
}
set -- $(total "$c_out") $(total "$web_out")
passed=$(($1 + $3))
failed=$(($2 + $4))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
