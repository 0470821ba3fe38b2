#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
# Runs every fuzz_* executable of a -Dfuzzing=true build for SECONDS each.
#   ./scripts/fuzz.sh BUILD_DIR SECONDS
# A target fuzz_NAME built from tests/<folder>/ is seeded from tests/<folder>/corpus/NAME/ (read
# only: new inputs go to BUILD_DIR/fuzz-corpus/NAME/), uses tests/<folder>/corpus/NAME.dict when
# present, and writes findings to BUILD_DIR/fuzz-artifacts/NAME/. Exits non-zero on any finding.
set -u
[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR SECONDS" >&2; exit 2; }
build=$1
seconds=$2
root=$(cd "$(dirname "$0")/.." && pwd)

targets=$(find "$build" -type f -name 'fuzz_*' -perm -u+x | sort)
[ -n "$targets" ] || { echo "fuzz: no fuzz_* executables in $build" >&2; exit 1; }

status=0
for exe in $targets; do
	name=$(basename "$exe")
	name=${name#fuzz_}
	seeds=$(find "$root/tests" -type d -path "*/corpus/$name" | head -n 1)
	work="$build/fuzz-corpus/$name"
	artifacts="$build/fuzz-artifacts/$name"
	mkdir -p "$work" "$artifacts"
	dict=""
	if [ -n "$seeds" ] && [ -f "$seeds.dict" ]; then
		dict="-dict=$seeds.dict"
	fi
	echo "== fuzz $name for ${seconds}s (seeds: ${seeds:-none})"
	# shellcheck disable=SC2086
	ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}" \
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}" \
		"$exe" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$artifacts/" $dict "$work" ${seeds:+"$seeds"} || {
		echo "fuzz: $name found a failure; inputs in $artifacts" >&2
		status=1
	}
done
exit $status
