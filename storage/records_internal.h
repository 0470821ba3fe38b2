/* SPDX-License-Identifier: MPL-2.0 */
/* Byte layouts of keys and values (spec/storage.md is the contract). All integers big-endian.
 * Decoders take untrusted bytes (a damaged or hostile database file) and validate everything:
 * exact lengths, known versions, zero reserved bits, bounded counts. */
#ifndef WAKKS_STORE_RECORDS_INTERNAL_H
#define WAKKS_STORE_RECORDS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "wakks_bytes.h"
#include "wakks_storage.h"

#define STORE__RECORD_V1 1
/* The device record of schema 4, which carries the device's label (spec/storage.md §4.2). */
#define STORE__RECORD_V2 2

#define STORE__META_SCHEMA_KEY "schema_version"
#define STORE__META_AUDIT_HEAD_KEY "audit_head"
#define STORE__META_DATABASE_ID_KEY "database_id"
#define STORE__META_ACCOUNT_KEY_FP_KEY "account_key_fp"

/* keys */
#define STORE__KEY_ACCOUNT_DEVICE_LEN 32 /* account id | device id */
/* unit index: tenant len u8 | tenant | unit len u8 | unit | account id */
#define STORE__KEY_UNIT_MAX (1 + STORE_TENANT_MAX + 1 + STORE_UNIT_ID_MAX + STORE_ID_BYTES)
/* tenant index: tenant len u8 | tenant | kind u8 | account id */
#define STORE__KEY_TENANT_MAX (1 + STORE_TENANT_MAX + 1 + STORE_ID_BYTES)
#define STORE__KEY_OTPK_LEN 20           /* device id | prekey id u32 */
#define STORE__KEY_MAILBOX_LEN 24        /* device id | seq u64 */
#define STORE__KEY_MAILBOX_EXPIRY_LEN 32 /* expires_at u64 | device id | seq u64 */
#define STORE__KEY_IDEM_LEN 32           /* sender device id | message id */
#define STORE__KEY_IDEM_EXPIRY_LEN 40    /* expires_at u64 | sender device id | message id */
#define STORE__KEY_AUDIT_LEN 8           /* seq u64 */
#define STORE__KEY_CONSENT_LEN 24        /* account id | seq u64 */
/* latest index: account id | tenant len u8 | tenant | unit len u8 (0..64) | unit */
#define STORE__KEY_CONSENT_LATEST_MAX (STORE_ID_BYTES + 1 + STORE_TENANT_MAX + 1 + STORE_UNIT_ID_MAX)
/* report counters: tenant len u8 | tenant | unit len u8 (0..64) | unit | text version len u8 | v */
#define STORE__KEY_CONSENT_COUNT_MAX \
	(1 + STORE_TENANT_MAX + 1 + STORE_UNIT_ID_MAX + 1 + STORE_CONSENT_TEXT_VERSION_MAX)

/* values */
#define STORE__ACCOUNT_FIXED_LEN 12
#define STORE__ACCOUNT_MAX_LEN \
	(STORE__ACCOUNT_FIXED_LEN + STORE_TENANT_MAX + STORE_ACCOUNT_UNITS_MAX * (1 + STORE_UNIT_ID_MAX))
/* device: the fixed part, then u8 label length and the label */
#define STORE__DEVICE_FIXED_LEN 92
#define STORE__DEVICE_MAX_LEN (STORE__DEVICE_FIXED_LEN + 1 + STORE_DEVICE_LABEL_MAX)
#define STORE__SPK_LEN 112
#define STORE__OTPK_LEN 36
#define STORE__MAILBOX_HDR_LEN 72
#define STORE__IDEM_HDR_LEN 20
#define STORE__IDEM_ENTRY_LEN 24
#define STORE__AUDIT_HEAD_LEN 41 /* version | seq u64 | hash */
/* consent: version | kind | str8 tenant | str8 unit | str8 text version | received_at u64 |
 * record len u16 | record | signature */
#define STORE__CONSENT_MIN_LEN (1 + 1 + 1 + 1 + 1 + 8 + 2 + STORE_SIG_BYTES)
#define STORE__CONSENT_MAX_LEN                                                                   \
	(STORE__CONSENT_MIN_LEN + STORE_TENANT_MAX + STORE_UNIT_ID_MAX +                          \
	 STORE_CONSENT_TEXT_VERSION_MAX + STORE_CONSENT_RECORD_MAX)
/* latest: version | kind | seq u64 | received_at u64 | str8 text version */
#define STORE__CONSENT_LATEST_FIXED_LEN 19
#define STORE__CONSENT_LATEST_MAX_LEN (STORE__CONSENT_LATEST_FIXED_LEN + STORE_CONSENT_TEXT_VERSION_MAX)
#define STORE__CONSENT_COUNT_LEN 25 /* version | grants u64 | withdrawals u64 | active u64 */
#define STORE__BLOB_LEN 102 /* spec/storage.md §4.13 */

/* Encoders return the encoded length, or 0 if the record is invalid (bad kind, string length ...).
 * Decoders return 0 or STORE_ECORRUPT; *out is written only on success. */
int store__account_valid(const struct store_account *a);
size_t store__account_encode(const struct store_account *a, uint8_t buf[STORE__ACCOUNT_MAX_LEN]);
int store__account_decode(const uint8_t id[STORE_ID_BYTES], const uint8_t *buf, size_t len,
			  struct store_account *out);

void store__blob_encode(const struct store_blob *b, uint8_t buf[STORE__BLOB_LEN]);
int store__blob_decode(const uint8_t id[STORE_ID_BYTES], const uint8_t *buf, size_t len,
		       struct store_blob *out);

/* Devices. encode returns the length (0 if the label is invalid); decode reads the current
 * layout only. decode_v1 reads schema 3's layout (92 bytes, no label) for the 3 -> 4 migration. */
int store__device_label_valid(const struct store_device *d);
size_t store__device_encode(const struct store_device *d, uint8_t buf[STORE__DEVICE_MAX_LEN]);
int store__device_decode(const uint8_t id[STORE_ID_BYTES], const uint8_t *buf, size_t len,
			 struct store_device *out);
int store__device_decode_v1(const uint8_t id[STORE_ID_BYTES], const uint8_t *buf, size_t len,
			    struct store_device *out);

void store__spk_encode(const struct store_signed_prekey *k, uint8_t buf[STORE__SPK_LEN]);
int store__spk_decode(const uint8_t *buf, size_t len, struct store_signed_prekey *out);

void store__otpk_encode(const struct store_prekey *k, uint8_t buf[STORE__OTPK_LEN]);
int store__otpk_decode(const uint8_t key[STORE__KEY_OTPK_LEN], const uint8_t *buf, size_t len,
		       struct store_prekey *out);

/* The mailbox value header; the payload follows it. */
void store__mailbox_encode_header(const struct store_envelope *e, uint8_t buf[STORE__MAILBOX_HDR_LEN]);
int store__mailbox_decode(const uint8_t key[STORE__KEY_MAILBOX_LEN], const uint8_t *buf, size_t len,
			  struct store_envelope *out); /* out->payload points into buf */

size_t store__idem_len(size_t n);
void store__idem_encode(uint64_t stored_at, uint64_t expires_at, const struct store_seq *seqs,
			size_t n, uint8_t *buf);
int store__idem_decode(const uint8_t *buf, size_t len, struct store_idempotency *out,
		       struct store_seq *seqs, size_t cap);

/* Consent records. valid: 1 if the names, kind and lengths are within their limits. encode
 * returns the length (0 if invalid); account_id and seq are the key's and not encoded. decode
 * sets out->record to point into buf. */
int store__consent_valid(const struct store_consent *c);
size_t store__consent_encode(const struct store_consent *c, uint8_t buf[STORE__CONSENT_MAX_LEN]);
int store__consent_decode(const uint8_t key[STORE__KEY_CONSENT_LEN], const uint8_t *buf, size_t len,
			  struct store_consent *out);

struct store__consent_latest {
	uint8_t kind;
	uint64_t seq;
	uint64_t received_at_ms;
	char text_version[STORE_CONSENT_TEXT_VERSION_MAX + 1];
};
size_t store__consent_latest_encode(const struct store__consent_latest *l,
				    uint8_t buf[STORE__CONSENT_LATEST_MAX_LEN]);
int store__consent_latest_decode(const uint8_t *buf, size_t len, struct store__consent_latest *out);

struct store__consent_count {
	uint64_t grants, withdrawals, active;
};
void store__consent_count_encode(const struct store__consent_count *c,
				 uint8_t buf[STORE__CONSENT_COUNT_LEN]);
int store__consent_count_decode(const uint8_t *buf, size_t len, struct store__consent_count *out);

void store__audit_head_encode(uint64_t seq, const uint8_t hash[STORE_AUDIT_HASH_BYTES],
			      uint8_t buf[STORE__AUDIT_HEAD_LEN]);
int store__audit_head_decode(const uint8_t *buf, size_t len, uint64_t *seq,
			     uint8_t hash[STORE_AUDIT_HASH_BYTES]);

/* Index key prefixes (without the account id); 0 if a name is empty or too long. */
size_t store__key_unit_prefix(uint8_t buf[STORE__KEY_UNIT_MAX], const char *tenant, const char *unit);
size_t store__key_tenant_prefix(uint8_t buf[STORE__KEY_TENANT_MAX], const char *tenant);

void store__key_otpk(uint8_t key[STORE__KEY_OTPK_LEN], const uint8_t device[STORE_ID_BYTES],
		     uint32_t id);
void store__key_mailbox(uint8_t key[STORE__KEY_MAILBOX_LEN], const uint8_t device[STORE_ID_BYTES],
			uint64_t seq);
void store__key_mailbox_expiry(uint8_t key[STORE__KEY_MAILBOX_EXPIRY_LEN], uint64_t expires_at,
			       const uint8_t device[STORE_ID_BYTES], uint64_t seq);
void store__key_idem(uint8_t key[STORE__KEY_IDEM_LEN], const uint8_t device[STORE_ID_BYTES],
		     const uint8_t msg[STORE_ID_BYTES]);
void store__key_idem_expiry(uint8_t key[STORE__KEY_IDEM_EXPIRY_LEN], uint64_t expires_at,
			    const uint8_t device[STORE_ID_BYTES], const uint8_t msg[STORE_ID_BYTES]);
void store__key_consent(uint8_t key[STORE__KEY_CONSENT_LEN], const uint8_t account[STORE_ID_BYTES],
			uint64_t seq);
/* 0 if the tenant is empty or a name too long; unit may be "" (whole tenant). */
size_t store__key_consent_latest(uint8_t key[STORE__KEY_CONSENT_LATEST_MAX],
				 const uint8_t account[STORE_ID_BYTES], const char *tenant,
				 const char *unit);
/* With text_version NULL: the prefix of a tenant's rows (tenant only; unit ignored). */
size_t store__key_consent_count(uint8_t key[STORE__KEY_CONSENT_COUNT_MAX], const char *tenant,
				const char *unit, const char *text_version);

#endif
