/* SPDX-License-Identifier: MPL-2.0 */
/* Time-ordered client message ids (spec/protocol.md §8.1, "Client message ids"): a 48-bit
 * big-endian Unix millisecond time, then 80 random bits. The relay's idempotency index is keyed sending device || cmid
 * (spec/storage.md), so ids that increase put a device's new entries at the end of its range,
 * on the page written last, instead of on a random page of it.
 *
 * Header-only and without randomness of its own (the caller passes the random bytes), so the
 * client library, the load generator and the tests share one definition and the vectors in
 * spec/vectors/client.json can be replayed exactly. */
#ifndef WAKKS_CMID_H
#define WAKKS_CMID_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define WAKKS_CMID_BYTES 16
#define WAKKS_CMID_TIME_BYTES 6
#define WAKKS_CMID_RANDOM_BYTES 10 /* drawn for every id, fresh or stepped */
#define WAKKS_CMID_TIME_MAX 0xffffffffffffull

/* One device's generator: the last id it made. Zero-initialised = none yet. */
struct wakks_cmid_gen {
	uint8_t last[WAKKS_CMID_BYTES];
	bool have_last;
};

static inline uint64_t wakks_cmid_time(const uint8_t id[WAKKS_CMID_BYTES])
{
	uint64_t t = 0;
	for (int i = 0; i < WAKKS_CMID_TIME_BYTES; i++)
		t = t << 8 | id[i];
	return t;
}

/* The id after `last` (NULL: none) at `now_ms`, from 10 random bytes `rnd`:
 * - a later millisecond than last's: now_ms || rnd;
 * - the same or an earlier one (a burst, or the clock stepped back): last + 1 + be32(rnd[0..4]),
 *   the 16 bytes read as one big-endian number, so the id still increases and the step keeps
 *   the next id unguessable; a carry moves the time field on by one millisecond.
 * Only a last id at the end of the 48-bit time range (the year 10889) cannot grow: the id is then
 * fresh, unique by its random part but not ordered. */
static inline void wakks_cmid_next(const uint8_t *last, uint64_t now_ms,
				   const uint8_t rnd[WAKKS_CMID_RANDOM_BYTES],
				   uint8_t out[WAKKS_CMID_BYTES])
{
	if (now_ms > WAKKS_CMID_TIME_MAX)
		now_ms = WAKKS_CMID_TIME_MAX;
	if (last && now_ms <= wakks_cmid_time(last)) {
		uint64_t carry = 1u + ((uint64_t)rnd[0] << 24 | (uint64_t)rnd[1] << 16 |
				       (uint64_t)rnd[2] << 8 | rnd[3]);
		uint8_t next[WAKKS_CMID_BYTES];
		for (int i = WAKKS_CMID_BYTES - 1; i >= 0; i--) {
			uint64_t sum = last[i] + (carry & 0xff);
			next[i] = (uint8_t)sum;
			carry = (carry >> 8) + (sum >> 8);
		}
		if (carry == 0) {
			memcpy(out, next, WAKKS_CMID_BYTES);
			return;
		}
	}
	for (int i = 0; i < WAKKS_CMID_TIME_BYTES; i++)
		out[i] = (uint8_t)(now_ms >> (8 * (WAKKS_CMID_TIME_BYTES - 1 - i)));
	memcpy(out + WAKKS_CMID_TIME_BYTES, rnd, WAKKS_CMID_RANDOM_BYTES);
}

/* Makes g's next id and remembers it. */
static inline void wakks_cmid_draw(struct wakks_cmid_gen *g, uint64_t now_ms,
				   const uint8_t rnd[WAKKS_CMID_RANDOM_BYTES],
				   uint8_t out[WAKKS_CMID_BYTES])
{
	wakks_cmid_next(g->have_last ? g->last : NULL, now_ms, rnd, out);
	memcpy(g->last, out, WAKKS_CMID_BYTES);
	g->have_last = true;
}

#endif
