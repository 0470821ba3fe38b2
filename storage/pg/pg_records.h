/* SPDX-License-Identifier: MPL-2.0 */
/* Helpers shared by the record areas of the PostgreSQL engine (consent.c, blobs.c, erase.c). */
#ifndef WAKKS_PG_RECORDS_H
#define WAKKS_PG_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "pg_internal.h"
#include "records_internal.h"

/* Adds signed deltas to the consent report counters of (tenant, unit, text version), clamping
 * at zero; a row whose counters all reach zero is deleted. */
int pg__consent_count_add(struct pg_wtxn *w, const char *tenant, const char *unit,
			  const uint8_t *tv, size_t tv_len, int64_t dg, int64_t dw, int64_t da);

/* Removes all consent records and latest-index rows of an account, adjusting the report
 * counters; *records and *latest get the numbers removed. */
int pg__consent_erase(struct pg_wtxn *w, const uint8_t account_id[STORE_ID_BYTES],
		      size_t *records, size_t *latest);

/* Removes up to max blobs uploaded by the account (records, grants, usage, file counts); *more:
 * blobs remain. Their bytes are left to the relay's sweep of unreferenced content. */
int pg__blob_erase_owner(struct pg_wtxn *w, const uint8_t account[STORE_ID_BYTES], size_t max,
			 size_t *n, bool *more);

/* Locks the audit head when one of the batch's requests appends to the audit log; called by the
 * writer before the batch's first request, so that every transaction that will hold the head
 * takes it before any other row lock (no deadlock between appends and other locks). */
int pg__audit_prelock(PGconn *conn, struct store_req *const *reqs, size_t n);

/* The number of rows a command reported (DELETE, UPDATE, INSERT). */
static inline size_t pg__cmd_rows(const PGresult *r)
{
	return (size_t)strtoull(PQcmdTuples((PGresult *)r), NULL, 10);
}

#endif
