/* SPDX-License-Identifier: MPL-2.0 */
/* auth: a registered device proves possession of its identity key by signing this connection's
 * challenge. A failure closes the connection: a device that knows its key never fails. */
#include <string.h>

#include <sodium.h>

#include "conn.h"
#include "delivery.h"
#include "frames.h"
#include "handler_table.h"
#include "log.h"
#include "receipts.h"
#include "keydir.h"
#include "relay.h"
#include "wakks_storage.h"

void handle_auth(struct relay_conn *c, const proto_frame *f)
{
	struct relay *r = c->relay;
	const proto_auth *a = &f->body.auth;
	struct store_device dev;
	uint8_t msg[PROTO_AUTH_MSG_BYTES];
	proto_auth_message(msg, c->challenge, a->device);

	int rc = store_get_device(r->store, a->device, &dev);
	if (rc != 0 || crypto_sign_verify_detached(a->sig, msg, sizeof msg, dev.identity_key) != 0) {
		r->metrics.auth_failed++;
		RLOG_INFO("auth", "failed", "conn=%llu peer=%s reason=%s", (unsigned long long)c->id,
			  c->peer, rc != 0 ? "unknown_device" : "bad_signature");
		relay_send_error(c, f->request_id, PROTO_E_AUTH_FAILED, "authentication failed", NULL);
		relay_conn_close(c, 4003, "authentication failed");
		return;
	}
	if (dev.revoked) {
		r->metrics.auth_failed++;
		RLOG_INFO("auth", "revoked_device", "conn=%llu", (unsigned long long)c->id);
		relay_send_error(c, f->request_id, PROTO_E_FORBIDDEN, "this device has been revoked", NULL);
		relay_conn_close(c, 4004, "device revoked");
		return;
	}
	relay_conn_authenticated(c, dev.id, dev.account_id);
	proto_frame *out = relay_tx_frame(r, PROTO_T_AUTH_OK, f->request_id);
	out->body.auth_ok.account = dev.account_id;
	relay_send_frame(c, out);
	relay_prekeys_check(r, dev.id);
	relay_receipts_flush(c);
	relay_deliver_pump(c);
}
