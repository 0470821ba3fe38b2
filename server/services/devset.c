/* SPDX-License-Identifier: MPL-2.0 */
#include "services/devset.h"

#include <string.h>

#include "relay_state.h"
#include "services/membership.h"
#include "wakks_storage.h"

int relay_devset_find(const struct relay_devset *set, const uint8_t device[16])
{
	for (size_t i = 0; i < set->n; i++)
		if (memcmp(set->e[i].device, device, 16) == 0)
			return (int)i;
	return -1;
}

void relay_devset_remove(struct relay_devset *set, const uint8_t device[16])
{
	int i = relay_devset_find(set, device);
	if (i >= 0)
		set->e[i] = set->e[--set->n];
}

/* A read that failed: the database out of reach for a moment (a fail-over, a restart) is worth a
 * retry; anything else is the relay's fault. */
static int read_failure(int store_rc)
{
	return store_rc == STORE_EIO || store_rc == STORE_EBUSY || store_rc == STORE_ECLOSED
		       ? PROTO_E_UNAVAILABLE
		       : PROTO_E_INTERNAL;
}

const char *relay_devset_error_text(int rc, const char *not_found)
{
	switch (rc) {
	case PROTO_E_NOT_FOUND:
		return not_found;
	case PROTO_E_OVER_LIMIT:
		return "too many devices";
	case PROTO_E_UNAVAILABLE:
		return "the relay cannot read its database just now; try again";
	default:
		return "the devices could not be read";
	}
}

static int add_devices_of(struct relay *r, struct relay_devset *set, const uint8_t account[16])
{
	struct store_device devices[PROTO_MAX_DEVICES_PER_ACCOUNT];
	size_t n = 0;
	int rc = store_list_devices(r->store, account, false, devices, PROTO_MAX_DEVICES_PER_ACCOUNT, &n);
	if (rc != 0)
		return read_failure(rc);
	if (n > PROTO_MAX_DEVICES_PER_ACCOUNT)
		n = PROTO_MAX_DEVICES_PER_ACCOUNT;
	for (size_t i = 0; i < n; i++) {
		if (relay_devset_find(set, devices[i].id) >= 0)
			continue;
		if (set->n >= PROTO_MAX_DEVICE_SET)
			return PROTO_E_OVER_LIMIT;
		struct relay_devset_entry *e = &set->e[set->n++];
		memcpy(e->account, account, 16);
		memcpy(e->device, devices[i].id, 16);
		memcpy(e->identity_key, devices[i].identity_key, 32);
	}
	return 0;
}

int relay_devset_add_account(struct relay *r, struct relay_devset *set, const uint8_t account[16])
{
	struct store_account acc;
	int rc = store_get_account(r->store, account, &acc);
	if (rc == STORE_ENOTFOUND)
		return PROTO_E_NOT_FOUND;
	if (rc != 0)
		return read_failure(rc);
	return add_devices_of(r, set, account);
}

struct unit_walk {
	struct relay *r;
	struct relay_devset *set;
	const char *unit; /* NULL: every account listed (the tenant's journal accounts) */
	int rc;
};

static int add_member(const uint8_t account[16], void *data)
{
	struct unit_walk *w = data;
	/* The unit index follows the account records, which may name a unit the configuration no
	 * longer lets the caseworker hold (a group mapping changed): such a member is not one. */
	if (w->unit) {
		struct store_account acc;
		int rc = store_get_account(w->r->store, account, &acc);
		if (rc == STORE_ENOTFOUND)
			return 0; /* erased since the index was read */
		if (rc != 0) {
			w->rc = read_failure(rc);
			return 1;
		}
		relay_membership_prune(w->r, &acc);
		if (acc.kind == STORE_ACCOUNT_CASEWORKER && !relay_membership_has(&acc, w->unit))
			return 0;
	}
	w->rc = add_devices_of(w->r, w->set, account);
	return w->rc != 0;
}

int relay_devset_add_unit(struct relay *r, struct relay_devset *set, const char *tenant,
			  size_t tenant_len, const char *unit, size_t unit_len)
{
	char t[STORE_TENANT_MAX + 1], u[STORE_UNIT_ID_MAX + 1];
	if (tenant_len > STORE_TENANT_MAX || unit_len > STORE_UNIT_ID_MAX)
		return PROTO_E_NOT_FOUND;
	memcpy(t, tenant, tenant_len);
	t[tenant_len] = '\0';
	memcpy(u, unit, unit_len);
	u[unit_len] = '\0';
	const struct relay_tenant_config *tc = relay_config_tenant(&r->cfg, t);
	bool found = false;
	for (int i = 0; tc && i < tc->unit_count; i++)
		found |= strcmp(tc->units[i].id, u) == 0;
	if (!found)
		return PROTO_E_NOT_FOUND;
	struct unit_walk w = { r, set, u, 0 };
	int rc = store_list_unit_accounts(r->store, t, u, add_member, &w);
	/* The tenant's journal device gets a copy of every unit conversation (journalisation). */
	w.unit = NULL;
	if (rc >= 0 && w.rc == 0)
		rc = store_list_tenant_accounts(r->store, t, STORE_ACCOUNT_JOURNAL, add_member, &w);
	if (w.rc != 0)
		return w.rc;
	return rc < 0 ? read_failure(rc) : 0;
}

int relay_devset_add_target(struct relay *r, struct relay_devset *set, const proto_target *t)
{
	if (t->account)
		return relay_devset_add_account(r, set, t->account);
	return relay_devset_add_unit(r, set, t->tenant.ptr, t->tenant.len, t->unit.ptr, t->unit.len);
}
