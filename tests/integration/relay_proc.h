/* SPDX-License-Identifier: MPL-2.0 */
/* Starts a real wakks-relay process on an ephemeral port with a temporary data directory, and
 * always stops it (also when the test process exits early). */
#ifndef WAKKS_TEST_RELAY_PROC_H
#define WAKKS_TEST_RELAY_PROC_H

#include <stdbool.h>
#include <sys/types.h>

struct relay_proc {
	pid_t pid;
	int port;
	char dir[256];       /* temporary directory: relay.conf, relay.log, data/ */
	char data_dir[300];
	char log_path[300];
	char config_path[300];
};

/* The relay binary: from the WAKKS_RELAY environment variable (set by meson). */
const char *relay_binary(void);

/* Creates a temp directory and a config (port 0, 127.0.0.1, data dir inside it) with
 * `extra_config` appended (sections and keys), then starts the relay (with --dev when dev) and
 * waits until it logs that it listens. Returns 0 or -1 (the log is printed on failure). */
int relay_proc_start(struct relay_proc *p, const char *extra_config, bool dev);

/* Starts again on the same directory and config (after a stop or a kill). The port changes. */
int relay_proc_restart(struct relay_proc *p, bool dev);

/* SIGTERM and wait (up to 10 s, then SIGKILL). Returns the exit status, or -1 if killed. */
int relay_proc_stop(struct relay_proc *p);

/* SIGKILL and reap: a crash. */
void relay_proc_kill(struct relay_proc *p);

/* Removes the temporary directory. */
void relay_proc_cleanup(struct relay_proc *p);

/* Runs the relay binary with args (NULL-terminated) to completion; returns its exit status and
 * its stderr (malloc'd) in *err. */
int relay_run_command(char *const args[], char **err);

/* As relay_run_command, with `input` on stdin and stdout captured into *out (malloc'd). */
int relay_run_command_io(char *const args[], const char *input, char **out, char **err);

/* True if the relay's log contains `needle`. */
bool relay_log_contains(const struct relay_proc *p, const char *needle);

#endif
