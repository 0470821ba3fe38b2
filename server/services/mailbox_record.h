/* SPDX-License-Identifier: MPL-2.0 */
/* What the relay stores as the payload of a mailbox entry (spec/relay.md §2):
 *   u8 version (1) || u8 flags || u8 len(tenant) || tenant || u8 len(unit) || unit
 *   || [flags bit 1: u8 n (1..16) || n blob ids of 16 bytes] || ciphertext
 * flags bit 0: the sender asked for delivery receipts. bit 1: the envelope references attachment
 * blobs, whose ids follow (the relay releases them when the envelope is acknowledged). The tenant
 * and unit are present when the send addressed a unit, so the recipient learns which
 * conversation the message belongs to. */
#ifndef WAKKS_RELAY_SERVICES_MAILBOX_RECORD_H
#define WAKKS_RELAY_SERVICES_MAILBOX_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAILBOX_RECORD_VERSION 1
#define MAILBOX_FLAG_RECEIPTS 0x01
#define MAILBOX_FLAG_BLOBS 0x02
/* As PROTO_MAX_BLOBS_PER_SEND. */
#define MAILBOX_MAX_BLOBS 16
/* Tenant and unit slugs are at most 32 bytes on the wire (PROTO_MAX_SLUG_BYTES). */
#define MAILBOX_RECORD_HEADER_MAX (4 + 2 * 64 + 1 + MAILBOX_MAX_BLOBS * 16)

struct mailbox_record {
	uint8_t flags;
	const char *tenant; /* views; not NUL-terminated */
	size_t tenant_len;
	const char *unit;
	size_t unit_len;
	size_t n_blobs;            /* 0..MAILBOX_MAX_BLOBS; MAILBOX_FLAG_BLOBS iff nonzero */
	const uint8_t *blobs;      /* n_blobs ids of 16 bytes, back to back */
	const uint8_t *ciphertext;
	size_t ciphertext_len;
};

/* Writes the header for rec (ciphertext excluded) into out; returns its length. The blobs flag is
 * set from n_blobs. */
size_t mailbox_record_header(const struct mailbox_record *rec, uint8_t out[MAILBOX_RECORD_HEADER_MAX]);

/* Parses a stored payload into views of it. Returns 0 or -1 when malformed. */
int mailbox_record_parse(const uint8_t *buf, size_t len, struct mailbox_record *out);

#endif
