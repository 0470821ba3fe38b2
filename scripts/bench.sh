#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
# `make bench`: the benchmark programs, and the relay side by side with NATS JetStream and
# mosquitto (tools/bench/compare.sh). Installs the peers and their C client libraries, builds a
# release configuration next to BUILD_DIR (figures from a debug build would mislead), then runs
# the comparison. Nothing here runs in `make test`.
set -eu

BUILD=${1:-build}
BENCH_BUILD=${BENCH_BUILD:-$BUILD-bench}

WAKKS_EXTRA_PACKAGES="nats-server mosquitto libnats-dev libmosquitto-dev" ./scripts/deps.sh
if [ -f "$BENCH_BUILD/build.ninja" ]; then
	# Reconfigure so that client libraries installed since the last setup are found.
	meson setup --reconfigure "$BENCH_BUILD" >/dev/null
else
	meson setup "$BENCH_BUILD" --buildtype=release -Dtest_hooks=false >/dev/null
fi
ninja -C "$BENCH_BUILD" server/wakks-relay tools/bench/loadgen tools/bench/nats_bench \
	tools/bench/mqtt_bench >/dev/null
exec ./tools/bench/compare.sh "$BENCH_BUILD"
