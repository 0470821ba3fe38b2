/* SPDX-License-Identifier: MPL-2.0 */
/* Internals shared by the identity library's files. Not installed, not for the relay. */
#ifndef WAKKS_IDENTITY_INTERNAL_H
#define WAKKS_IDENTITY_INTERNAL_H

#include <jansson.h>
#include <cjose/cjose.h>

#include "wakks_identity.h"

#define ID__KID_MAX_BYTES 128

void id__sha256(const uint8_t *in, size_t len, uint8_t out[ID_HASH_BYTES]);
void id__put_u16be(uint8_t *p, uint16_t v);
void id__put_u64be(uint8_t *p, uint64_t v);
uint16_t id__get_u16be(const uint8_t *p);
uint64_t id__get_u64be(const uint8_t *p);
bool id__ascii_case_equal(const char *a, const char *b);

/* A JSON string member without embedded NUL; NULL if absent. @return 0, or `type_err` if the
 * member exists but is not such a string. */
int id__json_string(const json_t *obj, const char *name, const char **out, size_t *out_len,
		    int type_err);

/* The key for a token: by kid if kid is not NULL, else the only key fitting alg_bit.
 * @return 0, ID_ERR_KID_UNKNOWN, ID_ERR_KID_MISSING, ID_ERR_KEY_ALG_MISMATCH. The key stays owned
 * by the set. */
int id__keyset_find(const id_keyset *ks, const char *kid, unsigned alg_bit, const cjose_jwk_t **out);

/* Profile checks after the registered claims (claims.c). */
int id__claims_profile(const id_idp *idp, const id_tenant *tenant, const json_t *claims,
		       id_verified *v);

/* The checks after the signature, on a payload given directly (no replay cache): for the fuzz
 * target, which cannot forge signatures but must reach the claim parsers. */
int id__verify_claims(const id_idp *idp, const id_tenant *tenant, const uint8_t *payload,
		      size_t len, const uint8_t identity_pk[ID_PUBLIC_KEY_BYTES],
		      const uint8_t challenge[ID_CHALLENGE_BYTES], int64_t now, id_verified *out);

/* Account-id hashing over a prepared message (account_id.c). */
void id__account_hash(const uint8_t key[ID_HASH_KEY_BYTES], const uint8_t *msg, size_t len,
		      uint8_t out[ID_ACCOUNT_ID_BYTES]);

#endif
