/* SPDX-License-Identifier: MPL-2.0 */
/* Consent (spec/consent.md): the texts citizens are shown, the grant/withdraw/list handlers'
 * shared state, and the gate that refuses caseworker → citizen messages without active consent. */
#ifndef WAKKS_RELAY_SERVICES_CONSENT_GATE_H
#define WAKKS_RELAY_SERVICES_CONSENT_GATE_H

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

/* 0 when the send may go ahead; else a PROTO_E_* code with *why for the error text. Refuses a
 * caseworker's or journal device's send to a citizen without that citizen's active consent for
 * the sender's tenant (or for the unit the send names). */
int relay_consent_gate(struct relay_conn *c, const proto_send *m, const char **why);

#endif
