/* SPDX-License-Identifier: MPL-2.0 */
/* Frame dispatch: rate-limit, decode, check what the connection may send in its state, then call
 * the handler from the table. Every refusal is an `error` frame naming what was wrong. */
#include "pipeline/dispatch.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "handlers/handlers.h"
#include "net/conn.h"
#include "net/outgoing.h"
#include "relay_state.h"
#include "services/delivery.h"
#include "services/liveness.h"

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
	proto_error_details d = { 0 };
	int err = PROTO_E_MALFORMED;
	if (code == 1009) {
		err = PROTO_E_TOO_LARGE;
	} else if (code == 1013) {
		/* The relay's budget for unauthenticated peers is spent; it frees as they finish. */
		err = PROTO_E_UNAVAILABLE;
		d.retry_ms = 1000;
	}
	relay_send_error(c, 0, err, what, d.retry_ms ? &d : NULL);
	relay_conn_close(c, (uint16_t)code, what);
}

/* Every client → relay frame type the relay serves; the order is the spec's. */
static const struct {
	uint32_t type;
	relay_handler fn;
} handler_table[] = {
	{ PROTO_T_AUTH, handle_auth },
	{ PROTO_T_REGISTER, handle_register },
	{ PROTO_T_DEVICES_LIST, handle_devices_list },
	{ PROTO_T_DEVICE_REVOKE, handle_device_revoke },
	{ PROTO_T_PREKEYS_UPLOAD, handle_prekeys_upload },
	{ PROTO_T_SPK_ROTATE, handle_spk_rotate },
	{ PROTO_T_KEY_COUNT_GET, handle_key_count_get },
	{ PROTO_T_BUNDLES_FETCH, handle_bundles_fetch },
	{ PROTO_T_TENANTS_LIST, handle_tenants_list },
	{ PROTO_T_UNITS_LIST, handle_units_list },
	{ PROTO_T_DEVICE_SET_GET, handle_device_set_get },
	{ PROTO_T_SEND, handle_send },
	{ PROTO_T_ACK, handle_ack },
	{ PROTO_T_CONSENT_GRANT, handle_consent_grant },
	{ PROTO_T_CONSENT_WITHDRAW, handle_consent_withdraw },
	{ PROTO_T_CONSENT_LIST, handle_consent_list },
	{ PROTO_T_CITIZEN_LOOKUP, handle_citizen_lookup },
	{ PROTO_T_CONSENT_CHECK, handle_consent_check },
	{ PROTO_T_BLOB_PUT, handle_blob_put },
	{ PROTO_T_BLOB_CHUNK, handle_blob_chunk },
	{ PROTO_T_BLOB_STATUS, handle_blob_status },
	{ PROTO_T_BLOB_GET, handle_blob_get },
	{ 0, NULL },
};

static relay_handler lookup(uint32_t type)
{
	for (size_t i = 0; handler_table[i].type; i++)
		if (handler_table[i].type == type)
			return handler_table[i].fn;
	return NULL;
}

void relay_on_frame(struct relay_conn *c, const uint8_t *data, size_t len)
{
	struct relay *r = c->relay;
	/* The request id every error about this frame carries, readable or 0 (spec/protocol.md
	 * §3.4); the rate limit and the codec's errors both use it. */
	uint32_t request_id = proto_frame_error_request_id(data, len);
	/* Every frame costs a token, whatever the state and whether it decodes (spec/protocol.md
	 * §3.4): before authentication a peer could otherwise make the relay check signatures or
	 * answer bad frames as fast as it can send them. The token is about the connection, so it is
	 * taken before anything about the frame is judged. */
	if (!relay_conn_take_token(c, relay_monotonic_ms())) {
		r->metrics.rate_limited++;
		proto_error_details d = { 0 };
		d.retry_ms = 1000 / relay_conn_rate(c) + 1;
		relay_send_error(c, request_id, PROTO_E_RATE_LIMITED, "requests per second exceeded",
				 &d);
		return;
	}
	/* The codec's order is the spec's (well-formedness, shape, type, request id, body), so the
	 * relay answers every bad frame exactly as every other decoder judges it; what the relay
	 * alone decides (direction, connection state) comes after. */
	const char *field = "";
	int rc = proto_frame_decode_diag(data, len, r->rx_frame, &field);
	if (rc != 0) {
		char text[160];
		snprintf(text, sizeof text, "%s%s%s", proto_strerror(rc), field[0] ? ": " : "", field);
		relay_send_error(c, request_id, rc, text, NULL);
		return;
	}
	uint32_t type = r->rx_frame->type;
	unsigned flags = proto_type_flags(type);
	if (!(flags & PROTO_F_C2R)) {
		/* spec/protocol.md §3.5: a relay-to-client type sent to the relay counts as unknown. */
		char text[96];
		snprintf(text, sizeof text, "frame type %s is sent by the relay, not to it",
			 proto_type_name(type));
		relay_send_error(c, request_id, PROTO_E_UNKNOWN_TYPE, text, NULL);
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
	/* A device revoked or erased meanwhile (possibly by another process) is answered by a close,
	 * never by its request. */
	if (c->state == CONN_AUTHENTICATED && !relay_conn_still_live(c))
		return;
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

void relay_on_writable_room(struct relay_conn *c)
{
	relay_deliver_pump(c);
}
