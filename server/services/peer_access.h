/* SPDX-License-Identifier: MPL-2.0 */
/* Who may see whose device set and take whose one-time prekeys (spec/protocol.md §6.4, §7): only
 * parties who may talk to each other. A one-time prekey is spent by whoever fetches it, so a
 * stranger fetching bundles empties another person's supply; a device set says which devices a
 * person uses. Both go to the account itself, between a citizen and the tenants (units,
 * caseworkers) she may write to, between colleagues of one tenant, and from a caseworker to a
 * citizen whose consent covers the caseworker's tenant or one of its units. */
#ifndef WAKKS_RELAY_SERVICES_PEER_ACCESS_H
#define WAKKS_RELAY_SERVICES_PEER_ACCESS_H

#include "wakks_protocol.h"

struct relay_conn;

/* 0 when the authenticated connection c may address target t; else PROTO_E_NOT_FOUND (no such
 * account, tenant or unit), PROTO_E_CONSENT_REQUIRED (a caseworker asking for a citizen without
 * consent), PROTO_E_FORBIDDEN or PROTO_E_INTERNAL, with *why for the error text. */
int relay_peer_access(struct relay_conn *c, const proto_target *t, const char **why);

#endif
