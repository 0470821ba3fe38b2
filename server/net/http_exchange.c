/* SPDX-License-Identifier: MPL-2.0 */
#include "net/http_exchange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay_state.h"

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
	/* The web client's policy, unless the route brings its own (a page with other needs). */
	struct relay *r = lws_context_user(lws_get_context(wsi));
	if (r->http_csp && !(extra_headers && strstr(extra_headers, "content-security-policy:")) &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"content-security-policy:",
					(const unsigned char *)r->http_csp, (int)strlen(r->http_csp),
					&p, end))
		return -1;
	if (extra_headers) {
		/* "name: value\n" pairs: Location on redirects, a route's own policy. */
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
