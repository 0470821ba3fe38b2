/* SPDX-License-Identifier: MPL-2.0 */
/* Accounts in the PostgreSQL engine: put (with the units in their order), get, and the listings
 * by unit and by tenant (spec/storage-postgresql.md §3.2). */
#include <stdlib.h>
#include <string.h>

#include "pg_internal.h"
#include "records_internal.h"

int pg__op_put_account_apply(struct pg_wtxn *w, struct store__op *op)
{
	const struct store_account *a = op->u.put_account;
	uint8_t buf[STORE__ACCOUNT_MAX_LEN];
	struct pg_params p;
	/* The record's rules, as the LMDB engine checks them by encoding it. */
	if (!store__account_encode(a, buf))
		return STORE_EINVAL;
	pg_p_init(&p);
	pg_p_bytea(&p, a->id, STORE_ID_BYTES);
	pg_p_int2(&p, a->kind);
	pg_p_text(&p, a->tenant);
	pg_p_int8(&p, a->created_ms);
	int rc = pg_cmd(w->conn,
			"INSERT INTO accounts (id, kind, tenant, created_ms) VALUES ($1, $2, $3, $4) "
			"ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, "
			"tenant = excluded.tenant, created_ms = excluded.created_ms",
			&p);
	if (rc)
		return rc;
	pg_p_init(&p);
	pg_p_bytea(&p, a->id, STORE_ID_BYTES);
	rc = pg_cmd(w->conn, "DELETE FROM account_units WHERE account_id = $1", &p);
	for (unsigned i = 0; i < a->n_units && rc == 0; i++) {
		pg_p_init(&p);
		pg_p_bytea(&p, a->id, STORE_ID_BYTES);
		pg_p_int2(&p, (uint16_t)i);
		pg_p_text(&p, a->tenant);
		pg_p_text(&p, a->units[i]);
		rc = pg_cmd(w->conn,
			    "INSERT INTO account_units (account_id, pos, tenant, unit) "
			    "VALUES ($1, $2, $3, $4)",
			    &p);
	}
	return rc;
}

int pg_get_account(struct store *s, const uint8_t id[STORE_ID_BYTES], struct store_account *out)
{
	struct pg_params p;
	int err = 0;
	pg_p_init(&p);
	pg_p_bytea(&p, id, STORE_ID_BYTES);
	/* One statement: one snapshot of the account and its units. */
	PGresult *r = pg__read(s,
			       "SELECT a.kind, a.tenant, a.created_ms, u.unit FROM accounts a "
			       "LEFT JOIN account_units u ON u.account_id = a.id "
			       "WHERE a.id = $1 ORDER BY u.pos",
			       &p, &err);
	if (!r)
		return err;
	int rows = PQntuples(r), rc = 0;
	if (rows == 0) {
		PQclear(r);
		return STORE_ENOTFOUND;
	}
	struct store_account a;
	memset(&a, 0, sizeof a);
	memcpy(a.id, id, STORE_ID_BYTES);
	a.kind = (uint8_t)pg_r_int(r, 0, 0);
	a.created_ms = pg_r_int(r, 0, 2);
	rc = pg_r_text(r, 0, 1, a.tenant, sizeof a.tenant);
	for (int i = 0; i < rows && rc == 0; i++) {
		if (pg_r_null(r, i, 3))
			break; /* no units */
		if (a.n_units == STORE_ACCOUNT_UNITS_MAX) {
			rc = STORE_ECORRUPT;
			break;
		}
		rc = pg_r_text(r, i, 3, a.units[a.n_units], sizeof a.units[0]);
		a.n_units++;
	}
	PQclear(r);
	if (rc == 0)
		*out = a;
	return rc;
}

/* Calls cb for each id of column 0 (the result is complete, so cb may call into the store). */
static int each_id(PGresult *r, store_account_cb cb, void *data)
{
	int rows = PQntuples(r), calls = 0, rc = 0;
	for (int i = 0; i < rows; i++) {
		uint8_t id[STORE_ID_BYTES];
		if (pg_r_copy(r, i, 0, id, sizeof id) != 0) {
			rc = STORE_ECORRUPT;
			break;
		}
		calls++;
		if (cb(id, data) != 0)
			break;
	}
	PQclear(r);
	return rc ? rc : calls;
}

int pg_list_unit_accounts(struct store *s, const char *tenant, const char *unit,
			  store_account_cb cb, void *data)
{
	uint8_t prefix[STORE__KEY_UNIT_MAX];
	struct pg_params p;
	int err = 0;
	if (!store__key_unit_prefix(prefix, tenant, unit))
		return STORE_EINVAL;
	pg_p_init(&p);
	pg_p_text(&p, tenant);
	pg_p_text(&p, unit);
	PGresult *r = pg__read(s,
			       "SELECT DISTINCT account_id FROM account_units "
			       "WHERE tenant = $1 AND unit = $2 ORDER BY account_id",
			       &p, &err);
	return r ? each_id(r, cb, data) : err;
}

int pg_list_tenant_accounts(struct store *s, const char *tenant, uint8_t kind,
			    store_account_cb cb, void *data)
{
	uint8_t prefix[STORE__KEY_TENANT_MAX];
	struct pg_params p;
	int err = 0;
	if (!store__key_tenant_prefix(prefix, tenant))
		return STORE_EINVAL;
	pg_p_init(&p);
	pg_p_text(&p, tenant);
	pg_p_int2(&p, kind);
	PGresult *r = pg__read(s,
			       "SELECT id FROM accounts WHERE tenant = $1 AND ($2 = 0 OR kind = $2) "
			       "ORDER BY kind, id",
			       &p, &err);
	return r ? each_id(r, cb, data) : err;
}
