/* SPDX-License-Identifier: MPL-2.0 */
/* The environment: open (schema check and migrations), close, map growth, hot backup, stats. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "pg/pg_internal.h"
#include "records_internal.h"
#include "store_internal.h"

#define DEFAULT_MAP_INITIAL ((size_t)64 << 20)
#define DEFAULT_MAP_MAX ((size_t)64 << 30)
#define DEFAULT_MAX_BATCH 256u
/* LMDB needs a few pages for its meta pages and the named databases' roots. */
#define MIN_MAP_SIZE ((size_t)64 << 10)
#define MAP_ALIGN ((size_t)1 << 16)

/* Migrations from an older schema version to the next one, run in order in the opening
 * transaction. Version 1 is the first; 2 seals every value with its checksum; 3 counts each
 * mailbox's envelopes per sender account; 4 gives the device record its label; 5 adds the
 * devices' push subscriptions. */
struct store__migration {
	uint32_t from;
	int (*run)(struct store *s, MDB_txn *txn);
};
static int migrate_1_to_2(struct store *s, MDB_txn *txn);
static const struct store__migration migrations[] = {
	{1, migrate_1_to_2},
	{2, store__mailbox_senders_build},
	{3, store__devices_add_label},
	{4, store__push_subs_create},
	{0, NULL},
};

#ifdef WAKKS_TEST_HOOKS
static uint32_t test_version;
static store_test_migration_fn test_fn;
static void *test_data;

void store_test_set_schema(uint32_t version, store_test_migration_fn fn, void *data)
{
	test_version = version;
	test_fn = fn;
	test_data = data;
}

static int test_migration(struct store *s, MDB_txn *txn)
{
	(void)s;
	return test_fn ? test_fn(txn, test_data) : STORE_ESCHEMA;
}
#endif

/* The schema version this program writes. */
static uint32_t program_version(void)
{
#ifdef WAKKS_TEST_HOOKS
	if (test_version)
		return test_version;
#endif
	return STORE_SCHEMA_VERSION;
}

/* The migration from version from to from + 1, or NULL. */
static const struct store__migration *find_migration(uint32_t from)
{
#ifdef WAKKS_TEST_HOOKS
	static struct store__migration test_m = {0, test_migration};
	if (test_version && from == test_version - 1) {
		test_m.from = from;
		return &test_m;
	}
#endif
	for (size_t i = 0; migrations[i].run; i++)
		if (migrations[i].from == from)
			return &migrations[i];
	return NULL;
}

static const char *const db_names[STORE__DB_COUNT] = {
#define STORE__DB_NAME(id, name) name,
	STORE__DBS(STORE__DB_NAME)
#undef STORE__DB_NAME
};

uint64_t store__now_ms(struct store *s)
{
	if (s->cfg.now_ms)
		return s->cfg.now_ms(s->cfg.clock_data);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Version 2 adds the checksum trailer to every value (spec/storage.md §2.1, §8): each value of
 * each database is rewritten in place as value || checksum. */
static int migrate_1_to_2(struct store *s, MDB_txn *txn)
{
	uint8_t *buf = NULL;
	size_t cap = 0;
	int rc = 0;
	for (int i = 0; i < STORE__DB_COUNT && rc == 0; i++) {
		MDB_cursor *cur;
		MDB_val k, v;
		rc = mdb_cursor_open(txn, s->dbi[i], &cur);
		if (rc)
			break;
		int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		while (mrc == 0) {
			uint8_t key[512]; /* LMDB's default maximum key size is 511 */
			size_t need = v.mv_size + STORE__CHECK_LEN;
			if (k.mv_size > sizeof key) {
				mrc = MDB_CORRUPTED;
				break;
			}
			if (need > cap) {
				uint8_t *nb = realloc(buf, need);
				if (!nb) {
					mrc = ENOMEM;
					break;
				}
				buf = nb;
				cap = need;
			}
			/* Copies first: the put moves the page the old value and key lie in. */
			memcpy(key, k.mv_data, k.mv_size);
			if (v.mv_size)
				memcpy(buf, v.mv_data, v.mv_size);
			store__seal(key, k.mv_size, buf, v.mv_size);
			MDB_val nk = {.mv_size = k.mv_size, .mv_data = key};
			MDB_val nv = {.mv_size = need, .mv_data = buf};
			mrc = mdb_cursor_put(cur, &nk, &nv, MDB_CURRENT);
			if (mrc == 0)
				mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
		}
		mdb_cursor_close(cur);
		if (mrc != MDB_NOTFOUND)
			rc = store__err(mrc);
	}
	free(buf);
	return rc;
}

/* The stored schema version. Version 1 wrote the bare u32; later versions seal it like every
 * other value, so the length tells which rule applies. */
static int read_schema_version(struct store *s, MDB_txn *txn, uint32_t *version)
{
	MDB_val k = {.mv_size = strlen(STORE__META_SCHEMA_KEY), .mv_data = STORE__META_SCHEMA_KEY};
	MDB_val v;
	int rc = store__err(mdb_get(txn, s->dbi[STORE__DB_META], &k, &v));
	if (rc)
		return rc;
	if (v.mv_size == 4 + STORE__CHECK_LEN && (rc = store__check(s, &k, &v)) != 0)
		return rc;
	if (v.mv_size != 4)
		return STORE_ECORRUPT;
	*version = wakks_load_be32(v.mv_data);
	if (*version == 0)
		return STORE_ECORRUPT;
	return 0;
}

static size_t align_up(size_t v)
{
	return (v + MAP_ALIGN - 1) & ~(MAP_ALIGN - 1);
}

static int write_schema_version(struct store *s, MDB_txn *txn, uint32_t v)
{
	uint8_t buf[4];
	wakks_store_be32(buf, v);
	return store__put(s, txn, STORE__DB_META, STORE__META_SCHEMA_KEY,
			  strlen(STORE__META_SCHEMA_KEY), buf, sizeof buf);
}

/* The database's id and the fingerprint of the account-id key (store_config), checked before the
 * opening transaction writes anything and recorded where missing. */
static int check_identity(struct store *s, MDB_txn *txn)
{
	MDB_val v;
	const char *id_key = STORE__META_DATABASE_ID_KEY, *fp_key = STORE__META_ACCOUNT_KEY_FP_KEY;
	int rc = store__get(s, txn, STORE__DB_META, id_key, strlen(id_key), &v);
	bool have_id = rc == 0;
	if (rc != 0 && rc != STORE_ENOTFOUND)
		return rc;
	if (have_id && v.mv_size != STORE_DB_ID_BYTES)
		return STORE_ECORRUPT;
	if (have_id)
		memcpy(s->db_id, v.mv_data, STORE_DB_ID_BYTES);
	if (s->cfg.expect_db_id &&
	    (!have_id || memcmp(s->db_id, s->cfg.expect_db_id, STORE_DB_ID_BYTES) != 0))
		return STORE_EIDENTITY;

	bool have_fp = false;
	if (s->cfg.account_key_fp) {
		rc = store__get(s, txn, STORE__DB_META, fp_key, strlen(fp_key), &v);
		if (rc != 0 && rc != STORE_ENOTFOUND)
			return rc;
		have_fp = rc == 0;
		if (have_fp && v.mv_size != STORE_KEY_FP_BYTES)
			return STORE_ECORRUPT;
		MDB_stat accounts;
		rc = store__err(mdb_stat(txn, s->dbi[STORE__DB_ACCOUNTS], &accounts));
		if (rc)
			return rc;
		if (s->cfg.account_key_new && (have_fp || accounts.ms_entries > 0))
			return STORE_ENOKEY;
		if (have_fp && memcmp(v.mv_data, s->cfg.account_key_fp, STORE_KEY_FP_BYTES) != 0)
			return STORE_EKEY;
	}

	if (!have_id) {
		if (getrandom(s->db_id, sizeof s->db_id, 0) != (ssize_t)sizeof s->db_id)
			return STORE_EIO;
		rc = store__put(s, txn, STORE__DB_META, id_key, strlen(id_key), s->db_id,
				sizeof s->db_id);
		if (rc)
			return rc;
	}
	if (s->cfg.account_key_fp && !have_fp)
		return store__put(s, txn, STORE__DB_META, fp_key, strlen(fp_key), s->cfg.account_key_fp,
				  STORE_KEY_FP_BYTES);
	return 0;
}

/* Checks or initialises the schema version and opens every named database, in one transaction. */
static int open_databases(struct store *s)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc == MDB_MAP_RESIZED) {
		/* Another process (a running relay, when this is the backup command) grew the map:
		 * adopt its size. No transaction is active in this process yet. */
		rc = mdb_env_set_mapsize(s->env, 0);
		if (rc == 0)
			rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	}
	rc = store__err(rc);
	if (rc)
		return rc;
	rc = store__err(mdb_dbi_open(txn, db_names[STORE__DB_META], MDB_CREATE,
				     &s->dbi[STORE__DB_META]));
	if (rc)
		goto fail;
	uint32_t version = 0;
	rc = read_schema_version(s, txn, &version);
	if (rc == 0) {
		if (version > program_version()) {
			rc = STORE_ESCHEMA_NEWER;
			goto fail;
		}
	} else if (rc != STORE_ENOTFOUND) {
		goto fail;
	}
	for (int i = 0; i < STORE__DB_COUNT; i++) {
		if (i == STORE__DB_META)
			continue;
		rc = store__err(mdb_dbi_open(txn, db_names[i], MDB_CREATE, &s->dbi[i]));
		if (rc)
			goto fail;
	}
	if (version == 0) {
		rc = write_schema_version(s, txn, program_version());
		if (rc)
			goto fail;
	} else if (version < program_version()) {
		while (version < program_version()) {
			const struct store__migration *m = find_migration(version);
			if (!m) {
				rc = STORE_ESCHEMA;
				goto fail;
			}
			rc = m->run(s, txn);
			if (rc) {
				rc = rc == STORE__EMAPFULL ? STORE_EFULL : STORE_ESCHEMA;
				goto fail;
			}
			version++;
		}
		rc = write_schema_version(s, txn, program_version());
		if (rc)
			goto fail;
	}
	/* After the migrations: the identity and key fingerprint are read and written sealed
	 * (§2.1), which a version-1 database is not until its migration has run. */
	rc = check_identity(s, txn);
	if (rc)
		goto fail;
	rc = store__commit_err(s, mdb_txn_commit(txn));
	return rc == STORE__EMAPFULL ? STORE_EFULL : rc;
fail:
	mdb_txn_abort(txn);
	return rc == STORE__EMAPFULL ? STORE_EFULL : rc;
}

static void free_store(struct store *s)
{
	if (s->pg)
		pg__close(s);
	pthread_rwlock_destroy(&s->map_lock);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->batch);
	free(s->path);
	free(s);
}

static void async_closed(uv_handle_t *h)
{
	free_store(h->data);
}

/* The PostgreSQL engine: the store's queue, writer and completions are the same; the engine
 * connects, migrates and checks the identity (storage/pg/engine.c). */
static int open_pg(struct store **out, uv_loop_t *loop, const struct store_config *cfg)
{
	struct store *s = calloc(1, sizeof *s);
	if (!s)
		return STORE_ENOMEM;
	s->loop = loop;
	s->cfg = *cfg;
	s->cfg.path = NULL;
	s->cfg.map_size_initial = s->cfg.map_size_max = 0;
	if (!s->cfg.max_batch)
		s->cfg.max_batch = DEFAULT_MAX_BATCH;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	pthread_rwlock_init(&s->map_lock, NULL);
	int rc = pg__open(s);
	if (rc) {
		free_store(s);
		return rc;
	}
	s->created = s->pg->created;
	if (uv_async_init(loop, &s->async, store__async_cb) != 0) {
		free_store(s);
		return STORE_ENOMEM;
	}
	s->async.data = s;
	rc = store__writer_start(s);
	if (rc) {
		pg__close(s);
		uv_close((uv_handle_t *)&s->async, async_closed);
		return rc;
	}
	*out = s;
	return 0;
}

int store_open(struct store **out, uv_loop_t *loop, const struct store_config *cfg)
{
	struct store *s;
	MDB_envinfo info;
	int rc;

	if (!out || !loop || !cfg || cfg->max_batch > STORE_BATCH_MAX)
		return STORE_EINVAL;
	if (cfg->pg_conninfo)
		return open_pg(out, loop, cfg);
	if (!cfg->path || !cfg->path[0])
		return STORE_EINVAL;
	if (sodium_init() < 0) /* picks the fast BLAKE2b of the record checksums; idempotent */
		return STORE_EINTERNAL;
	s = calloc(1, sizeof *s);
	if (!s)
		return STORE_ENOMEM;
	s->loop = loop;
	s->cfg = *cfg;
	s->path = strdup(cfg->path);
	if (!s->path) {
		free(s);
		return STORE_ENOMEM;
	}
	s->cfg.path = s->path;
	if (!s->cfg.map_size_initial)
		s->cfg.map_size_initial = DEFAULT_MAP_INITIAL;
	if (!s->cfg.map_size_max)
		s->cfg.map_size_max = DEFAULT_MAP_MAX;
	if (!s->cfg.max_batch)
		s->cfg.max_batch = DEFAULT_MAX_BATCH;
	s->cfg.map_size_initial = align_up(s->cfg.map_size_initial);
	s->cfg.map_size_max = align_up(s->cfg.map_size_max);
	if (s->cfg.map_size_initial < MIN_MAP_SIZE || s->cfg.map_size_max < s->cfg.map_size_initial) {
		free(s->path);
		free(s);
		return STORE_EINVAL;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	pthread_rwlock_init(&s->map_lock, NULL);

	if (mkdir(s->path, 0700) != 0 && errno != EEXIST) {
		rc = store__err(errno);
		goto fail;
	}
	/* A damaged file is refused before LMDB maps it; a missing one is created below. */
	rc = store_check_file(s->path, NULL, 0);
	s->created = rc == STORE_ENOTFOUND;
	if (rc != 0 && rc != STORE_ENOTFOUND)
		goto fail;
	rc = store__err(mdb_env_create(&s->env));
	if (rc)
		goto fail;
	/* Synchronous commits: neither MDB_NOSYNC nor MDB_NOMETASYNC. MDB_NOTLS: read transactions
	 * are not tied to a thread (the loop and a backup thread both read). MDB_NORDAHEAD: LMDB
	 * maps with MADV_RANDOM, so its faults bring single pages into the cache, not read-ahead
	 * runs (page_cache.c). */
	unsigned flags = MDB_NOTLS | (s->cfg.page_cache_off ? 0u : MDB_NORDAHEAD);
	if ((rc = store__err(mdb_env_set_maxdbs(s->env, STORE__MAX_DBS))) ||
	    (rc = store__err(mdb_env_set_mapsize(s->env, s->cfg.map_size_initial))) ||
	    (rc = store__err(mdb_env_open(s->env, s->path, flags, 0600))))
		goto fail;
	store__pc_drop(s); /* before the first transaction touches LMDB's map */
	int dead;
	mdb_reader_check(s->env, &dead); /* reader slots of crashed processes */
	rc = open_databases(s);
	if (rc)
		goto fail;
	mdb_env_info(s->env, &info);
	s->map_size = info.me_mapsize;
	s->stats.map_size = s->map_size;
	store__pc_start(s);

	if (uv_async_init(loop, &s->async, store__async_cb) != 0) {
		rc = STORE_ENOMEM;
		goto fail;
	}
	s->async.data = s;
	rc = store__writer_start(s);
	if (rc) {
		store__pc_stop(s);
		mdb_env_close(s->env);
		uv_close((uv_handle_t *)&s->async, async_closed);
		return rc;
	}
	*out = s;
	return 0;
fail:
	store__pc_stop(s);
	if (s->env)
		mdb_env_close(s->env);
	free_store(s);
	return rc;
}

void store_db_id(const struct store *s, uint8_t out[STORE_DB_ID_BYTES])
{
	memcpy(out, s->db_id, STORE_DB_ID_BYTES);
}

bool store_created(const struct store *s)
{
	return s->created;
}

void store_close(struct store *s)
{
	if (!s || s->closing)
		return;
	s->closing = true;
	store__writer_stop(s);
	store__run_completions(s);
	if (s->pg) {
		pg__close(s);
	} else {
		/* LMDB: every transaction, reset ones too, ends before the environment closes. */
		store__read_pool_drain(s);
		store__pc_stop(s);
		mdb_env_close(s->env);
	}
	s->env = NULL;
	uv_close((uv_handle_t *)&s->async, async_closed);
}

int store__grow_map(struct store *s)
{
	size_t max = s->cfg.map_size_max, next;
	int rc;
	if (s->map_size >= max)
		return STORE_EFULL;
	next = s->map_size * 2;
	if (next > max || next < s->map_size)
		next = max;
	pthread_rwlock_wrlock(&s->map_lock);
	rc = mdb_env_set_mapsize(s->env, next);
	if (rc) {
		/* LMDB unmaps before it maps again, so a failure (address space exhausted) may leave no
		 * map: refuse every later read and write (STORE_EIO) rather than touch it. A restart
		 * of the relay recovers; nothing committed is lost. */
		s->unmapped = true;
	}
	pthread_rwlock_unlock(&s->map_lock);
	if (rc)
		return STORE_EFULL;
	s->map_size = next;
	pthread_mutex_lock(&s->lock);
	s->stats.map_size = next;
	s->stats.map_grows++;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int store_backup(struct store *s, const char *dir)
{
	int rc;
	if (!s || !dir || !dir[0])
		return STORE_EINVAL;
	if (s->pg)
		return pg_backup(s, dir);
	if (mkdir(dir, 0700) != 0)
		return errno == EEXIST ? STORE_EEXIST : store__err(errno);
	char path[4096];
	if ((size_t)snprintf(path, sizeof path, "%s/data.mdb", dir) >= sizeof path) {
		rmdir(dir);
		return STORE_EINVAL;
	}
	for (int attempt = 0;; attempt++) {
		/* Shared: the copy holds a read transaction, so the map must not change under it. */
		pthread_rwlock_rdlock(&s->map_lock);
		rc = s->unmapped ? EIO : mdb_env_copy2(s->env, dir, MDB_CP_COMPACT);
		pthread_rwlock_unlock(&s->map_lock);
		if (rc != MDB_MAP_RESIZED || attempt == 8)
			break;
		/* Another process (the running relay, when this is the backup command) grew the map
		 * meanwhile: adopt its size, with no transaction active here, and copy again. */
		unlink(path);
		pthread_rwlock_wrlock(&s->map_lock);
		int grown = mdb_env_set_mapsize(s->env, 0);
		pthread_rwlock_unlock(&s->map_lock);
		if (grown) {
			rc = grown;
			break;
		}
	}
	/* LMDB creates the copy 0666 less the umask; the copy holds everything the relay keeps, so
	 * it is private whatever the caller's umask. */
	if (rc == 0 && chmod(path, 0600) != 0)
		rc = errno;
	if (rc) {
		unlink(path);
		rmdir(dir);
		rc = store__err(rc);
		return rc == STORE__EMAPFULL ? STORE_EFULL : rc;
	}
	return 0;
}

void store_get_stats(struct store *s, struct store_stats *out)
{
	MDB_envinfo info;
	MDB_stat st;
	uint64_t used = 0;
	if (s->pg) {
		/* No map: the map_* fields stay 0. */
		pthread_mutex_lock(&s->lock);
		*out = s->stats;
		pthread_mutex_unlock(&s->lock);
		out->map_size = out->map_size_max = out->map_used = out->map_grows = 0;
		out->corrupt_reads = __atomic_load_n(&s->corrupt_reads, __ATOMIC_RELAXED);
		return;
	}
	/* The meta pages are read from the map: not while the writer remaps it. */
	pthread_rwlock_rdlock(&s->map_lock);
	if (!s->unmapped && s->env && mdb_env_info(s->env, &info) == 0 && mdb_env_stat(s->env, &st) == 0)
		used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	pthread_rwlock_unlock(&s->map_lock);
	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->lock);
	out->map_size_max = s->cfg.map_size_max;
	out->map_used = used;
	out->corrupt_reads = __atomic_load_n(&s->corrupt_reads, __ATOMIC_RELAXED);
}

int store_check_data(struct store *s, store_check_cb cb, void *data, uint64_t *records)
{
	MDB_txn *txn;
	uint64_t n = 0, bad = 0;
	if (!s || !cb)
		return STORE_EINVAL;
	if (s->pg)
		return pg_check_data(s, cb, data, records);
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	for (int i = 0; i < STORE__DB_COUNT && rc == 0; i++) {
		MDB_cursor *cur;
		MDB_val k, v;
		rc = store__err(mdb_cursor_open(txn, s->dbi[i], &cur));
		if (rc)
			break;
		int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		while (mrc == 0) {
			n++;
			if (store__check(NULL, &k, &v) != 0) {
				bad++;
				cb(db_names[i], k.mv_data, k.mv_size, data);
			}
			mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
		}
		mdb_cursor_close(cur);
		if (mrc != MDB_NOTFOUND)
			rc = store__err(mrc);
	}
	store__read_end(s, txn);
	if (rc)
		return rc;
	if (records)
		*records = n;
	return bad > INT32_MAX ? INT32_MAX : (int)bad;
}

#ifdef WAKKS_TEST_HOOKS
void store_test_pause_writer(struct store *s, bool paused)
{
	pthread_mutex_lock(&s->lock);
	s->paused = paused;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}
#endif
