/* SPDX-License-Identifier: MPL-2.0 */
#include "services/metrics.h"

#include <stdarg.h>
#include <stdio.h>

#include "net/conn.h"
#include "relay_state.h"
#include "wakks_storage.h"

struct out {
	char *buf;
	size_t len, used;
	int overflow;
};

static void emit(struct out *o, const char *name, const char *type, const char *help,
		 unsigned long long value)
{
	if (o->overflow)
		return;
	int n = snprintf(o->buf + o->used, o->len - o->used,
			 "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name, value);
	if (n < 0 || (size_t)n >= o->len - o->used)
		o->overflow = 1;
	else
		o->used += (size_t)n;
}

/* One counter per push provider: name{provider="web"} etc. */
static void emit_push(struct out *o, const char *name, const char *help, const uint64_t v[3])
{
	static const char *const prov[3] = { "web", "apns", "fcm" };
	if (o->overflow)
		return;
	int n = snprintf(o->buf + o->used, o->len - o->used, "# HELP %s %s\n# TYPE %s counter\n",
			 name, help, name);
	for (int i = 0; i < 3 && n >= 0 && (size_t)n < o->len - o->used; i++) {
		o->used += (size_t)n;
		n = snprintf(o->buf + o->used, o->len - o->used, "%s{provider=\"%s\"} %llu\n", name,
			     prov[i], (unsigned long long)v[i]);
	}
	if (n < 0 || (size_t)n >= o->len - o->used)
		o->overflow = 1;
	else
		o->used += (size_t)n;
}

int relay_metrics_render(const struct relay *r, char *buf, size_t len)
{
	struct out o = { buf, len, 0, 0 };
	const struct relay_metrics *m = &r->metrics;
	emit(&o, "wakks_connections_open", "gauge", "Open WebSocket connections.", r->conn_count);
	emit(&o, "wakks_connections_total", "counter", "WebSocket connections accepted.", m->connections_total);
	emit(&o, "wakks_connections_refused_total", "counter", "Connections or upgrades refused.", m->connections_refused);
	emit(&o, "wakks_frames_in_total", "counter", "Frames received.", m->frames_in);
	emit(&o, "wakks_frames_out_total", "counter", "Frames sent.", m->frames_out);
	emit(&o, "wakks_bytes_in_total", "counter", "Frame bytes received.", m->bytes_in);
	emit(&o, "wakks_bytes_out_total", "counter", "Frame bytes sent.", m->bytes_out);
	emit(&o, "wakks_errors_sent_total", "counter", "Error frames sent.", m->errors_sent);
	emit(&o, "wakks_auth_ok_total", "counter", "Successful authentications.", m->auth_ok);
	emit(&o, "wakks_auth_failed_total", "counter", "Failed authentications.", m->auth_failed);
	emit(&o, "wakks_envelopes_delivered_total", "counter", "Envelopes pushed to devices.", m->envelopes_delivered);
	emit(&o, "wakks_envelopes_acked_total", "counter", "Envelopes acknowledged and deleted.", m->envelopes_acked);
	emit(&o, "wakks_envelopes_expired_total", "counter", "Envelopes deleted at expiry.", m->envelopes_expired);
	emit(&o, "wakks_envelopes_lost_total", "counter", "Envelopes found damaged in storage and reported lost to their recipient.", m->envelopes_lost);
	emit(&o, "wakks_sends_rejected_total", "counter", "Send requests refused.", m->sends_rejected);
	emit(&o, "wakks_rate_limited_total", "counter", "Requests refused by rate limit.", m->rate_limited);
	emit(&o, "wakks_backpressure_pauses_total", "counter", "Times reading from a slow peer stopped.", m->backpressure_pauses);
	emit_push(&o, "wakks_push_sent_total", "Pushes a push service accepted.", m->push_sent);
	emit_push(&o, "wakks_push_failed_total", "Pushes refused or given up after retries.", m->push_failed);
	emit_push(&o, "wakks_push_dropped_total", "Pushes not queued because the push queue was full.", m->push_dropped);
	emit(&o, "wakks_push_coalesced_total", "counter", "Pushes not sent because one went out within the interval or was queued.", m->push_coalesced);
	emit(&o, "wakks_webhook_sent_total", "counter", "Fallback webhook calls the tenant accepted.", m->webhook_sent);
	emit(&o, "wakks_webhook_failed_total", "counter", "Fallback webhook calls refused or given up.", m->webhook_failed);
	emit(&o, "wakks_push_subscriptions_removed_total", "counter", "Subscriptions deleted because their push service said they are gone.", m->push_subscriptions_removed);
	if (r->store) {
		emit(&o, "wakks_mailbox_depth_online_total", "gauge", "Envelopes waiting for connected devices (sampled every 10 s).", m->mailbox_depth_sum);
		emit(&o, "wakks_mailbox_depth_online_max", "gauge", "Deepest mailbox of a connected device (sampled every 10 s).", m->mailbox_depth_max);
		struct store_stats s;
		store_get_stats(r->store, &s);
		emit(&o, "wakks_store_envelopes_stored_total", "counter", "Envelopes committed to storage.", s.envelopes_stored);
		emit(&o, "wakks_store_envelopes_deleted_total", "counter", "Envelopes deleted from storage.", s.envelopes_deleted);
		emit(&o, "wakks_store_envelopes_expired_total", "counter", "Envelopes expired in storage.", s.envelopes_expired);
		emit(&o, "wakks_store_commits_total", "counter", "Group commits.", s.batches);
		emit(&o, "wakks_store_requests_total", "counter", "Write requests completed.", s.requests);
		emit(&o, "wakks_store_requests_failed_total", "counter", "Write requests failed.", s.requests_failed);
		emit(&o, "wakks_store_commit_batch_last", "gauge", "Requests in the last group commit.", s.last_batch_size);
		emit(&o, "wakks_store_commit_batch_max", "gauge", "Largest group commit.", s.max_batch_size);
		emit(&o, "wakks_store_commit_latency_last_microseconds", "gauge", "Latency of the last commit, fsync included.", s.last_commit_us);
		emit(&o, "wakks_store_commit_latency_microseconds_sum", "counter", "Sum of commit latencies.", s.total_commit_us);
		emit(&o, "wakks_store_map_size_bytes", "gauge", "LMDB map size.", s.map_size);
		emit(&o, "wakks_store_full_errors_total", "counter", "Writes refused because storage is full.", s.full_errors);
		emit(&o, "wakks_store_corrupt_reads_total", "counter", "Stored values that failed their checksum or decoder when read.", s.corrupt_reads);
		const struct relay_storage_space *sp = &r->space;
		emit(&o, "wakks_store_map_used_bytes", "gauge", "LMDB map in use (highest page).", s.map_used);
		emit(&o, "wakks_store_map_max_bytes", "gauge", "Size the LMDB map may grow to (map_size_max_mb).", s.map_size_max);
		emit(&o, "wakks_store_map_nearly_full", "gauge", "1 while the map is past storage_warn_percent of its maximum.", sp->map_warned);
		emit(&o, "wakks_disk_size_bytes", "gauge", "Size of data_dir's file system (sampled every second).", sp->fs_size);
		emit(&o, "wakks_disk_available_bytes", "gauge", "Space left on data_dir's file system (sampled every second).", sp->fs_avail);
		emit(&o, "wakks_disk_nearly_full", "gauge", "1 while data_dir's file system is past storage_warn_percent.", sp->fs_warned);
		emit(&o, "wakks_disk_full_errors_total", "counter", "Writes refused because data_dir's file system is full.", sp->disk_refused);
		if (!o.overflow) {
			static const unsigned lo[STORE_BATCH_HIST_BUCKETS] = { 1, 2, 4, 8, 16, 32, 64, 128 };
			int n = snprintf(o.buf + o.used, o.len - o.used,
					 "# HELP wakks_store_commit_batches Group commits by batch size (lower bound).\n"
					 "# TYPE wakks_store_commit_batches gauge\n");
			if (n > 0 && (size_t)n < o.len - o.used)
				o.used += (size_t)n;
			for (int i = 0; i < STORE_BATCH_HIST_BUCKETS && !o.overflow; i++) {
				n = snprintf(o.buf + o.used, o.len - o.used,
					     "wakks_store_commit_batches{min=\"%u\"} %llu\n", lo[i],
					     (unsigned long long)s.batch_hist[i]);
				if (n < 0 || (size_t)n >= o.len - o.used)
					o.overflow = 1;
				else
					o.used += (size_t)n;
			}
		}
	}
	return o.overflow ? -1 : (int)o.used;
}

void relay_metrics_sample_mailboxes(struct relay *r)
{
	uint64_t sum = 0, max = 0;
	for (const struct relay_conn *c = r->conns; c; c = c->next) {
		uint64_t n = 0, bytes = 0;
		if (c->state == CONN_AUTHENTICATED &&
		    store_mailbox_depth(r->store, c->device_id, &n, &bytes) == 0) {
			sum += n;
			if (n > max)
				max = n;
		}
	}
	r->metrics.mailbox_depth_sum = sum;
	r->metrics.mailbox_depth_max = max;
}
