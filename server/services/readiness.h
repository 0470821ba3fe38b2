/* SPDX-License-Identifier: MPL-2.0 */
/* Readiness (GET /readyz on the monitoring listener): whether this relay should be given traffic.
 * Liveness (/healthz) says the process answers; readiness also says that the database commits and
 * that storage is not nearly full. The commit is proved by a probe: once a second a write with
 * nothing to change goes through the storage writer like every request (its queue, a write
 * transaction, the commit); a writer that is stuck or failing shows as a probe that does not come
 * back or fails. */
#ifndef WAKKS_RELAY_SERVICES_READINESS_H
#define WAKKS_RELAY_SERVICES_READINESS_H

#include <stdbool.h>
#include <stddef.h>

struct relay;

/* A probe whose commit has not come back in this time (or a last success older than it) makes
 * the relay not ready: a healthy writer commits in milliseconds even under load. */
#define RELAY_READY_COMMIT_MS 5000

/* Once a second (housekeeping): submits a probe unless one is in flight. */
void relay_readiness_probe(struct relay *r);

/* True when ready; else false with the reasons ("commit_failed", "commit_stalled",
 * "disk_nearly_full", "map_nearly_full", "stopping", "starting") space-separated in why. */
bool relay_readiness_check(struct relay *r, char *why, size_t why_len);

#endif
