/* SPDX-License-Identifier: MPL-2.0 */
/* The operator's data check and backup with the PostgreSQL engine. The values are columns that
 * PostgreSQL protects with its page checksums (initdb --data-checksums), not LMDB's checksummed
 * records: the check reads every row of every table of the schema, out-of-line values included,
 * so that the server verifies every page; a table whose pages fail is reported by name. Backups
 * are the database's own (pg_basebackup and WAL archiving): store_backup refuses. */
#include <string.h>

#include "pg_internal.h"

/* The server's "data corrupted" condition class: a page that fails its checksum, a damaged
 * index or TOAST chunk. */
#define SQLSTATE_DATA_CORRUPTED "XX001"
#define SQLSTATE_INDEX_CORRUPTED "XX002"

int pg_backup(struct store *s, const char *dir)
{
	(void)s, (void)dir;
	return STORE_EINVAL;
}

/* Reads one table whole; *rows gets its row count. 1 when the server found it damaged. */
static int check_table(PGconn *c, const char *table, uint64_t *rows)
{
	char *ident = PQescapeIdentifier(c, table, strlen(table));
	if (!ident)
		return STORE_ENOMEM;
	char sql[512];
	/* t::text flattens the whole row, out-of-line (TOAST) values included: every page of the
	 * table and of its TOAST relation is read and its checksum verified. */
	int n = snprintf(sql, sizeof sql, "SELECT count(*), coalesce(sum(length(t::text)), 0) FROM %s t",
			 ident);
	PQfreemem(ident);
	if (n < 0 || (size_t)n >= sizeof sql)
		return STORE_EINVAL;
	PGresult *r = PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 1);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		*rows = pg_r_int(r, 0, 0);
		PQclear(r);
		return 0;
	}
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	int rc = state && (!strcmp(state, SQLSTATE_DATA_CORRUPTED) ||
			   !strcmp(state, SQLSTATE_INDEX_CORRUPTED))
			 ? 1
			 : pg__err(c, r);
	PQclear(r);
	if (rc == PG__ECONN || rc == PG__ERETRY)
		rc = STORE_EIO;
	return rc;
}

int pg_check_data(struct store *s, store_check_cb cb, void *data, uint64_t *records)
{
	int err = 0;
	PGresult *tables = pg__read(s,
				    "SELECT c.relname::text FROM pg_class c"
				    " WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace"
				    " ORDER BY 1",
				    NULL, &err);
	if (!tables)
		return err;
	uint64_t total = 0;
	int damaged = 0, rc = 0;
	for (int i = 0; i < PQntuples(tables) && rc >= 0; i++) {
		char name[128];
		if (pg_r_text(tables, i, 0, name, sizeof name) != 0)
			continue;
		uint64_t rows = 0;
		rc = check_table(s->pg->rconn, name, &rows);
		if (rc == 1) {
			damaged++;
			if (cb)
				cb(name, NULL, 0, data);
			rc = 0;
		}
		total += rows;
	}
	PQclear(tables);
	if (rc < 0)
		return rc;
	if (records)
		*records = total;
	return damaged;
}
