/* SPDX-License-Identifier: MPL-2.0 */
#ifndef WAKKS_RELAY_NET_HTTP_ROUTES_H
#define WAKKS_RELAY_NET_HTTP_ROUTES_H

#include <stddef.h>

#include <libwebsockets.h>

struct relay;

/* Answers one HTTP request on a callback mount. `body` is NULL for GET, the form body for POST.
 * Returns 0, or -1 when the connection must be closed. */
int relay_http_route(struct relay *r, struct lws *wsi, void *pss, const char *uri,
		     const char *body, size_t body_len);

#endif
