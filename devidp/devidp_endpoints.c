/* SPDX-License-Identifier: MPL-2.0 */
/* HTTP endpoints of the development identity provider as pure functions: request parameters in,
 * (status, content type, body) out. The relay mounts them below the issuer URL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "devidp_internal.h"

#define CT_JSON "application/json"
#define CT_HTML "text/html; charset=utf-8"

void devidp_response_free(devidp_response *r)
{
	if (!r)
		return;
	free(r->body);
	free(r->location);
	memset(r, 0, sizeof *r);
}

static int respond(devidp_response *out, int status, const char *ctype, char *body)
{
	memset(out, 0, sizeof *out);
	if (!body)
		return ID_ERR_NOMEM;
	out->status = status;
	out->content_type = ctype;
	out->body = body;
	out->body_len = strlen(body);
	out->no_store = true; /* only the discovery document and the JWKS may be cached */
	return 0;
}

static int respond_copy(devidp_response *out, int status, const char *ctype, const char *body)
{
	return respond(out, status, ctype, strdup(body));
}

/* OAuth error answer (RFC 6749 §5.2). */
static int oauth_error(devidp_response *out, int status, const char *error, const char *desc)
{
	json_t *j = json_pack("{s:s, s:s}", "error", error, "error_description", desc);
	char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return respond(out, status, CT_JSON, body);
}

static const char page_head[] =
	"<!DOCTYPE html>\n<html lang=\"da\">\n<head>\n<meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	"<title>%s – udviklings-login</title>\n<style>\n"
	"body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;"
	"line-height:1.5;color:#1a1a1a;background:#fff}\n"
	"fieldset{border:1px solid #767676;border-radius:4px;padding:1rem}\n"
	"label{display:block;padding:.5rem 0;cursor:pointer}\n"
	"input[type=radio]{width:1.2rem;height:1.2rem;vertical-align:middle;margin-right:.5rem}\n"
	"button{font-size:1rem;padding:.6rem 1.4rem;margin-top:1rem;background:#0b5394;color:#fff;"
	"border:0;border-radius:4px;cursor:pointer}\n"
	":focus-visible{outline:3px solid #d35400;outline-offset:2px}\n"
	".warn{background:#fff3cd;border:1px solid #8a6d3b;padding:.5rem 1rem;border-radius:4px}\n"
	"</style>\n</head>\n<body>\n<main>\n";

static int error_page(devidp_response *out, int status, const char *msg)
{
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);
	if (!f)
		return ID_ERR_NOMEM;
	fprintf(f, page_head, "Fejl");
	fprintf(f, "<h1>Login kan ikke gennemføres</h1>\n<p role=\"alert\">%s</p>\n</main>\n</body>\n</html>\n", msg);
	if (fclose(f) != 0) {
		free(body);
		return ID_ERR_NOMEM;
	}
	return respond(out, status, CT_HTML, body);
}

int devidp_discovery(const devidp *d, devidp_response *out)
{
	char ep[3][ID_ISSUER_MAX_BYTES + 32];
	snprintf(ep[0], sizeof ep[0], "%s/authorize", d->issuer);
	snprintf(ep[1], sizeof ep[1], "%s/token", d->issuer);
	snprintf(ep[2], sizeof ep[2], "%s/jwks", d->issuer);
	json_t *claims = d->profile == ID_PROFILE_ADFS
				 ? json_pack("[s,s,s,s,s,s,s,s,s,s]", "iss", "aud", "sub", "iat", "exp", "nonce",
					     "upn", "unique_name", "groups", "name")
				 : json_pack("[s,s,s,s,s,s,s,s,s,s,s,s,s]", "iss", "aud", "sub", "iat", "exp",
					     "nonce", "idp", "identity_type", "loa", "ial", "dk.cpr", "mitid.uuid",
					     "name");
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:[s], s:[s], s:[s], s:[s], s:[s], s:[s], s:[s], s:o}",
			      "issuer", d->issuer, "authorization_endpoint", ep[0], "token_endpoint", ep[1],
			      "jwks_uri", ep[2], "response_types_supported", "code",
			      "subject_types_supported", "public", "id_token_signing_alg_values_supported",
			      devidp_alg(d), "scopes_supported", "openid", "token_endpoint_auth_methods_supported",
			      "none", "code_challenge_methods_supported", "S256", "grant_types_supported",
			      "authorization_code", "claims_supported", claims);
	char *body = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	int rc = respond(out, 200, CT_JSON, body);
	out->no_store = false;
	return rc;
}

int devidp_jwks(const devidp *d, devidp_response *out)
{
	int rc = respond_copy(out, 200, CT_JSON, d->jwks_json);
	out->no_store = false;
	return rc;
}

static bool scope_has_openid(const char *scope)
{
	if (!scope)
		return false;
	const char *p = scope;
	while (*p) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (n == 6 && strncmp(p, "openid", 6) == 0)
			return true;
		p += n;
	}
	return false;
}

/* Validates the authorization request parameters shared by the page and its form. Returns
 * NULL if acceptable, else a Danish message for the error page. */
static const char *check_request(const devidp *d, const devidp__form *f, bool need_scope)
{
	const char *v;
	if (need_scope && (!(v = devidp__form_get(f, "response_type")) || strcmp(v, "code") != 0))
		return "Ukendt response_type (kun &quot;code&quot; understøttes).";
	if (!(v = devidp__form_get(f, "client_id")) || strcmp(v, d->client_id) != 0)
		return "Ukendt client_id.";
	if (!devidp__redirect_allowed(d, devidp__form_get(f, "redirect_uri")))
		return "redirect_uri er ikke tilladt.";
	if (need_scope && !scope_has_openid(devidp__form_get(f, "scope")))
		return "scope skal indeholde openid.";
	if (need_scope && (!(v = devidp__form_get(f, "code_challenge_method")) || strcmp(v, "S256") != 0))
		return "PKCE med code_challenge_method=S256 er påkrævet.";
	if (!(v = devidp__form_get(f, "code_challenge")) || strlen(v) != ID_NONCE_CHARS ||
	    !id_b64url_charset(v, ID_NONCE_CHARS))
		return "code_challenge mangler eller er ugyldig.";
	if (!(v = devidp__form_get(f, "nonce")) || !v[0] || strlen(v) > DEVIDP__NONCE_MAX)
		return "nonce mangler eller er for lang.";
	if ((v = devidp__form_get(f, "state")) && strlen(v) > DEVIDP__STATE_MAX)
		return "state er for lang.";
	return NULL;
}

static void hidden(FILE *f, const char *name, const char *value)
{
	char *e = devidp__html_escape(value ? value : "");
	fprintf(f, "<input type=\"hidden\" name=\"%s\" value=\"%s\">\n", name, e ? e : "");
	free(e);
}

int devidp_authorize_page(devidp *d, const char *query, devidp_response *out)
{
	devidp__form q;
	int rc = devidp__form_parse(query, query ? strlen(query) : 0, &q);
	if (rc == ID_ERR_NOMEM) {
		devidp__form_free(&q);
		return rc;
	}
	const char *problem = rc != 0 ? "Forespørgslen kunne ikke læses." : check_request(d, &q, true);
	if (problem) {
		devidp__form_free(&q);
		return error_page(out, 400, problem);
	}
	bool citizen = devidp__kind(d) == ID_KIND_CITIZEN;
	const char *title = citizen ? "Udviklings-login for borgere (MitID-profil)"
				    : "Udviklings-login for medarbejdere (AD FS-profil)";
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);
	if (!f) {
		devidp__form_free(&q);
		return ID_ERR_NOMEM;
	}
	fprintf(f, page_head, title);
	fprintf(f, "<h1>%s</h1>\n", title);
	fprintf(f, "<p class=\"warn\">Dette er en udviklings-identitetsudbyder. Den må aldrig bruges i "
		   "drift, og personerne er opdigtede.</p>\n");
	char *action = devidp__html_escape(d->issuer);
	fprintf(f, "<form method=\"post\" action=\"%s/authorize\">\n", action ? action : "");
	free(action);
	static const char *const carried[] = { "client_id", "redirect_uri", "code_challenge",
						"nonce", "state" };
	for (size_t i = 0; i < sizeof carried / sizeof carried[0]; i++)
		hidden(f, carried[i], devidp__form_get(&q, carried[i]));
	fprintf(f, "<fieldset>\n<legend>%s</legend>\n",
		citizen ? "Vælg den borger, du vil logge ind som" : "Vælg den medarbejder, du vil logge ind som");
	size_t n;
	const devidp_user *u = devidp_demo_users(&n);
	bool first = true;
	for (size_t i = 0; i < n; i++) {
		if (u[i].kind != devidp__kind(d))
			continue;
		fprintf(f, "<label for=\"user-%s\"><input type=\"radio\" id=\"user-%s\" name=\"login\" "
			   "value=\"%s\"%s> %s",
			u[i].login, u[i].login, u[i].login, first ? " checked" : "", u[i].display_name);
		if (citizen)
			fprintf(f, " <small>(sikringsniveau %s)</small>",
				strstr(u[i].loa, "High") ? "høj" : "betydelig");
		else if (u[i].service)
			fprintf(f, " <small>(%s, tjenestekonto for journalisering)</small>", u[i].upn);
		else
			fprintf(f, " <small>(%s, Jobcenter)</small>", u[i].upn);
		fprintf(f, "</label>\n");
		first = false;
	}
	fprintf(f, "</fieldset>\n<button type=\"submit\">Log ind</button>\n</form>\n</main>\n</body>\n</html>\n");
	devidp__form_free(&q);
	if (fclose(f) != 0) {
		free(body);
		return ID_ERR_NOMEM;
	}
	return respond(out, 200, CT_HTML, body);
}

int devidp_authorize_submit(devidp *d, const char *form, size_t form_len, int64_t now,
			    devidp_response *out)
{
	devidp__form q;
	int rc = devidp__form_parse(form, form_len, &q);
	if (rc == ID_ERR_NOMEM) {
		devidp__form_free(&q);
		return rc;
	}
	const char *problem = rc != 0 ? "Formularen kunne ikke læses." : check_request(d, &q, false);
	const devidp_user *u = problem ? NULL : devidp_demo_user(devidp__form_get(&q, "login"));
	if (!problem && (!u || u->kind != devidp__kind(d)))
		problem = "Vælg en af de viste personer.";
	char code[DEVIDP_CODE_CHARS + 1];
	if (!problem) {
		devidp_auth_request req = {
			.client_id = devidp__form_get(&q, "client_id"),
			.redirect_uri = devidp__form_get(&q, "redirect_uri"),
			.code_challenge = devidp__form_get(&q, "code_challenge"),
			.nonce = devidp__form_get(&q, "nonce"),
			.login = u->login,
		};
		rc = devidp_code_issue(d, &req, now, code);
		if (rc == DEVIDP_ERR_CODE_STORE_FULL)
			problem = "For mange igangværende logins; prøv igen om et minut.";
		else if (rc != 0)
			problem = "Forespørgslen er ugyldig.";
	}
	if (problem) {
		devidp__form_free(&q);
		return error_page(out, 400, problem);
	}
	const char *redirect = devidp__form_get(&q, "redirect_uri");
	const char *state = devidp__form_get(&q, "state");
	if (state && !state[0]) /* the page carries an absent state as an empty field */
		state = NULL;
	char *st = devidp__url_encode(state ? state : "");
	char *iss = devidp__url_encode(d->issuer);
	char *loc = NULL;
	if (st && iss) {
		size_t n = strlen(redirect) + strlen(code) + strlen(st) + strlen(iss) + 32;
		loc = malloc(n);
		if (loc)
			snprintf(loc, n, "%s%ccode=%s%s%s&iss=%s", redirect, strchr(redirect, '?') ? '&' : '?',
				 code, state ? "&state=" : "", state ? st : "", iss);
	}
	free(st);
	free(iss);
	devidp__form_free(&q);
	sodium_memzero(code, sizeof code);
	if (!loc)
		return ID_ERR_NOMEM;
	rc = respond_copy(out, 302, CT_HTML, "<!DOCTYPE html><title>Videre</title><p>Videre…</p>\n");
	if (rc != 0) {
		free(loc);
		return rc;
	}
	out->location = loc;
	return 0;
}

int devidp_token(devidp *d, const char *form, size_t form_len, int64_t now, devidp_response *out)
{
	devidp__form q;
	int rc = devidp__form_parse(form, form_len, &q);
	if (rc != 0) {
		devidp__form_free(&q);
		return rc == ID_ERR_NOMEM ? rc : oauth_error(out, 400, "invalid_request", "malformed form");
	}
	const char *gt = devidp__form_get(&q, "grant_type");
	if (!gt || strcmp(gt, "authorization_code") != 0) {
		devidp__form_free(&q);
		return oauth_error(out, 400, "unsupported_grant_type", "only authorization_code");
	}
	char *id_token = NULL;
	rc = devidp_code_redeem(d, devidp__form_get(&q, "code"), devidp__form_get(&q, "client_id"),
				devidp__form_get(&q, "redirect_uri"), devidp__form_get(&q, "code_verifier"),
				now, &id_token);
	devidp__form_free(&q);
	switch (rc) {
	case 0:
		break;
	case DEVIDP_ERR_CLIENT_ID:
		return oauth_error(out, 401, "invalid_client", devidp_strerror(rc));
	case DEVIDP_ERR_CODE_UNKNOWN:
	case DEVIDP_ERR_CODE_EXPIRED:
	case DEVIDP_ERR_REDIRECT_URI:
	case DEVIDP_ERR_PKCE:
		return oauth_error(out, 400, "invalid_grant", devidp_strerror(rc));
	case ID_ERR_NOMEM:
		return rc;
	default:
		return oauth_error(out, 500, "server_error", devidp_strerror(rc));
	}
	uint8_t at_raw[32];
	char at[ID_NONCE_BUF_BYTES];
	randombytes_buf(at_raw, sizeof at_raw);
	id_b64url_encode(at_raw, sizeof at_raw, at, sizeof at);
	json_t *j = json_pack("{s:s, s:s, s:i, s:s, s:s}", "access_token", at, "token_type", "Bearer",
			      "expires_in", (int)d->token_lifetime, "id_token", id_token, "scope", "openid");
	free(id_token);
	char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return respond(out, 200, CT_JSON, body);
}

int devidp_handle(devidp *d, const char *method, const char *path, const char *query,
		  const char *body, size_t body_len, int64_t now, devidp_response *out)
{
	if (!d || !method || !path || !out)
		return ID_ERR_INVALID_ARG;
	bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
	if (strcmp(path, "/.well-known/openid-configuration") == 0 && get)
		return devidp_discovery(d, out);
	if (strcmp(path, "/jwks") == 0 && get)
		return devidp_jwks(d, out);
	if (strcmp(path, "/authorize") == 0 && get)
		return devidp_authorize_page(d, query, out);
	if (strcmp(path, "/authorize") == 0 && post)
		return devidp_authorize_submit(d, body, body_len, now, out);
	if (strcmp(path, "/token") == 0 && post)
		return devidp_token(d, body, body_len, now, out);
	if (strcmp(path, "/.well-known/openid-configuration") == 0 || strcmp(path, "/jwks") == 0 ||
	    strcmp(path, "/authorize") == 0 || strcmp(path, "/token") == 0)
		return error_page(out, 405, "Metoden er ikke tilladt her.");
	return error_page(out, 404, "Siden findes ikke.");
}
