/* SPDX-License-Identifier: MPL-2.0 */
/* Read transactions and small get/put/del helpers over LMDB values. */
#include <string.h>

#include "store_internal.h"

int store__read_begin(struct store *s, MDB_txn **txn)
{
	int rc;
	if (!s->env)
		return STORE_ECLOSED; /* a completion callback reading after store_close */
	pthread_rwlock_rdlock(&s->map_lock);
	if (s->unmapped) {
		pthread_rwlock_unlock(&s->map_lock);
		return STORE_EIO;
	}
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
	if (rc != 0) {
		pthread_rwlock_unlock(&s->map_lock);
		return store__err(rc);
	}
	return 0;
}

void store__read_end(struct store *s, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&s->map_lock);
}

int store__get(struct store *s, MDB_txn *txn, enum store__db db, const void *key, size_t klen,
	       MDB_val *val)
{
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
	int rc = store__err(mdb_get(txn, s->dbi[db], &k, val));
	return rc ? rc : store__check(s, &k, val);
}

int store__put(struct store *s, MDB_txn *txn, enum store__db db, const void *key, size_t klen,
	       const void *val, size_t vlen)
{
	void *dst;
	int rc = store__reserve(s, txn, db, key, klen, vlen, 0, &dst);
	if (rc)
		return store__err(rc);
	if (vlen)
		memcpy(dst, val, vlen);
	store__seal(key, klen, dst, vlen);
	return 0;
}

int store__del(struct store *s, MDB_txn *txn, enum store__db db, const void *key, size_t klen)
{
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
	return store__err(mdb_del(txn, s->dbi[db], &k, NULL));
}

int store__delete_prefix(struct store *s, MDB_txn *txn, enum store__db db, const void *prefix,
			 size_t plen, store__entry_fn fn, void *data, size_t *deleted)
{
	MDB_cursor *cur;
	MDB_val k, v;
	size_t n = 0;
	int err = 0;
	int rc = mdb_cursor_open(txn, s->dbi[db], &cur);
	if (rc)
		return store__err(rc);
	for (;;) {
		/* From the start of the prefix each time: a deletion moves the cursor. */
		k.mv_data = (void *)prefix;
		k.mv_size = plen;
		rc = store__cursor_get(s, cur, &k, &v, MDB_SET_RANGE);
		if (rc == 0 && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0))
			rc = MDB_NOTFOUND;
		if (rc)
			break;
		if (fn && (err = fn(&k, &v, data)) != 0)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		n++;
	}
	mdb_cursor_close(cur);
	if (err)
		return err;
	if (rc != MDB_NOTFOUND)
		return store__err(rc);
	if (deleted)
		*deleted = n;
	return 0;
}
