/* SPDX-License-Identifier: MPL-2.0 */
/* Accounts, devices and prekeys put and read back; reopen keeps everything; a newer schema is
 * refused; a hot backup opens as an environment holding the data. */
#include <sys/stat.h>
#include <sys/wait.h>

#include <lmdb.h>

#include "test.h"
#include "storage_test.h"

static void test_put_get_account_and_device(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));

	struct t_res res = {0};
	struct store_account a;
	memset(&a, 0, sizeof a);
	t_id(a.id, 'A', 1);
	a.kind = STORE_ACCOUNT_CASEWORKER;
	strcpy(a.tenant, "varde");
	a.n_units = 2;
	strcpy(a.units[0], "jobcenter");
	strcpy(a.units[1], "borgerservice");
	a.created_ms = 1234;
	struct store_req *req = store_req_new(e.s, t_cb, &res);
	CHECK_EQ_INT(store_req_put_account(req, &a), 0);
	CHECK_EQ_INT(t_run(&e, req, &res), 0);

	struct store_account got;
	CHECK_EQ_INT(store_get_account(e.s, a.id, &got), 0);
	CHECK_MEM(got.id, a.id, STORE_ID_BYTES);
	CHECK_EQ_INT(got.kind, STORE_ACCOUNT_CASEWORKER);
	CHECK(strcmp(got.tenant, "varde") == 0);
	CHECK_EQ_INT(got.n_units, 2);
	CHECK(strcmp(got.units[1], "borgerservice") == 0);
	CHECK_EQ_INT(got.created_ms, 1234);

	uint8_t missing[STORE_ID_BYTES];
	t_id(missing, 'A', 99);
	CHECK_EQ_INT(store_get_account(e.s, missing, &got), STORE_ENOTFOUND);

	/* invalid records are refused by the builder */
	a.kind = 9;
	req = store_req_new(e.s, t_cb, &res);
	CHECK_EQ_INT(store_req_put_account(req, &a), STORE_EINVAL);
	store_req_free(req);

	/* a device of a missing account is refused */
	CHECK_EQ_INT(t_put_device(&e, 99, 1), STORE_ENOTFOUND);
	CHECK_EQ_INT(t_put_device(&e, 1, 1), 0);
	CHECK_EQ_INT(t_put_device(&e, 1, 2), 0);
	CHECK_EQ_INT(t_put_device(&e, 1, 3), 0);

	struct store_device d;
	uint8_t did[STORE_ID_BYTES];
	t_id(did, 'D', 2);
	CHECK_EQ_INT(store_get_device(e.s, did, &d), 0);
	CHECK_MEM(d.account_id, a.id, STORE_ID_BYTES);
	CHECK_EQ_INT(d.identity_key[5], 2);
	CHECK_EQ_INT(d.next_seq, 1);
	CHECK(!d.revoked);

	/* revoke device 2 */
	memset(&res, 0, sizeof res);
	req = store_req_new(e.s, t_cb, &res);
	CHECK_EQ_INT(store_req_revoke_device(req, did, 5555), 0);
	CHECK_EQ_INT(t_run(&e, req, &res), 0);
	CHECK_EQ_INT(store_get_device(e.s, did, &d), 0);
	CHECK(d.revoked);
	CHECK_EQ_INT(d.revoked_ms, 5555);

	struct store_device list[8];
	size_t n = 0;
	CHECK_EQ_INT(store_list_devices(e.s, a.id, true, list, 8, &n), 0);
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_INT(store_list_devices(e.s, a.id, false, list, 8, &n), 0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(list[0].id[15], 1);
	CHECK_EQ_INT(list[1].id[15], 3);
	CHECK_EQ_INT(store_list_devices(e.s, a.id, false, list, 1, &n), 0);
	CHECK_EQ_INT(n, 2); /* total, though only one written */
	CHECK_EQ_INT(store_list_devices(e.s, missing, true, list, 8, &n), 0);
	CHECK_EQ_INT(n, 0);

	t_teardown(&e);
}

struct ids {
	int n;
	uint8_t last[4];
};

static int ids_cb(const uint8_t account_id[STORE_ID_BYTES], void *data)
{
	struct ids *ids = data;
	if (ids->n < 4)
		ids->last[ids->n] = account_id[15];
	ids->n++;
	return 0;
}

static int put_account_units(struct t_env *e, unsigned n, uint8_t kind, const char *tenant,
			     const char *u1, const char *u2)
{
	struct t_res res = {0};
	struct store_account a;
	memset(&a, 0, sizeof a);
	t_id(a.id, 'A', n);
	a.kind = kind;
	strcpy(a.tenant, tenant);
	if (u1)
		strcpy(a.units[a.n_units++], u1);
	if (u2)
		strcpy(a.units[a.n_units++], u2);
	struct store_req *req = store_req_new(e->s, t_cb, &res);
	if (store_req_put_account(req, &a) < 0) {
		store_req_free(req);
		return -100;
	}
	return t_run(e, req, &res);
}

static void test_unit_and_tenant_indexes(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(put_account_units(&e, 1, STORE_ACCOUNT_CASEWORKER, "varde", "jobcenter", NULL), 0);
	CHECK_EQ_INT(put_account_units(&e, 2, STORE_ACCOUNT_CASEWORKER, "varde", "jobcenter", "born"), 0);
	CHECK_EQ_INT(put_account_units(&e, 3, STORE_ACCOUNT_CASEWORKER, "varde", "jobcenterx", NULL), 0);
	CHECK_EQ_INT(put_account_units(&e, 4, STORE_ACCOUNT_CASEWORKER, "vardex", "jobcenter", NULL), 0);
	CHECK_EQ_INT(put_account_units(&e, 5, STORE_ACCOUNT_JOURNAL, "varde", NULL, NULL), 0);
	CHECK_EQ_INT(put_account_units(&e, 6, STORE_ACCOUNT_CITIZEN, "varde", NULL, NULL), 0);

	struct ids ids = {0};
	CHECK_EQ_INT(store_list_unit_accounts(e.s, "varde", "jobcenter", ids_cb, &ids), 2);
	CHECK_EQ_INT(ids.last[0], 1);
	CHECK_EQ_INT(ids.last[1], 2);
	memset(&ids, 0, sizeof ids);
	CHECK_EQ_INT(store_list_unit_accounts(e.s, "varde", "born", ids_cb, &ids), 1);
	memset(&ids, 0, sizeof ids);
	CHECK_EQ_INT(store_list_tenant_accounts(e.s, "varde", STORE_ACCOUNT_JOURNAL, ids_cb, &ids), 1);
	CHECK_EQ_INT(ids.last[0], 5);
	memset(&ids, 0, sizeof ids);
	CHECK_EQ_INT(store_list_tenant_accounts(e.s, "varde", 0, ids_cb, &ids), 5);

	/* moving account 2 out of jobcenter updates the index */
	CHECK_EQ_INT(put_account_units(&e, 2, STORE_ACCOUNT_CASEWORKER, "varde", "born", NULL), 0);
	memset(&ids, 0, sizeof ids);
	CHECK_EQ_INT(store_list_unit_accounts(e.s, "varde", "jobcenter", ids_cb, &ids), 1);
	CHECK_EQ_INT(store_list_unit_accounts(e.s, "varde", "", ids_cb, &ids), STORE_EINVAL);
	CHECK_EQ_INT(store_list_unit_accounts(e.s, "nowhere", "jobcenter", ids_cb, &ids), 0);
	t_teardown(&e);
}

static void test_signed_prekey_put_replace(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN), 0);
	CHECK_EQ_INT(t_put_device(&e, 1, 1), 0);
	uint8_t did[STORE_ID_BYTES];
	t_id(did, 'D', 1);

	struct store_signed_prekey spk = {.id = 7, .created_ms = 99};
	memset(spk.public_key, 0xaa, sizeof spk.public_key);
	memset(spk.signature, 0xbb, sizeof spk.signature);
	for (int round = 0; round < 2; round++) {
		struct t_res res = {0};
		spk.id = 7 + (uint32_t)round;
		struct store_req *req = store_req_new(e.s, t_cb, &res);
		CHECK_EQ_INT(store_req_put_signed_prekey(req, did, &spk), 0);
		CHECK_EQ_INT(t_run(&e, req, &res), 0);
	}
	struct store_signed_prekey got;
	CHECK_EQ_INT(store_get_signed_prekey(e.s, did, &got), 0);
	CHECK_EQ_INT(got.id, 8);
	CHECK_EQ_INT(got.created_ms, 99);
	CHECK_MEM(got.signature, spk.signature, STORE_SIG_BYTES);

	uint8_t other[STORE_ID_BYTES];
	t_id(other, 'D', 50);
	struct t_res res = {0};
	struct store_req *req = store_req_new(e.s, t_cb, &res);
	CHECK_EQ_INT(store_req_put_signed_prekey(req, other, &spk), 0);
	CHECK_EQ_INT(t_run(&e, req, &res), STORE_ENODEVICE);
	CHECK(res.has_failed_device && memcmp(res.failed_device, other, STORE_ID_BYTES) == 0);
	CHECK_EQ_INT(store_get_signed_prekey(e.s, other, &got), STORE_ENOTFOUND);
	t_teardown(&e);
}

static void test_reopen_keeps_everything(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN), 0);
	CHECK_EQ_INT(t_put_device(&e, 1, 1), 0);
	uint8_t did[STORE_ID_BYTES];
	t_id(did, 'D', 1);
	struct store_recipient r = {.payload = (const uint8_t *)"hello", .payload_len = 5,
				    .expires_at_ms = 1u << 30};
	memcpy(r.device_id, did, STORE_ID_BYTES);
	struct store_send snd = {.kind = STORE_KIND_ENVELOPE, .recipients = &r, .n_recipients = 1};
	t_id(snd.sender_device, 'D', 1);
	t_id(snd.message_id, 'M', 1);
	struct t_res res = {0};
	struct store_req *req = store_req_new(e.s, t_cb, &res);
	CHECK_EQ_INT(store_req_store_envelopes(req, &snd), 0);
	CHECK_EQ_INT(t_run(&e, req, &res), 0);
	t_close(&e);

	/* writes after close are refused */
	CHECK_EQ_INT(t_open(&e), 0);
	struct store_device d;
	CHECK_EQ_INT(store_get_device(e.s, did, &d), 0);
	CHECK_EQ_INT(d.next_seq, 2);
	CHECK_EQ_INT(d.mailbox_count, 1);
	CHECK_EQ_INT(d.mailbox_bytes, 5);
	struct store_account a;
	CHECK_EQ_INT(store_get_account(e.s, d.account_id, &a), 0);
	struct store_idempotency idem;
	struct store_seq seqs[4];
	CHECK_EQ_INT(store_get_idempotency(e.s, snd.sender_device, snd.message_id, &idem, seqs, 4), 0);
	CHECK_EQ_INT(idem.n, 1);
	CHECK_EQ_INT(seqs[0].seq, 1);
	t_teardown(&e);
}

static void test_closed_store_refuses_requests(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN), 0);
	/* submitted before close: completed by close itself */
	struct t_res res = {0};
	struct store_account a;
	memset(&a, 0, sizeof a);
	t_id(a.id, 'A', 2);
	a.kind = STORE_ACCOUNT_JOURNAL;
	strcpy(a.tenant, "varde");
	struct store_req *req = store_req_new(e.s, t_cb, &res);
	CHECK(store_req_put_account(req, &a) >= 0);
	CHECK_EQ_INT(store_submit(req), 0);
	store_close(e.s);
	CHECK(res.done);
	CHECK_EQ_INT(res.result, 0);
	e.s = NULL;
	uv_run(&e.loop, UV_RUN_NOWAIT);
	CHECK_EQ_INT(t_open(&e), 0);
	struct store_account got;
	CHECK_EQ_INT(store_get_account(e.s, a.id, &got), 0);
	t_teardown(&e);
}

static void test_newer_schema_refused(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	t_close(&e);

	/* Bump the stored version as a future program would (layout: spec/storage.md). */
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	REQUIRE_OK(mdb_env_create(&env));
	mdb_env_set_maxdbs(env, 32);
	REQUIRE_OK(mdb_env_open(env, e.dbpath, 0, 0600));
	REQUIRE_OK(mdb_txn_begin(env, NULL, 0, &txn));
	REQUIRE_OK(mdb_dbi_open(txn, "meta", 0, &dbi));
	MDB_val k = {.mv_size = 14, .mv_data = "schema_version"}, v;
	REQUIRE_OK(mdb_get(txn, dbi, &k, &v));
	CHECK_EQ_INT(v.mv_size, 4 + 8); /* u32 || checksum (spec/storage.md §2.1) */
	CHECK_EQ_INT(((uint8_t *)v.mv_data)[3], STORE_SCHEMA_VERSION);
	/* the bare u32 of version 1's layout: still read, so a newer number is refused */
	uint8_t newer[4] = {0, 0, 0, STORE_SCHEMA_VERSION + 1};
	v.mv_size = 4;
	v.mv_data = newer;
	REQUIRE_OK(mdb_put(txn, dbi, &k, &v, 0));
	REQUIRE_OK(mdb_txn_commit(txn));
	mdb_env_close(env);

	struct store *s = NULL;
	CHECK_EQ_INT(store_open(&s, &e.loop, &e.cfg), STORE_ESCHEMA_NEWER);
	CHECK(s == NULL);
	CHECK(strstr(store_strerror(STORE_ESCHEMA_NEWER), "newer") != NULL);
	t_teardown(&e);
}

static int marker_migration(void *mdb_txn, void *data)
{
	MDB_txn *txn = mdb_txn;
	MDB_dbi dbi;
	int *runs = data;
	(*runs)++;
	if (mdb_dbi_open(txn, "meta", 0, &dbi) != 0)
		return -1;
	MDB_val k = {.mv_size = 6, .mv_data = "marker"}, v = {.mv_size = 1, .mv_data = "m"};
	return mdb_put(txn, dbi, &k, &v, 0);
}

static int failing_migration(void *mdb_txn, void *data)
{
	(void)mdb_txn;
	(*(int *)data)++;
	return -1;
}

static uint32_t stored_version(const char *path, bool *marker)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {.mv_size = 14, .mv_data = "schema_version"}, v;
	uint32_t version = 0;
	if (mdb_env_create(&env) != 0)
		return 0;
	mdb_env_set_maxdbs(env, 32);
	if (mdb_env_open(env, path, MDB_RDONLY, 0600) == 0 &&
	    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0) {
		if (mdb_dbi_open(txn, "meta", 0, &dbi) == 0 && mdb_get(txn, dbi, &k, &v) == 0 &&
		    v.mv_size >= 4) {
			version = wakks_load_be32(v.mv_data);
		}
		k.mv_size = 6;
		k.mv_data = "marker";
		*marker = mdb_get(txn, dbi, &k, &v) == 0;
		mdb_txn_abort(txn);
	}
	mdb_env_close(env);
	return version;
}

static void test_older_schema_migrated(void)
{
	struct t_env e;
	bool marker = false;
	int runs = 0;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN), 0);
	t_close(&e);

	/* a failing migration leaves the data as it was and the open fails */
	store_test_set_schema(STORE_SCHEMA_VERSION + 1, failing_migration, &runs);
	struct store *s = NULL;
	CHECK_EQ_INT(store_open(&s, &e.loop, &e.cfg), STORE_ESCHEMA);
	CHECK_EQ_INT(runs, 1);
	CHECK_EQ_INT(stored_version(e.dbpath, &marker), STORE_SCHEMA_VERSION);

	/* a working one runs once, in the opening transaction, and bumps the version */
	runs = 0;
	store_test_set_schema(STORE_SCHEMA_VERSION + 1, marker_migration, &runs);
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(runs, 1);
	struct store_account a;
	uint8_t id[STORE_ID_BYTES];
	t_id(id, 'A', 1);
	CHECK_EQ_INT(store_get_account(e.s, id, &a), 0);
	t_close(&e);
	CHECK_EQ_INT(stored_version(e.dbpath, &marker), STORE_SCHEMA_VERSION + 1);
	CHECK(marker);
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(runs, 1);
	t_close(&e);

	/* the real program is older than the data now */
	store_test_set_schema(0, NULL, NULL);
	CHECK_EQ_INT(store_open(&s, &e.loop, &e.cfg), STORE_ESCHEMA_NEWER);
	t_teardown(&e);
}

static void test_backup_opens_with_data(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN), 0);
	CHECK_EQ_INT(t_put_device(&e, 1, 1), 0);
	char bdir[700];
	snprintf(bdir, sizeof bdir, "%s/backup", e.dir);
	CHECK_EQ_INT(store_backup(e.s, bdir), 0);
	CHECK_EQ_INT(store_backup(e.s, bdir), STORE_EEXIST);
	/* Private whatever the umask: the copy holds everything. */
	char copy[720];
	struct stat st;
	snprintf(copy, sizeof copy, "%s/data.mdb", bdir);
	CHECK(stat(copy, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(stat(bdir, &st) == 0 && (st.st_mode & 0777) == 0700);
	/* the original goes on working */
	CHECK_EQ_INT(t_put_device(&e, 1, 2), 0);
	t_close(&e);

	struct t_env b = e;
	b.cfg.path = bdir;
	REQUIRE_OK(store_open(&b.s, &e.loop, &b.cfg));
	uint8_t did[STORE_ID_BYTES];
	struct store_device d;
	t_id(did, 'D', 1);
	CHECK_EQ_INT(store_get_device(b.s, did, &d), 0);
	t_id(did, 'D', 2);
	CHECK_EQ_INT(store_get_device(b.s, did, &d), STORE_ENOTFOUND);
	store_close(b.s);
	uv_run(&e.loop, UV_RUN_NOWAIT);
	t_teardown(&e);
}

/* The `backup` command runs as a second process next to a running relay whose map grows. */
static void test_backup_from_second_process_while_writing(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	e.cfg.map_size_initial = 128u << 10;
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN), 0);
	CHECK_EQ_INT(t_put_device(&e, 1, 1), 0);
	char bdir[700];
	snprintf(bdir, sizeof bdir, "%s/backup", e.dir);

	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		uv_loop_t loop;
		struct store *s;
		uv_loop_init(&loop);
		if (store_open(&s, &loop, &e.cfg) != 0)
			_exit(2);
		int rc = store_backup(s, bdir);
		store_close(s);
		uv_run(&loop, UV_RUN_DEFAULT);
		_exit(rc == 0 ? 0 : 3);
	}
	static uint8_t payload[8000];
	struct store_recipient r = {.payload = payload, .payload_len = sizeof payload, .expires_at_ms = 1};
	t_id(r.device_id, 'D', 1);
	struct store_send snd = {.kind = STORE_KIND_ENVELOPE, .recipients = &r, .n_recipients = 1};
	for (unsigned i = 0; i < 100; i++) {
		struct t_res res = {0};
		t_id(snd.message_id, 'M', i);
		struct store_req *req = store_req_new(e.s, t_cb, &res);
		CHECK_EQ_INT(store_req_store_envelopes(req, &snd), 0);
		CHECK_EQ_INT(t_run(&e, req, &res), 0);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	t_close(&e);

	struct t_env b = e;
	b.cfg.path = bdir;
	b.s = NULL;
	REQUIRE_OK(store_open(&b.s, &e.loop, &b.cfg));
	uint8_t did[STORE_ID_BYTES];
	struct store_device d;
	t_id(did, 'D', 1);
	CHECK_EQ_INT(store_get_device(b.s, did, &d), 0);
	CHECK(d.mailbox_count <= 100);
	store_close(b.s);
	uv_run(&e.loop, UV_RUN_NOWAIT);
	t_teardown(&e);
}

static void test_strerror_covers_codes(void)
{
	CHECK(strcmp(store_strerror(0), "success") == 0);
	CHECK(strcmp(store_strerror(STORE_EQUOTA), "mailbox quota exceeded") == 0);
	CHECK(store_strerror(-9999) != NULL);
}

int main(void)
{
	RUN(test_put_get_account_and_device);
	RUN(test_unit_and_tenant_indexes);
	RUN(test_signed_prekey_put_replace);
	RUN(test_reopen_keeps_everything);
	RUN(test_closed_store_refuses_requests);
	RUN_LMDB(test_newer_schema_refused);
	RUN_LMDB(test_older_schema_migrated);
	RUN_LMDB(test_backup_opens_with_data);
	RUN_LMDB(test_backup_from_second_process_while_writing);
	RUN(test_strerror_covers_codes);
	return TEST_RESULT();
}
