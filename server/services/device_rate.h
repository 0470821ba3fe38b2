/* SPDX-License-Identifier: MPL-2.0 */
/* Per-device budgets for requests that cost other people something: a bundle fetch spends the
 * addressees' one-time prekeys, a send fills their mailboxes. The connection's requests-per-second
 * bucket bounds work on the relay; these bound what one device can take from others, and they are
 * kept by device id, so reconnecting does not refill them. On a shared store (several relays)
 * they are kept in the database (store_rate_take), so that moving to another relay does not
 * refill them either; the per-connection bucket stays per relay (a connection lives on one). */
#ifndef WAKKS_RELAY_SERVICES_DEVICE_RATE_H
#define WAKKS_RELAY_SERVICES_DEVICE_RATE_H

#include <stdbool.h>
#include <stdint.h>

struct relay;

enum relay_rate_kind {
	RELAY_RATE_BUNDLES, /* bundles_fetch: config bundle_fetches_per_minute */
	RELAY_RATE_SENDS,   /* send: config sends_per_minute */
	RELAY_RATE_LOOKUPS, /* citizen_lookup, by caseworker account (handlers/lookup.c) */
	RELAY_RATE_KINDS
};

/* Takes one token from the device's bucket of `kind` (refilled at per_minute, holding at most
 * per_minute). true when taken; false when empty (or out of memory) with *retry_ms, the wait for
 * the next token. */
bool relay_device_rate_take(struct relay *r, const uint8_t device[16], enum relay_rate_kind kind,
			    uint32_t per_minute, uint64_t *retry_ms);

/* Frees every bucket (at exit). */
void relay_device_rate_free(struct relay *r);

#endif
