/* SPDX-License-Identifier: MPL-2.0 */
/* The journal engine (spec/journal.md): the tenant's journal device on libwakks with deferred
 * acknowledgement, its own store, the spool and one destination. */
#ifndef WAKKS_JOURNAL_H
#define WAKKS_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "dest_sf2900.h"
#include "receipts.h"

struct jconf {
	char relay_url[256];
	char ca_file[512];
	char state_dir[512];     /* device store, journal store, spool, store key */
	char idp[64];            /* the tenant's caseworker provider, for registration */
	char devidp_user[64];    /* development provider only: log in as this user */
	char id_token_file[512]; /* or: an ID token obtained from the provider for this device */
	char destination[16];    /* "directory" or "sf2900" */
	char directory[512];
	char grouping[16];       /* "message" (one note each) or "day" (per conversation and day) */
	char names_file[512];    /* optional: "ACCOUNT-HEX name" per line (caseworkers' names) */
	bool notices;            /* journal status notices into the threads; default true */
	unsigned max_attempts;   /* before a note is parked (dead); default 8 */
	uint64_t retry_base_ms;  /* first back-off; doubles per attempt up to retry_max_ms */
	uint64_t retry_max_ms;
	/* sf2900 */
	struct jsf2900_conf sf;
	struct jreceipts_conf receipts;
	uint64_t receipt_timeout_ms; /* no technical receipt by then: send again (same id) */
};

/* Fills defaults, then reads PATH ("key = value" lines, '#' comments). @return 0 or -1 (printed). */
int jconf_load(const char *path, struct jconf *c);

/* Runs the daemon until SIGTERM/SIGINT. @return process exit status. */
int journal_run(const struct jconf *c);
/* Operator commands on the journal store (may run beside the daemon). */
int journal_list(const struct jconf *c);
int journal_retry(const struct jconf *c, const char *key_hex); /* "all": every parked note */

#endif
