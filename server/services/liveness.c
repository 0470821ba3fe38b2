/* SPDX-License-Identifier: MPL-2.0 */
#include "services/liveness.h"

#include "core/log.h"
#include "net/conn.h"
#include "relay_state.h"
#include "wakks_storage.h"

bool relay_conn_still_live(struct relay_conn *c)
{
	if (c->state != CONN_AUTHENTICATED)
		return c->state != CONN_CLOSING;
	struct store_device dev;
	int rc = store_get_device(c->relay->store, c->device_id, &dev);
	if (rc == 0 && !dev.revoked)
		return true;
	if (rc != 0 && rc != STORE_ENOTFOUND)
		return true;
	RLOG_INFO("conn", "device_gone", "conn=%llu reason=%s", (unsigned long long)c->id,
		  rc == 0 ? "revoked" : "erased");
	relay_conn_close(c, RELAY_CLOSE_REVOKED, "device revoked");
	return false;
}

void relay_liveness_tick(struct relay *r)
{
	uint64_t seq = 0;
	uint8_t hash[STORE_AUDIT_HASH_BYTES];
	if (store_audit_head(r->store, &seq, hash) != 0 || seq == r->liveness_audit_seq)
		return;
	r->liveness_audit_seq = seq;
	for (struct relay_conn *c = r->conns; c; c = c->next)
		if (c->state == CONN_AUTHENTICATED)
			(void)relay_conn_still_live(c);
}
