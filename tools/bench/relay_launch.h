/* SPDX-License-Identifier: MPL-2.0 */
/* Starts and stops the wakks-relay process a benchmark measures: configuration and data in the
 * benchmark's state directory (kept between runs so registered devices can be reused). */
#ifndef WAKKS_BENCH_RELAY_LAUNCH_H
#define WAKKS_BENCH_RELAY_LAUNCH_H

#include <sys/types.h>

struct relay_launch {
	pid_t pid;
	int port;
	char log_path[512];
	char config_path[512];
};

/* Writes STATE/relay.conf (the benchmark identity provider's tenant, limits for load) and starts
 * `binary --config STATE/relay.conf`, waiting until it listens. Returns 0 or -1. */
int relay_launch_start(struct relay_launch *r, const char *binary, const char *state_dir);
/* SIGTERM and wait; returns the exit status or -1. */
int relay_launch_stop(struct relay_launch *r);

#endif
