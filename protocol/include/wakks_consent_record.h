/* SPDX-License-Identifier: MPL-2.0 */
/* The consent record of spec/consent.md §2 and the bytes its signature covers (§3): one codec for
 * the relay, which parses and never re-encodes, and libwakks, which encodes. Signing and
 * verifying stay with the callers' Ed25519 (libsodium); this codec has no crypto. */
#ifndef WAKKS_PROTOCOL_CONSENT_RECORD_H
#define WAKKS_PROTOCOL_CONSENT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "wakks_protocol.h"

#define PROTO_CONSENT_RECORD_VERSION 1
/* The signature covers PROTO_CONSENT_SIGN_DOMAIN || 0x00 || record; the domain keeps a consent
 * signature from ever passing as any other signature of the identity key. */
#define PROTO_CONSENT_SIGN_DOMAIN "wakks.v1 consent"
/* The only purpose of version 1. */
#define PROTO_CONSENT_PURPOSE "digital-kommunikation"
/* Bytes of the longest signed message: domain, separator, longest record. */
#define PROTO_CONSENT_SIGNED_MAX (sizeof PROTO_CONSENT_SIGN_DOMAIN + PROTO_MAX_CONSENT_RECORD_BYTES)

/* A record's fields; parsed strings and byte fields point into the parsed buffer. */
typedef struct proto_consent_record {
	uint8_t kind; /* 1 grant, 2 withdrawal */
	const uint8_t *account, *device; /* 16 bytes each */
	proto_str tenant, unit, purpose, text_version, language, client_version;
	const uint8_t *text_sha256; /* 32 bytes */
	uint64_t time_ms;
} proto_consent_record;

/* Parses exactly buf[0..len): version 1, every field within its length bounds, nothing after
 * `time`. Contents of the strings are not judged here (the relay answers an unknown tenant with
 * not_found). @return 0, or PROTO_E_INVALID with *why naming the problem (a static string). */
int proto_consent_record_parse(const uint8_t *buf, size_t len, proto_consent_record *out,
			       const char **why);

/* Writes the record's bytes. Tenant and unit must be slugs (unit may be empty: the whole
 * tenant), the other strings within their bounds. @return 0, PROTO_E_BAD_ARGUMENT or
 * PROTO_E_NO_SPACE. */
int proto_consent_record_encode(const proto_consent_record *r, uint8_t *buf, size_t cap,
				size_t *out_len);

/* Writes the message a consent signature covers: domain || 0x00 || record.
 * @return 0 or PROTO_E_NO_SPACE. */
int proto_consent_record_signed(const uint8_t *record, size_t len, uint8_t *buf, size_t cap,
				size_t *out_len);

#endif
