/* SPDX-License-Identifier: MPL-2.0 */
/* Token buckets shared by every relay on the database (table device_rates, schema_relay.c). */
#include <stdlib.h>
#include <string.h>

#include "aux_internal.h"

/* One statement takes the token: the row is locked by the upsert, so two relays taking at once
 * are serialised by the database and never both get the last token. `avail` is the bucket refilled
 * up to now (capped at per_minute); taken says whether it held a whole token.
 *
 * The bucket need not survive a crash of the server (a lost take only gives a token back), so the
 * statement's own transaction commits without waiting for the WAL flush and the synchronous
 * standby: set_config(..., true) lasts until this transaction's end, which includes its commit,
 * and the pooled connection is back at the server's setting for the next statement (blob bytes
 * share the pool and do wait). One round trip, and no disk wait on the loop thread. */
#define AVAIL "least($3::float8, r.tokens + greatest(" AUX_NOW_MS " - r.at_ms, 0) * $3::float8 / 60000.0)"
static const char take_sql[] =
	"INSERT INTO device_rates AS r (key, kind, tokens, taken, at_ms)"
	" VALUES ($1, $2, $3::float8 - 1, true, " AUX_NOW_MS ")"
	" ON CONFLICT (key, kind) DO UPDATE SET"
	"  tokens = CASE WHEN " AVAIL " >= 1 THEN " AVAIL " - 1 ELSE " AVAIL " END,"
	"  taken = " AVAIL " >= 1,"
	"  at_ms = greatest(r.at_ms, " AUX_NOW_MS ")"
	" RETURNING taken, tokens, set_config('synchronous_commit', 'off', true)";

struct take_args {
	const uint8_t *key;
	int64_t kind, per_minute;
	bool taken;
	double tokens;
};

static int take_fn(PGconn *conn, void *arg)
{
	struct take_args *t = arg;
	struct aux_params p = { 0 };
	aux_param_bytes(&p, t->key, STORE_ID_BYTES);
	aux_param_i64(&p, t->kind);
	aux_param_i64(&p, t->per_minute);
	int err = 0;
	PGresult *res = aux_exec(conn, take_sql, &p, &err);
	if (!res)
		return err;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return STORE_EIO;
	}
	t->taken = aux_get_bool(res, 0, 0);
	t->tokens = aux_get_f64(res, 0, 1);
	PQclear(res);
	return 0;
}

int store_rate_take(struct store_aux *aux, const uint8_t key[STORE_ID_BYTES], uint8_t kind,
		    uint32_t per_minute, bool *taken, uint64_t *retry_ms)
{
	if (!aux || per_minute == 0)
		return STORE_EINVAL;
	struct take_args t = { .key = key, .kind = kind, .per_minute = per_minute };
	int rc = aux_run(aux, take_fn, &t);
	if (rc != 0)
		return rc;
	*taken = t.taken;
	double missing = t.taken ? 0.0 : 1.0 - t.tokens;
	if (missing < 0)
		missing = 0;
	*retry_ms = (uint64_t)(missing * 60000.0 / per_minute) + 1;
	return 0;
}

struct sweep_args {
	int64_t idle_ms;
	int64_t deleted;
};

static int sweep_fn(PGconn *conn, void *arg)
{
	struct sweep_args *s = arg;
	struct aux_params p = { 0 };
	aux_param_i64(&p, s->idle_ms);
	int err = 0;
	PGresult *res = aux_exec(conn, "DELETE FROM device_rates WHERE at_ms < " AUX_NOW_MS " - $1",
				 &p, &err);
	if (!res)
		return err;
	s->deleted = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

int store_rate_sweep(struct store_aux *aux, uint64_t idle_ms)
{
	if (!aux)
		return STORE_EINVAL;
	struct sweep_args s = { .idle_ms = (int64_t)idle_ms };
	int rc = aux_run(aux, sweep_fn, &s);
	return rc ? rc : (int)(s.deleted > 1000000000 ? 1000000000 : s.deleted);
}
