/* SPDX-License-Identifier: MPL-2.0 */
/* The consent record of spec/consent.md §2, parsed into views of the signed bytes, and the
 * signature check of §3. The relay never re-encodes a record. */
#ifndef WAKKS_RELAY_SERVICES_CONSENT_RECORD_H
#define WAKKS_RELAY_SERVICES_CONSENT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define CONSENT_RECORD_VERSION 1
#define CONSENT_SIGN_DOMAIN "wakks.v1 consent"

struct consent_view {
	const char *ptr; /* not NUL-terminated */
	size_t len;
};

struct consent_record {
	uint8_t kind; /* 1 grant, 2 withdrawal */
	const uint8_t *account, *device; /* 16 bytes each */
	struct consent_view tenant, unit, purpose, text_version, language, client_version;
	const uint8_t *text_sha256; /* 32 bytes */
	uint64_t time_ms;
};

/* Parses exactly buf[0..len). Returns 0, or -1 naming the problem in *why. */
int consent_record_parse(const uint8_t *buf, size_t len, struct consent_record *out,
			 const char **why);

/* 0 when sig is the device key's Ed25519 signature over domain || 0x00 || record. */
int consent_record_verify(const uint8_t *record, size_t len, const uint8_t sig[64],
			  const uint8_t identity_key[32]);

#endif
