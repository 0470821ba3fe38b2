/* SPDX-License-Identifier: MPL-2.0 */
#include "net/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "net/http_routes.h"
#include "net/ws.h"
#include "relay.h"

/* Request bodies (form posts to the development identity provider) are small; anything larger
 * is refused rather than buffered. */
#define HTTP_BODY_MAX 8192
#define HTTP_URI_MAX 2048

struct http_pss {
	char *body;
	size_t body_len;
	char uri[HTTP_URI_MAX];
	char *post;
	size_t post_len;
	bool post_too_large;
	bool is_post;
};

size_t relay_http_pss_size(void)
{
	return sizeof(struct http_pss);
}

int relay_http_respond(struct lws *wsi, void *user, unsigned status, const char *content_type,
		       const char *extra_headers, const void *body, size_t len)
{
	struct http_pss *pss = user;
	unsigned char hdr[LWS_PRE + 2048];
	unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;

	free(pss->body);
	pss->body = malloc(LWS_PRE + len + 1);
	if (!pss->body)
		return -1;
	memcpy(pss->body + LWS_PRE, body, len);
	pss->body_len = len;

	if (lws_add_http_common_headers(wsi, status, content_type, len, &p, end))
		return -1;
	if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
					(const unsigned char *)"no-store", 8, &p, end))
		return -1;
	if (extra_headers) {
		/* "name: value\n" pairs; used for Location on redirects. */
		char buf[1024];
		snprintf(buf, sizeof buf, "%s", extra_headers);
		char *save = NULL;
		for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *colon = strchr(line, ':');
			if (!colon)
				continue;
			char name[128];
			size_t nl = (size_t)(colon - line) + 1;
			if (nl >= sizeof name)
				continue;
			memcpy(name, line, nl);
			name[nl] = '\0';
			for (char *q = name; *q; q++)
				if (*q >= 'A' && *q <= 'Z')
					*q = (char)(*q - 'A' + 'a');
			const char *value = colon + 1;
			while (*value == ' ')
				value++;
			if (lws_add_http_header_by_name(wsi, (const unsigned char *)name,
							(const unsigned char *)value,
							(int)strlen(value), &p, end))
				return -1;
		}
	}
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static size_t form_encode(char *out, const char *in, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			out[n++] = (char)ch;
		} else {
			out[n++] = '%';
			out[n++] = hex[ch >> 4];
			out[n++] = hex[ch & 15];
		}
	}
	return n;
}

char *relay_http_query(struct lws *wsi)
{
	int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
	if (total <= 0)
		return NULL;
	size_t cap = (size_t)total * 3 + 64;
	char *out = malloc(cap);
	char frag[HTTP_URI_MAX];
	if (!out)
		return NULL;
	size_t used = 0;
	for (int i = 0;; i++) {
		int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n <= 0)
			break;
		const char *eq = memchr(frag, '=', (size_t)n);
		size_t klen = eq ? (size_t)(eq - frag) : (size_t)n;
		if (used + (size_t)n * 3 + 2 > cap)
			break;
		if (used)
			out[used++] = '&';
		used += form_encode(out + used, frag, klen);
		if (eq) {
			out[used++] = '=';
			used += form_encode(out + used, eq + 1, (size_t)n - klen - 1);
		}
	}
	out[used] = '\0';
	return out;
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
