/* SPDX-License-Identifier: MPL-2.0 */
/* Counters the relay exposes at /metrics (Prometheus text format). Loop thread only. */
#ifndef WAKKS_RELAY_SERVICES_METRICS_H
#define WAKKS_RELAY_SERVICES_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct relay_metrics {
	uint64_t connections_total;
	uint64_t connections_refused;
	uint64_t frames_in;
	uint64_t frames_out;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t errors_sent;
	uint64_t auth_ok;
	uint64_t auth_failed;
	uint64_t envelopes_delivered;
	uint64_t envelopes_acked;
	uint64_t envelopes_expired;
	uint64_t sends_rejected;
	uint64_t rate_limited;
	uint64_t backpressure_pauses;
	uint64_t mailbox_depth_sum; /* of connected devices, sampled by housekeeping */
	uint64_t mailbox_depth_max;
};

struct relay;

/* Samples the mailbox depth of the connected devices: one short read per connection, so it runs
 * on a timer rather than on every scrape. */
void relay_metrics_sample_mailboxes(struct relay *r);

/* Renders every metric into buf; returns the length, or -1 if buf is too small. */
int relay_metrics_render(const struct relay *r, char *buf, size_t len);

#endif
