/* SPDX-License-Identifier: MPL-2.0 */
/* The account's own devices: list them, and revoke one (a lost phone). A revoked device can no
 * longer authenticate, loses its prekeys, and its live connection is closed. */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "handlers/call.h"
#include "handlers/handlers.h"
#include "net/conn.h"
#include "net/outgoing.h"
#include "relay_state.h"
#include "services/audit_log.h"
#include "services/notify.h"
#include "wakks_storage.h"
#include "services/cluster.h"

void handle_devices_list(struct relay_conn *c, const proto_frame *f)
{
	struct relay *r = c->relay;
	struct store_device devices[PROTO_MAX_DEVICES_PER_ACCOUNT];
	size_t n = 0;
	if (store_list_devices(r->store, c->account_id, false, devices,
			       PROTO_MAX_DEVICES_PER_ACCOUNT, &n) != 0) {
		relay_send_error(c, f->request_id, PROTO_E_INTERNAL, "device list unreadable", NULL);
		return;
	}
	if (n > PROTO_MAX_DEVICES_PER_ACCOUNT)
		n = PROTO_MAX_DEVICES_PER_ACCOUNT;
	proto_frame *out = relay_tx_frame(r, PROTO_T_DEVICES, f->request_id);
	for (size_t i = 0; i < n; i++) {
		proto_device_info *d = &out->body.devices.list[out->body.devices.count++];
		d->device = devices[i].id;
		d->identity_key = devices[i].identity_key;
		d->time = devices[i].created_ms;
		/* The label as the device gave it (none: the key is left out). */
		if (devices[i].label_len)
			d->label = (proto_str){ devices[i].label, devices[i].label_len };
	}
	relay_send_frame(c, out);
}

struct revoke_call {
	struct relay_call call;
	uint8_t device[16];
	uint8_t account[16];
};

struct purge_ctx {
	struct relay *relay;
	uint8_t device[16];
};

static void purge_done(struct store_req *req, int result, void *data);

/* Deletes the next part of a revoked device's mailbox; called again until it is empty. */
static void mailbox_purge(struct relay *r, const uint8_t device[16])
{
	struct purge_ctx *p = malloc(sizeof *p);
	struct store_req *req = p ? store_req_new(r->store, purge_done, p) : NULL;
	if (!req || store_req_delete_mailbox(req, device) < 0) {
		store_req_free(req);
		free(p);
		return;
	}
	p->relay = r;
	memcpy(p->device, device, 16);
	if (store_submit(req) != 0)
		free(p);
}

static void purge_done(struct store_req *req, int result, void *data)
{
	struct purge_ctx *p = data;
	const struct store_delete_mailbox_result *m =
		result == 0 ? store_req_delete_mailbox_result(req, 0) : NULL;
	if (m && m->more && !p->relay->stopping)
		mailbox_purge(p->relay, p->device);
	free(p);
}

static void revoked(struct relay_call *call, struct relay_conn *c)
{
	struct revoke_call *k = (struct revoke_call *)call;
	struct relay *r = call->from.relay;
	RLOG_INFO("devices", "revoked", "by_conn=%llu", (unsigned long long)call->from.conn_id);
	const struct store_delete_mailbox_result *m = store_req_delete_mailbox_result(call->req, 1);
	if (m && m->more)
		mailbox_purge(r, k->device);
	/* ok first: a device revoking itself (a logout) still hears it before the close. */
	if (c)
		relay_send_ok(c, call->from.request_id);
	relay_cluster_device_gone(r, k->device);
	relay_notify_devices_changed(r, k->account, k->device);
}

void handle_device_revoke(struct relay_conn *c, const proto_frame *f)
{
	struct relay *r = c->relay;
	const uint8_t *target = f->body.device_revoke.device;
	struct store_device dev;
	if (store_get_device(r->store, target, &dev) != 0 ||
	    memcmp(dev.account_id, c->account_id, 16) != 0) {
		/* Another account's device looks the same as no device at all. */
		relay_send_error(c, f->request_id, PROTO_E_NOT_FOUND, "no such device on this account", NULL);
		return;
	}
	struct revoke_call *k = (struct revoke_call *)relay_call_new(c, f->request_id, sizeof *k, revoked);
	if (!k)
		return;
	memcpy(k->device, target, 16);
	memcpy(k->account, dev.account_id, 16);
	uint8_t subjects[2][16];
	memcpy(subjects[0], dev.account_id, 16);
	memcpy(subjects[1], target, 16);
	uint64_t now = relay_now_ms();
	/* Revocation drops the device's prekeys and mailbox in the same transaction; a mailbox larger
	 * than one operation's bound is finished by follow-up requests (mailbox_purge). */
	int op = store_req_revoke_device(k->call.req, target, now);
	if (op >= 0)
		op = store_req_delete_mailbox(k->call.req, target);
	if (op >= 0)
		op = relay_audit_append(k->call.req, ID_AUDIT_DEVICE_REVOKED, now,
					(const uint8_t(*)[16])subjects, 2, "self", 4);
	relay_call_submit(c, &k->call, op);
}
