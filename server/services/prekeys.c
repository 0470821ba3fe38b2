/* SPDX-License-Identifier: MPL-2.0 */
#include "services/prekeys.h"

#include <string.h>

#include "net/conn.h"
#include "net/outgoing.h"
#include "relay_state.h"
#include "services/cluster_events.h"
#include "wakks_crypto.h"
#include "wakks_storage.h"

int relay_spk_verify(const uint8_t identity_key[32], const proto_signed_prekey *spk)
{
	return wc_signed_prekey_verify(identity_key, spk->id, spk->pub, spk->time, spk->sig);
}

void relay_prekeys_check(struct relay *r, const uint8_t device_id[16])
{
	if (!relay_conn_of_device(r, device_id) && store_shared(r->store)) {
		/* Perhaps connected to another relay on the same store: that one tells it. */
		struct relay_event ev = { .kind = RELAY_EV_PREKEYS_CHECK };
		memcpy(ev.id, device_id, 16);
		relay_cluster_broadcast(r, &ev);
		return;
	}
	relay_prekeys_check_here(r, device_id);
}

void relay_prekeys_check_here(struct relay *r, const uint8_t device_id[16])
{
	struct relay_conn *c = relay_conn_of_device(r, device_id);
	uint32_t n = 0;
	if (!c || c->state != CONN_AUTHENTICATED ||
	    store_count_one_time_prekeys(r->store, device_id, &n) != 0 ||
	    n >= r->cfg.prekeys_low_watermark)
		return;
	proto_frame *out = relay_tx_frame(r, PROTO_T_PREKEYS_LOW, 0);
	out->body.prekeys_low.count = n;
	relay_send_frame(c, out);
}
