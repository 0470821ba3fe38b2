/* SPDX-License-Identifier: MPL-2.0 */
/* Starts a real wakks-relay process on an ephemeral port and always stops it (also when the
 * calling process exits early). The integration tests start it in a fresh temporary directory;
 * the benchmarks in their state directory, kept between runs so registered devices are reused.
 *
 * With WAKKS_TEST_ENGINE=postgresql in the environment every relay prepared here stores in
 * PostgreSQL: a fresh database (tests/support/pg_server.h: on WAKKS_TEST_PG's server, else on
 * one this process starts on first use and stops at exit), configured as [storage] engine and
 * conninfo after the caller's extra config. Preparing again on a caller's directory that holds
 * such a relay.conf reuses its database: the same directory is the same data. */
#ifndef WAKKS_TEST_RELAY_PROC_H
#define WAKKS_TEST_RELAY_PROC_H

#include <stdbool.h>
#include <sys/types.h>

struct relay_proc {
	pid_t pid;
	int port;
	int admin_port;      /* the monitoring listener (admin_listen = 127.0.0.1:0 unless overridden) */
	char dir[256];       /* relay.conf, relay.log and the data directory */
	char data_dir[300];
	char log_path[300];
	char config_path[300];
	const char *binary;  /* the relay binary (the caller's string) */
	bool keep_dir;       /* the caller's directory: relay_proc_cleanup leaves it */
	int stop_wait_ms;    /* how long relay_proc_stop waits before SIGKILL */
	char pg_db[64];      /* the PostgreSQL database (WAKKS_TEST_ENGINE=postgresql), else "" */
	char pg_conninfo[600];
};

/* How relay_proc_start_opts starts the relay; every field may be 0/NULL. */
struct relay_proc_opts {
	const char *binary;       /* NULL: relay_binary() */
	const char *dir;          /* NULL: a new temporary directory, removed by relay_proc_cleanup */
	const char *data_subdir;  /* inside dir; NULL: "data" */
	const char *log_level;    /* NULL: "debug" */
	const char *extra_config; /* appended to the config (sections and keys) */
	bool dev;                 /* pass --dev */
	int stop_wait_ms;         /* 0: 10 s */
	int port;                 /* 0: an ephemeral port */
	/* Without --dev the relay needs tls_cert and tls_key: a test certificate is written into dir
	 * and configured, unless this asks for a relay without one. */
	bool no_tls_cert;
	/* With WAKKS_TEST_ENGINE=postgresql: this connection string instead of a fresh database
	 * (relays sharing one database, a multi-host string for fail-over). */
	const char *pg_conninfo;
};

/* True when WAKKS_TEST_ENGINE=postgresql: the relays store in PostgreSQL. Tests about LMDB's
 * files skip those parts then. */
bool relay_test_engine_pg(void);

/* The relay binary: from the WAKKS_RELAY environment variable (set by meson). */
const char *relay_binary(void);

/* Writes DIR/relay.conf (port 0, 127.0.0.1, the data directory inside DIR, the options' extra
 * config appended), starts the relay with its log in DIR/relay.log and waits until it logs that it
 * listens. Returns 0 or -1 (the log is printed on failure). */
int relay_proc_start_opts(struct relay_proc *p, const struct relay_proc_opts *o);

/* The first half of relay_proc_start_opts: the directory and DIR/relay.conf, nothing started.
 * Returns 0 or -1. */
int relay_proc_prepare(struct relay_proc *p, const struct relay_proc_opts *o);

/* Runs the relay on a prepared (or stopped) directory and waits up to timeout_ms for it to exit,
 * its log appended to DIR/relay.log. Returns its exit status, 128 + the signal if a signal ended
 * it, or -1 if it still ran (it is killed then). For starts that must fail. */
int relay_proc_run_to_exit(struct relay_proc *p, bool dev, int timeout_ms);

/* DIR/relay.log, malloc'd (NULL if unreadable). */
char *relay_proc_log(const struct relay_proc *p);

/* relay_proc_start_opts in a new temporary directory with `extra_config`, --dev when dev. */
int relay_proc_start(struct relay_proc *p, const char *extra_config, bool dev);

/* Starts again on the same directory and config (after a stop or a kill). The port changes. */
int relay_proc_restart(struct relay_proc *p, bool dev);

/* SIGTERM and wait (stop_wait_ms, then SIGKILL). Returns the exit status, or -1 if killed. */
int relay_proc_stop(struct relay_proc *p);

/* SIGKILL and reap: a crash. */
void relay_proc_kill(struct relay_proc *p);

/* Stops the relay if it runs and removes the temporary directory (not a caller's one). */
void relay_proc_cleanup(struct relay_proc *p);

/* Runs the relay binary with args (NULL-terminated) to completion; returns its exit status and
 * its stderr (malloc'd) in *err. */
int relay_run_command(char *const args[], char **err);

/* As relay_run_command, with `input` on stdin and stdout captured into *out (malloc'd). */
int relay_run_command_io(char *const args[], const char *input, char **out, char **err);

/* GET path from the monitoring listener on 127.0.0.1:port (plain HTTP). Writes the status and a
 * malloc'd NUL-terminated body. Returns 0 or -1. */
int admin_get(int port, const char *path, int *status, char **body);

/* True if the relay's log contains `needle`. */
bool relay_log_contains(const struct relay_proc *p, const char *needle);

#endif
