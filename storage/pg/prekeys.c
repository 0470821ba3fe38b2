/* SPDX-License-Identifier: MPL-2.0 */
/* Prekeys in the PostgreSQL engine (spec/storage-postgresql.md §3.4): one signed prekey per
 * device; one-time prekeys, each handed out once even when several relays take keys of the same
 * device at the same moment. */
#include <string.h>

#include "pg_internal.h"

/* The device must exist and be active to receive new prekeys. The share lock makes a revocation
 * on another relay wait until this transaction ends, and then drop these keys too. */
static int device_active(struct pg_wtxn *w, const uint8_t id[STORE_ID_BYTES])
{
	struct pg_params p;
	int err = 0;
	pg_p_init(&p);
	pg_p_bytea(&p, id, STORE_ID_BYTES);
	PGresult *r = pg_exec(w->conn, "SELECT revoked FROM devices WHERE id = $1 FOR SHARE", &p,
			      &err);
	if (!r)
		return err;
	int rows = PQntuples(r);
	bool revoked = rows == 1 && pg_r_bool(r, 0, 0);
	PQclear(r);
	if (rows != 1 || revoked) {
		pg__req_fail_device(w, id);
		return rows != 1 ? STORE_ENODEVICE : STORE_EREVOKED;
	}
	return 0;
}

int pg__op_put_signed_prekey_apply(struct pg_wtxn *w, struct store__op *op)
{
	const uint8_t *id = op->u.put_signed_prekey.device_id;
	const struct store_signed_prekey *spk = &op->u.put_signed_prekey.spk;
	struct pg_params p;
	int rc = device_active(w, id);
	if (rc)
		return rc;
	pg_p_init(&p);
	pg_p_bytea(&p, id, STORE_ID_BYTES);
	pg_p_int8(&p, spk->id);
	pg_p_bytea(&p, spk->public_key, STORE_KEY_BYTES);
	pg_p_int8(&p, spk->created_ms);
	pg_p_bytea(&p, spk->signature, STORE_SIG_BYTES);
	return pg_cmd(w->conn,
		      "INSERT INTO signed_prekeys (device_id, id, public_key, created_ms, signature) "
		      "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (device_id) DO UPDATE SET "
		      "id = excluded.id, public_key = excluded.public_key, "
		      "created_ms = excluded.created_ms, signature = excluded.signature",
		      &p);
}

int pg__op_add_one_time_prekeys_apply(struct pg_wtxn *w, struct store__op *op)
{
	const uint8_t *id = op->u.add_one_time_prekeys.device_id;
	struct pg_array ids, keys;
	struct pg_params p;
	int err = 0;
	int rc = device_active(w, id);
	if (rc)
		return rc;
	pg_a_init(&ids, PG_OID_INT8);
	pg_a_init(&keys, PG_OID_BYTEA);
	for (size_t i = 0; i < op->u.add_one_time_prekeys.n; i++) {
		pg_a_int8(&ids, op->u.add_one_time_prekeys.keys[i].id);
		pg_a_bytes(&keys, op->u.add_one_time_prekeys.keys[i].public_key, STORE_KEY_BYTES);
	}
	pg_p_init(&p);
	pg_p_bytea(&p, id, STORE_ID_BYTES);
	if ((rc = pg_p_array(&p, &ids, PG_OID_INT8_ARRAY)) == 0 &&
	    (rc = pg_p_array(&p, &keys, PG_OID_BYTEA_ARRAY)) == 0)
		/* An existing id is replaced; a batch naming one id twice keeps the last (as LMDB's
		 * puts in order do): DISTINCT ON over the position, latest first. */
		rc = pg_cmd(w->conn,
			    "INSERT INTO one_time_prekeys (device_id, id, public_key) "
			    "SELECT DISTINCT ON (k.id) $1::bytea, k.id, k.key "
			    "FROM unnest($2::bigint[], $3::bytea[]) WITH ORDINALITY AS k(id, key, pos) "
			    "ORDER BY k.id, k.pos DESC "
			    "ON CONFLICT (device_id, id) DO UPDATE SET public_key = excluded.public_key",
			    &p);
	pg_a_free(&ids);
	pg_a_free(&keys);
	if (rc)
		return rc;
	pg_p_init(&p);
	pg_p_bytea(&p, id, STORE_ID_BYTES);
	PGresult *r = pg_exec(w->conn, "SELECT count(*) FROM one_time_prekeys WHERE device_id = $1",
			      &p, &err);
	if (!r)
		return err;
	uint64_t count = pg_r_int(r, 0, 0);
	PQclear(r);
	if (count > STORE_OTPK_MAX_PER_DEVICE) {
		pg__req_fail_device(w, id);
		return STORE_ELIMIT;
	}
	return 0;
}

int pg__op_take_one_time_prekeys_apply(struct pg_wtxn *w, struct store__op *op)
{
	struct store_take_result *res = &op->u.take_one_time_prekeys.result;
	struct store_taken_prekey *keys = op->u.take_one_time_prekeys.keys;
	for (size_t i = 0; i < res->n; i++) {
		struct pg_params p;
		int err = 0;
		keys[i].found = false;
		memset(&keys[i].key, 0, sizeof keys[i].key);
		pg_p_init(&p);
		pg_p_bytea(&p, keys[i].device_id, STORE_ID_BYTES);
		/* The lowest key nobody else holds: a key another relay's open transaction took is
		 * skipped, not waited for, and never handed out twice (its row is locked until that
		 * transaction ends, deleted if it commits). */
		PGresult *r = pg_exec(w->conn,
				      "DELETE FROM one_time_prekeys WHERE (device_id, id) = "
				      "(SELECT device_id, id FROM one_time_prekeys WHERE device_id = $1 "
				      "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) "
				      "RETURNING id, public_key",
				      &p, &err);
		if (!r)
			return err;
		int rc = 0;
		if (PQntuples(r) == 1) {
			keys[i].key.id = (uint32_t)pg_r_int(r, 0, 0);
			rc = pg_r_copy(r, 0, 1, keys[i].key.public_key, STORE_KEY_BYTES);
			keys[i].found = rc == 0;
		}
		PQclear(r);
		if (rc)
			return rc;
	}
	return 0;
}

int pg_count_one_time_prekeys(struct store *s, const uint8_t device_id[STORE_ID_BYTES],
			      uint32_t *n)
{
	struct pg_params p;
	int err = 0;
	pg_p_init(&p);
	pg_p_bytea(&p, device_id, STORE_ID_BYTES);
	PGresult *r = pg__read(s, "SELECT count(*) FROM one_time_prekeys WHERE device_id = $1", &p,
			       &err);
	if (!r)
		return err;
	uint64_t count = pg_r_int(r, 0, 0);
	PQclear(r);
	*n = count > UINT32_MAX ? UINT32_MAX : (uint32_t)count;
	return 0;
}

int pg_get_signed_prekey(struct store *s, const uint8_t device_id[STORE_ID_BYTES],
			 struct store_signed_prekey *out)
{
	struct pg_params p;
	int err = 0;
	pg_p_init(&p);
	pg_p_bytea(&p, device_id, STORE_ID_BYTES);
	PGresult *r = pg__read(s,
			       "SELECT id, public_key, created_ms, signature FROM signed_prekeys "
			       "WHERE device_id = $1",
			       &p, &err);
	if (!r)
		return err;
	int rc = STORE_ENOTFOUND;
	if (PQntuples(r) == 1) {
		struct store_signed_prekey spk;
		spk.id = (uint32_t)pg_r_int(r, 0, 0);
		spk.created_ms = pg_r_int(r, 0, 2);
		rc = pg_r_copy(r, 0, 1, spk.public_key, STORE_KEY_BYTES);
		if (rc == 0)
			rc = pg_r_copy(r, 0, 3, spk.signature, STORE_SIG_BYTES);
		if (rc == 0)
			*out = spk;
	}
	PQclear(r);
	return rc;
}
