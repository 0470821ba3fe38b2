/* SPDX-License-Identifier: MPL-2.0 */
/* The claim profiles of real providers (docs/identity-providers.md): the CPR claim names and the
 * acr assurance of MitID brokers, AD FS's "group" claim with names or SIDs, Entra ID's oid, tid,
 * group object ids, app roles and group overage; and the provider metadata helpers (discovery
 * documents, Cache-Control). Tokens are minted by the development provider with edited claims. */
#include <cjose/cjose.h>
#include <jansson.h>

#include "test.h"
#include "id_test_util.h"

static char *dir;
static devidp *mitid, *adfs;
static id_keyset *ks_mitid, *ks_adfs;
static uint8_t pk[ID_PUBLIC_KEY_BYTES], challenge[ID_CHALLENGE_BYTES];
static char nonce_mitid[ID_NONCE_BUF_BYTES], nonce_adfs[ID_NONCE_BUF_BYTES];

#define TID "72f988bf-86f1-41af-91ab-2d7cd011db47"
#define GROUP_OID "0b2ad6e4-5f2a-4c5e-a1e3-6d4c1d6f0a11"

static const id_group_map entra_map[] = {
	{ .group = GROUP_OID, .unit_id = "jobcenter" },
	{ .group = "Jobcenter.Caseworker", .unit_id = "borgerservice" },
	{ .group = "S-1-5-21-1004336348-1177238915-682003330-1130", .unit_id = "jobcenter" },
};

static int verify_tok(const id_idp *idp, const id_keyset *ks, const id_tenant *t, devidp *d,
		      const char *extra, id_verified *out)
{
	devidp_mint_opts o = { .extra_claims_json = extra, .nonce = d == adfs ? nonce_adfs : nonce_mitid };
	char *tok = NULL;
	if (devidp_mint(d, &o, T_NOW, &tok) != 0)
		return 12345;
	id_verified tmp;
	int rc = id_verify(idp, ks, t, tok, strlen(tok), pk, challenge, T_NOW, NULL, out ? out : &tmp);
	free(tok);
	return rc;
}

static void test_mitid_claim_names(void)
{
	id_verified v;
	/* NemLog-in's CPR claim name, and the private brokers' alternative. */
	CHECK_EQ_INT(verify_tok(&t_idp_mitid, ks_mitid, NULL, mitid,
				"{\"dk.cpr\":null,\"https://data.gov.dk/model/core/eid/cprNumber\":\"0101901234\"}", &v), 0);
	CHECK(strcmp(v.person_id, "0101901234") == 0);
	CHECK_EQ_INT(verify_tok(&t_idp_mitid, ks_mitid, NULL, mitid,
				"{\"dk.cpr\":null,\"mitid.cpr\":\"020290-4321\"}", &v), 0);
	CHECK(strcmp(v.person_id, "0202904321") == 0);
	/* No CPR under any name. */
	CHECK_EQ_INT(verify_tok(&t_idp_mitid, ks_mitid, NULL, mitid, "{\"dk.cpr\":null}", NULL),
		     ID_ERR_SUBJECT);
	/* Assurance in acr only (no loa/ial): the NSIS URI counts; Low is refused. */
	CHECK_EQ_INT(verify_tok(&t_idp_mitid, ks_mitid, NULL, mitid,
				"{\"loa\":null,\"ial\":null,\"acr\":\"https://data.gov.dk/concept/core/nsis/loa/Substantial\"}", &v), 0);
	CHECK_EQ_INT(v.loa, ID_LOA_SUBSTANTIAL);
	CHECK_EQ_INT(verify_tok(&t_idp_mitid, ks_mitid, NULL, mitid,
				"{\"loa\":null,\"ial\":null,\"acr\":\"https://data.gov.dk/concept/core/nsis/loa/Low\"}", NULL),
		     ID_ERR_ASSURANCE_LOW);
	CHECK_EQ_INT(verify_tok(&t_idp_mitid, ks_mitid, NULL, mitid,
				"{\"loa\":null,\"ial\":null,\"acr\":\"urn:mace:incommon:iap:silver\"}", NULL),
		     ID_ERR_ASSURANCE_MISSING);
	/* loa present: acr is not read (the lower of loa/ial decides). */
	CHECK_EQ_INT(verify_tok(&t_idp_mitid, ks_mitid, NULL, mitid,
				"{\"loa\":\"https://data.gov.dk/concept/core/nsis/loa/Low\",\"ial\":null,\"acr\":\"https://data.gov.dk/concept/core/nsis/loa/High\"}", NULL),
		     ID_ERR_ASSURANCE_LOW);
}

static void test_adfs_group_claim(void)
{
	id_tenant t = t_tenant;
	t.group_map = entra_map;
	t.n_group_map = 3;
	id_verified v;
	/* "group" with a SID, case-insensitively, when "groups" is absent. */
	CHECK_EQ_INT(verify_tok(&t_idp_adfs, ks_adfs, &t, adfs,
				"{\"groups\":null,\"group\":[\"s-1-5-21-1004336348-1177238915-682003330-1130\"]}", &v), 0);
	CHECK_EQ_INT(v.n_units, 1);
	CHECK(strcmp(v.units[0], "jobcenter") == 0);
	CHECK_EQ_INT(verify_tok(&t_idp_adfs, ks_adfs, &t, adfs, "{\"groups\":null,\"group\":\"S-1-5-32-545\"}", NULL),
		     ID_ERR_NO_UNIT);
}

static void test_entra(void)
{
	id_idp entra = t_idp_adfs;
	entra.profile = ID_PROFILE_ENTRA;
	entra.required_tid = TID;
	id_tenant t = t_tenant;
	t.group_map = entra_map;
	t.n_group_map = 3;
	id_verified v;
	CHECK_EQ_INT(verify_tok(&entra, ks_adfs, &t, adfs,
				"{\"oid\":\"6C7B1A2E-0000-4000-8000-0000000000AA\",\"tid\":\"" TID "\",\"groups\":[\"" GROUP_OID "\"]}", &v), 0);
	CHECK(strcmp(v.person_id, "6C7B1A2E-0000-4000-8000-0000000000AA") == 0);
	CHECK_EQ_INT(v.n_units, 1);
	CHECK(strcmp(v.units[0], "jobcenter") == 0);
	/* oid missing: the UPN is not used in its place. */
	CHECK_EQ_INT(verify_tok(&entra, ks_adfs, &t, adfs, "{\"tid\":\"" TID "\",\"groups\":[\"" GROUP_OID "\"]}", NULL),
		     ID_ERR_UPN);
	/* Another directory, or none named. */
	CHECK_EQ_INT(verify_tok(&entra, ks_adfs, &t, adfs, "{\"oid\":\"x1\",\"tid\":\"other\",\"groups\":[\"" GROUP_OID "\"]}", NULL),
		     ID_ERR_TID);
	CHECK_EQ_INT(verify_tok(&entra, ks_adfs, &t, adfs, "{\"oid\":\"x1\",\"groups\":[\"" GROUP_OID "\"]}", NULL),
		     ID_ERR_TID);
	/* Overage: groups left out, a Graph source named instead. */
	CHECK_EQ_INT(verify_tok(&entra, ks_adfs, &t, adfs,
				"{\"oid\":\"x1\",\"tid\":\"" TID "\",\"groups\":null,\"_claim_names\":{\"groups\":\"src1\"},"
				"\"_claim_sources\":{\"src1\":{\"endpoint\":\"https://graph.microsoft.com/v1.0/users/x1/getMemberObjects\"}}}", NULL),
		     ID_ERR_GROUP_OVERAGE);
	CHECK_EQ_INT(verify_tok(&entra, ks_adfs, &t, adfs, "{\"oid\":\"x1\",\"tid\":\"" TID "\",\"groups\":null,\"hasgroups\":true}", NULL),
		     ID_ERR_GROUP_OVERAGE);
	/* App roles instead of groups. */
	id_idp roles = entra;
	roles.groups_claim = "roles";
	CHECK_EQ_INT(verify_tok(&roles, ks_adfs, &t, adfs,
				"{\"oid\":\"x1\",\"tid\":\"" TID "\",\"groups\":null,\"roles\":[\"Jobcenter.Caseworker\"]}", &v), 0);
	CHECK(strcmp(v.units[0], "borgerservice") == 0);
	/* With roles configured, an overage of groups does not matter. */
	CHECK_EQ_INT(verify_tok(&roles, ks_adfs, &t, adfs,
				"{\"oid\":\"x1\",\"tid\":\"" TID "\",\"groups\":null,\"_claim_names\":{\"groups\":\"src1\"},\"roles\":[\"Jobcenter.Caseworker\"]}", NULL),
		     0);
	/* Configuration: Entra is a caseworker profile, RS256 only; tid only for Entra. */
	id_idp bad = entra;
	bad.allowed_algs = ID_ALG_ES256 | ID_ALG_RS256;
	CHECK_EQ_INT(id_idp_validate(&bad), ID_ERR_CONFIG);
	bad = t_idp_adfs;
	bad.required_tid = TID;
	CHECK_EQ_INT(id_idp_validate(&bad), ID_ERR_CONFIG);
	CHECK_EQ_INT(id_idp_validate(&entra), 0);
}

static void test_discovery(void)
{
	id_discovery d;
	const char *good = "{\"issuer\":\"https://idp.example/op\",\"jwks_uri\":\"https://idp.example/op/jwks\","
			   "\"authorization_endpoint\":\"https://idp.example/op/auth\",\"token_endpoint\":\"https://idp.example/op/token\","
			   "\"token_endpoint_auth_methods_supported\":[\"private_key_jwt\",\"client_secret_basic\"],"
			   "\"code_challenge_methods_supported\":[\"S256\"]}";
	CHECK_EQ_INT(id_discovery_parse(good, strlen(good), "https://idp.example/op", false, &d), 0);
	CHECK(strcmp(d.jwks_uri, "https://idp.example/op/jwks") == 0);
	CHECK(strcmp(d.token_endpoint, "https://idp.example/op/token") == 0);
	CHECK_EQ_INT(d.token_auth_methods, ID_AUTH_CLIENT_SECRET_BASIC | ID_AUTH_PRIVATE_KEY_JWT);
	CHECK(d.pkce_s256);
	CHECK(d.end_session_endpoint[0] == 0);
	/* Another issuer's document (even with a trailing slash) cannot stand in. */
	CHECK_EQ_INT(id_discovery_parse(good, strlen(good), "https://idp.example/op/", false, &d), ID_ERR_DISCOVERY);
	const char *plain = "{\"issuer\":\"https://i\",\"jwks_uri\":\"http://i/jwks\",\"authorization_endpoint\":\"https://i/a\"}";
	CHECK_EQ_INT(id_discovery_parse(plain, strlen(plain), "https://i", false, &d), ID_ERR_DISCOVERY);
	const char *nojwks = "{\"issuer\":\"https://i\",\"authorization_endpoint\":\"https://i/a\"}";
	CHECK_EQ_INT(id_discovery_parse(nojwks, strlen(nojwks), "https://i", false, &d), ID_ERR_DISCOVERY);
	const char *dup = "{\"issuer\":\"https://i\",\"issuer\":\"https://i\",\"jwks_uri\":\"https://i/j\",\"authorization_endpoint\":\"https://i/a\"}";
	CHECK_EQ_INT(id_discovery_parse(dup, strlen(dup), "https://i", false, &d), ID_ERR_DISCOVERY);
	CHECK_EQ_INT(id_discovery_parse("[]", 2, "https://i", false, &d), ID_ERR_DISCOVERY);
	const char *nomethods = "{\"issuer\":\"https://i\",\"jwks_uri\":\"https://i/j\",\"authorization_endpoint\":\"https://i/a\"}";
	CHECK_EQ_INT(id_discovery_parse(nomethods, strlen(nomethods), "https://i", false, &d), 0);
	CHECK_EQ_INT(d.token_auth_methods, ID_AUTH_CLIENT_SECRET_BASIC);
	CHECK(!d.pkce_s256);

	CHECK(id_url_acceptable("https://a.example/x", false));
	CHECK(!id_url_acceptable("https://", false));
	CHECK(!id_url_acceptable("https://a b/", false));
	CHECK(!id_url_acceptable("http://127.0.0.1:9/x", false));
	CHECK(id_url_acceptable("http://127.0.0.1:9/x", true));
	CHECK(!id_url_acceptable("http://localhost.evil.example/x", true));
	CHECK(!id_url_acceptable("http://idp.example/x", true));
	CHECK(!id_url_acceptable("ftp://a/x", true));
}

static void test_cache_control(void)
{
	CHECK_EQ_INT(id_cache_max_age(NULL), -1);
	CHECK_EQ_INT(id_cache_max_age(""), -1);
	CHECK_EQ_INT(id_cache_max_age("public"), -1);
	CHECK_EQ_INT(id_cache_max_age("max-age=3600"), 3600);
	CHECK_EQ_INT(id_cache_max_age("public, Max-Age=\"120\", must-revalidate"), 120);
	CHECK_EQ_INT(id_cache_max_age("max-age=60, no-cache"), 0);
	CHECK_EQ_INT(id_cache_max_age("no-store"), 0);
	CHECK_EQ_INT(id_cache_max_age("max-age=abc"), -1);
	CHECK_EQ_INT(id_cache_max_age("max-age=99999999999"), -1);
	CHECK_EQ_INT(id_cache_max_age("s-maxage=10,max-age=20"), 20);
}

static void test_client_assertion(void)
{
	char *priv = devidp_private_jwk_json(adfs);
	char *a = NULL;
	REQUIRE(priv != NULL);
	CHECK_EQ_INT(id_client_assertion(priv, strlen(priv), "k-1", "wakks", "https://idp.example/token",
					 T_NOW, &a), 0);
	REQUIRE(a != NULL);
	cjose_err err;
	cjose_jws_t *jws = cjose_jws_import(a, strlen(a), &err);
	cjose_jwk_t *pub = cjose_jwk_import(priv, strlen(priv), &err);
	CHECK(jws && pub && cjose_jws_verify(jws, pub, &err));
	uint8_t *plain = NULL;
	size_t plen = 0;
	CHECK(jws && cjose_jws_get_plaintext(jws, &plain, &plen, &err));
	json_t *c = plain ? json_loadb((const char *)plain, plen, 0, NULL) : NULL;
	CHECK(c && strcmp(json_string_value(json_object_get(c, "iss")), "wakks") == 0);
	CHECK(c && strcmp(json_string_value(json_object_get(c, "sub")), "wakks") == 0);
	CHECK(c && strcmp(json_string_value(json_object_get(c, "aud")), "https://idp.example/token") == 0);
	CHECK(c && json_integer_value(json_object_get(c, "exp")) == T_NOW + 60);
	CHECK(c && strlen(json_string_value(json_object_get(c, "jti"))) >= 22);
	json_t *h = jws ? (json_t *)cjose_jws_get_protected(jws) : NULL;
	CHECK(h && strcmp(json_string_value(json_object_get(h, "alg")), "RS256") == 0);
	CHECK(h && strcmp(json_string_value(json_object_get(h, "kid")), "k-1") == 0);
	json_decref(c);
	cjose_jws_release(jws);
	cjose_jwk_release(pub);
	free(a);
	/* A public key cannot sign; not JSON is a configuration error. */
	CHECK_EQ_INT(id_client_assertion("{}", 2, NULL, "wakks", "https://i/t", T_NOW, &a), ID_ERR_CONFIG);
	CHECK_EQ_INT(id_client_assertion(priv, strlen(priv), NULL, "", "https://i/t", T_NOW, &a),
		     ID_ERR_INVALID_ARG);
	free(priv);
}

int main(void)
{
	if (id_library_init() != 0)
		return 1;
	dir = t_tempdir();
	mitid = t_devidp(ID_PROFILE_MITID_BROKER, dir);
	adfs = t_devidp(ID_PROFILE_ADFS, dir);
	if (!mitid || !adfs)
		return 1;
	ks_mitid = t_keyset(devidp_jwks_json(mitid));
	ks_adfs = t_keyset(devidp_jwks_json(adfs));
	for (size_t i = 0; i < sizeof pk; i++) {
		pk[i] = (uint8_t)(0x11 + i);
		challenge[i] = (uint8_t)(0x5a ^ i);
	}
	if (!ks_mitid || !ks_adfs || id_nonce_compute(T_ISS_MITID, pk, challenge, nonce_mitid) != 0 ||
	    id_nonce_compute(T_ISS_ADFS, pk, challenge, nonce_adfs) != 0)
		return 1;
	RUN(test_mitid_claim_names);
	RUN(test_adfs_group_claim);
	RUN(test_entra);
	RUN(test_discovery);
	RUN(test_cache_control);
	RUN(test_client_assertion);
	devidp_close(mitid);
	devidp_close(adfs);
	id_keyset_free(ks_mitid);
	id_keyset_free(ks_adfs);
	t_rmtree(dir);
	free(dir);
	return TEST_RESULT();
}
