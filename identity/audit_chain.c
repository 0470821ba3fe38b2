/* SPDX-License-Identifier: MPL-2.0 */
/* Audit log entries: canonical encoding, SHA-256 hash chain, and chain verification. */
#include <string.h>

#include <sodium.h>

#include "identity_internal.h"

static const uint8_t zero_hash[ID_HASH_BYTES];

int id_audit_encode(const id_audit_entry *e, uint8_t *buf, size_t cap)
{
	if (!e || !buf || e->n_subjects > ID_AUDIT_MAX_SUBJECTS || e->details_len > ID_AUDIT_DETAILS_MAX)
		return ID_ERR_INVALID_ARG;
	size_t need = sizeof ID_AUDIT_DOMAIN + 8 + 8 + 2 + 1 +
		      (size_t)e->n_subjects * ID_AUDIT_SUBJECT_BYTES + 2 + e->details_len + ID_HASH_BYTES;
	if (cap < need)
		return ID_ERR_INVALID_ARG;
	size_t at = 0;
	memcpy(buf, ID_AUDIT_DOMAIN, sizeof ID_AUDIT_DOMAIN); /* with its 0x00 */
	at += sizeof ID_AUDIT_DOMAIN;
	id__put_u64be(buf + at, e->seq);
	at += 8;
	id__put_u64be(buf + at, e->time_ms);
	at += 8;
	id__put_u16be(buf + at, e->type);
	at += 2;
	buf[at++] = e->n_subjects;
	for (size_t i = 0; i < e->n_subjects; i++) {
		memcpy(buf + at, e->subjects[i], ID_AUDIT_SUBJECT_BYTES);
		at += ID_AUDIT_SUBJECT_BYTES;
	}
	id__put_u16be(buf + at, e->details_len);
	at += 2;
	memcpy(buf + at, e->details, e->details_len);
	at += e->details_len;
	memcpy(buf + at, e->prev_hash, ID_HASH_BYTES);
	at += ID_HASH_BYTES;
	return (int)at;
}

static int entry_hash(const id_audit_entry *e, uint8_t out[ID_HASH_BYTES])
{
	uint8_t buf[ID_AUDIT_ENCODED_MAX];
	int n = id_audit_encode(e, buf, sizeof buf);
	if (n < 0)
		return n;
	id__sha256(buf, (size_t)n, out);
	return 0;
}

int id_audit_build(uint64_t prev_seq, const uint8_t *prev_hash, uint64_t time_ms, uint16_t type,
		   const uint8_t (*subjects)[ID_AUDIT_SUBJECT_BYTES], size_t n_subjects,
		   const uint8_t *details, size_t details_len, id_audit_entry *out)
{
	if (!out || n_subjects > ID_AUDIT_MAX_SUBJECTS || (n_subjects && !subjects) ||
	    details_len > ID_AUDIT_DETAILS_MAX || (details_len && !details) ||
	    (prev_hash == NULL) != (prev_seq == 0) || prev_seq == UINT64_MAX)
		return ID_ERR_INVALID_ARG;
	id_audit_entry e;
	memset(&e, 0, sizeof e);
	e.seq = prev_seq + 1;
	e.time_ms = time_ms;
	e.type = type;
	e.n_subjects = (uint8_t)n_subjects;
	if (n_subjects)
		memcpy(e.subjects, subjects, n_subjects * ID_AUDIT_SUBJECT_BYTES);
	e.details_len = (uint16_t)details_len;
	if (details_len)
		memcpy(e.details, details, details_len);
	memcpy(e.prev_hash, prev_hash ? prev_hash : zero_hash, ID_HASH_BYTES);
	int rc = entry_hash(&e, e.hash);
	if (rc != 0)
		return rc;
	*out = e;
	return 0;
}

int id_audit_decode(const uint8_t *buf, size_t len, id_audit_entry *out)
{
	const size_t fixed = sizeof ID_AUDIT_DOMAIN + 8 + 8 + 2 + 1;
	if (!buf || !out || len < fixed + 2 + 2 * ID_HASH_BYTES ||
	    memcmp(buf, ID_AUDIT_DOMAIN, sizeof ID_AUDIT_DOMAIN) != 0)
		return ID_ERR_AUDIT_ENCODING;
	id_audit_entry e;
	memset(&e, 0, sizeof e);
	size_t at = sizeof ID_AUDIT_DOMAIN;
	e.seq = id__get_u64be(buf + at);
	at += 8;
	e.time_ms = id__get_u64be(buf + at);
	at += 8;
	e.type = id__get_u16be(buf + at);
	at += 2;
	e.n_subjects = buf[at++];
	if (e.n_subjects > ID_AUDIT_MAX_SUBJECTS)
		return ID_ERR_AUDIT_ENCODING;
	size_t sub = (size_t)e.n_subjects * ID_AUDIT_SUBJECT_BYTES;
	if (len - at < sub + 2)
		return ID_ERR_AUDIT_ENCODING;
	memcpy(e.subjects, buf + at, sub);
	at += sub;
	e.details_len = id__get_u16be(buf + at);
	at += 2;
	if (e.details_len > ID_AUDIT_DETAILS_MAX || len - at != (size_t)e.details_len + 2 * ID_HASH_BYTES)
		return ID_ERR_AUDIT_ENCODING;
	memcpy(e.details, buf + at, e.details_len);
	at += e.details_len;
	memcpy(e.prev_hash, buf + at, ID_HASH_BYTES);
	at += ID_HASH_BYTES;
	memcpy(e.hash, buf + at, ID_HASH_BYTES);
	*out = e;
	return 0;
}

int id_audit_verify_chain(const id_audit_entry *entries, size_t n, uint64_t start_prev_seq,
			  const uint8_t *start_prev_hash, uint64_t head_seq, const uint8_t *head_hash,
			  size_t *first_bad)
{
	if ((n && !entries) || (start_prev_hash == NULL && start_prev_seq != 0))
		return ID_ERR_INVALID_ARG;
	uint64_t prev_seq = start_prev_seq;
	const uint8_t *prev_hash = start_prev_hash ? start_prev_hash : zero_hash;
	int rc = 0;
	size_t i;
	for (i = 0; i < n; i++) {
		const id_audit_entry *e = &entries[i];
		uint8_t h[ID_HASH_BYTES];
		/* The entry's own hash first: an edited entry is reported as edited, even when the
		 * edit touched its sequence number or prev_hash. */
		if (entry_hash(e, h) != 0 || sodium_memcmp(h, e->hash, ID_HASH_BYTES) != 0) {
			rc = ID_ERR_AUDIT_HASH;
			break;
		}
		if (e->seq != prev_seq + 1) {
			rc = ID_ERR_AUDIT_SEQ;
			break;
		}
		if (sodium_memcmp(e->prev_hash, prev_hash, ID_HASH_BYTES) != 0) {
			rc = ID_ERR_AUDIT_PREV;
			break;
		}
		prev_seq = e->seq;
		prev_hash = e->hash;
	}
	if (rc == 0 && head_hash &&
	    (prev_seq != head_seq || sodium_memcmp(prev_hash, head_hash, ID_HASH_BYTES) != 0)) {
		rc = ID_ERR_AUDIT_HEAD;
		i = n;
	}
	if (rc != 0 && first_bad)
		*first_bad = i;
	return rc;
}
