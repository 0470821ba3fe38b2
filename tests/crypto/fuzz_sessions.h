/* SPDX-License-Identifier: MPL-2.0 */
/* A fixed pair of sessions for the fuzz targets, built without the random source so that the
 * committed corpus (Alice's envelopes) stays valid in every build: Alice's side of X3DH and her
 * first ratchet key are derived from constants. Bob's side is set up with wc_session_respond. */
#ifndef WAKKS_FUZZ_SESSIONS_H
#define WAKKS_FUZZ_SESSIONS_H

#include <stdlib.h>

#include "session_internal.h"
#include "x3dh_internal.h"

static wc_identity fz_alice, fz_bob;
static wc_signed_prekey fz_spk;
static wc_one_time_prekey fz_opk;

static inline void fz_keys(void)
{
	uint8_t seed[32], msg[WC_SIGNED_PREKEY_MESSAGE_BYTES];
	if (wc_init() != WC_OK)
		abort();
	memset(seed, 0x11, 32);
	(void)wc_identity_from_seed(&fz_alice, seed);
	memset(seed, 0x22, 32);
	(void)wc_identity_from_seed(&fz_bob, seed);
	fz_spk.id = 1;
	fz_spk.created_ms = 1767225600000ull;
	memset(fz_spk.secret_key, 0x33, 32);
	crypto_scalarmult_base(fz_spk.public_key, fz_spk.secret_key);
	wc_signed_prekey_message(fz_spk.id, fz_spk.public_key, fz_spk.created_ms, msg);
	crypto_sign_detached(fz_spk.signature, NULL, msg, sizeof msg, fz_bob.secret_key);
	fz_opk.id = 7;
	memset(fz_opk.secret_key, 0x44, 32);
	crypto_scalarmult_base(fz_opk.public_key, fz_opk.secret_key);
}

/* Alice's session as wc_session_initiate would build it with EK.sk = 0xE1*32, DHs.sk = 0xA1*32. */
static inline wc_session *fz_alice_session(void)
{
	uint8_t ek_sk[32], sk[32], dh[32];
	wc_session *s = wc__session_alloc();
	if (!s)
		abort();
	memset(ek_sk, 0xe1, 32);
	if (x3dh__initiate(&fz_alice, fz_bob.public_key, fz_spk.public_key, fz_opk.public_key,
			   ek_sk, sk) != WC_OK)
		abort();
	s->role = WC__ROLE_INITIATOR;
	memcpy(s->local_identity, fz_alice.public_key, 32);
	memcpy(s->remote_identity, fz_bob.public_key, 32);
	crypto_scalarmult_base(s->base_key, ek_sk);
	s->spk_id = fz_spk.id;
	s->opk_id = fz_opk.id;
	memcpy(s->dhr, fz_spk.public_key, 32);
	memset(s->dhs_sk, 0xa1, 32);
	crypto_scalarmult_base(s->dhs_pk, s->dhs_sk);
	if (wc__dh(dh, s->dhs_sk, s->dhr) != WC_OK)
		abort();
	wc__kdf_rk(sk, dh, s->rk, s->cks);
	s->flags = WC__F_HAS_OPK | WC__F_HAS_DHR | WC__F_HAS_CKS | WC__F_PENDING_PREKEY;
	return s;
}

/* Bob's session after the first envelope "opening" (n = 0) from Alice's session. */
static inline wc_session *fz_bob_session(wc_session *alice)
{
	uint8_t env[1024], pt[1024];
	size_t len, n;
	wc_session *b = NULL;
	wc_one_time_prekey opk = fz_opk;
	if (wc_session_encrypt(alice, (const uint8_t *)"opening", 7, env, sizeof env, &len) != WC_OK ||
	    wc_session_respond(&fz_bob, &fz_spk, &opk, env, len, &b, pt, sizeof pt, &n) != WC_OK)
		abort();
	return b;
}

#endif
