/* SPDX-License-Identifier: MPL-2.0 */
/* The relay's state: what every part of the relay reads through the connection's `relay` pointer
 * (configuration, storage, the connection registry, identity, metrics, scratch memory). One
 * libuv loop thread owns it; relay.c creates and tears it down. */
#ifndef WAKKS_RELAY_RELAY_STATE_H
#define WAKKS_RELAY_RELAY_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>
#include <uv.h>

#include "core/config.h"
#include "core/idmap.h"
#include "wakks_identity.h"

/* Latency histogram buckets (upper bounds, microseconds), the same for every histogram so that a
 * dashboard compares them on one axis: 0.5 ms to 10 s, then +Inf. */
#define RELAY_HIST_BOUNDS_US \
	{ 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, \
	  5000000, 10000000 }
#define RELAY_HIST_BUCKETS 14

struct relay_histogram {
	uint64_t le[RELAY_HIST_BUCKETS]; /* observations <= each bound (not cumulative here) */
	uint64_t count;
	uint64_t sum_us;
};

/* Why an authentication or registration failed: the label of wakks_identity_failures_total. */
enum relay_idfail {
	RELAY_IDFAIL_UNKNOWN_DEVICE,
	RELAY_IDFAIL_BAD_SIGNATURE,
	RELAY_IDFAIL_REVOKED_DEVICE,
	RELAY_IDFAIL_TOKEN,    /* the ID token did not verify (signature, issuer, audience, time) */
	RELAY_IDFAIL_PROVIDER, /* no configured provider or tenant for the token */
	RELAY_IDFAIL_OTHER,    /* a registration refused for another check (keys, journal UPN) */
	RELAY_IDFAIL_COUNT
};

/* Counters by tenant (wakks_tenant_*_total). Rows are found by tenant id and kept across reloads
 * so that counters never go back; citizens' requests that name no tenant count under "". */
struct relay_tenant_counters {
	char tenant[65];
	uint64_t sends, deliveries, consents, lookups;
};

/* Counters the relay exposes at /metrics (services/metrics.c renders them). */
struct relay_metrics {
	uint64_t connections_total;
	uint64_t connections_refused;
	uint64_t frames_in;
	uint64_t frames_out;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t errors_sent;
	uint64_t auth_ok;
	uint64_t auth_failed;
	uint64_t envelopes_delivered;
	uint64_t envelopes_acked;
	uint64_t envelopes_expired;
	uint64_t envelopes_lost; /* damaged in storage: reported to the recipient, never delivered */
	uint64_t sends_rejected;
	uint64_t rate_limited;
	uint64_t backpressure_pauses;
	uint64_t mailbox_depth_sum; /* of connected devices, sampled by housekeeping */
	uint64_t mailbox_depth_max;
	uint64_t mailbox_depth_offline; /* envelopes of devices not connected, sampled likewise */
	uint64_t blob_bytes_in;  /* attachment bytes stored (chunks written) */
	uint64_t blob_bytes_out; /* attachment bytes read out to devices */
	uint64_t identity_failures[RELAY_IDFAIL_COUNT];
	uint64_t reloads_ok, reloads_failed;
	struct relay_histogram send_stored; /* a send frame read → its envelopes durable */
	struct relay_histogram delivery;    /* an envelope stored → pushed to its device */
	struct relay_tenant_counters tenants[RELAY_MAX_TENANTS + 1];
	int tenant_rows;
	/* Pushes to offline devices by provider (services/push.h: web, apns, fcm). */
	uint64_t push_sent[3];
	uint64_t push_failed[3];
	uint64_t push_dropped[3];    /* the push queue was full */
	uint64_t push_coalesced;     /* not sent: one went out within the interval or is queued */
	uint64_t push_subscriptions_removed; /* the push service said the subscription is gone */
	uint64_t webhook_sent;       /* fallback webhook calls the tenant's endpoint accepted */
	uint64_t webhook_failed;     /* refused, given up after retries, or not tracked (full) */
	/* Several relays on one store (services/cluster.c): events sent and applied, events
	 * dropped as malformed, wakes from other relays' commits. */
	uint64_t cluster_events_sent, cluster_events_received, cluster_events_malformed;
	uint64_t cluster_wakes;
};

/* The readiness probe (services/readiness.c): a no-op write through the storage writer every
 * second; /readyz fails when it has not completed recently or failed. */
struct relay_readiness {
	bool inflight;
	uint64_t sent_ms;   /* monotonic, of the probe in flight or the last one */
	uint64_t ok_ms;     /* monotonic, of the last probe that committed; 0 = none yet */
	int last_result;    /* of the last completed probe */
	bool stall_logged;  /* the probe in flight was logged as stalled */
};

/* Open connections by connection id, by authenticated device and by peer address
 * (net/registry.c). */
struct relay_registry {
	struct idmap by_conn;
	struct idmap by_device;
	struct idmap per_address; /* value: (void *)(uintptr_t)count */
};

/* The identity providers and tenants as the identity library sees them, built from the
 * configuration at start (services/identity_binding.c). */
struct relay_idp {
	id_idp idp;
	id_keyset *keys;
	struct devidp *dev; /* the development provider serving this issuer, or NULL */
	uint64_t keys_loaded_ms; /* monotonic; a reload on an unknown kid waits this long apart */
	char issuer[RELAY_CONFIG_STR_MAX + 64];
	const struct relay_idp_config *cfg;
	struct provider_remote *remote; /* keys over HTTPS (services/provider_keys.c), or NULL */
	/* A confidential client's secret, or its private JWK (services/code_exchange.c); never
	 * logged, wiped at stop. */
	char *client_secret;
	size_t client_secret_len;
};

struct relay_tenant_ids {
	id_tenant tenant;
	id_unit units[RELAY_MAX_UNITS_PER_TENANT];
	const char *idp_ids[RELAY_MAX_GROUP_MAPS];
	id_group_map groups[RELAY_MAX_UNITS_PER_TENANT * RELAY_MAX_GROUP_MAPS];
};

struct relay_identity {
	struct relay_idp idps[RELAY_MAX_IDPS];
	int idp_count;
	struct relay_tenant_ids tenants[RELAY_MAX_TENANTS];
	uint8_t account_key[ID_HASH_KEY_BYTES];
	id_replay *replay;
	/* Outbound HTTPS for provider metadata, keys and code exchanges; NULL when no provider
	 * needs it. */
	struct http_client *http;
	struct relay_provider_keys *provider_keys;
	struct relay_login_challenges *login_challenges; /* services/login_challenge.c */
};

/* How full storage is, sampled once a second (services/storage_space.c), and what was said about
 * it: a warning when crossing storage_warn_percent, rate-limited lines for refused writes. */
struct relay_storage_space {
	uv_fs_t statfs;          /* the file system of data_dir, asked on the threadpool */
	bool statfs_inflight;
	bool fs_known;
	uint64_t fs_size, fs_avail; /* bytes; avail as an unprivileged process may use them */
	uint64_t map_used, map_max;
	bool map_warned, fs_warned; /* above the threshold now; re-armed below it */
	uint64_t disk_refused;   /* writes refused because the file system is full (blob files, I/O) */
	uint64_t refused_logged; /* refused writes (map and disk) reported so far */
	uint64_t refused_log_ms; /* monotonic time of the last such line; 0 = none yet */
};

struct blob_busy;
struct http_client;
struct provider_remote;
struct relay_provider_keys;
struct relay_login_challenges;
struct relay_consent_text;
struct relay_conn;
struct relay_push;
struct relay_webhook;
struct store;

struct relay {
	uv_loop_t *loop;
	struct relay_config cfg;
	struct lws_context *lws;
	struct lws_vhost *vhost;
	struct store *store;
	uv_signal_t sigint, sigterm;
	uv_timer_t housekeeping; /* unauthenticated deadlines, expiry, rate-limit refill */
	uv_timer_t shutdown_timer;
	uv_timer_t watchdog_timer; /* WATCHDOG=1 to the service manager (core/sd_notify.h) */
	uint64_t started_ms;
	struct relay_conn *conns; /* every open WebSocket connection, doubly linked */
	/* Connections with frames queued since the last flush, and the loop handle that writes
	 * them before the loop waits again (net/ws.c). */
	struct relay_conn *flush_head;
	uv_prepare_t flush_prepare;
	struct relay_registry registry;
	struct relay_identity identity;
	struct relay_consent_text *consent_texts;
	size_t consent_text_count;
	struct idmap receipts; /* device id -> struct receipt_queue, for offline senders */
	struct idmap device_rates; /* device or account id -> budgets (services/device_rate.c) */
	/* A shared store (PostgreSQL): connection pools off the writer (wakks_storage.h store_aux),
	 * one for the loop thread's short statements (rate buckets, login challenges), one for blob
	 * bytes and sweeps on the threadpool; NULL with LMDB. */
	struct store_aux *aux_loop;
	struct store_aux *aux_blobs;
	uint64_t rate_store_warned_ms; /* monotonic: the last "rates fell back to local" line */
	uint64_t conn_count;
	uint64_t next_conn_id;
	/* Reassembly memory held by connections that had not authenticated when it was allocated;
	 * bounded by cfg.unauth_buffer_max_bytes (net/ws.c). */
	size_t unauth_rx_bytes;
	struct relay_metrics metrics;
	struct relay_storage_space space;
	struct relay_push *push; /* services/push.c; NULL until started */
	struct relay_webhook *webhook; /* services/webhook.c; NULL without tenant webhooks */
	/* Scratch frames and encode buffer: the loop is single-threaded and every frame is encoded
	 * and queued (copied) before the next is built. */
	struct relay_scratch *scratch; /* large per-request working memory, see devset.h */
	struct proto_frame *rx_frame;
	struct proto_frame *tx_frame;
	uint8_t *tx_buf;
	size_t tx_cap;
	bool stopping;
	bool expire_inflight;
	struct blob_busy *blob_busy; /* blobs with a chunk being written (handlers/blobs.c) */
	uint64_t housekeeping_ticks;
	uint64_t liveness_audit_seq; /* audit head at the last check of every connection's device */
	uint64_t stop_deadline_ms;
	int exit_status; /* the process's; a failed start sets it (core/data_dir.h) */
	bool running;    /* relay_start completed: the housekeeping timer runs */
	int data_dir_lock; /* the flock on data_dir, held while the relay runs; -1 before */
	char *http_csp; /* Content-Security-Policy of the web client (net/http.c) */
	char tls_cert[RELAY_CONFIG_PATH_MAX];
	char tls_key[RELAY_CONFIG_PATH_MAX];
	/* The configuration file given on the command line (NULL without one): SIGHUP re-reads it
	 * (core/config_reload.c via relay.c). */
	const char *config_path;
	uv_signal_t sighup;
	/* The public listener's server SSL_CTX, owned by lws, into which a reload loads a new
	 * certificate and key (net/tls_cert.c). */
	void *tls_ctx;
	struct relay_readiness readiness;
	struct relay_admin *admin; /* the monitoring listener (net/admin_listener.c), or NULL */
	int admin_port;            /* its bound port, 0 when off */
	/* Units whose group mapping a reload changed, ended for every caseworker until the rewrites
	 * of their accounts are durable (services/membership.c). */
	char (*revoked_units)[2][65];
	int revoked_unit_count;
};

#endif
