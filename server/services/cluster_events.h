/* SPDX-License-Identifier: MPL-2.0 */
/* The events relays on one shared store send each other (the format: spec/storage-postgresql.md,
 * "Relay events"): what one relay did for devices connected to it that must also happen on the
 * others. This file encodes, decodes and sends them; services/cluster.c applies those received. */
#ifndef WAKKS_RELAY_SERVICES_CLUSTER_EVENTS_H
#define WAKKS_RELAY_SERVICES_CLUSTER_EVENTS_H

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

/* Sends ev to the other relays (after the commit it follows); a failure is logged, the other
 * relays then catch up as the liveness check and reconnects allow. */
void relay_cluster_broadcast(struct relay *r, const struct relay_event *ev);

#endif
