/* SPDX-License-Identifier: MPL-2.0 */
#include "services/peer_access.h"

#include <stdbool.h>
#include <string.h>

#include "net/conn.h"
#include "relay_state.h"
#include "wakks_storage.h"

static bool is_tenant_side(uint8_t kind)
{
	return kind == STORE_ACCOUNT_CASEWORKER || kind == STORE_ACCOUNT_JOURNAL;
}

static bool granted(struct relay *r, const uint8_t citizen[16], const char *tenant, const char *unit)
{
	uint8_t kind = 0;
	return store_consent_latest(r->store, citizen, tenant, unit, &kind, NULL) == 0 &&
	       kind == STORE_CONSENT_GRANT;
}

/* A caseworker (or journal device) reaches a citizen whose latest consent for the tenant, or for
 * one of the caseworker's own units, is a grant (spec/consent.md). */
static int citizen_consents(struct relay *r, const struct store_account *worker,
			    const uint8_t citizen[16])
{
	if (granted(r, citizen, worker->tenant, ""))
		return 1;
	for (uint8_t i = 0; i < worker->n_units && i < STORE_ACCOUNT_UNITS_MAX; i++)
		if (granted(r, citizen, worker->tenant, worker->units[i]))
			return 1;
	return 0;
}

static int account_access(struct relay_conn *c, const uint8_t account[16], const char **why)
{
	struct relay *r = c->relay;
	if (memcmp(account, c->account_id, 16) == 0)
		return 0; /* one's own devices */
	struct store_account target;
	int rc = store_get_account(r->store, account, &target);
	if (rc == STORE_ENOTFOUND) {
		*why = "no such account";
		return PROTO_E_NOT_FOUND;
	}
	if (rc != 0) {
		*why = "account record unreadable";
		return PROTO_E_INTERNAL;
	}
	if (!is_tenant_side(c->account_kind)) {
		/* A citizen writes to tenants (their units and caseworkers), never to citizens. */
		if (is_tenant_side(target.kind) && relay_config_tenant(&r->cfg, target.tenant))
			return 0;
		*why = "a citizen may address only the municipalities' units and caseworkers";
		return PROTO_E_FORBIDDEN;
	}
	if (is_tenant_side(target.kind)) {
		if (strcmp(target.tenant, c->tenant) == 0)
			return 0; /* colleagues */
		*why = "a caseworker may address only colleagues of the same municipality";
		return PROTO_E_FORBIDDEN;
	}
	struct store_account self;
	if (store_get_account(r->store, c->account_id, &self) != 0) {
		*why = "account record unreadable";
		return PROTO_E_INTERNAL;
	}
	if (citizen_consents(r, &self, account))
		return 0;
	/* The same answer as a send would get: the caseworker learns why, as citizen_lookup tells. */
	*why = "the citizen has no active consent for this municipality or your units";
	return PROTO_E_CONSENT_REQUIRED;
}

int relay_peer_access(struct relay_conn *c, const proto_target *t, const char **why)
{
	if (t->account)
		return account_access(c, t->account, why);
	struct relay *r = c->relay;
	char tenant[STORE_TENANT_MAX + 1];
	if (t->tenant.len >= sizeof tenant) {
		*why = "no such unit";
		return PROTO_E_NOT_FOUND;
	}
	memcpy(tenant, t->tenant.ptr, t->tenant.len);
	tenant[t->tenant.len] = '\0';
	if (!relay_config_tenant(&r->cfg, tenant)) {
		*why = "no such unit";
		return PROTO_E_NOT_FOUND;
	}
	/* Citizens write to every configured tenant's units; caseworkers to their own tenant's. */
	if (is_tenant_side(c->account_kind) && strcmp(tenant, c->tenant) != 0) {
		*why = "a caseworker may address only units of the same municipality";
		return PROTO_E_FORBIDDEN;
	}
	return 0;
}
