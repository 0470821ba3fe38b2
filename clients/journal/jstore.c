/* SPDX-License-Identifier: MPL-2.0 */
#include "jstore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

struct jstore {
	MDB_env *env;
	MDB_dbi notes, threads, active;
	jstore_active_fn is_active;
};

int jstore_open(const char *path, jstore_active_fn active, jstore **out, char *err,
		size_t err_len)
{
	jstore *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	int rc = mdb_env_create(&s->env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(s->env, 4);
	if (rc == 0) /* a note record is a few hundred bytes: 256 MiB hold about a million */
		rc = mdb_env_set_mapsize(s->env, (size_t)256 << 20);
	if (rc == 0)
		rc = mdb_env_open(s->env, path, MDB_NOSUBDIR, 0600);
	MDB_txn *t = NULL;
	if (rc == 0)
		rc = mdb_txn_begin(s->env, NULL, 0, &t);
	if (rc == 0)
		rc = mdb_dbi_open(t, "notes", MDB_CREATE, &s->notes);
	if (rc == 0)
		rc = mdb_dbi_open(t, "threads", MDB_CREATE, &s->threads);
	if (rc == 0)
		rc = mdb_dbi_open(t, "active", MDB_CREATE, &s->active);
	if (rc == 0) {
		rc = mdb_txn_commit(t);
		t = NULL;
	}
	if (rc != 0) {
		if (t)
			mdb_txn_abort(t);
		snprintf(err, err_len, "journal store %s: %s", path, mdb_strerror(rc));
		mdb_env_close(s->env);
		free(s);
		return -1;
	}
	s->is_active = active;
	*out = s;
	return 0;
}

/* In the same write transaction as the record: its key in the active index, or out of it. */
static int index_put(jstore *s, MDB_txn *t, const uint8_t *key, json_t *rec)
{
	MDB_val k = { JKEY_BYTES, (void *)key }, v = { 0, "" };
	if (!s->is_active || s->is_active(rec)) {
		return mdb_put(t, s->active, &k, &v, 0);
	}
	int rc = mdb_del(t, s->active, &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

void jstore_close(jstore *s)
{
	if (!s)
		return;
	mdb_env_close(s->env);
	free(s);
}

static int get_raw(jstore *s, MDB_dbi dbi, const void *k, size_t kl, void *copy, size_t *vl,
		   json_t **json)
{
	MDB_txn *t;
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t) != 0)
		return -1;
	MDB_val key = { kl, (void *)k }, val;
	int rc = mdb_get(t, dbi, &key, &val);
	int res;
	if (rc == MDB_NOTFOUND) {
		res = 1;
	} else if (rc != 0) {
		res = -1;
	} else if (json) {
		*json = json_loadb(val.mv_data, val.mv_size, 0, NULL);
		res = *json && json_is_object(*json) ? 0 : -1;
	} else {
		res = val.mv_size == *vl ? 0 : -1;
		if (res == 0 && copy)
			memcpy(copy, val.mv_data, *vl);
	}
	mdb_txn_abort(t);
	return res;
}

static int put_raw(jstore *s, MDB_dbi dbi, const void *k, size_t kl, const void *v, size_t vl)
{
	MDB_txn *t;
	if (mdb_txn_begin(s->env, NULL, 0, &t) != 0)
		return -1;
	MDB_val key = { kl, (void *)k }, val = { vl, (void *)v };
	int rc = mdb_put(t, dbi, &key, &val, 0);
	if (rc != 0) {
		mdb_txn_abort(t);
		return -1;
	}
	return mdb_txn_commit(t) == 0 ? 0 : -1;
}

int jstore_get(jstore *s, const uint8_t key[JKEY_BYTES], json_t **rec)
{
	*rec = NULL;
	return get_raw(s, s->notes, key, JKEY_BYTES, NULL, NULL, rec);
}

int jstore_put(jstore *s, const uint8_t key[JKEY_BYTES], json_t *rec)
{
	char *text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return -1;
	MDB_txn *t;
	int rc = mdb_txn_begin(s->env, NULL, 0, &t);
	if (rc == 0) {
		MDB_val k = { JKEY_BYTES, (void *)key }, v = { strlen(text), text };
		rc = mdb_put(t, s->notes, &k, &v, 0);
		if (rc == 0)
			rc = index_put(s, t, key, rec);
		if (rc == 0)
			rc = mdb_txn_commit(t);
		else
			mdb_txn_abort(t);
	}
	free(text);
	return rc == 0 ? 0 : -1;
}

int jstore_each(jstore *s, int (*fn)(const uint8_t key[JKEY_BYTES], json_t *rec, void *arg),
		void *arg)
{
	MDB_txn *t;
	MDB_cursor *cur;
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t) != 0)
		return -1;
	if (mdb_cursor_open(t, s->notes, &cur) != 0) {
		mdb_txn_abort(t);
		return -1;
	}
	MDB_val k, v;
	int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST), res = 0;
	while (rc == 0) {
		if (k.mv_size == JKEY_BYTES) {
			json_t *rec = json_loadb(v.mv_data, v.mv_size, 0, NULL);
			int stop = rec && json_is_object(rec) ? fn(k.mv_data, rec, arg) : 0;
			json_decref(rec);
			if (stop)
				break;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		res = -1;
	mdb_cursor_close(cur);
	mdb_txn_abort(t);
	return res;
}

int jstore_each_active(jstore *s,
		       int (*fn)(const uint8_t key[JKEY_BYTES], json_t *rec, void *arg), void *arg)
{
	MDB_txn *t;
	MDB_cursor *cur;
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t) != 0)
		return -1;
	if (mdb_cursor_open(t, s->active, &cur) != 0) {
		mdb_txn_abort(t);
		return -1;
	}
	MDB_val k, v;
	int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST), res = 0;
	while (rc == 0) {
		MDB_val nv;
		if (k.mv_size == JKEY_BYTES && mdb_get(t, s->notes, &k, &nv) == 0) {
			json_t *rec = json_loadb(nv.mv_data, nv.mv_size, 0, NULL);
			int stop = rec && json_is_object(rec) ? fn(k.mv_data, rec, arg) : 0;
			json_decref(rec);
			if (stop)
				break;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		res = -1;
	mdb_cursor_close(cur);
	mdb_txn_abort(t);
	return res;
}

int jstore_thread_get(jstore *s, const uint8_t conversation[16], uint8_t citizen[16])
{
	size_t n = 16;
	return get_raw(s, s->threads, conversation, 16, citizen, &n, NULL);
}

int jstore_thread_put(jstore *s, const uint8_t conversation[16], const uint8_t citizen[16])
{
	return put_raw(s, s->threads, conversation, 16, citizen, 16);
}

int jstore_update(jstore *s, const uint8_t key[JKEY_BYTES], int (*fn)(json_t **rec, void *arg),
		  void *arg)
{
	MDB_txn *t;
	if (mdb_txn_begin(s->env, NULL, 0, &t) != 0)
		return -1;
	MDB_val k = { JKEY_BYTES, (void *)key }, v;
	json_t *rec = NULL;
	int rc = mdb_get(t, s->notes, &k, &v);
	if (rc == 0) {
		rec = json_loadb(v.mv_data, v.mv_size, 0, NULL);
		if (!rec || !json_is_object(rec)) {
			json_decref(rec);
			mdb_txn_abort(t);
			return -1;
		}
	} else if (rc != MDB_NOTFOUND) {
		mdb_txn_abort(t);
		return -1;
	}
	int res = fn(&rec, arg);
	if (res == 1 && rec) {
		char *text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
		MDB_val nv = { text ? strlen(text) : 0, text };
		if (!text || mdb_put(t, s->notes, &k, &nv, 0) != 0 || index_put(s, t, key, rec) != 0 ||
		    mdb_txn_commit(t) != 0)
			res = -1;
		else
			t = NULL;
		free(text);
	}
	if (t)
		mdb_txn_abort(t);
	json_decref(rec);
	return res;
}
