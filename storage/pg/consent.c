/* SPDX-License-Identifier: MPL-2.0 */
/* Consent records in PostgreSQL (spec/storage-postgresql.md §consent): appended per citizen
 * account and never overwritten, the latest record per (account, tenant, unit) for the relay's
 * enforcement check and the tenant report's counters, all kept in the transaction that appends or
 * erases records, with the LMDB engine's semantics (storage/consent.c).
 *
 * Several relays may append for one account at once: the append locks the account's row first,
 * so the per-account seq, the limit and the latest index are decided by one writer at a time;
 * the counters are changed by single upserts, which serialise on their row. */
#include <string.h>

#include "pg_internal.h"
#include "pg_records.h"

/* Adds signed deltas to the report counters of (tenant, unit, text version), clamping at zero;
 * a row whose counters are all zero is deleted. */
int pg__consent_count_add(struct pg_wtxn *w, const char *tenant, const char *unit,
			  const uint8_t *tv, size_t tv_len, int64_t dg, int64_t dw, int64_t da)
{
	struct pg_params p;
	int err = 0;
	pg_p_init(&p);
	pg_p_text(&p, tenant);
	pg_p_text(&p, unit);
	pg_p_bytea(&p, tv, tv_len);
	pg_p_int8(&p, (uint64_t)dg);
	pg_p_int8(&p, (uint64_t)dw);
	pg_p_int8(&p, (uint64_t)da);
	PGresult *r = pg_exec(w->conn,
			      "INSERT INTO consent_counts AS c"
			      " (tenant, unit, text_version, grants, withdrawals, active)"
			      " VALUES ($1, $2, $3, greatest($4, 0), greatest($5, 0), greatest($6, 0))"
			      " ON CONFLICT (tenant, unit, text_version) DO UPDATE SET"
			      " grants = greatest(c.grants + $4, 0),"
			      " withdrawals = greatest(c.withdrawals + $5, 0),"
			      " active = greatest(c.active + $6, 0)"
			      " RETURNING grants = 0 AND withdrawals = 0 AND active = 0",
			      &p, &err);
	if (!r)
		return err;
	bool zero = PQntuples(r) == 1 && pg_r_bool(r, 0, 0);
	PQclear(r);
	if (!zero)
		return 0;
	p.n = 3; /* the row is locked by the upsert: nobody changed it since */
	return pg_cmd(w->conn,
		      "DELETE FROM consent_counts WHERE tenant = $1 AND unit = $2 AND text_version = $3",
		      &p);
}

int pg__op_put_consent_apply(struct pg_wtxn *w, struct store__op *op)
{
	struct store_consent c = op->u.put_consent.c;
	struct pg_params p;
	int err = 0;
	size_t tv_len = strnlen(c.text_version, sizeof c.text_version);

	/* Validated by the builder; checked again because a stored row must obey the record rules. */
	if (!store__consent_valid(&c))
		return STORE_EINVAL;
	pg_p_init(&p);
	pg_p_bytea(&p, c.account_id, STORE_ID_BYTES);
	/* The account's row lock orders the appends of several relays for one account (FOR NO KEY
	 * UPDATE: it does not wait for, nor hold up, foreign-key checks against the row). */
	PGresult *r = pg_exec(w->conn, "SELECT kind FROM accounts WHERE id = $1 FOR NO KEY UPDATE", &p,
			      &err);
	if (!r)
		return err;
	int n = PQntuples(r);
	uint64_t kind = n == 1 ? pg_r_int(r, 0, 0) : 0;
	PQclear(r);
	if (n != 1)
		return STORE_ENOTFOUND;
	if (kind != STORE_ACCOUNT_CITIZEN)
		return STORE_EINVAL;
	/* A statement of its own, after the lock: its snapshot then holds what the relay that had
	 * the lock before committed (a subquery of the locking statement would read an older one). */
	r = pg_exec(w->conn, "SELECT coalesce(max(seq), 0) FROM consents WHERE account_id = $1", &p,
		    &err);
	if (!r)
		return err;
	uint64_t seq = pg_r_int(r, 0, 0);
	PQclear(r);
	if (seq >= STORE_CONSENT_MAX_PER_ACCOUNT)
		return STORE_ELIMIT;
	c.seq = seq + 1;
	if (c.received_at_ms == 0)
		c.received_at_ms = w->now_ms;

	pg_p_int8(&p, c.seq);
	pg_p_int2(&p, c.kind);
	pg_p_text(&p, c.tenant);
	pg_p_text(&p, c.unit);
	pg_p_bytea(&p, c.text_version, tv_len);
	pg_p_int8(&p, c.received_at_ms);
	pg_p_bytea(&p, c.record, c.record_len);
	pg_p_bytea(&p, c.signature, STORE_SIG_BYTES);
	/* The record, and the latest entry of its scope replaced, in one statement; it returns the
	 * entry it replaced (every part of a statement reads the snapshot from before it). */
	r = pg_exec(w->conn,
		    "WITH old AS (SELECT kind, text_version FROM consent_latest"
		    "  WHERE account_id = $1 AND tenant = $4 AND unit = $5),"
		    " ins AS (INSERT INTO consents (account_id, seq, kind, tenant, unit, text_version,"
		    "  received_at, record, signature) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)),"
		    " up AS (INSERT INTO consent_latest"
		    "  (account_id, tenant, unit, kind, seq, received_at, text_version)"
		    "  VALUES ($1, $4, $5, $3, $2, $7, $6)"
		    "  ON CONFLICT (account_id, tenant, unit) DO UPDATE SET kind = excluded.kind,"
		    "  seq = excluded.seq, received_at = excluded.received_at,"
		    "  text_version = excluded.text_version)"
		    " SELECT kind, text_version FROM old",
		    &p, &err);
	if (!r)
		return err;
	/* The counters: the superseded record no longer counts as active, the new one counts. */
	bool grant = c.kind == STORE_CONSENT_GRANT;
	int64_t dg = grant ? 1 : 0, dw = grant ? 0 : 1, da = grant ? 1 : 0;
	if (PQntuples(r) == 1 && pg_r_int(r, 0, 0) == STORE_CONSENT_GRANT) {
		size_t old_len;
		const uint8_t *old = pg_r_bytes(r, 0, 1, &old_len);
		if (old_len == tv_len && memcmp(old, c.text_version, tv_len) == 0)
			da--; /* the same row: one change */
		else
			err = pg__consent_count_add(w, c.tenant, c.unit, old, old_len, 0, 0, -1);
	}
	PQclear(r);
	if (!err)
		err = pg__consent_count_add(w, c.tenant, c.unit, (const uint8_t *)c.text_version, tv_len,
					    dg, dw, da);
	if (err)
		return err;
	op->u.put_consent.result.seq = c.seq;
	op->u.put_consent.result.received_at_ms = c.received_at_ms;
	return 0;
}

int pg__consent_erase(struct pg_wtxn *w, const uint8_t account_id[STORE_ID_BYTES],
		      size_t *records, size_t *latest)
{
	struct pg_params p;
	int err = 0;
	*records = 0;
	*latest = 0;
	pg_p_init(&p);
	pg_p_bytea(&p, account_id, STORE_ID_BYTES);
	/* Records: the report's grant and withdrawal counters go down with them. */
	PGresult *r = pg_exec(w->conn,
			      "SELECT tenant, unit, text_version, count(*) FILTER (WHERE kind = 1),"
			      " count(*) FILTER (WHERE kind = 2) FROM consents WHERE account_id = $1"
			      " GROUP BY tenant, unit, text_version",
			      &p, &err);
	if (!r)
		return err;
	for (int i = 0; i < PQntuples(r) && !err; i++) {
		char tenant[STORE_TENANT_MAX + 1], unit[STORE_UNIT_ID_MAX + 1];
		size_t tv_len;
		const uint8_t *tv = pg_r_bytes(r, i, 2, &tv_len);
		err = pg_r_text(r, i, 0, tenant, sizeof tenant);
		if (!err)
			err = pg_r_text(r, i, 1, unit, sizeof unit);
		if (!err)
			err = pg__consent_count_add(w, tenant, unit, tv, tv_len,
						    -(int64_t)pg_r_int(r, i, 3),
						    -(int64_t)pg_r_int(r, i, 4), 0);
	}
	PQclear(r);
	if (err)
		return err;
	r = pg_exec(w->conn, "DELETE FROM consents WHERE account_id = $1", &p, &err);
	if (!r)
		return err;
	*records = pg__cmd_rows(r);
	PQclear(r);
	/* Latest entries: an active grant stops counting as active. */
	r = pg_exec(w->conn,
		    "DELETE FROM consent_latest WHERE account_id = $1"
		    " RETURNING tenant, unit, text_version, kind",
		    &p, &err);
	if (!r)
		return err;
	*latest = (size_t)PQntuples(r);
	for (int i = 0; i < PQntuples(r) && !err; i++) {
		char tenant[STORE_TENANT_MAX + 1], unit[STORE_UNIT_ID_MAX + 1];
		size_t tv_len;
		const uint8_t *tv = pg_r_bytes(r, i, 2, &tv_len);
		if (pg_r_int(r, i, 3) != STORE_CONSENT_GRANT)
			continue;
		err = pg_r_text(r, i, 0, tenant, sizeof tenant);
		if (!err)
			err = pg_r_text(r, i, 1, unit, sizeof unit);
		if (!err)
			err = pg__consent_count_add(w, tenant, unit, tv, tv_len, 0, 0, -1);
	}
	PQclear(r);
	return err;
}

/* ---- reads ----------------------------------------------------------------------------------- */

int pg_consent_latest(struct store *s, const uint8_t account_id[STORE_ID_BYTES], const char *tenant,
		      const char *unit, uint8_t *kind, uint64_t *received_at_ms)
{
	uint8_t key[STORE__KEY_CONSENT_LATEST_MAX];
	struct pg_params p;
	int err = 0;
	if (!s || !account_id || !tenant)
		return STORE_EINVAL;
	if (!unit)
		unit = "";
	/* The LMDB key's rules are the names' rules: a tenant of 1..64 bytes, a unit of 0..64. */
	if (!store__key_consent_latest(key, account_id, tenant, unit))
		return STORE_EINVAL;
	pg_p_init(&p);
	pg_p_bytea(&p, account_id, STORE_ID_BYTES);
	pg_p_text(&p, tenant);
	pg_p_text(&p, unit);
	PGresult *r = pg__read(s,
			       "SELECT kind, received_at FROM consent_latest"
			       " WHERE account_id = $1 AND tenant = $2 AND unit = $3",
			       &p, &err);
	if (!r)
		return err;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return STORE_ENOTFOUND;
	}
	uint64_t k = pg_r_int(r, 0, 0);
	uint64_t at = pg_r_int(r, 0, 1);
	PQclear(r);
	if (k != STORE_CONSENT_GRANT && k != STORE_CONSENT_WITHDRAW)
		return STORE_ECORRUPT;
	if (kind)
		*kind = (uint8_t)k;
	if (received_at_ms)
		*received_at_ms = at;
	return 0;
}

/* One consents row (seq, kind, tenant, unit, text_version, received_at, record, signature) as
 * the record view; record points into r. */
static int consent_row(const PGresult *r, int i, const uint8_t account[STORE_ID_BYTES],
		       struct store_consent *c)
{
	size_t len;
	memset(c, 0, sizeof *c);
	memcpy(c->account_id, account, STORE_ID_BYTES);
	c->seq = pg_r_int(r, i, 0);
	c->kind = (uint8_t)pg_r_int(r, i, 1);
	if (pg_r_text(r, i, 2, c->tenant, sizeof c->tenant) ||
	    pg_r_text(r, i, 3, c->unit, sizeof c->unit) ||
	    pg_r_text(r, i, 4, c->text_version, sizeof c->text_version) ||
	    pg_r_copy(r, i, 7, c->signature, STORE_SIG_BYTES))
		return STORE_ECORRUPT;
	c->received_at_ms = pg_r_int(r, i, 5);
	c->record = pg_r_bytes(r, i, 6, &len);
	c->record_len = len;
	/* the rules a stored record obeys, NULs inside names included */
	if (c->seq == 0 || strlen(c->tenant) != (size_t)PQgetlength(r, i, 2) ||
	    strlen(c->unit) != (size_t)PQgetlength(r, i, 3) ||
	    strlen(c->text_version) != (size_t)PQgetlength(r, i, 4) || !store__consent_valid(c))
		return STORE_ECORRUPT;
	return 0;
}

int pg_consent_iter(struct store *s, const uint8_t account_id[STORE_ID_BYTES], store_consent_cb cb,
		    void *data)
{
	struct pg_params p;
	int err = 0, visited = 0;
	if (!s || !account_id || !cb)
		return STORE_EINVAL;
	pg_p_init(&p);
	pg_p_bytea(&p, account_id, STORE_ID_BYTES);
	pg_p_int8(&p, STORE_CONSENT_MAX_PER_ACCOUNT);
	PGresult *r = pg__read(s,
			       "SELECT seq, kind, tenant, unit, text_version, received_at, record,"
			       " signature FROM consents WHERE account_id = $1 ORDER BY seq LIMIT $2",
			       &p, &err);
	if (!r)
		return err;
	for (int i = 0; i < PQntuples(r); i++) {
		struct store_consent c;
		err = consent_row(r, i, account_id, &c);
		if (err)
			break;
		visited++;
		if (cb(&c, data) != 0)
			break;
	}
	PQclear(r);
	return err ? err : visited;
}

int pg_consent_report(struct store *s, const char *tenant, store_consent_report_cb cb, void *data)
{
	uint8_t prefix[STORE__KEY_CONSENT_COUNT_MAX];
	struct pg_params p;
	int err = 0, visited = 0;
	if (!s || !tenant || !cb)
		return STORE_EINVAL;
	if (!store__key_consent_count(prefix, tenant, NULL, NULL))
		return STORE_EINVAL;
	pg_p_init(&p);
	pg_p_text(&p, tenant);
	/* LMDB's key order: length-prefixed unit, then length-prefixed text version. */
	PGresult *r = pg__read(s,
			       "SELECT unit, text_version, grants, withdrawals, active FROM consent_counts"
			       " WHERE tenant = $1 ORDER BY octet_length(unit), unit,"
			       " length(text_version), text_version",
			       &p, &err);
	if (!r)
		return err;
	for (int i = 0; i < PQntuples(r) && visited < INT32_MAX; i++) {
		char unit[STORE_UNIT_ID_MAX + 1], tv[STORE_CONSENT_TEXT_VERSION_MAX + 1];
		if (pg_r_text(r, i, 0, unit, sizeof unit) || pg_r_text(r, i, 1, tv, sizeof tv) ||
		    strlen(tv) == 0 || strlen(tv) != (size_t)PQgetlength(r, i, 1)) {
			err = STORE_ECORRUPT;
			break;
		}
		struct store_consent_count row = {
			.unit = unit,
			.text_version = tv,
			.grants = pg_r_int(r, i, 2),
			.withdrawals = pg_r_int(r, i, 3),
			.active = pg_r_int(r, i, 4),
		};
		visited++;
		if (cb(&row, data) != 0)
			break;
	}
	PQclear(r);
	return err ? err : visited;
}
