/* SPDX-License-Identifier: MPL-2.0 */
/* What the relay stores as the payload of a mailbox entry (spec/relay.md §Mailbox payload):
 *   u8 version (1) || u8 flags || u8 len(tenant) || tenant || u8 len(unit) || unit || ciphertext
 * flags bit 0: the sender asked for delivery receipts. The tenant and unit are present when the
 * send addressed a unit, so the recipient learns which conversation the message belongs to. */
#ifndef WAKKS_RELAY_MAILBOX_RECORD_H
#define WAKKS_RELAY_MAILBOX_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAILBOX_RECORD_VERSION 1
#define MAILBOX_FLAG_RECEIPTS 0x01
/* Tenant and unit slugs are at most 32 bytes on the wire (PROTO_MAX_SLUG_BYTES). */
#define MAILBOX_RECORD_HEADER_MAX (4 + 2 * 64)

struct mailbox_record {
	uint8_t flags;
	const char *tenant; /* views; not NUL-terminated */
	size_t tenant_len;
	const char *unit;
	size_t unit_len;
	const uint8_t *ciphertext;
	size_t ciphertext_len;
};

/* Writes the header for rec (ciphertext excluded) into out; returns its length. */
size_t mailbox_record_header(const struct mailbox_record *rec, uint8_t out[MAILBOX_RECORD_HEADER_MAX]);

/* Parses a stored payload into views of it. Returns 0 or -1 when malformed. */
int mailbox_record_parse(const uint8_t *buf, size_t len, struct mailbox_record *out);

#endif
