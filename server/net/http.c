/* SPDX-License-Identifier: MPL-2.0 */
#include "net/http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "net/http_exchange.h"
#include "net/ws.h"
#include "pipeline/http_routes.h"
#include "relay_state.h"

/* Every answer on the relay's port carries these; lws adds a vhost's canned headers to each
 * response, the web client's files, our routes and its own errors alike. The browser must reach
 * the relay over TLS only for a year (the relay serves the code that holds the keys, so a
 * downgraded first visit could serve other code), must not guess content types, sends no
 * referrer (the login flow's URLs carry codes), and shows the client in no frame. */
static const struct lws_protocol_vhost_options hdr_frame = {
	NULL, NULL, "x-frame-options:", "DENY"
};
static const struct lws_protocol_vhost_options hdr_referrer = {
	&hdr_frame, NULL, "referrer-policy:", "no-referrer"
};
static const struct lws_protocol_vhost_options hdr_nosniff = {
	&hdr_referrer, NULL, "x-content-type-options:", "nosniff"
};
static const struct lws_protocol_vhost_options hdr_hsts = {
	&hdr_nosniff, NULL, "strict-transport-security:", "max-age=31536000"
};

const struct lws_protocol_vhost_options *relay_http_canned_headers(void)
{
	return &hdr_hsts;
}

/* The web client's policy (spec/relay.md §7a): its scripts and styles only from the relay's own
 * files, no inline script and no eval (WebAssembly compilation only, for libsodium), images also
 * from the blob: URLs of decrypted attachments, connections to the relay, the identity providers
 * and those blob: URLs (which only the page's own origin can read), the web app manifest and the
 * service worker from the relay's files, and no framing, plugins or base URL. */
#define CSP_HEAD "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; " \
		 "img-src 'self' blob: data:; manifest-src 'self'; worker-src 'self'; " \
		 "connect-src 'self' blob:"
#define CSP_TAIL "; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

/* Appends the origin (https://host[:port]) of an issuer URL to the policy, unless it is there
 * already or is not a plain https origin (nothing else may reach the header). */
static void csp_add_origin(char *csp, size_t cap, const char *issuer)
{
	static const char scheme[] = "https://";
	if (strncmp(issuer, scheme, sizeof scheme - 1) != 0)
		return;
	size_t n = sizeof scheme - 1 + strcspn(issuer + sizeof scheme - 1, "/?#");
	char origin[RELAY_CONFIG_STR_MAX];
	if (n == sizeof scheme - 1 || n >= sizeof origin)
		return;
	memcpy(origin, issuer, n);
	origin[n] = '\0';
	for (const char *q = origin + sizeof scheme - 1; *q; q++)
		if (!isalnum((unsigned char)*q) && !strchr(".-:[]", *q))
			return;
	char word[RELAY_CONFIG_STR_MAX + 2];
	snprintf(word, sizeof word, " %s", origin);
	size_t wl = strlen(word);
	for (const char *at = strstr(csp, word); at; at = strstr(at + 1, word))
		if (at[wl] == ' ' || at[wl] == '\0')
			return;
	if (strlen(csp) + wl < cap)
		strcat(csp, word);
}

char *relay_http_csp_build(const struct relay_config *cfg)
{
	size_t cap = sizeof CSP_HEAD + sizeof CSP_TAIL +
		     (size_t)cfg->idp_count * (RELAY_CONFIG_STR_MAX + 1);
	char *csp = malloc(cap);
	if (!csp)
		return NULL;
	snprintf(csp, cap, "%s", CSP_HEAD);
	/* The development providers live on the relay's own origin ('self'). */
	for (int i = 0; i < cfg->idp_count; i++)
		if (!cfg->idps[i].development)
			csp_add_origin(csp, cap - sizeof CSP_TAIL, cfg->idps[i].issuer);
	strcat(csp, CSP_TAIL);
	return csp;
}

static bool offers_subprotocol(struct lws *wsi)
{
	char list[256];
	int n = lws_hdr_copy(wsi, list, sizeof list, WSI_TOKEN_PROTOCOL);
	if (n <= 0)
		return false;
	char *save = NULL;
	for (char *tok = strtok_r(list, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
		if (strcmp(tok, RELAY_SUBPROTOCOL) == 0)
			return true;
	return false;
}

/* Answers a refused WebSocket upgrade at once: there is no per-session data at this point, and
 * the response is small enough to write with the headers. Returns 1 (lws: response sent). */
static int refuse_upgrade(struct lws *wsi, struct relay *r, const char *why)
{
	r->metrics.connections_refused++;
	RLOG_INFO("http", "upgrade_refused", "reason=\"%s\"", why);
	unsigned char buf[LWS_PRE + 1024];
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
	char body[256];
	int n = snprintf(body, sizeof body, "{\"error\":\"upgrade_refused\",\"message\":\"%s\"}\n", why);
	if (lws_add_http_common_headers(wsi, 400, "application/json", (lws_filepos_t)n, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	unsigned char out[LWS_PRE + 256];
	memcpy(out + LWS_PRE, body, (size_t)n);
	if (lws_write(wsi, out + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_FINAL) != n)
		return -1;
	return 1;
}

int relay_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			size_t len)
{
	struct http_pss *pss = user;
	struct relay *r = lws_context_user(lws_get_context(wsi));

	switch (reason) {
	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
		/* The public listener's server context: a reload loads a new certificate into it
		 * (net/tls_swap.h). */
		if (r)
			r->tls_ctx = user;
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: {
		char uri[256];
		if (strcmp((const char *)in, "websocket") != 0)
			return refuse_upgrade(wsi, r, "only WebSocket upgrades are accepted");
		if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 ||
		    strcmp(uri, RELAY_WS_PATH) != 0)
			return refuse_upgrade(wsi, r, "the WebSocket endpoint is /v1");
		if (!offers_subprotocol(wsi))
			return refuse_upgrade(wsi, r,
					      "the WebSocket subprotocol wakks.v1 is required");
		if (r->stopping)
			return refuse_upgrade(wsi, r, "the relay is shutting down");
		return 0;
	}
	case LWS_CALLBACK_HTTP: {
		pss->is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
		int n = lws_hdr_copy(wsi, pss->uri, sizeof pss->uri,
				     pss->is_post ? WSI_TOKEN_POST_URI : WSI_TOKEN_GET_URI);
		if (n < 0)
			return relay_http_respond(wsi, user, 414, "text/plain", NULL, "URI too long\n", 13)
				       ? -1 : 0;
		if (pss->is_post)
			return 0; /* answered once the body has arrived */
		return relay_http_route(r, wsi, user, pss->uri, NULL, 0) ? -1 : 0;
	}
	case LWS_CALLBACK_ADD_HEADERS: {
		/* A file of the web client (the root mount names this protocol so that lws asks). */
		struct lws_process_html_args *args = in;
		if (!r->http_csp)
			return 0;
		return lws_add_http_header_by_name(wsi, (const unsigned char *)"content-security-policy:",
						   (const unsigned char *)r->http_csp,
						   (int)strlen(r->http_csp), (unsigned char **)&args->p,
						   (unsigned char *)args->p + args->max_len) ? 1 : 0;
	}
	case LWS_CALLBACK_HTTP_BODY:
		if (pss->post_too_large || pss->post_len + len > HTTP_BODY_MAX) {
			pss->post_too_large = true;
			return 0;
		}
		{
			char *n = realloc(pss->post, pss->post_len + len + 1);
			if (!n)
				return -1;
			pss->post = n;
			memcpy(pss->post + pss->post_len, in, len);
			pss->post_len += len;
			pss->post[pss->post_len] = '\0';
		}
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (pss->post_too_large)
			return relay_http_respond(wsi, user, 413, "text/plain", NULL,
						  "request body too large\n", 23) ? -1 : 0;
		return relay_http_route(r, wsi, user, pss->uri, pss->post ? pss->post : "",
					pss->post_len) ? -1 : 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (!pss || !pss->body)
			return 0;
		if (lws_write(wsi, (unsigned char *)pss->body + LWS_PRE, pss->body_len,
			      LWS_WRITE_HTTP_FINAL) != (int)pss->body_len)
			return -1;
		free(pss->body);
		pss->body = NULL;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (pss && pss->on_close) {
			void (*fn)(void *) = pss->on_close;
			pss->on_close = NULL;
			fn(pss->on_close_ctx);
		}
		if (pss) {
			free(pss->body);
			pss->body = NULL;
			free(pss->post);
			pss->post = NULL;
			pss->post_len = 0;
			pss->post_too_large = false;
		}
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}
