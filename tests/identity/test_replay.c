/* SPDX-License-Identifier: MPL-2.0 */
/* The replay cache: second use refused, entries forgotten at expiry, bounded, fails closed. */
#include "test.h"
#include "id_test_util.h"

static void key_of(uint8_t k[ID_HASH_BYTES], int i)
{
	memset(k, 0, ID_HASH_BYTES);
	k[0] = (uint8_t)i;
	k[31] = (uint8_t)(i >> 8);
}

static void test_second_use_refused(void)
{
	id_replay *rc = NULL;
	uint8_t a[32], b[32];
	key_of(a, 1);
	key_of(b, 2);
	REQUIRE_OK(id_replay_new(4, &rc));
	CHECK_EQ_INT(id_replay_check(rc, a, 100), 0);
	CHECK_EQ_INT(id_replay_insert(rc, a, 200, 100), 0);
	CHECK_EQ_INT(id_replay_check(rc, a, 150), ID_ERR_REPLAYED);
	CHECK_EQ_INT(id_replay_insert(rc, a, 300, 150), ID_ERR_REPLAYED);
	CHECK_EQ_INT(id_replay_check(rc, b, 150), 0);
	CHECK_EQ_INT(id_replay_insert(rc, b, 200, 150), 0);
	CHECK_EQ_INT(id_replay_count(rc), 2);
	id_replay_free(rc);
}

static void test_forgets_expired(void)
{
	id_replay *rc = NULL;
	uint8_t k[32];
	REQUIRE_OK(id_replay_new(3, &rc));
	for (int i = 0; i < 3; i++) {
		key_of(k, i);
		CHECK_EQ_INT(id_replay_insert(rc, k, 200 + i, 100), 0);
	}
	key_of(k, 9);
	/* Full of unexpired entries: fail closed. */
	CHECK_EQ_INT(id_replay_insert(rc, k, 500, 150), ID_ERR_REPLAY_FULL);
	/* At t=200 entry 0 has expired: it is forgotten, and its slot reused. */
	key_of(k, 0);
	CHECK_EQ_INT(id_replay_check(rc, k, 199), ID_ERR_REPLAYED);
	CHECK_EQ_INT(id_replay_check(rc, k, 200), 0);
	key_of(k, 9);
	CHECK_EQ_INT(id_replay_insert(rc, k, 500, 200), 0);
	CHECK_EQ_INT(id_replay_count(rc), 3);
	key_of(k, 1);
	CHECK_EQ_INT(id_replay_check(rc, k, 200), ID_ERR_REPLAYED);
	/* An entry that has already expired is not stored. */
	key_of(k, 7);
	CHECK_EQ_INT(id_replay_insert(rc, k, 50, 100), 0);
	CHECK_EQ_INT(id_replay_check(rc, k, 40), 0);
	id_replay_free(rc);
}

static void test_bounds(void)
{
	id_replay *rc = NULL;
	CHECK_EQ_INT(id_replay_new(0, &rc), ID_ERR_INVALID_ARG);
	CHECK_EQ_INT(id_replay_new((size_t)1 << 30, &rc), ID_ERR_INVALID_ARG);
	CHECK(rc == NULL);
}

int main(void)
{
	RUN(test_second_use_refused);
	RUN(test_forgets_expired);
	RUN(test_bounds);
	return TEST_RESULT();
}
