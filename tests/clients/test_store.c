/* SPDX-License-Identifier: MPL-2.0 */
/* The device store: sealed records (round trip, wrong key, tampering, records moved between
 * keys), exclusive ownership, no plaintext in the files, and crash safety: a writer child killed
 * at random moments never loses a committed transaction or leaves half of one. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lmdb.h>
#include <sodium.h>

#include "test.h"
#include "wakks_internal.h"

static char base[256];
static uint8_t key[32], other_key[32];

static void dir_for(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", base, name);
}

static void sealed_records_round_trip(void)
{
	char dir[400];
	dir_for(dir, sizeof dir, "roundtrip");
	wakks__store *s;
	REQUIRE(wakks__store_open(dir, key, &s) == 0);
	wakks__txn *t;
	REQUIRE(wakks__txn_begin(s, true, &t) == 0);
	CHECK_EQ_INT(wakks__store_put(t, WT_META, "a", 1, "alpha", 5), 0);
	uint8_t k8[8];
	for (uint64_t i = 1; i <= 3; i++) {
		wakks_store_be64(k8, i);
		CHECK_EQ_INT(wakks__store_put(t, WT_MSG, k8, 8, "m", 1), 0);
	}
	CHECK_EQ_INT(wakks__txn_commit(t), 0);
	REQUIRE(wakks__txn_begin(s, false, &t) == 0);
	uint8_t *v;
	size_t vl;
	CHECK_EQ_INT(wakks__store_get(t, WT_META, "a", 1, &v, &vl), 0);
	CHECK(vl == 5 && memcmp(v, "alpha", 5) == 0);
	wakks__store_free(v, vl);
	CHECK_EQ_INT(wakks__store_get(t, WT_META, "b", 1, &v, &vl), WAKKS_E_NOT_FOUND);
	uint64_t last = 0;
	CHECK_EQ_INT(wakks__store_last_u64(t, WT_MSG, &last), 0);
	CHECK_EQ_INT(last, 3);
	wakks__txn_abort(t);
	/* An aborted write leaves nothing behind. */
	REQUIRE(wakks__txn_begin(s, true, &t) == 0);
	CHECK_EQ_INT(wakks__store_put(t, WT_META, "c", 1, "gamma", 5), 0);
	wakks__txn_abort(t);
	REQUIRE(wakks__txn_begin(s, false, &t) == 0);
	CHECK_EQ_INT(wakks__store_get(t, WT_META, "c", 1, &v, &vl), WAKKS_E_NOT_FOUND);
	wakks__txn_abort(t);
	/* One handle per process (other processes may open it: wakks_extension_fetch). */
	wakks__store *s2;
	CHECK_EQ_INT(wakks__store_open(dir, key, &s2), WAKKS_E_STORE);
	wakks__store_close(s);
	/* Another key does not open it. */
	CHECK_EQ_INT(wakks__store_open(dir, other_key, &s2), WAKKS_E_STORE_KEY);
	REQUIRE(wakks__store_open(dir, key, &s) == 0);
	wakks__store_close(s);
}

/* Raw LMDB access to the store's files, as an attacker with the disk would have. */
static int raw_edit(const char *dir, const char *table, const void *k, size_t kl, const void *k2,
		    size_t k2l, int flip)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc = mdb_env_create(&env);
	mdb_env_set_maxdbs(env, 16);
	mdb_env_set_mapsize(env, 1024ull * 1024 * 1024);
	rc = rc ? rc : mdb_env_open(env, dir, MDB_NOTLS, 0600);
	rc = rc ? rc : mdb_txn_begin(env, NULL, 0, &txn);
	rc = rc ? rc : mdb_dbi_open(txn, table, 0, &dbi);
	if (rc == 0) {
		MDB_val key_v = { kl, (void *)k }, val;
		rc = mdb_get(txn, dbi, &key_v, &val);
		if (rc == 0) {
			uint8_t *copy = malloc(val.mv_size);
			memcpy(copy, val.mv_data, val.mv_size);
			if (flip >= 0)
				copy[(size_t)flip % val.mv_size] ^= 0x01;
			MDB_val dst = { k2 ? k2l : kl, (void *)(k2 ? k2 : k) }, nv = { val.mv_size, copy };
			rc = mdb_put(txn, dbi, &dst, &nv, 0);
			free(copy);
		}
		rc = rc ? (mdb_txn_abort(txn), rc) : mdb_txn_commit(txn);
	}
	mdb_env_close(env);
	return rc;
}

static void tampering_and_moved_records_are_refused(void)
{
	char dir[400];
	dir_for(dir, sizeof dir, "tamper");
	wakks__store *s;
	REQUIRE(wakks__store_open(dir, key, &s) == 0);
	wakks__txn *t;
	REQUIRE(wakks__txn_begin(s, true, &t) == 0);
	CHECK_EQ_INT(wakks__store_put(t, WT_PEER, "peer-one", 8, "key-one", 7), 0);
	CHECK_EQ_INT(wakks__store_put(t, WT_PEER, "peer-two", 8, "key-two", 7), 0);
	CHECK_EQ_INT(wakks__txn_commit(t), 0);
	wakks__store_close(s);
	/* one bit of one record flipped */
	REQUIRE(raw_edit(dir, "peer", "peer-one", 8, NULL, 0, 30) == 0);
	/* a valid record copied under another key: the key is bound into the seal */
	REQUIRE(raw_edit(dir, "peer", "peer-two", 8, "peer-333", 8, -1) == 0);
	REQUIRE(wakks__store_open(dir, key, &s) == 0);
	REQUIRE(wakks__txn_begin(s, false, &t) == 0);
	uint8_t *v;
	size_t vl;
	CHECK_EQ_INT(wakks__store_get(t, WT_PEER, "peer-one", 8, &v, &vl), WAKKS_E_CORRUPT);
	CHECK_EQ_INT(wakks__store_get(t, WT_PEER, "peer-333", 8, &v, &vl), WAKKS_E_CORRUPT);
	CHECK_EQ_INT(wakks__store_get(t, WT_PEER, "peer-two", 8, &v, &vl), 0);
	wakks__store_free(v, vl);
	wakks__txn_abort(t);
	wakks__store_close(s);
}

static bool file_contains(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n);
	bool found = false;
	if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n)
		found = memmem(buf, (size_t)n, needle, strlen(needle)) != NULL;
	free(buf);
	fclose(f);
	return found;
}

static void files_hold_no_plaintext(void)
{
	char dir[400], path[500];
	dir_for(dir, sizeof dir, "plain");
	wakks__store *s;
	REQUIRE(wakks__store_open(dir, key, &s) == 0);
	wakks__txn *t;
	REQUIRE(wakks__txn_begin(s, true, &t) == 0);
	const char *secret = "Mit CPR-nummer er 010203-1234 og min sag handler om ledighed";
	CHECK_EQ_INT(wakks__store_put(t, WT_MSG, "\0\0\0\0\0\0\0\1", 8, secret, strlen(secret)), 0);
	CHECK_EQ_INT(wakks__txn_commit(t), 0);
	wakks__store_close(s);
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	CHECK(!file_contains(path, "010203-1234"));
	CHECK(!file_contains(path, "ledighed"));
}

/* A child commits transactions of two records each (record i and "last" = i) and reports each
 * commit on a pipe; the parent kills it at a random moment and checks the store. */
static void writer_child(const char *dir, int fd)
{
	wakks__store *s;
	if (wakks__store_open(dir, key, &s) != 0)
		_exit(2);
	uint64_t last = 0;
	wakks__txn *t;
	if (wakks__txn_begin(s, false, &t) == 0) {
		wakks__store_last_u64(t, WT_MSG, &last);
		wakks__txn_abort(t);
	}
	uint8_t val[3000];
	for (uint64_t i = last + 1;; i++) {
		uint8_t k8[8];
		wakks_store_be64(k8, i);
		memset(val, (int)(i & 0xff), sizeof val);
		if (wakks__txn_begin(s, true, &t) != 0 ||
		    wakks__store_put(t, WT_MSG, k8, 8, val, sizeof val) != 0 ||
		    wakks__store_put(t, WT_META, "last", 4, k8, 8) != 0 || wakks__txn_commit(t) != 0)
			_exit(3);
		if (write(fd, &i, sizeof i) != sizeof i)
			_exit(4);
	}
}

struct crash_check {
	uint64_t n, bad;
};

static int check_record(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
	struct crash_check *c = arg;
	uint64_t i = 0;
	for (size_t j = 0; j < kl; j++)
		i = (i << 8) | k[j];
	c->n++;
	if (kl != 8 || vl != 3000 || v[0] != (uint8_t)(i & 0xff) || v[vl - 1] != (uint8_t)(i & 0xff))
		c->bad++;
	return 0;
}

static void killed_writer_loses_no_commit(void)
{
	char dir[400];
	dir_for(dir, sizeof dir, "crash");
	uint64_t confirmed = 0;
	for (int round = 0; round < 6; round++) {
		int p[2];
		REQUIRE(pipe(p) == 0);
		pid_t pid = fork();
		REQUIRE(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			writer_child(dir, p[1]);
		}
		close(p[1]);
		/* Let it commit a random number of transactions, then kill it mid-stream. */
		uint32_t want = 20 + randombytes_uniform(200);
		for (uint32_t n = 0; n < want; n++) {
			uint64_t i;
			if (read(p[0], &i, sizeof i) != sizeof i)
				break;
			confirmed = i;
		}
		usleep(randombytes_uniform(3000));
		kill(pid, SIGKILL);
		/* commits reported after we stopped counting are valid too */
		uint64_t i;
		while (read(p[0], &i, sizeof i) == sizeof i)
			confirmed = i;
		close(p[0]);
		waitpid(pid, NULL, 0);

		wakks__store *s;
		REQUIRE(wakks__store_open(dir, key, &s) == 0);
		wakks__txn *t;
		REQUIRE(wakks__txn_begin(s, false, &t) == 0);
		uint8_t *v;
		size_t vl;
		uint64_t last = 0;
		CHECK_EQ_INT(wakks__store_get(t, WT_META, "last", 4, &v, &vl), 0);
		if (v && vl == 8) {
			last = wakks_load_be64(v);
			wakks__store_free(v, vl);
		}
		struct crash_check c = { 0, 0 };
		CHECK_EQ_INT(wakks__store_each(t, WT_MSG, check_record, &c), 0);
		uint64_t max_key = 0;
		CHECK_EQ_INT(wakks__store_last_u64(t, WT_MSG, &max_key), 0);
		wakks__txn_abort(t);
		wakks__store_close(s);
		CHECK(last >= confirmed);      /* nothing committed was lost */
		CHECK_EQ_INT(max_key, last);   /* no half transaction: record and "last" together */
		CHECK_EQ_INT(c.n, last);       /* every record 1..last, each whole */
		CHECK_EQ_INT(c.bad, 0);
	}
	CHECK(confirmed >= 120);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	snprintf(base, sizeof base, "%s/wakks-store-test-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(base))
		return 1;
	randombytes_buf(key, sizeof key);
	randombytes_buf(other_key, sizeof other_key);
	RUN(sealed_records_round_trip);
	RUN(tampering_and_moved_records_are_refused);
	RUN(files_hold_no_plaintext);
	RUN(killed_writer_loses_no_commit);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", base);
	return TEST_RESULT();
}
