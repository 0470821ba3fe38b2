/* SPDX-License-Identifier: MPL-2.0 */
/* The audit log in PostgreSQL (spec/storage-postgresql.md §audit): opaque entries under their seq,
 * chained onto the head by the relay's build callback inside the writer's batch transaction, with
 * the LMDB engine's semantics (storage/audit.c).
 *
 * One chain for every relay on the database: an append reads the head with SELECT ... FOR UPDATE,
 * so a second relay's append waits until the first one's batch has committed (or rolled back)
 * and then builds on the head that batch left. Appends of one batch chain in order because the
 * transaction already holds the lock. A batch that runs again (deadlock, lost connection) calls
 * the callbacks again on the head it finds then.
 *
 * A batch with an append takes the head's lock before anything else (pg__audit_prelock): an
 * append that came after a send's device locks could otherwise meet another relay's batch
 * holding the head and waiting for those devices, a deadlock the server breaks only after its
 * deadlock_timeout. */
#include <string.h>

#include "pg_records.h"

/* The head row, locked for the rest of the transaction. */
static int lock_head(struct pg_wtxn *w, uint64_t *seq, uint8_t hash[STORE_AUDIT_HASH_BYTES])
{
	int err = 0;
	PGresult *r = pg_exec(w->conn, "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
			      NULL, &err);
	if (!r)
		return err;
	/* The migration creates the row: a database without it was changed by hand. */
	if (PQntuples(r) != 1 || pg_r_copy(r, 0, 1, hash, STORE_AUDIT_HASH_BYTES) != 0)
		err = STORE_ECORRUPT;
	else
		*seq = pg_r_int(r, 0, 0);
	PQclear(r);
	return err;
}

int pg__audit_prelock(PGconn *conn, struct store_req *const *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < reqs[i]->n_ops; j++)
			if (reqs[i]->ops[j].kind == STORE__OP_audit_append)
				return pg_cmd(conn, "SELECT 1 FROM audit_head WHERE id = 1 FOR UPDATE",
					      NULL);
	return 0;
}

int pg__op_audit_append_apply(struct pg_wtxn *w, struct store__op *op)
{
	uint8_t prev_hash[STORE_AUDIT_HASH_BYTES], hash[STORE_AUDIT_HASH_BYTES];
	uint64_t prev_seq = 0;
	size_t len = 0;
	struct pg_params p;
	int err = 0;

	err = lock_head(w, &prev_seq, prev_hash);
	if (err)
		return err;
	if (prev_seq >= (uint64_t)INT64_MAX)
		return STORE_ELIMIT;
	memset(hash, 0, sizeof hash);
	if (op->u.audit_append.cb(prev_seq, prev_hash, op->u.audit_append.input,
				  op->u.audit_append.input_len, op->u.audit_append.out,
				  STORE_AUDIT_ENTRY_MAX, &len, hash) != 0 ||
	    len == 0 || len > STORE_AUDIT_ENTRY_MAX)
		return STORE_EAUDIT;
	pg_p_init(&p);
	pg_p_int8(&p, prev_seq + 1);
	pg_p_bytea(&p, op->u.audit_append.out, len);
	PGresult *r = pg_exec(w->conn,
			      "INSERT INTO audit (seq, entry) VALUES ($1, $2) ON CONFLICT (seq) DO NOTHING",
			      &p, &err);
	if (!r)
		return err;
	size_t inserted = pg__cmd_rows(r);
	PQclear(r);
	if (inserted != 1)
		return STORE_ECORRUPT; /* an entry past the head */
	pg_p_init(&p);
	pg_p_int8(&p, prev_seq + 1);
	pg_p_bytea(&p, hash, sizeof hash);
	err = pg_cmd(w->conn, "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", &p);
	if (err)
		return err;
	op->u.audit_append.result.seq = prev_seq + 1;
	memcpy(op->u.audit_append.result.hash, hash, sizeof hash);
	return 0;
}

#ifdef WAKKS_TEST_HOOKS
int pg__op_test_audit_raw_apply(struct pg_wtxn *w, struct store__op *op)
{
	struct pg_params p;
	int err = 0;
	if (op->u.test_audit_raw.seq == 0 || op->u.test_audit_raw.seq > (uint64_t)INT64_MAX)
		return STORE_EINVAL;
	pg_p_init(&p);
	pg_p_int8(&p, op->u.test_audit_raw.seq);
	if (op->u.test_audit_raw.len == 0) {
		PGresult *r = pg_exec(w->conn, "DELETE FROM audit WHERE seq = $1", &p, &err);
		if (!r)
			return err;
		size_t n = pg__cmd_rows(r);
		PQclear(r);
		return n == 1 ? 0 : STORE_ENOTFOUND;
	}
	pg_p_bytea(&p, op->u.test_audit_raw.bytes, op->u.test_audit_raw.len);
	return pg_cmd(w->conn,
		      "INSERT INTO audit (seq, entry) VALUES ($1, $2)"
		      " ON CONFLICT (seq) DO UPDATE SET entry = excluded.entry",
		      &p);
}
#endif

/* ---- reads ----------------------------------------------------------------------------------- */

int pg_audit_head(struct store *s, uint64_t *seq, uint8_t hash[STORE_AUDIT_HASH_BYTES])
{
	uint8_t h[STORE_AUDIT_HASH_BYTES];
	int err = 0;
	if (!s || !seq || !hash)
		return STORE_EINVAL;
	PGresult *r = pg__read(s, "SELECT seq, hash FROM audit_head WHERE id = 1", NULL, &err);
	if (!r)
		return err;
	uint64_t q = 0;
	if (PQntuples(r) != 1 || pg_r_copy(r, 0, 1, h, sizeof h) != 0)
		err = STORE_ECORRUPT;
	else
		q = pg_r_int(r, 0, 0);
	PQclear(r);
	if (err)
		return err;
	*seq = q;
	memcpy(hash, h, sizeof h);
	return 0;
}

/* Entries are read in pages: a verifier walks millions of them, which must not be one result
 * held in memory. The log only grows at its end, so pages of an append-only table read as one. */
#define AUDIT_PAGE 1024

int pg_audit_iter(struct store *s, uint64_t from_seq, size_t max, store_audit_cb cb, void *data)
{
	int err = 0, visited = 0;
	if (!s || !cb)
		return STORE_EINVAL;
	if (max > INT32_MAX)
		max = INT32_MAX;
	if (from_seq > (uint64_t)INT64_MAX)
		return 0;
	uint64_t next = from_seq;
	bool stop = max == 0;
	while (!stop) {
		struct pg_params p;
		size_t want = max - (size_t)visited < AUDIT_PAGE ? max - (size_t)visited : AUDIT_PAGE;
		pg_p_init(&p);
		pg_p_int8(&p, next);
		pg_p_int8(&p, want);
		PGresult *r = pg__read(s,
				       "SELECT seq, entry FROM audit WHERE seq >= $1 ORDER BY seq LIMIT $2",
				       &p, &err);
		if (!r)
			return err;
		int n = PQntuples(r);
		for (int i = 0; i < n; i++) {
			size_t len;
			const uint8_t *entry = pg_r_bytes(r, i, 1, &len);
			uint64_t seq = pg_r_int(r, i, 0);
			if (len == 0 || len > STORE_AUDIT_ENTRY_MAX || seq < next) {
				err = STORE_ECORRUPT;
				break;
			}
			visited++;
			next = seq + 1;
			if (cb(seq, entry, len, data) != 0 || (size_t)visited >= max) {
				stop = true;
				break;
			}
		}
		PQclear(r);
		if (err)
			return err;
		if ((size_t)n < want)
			break;
	}
	return visited;
}
