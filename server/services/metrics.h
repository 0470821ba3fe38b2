/* SPDX-License-Identifier: MPL-2.0 */
/* The relay's metrics (Prometheus text format 0.0.4), served on the monitoring listener
 * (pipeline/admin_routes.c), and the helpers that record them. Loop thread only. Every metric name
 * is listed in docs/monitoring.md; the dashboard and alert rules there may use only these (test
 * server/monitoring_files). */
#ifndef WAKKS_RELAY_SERVICES_METRICS_H
#define WAKKS_RELAY_SERVICES_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "relay_state.h"

/* Samples the mailbox depth of the connected devices and of all others: one short read per
 * connection, so it runs on a timer rather than on every scrape. */
void relay_metrics_sample_mailboxes(struct relay *r);

/* The offline queue from the count of all stored envelopes (one database statistic): every
 * second, less the connected devices' depth of the last relay_metrics_sample_mailboxes. */
void relay_metrics_sample_total(struct relay *r);

/* Renders every metric into buf; returns the length, or -1 if buf is too small. */
int relay_metrics_render(const struct relay *r, char *buf, size_t len);

/* Records one latency. */
void relay_metrics_observe(struct relay_histogram *h, uint64_t us);

/* The counters of tenant (len bytes, not NUL-terminated; "" for none). A tenant beyond the table
 * counts under "" (the configuration bounds tenants, so only removed-and-added ones can). */
struct relay_tenant_counters *relay_metrics_tenant(struct relay *r, const char *tenant, size_t len);

/* The monotonic clock in microseconds, for latencies. */
uint64_t relay_metrics_now_us(void);

#endif
