/* SPDX-License-Identifier: MPL-2.0 */
/* The audit log: opaque entries under their seq, chained onto the head inside the writer's
 * transaction by a callback the relay supplies (the hashing belongs to the identity library, not
 * here), the head kept in the same transaction; reading the head and iterating entries. */
#include <string.h>

#include "pg/pg_internal.h"
#include "records_internal.h"
#include "store_internal.h"

/* The head (0 and zeros for an empty log). */
static int load_head(struct store *s, MDB_txn *txn, uint64_t *seq, uint8_t hash[STORE_AUDIT_HASH_BYTES])
{
	MDB_val v;
	int rc = store__get(s, txn, STORE__DB_META, STORE__META_AUDIT_HEAD_KEY,
			    strlen(STORE__META_AUDIT_HEAD_KEY), &v);
	if (rc == STORE_ENOTFOUND) {
		*seq = 0;
		memset(hash, 0, STORE_AUDIT_HASH_BYTES);
		return 0;
	}
	if (rc)
		return rc;
	return store__audit_head_decode(v.mv_data, v.mv_size, seq, hash);
}

int store__op_audit_append_apply(struct store__wtxn *w, struct store__op *op)
{
	struct store *s = w->store;
	uint8_t prev_hash[STORE_AUDIT_HASH_BYTES], hash[STORE_AUDIT_HASH_BYTES];
	uint8_t head[STORE__AUDIT_HEAD_LEN], key[STORE__KEY_AUDIT_LEN];
	uint64_t prev_seq;
	size_t len = 0;

	int rc = load_head(s, w->txn, &prev_seq, prev_hash);
	if (rc)
		return rc;
	if (prev_seq == UINT64_MAX)
		return STORE_ELIMIT;
	memset(hash, 0, sizeof hash);
	if (op->u.audit_append.cb(prev_seq, prev_hash, op->u.audit_append.input,
				  op->u.audit_append.input_len, op->u.audit_append.out,
				  STORE_AUDIT_ENTRY_MAX, &len, hash) != 0 ||
	    len == 0 || len > STORE_AUDIT_ENTRY_MAX)
		return STORE_EAUDIT;
	wakks_store_be64(key, prev_seq + 1);
	void *dst;
	rc = store__reserve(s, w->txn, STORE__DB_AUDIT, key, sizeof key, len, MDB_NOOVERWRITE, &dst);
	if (rc)
		return rc == MDB_KEYEXIST ? STORE_ECORRUPT : store__err(rc); /* an entry past the head */
	memcpy(dst, op->u.audit_append.out, len);
	store__seal(key, sizeof key, dst, len);
	store__audit_head_encode(prev_seq + 1, hash, head);
	rc = store__put(s, w->txn, STORE__DB_META, STORE__META_AUDIT_HEAD_KEY,
			strlen(STORE__META_AUDIT_HEAD_KEY), head, sizeof head);
	if (rc)
		return rc;
	op->u.audit_append.result.seq = prev_seq + 1;
	memcpy(op->u.audit_append.result.hash, hash, sizeof hash);
	return 0;
}

#ifdef WAKKS_TEST_HOOKS
int store__op_test_audit_raw_apply(struct store__wtxn *w, struct store__op *op)
{
	uint8_t key[STORE__KEY_AUDIT_LEN];
	wakks_store_be64(key, op->u.test_audit_raw.seq);
	if (op->u.test_audit_raw.len == 0)
		return store__del(w->store, w->txn, STORE__DB_AUDIT, key, sizeof key);
	return store__put(w->store, w->txn, STORE__DB_AUDIT, key, sizeof key,
			  op->u.test_audit_raw.bytes, op->u.test_audit_raw.len);
}
#endif

int store_audit_head(struct store *s, uint64_t *seq, uint8_t hash[STORE_AUDIT_HASH_BYTES])
{
	MDB_txn *txn;
	uint8_t h[STORE_AUDIT_HASH_BYTES];
	uint64_t q;
	if (s && s->pg)
		return pg_audit_head(s, seq, hash);
	if (!s || !seq || !hash)
		return STORE_EINVAL;
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	rc = load_head(s, txn, &q, h);
	store__read_end(s, txn);
	if (rc)
		return rc;
	*seq = q;
	memcpy(hash, h, sizeof h);
	return 0;
}

int store_audit_iter(struct store *s, uint64_t from_seq, size_t max, store_audit_cb cb, void *data)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t start[STORE__KEY_AUDIT_LEN];
	MDB_val k, v;
	int visited = 0;
	if (s && s->pg)
		return pg_audit_iter(s, from_seq, max, cb, data);
	if (!s || !cb)
		return STORE_EINVAL;
	if (max > INT32_MAX)
		max = INT32_MAX;
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	rc = store__err(mdb_cursor_open(txn, s->dbi[STORE__DB_AUDIT], &cur));
	if (rc)
		goto done;
	wakks_store_be64(start, from_seq);
	k.mv_data = start;
	k.mv_size = sizeof start;
	int mrc = max ? store__cursor_get(s, cur, &k, &v, MDB_SET_RANGE) : MDB_NOTFOUND;
	while (mrc == 0) {
		if (k.mv_size != STORE__KEY_AUDIT_LEN || v.mv_size == 0 ||
		    v.mv_size > STORE_AUDIT_ENTRY_MAX) {
			rc = STORE_ECORRUPT;
			break;
		}
		visited++;
		if (cb(wakks_load_be64(k.mv_data), v.mv_data, v.mv_size, data) != 0 ||
		    (size_t)visited >= max)
			break;
		mrc = store__cursor_get(s, cur, &k, &v, MDB_NEXT);
	}
	if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = store__err(mrc);
	mdb_cursor_close(cur);
done:
	store__read_end(s, txn);
	return rc ? rc : visited;
}
