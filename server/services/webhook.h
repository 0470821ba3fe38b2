/* SPDX-License-Identifier: MPL-2.0 */
/* The fallback webhook (spec/push.md §7): when a unit's message to a citizen stays unread on all
 * the citizen's devices for the tenant's webhook_after_seconds, the relay calls the tenant's
 * webhook once, content-free (tenant, an opaque reference, since when), HMAC-signed, so the
 * municipality's SMS or e-mail gateway can tell the citizen. Loop thread only. */
#ifndef WAKKS_RELAY_SERVICES_WEBHOOK_H
#define WAKKS_RELAY_SERVICES_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

struct relay;

/* Reads the secrets of the tenants that have a webhook. 0, or -1 after logging what is wrong. */
int relay_webhook_start(struct relay *r);
void relay_webhook_stop(struct relay *r);

/* A send from a unit member to citizen `citizen` of `tenant` was stored: envelope seqs[i] in the
 * mailbox of devices[i], the citizen's devices. Starts the clock unless one already runs for that
 * citizen. */
void relay_webhook_note(struct relay *r, const char *tenant, const uint8_t citizen[16],
			const uint8_t (*devices)[16], const uint64_t *seqs, size_t n);

/* True when the tenant has a webhook (so the send handler collects what note needs). */
int relay_webhook_enabled(const struct relay *r, const char *tenant, size_t len);

#endif
