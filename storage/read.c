/* SPDX-License-Identifier: MPL-2.0 */
/* Read transactions and small get/put/del helpers over LMDB values. */
#include <string.h>

#include "store_internal.h"

static MDB_txn *pool_take(struct store *s)
{
	for (int i = 0; i < STORE__READ_POOL; i++) {
		if (!__atomic_load_n(&s->read_pool[i], __ATOMIC_RELAXED))
			continue;
		MDB_txn *txn = __atomic_exchange_n(&s->read_pool[i], NULL, __ATOMIC_ACQUIRE);
		if (txn)
			return txn;
	}
	return NULL;
}

static bool pool_give(struct store *s, MDB_txn *txn)
{
	for (int i = 0; i < STORE__READ_POOL; i++) {
		MDB_txn *empty = NULL;
		if (__atomic_compare_exchange_n(&s->read_pool[i], &empty, txn, false, __ATOMIC_RELEASE,
						__ATOMIC_RELAXED))
			return true;
	}
	return false;
}

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
	/* A kept transaction holds no snapshot and no pointer into the map (only its reader slot,
	 * in the lock file), so a remap since it was reset does not matter: renewing reads the
	 * newest meta page of the map as it is now. */
	MDB_txn *kept = pool_take(s);
	if (kept) {
		if (mdb_txn_renew(kept) == 0) {
			*txn = kept;
			return 0;
		}
		/* A fatal error or a map grown by another process, which a new transaction reports
		 * too; anything else (a slot no longer ours) a new transaction does not have. */
		mdb_txn_abort(kept);
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
	/* Reset before map_lock is released: from here on it pins no snapshot, and the writer may
	 * remap with it kept. */
	mdb_txn_reset(txn);
	if (!pool_give(s, txn))
		mdb_txn_abort(txn);
	pthread_rwlock_unlock(&s->map_lock);
}

void store__read_pool_drain(struct store *s)
{
	for (int i = 0; i < STORE__READ_POOL; i++) {
		MDB_txn *txn = __atomic_exchange_n(&s->read_pool[i], NULL, __ATOMIC_ACQUIRE);
		if (txn)
			mdb_txn_abort(txn);
	}
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
