#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# The relay side by side with NATS JetStream and mosquitto on this machine, over loopback, in one
# run: the same 1 KiB store-and-forward workload against each (rounds alternate between the
# systems so that all see the same machine load), latency at half of each system's maximum rate,
# idle TLS connections held by the relay and by mosquitto, and one table with every figure and
# the ratio relay/peer. The peers are measured over TLS, as the relay always is (one self-signed
# EC P-256 certificate, the type of the relay's development certificate, verified by the
# clients); their plain-TCP figures follow as extra columns only. Every run is bounded in time;
# every server is started here and stopped.
#
# usage: tools/bench/compare.sh BUILD_DIR      (a release build with the peers' clients:
#                                               scripts/bench.sh prepares one)
# Environment (defaults in brackets):
#   BENCH_PAIRS [32]  BENCH_WINDOW [16]  BENCH_DURATION [10]  BENCH_WARMUP [2]  BENCH_ROUNDS [3]
#   BENCH_IDLE [19000] idle connections (capped by the file limit)   BENCH_THREADS [1]
#   BENCH_STATE [$TMPDIR/wakks-bench] registered benchmark devices, kept between runs
set -eu

BUILD=${1:?usage: compare.sh BUILD_DIR}
PAIRS=${BENCH_PAIRS:-32}
WINDOW=${BENCH_WINDOW:-16}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
ROUNDS=${BENCH_ROUNDS:-3}
IDLE=${BENCH_IDLE:-19000}
THREADS=${BENCH_THREADS:-1}
STATE=${BENCH_STATE:-${TMPDIR:-/tmp}/wakks-bench}

RELAY=$BUILD/server/wakks-relay
LOADGEN=$BUILD/tools/bench/loadgen
NATS_BENCH=$BUILD/tools/bench/nats_bench
MQTT_BENCH=$BUILD/tools/bench/mqtt_bench
for f in "$RELAY" "$LOADGEN"; do
	[ -x "$f" ] || { echo "compare: $f is missing (build first)" >&2; exit 2; }
done
HAVE_NATS=1
HAVE_MQTT=1
if ! command -v nats-server >/dev/null 2>&1 || [ ! -x "$NATS_BENCH" ]; then
	HAVE_NATS=0
	echo "compare: nats-server or the libnats client is missing: NATS is left out" >&2
fi
if ! command -v mosquitto >/dev/null 2>&1 || [ ! -x "$MQTT_BENCH" ]; then
	HAVE_MQTT=0
	echo "compare: mosquitto or the libmosquitto client is missing: mosquitto is left out" >&2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/wakks-compare-XXXXXX")
RESULTS=$WORK/results
: >"$RESULTS"
SERVER_PID=""
cleanup() {
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

HARD_NOFILE=$(ulimit -Hn)
[ "$HARD_NOFILE" = unlimited ] && HARD_NOFILE=1048576

# Waits (at most 10 s) until the log file $1 contains $2.
wait_for() {
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 200 ]; then
			echo "compare: server did not start; its log:" >&2
			cat "$1" >&2
			exit 1
		fi
		sleep 0.05
	done
}

stop_server() {
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=""
	fi
}

# The peers' certificate: self-signed EC P-256 like the relay's development certificate, valid for
# the loopback address the clients connect to, so that they verify it (with it as their CA).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$WORK/key.pem" \
	-out "$WORK/cert.pem" 2>/dev/null

# NATS with JetStream, file storage in a fresh directory; $1 = tls: the client port requires TLS.
start_nats() {
	rm -rf "$WORK/nats"
	mkdir -p "$WORK/nats"
	tls_block=""
	if [ "${1:-}" = tls ]; then
		tls_block="tls { cert_file: \"$WORK/cert.pem\", key_file: \"$WORK/key.pem\" }"
	fi
	cat >"$WORK/nats/nats.conf" <<-EOF
	listen: 127.0.0.1:14222
	$tls_block
	jetstream {
	  store_dir: "$WORK/nats/js"
	}
	EOF
	(ulimit -n "$HARD_NOFILE"; exec nats-server -c "$WORK/nats/nats.conf") >"$WORK/nats/log" 2>&1 &
	SERVER_PID=$!
	wait_for "$WORK/nats/log" "Server is ready"
}

# mosquitto with persistence on, a plain (11883) and a TLS listener (18883).
start_mosquitto() {
	rm -rf "$WORK/mqtt"
	mkdir -p "$WORK/mqtt"
	cat >"$WORK/mqtt/mosquitto.conf" <<-EOF
	user $(id -un)
	per_listener_settings false
	allow_anonymous true
	persistence true
	persistence_location $WORK/mqtt/
	max_inflight_messages 0
	max_queued_messages 1000000
	set_tcp_nodelay true
	listener 11883 127.0.0.1
	listener 18883 127.0.0.1
	certfile $WORK/cert.pem
	keyfile $WORK/key.pem
	EOF
	(ulimit -n "$HARD_NOFILE"; exec mosquitto -c "$WORK/mqtt/mosquitto.conf") >"$WORK/mqtt/log" 2>&1 &
	SERVER_PID=$!
	wait_for "$WORK/mqtt/log" "running"
}

# Runs a benchmark program, shows its output, keeps its RESULT line tagged with $1.
record() {
	tag=$1
	shift
	out=$WORK/out
	if "$@" >"$out" 2>"$WORK/err"; then :; else
		echo "compare: $tag failed:" >&2
		cat "$WORK/err" >&2
	fi
	grep -v '^RESULT' "$out" || true
	grep '^RESULT' "$out" | sed "s/^RESULT/RESULT tag=$tag/" >>"$RESULTS" || true
}

run_relay() { # $1 tag, then extra loadgen arguments
	tag=$1
	shift
	record "$tag" "$LOADGEN" --relay "$RELAY" --state "$STATE" --pairs "$PAIRS" --window "$WINDOW" \
		--duration "$DURATION" --warmup "$WARMUP" --threads "$THREADS" "$@"
}

# run_nats TAG tls|tcp [nats_bench arguments]
run_nats() {
	tag=$1
	transport=$2
	shift 2
	if [ "$transport" = tls ]; then
		set -- --cafile "$WORK/cert.pem" "$@"
		url=tls://127.0.0.1:14222
	else
		url=nats://127.0.0.1:14222
	fi
	start_nats "$transport"
	record "$tag" "$NATS_BENCH" --url "$url" --pid "$SERVER_PID" --pairs "$PAIRS" \
		--window "$WINDOW" --duration "$DURATION" --warmup "$WARMUP" "$@"
	stop_server
}

# run_mqtt TAG tls|tcp [mqtt_bench arguments]
run_mqtt() {
	tag=$1
	transport=$2
	shift 2
	if [ "$transport" = tls ]; then
		set -- --port 18883 --cafile "$WORK/cert.pem" "$@"
	else
		set -- --port 11883 "$@"
	fi
	start_mosquitto
	record "$tag" "$MQTT_BENCH" --pid "$SERVER_PID" --pairs "$PAIRS" \
		--window "$WINDOW" --duration "$DURATION" --warmup "$WARMUP" "$@"
	stop_server
}

# Field $2 of the RESULT lines tagged $1 (one per line).
field() {
	grep " tag=$1 " "$RESULTS" | tr ' ' '\n' | sed -n "s/^$2=//p"
}
# Median of the numbers on standard input.
median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "== machine"
echo "nproc: $(nproc); CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1);" \
	"kernel: $(uname -r); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
probe=$(dd if=/dev/zero of="$WORK/sync-probe" bs=4k count=200 oflag=dsync 2>&1 |
	sed -n 's/.* copied, \([0-9.]*\) s.*/\1/p')
rm -f "$WORK/sync-probe"
echo "synchronous 4 KiB write (dd oflag=dsync) in $(dirname "$WORK"): $(awk -v t="${probe:-0}" 'BEGIN { printf "%.2f", t * 1000 / 200 }') ms each"
echo "relay: $("$RELAY" --version 2>/dev/null | head -1 || true)"
[ $HAVE_NATS = 1 ] && echo "nats-server: $(nats-server --version 2>&1 | head -1)"
[ $HAVE_MQTT = 1 ] && echo "mosquitto: $(mosquitto -h 2>&1 | head -1)"
echo "workload: $PAIRS pairs, window $WINDOW, 1024-byte payloads, $DURATION s measured after $WARMUP s, $ROUNDS rounds"

# Registers the devices once (kept in $STATE for later runs) so that rounds measure only traffic.
"$LOADGEN" --relay "$RELAY" --state "$STATE" --register $((2 * PAIRS)) | grep -v '^RESULT' || true

r=1
while [ $r -le "$ROUNDS" ]; do
	echo "== round $r: maximum rate"
	run_relay relay-max
	[ $HAVE_NATS = 1 ] && run_nats nats-max tls
	[ $HAVE_MQTT = 1 ] && run_mqtt mqtt-max tls
	[ $HAVE_NATS = 1 ] && run_nats nats-tcp-max tcp
	[ $HAVE_MQTT = 1 ] && run_mqtt mqtt-tcp-max tcp
	r=$((r + 1))
done

echo "== latency at half of each system's median maximum rate"
half() { field "$1" msgs_per_s | median | awk '{ printf "%d", $1 / 2 }'; }
RELAY_HALF=$(half relay-max)
run_relay relay-half --rate "$RELAY_HALF"
if [ $HAVE_NATS = 1 ]; then
	NATS_HALF=$(half nats-max); run_nats nats-half tls --rate "$NATS_HALF"
	NATS_TCP_HALF=$(half nats-tcp-max); run_nats nats-tcp-half tcp --rate "$NATS_TCP_HALF"
fi
if [ $HAVE_MQTT = 1 ]; then
	MQTT_HALF=$(half mqtt-max); run_mqtt mqtt-half tls --rate "$MQTT_HALF"
	MQTT_TCP_HALF=$(half mqtt-tcp-max); run_mqtt mqtt-tcp-half tcp --rate "$MQTT_TCP_HALF"
fi

echo "== idle connections"
"$LOADGEN" --relay "$RELAY" --state "$STATE" --register "$IDLE" | grep -v '^RESULT' || true
record relay-idle "$LOADGEN" --relay "$RELAY" --state "$STATE" --idle "$IDLE" --hold 5
if [ $HAVE_MQTT = 1 ]; then
	start_mosquitto
	record mqtt-idle "$MQTT_BENCH" --port 18883 --pid "$SERVER_PID" --idle "$IDLE" --hold 5
	stop_server
fi

# ---- the table --------------------------------------------------------------------------------
m() { field "$1" "$2" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
ms() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else printf "%.2f", v / 1000 }'; }
mib() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else printf "%.1f", v / 1024 }'; }
num() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else printf "%.0f", v }'; }
one() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else printf "%.1f", v }'; }

# A row: label, a formatter, the field, then the target and whether the relay met it. Peers'
# columns: over TLS (ratios are to these), then plain TCP for information.
row() { # label fmt field target met
	f=$2
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" \
		"$($f "$(m "relay-$3" "$4")")" "$($f "$(m "nats-$3" "$4")")" "$($f "$(m "mqtt-$3" "$4")")" \
		"$(ratio "$(m "relay-$3" "$4")" "$(m "nats-$3" "$4")")" \
		"$(ratio "$(m "relay-$3" "$4")" "$(m "mqtt-$3" "$4")")" \
		"$($f "$(m "nats-tcp-$3" "$4")")" "$($f "$(m "mqtt-tcp-$3" "$4")")" "$5" "$6"
}
# yes/no for "$1 $2 $3" evaluated by awk (a "-" operand: not measured).
met() { awk -v a="$1" -v b="$3" "BEGIN { if (a == \"-\" || b == \"-\") print \"-\"; else print (a $2 b) ? \"met\" : \"**missed**\" }"; }

R_MAX=$(m relay-max msgs_per_s); N_MAX=$(m nats-max msgs_per_s); Q_MAX=$(m mqtt-max msgs_per_s)
both() { a=$(met "$1" ">=" "$(awk -v v="$2" 'BEGIN { if (v == "-") print "-"; else print 3 * v }')")
	b=$(met "$1" ">=" "$(awk -v v="$3" 'BEGIN { if (v == "-") print "-"; else print 1.5 * v }')")
	echo "3x NATS: $a; 1.5x mosquitto: $b"; }
echo
echo "== results (median of $ROUNDS rounds; peers over TLS, ratio = relay / peer over TLS;"
echo "   the peers' plain-TCP figures for information only)"
echo
echo "| figure | relay | NATS JetStream TLS | mosquitto QoS 1 TLS | relay/NATS | relay/mosquitto | NATS plain TCP | mosquitto plain TCP | target | relay |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"
row "full cycle, msg/s (flat out)" num max msgs_per_s ">= 3x NATS, >= 1.5x mosquitto" "$(both "$R_MAX" "$N_MAX" "$Q_MAX")"
row "send->deliver p50, ms (flat out)" ms max p50_us "" ""
row "send->deliver p99, ms (flat out)" ms max p99_us "" ""
row "rate asked for the half-rate run, msg/s" num half msgs_per_s "" ""
row "send->deliver p50 at half rate, ms" ms half p50_us "" ""
row "send->deliver p99 at half rate, ms" ms half p99_us "< 5" "$(met "$(m relay-half p99_us)" "<" 5000)"
row "server CPU per message, us (flat out)" one max cpu_us_per_msg "<= 15" "$(met "$(m relay-max cpu_us_per_msg)" "<=" 15)"
row "server threads waiting for a CPU, s/s (flat out)" one max cpu_wait "" ""
row "disk writeback per message (write_bytes), KiB (flat out)" one max disk_kib_per_msg "<= 4" "$(met "$(m relay-max disk_kib_per_msg)" "<=" 4)"
row "server peak RSS, MiB (flat out)" mib max hwm_kib "" ""
row "idle TLS connections held" num idle connections "$IDLE" "$(met "$(m relay-idle connections)" ">=" "$IDLE")"
row "RSS per idle TLS connection, KiB" one idle kib_per_conn "<= 15" "$(met "$(m relay-idle kib_per_conn)" "<=" 15)"
echo
echo "Durability when the sender is told its message is stored:"
echo "- relay: \`stored\` only after the LMDB commit holding the envelope returned from fsync (fdatasync);"
echo "  the ack's \`ok\` only after the deletion is committed the same way."
echo "- NATS JetStream (file storage): the publish ack follows the write to the stream's file, which the"
echo "  server syncs to disk only every sync_interval (2 minutes by default; this nats-server version"
echo "  offers no per-write sync): an operating-system crash can lose acknowledged messages. The consumer's"
echo "  ack is sent without waiting for confirmation."
echo "- mosquitto (persistence on): PUBACK once the message is in memory; the in-memory database is saved"
echo "  to disk every autosave_interval (1800 s by default) and at exit: a crash loses acknowledged messages."
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
