/* SPDX-License-Identifier: MPL-2.0 */
/* An upgrade as an operator does it (docs/operations.md, "Upgrading"): a relay stops on a data
 * directory that an older relay wrote, the new one starts on it. The data directory is written
 * by this relay and then rewritten as the previous storage schema wrote it (schema 3: device
 * records without a label, spec/storage.md §8), because no older binary is at hand; the
 * migration on start must keep every device able to authenticate and every waiting envelope
 * deliverable, and a backup taken afterwards verifies. A database from a newer schema is refused
 * with exit 3 and left byte for byte as it was. */
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay_proc.h"
#include "store_internal.h" /* store__seal: to write data as an older schema did */
#include "tclient.h"
#include "test.h"
#include "wakks_bytes.h"

static struct relay_proc relay;
static struct tdev anna, camilla;

/* Rewrites DIR/db as schema `version` wrote it: with version 3, every device record in the
 * layout without a label (record version 1, 92 bytes); any version is written to meta. */
static int rewrite_schema(const char *data_dir, uint32_t version)
{
	char path[400];
	snprintf(path, sizeof path, "%s/db", data_dir);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta, devices;
	int rc = mdb_env_create(&env);
	if (rc)
		return rc;
	mdb_env_set_maxdbs(env, 32);
	if ((rc = mdb_env_open(env, path, 0, 0600)) != 0 || (rc = mdb_txn_begin(env, NULL, 0, &txn))) {
		mdb_env_close(env);
		return rc;
	}
	if (version == 3 && (rc = mdb_dbi_open(txn, "devices", 0, &devices)) == 0) {
		MDB_cursor *cur;
		MDB_val k, v;
		rc = mdb_cursor_open(txn, devices, &cur);
		int mrc = rc ? rc : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
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
			/* Both from our own memory: k points into the page the put rewrites. */
			MDB_val nk = { .mv_size = sizeof key, .mv_data = key };
			MDB_val nv = { .mv_size = sizeof buf, .mv_data = buf };
			mrc = mdb_cursor_put(cur, &nk, &nv, MDB_CURRENT);
			if (mrc == 0)
				mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
		}
		if (!rc)
			mdb_cursor_close(cur);
		rc = mrc == MDB_NOTFOUND ? 0 : -1;
	}
	uint8_t ver[4 + STORE__CHECK_LEN];
	wakks_store_be32(ver, version);
	store__seal("schema_version", 14, ver, 4);
	MDB_val k = { .mv_size = 14, .mv_data = "schema_version" };
	MDB_val v = { .mv_size = sizeof ver, .mv_data = ver };
	if (rc == 0 && (rc = mdb_dbi_open(txn, "meta", 0, &meta)) == 0)
		rc = mdb_put(txn, meta, &k, &v, 0);
	rc = rc ? (mdb_txn_abort(txn), rc) : mdb_txn_commit(txn);
	mdb_env_close(env);
	return rc;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	*len = buf ? fread(buf, 1, (size_t)n, f) : 0;
	fclose(f);
	return buf;
}

/* Anna registered and wrote to camilla's unit while camilla was offline; then the "old" relay
 * stopped and its data became schema 3. */
static void schema_3_data_opens_and_keeps_devices_and_mail(void)
{
	tdev_init(&anna, relay.port);
	tdev_init(&camilla, relay.port);
	REQUIRE(tdev_register(&anna, "dev-mitid", "anna", 5) == 0);
	REQUIRE(tdev_register(&camilla, "dev-adfs", "camilla", 5) == 0);
	tdev_disconnect(&camilla);
	uint8_t devs[1][16], cmid[16];
	memcpy(devs[0], camilla.device_id, 16);
	randombytes_buf(cmid, sizeof cmid);
	CHECK_EQ_INT(tdev_send(&anna, cmid, NULL, 0, "varde", "jobcenter",
			       (const uint8_t(*)[16])devs, 1, "before the upgrade", 18, false),
		     PROTO_T_STORED);
	tdev_disconnect(&anna);
	REQUIRE(relay_proc_stop(&relay) == 0);
	REQUIRE(rewrite_schema(relay.data_dir, 3) == 0);

	REQUIRE(relay_proc_restart(&relay, true) == 0);
	anna.port = camilla.port = relay.port;
	CHECK_EQ_INT(tdev_login(&anna), 0);
	CHECK_EQ_INT(tdev_login(&camilla), 0);
	CHECK_EQ_INT(tdev_wait(&camilla, PROTO_T_DELIVER, 5000), PROTO_T_DELIVER);
	const proto_deliver *d = &camilla.frame.body.deliver;
	CHECK(d->ciphertext.len == 18 && memcmp(d->ciphertext.ptr, "before the upgrade", 18) == 0);
	CHECK_MEM(d->account, anna.account_id, 16);
	CHECK_EQ_INT(tdev_ack(&camilla, d->seq), PROTO_T_OK);
	tdev_disconnect(&anna);
	tdev_disconnect(&camilla);

	/* The migrated data backs up and verifies like any other. */
	char target[400];
	snprintf(target, sizeof target, "%s/backup-after-upgrade", relay.dir);
	char *err = NULL;
	char *backup[] = { (char *)relay_binary(), "backup", target, "--config", relay.config_path, NULL };
	CHECK_EQ_INT(relay_run_command(backup, &err), 0);
	free(err);
	char *verify[] = { (char *)relay_binary(), "backup", "--verify", target, NULL };
	CHECK_EQ_INT(relay_run_command(verify, &err), 0);
	free(err);
}

/* Going back to an older relay after the migration is refused, and nothing is changed: restore
 * the backup taken before the upgrade instead. Simulated by a schema newer than this relay's. */
static void newer_schema_refused_untouched(void)
{
	REQUIRE(relay_proc_stop(&relay) == 0);
	REQUIRE(rewrite_schema(relay.data_dir, STORE_SCHEMA_VERSION + 1) == 0);
	char mdb[400];
	snprintf(mdb, sizeof mdb, "%s/db/data.mdb", relay.data_dir);
	size_t before_len = 0, after_len = 0;
	char *before = slurp(mdb, &before_len);
	REQUIRE(before != NULL);
	CHECK_EQ_INT(relay_proc_run_to_exit(&relay, true, 10000), 3);
	CHECK(relay_log_contains(&relay, "was written by a newer relay"));
	char *after = slurp(mdb, &after_len);
	CHECK(after && after_len == before_len && memcmp(before, after, before_len) == 0);
	free(before);
	free(after);
}

int main(void)
{
	if (sodium_init() < 0 || relay_proc_start(&relay, NULL, true) != 0)
		return 1;
	RUN(schema_3_data_opens_and_keeps_devices_and_mail);
	RUN(newer_schema_refused_untouched);
	tdev_free(&anna);
	tdev_free(&camilla);
	relay_proc_cleanup(&relay);
	return TEST_RESULT();
}
