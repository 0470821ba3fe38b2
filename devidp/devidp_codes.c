/* SPDX-License-Identifier: MPL-2.0 */
/* Authorization codes of the development identity provider: single use, short-lived, bound to
 * client, redirect URI, PKCE challenge and nonce. */
#include <string.h>

#include <sodium.h>

#include "devidp_internal.h"

#define PKCE_VERIFIER_MIN 43 /* RFC 7636 §4.1 */
#define PKCE_VERIFIER_MAX 128

int devidp_pkce_s256_check(const char *verifier, const char *challenge)
{
	if (!verifier || !challenge)
		return DEVIDP_ERR_PKCE;
	size_t n = strlen(verifier);
	if (n < PKCE_VERIFIER_MIN || n > PKCE_VERIFIER_MAX || strlen(challenge) != ID_NONCE_CHARS)
		return DEVIDP_ERR_PKCE;
	for (size_t i = 0; i < n; i++) {
		char c = verifier[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_' || c == '~'))
			return DEVIDP_ERR_PKCE;
	}
	uint8_t h[ID_HASH_BYTES];
	char expect[ID_NONCE_BUF_BYTES];
	crypto_hash_sha256(h, (const uint8_t *)verifier, n);
	id_b64url_encode(h, sizeof h, expect, sizeof expect);
	return sodium_memcmp(expect, challenge, ID_NONCE_CHARS) == 0 ? 0 : DEVIDP_ERR_PKCE;
}

static bool fits(const char *s, size_t max)
{
	return s && s[0] && strlen(s) <= max;
}

int devidp_code_issue(devidp *d, const devidp_auth_request *req, int64_t now,
		      char out[DEVIDP_CODE_CHARS + 1])
{
	if (!d || !req || !out || !fits(req->client_id, DEVIDP__CLIENT_ID_MAX) ||
	    !fits(req->redirect_uri, DEVIDP__REDIRECT_URI_MAX) || !req->code_challenge ||
	    strlen(req->code_challenge) != ID_NONCE_CHARS ||
	    !id_b64url_charset(req->code_challenge, ID_NONCE_CHARS) ||
	    !fits(req->nonce, DEVIDP__NONCE_MAX) || !fits(req->login, DEVIDP__LOGIN_MAX))
		return ID_ERR_INVALID_ARG;
	struct devidp__code *slot = NULL;
	for (size_t i = 0; i < DEVIDP_MAX_CODES && !slot; i++)
		if (!d->codes[i].in_use || d->codes[i].expires_at <= now)
			slot = &d->codes[i];
	if (!slot)
		return DEVIDP_ERR_CODE_STORE_FULL;
	uint8_t r[32];
	memset(slot, 0, sizeof *slot);
	randombytes_buf(r, sizeof r);
	id_b64url_encode(r, sizeof r, slot->code, sizeof slot->code);
	strcpy(slot->client_id, req->client_id);
	strcpy(slot->redirect_uri, req->redirect_uri);
	strcpy(slot->challenge, req->code_challenge);
	strcpy(slot->nonce, req->nonce);
	strcpy(slot->login, req->login);
	slot->expires_at = now + d->code_lifetime;
	slot->in_use = true;
	memcpy(out, slot->code, DEVIDP_CODE_CHARS + 1);
	return 0;
}

int devidp_code_redeem(devidp *d, const char *code, const char *client_id, const char *redirect_uri,
		       const char *code_verifier, int64_t now, char **out_token)
{
	if (!d || !out_token)
		return ID_ERR_INVALID_ARG;
	if (!code || strlen(code) != DEVIDP_CODE_CHARS)
		return DEVIDP_ERR_CODE_UNKNOWN;
	struct devidp__code c;
	bool found = false;
	for (size_t i = 0; i < DEVIDP_MAX_CODES; i++) {
		if (d->codes[i].in_use && sodium_memcmp(d->codes[i].code, code, DEVIDP_CODE_CHARS) == 0) {
			c = d->codes[i];
			/* Consumed now, whatever follows (RFC 6749 §4.1.2: used once). */
			sodium_memzero(&d->codes[i], sizeof d->codes[i]);
			found = true;
		}
	}
	if (!found)
		return DEVIDP_ERR_CODE_UNKNOWN;
	int rc;
	if (c.expires_at <= now)
		rc = DEVIDP_ERR_CODE_EXPIRED;
	else if (!client_id || strcmp(client_id, c.client_id) != 0)
		rc = DEVIDP_ERR_CLIENT_ID;
	else if (!redirect_uri || strcmp(redirect_uri, c.redirect_uri) != 0)
		rc = DEVIDP_ERR_REDIRECT_URI;
	else
		rc = devidp_pkce_s256_check(code_verifier, c.challenge);
	if (rc == 0) {
		devidp_mint_opts o = { .login = c.login, .nonce = c.nonce };
		rc = devidp_mint(d, &o, now, out_token);
	}
	sodium_memzero(&c, sizeof c);
	return rc;
}
