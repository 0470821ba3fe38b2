/* SPDX-License-Identifier: MPL-2.0 */
/* The current device set of an addressee: an account's devices, or a unit's members' devices.
 * Revoked devices are never part of a set. */
#ifndef WAKKS_RELAY_SERVICES_DEVSET_H
#define WAKKS_RELAY_SERVICES_DEVSET_H

#include <stddef.h>
#include <stdint.h>

#include "wakks_protocol.h"

struct relay;

struct relay_devset_entry {
	uint8_t account[16];
	uint8_t device[16];
	uint8_t identity_key[32];
};

struct relay_devset {
	size_t n;
	struct relay_devset_entry e[PROTO_MAX_DEVICE_SET];
};

/* Working memory for one request at a time on the loop thread. */
struct relay_scratch {
	struct relay_devset set;
	proto_error_details details;
};

/* Appends the devices of `account`. Returns 0, PROTO_E_NOT_FOUND (no such account),
 * PROTO_E_OVER_LIMIT (set too large) or PROTO_E_INTERNAL. */
int relay_devset_add_account(struct relay *r, struct relay_devset *set, const uint8_t account[16]);

/* Appends the devices of every member of tenant/unit. Returns 0, PROTO_E_NOT_FOUND (no such
 * unit), PROTO_E_OVER_LIMIT or PROTO_E_INTERNAL. */
int relay_devset_add_unit(struct relay *r, struct relay_devset *set, const char *tenant,
			  size_t tenant_len, const char *unit, size_t unit_len);

/* Resolves a proto_target (exactly one account, or a tenant+unit). */
int relay_devset_add_target(struct relay *r, struct relay_devset *set, const proto_target *t);

/* What to tell a client when resolving a set failed with rc (a PROTO_E_* code of the functions
 * above): not_found names what was missing. */
const char *relay_devset_error_text(int rc, const char *not_found);

/* Removes device from the set if present. */
void relay_devset_remove(struct relay_devset *set, const uint8_t device[16]);

/* Index of device in set, or -1. */
int relay_devset_find(const struct relay_devset *set, const uint8_t device[16]);

#endif
