/* SPDX-License-Identifier: MPL-2.0 */
#include "services/device_rate.h"

#include <stdlib.h>

#include "core/clock.h"
#include "relay_state.h"

struct device_buckets {
	double tokens[RELAY_RATE_KINDS];
	uint64_t at_ms[RELAY_RATE_KINDS]; /* monotonic; 0 = never used */
};

bool relay_device_rate_take(struct relay *r, const uint8_t device[16], enum relay_rate_kind kind,
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
