/* SPDX-License-Identifier: MPL-2.0 */
/* Consent (spec/consent.md): the texts citizens are shown, the grant/withdraw/list handlers'
 * shared state, and the gate that refuses caseworker → citizen messages without active consent. */
#ifndef WAKKS_RELAY_SERVICES_CONSENT_GATE_H
#define WAKKS_RELAY_SERVICES_CONSENT_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wakks_protocol.h"

struct relay;
struct relay_conn;

struct relay_consent_text {
	char tenant[64];
	char unit[64]; /* "" = the whole tenant */
	char version[33];
	char language[9];
	char *text;
	size_t len;
	uint8_t sha256[32];
};

/* Loads every configured text (and, with --dev, a built-in one for tenants without). 0 or -1. */
int relay_consent_start(struct relay *r);
void relay_consent_stop(struct relay *r);

/* The text for tenant/unit: the unit's own if configured, else the tenant's; NULL if none. */
const struct relay_consent_text *relay_consent_text(struct relay *r, const char *tenant,
						    const char *unit);

struct store_account;

/* 0 when the send may go ahead; else a PROTO_E_* code with *why for the error text.
 * - A caseworker's or journal device's send to a citizen names one of the sender's own units
 *   (journal devices: any unit of their tenant) and needs the citizen's consent for that unit
 *   (relay_consent_reaches); the sender must have standing (relay_caseworker_standing).
 * - A citizen's send is always allowed. */
int relay_consent_gate(struct relay_conn *c, const proto_send *m, const char **why);

/* The authenticated caseworker or journal device's account, pruned to its current units, in *cw
 * when it may write to or look up citizens at all: 0, or PROTO_E_FORBIDDEN with *why (not a
 * caseworker, attestation expired, member of no unit). */
int relay_caseworker_standing(struct relay_conn *c, struct store_account *cw, const char **why);

/* The one consent rule of a send and a look-up (spec/consent.md §5, §6): whether the citizen's
 * consent covers the caseworker's tenant for `unit`, or with unit NULL for any of cw's units. */
bool relay_consent_reaches(struct relay *r, const uint8_t citizen[16], const struct store_account *cw,
			   const char *unit);

#endif
