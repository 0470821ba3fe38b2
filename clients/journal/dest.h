/* SPDX-License-Identifier: MPL-2.0 */
/* Where journal notes go (spec/journal.md §5): one interface, one small module per destination.
 * handover() is given a complete note in the spool and is called again with the same key (and a
 * higher attempt) until it says DONE or SENT, so a destination must treat a second handover of a
 * key it accepted before as the same note (never a second one). It may block (bounded by its own
 * timeouts): it runs in the journal daemon, never in the relay. */
#ifndef WAKKS_JOURNAL_DEST_H
#define WAKKS_JOURNAL_DEST_H

#include <stdbool.h>
#include <stddef.h>

enum jdest_result {
	JDEST_DONE = 0,     /* accepted and final: the note is journalised */
	JDEST_SENT = 1,     /* handed over; receipts follow (jstore is updated by the receiver) */
	JDEST_RETRY = 2,    /* not accepted this time (reason): try again later */
	JDEST_REJECTED = 3, /* refused for good (reason): parked for an operator */
};

typedef struct jdest jdest;
struct jdest {
	const char *name;
	void *self;
	/* note_dir: SPOOL/KEY; key_hex: the idempotency key; reason: why not accepted (no content).
	 * @return enum jdest_result. */
	int (*handover)(jdest *d, const char *note_dir, const char *key_hex, unsigned attempt,
			char *reason, size_t reason_len);
	void (*close)(jdest *d);
};

/* `directory`: OUT/KEY/ (note.json, note.pdf, documents/), written under .tmp-KEY, fsynced,
 * renamed, the directory fsynced. With by_day, one note per conversation and (local) day,
 * OUT/DAYKEY/, rewritten with each message and swapped in atomically (spec/journal.md §2.2).
 * NULL with err on failure. */
jdest *jdest_directory_new(const char *out_dir, bool by_day, char *err, size_t err_len);

#endif
