/* SPDX-License-Identifier: MPL-2.0 */
/* Directory: the configured tenants and their units, and the current device set of an account or
 * unit (what a sender must encrypt for). */
#include <string.h>

#include "handlers/handlers.h"
#include "net/conn.h"
#include "net/outgoing.h"
#include "relay_state.h"
#include "services/devset.h"
#include "services/peer_access.h"

static proto_str str_view(const char *s)
{
	return (proto_str){ s, strlen(s) };
}

void handle_tenants_list(struct relay_conn *c, const proto_frame *f)
{
	struct relay *r = c->relay;
	proto_frame *out = relay_tx_frame(r, PROTO_T_TENANTS, f->request_id);
	for (int i = 0; i < r->cfg.tenant_count && i < (int)PROTO_MAX_TENANTS; i++) {
		proto_directory_entry *e = &out->body.tenants.list[out->body.tenants.count++];
		e->id = str_view(r->cfg.tenants[i].id);
		e->name = str_view(r->cfg.tenants[i].name);
	}
	relay_send_frame(c, out);
}

void handle_units_list(struct relay_conn *c, const proto_frame *f)
{
	struct relay *r = c->relay;
	const proto_str *t = &f->body.units_list.tenant;
	for (int i = 0; i < r->cfg.tenant_count; i++) {
		const struct relay_tenant_config *tc = &r->cfg.tenants[i];
		if (strlen(tc->id) != t->len || memcmp(tc->id, t->ptr, t->len) != 0)
			continue;
		proto_frame *out = relay_tx_frame(r, PROTO_T_UNITS, f->request_id);
		out->body.units.tenant = str_view(tc->id);
		for (int j = 0; j < tc->unit_count && j < (int)PROTO_MAX_UNITS; j++) {
			proto_directory_entry *e = &out->body.units.list[out->body.units.count++];
			e->id = str_view(tc->units[j].id);
			e->name = str_view(tc->units[j].name);
		}
		relay_send_frame(c, out);
		return;
	}
	relay_send_error(c, f->request_id, PROTO_E_NOT_FOUND, "no such tenant", NULL);
}

void handle_device_set_get(struct relay_conn *c, const proto_frame *f)
{
	struct relay *r = c->relay;
	const char *why = NULL;
	int rc = relay_peer_access(c, &f->body.device_set_get, &why);
	if (rc != 0) {
		relay_send_error(c, f->request_id, rc, why, NULL);
		return;
	}
	struct relay_devset *set = &r->scratch->set;
	set->n = 0;
	rc = relay_devset_add_target(r, set, &f->body.device_set_get);
	if (rc != 0) {
		relay_send_error(c, f->request_id, rc,
				 relay_devset_error_text(rc, "no such account or unit"),
				 NULL);
		return;
	}
	proto_frame *out = relay_tx_frame(r, PROTO_T_DEVICE_SET, f->request_id);
	for (size_t i = 0; i < set->n; i++) {
		proto_device_addr *a = &out->body.device_set.list[out->body.device_set.count++];
		a->account = set->e[i].account;
		a->device = set->e[i].device;
	}
	relay_send_frame(c, out);
}
