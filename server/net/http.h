/* SPDX-License-Identifier: MPL-2.0 */
/* Plain HTTP on the relay's port: /healthz, /metrics, the development identity provider and the
 * WebSocket upgrade check. Static files of the web client are served by an lws file mount. */
#ifndef WAKKS_RELAY_NET_HTTP_H
#define WAKKS_RELAY_NET_HTTP_H

#include <libwebsockets.h>

struct relay_config;

int relay_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			size_t len);

/* The headers lws adds to every HTTP answer on the relay's port (the vhost's canned headers):
 * Strict-Transport-Security, X-Content-Type-Options, Referrer-Policy, X-Frame-Options. */
const struct lws_protocol_vhost_options *relay_http_canned_headers(void);

/* Builds the Content-Security-Policy of the web client from the configuration (the identity
 * providers' origins it may fetch tokens from). malloc'd; NULL when out of memory. */
char *relay_http_csp_build(const struct relay_config *cfg);

#endif
