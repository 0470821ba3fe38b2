/* SPDX-License-Identifier: MPL-2.0 */
/* An open-addressing hash map from 16-byte identifiers (device ids, connection ids) to pointers.
 * Keys are random or sequential, so the first 8 bytes mixed are a good enough hash; the map never
 * holds peer-chosen keys before the peer has authenticated. */
#ifndef WAKKS_RELAY_CORE_IDMAP_H
#define WAKKS_RELAY_CORE_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#define IDMAP_KEY_BYTES 16

struct idmap_slot {
	uint8_t key[IDMAP_KEY_BYTES];
	void *value; /* NULL: empty; &idmap_tombstone: deleted */
};

struct idmap {
	struct idmap_slot *slots;
	size_t cap; /* power of two */
	size_t used; /* live + tombstones */
	size_t live;
};

void idmap_init(struct idmap *m);
void idmap_free(struct idmap *m);
void *idmap_get(const struct idmap *m, const uint8_t key[IDMAP_KEY_BYTES]);
/* Inserts or replaces; returns 0 or -1 when out of memory. */
int idmap_put(struct idmap *m, const uint8_t key[IDMAP_KEY_BYTES], void *value);
void idmap_del(struct idmap *m, const uint8_t key[IDMAP_KEY_BYTES]);

/* Calls fn for every live value (not for deleted slots). fn must not change the map. */
void idmap_foreach(const struct idmap *m, void (*fn)(void *value, void *data), void *data);

/* A connection id as a map key. */
void idmap_key_u64(uint8_t key[IDMAP_KEY_BYTES], uint64_t v);

#endif
