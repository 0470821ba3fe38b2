/* SPDX-License-Identifier: MPL-2.0 */
/* Plain HTTP on the relay's port: /healthz, /metrics, the development identity provider and the
 * WebSocket upgrade check. Static files of the web client are served by an lws file mount. */
#ifndef WAKKS_RELAY_NET_HTTP_H
#define WAKKS_RELAY_NET_HTTP_H

#include <libwebsockets.h>

int relay_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			size_t len);
size_t relay_http_pss_size(void);

/* Queues a complete response; the body is copied. Returns 0 or -1 (lws must close). */
int relay_http_respond(struct lws *wsi, void *pss, unsigned status, const char *content_type,
		       const char *extra_headers, const void *body, size_t len);

/* The request's query string re-encoded as application/x-www-form-urlencoded (lws hands the
 * arguments over decoded, one by one). malloc'd; NULL when there is none. */
char *relay_http_query(struct lws *wsi);

#endif
