/* SPDX-License-Identifier: MPL-2.0 */
#include "services/notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/conn.h"
#include "net/outgoing.h"
#include "relay_state.h"
#include "services/cluster_events.h"
#include "services/devset.h"
#include "wakks_storage.h"

/* Pushes the frame in r->tx_frame to every online device of the set but `except`. The frame is
 * encoded once per device; sets are small (an account's devices, a unit's caseworkers). */
static void push_to_set(struct relay *r, const struct relay_devset *set, const uint8_t *except,
			const proto_frame *f)
{
	for (size_t i = 0; i < set->n; i++) {
		if (except && memcmp(set->e[i].device, except, 16) == 0)
			continue;
		struct relay_conn *c = relay_conn_of_device(r, set->e[i].device);
		if (c && c->state == CONN_AUTHENTICATED)
			relay_send_frame(c, f);
	}
}

/* The event that repeats a notice on the other relays (services/cluster.h). */
static void broadcast(struct relay *r, uint8_t kind, const uint8_t id[16], const uint8_t *except,
		      const char *tenant, const char *unit, uint32_t type, uint64_t time_ms)
{
	struct relay_event ev = { .kind = kind, .type = type, .time_ms = time_ms };
	memcpy(ev.id, id, 16);
	if (except) {
		ev.has_except = true;
		memcpy(ev.except, except, 16);
	}
	snprintf(ev.tenant, sizeof ev.tenant, "%s", tenant ? tenant : "");
	snprintf(ev.unit, sizeof ev.unit, "%s", unit ? unit : "");
	relay_cluster_broadcast(r, &ev);
}

void relay_notify_devices_changed(struct relay *r, const uint8_t account[16], const uint8_t *except)
{
	relay_notify_devices_changed_here(r, account, except);
	broadcast(r, RELAY_EV_DEVICES_CHANGED, account, except, NULL, NULL, 0, 0);
}

void relay_notify_devices_changed_here(struct relay *r, const uint8_t account[16],
				       const uint8_t *except)
{
	struct relay_devset *set = calloc(1, sizeof *set);
	if (!set)
		return;
	uint8_t acc[16];
	memcpy(acc, account, 16);
	if (relay_devset_add_account(r, set, acc) == 0) {
		proto_frame *f = relay_tx_frame(r, PROTO_T_DEVICES_CHANGED, 0);
		f->body.devices_changed.account = acc;
		push_to_set(r, set, except, f);
	}
	free(set);
}

void relay_notify_consent_changed(struct relay *r, const uint8_t citizen[16],
				  const uint8_t *except, const char *tenant, const char *unit,
				  uint32_t kind, uint64_t time_ms)
{
	relay_notify_consent_changed_here(r, citizen, except, tenant, unit, kind, time_ms);
	broadcast(r, RELAY_EV_CONSENT_CHANGED, citizen, except, tenant, unit, kind, time_ms);
}

void relay_notify_consent_changed_here(struct relay *r, const uint8_t citizen[16],
				       const uint8_t *except, const char *tenant, const char *unit,
				       uint32_t kind, uint64_t time_ms)
{
	struct relay_devset *set = calloc(1, sizeof *set);
	if (!set)
		return;
	uint8_t acc[16];
	memcpy(acc, citizen, 16);
	int rc = relay_devset_add_account(r, set, acc);
	const struct relay_tenant_config *t = relay_config_tenant(&r->cfg, tenant);
	for (int i = 0; rc == 0 && t && i < t->unit_count; i++)
		if (!unit[0] || strcmp(unit, t->units[i].id) == 0)
			rc = relay_devset_add_unit(r, set, tenant, strlen(tenant), t->units[i].id,
						   strlen(t->units[i].id));
	proto_frame *f = relay_tx_frame(r, PROTO_T_CONSENT_CHANGED, 0);
	proto_consent_changed *b = &f->body.consent_changed;
	b->account = acc;
	b->tenant = (proto_str){ tenant, strlen(tenant) };
	if (unit[0])
		b->unit = (proto_str){ unit, strlen(unit) };
	b->kind = kind;
	b->time = time_ms;
	/* A set that overflowed still reaches the devices it holds. */
	push_to_set(r, set, except, f);
	free(set);
}

/* One unit's push: to its member devices but the new one. */
static void push_unit(struct relay *r, struct relay_devset *set, const char *tenant,
		      const char *unit, const uint8_t *except)
{
	set->n = 0;
	if (relay_devset_add_unit(r, set, tenant, strlen(tenant), unit, strlen(unit)) != 0 &&
	    set->n == 0)
		return;
	proto_frame *f = relay_tx_frame(r, PROTO_T_UNIT_DEVICES_CHANGED, 0);
	f->body.unit_devices_changed.tenant = (proto_str){ tenant, strlen(tenant) };
	f->body.unit_devices_changed.unit = (proto_str){ unit, strlen(unit) };
	push_to_set(r, set, except, f);
}

void relay_notify_unit_devices_changed(struct relay *r, const uint8_t account[16],
				       const uint8_t *except)
{
	relay_notify_unit_devices_changed_here(r, account, except);
	broadcast(r, RELAY_EV_UNIT_DEVICES_CHANGED, account, except, NULL, NULL, 0, 0);
}

void relay_notify_unit_devices_changed_here(struct relay *r, const uint8_t account[16],
					    const uint8_t *except)
{
	struct store_account acc;
	if (store_get_account(r->store, account, &acc) != 0)
		return;
	if (acc.kind != STORE_ACCOUNT_CASEWORKER && acc.kind != STORE_ACCOUNT_JOURNAL)
		return;
	struct relay_devset *set = calloc(1, sizeof *set);
	if (!set)
		return;
	if (acc.kind == STORE_ACCOUNT_JOURNAL) {
		/* The journal device belongs to every unit of its tenant. */
		const struct relay_tenant_config *t = relay_config_tenant(&r->cfg, acc.tenant);
		for (int i = 0; t && i < t->unit_count; i++)
			push_unit(r, set, acc.tenant, t->units[i].id, except);
	} else {
		for (uint8_t i = 0; i < acc.n_units && i < STORE_ACCOUNT_UNITS_MAX; i++)
			push_unit(r, set, acc.tenant, acc.units[i], except);
	}
	free(set);
}
