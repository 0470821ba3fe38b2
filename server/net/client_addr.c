/* SPDX-License-Identifier: MPL-2.0 */
#include "net/client_addr.h"

#include <stdio.h>
#include <stdlib.h>

/* Longest forwarding header read; a longer one (a chain no real deployment has) is not
 * believed, and the proxy's own address is used. */
#define FORWARD_HEADER_MAX 1024

/* The header's value, all its occurrences joined by ',' as lws keeps them. NULL when absent or
 * too long. */
static const char *header(struct lws *wsi, int kind, char *buf, int cap)
{
	if (kind == RELAY_PROXY_HEADER_XFF) {
		int n = lws_hdr_total_length(wsi, WSI_TOKEN_X_FORWARDED_FOR);
		if (n <= 0 || n >= cap)
			return NULL;
		return lws_hdr_copy(wsi, buf, cap, WSI_TOKEN_X_FORWARDED_FOR) > 0 ? buf : NULL;
	}
	int n = lws_hdr_custom_length(wsi, "forwarded:", 10);
	if (n <= 0 || n >= cap)
		return NULL;
	return lws_hdr_custom_copy(wsi, buf, cap, "forwarded:", 10) > 0 ? buf : NULL;
}

bool relay_client_address(const struct relay_config *cfg, struct lws *wsi, char *out, size_t cap)
{
	char buf[FORWARD_HEADER_MAX];
	if (relay_listen_unix_path(cfg->listen)) {
		/* A unix socket's peer is a local process: the proxy. */
		const char *h = header(wsi, cfg->proxy_header, buf, sizeof buf);
		return relay_proxy_client_address(cfg->trusted_proxies, cfg->trusted_proxy_count,
						  (enum relay_proxy_header)cfg->proxy_header, NULL, h,
						  out, cap);
	}
	char peer[64];
	lws_get_peer_simple(wsi, peer, sizeof peer);
	if (cfg->trusted_proxy_count == 0) {
		snprintf(out, cap, "%s", peer);
		return false;
	}
	const char *h = header(wsi, cfg->proxy_header, buf, sizeof buf);
	return relay_proxy_client_address(cfg->trusted_proxies, cfg->trusted_proxy_count,
					  (enum relay_proxy_header)cfg->proxy_header, peer, h, out,
					  cap);
}
