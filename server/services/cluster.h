/* SPDX-License-Identifier: MPL-2.0 */
/* Several relays on one shared store (the PostgreSQL engine): what one relay does for the devices
 * connected to it must also happen on the others. After its store commit, a relay sends a small
 * event (the format: spec/storage-postgresql.md, "Relay events") through store_broadcast; every
 * other relay decodes it, checks it, and acts on its own connections. A malformed event is logged
 * and dropped. Envelopes need no event: the store wakes the relays itself (store_set_listeners).
 * With LMDB (one relay) every function here only does the local part. */
#ifndef WAKKS_RELAY_SERVICES_CLUSTER_H
#define WAKKS_RELAY_SERVICES_CLUSTER_H

#include <stdint.h>

#include "services/cluster_events.h"

struct relay;

/* Registers the store's listeners (a no-op with LMDB): wakes pump this relay's connections, events
 * are applied to them. */
void relay_cluster_start(struct relay *r);

/* A device was revoked or erased: its connection here closes, and on every other relay. */
void relay_cluster_device_gone(struct relay *r, const uint8_t device[16]);

/* A device authenticated on this relay: an older connection of it on another relay closes, as it
 * would here (net/conn.c relay_conn_bind_device). */
void relay_cluster_device_bound(struct relay *r, const uint8_t device[16], uint64_t bound_ms);

#endif
