/* SPDX-License-Identifier: MPL-2.0 */
/* Key directory: one-time prekey uploads, signed prekey rotation, key count, and bundle fetches
 * that hand out each one-time prekey exactly once (the take happens in the storage writer). */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "handlers/call.h"
#include "handlers/handlers.h"
#include "net/conn.h"
#include "net/outgoing.h"
#include "relay_state.h"
#include "services/devset.h"
#include "services/device_rate.h"
#include "services/peer_access.h"
#include "services/prekeys.h"
#include "wakks_storage.h"

static const char prekey_limit[] =
	"the relay holds the maximum number of one-time prekeys for this device";

static void send_key_count(struct relay_conn *c, uint32_t request_id)
{
	uint32_t n = 0;
	if (store_count_one_time_prekeys(c->relay->store, c->device_id, &n) != 0) {
		relay_send_error(c, request_id, PROTO_E_INTERNAL, "key count unreadable", NULL);
		return;
	}
	proto_frame *out = relay_tx_frame(c->relay, PROTO_T_KEY_COUNT, request_id);
	out->body.key_count.count = n;
	relay_send_frame(c, out);
}

/* prekeys_upload is answered with the new key count once the keys are durable. */
static void uploaded(struct relay_call *call, struct relay_conn *c)
{
	if (c)
		send_key_count(c, call->from.request_id);
}

void handle_prekeys_upload(struct relay_conn *c, const proto_frame *f)
{
	const proto_prekeys_upload *u = &f->body.prekeys_upload;
	struct store_prekey keys[PROTO_MAX_PREKEYS_PER_UPLOAD];
	for (uint32_t i = 0; i < u->opk_count; i++) {
		keys[i].id = u->opk[i].id;
		memcpy(keys[i].public_key, u->opk[i].pub, 32);
	}
	struct relay_call *call = relay_call_new(c, f->request_id, sizeof *call, uploaded);
	if (!call)
		return;
	call->limit_text = prekey_limit;
	relay_call_submit(c, call, store_req_add_one_time_prekeys(call->req, c->device_id, keys, u->opk_count));
}

void handle_spk_rotate(struct relay_conn *c, const proto_frame *f)
{
	struct relay *r = c->relay;
	const proto_signed_prekey *spk = &f->body.spk_rotate.spk;
	struct store_device dev;
	if (store_get_device(r->store, c->device_id, &dev) != 0) {
		relay_send_error(c, f->request_id, PROTO_E_INTERNAL, "device record unreadable", NULL);
		return;
	}
	/* A rotation must bring a new key under a new id (spec/protocol.md §6.2): a peer that
	 * fetched the old bundle tells the two apart by id alone. */
	struct store_signed_prekey current;
	if (store_get_signed_prekey(r->store, c->device_id, &current) == 0 && current.id == spk->id) {
		relay_send_error(c, f->request_id, PROTO_E_INVALID,
				 "the signed prekey id is the current one; a rotation needs a new id", NULL);
		return;
	}
	if (relay_spk_verify(dev.identity_key, spk) != 0) {
		relay_send_error(c, f->request_id, PROTO_E_BAD_SIGNATURE,
				 "signed prekey signature does not verify with this device's identity key",
				 NULL);
		return;
	}
	struct store_signed_prekey s = { .id = spk->id, .created_ms = spk->time };
	memcpy(s.public_key, spk->pub, 32);
	memcpy(s.signature, spk->sig, 64);
	struct relay_call *call = relay_call_new(c, f->request_id, sizeof *call, NULL);
	if (call)
		relay_call_submit(c, call, store_req_put_signed_prekey(call->req, c->device_id, &s));
}

void handle_key_count_get(struct relay_conn *c, const proto_frame *f)
{
	send_key_count(c, f->request_id);
}

/* ---- bundles --------------------------------------------------------------------------------- */

struct bundle_call {
	struct relay_call call;
	struct relay_devset set;
	struct store_signed_prekey spks[PROTO_MAX_DEVICE_SET]; /* outlive the reply's encode */
};

static void bundles_taken(struct relay_call *call, struct relay_conn *c)
{
	struct bundle_call *b = (struct bundle_call *)call;
	struct relay *r = call->from.relay;
	const struct store_take_result *taken = store_req_take_result(call->req, 0);
	if (c && taken) {
		proto_frame *out = relay_tx_frame(r, PROTO_T_BUNDLES, call->from.request_id);
		proto_bundles *list = &out->body.bundles;
		for (size_t i = 0; i < b->set.n && i < taken->n; i++) {
			const struct relay_devset_entry *e = &b->set.e[i];
			struct store_signed_prekey *spk = &b->spks[list->count];
			if (store_get_signed_prekey(r->store, e->device, spk) != 0)
				continue; /* a device without a signed prekey cannot be messaged */
			proto_bundle *bd = &list->list[list->count++];
			bd->account = e->account;
			bd->device = e->device;
			bd->identity_key = e->identity_key;
			bd->spk.id = spk->id;
			bd->spk.pub = spk->public_key;
			bd->spk.time = spk->created_ms;
			bd->spk.sig = spk->signature;
			if (taken->keys[i].found) {
				bd->has_opk = true;
				bd->opk.id = taken->keys[i].key.id;
				bd->opk.pub = taken->keys[i].key.public_key;
			}
		}
		relay_send_frame(c, out);
	}
	for (size_t i = 0; i < b->set.n; i++)
		relay_prekeys_check(r, b->set.e[i].device);
}

/* `devs` narrows the fetch to single devices of the addressee (spec/protocol.md §6.4): a sender
 * lacking sessions with only some devices spends one prekey of each of those, not one of every
 * member. Named devices that are not (or no longer) in the set are left out, as they would be
 * from a fresh device set. */
static void keep_named_devices(struct relay_devset *set, const proto_target *t)
{
	size_t kept = 0;
	for (size_t i = 0; i < set->n; i++) {
		bool named = false;
		for (uint32_t j = 0; j < t->dev_count && !named; j++)
			named = memcmp(set->e[i].device, t->devs[j], 16) == 0;
		if (named)
			set->e[kept++] = set->e[i];
	}
	set->n = kept;
}

void handle_bundles_fetch(struct relay_conn *c, const proto_frame *f)
{
	struct relay *r = c->relay;
	const char *why = NULL;
	int rc = relay_peer_access(c, &f->body.bundles_fetch, &why);
	if (rc != 0) {
		relay_send_error(c, f->request_id, rc, why, NULL);
		return;
	}
	proto_error_details d = { 0 };
	if (!relay_device_rate_take(r, c->device_id, RELAY_RATE_BUNDLES, r->cfg.bundle_fetches_per_minute,
				    &d.retry_ms)) {
		r->metrics.rate_limited++;
		relay_send_error(c, f->request_id, PROTO_E_RATE_LIMITED,
				 "too many bundle fetches from this device (bundle_fetches_per_minute)", &d);
		return;
	}
	struct bundle_call *b = (struct bundle_call *)relay_call_new(c, f->request_id, sizeof *b,
								    bundles_taken);
	if (!b)
		return;
	const proto_target *t = &f->body.bundles_fetch;
	rc = relay_devset_add_target(r, &b->set, t);
	size_t whole = b->set.n;
	if (rc == 0 && t->dev_count)
		keep_named_devices(&b->set, t);
	RLOG_DEBUG("keys", "bundles_fetch", "conn=%llu set=%zu named=%u taken=%zu", (unsigned long long)c->id,
		   whole, t->dev_count, b->set.n);
	if (rc != 0 || b->set.n == 0) {
		rc = rc ? rc : PROTO_E_NOT_FOUND;
		relay_send_error(c, f->request_id, rc,
				 relay_devset_error_text(rc, "no such account or unit, or none of the named devices"),
				 NULL);
		relay_call_cancel(&b->call);
		return;
	}
	uint8_t(*ids)[16] = malloc(b->set.n * 16);
	if (!ids) {
		relay_call_submit(c, &b->call, STORE_ENOMEM);
		return;
	}
	for (size_t i = 0; i < b->set.n; i++)
		memcpy(ids[i], b->set.e[i].device, 16);
	int op = store_req_take_one_time_prekeys(b->call.req, (const uint8_t(*)[16])ids, b->set.n);
	free(ids);
	relay_call_submit(c, &b->call, op);
}
