/* SPDX-License-Identifier: MPL-2.0 */
/* ack: the recipient device has the envelope; delete it durably, then answer ok and tell the
 * sending device (a receipt: which device, when; never content). */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "handlers/handlers.h"
#include "net/conn.h"
#include "net/outgoing.h"
#include "relay.h"
#include "services/blob_files.h"
#include "services/mailbox_record.h"
#include "services/receipts.h"
#include "wakks_storage.h"

struct ack_ctx {
	struct relay *relay;
	uint64_t conn_id;
	uint32_t request_id;
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

static void ack_done(struct store_req *req, int result, void *data)
{
	struct ack_ctx *a = data;
	struct relay *r = a->relay;
	struct relay_conn *c = relay_conn_find(r, a->conn_id);
	if (result != 0) {
		RLOG_ERROR("ack", "delete_failed", "error=\"%s\"", store_strerror(result));
		if (c)
			relay_send_error(c, a->request_id, PROTO_E_UNAVAILABLE,
					 "the acknowledgement could not be stored; retry", NULL);
		goto out;
	}
	const struct store_delete_result *d = store_req_delete_result(req, 0);
	relay_blob_removed(r, store_req_blob_removed(req, 1));
	if (c)
		relay_send_ok(c, a->request_id);
	if (d && d->found) {
		r->metrics.envelopes_acked++;
		if (a->receipts && d->ref.kind == STORE_KIND_ENVELOPE)
			relay_receipt_post(r, PROTO_T_RECEIPT, d->ref.sender_device, d->ref.message_id,
					   a->recipient_account, d->ref.device_id, relay_now_ms());
	}
out:
	free(a);
}

void handle_ack(struct relay_conn *c, const proto_frame *f)
{
	struct relay *r = c->relay;
	uint64_t seq = f->body.ack.seq;
	/* The envelope itself, not the next one when it is gone already. */
	struct ack_peek peek = { .seq = seq };
	store_mailbox_iter(r->store, c->device_id, seq, 1, read_flags, &peek);
	uint8_t flags = peek.flags;

	struct ack_ctx *a = calloc(1, sizeof *a);
	struct store_req *req = a ? store_req_new(r->store, ack_done, a) : NULL;
	int op = req ? store_req_delete_envelope(req, c->device_id, seq) : STORE_ENOMEM;
	/* The device's download grant ends with the envelope, in the same transaction. */
	if (op >= 0 && peek.n_blobs)
		op = store_req_blob_release(req, (const uint8_t(*)[16])peek.blobs, peek.n_blobs,
					    c->device_id, op);
	if (!req || op < 0) {
		store_req_free(req);
		free(a);
		relay_send_error(c, f->request_id, PROTO_E_INTERNAL, "out of memory", NULL);
		return;
	}
	a->relay = r;
	a->conn_id = c->id;
	a->request_id = f->request_id;
	a->receipts = (flags & MAILBOX_FLAG_RECEIPTS) != 0;
	memcpy(a->recipient_account, c->account_id, 16);
	if (store_submit(req) != 0) {
		free(a);
		relay_send_error(c, f->request_id, PROTO_E_UNAVAILABLE, "the relay is shutting down", NULL);
	}
}
