/* SPDX-License-Identifier: MPL-2.0 */
/* The PostgreSQL engine's relay-wide tables against a real server (tests/support/pg_server):
 * rate buckets shared by two pools as by two relays, with no more tokens from both than from
 * one even when they race; blob bytes written in chunks, sealed only when complete and right,
 * read back by range, deduplicated by content, replaced after a chunk never recorded, removed and
 * listed for the sweep. */
#include <libpq-fe.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"
#include "storage_test.h"

static struct t_env e;
static struct store_aux *a1, *a2;

static void buckets_are_shared_and_hold_under_races(void)
{
	uint8_t dev[STORE_ID_BYTES];
	t_id(dev, 'D', 1);
	bool taken = false;
	uint64_t retry = 0;
	/* Three a minute: full at first use, then empty whichever pool asks. */
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(store_rate_take(i % 2 ? a2 : a1, dev, 1, 3, &taken, &retry), 0);
		CHECK(taken);
	}
	CHECK_EQ_INT(store_rate_take(a2, dev, 1, 3, &taken, &retry), 0);
	CHECK(!taken);
	CHECK(retry > 15000 && retry <= 20001);
	/* Another kind and another key have buckets of their own. */
	CHECK_EQ_INT(store_rate_take(a1, dev, 0, 3, &taken, &retry), 0);
	CHECK(taken);
	uint8_t other[STORE_ID_BYTES];
	t_id(other, 'D', 2);
	CHECK_EQ_INT(store_rate_take(a1, other, 1, 3, &taken, &retry), 0);
	CHECK(taken);
	CHECK_EQ_INT(store_rate_take(a1, dev, 1, 0, &taken, &retry), STORE_EINVAL);
	/* Nothing idle yet. */
	CHECK_EQ_INT(store_rate_sweep(a1, 3600000), 0);
	CHECK(store_rate_sweep(a1, 0) >= 0);
}

struct racer {
	struct store_aux *aux;
	const uint8_t *key;
	int taken;
};

static void *race(void *p)
{
	struct racer *r = p;
	for (int i = 0; i < 40; i++) {
		bool t = false;
		uint64_t retry;
		if (store_rate_take(r->aux, r->key, 1, 50, &t, &retry) == 0 && t)
			r->taken++;
	}
	return NULL;
}

static void racing_relays_get_no_more_than_one(void)
{
	uint8_t dev[STORE_ID_BYTES];
	t_id(dev, 'R', 1);
	struct racer r1 = { a1, dev, 0 }, r2 = { a2, dev, 0 };
	pthread_t t1, t2;
	REQUIRE(pthread_create(&t1, NULL, race, &r1) == 0);
	REQUIRE(pthread_create(&t2, NULL, race, &r2) == 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	/* 80 attempts against 50 tokens (and at most a token or two refilled meanwhile). */
	CHECK(r1.taken + r2.taken >= 50 && r1.taken + r2.taken <= 52);
}

static void blob_bytes_write_seal_read_remove(void)
{
	size_t len = 3 * 100000 + 123;
	uint8_t *ct = malloc(len), sha[32], id[STORE_ID_BYTES], bad_sha[32];
	REQUIRE(ct != NULL);
	randombytes_buf(ct, len);
	crypto_hash_sha256(sha, ct, len);
	t_id(id, 'B', 1);
	/* A chunk written but never recorded, then the upload resumed with other chunk sizes. */
	CHECK_EQ_INT(store_blob_data_write(a1, id, 0, ct, 100000), 0);
	CHECK_EQ_INT(store_blob_data_write(a1, id, 100000, (const uint8_t *)"stale", 5), 0);
	CHECK_EQ_INT(store_blob_data_write(a2, id, 100000, ct + 100000, 150000), 0);
	/* Not complete yet: the seal refuses and the upload stays. */
	CHECK_EQ_INT(store_blob_data_seal(a1, id, sha, len), STORE_EINVAL);
	CHECK_EQ_INT(store_blob_data_write(a2, id, 250000, ct + 250000, len - 250000), 0);
	/* The wrong digest or size is refused. */
	memcpy(bad_sha, sha, 32);
	bad_sha[0] ^= 1;
	CHECK_EQ_INT(store_blob_data_seal(a1, id, bad_sha, len), STORE_EINVAL);
	CHECK_EQ_INT(store_blob_data_seal(a1, id, sha, len + 1), STORE_EINVAL);
	uint8_t buf[8];
	size_t got = 0;
	CHECK_EQ_INT(store_blob_data_read(a1, sha, 0, buf, sizeof buf, &got), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_blob_data_seal(a2, id, sha, len), 0);
	/* Sealing again (an answer lost to a fail-over) is no error. */
	CHECK_EQ_INT(store_blob_data_seal(a1, id, sha, len), 0);

	/* Read back in ranges that cross the chunks, and past the end. */
	uint8_t *back = malloc(len);
	size_t have = 0;
	while (have < len) {
		size_t want = 70001;
		CHECK_EQ_INT(store_blob_data_read(a2, sha, have, back + have,
						  want < len - have ? want : len - have, &got), 0);
		if (got == 0)
			break;
		have += got;
	}
	CHECK(have == len && memcmp(back, ct, len) == 0);
	CHECK_EQ_INT(store_blob_data_read(a1, sha, len - 3, buf, sizeof buf, &got), 0);
	CHECK(got == 3 && memcmp(buf, ct + len - 3, 3) == 0);
	CHECK_EQ_INT(store_blob_data_read(a1, sha, len, buf, sizeof buf, &got), 0);
	CHECK(got == 0);

	/* A second blob with the same bytes shares the content. */
	uint8_t id2[STORE_ID_BYTES];
	t_id(id2, 'B', 2);
	CHECK_EQ_INT(store_blob_data_write(a1, id2, 0, ct, len > STORE_BLOB_CHUNK_MAX ? 1 : len), 0);
	CHECK_EQ_INT(store_blob_data_seal(a1, id2, sha, len), 0);
	uint8_t keys[4 * STORE_ID_BYTES];
	CHECK_EQ_INT(store_blob_data_list(a1, STORE_ID_BYTES, NULL, 0, keys, 4), 0);
	uint8_t shas[4 * 32];
	CHECK_EQ_INT(store_blob_data_list(a1, 32, NULL, 0, shas, 4), 1);
	CHECK_MEM(shas, sha, 32);
	/* Too young for a sweep's age; then removed. */
	CHECK_EQ_INT(store_blob_data_list(a1, 32, NULL, 3600000, shas, 4), 0);
	CHECK_EQ_INT(store_blob_data_remove(a1, sha, 32, 3600000), 0);
	CHECK_EQ_INT(store_blob_data_read(a1, sha, 0, buf, sizeof buf, &got), 0);
	CHECK_EQ_INT(store_blob_data_remove(a1, sha, 32, 0), 0);
	CHECK_EQ_INT(store_blob_data_read(a1, sha, 0, buf, sizeof buf, &got), STORE_ENOTFOUND);

	/* An upload that nothing sealed is listed for the sweep and removed. */
	uint8_t id3[STORE_ID_BYTES];
	t_id(id3, 'B', 3);
	CHECK_EQ_INT(store_blob_data_write(a1, id3, 0, ct, 10), 0);
	CHECK_EQ_INT(store_blob_data_list(a1, STORE_ID_BYTES, NULL, 0, keys, 4), 1);
	CHECK_MEM(keys, id3, STORE_ID_BYTES);
	CHECK_EQ_INT(store_blob_data_list(a1, STORE_ID_BYTES, id3, 0, keys, 4), 0);
	CHECK_EQ_INT(store_blob_data_remove(a1, id3, STORE_ID_BYTES, 3600000), 0);
	CHECK_EQ_INT(store_blob_data_list(a1, STORE_ID_BYTES, NULL, 0, keys, 4), 1);
	CHECK_EQ_INT(store_blob_data_remove(a1, id3, STORE_ID_BYTES, 0), 0);
	CHECK_EQ_INT(store_blob_data_list(a1, STORE_ID_BYTES, NULL, 0, keys, 4), 0);
	/* Bad arguments. */
	CHECK_EQ_INT(store_blob_data_write(a1, id3, 0, ct, 0), STORE_EINVAL);
	CHECK_EQ_INT(store_blob_data_remove(a1, id3, 5, 0), STORE_EINVAL);
	free(back);
	free(ct);
}

static void login_challenges_are_shared_and_used_once(void)
{
	uint8_t ik[32], ch[32], ch2[32], got[32];
	randombytes_buf(ik, sizeof ik);
	randombytes_buf(ch, sizeof ch);
	randombytes_buf(ch2, sizeof ch2);
	CHECK_EQ_INT(store_challenge_get(a1, ik, got), STORE_ENOTFOUND);
	/* Handed out through one relay, found through the other. */
	CHECK_EQ_INT(store_challenge_put(a1, ik, ch, 600000), 0);
	CHECK_EQ_INT(store_challenge_get(a2, ik, got), 0);
	CHECK_MEM(got, ch, 32);
	/* A newer one replaces it; the old one can no longer be taken. */
	CHECK_EQ_INT(store_challenge_put(a2, ik, ch2, 600000), 0);
	CHECK_EQ_INT(store_challenge_take(a1, ik, ch), STORE_ENOTFOUND);
	/* Used once: the second relay to take it loses. */
	CHECK_EQ_INT(store_challenge_take(a1, ik, ch2), 0);
	CHECK_EQ_INT(store_challenge_take(a2, ik, ch2), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_challenge_get(a2, ik, got), STORE_ENOTFOUND);
	/* Expired ones are not found, and the sweep deletes them. */
	CHECK_EQ_INT(store_challenge_put(a1, ik, ch, 1), 0);
	usleep(20 * 1000);
	CHECK_EQ_INT(store_challenge_get(a1, ik, got), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_challenge_take(a1, ik, ch), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_challenge_sweep(a2), 1);
	CHECK_EQ_INT(store_challenge_put(a1, ik, ch, 0), STORE_EINVAL);
}

/* The server ends the pools' connections (a restart, a fail-over): the next call of each pool
 * finds its connection broken and succeeds on a fresh one. */
static void a_lost_connection_is_replaced(void)
{
	uint8_t dev[STORE_ID_BYTES];
	t_id(dev, 'L', 1);
	bool taken = false;
	uint64_t retry;
	CHECK_EQ_INT(store_rate_take(a1, dev, 1, 5, &taken, &retry), 0);
	PGconn *c = PQconnectdb(e.pg_conninfo);
	REQUIRE(PQstatus(c) == CONNECTION_OK);
	PGresult *r = PQexec(c, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
				" WHERE application_name = 'wakks-aux' AND pid <> pg_backend_pid()");
	CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && atoi(PQgetvalue(r, 0, 0)) >= 1);
	PQclear(r);
	PQfinish(c);
	usleep(100 * 1000);
	CHECK_EQ_INT(store_rate_take(a1, dev, 1, 5, &taken, &retry), 0);
	CHECK(taken);
	uint8_t got[32], ik[32];
	memset(ik, 7, sizeof ik);
	CHECK_EQ_INT(store_challenge_get(a2, ik, got), STORE_ENOTFOUND);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	if (!t_pg())
		setenv("WAKKS_TEST_ENGINE", "postgresql", 1);
	if (t_setup(&e) != 0 || t_open(&e) != 0 || store_aux_open(e.s, 2, &a1) != 0 ||
	    store_aux_open(e.s, 2, &a2) != 0)
		return 1;
	CHECK_EQ_INT(store_aux_open(e.s, 0, &a1), STORE_EINVAL);
	RUN(buckets_are_shared_and_hold_under_races);
	RUN(racing_relays_get_no_more_than_one);
	RUN(blob_bytes_write_seal_read_remove);
	RUN(login_challenges_are_shared_and_used_once);
	RUN(a_lost_connection_is_replaced);
	store_aux_close(a1);
	store_aux_close(a2);
	t_teardown(&e);
	return TEST_RESULT();
}
