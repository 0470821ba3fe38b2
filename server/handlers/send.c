/* SPDX-License-Identifier: MPL-2.0 */
/* send: one message as per-device ciphertexts. The device set must be exactly the current set of
 * the addressees plus the sender's other devices; the envelopes are stored in one durable write,
 * and only then does the sender hear `stored`. A resend with the same client message id stores
 * nothing and gets the original answer. */
#include <stdio.h>
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
#include "services/consent_gate.h"
#include "services/delivery.h"
#include "services/device_rate.h"
#include "services/devset.h"
#include "services/liveness.h"
#include "services/mailbox_record.h"
#include "services/metrics.h"
#include "services/webhook.h"
#include "wakks_storage.h"

/* A send in flight: what `stored` and the wake-up of the recipients need. */
struct send_call {
	struct relay_call call;
	uint64_t read_us; /* when the frame was read: wakks_send_stored_duration_seconds */
	char tenant[65];  /* the tenant counted in wakks_tenant_sends_total */
	uint8_t cmid[16];
	/* A unit member writing to a citizen of a tenant with a fallback webhook (spec/push.md §7). */
	bool webhook;
	uint8_t citizen[16];
	size_t n;
	uint8_t devices[][16]; /* the recipient devices, n of them */
};

static void reply_stored(struct relay_conn *c, uint32_t request_id, const uint8_t cmid[16],
			 uint64_t time)
{
	proto_frame *out = relay_tx_frame(c->relay, PROTO_T_STORED, request_id);
	out->body.stored.cmid = cmid;
	out->body.stored.time = time;
	relay_send_frame(c, out);
}

static void send_refused(struct relay_call *call, struct relay_conn *c, int result)
{
	struct relay *r = call->from.relay;
	r->metrics.sends_rejected++;
	if (!c)
		return;
	proto_error_details d = { 0 };
	if (result == STORE_EQUOTA) {
		d.limit = r->cfg.mailbox_max_envelopes;
		relay_send_error(c, call->from.request_id, PROTO_E_QUOTA_EXCEEDED,
				 "a recipient device's mailbox is full; nothing was stored", &d);
	} else if (result == STORE_EREVOKED && store_req_failed_device(call->req) &&
		   memcmp(store_req_failed_device(call->req), c->device_id, 16) == 0) {
		/* The sending device itself was revoked before its send reached the disk. */
		relay_conn_close(c, RELAY_CLOSE_REVOKED, "device revoked");
	} else if (result == STORE_ESHARE) {
		d.limit = r->cfg.mailbox_sender_max_envelopes;
		relay_send_error(c, call->from.request_id, PROTO_E_QUOTA_EXCEEDED,
				 "your share of a recipient device's mailbox is full until it reads; nothing was stored",
				 &d);
	} else if (result == STORE_ENODEVICE || result == STORE_EREVOKED) {
		const uint8_t *dev = store_req_failed_device(call->req);
		if (dev) {
			d.stale_count = 1;
			d.stale[0] = dev;
		}
		relay_send_error(c, call->from.request_id, PROTO_E_DEVICE_MISMATCH,
				 "a recipient device was revoked meanwhile; nothing was stored", &d);
	} else if (result == STORE_ENOTFOUND) {
		relay_send_error(c, call->from.request_id, PROTO_E_NOT_FOUND,
				 "a referenced blob is gone; nothing was stored", NULL);
	} else {
		relay_call_reply_error(c, call->from.request_id, result, NULL, NULL);
	}
}

/* The citizen's envelopes of this send: where the fallback webhook looks whether it was read. */
static void note_for_webhook(struct relay *r, const struct send_call *s,
			     const struct store_send_result *sr)
{
	struct store_device devs[PROTO_MAX_DEVICES_PER_ACCOUNT];
	size_t nd = 0, n = 0;
	uint8_t ids[PROTO_MAX_DEVICES_PER_ACCOUNT][16];
	uint64_t seqs[PROTO_MAX_DEVICES_PER_ACCOUNT];
	if (store_list_devices(r->store, s->citizen, false, devs, PROTO_MAX_DEVICES_PER_ACCOUNT, &nd) != 0)
		return;
	for (size_t i = 0; i < sr->n && n < PROTO_MAX_DEVICES_PER_ACCOUNT; i++)
		for (size_t j = 0; j < nd && j < PROTO_MAX_DEVICES_PER_ACCOUNT; j++)
			if (memcmp(sr->seqs[i].device_id, devs[j].id, 16) == 0) {
				memcpy(ids[n], devs[j].id, 16);
				seqs[n++] = sr->seqs[i].seq;
			}
	relay_webhook_note(r, s->tenant, s->citizen, (const uint8_t(*)[16])ids, seqs, n);
}

static void stored(struct relay_call *call, struct relay_conn *c)
{
	struct send_call *s = (struct send_call *)call;
	const struct store_send_result *sr = store_req_send_result(call->req, 0);
	struct relay *r = call->from.relay;
	relay_metrics_observe(&r->metrics.send_stored, relay_metrics_now_us() - s->read_us);
	struct relay_tenant_counters *tc = relay_metrics_tenant(r, s->tenant, strlen(s->tenant));
	if (tc && !sr->duplicate)
		tc->sends++;
	if (c)
		reply_stored(c, call->from.request_id, s->cmid, sr->stored_at_ms);
	if (!sr->duplicate)
		relay_deliver_wake(call->from.relay, (const uint8_t(*)[16])s->devices, s->n);
	if (!sr->duplicate && s->webhook)
		note_for_webhook(call->from.relay, s, sr);
}

/* Compares the offered envelopes with the expected set; fills details on mismatch. */
static bool device_set_matches(const struct relay_devset *expected, const proto_send *m,
			       proto_error_details *d)
{
	for (size_t i = 0; i < expected->n; i++) {
		bool offered = false;
		for (uint32_t j = 0; j < m->env_count && !offered; j++)
			offered = memcmp(m->env[j].device, expected->e[i].device, 16) == 0;
		if (!offered && d->missing_count < PROTO_MAX_RECIPIENT_DEVICES)
			d->missing[d->missing_count++] = expected->e[i].device;
	}
	for (uint32_t j = 0; j < m->env_count; j++)
		if (relay_devset_find(expected, m->env[j].device) < 0 &&
		    d->stale_count < PROTO_MAX_RECIPIENT_DEVICES)
			d->stale[d->stale_count++] = m->env[j].device;
	return d->missing_count == 0 && d->stale_count == 0;
}

static int expected_devices(struct relay_conn *c, const proto_send *m, struct relay_devset *set)
{
	struct relay *r = c->relay;
	int rc = 0;
	for (uint32_t i = 0; i < m->to_count && rc == 0; i++)
		rc = relay_devset_add_account(r, set, m->to[i]);
	if (rc == 0 && m->tenant.ptr)
		rc = relay_devset_add_unit(r, set, m->tenant.ptr, m->tenant.len, m->unit.ptr, m->unit.len);
	/* The sender's own other devices keep a copy of what it sent; the sending device itself is
	 * never a recipient, also when it is a member of the addressed unit. */
	if (rc == 0)
		rc = relay_devset_add_account(r, set, c->account_id);
	relay_devset_remove(set, c->device_id);
	return rc;
}

/* The checks before anything is stored: the device set is exactly the current one, consent
 * allows the message, and every referenced blob may be passed on. Returns 0, or -1 after
 * answering the refusal. */
static int check_send(struct relay_conn *c, const proto_frame *f)
{
	struct relay *r = c->relay;
	const proto_send *m = &f->body.send;
	/* The device set and the mismatch details are large and needed only during this call: the
	 * relay's scratch copies (one loop thread), reset rather than zeroed. */
	struct relay_devset *set = &r->scratch->set;
	proto_error_details *d = &r->scratch->details;
	set->n = 0;
	d->missing_count = d->stale_count = 0;
	d->limit = d->retry_ms = 0;
	int rc = expected_devices(c, m, set);
	if (rc != 0) {
		relay_send_error(c, f->request_id, rc,
				 relay_devset_error_text(rc, "an addressed account or unit does not exist"),
				 NULL);
		return -1;
	}
	const char *refusal = NULL;
	if (!device_set_matches(set, m, d)) {
		rc = PROTO_E_DEVICE_MISMATCH;
		refusal = "the recipient device set is not current; nothing was stored";
	} else if ((rc = relay_consent_gate(c, m, &refusal)) != 0) {
		d = NULL;
	} else if (m->blob_count && relay_blob_check_refs(c, m->blobs, m->blob_count) != 0) {
		rc = PROTO_E_NOT_FOUND;
		refusal = "a referenced blob does not exist, is incomplete or is not this device's to send";
		d = NULL;
	}
	if (rc != 0) {
		r->metrics.sends_rejected++;
		relay_send_error(c, f->request_id, rc, refusal, d);
		return -1;
	}
	return 0;
}

/* Builds the storage operations: one envelope per recipient device, each the relay's mailbox
 * header followed by that device's ciphertext, and the recipients' download grants for the
 * attached blobs, all in one transaction. Returns the lowest operation result. */
static int build_envelopes(struct relay_conn *c, const proto_send *m, struct send_call *s)
{
	struct relay *r = c->relay;
	uint8_t blob_ids[PROTO_MAX_BLOBS_PER_SEND][16];
	for (uint32_t i = 0; i < m->blob_count; i++)
		memcpy(blob_ids[i], m->blobs[i], 16);
	struct mailbox_record rec = {
		.flags = m->receipts ? MAILBOX_FLAG_RECEIPTS : 0,
		.tenant = m->tenant.ptr, .tenant_len = m->tenant.ptr ? m->tenant.len : 0,
		.unit = m->unit.ptr, .unit_len = m->unit.ptr ? m->unit.len : 0,
		.n_blobs = m->blob_count, .blobs = blob_ids[0],
	};
	uint8_t header[MAILBOX_RECORD_HEADER_MAX];
	size_t hl = mailbox_record_header(&rec, header);
	size_t total = 0;
	for (uint32_t i = 0; i < m->env_count; i++)
		total += hl + m->env[i].ciphertext.len;
	struct store_recipient *rcpt = calloc(m->env_count, sizeof *rcpt);
	uint8_t *payloads = malloc(total ? total : 1);
	int op = STORE_ENOMEM;
	if (!rcpt || !payloads)
		goto done;
	uint64_t expires = relay_now_ms() + (uint64_t)r->cfg.envelope_ttl_seconds * 1000u;
	uint8_t *p = payloads;
	for (uint32_t i = 0; i < m->env_count; i++) {
		memcpy(p, header, hl);
		memcpy(p + hl, m->env[i].ciphertext.ptr, m->env[i].ciphertext.len);
		memcpy(rcpt[i].device_id, m->env[i].device, 16);
		rcpt[i].payload = p;
		rcpt[i].payload_len = hl + m->env[i].ciphertext.len;
		rcpt[i].expires_at_ms = expires;
		p += rcpt[i].payload_len;
	}
	struct store_send send = {
		.kind = STORE_KIND_ENVELOPE,
		.recipients = rcpt,
		.n_recipients = m->env_count,
	};
	memcpy(send.sender_account, c->account_id, 16);
	memcpy(send.sender_device, c->device_id, 16);
	memcpy(send.message_id, m->cmid, 16);
	op = store_req_store_envelopes(s->call.req, &send);
	/* Each recipient device may download the blobs until it acknowledges this envelope (not
	 * again for a resend of the same message). */
	if (op >= 0 && m->blob_count) {
		int bop = store_req_blob_ref(s->call.req, (const uint8_t(*)[16])blob_ids, m->blob_count,
					     (const uint8_t(*)[16])s->devices, m->env_count, expires, op);
		if (bop < 0)
			op = bop;
	}
done:
	free(payloads); /* the builders copied what they keep */
	free(rcpt);
	return op;
}

void handle_send(struct relay_conn *c, const proto_frame *f)
{
	struct relay *r = c->relay;
	uint64_t read_us = relay_metrics_now_us();
	const proto_send *m = &f->body.send;
	struct store_idempotency prior;
	if (store_get_idempotency(r->store, c->device_id, m->cmid, &prior, NULL, 0) == 0) {
		reply_stored(c, f->request_id, m->cmid, prior.stored_at_ms);
		return;
	}
	if (check_send(c, f) != 0)
		return;
	/* Only a send that would be stored spends from the device's budget: a resend is answered
	 * above, a refused one stores nothing. The error details (two arrays of
	 * PROTO_MAX_RECIPIENT_DEVICES pointers) are built only for a refusal: zeroing them for every
	 * send cost more than the rate check itself. */
	uint64_t retry_ms = 0;
	if (!relay_device_rate_take(r, c->device_id, RELAY_RATE_SENDS, r->cfg.sends_per_minute,
				    &retry_ms)) {
		proto_error_details rd = { 0 };
		rd.retry_ms = retry_ms;
		r->metrics.rate_limited++;
		r->metrics.sends_rejected++;
		relay_send_error(c, f->request_id, PROTO_E_RATE_LIMITED,
				 "too many sends from this device (sends_per_minute); nothing was stored", &rd);
		return;
	}
	struct send_call *s = (struct send_call *)relay_call_new(
		c, f->request_id, sizeof *s + (size_t)m->env_count * 16, stored);
	if (!s)
		return;
	s->call.refused = send_refused;
	s->read_us = read_us;
	/* The tenant the send addresses (a citizen writing to a unit), else the sender's own. */
	if (m->tenant.ptr && m->tenant.len < sizeof s->tenant)
		memcpy(s->tenant, m->tenant.ptr, m->tenant.len);
	else
		snprintf(s->tenant, sizeof s->tenant, "%s", c->tenant);
	memcpy(s->cmid, m->cmid, 16);
	if (c->account_kind == STORE_ACCOUNT_CASEWORKER &&
	    relay_webhook_enabled(r, m->tenant.ptr, m->tenant.len)) {
		struct store_account a;
		for (uint32_t i = 0; i < m->to_count && !s->webhook; i++)
			if (store_get_account(r->store, m->to[i], &a) == 0 &&
			    a.kind == STORE_ACCOUNT_CITIZEN) {
				s->webhook = true;
				memcpy(s->citizen, m->to[i], 16);
			}
	}
	s->n = m->env_count;
	for (uint32_t i = 0; i < m->env_count; i++)
		memcpy(s->devices[i], m->env[i].device, 16);
	relay_call_submit(c, &s->call, build_envelopes(c, m, s));
}
