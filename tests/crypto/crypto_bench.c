/* SPDX-License-Identifier: MPL-2.0 */
/* Benchmark of the device cryptography. For each operation it prints the rate of the operation
 * and the rate of the raw libsodium calls that operation makes (same functions, same sizes, same
 * order, nothing else), and their ratio: the library's own overhead. Target: ratio <= 1.5.
 * A program, not a test: it prints figures and never fails on them. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "session_internal.h"

#define MSG_BYTES 1024
#define FANOUT_DEVICES 100

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs fn(i) for i = 0.. until min_s seconds passed; returns the rate per second. */
static double round_rate(void (*fn)(size_t), size_t *i, size_t max_iter, double min_s)
{
	size_t n = 0;
	double t0 = now(), t;
	do {
		for (int k = 0; k < 16 && *i < max_iter; k++, n++)
			fn((*i)++);
		t = now() - t0;
	} while (t < min_s && *i < max_iter);
	return n > 0 ? (double)n / t : 0;
}

/* Alternates rounds of the operation and of its raw calls, so that both see the same machine
 * load, and keeps the best round of each. */
static void compare(void (*op)(size_t), void (*raw)(size_t), double min_s, double *op_rate,
		    double *raw_rate)
{
	size_t i = 0, j = 0;
	*op_rate = *raw_rate = 0;
	for (int round = 0; round < 5; round++) {
		double a = round_rate(op, &i, SIZE_MAX, min_s);
		double b = round_rate(raw, &j, SIZE_MAX, min_s);
		if (a > *op_rate)
			*op_rate = a;
		if (b > *raw_rate)
			*raw_rate = b;
	}
}

static void fail(const char *what)
{
	fprintf(stderr, "crypto_bench: %s failed\n", what);
	exit(1);
}

/* ---- Raw primitive sequences ------------------------------------------------------------- */
static uint8_t k32[32], k32b[32], out32[32], okm[64], buf[FANOUT_DEVICES * 2048], nonce[24];
static uint8_t sig[64], msg66[66], ed_pk[32], ed_sk[64], ikm[160];

static void raw_hmac_state(const uint8_t *key, size_t key_len, size_t n1, size_t n2, size_t n3)
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, key_len);
	if (n1)
		crypto_auth_hmacsha256_update(&st, buf, n1);
	if (n2)
		crypto_auth_hmacsha256_update(&st, buf, n2);
	if (n3)
		crypto_auth_hmacsha256_update(&st, buf, n3);
	crypto_auth_hmacsha256_final(&st, out32);
}

/* HKDF with ikm_len input, info_len info, `blocks` output blocks. */
static void raw_hkdf(size_t ikm_len, size_t info_len, int blocks)
{
	raw_hmac_state(k32, 32, ikm_len, 0, 0);
	for (int b = 0; b < blocks; b++)
		raw_hmac_state(out32, 32, b ? 32 : 0, info_len, 1);
}

static void raw_kdf_ck(void)
{
	crypto_auth_hmacsha256(okm, buf, 22, k32);
	crypto_auth_hmacsha256(okm + 32, buf, 19, k32);
}

static void raw_message_keys(void)
{
	raw_hkdf(32, 20, 2);
}

static void raw_x3dh_initiate(size_t i)
{
	(void)i;
	if (crypto_sign_verify_detached(sig, msg66, sizeof msg66, ed_pk) != 0)
		fail("raw verify");
	if (crypto_sign_ed25519_pk_to_curve25519(out32, ed_pk) != 0)
		fail("raw pk convert");
	crypto_sign_ed25519_sk_to_curve25519(k32b, ed_sk);
	randombytes_buf(k32b, 32);
	crypto_scalarmult_base(out32, k32b);
	for (int d = 0; d < 4; d++)
		if (crypto_scalarmult(ikm + 32 * d, k32b, ed_pk) != 0) /* ed_pk stands in for a point */
			fail("raw dh");
	raw_hkdf(160, 13, 1);
	randombytes_buf(k32b, 32);
	crypto_scalarmult_base(out32, k32b);
	if (crypto_scalarmult(out32, k32b, ed_pk) != 0)
		fail("raw dh");
	raw_hkdf(32, 21, 2);
}

static void raw_ratchet_msg(size_t padded, int decrypt)
{
	raw_kdf_ck();
	raw_message_keys();
	if (!decrypt) {
		crypto_aead_xchacha20poly1305_ietf_encrypt(buf, NULL, buf, padded, buf + 1600, 64 + 42,
							   NULL, nonce, k32);
	} else {
		unsigned long long n;
		/* The ciphertext in buf was made by the encrypt call in setup. */
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(buf + 4096, &n, NULL, buf + 2048,
							       padded + 16, buf + 1600, 64 + 42,
							       nonce, k32) != 0)
			fail("raw decrypt");
		size_t u;
		if (sodium_unpad(&u, buf + 4096, padded, 256) != 0)
			fail("raw unpad");
	}
}

static void raw_x3dh_respond(size_t i)
{
	(void)i;
	if (crypto_sign_ed25519_pk_to_curve25519(out32, ed_pk) != 0)
		fail("raw pk convert");
	crypto_sign_ed25519_sk_to_curve25519(k32b, ed_sk);
	for (int d = 0; d < 4; d++)
		if (crypto_scalarmult(ikm + 32 * d, k32b, ed_pk) != 0)
			fail("raw dh");
	raw_hkdf(160, 13, 1);
	/* DH ratchet step of the first message, then its decryption (256-byte bucket). */
	if (crypto_scalarmult(out32, k32b, ed_pk) != 0)
		fail("raw dh");
	raw_hkdf(32, 21, 2);
	randombytes_buf(k32b, 32);
	crypto_scalarmult_base(out32, k32b);
	if (crypto_scalarmult(out32, k32b, ed_pk) != 0)
		fail("raw dh");
	raw_hkdf(32, 21, 2);
	raw_kdf_ck();
	raw_message_keys();
	unsigned long long n;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(buf + 4096, &n, NULL, buf + 8192, 256 + 16,
						       buf + 1600, 64 + 115, nonce, k32) != 0)
		fail("raw decrypt");
	size_t u;
	if (sodium_unpad(&u, buf + 4096, 256, 256) != 0)
		fail("raw unpad");
}

static void raw_encrypt_1k(size_t i)
{
	(void)i;
	raw_ratchet_msg(wc__padded_len(MSG_BYTES), 0);
}

static void raw_decrypt_1k(size_t i)
{
	(void)i;
	raw_ratchet_msg(wc__padded_len(MSG_BYTES), 1);
}

static void raw_fanout(size_t i)
{
	(void)i;
	size_t padded = wc__padded_len(WC_CONTENT_HEADER_BYTES + MSG_BYTES);
	for (int d = 0; d < FANOUT_DEVICES; d++) {
		raw_kdf_ck();
		raw_message_keys();
		crypto_aead_xchacha20poly1305_ietf_encrypt(buf, NULL, buf, padded, buf + 1600, 64 + 42,
							   NULL, nonce, k32);
	}
}

/* ---- Library operations ---------------------------------------------------------------- */
static wc_identity alice, bob;
static wc_signed_prekey spk;
static wc_one_time_prekey opk;
static wc_prekey_bundle bundle;
static uint8_t prekey_env[1024];
static size_t prekey_env_len;
static wc_session *sa, *sb, *fan[FANOUT_DEVICES];
static uint8_t plain[MSG_BYTES], out[WC_PLAINTEXT_MAX_BYTES + 4096];
#define DECRYPT_BATCH 60000
static uint8_t *batch;
static size_t batch_stride, batch_len[DECRYPT_BATCH];
static wc_content content;
static uint8_t *fan_out;
static size_t fan_lens[FANOUT_DEVICES];

static void op_x3dh_initiate(size_t i)
{
	(void)i;
	wc_session *s;
	if (wc_session_initiate(&alice, &bundle, &s) != WC_OK)
		fail("initiate");
	wc_session_free(s);
}

static void op_x3dh_respond(size_t i)
{
	(void)i;
	wc_one_time_prekey k = opk;
	wc_session *s;
	size_t n;
	if (wc_session_respond(&bob, &spk, &k, prekey_env, prekey_env_len, &s, out, sizeof out,
			       &n) != WC_OK)
		fail("respond");
	wc_session_free(s);
}

static void op_encrypt_1k(size_t i)
{
	(void)i;
	size_t n;
	if (wc_session_encrypt(sb, plain, sizeof plain, out, sizeof out, &n) != WC_OK)
		fail("encrypt");
}

static void op_decrypt_1k(size_t i)
{
	size_t n;
	if (wc_session_decrypt(sb, batch + i * batch_stride, batch_len[i], out, sizeof out, &n) !=
	    WC_OK)
		fail("decrypt");
}

static void op_fanout(size_t i)
{
	(void)i;
	if (wc_fanout_encrypt(fan, FANOUT_DEVICES, &content, fan_out,
			      wc_fanout_stride(&content) * FANOUT_DEVICES, fan_lens) != WC_OK)
		fail("fanout");
}

static void setup(void)
{
	size_t n;
	if (wc_init() != WC_OK || wc_identity_generate(&alice) != WC_OK ||
	    wc_identity_generate(&bob) != WC_OK ||
	    wc_signed_prekey_generate(&bob, 1, 1767225600000ull, &spk) != WC_OK ||
	    wc_one_time_prekeys_generate(1, 1, &opk) != WC_OK)
		fail("keys");
	memcpy(bundle.identity_key, bob.public_key, 32);
	bundle.signed_prekey_id = spk.id;
	bundle.signed_prekey_created_ms = spk.created_ms;
	memcpy(bundle.signed_prekey, spk.public_key, 32);
	memcpy(bundle.signed_prekey_signature, spk.signature, 64);
	bundle.has_one_time_prekey = 1;
	bundle.one_time_prekey_id = opk.id;
	memcpy(bundle.one_time_prekey, opk.public_key, 32);
	if (wc_session_initiate(&alice, &bundle, &sa) != WC_OK ||
	    wc_session_encrypt(sa, (const uint8_t *)"hello", 5, prekey_env, sizeof prekey_env,
			       &prekey_env_len) != WC_OK)
		fail("setup session");
	wc_one_time_prekey k = opk;
	if (wc_session_respond(&bob, &spk, &k, prekey_env, prekey_env_len, &sb, out, sizeof out,
			       &n) != WC_OK)
		fail("setup respond");
	randombytes_buf(plain, sizeof plain);
	/* Envelopes for the decrypt benchmark, all from Alice's current chain after a reply. */
	uint8_t reply[1024];
	if (wc_session_encrypt(sb, (const uint8_t *)"r", 1, reply, sizeof reply, &n) != WC_OK ||
	    wc_session_decrypt(sa, reply, n, out, sizeof out, &n) != WC_OK)
		fail("setup reply");
	batch_stride = wc_session_envelope_size(sa, MSG_BYTES);
	batch = malloc(batch_stride * DECRYPT_BATCH);
	if (!batch)
		fail("malloc");
	for (size_t i = 0; i < DECRYPT_BATCH; i++)
		if (wc_session_encrypt(sa, plain, sizeof plain, batch + i * batch_stride, batch_stride,
				       &batch_len[i]) != WC_OK)
			fail("setup batch");
	/* Fan-out sessions: 100 established sessions from Alice. */
	for (int d = 0; d < FANOUT_DEVICES; d++) {
		wc_session *peer = NULL;
		uint8_t e[1024];
		k = opk;
		if (wc_session_initiate(&alice, &bundle, &fan[d]) != WC_OK ||
		    wc_session_encrypt(fan[d], (const uint8_t *)"hi", 2, e, sizeof e, &n) != WC_OK ||
		    wc_session_respond(&bob, &spk, &k, e, n, &peer, out, sizeof out, &n) != WC_OK)
			fail("setup fanout");
		wc_session_free(peer);
	}
	memset(&content, 0, sizeof content);
	content.kind = WC_KIND_TEXT;
	content.body = plain;
	content.body_len = sizeof plain;
	fan_out = malloc(wc_fanout_stride(&content) * FANOUT_DEVICES);
	if (!fan_out)
		fail("malloc");
	/* Inputs for the raw sequences: a valid signature and a valid AEAD ciphertext. */
	memcpy(ed_pk, bob.public_key, 32);
	memcpy(ed_sk, bob.secret_key, 64);
	crypto_sign_detached(sig, NULL, msg66, sizeof msg66, ed_sk);
	randombytes_buf(k32, 32);
	randombytes_buf(nonce, sizeof nonce);
	size_t padded = wc__padded_len(MSG_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(buf + 2048, NULL, buf + 2048 + 8192, padded,
						   buf + 1600, 64 + 42, NULL, nonce, k32);
	memset(buf + 2048 + 8192, 0, 1);
	wc__pad(buf + 4096, MSG_BYTES, buf + 4096);
	crypto_aead_xchacha20poly1305_ietf_encrypt(buf + 2048, NULL, buf + 4096, padded, buf + 1600,
						   64 + 42, NULL, nonce, k32);
	wc__pad(buf + 4096, 5, buf + 4096);
	crypto_aead_xchacha20poly1305_ietf_encrypt(buf + 8192, NULL, buf + 4096, 256, buf + 1600,
						   64 + 115, NULL, nonce, k32);
}

static void row(const char *name, double op, double raw)
{
	printf("| %-36s | %12.0f | %12.0f | %5.2f |\n", name, op, raw, raw / op);
}

int main(int argc, char **argv)
{
	double min_s = argc > 1 ? atof(argv[1]) : 0.2;
	setup();
	printf("libsodium %s, %d-byte messages, fan-out to %d devices\n\n", sodium_version_string(),
	       MSG_BYTES, FANOUT_DEVICES);
	printf("| %-36s | %12s | %12s | %5s |\n", "operation", "ops/s", "primitives/s", "ratio");
	printf("|%s|%s|%s|%s|\n", "--------------------------------------", "--------------",
	       "--------------", "-------");
	double a, b;
	compare(op_x3dh_initiate, raw_x3dh_initiate, min_s, &a, &b);
	row("X3DH initiate (incl. ratchet init)", a, b);
	compare(op_x3dh_respond, raw_x3dh_respond, min_s, &a, &b);
	row("X3DH respond (incl. first decrypt)", a, b);
	compare(op_encrypt_1k, raw_encrypt_1k, min_s, &a, &b);
	row("ratchet encrypt 1 KiB", a, b);
	/* Decrypt consumes its envelopes in order: rounds walk through the batch. */
	size_t i = 0, j = 0;
	a = b = 0;
	for (int round = 0; round < 5; round++) {
		double x = round_rate(op_decrypt_1k, &i, DECRYPT_BATCH, min_s / 2);
		double y = round_rate(raw_decrypt_1k, &j, SIZE_MAX, min_s / 2);
		a = x > a ? x : a;
		b = y > b ? y : b;
	}
	row("ratchet decrypt 1 KiB", a, b);
	compare(op_fanout, raw_fanout, min_s, &a, &b);
	row("fan-out 1 KiB record to 100 devices", a, b);
	printf("\nratio = operation time / time of its raw libsodium calls (target <= 1.5)\n");
	wc_session_free(sa);
	wc_session_free(sb);
	for (int d = 0; d < FANOUT_DEVICES; d++)
		wc_session_free(fan[d]);
	free(batch);
	free(fan_out);
	wc_identity_wipe(&alice);
	wc_identity_wipe(&bob);
	return 0;
}
