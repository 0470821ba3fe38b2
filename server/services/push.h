/* SPDX-License-Identifier: MPL-2.0 */
/* Waking offline devices (spec/push.md): a device with undelivered envelopes and no open
 * connection gets one content-free push through its subscription's push service (Web Push, APNs
 * or FCM), at most one per device per [push] interval_seconds. Pushes wait in a bounded queue and
 * go out through the service's own outbound HTTPS client (net/http_client.h), so a push service
 * that hangs holds only push slots and never delays delivery. Loop thread only. */
#ifndef WAKKS_RELAY_SERVICES_PUSH_H
#define WAKKS_RELAY_SERVICES_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct relay;
struct relay_push_app_config;

/* Provider index of the metrics (struct relay_metrics push_*[]). */
enum relay_push_provider { RELAY_PUSH_P_WEB = 0, RELAY_PUSH_P_APNS = 1, RELAY_PUSH_P_FCM = 2 };
#define RELAY_PUSH_PROVIDERS 3

/* Loads the VAPID key (creating it in data_dir on first start) and the apps' credentials, and
 * starts the queue. 0, or -1 after logging what is wrong (the relay refuses to start). */
int relay_push_start(struct relay *r);
/* Cancels what is queued or in flight; the loop must run afterwards to close the handles. */
void relay_push_stop(struct relay *r);

/* The device has just been given envelopes and has no open connection: queue a push, unless one
 * was sent within the interval or is already queued (coalesced), or the queue is full (dropped). */
void relay_push_offline(struct relay *r, const uint8_t device[16]);

/* The relay's VAPID public key (uncompressed P-256), or NULL when Web Push is off. */
const uint8_t *relay_push_vapid_public(const struct relay *r);

/* Whether a Web Push endpoint may be registered: an https:// URL with a host name and no user
 * info; unless allow_local, not localhost and not an IP literal (spec/push.md §8). */
bool relay_push_endpoint_ok(const char *url, size_t len, bool allow_local);

/* The configured app a push_register names for that kind (2 APNs, 3 FCM), or NULL. */
const struct relay_push_app_config *relay_push_app(const struct relay *r, uint32_t kind,
						   const char *name, size_t len);

#endif
