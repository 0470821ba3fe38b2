/* SPDX-License-Identifier: MPL-2.0 */
/* The engine's opening and closing: connect, apply the schema's migrations and check the
 * database's identity in one transaction (spec/storage-postgresql.md §2), and the test hooks. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "pg_internal.h"
#include "records_internal.h"

/* Serialises the opening transactions of relays starting at once on an empty database (CREATE
 * TABLE IF NOT EXISTS is not safe against a concurrent creator). The value is "wakks" in ASCII. */
#define OPEN_LOCK_KEY "521545173875"

/* Migrations from an older version to the next, run in order in the opening transaction. Version
 * 1 is the first; a database without a version gets version 1's tables at once. */
struct pg_migration {
	uint32_t from;
	int (*run)(PGconn *c);
};
static const struct pg_migration migrations[] = {
	{0, NULL},
};

#ifdef WAKKS_TEST_HOOKS
static uint32_t test_version;
static store_test_migration_fn test_fn;
static void *test_data;

void store_test_set_pg_schema(uint32_t version, store_test_migration_fn fn, void *data)
{
	test_version = version;
	test_fn = fn;
	test_data = data;
}

static int test_migration(PGconn *c)
{
	return test_fn ? test_fn(c, test_data) : STORE_ESCHEMA;
}
#endif

static uint32_t program_version(void)
{
#ifdef WAKKS_TEST_HOOKS
	if (test_version)
		return test_version;
#endif
	return STORE_PG_SCHEMA_VERSION;
}

static int (*find_migration(uint32_t from))(PGconn *)
{
#ifdef WAKKS_TEST_HOOKS
	if (test_version && from == test_version - 1)
		return test_migration;
#endif
	for (size_t i = 0; migrations[i].run; i++)
		if (migrations[i].from == from)
			return migrations[i].run;
	return NULL;
}

/* Runs constant DDL (several statements: the simple query protocol, no parameters). */
static int run_ddl(PGconn *c, const char *ddl)
{
	if (!ddl[0])
		return 0;
	PGresult *r = PQexec(c, ddl);
	int rc = r && PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : pg__err(c, r);
	PQclear(r);
	return rc;
}

static int meta_get(PGconn *c, const char *key, uint8_t *out, size_t len, bool *found)
{
	struct pg_params p;
	int err = 0;
	pg_p_init(&p);
	pg_p_text(&p, key);
	PGresult *r = pg_exec(c, "SELECT value FROM meta WHERE key = $1", &p, &err);
	if (!r)
		return err;
	*found = PQntuples(r) == 1;
	int rc = *found ? pg_r_copy(r, 0, 0, out, len) : 0;
	PQclear(r);
	return rc;
}

static int meta_put(PGconn *c, const char *key, const uint8_t *v, size_t len)
{
	struct pg_params p;
	pg_p_init(&p);
	pg_p_text(&p, key);
	pg_p_bytea(&p, v, len);
	return pg_cmd(c,
		      "INSERT INTO meta (key, value) VALUES ($1, $2) "
		      "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
		      &p);
}

/* The same rules as the LMDB engine (env.c check_identity). */
static int check_identity(struct store *s, PGconn *c)
{
	bool have_id = false, have_fp = false;
	uint8_t fp[STORE_KEY_FP_BYTES];
	int rc = meta_get(c, STORE__META_DATABASE_ID_KEY, s->db_id, sizeof s->db_id, &have_id);
	if (rc)
		return rc;
	if (s->cfg.expect_db_id &&
	    (!have_id || memcmp(s->db_id, s->cfg.expect_db_id, STORE_DB_ID_BYTES) != 0))
		return STORE_EIDENTITY;
	if (s->cfg.account_key_fp) {
		rc = meta_get(c, STORE__META_ACCOUNT_KEY_FP_KEY, fp, sizeof fp, &have_fp);
		if (rc)
			return rc;
		int err = 0;
		PGresult *r = pg_exec(c, "SELECT EXISTS (SELECT 1 FROM accounts)", NULL, &err);
		if (!r)
			return err;
		bool accounts = pg_r_bool(r, 0, 0);
		PQclear(r);
		if (s->cfg.account_key_new && (have_fp || accounts))
			return STORE_ENOKEY;
		if (have_fp && memcmp(fp, s->cfg.account_key_fp, STORE_KEY_FP_BYTES) != 0)
			return STORE_EKEY;
	}
	if (!have_id) {
		if (getrandom(s->db_id, sizeof s->db_id, 0) != (ssize_t)sizeof s->db_id)
			return STORE_EIO;
		rc = meta_put(c, STORE__META_DATABASE_ID_KEY, s->db_id, sizeof s->db_id);
		if (rc)
			return rc;
	}
	if (s->cfg.account_key_fp && !have_fp)
		return meta_put(c, STORE__META_ACCOUNT_KEY_FP_KEY, s->cfg.account_key_fp,
				STORE_KEY_FP_BYTES);
	return 0;
}

/* Schema check, creation or migration, and the identity checks: all or nothing. */
static int migrate(struct store *s, PGconn *c)
{
	int rc = pg_cmd(c, "BEGIN", NULL);
	if (rc)
		return rc;
	if ((rc = pg_cmd(c, "SELECT pg_advisory_xact_lock(" OPEN_LOCK_KEY ")", NULL)) != 0 ||
	    (rc = run_ddl(c, "CREATE TABLE IF NOT EXISTS meta ("
			     " key text PRIMARY KEY,"
			     " value bytea NOT NULL)")) != 0)
		goto fail;
	uint8_t vb[4];
	bool have = false;
	rc = meta_get(c, STORE__META_SCHEMA_KEY, vb, sizeof vb, &have);
	if (rc)
		goto fail;
	uint32_t version = have ? (uint32_t)vb[0] << 24 | (uint32_t)vb[1] << 16 |
					  (uint32_t)vb[2] << 8 | vb[3]
				: 0;
	if (have && version == 0) {
		rc = STORE_ECORRUPT;
		goto fail;
	}
	if (version > program_version()) {
		rc = STORE_ESCHEMA_NEWER;
		goto fail;
	}
	if (version == 0) {
		/* A new database: version 1's tables of every area, then the later migrations. */
		if ((rc = run_ddl(c, pg__schema_core_v1)) != 0 ||
		    (rc = run_ddl(c, pg__schema_records_v1)) != 0 ||
		    (rc = run_ddl(c, pg__schema_relay_v1)) != 0) {
			rc = rc == PG__ECONN ? STORE_EIO : STORE_ESCHEMA;
			goto fail;
		}
		s->pg->created = true;
		version = 1;
	}
	while (version < program_version()) {
		int (*run)(PGconn *) = find_migration(version);
		rc = run ? run(c) : STORE_ESCHEMA;
		if (rc) {
			rc = rc == PG__ECONN ? STORE_EIO : rc == STORE_EFULL ? rc : STORE_ESCHEMA;
			goto fail;
		}
		version++;
	}
	vb[0] = (uint8_t)(version >> 24);
	vb[1] = (uint8_t)(version >> 16);
	vb[2] = (uint8_t)(version >> 8);
	vb[3] = (uint8_t)version;
	if ((rc = meta_put(c, STORE__META_SCHEMA_KEY, vb, sizeof vb)) != 0 ||
	    (rc = check_identity(s, c)) != 0)
		goto fail;
	rc = pg_cmd(c, "COMMIT", NULL);
	return rc == PG__ECONN || rc == PG__ERETRY ? STORE_EIO : rc;
fail:
	pg_cmd(c, "ROLLBACK", NULL);
	return rc == PG__ECONN || rc == PG__ERETRY ? STORE_EIO : rc;
}

static void free_pgstore(struct pgstore *pg)
{
	if (pg->rconn)
		PQfinish(pg->rconn);
	if (pg->wconn)
		PQfinish(pg->wconn);
	free(pg->conninfo);
	free(pg);
}

int pg__open(struct store *s)
{
	struct pgstore *pg = calloc(1, sizeof *pg);
	if (!pg)
		return STORE_ENOMEM;
	pg->store = s;
	pg->conninfo = strdup(s->cfg.pg_conninfo);
	if (!pg->conninfo) {
		free(pg);
		return STORE_ENOMEM;
	}
	if (getrandom(pg->instance, sizeof pg->instance, 0) != (ssize_t)sizeof pg->instance) {
		free_pgstore(pg);
		return STORE_EIO;
	}
	pg__hex(pg->instance, sizeof pg->instance, pg->instance_hex);
	s->pg = pg;
	s->cfg.pg_conninfo = pg->conninfo;
	int rc = STORE_EIO;
	pg->rconn = pg__connect(pg->conninfo, "wakks-relay");
	if (pg->rconn)
		rc = migrate(s, pg->rconn);
	/* The writer's own connection, made now so that a server refusing it fails the open. */
	if (rc == 0 && !(pg->wconn = pg__connect(pg->conninfo, "wakks-writer")))
		rc = STORE_EIO;
	if (rc) {
		s->pg = NULL;
		free_pgstore(pg);
		return rc;
	}
#ifdef WAKKS_TEST_HOOKS
	__atomic_store_n(&pg->writer_pid, PQbackendPID(pg->wconn), __ATOMIC_RELAXED);
#endif
	return 0;
}

void pg__close(struct store *s)
{
	struct pgstore *pg = s->pg;
	if (!pg)
		return;
	s->pg = NULL;
	if (pg->rconn)
		PQfinish(pg->rconn);
	if (pg->wconn)
		PQfinish(pg->wconn);
	pg->rconn = pg->wconn = NULL;
	/* The listening handles close asynchronously; the last one frees pg. */
	pg__listen_stop(pg);
}

const char *store_engine(const struct store *s)
{
	return s && s->pg ? "postgresql" : "lmdb";
}

bool store_shared(const struct store *s)
{
	return s && s->pg;
}

#ifdef WAKKS_TEST_HOOKS
void store_test_set_pg_hook(struct store *s, store_test_pg_hook_fn fn, void *data)
{
	if (!s->pg)
		return;
	pthread_mutex_lock(&s->lock);
	s->pg->test_hook = fn;
	s->pg->test_hook_data = data;
	pthread_mutex_unlock(&s->lock);
}

int store_test_pg_writer_pid(struct store *s)
{
	return s->pg ? __atomic_load_n(&s->pg->writer_pid, __ATOMIC_RELAXED) : 0;
}
#endif
