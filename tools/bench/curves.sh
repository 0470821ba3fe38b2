#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# The relay's figures as curves rather than points: runs tools/bench/loadgen across ranges and
# draws SVG plots with gnuplot into docs/benchmarks/ (the data next to them, one .dat per plot,
# each point with the load average when it was measured: the machine may be shared).
#
#   devices    full-cycle throughput and send->deliver p99 against connected devices
#              (32 active pairs plus idle authenticated devices)
#   backlog    throughput against envelopes waiting in the mailboxes of offline devices
#   fanout     throughput and relay CPU per message against recipient devices per send
#   memory     relay RSS against idle authenticated TLS connections
#   writeback  disk writeback per message against the size of the relay's group commits
#              (varied through the messages in flight)
#
# usage: tools/bench/curves.sh BUILD_DIR [CURVE...]   (a release build: scripts/bench.sh makes
#                                                      one; all curves when none is named)
# Environment (defaults in brackets): BENCH_DURATION [3] and BENCH_WARMUP [1] per point,
#   BENCH_STATE [$TMPDIR/wakks-bench] registered devices kept between runs,
#   CURVE_DEVICES ["0 1000 5000 10000 18900"] idle devices beside the 64 active ones,
#   CURVE_BACKLOG ["0 10000 100000 300000 1000000"], CURVE_FANOUT ["1 5 20 32"],
#   CURVE_MEMORY ["1000 5000 10000 19000"], CURVE_INFLIGHT ["1x1 4x2 8x4 16x8 32x16 32x64"]
#   (pairs x window), CURVE_OUT [docs/benchmarks], CURVE_PLOT_ONLY [unset] set: only redraw the
#   plots from the .dat files already there.
# Benchmarks print figures and never fail; nothing here runs in `make test`.
set -eu

BUILD=${1:?usage: curves.sh BUILD_DIR [devices|backlog|fanout|memory|writeback ...]}
shift
CURVES=${*:-devices backlog fanout memory writeback}
DURATION=${BENCH_DURATION:-3}
WARMUP=${BENCH_WARMUP:-1}
STATE=${BENCH_STATE:-${TMPDIR:-/tmp}/wakks-bench}
OUT=${CURVE_OUT:-docs/benchmarks}
RELAY=$BUILD/server/wakks-relay
LOADGEN=$BUILD/tools/bench/loadgen

WAKKS_EXTRA_PACKAGES="gnuplot-nox" ./scripts/deps.sh
for f in "$RELAY" "$LOADGEN"; do
	[ -x "$f" ] || { echo "curves: $f is missing (build first)" >&2; exit 2; }
done
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wakks-curves-XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM

loadavg() { cut -d' ' -f1 /proc/loadavg; }

# Runs loadgen with the arguments given, shows its output; the RESULT line's fields in $WORK/r.
point() {
	"$LOADGEN" --relay "$RELAY" --state "$STATE" --duration "$DURATION" --warmup "$WARMUP" "$@" \
		>"$WORK/out" 2>"$WORK/err" || { echo "curves: loadgen $* failed:" >&2; cat "$WORK/err" >&2; }
	grep -v '^RESULT' "$WORK/out" || true
	grep '^RESULT' "$WORK/out" | tail -1 | tr ' ' '\n' >"$WORK/r" || : >"$WORK/r"
}
# Field $1 of the last RESULT, or NaN (gnuplot skips it) when the point failed.
f() { v=$(sed -n "s/^$1=//p" "$WORK/r"); echo "${v:-NaN}"; }

header() { # file, column names
	{
		echo "# $(date -u +%Y-%m-%dT%H:%MZ); $(nproc) cores; $("$RELAY" --version 2>/dev/null | head -1);"
		echo "# loadgen --duration $DURATION --warmup $WARMUP; load = 1-minute load average at the point's end"
		echo "# $2"
	} >"$1"
}

plot() { # name, title, gnuplot commands
	gnuplot <<-EOF
	set terminal svg size 720,420 dynamic font "sans,12" background "white" noenhanced
	set output "$OUT/$1.svg"
	set title "$2"
	set grid
	set key below
	$3
	EOF
	echo "curves: $OUT/$1.svg"
}

# Devices up to the largest point, registered once (kept in $STATE).
max_of() { tr ' ' '\n' | sort -g | tail -1; }
[ -n "${CURVE_PLOT_ONLY:-}" ] && need=0 || need=$((64 + $(echo "${CURVE_DEVICES:-0 1000 5000 10000 18900}" | max_of)))
m=$(echo "${CURVE_MEMORY:-1000 5000 10000 19000}" | max_of)
[ -z "${CURVE_PLOT_ONLY:-}" ] && [ "$m" -gt "$need" ] && need=$m
[ "$need" -gt 0 ] && "$LOADGEN" --relay "$RELAY" --state "$STATE" --register "$need" | grep -v '^RESULT' || true

for curve in $CURVES; do
	echo "== $curve (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	case $curve in
	devices)
		d=$OUT/devices.dat
		if [ -z "${CURVE_PLOT_ONLY:-}" ]; then
			header "$d" "connected_devices msgs_per_s p50_ms p99_ms cpu_us_per_msg rss_mib load"
			for b in ${CURVE_DEVICES:-0 1000 5000 10000 18900}; do
				point --pairs 32 --window 16 --background "$b"
				echo "$((64 + b)) $(f msgs_per_s) $(awk -v v="$(f p50_us)" 'BEGIN{print v/1000}') $(awk -v v="$(f p99_us)" 'BEGIN{print v/1000}') $(f cpu_us_per_msg) $(awk -v v="$(f rss_kib)" 'BEGIN{print v/1024}') $(loadavg)" >>"$d"
			done
		fi
		plot devices "Full cycle against connected devices (32 pairs active, the rest idle)" "
		set xlabel 'connected, authenticated devices'
		set ylabel 'full cycle, msg/s'; set yrange [0:*]
		set y2label 'send->deliver p99, ms'; set y2range [0:*]; set y2tics; set ytics nomirror
		plot '$d' using 1:2 with linespoints title 'msg/s', '' using 1:4 axes x1y2 with linespoints title 'p99 ms'"
		;;
	backlog)
		d=$OUT/backlog.dat
		if [ -z "${CURVE_PLOT_ONLY:-}" ]; then
			header "$d" "backlog_envelopes msgs_per_s p99_ms cpu_us_per_msg disk_kib_per_msg rss_mib load"
			for n in ${CURVE_BACKLOG:-0 10000 100000 300000 1000000}; do
				point --pairs 32 --window 16 --backlog "$n"
				echo "$n $(f msgs_per_s) $(awk -v v="$(f p99_us)" 'BEGIN{print v/1000}') $(f cpu_us_per_msg) $(f disk_kib_per_msg) $(awk -v v="$(f rss_kib)" 'BEGIN{print v/1024}') $(loadavg)" >>"$d"
			done
		fi
		plot backlog "Full cycle against envelopes waiting for offline devices" "
		set xlabel 'envelopes waiting in mailboxes of offline devices'
		set ylabel 'full cycle, msg/s'; set yrange [0:*]
		set y2label 'relay CPU per message, us'; set y2range [0:*]; set y2tics; set ytics nomirror
		plot '$d' using 1:2 with linespoints title 'msg/s', '' using 1:4 axes x1y2 with linespoints title 'CPU us/msg'"
		;;
	fanout)
		d=$OUT/fanout.dat
		if [ -z "${CURVE_PLOT_ONLY:-}" ]; then
			header "$d" "fanout sends_per_s envelopes_per_s cpu_us_per_send cpu_us_per_envelope p99_ms load"
			for n in ${CURVE_FANOUT:-1 5 20 32}; do
				point --pairs 8 --window 16 --fanout "$n"
				echo "$n $(f msgs_per_s) $(f envelopes_per_s) $(f cpu_us_per_msg) $(f cpu_us_per_env) $(awk -v v="$(f p99_us)" 'BEGIN{print v/1000}') $(loadavg)" >>"$d"
			done
		fi
		plot fanout "Full cycle against recipient devices per send (8 senders)" "
		set xlabel 'recipient devices per send (one account each)'
		set ylabel 'per second'; set yrange [0:*]; set logscale x 2
		set y2label 'relay CPU, us'; set y2range [0:*]; set y2tics; set ytics nomirror
		set y2label 'relay CPU per envelope, us (per send: F times this)'
		plot '$d' using 1:3 with linespoints title 'envelopes/s', '' using 1:2 with linespoints title 'sends/s', \
		     '' using 1:5 axes x1y2 with linespoints title 'CPU us/envelope'"
		;;
	memory)
		d=$OUT/memory.dat
		if [ -z "${CURVE_PLOT_ONLY:-}" ]; then
			header "$d" "idle_connections rss_mib kib_per_conn anon_kib_per_conn load"
			for n in ${CURVE_MEMORY:-1000 5000 10000 19000}; do
				"$LOADGEN" --relay "$RELAY" --state "$STATE" --idle "$n" --hold 2 >"$WORK/out" 2>"$WORK/err" ||
					{ echo "curves: idle $n failed:" >&2; cat "$WORK/err" >&2; }
				grep -v '^RESULT' "$WORK/out" || true
				grep '^RESULT' "$WORK/out" | tail -1 | tr ' ' '\n' >"$WORK/r" || : >"$WORK/r"
				echo "$(f connections) $(awk -v v="$(f rss_kib)" 'BEGIN{print v/1024}') $(f kib_per_conn) $(f anon_kib_per_conn) $(loadavg)" >>"$d"
			done
		fi
		plot memory "Relay memory against idle authenticated TLS WebSocket connections" "
		set xlabel 'idle connections'
		set ylabel 'relay RSS, MiB'; set yrange [0:*]
		set y2label 'RSS growth per connection, KiB'; set y2range [0:*]; set y2tics; set ytics nomirror
		plot '$d' using 1:2 with linespoints title 'RSS MiB', '' using 1:3 axes x1y2 with linespoints title 'KiB/connection'"
		;;
	writeback)
		d=$OUT/writeback.dat
		if [ -z "${CURVE_PLOT_ONLY:-}" ]; then
			header "$d" "pairs window requests_per_commit disk_kib_per_msg msgs_per_s cpu_us_per_msg commits_per_s load"
			for pw in ${CURVE_INFLIGHT:-1x1 4x2 8x4 16x8 32x16 32x64}; do
				p=${pw%x*}; w=${pw#*x}
				point --pairs "$p" --window "$w"
				echo "$p $w $(f requests_per_commit) $(f disk_kib_per_msg) $(f msgs_per_s) $(f cpu_us_per_msg) $(f commits_per_s) $(loadavg)" >>"$d"
			done
		fi
		plot writeback "Disk writeback per message against group-commit size" "
		set xlabel 'write requests per group commit (a message is a send and an ack)'
		set logscale x 2; set logscale y 2
		set ylabel 'written back per 1 KiB message, KiB (write_bytes)'; set yrange [2:*]
		plot '$d' using 3:4 with linespoints title 'KiB per message', 4 with lines dashtype 2 title 'target 4 KiB'"
		;;
	*)
		echo "curves: unknown curve $curve" >&2
		exit 2
		;;
	esac
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
