/* SPDX-License-Identifier: MPL-2.0 */
/* Session state at rest (spec §Session state): a versioned fixed layout followed by the
 * skipped keys, sealed with XChaCha20-Poly1305 under the device storage key. */
#include <stdlib.h>

#include "session_internal.h"

#define STATE_VERSION 1
#define STATE_FIXED_BYTES (3 + 2 * 32 + 6 * 32 + 3 * 4 + 32 + 2 * 4 + 4)
#define STATE_SKIPPED_BYTES (32 + 4 + 32)
#define SEALED_VERSION 1
#define SEALED_OVERHEAD (1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + \
			 crypto_aead_xchacha20poly1305_ietf_ABYTES)

size_t wc__session_serialized_size(const wc_session *s)
{
	return STATE_FIXED_BYTES + s->nskipped * STATE_SKIPPED_BYTES;
}

void wc__session_serialize(const wc_session *s, uint8_t *out)
{
	uint8_t *p = out;
	*p++ = STATE_VERSION;
	*p++ = s->role;
	*p++ = s->flags;
#define PUT(field)                          \
	do {                                \
		memcpy(p, s->field, 32);    \
		p += 32;                    \
	} while (0)
	PUT(local_identity);
	PUT(remote_identity);
	PUT(rk);
	PUT(dhs_sk);
	PUT(dhs_pk);
	PUT(dhr);
	PUT(cks);
	PUT(ckr);
	wakks_store_be32(p, s->ns);
	wakks_store_be32(p + 4, s->nr);
	wakks_store_be32(p + 8, s->pn);
	p += 12;
	PUT(base_key);
#undef PUT
	wakks_store_be32(p, s->spk_id);
	wakks_store_be32(p + 4, s->opk_id);
	wakks_store_be32(p + 8, (uint32_t)s->nskipped);
	p += 12;
	for (size_t i = 0; i < s->nskipped; i++) {
		memcpy(p, s->skipped[i].dh, 32);
		wakks_store_be32(p + 32, s->skipped[i].n);
		memcpy(p + 36, s->skipped[i].mk, 32);
		p += STATE_SKIPPED_BYTES;
	}
}

int wc__session_deserialize(const uint8_t *in, size_t len, wc_session **out)
{
	const uint8_t *p = in;
	wc_session *s;

	if (!in || len < 1)
		return WC_E_FORMAT;
	if (in[0] != STATE_VERSION)
		return WC_E_VERSION;
	if (len < STATE_FIXED_BYTES)
		return WC_E_FORMAT;
	uint32_t nskipped = wakks_load_be32(in + STATE_FIXED_BYTES - 4);
	if (nskipped > WC_MAX_SKIPPED_KEYS ||
	    len != STATE_FIXED_BYTES + (size_t)nskipped * STATE_SKIPPED_BYTES)
		return WC_E_FORMAT;
	if ((in[1] != WC__ROLE_INITIATOR && in[1] != WC__ROLE_RESPONDER) || (in[2] & ~WC__F_ALL))
		return WC_E_FORMAT;
	if (!(s = wc__session_alloc()))
		return WC_E_NOMEM;
	p += 1;
	s->role = *p++;
	s->flags = *p++;
#define GET(field)                          \
	do {                                \
		memcpy(s->field, p, 32);    \
		p += 32;                    \
	} while (0)
	GET(local_identity);
	GET(remote_identity);
	GET(rk);
	GET(dhs_sk);
	GET(dhs_pk);
	GET(dhr);
	GET(cks);
	GET(ckr);
	s->ns = wakks_load_be32(p);
	s->nr = wakks_load_be32(p + 4);
	s->pn = wakks_load_be32(p + 8);
	p += 12;
	GET(base_key);
#undef GET
	s->spk_id = wakks_load_be32(p);
	s->opk_id = wakks_load_be32(p + 4);
	p += 12;
	if (nskipped) {
		s->skipped = malloc(nskipped * sizeof *s->skipped);
		if (!s->skipped) {
			wc_session_free(s);
			return WC_E_NOMEM;
		}
		s->skipped_cap = nskipped;
		for (uint32_t i = 0; i < nskipped; i++) {
			memcpy(s->skipped[i].dh, p, 32);
			s->skipped[i].n = wakks_load_be32(p + 32);
			memcpy(s->skipped[i].mk, p + 36, 32);
			p += STATE_SKIPPED_BYTES;
		}
		s->nskipped = nskipped;
	}
	*out = s;
	return WC_OK;
}

size_t wc_session_sealed_size(const wc_session *s)
{
	return s ? SEALED_OVERHEAD + wc__session_serialized_size(s) : 0;
}

static void state__ad(uint8_t ad[sizeof WC__DS_STATE])
{
	memcpy(ad, WC__DS_STATE, sizeof WC__DS_STATE - 1);
	ad[sizeof WC__DS_STATE - 1] = SEALED_VERSION;
}

int wc_session_seal(const wc_session *s, const uint8_t storage_key[WC_STORAGE_KEY_BYTES],
		    uint8_t *out, size_t out_cap, size_t *out_len)
{
	uint8_t ad[sizeof WC__DS_STATE];
	if (!s || !storage_key || !out || !out_len)
		return WC_E_INVAL;
	size_t plain = wc__session_serialized_size(s);
	if (out_cap < SEALED_OVERHEAD + plain)
		return WC_E_SPACE;
	uint8_t *nonce = out + 1, *body = out + 1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
	out[0] = SEALED_VERSION;
	randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	wc__session_serialize(s, body);
	state__ad(ad);
	crypto_aead_xchacha20poly1305_ietf_encrypt(body, NULL, body, plain, ad, sizeof ad, NULL,
						   nonce, storage_key);
	*out_len = SEALED_OVERHEAD + plain;
	return WC_OK;
}

int wc_session_unseal(const uint8_t storage_key[WC_STORAGE_KEY_BYTES], const uint8_t *sealed,
		      size_t len, wc_session **out)
{
	uint8_t ad[sizeof WC__DS_STATE];
	if (!storage_key || !sealed || !out)
		return WC_E_INVAL;
	if (len < 1)
		return WC_E_FORMAT;
	if (sealed[0] != SEALED_VERSION)
		return WC_E_VERSION;
	if (len < SEALED_OVERHEAD ||
	    len > SEALED_OVERHEAD + STATE_FIXED_BYTES +
			  (size_t)WC_MAX_SKIPPED_KEYS * STATE_SKIPPED_BYTES)
		return WC_E_FORMAT;
	size_t plain = len - SEALED_OVERHEAD;
	uint8_t *buf = malloc(plain ? plain : 1);
	if (!buf)
		return WC_E_NOMEM;
	state__ad(ad);
	int rc = WC_E_VERIFY;
	const uint8_t *nonce = sealed + 1;
	const uint8_t *body = sealed + 1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(buf, NULL, NULL, body,
						       len - 1 - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
						       ad, sizeof ad, nonce, storage_key) == 0)
		rc = wc__session_deserialize(buf, plain, out);
	sodium_memzero(buf, plain);
	free(buf);
	return rc;
}
