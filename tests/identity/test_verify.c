/* SPDX-License-Identifier: MPL-2.0 */
/* ID token verification: good citizen and caseworker tokens verify; every refusal of issue 6 has
 * its own error code. Bad tokens come from devidp_mint and from raw edits of good tokens. */
#include <jansson.h>
#include <cjose/cjose.h>
#include <sodium.h>

#include "test.h"
#include "id_test_util.h"

static char *dir, *dir2;
static devidp *mitid, *adfs, *mitid_other;
static id_keyset *ks_mitid, *ks_adfs;
static uint8_t pk[ID_PUBLIC_KEY_BYTES], challenge[ID_CHALLENGE_BYTES];
static char nonce_mitid[ID_NONCE_BUF_BYTES], nonce_adfs[ID_NONCE_BUF_BYTES];

static char *mint(devidp *d, devidp_mint_opts o)
{
	if (!o.nonce)
		o.nonce = d == adfs ? nonce_adfs : nonce_mitid;
	char *t = NULL;
	int rc = devidp_mint(d, &o, T_NOW, &t);
	if (rc != 0)
		fprintf(stderr, "devidp_mint: %s\n", id_strerror(rc));
	return t;
}

static int verify_with(const id_idp *idp, const id_keyset *ks, const id_tenant *t, const char *tok,
		       id_replay *rc, id_verified *v)
{
	id_verified tmp;
	if (!tok)
		return 12345;
	return id_verify(idp, ks, t, tok, strlen(tok), pk, challenge, T_NOW, rc, v ? v : &tmp);
}

static int citizen(const char *tok)
{
	return verify_with(&t_idp_mitid, ks_mitid, NULL, tok, NULL, NULL);
}

static int caseworker(const char *tok)
{
	return verify_with(&t_idp_adfs, ks_adfs, &t_tenant, tok, NULL, NULL);
}

/* Mints with opts, verifies as a citizen, frees. */
static int citizen_opts(devidp_mint_opts o)
{
	char *t = mint(mitid, o);
	int rc = citizen(t);
	free(t);
	return rc;
}

static int caseworker_opts(devidp_mint_opts o)
{
	char *t = mint(adfs, o);
	int rc = caseworker(t);
	free(t);
	return rc;
}

static int citizen_extra(const char *extra)
{
	return citizen_opts((devidp_mint_opts){ .extra_claims_json = extra });
}

static int caseworker_extra(const char *extra)
{
	return caseworker_opts((devidp_mint_opts){ .extra_claims_json = extra });
}

static char *b64(const char *s)
{
	size_t n = strlen(s);
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = malloc(cap);
	sodium_bin2base64(out, cap, (const unsigned char *)s, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

/* Replaces the header segment of tok with base64url(header_json). */
static char *with_header(const char *tok, const char *header_json)
{
	char *h = b64(header_json);
	const char *rest = strchr(tok, '.');
	char *out = malloc(strlen(h) + strlen(rest) + 1);
	strcpy(out, h);
	strcat(out, rest);
	free(h);
	return out;
}

/* Signs an arbitrary payload with the MitID instance's real key (for payloads devidp_mint cannot
 * express, such as duplicate keys). */
static char *sign_raw(const char *payload)
{
	char *priv = devidp_private_jwk_json(mitid);
	cjose_err err;
	cjose_jwk_t *k = cjose_jwk_import(priv, strlen(priv), &err);
	free(priv);
	json_t *h = json_pack("{s:s, s:s}", "alg", "ES256", "kid", devidp_kid(mitid));
	cjose_jws_t *jws = cjose_jws_sign(k, (cjose_header_t *)h, (const uint8_t *)payload,
					  strlen(payload), &err);
	const char *ser = NULL;
	char *out = NULL;
	if (jws && cjose_jws_export(jws, &ser, &err))
		out = strdup(ser);
	cjose_jws_release(jws);
	json_decref(h);
	cjose_jwk_release(k);
	return out;
}

static void test_error_table_distinct(void)
{
#define T_CODE(name, code, text) code,
	static const int codes[] = { ID_ERRNO_MAP(T_CODE) };
#undef T_CODE
	size_t n = sizeof codes / sizeof codes[0];
	for (size_t i = 0; i < n; i++) {
		CHECK(codes[i] < 0);
		CHECK(strcmp(id_strerror(codes[i]), "unknown error") != 0);
		for (size_t j = 0; j < i; j++)
			CHECK(codes[i] != codes[j]);
	}
	CHECK(strcmp(id_errname(ID_ERR_KID_UNKNOWN), "ID_ERR_KID_UNKNOWN") == 0);
	CHECK(strcmp(id_strerror(-9999), "unknown error") == 0);
}

static void test_good_citizen(void)
{
	char *t = mint(mitid, (devidp_mint_opts){ .login = "anna" });
	id_verified v;
	memset(&v, 0xee, sizeof v);
	REQUIRE(t != NULL);
	CHECK_EQ_INT(verify_with(&t_idp_mitid, ks_mitid, NULL, t, NULL, &v), 0);
	CHECK_EQ_INT(v.kind, ID_KIND_CITIZEN);
	CHECK_EQ_INT(v.person_type, ID_PERSON_CPR);
	CHECK(strcmp(v.person_id, "0503841234") == 0);
	CHECK(strcmp(v.issuer, T_ISS_MITID) == 0);
	CHECK_EQ_INT(v.loa, ID_LOA_SUBSTANTIAL);
	CHECK_EQ_INT(v.iat, T_NOW);
	CHECK_EQ_INT(v.exp, T_NOW + 300);
	CHECK(strlen(v.jti) > 0);
	CHECK_EQ_INT(v.n_units, 0);
	uint8_t h[32];
	crypto_hash_sha256(h, (const uint8_t *)t, strlen(t));
	CHECK_MEM(v.token_hash, h, 32);
	/* The account id from the token equals the one from the raw CPR (caseworker lookup). */
	uint8_t key[ID_HASH_KEY_BYTES], a1[16], a2[16];
	memset(key, 7, sizeof key);
	CHECK_EQ_INT(id_citizen_account_id(key, &v, a1), 0);
	CHECK_EQ_INT(id_cpr_account_id(key, "050384-1234", a2), 0);
	CHECK_MEM(a1, a2, 16);
	id_verified_wipe(&v);
	CHECK(v.person_id[0] == 0 && v.kind == 0);
	free(t);

	t = mint(mitid, (devidp_mint_opts){ .login = "bo" });
	CHECK_EQ_INT(verify_with(&t_idp_mitid, ks_mitid, NULL, t, NULL, &v), 0);
	CHECK_EQ_INT(v.loa, ID_LOA_HIGH);
	CHECK(strcmp(v.person_id, "1711725678") == 0);
	free(t);
}

static void test_good_caseworker(void)
{
	char *t = mint(adfs, (devidp_mint_opts){ .login = "camilla" });
	id_verified v;
	REQUIRE(t != NULL);
	CHECK_EQ_INT(verify_with(&t_idp_adfs, ks_adfs, &t_tenant, t, NULL, &v), 0);
	CHECK_EQ_INT(v.kind, ID_KIND_CASEWORKER);
	CHECK_EQ_INT(v.person_type, ID_PERSON_UPN);
	CHECK(strcmp(v.person_id, "camilla.holm@varde.dk") == 0);
	CHECK(strcmp(v.tenant_id, "varde") == 0);
	CHECK_EQ_INT(v.n_units, 1);
	CHECK(strcmp(v.units[0], "jobcenter") == 0);
	CHECK_EQ_INT(v.loa, ID_LOA_NONE);
	free(t);

	/* Case-insensitive group names; two groups, two units, a duplicate counted once. */
	t = mint(adfs, (devidp_mint_opts){ .login = "dennis",
		.extra_claims_json = "{\"groups\":[\"Varde-Jobcenter\",\"varde-borgerservice\",\"varde-jobcenter\",\"x\"]}" });
	CHECK_EQ_INT(verify_with(&t_idp_adfs, ks_adfs, &t_tenant, t, NULL, &v), 0);
	CHECK_EQ_INT(v.n_units, 2);
	CHECK(strcmp(v.units[0], "jobcenter") == 0 && strcmp(v.units[1], "borgerservice") == 0);
	free(t);

	/* AD FS sends a single group as a string. */
	CHECK_EQ_INT(caseworker_extra("{\"groups\":\"varde-jobcenter\"}"), 0);
	/* unique_name when upn is absent. */
	t = mint(adfs, (devidp_mint_opts){ .extra_claims_json = "{\"upn\":null}" });
	CHECK_EQ_INT(verify_with(&t_idp_adfs, ks_adfs, &t_tenant, t, NULL, &v), 0);
	CHECK(strcmp(v.person_id, "VARDE\\camilla.holm") == 0);
	free(t);
}

static void test_refuse_alg(void)
{
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .alg = "none" }), ID_ERR_ALG_NONE);
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .alg = "NONE" }), ID_ERR_ALG_NONE);
	/* HS256 keyed with the provider's public key: refused before any key is used. */
	CHECK_EQ_INT(caseworker_opts((devidp_mint_opts){ .alg = "HS256" }), ID_ERR_ALG_HMAC);
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .alg = "HS256" }), ID_ERR_ALG_HMAC);
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .alg = "HS512" }), ID_ERR_ALG_HMAC);
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .alg = "RS512" }), ID_ERR_ALG_NOT_ALLOWED);
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .alg = "PS256" }), ID_ERR_ALG_NOT_ALLOWED);
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .alg = "es256" }), ID_ERR_ALG_NOT_ALLOWED);
	/* ES256 is valid in general but not on the AD FS allowlist. */
	char *t = mint(mitid, (devidp_mint_opts){ 0 });
	CHECK_EQ_INT(caseworker(t), ID_ERR_ALG_NOT_ALLOWED);
	char *e = with_header(t, "{\"typ\":\"JWT\"}");
	CHECK_EQ_INT(citizen(e), ID_ERR_ALG_MISSING);
	free(e);
	e = with_header(t, "{\"alg\":256}");
	CHECK_EQ_INT(citizen(e), ID_ERR_HEADER_JSON);
	free(e);
	free(t);
}

static void test_refuse_header(void)
{
	char *t = mint(mitid, (devidp_mint_opts){ 0 });
	char hdr[256];
	snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"kid\":\"%s\",\"crit\":[\"exp\"],\"exp\":1}", devidp_kid(mitid));
	char *e = with_header(t, hdr);
	CHECK_EQ_INT(citizen(e), ID_ERR_HEADER_UNSUPPORTED);
	free(e);
	snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"alg\":\"none\",\"kid\":\"%s\"}", devidp_kid(mitid));
	e = with_header(t, hdr);
	CHECK_EQ_INT(citizen(e), ID_ERR_HEADER_JSON); /* duplicate member */
	free(e);
	e = with_header(t, "[\"ES256\"]");
	CHECK_EQ_INT(citizen(e), ID_ERR_HEADER_JSON);
	free(e);
	e = with_header(t, "not json");
	CHECK_EQ_INT(citizen(e), ID_ERR_HEADER_JSON);
	free(e);
	free(t);
}

static void test_refuse_kid_and_signature(void)
{
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .kid = "no-such-key" }), ID_ERR_KID_UNKNOWN);
	CHECK_EQ_INT(caseworker_opts((devidp_mint_opts){ .kid = "no-such-key" }), ID_ERR_KID_UNKNOWN);
	/* Without kid: accepted when the set holds exactly one key for the alg. */
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .omit_kid = true }), 0);
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .corrupt_signature = true }), ID_ERR_SIGNATURE);
	CHECK_EQ_INT(caseworker_opts((devidp_mint_opts){ .corrupt_signature = true }), ID_ERR_SIGNATURE);

	/* Another provider's key under our kid: the signature does not verify. */
	char *t = NULL;
	devidp_mint_opts o = { .kid = devidp_kid(mitid), .nonce = nonce_mitid };
	CHECK_EQ_INT(devidp_mint(mitid_other, &o, T_NOW, &t), 0);
	CHECK_EQ_INT(citizen(t), ID_ERR_SIGNATURE);
	free(t);

	/* A set with both providers' EC keys and the RSA key. */
	char doc[16384];
	json_error_t je;
	json_t *a = json_loads(devidp_jwks_json(mitid), 0, &je), *b = json_loads(devidp_jwks_json(mitid_other), 0, &je),
	       *c = json_loads(devidp_jwks_json(adfs), 0, &je);
	json_array_extend(json_object_get(a, "keys"), json_object_get(b, "keys"));
	json_array_extend(json_object_get(a, "keys"), json_object_get(c, "keys"));
	char *text = json_dumps(a, JSON_COMPACT);
	snprintf(doc, sizeof doc, "%s", text);
	free(text);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	id_keyset *both = t_keyset(doc);
	REQUIRE(both != NULL);
	CHECK_EQ_INT(id_keyset_count(both), 3);
	t = mint(mitid, (devidp_mint_opts){ 0 });
	CHECK_EQ_INT(verify_with(&t_idp_mitid, both, NULL, t, NULL, NULL), 0);
	free(t);
	/* No kid and two EC keys: ambiguous. */
	t = mint(mitid, (devidp_mint_opts){ .omit_kid = true });
	CHECK_EQ_INT(verify_with(&t_idp_mitid, both, NULL, t, NULL, NULL), ID_ERR_KID_MISSING);
	free(t);
	/* ES256 header naming the RSA key. */
	t = mint(mitid, (devidp_mint_opts){ .kid = devidp_kid(adfs) });
	CHECK_EQ_INT(verify_with(&t_idp_mitid, both, NULL, t, NULL, NULL), ID_ERR_KEY_ALG_MISMATCH);
	free(t);
	id_keyset_free(both);

	/* ES256 signatures are exactly 64 bytes. */
	t = mint(mitid, (devidp_mint_opts){ 0 });
	char *longer = malloc(strlen(t) + 8);
	sprintf(longer, "%sAAAA", t);
	CHECK_EQ_INT(citizen(longer), ID_ERR_SIGNATURE);
	free(longer);
	free(t);
}

static void test_refuse_iss_aud(void)
{
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .iss = "https://evil.example/op" }), ID_ERR_ISS);
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .iss = T_ISS_MITID "/" }), ID_ERR_ISS);
	CHECK_EQ_INT(citizen_extra("{\"iss\":null}"), ID_ERR_ISS);
	CHECK_EQ_INT(caseworker_opts((devidp_mint_opts){ .iss = T_ISS_MITID }), ID_ERR_ISS);
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .aud = "other-client" }), ID_ERR_AUD);
	CHECK_EQ_INT(citizen_extra("{\"aud\":null}"), ID_ERR_AUD);
	CHECK_EQ_INT(citizen_extra("{\"aud\":[\"a\",\"b\"]}"), ID_ERR_AUD);
	CHECK_EQ_INT(citizen_extra("{\"aud\":[\"" T_CLIENT_CITIZEN "\"]}"), 0);
	/* Several audiences: azp must name us. */
	CHECK_EQ_INT(citizen_extra("{\"aud\":[\"" T_CLIENT_CITIZEN "\",\"other\"]}"), ID_ERR_AZP);
	CHECK_EQ_INT(citizen_extra("{\"aud\":[\"" T_CLIENT_CITIZEN "\",\"other\"],\"azp\":\"other\"}"), ID_ERR_AZP);
	CHECK_EQ_INT(citizen_extra("{\"aud\":[\"" T_CLIENT_CITIZEN "\",\"other\"],\"azp\":\"" T_CLIENT_CITIZEN "\"}"), 0);
	CHECK_EQ_INT(citizen_extra("{\"azp\":\"other\"}"), ID_ERR_AZP);
}

static void test_refuse_times(void)
{
	/* skew 60 s, max age 600 s */
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .iat = T_NOW - 400, .exp = T_NOW - 61 }), ID_ERR_EXPIRED);
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .iat = T_NOW - 400, .exp = T_NOW - 30 }), 0);
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .iat = T_NOW + 120, .exp = T_NOW + 400 }), ID_ERR_IAT_FUTURE);
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .iat = T_NOW + 50, .exp = T_NOW + 400 }), 0);
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .iat = T_NOW - 700, .exp = T_NOW + 100 }), ID_ERR_TOO_OLD);
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .iat = T_NOW - 650, .exp = T_NOW + 100 }), 0);
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .nbf = T_NOW + 120 }), ID_ERR_NOT_YET_VALID);
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .nbf = T_NOW - 10 }), 0);
	CHECK_EQ_INT(citizen_extra("{\"exp\":null}"), ID_ERR_EXP_MISSING);
	CHECK_EQ_INT(citizen_extra("{\"iat\":null}"), ID_ERR_IAT_MISSING);
	CHECK_EQ_INT(citizen_extra("{\"exp\":\"1780000300\"}"), ID_ERR_CLAIM_TYPE);
	CHECK_EQ_INT(citizen_extra("{\"iat\":-5}"), ID_ERR_CLAIM_TYPE);
	CHECK_EQ_INT(citizen_extra("{\"iat\":1780000000.5}"), 0);
	CHECK_EQ_INT(caseworker_opts((devidp_mint_opts){ .iat = T_NOW - 400, .exp = T_NOW - 61 }), ID_ERR_EXPIRED);
}

static void test_refuse_nonce(void)
{
	char other[ID_NONCE_BUF_BYTES];
	uint8_t pk2[32], ch2[32];
	memcpy(pk2, pk, 32);
	pk2[31] ^= 1;
	memcpy(ch2, challenge, 32);
	ch2[0] ^= 0x80;
	CHECK_EQ_INT(citizen_extra("{\"nonce\":null}"), ID_ERR_NONCE_MISSING);
	CHECK_EQ_INT(citizen_extra("{\"nonce\":5}"), ID_ERR_NONCE_MISMATCH);
	/* A token for another device key. */
	CHECK_EQ_INT(id_nonce_compute(T_ISS_MITID, pk2, challenge, other), 0);
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .nonce = other }), ID_ERR_NONCE_MISMATCH);
	/* A token for another connection's challenge. */
	CHECK_EQ_INT(id_nonce_compute(T_ISS_MITID, pk, ch2, other), 0);
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .nonce = other }), ID_ERR_NONCE_MISMATCH);
	/* A nonce made for another issuer. */
	CHECK_EQ_INT(id_nonce_compute(T_ISS_ADFS, pk, challenge, other), 0);
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .nonce = other }), ID_ERR_NONCE_MISMATCH);
	/* Truncated nonce. */
	char cut[ID_NONCE_BUF_BYTES];
	memcpy(cut, nonce_mitid, sizeof cut);
	cut[42] = 0;
	CHECK_EQ_INT(citizen_opts((devidp_mint_opts){ .nonce = cut }), ID_ERR_NONCE_MISMATCH);
}

/* A presented registration token (spec/client.md §15): long expired and replayed it still
 * verifies, with name and CPR; another key, another audience, another provider's token, a forged
 * signature and a token without name or CPR do not, each with its own code. */
static int presented(const char *tok, const uint8_t *key, id_presented *p)
{
	id_presented tmp;
	if (!tok)
		return 12345;
	return id_presentation_verify(&t_idp_mitid, ks_mitid, tok, strlen(tok), key, challenge,
				      p ? p : &tmp);
}

static void test_presentation(void)
{
	char *t = mint(mitid, (devidp_mint_opts){ .iat = T_NOW - 400 * 86400,
						  .exp = T_NOW - 399 * 86400 });
	id_presented p;
	CHECK_EQ_INT(presented(t, pk, &p), 0);
	CHECK_EQ_INT(presented(t, pk, &p), 0); /* no replay cache */
	CHECK(strcmp(p.name, "Anna Jensen") == 0 && strcmp(p.cpr, "0503841234") == 0);
	CHECK(p.iat == T_NOW - 400 * 86400);
	uint8_t pk2[32];
	memcpy(pk2, pk, 32);
	pk2[0] ^= 1;
	CHECK_EQ_INT(presented(t, pk2, NULL), ID_ERR_NONCE_MISMATCH);
	size_t n = strlen(t);
	t[n - 2] = t[n - 2] == 'A' ? 'B' : 'A';
	CHECK_EQ_INT(presented(t, pk, NULL), ID_ERR_SIGNATURE);
	free(t);
	t = mint(mitid, (devidp_mint_opts){ .aud = "another-client" });
	CHECK_EQ_INT(presented(t, pk, NULL), ID_ERR_AUD);
	free(t);
	t = mint(mitid_other, (devidp_mint_opts){ 0 });
	CHECK(presented(t, pk, NULL) != 0);
	free(t);
	t = mint(mitid, (devidp_mint_opts){ .extra_claims_json = "{\"name\":null}" });
	CHECK_EQ_INT(presented(t, pk, NULL), ID_ERR_SUBJECT);
	free(t);
	t = mint(mitid, (devidp_mint_opts){ .extra_claims_json = "{\"dk.cpr\":\"12\"}" });
	CHECK_EQ_INT(presented(t, pk, NULL), ID_ERR_SUBJECT);
	free(t);
	/* A caseworker provider is not one to present. */
	t = mint(adfs, (devidp_mint_opts){ 0 });
	CHECK_EQ_INT(id_presentation_verify(&t_idp_adfs, ks_adfs, t, strlen(t), pk, challenge, &p),
		     ID_ERR_CONFIG);
	free(t);
}

static void test_replay(void)
{
	id_replay *rc = NULL;
	REQUIRE_OK(id_replay_new(16, &rc));
	id_verified v;
	/* A refused token does not burn the nonce. */
	char *low = mint(mitid, (devidp_mint_opts){
		.extra_claims_json = "{\"loa\":\"https://data.gov.dk/concept/core/nsis/loa/Low\"}" });
	CHECK_EQ_INT(verify_with(&t_idp_mitid, ks_mitid, NULL, low, rc, &v), ID_ERR_ASSURANCE_LOW);
	CHECK_EQ_INT(id_replay_count(rc), 0);
	char *t = mint(mitid, (devidp_mint_opts){ 0 });
	CHECK_EQ_INT(verify_with(&t_idp_mitid, ks_mitid, NULL, t, rc, &v), 0);
	CHECK_EQ_INT(id_replay_count(rc), 1);
	uint8_t key[ID_HASH_BYTES];
	int64_t exp = v.exp;
	memcpy(key, v.replay_key, sizeof key);
	/* The same token again, and a fresh token for the same key and challenge. */
	CHECK_EQ_INT(verify_with(&t_idp_mitid, ks_mitid, NULL, t, rc, &v), ID_ERR_REPLAYED);
	char *t2 = mint(mitid, (devidp_mint_opts){ 0 });
	CHECK(strcmp(t, t2) != 0);
	CHECK_EQ_INT(verify_with(&t_idp_mitid, ks_mitid, NULL, t2, rc, &v), ID_ERR_REPLAYED);
	/* Remembered until exp + skew, then forgotten. */
	CHECK_EQ_INT(id_replay_check(rc, key, exp + 59), ID_ERR_REPLAYED);
	CHECK_EQ_INT(id_replay_check(rc, key, exp + 60), 0);
	free(low);
	free(t);
	free(t2);
	id_replay_free(rc);
}

static void test_refuse_citizen_profile(void)
{
	CHECK_EQ_INT(citizen_extra("{\"loa\":\"https://data.gov.dk/concept/core/nsis/loa/Low\"}"), ID_ERR_ASSURANCE_LOW);
	CHECK_EQ_INT(citizen_extra("{\"loa\":\"https://data.gov.dk/concept/core/nsis/Low\",\"ial\":null}"), ID_ERR_ASSURANCE_LOW);
	CHECK_EQ_INT(citizen_extra("{\"ial\":\"https://data.gov.dk/concept/core/nsis/ial/Low\"}"), ID_ERR_ASSURANCE_LOW);
	CHECK_EQ_INT(citizen_extra("{\"loa\":\"https://data.gov.dk/concept/core/nsis/Substantial\",\"ial\":null}"), 0);
	CHECK_EQ_INT(citizen_extra("{\"loa\":null,\"ial\":\"https://data.gov.dk/concept/core/nsis/ial/High\"}"), 0);
	CHECK_EQ_INT(citizen_extra("{\"loa\":null,\"ial\":null}"), ID_ERR_ASSURANCE_MISSING);
	CHECK_EQ_INT(citizen_extra("{\"loa\":\"SUBSTANTIAL\"}"), ID_ERR_ASSURANCE_MISSING);
	CHECK_EQ_INT(citizen_extra("{\"loa\":\"https://data.gov.dk/concept/core/nsis/loa/substantial\"}"), ID_ERR_ASSURANCE_MISSING);
	CHECK_EQ_INT(citizen_extra("{\"loa\":3}"), ID_ERR_ASSURANCE_MISSING);
	CHECK_EQ_INT(citizen_extra("{\"idp\":\"nemid\"}"), ID_ERR_IDP);
	CHECK_EQ_INT(citizen_extra("{\"idp\":null}"), ID_ERR_IDP);
	CHECK_EQ_INT(citizen_extra("{\"identity_type\":\"professional\"}"), ID_ERR_IDENTITY_TYPE);
	CHECK_EQ_INT(citizen_extra("{\"dk.cpr\":null}"), ID_ERR_SUBJECT);
	CHECK_EQ_INT(citizen_extra("{\"dk.cpr\":\"12345\"}"), ID_ERR_SUBJECT);
	CHECK_EQ_INT(citizen_extra("{\"dk.cpr\":\"3213991234\"}"), ID_ERR_SUBJECT);
	CHECK_EQ_INT(citizen_extra("{\"dk.cpr\":1234567890}"), ID_ERR_SUBJECT);

	/* A broker configured for the MitID UUID as person id, and an assurance claim of its own. */
	id_idp uuid_idp = t_idp_mitid;
	uuid_idp.person_claim = "mitid.uuid";
	uuid_idp.person_type = ID_PERSON_MITID_UUID;
	char *t = mint(mitid, (devidp_mint_opts){ .extra_claims_json = "{\"mitid.uuid\":\"5F0C6A8E-3B1D-4C2A-9E7F-1A2B3C4D5E6F\"}" });
	id_verified v;
	CHECK_EQ_INT(verify_with(&uuid_idp, ks_mitid, NULL, t, NULL, &v), 0);
	CHECK(strcmp(v.person_id, "5f0c6a8e-3b1d-4c2a-9e7f-1a2b3c4d5e6f") == 0);
	free(t);
	uuid_idp.assurance_claim = "ial";
	t = mint(mitid, (devidp_mint_opts){ .extra_claims_json = "{\"loa\":\"https://data.gov.dk/concept/core/nsis/loa/Low\"}" });
	CHECK_EQ_INT(verify_with(&uuid_idp, ks_mitid, NULL, t, NULL, &v), 0); /* only ial is read */
	free(t);
}

static void test_refuse_caseworker_profile(void)
{
	CHECK_EQ_INT(caseworker_extra("{\"groups\":[\"varde-it\",\"alle\"]}"), ID_ERR_NO_UNIT);
	CHECK_EQ_INT(caseworker_extra("{\"groups\":[]}"), ID_ERR_NO_UNIT);
	CHECK_EQ_INT(caseworker_extra("{\"groups\":null}"), ID_ERR_NO_UNIT);
	CHECK_EQ_INT(caseworker_extra("{\"groups\":7}"), ID_ERR_GROUPS);
	CHECK_EQ_INT(caseworker_extra("{\"groups\":[\"varde-jobcenter\",7]}"), ID_ERR_GROUPS);
	CHECK_EQ_INT(caseworker_extra("{\"upn\":null,\"unique_name\":null}"), ID_ERR_UPN);
	CHECK_EQ_INT(caseworker_extra("{\"upn\":\"\"}"), ID_ERR_UPN);
	CHECK_EQ_INT(caseworker_extra("{\"upn\":\"a\\nb@varde.dk\"}"), ID_ERR_UPN);
	CHECK_EQ_INT(caseworker_extra("{\"upn\":[\"x@varde.dk\"]}"), ID_ERR_UPN);
	/* A configured group claim. */
	id_idp role_idp = t_idp_adfs;
	role_idp.groups_claim = "role";
	char *t = mint(adfs, (devidp_mint_opts){ .extra_claims_json = "{\"groups\":null,\"role\":[\"varde-jobcenter\"]}" });
	CHECK_EQ_INT(verify_with(&role_idp, ks_adfs, &t_tenant, t, NULL, NULL), 0);
	CHECK_EQ_INT(verify_with(&t_idp_adfs, ks_adfs, &t_tenant, t, NULL, NULL), ID_ERR_NO_UNIT);
	free(t);
	/* A tenant that does not trust this AD FS. */
	id_tenant other = t_tenant;
	other.n_idp_ids = 1; /* "mitid" only */
	t = mint(adfs, (devidp_mint_opts){ 0 });
	CHECK_EQ_INT(verify_with(&t_idp_adfs, ks_adfs, &other, t, NULL, NULL), ID_ERR_TENANT_IDP);
	CHECK_EQ_INT(verify_with(&t_idp_adfs, ks_adfs, NULL, t, NULL, NULL), ID_ERR_INVALID_ARG);
	free(t);
}

static void test_refuse_shape(void)
{
	char *t = mint(mitid, (devidp_mint_opts){ 0 });
	size_t n = strlen(t);
	char *e = strdup(t);
	char *dot = strchr(e, '.');
	dot[3] = '*';
	CHECK_EQ_INT(citizen(e), ID_ERR_TOKEN_BASE64);
	strcpy(e, t);
	dot[3] = '=';
	CHECK_EQ_INT(citizen(e), ID_ERR_TOKEN_BASE64);
	strcpy(e, t);
	e[n - 1] = '\n';
	CHECK_EQ_INT(citizen(e), ID_ERR_TOKEN_BASE64);
	free(e);
	/* A segment of length 4k+1 cannot be base64. */
	CHECK_EQ_INT(citizen("QUFBQ.e30.QQ"), ID_ERR_TOKEN_BASE64);
	/* Extra bytes after a valid ES256 signature. */
	e = malloc(n + 2);
	sprintf(e, "%sA", t);
	CHECK_EQ_INT(citizen(e), ID_ERR_SIGNATURE);
	/* Non-zero trailing bits: base64url "QQ" is "A", "QR" has a stray low bit. */
	CHECK_EQ_INT(citizen("QR.QQ.QQ"), ID_ERR_TOKEN_BASE64);
	free(e);
	CHECK_EQ_INT(citizen("abc"), ID_ERR_TOKEN_SHAPE);
	CHECK_EQ_INT(citizen("a.b"), ID_ERR_TOKEN_SHAPE);
	CHECK_EQ_INT(citizen("a.b.c.d"), ID_ERR_TOKEN_SHAPE);
	CHECK_EQ_INT(citizen(".e30.abc"), ID_ERR_TOKEN_SHAPE);
	CHECK_EQ_INT(citizen("e30..abc"), ID_ERR_TOKEN_SHAPE);
	CHECK_EQ_INT(citizen(""), ID_ERR_TOKEN_EMPTY);
	/* Oversize: a valid token padded with a huge claim, and plain junk. */
	char *big = malloc(ID_TOKEN_MAX_BYTES + 2);
	memset(big, 'A', ID_TOKEN_MAX_BYTES + 1);
	big[ID_TOKEN_MAX_BYTES + 1] = 0;
	CHECK_EQ_INT(citizen(big), ID_ERR_TOKEN_TOO_LARGE);
	char extra[ID_TOKEN_MAX_BYTES];
	snprintf(extra, sizeof extra, "{\"pad\":\"%.*s\"}", ID_TOKEN_MAX_BYTES * 3 / 4, big);
	CHECK_EQ_INT(citizen_extra(extra), ID_ERR_TOKEN_TOO_LARGE);
	free(big);
	/* JWE-shaped (five segments) and "enc" headers are not JWS. */
	CHECK_EQ_INT(citizen("a.b.c.d.e"), ID_ERR_TOKEN_SHAPE);
	free(t);
}

static void test_refuse_payload(void)
{
	char *t = sign_raw("[1,2,3]");
	REQUIRE(t != NULL);
	CHECK_EQ_INT(citizen(t), ID_ERR_PAYLOAD_JSON);
	free(t);
	/* Duplicate claims are refused even when signed. */
	char payload[512];
	snprintf(payload, sizeof payload, "{\"iss\":\"%s\",\"iss\":\"https://evil.example\"}", T_ISS_MITID);
	t = sign_raw(payload);
	CHECK_EQ_INT(citizen(t), ID_ERR_PAYLOAD_JSON);
	free(t);
	/* An iss with an embedded NUL that would compare equal as a C string: refused at parsing
	 * (and by the length check behind it). */
	snprintf(payload, sizeof payload, "{\"iss\":\"%s\\u0000x\"}", T_ISS_MITID);
	t = sign_raw(payload);
	CHECK_EQ_INT(citizen(t), ID_ERR_PAYLOAD_JSON);
	free(t);
	/* A signed token with an empty signature segment after an allowed alg. */
	t = mint(mitid, (devidp_mint_opts){ 0 });
	*(strrchr(t, '.') + 1) = 0;
	CHECK_EQ_INT(citizen(t), ID_ERR_SIGNATURE);
	free(t);
}

static void test_config_refused(void)
{
	id_idp bad = t_idp_adfs;
	bad.allowed_algs = ID_ALG_RS256 | ID_ALG_ES256;
	CHECK_EQ_INT(id_idp_validate(&bad), ID_ERR_CONFIG);
	bad = t_idp_mitid;
	bad.allowed_algs = 0;
	CHECK_EQ_INT(id_idp_validate(&bad), ID_ERR_CONFIG);
	bad = t_idp_mitid;
	bad.skew_seconds = ID_SKEW_MAX_SECONDS + 1;
	CHECK_EQ_INT(id_idp_validate(&bad), ID_ERR_CONFIG);
	bad = t_idp_mitid;
	bad.kind = ID_KIND_CASEWORKER;
	CHECK_EQ_INT(id_idp_validate(&bad), ID_ERR_CONFIG);
	char *t = mint(mitid, (devidp_mint_opts){ 0 });
	bad = t_idp_mitid;
	bad.max_age_seconds = 0;
	CHECK_EQ_INT(verify_with(&bad, ks_mitid, NULL, t, NULL, NULL), ID_ERR_CONFIG);
	free(t);
	CHECK_EQ_INT(id_idp_validate(&t_idp_mitid), 0);
	CHECK_EQ_INT(id_idp_validate(&t_idp_adfs), 0);
	CHECK_EQ_INT(id_tenant_validate(&t_tenant), 0);
	id_tenant bt = t_tenant;
	bt.cvr = "1234567";
	CHECK_EQ_INT(id_tenant_validate(&bt), ID_ERR_CONFIG);
	static const id_group_map dangling[] = { { .group = "g", .unit_id = "nope" } };
	bt = t_tenant;
	bt.group_map = dangling;
	bt.n_group_map = 1;
	CHECK_EQ_INT(id_tenant_validate(&bt), ID_ERR_CONFIG);
	/* Tenant and unit ids follow the wire's slug rule: names the wire could not carry are refused. */
	const char *unaddressable[] = { "varde.kommune", "varde_kommune", "-varde", "Varde" };
	for (size_t i = 0; i < sizeof unaddressable / sizeof unaddressable[0]; i++) {
		bt = t_tenant;
		bt.id = unaddressable[i];
		CHECK_EQ_INT(id_tenant_validate(&bt), ID_ERR_CONFIG);
		id_unit u = t_tenant.units[0];
		u.id = unaddressable[i];
		bt = t_tenant;
		bt.units = &u;
		bt.n_units = 1;
		bt.n_group_map = 0;
		CHECK_EQ_INT(id_tenant_validate(&bt), ID_ERR_CONFIG);
	}
}

int main(void)
{
	/* Zeroing allocators for jansson and cjose from here on: the whole suite runs with them. */
	if (id_library_init() != 0)
		return 1;
	dir = t_tempdir();
	dir2 = t_tempdir();
	mitid = t_devidp(ID_PROFILE_MITID_BROKER, dir);
	adfs = t_devidp(ID_PROFILE_ADFS, dir);
	mitid_other = t_devidp(ID_PROFILE_MITID_BROKER, dir2);
	if (!mitid || !adfs || !mitid_other)
		return 1;
	ks_mitid = t_keyset(devidp_jwks_json(mitid));
	ks_adfs = t_keyset(devidp_jwks_json(adfs));
	if (!ks_mitid || !ks_adfs)
		return 1;
	for (size_t i = 0; i < sizeof pk; i++) {
		pk[i] = (uint8_t)(0x40 + i);
		challenge[i] = (uint8_t)(0xc0 ^ i);
	}
	if (id_nonce_compute(T_ISS_MITID, pk, challenge, nonce_mitid) != 0 ||
	    id_nonce_compute(T_ISS_ADFS, pk, challenge, nonce_adfs) != 0)
		return 1;

	RUN(test_error_table_distinct);
	RUN(test_good_citizen);
	RUN(test_good_caseworker);
	RUN(test_refuse_alg);
	RUN(test_refuse_header);
	RUN(test_refuse_kid_and_signature);
	RUN(test_refuse_iss_aud);
	RUN(test_refuse_times);
	RUN(test_refuse_nonce);
	RUN(test_replay);
	RUN(test_refuse_citizen_profile);
	RUN(test_refuse_caseworker_profile);
	RUN(test_refuse_shape);
	RUN(test_refuse_payload);
	RUN(test_config_refused);
	RUN(test_presentation);

	id_keyset_free(ks_mitid);
	id_keyset_free(ks_adfs);
	devidp_close(mitid);
	devidp_close(adfs);
	devidp_close(mitid_other);
	t_rmtree(dir);
	t_rmtree(dir2);
	free(dir);
	free(dir2);
	return TEST_RESULT();
}
