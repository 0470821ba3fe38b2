/* SPDX-License-Identifier: MPL-2.0 */
/* The OpenID Connect authorization-code flow with PKCE (S256) against the relay's development
 * identity provider: authorize page, the login form post (demo user), the redirect with the code,
 * the token request with the code verifier. The nonce binds the token to this device's identity
 * key and this connection's challenge (spec/identity.md §3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "wakks_internal.h"

/* Registered redirect URIs of the development provider accept any https URI; the flow never
 * follows the redirect, it only reads the code from it. */
static const char dev_redirect[] = "https%3A%2F%2Flocalhost%2Fwakks-cli%2Fcallback";
#define DEV_CLIENT_ID "wakks-dev"

static bool query_param(const char *url, const char *name, char *out, size_t cap)
{
	const char *q = strchr(url, '?');
	size_t nl = strlen(name);
	for (const char *p = q; p && *p; p = strchr(p + 1, '&')) {
		if (strncmp(p + 1, name, nl) == 0 && p[1 + nl] == '=') {
			const char *v = p + 2 + nl;
			size_t l = strcspn(v, "&#");
			if (l >= cap)
				return false;
			memcpy(out, v, l);
			out[l] = '\0';
			return true;
		}
	}
	return false;
}

static bool name_ok(const char *s)
{
	if (!s || !s[0] || strlen(s) > 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return false;
	return true;
}

/* The provider's issuer as it states it in its discovery document: the nonce binds this exact
 * string, which need not match the address this client reached the relay by (spec/identity.md
 * §11.1: 127.0.0.1 and localhost are different issuers). */
static int discover_issuer(wakks_client *c, const char *idp, char *issuer, size_t cap)
{
	char path[256];
	snprintf(path, sizeof path, "/dev-idp/%s/.well-known/openid-configuration", idp);
	int status = 0;
	char *body = NULL;
	int rc = wakks__https(c->tls, c->host, c->port, "GET", path, NULL, &status, &body, NULL, 0);
	if (rc != 0)
		return rc;
	json_t *j = status == 200 && body ? json_loads(body, 0, NULL) : NULL;
	free(body);
	const char *iss = json_string_value(json_object_get(j, "issuer"));
	rc = iss && strlen(iss) < cap ? 0 : WAKKS_E_HTTP;
	if (rc == 0)
		memcpy(issuer, iss, strlen(iss) + 1);
	json_decref(j);
	return rc;
}

int wakks_devidp_login(wakks_client *c, const char *idp, const char *user, char **token)
{
	if (!c || !name_ok(idp) || !name_ok(user) || !token)
		return WAKKS_E_INVAL;
	if (!c->have_challenge)
		return WAKKS_E_STATE;
	char issuer[512], nonce[WAKKS_NONCE_CHARS + 1], verifier[64], challenge[64];
	int rc = discover_issuer(c, idp, issuer, sizeof issuer);
	if (rc == 0)
		rc = wakks_registration_nonce(c, issuer, nonce);
	if (rc != 0)
		return rc;
	uint8_t raw[32], digest[32];
	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(verifier, sizeof verifier, raw, sizeof raw,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	crypto_hash_sha256(digest, (const uint8_t *)verifier, strlen(verifier));
	sodium_bin2base64(challenge, sizeof challenge, digest, sizeof digest,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	uint8_t state_raw[12];
	char state[24];
	randombytes_buf(state_raw, sizeof state_raw);
	sodium_bin2base64(state, sizeof state, state_raw, sizeof state_raw,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);

	char path[1024], form[1024], location[2048], code[256], got_state[64];
	int status = 0;
	char *body = NULL;
	/* 1. the authorization request (the page a browser would show) */
	snprintf(path, sizeof path,
		 "/dev-idp/%s/authorize?response_type=code&client_id=" DEV_CLIENT_ID
		 "&redirect_uri=%s&scope=openid&code_challenge=%s"
		 "&code_challenge_method=S256&nonce=%s&state=%s",
		 idp, dev_redirect, challenge, nonce, state);
	rc = wakks__https(c->tls, c->host, c->port, "GET", path, NULL, &status, &body, NULL, 0);
	if (rc != 0)
		return rc;
	/* The page offers this provider's demo users as radio buttons: a user it does not offer
	 * (a caseworker at the citizens' provider, say) is refused below with a page meant for a
	 * browser; say instead that the provider has no such user. */
	char offered[96];
	snprintf(offered, sizeof offered, "name=\"login\" value=\"%s\"", user);
	bool has_user = status == 200 && body && strstr(body, offered);
	free(body);
	if (status != 200)
		return WAKKS_E_HTTP;
	if (!has_user)
		return WAKKS_E_NOT_FOUND;
	/* 2. the person picks a demo identity: the form the page carries */
	snprintf(path, sizeof path, "/dev-idp/%s/authorize", idp);
	snprintf(form, sizeof form,
		 "response_type=code&client_id=" DEV_CLIENT_ID "&redirect_uri=%s"
		 "&scope=openid&code_challenge=%s&code_challenge_method=S256&nonce=%s&state=%s&login=%s",
		 dev_redirect, challenge, nonce, state, user);
	body = NULL;
	rc = wakks__https(c->tls, c->host, c->port, "POST", path, form, &status, &body, location,
			  sizeof location);
	free(body);
	if (rc != 0)
		return rc;
	if (status != 302 || !query_param(location, "code", code, sizeof code) ||
	    !query_param(location, "state", got_state, sizeof got_state) ||
	    strcmp(got_state, state) != 0)
		return WAKKS_E_HTTP;
	/* 3. the token request, proving possession of the code verifier */
	snprintf(path, sizeof path, "/dev-idp/%s/token", idp);
	snprintf(form, sizeof form,
		 "grant_type=authorization_code&code=%s&redirect_uri=%s"
		 "&client_id=" DEV_CLIENT_ID "&code_verifier=%s",
		 code, dev_redirect, verifier);
	body = NULL;
	rc = wakks__https(c->tls, c->host, c->port, "POST", path, form, &status, &body, NULL, 0);
	sodium_memzero(form, sizeof form);
	if (rc != 0)
		return rc;
	if (status != 200) {
		free(body);
		return WAKKS_E_HTTP;
	}
	json_t *j = json_loads(body, 0, NULL);
	free(body);
	const char *t = json_string_value(json_object_get(j, "id_token"));
	*token = t ? strdup(t) : NULL;
	json_decref(j);
	return *token ? 0 : WAKKS_E_HTTP;
}
