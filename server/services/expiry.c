/* SPDX-License-Identifier: MPL-2.0 */
/* The expiry pass: deletes envelopes and blobs past their time, and tells the sending device of
 * every envelope that expired unread. */
#include "services/expiry.h"

#include "core/clock.h"
#include "core/log.h"
#include "relay_state.h"
#include "services/blob_files.h"
#include "services/receipts.h"
#include "wakks_protocol.h"
#include "wakks_storage.h"

static void expire_done(struct store_req *req, int result, void *data)
{
	struct relay *r = data;
	r->expire_inflight = false;
	if (result != 0) {
		RLOG_ERROR("expiry", "failed", "error=\"%s\"", store_strerror(result));
		return;
	}
	relay_blob_removed(r, store_req_blob_removed(req, 1));
	const struct store_expire_result *e = store_req_expire_result(req, 0);
	if (!e || e->n == 0)
		return;
	r->metrics.envelopes_expired += e->n;
	RLOG_INFO("expiry", "expired", "envelopes=%zu more=%d", e->n, e->more);
	uint64_t now = relay_now_ms();
	for (size_t i = 0; i < e->n; i++) {
		const struct store_envelope_ref *ref = &e->items[i];
		if (ref->kind != STORE_KIND_ENVELOPE)
			continue;
		struct store_device dev;
		if (store_get_device(r->store, ref->device_id, &dev) != 0)
			continue;
		relay_receipt_post(r, PROTO_T_EXPIRED, ref->sender_device, ref->message_id,
				   dev.account_id, ref->device_id, now);
	}
}

void relay_expire_tick(struct relay *r)
{
	if (r->expire_inflight || !r->store)
		return;
	struct store_req *req = store_req_new(r->store, expire_done, r);
	if (!req)
		return;
	uint64_t now = relay_now_ms();
	/* Blobs past their expiry (unreferenced uploads, blobs whose envelopes all expired) go in
	 * the same pass. */
	if (store_req_expire(req, now, STORE_EXPIRE_MAX) < 0 ||
	    store_req_blob_expire(req, now, STORE_BLOB_EXPIRE_MAX) < 0) {
		store_req_free(req);
		return;
	}
	if (store_submit(req) == 0)
		r->expire_inflight = true;
}
