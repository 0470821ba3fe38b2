/* SPDX-License-Identifier: MPL-2.0 */
/* ack: the recipient device has the envelope; delete it durably, then answer ok and tell the
 * sending device (a receipt: which device, when; never content). */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "handlers/call.h"
#include "handlers/handlers.h"
#include "net/conn.h"
#include "net/outgoing.h"
#include "relay_state.h"
#include "services/blob_files.h"
#include "services/delivery.h"
#include "services/mailbox_record.h"
#include "services/receipts.h"
#include "wakks_storage.h"

struct ack_call {
	struct relay_call call;
	bool receipts;
	uint8_t recipient_account[16];
};

/* What the ack needs from the envelope before it is deleted: its flags and blob references. */
struct ack_peek {
	uint64_t seq;
	uint8_t flags;
	size_t n_blobs;
	uint8_t blobs[MAILBOX_MAX_BLOBS][16];
};

static int read_flags(const struct store_envelope *env, void *data)
{
	struct ack_peek *p = data;
	struct mailbox_record rec;
	if (env->ref.seq == p->seq && mailbox_record_parse(env->payload, env->payload_len, &rec) == 0) {
		p->flags = rec.flags;
		p->n_blobs = rec.n_blobs;
		if (rec.n_blobs)
			memcpy(p->blobs, rec.blobs, rec.n_blobs * 16);
	}
	return 1;
}

static void ack_refused(struct relay_call *call, struct relay_conn *c, int result)
{
	RLOG_ERROR("ack", "delete_failed", "error=\"%s\"", store_strerror(result));
	if (c)
		relay_call_reply_error(c, call->from.request_id, result, NULL,
				       "the acknowledgement could not be stored; retry");
}

static void acked(struct relay_call *call, struct relay_conn *c)
{
	struct ack_call *a = (struct ack_call *)call;
	struct relay *r = call->from.relay;
	const struct store_delete_result *d = store_req_delete_result(call->req, 0);
	relay_blob_removed(r, store_req_blob_removed(call->req, 1));
	if (c)
		relay_send_ok(c, call->from.request_id);
	if (d && d->found) {
		r->metrics.envelopes_acked++;
		if (a->receipts && d->ref.kind == STORE_KIND_ENVELOPE)
			relay_receipt_post(r, PROTO_T_RECEIPT, d->ref.sender_device, d->ref.message_id,
					   a->recipient_account, d->ref.device_id, relay_now_ms());
	}
}

void handle_ack(struct relay_conn *c, const proto_frame *f)
{
	struct relay *r = c->relay;
	uint64_t seq = f->body.ack.seq;
	/* The envelope itself, not the next one when it is gone already. */
	struct ack_peek peek = { .seq = seq };
	store_mailbox_iter(r->store, c->device_id, seq, 1, read_flags, &peek);

	struct ack_call *a = (struct ack_call *)relay_call_new(c, f->request_id, sizeof *a, acked);
	if (!a)
		return;
	a->call.refused = ack_refused;
	a->receipts = (peek.flags & MAILBOX_FLAG_RECEIPTS) != 0;
	memcpy(a->recipient_account, c->account_id, 16);
	int op = store_req_delete_envelope(a->call.req, c->device_id, seq);
	/* The device's download grant ends with the envelope, in the same transaction. */
	if (op >= 0 && peek.n_blobs)
		op = store_req_blob_release(a->call.req, (const uint8_t(*)[16])peek.blobs, peek.n_blobs,
					    c->device_id, op);
	relay_call_submit(c, &a->call, op);
	/* The device has the envelope: the window moves on arrival of the ack (spec/protocol.md
	 * §8.3), not at its commit, so a slow disk does not also slow delivery. */
	relay_deliver_acked(c, seq);
}
