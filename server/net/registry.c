/* SPDX-License-Identifier: MPL-2.0 */
#include "net/registry.h"

#include <string.h>

#include <sodium.h>

#include "net/conn.h"
#include "relay_state.h"

static void address_key(uint8_t key[IDMAP_KEY_BYTES], const char *peer)
{
	crypto_generichash(key, IDMAP_KEY_BYTES, (const unsigned char *)peer, strlen(peer), NULL, 0);
}

uint64_t relay_registry_address_count(struct relay *r, const char *peer)
{
	uint8_t key[IDMAP_KEY_BYTES];
	address_key(key, peer);
	return (uint64_t)(uintptr_t)idmap_get(&r->registry.per_address, key);
}

static void address_adjust(struct relay *r, const char *peer, int delta)
{
	uint8_t key[IDMAP_KEY_BYTES];
	address_key(key, peer);
	uint64_t n = (uint64_t)(uintptr_t)idmap_get(&r->registry.per_address, key);
	n = delta > 0 ? n + 1 : (n ? n - 1 : 0);
	if (n)
		idmap_put(&r->registry.per_address, key, (void *)(uintptr_t)n);
	else
		idmap_del(&r->registry.per_address, key);
}

int relay_registry_add(struct relay *r, struct relay_conn *c)
{
	uint8_t key[IDMAP_KEY_BYTES];
	idmap_key_u64(key, c->id);
	if (idmap_put(&r->registry.by_conn, key, c) != 0)
		return -1;
	address_adjust(r, c->peer, +1);
	return 0;
}

void relay_registry_remove(struct relay *r, struct relay_conn *c)
{
	uint8_t key[IDMAP_KEY_BYTES];
	idmap_key_u64(key, c->id);
	idmap_del(&r->registry.by_conn, key);
	address_adjust(r, c->peer, -1);
	relay_registry_unbind_device(r, c);
}

struct relay_conn *relay_registry_conn(struct relay *r, uint64_t id)
{
	uint8_t key[IDMAP_KEY_BYTES];
	idmap_key_u64(key, id);
	return idmap_get(&r->registry.by_conn, key);
}

struct relay_conn *relay_registry_device(struct relay *r, const uint8_t device_id[16])
{
	return idmap_get(&r->registry.by_device, device_id);
}

void relay_registry_bind_device(struct relay *r, struct relay_conn *c)
{
	idmap_put(&r->registry.by_device, c->device_id, c);
}

void relay_registry_unbind_device(struct relay *r, struct relay_conn *c)
{
	if (idmap_get(&r->registry.by_device, c->device_id) == c)
		idmap_del(&r->registry.by_device, c->device_id);
}

void relay_registry_free(struct relay *r)
{
	idmap_free(&r->registry.by_conn);
	idmap_free(&r->registry.by_device);
	idmap_free(&r->registry.per_address);
}
