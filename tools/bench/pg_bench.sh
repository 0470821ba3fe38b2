#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
# The PostgreSQL engine under the load generator (docs/benchmarks.md, "Relay on PostgreSQL"): the
# same durable full-cycle throughput run as for LMDB, with 1 relay and with 3 relays on one
# database (device i on relay i mod 3, so every message crosses relays through the database's
# notifications). The PostgreSQL 15 server is the tests' throw-away one (tests/support/pg_server.c:
# initdb --data-checksums in a temporary directory, fsync and synchronous_commit on, no standby),
# started and removed by the load generator itself; each configuration starts from an empty
# state directory and database. Not part of `make test`.
#
#   tools/bench/pg_bench.sh [BUILD_DIR]     (default build-bench: a release build, made if missing)
#
# PG_BENCH_PAIRS, PG_BENCH_WINDOW, PG_BENCH_DURATION, PG_BENCH_WARMUP, PG_BENCH_RELAYS ("1 3")
# change the shape; the defaults are the LMDB table's (32 pairs x window 16, 10 s after 2 s).
set -eu
cd "$(dirname "$0")/../.."
BUILD=${1:-build-bench}
PAIRS=${PG_BENCH_PAIRS:-32}
WINDOW=${PG_BENCH_WINDOW:-16}
DURATION=${PG_BENCH_DURATION:-10}
WARMUP=${PG_BENCH_WARMUP:-2}
RELAYS=${PG_BENCH_RELAYS:-1 3}

WAKKS_EXTRA_PACKAGES=postgresql-15 ./scripts/deps.sh
if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" --buildtype=release -Dtest_hooks=false >/dev/null
fi
ninja -C "$BUILD" server/wakks-relay tools/bench/loadgen >/dev/null

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
for n in $RELAYS; do
	state=$(mktemp -d "${TMPDIR:-/tmp}/wakks-pg-bench-XXXXXX")
	echo "== $n relay(s): loadgen --pairs $PAIRS --window $WINDOW --duration $DURATION --warmup $WARMUP --relays $n"
	WAKKS_TEST_ENGINE=postgresql "$BUILD/tools/bench/loadgen" --relay "$BUILD/server/wakks-relay" \
		--state "$state" --pairs "$PAIRS" --window "$WINDOW" --duration "$DURATION" \
		--warmup "$WARMUP" --relays "$n" || echo "loadgen failed with $n relay(s)"
	rm -rf "$state"
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
