/* SPDX-License-Identifier: MPL-2.0 */
/* The data directory at start-up: created 0700 or checked, locked against a second relay, and its
 * database-id marker. Also the one line a failed start ends with, and the exit statuses
 * (docs/operations.md, "Start-up errors"). */
#ifndef WAKKS_RELAY_CORE_DATA_DIR_H
#define WAKKS_RELAY_CORE_DATA_DIR_H

#include <stdint.h>

enum relay_exit {
	RELAY_EXIT_RUNTIME = 1, /* a failure not in the classes below */
	RELAY_EXIT_CONFIG = 2,  /* command line, configuration, data directory set-up, certificate */
	RELAY_EXIT_DATA = 3,    /* the data directory's contents are damaged, missing or not its own */
	RELAY_EXIT_IN_USE = 4,  /* another process holds the data directory or the port */
};

#define RELAY_DB_ID_BYTES 16

/* Logs `event=start_failed exit=STATUS problem="..." action="..."` and returns status. */
int relay_start_failed(int status, const char *action, const char *problem_fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Creates dir (0700) when it does not exist, refuses one that is no directory or is open to group
 * or others (a warning instead with permissions RELAY_PERMISSIONS_WARN), takes an exclusive
 * flock on it and writes DIR/relay.pid. *lock_fd holds the lock for the life of the process.
 * Returns 0, or the exit status after relay_start_failed. */
int relay_data_dir_open(const char *dir, int permissions, int *lock_fd);

/* A secret file inside the data directory (database, account-id key, development key): refused
 * or warned about like the directory when group or others may access it. A missing file passes.
 * Returns 0 or the exit status after relay_start_failed. */
int relay_data_dir_check_secret(const char *path, int permissions);

/* DIR/database-id: the id of the database this directory holds (spec/storage.md §2a).
 * Returns 0 and id, 1 if there is no marker, or the exit status after relay_start_failed. */
int relay_data_dir_read_marker(const char *dir, uint8_t id[RELAY_DB_ID_BYTES]);

/* Writes DIR/database-id (0600) through a temporary file, fsynced with its directory.
 * Returns 0 or the exit status after relay_start_failed. */
int relay_data_dir_write_marker(const char *dir, const uint8_t id[RELAY_DB_ID_BYTES]);

#endif
