/* SPDX-License-Identifier: MPL-2.0 */
/* Attachment blob records in PostgreSQL (spec/storage-postgresql.md §blobs), with the LMDB
 * engine's semantics (storage/blobs.c): the record of each blob, the per-device download grants,
 * the per-account usage that the quota bounds and the count of complete blobs per
 * content-addressed file. The bytes are not here; removals report which content to delete.
 *
 * Several relays share the rows: an operation that changes a blob first locks its row
 * (SELECT ... FOR UPDATE), and the usage and file counters are changed under their own row
 * locks, so a quota is never passed by two declares at once and exactly one relay learns that a
 * file became unused. */
#include <string.h>

#include "pg_records.h"

#define BLOB_COLS "id, state, owner_account, owner_device, size, have, sha256, created_ms," \
		  " expires_at, refs"

/* One row of BLOB_COLS (from column col0) as a record; STORE_ECORRUPT if it breaks the rules. */
static int blob_row(const PGresult *r, int i, struct store_blob *b)
{
	memset(b, 0, sizeof *b);
	if (pg_r_copy(r, i, 0, b->id, STORE_ID_BYTES) ||
	    pg_r_copy(r, i, 2, b->owner_account, STORE_ID_BYTES) ||
	    pg_r_copy(r, i, 3, b->owner_device, STORE_ID_BYTES) ||
	    pg_r_copy(r, i, 6, b->sha256, STORE_BLOB_SHA_BYTES))
		return STORE_ECORRUPT;
	uint64_t state = pg_r_int(r, i, 1), refs = pg_r_int(r, i, 9);
	b->size = pg_r_int(r, i, 4);
	b->have = pg_r_int(r, i, 5);
	b->created_ms = pg_r_int(r, i, 7);
	b->expires_at_ms = pg_r_int(r, i, 8);
	if ((state != STORE_BLOB_UPLOADING && state != STORE_BLOB_COMPLETE) || refs > UINT32_MAX ||
	    b->size == 0 || b->size > (uint64_t)INT64_MAX || b->have > b->size ||
	    (state == STORE_BLOB_COMPLETE && b->have != b->size))
		return STORE_ECORRUPT;
	b->state = (uint8_t)state;
	b->refs = (uint32_t)refs;
	return 0;
}

/* Loads a blob for a change, its row locked until the batch ends. */
static int load_locked(struct pg_wtxn *w, const uint8_t id[STORE_ID_BYTES], struct store_blob *out)
{
	struct pg_params p;
	int err = 0;
	pg_p_init(&p);
	pg_p_bytea(&p, id, STORE_ID_BYTES);
	PGresult *r = pg_exec(w->conn, "SELECT " BLOB_COLS " FROM blobs WHERE id = $1 FOR UPDATE", &p,
			      &err);
	if (!r)
		return err;
	err = PQntuples(r) == 1 ? blob_row(r, 0, out) : STORE_ENOTFOUND;
	PQclear(r);
	return err;
}

/* Writes the fields an operation may change. */
static int save(struct pg_wtxn *w, const struct store_blob *b)
{
	struct pg_params p;
	pg_p_init(&p);
	pg_p_bytea(&p, b->id, STORE_ID_BYTES);
	pg_p_int2(&p, b->state);
	pg_p_int8(&p, b->have);
	pg_p_int8(&p, b->expires_at_ms);
	pg_p_int8(&p, b->refs);
	return pg_cmd(w->conn,
		      "UPDATE blobs SET state = $2, have = $3, expires_at = $4, refs = $5 WHERE id = $1",
		      &p);
}

/* Adds delta to the count of complete blobs naming sha256 (the row is deleted at 0); *after
 * (may be NULL) gets the new count. */
static int files_add(struct pg_wtxn *w, const uint8_t sha256[STORE_BLOB_SHA_BYTES], int delta,
		     uint64_t *after)
{
	struct pg_params p;
	int err = 0;
	pg_p_init(&p);
	pg_p_bytea(&p, sha256, STORE_BLOB_SHA_BYTES);
	if (delta > 0) {
		PGresult *r = pg_exec(w->conn,
				      "INSERT INTO blob_files AS f (sha256, count) VALUES ($1, 1)"
				      " ON CONFLICT (sha256) DO UPDATE SET count = f.count + 1"
				      " RETURNING count",
				      &p, &err);
		if (!r)
			return err;
		if (after)
			*after = pg_r_int(r, 0, 0);
		PQclear(r);
		return 0;
	}
	PGresult *r = pg_exec(w->conn, "SELECT count FROM blob_files WHERE sha256 = $1 FOR UPDATE", &p,
			      &err);
	if (!r)
		return err;
	uint64_t n = PQntuples(r) == 1 ? pg_r_int(r, 0, 0) : 0;
	PQclear(r);
	uint64_t left = n > 1 ? n - 1 : 0;
	if (after)
		*after = left;
	if (n == 0)
		return 0;
	if (left == 0)
		return pg_cmd(w->conn, "DELETE FROM blob_files WHERE sha256 = $1", &p);
	return pg_cmd(w->conn, "UPDATE blob_files SET count = count - 1 WHERE sha256 = $1", &p);
}

/* Removes a blob with everything that hangs off it (its grants go with the row: ON DELETE
 * CASCADE); fills *out. The row is locked by the caller. */
static int remove_blob(struct pg_wtxn *w, const struct store_blob *b, struct store_blob_removed *out)
{
	struct pg_params p;
	int err = 0;
	pg_p_init(&p);
	pg_p_bytea(&p, b->id, STORE_ID_BYTES);
	err = pg_cmd(w->conn, "DELETE FROM blobs WHERE id = $1", &p);
	if (err)
		return err;
	pg_p_init(&p);
	pg_p_bytea(&p, b->owner_account, STORE_ID_BYTES);
	pg_p_int8(&p, b->size);
	PGresult *r = pg_exec(w->conn,
			      "UPDATE blob_usage SET bytes = greatest(bytes - $2, 0),"
			      " blobs = greatest(blobs - 1, 0) WHERE account_id = $1 RETURNING blobs",
			      &p, &err);
	if (!r)
		return err;
	bool none_left = PQntuples(r) == 1 && pg_r_int(r, 0, 0) == 0;
	PQclear(r);
	if (none_left) {
		p.n = 1;
		err = pg_cmd(w->conn, "DELETE FROM blob_usage WHERE account_id = $1", &p);
		if (err)
			return err;
	}
	uint64_t files = 0;
	if (b->state == STORE_BLOB_COMPLETE && (err = files_add(w, b->sha256, -1, &files)))
		return err;
	store__blob_removed_fill(out, b, files);
	return 0;
}

/* ---- apply ----------------------------------------------------------------------------------- */

int pg__op_blob_declare_apply(struct pg_wtxn *w, struct store__op *op)
{
	struct store_blob *in = &op->u.blob_one.blob;
	struct store_blob cur;
	struct pg_params p;
	int err = 0;
	op->u.blob_one.created = false;
	if (in->size == 0 || in->size > (uint64_t)INT64_MAX)
		return STORE_EINVAL;
	for (int attempt = 0;; attempt++) {
		err = load_locked(w, in->id, &cur);
		if (err == 0) {
			if (memcmp(cur.owner_device, in->owner_device, STORE_ID_BYTES) != 0 ||
			    cur.size != in->size ||
			    memcmp(cur.sha256, in->sha256, STORE_BLOB_SHA_BYTES) != 0)
				return STORE_EEXIST;
			*in = cur;
			return 0;
		}
		if (err != STORE_ENOTFOUND)
			return err;
		if (attempt == 1) /* inserted by another relay, then removed again at once */
			return PG__ERETRY;

		/* The owner's usage row, locked: declares for one account queue up here. */
		pg_p_init(&p);
		pg_p_bytea(&p, in->owner_account, STORE_ID_BYTES);
		PGresult *r = pg_exec(w->conn,
				      "INSERT INTO blob_usage AS u (account_id, bytes, blobs) VALUES ($1, 0, 0)"
				      " ON CONFLICT (account_id) DO UPDATE SET bytes = u.bytes"
				      " RETURNING bytes, blobs",
				      &p, &err);
		if (!r)
			return err;
		uint64_t used = pg_r_int(r, 0, 0), blobs = pg_r_int(r, 0, 1);
		PQclear(r);
		if (blobs >= STORE_BLOB_MAX_PER_ACCOUNT)
			return STORE_ELIMIT;
		if (op->u.blob_one.quota &&
		    (used + in->size > op->u.blob_one.quota || used + in->size < used))
			return STORE_EQUOTA;
		if (used + in->size > (uint64_t)INT64_MAX)
			return STORE_ELIMIT;

		struct store_blob b = *in;
		b.state = STORE_BLOB_UPLOADING;
		b.have = 0;
		b.refs = 0;
		b.created_ms = w->now_ms;
		pg_p_init(&p);
		pg_p_bytea(&p, b.id, STORE_ID_BYTES);
		pg_p_int2(&p, b.state);
		pg_p_bytea(&p, b.owner_account, STORE_ID_BYTES);
		pg_p_bytea(&p, b.owner_device, STORE_ID_BYTES);
		pg_p_int8(&p, b.size);
		pg_p_bytea(&p, b.sha256, STORE_BLOB_SHA_BYTES);
		pg_p_int8(&p, b.created_ms);
		pg_p_int8(&p, b.expires_at_ms);
		/* The record and the usage it adds, in one statement. Another relay declaring the
		 * same id at this moment: the insert waits for its batch and then finds the row
		 * (nothing inserted, nothing added), and the loop compares. */
		r = pg_exec(w->conn,
			    "WITH ins AS (INSERT INTO blobs (id, state, owner_account, owner_device, size,"
			    " have, sha256, created_ms, expires_at, refs)"
			    " VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8, 0)"
			    " ON CONFLICT (id) DO NOTHING RETURNING owner_account, size)"
			    " UPDATE blob_usage u SET bytes = u.bytes + ins.size, blobs = u.blobs + 1"
			    " FROM ins WHERE u.account_id = ins.owner_account",
			    &p, &err);
		if (!r)
			return err;
		size_t inserted = pg__cmd_rows(r);
		PQclear(r);
		if (inserted != 1) {
			/* the usage row this attempt may have created stays only if it counts */
			pg_p_init(&p);
			pg_p_bytea(&p, b.owner_account, STORE_ID_BYTES);
			err = pg_cmd(w->conn, "DELETE FROM blob_usage WHERE account_id = $1 AND blobs = 0",
				     &p);
			if (err)
				return err;
			continue;
		}
		/* The result is the stored record. */
		op->u.blob_one.created = true;
		*in = b;
		return 0;
	}
}

int pg__op_blob_progress_apply(struct pg_wtxn *w, struct store__op *op)
{
	struct store_blob b;
	int err = load_locked(w, op->u.blob_one.blob.id, &b);
	if (err)
		return err;
	if (b.state != STORE_BLOB_UPLOADING || b.have != op->u.blob_one.from ||
	    op->u.blob_one.have > b.size || op->u.blob_one.have < b.have)
		return STORE_EINVAL;
	b.have = op->u.blob_one.have;
	b.expires_at_ms = op->u.blob_one.blob.expires_at_ms;
	if ((err = save(w, &b)))
		return err;
	op->u.blob_one.blob = b;
	return 0;
}

int pg__op_blob_complete_apply(struct pg_wtxn *w, struct store__op *op)
{
	struct store_blob b;
	int err = load_locked(w, op->u.blob_one.blob.id, &b);
	if (err)
		return err;
	if (b.state == STORE_BLOB_UPLOADING) {
		if (b.have != b.size)
			return STORE_EINVAL;
		b.state = STORE_BLOB_COMPLETE;
		b.expires_at_ms = op->u.blob_one.blob.expires_at_ms;
		if ((err = files_add(w, b.sha256, 1, NULL)) || (err = save(w, &b)))
			return err;
	}
	/* As in LMDB: the result carries the asked expiry, also for a blob complete already. */
	uint64_t keep = op->u.blob_one.blob.expires_at_ms;
	op->u.blob_one.blob = b;
	op->u.blob_one.blob.expires_at_ms = keep;
	return 0;
}

int pg__op_blob_ref_apply(struct pg_wtxn *w, struct store__op *op)
{
	size_t nd = op->u.blob_many.n_devices;
	if (!store__req_guard_allows(w->req, op->u.blob_many.guard_op))
		return 0;
	for (size_t i = 0; i < op->u.blob_many.n; i++) {
		struct store_blob b;
		struct pg_params p;
		int err = load_locked(w, op->u.blob_many.ids[i], &b);
		if (err)
			return err;
		if (b.state != STORE_BLOB_COMPLETE)
			return STORE_ENOTFOUND;
		if ((uint64_t)b.refs + nd > UINT32_MAX)
			return STORE_ELIMIT;
		b.refs += (uint32_t)nd;
		if (op->u.blob_many.expires_at_ms > b.expires_at_ms)
			b.expires_at_ms = op->u.blob_many.expires_at_ms;
		if ((err = save(w, &b)))
			return err;
		/* Every recipient's grant in one statement: the device ids travel as one bytea of
		 * 16-byte ids, counted per id (a device named twice gets two). */
		pg_p_init(&p);
		pg_p_bytea(&p, b.id, STORE_ID_BYTES);
		pg_p_bytea(&p, op->u.blob_many.devices, nd * STORE_ID_BYTES);
		pg_p_int8(&p, nd);
		pg_p_int8(&p, op->u.blob_many.expires_at_ms);
		err = pg_cmd(w->conn,
			     "INSERT INTO blob_grants AS g (blob_id, device_id, count, expires_at)"
			     " SELECT $1, d, count(*), $4 FROM"
			     " (SELECT substring($2 FROM i * 16 + 1 FOR 16) AS d"
			     "  FROM generate_series(0, $3::int - 1) AS i) AS ids GROUP BY d"
			     " ON CONFLICT (blob_id, device_id) DO UPDATE SET count = g.count + excluded.count,"
			     " expires_at = greatest(g.expires_at, excluded.expires_at)",
			     &p);
		if (err)
			return err;
	}
	return 0;
}

int pg__op_blob_release_apply(struct pg_wtxn *w, struct store__op *op)
{
	struct store_blob_removal *res = &op->u.blob_many.result;
	res->n = 0;
	res->more = false;
	res->items = op->u.blob_many.removed;
	if (!store__req_guard_allows(w->req, op->u.blob_many.guard_op))
		return 0;
	for (size_t i = 0; i < op->u.blob_many.n; i++) {
		struct store_blob b;
		struct pg_params p;
		int err = load_locked(w, op->u.blob_many.ids[i], &b);
		if (err == STORE_ENOTFOUND)
			continue;
		if (err)
			return err;
		/* The blob's row lock covers its grants: every change of them locks it first. */
		pg_p_init(&p);
		pg_p_bytea(&p, b.id, STORE_ID_BYTES);
		pg_p_bytea(&p, op->u.blob_many.devices[0], STORE_ID_BYTES);
		PGresult *r = pg_exec(w->conn,
				      "SELECT count FROM blob_grants WHERE blob_id = $1 AND device_id = $2",
				      &p, &err);
		if (!r)
			return err;
		uint64_t had = PQntuples(r) == 1 ? pg_r_int(r, 0, 0) : 0;
		PQclear(r);
		if (had == 0)
			continue;
		err = pg_cmd(w->conn,
			     had == 1 ? "DELETE FROM blob_grants WHERE blob_id = $1 AND device_id = $2"
				      : "UPDATE blob_grants SET count = count - 1"
					" WHERE blob_id = $1 AND device_id = $2",
			     &p);
		if (err)
			return err;
		if (b.refs > 0)
			b.refs--;
		if (b.refs == 0 && b.state == STORE_BLOB_COMPLETE)
			err = remove_blob(w, &b, &op->u.blob_many.removed[res->n++]);
		else
			err = save(w, &b);
		if (err)
			return err;
	}
	return 0;
}

int pg__op_blob_delete_apply(struct pg_wtxn *w, struct store__op *op)
{
	struct store_blob_removal *res = &op->u.blob_many.result;
	struct store_blob b;
	res->n = 0;
	res->more = false;
	res->items = op->u.blob_many.removed;
	int err = load_locked(w, op->u.blob_many.ids[0], &b);
	if (err == STORE_ENOTFOUND)
		return 0;
	if (err)
		return err;
	err = remove_blob(w, &b, &op->u.blob_many.removed[0]);
	if (err == 0)
		res->n = 1;
	return err;
}

int pg__op_blob_expire_apply(struct pg_wtxn *w, struct store__op *op)
{
	struct store_blob_removal *res = &op->u.blob_many.result;
	uint8_t (*due)[STORE_ID_BYTES] = op->u.blob_many.ids; /* scratch, max entries */
	size_t max = op->u.blob_many.max, n = 0;
	uint64_t now = op->u.blob_many.now_ms > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX
								     : op->u.blob_many.now_ms;
	struct pg_params p;
	int err = 0;
	res->n = 0;
	res->more = false;
	res->items = op->u.blob_many.removed;

	pg_p_init(&p);
	pg_p_int8(&p, now);
	pg_p_int8(&p, max + 1);
	PGresult *r = pg_exec(w->conn,
			      "SELECT id FROM blobs WHERE expires_at <= $1 ORDER BY expires_at, id LIMIT $2",
			      &p, &err);
	if (!r)
		return err;
	for (int i = 0; i < PQntuples(r) && !err; i++) {
		if ((size_t)i == max) {
			res->more = true;
			break;
		}
		err = pg_r_copy(r, i, 0, due[n++], STORE_ID_BYTES);
	}
	PQclear(r);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		struct store_blob b;
		err = load_locked(w, due[i], &b);
		if (err == STORE_ENOTFOUND)
			continue; /* removed by another relay meanwhile */
		if (err)
			return err;
		if (b.expires_at_ms > now)
			continue; /* referenced again by another relay meanwhile */
		if ((err = remove_blob(w, &b, &op->u.blob_many.removed[res->n++])))
			return err;
	}
	return 0;
}

int pg__blob_erase_owner(struct pg_wtxn *w, const uint8_t account[STORE_ID_BYTES], size_t max,
			 size_t *n, bool *more)
{
	struct pg_params p;
	int err = 0;
	*n = 0;
	*more = false;
	pg_p_init(&p);
	pg_p_bytea(&p, account, STORE_ID_BYTES);
	pg_p_int8(&p, max + 1);
	PGresult *r = pg_exec(w->conn,
			      "SELECT id FROM blobs WHERE owner_account = $1 ORDER BY id LIMIT $2",
			      &p, &err);
	if (!r)
		return err;
	for (int i = 0; i < PQntuples(r) && !err; i++) {
		uint8_t id[STORE_ID_BYTES];
		struct store_blob b;
		struct store_blob_removed gone;
		if ((size_t)i == max) {
			*more = true;
			break;
		}
		err = pg_r_copy(r, i, 0, id, STORE_ID_BYTES);
		if (!err)
			err = load_locked(w, id, &b);
		if (err == STORE_ENOTFOUND) {
			err = 0; /* removed by another relay meanwhile */
			continue;
		}
		if (!err)
			err = remove_blob(w, &b, &gone);
		if (!err)
			(*n)++;
	}
	PQclear(r);
	return err;
}

/* ---- reads ----------------------------------------------------------------------------------- */

int pg_get_blob(struct store *s, const uint8_t id[STORE_ID_BYTES], struct store_blob *out)
{
	struct store_blob b;
	struct pg_params p;
	int err = 0;
	if (!s || !id || !out)
		return STORE_EINVAL;
	pg_p_init(&p);
	pg_p_bytea(&p, id, STORE_ID_BYTES);
	PGresult *r = pg__read(s, "SELECT " BLOB_COLS " FROM blobs WHERE id = $1", &p, &err);
	if (!r)
		return err;
	err = PQntuples(r) == 1 ? blob_row(r, 0, &b) : STORE_ENOTFOUND;
	PQclear(r);
	if (err == 0)
		*out = b;
	return err;
}

/* Records are read in pages of this many, in id order: one result for every blob of a country
 * would be held in memory at once. The pages are read in one REPEATABLE READ transaction, so the
 * walk sees one snapshot as the LMDB engine's does. */
#define BLOB_PAGE 1000

static int list_pages(struct store *s, store_blob_cb cb, void *data)
{
	uint8_t after[STORE_ID_BYTES];
	bool first = true;
	int err = 0;
	for (;;) {
		struct pg_params p;
		pg_p_init(&p);
		pg_p_bytea(&p, after, first ? 0 : STORE_ID_BYTES);
		pg_p_int8(&p, BLOB_PAGE);
		/* '' sorts before every 16-byte id */
		PGresult *r = pg__read(s, "SELECT " BLOB_COLS " FROM blobs WHERE id > $1 ORDER BY id LIMIT $2",
				       &p, &err);
		if (!r)
			return err;
		int n = PQntuples(r);
		for (int i = 0; i < n && err == 0; i++) {
			struct store_blob b;
			/* A damaged record is an error: a backup must not leave out content it cannot
			 * name. */
			err = blob_row(r, i, &b);
			if (err == 0) {
				memcpy(after, b.id, STORE_ID_BYTES);
				err = cb(&b, data);
			}
		}
		PQclear(r);
		first = false;
		if (err || n < BLOB_PAGE)
			return err;
	}
}

int pg_list_blobs(struct store *s, store_blob_cb cb, void *data)
{
	int err = 0;
	if (!s || !cb)
		return STORE_EINVAL;
	PGresult *r = pg__read(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL, &err);
	if (!r)
		return err;
	PQclear(r);
	int rc = list_pages(s, cb, data);
	/* read only: nothing to keep; also ends a transaction a failed statement aborted */
	r = pg__read(s, "ROLLBACK", NULL, &err);
	if (r)
		PQclear(r);
	return rc;
}

int pg_get_blob_file_count(struct store *s, const uint8_t sha256[STORE_BLOB_SHA_BYTES],
			   uint32_t *count)
{
	struct pg_params p;
	int err = 0;
	if (!s || !sha256 || !count)
		return STORE_EINVAL;
	pg_p_init(&p);
	pg_p_bytea(&p, sha256, STORE_BLOB_SHA_BYTES);
	PGresult *r = pg__read(s, "SELECT count FROM blob_files WHERE sha256 = $1", &p, &err);
	if (!r)
		return err;
	uint64_t n = PQntuples(r) == 1 ? pg_r_int(r, 0, 0) : 0;
	PQclear(r);
	if (n > UINT32_MAX)
		return STORE_ECORRUPT;
	*count = (uint32_t)n;
	return 0;
}

int pg_get_blob_grant(struct store *s, const uint8_t blob_id[STORE_ID_BYTES],
		      const uint8_t device_id[STORE_ID_BYTES], uint32_t *count,
		      uint64_t *expires_at_ms)
{
	struct pg_params p;
	int err = 0;
	if (!s || !blob_id || !device_id || !count)
		return STORE_EINVAL;
	pg_p_init(&p);
	pg_p_bytea(&p, blob_id, STORE_ID_BYTES);
	pg_p_bytea(&p, device_id, STORE_ID_BYTES);
	PGresult *r = pg__read(s,
			       "SELECT count, expires_at FROM blob_grants WHERE blob_id = $1 AND device_id = $2",
			       &p, &err);
	if (!r)
		return err;
	uint64_t n = 0, until = 0;
	if (PQntuples(r) == 1) {
		n = pg_r_int(r, 0, 0);
		until = pg_r_int(r, 0, 1);
	}
	PQclear(r);
	if (n == 0)
		return STORE_ENOTFOUND;
	if (n > UINT32_MAX)
		return STORE_ECORRUPT;
	*count = (uint32_t)n;
	if (expires_at_ms)
		*expires_at_ms = until;
	return 0;
}

int pg_get_blob_usage(struct store *s, const uint8_t account_id[STORE_ID_BYTES], uint64_t *bytes,
		      uint32_t *count)
{
	struct pg_params p;
	int err = 0;
	if (!s || !account_id || !bytes)
		return STORE_EINVAL;
	pg_p_init(&p);
	pg_p_bytea(&p, account_id, STORE_ID_BYTES);
	PGresult *r = pg__read(s, "SELECT bytes, blobs FROM blob_usage WHERE account_id = $1", &p, &err);
	if (!r)
		return err;
	uint64_t v = 0, n = 0;
	if (PQntuples(r) == 1) {
		v = pg_r_int(r, 0, 0);
		n = pg_r_int(r, 0, 1);
	}
	PQclear(r);
	if (n > UINT32_MAX)
		return STORE_ECORRUPT;
	*bytes = v;
	if (count)
		*count = (uint32_t)n;
	return 0;
}
