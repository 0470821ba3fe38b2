/* SPDX-License-Identifier: MPL-2.0 */
/* Record checksums (spec/storage.md §2.1): bit rot in data.mdb is found on read and by the
 * whole-database check, a damaged envelope is handed out as damaged (never as data) and can still
 * be deleted and expired, a schema version 1 database is migrated to sealed values, and the
 * checksum is the spec's formula for every key and value length. */
#include <fcntl.h>
#include <sys/stat.h>

#include <lmdb.h>
#include <sodium.h>

#include "bitrot.h"
#include "test.h"
#include "storage_test.h"
#include "store_internal.h" /* store__checksum, store__seal, store__check */

static uint64_t fake_now = 10000;
static uint64_t fake_clock(void *data)
{
	(void)data;
	return fake_now;
}

/* Account 1 with device 1 (the recipient), account 2 with device 10 (the sender). */
static int setup_people(struct t_env *e)
{
	if (t_put_account(e, 1, STORE_ACCOUNT_CITIZEN) || t_put_account(e, 2, STORE_ACCOUNT_CASEWORKER))
		return -1;
	if (t_put_device(e, 1, 1))
		return -1;
	return t_put_device(e, 2, 10);
}

/* Message msg from device 10 to device 1; payload "PAYLOAD-<msg>-" and a recognisable tail. */
static int send_one(struct t_env *e, unsigned msg)
{
	struct t_res res = {0};
	struct store_send send;
	struct store_recipient r;
	char payload[64];
	memset(&send, 0, sizeof send);
	memset(&r, 0, sizeof r);
	snprintf(payload, sizeof payload, "PAYLOAD-%u-abcdefghijklmnopqrstuvwxyz", msg);
	t_id(send.sender_account, 'A', 2);
	t_id(send.sender_device, 'D', 10);
	t_id(send.message_id, 'M', msg);
	send.kind = STORE_KIND_ENVELOPE;
	t_id(r.device_id, 'D', 1);
	r.payload = (const uint8_t *)payload;
	r.payload_len = strlen(payload);
	r.expires_at_ms = 50000;
	send.recipients = &r;
	send.n_recipients = 1;
	struct store_req *req = store_req_new(e->s, t_cb, &res);
	if (store_req_store_envelopes(req, &send) != 0) {
		store_req_free(req);
		return -100;
	}
	return t_run(e, req, &res);
}

struct seen {
	size_t n;
	uint64_t seqs[8];
	bool damaged[8];
	char payloads[8][64];
};

static int seen_cb(const struct store_envelope *env, void *data)
{
	struct seen *s = data;
	s->seqs[s->n] = env->ref.seq;
	s->damaged[s->n] = env->damaged;
	if (!env->damaged)
		snprintf(s->payloads[s->n], sizeof s->payloads[s->n], "%.*s", (int)env->payload_len,
			 (const char *)env->payload);
	s->n++;
	return 0;
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

static void test_flipped_bit_is_never_served(void)
{
	struct t_env e;
	char file[700];
	uint8_t dev[STORE_ID_BYTES];
	REQUIRE_OK(t_setup(&e));
	e.cfg.now_ms = fake_clock;
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(setup_people(&e));
	for (unsigned m = 1; m <= 3; m++)
		REQUIRE_OK(send_one(&e, m));
	t_close(&e);
	snprintf(file, sizeof file, "%s/data.mdb", e.dbpath);
	REQUIRE(bitrot_flip(file, "PAYLOAD-2-", 14, 0x10) > 0);

	REQUIRE_OK(t_open(&e));
	struct store_stats st;
	store_get_stats(e.s, &st);
	CHECK_EQ_INT(st.corrupt_reads, 0);

	/* the damaged envelope is handed out as damaged; its neighbours as they were */
	struct seen s = {0};
	t_id(dev, 'D', 1);
	CHECK_EQ_INT(store_mailbox_iter(e.s, dev, 0, 10, seen_cb, &s), 3);
	CHECK_EQ_INT(s.n, 3);
	CHECK(!s.damaged[0] && s.damaged[1] && !s.damaged[2]);
	CHECK_EQ_INT(s.seqs[1], 2);
	CHECK(strcmp(s.payloads[0], "PAYLOAD-1-abcdefghijklmnopqrstuvwxyz") == 0);
	CHECK(strcmp(s.payloads[2], "PAYLOAD-3-abcdefghijklmnopqrstuvwxyz") == 0);
	store_get_stats(e.s, &st);
	CHECK_EQ_INT(st.corrupt_reads, 1);

	/* the whole-database check names it */
	struct found f = {0};
	uint64_t records = 0;
	CHECK_EQ_INT(store_check_data(e.s, found_cb, &f, &records), 1);
	CHECK_EQ_INT(f.n, 1);
	CHECK(strcmp(f.db, "mailboxes") == 0);
	CHECK(records > 10);

	/* it can be deleted (the relay does so after telling the recipient) */
	struct t_res res = {0};
	struct store_req *req = store_req_new(e.s, t_cb, &res);
	CHECK_EQ_INT(store_req_delete_envelope(req, dev, 2), 0);
	CHECK_EQ_INT(t_run(&e, req, &res), 0);
	CHECK(res.op[0].deleted.found && res.op[0].deleted.damaged);
	CHECK_EQ_INT(res.op[0].deleted.ref.seq, 2);
	struct store_device d;
	REQUIRE_OK(store_get_device(e.s, dev, &d));
	CHECK_EQ_INT(d.mailbox_count, 2);
	CHECK_EQ_INT(store_check_data(e.s, found_cb, &f, NULL), 0);

	/* its stale expiry entry does not stop the expiry of the others */
	memset(&res, 0, sizeof res);
	req = store_req_new(e.s, t_cb, &res);
	CHECK_EQ_INT(store_req_expire(req, 60000, 100), 0);
	CHECK_EQ_INT(t_run(&e, req, &res), 0);
	CHECK_EQ_INT(res.op[0].n, 2);
	memset(&s, 0, sizeof s);
	CHECK_EQ_INT(store_mailbox_iter(e.s, dev, 0, 10, seen_cb, &s), 0);
	REQUIRE_OK(store_get_device(e.s, dev, &d));
	CHECK_EQ_INT(d.mailbox_count, 0);
	t_teardown(&e);
}

/* Opens the environment with plain LMDB, as a disk or an old program would see it. */
static int raw_open(const char *path, MDB_env **env, MDB_txn **txn)
{
	if (mdb_env_create(env) != 0)
		return -1;
	mdb_env_set_maxdbs(*env, 32);
	mdb_env_set_mapsize(*env, 256u << 20);
	if (mdb_env_open(*env, path, 0, 0600) != 0 || mdb_txn_begin(*env, NULL, 0, txn) != 0) {
		mdb_env_close(*env);
		return -1;
	}
	return 0;
}

static void test_damaged_device_record_is_an_error(void)
{
	struct t_env e;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t id[STORE_ID_BYTES], copy[256];
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(setup_people(&e));
	t_close(&e);

	t_id(id, 'D', 1);
	REQUIRE_OK(raw_open(e.dbpath, &env, &txn));
	REQUIRE_OK(mdb_dbi_open(txn, "devices", 0, &dbi));
	MDB_val k = {.mv_size = sizeof id, .mv_data = id}, v;
	REQUIRE_OK(mdb_get(txn, dbi, &k, &v));
	CHECK(v.mv_size <= sizeof copy);
	memcpy(copy, v.mv_data, v.mv_size);
	copy[70] ^= 0x01; /* next_seq: a decoder alone could not tell */
	v.mv_data = copy;
	REQUIRE_OK(mdb_put(txn, dbi, &k, &v, 0));
	REQUIRE_OK(mdb_txn_commit(txn));
	mdb_env_close(env);

	REQUIRE_OK(t_open(&e));
	struct store_device d;
	CHECK_EQ_INT(store_get_device(e.s, id, &d), STORE_ECORRUPT);
	/* a send to it fails rather than use a damaged sequence counter */
	CHECK_EQ_INT(send_one(&e, 1), STORE_ECORRUPT);
	struct found f = {0};
	CHECK_EQ_INT(store_check_data(e.s, found_cb, &f, NULL), 1);
	CHECK(strcmp(f.db, "devices") == 0);
	t_teardown(&e);
}

/* Rewrites a sealed environment as schema version 1 wrote it: bare values, a bare u32 version. */
static int unseal_to_v1(const char *path)
{
	static const char *const dbs[] = {"meta", "accounts", "unit_accounts", "tenant_accounts",
					  "devices", "account_devices", "mailboxes", "mailbox_expiry",
					  "idempotency", "idempotency_expiry"};
	MDB_env *env;
	MDB_txn *txn;
	uint8_t buf[512];
	if (raw_open(path, &env, &txn))
		return -1;
	int rc = 0;
	for (size_t i = 0; i < sizeof dbs / sizeof dbs[0] && rc == 0; i++) {
		MDB_dbi dbi;
		MDB_cursor *cur;
		MDB_val k, v;
		if ((rc = mdb_dbi_open(txn, dbs[i], 0, &dbi)) != 0 ||
		    (rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
			break;
		int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		while (mrc == 0) {
			if (v.mv_size < 8 || v.mv_size - 8 > sizeof buf) {
				mrc = -1;
				break;
			}
			memcpy(buf, v.mv_data, v.mv_size - 8);
			MDB_val nv = {.mv_size = v.mv_size - 8, .mv_data = buf};
			/* version 1 wrote device records without a label (record version 1,
			 * 92 bytes; schema 4 adds the label) */
			if (strcmp(dbs[i], "devices") == 0 && nv.mv_size > 92) {
				buf[0] = 1;
				nv.mv_size = 92;
			}
			mrc = mdb_cursor_put(cur, &k, &nv, MDB_CURRENT);
			if (mrc == 0)
				mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
		}
		mdb_cursor_close(cur);
		if (mrc != MDB_NOTFOUND)
			rc = -1;
	}
	if (rc == 0) {
		/* version 1 had no mailbox_senders database (schema 3 adds it) */
		MDB_dbi senders;
		if (mdb_dbi_open(txn, "mailbox_senders", 0, &senders) == 0)
			rc = mdb_drop(txn, senders, 1);
	}
	if (rc == 0) {
		MDB_dbi meta;
		uint8_t one[4] = {0, 0, 0, 1};
		MDB_val k = {.mv_size = 14, .mv_data = "schema_version"};
		MDB_val v = {.mv_size = 4, .mv_data = one};
		rc = mdb_dbi_open(txn, "meta", 0, &meta);
		if (rc == 0)
			rc = mdb_put(txn, meta, &k, &v, 0);
	}
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	mdb_env_close(env);
	return rc;
}

static void test_version_1_database_is_migrated(void)
{
	struct t_env e;
	uint8_t dev[STORE_ID_BYTES];
	REQUIRE_OK(t_setup(&e));
	e.cfg.now_ms = fake_clock;
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(setup_people(&e));
	REQUIRE_OK(send_one(&e, 7));
	t_close(&e);
	REQUIRE_OK(unseal_to_v1(e.dbpath));

	REQUIRE_OK(t_open(&e));
	struct found f = {0};
	CHECK_EQ_INT(store_check_data(e.s, found_cb, &f, NULL), 0);
	struct seen s = {0};
	t_id(dev, 'D', 1);
	CHECK_EQ_INT(store_mailbox_iter(e.s, dev, 0, 10, seen_cb, &s), 1);
	CHECK(!s.damaged[0]);
	CHECK(strcmp(s.payloads[0], "PAYLOAD-7-abcdefghijklmnopqrstuvwxyz") == 0);
	/* new writes work on the migrated data: the next seq follows on */
	REQUIRE_OK(send_one(&e, 8));
	memset(&s, 0, sizeof s);
	CHECK_EQ_INT(store_mailbox_iter(e.s, dev, 0, 10, seen_cb, &s), 2);
	CHECK_EQ_INT(s.seqs[1], 2);
	t_close(&e);

	/* the stored version is the program's, sealed */
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	REQUIRE_OK(raw_open(e.dbpath, &env, &txn));
	REQUIRE_OK(mdb_dbi_open(txn, "meta", 0, &meta));
	MDB_val k = {.mv_size = 14, .mv_data = "schema_version"}, v;
	REQUIRE_OK(mdb_get(txn, meta, &k, &v));
	CHECK_EQ_INT(v.mv_size, 12);
	CHECK_EQ_INT(wakks_load_be32(v.mv_data), STORE_SCHEMA_VERSION);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	t_teardown(&e);
}

/* The checksum as spec/storage.md §2.1 writes it, in one call over the concatenation. */
static void spec_checksum(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
			  uint8_t out[8])
{
	static uint8_t msg[2 + 600 + 5000];
	uint8_t full[16];
	msg[0] = (uint8_t)(klen >> 8);
	msg[1] = (uint8_t)klen;
	memcpy(msg + 2, key, klen);
	memcpy(msg + 2 + klen, val, vlen);
	crypto_generichash_blake2b(full, sizeof full, msg, 2 + klen + vlen,
				   (const uint8_t *)"wakks-storage-v2", 16);
	memcpy(out, full, 8);
}

/* store__checksum starts from a hash state precomputed per key length (below a bound) instead of
 * hashing the key block each time: the result must be the spec's for every key length on both
 * sides of the bound and every value length around the hash's 128-byte blocks, so that records
 * written before verify and records written now verify with any earlier reader. */
static void test_checksum_is_the_spec_formula(void)
{
	static const size_t vlens[] = {0, 1, 2, 7, 8, 9, 60, 61, 62, 63, 64, 65, 86, 87, 88, 94, 95,
				       96, 110, 111, 112, 125, 126, 127, 128, 129, 130, 200, 254, 255,
				       256, 257, 383, 384, 385, 1032, 4096, 5000};
	static uint8_t key[600], val[5000];
	REQUIRE(sodium_init() >= 0);
	randombytes_buf(key, sizeof key);
	randombytes_buf(val, sizeof val);
	unsigned mismatches = 0, cases = 0;
	for (size_t klen = 0; klen <= 520; klen += klen < 140 ? 1 : 19) {
		for (size_t j = 0; j < sizeof vlens / sizeof vlens[0]; j++) {
			uint8_t got[8], want[8];
			/* a different slice of the random bytes for each case */
			const uint8_t *k = key + (klen * 7 + j) % (sizeof key - klen + 1);
			const uint8_t *v = val + (j * 13 + klen) % (sizeof val - vlens[j] + 1);
			store__checksum(k, klen, v, vlens[j], got);
			spec_checksum(k, klen, v, vlens[j], want);
			cases++;
			if (memcmp(got, want, sizeof got) != 0) {
				if (mismatches++ < 5)
					fprintf(stderr, "checksum differs: key %zu bytes, value %zu bytes\n",
						klen, vlens[j]);
			}
		}
	}
	CHECK_EQ_INT(mismatches, 0);
	CHECK(cases > 5000);
	/* and a value sealed here verifies, while one with a flipped bit or sealed under another
	 * key length does not */
	uint8_t rec[40 + 8], k2[32];
	memcpy(rec, val, 40);
	memcpy(k2, key, sizeof k2);
	store__seal(k2, sizeof k2, rec, 40);
	MDB_val mk = {.mv_size = sizeof k2, .mv_data = k2}, mv = {.mv_size = sizeof rec, .mv_data = rec};
	CHECK_EQ_INT(store__check(NULL, &mk, &mv), 0);
	CHECK_EQ_INT(mv.mv_size, 40);
	mv.mv_size = sizeof rec;
	mk.mv_size = 31;
	CHECK_EQ_INT(store__check(NULL, &mk, &mv), STORE_ECORRUPT);
	mk.mv_size = sizeof k2;
	rec[5] ^= 0x10;
	CHECK_EQ_INT(store__check(NULL, &mk, &mv), STORE_ECORRUPT);
}

int main(void)
{
	RUN(test_checksum_is_the_spec_formula);
	RUN(test_flipped_bit_is_never_served);
	RUN(test_damaged_device_record_is_an_error);
	RUN(test_version_1_database_is_migrated);
	return TEST_RESULT();
}
