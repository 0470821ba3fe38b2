/* SPDX-License-Identifier: MPL-2.0 */
/* One HTTP request's state on the relay's port (lws keeps it per connection) and the answer to
 * it: what the routes use to read a query and to respond, apart from the lws callback that feeds
 * the request in (http.c). */
#ifndef WAKKS_RELAY_NET_HTTP_EXCHANGE_H
#define WAKKS_RELAY_NET_HTTP_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>

#include <libwebsockets.h>

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
	/* A route answering later (after an outbound request) learns here that the connection
	 * closed first; it clears the hook when it has answered. */
	void (*on_close)(void *ctx);
	void *on_close_ctx;
};

/* The size lws allocates per HTTP connection. */
size_t relay_http_pss_size(void);

/* Queues a complete response; the body is copied. extra_headers: "name: value" lines (lower-case
 * names); the web client's Content-Security-Policy is added unless they name one. Returns 0 or -1
 * (lws must close). */
int relay_http_respond(struct lws *wsi, void *pss, unsigned status, const char *content_type,
		       const char *extra_headers, const void *body, size_t len);

/* The request's query string re-encoded as application/x-www-form-urlencoded (lws hands the
 * arguments over decoded, one by one). malloc'd; NULL when there is none. */
char *relay_http_query(struct lws *wsi);

#endif
