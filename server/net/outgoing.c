/* SPDX-License-Identifier: MPL-2.0 */
#include "net/outgoing.h"

#include <string.h>

#include "core/log.h"
#include "net/conn.h"
#include "relay_state.h"

proto_frame *relay_tx_frame(struct relay *r, uint32_t type, uint32_t request_id)
{
	proto_frame_init(r->tx_frame, type, request_id);
	return r->tx_frame;
}

int relay_send_frame(struct relay_conn *c, const proto_frame *f)
{
	struct relay *r = c->relay;
	size_t len;
	int rc = proto_frame_encode(f, r->tx_buf, r->tx_cap, &len);
	if (rc != 0) {
		RLOG_ERROR("frames", "encode_failed", "type=%s error=\"%s\"",
			   proto_type_name(f->type) ? proto_type_name(f->type) : "?", proto_strerror(rc));
		return -1;
	}
	return relay_conn_send(c, r->tx_buf, len);
}

void relay_send_error(struct relay_conn *c, uint32_t request_id, int code, const char *text,
		      const proto_error_details *details)
{
	struct relay *r = c->relay;
	if (code < 0)
		code = -code;
	proto_frame *f = relay_tx_frame(r, PROTO_T_ERROR, request_id);
	const char *name = proto_errname(code);
	f->body.error.code = (uint32_t)code;
	f->body.error.name = (proto_str){ name, strlen(name) };
	size_t tl = strlen(text);
	if (tl > PROTO_MAX_ERROR_TEXT_BYTES)
		tl = PROTO_MAX_ERROR_TEXT_BYTES;
	f->body.error.text = (proto_str){ text, tl };
	if (details) {
		f->body.error.has_details = true;
		f->body.error.details = *details;
	}
	/* unavailable always says when to try again (spec/protocol.md §12): a client without a hint
	 * would either give up or retry at once. */
	if (code == PROTO_E_UNAVAILABLE && f->body.error.details.retry_ms == 0) {
		f->body.error.has_details = true;
		f->body.error.details.retry_ms = RELAY_RETRY_DEFAULT_MS;
	}
	r->metrics.errors_sent++;
	relay_send_frame(c, f);
}

void relay_send_ok(struct relay_conn *c, uint32_t request_id)
{
	relay_send_frame(c, relay_tx_frame(c->relay, PROTO_T_OK, request_id));
}
