/* SPDX-License-Identifier: MPL-2.0 */
/* Encoding and validating decoding of every stored record and composite key. */
#include <string.h>

#include "records_internal.h"
#include "wakks_protocol.h"

static bool name_ok(const char *s, size_t max, size_t *len)
{
	size_t n = strnlen(s, max + 1);
	if (n == 0 || n > max)
		return false;
	*len = n;
	return true;
}

int store__account_valid(const struct store_account *a)
{
	size_t len;
	if (a->kind < STORE_ACCOUNT_CITIZEN || a->kind > STORE_ACCOUNT_JOURNAL)
		return 0;
	if (!name_ok(a->tenant, STORE_TENANT_MAX, &len))
		return 0;
	if (a->n_units > STORE_ACCOUNT_UNITS_MAX)
		return 0;
	for (unsigned i = 0; i < a->n_units; i++)
		if (!name_ok(a->units[i], STORE_UNIT_ID_MAX, &len))
			return 0;
	return 1;
}

size_t store__account_encode(const struct store_account *a, uint8_t buf[STORE__ACCOUNT_MAX_LEN])
{
	size_t tlen = 0, ulen = 0, off;
	if (!store__account_valid(a))
		return 0;
	name_ok(a->tenant, STORE_TENANT_MAX, &tlen);
	buf[0] = STORE__RECORD_V1;
	buf[1] = a->kind;
	buf[2] = (uint8_t)tlen;
	buf[3] = a->n_units;
	wakks_store_be64(buf + 4, a->created_ms);
	memcpy(buf + STORE__ACCOUNT_FIXED_LEN, a->tenant, tlen);
	off = STORE__ACCOUNT_FIXED_LEN + tlen;
	for (unsigned i = 0; i < a->n_units; i++) {
		name_ok(a->units[i], STORE_UNIT_ID_MAX, &ulen);
		buf[off++] = (uint8_t)ulen;
		memcpy(buf + off, a->units[i], ulen);
		off += ulen;
	}
	return off;
}

/* A stored name: 1..max bytes, no NUL inside (it becomes a C string). */
static bool name_bytes_ok(const uint8_t *p, size_t n, size_t max)
{
	return n >= 1 && n <= max && memchr(p, 0, n) == NULL;
}

int store__account_decode(const uint8_t id[STORE_ID_BYTES], const uint8_t *buf, size_t len,
			  struct store_account *out)
{
	struct store_account a;
	size_t off, tlen;
	if (len < STORE__ACCOUNT_FIXED_LEN || buf[0] != STORE__RECORD_V1)
		return STORE_ECORRUPT;
	memset(&a, 0, sizeof a);
	memcpy(a.id, id, STORE_ID_BYTES);
	a.kind = buf[1];
	if (a.kind < STORE_ACCOUNT_CITIZEN || a.kind > STORE_ACCOUNT_JOURNAL)
		return STORE_ECORRUPT;
	tlen = buf[2];
	a.n_units = buf[3];
	if (a.n_units > STORE_ACCOUNT_UNITS_MAX)
		return STORE_ECORRUPT;
	a.created_ms = wakks_load_be64(buf + 4);
	off = STORE__ACCOUNT_FIXED_LEN;
	if (len - off < tlen || !name_bytes_ok(buf + off, tlen, STORE_TENANT_MAX))
		return STORE_ECORRUPT;
	memcpy(a.tenant, buf + off, tlen);
	off += tlen;
	for (unsigned i = 0; i < a.n_units; i++) {
		if (len - off < 1)
			return STORE_ECORRUPT;
		size_t ulen = buf[off++];
		if (len - off < ulen || !name_bytes_ok(buf + off, ulen, STORE_UNIT_ID_MAX))
			return STORE_ECORRUPT;
		memcpy(a.units[i], buf + off, ulen);
		off += ulen;
	}
	if (off != len)
		return STORE_ECORRUPT;
	*out = a;
	return 0;
}

#define DEVICE_FLAG_REVOKED 0x01u

int store__device_label_valid(const struct store_device *d)
{
	return d->label_len <= STORE_DEVICE_LABEL_MAX && proto_text_valid(d->label, d->label_len);
}

size_t store__device_encode(const struct store_device *d, uint8_t buf[STORE__DEVICE_MAX_LEN])
{
	if (!store__device_label_valid(d))
		return 0;
	buf[0] = STORE__RECORD_V2;
	buf[1] = d->revoked ? DEVICE_FLAG_REVOKED : 0;
	buf[2] = 0;
	buf[3] = 0;
	memcpy(buf + 4, d->account_id, STORE_ID_BYTES);
	memcpy(buf + 20, d->identity_key, STORE_KEY_BYTES);
	wakks_store_be64(buf + 52, d->created_ms);
	wakks_store_be64(buf + 60, d->revoked ? d->revoked_ms : 0);
	wakks_store_be64(buf + 68, d->next_seq);
	wakks_store_be64(buf + 76, d->mailbox_count);
	wakks_store_be64(buf + 84, d->mailbox_bytes);
	buf[STORE__DEVICE_FIXED_LEN] = d->label_len;
	memcpy(buf + STORE__DEVICE_FIXED_LEN + 1, d->label, d->label_len);
	return STORE__DEVICE_FIXED_LEN + 1 + (size_t)d->label_len;
}

/* The fixed part both layouts share, after the version byte. */
static int device_fixed_decode(const uint8_t id[STORE_ID_BYTES], const uint8_t *buf,
			       struct store_device *d)
{
	if ((buf[1] & ~DEVICE_FLAG_REVOKED) != 0 || buf[2] != 0 || buf[3] != 0)
		return STORE_ECORRUPT;
	memset(d, 0, sizeof *d);
	memcpy(d->id, id, STORE_ID_BYTES);
	d->revoked = (buf[1] & DEVICE_FLAG_REVOKED) != 0;
	memcpy(d->account_id, buf + 4, STORE_ID_BYTES);
	memcpy(d->identity_key, buf + 20, STORE_KEY_BYTES);
	d->created_ms = wakks_load_be64(buf + 52);
	d->revoked_ms = wakks_load_be64(buf + 60);
	d->next_seq = wakks_load_be64(buf + 68);
	d->mailbox_count = wakks_load_be64(buf + 76);
	d->mailbox_bytes = wakks_load_be64(buf + 84);
	if (d->next_seq == 0 || (!d->revoked && d->revoked_ms != 0))
		return STORE_ECORRUPT;
	return 0;
}

int store__device_decode(const uint8_t id[STORE_ID_BYTES], const uint8_t *buf, size_t len,
			 struct store_device *out)
{
	struct store_device d;
	if (len < STORE__DEVICE_FIXED_LEN + 1 || buf[0] != STORE__RECORD_V2)
		return STORE_ECORRUPT;
	int rc = device_fixed_decode(id, buf, &d);
	if (rc)
		return rc;
	d.label_len = buf[STORE__DEVICE_FIXED_LEN];
	if (len != STORE__DEVICE_FIXED_LEN + 1 + (size_t)d.label_len)
		return STORE_ECORRUPT;
	memcpy(d.label, buf + STORE__DEVICE_FIXED_LEN + 1, d.label_len);
	/* A label the relay would have to refuse to send is no label it stored. */
	if (!store__device_label_valid(&d))
		return STORE_ECORRUPT;
	*out = d;
	return 0;
}

int store__device_decode_v1(const uint8_t id[STORE_ID_BYTES], const uint8_t *buf, size_t len,
			    struct store_device *out)
{
	struct store_device d;
	if (len != STORE__DEVICE_FIXED_LEN || buf[0] != STORE__RECORD_V1)
		return STORE_ECORRUPT;
	int rc = device_fixed_decode(id, buf, &d);
	if (rc)
		return rc;
	*out = d;
	return 0;
}

void store__spk_encode(const struct store_signed_prekey *k, uint8_t buf[STORE__SPK_LEN])
{
	buf[0] = STORE__RECORD_V1;
	buf[1] = buf[2] = buf[3] = 0;
	wakks_store_be32(buf + 4, k->id);
	wakks_store_be64(buf + 8, k->created_ms);
	memcpy(buf + 16, k->public_key, STORE_KEY_BYTES);
	memcpy(buf + 48, k->signature, STORE_SIG_BYTES);
}

int store__spk_decode(const uint8_t *buf, size_t len, struct store_signed_prekey *out)
{
	struct store_signed_prekey k;
	if (len != STORE__SPK_LEN || buf[0] != STORE__RECORD_V1 || buf[1] || buf[2] || buf[3])
		return STORE_ECORRUPT;
	k.id = wakks_load_be32(buf + 4);
	k.created_ms = wakks_load_be64(buf + 8);
	memcpy(k.public_key, buf + 16, STORE_KEY_BYTES);
	memcpy(k.signature, buf + 48, STORE_SIG_BYTES);
	*out = k;
	return 0;
}

void store__otpk_encode(const struct store_prekey *k, uint8_t buf[STORE__OTPK_LEN])
{
	buf[0] = STORE__RECORD_V1;
	buf[1] = buf[2] = buf[3] = 0;
	memcpy(buf + 4, k->public_key, STORE_KEY_BYTES);
}

int store__otpk_decode(const uint8_t key[STORE__KEY_OTPK_LEN], const uint8_t *buf, size_t len,
		       struct store_prekey *out)
{
	if (len != STORE__OTPK_LEN || buf[0] != STORE__RECORD_V1 || buf[1] || buf[2] || buf[3])
		return STORE_ECORRUPT;
	out->id = wakks_load_be32(key + STORE_ID_BYTES);
	memcpy(out->public_key, buf + 4, STORE_KEY_BYTES);
	return 0;
}

void store__mailbox_encode_header(const struct store_envelope *e, uint8_t buf[STORE__MAILBOX_HDR_LEN])
{
	buf[0] = STORE__RECORD_V1;
	buf[1] = e->ref.kind;
	buf[2] = buf[3] = 0;
	wakks_store_be64(buf + 4, e->stored_at_ms);
	wakks_store_be64(buf + 12, e->expires_at_ms);
	memcpy(buf + 20, e->ref.sender_account, STORE_ID_BYTES);
	memcpy(buf + 36, e->ref.sender_device, STORE_ID_BYTES);
	memcpy(buf + 52, e->ref.message_id, STORE_ID_BYTES);
	wakks_store_be32(buf + 68, (uint32_t)e->payload_len);
}

int store__mailbox_decode(const uint8_t key[STORE__KEY_MAILBOX_LEN], const uint8_t *buf, size_t len,
			  struct store_envelope *out)
{
	struct store_envelope e = {0};
	if (len < STORE__MAILBOX_HDR_LEN || buf[0] != STORE__RECORD_V1 || buf[2] || buf[3])
		return STORE_ECORRUPT;
	if (buf[1] < STORE_KIND_ENVELOPE || buf[1] > STORE_KIND_NOTICE)
		return STORE_ECORRUPT;
	uint32_t plen = wakks_load_be32(buf + 68);
	if (plen > STORE_PAYLOAD_MAX || len - STORE__MAILBOX_HDR_LEN != plen)
		return STORE_ECORRUPT;
	memcpy(e.ref.device_id, key, STORE_ID_BYTES);
	e.ref.seq = wakks_load_be64(key + STORE_ID_BYTES);
	e.ref.kind = buf[1];
	e.stored_at_ms = wakks_load_be64(buf + 4);
	e.expires_at_ms = wakks_load_be64(buf + 12);
	memcpy(e.ref.sender_account, buf + 20, STORE_ID_BYTES);
	memcpy(e.ref.sender_device, buf + 36, STORE_ID_BYTES);
	memcpy(e.ref.message_id, buf + 52, STORE_ID_BYTES);
	e.payload = buf + STORE__MAILBOX_HDR_LEN;
	e.payload_len = plen;
	*out = e;
	return 0;
}

size_t store__idem_len(size_t n)
{
	return STORE__IDEM_HDR_LEN + n * STORE__IDEM_ENTRY_LEN;
}

void store__idem_encode(uint64_t stored_at, uint64_t expires_at, const struct store_seq *seqs,
			size_t n, uint8_t *buf)
{
	buf[0] = STORE__RECORD_V1;
	buf[1] = 0;
	wakks_store_be16(buf + 2, (uint16_t)n);
	wakks_store_be64(buf + 4, stored_at);
	wakks_store_be64(buf + 12, expires_at);
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = buf + STORE__IDEM_HDR_LEN + i * STORE__IDEM_ENTRY_LEN;
		memcpy(p, seqs[i].device_id, STORE_ID_BYTES);
		wakks_store_be64(p + STORE_ID_BYTES, seqs[i].seq);
	}
}

int store__idem_decode(const uint8_t *buf, size_t len, struct store_idempotency *out,
		       struct store_seq *seqs, size_t cap)
{
	if (len < STORE__IDEM_HDR_LEN || buf[0] != STORE__RECORD_V1 || buf[1] != 0)
		return STORE_ECORRUPT;
	size_t n = wakks_load_be16(buf + 2);
	if (n == 0 || n > STORE_SEND_MAX_RECIPIENTS || len != store__idem_len(n))
		return STORE_ECORRUPT;
	out->stored_at_ms = wakks_load_be64(buf + 4);
	out->expires_at_ms = wakks_load_be64(buf + 12);
	out->n = n;
	for (size_t i = 0; i < n && i < cap; i++) {
		const uint8_t *p = buf + STORE__IDEM_HDR_LEN + i * STORE__IDEM_ENTRY_LEN;
		memcpy(seqs[i].device_id, p, STORE_ID_BYTES);
		seqs[i].seq = wakks_load_be64(p + STORE_ID_BYTES);
	}
	return 0;
}

size_t store__key_unit_prefix(uint8_t buf[STORE__KEY_UNIT_MAX], const char *tenant, const char *unit)
{
	size_t tlen, ulen;
	if (!name_ok(tenant, STORE_TENANT_MAX, &tlen) || !name_ok(unit, STORE_UNIT_ID_MAX, &ulen))
		return 0;
	buf[0] = (uint8_t)tlen;
	memcpy(buf + 1, tenant, tlen);
	buf[1 + tlen] = (uint8_t)ulen;
	memcpy(buf + 2 + tlen, unit, ulen);
	return 2 + tlen + ulen;
}

size_t store__key_tenant_prefix(uint8_t buf[STORE__KEY_TENANT_MAX], const char *tenant)
{
	size_t tlen;
	if (!name_ok(tenant, STORE_TENANT_MAX, &tlen))
		return 0;
	buf[0] = (uint8_t)tlen;
	memcpy(buf + 1, tenant, tlen);
	return 1 + tlen;
}

void store__key_otpk(uint8_t key[STORE__KEY_OTPK_LEN], const uint8_t device[STORE_ID_BYTES],
		     uint32_t id)
{
	memcpy(key, device, STORE_ID_BYTES);
	wakks_store_be32(key + STORE_ID_BYTES, id);
}

void store__key_mailbox(uint8_t key[STORE__KEY_MAILBOX_LEN], const uint8_t device[STORE_ID_BYTES],
			uint64_t seq)
{
	memcpy(key, device, STORE_ID_BYTES);
	wakks_store_be64(key + STORE_ID_BYTES, seq);
}

void store__key_mailbox_expiry(uint8_t key[STORE__KEY_MAILBOX_EXPIRY_LEN], uint64_t expires_at,
			       const uint8_t device[STORE_ID_BYTES], uint64_t seq)
{
	wakks_store_be64(key, expires_at);
	memcpy(key + 8, device, STORE_ID_BYTES);
	wakks_store_be64(key + 8 + STORE_ID_BYTES, seq);
}

void store__key_idem(uint8_t key[STORE__KEY_IDEM_LEN], const uint8_t device[STORE_ID_BYTES],
		     const uint8_t msg[STORE_ID_BYTES])
{
	memcpy(key, device, STORE_ID_BYTES);
	memcpy(key + STORE_ID_BYTES, msg, STORE_ID_BYTES);
}

void store__key_idem_expiry(uint8_t key[STORE__KEY_IDEM_EXPIRY_LEN], uint64_t expires_at,
			    const uint8_t device[STORE_ID_BYTES], const uint8_t msg[STORE_ID_BYTES])
{
	wakks_store_be64(key, expires_at);
	memcpy(key + 8, device, STORE_ID_BYTES);
	memcpy(key + 8 + STORE_ID_BYTES, msg, STORE_ID_BYTES);
}

/* ---- consent records, their latest index and report counters ------------------------------- */

/* A name that may be empty (a unit: "" is the whole tenant): 0..max bytes. */
static bool name0_ok(const char *s, size_t max, size_t *len)
{
	size_t n = strnlen(s, max + 1);
	if (n > max)
		return false;
	*len = n;
	return true;
}

static bool name0_bytes_ok(const uint8_t *p, size_t n, size_t max)
{
	return n <= max && (n == 0 || memchr(p, 0, n) == NULL);
}

int store__consent_valid(const struct store_consent *c)
{
	size_t len;
	if (c->kind != STORE_CONSENT_GRANT && c->kind != STORE_CONSENT_WITHDRAW)
		return 0;
	if (!name_ok(c->tenant, STORE_TENANT_MAX, &len) || !name0_ok(c->unit, STORE_UNIT_ID_MAX, &len) ||
	    !name_ok(c->text_version, STORE_CONSENT_TEXT_VERSION_MAX, &len))
		return 0;
	if (c->record_len == 0 || c->record_len > STORE_CONSENT_RECORD_MAX || !c->record)
		return 0;
	return 1;
}

static size_t put_str8(uint8_t *p, const char *s, size_t len)
{
	p[0] = (uint8_t)len;
	memcpy(p + 1, s, len);
	return 1 + len;
}

size_t store__consent_encode(const struct store_consent *c, uint8_t buf[STORE__CONSENT_MAX_LEN])
{
	size_t tlen = 0, ulen = 0, vlen = 0, off = 0;
	if (!store__consent_valid(c))
		return 0;
	name_ok(c->tenant, STORE_TENANT_MAX, &tlen);
	name0_ok(c->unit, STORE_UNIT_ID_MAX, &ulen);
	name_ok(c->text_version, STORE_CONSENT_TEXT_VERSION_MAX, &vlen);
	buf[off++] = STORE__RECORD_V1;
	buf[off++] = c->kind;
	off += put_str8(buf + off, c->tenant, tlen);
	off += put_str8(buf + off, c->unit, ulen);
	off += put_str8(buf + off, c->text_version, vlen);
	wakks_store_be64(buf + off, c->received_at_ms);
	off += 8;
	wakks_store_be16(buf + off, (uint16_t)c->record_len);
	off += 2;
	memcpy(buf + off, c->record, c->record_len);
	off += c->record_len;
	memcpy(buf + off, c->signature, STORE_SIG_BYTES);
	return off + STORE_SIG_BYTES;
}

/* Reads a str8 of min..max bytes (no NUL inside) into a C string of max + 1 bytes. */
static bool get_str8(const uint8_t *buf, size_t len, size_t *off, size_t min, size_t max, char *out)
{
	if (len - *off < 1)
		return false;
	size_t n = buf[(*off)++];
	if (n < min || len - *off < n || !name0_bytes_ok(buf + *off, n, max))
		return false;
	memcpy(out, buf + *off, n);
	out[n] = '\0';
	*off += n;
	return true;
}

int store__consent_decode(const uint8_t key[STORE__KEY_CONSENT_LEN], const uint8_t *buf, size_t len,
			  struct store_consent *out)
{
	struct store_consent c;
	size_t off = 2;
	if (len < STORE__CONSENT_MIN_LEN || buf[0] != STORE__RECORD_V1 ||
	    (buf[1] != STORE_CONSENT_GRANT && buf[1] != STORE_CONSENT_WITHDRAW))
		return STORE_ECORRUPT;
	memset(&c, 0, sizeof c);
	memcpy(c.account_id, key, STORE_ID_BYTES);
	c.seq = wakks_load_be64(key + STORE_ID_BYTES);
	c.kind = buf[1];
	if (!get_str8(buf, len, &off, 1, STORE_TENANT_MAX, c.tenant) ||
	    !get_str8(buf, len, &off, 0, STORE_UNIT_ID_MAX, c.unit) ||
	    !get_str8(buf, len, &off, 1, STORE_CONSENT_TEXT_VERSION_MAX, c.text_version))
		return STORE_ECORRUPT;
	if (len - off < 8 + 2)
		return STORE_ECORRUPT;
	c.received_at_ms = wakks_load_be64(buf + off);
	off += 8;
	c.record_len = wakks_load_be16(buf + off);
	off += 2;
	if (c.record_len == 0 || c.record_len > STORE_CONSENT_RECORD_MAX ||
	    len - off != c.record_len + STORE_SIG_BYTES)
		return STORE_ECORRUPT;
	c.record = buf + off;
	off += c.record_len;
	memcpy(c.signature, buf + off, STORE_SIG_BYTES);
	*out = c;
	return 0;
}

size_t store__consent_latest_encode(const struct store__consent_latest *l,
				    uint8_t buf[STORE__CONSENT_LATEST_MAX_LEN])
{
	size_t vlen;
	if ((l->kind != STORE_CONSENT_GRANT && l->kind != STORE_CONSENT_WITHDRAW) || l->seq == 0 ||
	    !name_ok(l->text_version, STORE_CONSENT_TEXT_VERSION_MAX, &vlen))
		return 0;
	buf[0] = STORE__RECORD_V1;
	buf[1] = l->kind;
	wakks_store_be64(buf + 2, l->seq);
	wakks_store_be64(buf + 10, l->received_at_ms);
	return 18 + put_str8(buf + 18, l->text_version, vlen);
}

int store__consent_latest_decode(const uint8_t *buf, size_t len, struct store__consent_latest *out)
{
	struct store__consent_latest l;
	size_t off = 18;
	if (len < STORE__CONSENT_LATEST_FIXED_LEN || buf[0] != STORE__RECORD_V1 ||
	    (buf[1] != STORE_CONSENT_GRANT && buf[1] != STORE_CONSENT_WITHDRAW))
		return STORE_ECORRUPT;
	l.kind = buf[1];
	l.seq = wakks_load_be64(buf + 2);
	l.received_at_ms = wakks_load_be64(buf + 10);
	if (l.seq == 0 ||
	    !get_str8(buf, len, &off, 1, STORE_CONSENT_TEXT_VERSION_MAX, l.text_version) ||
	    off != len)
		return STORE_ECORRUPT;
	*out = l;
	return 0;
}

void store__consent_count_encode(const struct store__consent_count *c,
				 uint8_t buf[STORE__CONSENT_COUNT_LEN])
{
	buf[0] = STORE__RECORD_V1;
	wakks_store_be64(buf + 1, c->grants);
	wakks_store_be64(buf + 9, c->withdrawals);
	wakks_store_be64(buf + 17, c->active);
}

int store__consent_count_decode(const uint8_t *buf, size_t len, struct store__consent_count *out)
{
	if (len != STORE__CONSENT_COUNT_LEN || buf[0] != STORE__RECORD_V1)
		return STORE_ECORRUPT;
	out->grants = wakks_load_be64(buf + 1);
	out->withdrawals = wakks_load_be64(buf + 9);
	out->active = wakks_load_be64(buf + 17);
	return 0;
}

/* ---- audit head ------------------------------------------------------------------------------ */

void store__audit_head_encode(uint64_t seq, const uint8_t hash[STORE_AUDIT_HASH_BYTES],
			      uint8_t buf[STORE__AUDIT_HEAD_LEN])
{
	buf[0] = STORE__RECORD_V1;
	wakks_store_be64(buf + 1, seq);
	memcpy(buf + 9, hash, STORE_AUDIT_HASH_BYTES);
}

int store__audit_head_decode(const uint8_t *buf, size_t len, uint64_t *seq,
			     uint8_t hash[STORE_AUDIT_HASH_BYTES])
{
	if (len != STORE__AUDIT_HEAD_LEN || buf[0] != STORE__RECORD_V1)
		return STORE_ECORRUPT;
	*seq = wakks_load_be64(buf + 1);
	memcpy(hash, buf + 9, STORE_AUDIT_HASH_BYTES);
	return 0;
}

/* ---- consent keys ---------------------------------------------------------------------------- */

void store__key_consent(uint8_t key[STORE__KEY_CONSENT_LEN], const uint8_t account[STORE_ID_BYTES],
			uint64_t seq)
{
	memcpy(key, account, STORE_ID_BYTES);
	wakks_store_be64(key + STORE_ID_BYTES, seq);
}

size_t store__key_consent_latest(uint8_t key[STORE__KEY_CONSENT_LATEST_MAX],
				 const uint8_t account[STORE_ID_BYTES], const char *tenant,
				 const char *unit)
{
	size_t tlen, ulen, off = STORE_ID_BYTES;
	if (!name_ok(tenant, STORE_TENANT_MAX, &tlen) || !name0_ok(unit, STORE_UNIT_ID_MAX, &ulen))
		return 0;
	memcpy(key, account, STORE_ID_BYTES);
	off += put_str8(key + off, tenant, tlen);
	off += put_str8(key + off, unit, ulen);
	return off;
}

size_t store__key_consent_count(uint8_t key[STORE__KEY_CONSENT_COUNT_MAX], const char *tenant,
				const char *unit, const char *text_version)
{
	size_t tlen, ulen, vlen, off = 0;
	if (!name_ok(tenant, STORE_TENANT_MAX, &tlen))
		return 0;
	off += put_str8(key + off, tenant, tlen);
	if (!text_version)
		return off;
	if (!name0_ok(unit, STORE_UNIT_ID_MAX, &ulen) ||
	    !name_ok(text_version, STORE_CONSENT_TEXT_VERSION_MAX, &vlen))
		return 0;
	off += put_str8(key + off, unit, ulen);
	off += put_str8(key + off, text_version, vlen);
	return off;
}
