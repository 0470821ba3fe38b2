/* SPDX-License-Identifier: MPL-2.0 */
/* A throw-away PostgreSQL 15 cluster for the tests: initdb in a temporary directory, the server
 * listening on a unix socket in that directory and on a free 127.0.0.1 port, trust
 * authentication, data checksums and fsync on (the tests check durability). Tests run as root
 * and PostgreSQL refuses root: the server and its tools then run as the `postgres` system user.
 * A watchdog process kills every server this process started when the process ends, however it
 * ends (a crash or a test timeout included), and removes their directories.
 *
 * Not thread-safe: start, stop and create databases from one thread at a time. */
#ifndef WAKKS_TEST_PG_SERVER_H
#define WAKKS_TEST_PG_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The binaries: WAKKS_PG_BIN if set, else Debian's. */
#define PG_SERVER_BIN_DEFAULT "/usr/lib/postgresql/15/bin"

struct pg_server {
	char dir[200];       /* owned by the server's user: data/, the socket, server.log */
	char data_dir[240];
	char log_path[240];
	int port;            /* on 127.0.0.1 (also the socket's .s.PGSQL.<port>) */
	pid_t pid;           /* the postmaster, a child of this process; 0 when not running */
	bool standby;        /* started from pg_server_start_standby and not promoted */
};

/* initdb and start; waits until the server accepts connections. Returns 0 or -1 (with the
 * server's log on stderr). */
int pg_server_start(struct pg_server *s);

/* Starts again on the same data directory (after pg_server_stop or pg_server_kill, which
 * crash recovery then repairs). Same port when it is still free. Returns 0 or -1. */
int pg_server_restart(struct pg_server *s);

/* Fast shutdown (SIGINT: sessions are ended, a checkpoint is written). Returns 0 or -1. */
int pg_server_stop(struct pg_server *s);

/* The machine dies: the postmaster is frozen, every one of its processes is SIGKILLed, then the
 * postmaster. Nothing is flushed, no client gets a goodbye. */
void pg_server_kill(struct pg_server *s);

/* CPU seconds (user + system) of the server's processes running now: the postmaster and its
 * children (backends, WAL writer, checkpointer, ...). For benchmarks; -1 if unreadable. */
double pg_server_cpu_seconds(const struct pg_server *s);

/* Stops the server if it runs (fast) and removes its directory. */
void pg_server_cleanup(struct pg_server *s);

/* A streaming standby of `primary` (pg_basebackup -R over 127.0.0.1), started, then made the
 * primary's synchronous standby (synchronous_standby_names, reloaded); returns once the primary
 * reports it as `sync`, so a commit acknowledged by the primary from then on is flushed on both.
 * Returns 0 or -1. */
int pg_server_start_standby(struct pg_server *standby, struct pg_server *primary);

/* pg_ctl promote -w: the standby becomes a primary accepting writes (it has no synchronous
 * standby of its own afterwards). Returns 0 or -1. */
int pg_server_promote(struct pg_server *s);

/* libpq connection string for database `db` over TCP on 127.0.0.1 (as the relays connect).
 * Returns 0 or -1 if it does not fit. */
int pg_server_conninfo(const struct pg_server *s, const char *db, char *out, size_t cap);

/* Runs one SQL command on database `db` (NULL: "postgres") of the server. Returns 0 or -1 with
 * the server's message on stderr. */
int pg_server_exec(const struct pg_server *s, const char *db, const char *sql);

/* ---- Databases for tests ----
 * The admin connection string is WAKKS_TEST_PG when set (a server the test may create databases
 * on), else that of a server this process starts on first use and stops at exit. */

/* The admin connection string (database "postgres"), starting the per-process server if needed.
 * NULL if it could not be started. Valid until the process ends. */
const char *pg_test_admin_conninfo(void);

/* The server pg_test_admin_conninfo started for this process, or NULL when WAKKS_TEST_PG names
 * another (or none was started yet): for tests that look at the server's files. */
const struct pg_server *pg_test_server(void);

/* Creates a fresh, uniquely named database and writes its connection string (the admin one with
 * its dbname) into conninfo, and its name into name (name_cap >= 64). Returns 0 or -1. */
int pg_test_create_db(char *conninfo, size_t cap, char *name, size_t name_cap);

/* Drops a database made by pg_test_create_db, ending its sessions (WITH (FORCE)). Returns 0 or
 * -1. */
int pg_test_drop_db(const char *name);

/* The server's deadlock count for the database conninfo names (pg_stat_database), -1 if
 * unreadable. */
long long pg_test_deadlocks(const char *conninfo);

#endif
