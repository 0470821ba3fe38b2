/* SPDX-License-Identifier: MPL-2.0 */
/* The registration nonce that binds an ID token to one device key and one relay challenge. */
#include <string.h>

#include <sodium.h>

#include "identity_internal.h"

#define NONCE_DOMAIN "wakks.v1 oidc-nonce"

int id_nonce_compute(const char *issuer, const uint8_t identity_pk[ID_PUBLIC_KEY_BYTES],
		     const uint8_t challenge[ID_CHALLENGE_BYTES], char out[ID_NONCE_BUF_BYTES])
{
	if (!issuer || !identity_pk || !challenge || !out)
		return ID_ERR_INVALID_ARG;
	size_t ilen = strlen(issuer);
	if (ilen == 0 || ilen > ID_ISSUER_MAX_BYTES)
		return ID_ERR_INVALID_ARG;

	uint8_t len16[2];
	uint8_t digest[ID_HASH_BYTES];
	crypto_hash_sha256_state st;
	id__put_u16be(len16, (uint16_t)ilen);
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)NONCE_DOMAIN, sizeof NONCE_DOMAIN); /* incl. 0x00 */
	crypto_hash_sha256_update(&st, len16, sizeof len16);
	crypto_hash_sha256_update(&st, (const uint8_t *)issuer, ilen);
	crypto_hash_sha256_update(&st, identity_pk, ID_PUBLIC_KEY_BYTES);
	crypto_hash_sha256_update(&st, challenge, ID_CHALLENGE_BYTES);
	crypto_hash_sha256_final(&st, digest);
	id_b64url_encode(digest, sizeof digest, out, ID_NONCE_BUF_BYTES);
	return 0;
}
