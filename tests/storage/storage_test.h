/* SPDX-License-Identifier: MPL-2.0 */
/* Helpers shared by the storage tests: a temporary environment directory, opening and closing a
 * store on a private loop, and running one request to completion while keeping copies of its
 * results (the store's views die with the callback). */
#ifndef WAKKS_STORAGE_TEST_H
#define WAKKS_STORAGE_TEST_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "pg_server.h"
#include "wakks_bytes.h"
#include "wakks_storage.h"

/* REQUIRE evaluates its condition twice; this evaluates a call once and stops the test unless 0. */
#define REQUIRE_OK(expr)                          \
	do {                                      \
		int t__rc = (expr);               \
		CHECK_EQ_INT(t__rc, 0);           \
		if (t__rc != 0)                   \
			return;                   \
	} while (0)

struct t_env {
	char dir[512];    /* temp dir */
	char dbpath[600]; /* dir/db */
	uv_loop_t loop;
	struct store *s;
	struct store_config cfg;
	/* PostgreSQL engine (t_pg()): a fresh schema per environment (the connection string sets
	 * its search_path), dropped at teardown, in one database per test process. */
	char pg_conninfo[640];
	char pg_schema[32];
};

/* Whether the tests run against the PostgreSQL engine: WAKKS_TEST_ENGINE=postgresql, or
 * WAKKS_TEST_PG set (a server where the test may create databases) unless WAKKS_TEST_ENGINE=lmdb.
 * The server: WAKKS_TEST_PG's, else one this process starts (tests/support/pg_server). */
static inline bool t_pg(void)
{
	const char *engine = getenv("WAKKS_TEST_ENGINE"), *pg = getenv("WAKKS_TEST_PG");
	if (engine && *engine)
		return strcmp(engine, "postgresql") == 0;
	return pg && *pg;
}

#define T_MAX_OPS 8
#define T_MAX_ITEMS 256

/* Copies of one completed request's results. */
struct t_res {
	int done;
	int result;
	bool has_failed_device;
	uint8_t failed_device[STORE_ID_BYTES];
	struct {
		bool send, take, del, expire;
		bool duplicate;
		uint64_t stored_at_ms;
		size_t n;
		struct store_seq seqs[T_MAX_ITEMS];
		struct store_taken_prekey keys[T_MAX_ITEMS];
		struct store_delete_result deleted;
		struct store_envelope_ref expired[T_MAX_ITEMS];
		size_t idem_deleted;
		bool more;
	} op[T_MAX_OPS];
};

/* Runs a test that is about LMDB itself (its files, map, schema versions, backup copies) only
 * when the tests run against LMDB. */
#define RUN_LMDB(fn)                  \
	do {                          \
		if (!t_pg())          \
			RUN(fn);      \
	} while (0)

static inline int t__rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void t_rmrf(const char *dir)
{
	nftw(dir, t__rm, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void t_id(uint8_t id[STORE_ID_BYTES], unsigned tag, unsigned n)
{
	memset(id, 0, STORE_ID_BYTES);
	id[0] = (uint8_t)tag;
	wakks_store_be32(id + 12, n);
}

/* The test process's database (PostgreSQL): creating a database costs a third of a second, a
 * schema nothing, and the engine keeps every table in the connection's search path. */
static char t__pg_db[64], t__pg_conninfo[512];
static unsigned t__pg_schemas;

static inline void t__pg_drop_db(void)
{
	if (t__pg_db[0])
		pg_test_drop_db(t__pg_db);
}

static inline void t__pg_quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* DROP SCHEMA ... CASCADE lists what it drops */
}

static inline int t__pg_exec(const char *sql)
{
	PGconn *c = PQconnectdb(t__pg_conninfo);
	PQsetNoticeProcessor(c, t__pg_quiet, NULL);
	PGresult *r = PQexec(c, sql);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
	if (rc)
		fprintf(stderr, "storage test: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return rc;
}

static inline int t__pg_setup(struct t_env *e)
{
	char sql[96];
	if (!t__pg_db[0]) {
		if (pg_test_create_db(t__pg_conninfo, sizeof t__pg_conninfo, t__pg_db,
				      sizeof t__pg_db) != 0)
			return -1;
		atexit(t__pg_drop_db);
	}
	snprintf(e->pg_schema, sizeof e->pg_schema, "t_env_%u", ++t__pg_schemas);
	snprintf(sql, sizeof sql, "CREATE SCHEMA %s", e->pg_schema);
	if (t__pg_exec(sql) != 0)
		return -1;
	snprintf(e->pg_conninfo, sizeof e->pg_conninfo, "%s options='-csearch_path=%s'",
		 t__pg_conninfo, e->pg_schema);
	e->cfg.pg_conninfo = e->pg_conninfo;
	return 0;
}

/* A fresh temp dir and default config (small map, unlimited quota). */
static inline int t_setup(struct t_env *e)
{
	const char *tmp = getenv("TMPDIR");
	memset(e, 0, sizeof *e);
	snprintf(e->dir, sizeof e->dir, "%s/wakks-storage-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(e->dir))
		return -1;
	snprintf(e->dbpath, sizeof e->dbpath, "%s/db", e->dir);
	e->cfg.path = e->dbpath;
	e->cfg.map_size_initial = 1u << 20;
	e->cfg.map_size_max = 256u << 20;
	e->cfg.max_batch = 256;
	if (t_pg() && t__pg_setup(e) != 0)
		return -1;
	return uv_loop_init(&e->loop);
}

static inline int t_open(struct t_env *e)
{
	return store_open(&e->s, &e->loop, &e->cfg);
}

static inline void t_close(struct t_env *e)
{
	if (e->s) {
		store_close(e->s);
		e->s = NULL;
		uv_run(&e->loop, UV_RUN_NOWAIT);
	}
}

static inline void t_teardown(struct t_env *e)
{
	t_close(e);
	uv_loop_close(&e->loop);
	t_rmrf(e->dir);
	if (e->pg_schema[0]) {
		char sql[96];
		snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", e->pg_schema);
		t__pg_exec(sql);
	}
}

static inline void t_cb(struct store_req *req, int result, void *data)
{
	struct t_res *r = data;
	r->done = 1;
	r->result = result;
	const uint8_t *fd = store_req_failed_device(req);
	r->has_failed_device = fd != NULL;
	if (fd)
		memcpy(r->failed_device, fd, STORE_ID_BYTES);
	for (int i = 0; i < T_MAX_OPS; i++) {
		const struct store_send_result *sr = store_req_send_result(req, i);
		const struct store_take_result *tr = store_req_take_result(req, i);
		const struct store_delete_result *dr = store_req_delete_result(req, i);
		const struct store_expire_result *er = store_req_expire_result(req, i);
		if (sr) {
			r->op[i].send = true;
			r->op[i].duplicate = sr->duplicate;
			r->op[i].stored_at_ms = sr->stored_at_ms;
			r->op[i].n = sr->n;
			for (size_t j = 0; j < sr->n && j < T_MAX_ITEMS; j++)
				r->op[i].seqs[j] = sr->seqs[j];
		}
		if (tr) {
			r->op[i].take = true;
			r->op[i].n = tr->n;
			for (size_t j = 0; j < tr->n && j < T_MAX_ITEMS; j++)
				r->op[i].keys[j] = tr->keys[j];
		}
		if (dr) {
			r->op[i].del = true;
			r->op[i].deleted = *dr;
		}
		if (er) {
			r->op[i].expire = true;
			r->op[i].n = er->n;
			r->op[i].idem_deleted = er->idempotency_deleted;
			r->op[i].more = er->more;
			for (size_t j = 0; j < er->n && j < T_MAX_ITEMS; j++)
				r->op[i].expired[j] = er->items[j];
		}
	}
}

/* Runs the loop until every listed result is done. */
static inline void t_wait_all(struct t_env *e, struct t_res *res, size_t n)
{
	for (;;) {
		size_t done = 0;
		for (size_t i = 0; i < n; i++)
			done += res[i].done ? 1 : 0;
		if (done == n)
			return;
		uv_run(&e->loop, UV_RUN_ONCE);
	}
}

/* Submits req (built with t_cb and res) and waits for it. Returns the result. */
static inline int t_run(struct t_env *e, struct store_req *req, struct t_res *res)
{
	int rc = store_submit(req);
	if (rc)
		return rc;
	t_wait_all(e, res, 1);
	return res->result;
}

static inline int t_put_account(struct t_env *e, unsigned n, uint8_t kind)
{
	struct t_res res = {0};
	struct store_account a;
	memset(&a, 0, sizeof a);
	t_id(a.id, 'A', n);
	a.kind = kind;
	strcpy(a.tenant, "varde");
	a.created_ms = 1000 + n;
	struct store_req *req = store_req_new(e->s, t_cb, &res);
	if (store_req_put_account(req, &a) < 0)
		return -100;
	return t_run(e, req, &res);
}

static inline int t_put_device(struct t_env *e, unsigned account, unsigned n)
{
	struct t_res res = {0};
	struct store_device d;
	memset(&d, 0, sizeof d);
	t_id(d.id, 'D', n);
	t_id(d.account_id, 'A', account);
	memset(d.identity_key, (int)n, sizeof d.identity_key);
	d.created_ms = 2000 + n;
	struct store_req *req = store_req_new(e->s, t_cb, &res);
	if (store_req_put_device(req, &d) < 0)
		return -100;
	return t_run(e, req, &res);
}

#endif
