/* SPDX-License-Identifier: MPL-2.0 */
/* Device labels (spec/storage.md §4.2): a device record keeps the label its device gave itself,
 * a put replaces it, a label that is too long or not UTF-8 is refused, and a schema 3 database,
 * whose device records have no label, is migrated to the layout with one (§8). */
#include <lmdb.h>

#include "test.h"
#include "storage_test.h"
#include "store_internal.h" /* store__seal: to write data as schema version 3 did */

static int put_labelled(struct t_env *e, unsigned account, unsigned n, const char *label)
{
	struct t_res res = {0};
	struct store_device d;
	memset(&d, 0, sizeof d);
	t_id(d.id, 'D', n);
	t_id(d.account_id, 'A', account);
	memset(d.identity_key, (int)n, sizeof d.identity_key);
	d.created_ms = 2000 + n;
	d.label_len = (uint8_t)strlen(label);
	memcpy(d.label, label, d.label_len);
	struct store_req *req = store_req_new(e->s, t_cb, &res);
	int op = store_req_put_device(req, &d);
	if (op < 0) {
		store_req_free(req);
		return op;
	}
	return t_run(e, req, &res);
}

static int get_label(struct t_env *e, unsigned n, char out[STORE_DEVICE_LABEL_MAX + 1])
{
	struct store_device d;
	uint8_t id[STORE_ID_BYTES];
	t_id(id, 'D', n);
	int rc = store_get_device(e->s, id, &d);
	if (rc == 0) {
		if (strlen(d.label) != d.label_len)
			return -1;
		memcpy(out, d.label, (size_t)d.label_len + 1);
	}
	return rc;
}

static void test_label_is_stored_and_replaced(void)
{
	struct t_env e;
	char label[STORE_DEVICE_LABEL_MAX + 1];
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN));
	REQUIRE_OK(put_labelled(&e, 1, 1, "Firefox p\xc3\xa5 Windows"));
	REQUIRE_OK(put_labelled(&e, 1, 2, ""));
	CHECK_EQ_INT(get_label(&e, 1, label), 0);
	CHECK(strcmp(label, "Firefox p\xc3\xa5 Windows") == 0);
	CHECK_EQ_INT(get_label(&e, 2, label), 0);
	CHECK(strcmp(label, "") == 0);

	/* the account's list carries the labels too */
	struct store_device list[4];
	size_t n = 0;
	uint8_t acc[STORE_ID_BYTES];
	t_id(acc, 'A', 1);
	CHECK_EQ_INT(store_list_devices(e.s, acc, false, list, 4, &n), 0);
	CHECK_EQ_INT(n, 2);
	CHECK(strcmp(list[0].label, "Firefox p\xc3\xa5 Windows") == 0);

	/* a put (a re-attestation) replaces it, and it survives a reopen */
	REQUIRE_OK(put_labelled(&e, 1, 1, "iPhone"));
	t_close(&e);
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(get_label(&e, 1, label), 0);
	CHECK(strcmp(label, "iPhone") == 0);

	/* 64 bytes is the bound; 65, or bytes that are not UTF-8, are refused */
	char max[STORE_DEVICE_LABEL_MAX + 2];
	memset(max, 'x', sizeof max - 1);
	max[STORE_DEVICE_LABEL_MAX] = '\0';
	CHECK_EQ_INT(put_labelled(&e, 1, 3, max), 0);
	max[STORE_DEVICE_LABEL_MAX] = 'x';
	max[STORE_DEVICE_LABEL_MAX + 1] = '\0';
	CHECK_EQ_INT(put_labelled(&e, 1, 4, max), STORE_EINVAL);
	CHECK_EQ_INT(put_labelled(&e, 1, 4, "caf\xe9"), STORE_EINVAL);
	CHECK_EQ_INT(put_labelled(&e, 1, 4, "\xed\xa0\x80"), STORE_EINVAL); /* a surrogate */
	CHECK_EQ_INT(get_label(&e, 4, label), STORE_ENOTFOUND);
	t_close(&e);
	t_teardown(&e);
}

/* Rewrites the environment as schema version 3 wrote it: every device record in the layout
 * without a label (record version 1, 92 bytes), sealed, and version 3 in meta. The record of
 * device `damaged` keeps a wrong checksum: bit rot from before the migration. */
static int as_schema_3(const char *path, unsigned damaged)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta, devices;
	MDB_cursor *cur;
	int rc = mdb_env_create(&env);
	if (rc)
		return rc;
	mdb_env_set_maxdbs(env, 32);
	if ((rc = mdb_env_open(env, path, 0, 0600)) != 0 || (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
		mdb_env_close(env);
		return rc;
	}
	if ((rc = mdb_dbi_open(txn, "devices", 0, &devices)) == 0 &&
	    (rc = mdb_cursor_open(txn, devices, &cur)) == 0) {
		MDB_val k, v;
		int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		while (mrc == 0) {
			uint8_t key[STORE_ID_BYTES], buf[92 + STORE__CHECK_LEN];
			if (k.mv_size != sizeof key || v.mv_size < 93 + STORE__CHECK_LEN) {
				mrc = -1;
				break;
			}
			memcpy(key, k.mv_data, sizeof key);
			memcpy(buf, v.mv_data, 92);
			buf[0] = 1;
			store__seal(key, sizeof key, buf, 92);
			if (key[15] == damaged)
				buf[92] ^= 0x01;
			MDB_val nk = {.mv_size = sizeof key, .mv_data = key};
			MDB_val nv = {.mv_size = sizeof buf, .mv_data = buf};
			mrc = mdb_cursor_put(cur, &nk, &nv, MDB_CURRENT);
			if (mrc == 0)
				mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
		}
		mdb_cursor_close(cur);
		rc = mrc == MDB_NOTFOUND ? 0 : -1;
	}
	uint8_t three[4 + STORE__CHECK_LEN];
	wakks_store_be32(three, 3);
	store__seal("schema_version", 14, three, 4);
	MDB_val k = {.mv_size = 14, .mv_data = "schema_version"};
	MDB_val v = {.mv_size = sizeof three, .mv_data = three};
	if (rc == 0 && (rc = mdb_dbi_open(txn, "meta", 0, &meta)) == 0)
		rc = mdb_put(txn, meta, &k, &v, 0);
	rc = rc ? (mdb_txn_abort(txn), rc) : mdb_txn_commit(txn);
	mdb_env_close(env);
	return rc;
}

/* The stored device value's size and record version byte (checksum included in the size). */
static int raw_device(const char *path, unsigned n, size_t *size, uint8_t *version)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi devices;
	uint8_t id[STORE_ID_BYTES];
	t_id(id, 'D', n);
	int rc = mdb_env_create(&env);
	if (rc)
		return rc;
	mdb_env_set_maxdbs(env, 32);
	if ((rc = mdb_env_open(env, path, MDB_RDONLY, 0600)) == 0 &&
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) == 0) {
		MDB_val k = {.mv_size = sizeof id, .mv_data = id}, v;
		if ((rc = mdb_dbi_open(txn, "devices", 0, &devices)) == 0 &&
		    (rc = mdb_get(txn, devices, &k, &v)) == 0) {
			*size = v.mv_size;
			*version = ((const uint8_t *)v.mv_data)[0];
		}
		mdb_txn_abort(txn);
	}
	mdb_env_close(env);
	return rc;
}

struct found {
	int n;
	char db[32];
};

static void found_cb(const char *db, const void *key, size_t klen, void *data)
{
	struct found *f = data;
	(void)key;
	(void)klen;
	f->n++;
	snprintf(f->db, sizeof f->db, "%s", db);
}

static void test_schema_3_devices_are_migrated(void)
{
	struct t_env e;
	char label[STORE_DEVICE_LABEL_MAX + 1];
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN));
	REQUIRE_OK(t_put_device(&e, 1, 1));
	REQUIRE_OK(t_put_device(&e, 1, 2));
	REQUIRE_OK(t_put_device(&e, 1, 3));
	/* device 2 revoked: its flags and time are part of what the migration carries over */
	struct t_res res = {0};
	uint8_t d2[STORE_ID_BYTES];
	t_id(d2, 'D', 2);
	struct store_req *req = store_req_new(e.s, t_cb, &res);
	CHECK_EQ_INT(store_req_revoke_device(req, d2, 5555), 0);
	REQUIRE_OK(t_run(&e, req, &res));
	t_close(&e);
	REQUIRE_OK(as_schema_3(e.dbpath, 3));
	size_t size = 0;
	uint8_t version = 0;
	REQUIRE_OK(raw_device(e.dbpath, 1, &size, &version));
	CHECK_EQ_INT(size, 92 + STORE__CHECK_LEN);
	CHECK_EQ_INT(version, 1);

	/* opens (the damaged record of device 3 does not stop the migration) */
	REQUIRE_OK(t_open(&e));
	struct store_device d;
	uint8_t id[STORE_ID_BYTES];
	t_id(id, 'D', 1);
	CHECK_EQ_INT(store_get_device(e.s, id, &d), 0);
	CHECK_EQ_INT(d.label_len, 0);
	CHECK_EQ_INT(d.identity_key[0], 1);
	CHECK(d.created_ms == 2001 && d.next_seq == 1 && !d.revoked);
	CHECK_EQ_INT(store_get_device(e.s, d2, &d), 0);
	CHECK(d.revoked && d.revoked_ms == 5555);
	t_id(id, 'D', 3);
	CHECK_EQ_INT(store_get_device(e.s, id, &d), STORE_ECORRUPT);
	struct found f = {0};
	CHECK_EQ_INT(store_check_data(e.s, found_cb, &f, NULL), 1);
	CHECK(strcmp(f.db, "devices") == 0);
	/* a re-attestation after the migration stores a label */
	REQUIRE_OK(put_labelled(&e, 1, 1, "wakks-host"));
	CHECK_EQ_INT(get_label(&e, 1, label), 0);
	CHECK(strcmp(label, "wakks-host") == 0);
	t_close(&e);

	/* the records are in the new layout (record version 2) and the version is the program's */
	REQUIRE_OK(raw_device(e.dbpath, 2, &size, &version));
	CHECK_EQ_INT(size, 93 + STORE__CHECK_LEN);
	CHECK_EQ_INT(version, 2);
	REQUIRE_OK(raw_device(e.dbpath, 1, &size, &version));
	CHECK_EQ_INT(size, 93 + strlen("wakks-host") + STORE__CHECK_LEN);
	t_teardown(&e);
}

int main(void)
{
	RUN(test_label_is_stored_and_replaced);
	RUN_LMDB(test_schema_3_devices_are_migrated);
	return TEST_RESULT();
}
