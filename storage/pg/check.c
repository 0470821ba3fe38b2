/* SPDX-License-Identifier: MPL-2.0 */
/* store_check_data and store_backup of the PostgreSQL engine.
 *
 * Checking: PostgreSQL keeps no per-value checksum of ours; what can honestly be checked is
 * (1) that every row of every table of the schema can be read whole: a full scan reads every
 * page and every out-of-line value, and a server whose cluster has data checksums (initdb
 * --data-checksums, as the docs and tests set it up) verifies each page read from disk, failing
 * the scan (SQLSTATE XX001) on damage, as does an out-of-line value that is missing or does not
 * decompress; and
 * (2) that the derived rows of the record areas agree with what they are derived from: the file
 * counts and usage of blobs, and the consent report's counters and latest index (counters that
 * drifted would misreport quotas and consent without any page being damaged). The audit chain's
 * hashes are the relay's encoding, not the store's: `wakks-relay audit verify` checks them.
 * Record rules (lengths, kinds, states) are CHECK constraints of the schema: no row breaks them.
 *
 * Everything is read in one REPEATABLE READ snapshot, so that writers running meanwhile (other
 * relays) do not make derived rows look wrong. A table whose scan fails with damage is reported
 * (key NULL, length 0) and the walk continues in a new snapshot. */
#include <stdio.h>
#include <string.h>

#include "pg_records.h"

struct check {
	struct store *s;
	store_check_cb cb;
	void *data;
	uint64_t rows, bad;
};

static int begin(struct check *c)
{
	int err = 0;
	PGresult *r = pg__read(c->s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL, &err);
	if (r)
		PQclear(r);
	return r ? 0 : err;
}

static void end(struct check *c)
{
	int err = 0;
	/* read only: rolling back loses nothing, and it also ends a transaction a failure aborted */
	PGresult *r = pg__read(c->s, "ROLLBACK", NULL, &err);
	if (r)
		PQclear(r);
}

/* Scans every row of one table (name from the catalogue, quoted as an identifier). */
static int scan_table(struct check *c, const char *table)
{
	int err = 0;
	if (!c->s->pg->rconn) /* lost, and not made again by the read before */
		return STORE_EIO;
	char *ident = PQescapeIdentifier(c->s->pg->rconn, table, strlen(table));
	if (!ident)
		return STORE_ENOMEM;
	char sql[256];
	/* Each row converted whole: its page is read (a count alone may be answered from an index)
	 * and every value kept out of line (TOAST) is fetched and decompressed. */
	int len = snprintf(sql, sizeof sql, "SELECT count(*) FROM %s AS r WHERE length(r::text) > 0",
			   ident);
	PQfreemem(ident);
	if (len < 0 || (size_t)len >= sizeof sql)
		return STORE_EINVAL;
	PGresult *r = pg__read(c->s, sql, NULL, &err);
	if (r) {
		c->rows += pg_r_int(r, 0, 0);
		PQclear(r);
		return 0;
	}
	if (err != STORE_ECORRUPT)
		return err;
	c->bad++;
	c->cb(table, NULL, 0, c->data);
	end(c);
	return begin(c);
}

/* Runs a query whose rows are keys (one bytea or text column, or several concatenated by the
 * query) of derived rows that disagree with their source; each is reported under table. A
 * damaged page on the way is reported as the table's damage, as in scan_table. */
static int derived(struct check *c, const char *table, const char *sql)
{
	int err = 0;
	PGresult *r = pg__read(c->s, sql, NULL, &err);
	if (!r && err == STORE_ECORRUPT) {
		c->bad++;
		c->cb(table, NULL, 0, c->data);
		end(c);
		return begin(c);
	}
	if (!r)
		return err;
	for (int i = 0; i < PQntuples(r); i++) {
		size_t len;
		const uint8_t *key = pg_r_bytes(r, i, 0, &len);
		c->bad++;
		c->cb(table, key, len, c->data);
	}
	PQclear(r);
	return 0;
}

int pg_check_data(struct store *s, store_check_cb cb, void *data, uint64_t *records)
{
	struct check c = {.s = s, .cb = cb, .data = data};
	int err = 0;
	if (!s || !cb)
		return STORE_EINVAL;
	err = begin(&c);
	if (err)
		return err;
	PGresult *tables = pg__read(s,
				    "SELECT c.relname::text FROM pg_class c"
				    " WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace"
				    " ORDER BY 1",
				    NULL, &err);
	if (!tables) {
		end(&c);
		return err;
	}
	for (int i = 0; i < PQntuples(tables) && !err; i++) {
		char name[128]; /* NAMEDATALEN is 64 */
		if (pg_r_text(tables, i, 0, name, sizeof name))
			err = STORE_EINTERNAL;
		else
			err = scan_table(&c, name);
	}
	PQclear(tables);

	/* Derived rows (spec/storage.md I12 and §4.11-§4.12, §4.15-§4.16), keyed as LMDB keys them. */
	if (!err)
		err = derived(&c, "blob_files",
			      "SELECT coalesce(f.sha256, b.sha256) FROM blob_files f FULL JOIN"
			      " (SELECT sha256, count(*) AS n FROM blobs WHERE state = 2 GROUP BY sha256) b"
			      " ON b.sha256 = f.sha256 WHERE f.count IS DISTINCT FROM b.n");
	if (!err)
		err = derived(&c, "blob_usage",
			      "SELECT coalesce(u.account_id, b.owner_account) FROM blob_usage u FULL JOIN"
			      " (SELECT owner_account, sum(size) AS bytes, count(*) AS n FROM blobs"
			      "  GROUP BY owner_account) b ON b.owner_account = u.account_id"
			      " WHERE u.blobs IS DISTINCT FROM b.n OR u.bytes IS DISTINCT FROM b.bytes");
	if (!err)
		err = derived(&c, "consent_latest",
			      "SELECT l.account_id || convert_to(l.tenant || '/' || l.unit, 'UTF8')"
			      " FROM consent_latest l LEFT JOIN consents c ON c.account_id = l.account_id"
			      " AND c.seq = l.seq WHERE c.seq IS NULL OR c.kind <> l.kind"
			      " OR c.tenant <> l.tenant OR c.unit <> l.unit"
			      " OR c.text_version <> l.text_version OR c.received_at <> l.received_at"
			      " OR EXISTS (SELECT 1 FROM consents n WHERE n.account_id = l.account_id"
			      "  AND n.tenant = l.tenant AND n.unit = l.unit AND n.seq > l.seq)");
	if (!err)
		err = derived(&c, "consent_counts",
			      "WITH r AS (SELECT tenant, unit, text_version,"
			      "  count(*) FILTER (WHERE kind = 1) AS g, count(*) FILTER (WHERE kind = 2) AS w"
			      "  FROM consents GROUP BY tenant, unit, text_version),"
			      " a AS (SELECT tenant, unit, text_version, count(*) AS n FROM consent_latest"
			      "  WHERE kind = 1 GROUP BY tenant, unit, text_version),"
			      " want AS (SELECT coalesce(r.tenant, a.tenant) AS tenant,"
			      "  coalesce(r.unit, a.unit) AS unit,"
			      "  coalesce(r.text_version, a.text_version) AS text_version,"
			      "  coalesce(r.g, 0) AS g, coalesce(r.w, 0) AS w, coalesce(a.n, 0) AS a"
			      "  FROM r FULL JOIN a USING (tenant, unit, text_version))"
			      " SELECT convert_to(coalesce(k.tenant, want.tenant) || '/' ||"
			      "  coalesce(k.unit, want.unit) || '/', 'UTF8') ||"
			      "  coalesce(k.text_version, want.text_version)"
			      " FROM consent_counts k FULL JOIN want ON want.tenant = k.tenant"
			      " AND want.unit = k.unit AND want.text_version = k.text_version"
			      " WHERE k.grants IS DISTINCT FROM want.g OR k.withdrawals IS DISTINCT FROM want.w"
			      " OR k.active IS DISTINCT FROM want.a");
	end(&c);
	if (err)
		return err;
	if (records)
		*records = c.rows;
	return c.bad > INT32_MAX ? INT32_MAX : (int)c.bad;
}

int pg_backup(struct store *s, const char *dir)
{
	(void)dir;
	if (!s)
		return STORE_EINVAL;
	/* A copy of a PostgreSQL database is the server's business: pg_basebackup and WAL
	 * archiving (docs/deployment.md), which also cover the standby. */
	return STORE_ENOTSUP;
}
