/* SPDX-License-Identifier: MPL-2.0 */
/* Counters the relay exposes at /metrics (Prometheus text format). Loop thread only. */
#ifndef WAKKS_RELAY_SERVICES_METRICS_H
#define WAKKS_RELAY_SERVICES_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct relay;

/* Samples the mailbox depth of the connected devices: one short read per connection, so it runs
 * on a timer rather than on every scrape. */
void relay_metrics_sample_mailboxes(struct relay *r);

/* Renders every metric into buf; returns the length, or -1 if buf is too small. */
int relay_metrics_render(const struct relay *r, char *buf, size_t len);

#endif
