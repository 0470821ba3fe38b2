/* SPDX-License-Identifier: MPL-2.0 */
/* Golden bytes: every record and key encodes exactly as spec/storage.md lays it out, and decodes
 * back; damaged variants are refused. */
#include "test.h"
#include "records_internal.h"

static const uint8_t ID_A[16] = {0xa0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const uint8_t ID_D[16] = {0xd0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static void test_account_layout(void)
{
	struct store_account a, b;
	uint8_t buf[STORE__ACCOUNT_MAX_LEN];
	memset(&a, 0, sizeof a);
	memcpy(a.id, ID_A, 16);
	a.kind = STORE_ACCOUNT_CASEWORKER;
	strcpy(a.tenant, "varde");
	a.n_units = 2;
	strcpy(a.units[0], "jobcenter");
	strcpy(a.units[1], "born");
	a.created_ms = 0x0102030405060708ull;
	static const uint8_t want[] = {
		0x01, 0x02, 0x05, 0x02, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		'v', 'a', 'r', 'd', 'e',
		0x09, 'j', 'o', 'b', 'c', 'e', 'n', 't', 'e', 'r',
		0x04, 'b', 'o', 'r', 'n'};
	CHECK_EQ_INT(store__account_encode(&a, buf), sizeof want);
	CHECK_MEM(buf, want, sizeof want);
	CHECK_EQ_INT(store__account_decode(ID_A, want, sizeof want, &b), 0);
	CHECK_MEM(b.id, ID_A, 16);
	CHECK_EQ_INT(b.kind, a.kind);
	CHECK(strcmp(b.tenant, "varde") == 0);
	CHECK_EQ_INT(b.n_units, 2);
	CHECK(strcmp(b.units[0], "jobcenter") == 0 && strcmp(b.units[1], "born") == 0);
	CHECK(b.created_ms == a.created_ms);
	CHECK_EQ_INT(store__account_decode(ID_A, want, sizeof want - 1, &b), STORE_ECORRUPT);
	uint8_t bad[sizeof want];
	memcpy(bad, want, sizeof want);
	bad[0] = 2; /* unknown record version */
	CHECK_EQ_INT(store__account_decode(ID_A, bad, sizeof bad, &b), STORE_ECORRUPT);
	memcpy(bad, want, sizeof want);
	bad[13] = 0; /* NUL inside a name */
	CHECK_EQ_INT(store__account_decode(ID_A, bad, sizeof bad, &b), STORE_ECORRUPT);
	strcpy(a.tenant, "");
	CHECK_EQ_INT(store__account_encode(&a, buf), 0);
}

static void test_device_layout(void)
{
	struct store_device d, e;
	uint8_t buf[STORE__DEVICE_MAX_LEN];
	memset(&d, 0, sizeof d);
	memcpy(d.id, ID_D, 16);
	memcpy(d.account_id, ID_A, 16);
	memset(d.identity_key, 0x42, 32);
	d.created_ms = 1;
	d.revoked = true;
	d.revoked_ms = 2;
	d.next_seq = 3;
	d.mailbox_count = 4;
	d.mailbox_bytes = 5;
	static const char label[] = "Firefox p\xc3\xa5 Windows";
	d.label_len = (uint8_t)strlen(label);
	memcpy(d.label, label, d.label_len);
	size_t len = store__device_encode(&d, buf);
	CHECK_EQ_INT(len, 93 + strlen(label));
	CHECK_EQ_INT(buf[0], 2);
	CHECK_EQ_INT(buf[1], 1);
	CHECK_MEM(buf + 4, ID_A, 16);
	CHECK_EQ_INT(buf[20], 0x42);
	CHECK_EQ_INT(buf[51], 0x42);
	CHECK_EQ_INT(buf[59], 1);
	CHECK_EQ_INT(buf[67], 2);
	CHECK_EQ_INT(buf[75], 3);
	CHECK_EQ_INT(buf[83], 4);
	CHECK_EQ_INT(buf[91], 5);
	CHECK_EQ_INT(buf[92], strlen(label));
	CHECK_MEM(buf + 93, label, strlen(label));
	CHECK_EQ_INT(store__device_decode(ID_D, buf, len, &e), 0);
	CHECK_MEM(e.id, ID_D, 16);
	CHECK_MEM(e.account_id, ID_A, 16);
	CHECK_MEM(e.identity_key, d.identity_key, 32);
	CHECK(e.revoked);
	CHECK(e.created_ms == 1 && e.revoked_ms == 2 && e.next_seq == 3 && e.mailbox_count == 4 &&
	      e.mailbox_bytes == 5);
	CHECK_EQ_INT(e.label_len, strlen(label));
	CHECK(strcmp(e.label, label) == 0);
	/* the value ends exactly after the label */
	CHECK_EQ_INT(store__device_decode(ID_D, buf, len - 1, &e), STORE_ECORRUPT);
	buf[len] = 'x';
	CHECK_EQ_INT(store__device_decode(ID_D, buf, len + 1, &e), STORE_ECORRUPT);
	/* a stored label that is not UTF-8 is damage, never served */
	buf[93 + 9] = 0xff;
	CHECK_EQ_INT(store__device_decode(ID_D, buf, len, &e), STORE_ECORRUPT);
	buf[93 + 9] = 0xc3;
	/* schema 3's layout (version 1, 92 bytes) is no longer read as a current record */
	buf[0] = 1;
	CHECK_EQ_INT(store__device_decode(ID_D, buf, len, &e), STORE_ECORRUPT);
	CHECK_EQ_INT(store__device_decode(ID_D, buf, 92, &e), STORE_ECORRUPT);
	CHECK_EQ_INT(store__device_decode_v1(ID_D, buf, 92, &e), 0);
	CHECK(e.revoked && e.next_seq == 3 && e.label_len == 0);
	buf[0] = 2;
	buf[1] = 0x03; /* unknown flag */
	CHECK_EQ_INT(store__device_decode(ID_D, buf, len, &e), STORE_ECORRUPT);
	buf[1] = 0x00; /* not revoked but a revocation time */
	CHECK_EQ_INT(store__device_decode(ID_D, buf, len, &e), STORE_ECORRUPT);
	/* no label: length zero */
	d.label_len = 0;
	CHECK_EQ_INT(store__device_encode(&d, buf), 93);
	CHECK_EQ_INT(buf[92], 0);
	/* the encoder refuses an over-long label or one that is not UTF-8 */
	d.label_len = STORE_DEVICE_LABEL_MAX + 1;
	CHECK_EQ_INT(store__device_encode(&d, buf), 0);
	d.label_len = 2;
	memcpy(d.label, "\xc3(", 2);
	CHECK_EQ_INT(store__device_encode(&d, buf), 0);
}

static void test_prekey_layouts(void)
{
	struct store_signed_prekey s = {.id = 0x01020304, .created_ms = 9}, s2;
	memset(s.public_key, 0xaa, 32);
	memset(s.signature, 0xbb, 64);
	uint8_t buf[STORE__SPK_LEN];
	store__spk_encode(&s, buf);
	static const uint8_t head[] = {1, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 9, 0xaa};
	CHECK_MEM(buf, head, sizeof head);
	CHECK_EQ_INT(buf[47], 0xaa);
	CHECK_EQ_INT(buf[48], 0xbb);
	CHECK_EQ_INT(buf[111], 0xbb);
	CHECK_EQ_INT(store__spk_decode(buf, sizeof buf, &s2), 0);
	CHECK(s2.id == s.id && s2.created_ms == s.created_ms);
	CHECK_MEM(s2.public_key, s.public_key, 32);
	CHECK_MEM(s2.signature, s.signature, 64);

	uint8_t key[STORE__KEY_OTPK_LEN], val[STORE__OTPK_LEN];
	struct store_prekey p = {.id = 0x0a0b0c0d}, p2;
	memset(p.public_key, 0xcc, 32);
	store__key_otpk(key, ID_D, p.id);
	CHECK_MEM(key, ID_D, 16);
	CHECK_EQ_INT(key[16], 0x0a);
	CHECK_EQ_INT(key[19], 0x0d);
	store__otpk_encode(&p, val);
	CHECK_EQ_INT(val[0], 1);
	CHECK_EQ_INT(val[4], 0xcc);
	CHECK_EQ_INT(store__otpk_decode(key, val, sizeof val, &p2), 0);
	CHECK_EQ_INT(p2.id, p.id);
}

static void test_envelope_and_key_layouts(void)
{
	uint8_t key[STORE__KEY_MAILBOX_LEN], xkey[STORE__KEY_MAILBOX_EXPIRY_LEN];
	store__key_mailbox(key, ID_D, 0x0102);
	CHECK_MEM(key, ID_D, 16);
	CHECK_EQ_INT(key[22], 0x01);
	CHECK_EQ_INT(key[23], 0x02);
	store__key_mailbox_expiry(xkey, 0x0a0b, ID_D, 7);
	CHECK_EQ_INT(xkey[6], 0x0a);
	CHECK_EQ_INT(xkey[7], 0x0b);
	CHECK_MEM(xkey + 8, ID_D, 16);
	CHECK_EQ_INT(xkey[31], 7);

	static const uint8_t payload[] = "cipher";
	struct store_envelope e = {.stored_at_ms = 0x11, .expires_at_ms = 0x22, .payload = payload,
				   .payload_len = 6};
	e.ref.kind = STORE_KIND_RECEIPT;
	memset(e.ref.sender_account, 0xa1, 16);
	memset(e.ref.sender_device, 0xd1, 16);
	memset(e.ref.message_id, 0x3e, 16);
	uint8_t buf[STORE__MAILBOX_HDR_LEN + 6];
	store__mailbox_encode_header(&e, buf);
	memcpy(buf + STORE__MAILBOX_HDR_LEN, payload, 6);
	CHECK_EQ_INT(buf[0], 1);
	CHECK_EQ_INT(buf[1], 2);
	CHECK_EQ_INT(buf[11], 0x11);
	CHECK_EQ_INT(buf[19], 0x22);
	CHECK_EQ_INT(buf[20], 0xa1);
	CHECK_EQ_INT(buf[36], 0xd1);
	CHECK_EQ_INT(buf[52], 0x3e);
	CHECK_EQ_INT(buf[71], 6);
	struct store_envelope d;
	CHECK_EQ_INT(store__mailbox_decode(key, buf, sizeof buf, &d), 0);
	CHECK_EQ_INT(d.ref.seq, 0x0102);
	CHECK_MEM(d.ref.device_id, ID_D, 16);
	CHECK_EQ_INT(d.payload_len, 6);
	CHECK(d.payload == buf + STORE__MAILBOX_HDR_LEN);
	CHECK_EQ_INT(store__mailbox_decode(key, buf, sizeof buf - 1, &d), STORE_ECORRUPT);
	buf[1] = 4; /* unknown kind */
	CHECK_EQ_INT(store__mailbox_decode(key, buf, sizeof buf, &d), STORE_ECORRUPT);
}

static void test_idempotency_layout(void)
{
	struct store_seq seqs[2], out[2];
	memcpy(seqs[0].device_id, ID_D, 16);
	seqs[0].seq = 5;
	memcpy(seqs[1].device_id, ID_A, 16);
	seqs[1].seq = 0x0100;
	uint8_t buf[20 + 48];
	CHECK_EQ_INT(store__idem_len(2), sizeof buf);
	store__idem_encode(7, 8, seqs, 2, buf);
	CHECK_EQ_INT(buf[0], 1);
	CHECK_EQ_INT(buf[3], 2);
	CHECK_EQ_INT(buf[11], 7);
	CHECK_EQ_INT(buf[19], 8);
	CHECK_MEM(buf + 20, ID_D, 16);
	CHECK_EQ_INT(buf[43], 5);
	CHECK_MEM(buf + 44, ID_A, 16);
	CHECK_EQ_INT(buf[66], 1);
	struct store_idempotency idem;
	CHECK_EQ_INT(store__idem_decode(buf, sizeof buf, &idem, out, 2), 0);
	CHECK_EQ_INT(idem.n, 2);
	CHECK_EQ_INT(out[1].seq, 0x0100);
	CHECK_EQ_INT(store__idem_decode(buf, sizeof buf - 24, &idem, out, 2), STORE_ECORRUPT);

	uint8_t key[STORE__KEY_IDEM_EXPIRY_LEN];
	store__key_idem_expiry(key, 0x33, ID_D, ID_A);
	CHECK_EQ_INT(key[7], 0x33);
	CHECK_MEM(key + 8, ID_D, 16);
	CHECK_MEM(key + 24, ID_A, 16);
}

static void test_index_prefixes(void)
{
	uint8_t buf[STORE__KEY_UNIT_MAX];
	CHECK_EQ_INT(store__key_unit_prefix(buf, "varde", "born"), 11);
	static const uint8_t want[] = {5, 'v', 'a', 'r', 'd', 'e', 4, 'b', 'o', 'r', 'n'};
	CHECK_MEM(buf, want, sizeof want);
	CHECK_EQ_INT(store__key_tenant_prefix(buf, "varde"), 6);
	char long_name[70];
	memset(long_name, 'x', 65);
	long_name[65] = 0;
	CHECK_EQ_INT(store__key_tenant_prefix(buf, long_name), 0);
}

static void test_consent_layout(void)
{
	struct store_consent c, d;
	static const uint8_t rec[] = {0x01, 0x01, 0xee};
	uint8_t buf[STORE__CONSENT_MAX_LEN], key[STORE__KEY_CONSENT_LEN];
	memset(&c, 0, sizeof c);
	c.kind = STORE_CONSENT_WITHDRAW;
	strcpy(c.tenant, "varde");
	strcpy(c.unit, "born");
	strcpy(c.text_version, "v2");
	c.received_at_ms = 0x0102030405060708ull;
	c.record = rec;
	c.record_len = sizeof rec;
	memset(c.signature, 0x5a, 64);
	static const uint8_t want[] = {
		0x01, 0x02,
		0x05, 'v', 'a', 'r', 'd', 'e',
		0x04, 'b', 'o', 'r', 'n',
		0x02, 'v', '2',
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x00, 0x03, 0x01, 0x01, 0xee};
	size_t len = store__consent_encode(&c, buf);
	CHECK_EQ_INT(len, sizeof want + 64);
	CHECK_MEM(buf, want, sizeof want);
	CHECK_EQ_INT(buf[sizeof want], 0x5a);
	CHECK_EQ_INT(buf[len - 1], 0x5a);
	store__key_consent(key, ID_A, 0x0a0b);
	CHECK_MEM(key, ID_A, 16);
	CHECK_EQ_INT(key[22], 0x0a);
	CHECK_EQ_INT(key[23], 0x0b);
	CHECK_EQ_INT(store__consent_decode(key, buf, len, &d), 0);
	CHECK_MEM(d.account_id, ID_A, 16);
	CHECK_EQ_INT(d.seq, 0x0a0b);
	CHECK_EQ_INT(d.kind, STORE_CONSENT_WITHDRAW);
	CHECK(strcmp(d.tenant, "varde") == 0 && strcmp(d.unit, "born") == 0 &&
	      strcmp(d.text_version, "v2") == 0);
	CHECK(d.received_at_ms == c.received_at_ms);
	CHECK(d.record == buf + sizeof want - 3);
	CHECK_EQ_INT(d.record_len, 3);
	CHECK_MEM(d.signature, c.signature, 64);
	CHECK_EQ_INT(store__consent_decode(key, buf, len - 1, &d), STORE_ECORRUPT);
	buf[1] = 3; /* unknown kind */
	CHECK_EQ_INT(store__consent_decode(key, buf, len, &d), STORE_ECORRUPT);
	buf[1] = 2;
	buf[13] = 0; /* empty text version */
	CHECK_EQ_INT(store__consent_decode(key, buf, len, &d), STORE_ECORRUPT);

	/* the whole tenant: an empty unit */
	strcpy(c.unit, "");
	len = store__consent_encode(&c, buf);
	CHECK_EQ_INT(len, sizeof want - 4 + 64);
	CHECK_EQ_INT(buf[8], 0x00);
	CHECK_EQ_INT(buf[9], 0x02);
	CHECK_EQ_INT(store__consent_decode(key, buf, len, &d), 0);
	CHECK(strcmp(d.unit, "") == 0);
	c.record_len = 0;
	CHECK_EQ_INT(store__consent_encode(&c, buf), 0);
}

static void test_consent_index_layouts(void)
{
	uint8_t key[STORE__KEY_CONSENT_LATEST_MAX > STORE__KEY_CONSENT_COUNT_MAX
			    ? STORE__KEY_CONSENT_LATEST_MAX : STORE__KEY_CONSENT_COUNT_MAX];
	CHECK_EQ_INT(store__key_consent_latest(key, ID_A, "varde", "born"), 16 + 11);
	static const uint8_t want_l[] = {5, 'v', 'a', 'r', 'd', 'e', 4, 'b', 'o', 'r', 'n'};
	CHECK_MEM(key, ID_A, 16);
	CHECK_MEM(key + 16, want_l, sizeof want_l);
	CHECK_EQ_INT(store__key_consent_latest(key, ID_A, "varde", ""), 16 + 7);
	CHECK_EQ_INT(key[22], 0);
	CHECK_EQ_INT(store__key_consent_latest(key, ID_A, "", ""), 0);

	CHECK_EQ_INT(store__key_consent_count(key, "varde", "", "v1"), 6 + 1 + 3);
	static const uint8_t want_c[] = {5, 'v', 'a', 'r', 'd', 'e', 0, 2, 'v', '1'};
	CHECK_MEM(key, want_c, sizeof want_c);
	CHECK_EQ_INT(store__key_consent_count(key, "varde", NULL, NULL), 6);
	CHECK_EQ_INT(store__key_consent_count(key, "varde", "", ""), 0);

	struct store__consent_latest l = {.kind = STORE_CONSENT_GRANT, .seq = 3, .received_at_ms = 4}, m;
	strcpy(l.text_version, "v1");
	uint8_t buf[STORE__CONSENT_LATEST_MAX_LEN];
	static const uint8_t want_v[] = {1, 1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4,
					 2, 'v', '1'};
	CHECK_EQ_INT(store__consent_latest_encode(&l, buf), sizeof want_v);
	CHECK_MEM(buf, want_v, sizeof want_v);
	CHECK_EQ_INT(store__consent_latest_decode(buf, sizeof want_v, &m), 0);
	CHECK(m.kind == 1 && m.seq == 3 && m.received_at_ms == 4 && strcmp(m.text_version, "v1") == 0);
	CHECK_EQ_INT(store__consent_latest_decode(buf, sizeof want_v - 1, &m), STORE_ECORRUPT);
	buf[9] = 0; /* seq 0 */
	CHECK_EQ_INT(store__consent_latest_decode(buf, sizeof want_v, &m), STORE_ECORRUPT);

	struct store__consent_count c = {.grants = 1, .withdrawals = 2, .active = 0x0304}, d;
	uint8_t cbuf[STORE__CONSENT_COUNT_LEN];
	store__consent_count_encode(&c, cbuf);
	CHECK_EQ_INT(sizeof cbuf, 25);
	CHECK_EQ_INT(cbuf[0], 1);
	CHECK_EQ_INT(cbuf[8], 1);
	CHECK_EQ_INT(cbuf[16], 2);
	CHECK_EQ_INT(cbuf[23], 3);
	CHECK_EQ_INT(cbuf[24], 4);
	CHECK_EQ_INT(store__consent_count_decode(cbuf, sizeof cbuf, &d), 0);
	CHECK(d.grants == 1 && d.withdrawals == 2 && d.active == 0x0304);
	CHECK_EQ_INT(store__consent_count_decode(cbuf, sizeof cbuf - 1, &d), STORE_ECORRUPT);
}

static void test_audit_head_layout(void)
{
	uint8_t hash[32], got[32], buf[STORE__AUDIT_HEAD_LEN];
	uint64_t seq;
	memset(hash, 0x77, sizeof hash);
	store__audit_head_encode(0x0102, hash, buf);
	CHECK_EQ_INT(sizeof buf, 41);
	CHECK_EQ_INT(buf[0], 1);
	CHECK_EQ_INT(buf[7], 0x01);
	CHECK_EQ_INT(buf[8], 0x02);
	CHECK_MEM(buf + 9, hash, 32);
	CHECK_EQ_INT(store__audit_head_decode(buf, sizeof buf, &seq, got), 0);
	CHECK_EQ_INT(seq, 0x0102);
	CHECK_MEM(got, hash, 32);
	buf[0] = 2;
	CHECK_EQ_INT(store__audit_head_decode(buf, sizeof buf, &seq, got), STORE_ECORRUPT);
}

int main(void)
{
	RUN(test_account_layout);
	RUN(test_device_layout);
	RUN(test_prekey_layouts);
	RUN(test_envelope_and_key_layouts);
	RUN(test_idempotency_layout);
	RUN(test_index_prefixes);
	RUN(test_consent_layout);
	RUN(test_consent_index_layouts);
	RUN(test_audit_head_layout);
	return TEST_RESULT();
}
