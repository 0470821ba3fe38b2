/* SPDX-License-Identifier: MPL-2.0 */
/* Internals shared by the crypto/ sources (byte order: wakks_bytes.h): HKDF, the ratchet
 * KDFs, padding and the domain-separation strings of spec/crypto.md §Domain separation. */
#ifndef WAKKS_CRYPTO_INTERNAL_H
#define WAKKS_CRYPTO_INTERNAL_H

#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "wakks_bytes.h"
#include "wakks_crypto.h"

/* Domain-separation strings: every KDF input, signature and AEAD associated data names one. */
#define WC__DS_SIGNED_PREKEY "wakks/v1/signed-prekey"      /* 22 bytes; signed-prekey message */
#define WC__DS_X3DH "wakks/v1/x3dh"                          /* HKDF info of X3DH */
#define WC__DS_ROOT "wakks/v1/ratchet-root"                  /* HKDF info of KDF_RK */
#define WC__DS_CHAIN_MESSAGE "wakks/v1/chain-message"      /* HMAC input of KDF_CK -> mk */
#define WC__DS_CHAIN_NEXT "wakks/v1/chain-next"            /* HMAC input of KDF_CK -> CK' */
#define WC__DS_MESSAGE "wakks/v1/message-key"                /* HKDF info, message key -> key,nonce */
#define WC__DS_STATE "wakks/v1/session-state"                /* AEAD AD of sealed state */
#define WC__DS_FINGERPRINT "wakks/v1/safety-number"          /* safety number hash prefix */
#define WC__DS_ATTACHMENT "wakks/v1/attachment"              /* secretstream first-chunk AD */

#define WC__ENVELOPE_VERSION 1
#define WC__TYPE_PREKEY 1
#define WC__TYPE_MESSAGE 2
#define WC__PREKEY_PART_BYTES 73
#define WC__HEADER_BYTES 40
#define WC__TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define WC__AD_BYTES 64

/* HKDF-SHA-256 (RFC 5869) on crypto_auth_hmacsha256; info is an ASCII string without NUL.
 * salt may be NULL (then 32 zero bytes). out_len <= 255 * 32. */
int wc__hkdf(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
	     const char *info, uint8_t *out, size_t out_len);

/* X25519 key pair from 32 random bytes (spec: GENERATE_DH). */
void wc__x25519_keypair(uint8_t sk[32], uint8_t pk[32]);
/* X25519; fails (WC_E_VERIFY) when the result is all zero (low-order point). */
int wc__dh(uint8_t out[32], const uint8_t sk[32], const uint8_t pk[32]);
/* The X25519 forms of Ed25519 identity keys. */
void wc__identity_x25519_secret(const wc_identity *id, uint8_t out[32]);
int wc__identity_x25519_public(const uint8_t ed_pk[32], uint8_t out[32]);

/* Double Ratchet KDFs (spec §Double Ratchet). */
void wc__kdf_rk(const uint8_t rk[32], const uint8_t dh_out[32], uint8_t rk_out[32],
		uint8_t ck_out[32]);
void wc__kdf_ck(const uint8_t ck[32], uint8_t ck_out[32], uint8_t mk[32]);
void wc__message_key_expand(const uint8_t mk[32], uint8_t key[32], uint8_t nonce[24]);

/* Padded length of a plaintext of len bytes (ISO/IEC 7816-4 padding, spec §Padding). */
size_t wc__padded_len(size_t len);

#endif
