/* SPDX-License-Identifier: MPL-2.0 */
/* A bounded set of once-only keys (registration nonces), each kept until its token expires.
 * Open addressing would need tombstones; a flat array scanned linearly is simpler and fast
 * enough at the sizes configured (registrations are rare: thousands per hour at most). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "identity_internal.h"

/* Capacity bound: 1M entries is 40 MiB; more would mean a misconfiguration. */
#define REPLAY_CAPACITY_MAX (1u << 20)

struct id_replay_entry {
	uint8_t key[ID_HASH_BYTES];
	int64_t expires_at;
};

struct id_replay {
	size_t capacity;
	size_t n;
	struct id_replay_entry *e;
};

int id_replay_new(size_t capacity, id_replay **out)
{
	if (!out || capacity == 0 || capacity > REPLAY_CAPACITY_MAX)
		return ID_ERR_INVALID_ARG;
	id_replay *rc = calloc(1, sizeof *rc);
	if (!rc)
		return ID_ERR_NOMEM;
	rc->e = calloc(capacity, sizeof *rc->e);
	if (!rc->e) {
		free(rc);
		return ID_ERR_NOMEM;
	}
	rc->capacity = capacity;
	*out = rc;
	return 0;
}

void id_replay_free(id_replay *rc)
{
	if (!rc)
		return;
	free(rc->e);
	free(rc);
}

/* Drops expired entries (swap with the last). */
static void sweep(id_replay *rc, int64_t now)
{
	for (size_t i = 0; i < rc->n;) {
		if (rc->e[i].expires_at <= now)
			rc->e[i] = rc->e[--rc->n];
		else
			i++;
	}
}

static bool present(const id_replay *rc, const uint8_t key[ID_HASH_BYTES], int64_t now)
{
	for (size_t i = 0; i < rc->n; i++)
		if (rc->e[i].expires_at > now && memcmp(rc->e[i].key, key, ID_HASH_BYTES) == 0)
			return true;
	return false;
}

int id_replay_check(id_replay *rc, const uint8_t key[ID_HASH_BYTES], int64_t now)
{
	if (!rc || !key)
		return ID_ERR_INVALID_ARG;
	return present(rc, key, now) ? ID_ERR_REPLAYED : 0;
}

int id_replay_insert(id_replay *rc, const uint8_t key[ID_HASH_BYTES], int64_t expires_at,
		     int64_t now)
{
	if (!rc || !key)
		return ID_ERR_INVALID_ARG;
	if (present(rc, key, now))
		return ID_ERR_REPLAYED;
	if (expires_at <= now)
		return 0; /* already expired: nothing could replay it into acceptance */
	if (rc->n == rc->capacity)
		sweep(rc, now);
	if (rc->n == rc->capacity)
		return ID_ERR_REPLAY_FULL;
	memcpy(rc->e[rc->n].key, key, ID_HASH_BYTES);
	rc->e[rc->n].expires_at = expires_at;
	rc->n++;
	return 0;
}

size_t id_replay_count(const id_replay *rc)
{
	return rc ? rc->n : 0;
}
