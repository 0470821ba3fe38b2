/* SPDX-License-Identifier: MPL-2.0 */
#include "services/housekeeping.h"

#include "core/clock.h"
#include "core/log.h"
#include "net/conn.h"
#include "relay_state.h"
#include "services/blob_files.h"
#include "services/expiry.h"
#include "services/liveness.h"
#include "services/metrics.h"
#include "services/readiness.h"
#include "services/storage_space.h"

/* Short enough that an unauthenticated connection never outlives its deadline by much. */
#define HOUSEKEEPING_INTERVAL_MS 250
/* Blob files without a record are rare (a crash, an erasure); looking for them is a directory
 * scan, so once soon after start and then every ten minutes. */
#define BLOB_SWEEP_TICKS (600000 / HOUSEKEEPING_INTERVAL_MS)
#define BLOB_SWEEP_FIRST_TICK 4

static void on_tick(uv_timer_t *t)
{
	struct relay *r = t->data;
	uint64_t now = relay_monotonic_ms();
	for (struct relay_conn *c = r->conns; c; c = c->next) {
		if (c->state == CONN_UNAUTHENTICATED && now - c->opened_ms >= r->cfg.unauth_timeout_ms) {
			RLOG_INFO("conn", "auth_deadline", "conn=%llu peer=%s",
				  (unsigned long long)c->id, c->peer);
			relay_conn_close(c, 4002, "authentication deadline passed");
		}
	}
	/* A revocation or erasure, also by an operator command in another process, closes the
	 * device's connection within a tick. */
	if (!r->stopping)
		relay_liveness_tick(r);
	/* Expiry once a second: envelopes live for days, and a pass is a write transaction. */
	if (!r->stopping && ++r->housekeeping_ticks % (1000 / HOUSEKEEPING_INTERVAL_MS) == 0) {
		relay_expire_tick(r);
		relay_storage_space_sample(r);
		relay_readiness_probe(r);
		relay_metrics_sample_total(r);
	}
	/* The first sample right away, then every 10 s. */
	if (!r->stopping && r->housekeeping_ticks % (10000 / HOUSEKEEPING_INTERVAL_MS) == 1)
		relay_metrics_sample_mailboxes(r);
	if (!r->stopping && r->housekeeping_ticks % BLOB_SWEEP_TICKS == BLOB_SWEEP_FIRST_TICK)
		blob_store_sweep(r);
}

void relay_housekeeping_start(struct relay *r)
{
	uv_timer_init(r->loop, &r->housekeeping);
	r->housekeeping.data = r;
	uv_timer_start(&r->housekeeping, on_tick, HOUSEKEEPING_INTERVAL_MS, HOUSEKEEPING_INTERVAL_MS);
}

void relay_housekeeping_stop(struct relay *r)
{
	uv_timer_stop(&r->housekeeping);
	uv_close((uv_handle_t *)&r->housekeeping, NULL);
}
