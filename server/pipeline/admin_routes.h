/* SPDX-License-Identifier: MPL-2.0 */
/* What the monitoring listener (net/admin_listener.c) answers:
 *   GET /metrics  the Prometheus metrics (services/metrics.c)
 *   GET /healthz  liveness: the process answers; its version, uptime, connections (JSON)
 *   GET /readyz   readiness: 200 when the database commits and storage is not nearly full, else
 *                 503 with the reasons (services/readiness.c)
 * Everything else is 404; a method other than GET 405. */
#ifndef WAKKS_RELAY_PIPELINE_ADMIN_ROUTES_H
#define WAKKS_RELAY_PIPELINE_ADMIN_ROUTES_H

#include "net/admin_listener.h"

int relay_admin_route(struct relay *r, const char *method, const char *path,
		      struct relay_admin_answer *a);

#endif
