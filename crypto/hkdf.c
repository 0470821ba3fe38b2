/* SPDX-License-Identifier: MPL-2.0 */
/* HKDF-SHA-256 (RFC 5869), built on HMAC-SHA-256 because libsodium 1.0.18 has no HKDF API. */
#include "wc_internal.h"

int wc__hkdf(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
	     const char *info, uint8_t *out, size_t out_len)
{
	static const uint8_t zero_salt[crypto_auth_hmacsha256_BYTES];
	uint8_t prk[crypto_auth_hmacsha256_BYTES];
	uint8_t t[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	size_t info_len = strlen(info);

	if (out_len == 0 || out_len > 255 * crypto_auth_hmacsha256_BYTES)
		return WC_E_INVAL;
	if (salt == NULL) {
		salt = zero_salt;
		salt_len = sizeof zero_salt;
	}
	/* Extract: PRK = HMAC(salt, IKM). */
	crypto_auth_hmacsha256_init(&st, salt, salt_len);
	crypto_auth_hmacsha256_update(&st, ikm, ikm_len);
	crypto_auth_hmacsha256_final(&st, prk);
	/* Expand: T(i) = HMAC(PRK, T(i-1) || info || i). */
	size_t done = 0;
	for (uint8_t i = 1; done < out_len; i++) {
		crypto_auth_hmacsha256_init(&st, prk, sizeof prk);
		if (i > 1)
			crypto_auth_hmacsha256_update(&st, t, sizeof t);
		crypto_auth_hmacsha256_update(&st, (const uint8_t *)info, info_len);
		crypto_auth_hmacsha256_update(&st, &i, 1);
		crypto_auth_hmacsha256_final(&st, t);
		size_t n = out_len - done < sizeof t ? out_len - done : sizeof t;
		memcpy(out + done, t, n);
		done += n;
	}
	sodium_memzero(prk, sizeof prk);
	sodium_memzero(t, sizeof t);
	sodium_memzero(&st, sizeof st);
	return WC_OK;
}
