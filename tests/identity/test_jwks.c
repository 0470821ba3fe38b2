/* SPDX-License-Identifier: MPL-2.0 */
/* JWKS parsing: RSA and EC P-256 keys kept, everything else skipped; malformed documents refused;
 * an unknown kid is reported as such and a refreshed set fixes it. */
#include <jansson.h>
#include <cjose/cjose.h>
#include <sodium.h>

#include "test.h"
#include "id_test_util.h"

static char *dir, *dir2;
static devidp *mitid, *adfs, *mitid_new;

static int parse(const char *json, id_keyset **ks)
{
	return id_keyset_parse(json, strlen(json), ks);
}

/* The public JWK (as an object) of a freshly generated cjose key. */
static json_t *gen_public(cjose_jwk_t *k, const char *kid)
{
	cjose_err err;
	char *pub = cjose_jwk_to_json(k, false, &err);
	json_error_t je;
	json_t *o = json_loads(pub, 0, &je);
	free(pub);
	cjose_jwk_release(k);
	json_object_set_new(o, "kid", json_string(kid));
	return o;
}

static json_t *first_key(const char *jwks)
{
	json_error_t je;
	json_t *doc = json_loads(jwks, 0, &je);
	json_t *k = json_incref(json_array_get(json_object_get(doc, "keys"), 0));
	json_decref(doc);
	return k;
}

static void test_rsa_and_ec(void)
{
	id_keyset *ks = NULL;
	CHECK_EQ_INT(parse(devidp_jwks_json(mitid), &ks), 0);
	CHECK_EQ_INT(id_keyset_count(ks), 1);
	id_keyset_free(ks);
	ks = NULL;
	CHECK_EQ_INT(parse(devidp_jwks_json(adfs), &ks), 0);
	CHECK_EQ_INT(id_keyset_count(ks), 1);
	id_keyset_free(ks);

	/* The published JWK carries kid, alg and use; the kid is the RFC 7638 thumbprint. */
	json_t *ec = first_key(devidp_jwks_json(mitid)), *rsa = first_key(devidp_jwks_json(adfs));
	CHECK(strcmp(json_string_value(json_object_get(ec, "kty")), "EC") == 0);
	CHECK(strcmp(json_string_value(json_object_get(ec, "crv")), "P-256") == 0);
	CHECK(strcmp(json_string_value(json_object_get(ec, "alg")), "ES256") == 0);
	CHECK(strcmp(json_string_value(json_object_get(ec, "use")), "sig") == 0);
	CHECK(json_object_get(ec, "d") == NULL);
	CHECK(strcmp(json_string_value(json_object_get(rsa, "kty")), "RSA") == 0);
	CHECK(json_object_get(rsa, "d") == NULL && json_object_get(rsa, "p") == NULL);
	char canon[512];
	snprintf(canon, sizeof canon, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
		 json_string_value(json_object_get(ec, "x")), json_string_value(json_object_get(ec, "y")));
	uint8_t h[32];
	char tp[64];
	crypto_hash_sha256(h, (const uint8_t *)canon, strlen(canon));
	sodium_bin2base64(tp, sizeof tp, h, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	CHECK(strcmp(tp, devidp_kid(mitid)) == 0);

	/* A document mixing usable and unusable keys. */
	cjose_err err;
	json_t *keys = json_array();
	json_t *enc = json_deep_copy(ec);
	json_object_set_new(enc, "use", json_string("enc"));
	json_object_set_new(enc, "kid", json_string("enc-key"));
	json_array_append_new(keys, enc);
	json_array_append_new(keys, gen_public(cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_384, &err), "p384"));
	static const uint8_t e65537[] = { 1, 0, 1 };
	json_array_append_new(keys, gen_public(cjose_jwk_create_RSA_random(1024, e65537, 3, &err), "rsa1024"));
	json_array_append_new(keys, json_pack("{s:s, s:s, s:s}", "kty", "oct", "k", "c2VjcmV0", "kid", "hmac"));
	json_t *rs512 = json_deep_copy(rsa);
	json_object_set_new(rs512, "alg", json_string("RS512"));
	json_object_set_new(rs512, "kid", json_string("rs512"));
	json_array_append_new(keys, rs512);
	json_t *badx = json_deep_copy(ec);
	json_object_set_new(badx, "x", json_string("AAAA"));
	json_object_set_new(badx, "kid", json_string("short-x"));
	json_array_append_new(keys, badx);
	json_array_append_new(keys, json_string("not an object"));
	json_array_append(keys, ec);
	json_array_append(keys, rsa);
	json_t *dup = json_deep_copy(rsa); /* same kid as rsa: ambiguous, skipped */
	json_array_append_new(keys, dup);
	json_t *doc = json_pack("{s:o}", "keys", keys);
	char *text = json_dumps(doc, JSON_COMPACT);
	ks = NULL;
	CHECK_EQ_INT(parse(text, &ks), 0);
	CHECK_EQ_INT(id_keyset_count(ks), 2);
	id_keyset_free(ks);
	free(text);
	json_decref(doc);

	/* Only unusable keys. */
	ks = NULL;
	CHECK_EQ_INT(parse("{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}", &ks), ID_ERR_JWKS_EMPTY);
	CHECK(ks == NULL);
	json_decref(ec);
	json_decref(rsa);
}

/* What a relay publishes for clients (spec/client.md §18): the kept keys' public members only,
 * even from a document that carries a private key; and it parses back to the same keys. */
static void test_public_json(void)
{
	cjose_err err;
	cjose_jwk_t *k = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &err);
	REQUIRE(k);
	char *priv = cjose_jwk_to_json(k, true, &err);
	cjose_jwk_release(k);
	REQUIRE(priv);
	json_error_t je;
	json_t *jk = json_loads(priv, 0, &je);
	free(priv);
	REQUIRE(json_object_get(jk, "d") != NULL);
	json_object_set_new(jk, "kid", json_string("k1"));
	json_t *doc = json_pack("{s:[o]}", "keys", jk);
	char *in = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	id_keyset *ks = NULL;
	REQUIRE(parse(in, &ks) == 0);
	free(in);
	char *out = id_keyset_public_json(ks);
	REQUIRE(out);
	CHECK(strstr(out, "\"d\"") == NULL);
	CHECK(strstr(out, "\"kid\":\"k1\"") && strstr(out, "\"alg\":\"ES256\"") &&
	      strstr(out, "\"crv\":\"P-256\""));
	id_keyset *back = NULL;
	CHECK_EQ_INT(parse(out, &back), 0);
	CHECK_EQ_INT(id_keyset_count(back), 1);
	id_keyset_free(back);
	id_keyset_free(ks);
	free(out);
	CHECK(id_keyset_public_json(NULL) == NULL);
}

static void test_malformed(void)
{
	id_keyset *ks = NULL;
	CHECK_EQ_INT(parse("", &ks), ID_ERR_JWKS_JSON);
	CHECK_EQ_INT(parse("not json", &ks), ID_ERR_JWKS_JSON);
	CHECK_EQ_INT(parse("[]", &ks), ID_ERR_JWKS_JSON);
	CHECK_EQ_INT(parse("{\"keys\":{}}", &ks), ID_ERR_JWKS_JSON);
	CHECK_EQ_INT(parse("{\"keys\":[],\"keys\":[]}", &ks), ID_ERR_JWKS_JSON);
	CHECK_EQ_INT(parse("{\"keys\":[]}", &ks), ID_ERR_JWKS_EMPTY);
	char *big = malloc(ID_JWKS_MAX_BYTES + 2);
	memset(big, ' ', ID_JWKS_MAX_BYTES + 1);
	big[ID_JWKS_MAX_BYTES + 1] = 0;
	CHECK_EQ_INT(parse(big, &ks), ID_ERR_JWKS_TOO_LARGE);
	free(big);
	CHECK(ks == NULL);
}

static void test_unknown_kid_then_refresh(void)
{
	uint8_t pk[32] = { 1 }, ch[32] = { 2 };
	char nonce[ID_NONCE_BUF_BYTES];
	CHECK_EQ_INT(id_nonce_compute(T_ISS_MITID, pk, ch, nonce), 0);
	/* The provider rotated its key: tokens name a kid the cached set lacks. */
	id_keyset *old = t_keyset(devidp_jwks_json(mitid));
	char *t = NULL;
	devidp_mint_opts o = { .nonce = nonce };
	REQUIRE_OK(devidp_mint(mitid_new, &o, T_NOW, &t));
	id_verified v;
	CHECK_EQ_INT(id_verify(&t_idp_mitid, old, NULL, t, strlen(t), pk, ch, T_NOW, NULL, &v), ID_ERR_KID_UNKNOWN);
	id_keyset *fresh = t_keyset(devidp_jwks_json(mitid_new));
	CHECK_EQ_INT(id_verify(&t_idp_mitid, fresh, NULL, t, strlen(t), pk, ch, T_NOW, NULL, &v), 0);
	free(t);
	id_keyset_free(old);
	id_keyset_free(fresh);
}

int main(void)
{
	dir = t_tempdir();
	dir2 = t_tempdir();
	mitid = t_devidp(ID_PROFILE_MITID_BROKER, dir);
	adfs = t_devidp(ID_PROFILE_ADFS, dir);
	mitid_new = t_devidp(ID_PROFILE_MITID_BROKER, dir2);
	if (!mitid || !adfs || !mitid_new)
		return 1;
	RUN(test_rsa_and_ec);
	RUN(test_public_json);
	RUN(test_malformed);
	RUN(test_unknown_kid_then_refresh);
	devidp_close(mitid);
	devidp_close(adfs);
	devidp_close(mitid_new);
	t_rmtree(dir);
	t_rmtree(dir2);
	free(dir);
	free(dir2);
	return TEST_RESULT();
}
