/* SPDX-License-Identifier: MPL-2.0 */
/* Safety numbers (spec §Safety numbers): 30 digits per identity key from an iterated SHA-512,
 * the two halves sorted so both parties see the same 60 digits. */
#include "wc_internal.h"

#define SAFETY_ITERATIONS 5200 /* as Signal's NumericFingerprintGenerator: slows grinding */

static void safety__half(const uint8_t key[32], char out[30])
{
	uint8_t h[crypto_hash_sha512_BYTES];
	crypto_hash_sha512_state st;
	/* h0 = SHA-512(ds || 0x00 0x01 || key); h_{i+1} = SHA-512(h_i || key) */
	static const uint8_t version[2] = {0x00, 0x01};
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, (const uint8_t *)WC__DS_FINGERPRINT,
				  sizeof WC__DS_FINGERPRINT - 1);
	crypto_hash_sha512_update(&st, version, sizeof version);
	crypto_hash_sha512_update(&st, key, 32);
	crypto_hash_sha512_final(&st, h);
	for (int i = 1; i < SAFETY_ITERATIONS; i++) {
		crypto_hash_sha512_init(&st);
		crypto_hash_sha512_update(&st, h, sizeof h);
		crypto_hash_sha512_update(&st, key, 32);
		crypto_hash_sha512_final(&st, h);
	}
	/* Six 5-byte big-endian chunks, each mod 100000 as five digits. */
	for (int c = 0; c < 6; c++) {
		uint64_t v = 0;
		for (int b = 0; b < 5; b++)
			v = (v << 8) | h[c * 5 + b];
		v %= 100000;
		for (int d = 4; d >= 0; d--) {
			out[c * 5 + d] = (char)('0' + v % 10);
			v /= 10;
		}
	}
}

int wc_safety_number(const uint8_t key_a[WC_PUBLIC_KEY_BYTES],
		     const uint8_t key_b[WC_PUBLIC_KEY_BYTES],
		     char out[WC_SAFETY_NUMBER_DIGITS + 1])
{
	char a[30], b[30];
	if (!key_a || !key_b || !out)
		return WC_E_INVAL;
	safety__half(key_a, a);
	safety__half(key_b, b);
	int lo_first = memcmp(a, b, 30) <= 0;
	memcpy(out, lo_first ? a : b, 30);
	memcpy(out + 30, lo_first ? b : a, 30);
	out[60] = '\0';
	return WC_OK;
}
