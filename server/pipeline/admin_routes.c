/* SPDX-License-Identifier: MPL-2.0 */
#include "pipeline/admin_routes.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "relay_state.h"
#include "services/metrics.h"
#include "services/readiness.h"
#include "wakks_version.h"

/* Metrics grow with tenants (four labelled rows each): room for the largest configuration. */
#define METRICS_BUF_BYTES (64 * 1024 + RELAY_MAX_TENANTS * 4 * 96)

static int text(struct relay_admin_answer *a, int status, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int text(struct relay_admin_answer *a, int status, const char *type, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&a->body, fmt, ap);
	va_end(ap);
	if (n < 0) {
		a->body = NULL;
		return -1;
	}
	a->status = status;
	a->content_type = type;
	a->len = (size_t)n;
	return 0;
}

static int metrics(struct relay *r, struct relay_admin_answer *a)
{
	a->body = malloc(METRICS_BUF_BYTES);
	if (!a->body)
		return -1;
	int n = relay_metrics_render(r, a->body, METRICS_BUF_BYTES);
	if (n < 0) {
		free(a->body);
		a->body = NULL;
		return text(a, 500, "text/plain", "metrics too large\n");
	}
	a->status = 200;
	a->content_type = "text/plain; version=0.0.4";
	a->len = (size_t)n;
	return 0;
}

static int healthz(struct relay *r, struct relay_admin_answer *a)
{
	uint64_t uptime = (relay_monotonic_ms() - r->started_ms) / 1000;
	return text(a, r->stopping ? 503 : 200, "application/json",
		    "{\"status\":\"%s\",\"version\":\"%s\",\"uptime_seconds\":%llu,\"connections\":%llu}\n",
		    r->stopping ? "stopping" : "ok", WAKKS_BUILD_VERSION, (unsigned long long)uptime,
		    (unsigned long long)r->conn_count);
}

static int readyz(struct relay *r, struct relay_admin_answer *a)
{
	char why[128];
	bool ready = relay_readiness_check(r, why, sizeof why);
	return text(a, ready ? 200 : 503, "application/json",
		    "{\"ready\":%s,\"reasons\":\"%s\"}\n", ready ? "true" : "false", why);
}

int relay_admin_route(struct relay *r, const char *method, const char *path,
		      struct relay_admin_answer *a)
{
	bool known = strcmp(path, "/metrics") == 0 || strcmp(path, "/healthz") == 0 ||
		     strcmp(path, "/readyz") == 0;
	if (!known)
		return text(a, 404, "application/json", "{\"error\":\"not_found\"}\n");
	if (strcmp(method, "GET") != 0)
		return text(a, 405, "application/json", "{\"error\":\"method_not_allowed\"}\n");
	if (strcmp(path, "/metrics") == 0)
		return metrics(r, a);
	if (strcmp(path, "/healthz") == 0)
		return healthz(r, a);
	return readyz(r, a);
}
