/* SPDX-License-Identifier: MPL-2.0 */
/* The libwebsockets adapter for the wakks.v1 subprotocol: turns lws events into calls on our
 * connection object. Nothing protocol-specific happens here. */
#include "net/ws.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "net/client_addr.h"
#include "net/conn.h"
#include "net/registry.h"
#include "pipeline/dispatch.h"
#include "relay_state.h"

struct ws_pss {
	struct relay_conn *conn;
};

/* The largest message the connection may send in its state: before auth or register a peer
 * has proved nothing, and the largest legitimate pre-authentication frame is a few KiB. */
static size_t frame_limit(const struct relay_conn *c)
{
	const struct relay_config *cfg = &c->relay->cfg;
	if (c->state == CONN_UNAUTHENTICATED && cfg->unauth_max_frame_bytes < cfg->max_frame_bytes)
		return cfg->unauth_max_frame_bytes;
	return cfg->max_frame_bytes;
}

/* Grows the reassembly buffer to hold `need` bytes. 0, or -1 when out of memory, or 1 when an
 * unauthenticated connection would take the relay past unauth_buffer_max_bytes: many peers
 * that never finish a message must not hold the relay's memory among them. */
static int grow_rx(struct relay_conn *c, size_t need, size_t max)
{
	struct relay *r = c->relay;
	/* Grow only by what has actually arrived, never by a declared length. */
	size_t cap = c->rx_cap ? c->rx_cap : 4096;
	while (cap < need)
		cap *= 2;
	if (cap > max)
		cap = max;
	size_t more = cap - c->rx_cap;
	bool unauth = c->state == CONN_UNAUTHENTICATED;
	if (unauth && r->unauth_rx_bytes + more > r->cfg.unauth_buffer_max_bytes)
		return 1;
	unsigned char *n = realloc(c->rx, cap);
	if (!n)
		return -1;
	c->rx = n;
	c->rx_cap = cap;
	if (unauth) {
		c->rx_unauth += more;
		r->unauth_rx_bytes += more;
	}
	return 0;
}

static int reassemble(struct relay_conn *c, struct lws *wsi, const void *in, size_t len)
{
	struct relay *r = c->relay;
	size_t max = frame_limit(c);
	bool complete = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
	if (complete && c->rx_len == 0 && !c->rx_oversize && len <= max) {
		/* The common case: a whole frame in one read, handled in place without a copy. */
		r->metrics.frames_in++;
		r->metrics.bytes_in += len;
		relay_on_frame(c, in, len);
		return 0;
	}
	if (c->rx_oversize || c->rx_len + len > max) {
		/* Keep discarding the rest of this message; answer once it is complete. */
		c->rx_oversize = true;
		relay_conn_rx_release(c);
	} else {
		if (c->rx_len + len > c->rx_cap) {
			int rc = grow_rx(c, c->rx_len + len, max);
			if (rc < 0)
				return -1;
			if (rc > 0) {
				relay_conn_rx_release(c);
				r->metrics.frames_in++;
				RLOG_WARN("ws", "unauth_buffer_full", "conn=%llu peer=%s held=%zu",
					  (unsigned long long)c->id, c->peer, r->unauth_rx_bytes);
				relay_on_transport_error(c, 1013,
							 "too much data held for unauthenticated peers; try again later");
				return 0;
			}
		}
		memcpy(c->rx + c->rx_len, in, len);
		c->rx_len += len;
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;

	r->metrics.frames_in++;
	if (c->rx_oversize) {
		c->rx_oversize = false;
		relay_on_transport_error(c, 1009, c->state == CONN_UNAUTHENTICATED
							  ? "frame larger than unauth_max_frame_bytes"
							  : "frame larger than max_frame_bytes");
		return 0;
	}
	size_t n = c->rx_len;
	r->metrics.bytes_in += n;
	relay_on_frame(c, c->rx, n);
	/* Released once used, so an idle connection holds no reassembly buffer. */
	relay_conn_rx_release(c);
	return 0;
}

int relay_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len)
{
	struct ws_pss *pss = user;
	struct relay *r = lws_context_user(lws_get_context(wsi));

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED: {
		if (r->stopping)
			return -1;
		/* Behind a trusted reverse proxy, the client its header names: limits and logs
		 * are per client, not one budget for everyone the proxy carries. */
		char peer[64];
		bool forwarded = relay_client_address(&r->cfg, wsi, peer, sizeof peer);
		if (relay_registry_address_count(r, peer) >= r->cfg.max_connections_per_address) {
			r->metrics.connections_refused++;
			RLOG_WARN("ws", "refused", "reason=connections_per_address peer=%s", peer);
			lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
					 (unsigned char *)"too many connections from this address", 38);
			return -1;
		}
		pss->conn = relay_conn_new(r, wsi, peer);
		if (!pss->conn)
			return -1;
		RLOG_DEBUG("ws", "open", "conn=%llu peer=%s forwarded=%s",
			   (unsigned long long)pss->conn->id, pss->conn->peer, forwarded ? "yes" : "no");
		relay_on_open(pss->conn);
		return 0;
	}
	case LWS_CALLBACK_RECEIVE:
		if (!pss->conn || pss->conn->state == CONN_CLOSING)
			return 0;
		if (lws_frame_is_binary(wsi) == 0 && !pss->conn->rx_len && lws_is_first_fragment(wsi)) {
			r->metrics.frames_in++;
			relay_on_transport_error(pss->conn, 1003, "text frames are not accepted; use binary frames");
			return 0;
		}
		return reassemble(pss->conn, wsi, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE: {
		if (!pss->conn)
			return 0;
		struct relay_conn *c = pss->conn;
		int rc = relay_conn_write_next(c);
		if (rc == 0 && relay_conn_can_push(c) && c->deliver_more)
			relay_on_writable_room(c);
		return rc;
	}
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		/* The peer's close frame: after ours it completes the handshake, and lws closes the
		 * connection (nonzero) without echoing; otherwise lws answers it (0). */
		return pss->conn && pss->conn->close_sent ? -1 : 0;
	case LWS_CALLBACK_CLOSED:
		if (pss->conn) {
			RLOG_DEBUG("ws", "closed", "conn=%llu", (unsigned long long)pss->conn->id);
			pss->conn->wsi = NULL;
			relay_conn_closed(pss->conn);
			pss->conn = NULL;
		}
		return 0;
	default:
		return 0;
	}
}

size_t relay_ws_pss_size(void)
{
	return sizeof(struct ws_pss);
}

/* Runs before the loop waits for events: writes what the callbacks of this loop iteration
 * queued (relay_conn_send), so a reply or delivery leaves without a writeable callback. What
 * the socket does not take now, and a connection that is closing, wait for lws's writeable
 * callback as before. Room freed in a queue lets the delivery pump queue more, which is
 * written in the same pass; the pump stops at the connection's in-flight window. */
static void on_flush(uv_prepare_t *h)
{
	struct relay *r = h->data;
	struct relay_conn *c;
	while ((c = relay_conn_flush_pop(r))) {
		if (!c->wsi || c->state == CONN_CLOSING || !c->out_head)
			continue;
		if (relay_conn_write_queued(c) != 0) {
			/* The socket failed; lws closes the connection from its own loop. */
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			continue;
		}
		if (!c->out_head && relay_conn_can_push(c) && c->deliver_more)
			relay_on_writable_room(c);
	}
}

void relay_ws_flush_init(struct relay *r, uv_loop_t *loop)
{
	uv_prepare_init(loop, &r->flush_prepare);
	r->flush_prepare.data = r;
	uv_prepare_start(&r->flush_prepare, on_flush);
	/* Never what keeps the loop running. */
	uv_unref((uv_handle_t *)&r->flush_prepare);
}

void relay_ws_flush_close(struct relay *r)
{
	uv_prepare_stop(&r->flush_prepare);
	uv_close((uv_handle_t *)&r->flush_prepare, NULL);
}
