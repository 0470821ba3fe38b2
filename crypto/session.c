/* SPDX-License-Identifier: MPL-2.0 */
/* Sessions: X3DH setup on both sides and the Double Ratchet (spec §Double Ratchet). Decryption
 * works on local copies of the ratchet variables and commits them only after the AEAD accepted
 * the message, so a failed call never changes the session. */
#include <stdlib.h>

#include "session_internal.h"
#include "x3dh_internal.h"

wc_session *wc__session_alloc(void)
{
	return calloc(1, sizeof(wc_session));
}

void wc_session_free(wc_session *s)
{
	if (!s)
		return;
	if (s->skipped) {
		sodium_memzero(s->skipped, s->skipped_cap * sizeof *s->skipped);
		free(s->skipped);
	}
	sodium_memzero(s, sizeof *s);
	free(s);
}

void wc_session_remote_identity(const wc_session *s, uint8_t out[WC_PUBLIC_KEY_BYTES])
{
	memcpy(out, s->remote_identity, WC_PUBLIC_KEY_BYTES);
}

void wc__session_ad(const wc_session *s, uint8_t ad[WC__AD_BYTES])
{
	if (s->role == WC__ROLE_INITIATOR) {
		memcpy(ad, s->local_identity, 32);
		memcpy(ad + 32, s->remote_identity, 32);
	} else {
		memcpy(ad, s->remote_identity, 32);
		memcpy(ad + 32, s->local_identity, 32);
	}
}

int wc_session_initiate(const wc_identity *self, const wc_prekey_bundle *b, wc_session **out)
{
	uint8_t ek_sk[32], ek_pk[32], sk[32], dh[32];
	wc_session *s = NULL;
	int rc;

	if (!self || !b || !out)
		return WC_E_INVAL;
	rc = wc_signed_prekey_verify(b->identity_key, b->signed_prekey_id, b->signed_prekey,
				     b->signed_prekey_created_ms, b->signed_prekey_signature);
	if (rc != WC_OK)
		return rc;
	wc__x25519_keypair(ek_sk, ek_pk);
	rc = x3dh__initiate(self, b->identity_key, b->signed_prekey,
			    b->has_one_time_prekey ? b->one_time_prekey : NULL, ek_sk, sk);
	if (rc != WC_OK)
		goto out;
	if (!(s = wc__session_alloc())) {
		rc = WC_E_NOMEM;
		goto out;
	}
	s->role = WC__ROLE_INITIATOR;
	memcpy(s->local_identity, self->public_key, 32);
	memcpy(s->remote_identity, b->identity_key, 32);
	memcpy(s->base_key, ek_pk, 32);
	s->spk_id = b->signed_prekey_id;
	if (b->has_one_time_prekey) {
		s->opk_id = b->one_time_prekey_id;
		s->flags |= WC__F_HAS_OPK;
	}
	/* RatchetInitAlice: DHs = GENERATE_DH(); DHr = SPK_B; RK, CKs = KDF_RK(SK, DH(DHs, DHr)) */
	memcpy(s->dhr, b->signed_prekey, 32);
	wc__x25519_keypair(s->dhs_sk, s->dhs_pk);
	if ((rc = wc__dh(dh, s->dhs_sk, s->dhr)) != WC_OK)
		goto out;
	wc__kdf_rk(sk, dh, s->rk, s->cks);
	s->flags |= WC__F_HAS_DHR | WC__F_HAS_CKS | WC__F_PENDING_PREKEY;
	*out = s;
	s = NULL;
out:
	wc_session_free(s);
	sodium_memzero(ek_sk, sizeof ek_sk);
	sodium_memzero(sk, sizeof sk);
	sodium_memzero(dh, sizeof dh);
	return rc;
}

size_t wc_session_envelope_size(const wc_session *s, size_t plaintext_len)
{
	size_t prekey = (s->flags & WC__F_PENDING_PREKEY) ? WC__PREKEY_PART_BYTES : 0;
	return 2 + prekey + WC__HEADER_BYTES + wc__padded_len(plaintext_len) + WC__TAG_BYTES;
}

int wc__session_encrypt_padded(wc_session *s, const uint8_t *padded, size_t padded_len,
			       uint8_t *out, size_t out_cap, size_t *out_len)
{
	uint8_t ad[WC__AD_BYTES + 2 + WC__PREKEY_PART_BYTES + WC__HEADER_BYTES];
	uint8_t mk[32], key[32], nonce[24];
	size_t off = 2;
	int pending = (s->flags & WC__F_PENDING_PREKEY) != 0;
	size_t need = 2 + (pending ? WC__PREKEY_PART_BYTES : 0) + WC__HEADER_BYTES + padded_len +
		      WC__TAG_BYTES;

	if (!(s->flags & WC__F_HAS_CKS) || s->ns >= UINT32_MAX - 1)
		return WC_E_INVAL;
	if (out_cap < need)
		return WC_E_SPACE;
	out[0] = WC__ENVELOPE_VERSION;
	out[1] = pending ? WC__TYPE_PREKEY : WC__TYPE_MESSAGE;
	if (pending) {
		uint8_t *p = out + off;
		memcpy(p, s->local_identity, 32);
		memcpy(p + 32, s->base_key, 32);
		wakks_store_be32(p + 64, s->spk_id);
		p[68] = (s->flags & WC__F_HAS_OPK) ? 1 : 0;
		wakks_store_be32(p + 69, (s->flags & WC__F_HAS_OPK) ? s->opk_id : 0);
		off += WC__PREKEY_PART_BYTES;
	}
	memcpy(out + off, s->dhs_pk, 32);
	wakks_store_be32(out + off + 32, s->pn);
	wakks_store_be32(out + off + 36, s->ns);
	off += WC__HEADER_BYTES;

	wc__session_ad(s, ad);
	memcpy(ad + WC__AD_BYTES, out, off);
	/* CKs, mk = KDF_CK(CKs); Ns += 1 */
	wc__kdf_ck(s->cks, s->cks, mk);
	wc__message_key_expand(mk, key, nonce);
	if (out + off != padded)
		memmove(out + off, padded, padded_len);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + off, NULL, out + off, padded_len, ad,
						   WC__AD_BYTES + off, NULL, nonce, key);
	s->ns++;
	*out_len = off + padded_len + WC__TAG_BYTES;
	sodium_memzero(mk, sizeof mk);
	sodium_memzero(key, sizeof key);
	sodium_memzero(nonce, sizeof nonce);
	return WC_OK;
}

int wc_session_encrypt(wc_session *s, const uint8_t *plaintext, size_t plaintext_len,
		       uint8_t *out, size_t out_cap, size_t *out_len)
{
	if (!s || (!plaintext && plaintext_len) || !out || !out_len)
		return WC_E_INVAL;
	if (plaintext_len > WC_PLAINTEXT_MAX_BYTES)
		return WC_E_TOO_LARGE;
	size_t need = wc_session_envelope_size(s, plaintext_len);
	if (out_cap < need)
		return WC_E_SPACE;
	/* Pad in place at the body's position, then encrypt in place. */
	size_t body = need - wc__padded_len(plaintext_len) - WC__TAG_BYTES;
	if (plaintext_len)
		memmove(out + body, plaintext, plaintext_len);
	wc__pad(out + body, plaintext_len, out + body);
	return wc__session_encrypt_padded(s, out + body, wc__padded_len(plaintext_len), out,
					  out_cap, out_len);
}

/* Decrypts body with message key mk into pt and removes the padding. */
static int session__open(const uint8_t mk[32], const struct wc__envelope *e,
			 const uint8_t *ad, size_t ad_len, uint8_t *pt, size_t *pt_len)
{
	uint8_t key[32], nonce[24];
	size_t padded = e->body_len - WC__TAG_BYTES, unpadded;
	int rc = WC_E_VERIFY;

	wc__message_key_expand(mk, key, nonce);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, NULL, NULL, e->body, e->body_len, ad,
						       ad_len, nonce, key) != 0)
		goto out;
	if (sodium_unpad(&unpadded, pt, padded, padded <= 4096 ? 256 : 4096) != 0 ||
	    wc__padded_len(unpadded) != padded) {
		sodium_memzero(pt, padded);
		rc = WC_E_FORMAT;
		goto out;
	}
	*pt_len = unpadded;
	rc = WC_OK;
out:
	sodium_memzero(key, sizeof key);
	sodium_memzero(nonce, sizeof nonce);
	return rc;
}

/* Appends new skipped keys, evicting the oldest beyond WC_MAX_SKIPPED_KEYS. */
static int session__store_skipped(wc_session *s, const struct wc__skipped *add, size_t n)
{
	if (n == 0)
		return WC_OK;
	size_t total = s->nskipped + n;
	if (total > WC_MAX_SKIPPED_KEYS) {
		size_t drop = total - WC_MAX_SKIPPED_KEYS;
		if (drop >= s->nskipped) {
			/* Every stored key goes, and the oldest of the new ones too. */
			size_t drop_new = drop - s->nskipped;
			sodium_memzero(s->skipped, s->nskipped * sizeof *s->skipped);
			s->nskipped = 0;
			add += drop_new;
			n -= drop_new;
		} else {
			sodium_memzero(s->skipped, drop * sizeof *s->skipped);
			memmove(s->skipped, s->skipped + drop,
				(s->nskipped - drop) * sizeof *s->skipped);
			s->nskipped -= drop;
			sodium_memzero(s->skipped + s->nskipped, drop * sizeof *s->skipped);
		}
	}
	if (s->nskipped + n > s->skipped_cap) {
		size_t cap = s->skipped_cap ? s->skipped_cap : 16;
		while (cap < s->nskipped + n)
			cap *= 2;
		if (cap > WC_MAX_SKIPPED_KEYS)
			cap = WC_MAX_SKIPPED_KEYS;
		struct wc__skipped *p = malloc(cap * sizeof *p);
		if (!p)
			return WC_E_NOMEM;
		if (s->skipped) {
			memcpy(p, s->skipped, s->nskipped * sizeof *p);
			sodium_memzero(s->skipped, s->skipped_cap * sizeof *p);
			free(s->skipped);
		}
		s->skipped = p;
		s->skipped_cap = cap;
	}
	memcpy(s->skipped + s->nskipped, add, n * sizeof *add);
	s->nskipped += n;
	return WC_OK;
}

static void session__remove_skipped(wc_session *s, size_t i)
{
	sodium_memzero(&s->skipped[i], sizeof s->skipped[i]);
	memmove(s->skipped + i, s->skipped + i + 1, (s->nskipped - i - 1) * sizeof *s->skipped);
	s->nskipped--;
	sodium_memzero(&s->skipped[s->nskipped], sizeof *s->skipped);
}

/* The ratchet variables decryption changes, copied so a failure leaves the session alone. */
struct ratchet_vars {
	uint8_t rk[32], dhs_sk[32], dhs_pk[32], dhr[32], cks[32], ckr[32];
	uint32_t ns, nr, pn;
	uint8_t flags;
};

/* SkipMessageKeys(state, until) on the copy, appending to the tmp list. */
static int session__skip(struct ratchet_vars *v, uint32_t until, struct wc__skipped *tmp,
			 size_t *ntmp)
{
	if ((uint64_t)v->nr + WC_MAX_SKIP < until)
		return WC_E_SKIP_LIMIT;
	if (!(v->flags & WC__F_HAS_CKR))
		return WC_OK;
	while (v->nr < until) {
		struct wc__skipped *k = &tmp[(*ntmp)++];
		memcpy(k->dh, v->dhr, 32);
		k->n = v->nr;
		wc__kdf_ck(v->ckr, v->ckr, k->mk);
		v->nr++;
	}
	return WC_OK;
}

/* TrySkippedMessageKeys: *found says whether a stored key matched; then the result is final. */
static int session__try_skipped(wc_session *s, const struct wc__envelope *e, const uint8_t *ad,
				size_t ad_len, uint8_t *pt, size_t *pt_len, int *found)
{
	size_t len = 0;
	*found = 0;
	for (size_t i = 0; i < s->nskipped; i++) {
		if (s->skipped[i].n == e->n && sodium_memcmp(s->skipped[i].dh, e->dh, 32) == 0) {
			*found = 1;
			int rc = session__open(s->skipped[i].mk, e, ad, ad_len, pt, &len);
			if (rc != WC_OK)
				return rc == WC_E_FORMAT ? rc : WC_E_VERIFY;
			session__remove_skipped(s, i);
			s->flags &= (uint8_t)~WC__F_PENDING_PREKEY;
			*pt_len = len;
			return WC_OK;
		}
	}
	return WC_OK;
}

static void session__vars_copy(struct ratchet_vars *v, const wc_session *s)
{
	memcpy(v->rk, s->rk, 32);
	memcpy(v->dhs_sk, s->dhs_sk, 32);
	memcpy(v->dhs_pk, s->dhs_pk, 32);
	memcpy(v->dhr, s->dhr, 32);
	memcpy(v->cks, s->cks, 32);
	memcpy(v->ckr, s->ckr, 32);
	v->ns = s->ns;
	v->nr = s->nr;
	v->pn = s->pn;
	v->flags = s->flags;
}

static void session__vars_commit(wc_session *s, const struct ratchet_vars *v)
{
	memcpy(s->rk, v->rk, 32);
	memcpy(s->dhs_sk, v->dhs_sk, 32);
	memcpy(s->dhs_pk, v->dhs_pk, 32);
	memcpy(s->dhr, v->dhr, 32);
	memcpy(s->cks, v->cks, 32);
	memcpy(s->ckr, v->ckr, 32);
	s->ns = v->ns;
	s->nr = v->nr;
	s->pn = v->pn;
	s->flags = v->flags & (uint8_t)~WC__F_PENDING_PREKEY;
}

/* Room for the keys this message may skip (each run is bounded by WC_MAX_SKIP). */
static size_t session__skip_room(const struct ratchet_vars *v, const struct wc__envelope *e,
				 int ratchet)
{
	size_t cap = 0;
	if (ratchet) {
		if ((v->flags & WC__F_HAS_CKR) && e->pn > v->nr)
			cap += e->pn - v->nr < WC_MAX_SKIP ? e->pn - v->nr : WC_MAX_SKIP;
		cap += e->n < WC_MAX_SKIP ? e->n : WC_MAX_SKIP;
	} else if (e->n > v->nr) {
		cap += e->n - v->nr < WC_MAX_SKIP ? e->n - v->nr : WC_MAX_SKIP;
	}
	return cap;
}

/* SkipMessageKeys(state, header.pn); DHRatchet(state, header), on the copy. */
static int session__dh_ratchet(struct ratchet_vars *v, const struct wc__envelope *e,
			       struct wc__skipped *tmp, size_t *ntmp)
{
	uint8_t dh[32];
	int rc;
	if ((rc = session__skip(v, e->pn, tmp, ntmp)) != WC_OK)
		return rc;
	v->pn = v->ns;
	v->ns = 0;
	v->nr = 0;
	memcpy(v->dhr, e->dh, 32);
	v->flags |= WC__F_HAS_DHR;
	rc = WC_E_VERIFY;
	if (wc__dh(dh, v->dhs_sk, v->dhr) != WC_OK)
		goto out;
	wc__kdf_rk(v->rk, dh, v->rk, v->ckr);
	wc__x25519_keypair(v->dhs_sk, v->dhs_pk);
	if (wc__dh(dh, v->dhs_sk, v->dhr) != WC_OK)
		goto out;
	wc__kdf_rk(v->rk, dh, v->rk, v->cks);
	v->flags |= WC__F_HAS_CKR | WC__F_HAS_CKS;
	rc = WC_OK;
out:
	sodium_memzero(dh, sizeof dh);
	return rc;
}

/* SkipMessageKeys(state, header.n); CKr, mk = KDF_CK(CKr); Nr += 1, on the copy. */
static int session__message_key(struct ratchet_vars *v, const struct wc__envelope *e,
				struct wc__skipped *tmp, size_t *ntmp, uint8_t mk[32])
{
	int rc;
	if ((rc = session__skip(v, e->n, tmp, ntmp)) != WC_OK)
		return rc;
	if (!(v->flags & WC__F_HAS_CKR) || e->n < v->nr)
		return WC_E_VERIFY; /* replay of a consumed key, or nothing to decrypt with */
	wc__kdf_ck(v->ckr, v->ckr, mk);
	v->nr++;
	return WC_OK;
}

static int session__decrypt(wc_session *s, const struct wc__envelope *e, uint8_t *pt,
			    size_t pt_cap, size_t *pt_len)
{
	uint8_t ad[WC__AD_BYTES + 2 + WC__PREKEY_PART_BYTES + WC__HEADER_BYTES];
	uint8_t mk[32];
	struct ratchet_vars v;
	struct wc__skipped *tmp = NULL;
	size_t ntmp = 0, len = 0;
	int found;
	int rc;

	if (pt_cap < e->body_len - WC__TAG_BYTES)
		return WC_E_SPACE;
	wc__session_ad(s, ad);
	memcpy(ad + WC__AD_BYTES, e->prefix, e->prefix_len);
	size_t ad_len = WC__AD_BYTES + e->prefix_len;
	rc = session__try_skipped(s, e, ad, ad_len, pt, pt_len, &found);
	if (found)
		return rc;

	session__vars_copy(&v, s);
	int ratchet = !(v.flags & WC__F_HAS_DHR) || sodium_memcmp(v.dhr, e->dh, 32) != 0;
	size_t cap = session__skip_room(&v, e, ratchet);
	if (cap && !(tmp = malloc(cap * sizeof *tmp))) {
		sodium_memzero(&v, sizeof v);
		return WC_E_NOMEM;
	}
	if (ratchet && (rc = session__dh_ratchet(&v, e, tmp, &ntmp)) != WC_OK)
		goto out;
	if ((rc = session__message_key(&v, e, tmp, &ntmp, mk)) != WC_OK)
		goto out;
	rc = session__open(mk, e, ad, ad_len, pt, &len);
	if (rc != WC_OK) {
		if (rc != WC_E_FORMAT)
			rc = WC_E_VERIFY;
		goto out;
	}
	/* Commit. Storing skipped keys may need memory: do it first, undo nothing else. */
	if ((rc = session__store_skipped(s, tmp, ntmp)) != WC_OK) {
		sodium_memzero(pt, e->body_len - WC__TAG_BYTES);
		goto out;
	}
	session__vars_commit(s, &v);
	*pt_len = len;
out:
	if (tmp) {
		sodium_memzero(tmp, ntmp * sizeof *tmp);
		free(tmp);
	}
	sodium_memzero(&v, sizeof v);
	sodium_memzero(mk, sizeof mk);
	return rc;
}

int wc_session_decrypt(wc_session *s, const uint8_t *envelope, size_t len, uint8_t *plaintext,
		       size_t plaintext_cap, size_t *plaintext_len)
{
	struct wc__envelope e;
	int rc;

	if (!s || !envelope || !plaintext || !plaintext_len)
		return WC_E_INVAL;
	if ((rc = wc__envelope_parse(envelope, len, &e)) != WC_OK)
		return rc;
	if (e.type == WC__TYPE_PREKEY &&
	    (s->role != WC__ROLE_RESPONDER ||
	     sodium_memcmp(e.info.base_key, s->base_key, 32) != 0 ||
	     sodium_memcmp(e.info.sender_identity_key, s->remote_identity, 32) != 0 ||
	     e.info.signed_prekey_id != s->spk_id ||
	     e.info.has_one_time_prekey != !!(s->flags & WC__F_HAS_OPK) ||
	     e.info.one_time_prekey_id != s->opk_id))
		return WC_E_SESSION;
	return session__decrypt(s, &e, plaintext, plaintext_cap, plaintext_len);
}

int wc_session_respond(const wc_identity *self, const wc_signed_prekey *spk,
		       wc_one_time_prekey *opk, const uint8_t *envelope, size_t len,
		       wc_session **out, uint8_t *plaintext, size_t plaintext_cap,
		       size_t *plaintext_len)
{
	struct wc__envelope e;
	uint8_t sk[32];
	wc_session *s = NULL;
	size_t pt_len = 0;
	int rc;

	if (!self || !spk || !envelope || !out || !plaintext || !plaintext_len)
		return WC_E_INVAL;
	if ((rc = wc__envelope_parse(envelope, len, &e)) != WC_OK)
		return rc;
	if (e.type != WC__TYPE_PREKEY)
		return WC_E_SESSION;
	if (e.info.signed_prekey_id != spk->id)
		return WC_E_PREKEY;
	if (e.info.has_one_time_prekey) {
		if (!opk || opk->id != e.info.one_time_prekey_id ||
		    sodium_is_zero(opk->secret_key, sizeof opk->secret_key))
			return WC_E_PREKEY;
	} else if (opk) {
		return WC_E_PREKEY;
	}
	rc = x3dh__respond(self, e.info.sender_identity_key, spk->secret_key,
			   e.info.has_one_time_prekey ? opk->secret_key : NULL, e.info.base_key, sk);
	if (rc != WC_OK)
		goto out;
	if (!(s = wc__session_alloc())) {
		rc = WC_E_NOMEM;
		goto out;
	}
	/* RatchetInitBob: DHs = SPK_B key pair; RK = SK; DHr, CKs, CKr unset */
	s->role = WC__ROLE_RESPONDER;
	memcpy(s->local_identity, self->public_key, 32);
	memcpy(s->remote_identity, e.info.sender_identity_key, 32);
	memcpy(s->base_key, e.info.base_key, 32);
	s->spk_id = e.info.signed_prekey_id;
	if (e.info.has_one_time_prekey) {
		s->opk_id = e.info.one_time_prekey_id;
		s->flags |= WC__F_HAS_OPK;
	}
	memcpy(s->rk, sk, 32);
	memcpy(s->dhs_sk, spk->secret_key, 32);
	memcpy(s->dhs_pk, spk->public_key, 32);
	if ((rc = session__decrypt(s, &e, plaintext, plaintext_cap, &pt_len)) != WC_OK)
		goto out;
	if (opk && e.info.has_one_time_prekey)
		sodium_memzero(opk->secret_key, sizeof opk->secret_key);
	*out = s;
	*plaintext_len = pt_len;
	s = NULL;
out:
	wc_session_free(s);
	sodium_memzero(sk, sizeof sk);
	return rc;
}
