/* SPDX-License-Identifier: MPL-2.0 */
#include "core/idmap.h"

#include <stdlib.h>
#include <string.h>

static char idmap_tombstone;

static uint64_t hash_key(const uint8_t *k)
{
	uint64_t a, b;
	memcpy(&a, k, 8);
	memcpy(&b, k + 8, 8);
	uint64_t h = a ^ (b * 0x9E3779B97F4A7C15ull);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

void idmap_init(struct idmap *m)
{
	memset(m, 0, sizeof *m);
}

void idmap_free(struct idmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof *m);
}

void idmap_key_u64(uint8_t key[IDMAP_KEY_BYTES], uint64_t v)
{
	memset(key, 0, IDMAP_KEY_BYTES);
	memcpy(key, &v, sizeof v);
}

static struct idmap_slot *find(const struct idmap *m, const uint8_t *key)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1;
	for (size_t i = hash_key(key) & mask;; i = (i + 1) & mask) {
		struct idmap_slot *s = &m->slots[i];
		if (!s->value)
			return NULL;
		if (s->value != &idmap_tombstone && memcmp(s->key, key, IDMAP_KEY_BYTES) == 0)
			return s;
	}
}

void *idmap_get(const struct idmap *m, const uint8_t key[IDMAP_KEY_BYTES])
{
	struct idmap_slot *s = find(m, key);
	return s ? s->value : NULL;
}

static int grow(struct idmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	if (m->live * 4 < m->cap)
		cap = m->cap; /* mostly tombstones: rehash in place size */
	struct idmap_slot *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return -1;
	struct idmap old = *m;
	m->slots = slots;
	m->cap = cap;
	m->used = m->live = 0;
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].value && old.slots[i].value != &idmap_tombstone)
			idmap_put(m, old.slots[i].key, old.slots[i].value);
	free(old.slots);
	return 0;
}

int idmap_put(struct idmap *m, const uint8_t key[IDMAP_KEY_BYTES], void *value)
{
	struct idmap_slot *s = find(m, key);
	if (s) {
		s->value = value;
		return 0;
	}
	if ((m->used + 1) * 4 >= m->cap * 3 && grow(m) != 0)
		return -1;
	size_t mask = m->cap - 1;
	for (size_t i = hash_key(key) & mask;; i = (i + 1) & mask) {
		s = &m->slots[i];
		if (!s->value || s->value == &idmap_tombstone) {
			if (!s->value)
				m->used++;
			memcpy(s->key, key, IDMAP_KEY_BYTES);
			s->value = value;
			m->live++;
			return 0;
		}
	}
}

void idmap_del(struct idmap *m, const uint8_t key[IDMAP_KEY_BYTES])
{
	struct idmap_slot *s = find(m, key);
	if (s) {
		s->value = &idmap_tombstone;
		m->live--;
	}
}

void idmap_foreach(const struct idmap *m, void (*fn)(void *value, void *data), void *data)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].value && m->slots[i].value != &idmap_tombstone)
			fn(m->slots[i].value, data);
}
