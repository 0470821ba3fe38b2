/* SPDX-License-Identifier: MPL-2.0 */
/* citizen_lookup: a caseworker asks whether a citizen, given by CPR number, can be reached by the
 * caseworker's municipality (spec/consent.md §6). One answer, "not reachable", for a citizen who
 * does not use the service and for one who has not consented. The CPR number is hashed at once
 * and never stored or logged; every look-up is audited before it is answered. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/clock.h"
#include "handlers/call.h"
#include "handlers/handlers.h"
#include "net/conn.h"
#include "net/outgoing.h"
#include "relay_state.h"
#include "services/metrics.h"
#include "services/audit_log.h"
#include "services/consent_gate.h"
#include "services/device_rate.h"
#include "services/membership.h"
#include "wakks_storage.h"

/* Per caseworker: a person looking up citizens by hand needs a few a minute; a script harvesting
 * who uses the service would need thousands. */
#define LOOKUPS_PER_MINUTE 30

/* Kept by account (a caseworker's devices share it) and, on a shared store, across relays. */
static bool take_lookup_token(struct relay *r, const uint8_t account[16])
{
	uint64_t retry_ms;
	return relay_device_rate_take(r, account, RELAY_RATE_LOOKUPS, LOOKUPS_PER_MINUTE, &retry_ms);
}

struct lookup_call {
	struct relay_call call;
	bool reachable;
	uint8_t citizen[16];
	char tenant[65]; /* the caseworker's, for wakks_tenant_lookups_total */
};

/* Answered only once the look-up is in the audit log. */
static void audited(struct relay_call *call, struct relay_conn *c)
{
	struct lookup_call *k = (struct lookup_call *)call;
	struct relay *r = call->from.relay;
	struct relay_tenant_counters *tc = relay_metrics_tenant(r, k->tenant, strlen(k->tenant));
	if (tc)
		tc->lookups++;
	if (!c)
		return;
	proto_frame *out = relay_tx_frame(r, PROTO_T_CITIZEN, call->from.request_id);
	proto_citizen *ci = &out->body.citizen;
	struct store_device devs[PROTO_MAX_DEVICES_PER_ACCOUNT];
	size_t n = 0;
	if (k->reachable &&
	    store_list_devices(r->store, k->citizen, false, devs, PROTO_MAX_DEVICES_PER_ACCOUNT, &n) == 0) {
		ci->reachable = true;
		ci->account = k->citizen;
		for (size_t i = 0; i < n && i < PROTO_MAX_DEVICES_PER_ACCOUNT; i++)
			ci->devices[ci->device_count++] = devs[i].id;
	}
	relay_send_frame(c, out);
}

void handle_citizen_lookup(struct relay_conn *c, const proto_frame *f)
{
	struct relay *r = c->relay;
	struct store_account cw;
	const char *why = "only caseworkers look citizens up";
	int standing = c->account_kind == STORE_ACCOUNT_CASEWORKER
			       ? relay_caseworker_standing(c, &cw, &why)
			       : PROTO_E_FORBIDDEN;
	if (standing != 0) {
		relay_send_error(c, f->request_id, standing, why, NULL);
		return;
	}
	if (!take_lookup_token(r, c->account_id)) {
		proto_error_details d = { .retry_ms = 60000 / LOOKUPS_PER_MINUTE };
		relay_send_error(c, f->request_id, PROTO_E_RATE_LIMITED, "too many look-ups; wait a moment", &d);
		return;
	}
	char cpr[PROTO_MAX_CPR_BYTES + 1];
	memcpy(cpr, f->body.citizen_lookup.cpr.ptr, f->body.citizen_lookup.cpr.len);
	cpr[f->body.citizen_lookup.cpr.len] = '\0';
	struct lookup_call *k = (struct lookup_call *)relay_call_new(c, f->request_id, sizeof *k, audited);
	if (!k) {
		sodium_memzero(cpr, sizeof cpr);
		return;
	}
	k->call.failure_text = "the look-up could not be audited";
	int rc = id_cpr_account_id(r->identity.account_key, cpr, k->citizen);
	sodium_memzero(cpr, sizeof cpr);
	if (rc != 0) {
		relay_call_cancel(&k->call);
		relay_send_error(c, f->request_id, rc == ID_ERR_CPR ? PROTO_E_INVALID : PROTO_E_INTERNAL,
				 rc == ID_ERR_CPR ? "not a CPR number" : "out of memory", NULL);
		return;
	}
	/* The same rule as a send's (services/consent_gate.c), over the caseworker's own units. */
	k->reachable = relay_consent_reaches(r, k->citizen, &cw, NULL);
	snprintf(k->tenant, sizeof k->tenant, "%s", cw.tenant);
	uint8_t subjects[2][16];
	memcpy(subjects[0], c->account_id, 16);
	memcpy(subjects[1], k->citizen, 16);
	relay_call_submit(c, &k->call,
			  relay_audit_append(k->call.req, RELAY_AUDIT_CITIZEN_LOOKUP, relay_now_ms(),
					     (const uint8_t(*)[16])subjects, 2, cw.tenant, strlen(cw.tenant)));
}

/* consent_check (spec/protocol.md §9.3): whether a citizen's consent covers one of the asking
 * caseworker's units, by the rule of a send, before the caseworker writes. Not audited: the
 * caseworker already holds the account (it is the thread's citizen) and a send would tell. */
void handle_consent_check(struct relay_conn *c, const proto_frame *f)
{
	struct relay *r = c->relay;
	const proto_consent_check *q = &f->body.consent_check;
	struct store_account cw;
	const char *why = "only caseworkers and journal devices ask about a citizen's consent";
	int rc = c->account_kind == STORE_ACCOUNT_CASEWORKER || c->account_kind == STORE_ACCOUNT_JOURNAL
			 ? relay_caseworker_standing(c, &cw, &why)
			 : PROTO_E_FORBIDDEN;
	char tenant[PROTO_MAX_SLUG_BYTES + 1], unit[PROTO_MAX_SLUG_BYTES + 1];
	memcpy(tenant, q->tenant.ptr, q->tenant.len);
	tenant[q->tenant.len] = '\0';
	memcpy(unit, q->unit.ptr, q->unit.len);
	unit[q->unit.len] = '\0';
	if (rc == 0 && strcmp(tenant, cw.tenant) != 0) {
		rc = PROTO_E_FORBIDDEN;
		why = "a caseworker asks only about units of the same municipality";
	}
	const struct relay_tenant_config *t = rc == 0 ? relay_config_tenant(&r->cfg, tenant) : NULL;
	bool unit_exists = false;
	for (int i = 0; t && i < t->unit_count; i++)
		unit_exists |= strcmp(t->units[i].id, unit) == 0;
	if (rc == 0 && !unit_exists) {
		rc = PROTO_E_NOT_FOUND;
		why = "no such unit";
	}
	if (rc == 0 && cw.kind == STORE_ACCOUNT_CASEWORKER && !relay_membership_has(&cw, unit)) {
		rc = PROTO_E_FORBIDDEN;
		why = "a caseworker asks only about its own units";
	}
	struct store_account citizen;
	if (rc == 0 && (store_get_account(r->store, q->account, &citizen) != 0 ||
			citizen.kind != STORE_ACCOUNT_CITIZEN)) {
		rc = PROTO_E_NOT_FOUND;
		why = "no such citizen account";
	}
	if (rc != 0) {
		relay_send_error(c, f->request_id, rc, why, NULL);
		return;
	}
	proto_frame *out = relay_tx_frame(r, PROTO_T_CONSENT_STATE, f->request_id);
	out->body.consent_state.active = relay_consent_reaches(r, q->account, &cw, unit);
	relay_send_frame(c, out);
}
