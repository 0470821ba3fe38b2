/* SPDX-License-Identifier: MPL-2.0 */
#ifndef WAKKS_RELAY_NET_WS_H
#define WAKKS_RELAY_NET_WS_H

#include <libwebsockets.h>
#include <uv.h>

#define RELAY_SUBPROTOCOL "wakks.v1"
#define RELAY_WS_PATH "/v1"

/* The protocol's rx_buffer_size: lws allocates it (plus LWS_PRE) for every WebSocket and keeps
 * it for the connection's life, and it also bounds each read (the TLS record is decrypted once;
 * the reads copy it out in pieces of this size) and each RECEIVE callback, above which ws.c
 * reassembles. 512 keeps an idle connection 1.5 KiB smaller than 2048 at the cost of three reads
 * instead of one for a 1 KiB envelope's send (docs/benchmarks.md, "Round two, continued").
 * lws needs at least 125 bytes here, the largest control frame's payload. */
#define RELAY_WS_RX_BUFFER_BYTES 512

/* The protocol's tx_packet_size: the most lws hands to SSL_write at once (plus LWS_PRE + 4).
 * Left 0, lws takes rx_buffer_size instead and cuts every coalesced write (net/conn.c, up to
 * one 16 KiB TLS record) into pieces of that size, buffering and copying the rest for later
 * writable events. Sized so one coalesced write is one SSL_write and one record. */
#define RELAY_WS_TX_RECORD_BYTES 16384
#define RELAY_WS_TX_PACKET_BYTES (RELAY_WS_TX_RECORD_BYTES - LWS_PRE - 4)

int relay_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len);
size_t relay_ws_pss_size(void);

struct relay;

/* The loop handle that writes queued frames before the loop waits (relay.flush_prepare):
 * started with the relay's other handles, closed with them. */
void relay_ws_flush_init(struct relay *r, uv_loop_t *loop);
void relay_ws_flush_close(struct relay *r);

#endif
