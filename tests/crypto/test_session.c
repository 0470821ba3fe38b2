/* SPDX-License-Identifier: MPL-2.0 */
/* X3DH and Double Ratchet behaviour: conversations, tampering, replay, ordering, limits,
 * identity binding, prekey rules and state at rest. */
#include "crypto_test_util.h"

static struct party alice, bob, carol;

static void test_conversation_both_directions(void)
{
	wc_session *sa = NULL, *sb = NULL;
	struct env e;
	MUST(establish(&alice, &bob, 0, &sa, &sb) == WC_OK);
	/* Until Bob replies Alice keeps sending prekey envelopes. */
	CHECK_EQ_INT(enc_text(sa, "second", &e), WC_OK);
	CHECK_EQ_INT(e.buf[1], WC__TYPE_PREKEY);
	CHECK_EQ_INT(dec_expect(sb, &e, "second"), WC_OK);
	CHECK_EQ_INT(enc_text(sb, "reply", &e), WC_OK);
	CHECK_EQ_INT(e.buf[1], WC__TYPE_MESSAGE);
	CHECK_EQ_INT(dec_expect(sa, &e, "reply"), WC_OK);
	CHECK_EQ_INT(enc_text(sa, "after reply", &e), WC_OK);
	CHECK_EQ_INT(e.buf[1], WC__TYPE_MESSAGE);
	CHECK_EQ_INT(dec_expect(sb, &e, "after reply"), WC_OK);
	for (int i = 0; i < 10; i++) {
		wc_session *from = i % 3 ? sa : sb, *to = i % 3 ? sb : sa;
		char text[32];
		snprintf(text, sizeof text, "ping %d", i);
		CHECK_EQ_INT(enc_text(from, text, &e), WC_OK);
		CHECK_EQ_INT(dec_expect(to, &e, text), WC_OK);
	}
	uint8_t rid[32];
	wc_session_remote_identity(sb, rid);
	CHECK_MEM(rid, alice.id.public_key, 32);
	wc_session_remote_identity(sa, rid);
	CHECK_MEM(rid, bob.id.public_key, 32);
	/* Empty plaintexts are valid. */
	CHECK_EQ_INT(enc_text(sa, "", &e), WC_OK);
	CHECK_EQ_INT(dec_expect(sb, &e, ""), WC_OK);
	wc_session_free(sa);
	wc_session_free(sb);
}

static void test_without_one_time_prekey(void)
{
	wc_session *sa = NULL, *sb = NULL;
	struct env e;
	wc_envelope_info info;
	wc_prekey_bundle b;
	party_bundle(&bob, -1, &b);
	MUST(wc_session_initiate(&alice.id, &b, &sa) == WC_OK);
	MUST(enc_text(sa, "no opk", &e) == WC_OK);
	MUST(wc_envelope_peek(e.buf, e.len, &info) == WC_OK);
	CHECK(info.is_prekey);
	CHECK(!info.has_one_time_prekey);
	CHECK_EQ_INT(info.one_time_prekey_id, 0);
	uint8_t pt[1024];
	size_t n;
	/* Passing a one-time prekey the envelope does not name is refused. */
	CHECK_EQ_INT(wc_session_respond(&bob.id, &bob.spk, &bob.opk[3], e.buf, e.len, &sb, pt,
					sizeof pt, &n),
		     WC_E_PREKEY);
	CHECK_EQ_INT(wc_session_respond(&bob.id, &bob.spk, NULL, e.buf, e.len, &sb, pt, sizeof pt, &n),
		     WC_OK);
	CHECK(n == 6 && memcmp(pt, "no opk", 6) == 0);
	wc_session_free(sa);
	wc_session_free(sb);
}

static void test_every_bit_flip_rejected(void)
{
	struct party b2;
	party_make(&b2, 9);
	wc_session *sa = NULL, *sb = NULL;
	wc_prekey_bundle bundle;
	struct env e, bad;
	uint8_t pt[2048];
	size_t n;

	/* Prekey envelope: every flipped bit fails wc_session_respond, and the one-time prekey
	 * survives every failure. */
	party_bundle(&b2, 1, &bundle);
	MUST(wc_session_initiate(&alice.id, &bundle, &sa) == WC_OK);
	MUST(enc_text(sa, "tamper with me", &e) == WC_OK);
	int accepted = 0;
	for (size_t bit = 0; bit < e.len * 8; bit++) {
		bad = e;
		bad.buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		wc_session *tmp = NULL;
		int rc = wc_session_respond(&b2.id, &b2.spk, &b2.opk[1], bad.buf, bad.len, &tmp, pt,
					    sizeof pt, &n);
		if (rc == WC_OK) {
			accepted++;
			wc_session_free(tmp);
		}
	}
	CHECK_EQ_INT(accepted, 0);
	CHECK(!sodium_is_zero(b2.opk[1].secret_key, 32));
	MUST(wc_session_respond(&b2.id, &b2.spk, &b2.opk[1], e.buf, e.len, &sb, pt, sizeof pt,
				   &n) == WC_OK);

	/* Ratchet envelope, both a same-chain message and one that starts a DH ratchet step:
	 * every flipped bit fails and leaves the session exactly as it was. */
	struct env reply;
	MUST(enc_text(sb, "reply", &reply) == WC_OK);
	MUST(dec_expect(sa, &reply, "reply") == WC_OK);
	MUST(enc_text(sa, "first of chain", &e) == WC_OK); /* new DH key: ratchet step at Bob */
	struct snapshot snap;
	snapshot_take(sb, &snap);
	accepted = 0;
	for (size_t bit = 0; bit < e.len * 8; bit++) {
		bad = e;
		bad.buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (wc_session_decrypt(sb, bad.buf, bad.len, pt, sizeof pt, &n) == WC_OK)
			accepted++;
	}
	CHECK_EQ_INT(accepted, 0);
	CHECK(snapshot_same(sb, &snap));
	snapshot_free(&snap);
	CHECK_EQ_INT(dec_expect(sb, &e, "first of chain"), WC_OK);

	MUST(enc_text(sa, "same chain", &e) == WC_OK);
	snapshot_take(sb, &snap);
	accepted = 0;
	for (size_t bit = 0; bit < e.len * 8; bit++) {
		bad = e;
		bad.buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (wc_session_decrypt(sb, bad.buf, bad.len, pt, sizeof pt, &n) == WC_OK)
			accepted++;
	}
	/* Truncations and extensions too. */
	for (size_t len = 0; len < e.len; len++)
		if (wc_session_decrypt(sb, e.buf, len, pt, sizeof pt, &n) == WC_OK)
			accepted++;
	bad = e;
	bad.buf[bad.len++] = 0;
	if (wc_session_decrypt(sb, bad.buf, bad.len, pt, sizeof pt, &n) == WC_OK)
		accepted++;
	CHECK_EQ_INT(accepted, 0);
	CHECK(snapshot_same(sb, &snap));
	snapshot_free(&snap);
	CHECK_EQ_INT(dec_expect(sb, &e, "same chain"), WC_OK);
	wc_session_free(sa);
	wc_session_free(sb);
	party_wipe(&b2);
}

static void test_replay_rejected(void)
{
	wc_session *sa = NULL, *sb = NULL;
	struct env m1, m2, m3, r;
	struct party b2;
	party_make(&b2, 3);
	MUST(establish(&alice, &b2, 0, &sa, &sb) == WC_OK);
	MUST(enc_text(sa, "one", &m1) == WC_OK);
	MUST(enc_text(sa, "two", &m2) == WC_OK);
	CHECK_EQ_INT(dec_expect(sb, &m1, "one"), WC_OK);
	CHECK_EQ_INT(dec_expect(sb, &m1, "one"), WC_E_VERIFY); /* same chain, consumed key */
	/* Out of order: m2 first skips nothing; deliver m2, replay m2. */
	CHECK_EQ_INT(dec_expect(sb, &m2, "two"), WC_OK);
	CHECK_EQ_INT(dec_expect(sb, &m2, "two"), WC_E_VERIFY);
	/* A skipped key is used once: m3 skipped, delivered, replayed. */
	MUST(enc_text(sa, "three", &m3) == WC_OK);
	MUST(enc_text(sa, "four", &r) == WC_OK);
	CHECK_EQ_INT(dec_expect(sb, &r, "four"), WC_OK);
	CHECK_EQ_INT(dec_expect(sb, &m3, "three"), WC_OK);
	CHECK_EQ_INT(dec_expect(sb, &m3, "three"), WC_E_VERIFY);
	CHECK_EQ_INT(dec_expect(sb, &r, "four"), WC_E_VERIFY);
	/* After a DH ratchet step, a message of an old chain replayed. */
	MUST(enc_text(sb, "turn", &r) == WC_OK);
	MUST(dec_expect(sa, &r, "turn") == WC_OK);
	MUST(enc_text(sa, "new chain", &r) == WC_OK);
	MUST(dec_expect(sb, &r, "new chain") == WC_OK);
	struct snapshot snap;
	snapshot_take(sb, &snap);
	CHECK_EQ_INT(dec_expect(sb, &m1, "one"), WC_E_VERIFY);
	CHECK_EQ_INT(dec_expect(sb, &m3, "three"), WC_E_VERIFY);
	CHECK(snapshot_same(sb, &snap));
	snapshot_free(&snap);
	/* The responder's very first envelope replayed into the established session. */
	wc_session_free(sa);
	wc_session_free(sb);
	party_wipe(&b2);
}

static void test_out_of_order_within_limit(void)
{
	wc_session *sa = NULL, *sb = NULL;
	struct party b2;
	party_make(&b2, 4);
	MUST(establish(&alice, &b2, 2, &sa, &sb) == WC_OK);
	enum { N = 20 };
	struct env *m = malloc(sizeof *m * (N + 4));
	MUST(m != NULL);
	char text[32];
	for (int i = 0; i < N; i++) {
		snprintf(text, sizeof text, "msg %d", i);
		MUST(enc_text(sa, text, &m[i]) == WC_OK);
	}
	/* Deliver in a scrambled order: evens descending, then odds ascending. */
	for (int i = N - 2; i >= 0; i -= 2) {
		snprintf(text, sizeof text, "msg %d", i);
		CHECK_EQ_INT(dec_expect(sb, &m[i], text), WC_OK);
	}
	for (int i = 1; i < N; i += 2) {
		snprintf(text, sizeof text, "msg %d", i);
		CHECK_EQ_INT(dec_expect(sb, &m[i], text), WC_OK);
	}
	CHECK_EQ_INT(sb->nskipped, 0);
	/* Across a DH ratchet step: Alice sends a, b on one chain; Bob replies; Alice sends c on
	 * the next chain. Bob receives c first (skips a, b via PN), then b, then a. */
	struct env a, b, c, r;
	MUST(enc_text(sb, "bob speaks", &r) == WC_OK);
	MUST(enc_text(sa, "a", &a) == WC_OK);
	MUST(enc_text(sa, "b", &b) == WC_OK);
	MUST(dec_expect(sa, &r, "bob speaks") == WC_OK);
	MUST(enc_text(sa, "c", &c) == WC_OK);
	CHECK_EQ_INT(dec_expect(sb, &c, "c"), WC_OK);
	CHECK_EQ_INT(sb->nskipped, 2);
	CHECK_EQ_INT(dec_expect(sb, &b, "b"), WC_OK);
	CHECK_EQ_INT(dec_expect(sb, &a, "a"), WC_OK);
	CHECK_EQ_INT(sb->nskipped, 0);
	free(m);
	wc_session_free(sa);
	wc_session_free(sb);
	party_wipe(&b2);
}

static void test_out_of_order_beyond_limit(void)
{
	wc_session *sa = NULL, *sb = NULL;
	struct party b2;
	party_make(&b2, 5);
	MUST(establish(&alice, &b2, 0, &sa, &sb) == WC_OK);
	/* Bob has consumed n = 0 ("hello"), so Nr = 1. A message n is accepted while
	 * n - Nr <= WC_MAX_SKIP. */
	struct env e;
	for (uint32_t i = 1; i < 1 + WC_MAX_SKIP + 1; i++)
		MUST(enc_text(sa, "filler", &e) == WC_OK);
	struct env far;
	MUST(enc_text(sa, "too far", &far) == WC_OK); /* n = WC_MAX_SKIP + 2 */
	struct snapshot snap;
	snapshot_take(sb, &snap);
	CHECK_EQ_INT(dec_expect(sb, &far, "too far"), WC_E_SKIP_LIMIT);
	CHECK(snapshot_same(sb, &snap));
	snapshot_free(&snap);
	/* e has n = WC_MAX_SKIP + 1: exactly at the limit. */
	CHECK_EQ_INT(dec_expect(sb, &e, "filler"), WC_OK);
	CHECK_EQ_INT(sb->nskipped, WC_MAX_SKIP);
	CHECK_EQ_INT(dec_expect(sb, &far, "too far"), WC_OK);
	wc_session_free(sa);
	wc_session_free(sb);
	party_wipe(&b2);
}

static void test_skipped_keys_bounded(void)
{
	/* Three chains with 900 skipped keys each: the session keeps the newest
	 * WC_MAX_SKIPPED_KEYS and the oldest ones fail cleanly. */
	wc_session *sa = NULL, *sb = NULL;
	struct party b2;
	party_make(&b2, 6);
	MUST(establish(&alice, &b2, 0, &sa, &sb) == WC_OK);
	struct env first_skipped[3], e, r;
	for (int chain = 0; chain < 3; chain++) {
		MUST(enc_text(sa, "skipped", &first_skipped[chain]) == WC_OK);
		for (int i = 1; i < 900; i++)
			MUST(enc_text(sa, "skipped", &e) == WC_OK);
		MUST(enc_text(sa, "delivered", &e) == WC_OK);
		MUST(dec_expect(sb, &e, "delivered") == WC_OK);
		MUST(enc_text(sb, "turn", &r) == WC_OK);
		MUST(dec_expect(sa, &r, "turn") == WC_OK);
	}
	CHECK_EQ_INT(sb->nskipped, WC_MAX_SKIPPED_KEYS);
	CHECK_EQ_INT(dec_expect(sb, &first_skipped[0], "skipped"), WC_E_VERIFY);
	CHECK_EQ_INT(dec_expect(sb, &first_skipped[2], "skipped"), WC_OK);
	CHECK_EQ_INT(dec_expect(sb, &first_skipped[1], "skipped"), WC_OK);
	wc_session_free(sa);
	wc_session_free(sb);
	party_wipe(&b2);
}

static void test_wrong_identity_fails(void)
{
	wc_session *sa = NULL, *sb = NULL;
	wc_prekey_bundle b;
	struct env e;
	uint8_t pt[1024];
	size_t n;
	struct party b2;
	party_make(&b2, 7);
	party_bundle(&b2, 0, &b);
	MUST(wc_session_initiate(&alice.id, &b, &sa) == WC_OK);
	MUST(enc_text(sa, "for bob only", &e) == WC_OK);
	/* Carol holds Bob's prekeys (e.g. a malicious relay swapped them) but not his identity. */
	CHECK_EQ_INT(wc_session_respond(&carol.id, &b2.spk, &b2.opk[0], e.buf, e.len, &sb, pt,
					sizeof pt, &n),
		     WC_E_VERIFY);
	CHECK(!sodium_is_zero(b2.opk[0].secret_key, 32));
	/* A bundle claiming Carol's identity with Bob's signed prekey fails the signature. */
	memcpy(b.identity_key, carol.id.public_key, 32);
	wc_session *tmp = NULL;
	CHECK_EQ_INT(wc_session_initiate(&alice.id, &b, &tmp), WC_E_VERIFY);
	/* An envelope whose sender identity was swapped for Carol's does not decrypt. */
	struct env forged = e;
	memcpy(forged.buf + 2, carol.id.public_key, 32);
	CHECK_EQ_INT(wc_session_respond(&b2.id, &b2.spk, &b2.opk[0], forged.buf, forged.len, &sb,
					pt, sizeof pt, &n),
		     WC_E_VERIFY);
	/* The genuine one still works, and the session is bound to Alice. */
	MUST(wc_session_respond(&b2.id, &b2.spk, &b2.opk[0], e.buf, e.len, &sb, pt, sizeof pt,
				   &n) == WC_OK);
	/* A message from another session (Carol to Bob) does not decrypt in Alice's session. */
	wc_session *sc = NULL, *sb2 = NULL;
	struct party b3;
	party_make(&b3, 8);
	MUST(establish(&carol, &b3, 0, &sc, &sb2) == WC_OK);
	struct env x, y;
	MUST(enc_text(sb2, "to carol", &x) == WC_OK);
	CHECK_EQ_INT(dec_expect(sa, &x, "to carol"), WC_E_VERIFY);
	MUST(enc_text(sc, "carol again", &y) == WC_OK); /* prekey envelope of another session */
	CHECK_EQ_INT(dec_expect(sb, &y, "carol again"), WC_E_SESSION);
	wc_session_free(sc);
	wc_session_free(sb2);
	wc_session_free(sa);
	wc_session_free(sb);
	party_wipe(&b2);
	party_wipe(&b3);
}

static void test_one_time_prekey_used_twice_fails(void)
{
	wc_session *sa = NULL, *sb = NULL, *sb2 = NULL, *sa2 = NULL;
	wc_prekey_bundle b;
	struct env e, e2;
	uint8_t pt[1024];
	size_t n;
	struct party b2;
	party_make(&b2, 10);
	party_bundle(&b2, 1, &b);
	MUST(wc_session_initiate(&alice.id, &b, &sa) == WC_OK);
	MUST(enc_text(sa, "first", &e) == WC_OK);
	MUST(wc_session_respond(&b2.id, &b2.spk, &b2.opk[1], e.buf, e.len, &sb, pt, sizeof pt,
				   &n) == WC_OK);
	CHECK(sodium_is_zero(b2.opk[1].secret_key, 32)); /* deleted after first use */
	/* The same envelope again (a replayed session start) is refused. */
	CHECK_EQ_INT(wc_session_respond(&b2.id, &b2.spk, &b2.opk[1], e.buf, e.len, &sb2, pt,
					sizeof pt, &n),
		     WC_E_PREKEY);
	/* Another initiator that was handed the same one-time prekey is refused too. */
	MUST(wc_session_initiate(&carol.id, &b, &sa2) == WC_OK);
	MUST(enc_text(sa2, "second", &e2) == WC_OK);
	CHECK_EQ_INT(wc_session_respond(&b2.id, &b2.spk, &b2.opk[1], e2.buf, e2.len, &sb2, pt,
					sizeof pt, &n),
		     WC_E_PREKEY);
	/* Wrong or missing one-time prekey. */
	CHECK_EQ_INT(wc_session_respond(&b2.id, &b2.spk, &b2.opk[2], e2.buf, e2.len, &sb2, pt,
					sizeof pt, &n),
		     WC_E_PREKEY);
	CHECK_EQ_INT(wc_session_respond(&b2.id, &b2.spk, NULL, e2.buf, e2.len, &sb2, pt, sizeof pt,
					&n),
		     WC_E_PREKEY);
	/* But the established session still accepts further prekey envelopes of its own. */
	MUST(enc_text(sa, "still prekey", &e) == WC_OK);
	CHECK_EQ_INT(dec_expect(sb, &e, "still prekey"), WC_OK);
	CHECK(sb2 == NULL);
	wc_session_free(sa);
	wc_session_free(sa2);
	wc_session_free(sb);
	party_wipe(&b2);
}

static void test_bad_signed_prekey_refused(void)
{
	wc_prekey_bundle b, bad;
	wc_session *s = NULL;
	party_bundle(&bob, 0, &b);
	CHECK_EQ_INT(wc_signed_prekey_verify(b.identity_key, b.signed_prekey_id, b.signed_prekey,
					     b.signed_prekey_created_ms, b.signed_prekey_signature),
		     WC_OK);
	for (int bit = 0; bit < 64 * 8; bit++) {
		bad = b;
		bad.signed_prekey_signature[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		CHECK_EQ_INT(wc_session_initiate(&alice.id, &bad, &s), WC_E_VERIFY);
	}
	for (int bit = 0; bit < 32 * 8; bit++) {
		bad = b;
		bad.signed_prekey[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		CHECK_EQ_INT(wc_signed_prekey_verify(bad.identity_key, bad.signed_prekey_id,
						     bad.signed_prekey, bad.signed_prekey_created_ms,
						     bad.signed_prekey_signature),
			     WC_E_VERIFY);
	}
	CHECK_EQ_INT(wc_signed_prekey_verify(b.identity_key, b.signed_prekey_id + 1, b.signed_prekey,
					     b.signed_prekey_created_ms, b.signed_prekey_signature),
		     WC_E_VERIFY);
	CHECK_EQ_INT(wc_signed_prekey_verify(b.identity_key, b.signed_prekey_id, b.signed_prekey,
					     b.signed_prekey_created_ms + 1,
					     b.signed_prekey_signature),
		     WC_E_VERIFY);
	CHECK_EQ_INT(wc_signed_prekey_verify(alice.id.public_key, b.signed_prekey_id,
					     b.signed_prekey, b.signed_prekey_created_ms,
					     b.signed_prekey_signature),
		     WC_E_VERIFY);
	CHECK(s == NULL);
}

static void test_low_order_keys_refused(void)
{
	/* A signed prekey that is a low-order point yields an all-zero DH: refused. */
	wc_identity evil;
	MUST(wc_identity_generate(&evil) == WC_OK);
	wc_prekey_bundle b;
	memset(&b, 0, sizeof b);
	memcpy(b.identity_key, evil.public_key, 32);
	b.signed_prekey_id = 1;
	/* b.signed_prekey stays all zero: the identity point of order 1. */
	uint8_t msg[WC_SIGNED_PREKEY_MESSAGE_BYTES];
	wc_signed_prekey_message(1, b.signed_prekey, 0, msg);
	crypto_sign_detached(b.signed_prekey_signature, NULL, msg, sizeof msg, evil.secret_key);
	wc_session *s = NULL;
	CHECK_EQ_INT(wc_session_initiate(&alice.id, &b, &s), WC_E_VERIFY);
	wc_identity_wipe(&evil);
}

static void test_state_save_load_round_trip(void)
{
	wc_session *sa = NULL, *sb = NULL, *loaded = NULL;
	uint8_t key[WC_STORAGE_KEY_BYTES], other[WC_STORAGE_KEY_BYTES];
	struct party b2;
	struct env e, skipped;
	party_make(&b2, 11);
	randombytes_buf(key, sizeof key);
	randombytes_buf(other, sizeof other);
	MUST(establish(&alice, &b2, 0, &sa, &sb) == WC_OK);
	MUST(enc_text(sa, "kept for later", &skipped) == WC_OK);
	MUST(enc_text(sa, "now", &e) == WC_OK);
	MUST(dec_expect(sb, &e, "now") == WC_OK); /* one skipped key in the state */

	size_t cap = wc_session_sealed_size(sb), len = 0;
	uint8_t *sealed = malloc(cap);
	MUST(sealed != NULL);
	CHECK_EQ_INT(wc_session_seal(sb, key, sealed, cap - 1, &len), WC_E_SPACE);
	MUST(wc_session_seal(sb, key, sealed, cap, &len) == WC_OK);
	CHECK_EQ_INT(len, cap);
	MUST(wc_session_unseal(key, sealed, len, &loaded) == WC_OK);
	struct snapshot snap;
	snapshot_take(sb, &snap);
	CHECK(snapshot_same(loaded, &snap));
	snapshot_free(&snap);
	/* The loaded session carries on: the skipped key, then both directions. */
	CHECK_EQ_INT(dec_expect(loaded, &skipped, "kept for later"), WC_OK);
	MUST(enc_text(loaded, "from disk", &e) == WC_OK);
	CHECK_EQ_INT(dec_expect(sa, &e, "from disk"), WC_OK);
	MUST(enc_text(sa, "to disk", &e) == WC_OK);
	CHECK_EQ_INT(dec_expect(loaded, &e, "to disk"), WC_OK);

	/* Wrong key, any flipped bit, truncation, unknown version. */
	wc_session *x = NULL;
	CHECK_EQ_INT(wc_session_unseal(other, sealed, len, &x), WC_E_VERIFY);
	int accepted = 0;
	for (size_t bit = 8; bit < len * 8; bit++) {
		sealed[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (wc_session_unseal(key, sealed, len, &x) == WC_OK) {
			accepted++;
			wc_session_free(x);
		}
		sealed[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	CHECK_EQ_INT(accepted, 0);
	CHECK_EQ_INT(wc_session_unseal(key, sealed, len - 1, &x), WC_E_VERIFY);
	CHECK_EQ_INT(wc_session_unseal(key, sealed, 10, &x), WC_E_FORMAT);
	sealed[0] = 2;
	CHECK_EQ_INT(wc_session_unseal(key, sealed, len, &x), WC_E_VERSION);
	CHECK(x == NULL);
	free(sealed);
	wc_session_free(loaded);
	wc_session_free(sa);
	wc_session_free(sb);
	party_wipe(&b2);
}

static void test_fanout_to_many_devices(void)
{
	enum { DEVICES = 6 };
	struct party *rx = calloc(DEVICES, sizeof *rx);
	wc_session *send[DEVICES], *recv[DEVICES];
	MUST(rx != NULL);
	for (int i = 0; i < DEVICES; i++) {
		party_make(&rx[i], 20 + (uint32_t)i);
		MUST(establish(&alice, &rx[i], i % 2 ? -1 : 0, &send[i], &recv[i]) == WC_OK);
	}
	static const char body[] = "Kære borger, din sag er nu behandlet.";
	wc_content c;
	memset(&c, 0, sizeof c);
	randombytes_buf(c.message_id, 16);
	randombytes_buf(c.conversation_id, 16);
	memset(c.sender_account, 0xa1, 16);
	memset(c.sender_device, 0xd1, 16);
	c.kind = WC_KIND_TEXT;
	c.sent_ms = 1767225600123ull;
	c.body = (const uint8_t *)body;
	c.body_len = sizeof body - 1;
	size_t stride = wc_fanout_stride(&c);
	uint8_t *out = malloc(stride * DEVICES);
	size_t lens[DEVICES];
	MUST(out != NULL);
	CHECK_EQ_INT(wc_fanout_encrypt(send, DEVICES, &c, out, stride * DEVICES - 1, lens),
		     WC_E_SPACE);
	MUST(wc_fanout_encrypt(send, DEVICES, &c, out, stride * DEVICES, lens) == WC_OK);
	for (int i = 0; i < DEVICES; i++) {
		uint8_t pt[4096];
		size_t n;
		wc_content got;
		MUST(wc_session_decrypt(recv[i], out + (size_t)i * stride, lens[i], pt, sizeof pt,
					   &n) == WC_OK);
		MUST(wc_content_decode(pt, n, &got) == WC_OK);
		CHECK_MEM(got.message_id, c.message_id, 16);
		CHECK_MEM(got.conversation_id, c.conversation_id, 16);
		CHECK_MEM(got.sender_account, c.sender_account, 16);
		CHECK_MEM(got.sender_device, c.sender_device, 16);
		CHECK_EQ_INT(got.kind, WC_KIND_TEXT);
		CHECK_EQ_INT(got.sent_ms, c.sent_ms);
		CHECK(got.body_len == c.body_len && memcmp(got.body, body, c.body_len) == 0);
		/* Each device's envelope fails in every other device's session. */
		if (i > 0)
			CHECK(wc_session_decrypt(recv[i - 1], out + (size_t)i * stride, lens[i], pt,
						 sizeof pt, &n) != WC_OK);
	}
	for (int i = 0; i < DEVICES; i++) {
		wc_session_free(send[i]);
		wc_session_free(recv[i]);
		party_wipe(&rx[i]);
	}
	free(out);
	free(rx);
}

static void test_plaintext_limits(void)
{
	wc_session *sa = NULL, *sb = NULL;
	struct party b2;
	party_make(&b2, 12);
	MUST(establish(&alice, &b2, 0, &sa, &sb) == WC_OK);
	uint8_t *big = calloc(1, WC_PLAINTEXT_MAX_BYTES + 1);
	size_t cap = wc_session_envelope_size(sa, WC_PLAINTEXT_MAX_BYTES);
	uint8_t *out = malloc(cap), *pt = malloc(cap);
	size_t len, n;
	MUST(big && out && pt);
	CHECK_EQ_INT(wc_session_encrypt(sa, big, WC_PLAINTEXT_MAX_BYTES + 1, out, cap, &len),
		     WC_E_TOO_LARGE);
	CHECK_EQ_INT(wc_session_encrypt(sa, big, WC_PLAINTEXT_MAX_BYTES, out, cap - 1, &len),
		     WC_E_SPACE);
	MUST(wc_session_encrypt(sa, big, WC_PLAINTEXT_MAX_BYTES, out, cap, &len) == WC_OK);
	CHECK_EQ_INT(len, cap);
	CHECK_EQ_INT(wc_session_decrypt(sb, out, len, pt, 100, &n), WC_E_SPACE);
	CHECK_EQ_INT(wc_session_decrypt(sb, out, len, pt, wc_envelope_plaintext_max(len), &n), WC_OK);
	CHECK_EQ_INT(n, WC_PLAINTEXT_MAX_BYTES);
	/* Envelope sizes hide exact lengths: 0..255 bytes all give the same size. */
	CHECK_EQ_INT(wc_session_envelope_size(sa, 0), wc_session_envelope_size(sa, 255));
	CHECK(wc_session_envelope_size(sa, 255) < wc_session_envelope_size(sa, 256));
	free(big);
	free(out);
	free(pt);
	wc_session_free(sa);
	wc_session_free(sb);
	party_wipe(&b2);
}

/* A long conversation in both directions with random interleaving, out-of-order delivery, replays,
 * corrupted copies and save/load cycles: every message decrypts exactly once to what was sent. */
static void test_random_conversation(void)
{
	enum { STEPS = 3000, INFLIGHT = 24 };
	struct msg {
		struct env e;
		char text[32];
		int delivered;
	};
	struct msg *q[2][INFLIGHT]; /* q[d]: in flight towards party d (0 = Alice, 1 = Bob) */
	int nq[2] = {0, 0}, sent = 0, received = 0, rejected = 0;
	wc_session *s[2] = {NULL, NULL};
	uint8_t key[WC_STORAGE_KEY_BYTES];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	struct party b2;
	party_make(&b2, 30);
	randombytes_buf(key, sizeof key);
	MUST(establish(&alice, &b2, 0, &s[0], &s[1]) == WC_OK);
	for (int step = 0; step < STEPS; step++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int from = (int)(x % 2), to = 1 - from, action = (int)((x >> 8) % 10);
		if (action < 4 && nq[to] < INFLIGHT) {
			struct msg *m = calloc(1, sizeof *m);
			MUST(m != NULL);
			snprintf(m->text, sizeof m->text, "m%d from %d", step, from);
			MUST(enc_text(s[from], m->text, &m->e) == WC_OK);
			q[to][nq[to]++] = m;
			sent++;
		} else if (action < 8 && nq[from] > 0) {
			/* `from` receives one of its in-flight messages, chosen at random. */
			int i = (int)((x >> 16) % (uint64_t)nq[from]);
			struct msg *m = q[from][i];
			if (m->delivered) { /* already delivered: a replay */
				CHECK_EQ_INT(dec_expect(s[from], &m->e, m->text), WC_E_VERIFY);
				rejected++;
				free(m);
				q[from][i] = q[from][--nq[from]];
				continue;
			}
			if ((x >> 24) % 4 == 0) { /* a corrupted copy first */
				struct env bad = m->e;
				bad.buf[(x >> 32) % bad.len] ^= (uint8_t)(1u << ((x >> 40) % 8));
				CHECK(dec_expect(s[from], &bad, m->text) != WC_OK);
			}
			CHECK_EQ_INT(dec_expect(s[from], &m->e, m->text), WC_OK);
			received++;
			if ((x >> 48) % 3 == 0) { /* replayed later: kept, marked */
				m->delivered = 1;
			} else {
				free(m);
				q[from][i] = q[from][--nq[from]];
			}
		} else if (action == 8) {
			/* Replay every delivered message still held. */
			for (int i = 0; i < nq[from]; i++)
				if (q[from][i]->delivered) {
					CHECK_EQ_INT(dec_expect(s[from], &q[from][i]->e, q[from][i]->text),
						     WC_E_VERIFY);
					rejected++;
					free(q[from][i]);
					q[from][i--] = q[from][--nq[from]];
				}
		} else {
			/* Save and reload `from`'s session. */
			size_t cap = wc_session_sealed_size(s[from]), len;
			uint8_t *sealed = malloc(cap);
			wc_session *back = NULL;
			MUST(sealed != NULL);
			MUST(wc_session_seal(s[from], key, sealed, cap, &len) == WC_OK);
			MUST(wc_session_unseal(key, sealed, len, &back) == WC_OK);
			free(sealed);
			wc_session_free(s[from]);
			s[from] = back;
		}
	}
	/* Drain. */
	for (int d = 0; d < 2; d++)
		for (int i = 0; i < nq[d]; i++) {
			CHECK_EQ_INT(dec_expect(s[d], &q[d][i]->e, q[d][i]->text),
				     q[d][i]->delivered ? WC_E_VERIFY : WC_OK);
			received += !q[d][i]->delivered;
			free(q[d][i]);
		}
	CHECK_EQ_INT(received, sent);
	CHECK(sent > 500 && rejected > 10);
	wc_session_free(s[0]);
	wc_session_free(s[1]);
	party_wipe(&b2);
}

int main(void)
{
	if (wc_init() != WC_OK)
		return 1;
	party_make(&alice, 1);
	party_make(&bob, 2);
	party_make(&carol, 3);
	RUN(test_conversation_both_directions);
	RUN(test_without_one_time_prekey);
	RUN(test_every_bit_flip_rejected);
	RUN(test_replay_rejected);
	RUN(test_out_of_order_within_limit);
	RUN(test_out_of_order_beyond_limit);
	RUN(test_skipped_keys_bounded);
	RUN(test_wrong_identity_fails);
	RUN(test_one_time_prekey_used_twice_fails);
	RUN(test_bad_signed_prekey_refused);
	RUN(test_low_order_keys_refused);
	RUN(test_state_save_load_round_trip);
	RUN(test_fanout_to_many_devices);
	RUN(test_plaintext_limits);
	RUN(test_random_conversation);
	party_wipe(&alice);
	party_wipe(&bob);
	party_wipe(&carol);
	return TEST_RESULT();
}
