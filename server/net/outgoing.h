/* SPDX-License-Identifier: MPL-2.0 */
/* Building and sending frames on a connection: one encode path for every reply and push. */
#ifndef WAKKS_RELAY_NET_OUTGOING_H
#define WAKKS_RELAY_NET_OUTGOING_H

#include <stdint.h>

#include "wakks_protocol.h"

struct relay;
struct relay_conn;

/* A frame struct for building one outgoing frame; reused, so build and send before the next. */
proto_frame *relay_tx_frame(struct relay *r, uint32_t type, uint32_t request_id);

/* Encodes and queues f on c. Returns 0 or -1 (encode failure is logged: it is our bug). */
int relay_send_frame(struct relay_conn *c, const proto_frame *f);

/* The retry hint of an `unavailable` that names none of its own: a busy moment passes soon. */
#define RELAY_RETRY_DEFAULT_MS 1000

/* Sends `error` with a PROTO_E_* code (either sign), a text for humans, and optional details;
 * an `unavailable` without a retry time gets RELAY_RETRY_DEFAULT_MS. */
void relay_send_error(struct relay_conn *c, uint32_t request_id, int code, const char *text,
		      const proto_error_details *details);

/* Sends an empty `ok` reply. */
void relay_send_ok(struct relay_conn *c, uint32_t request_id);

#endif
