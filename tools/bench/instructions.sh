#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# The relay's CPU cost per message as instructions, which stay the same however busy the machine
# is (time per message does not: on a shared machine it moves by 2-3x from run to run).
#
# Runs tools/bench/loadgen against a relay running under valgrind's callgrind, instrumenting only
# between the end of the warm-up and the end of the run, and divides the instructions of all the
# relay's threads in that window (user space: system calls count as the instructions that make
# them, not the kernel's) by the envelopes committed in the same window
# (wakks_store_envelopes_stored_total from the relay's /metrics). System calls are not counted
# here: under valgrind the relay makes valgrind's own as well.
#
# usage: tools/bench/instructions.sh BUILD_DIR [LABEL]
# Environment (defaults in brackets): BENCH_STATE [$TMPDIR/wakks-bench-cg] registered devices
#   (64 are registered on first use), BENCH_PAIRS [8], BENCH_WINDOW [8], BENCH_WARMUP [6] seconds
#   before collecting, BENCH_WINDOW_S [20] seconds collected, BENCH_OUT [$TMPDIR] where the
#   callgrind output is kept (callgrind_annotate reads it), BENCH_RELAY [BUILD_DIR/server/wakks-relay].
# Benchmarks print figures and never fail the build; nothing here runs in `make test`.
set -eu

BUILD=${1:?usage: instructions.sh BUILD_DIR [LABEL]}
LABEL=${2:-relay}
STATE=${BENCH_STATE:-${TMPDIR:-/tmp}/wakks-bench-cg}
PAIRS=${BENCH_PAIRS:-8}
WINDOW=${BENCH_WINDOW:-8}
WARMUP=${BENCH_WARMUP:-6}
COLLECT=${BENCH_WINDOW_S:-20}
OUT=${BENCH_OUT:-${TMPDIR:-/tmp}}
RELAY=$(realpath "${BENCH_RELAY:-$BUILD/server/wakks-relay}")
LOADGEN=$BUILD/tools/bench/loadgen

for t in valgrind callgrind_control callgrind_annotate curl; do
	command -v "$t" >/dev/null || { echo "instructions: $t is missing (apt install valgrind curl)" >&2; exit 2; }
done
[ -x "$LOADGEN" ] || { echo "instructions: $LOADGEN is missing (build first)" >&2; exit 2; }
mkdir -p "$OUT"
if [ ! -f "$STATE/devices.bin" ]; then
	"$LOADGEN" --relay "$RELAY" --state "$STATE" --register $((PAIRS * 2)) >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cgout="$OUT/callgrind.$LABEL.out"
rm -f "$cgout"
cat >"$work/relay" <<EOF
#!/bin/sh
exec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=$cgout "$RELAY" "\$@"
EOF
chmod +x "$work/relay"

# The loadgen run is long enough to cover the warm-up, the collected window and valgrind's slow
# start; its own figures are not used (they are those of a relay slowed down ~50x).
"$LOADGEN" --relay "$work/relay" --state "$STATE" --pairs "$PAIRS" --window "$WINDOW" \
	--warmup 2 --duration $((WARMUP + COLLECT + 30)) >"$work/loadgen.out" 2>&1 &
lg=$!

pid=
for _ in $(seq 1 300); do
	pid=$(pgrep -f "callgrind-out-file=$cgout" | head -1 || true)
	[ -n "$pid" ] && grep -q "event=admin_listening" "$STATE/relay.log" 2>/dev/null && break
	sleep 0.2
done
[ -n "$pid" ] || { echo "instructions: the relay did not start" >&2; kill "$lg"; exit 1; }
admin=$(grep -o 'event=admin_listening port=[0-9]*' "$STATE/relay.log" | tail -1 | cut -d= -f3)
stored() {
	curl -s "http://127.0.0.1:$admin/metrics" | awk '$1 == "wakks_store_envelopes_stored_total" { print $2 }'
}

# Wait until messages flow (valgrind start, TLS handshakes, auth), then the warm-up.
for _ in $(seq 1 300); do
	s=$(stored || true)
	[ -n "$s" ] && [ "$s" -gt 0 ] && break
	sleep 1
done
sleep "$WARMUP"
callgrind_control -z "$pid" >/dev/null
callgrind_control -i on "$pid" >/dev/null
m0=$(stored)
t0=$(date +%s.%N)
sleep "$COLLECT"
m1=$(stored)
callgrind_control -i off "$pid" >/dev/null
t1=$(date +%s.%N)
callgrind_control -d "$pid" >/dev/null
sleep 1
kill "$lg" 2>/dev/null || true
wait "$lg" 2>/dev/null || true

msgs=$((m1 - m0))
# The dump asked for by -d is the file name with the suffix .1; the one written at exit (the
# plain name) holds what came after it, with instrumentation off: nothing.
dump="$cgout.1"
[ -s "$dump" ] || dump=$cgout
ir=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
awk -v ir="$ir" -v m="$msgs" -v l="$LABEL" -v t0="$t0" -v t1="$t1" -v load="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN {
	printf "instructions: %s, %d messages committed in %.1f s under callgrind (load average %s)\n", l, m, t1 - t0, load
	if (m > 0) {
		printf "  relay instructions per message  %.0f\n", ir / m
	}
	printf "RESULT system=relay mode=instructions label=%s msgs=%d ir=%s ir_per_msg=%.0f\n", l, m, ir, (m > 0 ? ir / m : 0)
}'
echo "  callgrind output: $dump (callgrind_annotate --inclusive=yes $dump)"
