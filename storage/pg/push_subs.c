/* SPDX-License-Identifier: MPL-2.0 */
/* Push subscriptions in the PostgreSQL engine (spec/storage-postgresql.md §3.7): at most one per
 * device. */
#include <stdlib.h>
#include <string.h>

#include "pg_internal.h"

int pg__op_put_push_sub_apply(struct pg_wtxn *w, struct store__op *op)
{
	struct store_push_sub *sub = op->u.push_sub.sub;
	const uint8_t *id = op->u.push_sub.device_id;
	struct pg_params p;
	int err = 0;
	pg_p_init(&p);
	pg_p_bytea(&p, id, STORE_ID_BYTES);
	/* The share lock: a revocation on another relay waits, then drops this subscription. */
	PGresult *r = pg_exec(w->conn, "SELECT revoked FROM devices WHERE id = $1 FOR SHARE", &p,
			      &err);
	if (!r)
		return err;
	int rows = PQntuples(r);
	bool revoked = rows == 1 && pg_r_bool(r, 0, 0);
	PQclear(r);
	if (rows != 1)
		return STORE_ENOTFOUND;
	if (revoked)
		return STORE_EREVOKED;
	sub->updated_ms = w->now_ms; /* written on a re-run too: the batch's clock */
	bool web = sub->kind == STORE_PUSH_WEB;
	static const uint8_t zero[65];
	pg_p_init(&p);
	pg_p_bytea(&p, id, STORE_ID_BYTES);
	pg_p_int2(&p, sub->kind);
	pg_p_int8(&p, sub->updated_ms);
	pg_p_bytea(&p, web ? sub->p256dh : zero, sizeof sub->p256dh);
	pg_p_bytea(&p, web ? sub->auth : zero, sizeof sub->auth);
	pg_p_text(&p, sub->app);
	pg_p_textn(&p, sub->addr, sub->addr_len);
	return pg_cmd(w->conn,
		      "INSERT INTO push_subs (device_id, kind, updated_ms, p256dh, auth, app, addr) "
		      "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (device_id) DO UPDATE SET "
		      "kind = excluded.kind, updated_ms = excluded.updated_ms, "
		      "p256dh = excluded.p256dh, auth = excluded.auth, app = excluded.app, "
		      "addr = excluded.addr",
		      &p);
}

int pg__op_delete_push_sub_apply(struct pg_wtxn *w, struct store__op *op)
{
	struct pg_params p;
	int err = 0;
	op->u.push_sub.found = false;
	pg_p_init(&p);
	pg_p_bytea(&p, op->u.push_sub.device_id, STORE_ID_BYTES);
	/* With if_updated_ms only the subscription the push service refused goes, not one the
	 * device registered since. */
	pg_p_int8(&p, op->u.push_sub.if_updated_ms);
	PGresult *r = pg_exec(w->conn,
			      "DELETE FROM push_subs WHERE device_id = $1 AND "
			      "($2 = 0 OR updated_ms = $2) RETURNING 1",
			      &p, &err);
	if (!r)
		return err;
	op->u.push_sub.found = PQntuples(r) == 1;
	PQclear(r);
	return 0;
}

int pg_get_push_sub(struct store *s, const uint8_t device_id[STORE_ID_BYTES],
		    struct store_push_sub *out)
{
	struct pg_params p;
	int err = 0;
	pg_p_init(&p);
	pg_p_bytea(&p, device_id, STORE_ID_BYTES);
	PGresult *r = pg__read(s,
			       "SELECT kind, updated_ms, p256dh, auth, app, addr FROM push_subs "
			       "WHERE device_id = $1",
			       &p, &err);
	if (!r)
		return err;
	int rc = STORE_ENOTFOUND;
	if (PQntuples(r) == 1) {
		struct store_push_sub sub;
		size_t alen;
		memset(&sub, 0, sizeof sub);
		sub.kind = (uint8_t)pg_r_int(r, 0, 0);
		sub.updated_ms = pg_r_int(r, 0, 1);
		pg_r_bytes(r, 0, 5, &alen);
		if ((rc = pg_r_copy(r, 0, 2, sub.p256dh, sizeof sub.p256dh)) == 0 &&
		    (rc = pg_r_copy(r, 0, 3, sub.auth, sizeof sub.auth)) == 0 &&
		    (rc = pg_r_text(r, 0, 4, sub.app, sizeof sub.app)) == 0 &&
		    (rc = pg_r_text(r, 0, 5, sub.addr, sizeof sub.addr)) == 0)
			sub.addr_len = alen;
		if (rc == 0 && (sub.addr_len == 0 || (sub.kind != STORE_PUSH_WEB &&
						      sub.kind != STORE_PUSH_APNS &&
						      sub.kind != STORE_PUSH_FCM)))
			rc = STORE_ECORRUPT;
		if (rc == 0)
			*out = sub;
	}
	PQclear(r);
	return rc;
}

int pg_list_push_subs(struct store *s, const uint8_t *after, size_t max,
		      void (*cb)(const uint8_t device_id[STORE_ID_BYTES], void *data), void *data)
{
	struct pg_params p;
	int err = 0;
	if (max > INT32_MAX)
		max = INT32_MAX;
	pg_p_init(&p);
	if (after)
		pg_p_bytea(&p, after, STORE_ID_BYTES);
	else
		pg_p_null(&p, PG_OID_BYTEA);
	pg_p_int8(&p, max);
	PGresult *r = pg__read(s,
			       "SELECT device_id FROM push_subs WHERE $1::bytea IS NULL OR device_id > $1 "
			       "ORDER BY device_id LIMIT $2",
			       &p, &err);
	if (!r)
		return err;
	int rows = PQntuples(r), rc = 0;
	uint8_t(*ids)[STORE_ID_BYTES] = malloc((rows ? rows : 1) * sizeof *ids);
	if (!ids) {
		PQclear(r);
		return STORE_ENOMEM;
	}
	for (int i = 0; i < rows && rc == 0; i++)
		rc = pg_r_copy(r, i, 0, ids[i], STORE_ID_BYTES);
	PQclear(r);
	for (int i = 0; i < rows && rc == 0; i++)
		cb(ids[i], data);
	free(ids);
	return rc ? rc : rows;
}
