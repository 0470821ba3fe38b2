/* SPDX-License-Identifier: MPL-2.0 */
/* Frame dispatch: decode, check what the connection may send in its state, rate-limit, then call
 * the handler from the table. Every refusal is an `error` frame naming what was wrong. */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "frames.h"
#include "handler_table.h"
#include "log.h"
#include "relay.h"

void relay_on_open(struct relay_conn *c)
{
	proto_frame *f = relay_tx_frame(c->relay, PROTO_T_HELLO, 0);
	f->body.hello.version = PROTO_VERSION;
	f->body.hello.time = relay_now_ms();
	f->body.hello.challenge = c->challenge;
	relay_send_frame(c, f);
}

void relay_on_transport_error(struct relay_conn *c, int code, const char *what)
{
	relay_send_error(c, 0, code == 1009 ? PROTO_E_TOO_LARGE : PROTO_E_MALFORMED, what, NULL);
	relay_conn_close(c, (uint16_t)code, what);
}

static relay_handler lookup(uint32_t type)
{
	for (const struct relay_handler_entry *e = relay_handler_table; e->type; e++)
		if (e->type == type)
			return e->fn;
	return NULL;
}

void relay_on_frame(struct relay_conn *c, const uint8_t *data, size_t len)
{
	struct relay *r = c->relay;
	uint32_t type = 0, request_id = 0;
	int rc = proto_frame_peek(data, len, &type, &request_id);
	if (rc != 0) {
		relay_send_error(c, 0, rc, proto_strerror(rc), NULL);
		return;
	}
	unsigned flags = proto_type_flags(type);
	if (!flags) {
		char text[96];
		snprintf(text, sizeof text, "unknown frame type %u", type);
		relay_send_error(c, request_id, PROTO_E_UNKNOWN_TYPE, text, NULL);
		return;
	}
	if (!(flags & PROTO_F_C2R)) {
		/* spec/protocol.md §3.5: a relay-to-client type sent to the relay counts as unknown. */
		char text[96];
		snprintf(text, sizeof text, "frame type %s is sent by the relay, not to it",
			 proto_type_name(type));
		relay_send_error(c, request_id, PROTO_E_UNKNOWN_TYPE, text, NULL);
		return;
	}
	if (c->state == CONN_AUTHENTICATED && !relay_conn_take_token(c, relay_monotonic_ms())) {
		r->metrics.rate_limited++;
		proto_error_details d = { 0 };
		d.retry_ms = 1000 / (r->cfg.requests_per_second ? r->cfg.requests_per_second : 1) + 1;
		relay_send_error(c, request_id, PROTO_E_RATE_LIMITED, "requests per second exceeded", &d);
		return;
	}
	const char *field = "";
	rc = proto_frame_decode_diag(data, len, r->rx_frame, &field);
	if (rc != 0) {
		char text[160];
		snprintf(text, sizeof text, "%s%s%s", proto_strerror(rc), field[0] ? ": " : "", field);
		relay_send_error(c, request_id, rc, text, NULL);
		return;
	}
	if (c->state == CONN_UNAUTHENTICATED && !(flags & PROTO_F_PRE_AUTH)) {
		relay_send_error(c, request_id, PROTO_E_NOT_AUTHENTICATED,
				 "authenticate (auth or register) before this request", NULL);
		return;
	}
	if (c->state == CONN_AUTHENTICATED && !(flags & PROTO_F_POST_AUTH)) {
		relay_send_error(c, request_id, PROTO_E_ALREADY_AUTHENTICATED,
				 "this connection is already authenticated", NULL);
		return;
	}
	relay_handler fn = lookup(type);
	if (!fn) {
		char text[96];
		snprintf(text, sizeof text, "frame type %s is not served by this relay",
			 proto_type_name(type));
		relay_send_error(c, request_id, PROTO_E_UNKNOWN_TYPE, text, NULL);
		return;
	}
	fn(c, r->rx_frame);
}
