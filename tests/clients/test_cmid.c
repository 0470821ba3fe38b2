/* SPDX-License-Identifier: MPL-2.0 */
/* Client message ids (spec/protocol.md §8.1): one generator's ids increase whatever its clock
 * does (repeats, steps back, jumps on), carry the clock's millisecond when it moved on, and keep
 * 80 fresh random bits; libwakks draws every send's id from its client's generator. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "test.h"
#include "wakks_cmid.h"
#include "wakks_internal.h"

static uint64_t time_of(const uint8_t id[16])
{
	return wakks_cmid_time(id);
}

static void ids_increase_under_a_repeating_and_backward_clock(void)
{
	/* A burst in one millisecond, the clock stepped back a second (an NTP correction), then
	 * forward again: every id is greater than the one before. */
	static const uint64_t clock[] = { 1767225600123u, 1767225600123u, 1767225600123u,
					  1767225600124u, 1767225599124u, 1767225599124u,
					  1767225600124u, 1767225600125u, 1767225700000u };
	struct wakks_cmid_gen g = { 0 };
	uint8_t prev[16] = { 0 }, id[16], rnd[WAKKS_CMID_RANDOM_BYTES];
	uint64_t high = 0;
	for (size_t i = 0; i < sizeof clock / sizeof clock[0]; i++) {
		randombytes_buf(rnd, sizeof rnd);
		wakks_cmid_draw(&g, clock[i], rnd, id);
		CHECK(memcmp(prev, id, 16) < 0);
		if (clock[i] > high) {
			/* the clock moved on: its millisecond and the random bytes as drawn */
			CHECK(time_of(id) == clock[i]);
			CHECK_MEM(id + 6, rnd, WAKKS_CMID_RANDOM_BYTES);
			high = clock[i];
		} else {
			/* not on: the millisecond of the id before (no carry here), a new random part */
			CHECK(time_of(id) == time_of(prev));
			CHECK(memcmp(id + 6, prev + 6, 10) != 0);
		}
		memcpy(prev, id, 16);
	}
}

static void many_ids_in_one_millisecond_stay_ordered_and_distinct(void)
{
	struct wakks_cmid_gen g = { 0 };
	uint8_t prev[16], id[16], rnd[WAKKS_CMID_RANDOM_BYTES];
	randombytes_buf(rnd, sizeof rnd);
	wakks_cmid_draw(&g, 1767225600123u, rnd, prev);
	int ordered = 0;
	for (int i = 0; i < 100000; i++) {
		randombytes_buf(rnd, sizeof rnd);
		wakks_cmid_draw(&g, 1767225600123u, rnd, id);
		ordered += memcmp(prev, id, 16) < 0;
		memcpy(prev, id, 16);
	}
	CHECK_EQ_INT(ordered, 100000);
	/* Steps of at most 2^32 leave the millisecond alone unless the random part was nearly full. */
	CHECK(time_of(id) - 1767225600123u <= 1);
}

static void a_full_random_part_carries_into_the_time(void)
{
	uint8_t last[16], id[16], rnd[WAKKS_CMID_RANDOM_BYTES] = { 0, 0, 0, 2 };
	wakks_store_be32(last, 0x019b76da);
	wakks_store_be16(last + 4, 0xa87b);
	memset(last + 6, 0xff, 10);
	wakks_cmid_next(last, 1767225600123u, rnd, id);
	CHECK(time_of(id) == 1767225600124u);
	static const uint8_t two[10] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };
	CHECK_MEM(id + 6, two, 10); /* 0xff..ff + 1 + 2 */
}

static void the_client_draws_its_sends_ids_from_its_clock(void)
{
	/* wakks__cmid_new is what every send of libwakks calls (send.c, threads.c). */
	wakks_client *c = calloc(1, sizeof *c);
	REQUIRE(c);
	uint8_t a[16], b[16];
	uint64_t before = wakks__now_ms();
	wakks__cmid_new(c, a);
	wakks__cmid_new(c, b);
	uint64_t after = wakks__now_ms();
	CHECK(time_of(a) >= before && time_of(a) <= after);
	CHECK(time_of(b) >= time_of(a) && time_of(b) <= after + 1);
	CHECK(memcmp(a, b, 16) < 0);
	CHECK(memcmp(a + 6, b + 6, 10) != 0);
	/* A second client (another device in this process) has its own sequence. */
	wakks_client *d = calloc(1, sizeof *d);
	REQUIRE(d);
	uint8_t x[16];
	wakks__cmid_new(d, x);
	CHECK(memcmp(x, a, 16) != 0 && memcmp(x, b, 16) != 0);
	free(c);
	free(d);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(ids_increase_under_a_repeating_and_backward_clock);
	RUN(many_ids_in_one_millisecond_stay_ordered_and_distinct);
	RUN(a_full_random_part_carries_into_the_time);
	RUN(the_client_draws_its_sends_ids_from_its_clock);
	return TEST_RESULT();
}
