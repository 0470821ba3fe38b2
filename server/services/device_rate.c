/* SPDX-License-Identifier: MPL-2.0 */
#include "services/device_rate.h"

#include <stdlib.h>

#include "core/clock.h"
#include "core/log.h"
#include "relay_state.h"
#include "wakks_storage.h"

/* How often a relay says that the shared buckets are unreachable and it counts on its own. */
#define FALLBACK_LOG_MS 60000

struct device_buckets {
	double tokens[RELAY_RATE_KINDS];
	uint64_t at_ms[RELAY_RATE_KINDS]; /* monotonic; 0 = never used */
};

static bool take_local(struct relay *r, const uint8_t device[16], enum relay_rate_kind kind,
		       uint32_t per_minute, uint64_t *retry_ms)
{
	uint64_t now = relay_monotonic_ms();
	*retry_ms = per_minute ? 60000u / per_minute + 1 : 60000u;
	struct device_buckets *b = idmap_get(&r->device_rates, device);
	if (!b) {
		b = calloc(1, sizeof *b);
		if (!b || idmap_put(&r->device_rates, device, b) != 0) {
			free(b);
			return false;
		}
	}
	if (b->at_ms[kind] == 0) {
		b->tokens[kind] = per_minute;
	} else {
		b->tokens[kind] += (double)(now - b->at_ms[kind]) * per_minute / 60000.0;
		if (b->tokens[kind] > per_minute)
			b->tokens[kind] = per_minute;
	}
	b->at_ms[kind] = now ? now : 1;
	if (b->tokens[kind] < 1.0) {
		*retry_ms = (uint64_t)((1.0 - b->tokens[kind]) * 60000.0 / per_minute) + 1;
		return false;
	}
	b->tokens[kind] -= 1.0;
	return true;
}

bool relay_device_rate_take(struct relay *r, const uint8_t device[16], enum relay_rate_kind kind,
			    uint32_t per_minute, uint64_t *retry_ms)
{
	if (!r->aux_loop)
		return take_local(r, device, kind, per_minute, retry_ms);
	/* Several relays share the store: the bucket is the database's, so that a device spreading
	 * its requests over the relays gets no more than on one. */
	bool taken = false;
	int rc = store_rate_take(r->aux_loop, device, (uint8_t)kind, per_minute, &taken, retry_ms);
	if (rc == 0)
		return taken;
	/* The database is unreachable: its writes fail anyway, so this relay's own bucket bounds
	 * what the device can do meanwhile rather than refusing everyone. */
	uint64_t now = relay_monotonic_ms();
	if (!r->rate_store_warned_ms || now - r->rate_store_warned_ms >= FALLBACK_LOG_MS) {
		r->rate_store_warned_ms = now;
		RLOG_WARN("rate", "shared_buckets_unavailable",
			  "error=\"%s\" note=\"counting per relay until the database answers\"",
			  store_strerror(rc));
	}
	return take_local(r, device, kind, per_minute, retry_ms);
}

static void free_value(void *value, void *data)
{
	(void)data;
	free(value);
}

void relay_device_rate_free(struct relay *r)
{
	idmap_foreach(&r->device_rates, free_value, NULL);
	idmap_free(&r->device_rates);
}
