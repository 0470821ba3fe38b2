/* SPDX-License-Identifier: MPL-2.0 */
/* The relay's side of the hash-chained audit log (spec/identity.md §10): entries are built and
 * chained by the storage writer inside the transaction of the request that causes them, so an
 * entry exists exactly when its event was committed. Subjects are pseudonymous ids only. */
#ifndef WAKKS_RELAY_SERVICES_AUDIT_LOG_H
#define WAKKS_RELAY_SERVICES_AUDIT_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "wakks_identity.h"

struct store;
struct store_req;

/* Audit entry types beyond those of the identity library. */
#define RELAY_AUDIT_CITIZEN_LOOKUP 7

/* Adds an audit append to req. subjects: n (<= ID_AUDIT_MAX_SUBJECTS) 16-byte ids; details: small
 * canonical bytes (never raw person identifiers). Returns the operation index or a negative code. */
int relay_audit_append(struct store_req *req, uint16_t type, uint64_t time_ms,
		       const uint8_t (*subjects)[16], size_t n, const void *details,
		       size_t details_len);

/* Verifies the whole chain in the store. Returns 0 when intact; otherwise the id error code and
 * *bad_seq (the first broken entry's sequence number). *entries: how many were checked. */
int relay_audit_verify(struct store *store, uint64_t *entries, uint64_t *bad_seq);

/* The audit event's name ("consent_given", "citizen_lookup", ...), "unknown" for other types. */
const char *relay_audit_event_name(uint16_t type);

/* Writes the log as JSON lines to f: each entry's fields as the identity library encodes them
 * (seq, time_ms, type, subjects, details in hex, prev_hash, hash: what the chain is verified
 * over), and for reading: event (its name), time (ISO 8601 UTC), the subjects by role (account
 * and device, or caseworker_account and citizen_account) and the details in words (idp, reason,
 * scope "tenant/unit", tenant, or config_sha256 and dev_mode). Returns the number of entries or a negative code. */
long relay_audit_export(struct store *store, void *file);

#endif
