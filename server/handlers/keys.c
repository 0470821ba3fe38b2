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
#include "relay.h"
#include "services/devset.h"
#include "services/prekeys.h"
#include "wakks_storage.h"

static const char prekey_limit[] =
	"the relay holds the maximum number of one-time prekeys for this device";

/* prekeys_upload is answered with the new key count once the keys are durable. */
struct upload_ctx {
	struct relay *relay;
	uint64_t conn_id;
	uint32_t request_id;
};

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

static void upload_done(struct store_req *req, int result, void *data)
{
	(void)req;
	struct upload_ctx *k = data;
	struct relay_conn *c = relay_conn_find(k->relay, k->conn_id);
	if (c && result == 0)
		send_key_count(c, k->request_id);
	else if (c)
		relay_send_store_error(c, k->request_id, result, prekey_limit);
	free(k);
}

void handle_prekeys_upload(struct relay_conn *c, const proto_frame *f)
{
	const proto_prekeys_upload *u = &f->body.prekeys_upload;
	struct store_prekey keys[PROTO_MAX_PREKEYS_PER_UPLOAD];
	for (uint32_t i = 0; i < u->opk_count; i++) {
		keys[i].id = u->opk[i].id;
		memcpy(keys[i].public_key, u->opk[i].pub, 32);
	}
	struct upload_ctx *k = calloc(1, sizeof *k);
	struct store_req *req = k ? store_req_new(c->relay->store, upload_done, k) : NULL;
	int op = req ? store_req_add_one_time_prekeys(req, c->device_id, keys, u->opk_count) : STORE_ENOMEM;
	if (op >= 0) {
		k->relay = c->relay;
		k->conn_id = c->id;
		k->request_id = f->request_id;
		op = store_submit(req);
		req = NULL;
	}
	if (op < 0) {
		relay_send_store_error(c, f->request_id, op, prekey_limit);
		store_req_free(req);
		free(k);
	}
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
	if (relay_spk_verify(dev.identity_key, spk) != 0) {
		relay_send_error(c, f->request_id, PROTO_E_BAD_SIGNATURE,
				 "signed prekey signature does not verify with this device's identity key",
				 NULL);
		return;
	}
	struct store_signed_prekey s = { .id = spk->id, .created_ms = spk->time };
	memcpy(s.public_key, spk->pub, 32);
	memcpy(s.signature, spk->sig, 64);
	struct relay_ok_request *k = relay_ok_request_new(c, f->request_id, NULL);
	if (k)
		relay_ok_request_submit(c, k, store_req_put_signed_prekey(k->req, c->device_id, &s));
}

void handle_key_count_get(struct relay_conn *c, const proto_frame *f)
{
	send_key_count(c, f->request_id);
}

/* ---- bundles --------------------------------------------------------------------------------- */

struct bundle_ctx {
	struct relay *relay;
	uint64_t conn_id;
	uint32_t request_id;
	struct relay_devset set;
	struct store_signed_prekey spks[PROTO_MAX_DEVICE_SET]; /* outlive the reply's encode */
};

static void bundles_done(struct store_req *req, int result, void *data)
{
	struct bundle_ctx *b = data;
	struct relay *r = b->relay;
	struct relay_conn *c = relay_conn_find(r, b->conn_id);
	const struct store_take_result *taken = result == 0 ? store_req_take_result(req, 0) : NULL;
	if (!taken) {
		if (c)
			relay_send_error(c, b->request_id, PROTO_E_UNAVAILABLE, store_strerror(result), NULL);
		free(b);
		return;
	}
	if (c) {
		proto_frame *out = relay_tx_frame(r, PROTO_T_BUNDLES, b->request_id);
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
	free(b);
}

void handle_bundles_fetch(struct relay_conn *c, const proto_frame *f)
{
	struct relay *r = c->relay;
	struct bundle_ctx *b = calloc(1, sizeof *b);
	if (!b) {
		relay_send_error(c, f->request_id, PROTO_E_INTERNAL, "out of memory", NULL);
		return;
	}
	int rc = relay_devset_add_target(r, &b->set, &f->body.bundles_fetch);
	if (rc != 0 || b->set.n == 0) {
		relay_send_error(c, f->request_id, rc ? rc : PROTO_E_NOT_FOUND,
				 rc == PROTO_E_OVER_LIMIT ? "device set too large"
							  : "no such account or unit, or it has no devices",
				 NULL);
		free(b);
		return;
	}
	b->relay = r;
	b->conn_id = c->id;
	b->request_id = f->request_id;
	uint8_t(*ids)[16] = malloc(b->set.n * 16);
	struct store_req *req = ids ? store_req_new(r->store, bundles_done, b) : NULL;
	if (!req) {
		free(ids);
		free(b);
		relay_send_error(c, f->request_id, PROTO_E_INTERNAL, "out of memory", NULL);
		return;
	}
	for (size_t i = 0; i < b->set.n; i++)
		memcpy(ids[i], b->set.e[i].device, 16);
	int op = store_req_take_one_time_prekeys(req, (const uint8_t(*)[16])ids, b->set.n);
	free(ids);
	if (op < 0) {
		store_req_free(req);
		free(b);
		relay_send_error(c, f->request_id, PROTO_E_INTERNAL, store_strerror(op), NULL);
		return;
	}
	if (store_submit(req) != 0) {
		free(b);
		relay_send_error(c, f->request_id, PROTO_E_UNAVAILABLE, "the relay is shutting down", NULL);
	}
}
