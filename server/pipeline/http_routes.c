/* SPDX-License-Identifier: MPL-2.0 */
#include "pipeline/http_routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/clock.h"
#include "core/log.h"
#include "net/http_exchange.h"
#include "relay_state.h"
#include "services/code_exchange.h"
#include "services/consent_gate.h"
#include "services/identity_binding.h"
#include "services/login_challenge.h"
#include "services/provider_keys.h"
#include "services/tenant_info.h"
#include "wakks_devidp.h"
#include "wakks_protocol.h"

/* Shown at / until a web client directory is configured (web_root). */
static const char placeholder_page[] =
	"<!doctype html>\n<html lang=\"da\"><head><meta charset=\"utf-8\">"
	"<title>OS2wakks</title></head><body><main><h1>OS2wakks</h1>"
	"<p>Relayet k&oslash;rer. Webklienten er ikke installeret i denne opstilling.</p>"
	"</main></body></html>\n";

/* The first `needle` in the n bytes at `hay`, or NULL. */
static const char *find(const char *hay, size_t n, const char *needle)
{
	size_t nl = strlen(needle);
	for (size_t i = 0; hay && i + nl <= n; i++)
		if (memcmp(hay + i, needle, nl) == 0)
			return hay + i;
	return NULL;
}

/* The development provider's login page has no script and one inline stylesheet: its policy
 * allows exactly that stylesheet (by its SHA-256) and form posts to the provider, which then
 * redirects to the web client's callback. Writes the header line; returns its length. */
static int dev_idp_policy(char *out, size_t cap, const devidp_response *resp)
{
	char style_src[32 + sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES,
						      sodium_base64_VARIANT_ORIGINAL)] = "";
	const char *open = find(resp->body, resp->body_len, "<style>");
	const char *close = open ? find(open, resp->body_len - (size_t)(open - resp->body),
					"</style>") : NULL;
	if (close) {
		unsigned char h[crypto_hash_sha256_BYTES];
		open += strlen("<style>");
		crypto_hash_sha256(h, (const unsigned char *)open, (unsigned long long)(close - open));
		char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES,
						   sodium_base64_VARIANT_ORIGINAL)];
		sodium_bin2base64(b64, sizeof b64, h, sizeof h, sodium_base64_VARIANT_ORIGINAL);
		snprintf(style_src, sizeof style_src, "; style-src 'sha256-%s'", b64);
	}
	return snprintf(out, cap,
			"content-security-policy: default-src 'none'%s; form-action 'self'; "
			"frame-ancestors 'none'; base-uri 'none'\n",
			style_src);
}

/* /dev-idp/<provider id>/<endpoint>: the development identity provider (only with --dev).
 * Returns 1 when no such provider exists (the caller answers 404). */
static int dev_idp(struct relay *r, struct lws *wsi, void *pss, const char *uri, const char *body,
		   size_t body_len)
{
	const char *rest = uri + strlen("/dev-idp/");
	const char *slash = strchr(rest, '/');
	char id[64];
	if (!slash || (size_t)(slash - rest) >= sizeof id)
		return 1;
	memcpy(id, rest, (size_t)(slash - rest));
	id[slash - rest] = '\0';
	struct relay_idp *p = relay_identity_idp_by_id(r, id);
	if (!p || !p->dev)
		return 1;
	char *query = relay_http_query(wsi);
	devidp_response resp;
	int rc = devidp_handle(p->dev, body ? "POST" : "GET", slash, query, body, body_len,
			       (int64_t)(relay_now_ms() / 1000), &resp);
	free(query);
	if (rc != 0)
		return relay_http_respond(wsi, pss, 500, "text/plain", NULL, "error\n", 6);
	char headers[2048 + 256];
	int n = dev_idp_policy(headers, sizeof headers, &resp);
	if (resp.location && n >= 0 && (size_t)n < sizeof headers)
		snprintf(headers + n, sizeof headers - (size_t)n, "location: %s\n", resp.location);
	rc = relay_http_respond(wsi, pss, (unsigned)resp.status, resp.content_type, headers,
				resp.body ? resp.body : "", resp.body ? resp.body_len : 0);
	devidp_response_free(&resp);
	return rc;
}

/* GET /consent/TENANT[/UNIT]: the text a citizen is shown before granting (spec/consent.md §1). */
static int consent_text(struct relay *r, struct lws *wsi, void *pss, const char *uri)
{
	char tenant[PROTO_MAX_SLUG_BYTES + 1] = "", unit[PROTO_MAX_SLUG_BYTES + 1] = "";
	const char *rest = uri + strlen("/consent/");
	const char *slash = strchr(rest, '/');
	size_t tl = slash ? (size_t)(slash - rest) : strlen(rest);
	if (!proto_slug_valid(rest, tl) ||
	    (slash && slash[1] && !proto_slug_valid(slash + 1, strlen(slash + 1))))
		return 1;
	memcpy(tenant, rest, tl);
	if (slash)
		snprintf(unit, sizeof unit, "%s", slash + 1);
	const struct relay_consent_text *t = relay_consent_text(r, tenant, unit);
	if (!t)
		return 1;
	char hex[65];
	sodium_bin2hex(hex, sizeof hex, t->sha256, sizeof t->sha256);
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s%}", "tenant", t->tenant, "unit", t->unit,
			      "version", t->version, "language", t->language, "sha256", hex, "text",
			      t->text, t->len);
	char *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!out)
		return -1;
	int rc = relay_http_respond(wsi, pss, 200, "application/json; charset=utf-8", NULL, out,
				    strlen(out));
	free(out);
	return rc;
}

/* GET /branding: each tenant's name, colour and logo for the web client (docs/configuration.md).
 * Public like the consent texts: it is what the municipality shows everyone. */
static int branding_list(struct relay *r, struct lws *wsi, void *pss)
{
	json_t *list = json_array();
	for (int i = 0; list && i < r->cfg.tenant_count; i++) {
		const struct relay_tenant_config *t = &r->cfg.tenants[i];
		char logo[32 + sizeof t->id];
		snprintf(logo, sizeof logo, "/branding/%s/logo", t->id);
		json_t *o = json_pack("{s:s, s:s, s:s}", "id", t->id, "name", t->name, "display_name",
				      t->display_name[0] ? t->display_name : t->name);
		if (o && t->colour[0])
			json_object_set_new(o, "colour", json_string(t->colour));
		if (o && t->logo[0])
			json_object_set_new(o, "logo", json_string(logo));
		if (!o || json_array_append_new(list, o) != 0) {
			json_decref(list);
			list = NULL;
		}
	}
	json_t *j = list ? json_pack("{s:o}", "tenants", list) : NULL;
	char *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!out)
		return -1;
	int rc = relay_http_respond(wsi, pss, 200, "application/json; charset=utf-8", NULL, out,
				    strlen(out));
	free(out);
	return rc;
}

/* GET /tenant/TENANT: the tenant's public settings and citizen providers' keys. */
static int tenant_info(struct relay *r, struct lws *wsi, void *pss, const char *uri)
{
	const char *id = uri + strlen("/tenant/");
	if (!proto_slug_valid(id, strlen(id)))
		return 1;
	char *out = relay_tenant_info_json(r, id);
	if (!out)
		return relay_config_tenant(&r->cfg, id) ? -1 : 1;
	int rc = relay_http_respond(wsi, pss, 200, "application/json; charset=utf-8",
				    "cache-control: max-age=300\n", out, strlen(out));
	free(out);
	return rc;
}

/* GET /branding/TENANT/logo: the configured file, read now (an operator may replace it without a
 * restart). An SVG is served under a policy of its own: no script runs even when it is opened as a
 * page. Returns 1 when the tenant has no logo (the caller answers 404). */
static int branding_logo(struct relay *r, struct lws *wsi, void *pss, const char *uri)
{
	const char *rest = uri + strlen("/branding/");
	const char *slash = strchr(rest, '/');
	if (!slash || strcmp(slash, "/logo") != 0 || !proto_slug_valid(rest, (size_t)(slash - rest)))
		return 1;
	char id[PROTO_MAX_SLUG_BYTES + 1];
	snprintf(id, sizeof id, "%.*s", (int)(slash - rest), rest);
	const struct relay_tenant_config *t = relay_config_tenant(&r->cfg, id);
	if (!t || !t->logo[0])
		return 1;
	FILE *f = fopen(t->logo, "rb");
	char *buf = malloc(RELAY_LOGO_MAX_BYTES + 1);
	size_t n = f && buf ? fread(buf, 1, RELAY_LOGO_MAX_BYTES + 1, f) : 0;
	bool bad = !f || !buf || ferror(f) || n == 0 || n > RELAY_LOGO_MAX_BYTES;
	if (f)
		fclose(f);
	int rc;
	if (bad) {
		RLOG_WARN("http", "logo_unreadable", "tenant=%s", t->id);
		static const char e[] = "{\"error\":\"logo_unreadable\"}\n";
		rc = relay_http_respond(wsi, pss, 500, "application/json", NULL, e, sizeof e - 1);
	} else {
		rc = relay_http_respond(wsi, pss, 200, relay_logo_media_type(t->logo),
					"content-security-policy: default-src 'none'; "
					"style-src 'unsafe-inline'; sandbox\n",
					buf, n);
	}
	free(buf);
	return rc;
}

/* One provider as clients see it (spec/identity.md §2.3), or NULL when clients cannot log in
 * through it (no authorization endpoint known: no discovery, or not fetched yet). */
static json_t *provider_entry(const struct relay_idp *p)
{
	const struct relay_idp_config *c = p->cfg;
	char auth[ID_URL_MAX_BYTES + 1], token[ID_URL_MAX_BYTES + 1] = "", end[ID_URL_MAX_BYTES + 1] = "";
	const id_discovery *meta = relay_provider_metadata(p);
	bool relay_exchange = c->client_auth != RELAY_IDP_AUTH_NONE;
	if (p->dev) {
		snprintf(auth, sizeof auth, "%s/authorize", p->issuer);
		snprintf(token, sizeof token, "%s/token", p->issuer);
	} else if (meta) {
		snprintf(auth, sizeof auth, "%s", meta->authorization_endpoint);
		snprintf(token, sizeof token, "%s", meta->token_endpoint);
		snprintf(end, sizeof end, "%s", meta->end_session_endpoint);
	} else {
		return NULL;
	}
	if (relay_exchange && (!meta || !meta->token_endpoint[0]))
		return NULL;
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", c->id, "kind",
			      c->kind == RELAY_IDP_CITIZEN ? "citizen" : "caseworker", "display_name",
			      c->display_name[0] ? c->display_name : c->id, "issuer", p->issuer,
			      "authorization_endpoint", auth, "client_id", c->audience, "scope",
			      c->scopes[0] ? c->scopes : "openid", "code_exchange",
			      relay_exchange ? "relay" : "client");
	if (!j)
		return NULL;
	if (c->acr_values[0])
		json_object_set_new(j, "acr_values", json_string(c->acr_values));
	/* A public client exchanges the code itself; a confidential one's endpoint is the relay's. */
	if (!relay_exchange && token[0])
		json_object_set_new(j, "token_endpoint", json_string(token));
	if (end[0])
		json_object_set_new(j, "end_session_endpoint", json_string(end));
	return j;
}

static bool tenant_lists(const struct relay_tenant_config *t, const char *idp)
{
	for (int i = 0; i < t->idp_count; i++)
		if (strcmp(t->idps[i], idp) == 0)
			return true;
	return false;
}

/* GET /idp/providers[/TENANT]: the providers a client may log in through (all of them, or those
 * the tenant trusts). Returns 1 for an unknown tenant (404). */
static int providers(struct relay *r, struct lws *wsi, void *pss, const char *uri)
{
	const char *rest = uri + strlen("/idp/providers");
	const struct relay_tenant_config *t = NULL;
	if (rest[0] == '/' && rest[1]) {
		if (!proto_slug_valid(rest + 1, strlen(rest + 1)) ||
		    !(t = relay_config_tenant(&r->cfg, rest + 1)))
			return 1;
	} else if (rest[0] && strcmp(rest, "/") != 0) {
		return 1;
	}
	json_t *list = json_array();
	for (int i = 0; list && i < r->identity.idp_count; i++) {
		const struct relay_idp *p = &r->identity.idps[i];
		if (t && !tenant_lists(t, p->cfg->id))
			continue;
		json_t *e = provider_entry(p);
		if (e)
			json_array_append_new(list, e);
	}
	/* How long a caseworker's attestation lasts: clients re-attest before (spec/identity.md §9). */
	json_t *j = list ? json_pack("{s:s*, s:o, s:I}", "tenant", t ? t->id : NULL, "providers", list,
				     "caseworker_attestation_seconds",
				     (json_int_t)r->cfg.caseworker_attestation_seconds) : NULL;
	char *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!out)
		return -1;
	int rc = relay_http_respond(wsi, pss, 200, "application/json", NULL, out, strlen(out));
	free(out);
	return rc;
}

/* An exchange answered when the provider has: the HTTP connection may close first. */
struct pending_exchange {
	struct lws *wsi;
	void *pss;
};

static void exchange_conn_closed(void *ctx)
{
	struct pending_exchange *pe = ctx;
	pe->wsi = NULL;
}

static void exchange_done(void *ctx, unsigned status, const char *json, size_t len)
{
	struct pending_exchange *pe = ctx;
	if (pe->wsi && status) {
		struct http_pss *hp = pe->pss;
		hp->on_close = NULL;
		if (relay_http_respond(pe->wsi, pe->pss, status, "application/json", NULL, json, len) != 0)
			lws_set_timeout(pe->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
	} else if (pe->wsi) {
		((struct http_pss *)pe->pss)->on_close = NULL;
	}
	free(pe);
}

static int json_error(struct lws *wsi, void *pss, unsigned status, const char *error, const char *msg)
{
	char body[512];
	int n = snprintf(body, sizeof body, "{\"error\":\"%s\",\"message\":\"%s\"}\n", error, msg);
	return relay_http_respond(wsi, pss, status, "application/json", NULL, body, (size_t)n);
}

/* POST /idp/login-challenge {"ik": base64url(identity key)}: a challenge for a log-in that
 * outlives the connection (spec/identity.md §2.2), answered {"challenge", "expires_in"}. */
static int login_challenge(struct relay *r, struct lws *wsi, void *pss, const char *body,
			   size_t body_len)
{
	json_error_t jerr;
	json_t *j = json_loadb(body, body_len, JSON_REJECT_DUPLICATES, &jerr);
	const char *ik64 = json_string_value(json_object_get(j, "ik"));
	uint8_t *ik = NULL;
	size_t ik_len = 0;
	int rc;
	if (!ik64 || id_b64url_decode(ik64, strlen(ik64), &ik, &ik_len) != 0 || ik_len != 32) {
		rc = json_error(wsi, pss, 400, "bad_request",
				"a JSON object whose ik is the base64url of a 32-byte identity key");
	} else {
		uint8_t ch[32];
		char ch64[64], out[160];
		if (relay_login_challenge_issue(r, ik, ch) != 0) {
			rc = -1;
		} else {
			id_b64url_encode(ch, sizeof ch, ch64, sizeof ch64);
			int n = snprintf(out, sizeof out, "{\"challenge\":\"%s\",\"expires_in\":%d}",
					 ch64, LOGIN_CHALLENGE_TTL_MS / 1000);
			rc = relay_http_respond(wsi, pss, 200, "application/json", NULL, out, (size_t)n);
		}
	}
	free(ik);
	json_decref(j);
	return rc;
}

/* POST /idp/token {"idp", "code", "redirect_uri", "code_verifier"}: the relay completes a
 * confidential client's code exchange and answers {"id_token"} (spec/identity.md §2.3). */
static int token_exchange(struct relay *r, struct lws *wsi, void *pss, const char *body,
			  size_t body_len)
{
	json_error_t jerr;
	json_t *j = json_loadb(body, body_len, JSON_REJECT_DUPLICATES, &jerr);
	const char *idp = json_string_value(json_object_get(j, "idp"));
	const char *code = json_string_value(json_object_get(j, "code"));
	const char *redirect = json_string_value(json_object_get(j, "redirect_uri"));
	const char *verifier = json_string_value(json_object_get(j, "code_verifier"));
	int rc;
	struct relay_idp *p = idp ? relay_identity_idp_by_id(r, idp) : NULL;
	if (!code || !code[0] || !redirect || !redirect[0] || strlen(code) > 2048 ||
	    strlen(redirect) > ID_URL_MAX_BYTES || (verifier && strlen(verifier) > 128) ||
	    (json_object_get(j, "code_verifier") && !verifier)) {
		rc = json_error(wsi, pss, 400, "bad_request",
				"a JSON object with idp, code, redirect_uri and code_verifier strings");
	} else if (!p || p->cfg->client_auth == RELAY_IDP_AUTH_NONE) {
		rc = json_error(wsi, pss, 404, "not_confidential",
				"no provider of this id has the relay complete the code exchange");
	} else {
		struct pending_exchange *pe = calloc(1, sizeof *pe);
		if (!pe) {
			json_decref(j);
			return -1;
		}
		pe->wsi = wsi;
		pe->pss = pss;
		struct http_pss *hp = pss;
		hp->on_close = exchange_conn_closed;
		hp->on_close_ctx = pe;
		if (relay_code_exchange(r, p, code, redirect, verifier, exchange_done, pe) == 0) {
			rc = 0;
		} else {
			hp->on_close = NULL;
			free(pe);
			rc = json_error(wsi, pss, 503, "provider_unavailable",
					"the provider's token endpoint is not known yet; retry");
		}
	}
	json_decref(j);
	return rc;
}

int relay_http_route(struct relay *r, struct lws *wsi, void *pss, const char *uri,
		     const char *body, size_t body_len)
{
	if (strncmp(uri, "/tenant/", 8) == 0 && !body) {
		int rc = tenant_info(r, wsi, pss, uri);
		if (rc != 1)
			return rc;
	}
	if (strncmp(uri, "/consent/", 9) == 0 && !body) {
		int rc = consent_text(r, wsi, pss, uri);
		if (rc != 1)
			return rc;
	}
	if (strncmp(uri, "/dev-idp/", 9) == 0 && r->cfg.dev_mode) {
		int rc = dev_idp(r, wsi, pss, uri, body, body_len);
		if (rc != 1)
			return rc;
	}
	if (strncmp(uri, "/idp/providers", 14) == 0 && !body) {
		int rc = providers(r, wsi, pss, uri);
		if (rc != 1)
			return rc;
	}
	if (strcmp(uri, "/idp/login-challenge") == 0 && body)
		return login_challenge(r, wsi, pss, body, body_len);
	if (strcmp(uri, "/idp/token") == 0 && body)
		return token_exchange(r, wsi, pss, body, body_len);
	if (strcmp(uri, "/branding") == 0 && !body)
		return branding_list(r, wsi, pss);
	if (strncmp(uri, "/branding/", 10) == 0 && !body) {
		int rc = branding_logo(r, wsi, pss, uri);
		if (rc != 1)
			return rc;
	}
	if (strcmp(uri, "/") == 0 && !body && !r->cfg.web_root[0])
		return relay_http_respond(wsi, pss, 200, "text/html; charset=utf-8", NULL,
					  placeholder_page, sizeof placeholder_page - 1);
	static const char nf[] = "{\"error\":\"not_found\"}\n";
	return relay_http_respond(wsi, pss, 404, "application/json", NULL, nf, sizeof nf - 1);
}
