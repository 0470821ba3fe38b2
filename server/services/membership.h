/* SPDX-License-Identifier: MPL-2.0 */
/* Which units a caseworker account belongs to now (spec/identity.md §9). The account record keeps
 * the units its last ID token's groups mapped to; the configuration may have changed since (a
 * unit removed, a unit no longer mapped by any group, the tenant's caseworker provider removed),
 * and a membership the configuration no longer allows is void at once, on every read, whatever
 * the record says. The start of the relay also rewrites such records, and ends the memberships of
 * units whose group mapping changed (relay_membership_start), so the storage's unit index follows. */
#ifndef WAKKS_RELAY_SERVICES_MEMBERSHIP_H
#define WAKKS_RELAY_SERVICES_MEMBERSHIP_H

#include <stdbool.h>
#include <stdint.h>

struct relay;
struct store_account;
struct store_device;

/* Drops from acc->units every unit the configuration no longer lets a caseworker of acc->tenant
 * hold. Citizen and journal accounts are left as they are. Returns true when it dropped any. */
bool relay_membership_prune(struct relay *r, struct store_account *acc);

/* True when acc (already pruned) holds unit. */
bool relay_membership_has(const struct store_account *acc, const char *unit);

/* True when the caseworker device's attestation (its last registration) is older than
 * caseworker_attestation_seconds; never for citizens' and journal devices. */
bool relay_attestation_expired(struct relay *r, const struct store_account *acc,
			       const struct store_device *dev);

/* At start: rewrites every configured tenant's caseworker accounts whose units the configuration
 * no longer allows, and ends every membership of a unit whose groups or caseworker providers
 * changed since the last start (their fingerprints are kept in DATA_DIR/memberships, replaced once
 * the rewrites are durable). A caseworker whose fresh ID token still maps to the unit gets it
 * back by re-attesting. Runs the loop until the rewrites are durable: call it after the storage
 * opened and before anything else is on the loop. Returns 0, or -1 when it could not read or
 * submit (logged). */
int relay_membership_start(struct relay *r);

/* The same after a reload, without blocking the loop: the rewrites are submitted, and until they
 * are durable the memberships of units whose mapping changed are void through
 * relay_membership_prune. Returns 0, or -1 when it could not read or submit (logged). */
int relay_membership_reevaluate(struct relay *r);

#endif
