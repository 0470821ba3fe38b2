/* SPDX-License-Identifier: MPL-2.0 */
/* The development identity provider: PKCE, codes, key persistence, and the HTTP endpoints end to
 * end (authorize page → form → code → token → verifiable ID token). */
#include <sys/stat.h>

#include <jansson.h>
#include <sodium.h>

#include "test.h"
#include "id_test_util.h"
#include "query.h"

#define REDIRECT "https://localhost:8443/app/callback"
/* RFC 7636 Appendix B */
#define PKCE_VERIFIER "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define PKCE_CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

static char *dir;
static devidp *mitid, *adfs;

static void test_pkce_rfc7636(void)
{
	CHECK_EQ_INT(devidp_pkce_s256_check(PKCE_VERIFIER, PKCE_CHALLENGE), 0);
	CHECK_EQ_INT(devidp_pkce_s256_check("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj", PKCE_CHALLENGE), DEVIDP_ERR_PKCE);
	CHECK_EQ_INT(devidp_pkce_s256_check(PKCE_CHALLENGE, PKCE_CHALLENGE), DEVIDP_ERR_PKCE);
	CHECK_EQ_INT(devidp_pkce_s256_check("short", PKCE_CHALLENGE), DEVIDP_ERR_PKCE);
	CHECK_EQ_INT(devidp_pkce_s256_check("dBjftJeZ4CVP+mB92K27uhbUJU1p1r_wW1gFWFOEjXk", PKCE_CHALLENGE), DEVIDP_ERR_PKCE);
	CHECK_EQ_INT(devidp_pkce_s256_check(NULL, PKCE_CHALLENGE), DEVIDP_ERR_PKCE);
	/* plain method: challenge == verifier is not accepted. */
	CHECK_EQ_INT(devidp_pkce_s256_check(PKCE_VERIFIER, PKCE_VERIFIER), DEVIDP_ERR_PKCE);
}

static devidp_auth_request req(const char *login)
{
	return (devidp_auth_request){ .client_id = T_CLIENT_CITIZEN, .redirect_uri = REDIRECT,
				      .code_challenge = PKCE_CHALLENGE, .nonce = "n-0S6_WzA2Mj", .login = login };
}

static void test_code_single_use(void)
{
	char code[DEVIDP_CODE_CHARS + 1], *tok = NULL;
	devidp_auth_request r = req("anna");
	REQUIRE_OK(devidp_code_issue(mitid, &r, T_NOW, code));
	CHECK_EQ_INT(strlen(code), DEVIDP_CODE_CHARS);
	CHECK_EQ_INT(devidp_code_redeem(mitid, code, T_CLIENT_CITIZEN, REDIRECT, PKCE_VERIFIER, T_NOW + 5, &tok), 0);
	CHECK(tok != NULL);
	free(tok);
	tok = NULL;
	CHECK_EQ_INT(devidp_code_redeem(mitid, code, T_CLIENT_CITIZEN, REDIRECT, PKCE_VERIFIER, T_NOW + 6, &tok), DEVIDP_ERR_CODE_UNKNOWN);
	CHECK(tok == NULL);

	/* Each binding is checked, and a failed attempt consumes the code too. */
	REQUIRE_OK(devidp_code_issue(mitid, &r, T_NOW, code));
	CHECK_EQ_INT(devidp_code_redeem(mitid, code, "other", REDIRECT, PKCE_VERIFIER, T_NOW, &tok), DEVIDP_ERR_CLIENT_ID);
	CHECK_EQ_INT(devidp_code_redeem(mitid, code, T_CLIENT_CITIZEN, REDIRECT, PKCE_VERIFIER, T_NOW, &tok), DEVIDP_ERR_CODE_UNKNOWN);
	REQUIRE_OK(devidp_code_issue(mitid, &r, T_NOW, code));
	CHECK_EQ_INT(devidp_code_redeem(mitid, code, T_CLIENT_CITIZEN, REDIRECT "x", PKCE_VERIFIER, T_NOW, &tok), DEVIDP_ERR_REDIRECT_URI);
	REQUIRE_OK(devidp_code_issue(mitid, &r, T_NOW, code));
	CHECK_EQ_INT(devidp_code_redeem(mitid, code, T_CLIENT_CITIZEN, REDIRECT, "x" PKCE_VERIFIER, T_NOW, &tok), DEVIDP_ERR_PKCE);
	/* A guessed code. */
	code[0] = code[0] == 'A' ? 'B' : 'A';
	CHECK_EQ_INT(devidp_code_redeem(mitid, code, T_CLIENT_CITIZEN, REDIRECT, PKCE_VERIFIER, T_NOW, &tok), DEVIDP_ERR_CODE_UNKNOWN);
	CHECK(tok == NULL);
}

static void test_code_expiry_and_bound(void)
{
	char code[DEVIDP_CODE_CHARS + 1], *tok = NULL;
	devidp_auth_request r = req("bo");
	REQUIRE_OK(devidp_code_issue(mitid, &r, T_NOW, code));
	CHECK_EQ_INT(devidp_code_redeem(mitid, code, T_CLIENT_CITIZEN, REDIRECT, PKCE_VERIFIER, T_NOW + 60, &tok), DEVIDP_ERR_CODE_EXPIRED);
	REQUIRE_OK(devidp_code_issue(mitid, &r, T_NOW, code));
	CHECK_EQ_INT(devidp_code_redeem(mitid, code, T_CLIENT_CITIZEN, REDIRECT, PKCE_VERIFIER, T_NOW + 59, &tok), 0);
	free(tok);

	int rc = 0;
	for (int i = 0; i < DEVIDP_MAX_CODES && rc == 0; i++)
		rc = devidp_code_issue(mitid, &r, T_NOW + 1000, code);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(devidp_code_issue(mitid, &r, T_NOW + 1000, code), DEVIDP_ERR_CODE_STORE_FULL);
	/* Expired codes free their slots. */
	CHECK_EQ_INT(devidp_code_issue(mitid, &r, T_NOW + 1060, code), 0);
	devidp_auth_request bad = r;
	bad.code_challenge = "short";
	CHECK_EQ_INT(devidp_code_issue(mitid, &bad, T_NOW, code), ID_ERR_INVALID_ARG);
}

static void test_key_persisted(void)
{
	char *d = t_tempdir();
	REQUIRE(d != NULL);
	for (int p = ID_PROFILE_MITID_BROKER; p <= ID_PROFILE_ADFS; p++) {
		devidp *a = t_devidp((id_profile)p, d);
		REQUIRE(a != NULL);
		char *priv_a = devidp_private_jwk_json(a);
		char kid_a[64];
		snprintf(kid_a, sizeof kid_a, "%s", devidp_kid(a));
		devidp_close(a);
		char path[600];
		snprintf(path, sizeof path, "%s/%s", d, p == ID_PROFILE_ADFS ? "devidp-rs256.jwk" : "devidp-es256.jwk");
		struct stat st;
		CHECK(stat(path, &st) == 0);
		CHECK_EQ_INT(st.st_mode & 0777, 0600);
		devidp *b = t_devidp((id_profile)p, d);
		REQUIRE(b != NULL);
		char *priv_b = devidp_private_jwk_json(b);
		CHECK(strcmp(kid_a, devidp_kid(b)) == 0);
		CHECK(priv_a && priv_b && strcmp(priv_a, priv_b) == 0);
		free(priv_a);
		free(priv_b);
		devidp_close(b);

		/* A group- or world-readable key file is refused, not silently used. */
		CHECK(chmod(path, 0644) == 0);
		devidp_config c = { .profile = (id_profile)p, .issuer = T_ISS_MITID, .client_id = "c", .key_dir = d };
		devidp *x = NULL;
		CHECK_EQ_INT(devidp_open(&c, &x), DEVIDP_ERR_KEYFILE);
		CHECK(x == NULL);
		CHECK(chmod(path, 0600) == 0);
	}
	/* A key of the wrong type under the other profile's name is refused. */
	char es[600], rs[600], cmd[1300];
	snprintf(es, sizeof es, "%s/devidp-es256.jwk", d);
	snprintf(rs, sizeof rs, "%s/devidp-rs256.jwk", d);
	snprintf(cmd, sizeof cmd, "cp '%s' '%s'", es, rs);
	CHECK(system(cmd) == 0);
	CHECK(chmod(rs, 0600) == 0);
	devidp_config c = { .profile = ID_PROFILE_ADFS, .issuer = T_ISS_ADFS, .client_id = "c", .key_dir = d };
	devidp *x = NULL;
	CHECK_EQ_INT(devidp_open(&c, &x), DEVIDP_ERR_KEYFILE);
	FILE *f = fopen(es, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("{\"kty\":\"EC\"}", f);
		fclose(f);
	}
	c.profile = ID_PROFILE_MITID_BROKER;
	CHECK_EQ_INT(devidp_open(&c, &x), DEVIDP_ERR_KEYFILE);
	t_rmtree(d);
	free(d);
}

/* The value of `name` in a Location's query string (malloc'd), read by the tests' one query
 * parser. */
static char *location_param(const char *url, const char *name)
{
	char v[512];
	return query_param(url, name, v, sizeof v) ? strdup(v) : NULL;
}

static void test_endpoints_flow(void)
{
	devidp_response r;
	uint8_t pk[32], ch[32];
	char nonce[ID_NONCE_BUF_BYTES];
	memset(pk, 0x5a, 32);
	memset(ch, 0xa5, 32);
	REQUIRE_OK(id_nonce_compute(T_ISS_ADFS, pk, ch, nonce));

	CHECK_EQ_INT(devidp_handle(adfs, "GET", "/.well-known/openid-configuration", NULL, NULL, 0, T_NOW, &r), 0);
	CHECK_EQ_INT(r.status, 200);
	json_error_t je;
	json_t *disc = json_loads(r.body, 0, &je);
	CHECK(disc && strcmp(json_string_value(json_object_get(disc, "issuer")), T_ISS_ADFS) == 0);
	CHECK(disc && strcmp(json_string_value(json_object_get(disc, "jwks_uri")), T_ISS_ADFS "/jwks") == 0);
	CHECK(disc && strcmp(json_string_value(json_object_get(disc, "token_endpoint")), T_ISS_ADFS "/token") == 0);
	CHECK(disc && strcmp(json_string_value(json_array_get(json_object_get(disc, "id_token_signing_alg_values_supported"), 0)), "RS256") == 0);
	json_decref(disc);
	devidp_response_free(&r);

	CHECK_EQ_INT(devidp_handle(adfs, "GET", "/jwks", NULL, NULL, 0, T_NOW, &r), 0);
	CHECK(r.status == 200 && strcmp(r.body, devidp_jwks_json(adfs)) == 0);
	CHECK(!r.no_store);
	devidp_response_free(&r);

	char q[2048];
	snprintf(q, sizeof q, "response_type=code&client_id=%s&redirect_uri=%s&scope=openid%%20profile"
		 "&code_challenge=%s&code_challenge_method=S256&nonce=%s&state=%%22%%3E%%3Cscript%%3E",
		 T_CLIENT_CASEWORKER, "https%3A%2F%2Flocalhost%3A8443%2Fapp%2Fcallback", PKCE_CHALLENGE, nonce);
	CHECK_EQ_INT(devidp_handle(adfs, "GET", "/authorize", q, NULL, 0, T_NOW, &r), 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK(strncmp(r.content_type, "text/html", 9) == 0);
	CHECK(strstr(r.body, "<html lang=\"da\">") != NULL);
	CHECK(strstr(r.body, "<label for=\"user-camilla\">") != NULL);
	CHECK(strstr(r.body, "id=\"user-camilla\"") != NULL);
	CHECK(strstr(r.body, "Dennis Lund") != NULL);
	CHECK(strstr(r.body, "Anna Jensen") == NULL); /* citizens are not offered by the AD FS */
	CHECK(strstr(r.body, "<legend>") != NULL);
	CHECK(strstr(r.body, "<button type=\"submit\">") != NULL);
	CHECK(strstr(r.body, "<form method=\"post\" action=\"" T_ISS_ADFS "/authorize\">") != NULL);
	CHECK(strstr(r.body, "<script>") == NULL);
	CHECK(strstr(r.body, "&quot;&gt;&lt;script&gt;") != NULL);
	devidp_response_free(&r);

	/* Missing PKCE, unknown client, bad redirect, repeated parameter. */
	const char *bad[] = {
		"response_type=code&client_id=" T_CLIENT_CASEWORKER "&redirect_uri=https%3A%2F%2Fx&scope=openid&nonce=n",
		"response_type=code&client_id=evil&redirect_uri=https%3A%2F%2Fx&scope=openid&nonce=n&code_challenge=" PKCE_CHALLENGE "&code_challenge_method=S256",
		"response_type=code&client_id=" T_CLIENT_CASEWORKER "&redirect_uri=javascript%3Aalert(1)&scope=openid&nonce=n&code_challenge=" PKCE_CHALLENGE "&code_challenge_method=S256",
		"response_type=code&client_id=" T_CLIENT_CASEWORKER "&client_id=" T_CLIENT_CASEWORKER "&redirect_uri=https%3A%2F%2Fx&scope=openid&nonce=n&code_challenge=" PKCE_CHALLENGE "&code_challenge_method=S256",
		"response_type=code&client_id=" T_CLIENT_CASEWORKER "&redirect_uri=https%3A%2F%2Fx&scope=openid&nonce=n&code_challenge=" PKCE_CHALLENGE "&code_challenge_method=plain",
		"response_type=token&client_id=" T_CLIENT_CASEWORKER "&redirect_uri=https%3A%2F%2Fx&scope=openid&nonce=n&code_challenge=" PKCE_CHALLENGE "&code_challenge_method=S256",
		"response_type=code&client_id=%zz",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_EQ_INT(devidp_handle(adfs, "GET", "/authorize", bad[i], NULL, 0, T_NOW, &r), 0);
		CHECK_EQ_INT(r.status, 400);
		devidp_response_free(&r);
	}

	char form[2048];
	snprintf(form, sizeof form, "client_id=%s&redirect_uri=%s&code_challenge=%s&nonce=%s&state=xyz&login=camilla",
		 T_CLIENT_CASEWORKER, "https%3A%2F%2Flocalhost%3A8443%2Fapp%2Fcallback", PKCE_CHALLENGE, nonce);
	CHECK_EQ_INT(devidp_handle(adfs, "POST", "/authorize", NULL, form, strlen(form), T_NOW, &r), 0);
	CHECK_EQ_INT(r.status, 302);
	REQUIRE(r.location != NULL);
	CHECK(strncmp(r.location, REDIRECT "?code=", strlen(REDIRECT) + 6) == 0);
	char *code = location_param(r.location, "code"), *state = location_param(r.location, "state");
	CHECK(state && strcmp(state, "xyz") == 0);
	devidp_response_free(&r);
	REQUIRE(code != NULL);

	/* A citizen login is not accepted by the AD FS form. */
	char form2[2048];
	snprintf(form2, sizeof form2, "client_id=%s&redirect_uri=%s&code_challenge=%s&nonce=%s&login=anna",
		 T_CLIENT_CASEWORKER, "https%3A%2F%2Flocalhost%3A8443%2Fapp%2Fcallback", PKCE_CHALLENGE, nonce);
	CHECK_EQ_INT(devidp_handle(adfs, "POST", "/authorize", NULL, form2, strlen(form2), T_NOW, &r), 0);
	CHECK_EQ_INT(r.status, 400);
	devidp_response_free(&r);

	char tf[1024];
	snprintf(tf, sizeof tf, "grant_type=authorization_code&code=%s&redirect_uri=%s&client_id=%s&code_verifier=%s",
		 code, "https%3A%2F%2Flocalhost%3A8443%2Fapp%2Fcallback", T_CLIENT_CASEWORKER, PKCE_VERIFIER);
	CHECK_EQ_INT(devidp_handle(adfs, "POST", "/token", NULL, tf, strlen(tf), T_NOW + 2, &r), 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK(r.no_store);
	json_t *tr = json_loads(r.body, 0, &je);
	const char *idt = json_string_value(json_object_get(tr, "id_token"));
	REQUIRE(idt != NULL);
	id_keyset *ks = t_keyset(devidp_jwks_json(adfs));
	id_verified v;
	CHECK_EQ_INT(id_verify(&t_idp_adfs, ks, &t_tenant, idt, strlen(idt), pk, ch, T_NOW + 3, NULL, &v), 0);
	CHECK(strcmp(v.person_id, "camilla.holm@varde.dk") == 0);
	CHECK(v.n_units == 1 && strcmp(v.units[0], "jobcenter") == 0);
	id_keyset_free(ks);
	json_decref(tr);
	devidp_response_free(&r);

	/* The code is spent. */
	CHECK_EQ_INT(devidp_handle(adfs, "POST", "/token", NULL, tf, strlen(tf), T_NOW + 4, &r), 0);
	CHECK_EQ_INT(r.status, 400);
	CHECK(strstr(r.body, "invalid_grant") != NULL);
	devidp_response_free(&r);
	const char *gt = "grant_type=password&username=a&password=b";
	CHECK_EQ_INT(devidp_handle(adfs, "POST", "/token", NULL, gt, strlen(gt), T_NOW, &r), 0);
	CHECK(r.status == 400 && strstr(r.body, "unsupported_grant_type") != NULL);
	devidp_response_free(&r);
	CHECK_EQ_INT(devidp_handle(adfs, "GET", "/token", NULL, NULL, 0, T_NOW, &r), 0);
	CHECK_EQ_INT(r.status, 405);
	devidp_response_free(&r);
	CHECK_EQ_INT(devidp_handle(adfs, "GET", "/nothing", NULL, NULL, 0, T_NOW, &r), 0);
	CHECK_EQ_INT(r.status, 404);
	devidp_response_free(&r);
	free(code);
	free(state);
}

static void test_mint_claims(void)
{
	char *t = NULL;
	devidp_mint_opts o = { .login = "anna", .nonce = "abc" };
	REQUIRE_OK(devidp_mint(mitid, &o, T_NOW, &t));
	/* Decode the payload and look at the MitID-broker claim names. */
	char *p1 = strchr(t, '.') + 1, *p2 = strchr(p1, '.');
	unsigned char bin[4096];
	size_t n = 0;
	CHECK(sodium_base642bin(bin, sizeof bin - 1, p1, (size_t)(p2 - p1), NULL, &n, NULL,
				sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0);
	bin[n] = 0;
	json_error_t je;
	json_t *c = json_loads((const char *)bin, 0, &je);
	REQUIRE(c != NULL);
	CHECK(strcmp(json_string_value(json_object_get(c, "idp")), "mitid") == 0);
	CHECK(strcmp(json_string_value(json_object_get(c, "identity_type")), "private") == 0);
	CHECK(strcmp(json_string_value(json_object_get(c, "dk.cpr")), "0503841234") == 0);
	CHECK(strcmp(json_string_value(json_object_get(c, "loa")), "https://data.gov.dk/concept/core/nsis/loa/Substantial") == 0);
	CHECK(strcmp(json_string_value(json_object_get(c, "ial")), "https://data.gov.dk/concept/core/nsis/ial/Substantial") == 0);
	CHECK(strcmp(json_string_value(json_object_get(c, "nonce")), "abc") == 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(c, "exp")), T_NOW + 300);
	json_decref(c);
	free(t);
	o = (devidp_mint_opts){ .login = "nobody" };
	CHECK_EQ_INT(devidp_mint(mitid, &o, T_NOW, &t), ID_ERR_INVALID_ARG);
	o = (devidp_mint_opts){ .extra_claims_json = "[1]" };
	CHECK_EQ_INT(devidp_mint(mitid, &o, T_NOW, &t), ID_ERR_INVALID_ARG);
	size_t nu;
	const devidp_user *u = devidp_demo_users(&nu);
	CHECK_EQ_INT(nu, 5);
	for (size_t i = 0; i < nu; i++) {
		char cpr[11];
		if (u[i].kind == ID_KIND_CITIZEN)
			CHECK_EQ_INT(id_cpr_normalize(u[i].cpr, cpr), 0);
	}
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	dir = t_tempdir();
	mitid = t_devidp(ID_PROFILE_MITID_BROKER, dir);
	adfs = t_devidp(ID_PROFILE_ADFS, dir);
	if (!mitid || !adfs)
		return 1;
	RUN(test_pkce_rfc7636);
	RUN(test_code_single_use);
	RUN(test_code_expiry_and_bound);
	RUN(test_key_persisted);
	RUN(test_endpoints_flow);
	RUN(test_mint_claims);
	devidp_close(mitid);
	devidp_close(adfs);
	t_rmtree(dir);
	free(dir);
	return TEST_RESULT();
}
