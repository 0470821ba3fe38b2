/* SPDX-License-Identifier: MPL-2.0 */
/* Lookup of open connections by connection id and by authenticated device id, and the count of
 * connections per peer address (for the per-address limit). */
#ifndef WAKKS_RELAY_NET_REGISTRY_H
#define WAKKS_RELAY_NET_REGISTRY_H

#include <stdint.h>

struct relay;
struct relay_conn;

int relay_registry_add(struct relay *r, struct relay_conn *c);
void relay_registry_remove(struct relay *r, struct relay_conn *c);
struct relay_conn *relay_registry_conn(struct relay *r, uint64_t id);
struct relay_conn *relay_registry_device(struct relay *r, const uint8_t device_id[16]);
void relay_registry_bind_device(struct relay *r, struct relay_conn *c);
void relay_registry_unbind_device(struct relay *r, struct relay_conn *c);
/* Connections currently open from this peer address. */
uint64_t relay_registry_address_count(struct relay *r, const char *peer);
void relay_registry_free(struct relay *r);

#endif
