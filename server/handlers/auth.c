/* SPDX-License-Identifier: MPL-2.0 */
/* auth: a registered device proves possession of its identity key by signing this connection's
 * challenge. A failure closes the connection: a device that knows its key never fails. */
#include <string.h>

#include <sodium.h>

#include "core/log.h"
#include "handlers/handlers.h"
#include "net/conn.h"
#include "net/outgoing.h"
#include "relay_state.h"
#include "services/metrics.h"
#include "services/delivery.h"
#include "services/prekeys.h"
#include "services/receipts.h"
#include "wakks_storage.h"
#include "services/cluster.h"

void handle_auth(struct relay_conn *c, const proto_frame *f)
{
	struct relay *r = c->relay;
	const proto_auth *a = &f->body.auth;
	struct store_device dev;
	uint8_t msg[PROTO_AUTH_MSG_BYTES];
	proto_auth_message(msg, c->challenge, a->device);
	if (c->registering) {
		relay_send_error(c, f->request_id, PROTO_E_ALREADY_AUTHENTICATED,
				 "a registration on this connection is being stored", NULL);
		return;
	}

	/* One refusal for an unknown device, a revoked one and a bad signature (spec/protocol.md
	 * §4.2): the reply says nothing about which; the log does. */
	int rc = store_get_device(r->store, a->device, &dev);
	const char *reason = rc != 0 ? "unknown_device"
			     : crypto_sign_verify_detached(a->sig, msg, sizeof msg, dev.identity_key) != 0
				     ? "bad_signature"
				     : dev.revoked ? "revoked_device" : NULL;
	if (reason) {
		r->metrics.auth_failed++;
		r->metrics.identity_failures[rc != 0 ? RELAY_IDFAIL_UNKNOWN_DEVICE
					     : reason[0] == 'r' ? RELAY_IDFAIL_REVOKED_DEVICE
								: RELAY_IDFAIL_BAD_SIGNATURE]++;
		RLOG_INFO("auth", "failed", "conn=%llu peer=%s reason=%s", (unsigned long long)c->id,
			  c->peer, reason);
		relay_send_error(c, f->request_id, PROTO_E_AUTH_FAILED, "authentication failed", NULL);
		relay_conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "authentication failed");
		return;
	}
	relay_conn_authenticated(c, dev.id, dev.account_id);
	relay_cluster_device_bound(r, dev.id, c->bound_ms);
	proto_frame *out = relay_tx_frame(r, PROTO_T_AUTH_OK, f->request_id);
	out->body.auth_ok.account = dev.account_id;
	relay_send_frame(c, out);
	relay_prekeys_check(r, dev.id);
	relay_receipts_flush(c);
	relay_deliver_pump(c);
}
