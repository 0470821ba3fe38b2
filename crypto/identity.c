/* SPDX-License-Identifier: MPL-2.0 */
/* Device identity: an Ed25519 key pair, used in its X25519 form for Diffie-Hellman. */
#include "wc_internal.h"

int wc_identity_from_seed(wc_identity *out, const uint8_t seed[32])
{
	if (!out || !seed)
		return WC_E_INVAL;
	wc_identity id;
	crypto_sign_seed_keypair(id.public_key, id.secret_key, seed);
	*out = id;
	sodium_memzero(&id, sizeof id);
	return WC_OK;
}

int wc_identity_generate(wc_identity *out)
{
	uint8_t seed[crypto_sign_SEEDBYTES];
	if (!out)
		return WC_E_INVAL;
	randombytes_buf(seed, sizeof seed);
	int rc = wc_identity_from_seed(out, seed);
	sodium_memzero(seed, sizeof seed);
	return rc;
}

void wc_identity_wipe(wc_identity *id)
{
	if (id)
		sodium_memzero(id, sizeof *id);
}

void wc__identity_x25519_secret(const wc_identity *id, uint8_t out[32])
{
	/* SHA-512 of the seed, clamped: the scalar Ed25519 itself signs with. Cannot fail. */
	(void)crypto_sign_ed25519_sk_to_curve25519(out, id->secret_key);
}

int wc__identity_x25519_public(const uint8_t ed_pk[32], uint8_t out[32])
{
	/* Refuses points that do not decode, are of small order or not in the main subgroup. */
	return crypto_sign_ed25519_pk_to_curve25519(out, ed_pk) == 0 ? WC_OK : WC_E_VERIFY;
}

void wc__x25519_keypair(uint8_t sk[32], uint8_t pk[32])
{
	randombytes_buf(sk, 32);
	(void)crypto_scalarmult_base(pk, sk);
}

int wc__dh(uint8_t out[32], const uint8_t sk[32], const uint8_t pk[32])
{
	/* libsodium returns -1 when the shared secret is all zero (a low-order public key). */
	uint8_t tmp[32];
	if (crypto_scalarmult(tmp, sk, pk) != 0) {
		sodium_memzero(tmp, sizeof tmp);
		return WC_E_VERIFY;
	}
	memcpy(out, tmp, 32);
	sodium_memzero(tmp, sizeof tmp);
	return WC_OK;
}
