/* SPDX-License-Identifier: MPL-2.0 */
/* Push subscriptions (spec/storage.md §4.19): one per device, replaced by a new one, deleted by
 * push_remove, by a push service's refusal only when it is still the refused one, and together
 * with the device's revocation; a schema 4 database (no push_subs) is migrated to schema 5 (§8). */
#include <lmdb.h>

#include "test.h"
#include "storage_test.h"
#include "store_internal.h" /* store__seal: to write data as schema version 4 did */

static void web_sub(struct store_push_sub *p, const char *endpoint)
{
	memset(p, 0, sizeof *p);
	p->kind = STORE_PUSH_WEB;
	p->p256dh[0] = 0x04;
	memset(p->p256dh + 1, 0x11, 64);
	memset(p->auth, 0x22, sizeof p->auth);
	p->addr_len = strlen(endpoint);
	memcpy(p->addr, endpoint, p->addr_len);
}

static int put_sub(struct t_env *e, unsigned dev, const struct store_push_sub *p)
{
	struct t_res res = {0};
	uint8_t id[STORE_ID_BYTES];
	t_id(id, 'D', dev);
	struct store_req *req = store_req_new(e->s, t_cb, &res);
	int op = store_req_put_push_sub(req, id, p);
	if (op < 0) {
		store_req_free(req);
		return op;
	}
	return t_run(e, req, &res);
}

static int del_sub(struct t_env *e, unsigned dev, uint64_t if_updated)
{
	struct t_res res = {0};
	uint8_t id[STORE_ID_BYTES];
	t_id(id, 'D', dev);
	struct store_req *req = store_req_new(e->s, t_cb, &res);
	CHECK(store_req_delete_push_sub(req, id, if_updated) >= 0);
	return t_run(e, req, &res);
}

static int get_sub(struct t_env *e, unsigned dev, struct store_push_sub *out)
{
	uint8_t id[STORE_ID_BYTES];
	t_id(id, 'D', dev);
	return store_get_push_sub(e->s, id, out);
}

static void test_put_replace_delete(void)
{
	struct t_env e;
	struct store_push_sub p, got;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN));
	REQUIRE_OK(t_put_device(&e, 1, 1));
	CHECK_EQ_INT(get_sub(&e, 1, &got), STORE_ENOTFOUND);

	web_sub(&p, "https://push.example/a");
	REQUIRE_OK(put_sub(&e, 1, &p));
	REQUIRE_OK(get_sub(&e, 1, &got));
	CHECK_EQ_INT(got.kind, STORE_PUSH_WEB);
	CHECK(got.addr_len == 22 && memcmp(got.addr, "https://push.example/a", 22) == 0);
	CHECK(memcmp(got.p256dh, p.p256dh, 65) == 0 && memcmp(got.auth, p.auth, 16) == 0);
	CHECK(got.updated_ms != 0 && got.app[0] == 0);

	/* an APNs token replaces it: one subscription per device */
	struct store_push_sub a;
	memset(&a, 0, sizeof a);
	a.kind = STORE_PUSH_APNS;
	strcpy(a.app, "wakks-ios");
	a.addr_len = 64;
	memset(a.addr, 'f', 64);
	REQUIRE_OK(put_sub(&e, 1, &a));
	REQUIRE_OK(get_sub(&e, 1, &got));
	CHECK(got.kind == STORE_PUSH_APNS && strcmp(got.app, "wakks-ios") == 0 && got.addr_len == 64);

	/* a refusal of an older subscription does not delete the newer one */
	REQUIRE_OK(del_sub(&e, 1, got.updated_ms - 1));
	CHECK_EQ_INT(get_sub(&e, 1, &got), 0);
	REQUIRE_OK(del_sub(&e, 1, got.updated_ms));
	CHECK_EQ_INT(get_sub(&e, 1, &got), STORE_ENOTFOUND);
	/* deleting what is gone is no error */
	REQUIRE_OK(del_sub(&e, 1, 0));

	/* bad subscriptions are refused when built; unknown devices when applied */
	struct store_req *req = store_req_new(e.s, t_cb, NULL);
	uint8_t id[STORE_ID_BYTES];
	t_id(id, 'D', 1);
	web_sub(&p, "https://push.example/a b");
	CHECK_EQ_INT(store_req_put_push_sub(req, id, &p), STORE_EINVAL);
	web_sub(&p, "https://push.example/a");
	p.p256dh[0] = 0x02;
	CHECK_EQ_INT(store_req_put_push_sub(req, id, &p), STORE_EINVAL);
	a.app[0] = 0;
	CHECK_EQ_INT(store_req_put_push_sub(req, id, &a), STORE_EINVAL);
	store_req_free(req);
	web_sub(&p, "https://push.example/a");
	CHECK_EQ_INT(put_sub(&e, 9, &p), STORE_ENOTFOUND);
	t_close(&e);
	t_teardown(&e);
}

static void collect_id(const uint8_t id[STORE_ID_BYTES], void *data)
{
	uint32_t *seen = data;
	seen[++seen[0]] = wakks_load_be32(id + 12);
}

static void test_listing_in_pages(void)
{
	struct t_env e;
	struct store_push_sub p;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN));
	for (unsigned i = 1; i <= 5; i++) {
		REQUIRE_OK(t_put_device(&e, 1, i));
		web_sub(&p, "https://push.example/x");
		if (i != 3)
			REQUIRE_OK(put_sub(&e, i, &p));
	}
	uint32_t seen[8] = { 0 };
	CHECK_EQ_INT(store_list_push_subs(e.s, NULL, 2, collect_id, seen), 2);
	uint8_t last[STORE_ID_BYTES];
	t_id(last, 'D', seen[2]);
	CHECK_EQ_INT(store_list_push_subs(e.s, last, 10, collect_id, seen), 2);
	CHECK_EQ_INT(seen[0], 4);
	CHECK(seen[1] == 1 && seen[2] == 2 && seen[3] == 4 && seen[4] == 5);
	t_id(last, 'D', 5);
	CHECK_EQ_INT(store_list_push_subs(e.s, last, 10, collect_id, seen), 0);
	t_close(&e);
	t_teardown(&e);
}

static void test_revocation_drops_the_subscription(void)
{
	struct t_env e;
	struct store_push_sub p, got;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN));
	REQUIRE_OK(t_put_device(&e, 1, 1));
	REQUIRE_OK(t_put_device(&e, 1, 2));
	web_sub(&p, "https://push.example/1");
	REQUIRE_OK(put_sub(&e, 1, &p));
	REQUIRE_OK(put_sub(&e, 2, &p));

	struct t_res res = {0};
	uint8_t d1[STORE_ID_BYTES];
	t_id(d1, 'D', 1);
	struct store_req *req = store_req_new(e.s, t_cb, &res);
	CHECK_EQ_INT(store_req_revoke_device(req, d1, 7777), 0);
	REQUIRE_OK(t_run(&e, req, &res));
	CHECK_EQ_INT(get_sub(&e, 1, &got), STORE_ENOTFOUND);
	CHECK_EQ_INT(get_sub(&e, 2, &got), 0);
	/* a revoked device cannot subscribe again */
	CHECK_EQ_INT(put_sub(&e, 1, &p), STORE_EREVOKED);
	t_close(&e);
	t_teardown(&e);
}

/* Rewrites the environment as schema version 4 wrote it: no push_subs database, version 4. */
static int as_schema_4(const char *path)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta, subs;
	int rc = mdb_env_create(&env);
	if (rc)
		return rc;
	mdb_env_set_maxdbs(env, 32);
	if ((rc = mdb_env_open(env, path, 0, 0600)) != 0 || (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
		mdb_env_close(env);
		return rc;
	}
	if ((rc = mdb_dbi_open(txn, "push_subs", 0, &subs)) == 0)
		rc = mdb_drop(txn, subs, 1);
	uint8_t four[4 + STORE__CHECK_LEN];
	wakks_store_be32(four, 4);
	store__seal("schema_version", 14, four, 4);
	MDB_val k = {.mv_size = 14, .mv_data = "schema_version"};
	MDB_val v = {.mv_size = sizeof four, .mv_data = four};
	if (rc == 0 && (rc = mdb_dbi_open(txn, "meta", 0, &meta)) == 0)
		rc = mdb_put(txn, meta, &k, &v, 0);
	rc = rc ? (mdb_txn_abort(txn), rc) : mdb_txn_commit(txn);
	mdb_env_close(env);
	return rc;
}

/* The schema version and whether push_subs exists, read without the store. */
static int raw_state(const char *path, uint32_t *version, bool *has_subs)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta, subs;
	int rc = mdb_env_create(&env);
	if (rc)
		return rc;
	mdb_env_set_maxdbs(env, 32);
	if ((rc = mdb_env_open(env, path, MDB_RDONLY, 0600)) == 0 &&
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) == 0) {
		MDB_val k = {.mv_size = 14, .mv_data = "schema_version"}, v;
		if ((rc = mdb_dbi_open(txn, "meta", 0, &meta)) == 0 &&
		    (rc = mdb_get(txn, meta, &k, &v)) == 0)
			*version = wakks_load_be32(v.mv_data);
		*has_subs = mdb_dbi_open(txn, "push_subs", 0, &subs) == 0;
		mdb_txn_abort(txn);
	}
	mdb_env_close(env);
	return rc;
}

static void test_schema_4_is_migrated(void)
{
	struct t_env e;
	struct store_push_sub p, got;
	uint32_t version = 0;
	bool has_subs = true;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN));
	REQUIRE_OK(t_put_device(&e, 1, 1));
	t_close(&e);
	REQUIRE_OK(as_schema_4(e.dbpath));
	REQUIRE_OK(raw_state(e.dbpath, &version, &has_subs));
	CHECK(version == 4 && !has_subs);

	REQUIRE_OK(t_open(&e));
	uint8_t id[STORE_ID_BYTES];
	struct store_device d;
	t_id(id, 'D', 1);
	CHECK_EQ_INT(store_get_device(e.s, id, &d), 0); /* the old data is all there */
	CHECK_EQ_INT(get_sub(&e, 1, &got), STORE_ENOTFOUND);
	web_sub(&p, "https://push.example/m");
	REQUIRE_OK(put_sub(&e, 1, &p));
	t_close(&e);
	REQUIRE_OK(raw_state(e.dbpath, &version, &has_subs));
	CHECK(version == STORE_SCHEMA_VERSION && version == 5 && has_subs);
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(get_sub(&e, 1, &got), 0);
	t_close(&e);
	t_teardown(&e);
}

int main(void)
{
	RUN(test_put_replace_delete);
	RUN(test_revocation_drops_the_subscription);
	RUN(test_listing_in_pages);
	RUN_LMDB(test_schema_4_is_migrated);
	return TEST_RESULT();
}
