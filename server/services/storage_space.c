/* SPDX-License-Identifier: MPL-2.0 */
#include "services/storage_space.h"

#include <errno.h>

#include "core/clock.h"
#include "core/log.h"
#include "relay_state.h"
#include "wakks_storage.h"

/* One line a minute says how many writes were refused since the last one: a full relay refuses
 * every send, and a line per send would bury the log (and fill the disk it reports). */
#define REFUSED_LOG_INTERVAL_MS 60000
/* Below this the file system counts as full: LMDB and blob chunks write in pages and up to
 * 256 KiB at a time, and a file system this close to the end fails them with I/O errors. */
#define DISK_FULL_BYTES ((uint64_t)16 << 20)
/* A warning is re-armed only this many points below the threshold, so a level hovering around
 * it does not log every second. */
#define REARM_POINTS 2

static unsigned percent(uint64_t part, uint64_t whole)
{
	return whole ? (unsigned)(part * 100 / whole) : 0;
}

/* Logs crossing the threshold upwards (warn) and falling back below it (info). */
static void check_level(struct relay *r, bool *warned, const char *what, uint64_t used, uint64_t size)
{
	unsigned p = percent(used, size), limit = r->cfg.storage_warn_percent;
	if (!*warned && p >= limit) {
		*warned = true;
		RLOG_WARN("storage", "nearly_full",
			  "what=%s used_mb=%llu size_mb=%llu percent=%u threshold=%u", what,
			  (unsigned long long)(used >> 20), (unsigned long long)(size >> 20), p, limit);
	} else if (*warned && p + REARM_POINTS < limit) {
		*warned = false;
		RLOG_INFO("storage", "space_recovered", "what=%s percent=%u", what, p);
	}
}

static void statfs_done(uv_fs_t *req)
{
	struct relay *r = req->data;
	struct relay_storage_space *sp = &r->space;
	if (req->result == 0 && req->ptr) {
		const uv_statfs_t *st = req->ptr;
		sp->fs_size = st->f_blocks * st->f_bsize;
		sp->fs_avail = st->f_bavail * st->f_bsize;
		sp->fs_known = true;
		check_level(r, &sp->fs_warned, "disk", sp->fs_size - sp->fs_avail, sp->fs_size);
	}
	uv_fs_req_cleanup(req);
	sp->statfs_inflight = false;
}

static bool disk_nearly_out(const struct relay_storage_space *sp)
{
	return sp->fs_known && sp->fs_avail < DISK_FULL_BYTES;
}

/* disk: the store said some of its refusals were the file system's (store_stats), or a blob file
 * write met a full disk; the sample of the file system may not have seen it yet. */
static void log_refused(struct relay *r, uint64_t refused, bool disk)
{
	struct relay_storage_space *sp = &r->space;
	uint64_t now = relay_monotonic_ms();
	if (refused <= sp->refused_logged ||
	    (sp->refused_log_ms && now - sp->refused_log_ms < REFUSED_LOG_INTERVAL_MS))
		return;
	const char *reason = disk || disk_nearly_out(sp) || sp->disk_refused ? "disk_full" : "map_full";
	if (sp->map_max && percent(sp->map_used, sp->map_max) >= 99)
		reason = "map_full";
	RLOG_ERROR("storage", "writes_refused",
		   "reason=%s refused=%llu map_used_mb=%llu map_max_mb=%llu disk_avail_mb=%llu", reason,
		   (unsigned long long)(refused - sp->refused_logged),
		   (unsigned long long)(sp->map_used >> 20), (unsigned long long)(sp->map_max >> 20),
		   (unsigned long long)(sp->fs_avail >> 20));
	sp->refused_logged = refused;
	sp->refused_log_ms = now;
}

void relay_storage_space_sample(struct relay *r)
{
	struct relay_storage_space *sp = &r->space;
	if (r->store) {
		struct store_stats s;
		store_get_stats(r->store, &s);
		sp->map_used = s.map_used;
		sp->map_max = s.map_size_max;
		check_level(r, &sp->map_warned, "map", sp->map_used, sp->map_max);
		log_refused(r, s.full_errors + sp->disk_refused, s.disk_full_errors > 0);
	}
	/* statfs can block on a network file system: on the threadpool, never two at once. */
	if (!sp->statfs_inflight && !r->stopping) {
		sp->statfs.data = r;
		if (uv_fs_statfs(r->loop, &sp->statfs, r->cfg.data_dir, statfs_done) == 0)
			sp->statfs_inflight = true;
	}
}

bool relay_storage_full(struct relay *r, int store_rc, int disk_errno)
{
	bool disk = disk_errno == UV_ENOSPC || disk_errno == -EDQUOT || disk_errno == UV_EFBIG ||
		    ((store_rc == STORE_EIO || disk_errno == UV_EIO) && disk_nearly_out(&r->space));
	if (disk)
		r->space.disk_refused++;
	return disk || store_rc == STORE_EFULL;
}
