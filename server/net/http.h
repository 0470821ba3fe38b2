/* SPDX-License-Identifier: MPL-2.0 */
/* Plain HTTP on the relay's port: /healthz, /metrics, the development identity provider and the
 * WebSocket upgrade check. Static files of the web client are served by an lws file mount. */
#ifndef WAKKS_RELAY_NET_HTTP_H
#define WAKKS_RELAY_NET_HTTP_H

#include <libwebsockets.h>

int relay_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			size_t len);

#endif
