/* SPDX-License-Identifier: MPL-2.0 */
/* The cryptography of pushing (spec/push.md §3-§5), on OpenSSL: the relay's VAPID key kept in the
 * data directory (RFC 8292), signed JWTs (ES256 for VAPID and APNs, RS256 for FCM's service
 * account), and the aes128gcm payload encryption of Web Push (RFC 8291). Pure functions, any
 * thread; nothing here logs or keeps a secret past its call. */
#ifndef WAKKS_RELAY_SERVICES_PUSH_CRYPTO_H
#define WAKKS_RELAY_SERVICES_PUSH_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define PUSH_P256_POINT_BYTES 65 /* uncompressed: 0x04 || x || y */
#define PUSH_AUTH_SECRET_BYTES 16
#define PUSH_SALT_BYTES 16
/* RFC 8291 §4: salt(16) rs(4) idlen(1) keyid(65), then one record: the plaintext, the delimiter
 * 0x02, and the 16-byte AEAD tag. */
#define PUSH_AES128GCM_OVERHEAD (16 + 4 + 1 + PUSH_P256_POINT_BYTES + 1 + 16)
/* The record size the relay announces: its payloads are far smaller, so always one record. */
#define PUSH_RECORD_SIZE 4096

/* The VAPID key: read from path (PEM, PKCS#8), or generated (P-256) and written there with mode
 * 0600 when the file does not exist. Returns 0, or -1 with why[] set (never key material). */
int push_vapid_load(const char *path, EVP_PKEY **out, char *why, size_t why_len);

/* A private key from a PEM file (a .p8 APNs key: EC P-256; an FCM service account's: RSA).
 * Returns NULL when unreadable. */
EVP_PKEY *push_key_read_pem(const char *path);
/* The same from PEM text in memory (a service-account JSON holds its key this way). */
EVP_PKEY *push_key_from_pem(const char *pem, size_t len);

/* The uncompressed public point of a P-256 key. 0 or -1. */
int push_p256_public(EVP_PKEY *key, uint8_t out[PUSH_P256_POINT_BYTES]);

/* True when p is an uncompressed point on P-256 (what a browser's p256dh must be). */
int push_p256_point_valid(const uint8_t p[PUSH_P256_POINT_BYTES]);

/* A compact JWS over the given header and claims JSON: ES256 (raw r || s) for an EC key, RS256
 * for an RSA key. Writes a NUL-terminated string to out; returns its length, or -1 (cap too
 * small, signing failed). */
int push_jwt_sign(EVP_PKEY *key, const char *header_json, const char *claims_json, char *out,
		  size_t cap);

/* RFC 8291 aes128gcm: encrypts plaintext for a subscription's ua_public and auth secret with a
 * fresh ephemeral key and salt, as one record. out needs len + PUSH_AES128GCM_OVERHEAD bytes.
 * Returns the length written, or -1. */
int push_webpush_encrypt(const uint8_t ua_public[PUSH_P256_POINT_BYTES],
			 const uint8_t auth[PUSH_AUTH_SECRET_BYTES], const uint8_t *plaintext,
			 size_t len, uint8_t *out, size_t cap);

#ifdef WAKKS_TEST_HOOKS
/* Makes the next push_webpush_encrypt use this ephemeral key pair and salt (the known-answer test
 * of RFC 8291 Appendix A); NULL restores fresh randomness. */
void push_test_set_ephemeral(const uint8_t priv[32], const uint8_t pub[PUSH_P256_POINT_BYTES],
			     const uint8_t salt[PUSH_SALT_BYTES]);
#endif

#endif
