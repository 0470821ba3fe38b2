/* SPDX-License-Identifier: MPL-2.0 */
#include "services/cluster.h"

#include <stdbool.h>
#include <string.h>

#include "core/log.h"
#include "net/conn.h"
#include "relay_state.h"
#include "services/delivery.h"
#include "services/liveness.h"
#include "services/notify.h"
#include "services/prekeys.h"
#include "services/receipts.h"
#include "wakks_protocol.h"
#include "wakks_storage.h"

void relay_cluster_device_gone(struct relay *r, const uint8_t device[16])
{
	struct relay_conn *victim = relay_conn_of_device(r, device);
	if (victim)
		relay_conn_close(victim, RELAY_CLOSE_REVOKED, "device revoked");
	struct relay_event ev = { .kind = RELAY_EV_DEVICE_GONE };
	memcpy(ev.id, device, 16);
	relay_cluster_broadcast(r, &ev);
}

void relay_cluster_device_bound(struct relay *r, const uint8_t device[16], uint64_t bound_ms)
{
	struct relay_event ev = { .kind = RELAY_EV_DEVICE_BOUND, .time_ms = bound_ms };
	memcpy(ev.id, device, 16);
	relay_cluster_broadcast(r, &ev);
}

/* ---- receiving ------------------------------------------------------------------------------ */

static void apply(struct relay *r, const struct relay_event *ev)
{
	const uint8_t *except = ev->has_except ? ev->except : NULL;
	struct relay_conn *c;
	switch (ev->kind) {
	case RELAY_EV_DEVICES_CHANGED:
		relay_notify_devices_changed_here(r, ev->id, except);
		break;
	case RELAY_EV_UNIT_DEVICES_CHANGED:
		relay_notify_unit_devices_changed_here(r, ev->id, except);
		break;
	case RELAY_EV_CONSENT_CHANGED:
		relay_notify_consent_changed_here(r, ev->id, except, ev->tenant, ev->unit, ev->type,
						  ev->time_ms);
		break;
	case RELAY_EV_DEVICE_GONE:
		/* The store says so too (the event follows the commit): re-read rather than trust. */
		c = relay_conn_of_device(r, ev->id);
		if (c && c->state == CONN_AUTHENTICATED)
			(void)relay_conn_still_live(c);
		break;
	case RELAY_EV_DEVICE_BOUND:
		/* One connection per device across the relays: the newer wins, as on one relay. */
		c = relay_conn_of_device(r, ev->id);
		if (c && c->state == CONN_AUTHENTICATED && c->bound_ms < ev->time_ms) {
			RLOG_INFO("conn", "replaced", "conn=%llu by=another_relay",
				  (unsigned long long)c->id);
			relay_conn_close(c, 4001, "replaced by a newer connection of this device");
		}
		relay_receipts_forward(r, ev->id);
		break;
	case RELAY_EV_RECEIPT:
		relay_receipt_push_here(r, ev->type, ev->id, ev->cmid, ev->account, ev->device,
					ev->time_ms);
		break;
	case RELAY_EV_PREKEYS_CHECK:
		relay_prekeys_check_here(r, ev->id);
		break;
	}
}

static void on_event(const uint8_t *msg, size_t len, void *data)
{
	struct relay *r = data;
	struct relay_event ev;
	if (relay_event_decode(msg, len, &ev) != 0) {
		r->metrics.cluster_events_malformed++;
		RLOG_WARN("cluster", "event_malformed", "bytes=%zu note=\"dropped\"", len);
		return;
	}
	if (r->stopping)
		return;
	r->metrics.cluster_events_received++;
	apply(r, &ev);
}

/* Envelopes another relay committed: pump the recipients connected here. The relay that stored
 * them decided about pushes to offline devices. NULL: notifications may have been missed, so
 * every connected device looks at its mailbox. */
static void on_wake(const uint8_t (*device_ids)[STORE_ID_BYTES], size_t n, void *data)
{
	struct relay *r = data;
	if (r->stopping)
		return;
	r->metrics.cluster_wakes++;
	if (!device_ids) {
		for (struct relay_conn *c = r->conns; c; c = c->next)
			if (c->state == CONN_AUTHENTICATED)
				relay_deliver_pump(c);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct relay_conn *c = relay_conn_of_device(r, device_ids[i]);
		if (c && c->state == CONN_AUTHENTICATED)
			relay_deliver_pump(c);
	}
}

void relay_cluster_start(struct relay *r)
{
	if (!store_shared(r->store))
		return;
	store_set_listeners(r->store, on_wake, on_event, r);
}
