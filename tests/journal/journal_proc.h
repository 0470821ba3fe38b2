/* SPDX-License-Identifier: MPL-2.0 */
/* A wakks-journal process for tests: its config, start, kill -9, stop, and reading its notes. */
#ifndef WAKKS_TEST_JOURNAL_PROC_H
#define WAKKS_TEST_JOURNAL_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct journal_proc {
	pid_t pid;
	char dir[400];       /* state_dir, config and log live here */
	char out[400];       /* the directory destination */
	char config[500];
	char log[500];
	int starts;
};

/* Writes DIR/journal.conf for the relay on port with the directory destination into out;
 * extra (may be NULL) is appended. */
int journal_proc_init(struct journal_proc *j, const char *dir, int port, const char *ca,
		      const char *extra);
/* Starts the daemon and waits (up to timeout_ms) for its "started" line of this start. */
int journal_proc_start(struct journal_proc *j, int timeout_ms);
void journal_proc_kill(struct journal_proc *j);   /* SIGKILL and reap */
int journal_proc_stop(struct journal_proc *j);    /* SIGTERM and wait; exit status */
/* Runs `wakks-journal CMD --config ...` [arg] to completion; stdout into *out (malloc'd). */
int journal_proc_command(struct journal_proc *j, const char *cmd, const char *arg, char **out);
/* The notes in out: count of KEY directories, and the number of .tmp- entries. */
int journal_count_notes(const struct journal_proc *j, int *tmp_entries);

#endif
