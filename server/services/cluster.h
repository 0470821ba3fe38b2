/* SPDX-License-Identifier: MPL-2.0 */
/* Several relays on one shared store (the PostgreSQL engine): what one relay does for the devices
 * connected to it must also happen on the others. After its store commit, a relay sends a small
 * event (the format: spec/storage-postgresql.md, "Relay events") through store_broadcast; every
 * other relay decodes it, checks it, and acts on its own connections. A malformed event is logged
 * and dropped. Envelopes need no event: the store wakes the relays itself (store_set_listeners).
 * With LMDB (one relay) every function here only does the local part. */
#ifndef WAKKS_RELAY_SERVICES_CLUSTER_H
#define WAKKS_RELAY_SERVICES_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct relay;

#define RELAY_EVENT_VERSION 1
/* The largest event: a consent notice with a 64-byte tenant and unit. */
#define RELAY_EVENT_MAX 200

enum relay_event_kind {
	RELAY_EV_DEVICES_CHANGED = 1,      /* relay_notify_devices_changed */
	RELAY_EV_CONSENT_CHANGED = 2,      /* relay_notify_consent_changed */
	RELAY_EV_UNIT_DEVICES_CHANGED = 3, /* relay_notify_unit_devices_changed */
	RELAY_EV_DEVICE_GONE = 4,          /* a device revoked or erased: close its connection */
	RELAY_EV_DEVICE_BOUND = 5,         /* a device authenticated: an older connection closes */
	RELAY_EV_RECEIPT = 6,              /* a receipt or expiry notice for a sending device */
	RELAY_EV_PREKEYS_CHECK = 7,        /* a device's one-time prekeys were taken */
};

/* A decoded event; views into nothing (everything copied). */
struct relay_event {
	uint8_t kind;
	uint8_t id[16];     /* account or device */
	bool has_except;
	uint8_t except[16];
	char tenant[65], unit[65];
	uint32_t type;      /* consent: kind; receipt: PROTO_T_RECEIPT or PROTO_T_EXPIRED */
	uint64_t time_ms;   /* consent, receipt: its time; device bound: when */
	uint8_t cmid[16], account[16], device[16]; /* receipt */
};

/* Encodes ev into buf (RELAY_EVENT_MAX bytes); returns the length or -1 (a field out of range). */
int relay_event_encode(const struct relay_event *ev, uint8_t *buf, size_t cap);
/* Decodes and validates one event: version, kind, exact length, the strings' lengths and bytes.
 * Returns 0 or -1. */
int relay_event_decode(const uint8_t *msg, size_t len, struct relay_event *ev);

/* Registers the store's listeners (a no-op with LMDB): wakes pump this relay's connections, events
 * are applied to them. */
void relay_cluster_start(struct relay *r);

/* Sends ev to the other relays (after the commit it follows); a failure is logged, the other
 * relays then catch up as the liveness check and reconnects allow. */
void relay_cluster_broadcast(struct relay *r, const struct relay_event *ev);

/* A device was revoked or erased: its connection here closes, and on every other relay. */
void relay_cluster_device_gone(struct relay *r, const uint8_t device[16]);

/* A device authenticated on this relay: an older connection of it on another relay closes, as it
 * would here (net/conn.c relay_conn_bind_device). */
void relay_cluster_device_bound(struct relay *r, const uint8_t device[16], uint64_t bound_ms);

#endif
