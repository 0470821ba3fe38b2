/* SPDX-License-Identifier: MPL-2.0 */
/* Building blocks: HKDF against RFC 5869, padding, error strings, identities and prekeys,
 * content records, attachments and safety numbers. */
#include <stdlib.h>

#include "wc_internal.h"
#include "crypto_test.h"

static void hex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sscanf(h + 2 * i, "%2hhx", &out[i]);
}

static void test_hkdf_rfc5869(void)
{
	uint8_t ikm[22], salt[13], okm[42], want[42];
	memset(ikm, 0x0b, sizeof ikm);
	for (int i = 0; i < 13; i++)
		salt[i] = (uint8_t)i;
	/* Test case 1. */
	CHECK_EQ_INT(wc__hkdf(salt, sizeof salt, ikm, sizeof ikm,
			      "\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9", okm, sizeof okm),
		     WC_OK);
	hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
	    want, 42);
	CHECK_MEM(okm, want, 42);
	/* Test case 3: empty salt (= HashLen zeros) and empty info. */
	CHECK_EQ_INT(wc__hkdf((const uint8_t *)"", 0, ikm, sizeof ikm, "", okm, sizeof okm), WC_OK);
	hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
	    want, 42);
	CHECK_MEM(okm, want, 42);
	CHECK_EQ_INT(wc__hkdf(NULL, 0, ikm, sizeof ikm, "", okm, sizeof okm), WC_OK);
	CHECK_MEM(okm, want, 42);
	CHECK_EQ_INT(wc__hkdf(NULL, 0, ikm, sizeof ikm, "", okm, 0), WC_E_INVAL);
}

static void test_padding_buckets(void)
{
	CHECK_EQ_INT(wc__padded_len(0), 256);
	CHECK_EQ_INT(wc__padded_len(255), 256);
	CHECK_EQ_INT(wc__padded_len(256), 512);
	CHECK_EQ_INT(wc__padded_len(4095), 4096);
	CHECK_EQ_INT(wc__padded_len(4096), 8192);
	CHECK_EQ_INT(wc__padded_len(WC_PLAINTEXT_MAX_BYTES), 69632);
}

static void test_strerror_table(void)
{
	CHECK(strcmp(wc_strerror(WC_OK), "success") == 0);
	CHECK(strcmp(wc_strerror(WC_E_VERIFY), "verification failed") == 0);
	CHECK(strcmp(wc_strerror(-999), "unknown error") == 0);
#define CHECK_NAMED(name, code, text) CHECK(strcmp(wc_strerror(code), text) == 0);
	WC_ERRNO_MAP(CHECK_NAMED)
#undef CHECK_NAMED
}

static void test_identity_and_x25519_form(void)
{
	uint8_t seed[32];
	wc_identity a, b;
	memset(seed, 7, sizeof seed);
	MUST(wc_identity_from_seed(&a, seed) == WC_OK);
	MUST(wc_identity_from_seed(&b, seed) == WC_OK);
	CHECK_MEM(a.public_key, b.public_key, 32);
	/* The X25519 forms agree: DH(x(a_sk), x(b_pk)) == DH(x(b_sk), x(a_pk)). */
	wc_identity c;
	MUST(wc_identity_generate(&c) == WC_OK);
	uint8_t ask[32], cpk[32], csk[32], apk[32], s1[32], s2[32];
	wc__identity_x25519_secret(&a, ask);
	wc__identity_x25519_secret(&c, csk);
	MUST(wc__identity_x25519_public(a.public_key, apk) == WC_OK);
	MUST(wc__identity_x25519_public(c.public_key, cpk) == WC_OK);
	MUST(wc__dh(s1, ask, cpk) == WC_OK);
	MUST(wc__dh(s2, csk, apk) == WC_OK);
	CHECK_MEM(s1, s2, 32);
	/* An Ed25519 key that does not decode is refused. */
	uint8_t junk[32];
	memset(junk, 0xff, sizeof junk);
	CHECK_EQ_INT(wc__identity_x25519_public(junk, apk), WC_E_VERIFY);
	wc_identity_wipe(&a);
	CHECK(sodium_is_zero((const uint8_t *)&a, sizeof a));
	wc_identity_wipe(&b);
	wc_identity_wipe(&c);
}

static void test_prekeys(void)
{
	wc_identity id;
	wc_signed_prekey spk;
	wc_one_time_prekey opk[5];
	MUST(wc_identity_generate(&id) == WC_OK);
	MUST(wc_signed_prekey_generate(&id, 42, 1767225600000ull, &spk) == WC_OK);
	CHECK_EQ_INT(spk.id, 42);
	CHECK_EQ_INT(wc_signed_prekey_verify(id.public_key, 42, spk.public_key, spk.created_ms,
					     spk.signature),
		     WC_OK);
	uint8_t msg[WC_SIGNED_PREKEY_MESSAGE_BYTES];
	wc_signed_prekey_message(0x01020304, spk.public_key, 0x1122334455667788ull, msg);
	CHECK(memcmp(msg, "wakks/v1/signed-prekey", 22) == 0);
	CHECK(msg[22] == 1 && msg[25] == 4);
	CHECK_MEM(msg + 26, spk.public_key, 32);
	CHECK(msg[58] == 0x11 && msg[65] == 0x88);
	MUST(wc_one_time_prekeys_generate(UINT32_MAX - 4, 5, opk) == WC_OK);
	CHECK_EQ_INT(opk[4].id, UINT32_MAX);
	CHECK_EQ_INT(wc_one_time_prekeys_generate(UINT32_MAX - 3, 5, opk), WC_E_INVAL);
	CHECK(memcmp(opk[0].public_key, opk[1].public_key, 32) != 0);
	uint8_t pk[32];
	crypto_scalarmult_base(pk, opk[3].secret_key);
	CHECK_MEM(pk, opk[3].public_key, 32);
	wc_identity_wipe(&id);
	wc_signed_prekey_wipe(&spk);
	for (int i = 0; i < 5; i++)
		wc_one_time_prekey_wipe(&opk[i]);
}

static void test_content_record(void)
{
	wc_content c, d;
	uint8_t buf[512];
	size_t len;
	memset(&c, 0, sizeof c);
	memset(c.message_id, 1, 16);
	memset(c.conversation_id, 2, 16);
	memset(c.sender_account, 3, 16);
	memset(c.sender_device, 4, 16);
	c.kind = WC_KIND_RECEIPT;
	c.sent_ms = 0x0102030405060708ull;
	c.body = (const uint8_t *)"read";
	c.body_len = 4;
	CHECK_EQ_INT(wc_content_encoded_size(&c), WC_CONTENT_HEADER_BYTES + 4);
	CHECK_EQ_INT(wc_content_encode(&c, buf, 10, &len), WC_E_SPACE);
	MUST(wc_content_encode(&c, buf, sizeof buf, &len) == WC_OK);
	CHECK_EQ_INT(len, 82);
	CHECK(buf[0] == 1 && buf[1] == WC_KIND_RECEIPT && buf[34] == 1 && buf[41] == 8);
	MUST(wc_content_decode(buf, len, &d) == WC_OK);
	CHECK(memcmp(&d, &c, offsetof(wc_content, body)) == 0);
	CHECK(d.body_len == 4 && memcmp(d.body, "read", 4) == 0);
	/* Malformed records. */
	for (size_t l = 0; l < len; l++)
		CHECK(wc_content_decode(buf, l, &d) != WC_OK);
	buf[0] = 3;
	CHECK_EQ_INT(wc_content_decode(buf, len, &d), WC_E_VERSION);
	buf[0] = 1;
	buf[1] = 9;
	CHECK_EQ_INT(wc_content_decode(buf, len, &d), WC_E_FORMAT);
	c.kind = 0;
	CHECK_EQ_INT(wc_content_encode(&c, buf, sizeof buf, &len), WC_E_INVAL);
	c.kind = WC_KIND_TEXT;
	c.body_len = WC_CONTENT_BODY_MAX + 1;
	CHECK_EQ_INT(wc_content_encode(&c, buf, sizeof buf, &len), WC_E_TOO_LARGE);
}

static void test_attachment_round_trip_and_tamper(void)
{
	static const size_t sizes[] = {0, 1, 1000, WC_ATTACHMENT_CHUNK_BYTES,
				       WC_ATTACHMENT_CHUNK_BYTES + 1, 3 * WC_ATTACHMENT_CHUNK_BYTES + 5};
	for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
		size_t n = sizes[s], ct_len;
		uint8_t *pt = malloc(n + 1), *ct = malloc(wc_attachment_ciphertext_size(n)),
			*back = malloc(n + 1);
		MUST(pt && ct && back);
		randombytes_buf(pt, n);
		wc_attachment att;
		memset(&att, 0, sizeof att);
		MUST(wc_attachment_encrypt(pt, n, ct, wc_attachment_ciphertext_size(n), &ct_len,
					      &att) == WC_OK);
		CHECK_EQ_INT(ct_len, wc_attachment_ciphertext_size(n));
		CHECK_EQ_INT(att.size, n);
		uint8_t d[32];
		crypto_hash_sha256(d, ct, ct_len);
		CHECK_MEM(d, att.digest, 32);
		CHECK_EQ_INT(wc_attachment_decrypt(&att, ct, ct_len, back, n), WC_OK);
		CHECK(n == 0 || memcmp(back, pt, n) == 0);
		/* Flipped bits are caught by the digest; with a recomputed digest by the AEAD. */
		for (size_t i = 0; i < ct_len; i += (ct_len / 97) + 1) {
			ct[i] ^= 0x10;
			CHECK_EQ_INT(wc_attachment_decrypt(&att, ct, ct_len, back, n), WC_E_VERIFY);
			wc_attachment forged = att;
			crypto_hash_sha256(forged.digest, ct, ct_len);
			CHECK_EQ_INT(wc_attachment_decrypt(&forged, ct, ct_len, back, n), WC_E_VERIFY);
			ct[i] ^= 0x10;
		}
		/* Truncated (with a matching digest), wrong size claimed, wrong key. */
		if (ct_len > 0) {
			wc_attachment forged = att;
			crypto_hash_sha256(forged.digest, ct, ct_len - 1);
			CHECK_EQ_INT(wc_attachment_decrypt(&forged, ct, ct_len - 1, back, n),
				     WC_E_VERIFY);
		}
		wc_attachment wrong = att;
		wrong.key[0] ^= 1;
		CHECK_EQ_INT(wc_attachment_decrypt(&wrong, ct, ct_len, back, n), WC_E_VERIFY);
		if (n > 0)
			CHECK_EQ_INT(wc_attachment_decrypt(&att, ct, ct_len, back, n - 1), WC_E_SPACE);
		wc_attachment_wipe(&att);
		free(pt);
		free(ct);
		free(back);
	}
}

static void test_attachment_descriptor(void)
{
	wc_attachment a, b;
	uint8_t buf[WC_ATTACHMENT_DESCRIPTOR_MAX];
	size_t len;
	memset(&a, 0, sizeof a);
	randombytes_buf(a.key, 32);
	randombytes_buf(a.digest, 32);
	a.size = 123456;
	strcpy(a.media_type, "application/pdf");
	strcpy(a.file_name, "afgørelse.pdf");
	MUST(wc_attachment_encode(&a, buf, sizeof buf, &len) == WC_OK);
	CHECK_EQ_INT(len, 1 + 72 + 1 + 15 + 1 + strlen(a.file_name));
	MUST(wc_attachment_decode(buf, len, &b) == WC_OK);
	CHECK(memcmp(&a, &b, sizeof a) == 0);
	for (size_t l = 0; l < len; l++)
		CHECK(wc_attachment_decode(buf, l, &b) != WC_OK);
	buf[len] = 0;
	CHECK(wc_attachment_decode(buf, len + 1, &b) != WC_OK);
	buf[0] = 7;
	CHECK_EQ_INT(wc_attachment_decode(buf, len, &b), WC_E_VERSION);
}

static void test_safety_number_order_independent(void)
{
	wc_identity a, b;
	char ab[61], ba[61], aa[61];
	MUST(wc_identity_generate(&a) == WC_OK);
	MUST(wc_identity_generate(&b) == WC_OK);
	MUST(wc_safety_number(a.public_key, b.public_key, ab) == WC_OK);
	MUST(wc_safety_number(b.public_key, a.public_key, ba) == WC_OK);
	CHECK(strcmp(ab, ba) == 0);
	CHECK_EQ_INT(strlen(ab), 60);
	CHECK(strspn(ab, "0123456789") == 60);
	MUST(wc_safety_number(a.public_key, a.public_key, aa) == WC_OK);
	CHECK(strcmp(ab, aa) != 0);
	/* Changing one key changes its half. */
	uint8_t k[32];
	memcpy(k, b.public_key, 32);
	k[31] ^= 1;
	char ak[61];
	MUST(wc_safety_number(a.public_key, k, ak) == WC_OK);
	CHECK(strcmp(ab, ak) != 0);
	wc_identity_wipe(&a);
	wc_identity_wipe(&b);
}

int main(void)
{
	if (wc_init() != WC_OK)
		return 1;
	RUN(test_hkdf_rfc5869);
	RUN(test_padding_buckets);
	RUN(test_strerror_table);
	RUN(test_identity_and_x25519_form);
	RUN(test_prekeys);
	RUN(test_content_record);
	RUN(test_attachment_round_trip_and_tamper);
	RUN(test_attachment_descriptor);
	RUN(test_safety_number_order_independent);
	return TEST_RESULT();
}
