/* SPDX-License-Identifier: MPL-2.0 */
/* The protocol side of a connection: what the transport adapter (ws.c) calls. Frames are decoded
 * by protocol/ and dispatched through one table to handle_* functions. */
#ifndef WAKKS_RELAY_PIPELINE_DISPATCH_H
#define WAKKS_RELAY_PIPELINE_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

struct relay_conn;

/* A new WebSocket is open: send hello with a fresh challenge. */
void relay_on_open(struct relay_conn *c);

/* One complete binary WebSocket message from the peer. */
void relay_on_frame(struct relay_conn *c, const uint8_t *data, size_t len);

/* The peer sent something that is not a frame we accept at the transport level
 * (text message, oversize message): answer with an error and close. */
void relay_on_transport_error(struct relay_conn *c, int code, const char *what);

/* The outgoing queue has drained below the push threshold: continue mailbox delivery. */
void relay_on_writable_room(struct relay_conn *c);

#endif
