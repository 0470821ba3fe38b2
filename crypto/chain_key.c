/* SPDX-License-Identifier: MPL-2.0 */
/* The Double Ratchet's KDFs: KDF_RK (HKDF), KDF_CK (HMAC), the message-key expansion, and the
 * padding rule for plaintexts (spec §Double Ratchet, §Padding). */
#include "wc_internal.h"

void wc__kdf_rk(const uint8_t rk[32], const uint8_t dh_out[32], uint8_t rk_out[32],
		uint8_t ck_out[32])
{
	uint8_t okm[64];
	(void)wc__hkdf(rk, 32, dh_out, 32, WC__DS_ROOT, okm, sizeof okm);
	memcpy(rk_out, okm, 32);
	memcpy(ck_out, okm + 32, 32);
	sodium_memzero(okm, sizeof okm);
}

void wc__kdf_ck(const uint8_t ck[32], uint8_t ck_out[32], uint8_t mk[32])
{
	/* mk = HMAC(CK, "wakks/v1/chain-message"), CK' = HMAC(CK, "wakks/v1/chain-next") */
	uint8_t next[32];
	crypto_auth_hmacsha256(mk, (const uint8_t *)WC__DS_CHAIN_MESSAGE,
			       sizeof WC__DS_CHAIN_MESSAGE - 1, ck);
	crypto_auth_hmacsha256(next, (const uint8_t *)WC__DS_CHAIN_NEXT,
			       sizeof WC__DS_CHAIN_NEXT - 1, ck);
	memcpy(ck_out, next, 32); /* ck_out may alias ck */
	sodium_memzero(next, sizeof next);
}

void wc__message_key_expand(const uint8_t mk[32], uint8_t key[32], uint8_t nonce[24])
{
	uint8_t okm[56];
	(void)wc__hkdf(NULL, 0, mk, 32, WC__DS_MESSAGE, okm, sizeof okm);
	memcpy(key, okm, 32);
	memcpy(nonce, okm + 32, 24);
	sodium_memzero(okm, sizeof okm);
}

size_t wc__padded_len(size_t len)
{
	/* At least one padding byte (0x80); blocks of 256 bytes up to 4 KiB, of 4 KiB above. */
	size_t block = len + 1 <= 4096 ? 256 : 4096;
	return (len + 1 + block - 1) / block * block;
}
