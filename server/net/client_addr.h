/* SPDX-License-Identifier: MPL-2.0 */
/* The address a connection is counted and logged under: the TCP peer, or behind a trusted reverse
 * proxy ([relay] trusted_proxies) the client the proxy's header names (core/proxy_addr.h). */
#ifndef WAKKS_RELAY_NET_CLIENT_ADDR_H
#define WAKKS_RELAY_NET_CLIENT_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include <libwebsockets.h>

#include "core/config.h"

/* Writes the client's address to out (cap >= 64). Must be called while the request's headers are
 * still held (at the WebSocket upgrade, LWS_CALLBACK_ESTABLISHED). Returns true when the address
 * came from a trusted proxy's header. */
bool relay_client_address(const struct relay_config *cfg, struct lws *wsi, char *out, size_t cap);

#endif
