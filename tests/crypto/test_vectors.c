/* SPDX-License-Identifier: MPL-2.0 */
/* Replays spec/vectors/crypto.json: every operation is run with its recorded randomness
 * injected, and its output compared byte for byte. argv[1] is the vectors file. */
#include <jansson.h>
#include <stdlib.h>

#include "session_internal.h"
#include "x3dh_internal.h"
#include "crypto_test.h"

/* Decodes hex field `key` of obj into a fresh buffer; *len gets its length. */
static uint8_t *hexf(json_t *obj, const char *key, size_t *len)
{
	const char *s = json_string_value(json_object_get(obj, key));
	size_t n = s ? strlen(s) / 2 : 0, got = 0;
	uint8_t *b = malloc(n + 1);
	if (!b || (s && sodium_hex2bin(b, n + 1, s, strlen(s), NULL, &got, NULL) != 0)) {
		fprintf(stderr, "bad hex in %s\n", key);
		exit(1);
	}
	if (len)
		*len = got;
	return b;
}

static int hex_eq(json_t *obj, const char *key, const uint8_t *p, size_t n)
{
	size_t len;
	uint8_t *want = hexf(obj, key, &len);
	int ok = len == n && memcmp(want, p, n) == 0;
	if (!ok)
		fprintf(stderr, "mismatch in %s\n", key);
	free(want);
	return ok;
}

static void inject(json_t *obj)
{
	size_t n;
	uint8_t *r = hexf(obj, "random", &n);
	wc_test_random_queue(r, n);
	free(r);
}

static json_t *root;

/* ---- Parties ---------------------------------------------------------------------------- */
#define MAX_PARTIES 8
static struct party {
	const char *name;
	wc_identity id;
	wc_signed_prekey spk;
	wc_one_time_prekey opk;
} parties[MAX_PARTIES];
static size_t nparties;

static struct party *party(const char *name)
{
	for (size_t i = 0; i < nparties; i++)
		if (strcmp(parties[i].name, name) == 0)
			return &parties[i];
	fprintf(stderr, "unknown party %s\n", name);
	exit(1);
}

static void test_identities(void)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(root, "identities"), i, v)
	{
		MUST(nparties < MAX_PARTIES);
		struct party *p = &parties[nparties++];
		p->name = json_string_value(json_object_get(v, "name"));
		uint8_t *seed = hexf(v, "seed", NULL), xpk[32], xsk[32];
		MUST(wc_identity_from_seed(&p->id, seed) == WC_OK);
		CHECK(hex_eq(v, "ed25519_public", p->id.public_key, 32));
		CHECK(hex_eq(v, "ed25519_secret", p->id.secret_key, 64));
		wc__identity_x25519_secret(&p->id, xsk);
		CHECK_EQ_INT(wc__identity_x25519_public(p->id.public_key, xpk), WC_OK);
		CHECK(hex_eq(v, "x25519_public", xpk, 32));
		CHECK(hex_eq(v, "x25519_secret", xsk, 32));
		free(seed);
	}
	CHECK(nparties >= 2);
}

static void test_prekeys(void)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(root, "signed_prekeys"), i, v)
	{
		struct party *p = party(json_string_value(json_object_get(v, "owner")));
		uint32_t id = (uint32_t)json_integer_value(json_object_get(v, "id"));
		uint64_t created = (uint64_t)json_integer_value(json_object_get(v, "created_ms"));
		inject(v);
		MUST(wc_signed_prekey_generate(&p->id, id, created, &p->spk) == WC_OK);
		CHECK_EQ_INT(wc_test_random_remaining(), 0);
		CHECK(hex_eq(v, "public", p->spk.public_key, 32));
		CHECK(hex_eq(v, "signature", p->spk.signature, 64));
		uint8_t msg[WC_SIGNED_PREKEY_MESSAGE_BYTES];
		wc_signed_prekey_message(id, p->spk.public_key, created, msg);
		CHECK(hex_eq(v, "signed_message", msg, sizeof msg));
		/* The relay's check, from the wire fields alone. */
		uint8_t *sig = hexf(v, "signature", NULL);
		CHECK_EQ_INT(wc_signed_prekey_verify(p->id.public_key, id, p->spk.public_key, created,
						     sig),
			     WC_OK);
		free(sig);
	}
	json_array_foreach(json_object_get(root, "one_time_prekeys"), i, v)
	{
		struct party *p = party(json_string_value(json_object_get(v, "owner")));
		inject(v);
		MUST(wc_one_time_prekeys_generate(
				(uint32_t)json_integer_value(json_object_get(v, "id")), 1, &p->opk) ==
			WC_OK);
		CHECK_EQ_INT(wc_test_random_remaining(), 0);
		CHECK(hex_eq(v, "public", p->opk.public_key, 32));
	}
}

static void bundle_of(const struct party *p, json_t *opk_id, wc_prekey_bundle *b)
{
	memset(b, 0, sizeof *b);
	memcpy(b->identity_key, p->id.public_key, 32);
	b->signed_prekey_id = p->spk.id;
	b->signed_prekey_created_ms = p->spk.created_ms;
	memcpy(b->signed_prekey, p->spk.public_key, 32);
	memcpy(b->signed_prekey_signature, p->spk.signature, 64);
	if (json_is_integer(opk_id)) {
		b->has_one_time_prekey = 1;
		b->one_time_prekey_id = (uint32_t)json_integer_value(opk_id);
		memcpy(b->one_time_prekey, p->opk.public_key, 32);
	}
}

static void test_x3dh(void)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(root, "x3dh"), i, v)
	{
		struct party *a = party(json_string_value(json_object_get(v, "initiator")));
		struct party *b = party(json_string_value(json_object_get(v, "responder")));
		json_t *opk_id = json_object_get(v, "one_time_prekey_id");
		wc_prekey_bundle bundle;
		wc_session *s = NULL;
		uint8_t sk[32], ad[64];
		bundle_of(b, opk_id, &bundle);
		inject(v);
		MUST(wc_session_initiate(&a->id, &bundle, &s) == WC_OK);
		CHECK_EQ_INT(wc_test_random_remaining(), 0);
		CHECK(hex_eq(v, "ephemeral_public", s->base_key, 32));
		CHECK(hex_eq(v, "initiator_ratchet_public", s->dhs_pk, 32));
		CHECK(hex_eq(v, "root_key", s->rk, 32));
		CHECK(hex_eq(v, "sending_chain_key", s->cks, 32));
		wc__session_ad(s, ad);
		CHECK(hex_eq(v, "associated_data", ad, 64));
		/* The responder's side of X3DH gives the same shared secret. */
		MUST(x3dh__respond(&b->id, a->id.public_key, b->spk.secret_key,
				      json_is_integer(opk_id) ? b->opk.secret_key : NULL,
				      s->base_key, sk) == WC_OK);
		CHECK(hex_eq(v, "shared_secret", sk, 32));
		wc_session_free(s);
	}
}

/* ---- Runs ------------------------------------------------------------------------------------ */
#define MAX_SESSIONS 8
static struct {
	struct party *self, *peer;
	wc_session *s;
} sess[MAX_SESSIONS];
static int nsess;

static wc_session **slot(json_t *step, const char *peer_name)
{
	struct party *self = party(json_string_value(json_object_get(step, "party")));
	struct party *peer = party(peer_name ? peer_name
					     : json_string_value(json_object_get(step, "peer")));
	for (int i = 0; i < nsess; i++)
		if (sess[i].self == self && sess[i].peer == peer)
			return &sess[i].s;
	if (nsess == MAX_SESSIONS)
		abort();
	sess[nsess].self = self;
	sess[nsess].peer = peer;
	sess[nsess].s = NULL;
	return &sess[nsess++].s;
}

static void run_step(json_t *st)
{
	const char *op = json_string_value(json_object_get(st, "op"));
	struct party *self = party(json_string_value(json_object_get(st, "party")));
	uint8_t pt[70000], *env;
	size_t n = 0, env_len;
	inject(st);
	if (strcmp(op, "initiate") == 0) {
		wc_prekey_bundle b;
		struct party *peer = party(json_string_value(json_object_get(st, "peer")));
		bundle_of(peer, json_object_get(st, "one_time_prekey_id"), &b);
		CHECK_EQ_INT(wc_session_initiate(&self->id, &b, slot(st, NULL)), WC_OK);
	} else if (strcmp(op, "encrypt") == 0) {
		uint8_t out[sizeof pt + WC_ENVELOPE_OVERHEAD_MAX];
		uint8_t *in = hexf(st, "plaintext", &n);
		size_t len = 0;
		CHECK_EQ_INT(wc_session_encrypt(*slot(st, NULL), in, n, out, sizeof out, &len), WC_OK);
		CHECK(hex_eq(st, "envelope", out, len));
		free(in);
	} else if (strcmp(op, "respond") == 0) {
		env = hexf(st, "envelope", &env_len);
		wc_envelope_info info;
		CHECK_EQ_INT(wc_envelope_peek(env, env_len, &info), WC_OK);
		CHECK_EQ_INT(wc_session_respond(&self->id, &self->spk,
						info.has_one_time_prekey ? &self->opk : NULL, env,
						env_len, slot(st, NULL), pt, sizeof pt, &n),
			     WC_OK);
		CHECK(hex_eq(st, "plaintext", pt, n));
		free(env);
	} else if (strcmp(op, "decrypt") == 0) {
		env = hexf(st, "envelope", &env_len);
		int rc = wc_session_decrypt(*slot(st, NULL), env, env_len, pt, sizeof pt, &n);
		json_t *err = json_object_get(st, "error");
		if (err) {
			CHECK(rc != WC_OK && strcmp(wc_strerror(rc), json_string_value(err)) == 0);
		} else {
			CHECK_EQ_INT(rc, WC_OK);
			CHECK(rc == WC_OK && hex_eq(st, "plaintext", pt, n));
		}
		free(env);
	} else if (strcmp(op, "seal") == 0) {
		wc_session *s = *slot(st, NULL), *back = NULL;
		uint8_t *key = hexf(st, "storage_key", NULL);
		size_t cap = wc_session_sealed_size(s), len = 0;
		uint8_t *out = malloc(cap);
		CHECK_EQ_INT(wc_session_seal(s, key, out, cap, &len), WC_OK);
		CHECK(hex_eq(st, "sealed", out, len));
		CHECK_EQ_INT(wc_session_unseal(key, out, len, &back), WC_OK);
		wc_session_free(back);
		free(out);
		free(key);
	} else if (strcmp(op, "fanout") == 0) {
		/* Encrypt to every peer, compare, then each peer responds and decodes the record. */
		json_t *peers = json_object_get(st, "peers"), *envs = json_object_get(st, "envelopes");
		json_t *cj = json_object_get(st, "content");
		size_t np = json_array_size(peers);
		wc_session *ss[MAX_SESSIONS];
		wc_content c;
		MUST(np <= MAX_SESSIONS);
		for (size_t i = 0; i < np; i++)
			ss[i] = *slot(st, json_string_value(json_array_get(peers, i)));
		uint8_t *f;
		memset(&c, 0, sizeof c);
		f = hexf(cj, "message_id", NULL);
		memcpy(c.message_id, f, 16);
		free(f);
		f = hexf(cj, "conversation_id", NULL);
		memcpy(c.conversation_id, f, 16);
		free(f);
		f = hexf(cj, "sender_account", NULL);
		memcpy(c.sender_account, f, 16);
		free(f);
		f = hexf(cj, "sender_device", NULL);
		memcpy(c.sender_device, f, 16);
		free(f);
		c.kind = (uint8_t)json_integer_value(json_object_get(cj, "kind"));
		c.sent_ms = (uint64_t)json_integer_value(json_object_get(cj, "sent_ms"));
		uint8_t *body = hexf(cj, "body", &c.body_len);
		c.body = body;
		size_t stride = wc_fanout_stride(&c), lens[MAX_SESSIONS];
		uint8_t *out = malloc(stride * np);
		CHECK_EQ_INT(wc_fanout_encrypt(ss, np, &c, out, stride * np, lens), WC_OK);
		for (size_t i = 0; i < np; i++) {
			const char *hx = json_string_value(json_array_get(envs, i));
			char *mine = malloc(2 * lens[i] + 1);
			sodium_bin2hex(mine, 2 * lens[i] + 1, out + i * stride, lens[i]);
			CHECK(hx && strcmp(hx, mine) == 0);
			free(mine);
		}
		CHECK_EQ_INT(wc_test_random_remaining(), 0);
		/* Receivers (their randomness is not part of the vector: the seeded stream). */
		wc_test_random_seed(1);
		for (size_t i = 0; i < np; i++) {
			struct party *rx = party(json_string_value(json_array_get(peers, i)));
			wc_session *rs = NULL;
			wc_content got;
			CHECK_EQ_INT(wc_session_respond(&rx->id, &rx->spk, &rx->opk, out + i * stride,
							lens[i], &rs, pt, sizeof pt, &n) == WC_OK ||
					     wc_session_respond(&rx->id, &rx->spk, NULL,
								out + i * stride, lens[i], &rs, pt,
								sizeof pt, &n) == WC_OK,
				     1);
			CHECK_EQ_INT(wc_content_decode(pt, n, &got), WC_OK);
			CHECK(got.body_len == c.body_len && memcmp(got.body, body, n - WC_CONTENT_HEADER_BYTES) == 0);
			wc_session_free(rs);
		}
		free(out);
		free(body);
		return;
	} else {
		fprintf(stderr, "unknown op %s\n", op);
		CHECK(0);
	}
	CHECK_EQ_INT(wc_test_random_remaining(), 0);
}

static void test_runs(void)
{
	size_t i, j;
	json_t *run, *st;
	json_array_foreach(json_object_get(root, "runs"), i, run)
	{
		json_array_foreach(json_object_get(run, "steps"), j, st)
			run_step(st);
		for (int k = 0; k < nsess; k++)
			wc_session_free(sess[k].s);
		nsess = 0;
	}
	CHECK(json_array_size(json_object_get(root, "runs")) >= 3);
}

static void test_content(void)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(root, "content"), i, v)
	{
		size_t len, plen;
		uint8_t *enc = hexf(v, "encoded", &len), *padded = hexf(v, "padded", &plen);
		wc_content c;
		MUST(wc_content_decode(enc, len, &c) == WC_OK);
		CHECK(hex_eq(v, "message_id", c.message_id, 16));
		CHECK(hex_eq(v, "conversation_id", c.conversation_id, 16));
		CHECK(hex_eq(v, "sender_account", c.sender_account, 16));
		CHECK(hex_eq(v, "sender_device", c.sender_device, 16));
		CHECK(hex_eq(v, "body", c.body, c.body_len));
		CHECK_EQ_INT(c.kind, json_integer_value(json_object_get(v, "kind")));
		CHECK_EQ_INT(c.sent_ms, json_integer_value(json_object_get(v, "sent_ms")));
		uint8_t *buf = malloc(wc__padded_len(len));
		size_t n;
		MUST(wc_content_encode(&c, buf, wc__padded_len(len), &n) == WC_OK);
		CHECK(n == len && memcmp(buf, enc, len) == 0);
		wc__pad(buf, n, buf);
		CHECK(plen == wc__padded_len(len) && memcmp(buf, padded, plen) == 0);
		free(buf);
		free(enc);
		free(padded);
	}
}

static void test_attachments(void)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(root, "attachments"), i, v)
	{
		size_t size = (size_t)json_integer_value(json_object_get(v, "size"));
		uint8_t *pt = malloc(size + 1), *back = malloc(size + 1);
		for (size_t k = 0; k < size; k++)
			pt[k] = (uint8_t)(k % 251);
		size_t cap = wc_attachment_ciphertext_size(size), len = 0, dlen;
		uint8_t *ct = malloc(cap), desc[WC_ATTACHMENT_DESCRIPTOR_MAX];
		wc_attachment att, dec;
		memset(&att, 0, sizeof att);
		inject(v);
		MUST(wc_attachment_encrypt(pt, size, ct, cap, &len, &att) == WC_OK);
		CHECK_EQ_INT(wc_test_random_remaining(), 0);
		CHECK_EQ_INT(len, json_integer_value(json_object_get(v, "ciphertext_size")));
		CHECK(hex_eq(v, "key", att.key, 32));
		CHECK(hex_eq(v, "digest", att.digest, 32));
		if (json_object_get(v, "ciphertext"))
			CHECK(hex_eq(v, "ciphertext", ct, len));
		strcpy(att.media_type, json_string_value(json_object_get(v, "media_type")));
		strcpy(att.file_name, json_string_value(json_object_get(v, "file_name")));
		MUST(wc_attachment_encode(&att, desc, sizeof desc, &dlen) == WC_OK);
		CHECK(hex_eq(v, "descriptor", desc, dlen));
		MUST(wc_attachment_decode(desc, dlen, &dec) == WC_OK);
		CHECK_EQ_INT(wc_attachment_decrypt(&dec, ct, len, back, size), WC_OK);
		CHECK(memcmp(back, pt, size) == 0);
		free(pt);
		free(back);
		free(ct);
	}
}

static void test_safety_numbers(void)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(root, "safety_numbers"), i, v)
	{
		uint8_t *a = hexf(v, "key_a", NULL), *b = hexf(v, "key_b", NULL);
		char ab[61], ba[61];
		MUST(wc_safety_number(a, b, ab) == WC_OK);
		MUST(wc_safety_number(b, a, ba) == WC_OK);
		CHECK(strcmp(ab, json_string_value(json_object_get(v, "safety_number"))) == 0);
		CHECK(strcmp(ab, ba) == 0);
		free(a);
		free(b);
	}
}

int main(int argc, char **argv)
{
	json_error_t err;
	if (argc != 2 || wc_init() != WC_OK)
		return 1;
	root = json_load_file(argv[1], 0, &err);
	if (!root) {
		fprintf(stderr, "%s:%d: %s\n", argv[1], err.line, err.text);
		return 1;
	}
	RUN(test_identities);
	RUN(test_prekeys);
	RUN(test_x3dh);
	RUN(test_runs);
	RUN(test_content);
	RUN(test_attachments);
	RUN(test_safety_numbers);
	wc_test_random_system();
	for (size_t i = 0; i < nparties; i++) {
		wc_identity_wipe(&parties[i].id);
		wc_signed_prekey_wipe(&parties[i].spk);
		wc_one_time_prekey_wipe(&parties[i].opk);
	}
	json_decref(root);
	return TEST_RESULT();
}
