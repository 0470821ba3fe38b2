/* SPDX-License-Identifier: MPL-2.0 */
/* The device store: one LMDB environment of the client's own, every value sealed with
 * XChaCha20-Poly1305 under a key derived from the app's store key, the table and the record key
 * bound as associated data (a record cannot be moved to another key or table unnoticed).
 * Committed write transactions are fsync'd by LMDB: a crash keeps either all of a transaction's
 * changes or none. Layout: spec/client.md. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>
#include <sodium.h>

#include "wakks_internal.h"

/* The map is a sparse file: its size bounds the store, not its use of disk. 1 GiB holds years
 * of messages of a busy caseworker device. */
#define STORE_MAP_BYTES (1024ull * 1024 * 1024)
#define STORE_AD_PREFIX "wakks/v1/client-store"
#define STORE_NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define STORE_TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
/* The key-check record: a known plaintext sealed under the record key. */
#define STORE_CHECK_TEXT "wakks store v1"

static const char *const table_names[WT__COUNT] = {
	"meta", "spk", "opk", "session", "peer", "pending", "rx", "mid", "msg", "att",
	"thread", "read", "audit", "unitdev",
};

struct wakks__store {
	MDB_env *env;
	MDB_dbi dbi[WT__COUNT];
	int lock_fd;
	int net_fd;          /* wakks.net: the network lease (wakks__store_lease), -1 until asked */
	dev_t lock_dev;      /* the lock file's identity, for the one-open-per-process rule */
	ino_t lock_ino;
	bool registered;     /* in open_stores */
	char *dir;
	uint8_t record_key[32];
	uint8_t session_key[32];
};

struct wakks__txn {
	wakks__store *s;
	MDB_txn *txn;
};

/* LMDB allows one environment handle per process and file (its locks are per process), and a
 * second handle would also be a second writer of the same sessions: a store is open at most once
 * per process. Other processes (an app's Notification Service Extension) may open it at the same
 * time; LMDB serialises their transactions, and the network lease decides which one talks to
 * the relay. */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { dev_t dev; ino_t ino; } open_stores[64];
static size_t open_count;

static int register_open(wakks__store *s)
{
	int rc = WAKKS_E_STORE;
	pthread_mutex_lock(&open_lock);
	bool dup = false;
	for (size_t i = 0; i < open_count; i++)
		dup |= open_stores[i].dev == s->lock_dev && open_stores[i].ino == s->lock_ino;
	if (!dup && open_count < sizeof open_stores / sizeof open_stores[0]) {
		open_stores[open_count].dev = s->lock_dev;
		open_stores[open_count].ino = s->lock_ino;
		open_count++;
		s->registered = true;
		rc = 0;
	}
	pthread_mutex_unlock(&open_lock);
	return rc;
}

static void unregister_open(wakks__store *s)
{
	pthread_mutex_lock(&open_lock);
	for (size_t i = 0; i < open_count; i++)
		if (open_stores[i].dev == s->lock_dev && open_stores[i].ino == s->lock_ino) {
			open_stores[i] = open_stores[--open_count];
			break;
		}
	pthread_mutex_unlock(&open_lock);
	s->registered = false;
}

int wakks__store_lease(wakks__store *s, bool take)
{
	if (!take) {
		if (s->net_fd >= 0)
			flock(s->net_fd, LOCK_UN);
		return 0;
	}
	if (s->net_fd < 0) {
		char path[4096];
		snprintf(path, sizeof path, "%s/wakks.net", s->dir);
		s->net_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (s->net_fd < 0)
			return WAKKS_E_IO;
	}
	/* Non-blocking: the caller reports busy rather than hanging an app's main thread. */
	return flock(s->net_fd, LOCK_EX | LOCK_NB) == 0 ? 0 : WAKKS_E_BUSY;
}

static void derive(const uint8_t key[32], const char *label, uint8_t out[32])
{
	crypto_auth_hmacsha256(out, (const uint8_t *)label, strlen(label), key);
}

const uint8_t *wakks__store_session_key(const wakks__store *s)
{
	return s->session_key;
}

static int map_err(int rc)
{
	if (rc == 0)
		return 0;
	if (rc == MDB_NOTFOUND)
		return WAKKS_E_NOT_FOUND;
	if (rc == ENOMEM)
		return WAKKS_E_NOMEM;
	return WAKKS_E_STORE;
}

/* ad = prefix 0x00 table 0x00 key */
static size_t make_ad(int table, const void *key, size_t klen, uint8_t *ad, size_t cap)
{
	size_t pl = strlen(STORE_AD_PREFIX), tl = strlen(table_names[table]);
	size_t n = pl + 1 + tl + 1 + klen;
	if (n > cap)
		return 0;
	memcpy(ad, STORE_AD_PREFIX, pl);
	ad[pl] = 0;
	memcpy(ad + pl + 1, table_names[table], tl);
	ad[pl + 1 + tl] = 0;
	memcpy(ad + pl + 2 + tl, key, klen);
	return n;
}

/* Keys are short (at most 48 bytes); the AD buffer bounds them. */
#define STORE_KEY_MAX 64
#define STORE_AD_MAX (64 + STORE_KEY_MAX)

int wakks__store_open(const char *dir, const uint8_t key[WAKKS_STORE_KEY_BYTES], wakks__store **out)
{
	if (!dir || !key || !out)
		return WAKKS_E_INVAL;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return WAKKS_E_IO;
	wakks__store *s = calloc(1, sizeof *s);
	if (!s)
		return WAKKS_E_NOMEM;
	s->lock_fd = -1;
	s->net_fd = -1;
	int rc = WAKKS_E_STORE;
	if (!(s->dir = strdup(dir))) {
		free(s);
		return WAKKS_E_NOMEM;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/wakks.lock", dir);
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0) {
		rc = WAKKS_E_IO;
		goto fail;
	}
	/* Shared: every process using the store holds it; an exclusive holder (a future repair
	 * tool) would keep them all out. */
	struct stat st;
	if (flock(s->lock_fd, LOCK_SH | LOCK_NB) != 0 || fstat(s->lock_fd, &st) != 0)
		goto fail;
	s->lock_dev = st.st_dev;
	s->lock_ino = st.st_ino;
	if (register_open(s) != 0)
		goto fail; /* already open in this process */
	derive(key, "wakks/v1/client-store record-key", s->record_key);
	derive(key, "wakks/v1/client-store session-key", s->session_key);
	if (mdb_env_create(&s->env) != 0)
		goto fail;
	mdb_env_set_maxdbs(s->env, WT__COUNT);
	mdb_env_set_mapsize(s->env, STORE_MAP_BYTES);
	/* MDB_NOTLS: read transactions are tied to the transaction object, not the thread, so
	 * clients on different threads (or one moved between threads) work. */
	if (mdb_env_open(s->env, dir, MDB_NOTLS, 0600) != 0)
		goto fail;
	MDB_txn *txn;
	if (mdb_txn_begin(s->env, NULL, 0, &txn) != 0)
		goto fail;
	for (int i = 0; i < WT__COUNT; i++)
		if (mdb_dbi_open(txn, table_names[i], MDB_CREATE, &s->dbi[i]) != 0) {
			mdb_txn_abort(txn);
			goto fail;
		}
	if (mdb_txn_commit(txn) != 0)
		goto fail;

	/* Key check: seal a known text on first open; later opens must unseal it. */
	wakks__txn *t;
	if ((rc = wakks__txn_begin(s, true, &t)) != 0)
		goto fail;
	uint8_t *v;
	size_t vl;
	rc = wakks__store_get(t, WT_META, "check", 5, &v, &vl);
	if (rc == WAKKS_E_NOT_FOUND) {
		rc = wakks__store_put(t, WT_META, "check", 5, STORE_CHECK_TEXT, strlen(STORE_CHECK_TEXT));
		if (rc == 0) {
			rc = wakks__txn_commit(t);
			t = NULL;
		}
	} else if (rc == WAKKS_E_CORRUPT) {
		rc = WAKKS_E_STORE_KEY;
	} else if (rc == 0) {
		if (vl != strlen(STORE_CHECK_TEXT) || memcmp(v, STORE_CHECK_TEXT, vl) != 0)
			rc = WAKKS_E_STORE_KEY;
		wakks__store_free(v, vl);
	}
	if (t)
		wakks__txn_abort(t);
	if (rc != 0)
		goto fail;
	*out = s;
	return 0;
fail:
	wakks__store_close(s);
	return rc;
}

void wakks__store_close(wakks__store *s)
{
	if (!s)
		return;
	if (s->env)
		mdb_env_close(s->env);
	if (s->registered)
		unregister_open(s);
	if (s->net_fd >= 0)
		close(s->net_fd);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s->dir);
	sodium_memzero(s, sizeof *s);
	free(s);
}

int wakks__txn_begin(wakks__store *s, bool write, wakks__txn **out)
{
	wakks__txn *t = calloc(1, sizeof *t);
	if (!t)
		return WAKKS_E_NOMEM;
	t->s = s;
	int rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
	if (rc != 0) {
		free(t);
		return map_err(rc);
	}
	*out = t;
	return 0;
}

int wakks__txn_commit(wakks__txn *t)
{
	int rc = mdb_txn_commit(t->txn);
	free(t);
	return rc ? WAKKS_E_STORE : 0;
}

void wakks__txn_abort(wakks__txn *t)
{
	if (!t)
		return;
	mdb_txn_abort(t->txn);
	free(t);
}

int wakks__store_put(wakks__txn *t, int table, const void *key, size_t klen, const void *val,
		     size_t vlen)
{
	uint8_t ad[STORE_AD_MAX];
	size_t adl = make_ad(table, key, klen, ad, sizeof ad);
	if (!adl || table < 0 || table >= WT__COUNT)
		return WAKKS_E_INVAL;
	size_t n = STORE_NONCE_BYTES + vlen + STORE_TAG_BYTES;
	MDB_val k = { klen, (void *)key }, v = { n, NULL };
	/* Seal straight into the map page reserved for the value. */
	int rc = mdb_put(t->txn, t->s->dbi[table], &k, &v, MDB_RESERVE);
	if (rc != 0)
		return map_err(rc);
	uint8_t *dst = v.mv_data;
	randombytes_buf(dst, STORE_NONCE_BYTES);
	unsigned long long cl;
	crypto_aead_xchacha20poly1305_ietf_encrypt(dst + STORE_NONCE_BYTES, &cl, val, vlen, ad, adl,
						   NULL, dst, t->s->record_key);
	return 0;
}

static int unseal(wakks__store *s, int table, const MDB_val *k, const MDB_val *v, uint8_t **out,
		  size_t *out_len)
{
	uint8_t ad[STORE_AD_MAX];
	size_t adl = make_ad(table, k->mv_data, k->mv_size, ad, sizeof ad);
	if (!adl || v->mv_size < STORE_NONCE_BYTES + STORE_TAG_BYTES)
		return WAKKS_E_CORRUPT;
	size_t n = v->mv_size - STORE_NONCE_BYTES - STORE_TAG_BYTES;
	uint8_t *p = malloc(n ? n : 1);
	if (!p)
		return WAKKS_E_NOMEM;
	const uint8_t *src = v->mv_data;
	unsigned long long pl;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(p, &pl, NULL, src + STORE_NONCE_BYTES,
						       v->mv_size - STORE_NONCE_BYTES, ad, adl, src,
						       s->record_key) != 0) {
		free(p);
		return WAKKS_E_CORRUPT;
	}
	*out = p;
	*out_len = n;
	return 0;
}

int wakks__store_get(wakks__txn *t, int table, const void *key, size_t klen, uint8_t **val,
		     size_t *vlen)
{
	if (table < 0 || table >= WT__COUNT || klen > STORE_KEY_MAX)
		return WAKKS_E_INVAL;
	MDB_val k = { klen, (void *)key }, v;
	int rc = mdb_get(t->txn, t->s->dbi[table], &k, &v);
	if (rc != 0)
		return map_err(rc);
	return unseal(t->s, table, &k, &v, val, vlen);
}

int wakks__store_del(wakks__txn *t, int table, const void *key, size_t klen)
{
	MDB_val k = { klen, (void *)key };
	int rc = mdb_del(t->txn, t->s->dbi[table], &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : map_err(rc);
}

int wakks__store_each(wakks__txn *t, int table,
		      int (*fn)(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
				void *arg),
		      void *arg)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(t->txn, t->s->dbi[table], &cur);
	if (rc != 0)
		return map_err(rc);
	MDB_val k, v;
	int result = 0;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint8_t *p;
		size_t n;
		if ((result = unseal(t->s, table, &k, &v, &p, &n)) != 0)
			break;
		result = fn(k.mv_data, k.mv_size, p, n, arg);
		wakks__store_free(p, n);
		if (result)
			break;
	}
	if (result == 0 && rc != 0 && rc != MDB_NOTFOUND)
		result = map_err(rc);
	mdb_cursor_close(cur);
	return result;
}

int wakks__store_walk(wakks__store *s, int table,
		      int (*fn)(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
				void *arg),
		      void *arg)
{
	wakks__txn *t;
	int rc = wakks__txn_begin(s, false, &t);
	if (rc != 0)
		return rc;
	rc = wakks__store_each(t, table, fn, arg);
	wakks__txn_abort(t);
	return rc < 0 ? rc : 0;
}

int wakks__store_last_u64(wakks__txn *t, int table, uint64_t *out)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(t->txn, t->s->dbi[table], &cur);
	if (rc != 0)
		return map_err(rc);
	MDB_val k, v;
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	uint64_t last = 0;
	if (rc == 0 && k.mv_size == 8)
		last = wakks_load_be64(k.mv_data);
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return map_err(rc);
	*out = last;
	return 0;
}

void wakks__store_free(uint8_t *val, size_t vlen)
{
	if (val) {
		sodium_memzero(val, vlen);
		free(val);
	}
}
