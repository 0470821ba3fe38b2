/* SPDX-License-Identifier: MPL-2.0 */
/* Helpers shared by the crypto tests: parties with identities and prekeys, session setup, and a
 * snapshot of a session's serialised state to prove a failed call changed nothing. */
#ifndef WAKKS_CRYPTO_TEST_UTIL_H
#define WAKKS_CRYPTO_TEST_UTIL_H

#include <stdlib.h>

#include "session_internal.h"
#include "crypto_test.h"

#define UTIL_OPKS 4

struct party {
	wc_identity id;
	wc_signed_prekey spk;
	wc_one_time_prekey opk[UTIL_OPKS];
};

static inline void party_make(struct party *p, uint32_t spk_id)
{
	if (wc_identity_generate(&p->id) != WC_OK ||
	    wc_signed_prekey_generate(&p->id, spk_id, 1767225600000ull, &p->spk) != WC_OK ||
	    wc_one_time_prekeys_generate(100, UTIL_OPKS, p->opk) != WC_OK)
		abort();
}

static inline void party_wipe(struct party *p)
{
	wc_identity_wipe(&p->id);
	wc_signed_prekey_wipe(&p->spk);
	for (int i = 0; i < UTIL_OPKS; i++)
		wc_one_time_prekey_wipe(&p->opk[i]);
}

/* The bundle the relay would hand out for p; opk_index < 0 for none. */
static inline void party_bundle(const struct party *p, int opk_index, wc_prekey_bundle *b)
{
	memset(b, 0, sizeof *b);
	memcpy(b->identity_key, p->id.public_key, 32);
	b->signed_prekey_id = p->spk.id;
	b->signed_prekey_created_ms = p->spk.created_ms;
	memcpy(b->signed_prekey, p->spk.public_key, 32);
	memcpy(b->signed_prekey_signature, p->spk.signature, 64);
	if (opk_index >= 0) {
		b->has_one_time_prekey = 1;
		b->one_time_prekey_id = p->opk[opk_index].id;
		memcpy(b->one_time_prekey, p->opk[opk_index].public_key, 32);
	}
}

struct env {
	uint8_t buf[WC_ENVELOPE_OVERHEAD_MAX + 70000];
	size_t len;
};

static inline int enc_text(wc_session *s, const char *text, struct env *e)
{
	return wc_session_encrypt(s, (const uint8_t *)text, strlen(text), e->buf, sizeof e->buf,
				  &e->len);
}

/* Decrypts and compares with text; returns the result code. */
static inline int dec_expect(wc_session *s, const struct env *e, const char *text)
{
	uint8_t pt[70000];
	size_t n = 0;
	int rc = wc_session_decrypt(s, e->buf, e->len, pt, sizeof pt, &n);
	if (rc == WC_OK && (n != strlen(text) || memcmp(pt, text, n) != 0))
		return 1;
	return rc;
}

/* Alice initiates towards Bob (with Bob's one-time prekey opk_index, or none when < 0), sends
 * "hello"; Bob responds. */
static inline int establish(struct party *a, struct party *b, int opk_index, wc_session **sa,
			    wc_session **sb)
{
	wc_prekey_bundle bundle;
	struct env e;
	uint8_t pt[1024];
	size_t n;
	party_bundle(b, opk_index, &bundle);
	int rc = wc_session_initiate(&a->id, &bundle, sa);
	if (rc != WC_OK)
		return rc;
	if ((rc = enc_text(*sa, "hello", &e)) != WC_OK)
		return rc;
	rc = wc_session_respond(&b->id, &b->spk, opk_index >= 0 ? &b->opk[opk_index] : NULL, e.buf,
				e.len, sb, pt, sizeof pt, &n);
	if (rc != WC_OK)
		return rc;
	return n == 5 && memcmp(pt, "hello", 5) == 0 ? WC_OK : 1;
}

struct snapshot {
	uint8_t *bytes;
	size_t len;
};

static inline void snapshot_take(const wc_session *s, struct snapshot *snap)
{
	snap->len = wc__session_serialized_size(s);
	snap->bytes = malloc(snap->len);
	if (!snap->bytes)
		abort();
	wc__session_serialize(s, snap->bytes);
}

static inline int snapshot_same(const wc_session *s, const struct snapshot *snap)
{
	struct snapshot now;
	snapshot_take(s, &now);
	int same = now.len == snap->len && memcmp(now.bytes, snap->bytes, now.len) == 0;
	free(now.bytes);
	return same;
}

static inline void snapshot_free(struct snapshot *snap)
{
	free(snap->bytes);
	snap->bytes = NULL;
}

#endif
