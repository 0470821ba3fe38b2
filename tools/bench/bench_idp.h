/* SPDX-License-Identifier: MPL-2.0 */
/* The benchmark's identity provider: an instance of the development identity provider
 * (wakks_identity.h, devidp_*) with the MitID broker profile, whose ES256 public key the relay
 * trusts through an ordinary `[idp]` section (jwks_file), minting ID tokens for made-up citizens,
 * one per device number. The relay verifies them exactly as it verifies a real provider's tokens
 * (signature, iss, aud, times, nonce bound to key and challenge, once-only, assurance level). */
#ifndef WAKKS_BENCH_IDP_H
#define WAKKS_BENCH_IDP_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_IDP_ISSUER "https://bench-idp.localhost/mitid"
#define BENCH_IDP_AUDIENCE "wakks-bench"

struct bench_idp;

/* Loads the key from dir (the provider's key file), or creates it; writes dir/idp.jwks.json.
 * NULL on error. */
struct bench_idp *bench_idp_open(const char *dir);
void bench_idp_free(struct bench_idp *idp);

/* A token for citizen number `person` (a distinct CPR number per value), nonce bound to the
 * device key and the connection's challenge. Thread-safe. Returns the length written to out
 * (NUL-terminated) or 0 on error. */
size_t bench_idp_token(struct bench_idp *idp, uint64_t person, const uint8_t ik_pk[32],
		       const uint8_t challenge[32], char *out, size_t cap);

#endif
