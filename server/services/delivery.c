/* SPDX-License-Identifier: MPL-2.0 */
#include "services/delivery.h"

#include <stdlib.h>

#include "core/clock.h"
#include "core/log.h"
#include "net/conn.h"
#include "net/outgoing.h"
#include "relay_state.h"
#include "services/housekeeping.h"
#include "services/mailbox_record.h"
#include "services/metrics.h"
#include "services/push.h"
#include "wakks_storage.h"

/* Envelopes read per mailbox pass: one short read transaction, bounded work per loop turn. */
#define DELIVER_BATCH 64

struct pump_ctx {
	struct relay_conn *conn;
	int sent;
	int stopped;
	size_t n_lost;
	uint64_t lost[DELIVER_BATCH]; /* damaged envelopes met in this pass, deleted after it */
};

/* An envelope whose stored copy is damaged (spec/storage.md §2.1) is never delivered: its
 * recipient is told that one envelope was lost (spec/protocol.md §8.3), and it is deleted so that
 * the next connection does not report it again. Its sender cannot be known. */
static void lost(struct pump_ctx *p, uint64_t seq)
{
	struct relay_conn *c = p->conn;
	RLOG_ERROR("delivery", "envelope_damaged", "conn=%llu seq=%llu", (unsigned long long)c->id,
		   (unsigned long long)seq);
	c->relay->metrics.envelopes_lost++;
	relay_send_error(c, 0, PROTO_E_INTERNAL,
			 "an envelope for this device was lost: its stored copy was damaged", NULL);
	p->lost[p->n_lost++] = seq;
}

static void lost_deleted(struct store_req *req, int result, void *data)
{
	(void)req;
	(void)data;
	if (result != 0)
		RLOG_ERROR("delivery", "damaged_delete_failed", "error=\"%s\"", store_strerror(result));
}

static void delete_lost(struct relay_conn *c, const struct pump_ctx *p)
{
	for (size_t i = 0; i < p->n_lost; i++) {
		/* On failure the envelope stays for the next connection or expiry. */
		struct store_req *req = store_req_new(c->relay->store, lost_deleted, NULL);
		int rc = req ? store_req_delete_envelope(req, c->device_id, p->lost[i]) : STORE_ENOMEM;
		if (rc < 0 && req)
			store_req_free(req);
		else if (rc >= 0)
			rc = store_submit(req); /* frees the request itself when it fails */
		if (rc < 0)
			RLOG_ERROR("delivery", "damaged_delete_failed", "error=\"%s\"", store_strerror(rc));
	}
}

/* True when the connection may have one more delivery unacknowledged (spec/protocol.md §8.3);
 * an ack (relay_deliver_acked) resumes a pump that stopped here. */
static bool window_open(struct relay_conn *c)
{
	uint32_t window = c->relay->cfg.max_inflight_deliveries;
	if (!c->inflight)
		c->inflight = malloc(window * sizeof *c->inflight);
	/* Out of memory: deliver without the window rather than stall with nothing in flight
	 * that an ack could resume. */
	return !c->inflight || c->n_inflight < window;
}

static int pump_one(const struct store_envelope *env, void *data)
{
	struct pump_ctx *p = data;
	struct relay_conn *c = p->conn;
	if (!relay_conn_can_push(c)) {
		c->deliver_more = true;
		p->stopped = 1;
		return 1;
	}
	if (!window_open(c)) {
		p->stopped = 1;
		return 1;
	}
	c->deliver_from_seq = env->ref.seq + 1;
	struct mailbox_record rec;
	if (env->damaged || mailbox_record_parse(env->payload, env->payload_len, &rec) != 0) {
		lost(p, env->ref.seq);
		return 0;
	}
	proto_frame *f = relay_tx_frame(c->relay, PROTO_T_DELIVER, 0);
	proto_deliver *d = &f->body.deliver;
	d->seq = env->ref.seq;
	d->cmid = env->ref.message_id;
	d->account = env->ref.sender_account;
	d->device = env->ref.sender_device;
	d->time = env->stored_at_ms;
	if (rec.tenant_len) {
		d->tenant = (proto_str){ rec.tenant, rec.tenant_len };
		d->unit = (proto_str){ rec.unit, rec.unit_len };
	}
	d->ciphertext = (proto_bytes){ rec.ciphertext, rec.ciphertext_len };
	if (relay_send_frame(c, f) == 0) {
		c->relay->metrics.envelopes_delivered++;
		uint64_t now = relay_now_ms();
		relay_metrics_observe(&c->relay->metrics.delivery,
				      now > env->stored_at_ms ? (now - env->stored_at_ms) * 1000u : 0);
		struct relay_tenant_counters *tc =
			relay_metrics_tenant(c->relay, rec.tenant_len ? (const char *)rec.tenant : "",
					     rec.tenant_len);
		if (tc)
			tc->deliveries++;
		if (c->inflight)
			c->inflight[c->n_inflight++] = env->ref.seq;
		p->sent++;
	}
	return 0;
}

void relay_deliver_pump(struct relay_conn *c)
{
	if (c->state != CONN_AUTHENTICATED)
		return;
	c->deliver_more = false;
	for (;;) {
		struct pump_ctx p = { .conn = c };
		int n = store_mailbox_iter(c->relay->store, c->device_id, c->deliver_from_seq,
					   DELIVER_BATCH, pump_one, &p);
		delete_lost(c, &p);
		if (n < 0) {
			RLOG_ERROR("delivery", "mailbox_read_failed", "error=\"%s\"", store_strerror(n));
			return;
		}
		if (p.stopped || n < DELIVER_BATCH)
			return;
	}
}

void relay_deliver_acked(struct relay_conn *c, uint64_t seq)
{
	for (uint32_t i = 0; i < c->n_inflight; i++) {
		if (c->inflight[i] == seq) {
			bool was_full = c->n_inflight == c->relay->cfg.max_inflight_deliveries;
			c->inflight[i] = c->inflight[--c->n_inflight];
			if (c->n_inflight == 0) {
				/* Nothing in flight: the window (max_inflight_deliveries seqs, 512
				 * bytes by default) goes until the next delivery, so that a device
				 * that has read its mail and stays connected idle does not keep it. */
				free(c->inflight);
				c->inflight = NULL;
			}
			if (was_full)
				relay_deliver_pump(c);
			return;
		}
	}
}

void relay_deliver_wake(struct relay *r, const uint8_t (*device_ids)[16], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct relay_conn *c = relay_conn_of_device(r, device_ids[i]);
		if (c)
			relay_deliver_pump(c);
		else
			relay_push_offline(r, device_ids[i]); /* spec/push.md §2 */
	}
}
