/* SPDX-License-Identifier: MPL-2.0 */
#include "services/metrics.h"

#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "net/conn.h"
#include "wakks_storage.h"
#include "wakks_version.h"

struct out {
	char *buf;
	size_t len, used;
	int overflow;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	if (o->overflow)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->used)
		o->overflow = 1;
	else
		o->used += (size_t)n;
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void emit(struct out *o, const char *name, const char *type, const char *help,
		 unsigned long long value)
{
	head(o, name, type, help);
	put(o, "%s %llu\n", name, value);
}

/* A histogram in Prometheus' form: cumulative _bucket lines with le in seconds, _sum, _count.
 * counts[i] is the number of observations in bucket i (not cumulative), the last one above every
 * bound; bounds in microseconds. */
static void histogram(struct out *o, const char *name, const char *help, const uint64_t *bounds_us,
		      const uint64_t *counts, size_t n_bounds, uint64_t count, uint64_t sum_us)
{
	head(o, name, "histogram", help);
	uint64_t cum = 0;
	for (size_t i = 0; i < n_bounds; i++) {
		cum += counts[i];
		put(o, "%s_bucket{le=\"%g\"} %llu\n", name, (double)bounds_us[i] / 1e6,
		    (unsigned long long)cum);
	}
	put(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)count);
	put(o, "%s_sum %.6f\n%s_count %llu\n", name, (double)sum_us / 1e6, name,
	    (unsigned long long)count);
}

static const uint64_t hist_bounds[RELAY_HIST_BUCKETS] = RELAY_HIST_BOUNDS_US;

static void relay_histogram_render(struct out *o, const char *name, const char *help,
				   const struct relay_histogram *h)
{
	histogram(o, name, help, hist_bounds, h->le, RELAY_HIST_BUCKETS, h->count, h->sum_us);
}

void relay_metrics_observe(struct relay_histogram *h, uint64_t us)
{
	size_t i = 0;
	while (i < RELAY_HIST_BUCKETS && us > hist_bounds[i])
		i++;
	if (i < RELAY_HIST_BUCKETS)
		h->le[i]++;
	h->count++;
	h->sum_us += us;
}

uint64_t relay_metrics_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

struct relay_tenant_counters *relay_metrics_tenant(struct relay *r, const char *tenant, size_t len)
{
	struct relay_metrics *m = &r->metrics;
	if (len >= sizeof m->tenants[0].tenant)
		len = 0;
	for (int i = 0; i < m->tenant_rows; i++)
		if (strlen(m->tenants[i].tenant) == len && memcmp(m->tenants[i].tenant, tenant, len) == 0)
			return &m->tenants[i];
	if (m->tenant_rows == (int)(sizeof m->tenants / sizeof m->tenants[0]))
		return relay_metrics_tenant(r, "", 0) ? &m->tenants[0] : NULL;
	struct relay_tenant_counters *row = &m->tenants[m->tenant_rows++];
	memset(row, 0, sizeof *row);
	memcpy(row->tenant, tenant, len);
	return row;
}

/* Tenant ids are slugs (a-z 0-9 -): safe inside a label value as they are. */
static void tenant_counter(struct out *o, const struct relay *r, const char *name,
			   const char *help, size_t offset)
{
	head(o, name, "counter", help);
	for (int i = 0; i < r->metrics.tenant_rows; i++) {
		const struct relay_tenant_counters *t = &r->metrics.tenants[i];
		put(o, "%s{tenant=\"%s\"} %llu\n", name, t->tenant,
		    (unsigned long long)*(const uint64_t *)((const char *)t + offset));
	}
}

static const char *const idfail_names[RELAY_IDFAIL_COUNT] = {
	[RELAY_IDFAIL_UNKNOWN_DEVICE] = "unknown_device",
	[RELAY_IDFAIL_BAD_SIGNATURE] = "bad_signature",
	[RELAY_IDFAIL_REVOKED_DEVICE] = "revoked_device",
	[RELAY_IDFAIL_TOKEN] = "token_rejected",
	[RELAY_IDFAIL_PROVIDER] = "no_provider",
	[RELAY_IDFAIL_OTHER] = "other",
};

/* The standard process metrics every Prometheus client library exports, under their usual
 * names, read from /proc (Linux). */
static void process_metrics(struct out *o, const struct relay *r)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		head(o, "process_cpu_seconds_total", "counter", "User and system CPU time spent.");
		put(o, "process_cpu_seconds_total %.3f\n",
		    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
			    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	}
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long long pages_total = 0, pages_rss = 0;
	if (f) {
		if (fscanf(f, "%llu %llu", &pages_total, &pages_rss) == 2) {
			unsigned long long page = (unsigned long long)sysconf(_SC_PAGESIZE);
			emit(o, "process_resident_memory_bytes", "gauge", "Resident memory size.",
			     pages_rss * page);
			emit(o, "process_virtual_memory_bytes", "gauge", "Virtual memory size.",
			     pages_total * page);
		}
		fclose(f);
	}
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		unsigned long long n = 0;
		for (struct dirent *e = readdir(d); e; e = readdir(d))
			n += e->d_name[0] != '.';
		closedir(d);
		emit(o, "process_open_fds", "gauge", "Open file descriptors.", n ? n - 1 : 0);
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		emit(o, "process_max_fds", "gauge", "The limit on open file descriptors.",
		     (unsigned long long)rl.rlim_cur);
	struct timespec now_real;
	clock_gettime(CLOCK_REALTIME, &now_real);
	uint64_t up_ms = relay_monotonic_ms() - r->started_ms;
	head(o, "process_start_time_seconds", "gauge", "Start time of the process since the epoch.");
	put(o, "process_start_time_seconds %.3f\n",
	    (double)now_real.tv_sec + (double)now_real.tv_nsec / 1e9 - (double)up_ms / 1e3);
}

static void storage_metrics(struct out *o, const struct relay *r)
{
	const struct relay_metrics *m = &r->metrics;
	emit(o, "wakks_mailbox_depth_online_total", "gauge", "Envelopes waiting for connected devices (sampled every 10 s).", m->mailbox_depth_sum);
	emit(o, "wakks_mailbox_depth_online_max", "gauge", "Deepest mailbox of a connected device (sampled every 10 s).", m->mailbox_depth_max);
	emit(o, "wakks_mailbox_depth_offline_total", "gauge", "Envelopes waiting for devices that are not connected (all envelopes, sampled every second, less the connected devices' last sample).", m->mailbox_depth_offline);
	struct store_stats s;
	store_get_stats(r->store, &s);
	/* Which engine: the map and disk series below describe LMDB's file only. */
	head(o, "wakks_store_engine_info", "gauge", "The storage engine (label engine: lmdb or postgresql).");
	put(o, "wakks_store_engine_info{engine=\"%s\"} 1\n", store_engine(r->store));
	emit(o, "wakks_store_envelopes_stored_total", "counter", "Envelopes committed to storage.", s.envelopes_stored);
	emit(o, "wakks_store_envelopes_deleted_total", "counter", "Envelopes deleted from storage.", s.envelopes_deleted);
	emit(o, "wakks_store_envelopes_expired_total", "counter", "Envelopes expired in storage.", s.envelopes_expired);
	emit(o, "wakks_store_commits_total", "counter", "Group commits.", s.batches);
	emit(o, "wakks_store_requests_total", "counter", "Write requests completed.", s.requests);
	emit(o, "wakks_store_requests_failed_total", "counter", "Write requests failed.", s.requests_failed);
	emit(o, "wakks_store_commit_batch_last", "gauge", "Requests in the last group commit.", s.last_batch_size);
	emit(o, "wakks_store_commit_batch_max", "gauge", "Largest group commit.", s.max_batch_size);
	emit(o, "wakks_store_commit_latency_last_microseconds", "gauge", "Latency of the last commit, fsync included.", s.last_commit_us);
	histogram(o, "wakks_store_commit_duration_seconds", "Group commit latency, fsync included.",
		  store_commit_hist_bounds_us, s.commit_hist, STORE_COMMIT_HIST_BUCKETS - 1, s.batches,
		  s.total_commit_us);
	emit(o, "wakks_store_map_size_bytes", "gauge", "LMDB map size.", s.map_size);
	emit(o, "wakks_store_full_errors_total", "counter", "Writes refused because storage is full.", s.full_errors);
	emit(o, "wakks_store_corrupt_reads_total", "counter", "Stored values that failed their checksum or decoder when read.", s.corrupt_reads);
	const struct relay_storage_space *sp = &r->space;
	emit(o, "wakks_store_map_used_bytes", "gauge", "LMDB map in use (highest page).", s.map_used);
	emit(o, "wakks_store_map_max_bytes", "gauge", "Size the LMDB map may grow to (map_size_max_mb).", s.map_size_max);
	emit(o, "wakks_store_map_nearly_full", "gauge", "1 while the map is past storage_warn_percent of its maximum.", sp->map_warned);
	emit(o, "wakks_disk_size_bytes", "gauge", "Size of data_dir's file system (sampled every second).", sp->fs_size);
	emit(o, "wakks_disk_available_bytes", "gauge", "Space left on data_dir's file system (sampled every second).", sp->fs_avail);
	emit(o, "wakks_disk_nearly_full", "gauge", "1 while data_dir's file system is past storage_warn_percent.", sp->fs_warned);
	emit(o, "wakks_disk_full_errors_total", "counter", "Writes refused because data_dir's file system is full.", sp->disk_refused);
	static const unsigned lo[STORE_BATCH_HIST_BUCKETS] = { 1, 2, 4, 8, 16, 32, 64, 128 };
	head(o, "wakks_store_commit_batches", "gauge", "Group commits by batch size (lower bound).");
	for (int i = 0; i < STORE_BATCH_HIST_BUCKETS; i++)
		put(o, "wakks_store_commit_batches{min=\"%u\"} %llu\n", lo[i],
		    (unsigned long long)s.batch_hist[i]);
}

/* One counter per push provider: name{provider="web"} etc. */
static void emit_push(struct out *o, const char *name, const char *help, const uint64_t v[3])
{
	static const char *const prov[3] = { "web", "apns", "fcm" };
	head(o, name, "counter", help);
	for (int i = 0; i < 3; i++)
		put(o, "%s{provider=\"%s\"} %llu\n", name, prov[i], (unsigned long long)v[i]);
}

int relay_metrics_render(const struct relay *r, char *buf, size_t len)
{
	struct out o = { buf, len, 0, 0 };
	const struct relay_metrics *m = &r->metrics;
	head(&o, "wakks_build_info", "gauge", "The relay's version; always 1.");
	put(&o, "wakks_build_info{version=\"%s\"} 1\n", WAKKS_BUILD_VERSION);
	emit(&o, "wakks_up", "gauge", "1 while the relay serves (0 while it stops).", !r->stopping);
	emit(&o, "wakks_connections_open", "gauge", "Open WebSocket connections.", r->conn_count);
	emit(&o, "wakks_connections_total", "counter", "WebSocket connections accepted.", m->connections_total);
	emit(&o, "wakks_connections_refused_total", "counter", "Connections or upgrades refused.", m->connections_refused);
	emit(&o, "wakks_frames_in_total", "counter", "Frames received.", m->frames_in);
	emit(&o, "wakks_frames_out_total", "counter", "Frames sent.", m->frames_out);
	emit(&o, "wakks_bytes_in_total", "counter", "Frame bytes received.", m->bytes_in);
	emit(&o, "wakks_bytes_out_total", "counter", "Frame bytes sent.", m->bytes_out);
	emit(&o, "wakks_errors_sent_total", "counter", "Error frames sent.", m->errors_sent);
	emit(&o, "wakks_auth_ok_total", "counter", "Successful authentications.", m->auth_ok);
	emit(&o, "wakks_auth_failed_total", "counter", "Failed authentications and registrations.", m->auth_failed);
	head(&o, "wakks_identity_failures_total", "counter", "Failed authentications and registrations by reason.");
	for (int i = 0; i < RELAY_IDFAIL_COUNT; i++)
		put(&o, "wakks_identity_failures_total{reason=\"%s\"} %llu\n", idfail_names[i],
		    (unsigned long long)m->identity_failures[i]);
	emit(&o, "wakks_envelopes_delivered_total", "counter", "Envelopes pushed to devices.", m->envelopes_delivered);
	emit(&o, "wakks_envelopes_acked_total", "counter", "Envelopes acknowledged and deleted.", m->envelopes_acked);
	emit(&o, "wakks_envelopes_expired_total", "counter", "Envelopes deleted at expiry.", m->envelopes_expired);
	emit(&o, "wakks_envelopes_lost_total", "counter", "Envelopes found damaged in storage and reported lost to their recipient.", m->envelopes_lost);
	emit(&o, "wakks_sends_rejected_total", "counter", "Send requests refused.", m->sends_rejected);
	emit(&o, "wakks_rate_limited_total", "counter", "Requests refused by rate limit.", m->rate_limited);
	emit(&o, "wakks_backpressure_pauses_total", "counter", "Times reading from a slow peer stopped.", m->backpressure_pauses);
	emit(&o, "wakks_blob_bytes_in_total", "counter", "Attachment bytes stored.", m->blob_bytes_in);
	emit(&o, "wakks_blob_bytes_out_total", "counter", "Attachment bytes read out to devices.", m->blob_bytes_out);
	emit(&o, "wakks_config_reloads_total", "counter", "Configuration reloads applied.", m->reloads_ok);
	emit(&o, "wakks_config_reload_failures_total", "counter", "Configuration reloads refused (the running configuration stayed).", m->reloads_failed);
	relay_histogram_render(&o, "wakks_send_stored_duration_seconds", "From a send frame read to its envelopes durable in storage.", &m->send_stored);
	relay_histogram_render(&o, "wakks_delivery_duration_seconds", "From an envelope stored to its push to the device (includes time offline).", &m->delivery);
	tenant_counter(&o, r, "wakks_tenant_sends_total", "Sends stored, by the tenant they address or the sender's.", offsetof(struct relay_tenant_counters, sends));
	tenant_counter(&o, r, "wakks_tenant_deliveries_total", "Envelopes pushed, by the tenant of the conversation.", offsetof(struct relay_tenant_counters, deliveries));
	tenant_counter(&o, r, "wakks_tenant_consents_total", "Consent grants and withdrawals stored, by tenant.", offsetof(struct relay_tenant_counters, consents));
	tenant_counter(&o, r, "wakks_tenant_lookups_total", "Citizen look-ups by caseworkers, by tenant.", offsetof(struct relay_tenant_counters, lookups));
	emit_push(&o, "wakks_push_sent_total", "Pushes a push service accepted.", m->push_sent);
	emit_push(&o, "wakks_push_failed_total", "Pushes refused or given up after retries.", m->push_failed);
	emit_push(&o, "wakks_push_dropped_total", "Pushes not queued because the push queue was full.", m->push_dropped);
	emit(&o, "wakks_push_coalesced_total", "counter", "Pushes not sent because one went out within the interval or was queued.", m->push_coalesced);
	emit(&o, "wakks_webhook_sent_total", "counter", "Fallback webhook calls the tenant accepted.", m->webhook_sent);
	emit(&o, "wakks_webhook_failed_total", "counter", "Fallback webhook calls refused or given up.", m->webhook_failed);
	emit(&o, "wakks_cluster_events_sent_total", "counter", "Events sent to the other relays on the shared database.", m->cluster_events_sent);
	emit(&o, "wakks_cluster_events_received_total", "counter", "Events from other relays applied here.", m->cluster_events_received);
	emit(&o, "wakks_cluster_events_malformed_total", "counter", "Events from other relays dropped as malformed.", m->cluster_events_malformed);
	emit(&o, "wakks_cluster_wakes_total", "counter", "Wake notifications from other relays' commits.", m->cluster_wakes);
	emit(&o, "wakks_push_subscriptions_removed_total", "counter", "Subscriptions deleted because their push service said they are gone.", m->push_subscriptions_removed);
	if (r->store)
		storage_metrics(&o, r);
	process_metrics(&o, r);
	return o.overflow ? -1 : (int)o.used;
}

void relay_metrics_sample_mailboxes(struct relay *r)
{
	uint64_t sum = 0, max = 0, total = 0;
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
	if (store_mailbox_total(r->store, &total) == 0)
		r->metrics.mailbox_depth_offline = total > sum ? total - sum : 0;
}

void relay_metrics_sample_total(struct relay *r)
{
	uint64_t total = 0;
	if (store_mailbox_total(r->store, &total) == 0)
		r->metrics.mailbox_depth_offline =
			total > r->metrics.mailbox_depth_sum ? total - r->metrics.mailbox_depth_sum : 0;
}
