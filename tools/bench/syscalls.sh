#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# The relay's system calls per message: runs tools/bench/loadgen against the relay and counts,
# with perf's syscall tracepoints (no hardware counters needed), the system calls of all the
# relay's threads in a window after the warm-up, divided by the envelopes committed in that
# window (wakks_store_envelopes_stored_total from the relay's /metrics). Unlike time per message
# this changes little with the machine's load, though group commits hold fewer messages on a
# busy machine, so the writer's share per message rises then.
#
# usage: tools/bench/syscalls.sh BUILD_DIR [LABEL]
# Environment (defaults in brackets): BENCH_STATE [$TMPDIR/wakks-bench-cg] registered devices
#   (registered on first use), BENCH_PAIRS [8], BENCH_WINDOW [8], BENCH_WARMUP [3] seconds before
#   counting, BENCH_WINDOW_S [5] seconds counted, BENCH_RELAY [BUILD_DIR/server/wakks-relay].
# Needs perf (linux-perf) and permission to trace the relay (root or perf_event_paranoid <= 1).
# Benchmarks print figures and never fail the build; nothing here runs in `make test`.
set -eu

BUILD=${1:?usage: syscalls.sh BUILD_DIR [LABEL]}
LABEL=${2:-relay}
STATE=${BENCH_STATE:-${TMPDIR:-/tmp}/wakks-bench-cg}
PAIRS=${BENCH_PAIRS:-8}
WINDOW=${BENCH_WINDOW:-8}
WARMUP=${BENCH_WARMUP:-3}
COUNT=${BENCH_WINDOW_S:-5}
RELAY=$(realpath "${BENCH_RELAY:-$BUILD/server/wakks-relay}")
LOADGEN=$BUILD/tools/bench/loadgen

for t in perf curl; do
	command -v "$t" >/dev/null || { echo "syscalls: $t is missing (apt install linux-perf curl)" >&2; exit 2; }
done
[ -x "$LOADGEN" ] || { echo "syscalls: $LOADGEN is missing (build first)" >&2; exit 2; }
if [ ! -f "$STATE/devices.bin" ]; then
	"$LOADGEN" --relay "$RELAY" --state "$STATE" --register $((PAIRS * 2)) >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -f "$STATE/relay.log"
"$LOADGEN" --relay "$RELAY" --state "$STATE" --pairs "$PAIRS" --window "$WINDOW" \
	--warmup 1 --duration $((WARMUP + COUNT + 5)) >"$work/loadgen.out" 2>&1 &
lg=$!

pid=
for _ in $(seq 1 100); do
	pid=$(pgrep -f "^$RELAY --config $STATE/relay.conf" | head -1 || true)
	[ -n "$pid" ] && grep -q "event=admin_listening" "$STATE/relay.log" 2>/dev/null && break
	sleep 0.1
done
[ -n "$pid" ] || { echo "syscalls: the relay did not start" >&2; kill "$lg"; exit 1; }
admin=$(grep -o 'event=admin_listening port=[0-9]*' "$STATE/relay.log" | tail -1 | cut -d= -f3)
stored() {
	curl -s "http://127.0.0.1:$admin/metrics" | awk '$1 == "wakks_store_envelopes_stored_total" { print $2 }'
}

sleep "$WARMUP"
events=raw_syscalls:sys_enter
for s in write writev read epoll_ctl epoll_wait fdatasync pwrite64 futex; do
	events="$events,syscalls:sys_enter_$s"
done
m0=$(stored)
perf stat -x, -e "$events" -p "$pid" -o "$work/perf.out" -- sleep "$COUNT" >/dev/null 2>&1 || true
m1=$(stored)
wait "$lg" 2>/dev/null || true

msgs=$((m1 - m0))
echo "syscalls: $LABEL, $msgs messages committed in $COUNT s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
awk -F, -v m="$msgs" -v l="$LABEL" '
	/^[0-9]/ { name = $3; sub(/^(raw_)?syscalls:sys_enter_?/, "", name); if (name == "") name = "all"
		   if (m > 0) { printf "  %-12s %7.2f per message\n", name, $1 / m; res = res sprintf(" %s=%.2f", name, $1 / m) } }
	END { printf "RESULT system=relay mode=syscalls label=%s msgs=%d%s\n", l, m, res }' "$work/perf.out"
