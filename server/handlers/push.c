/* SPDX-License-Identifier: MPL-2.0 */
/* Push subscriptions (spec/protocol.md §17): a device registers or removes how the relay may wake
 * it, and a browser asks for the relay's VAPID key. The subscription is stored durably before
 * `ok`; its endpoint, token and keys are never logged. */
#include <string.h>

#include "handlers/call.h"
#include "handlers/handlers.h"
#include "net/conn.h"
#include "net/outgoing.h"
#include "relay_state.h"
#include "services/push.h"
#include "services/push_crypto.h"
#include "wakks_storage.h"

void handle_push_register(struct relay_conn *c, const proto_frame *f)
{
	struct relay *r = c->relay;
	const proto_push_register *p = &f->body.push_register;
	struct store_push_sub sub;
	memset(&sub, 0, sizeof sub);
	sub.kind = (uint8_t)p->kind;
	if (p->kind == PROTO_PUSH_WEB) {
		if (!relay_push_vapid_public(r)) {
			relay_send_error(c, f->request_id, PROTO_E_UNAVAILABLE,
					 "Web Push is not enabled on this relay", NULL);
			return;
		}
		if (!relay_push_endpoint_ok(p->endpoint.ptr, p->endpoint.len, r->cfg.push.allow_local_endpoints) ||
		    !push_p256_point_valid(p->p256dh)) {
			relay_send_error(c, f->request_id, PROTO_E_INVALID,
					 "ep must be an https URL and p256dh a P-256 point", NULL);
			return;
		}
		memcpy(sub.p256dh, p->p256dh, sizeof sub.p256dh);
		memcpy(sub.auth, p->auth, sizeof sub.auth);
		memcpy(sub.addr, p->endpoint.ptr, p->endpoint.len);
		sub.addr_len = p->endpoint.len;
	} else {
		if (!relay_push_app(r, p->kind, p->app.ptr, p->app.len)) {
			relay_send_error(c, f->request_id, PROTO_E_NOT_FOUND,
					 "no such app of this kind in the relay's configuration", NULL);
			return;
		}
		memcpy(sub.app, p->app.ptr, p->app.len);
		memcpy(sub.addr, p->token.ptr, p->token.len);
		sub.addr_len = p->token.len;
	}
	struct relay_call *call = relay_call_new(c, f->request_id, sizeof *call, NULL);
	if (!call)
		return;
	relay_call_submit(c, call, store_req_put_push_sub(call->req, c->device_id, &sub));
}

void handle_push_remove(struct relay_conn *c, const proto_frame *f)
{
	struct relay_call *call = relay_call_new(c, f->request_id, sizeof *call, NULL);
	if (!call)
		return;
	relay_call_submit(c, call, store_req_delete_push_sub(call->req, c->device_id, 0));
}

void handle_push_key_get(struct relay_conn *c, const proto_frame *f)
{
	const uint8_t *key = relay_push_vapid_public(c->relay);
	if (!key) {
		relay_send_error(c, f->request_id, PROTO_E_UNAVAILABLE,
				 "Web Push is not enabled on this relay", NULL);
		return;
	}
	proto_frame *out = relay_tx_frame(c->relay, PROTO_T_PUSH_KEY, f->request_id);
	out->body.push_key.vapid = key;
	relay_send_frame(c, out);
}
