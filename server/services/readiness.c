/* SPDX-License-Identifier: MPL-2.0 */
#include "services/readiness.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "relay_state.h"
#include "wakks_storage.h"

static void probed(struct store_req *req, int result, void *data)
{
	(void)req;
	struct relay *r = data;
	r->readiness.inflight = false;
	/* The operator hears when commits stop and when they work again, not only /readyz. */
	bool was_failing = r->readiness.last_result != 0 || r->readiness.stall_logged;
	r->readiness.stall_logged = false;
	if (result == 0) {
		r->readiness.ok_ms = relay_monotonic_ms();
		if (was_failing)
			RLOG_INFO("storage", "commit_probe_recovered", "engine=%s",
				  store_engine(r->store));
	} else if (r->readiness.last_result == 0) {
		RLOG_ERROR("storage", "commit_probe_failed", "error=\"%s\"", store_strerror(result));
	}
	r->readiness.last_result = result;
}

void relay_readiness_probe(struct relay *r)
{
	if (r->readiness.inflight && !r->readiness.stall_logged &&
	    relay_monotonic_ms() - r->readiness.sent_ms > RELAY_READY_COMMIT_MS) {
		/* A writer waiting for a database that went away (a fail-over) completes nothing. */
		r->readiness.stall_logged = true;
		RLOG_WARN("storage", "commit_stalled", "waited_ms=%llu engine=%s",
			  (unsigned long long)(relay_monotonic_ms() - r->readiness.sent_ms),
			  store_engine(r->store));
	}
	if (r->readiness.inflight || !r->store || r->stopping)
		return;
	/* Expiring what expired before the epoch: a write transaction that changes nothing. */
	struct store_req *req = store_req_new(r->store, probed, r);
	if (!req)
		return;
	if (store_req_expire(req, 0, 1) < 0) {
		store_req_free(req);
		return;
	}
	r->readiness.sent_ms = relay_monotonic_ms();
	if (store_submit(req) != 0) /* frees the request */
		return;
	r->readiness.inflight = true;
}

static void add(char *why, size_t len, const char *reason)
{
	size_t n = strnlen(why, len);
	snprintf(why + n, len - n, "%s%s", n ? " " : "", reason);
}

bool relay_readiness_check(struct relay *r, char *why, size_t why_len)
{
	uint64_t now = relay_monotonic_ms();
	const struct relay_readiness *p = &r->readiness;
	why[0] = '\0';
	if (r->stopping)
		add(why, why_len, "stopping");
	if (p->ok_ms == 0 && p->last_result == 0 && now - r->started_ms < RELAY_READY_COMMIT_MS)
		add(why, why_len, "starting");
	else if (p->last_result != 0)
		/* On a shared database a failed probe is nearly always the database being out of
		 * reach (or a standby, during a fail-over): the balancer sends clients elsewhere. */
		add(why, why_len, r->store && store_shared(r->store) && p->last_result == STORE_EIO
					  ? "database_unreachable" : "commit_failed");
	else if ((p->inflight && now - p->sent_ms > RELAY_READY_COMMIT_MS) ||
		 now - p->ok_ms > RELAY_READY_COMMIT_MS + 1500)
		add(why, why_len, "commit_stalled");
	if (r->space.fs_warned)
		add(why, why_len, "disk_nearly_full");
	if (r->space.map_warned)
		add(why, why_len, "map_nearly_full");
	return why[0] == '\0';
}
