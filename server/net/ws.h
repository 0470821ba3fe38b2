/* SPDX-License-Identifier: MPL-2.0 */
#ifndef WAKKS_RELAY_NET_WS_H
#define WAKKS_RELAY_NET_WS_H

#include <libwebsockets.h>

#define RELAY_SUBPROTOCOL "wakks.v1"
#define RELAY_WS_PATH "/v1"

int relay_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len);
size_t relay_ws_pss_size(void);

#endif
