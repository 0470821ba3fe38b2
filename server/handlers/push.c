/* SPDX-License-Identifier: MPL-2.0 */
/* Push subscriptions (spec/protocol.md §17): a device registers or removes how the relay may wake
 * it, and a browser asks for the relay's VAPID key. The subscription is stored durably before
 * `ok`; its endpoint, token and keys are never logged. */
#include <string.h>
#include <strings.h>

#include "handlers/call.h"
#include "handlers/handlers.h"
#include "net/conn.h"
#include "net/outgoing.h"
#include "relay_state.h"
#include "services/push.h"
#include "services/push_crypto.h"
#include "wakks_storage.h"

/* An https:// URL with a host name: what RFC 8030 push services hand out. Unless the
 * configuration allows it (tests), not localhost and not an IP literal: no push service uses one,
 * and a device must not make the relay POST to the relay's own network (spec/push.md §8). */
static bool endpoint_ok(const char *s, size_t len, bool allow_local)
{
	if (len <= 8 || memcmp(s, "https://", 8) != 0)
		return false;
	size_t end = 8;
	while (end < len && s[end] != '/' && s[end] != '?' && s[end] != '#' && s[end] != '@')
		end++;
	if (end == 8 || (end < len && s[end] == '@'))
		return false; /* no host, or user info */
	if (allow_local)
		return true;
	const char *host = s + 8;
	size_t hl = end - 8;
	if (host[0] == '[')
		return false; /* IPv6 literal */
	const char *colon = memchr(host, ':', hl);
	if (colon)
		hl = (size_t)(colon - host);
	bool digits_and_dots = hl > 0;
	for (size_t i = 0; i < hl; i++)
		digits_and_dots &= (host[i] >= '0' && host[i] <= '9') || host[i] == '.';
	static const char lh[] = "localhost";
	bool local = (hl == 9 && strncasecmp(host, lh, 9) == 0) ||
		     (hl > 10 && strncasecmp(host + hl - 10, ".localhost", 10) == 0);
	return !digits_and_dots && !local;
}

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
		if (!endpoint_ok(p->endpoint.ptr, p->endpoint.len, r->cfg.push.allow_local_endpoints) ||
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
