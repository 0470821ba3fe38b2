/* SPDX-License-Identifier: MPL-2.0 */
/* Generates spec/vectors/crypto.json: runs fixed scenarios with the seeded test random source,
 * recording for every operation the random bytes it drew and the bytes it produced. Built only
 * with -Dtest_hooks=true. Usage: crypto_vectors > spec/vectors/crypto.json */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "session_internal.h"
#include "x3dh_internal.h"

static uint8_t rlog[1 << 16];

static json_t *checked(json_t *j, int line)
{
	if (!j) {
		fprintf(stderr, "crypto_vectors: json_pack failed at line %d\n", line);
		exit(1);
	}
	return j;
}
#define PACK(...) checked(json_pack(__VA_ARGS__), __LINE__)

static json_t *hexj(const uint8_t *p, size_t n)
{
	char *s = malloc(2 * n + 1);
	if (!s)
		abort();
	sodium_bin2hex(s, 2 * n + 1, p, n);
	json_t *j = json_string(s);
	free(s);
	return j;
}

static void rec_start(void)
{
	wc_test_random_log_start(rlog, sizeof rlog);
}

static json_t *rec_stop(void)
{
	size_t n = wc_test_random_log_stop();
	return hexj(rlog, n);
}

static void must(int rc, const char *what)
{
	if (rc != WC_OK) {
		fprintf(stderr, "crypto_vectors: %s: %s\n", what, wc_strerror(rc));
		exit(1);
	}
}

/* ---- Parties ---------------------------------------------------------------------------- */
struct party {
	const char *name;
	wc_identity id;
	wc_signed_prekey spk;
	wc_one_time_prekey opk;
};

static json_t *identities, *signed_prekeys, *one_time_prekeys;

static void party_init(struct party *p, const char *name, uint32_t spk_id, uint32_t opk_id)
{
	uint8_t seed[32], xpk[32], xsk[32];
	p->name = name;
	crypto_hash_sha256(seed, (const uint8_t *)name, strlen(name));
	must(wc_identity_from_seed(&p->id, seed), "identity");
	wc__identity_x25519_secret(&p->id, xsk);
	must(wc__identity_x25519_public(p->id.public_key, xpk), "x25519");
	json_array_append_new(identities,
			      PACK("{s:s, s:o, s:o, s:o, s:o, s:o}", "name", name, "seed",
					hexj(seed, 32), "ed25519_public", hexj(p->id.public_key, 32),
					"ed25519_secret", hexj(p->id.secret_key, 64),
					"x25519_public", hexj(xpk, 32), "x25519_secret",
					hexj(xsk, 32)));
	uint64_t created = 1767225600000ull + spk_id;
	rec_start();
	must(wc_signed_prekey_generate(&p->id, spk_id, created, &p->spk), "spk");
	json_t *r = rec_stop();
	uint8_t msg[WC_SIGNED_PREKEY_MESSAGE_BYTES];
	wc_signed_prekey_message(spk_id, p->spk.public_key, created, msg);
	json_array_append_new(signed_prekeys,
			      PACK("{s:s, s:I, s:I, s:o, s:o, s:o, s:o}", "owner", name, "id",
					(json_int_t)spk_id, "created_ms", (json_int_t)created,
					"random", r, "public", hexj(p->spk.public_key, 32),
					"signed_message", hexj(msg, sizeof msg), "signature",
					hexj(p->spk.signature, 64)));
	rec_start();
	must(wc_one_time_prekeys_generate(opk_id, 1, &p->opk), "opk");
	r = rec_stop();
	json_array_append_new(one_time_prekeys,
			      PACK("{s:s, s:I, s:o, s:o}", "owner", name, "id",
					(json_int_t)opk_id, "random", r, "public",
					hexj(p->opk.public_key, 32)));
}

static void bundle_of(const struct party *p, int with_opk, wc_prekey_bundle *b)
{
	memset(b, 0, sizeof *b);
	memcpy(b->identity_key, p->id.public_key, 32);
	b->signed_prekey_id = p->spk.id;
	b->signed_prekey_created_ms = p->spk.created_ms;
	memcpy(b->signed_prekey, p->spk.public_key, 32);
	memcpy(b->signed_prekey_signature, p->spk.signature, 64);
	if (with_opk) {
		b->has_one_time_prekey = 1;
		b->one_time_prekey_id = p->opk.id;
		memcpy(b->one_time_prekey, p->opk.public_key, 32);
	}
}

/* ---- X3DH ---------------------------------------------------------------------------------- */
static json_t *x3dh_vector(struct party *a, struct party *b, int with_opk)
{
	wc_prekey_bundle bundle;
	wc_session *s;
	uint8_t sk[32], sk2[32];
	bundle_of(b, with_opk, &bundle);
	rec_start();
	must(wc_session_initiate(&a->id, &bundle, &s), "initiate");
	size_t n = wc_test_random_log_stop();
	json_t *r = hexj(rlog, n);
	/* Recompute SK from the recorded ephemeral secret, from both sides. */
	must(x3dh__initiate(&a->id, b->id.public_key, b->spk.public_key,
			    with_opk ? b->opk.public_key : NULL, rlog, sk),
	     "x3dh");
	must(x3dh__respond(&b->id, a->id.public_key, b->spk.secret_key,
			   with_opk ? b->opk.secret_key : NULL, s->base_key, sk2),
	     "x3dh respond");
	if (memcmp(sk, sk2, 32) != 0)
		exit(1);
	uint8_t ad[64];
	wc__session_ad(s, ad);
	json_t *v = PACK("{s:s, s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
			      "initiator", a->name, "responder", b->name, "signed_prekey_id",
			      (json_int_t)b->spk.id, "one_time_prekey_id",
			      with_opk ? json_integer(b->opk.id) : json_null(), "random", r,
			      "ephemeral_public", hexj(s->base_key, 32), "associated_data",
			      hexj(ad, 64), "shared_secret", hexj(sk, 32),
			      "initiator_ratchet_public", hexj(s->dhs_pk, 32), "root_key",
			      hexj(s->rk, 32), "sending_chain_key", hexj(s->cks, 32));
	wc_session_free(s);
	return v;
}

/* ---- Runs: a script of operations between parties ------------------------------------------ */
#define MAX_SESSIONS 8
struct run {
	json_t *steps;
	struct {
		struct party *self, *peer;
		wc_session *s;
	} sess[MAX_SESSIONS];
	int nsess;
};

static wc_session **sess_slot(struct run *r, struct party *self, struct party *peer)
{
	for (int i = 0; i < r->nsess; i++)
		if (r->sess[i].self == self && r->sess[i].peer == peer)
			return &r->sess[i].s;
	if (r->nsess == MAX_SESSIONS)
		abort();
	r->sess[r->nsess].self = self;
	r->sess[r->nsess].peer = peer;
	r->sess[r->nsess].s = NULL;
	return &r->sess[r->nsess++].s;
}

static void step_initiate(struct run *r, struct party *a, struct party *b, int with_opk)
{
	wc_prekey_bundle bundle;
	bundle_of(b, with_opk, &bundle);
	rec_start();
	must(wc_session_initiate(&a->id, &bundle, sess_slot(r, a, b)), "initiate");
	json_array_append_new(r->steps,
			      PACK("{s:s, s:s, s:s, s:I, s:o, s:o}", "op", "initiate", "party",
					a->name, "peer", b->name, "signed_prekey_id",
					(json_int_t)b->spk.id, "one_time_prekey_id",
					with_opk ? json_integer(b->opk.id) : json_null(), "random",
					rec_stop()));
}

struct envelope {
	uint8_t buf[WC_ENVELOPE_OVERHEAD_MAX + 8192];
	size_t len;
};

static void step_encrypt(struct run *r, struct party *a, struct party *b, const char *text,
			 struct envelope *e)
{
	wc_session *s = *sess_slot(r, a, b);
	rec_start();
	must(wc_session_encrypt(s, (const uint8_t *)text, strlen(text), e->buf, sizeof e->buf,
				&e->len),
	     "encrypt");
	json_array_append_new(r->steps,
			      PACK("{s:s, s:s, s:s, s:o, s:o, s:o}", "op", "encrypt", "party",
					a->name, "peer", b->name, "plaintext",
					hexj((const uint8_t *)text, strlen(text)), "random",
					rec_stop(), "envelope", hexj(e->buf, e->len)));
}

static void step_respond(struct run *r, struct party *b, struct party *a,
			 const struct envelope *e)
{
	uint8_t pt[8192];
	size_t n;
	wc_envelope_info info;
	must(wc_envelope_peek(e->buf, e->len, &info), "peek");
	rec_start();
	must(wc_session_respond(&b->id, &b->spk, info.has_one_time_prekey ? &b->opk : NULL, e->buf,
				e->len, sess_slot(r, b, a), pt, sizeof pt, &n),
	     "respond");
	json_array_append_new(r->steps,
			      PACK("{s:s, s:s, s:s, s:o, s:o, s:o}", "op", "respond", "party",
					b->name, "peer", a->name, "envelope",
					hexj(e->buf, e->len), "random", rec_stop(), "plaintext",
					hexj(pt, n)));
}

static void step_decrypt(struct run *r, struct party *b, struct party *a,
			 const struct envelope *e, int expect_rc)
{
	uint8_t pt[8192];
	size_t n = 0;
	rec_start();
	int rc = wc_session_decrypt(*sess_slot(r, b, a), e->buf, e->len, pt, sizeof pt, &n);
	json_t *rnd = rec_stop();
	if (rc != expect_rc) {
		fprintf(stderr, "crypto_vectors: decrypt gave %s\n", wc_strerror(rc));
		exit(1);
	}
	json_t *st = PACK("{s:s, s:s, s:s, s:o, s:o}", "op", "decrypt", "party", b->name,
			       "peer", a->name, "envelope", hexj(e->buf, e->len), "random", rnd);
	if (rc == WC_OK)
		json_object_set_new(st, "plaintext", hexj(pt, n));
	else
		json_object_set_new(st, "error", json_string(wc_strerror(rc)));
	json_array_append_new(r->steps, st);
}

static void step_seal(struct run *r, struct party *b, struct party *a)
{
	uint8_t key[32];
	wc_session *s = *sess_slot(r, b, a);
	crypto_hash_sha256(key, (const uint8_t *)"storage key", 11);
	size_t cap = wc_session_sealed_size(s), len;
	uint8_t *out = malloc(cap);
	rec_start();
	must(wc_session_seal(s, key, out, cap, &len), "seal");
	json_array_append_new(r->steps,
			      PACK("{s:s, s:s, s:s, s:o, s:o, s:o}", "op", "seal", "party",
					b->name, "peer", a->name, "storage_key", hexj(key, 32),
					"random", rec_stop(), "sealed", hexj(out, len)));
	free(out);
}

static json_t *content_json(const wc_content *c)
{
	return PACK("{s:o, s:o, s:i, s:I, s:o, s:o, s:o}", "message_id",
			 hexj(c->message_id, 16), "conversation_id", hexj(c->conversation_id, 16),
			 "kind", c->kind, "sent_ms", (json_int_t)c->sent_ms, "sender_account",
			 hexj(c->sender_account, 16), "sender_device", hexj(c->sender_device, 16),
			 "body", hexj(c->body, c->body_len));
}

static void content_fill(wc_content *c, uint8_t kind, const char *body)
{
	memset(c, 0, sizeof *c);
	for (int i = 0; i < 16; i++) {
		c->message_id[i] = (uint8_t)(0x10 + i);
		c->conversation_id[i] = (uint8_t)(0x20 + i);
		c->sender_account[i] = (uint8_t)(0x30 + i);
		c->sender_device[i] = (uint8_t)(0x40 + i);
	}
	c->kind = kind;
	c->sent_ms = 1767225600123ull;
	c->body = (const uint8_t *)body;
	c->body_len = strlen(body);
}

static void step_fanout(struct run *r, struct party *a, struct party **peers, size_t n,
			const wc_content *c)
{
	wc_session *ss[MAX_SESSIONS];
	json_t *names = json_array(), *envs = json_array();
	for (size_t i = 0; i < n; i++) {
		ss[i] = *sess_slot(r, a, peers[i]);
		json_array_append_new(names, json_string(peers[i]->name));
	}
	size_t stride = wc_fanout_stride(c), lens[MAX_SESSIONS];
	uint8_t *out = malloc(stride * n);
	rec_start();
	must(wc_fanout_encrypt(ss, n, c, out, stride * n, lens), "fanout");
	json_t *rnd = rec_stop();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(envs, hexj(out + i * stride, lens[i]));
	json_array_append_new(r->steps,
			      PACK("{s:s, s:s, s:o, s:o, s:o, s:o}", "op", "fanout", "party",
					a->name, "peers", names, "content", content_json(c),
					"random", rnd, "envelopes", envs));
	free(out);
}

static void run_free(struct run *r)
{
	for (int i = 0; i < r->nsess; i++)
		wc_session_free(r->sess[i].s);
}

static json_t *run_main(struct party *alice, struct party *bob)
{
	struct run r = {.steps = json_array()};
	struct envelope e0, e1, e2, e3, e4, e5;
	step_initiate(&r, alice, bob, 1);
	step_encrypt(&r, alice, bob, "Hej Bob", &e0);
	step_encrypt(&r, alice, bob, "Er du der?", &e1);
	step_respond(&r, bob, alice, &e1);            /* out of order: skips e0's key */
	step_decrypt(&r, bob, alice, &e0, WC_OK);     /* from the skipped keys */
	step_encrypt(&r, bob, alice, "Ja, her", &e2);
	step_encrypt(&r, bob, alice, "Hvad drejer det sig om?", &e3);
	step_decrypt(&r, alice, bob, &e3, WC_OK);     /* DH ratchet step, skips e2 */
	step_encrypt(&r, alice, bob, "Min ansøgning", &e4);
	step_decrypt(&r, alice, bob, &e2, WC_OK);     /* skipped key of the old chain */
	step_decrypt(&r, bob, alice, &e4, WC_OK);     /* DH ratchet step */
	step_decrypt(&r, bob, alice, &e4, WC_E_VERIFY); /* replay */
	char longer[301];
	for (int i = 0; i < 300; i++)
		longer[i] = (char)('a' + i % 26);
	longer[300] = '\0';
	step_encrypt(&r, alice, bob, longer, &e5);    /* second padding bucket */
	step_decrypt(&r, bob, alice, &e5, WC_OK);
	step_seal(&r, bob, alice);
	run_free(&r);
	return PACK("{s:s, s:o}", "name", "conversation with one-time prekey", "steps",
			 r.steps);
}

static json_t *run_no_opk(struct party *alice, struct party *carol)
{
	struct run r = {.steps = json_array()};
	struct envelope e0, e1, e2;
	step_initiate(&r, alice, carol, 0);
	step_encrypt(&r, alice, carol, "Uden engangsnøgle", &e0);
	step_respond(&r, carol, alice, &e0);
	step_encrypt(&r, carol, alice, "Modtaget", &e1);
	step_decrypt(&r, alice, carol, &e1, WC_OK);
	step_encrypt(&r, alice, carol, "Tak", &e2);
	step_decrypt(&r, carol, alice, &e2, WC_OK);
	run_free(&r);
	return PACK("{s:s, s:o}", "name", "conversation without one-time prekey (signed prekey only)",
			 "steps", r.steps);
}

static json_t *run_fanout(struct party *alice, struct party *d1, struct party *d2,
			  struct party *d3)
{
	struct run r = {.steps = json_array()};
	struct party *peers[3] = {d1, d2, d3};
	wc_content c;
	step_initiate(&r, alice, d1, 1);
	step_initiate(&r, alice, d2, 0);
	step_initiate(&r, alice, d3, 1);
	content_fill(&c, WC_KIND_TEXT, "Kære borger, din sag er nu behandlet.");
	step_fanout(&r, alice, peers, 3, &c);
	run_free(&r);
	return PACK("{s:s, s:o}", "name", "fan-out of one content record to three devices",
			 "steps", r.steps);
}

/* ---- Content, attachments, safety numbers ---------------------------------------------------- */
static json_t *content_vector(uint8_t kind, const char *body)
{
	wc_content c;
	uint8_t buf[8192];
	size_t len;
	content_fill(&c, kind, body);
	must(wc_content_encode(&c, buf, sizeof buf, &len), "content");
	size_t padded = wc__padded_len(len);
	wc__pad(buf, len, buf);
	json_t *j = content_json(&c);
	json_object_set_new(j, "encoded", hexj(buf, len));
	json_object_set_new(j, "padded", hexj(buf, padded));
	return j;
}

static json_t *attachment_vector(size_t size, int full)
{
	uint8_t *pt = malloc(size + 1);
	for (size_t i = 0; i < size; i++)
		pt[i] = (uint8_t)(i % 251);
	size_t cap = wc_attachment_ciphertext_size(size), len, dlen;
	uint8_t *ct = malloc(cap), desc[WC_ATTACHMENT_DESCRIPTOR_MAX];
	wc_attachment att;
	memset(&att, 0, sizeof att);
	rec_start();
	must(wc_attachment_encrypt(pt, size, ct, cap, &len, &att), "attachment");
	json_t *rnd = rec_stop();
	strcpy(att.media_type, "application/pdf");
	strcpy(att.file_name, "afgørelse.pdf");
	must(wc_attachment_encode(&att, desc, sizeof desc, &dlen), "descriptor");
	json_t *j = PACK("{s:s, s:I, s:o, s:o, s:o, s:s, s:s, s:o}", "plaintext",
			      "byte i is i mod 251", "size", (json_int_t)size, "random", rnd,
			      "key", hexj(att.key, 32), "digest", hexj(att.digest, 32),
			      "media_type", att.media_type, "file_name", att.file_name,
			      "descriptor", hexj(desc, dlen));
	json_object_set_new(j, "ciphertext_size", json_integer((json_int_t)len));
	if (full)
		json_object_set_new(j, "ciphertext", hexj(ct, len));
	free(pt);
	free(ct);
	return j;
}

static json_t *safety_vector(const struct party *a, const struct party *b)
{
	char num[61];
	must(wc_safety_number(a->id.public_key, b->id.public_key, num), "safety");
	return PACK("{s:o, s:o, s:s}", "key_a", hexj(a->id.public_key, 32), "key_b",
			 hexj(b->id.public_key, 32), "safety_number", num);
}

int main(void)
{
	if (wc_init() != WC_OK)
		return 1;
	wc_test_random_seed(20260101);
	identities = json_array();
	signed_prekeys = json_array();
	one_time_prekeys = json_array();
	static struct party alice, bob, carol, dev1, dev2, dev3;
	party_init(&alice, "alice", 1, 100);
	party_init(&bob, "bob", 2, 200);
	party_init(&carol, "carol", 3, 300);
	party_init(&dev1, "citizen-phone", 4, 400);
	party_init(&dev2, "caseworker-laptop", 5, 500);
	party_init(&dev3, "journal-bridge", 6, 600);

	json_t *x3dh = json_array();
	json_array_append_new(x3dh, x3dh_vector(&alice, &bob, 1));
	json_array_append_new(x3dh, x3dh_vector(&alice, &carol, 0));
	json_t *runs = json_array();
	json_array_append_new(runs, run_main(&alice, &bob));
	json_array_append_new(runs, run_no_opk(&alice, &carol));
	json_array_append_new(runs, run_fanout(&alice, &dev1, &dev2, &dev3));
	json_t *content = json_array();
	json_array_append_new(content, content_vector(WC_KIND_TEXT, "Hej"));
	json_array_append_new(content, content_vector(WC_KIND_SYSTEM, "Sagen er overdraget til en ny sagsbehandler."));
	json_t *att = json_array();
	json_array_append_new(att, attachment_vector(1000, 1));
	json_array_append_new(att, attachment_vector(WC_ATTACHMENT_CHUNK_BYTES + 100, 0));
	json_t *safety = json_array();
	json_array_append_new(safety, safety_vector(&alice, &bob));
	json_array_append_new(safety, safety_vector(&bob, &carol));

	json_t *root = PACK(
		"{s:i, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "version", 1, "about",
		"OS2wakks device cryptography vectors (spec/crypto.md). All byte strings are hex. "
		"'random' is the exact byte sequence the operation draws from the random source, "
		"in order; inject it to reproduce the outputs. Generated by tests/crypto/crypto_vectors.",
		"identities", identities, "signed_prekeys", signed_prekeys, "one_time_prekeys",
		one_time_prekeys, "x3dh", x3dh, "runs", runs, "content", content, "attachments",
		att, "safety_numbers", safety);
	char *s = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	fputs(s, stdout);
	fputc('\n', stdout);
	free(s);
	json_decref(root);
	wc_identity_wipe(&alice.id);
	return 0;
}
