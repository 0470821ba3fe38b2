/* SPDX-License-Identifier: MPL-2.0 */
/* Devices in the PostgreSQL engine: put, revoke (dropping its prekeys and push subscription), get
 * and list by account (spec/storage-postgresql.md §3.3). */
#include <string.h>

#include "pg_internal.h"
#include "records_internal.h"

#define DEVICE_COLS \
	"id, account_id, identity_key, created_ms, revoked, revoked_ms, label, next_seq, " \
	"mailbox_count, mailbox_bytes"

/* A row of DEVICE_COLS into *d. */
static int device_row(const PGresult *r, int row, struct store_device *d)
{
	size_t llen;
	memset(d, 0, sizeof *d);
	int rc = pg_r_copy(r, row, 0, d->id, STORE_ID_BYTES);
	if (rc == 0)
		rc = pg_r_copy(r, row, 1, d->account_id, STORE_ID_BYTES);
	if (rc == 0)
		rc = pg_r_copy(r, row, 2, d->identity_key, STORE_KEY_BYTES);
	if (rc)
		return rc;
	d->created_ms = pg_r_int(r, row, 3);
	d->revoked = pg_r_bool(r, row, 4);
	d->revoked_ms = pg_r_int(r, row, 5);
	const uint8_t *label = pg_r_bytes(r, row, 6, &llen);
	if (llen > STORE_DEVICE_LABEL_MAX)
		return STORE_ECORRUPT;
	memcpy(d->label, label, llen);
	d->label[llen] = '\0';
	d->label_len = (uint8_t)llen;
	d->next_seq = pg_r_int(r, row, 7);
	d->mailbox_count = pg_r_int(r, row, 8);
	d->mailbox_bytes = pg_r_int(r, row, 9);
	return 0;
}

int pg__op_put_device_apply(struct pg_wtxn *w, struct store__op *op)
{
	const struct store_device *d = &op->u.put_device;
	uint8_t buf[STORE__DEVICE_MAX_LEN];
	struct pg_params p;
	int err = 0;
	/* The record's rules (the label's length and UTF-8), as the LMDB engine checks them. */
	if (!store__device_encode(d, buf))
		return STORE_EINVAL;
	/* The account must exist; the share lock keeps it until this transaction ends. */
	pg_p_init(&p);
	pg_p_bytea(&p, d->account_id, STORE_ID_BYTES);
	PGresult *r = pg_exec(w->conn, "SELECT 1 FROM accounts WHERE id = $1 FOR SHARE", &p, &err);
	if (!r)
		return err;
	bool account = PQntuples(r) == 1;
	PQclear(r);
	if (!account)
		return STORE_ENOTFOUND;
	pg_p_init(&p);
	pg_p_bytea(&p, d->id, STORE_ID_BYTES);
	pg_p_bytea(&p, d->account_id, STORE_ID_BYTES);
	pg_p_bytea(&p, d->identity_key, STORE_KEY_BYTES);
	pg_p_int8(&p, d->created_ms);
	pg_p_bool(&p, d->revoked);
	pg_p_int8(&p, d->revoked ? d->revoked_ms : 0);
	pg_p_bytea(&p, d->label, d->label_len);
	/* A device id belongs to one account for good: the update applies only to the same
	 * account's device, and no row back means another account's (STORE_EEXIST). The mailbox
	 * counters and next_seq of an existing device are kept. */
	r = pg_exec(w->conn,
		    "INSERT INTO devices (" DEVICE_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, 1, 0, 0) "
		    "ON CONFLICT (id) DO UPDATE SET identity_key = excluded.identity_key, "
		    "created_ms = excluded.created_ms, revoked = excluded.revoked, "
		    "revoked_ms = excluded.revoked_ms, label = excluded.label "
		    "WHERE devices.account_id = excluded.account_id RETURNING 1",
		    &p, &err);
	if (!r)
		return err;
	bool written = PQntuples(r) == 1;
	PQclear(r);
	return written ? 0 : STORE_EEXIST;
}

int pg__device_drop_keys(struct pg_wtxn *w, const uint8_t id[STORE_ID_BYTES])
{
	static const char *const sql[] = {
		"DELETE FROM signed_prekeys WHERE device_id = $1",
		"DELETE FROM one_time_prekeys WHERE device_id = $1",
		/* A revoked device is never woken again (spec/protocol.md §17). */
		"DELETE FROM push_subs WHERE device_id = $1",
	};
	for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
		struct pg_params p;
		pg_p_init(&p);
		pg_p_bytea(&p, id, STORE_ID_BYTES);
		int rc = pg_cmd(w->conn, sql[i], &p);
		if (rc)
			return rc;
	}
	return 0;
}

int pg__op_revoke_device_apply(struct pg_wtxn *w, struct store__op *op)
{
	const uint8_t *id = op->u.revoke_device.device_id;
	struct pg_params p;
	int err = 0;
	pg_p_init(&p);
	pg_p_bytea(&p, id, STORE_ID_BYTES);
	PGresult *r = pg_exec(w->conn, "SELECT revoked FROM devices WHERE id = $1 FOR UPDATE", &p,
			      &err);
	if (!r)
		return err;
	int rows = PQntuples(r);
	bool revoked = rows == 1 && pg_r_bool(r, 0, 0);
	PQclear(r);
	if (rows != 1)
		return STORE_ENOTFOUND;
	if (revoked)
		return 0; /* revoking twice keeps the first time */
	pg_p_init(&p);
	pg_p_bytea(&p, id, STORE_ID_BYTES);
	pg_p_int8(&p, op->u.revoke_device.at_ms);
	int rc = pg_cmd(w->conn, "UPDATE devices SET revoked = true, revoked_ms = $2 WHERE id = $1",
			&p);
	return rc ? rc : pg__device_drop_keys(w, id);
}

int pg_get_device(struct store *s, const uint8_t id[STORE_ID_BYTES], struct store_device *out)
{
	struct pg_params p;
	int err = 0;
	pg_p_init(&p);
	pg_p_bytea(&p, id, STORE_ID_BYTES);
	PGresult *r = pg__read(s, "SELECT " DEVICE_COLS " FROM devices WHERE id = $1", &p, &err);
	if (!r)
		return err;
	int rc = PQntuples(r) == 1 ? device_row(r, 0, out) : STORE_ENOTFOUND;
	PQclear(r);
	return rc;
}

int pg_list_devices(struct store *s, const uint8_t account_id[STORE_ID_BYTES],
		    bool include_revoked, struct store_device *out, size_t cap, size_t *n)
{
	struct pg_params p;
	int err = 0;
	pg_p_init(&p);
	pg_p_bytea(&p, account_id, STORE_ID_BYTES);
	pg_p_bool(&p, include_revoked);
	PGresult *r = pg__read(s,
			       "SELECT " DEVICE_COLS " FROM devices "
			       "WHERE account_id = $1 AND ($2 OR NOT revoked) ORDER BY id",
			       &p, &err);
	if (!r)
		return err;
	int rows = PQntuples(r), rc = 0;
	for (int i = 0; i < rows && (size_t)i < cap && rc == 0; i++)
		rc = device_row(r, i, &out[i]);
	PQclear(r);
	if (rc == 0)
		*n = (size_t)rows;
	return rc;
}
