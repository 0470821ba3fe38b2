/* SPDX-License-Identifier: MPL-2.0 */
#include "services/consent_gate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/log.h"
#include "net/conn.h"
#include "relay_state.h"
#include "services/membership.h"
#include "wakks_storage.h"

/* Consent texts are a page or two; a larger file is a configuration mistake. */
#define CONSENT_TEXT_MAX (64 * 1024)

static const char dev_text[] =
	"Samtykke til digital kommunikation (udviklingstekst)\n\n"
	"Jeg giver samtykke til, at kommunen kan skrive til mig i OS2wakks om min sag. "
	"Beskederne er krypteret fra ende til ende. Jeg kan til enhver tid tilbagekalde mit samtykke "
	"i appen eller webklienten; tilbagekaldelsen gælder straks for nye beskeder.\n";

static int add_text(struct relay *r, const char *tenant, const char *unit,
		    const struct relay_consent_text_config *cfg)
{
	struct relay_consent_text *t = &r->consent_texts[r->consent_text_count];
	memset(t, 0, sizeof *t);
	snprintf(t->tenant, sizeof t->tenant, "%s", tenant);
	snprintf(t->unit, sizeof t->unit, "%s", unit);
	if (cfg) {
		snprintf(t->version, sizeof t->version, "%s", cfg->version);
		snprintf(t->language, sizeof t->language, "%s", cfg->language);
		FILE *f = fopen(cfg->text_file, "rb");
		t->text = malloc(CONSENT_TEXT_MAX + 1);
		t->len = f && t->text ? fread(t->text, 1, CONSENT_TEXT_MAX + 1, f) : 0;
		if (f)
			fclose(f);
		if (!f || !t->text || t->len == 0 || t->len > CONSENT_TEXT_MAX) {
			RLOG_ERROR("consent", "text_unreadable", "tenant=%s unit=%s path=%s", tenant,
				   unit, cfg->text_file);
			free(t->text);
			return -1;
		}
	} else {
		snprintf(t->version, sizeof t->version, "dev-1");
		snprintf(t->language, sizeof t->language, "da");
		t->len = sizeof dev_text - 1;
		t->text = malloc(t->len + 1);
		if (!t->text)
			return -1;
		memcpy(t->text, dev_text, t->len);
	}
	t->text[t->len] = '\0';
	crypto_hash_sha256(t->sha256, (const unsigned char *)t->text, t->len);
	r->consent_text_count++;
	return 0;
}

int relay_consent_start(struct relay *r)
{
	size_t cap = 0;
	for (int i = 0; i < r->cfg.tenant_count; i++)
		cap += 1 + (size_t)r->cfg.tenants[i].unit_count;
	r->consent_texts = calloc(cap ? cap : 1, sizeof *r->consent_texts);
	if (!r->consent_texts)
		return -1;
	for (int i = 0; i < r->cfg.tenant_count; i++) {
		const struct relay_tenant_config *t = &r->cfg.tenants[i];
		int rc = 0;
		if (t->consent.set)
			rc = add_text(r, t->id, "", &t->consent);
		else if (r->cfg.dev_mode)
			rc = add_text(r, t->id, "", NULL);
		else
			RLOG_WARN("consent", "no_text", "tenant=%s note=\"citizens cannot grant consent to this tenant\"",
				  t->id);
		for (int j = 0; rc == 0 && j < t->unit_count; j++)
			if (t->units[j].consent.set)
				rc = add_text(r, t->id, t->units[j].id, &t->units[j].consent);
		if (rc != 0)
			return -1;
	}
	return 0;
}

void relay_consent_stop(struct relay *r)
{
	for (size_t i = 0; i < r->consent_text_count; i++)
		free(r->consent_texts[i].text);
	free(r->consent_texts);
	r->consent_texts = NULL;
	r->consent_text_count = 0;
}

const struct relay_consent_text *relay_consent_text(struct relay *r, const char *tenant,
						    const char *unit)
{
	const struct relay_consent_text *whole = NULL;
	for (size_t i = 0; i < r->consent_text_count; i++) {
		const struct relay_consent_text *t = &r->consent_texts[i];
		if (strcmp(t->tenant, tenant) != 0)
			continue;
		if (unit && unit[0] && strcmp(t->unit, unit) == 0)
			return t;
		if (!t->unit[0])
			whole = t;
	}
	return whole;
}

/* Whether the citizen's consent covers (tenant, unit): of the latest whole-tenant record and the
 * latest record narrowed to the unit, the later one decides (a withdrawal on a tie), so a
 * municipality-wide withdrawal ends a narrower grant given before it, and a unit grant after a
 * municipality-wide withdrawal narrows consent to that unit. */
static bool consent_covers(struct relay *r, const uint8_t citizen[16], const char *tenant,
			   const char *unit)
{
	uint8_t kind_t = 0, kind_u = 0;
	uint64_t at_t = 0, at_u = 0;
	bool has_t = store_consent_latest(r->store, citizen, tenant, "", &kind_t, &at_t) == 0;
	bool has_u = unit && unit[0] &&
		     store_consent_latest(r->store, citizen, tenant, unit, &kind_u, &at_u) == 0;
	if (has_t && has_u) {
		if (at_t != at_u)
			return (at_t > at_u ? kind_t : kind_u) == STORE_CONSENT_GRANT;
		return kind_t == STORE_CONSENT_GRANT && kind_u == STORE_CONSENT_GRANT;
	}
	if (has_t)
		return kind_t == STORE_CONSENT_GRANT;
	return has_u && kind_u == STORE_CONSENT_GRANT;
}

bool relay_consent_reaches(struct relay *r, const uint8_t citizen[16], const struct store_account *cw,
			   const char *unit)
{
	if (unit)
		return consent_covers(r, citizen, cw->tenant, unit);
	for (uint8_t i = 0; i < cw->n_units; i++)
		if (consent_covers(r, citizen, cw->tenant, cw->units[i]))
			return true;
	return false;
}

int relay_caseworker_standing(struct relay_conn *c, struct store_account *cw, const char **why)
{
	struct relay *r = c->relay;
	struct store_device dev;
	if (store_get_account(r->store, c->account_id, cw) != 0 ||
	    store_get_device(r->store, c->device_id, &dev) != 0 ||
	    (cw->kind != STORE_ACCOUNT_CASEWORKER && cw->kind != STORE_ACCOUNT_JOURNAL)) {
		*why = "only caseworkers and journal devices write to or look up citizens";
		return PROTO_E_FORBIDDEN;
	}
	relay_membership_prune(r, cw);
	if (relay_attestation_expired(r, cw, &dev)) {
		*why = "this device's attestation has expired; register again with its identity key";
		return PROTO_E_FORBIDDEN;
	}
	if (cw->kind == STORE_ACCOUNT_CASEWORKER && cw->n_units == 0) {
		*why = "this caseworker is a member of no unit";
		return PROTO_E_FORBIDDEN;
	}
	return 0;
}

static bool is_kind(struct relay *r, const uint8_t account[16], uint8_t kind)
{
	struct store_account acc;
	return store_get_account(r->store, account, &acc) == 0 && acc.kind == kind;
}

int relay_consent_gate(struct relay_conn *c, const proto_send *m, const char **why)
{
	struct relay *r = c->relay;
	if (c->account_kind == STORE_ACCOUNT_CITIZEN) {
		/* Citizen → tenant is always allowed, but a message to a caseworker belongs to a unit
		 * and names it, so that the unit's journal devices receive it too. */
		for (uint32_t i = 0; i < m->to_count; i++)
			if (!is_kind(r, m->to[i], STORE_ACCOUNT_CITIZEN) && !m->unit.ptr) {
				*why = "a message to a caseworker names the caseworker's unit; nothing was stored";
				return PROTO_E_FORBIDDEN;
			}
		return 0;
	}
	if (c->account_kind != STORE_ACCOUNT_CASEWORKER && c->account_kind != STORE_ACCOUNT_JOURNAL)
		return 0;
	bool to_citizen = false;
	for (uint32_t i = 0; i < m->to_count && !to_citizen; i++)
		to_citizen = is_kind(r, m->to[i], STORE_ACCOUNT_CITIZEN);
	if (!to_citizen)
		return 0; /* colleagues and units */
	struct store_account cw;
	int rc = relay_caseworker_standing(c, &cw, why);
	if (rc != 0)
		return rc;
	/* The message belongs to one of the sender's own units: that unit's members and journal
	 * devices get it (journalisation), and the citizen's consent is checked against it. */
	char unit[STORE_UNIT_ID_MAX + 1] = "";
	bool own_tenant = m->tenant.ptr && m->tenant.len == strlen(cw.tenant) &&
			  memcmp(m->tenant.ptr, cw.tenant, m->tenant.len) == 0;
	if (m->unit.ptr && m->unit.len < sizeof unit) {
		memcpy(unit, m->unit.ptr, m->unit.len);
		unit[m->unit.len] = '\0';
	}
	if (!own_tenant || !unit[0] ||
	    (cw.kind == STORE_ACCOUNT_CASEWORKER && !relay_membership_has(&cw, unit))) {
		*why = "a message to a citizen names one of the sender's own units; nothing was stored";
		return PROTO_E_FORBIDDEN;
	}
	for (uint32_t i = 0; i < m->to_count; i++) {
		if (!is_kind(r, m->to[i], STORE_ACCOUNT_CITIZEN))
			continue;
		if (!relay_consent_reaches(r, m->to[i], &cw, unit)) {
			*why = "the citizen has no active consent for this unit; nothing was stored";
			return PROTO_E_CONSENT_REQUIRED;
		}
	}
	return 0;
}
