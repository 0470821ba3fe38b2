/* SPDX-License-Identifier: MPL-2.0 */
/* JWKS documents: parsed once into cjose keys, looked up by kid at verification time. */
#include <stdlib.h>
#include <string.h>

#include "identity_internal.h"

/* RSA moduli below 2048 bits are refused (NIST SP 800-131A); above 8192 bits verification cost
 * becomes a lever for whoever controls the JWKS URL. */
#define RSA_MIN_BYTES 256
#define RSA_MAX_BYTES 1024
#define RSA_E_MAX_BYTES 8
#define P256_COORD_BYTES 32

struct id__key {
	char kid[ID__KID_MAX_BYTES + 1];
	bool has_kid;
	unsigned alg_bit; /* ID_ALG_RS256 for RSA keys, ID_ALG_ES256 for P-256 keys */
	cjose_jwk_t *jwk;
	json_t *pub;      /* the public members as kept, for id_keyset_public_json */
};

struct id_keyset {
	size_t n;
	struct id__key keys[ID_JWKS_MAX_KEYS];
};

void id_keyset_free(id_keyset *ks)
{
	if (!ks)
		return;
	for (size_t i = 0; i < ks->n; i++) {
		cjose_jwk_release(ks->keys[i].jwk);
		json_decref(ks->keys[i].pub);
	}
	free(ks);
}

size_t id_keyset_count(const id_keyset *ks)
{
	return ks ? ks->n : 0;
}

/* Decoded length of a base64url member, or -1 if absent or malformed. Leading zero octets of
 * big integers are not counted. */
static long member_len(const json_t *k, const char *name, bool strip_zeros)
{
	const char *s;
	size_t n;
	if (id__json_string(k, name, &s, &n, -1) != 0 || !s)
		return -1;
	uint8_t *bin;
	size_t blen;
	if (id_b64url_decode(s, n, &bin, &blen) != 0)
		return -1;
	size_t skip = 0;
	while (strip_zeros && skip < blen && bin[skip] == 0)
		skip++;
	free(bin);
	return (long)(blen - skip);
}

/* Copies one public member into the minimal JWK handed to cjose. */
static int copy_member(json_t *dst, const json_t *src, const char *name)
{
	json_t *v = json_object_get(src, name);
	return v && json_object_set(dst, name, v) == 0 ? 0 : -1;
}

/* Builds a public-only JWK object for a key we accept, or NULL if we skip it. */
static json_t *public_jwk(const json_t *k, unsigned *alg_bit)
{
	const char *kty, *use, *alg, *crv;
	if (id__json_string(k, "kty", &kty, NULL, -1) != 0 || !kty)
		return NULL;
	if (id__json_string(k, "use", &use, NULL, -1) != 0 || (use && strcmp(use, "sig") != 0))
		return NULL;
	if (id__json_string(k, "alg", &alg, NULL, -1) != 0)
		return NULL;
	json_t *pub = json_object();
	if (!pub)
		return NULL;
	if (strcmp(kty, "RSA") == 0 && (!alg || strcmp(alg, "RS256") == 0)) {
		long n = member_len(k, "n", true), e = member_len(k, "e", true);
		if (n < RSA_MIN_BYTES || n > RSA_MAX_BYTES || e < 1 || e > RSA_E_MAX_BYTES)
			goto skip;
		if (json_object_set_new(pub, "kty", json_string("RSA")) != 0 || copy_member(pub, k, "n") ||
		    copy_member(pub, k, "e"))
			goto skip;
		*alg_bit = ID_ALG_RS256;
		return pub;
	}
	if (strcmp(kty, "EC") == 0 && (!alg || strcmp(alg, "ES256") == 0)) {
		if (id__json_string(k, "crv", &crv, NULL, -1) != 0 || !crv || strcmp(crv, "P-256") != 0)
			goto skip;
		if (member_len(k, "x", false) != P256_COORD_BYTES || member_len(k, "y", false) != P256_COORD_BYTES)
			goto skip;
		if (json_object_set_new(pub, "kty", json_string("EC")) != 0 || copy_member(pub, k, "crv") ||
		    copy_member(pub, k, "x") || copy_member(pub, k, "y"))
			goto skip;
		*alg_bit = ID_ALG_ES256;
		return pub;
	}
skip:
	json_decref(pub);
	return NULL;
}

int id_keyset_parse(const char *json, size_t len, id_keyset **out)
{
	if (!json || !out)
		return ID_ERR_INVALID_ARG;
	if (len > ID_JWKS_MAX_BYTES)
		return ID_ERR_JWKS_TOO_LARGE;
	json_error_t jerr;
	json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *keys = doc ? json_object_get(doc, "keys") : NULL;
	if (!json_is_object(doc) || !json_is_array(keys)) {
		json_decref(doc);
		return ID_ERR_JWKS_JSON;
	}
	id_keyset *ks = calloc(1, sizeof *ks);
	if (!ks) {
		json_decref(doc);
		return ID_ERR_NOMEM;
	}
	size_t i;
	json_t *k;
	json_array_foreach(keys, i, k) {
		if (ks->n == ID_JWKS_MAX_KEYS)
			break;
		if (!json_is_object(k))
			continue;
		const char *kid;
		size_t kid_len;
		if (id__json_string(k, "kid", &kid, &kid_len, -1) != 0 || kid_len > ID__KID_MAX_BYTES)
			continue;
		bool dup = false;
		for (size_t j = 0; kid && j < ks->n; j++)
			dup |= ks->keys[j].has_kid && strcmp(ks->keys[j].kid, kid) == 0;
		if (dup) /* a second key under the same kid would make the lookup ambiguous */
			continue;
		unsigned alg_bit = 0;
		json_t *pub = public_jwk(k, &alg_bit);
		if (!pub)
			continue;
		cjose_err cerr;
		cjose_jwk_t *jwk = cjose_jwk_import_json((cjose_header_t *)pub, &cerr);
		if (!jwk) {
			json_decref(pub);
			continue;
		}
		if (kid)
			json_object_set_new(pub, "kid", json_string(kid));
		json_object_set_new(pub, "alg", json_string(alg_bit == ID_ALG_RS256 ? "RS256" : "ES256"));
		json_object_set_new(pub, "use", json_string("sig"));
		struct id__key *dst = &ks->keys[ks->n++];
		dst->jwk = jwk;
		dst->pub = pub;
		dst->alg_bit = alg_bit;
		dst->has_kid = kid != NULL;
		if (kid)
			memcpy(dst->kid, kid, kid_len + 1);
	}
	json_decref(doc);
	if (ks->n == 0) {
		id_keyset_free(ks);
		return ID_ERR_JWKS_EMPTY;
	}
	*out = ks;
	return 0;
}

int id__keyset_find(const id_keyset *ks, const char *kid, unsigned alg_bit, const cjose_jwk_t **out)
{
	if (kid) {
		for (size_t i = 0; i < ks->n; i++) {
			if (!ks->keys[i].has_kid || strcmp(ks->keys[i].kid, kid) != 0)
				continue;
			if (ks->keys[i].alg_bit != alg_bit)
				return ID_ERR_KEY_ALG_MISMATCH;
			*out = ks->keys[i].jwk;
			return 0;
		}
		return ID_ERR_KID_UNKNOWN;
	}
	const cjose_jwk_t *found = NULL;
	size_t n = 0;
	for (size_t i = 0; i < ks->n; i++) {
		if (ks->keys[i].alg_bit == alg_bit) {
			found = ks->keys[i].jwk;
			n++;
		}
	}
	if (n != 1)
		return ID_ERR_KID_MISSING;
	*out = found;
	return 0;
}

char *id_keyset_public_json(const id_keyset *ks)
{
	if (!ks)
		return NULL;
	json_t *keys = json_array();
	for (size_t i = 0; keys && i < ks->n; i++)
		json_array_append(keys, ks->keys[i].pub);
	json_t *doc = keys ? json_pack("{s:o}", "keys", keys) : NULL;
	char *out = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	return out;
}
