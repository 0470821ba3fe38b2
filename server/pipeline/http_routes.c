/* SPDX-License-Identifier: MPL-2.0 */
#include "pipeline/http_routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/clock.h"
#include "net/http_exchange.h"
#include "relay_state.h"
#include "services/consent_gate.h"
#include "services/identity_binding.h"
#include "services/metrics.h"
#include "services/tenant_info.h"
#include "wakks_devidp.h"
#include "wakks_protocol.h"

/* Shown at / until a web client directory is configured (web_root). */
static const char placeholder_page[] =
	"<!doctype html>\n<html lang=\"da\"><head><meta charset=\"utf-8\">"
	"<title>OS2wakks</title></head><body><main><h1>OS2wakks</h1>"
	"<p>Relayet k&oslash;rer. Webklienten er ikke installeret i denne opstilling.</p>"
	"<p><a href=\"/healthz\">Status</a></p></main></body></html>\n";

static int healthz(struct relay *r, struct lws *wsi, void *pss)
{
	char body[256];
	uint64_t uptime = (relay_monotonic_ms() - r->started_ms) / 1000;
	int n = snprintf(body, sizeof body,
			 "{\"status\":\"%s\",\"version\":\"%s\",\"uptime_seconds\":%llu,"
			 "\"connections\":%llu}\n",
			 r->stopping ? "stopping" : "ok", WAKKS_VERSION,
			 (unsigned long long)uptime, (unsigned long long)r->conn_count);
	return relay_http_respond(wsi, pss, r->stopping ? 503 : 200, "application/json", NULL,
				  body, (size_t)n);
}

static int metrics(struct relay *r, struct lws *wsi, void *pss)
{
	size_t cap = 16384;
	char *buf = malloc(cap);
	if (!buf)
		return -1;
	int n = relay_metrics_render(r, buf, cap);
	int rc = n < 0 ? relay_http_respond(wsi, pss, 500, "text/plain", NULL, "metrics too large\n", 18)
		       : relay_http_respond(wsi, pss, 200, "text/plain; version=0.0.4", NULL, buf,
					    (size_t)n);
	free(buf);
	return rc;
}

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
	if (strcmp(uri, "/healthz") == 0 && !body)
		return healthz(r, wsi, pss);
	if (strcmp(uri, "/metrics") == 0 && !body)
		return metrics(r, wsi, pss);
	if (strcmp(uri, "/") == 0 && !body && !r->cfg.web_root[0])
		return relay_http_respond(wsi, pss, 200, "text/html; charset=utf-8", NULL,
					  placeholder_page, sizeof placeholder_page - 1);
	static const char nf[] = "{\"error\":\"not_found\"}\n";
	return relay_http_respond(wsi, pss, 404, "application/json", NULL, nf, sizeof nf - 1);
}
