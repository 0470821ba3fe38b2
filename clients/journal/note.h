/* SPDX-License-Identifier: MPL-2.0 */
/* A journal note (spec/journal.md §2) rendered into the spool: NOTE_DIR/note.json, note.pdf and
 * documents/ with the attachment, byte for byte. The spool directory is built under a temporary
 * name and renamed into place, so it exists whole or not at all. */
#ifndef WAKKS_JOURNAL_NOTE_H
#define WAKKS_JOURNAL_NOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wakks.h"

struct jnote {
	char key_hex[65];
	const wakks_message *m;
	bool from_citizen;        /* the sender is the thread's citizen */
	bool citizen_known;       /* citizen below is the thread's citizen account */
	uint8_t citizen[16];
	const char *sender_name;  /* a caseworker's name from the operator's directory, or NULL */
	/* The citizen's verified identity: until identity presentations are verified, NULL (the
	 * note then says "unverified" and names the citizen by account only). */
	const char *citizen_cpr;
	const char *citizen_name;
	const char *identity_reason; /* unverified: why (spec/client.md §15 reasons), else NULL */
};

/* Renders note n as SPOOL/KEY_HEX (replacing a partial one left by a crash). @return 0, or -1
 * with a reason in err (no content in it). */
int jnote_spool(const char *spool, const struct jnote *n, uint64_t now_ms, char *err,
		size_t err_len);

/* The rendering of a conversation-and-day note (spec/journal.md §2.2) from its JSON (the
 * messages' entries in order) into a new file at path. @return 0 or -1. */
#include <jansson.h>
int jnote_render_day_pdf(json_t *day, const char *path, uint64_t now_ms);

/* "2026-12-03T04:05:06.789Z" for ms since the epoch. */
void jnote_iso_time(uint64_t ms, char out[32]);

#endif
