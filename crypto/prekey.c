/* SPDX-License-Identifier: MPL-2.0 */
/* Signed prekeys and one-time prekeys (spec §Prekeys). */
#include "wc_internal.h"

void wc_signed_prekey_message(uint32_t id, const uint8_t public_key[WC_PUBLIC_KEY_BYTES],
			      uint64_t created_ms, uint8_t out[WC_SIGNED_PREKEY_MESSAGE_BYTES])
{
	size_t ds = sizeof WC__DS_SIGNED_PREKEY - 1;
	memcpy(out, WC__DS_SIGNED_PREKEY, ds);
	wakks_store_be32(out + ds, id);
	memcpy(out + ds + 4, public_key, 32);
	wakks_store_be64(out + ds + 4 + 32, created_ms);
}

int wc_signed_prekey_generate(const wc_identity *identity, uint32_t id, uint64_t created_ms,
			      wc_signed_prekey *out)
{
	if (!identity || !out)
		return WC_E_INVAL;
	wc_signed_prekey k;
	uint8_t msg[WC_SIGNED_PREKEY_MESSAGE_BYTES];
	k.id = id;
	k.created_ms = created_ms;
	wc__x25519_keypair(k.secret_key, k.public_key);
	wc_signed_prekey_message(id, k.public_key, created_ms, msg);
	crypto_sign_detached(k.signature, NULL, msg, sizeof msg, identity->secret_key);
	*out = k;
	sodium_memzero(&k, sizeof k);
	return WC_OK;
}

int wc_signed_prekey_verify(const uint8_t identity_public_key[WC_PUBLIC_KEY_BYTES], uint32_t id,
			    const uint8_t public_key[WC_PUBLIC_KEY_BYTES], uint64_t created_ms,
			    const uint8_t signature[WC_SIGNATURE_BYTES])
{
	uint8_t msg[WC_SIGNED_PREKEY_MESSAGE_BYTES];
	if (!identity_public_key || !public_key || !signature)
		return WC_E_VERIFY;
	wc_signed_prekey_message(id, public_key, created_ms, msg);
	if (crypto_sign_verify_detached(signature, msg, sizeof msg, identity_public_key) != 0)
		return WC_E_VERIFY;
	return WC_OK;
}

int wc_one_time_prekeys_generate(uint32_t first_id, size_t count, wc_one_time_prekey *out)
{
	if (!out || count == 0 || count - 1 > UINT32_MAX - first_id)
		return WC_E_INVAL;
	for (size_t i = 0; i < count; i++) {
		out[i].id = first_id + (uint32_t)i;
		wc__x25519_keypair(out[i].secret_key, out[i].public_key);
	}
	return WC_OK;
}

void wc_signed_prekey_wipe(wc_signed_prekey *k)
{
	if (k)
		sodium_memzero(k, sizeof *k);
}

void wc_one_time_prekey_wipe(wc_one_time_prekey *k)
{
	if (k)
		sodium_memzero(k, sizeof *k);
}
