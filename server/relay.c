/* SPDX-License-Identifier: MPL-2.0 */
#include "relay.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/ssl.h>

#include "core/clock.h"
#include "core/log.h"
#include "handlers/blobs.h"
#include "net/conn.h"
#include "net/http.h"
#include "net/http_exchange.h"
#include "net/tls_cert.h"
#include "net/ws.h"
#include "services/audit_log.h"
#include "services/blob_files.h"
#include "services/consent_gate.h"
#include "services/devset.h"
#include "services/housekeeping.h"
#include "services/identity_binding.h"
#include "wakks_protocol.h"
#include "wakks_storage.h"

/* One lws read of a WebSocket: a typical frame (a 1 KiB envelope with its header) fits one read;
 * lws keeps this buffer for every connection (measured: 4096 costs 2 KiB more per idle
 * connection than 2048 for the same throughput; 1024 splits 1 KiB envelopes and costs CPU). */
#define RELAY_RX_BUFFER_BYTES 2048

/* How often a stopping relay checks whether every WebSocket has closed. */
#define SHUTDOWN_POLL_MS 20

static struct lws_protocols relay_protocols[3];
static struct lws_http_mount mounts[5];

static void set_callback_mount(struct lws_http_mount *m, const char *mountpoint,
			       struct lws_http_mount *next)
{
	memset(m, 0, sizeof *m);
	m->mount_next = next;
	m->mountpoint = mountpoint;
	m->origin = "http";
	m->origin_protocol = LWSMPRO_CALLBACK;
	m->mountpoint_len = (unsigned char)strlen(mountpoint);
}

/* Longest-prefix mounts: /healthz, /metrics, /dev-idp and /consent are answered by our HTTP callback,
 * everything else is a static file of the web client (or the placeholder page). */
static const struct lws_http_mount *build_mounts(const struct relay_config *cfg)
{
	struct lws_http_mount *root = &mounts[3];
	memset(root, 0, sizeof *root);
	root->mountpoint = "/";
	root->mountpoint_len = 1;
	if (cfg->web_root[0]) {
		root->origin = cfg->web_root;
		root->def = "index.html";
		root->origin_protocol = LWSMPRO_FILE;
	} else {
		root->origin = "http";
		root->origin_protocol = LWSMPRO_CALLBACK;
	}
	set_callback_mount(&mounts[4], "/consent", root);
	set_callback_mount(&mounts[2], "/dev-idp", &mounts[4]);
	set_callback_mount(&mounts[1], "/metrics", &mounts[2]);
	set_callback_mount(&mounts[0], "/healthz", &mounts[1]);
	return &mounts[0];
}

static int ensure_dir(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	return -1;
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct relay *r = h->data;
	RLOG_INFO("relay", "signal", "signal=%d", signum);
	relay_stop(r);
}

static int open_storage(struct relay *r)
{
	char path[RELAY_CONFIG_PATH_MAX + 8];
	snprintf(path, sizeof path, "%s/db", r->cfg.data_dir);
	struct store_config sc = {
		.path = path,
		.map_size_initial = (size_t)r->cfg.map_size_initial_mb << 20,
		.map_size_max = (size_t)r->cfg.map_size_max_mb << 20,
		.max_batch = r->cfg.max_batch,
		.mailbox_max_envelopes = r->cfg.mailbox_max_envelopes,
		.mailbox_max_bytes = r->cfg.mailbox_max_bytes,
	};
	int rc = store_open(&r->store, r->loop, &sc);
	if (rc != 0) {
		RLOG_ERROR("storage", "open_failed", "path=%s error=\"%s\"", path, store_strerror(rc));
		return -1;
	}
	return 0;
}

static int prepare_tls(struct relay *r)
{
	if (r->cfg.tls_cert[0]) {
		snprintf(r->tls_cert, sizeof r->tls_cert, "%s", r->cfg.tls_cert);
		snprintf(r->tls_key, sizeof r->tls_key, "%s", r->cfg.tls_key);
		return 0;
	}
	char err[256];
	int created = 0;
	if (relay_dev_cert_ensure(r->cfg.data_dir, r->tls_cert, r->tls_key, sizeof r->tls_cert,
				  &created, err, sizeof err) != 0) {
		RLOG_ERROR("tls", "dev_cert_failed", "error=\"%s\"", err);
		return -1;
	}
	if (created)
		RLOG_WARN("tls", "dev_cert_generated",
			  "cert=%s key=%s note=\"self-signed development certificate; configure tls_cert and tls_key for production\"",
			  r->tls_cert, r->tls_key);
	else
		RLOG_INFO("tls", "dev_cert_loaded", "cert=%s", r->tls_cert);
	return 0;
}

static void config_audited(struct store_req *req, int result, void *data)
{
	(void)req;
	(void)data;
	if (result != 0)
		RLOG_ERROR("audit", "config_entry_failed", "error=\"%s\"", store_strerror(result));
}

/* Every start is a configuration load: the audit log records which configuration (its hash) and
 * whether development mode was on. */
static void audit_config_loaded(struct relay *r)
{
	uint8_t details[33];
	memcpy(details, r->cfg.file_sha256, 32);
	details[32] = r->cfg.dev_mode ? 1 : 0;
	struct store_req *req = store_req_new(r->store, config_audited, NULL);
	if (req && relay_audit_append(req, ID_AUDIT_CONFIG_LOADED, relay_now_ms(), NULL, 0, details,
				      sizeof details) < 0) {
		store_req_free(req);
		req = NULL;
	}
	if (!req || store_submit(req) != 0)
		RLOG_ERROR("audit", "config_entry_failed", "error=\"could not submit\"");
}

/* The loop thread's working memory: one frame in, one frame out, the encode buffer, and the
 * large per-request scratch (device sets, error details). */
static int alloc_scratch(struct relay *r)
{
	r->scratch = calloc(1, sizeof *r->scratch);
	r->rx_frame = calloc(1, sizeof *r->rx_frame);
	r->tx_frame = calloc(1, sizeof *r->tx_frame);
	r->tx_cap = PROTO_MAX_FRAME_BYTES;
	r->tx_buf = malloc(r->tx_cap);
	return r->scratch && r->rx_frame && r->tx_frame && r->tx_buf ? 0 : -1;
}

/* Creates the lws context on our loop: HTTP and wakks.v1 on one TLS port. Returns the port it
 * listens on, or -1 after logging why. */
static int start_lws(struct relay *r, uv_loop_t *loop)
{
	relay_protocols[0] = (struct lws_protocols){ "http", relay_http_callback,
						     relay_http_pss_size(), 0, 0, NULL, 0 };
	/* rx_buffer_size bounds one lws read, not a frame (frames are reassembled in ws.c); lws
	 * allocates it for every connection, so it is kept small for idle connections. */
	relay_protocols[1] = (struct lws_protocols){ RELAY_SUBPROTOCOL, relay_ws_callback,
						     relay_ws_pss_size(), RELAY_RX_BUFFER_BYTES, 0,
						     NULL, 0 };
	memset(&relay_protocols[2], 0, sizeof relay_protocols[2]);

	void *foreign_loops[1] = { loop };
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
		       LWS_SERVER_OPTION_DISABLE_IPV6;
	info.foreign_loops = foreign_loops;
	info.pcontext = &r->lws;
	info.port = r->cfg.port;
	info.iface = r->cfg.listen[0] ? r->cfg.listen : NULL;
	info.protocols = relay_protocols;
	info.mounts = build_mounts(&r->cfg);
	info.ssl_cert_filepath = r->tls_cert;
	info.ssl_private_key_filepath = r->tls_key;
	/* TLS 1.2 and newer only. */
	info.ssl_options_set = SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
	info.user = r;
	info.timeout_secs = 20;

	lws_set_log_level(getenv("WAKKS_LWS_DEBUG") ? (LLL_ERR | LLL_WARN | LLL_NOTICE | LLL_INFO | LLL_DEBUG) : LLL_ERR, NULL);
	r->lws = lws_create_context(&info);
	if (!r->lws) {
		RLOG_ERROR("relay", "lws_context_failed", "port=%d", r->cfg.port);
		return -1;
	}
	/* A peer that disconnects mid-write must cost an error return, never the process; set after
	 * the context because its event library installs signal handling of its own. */
	signal(SIGPIPE, SIG_IGN);
	r->vhost = lws_get_vhost_by_name(r->lws, "default");
	return r->vhost ? lws_get_vhost_listen_port(r->vhost) : r->cfg.port;
}

/* Identity providers (whose development issuer names the port), consent texts, and the audit
 * entry that records which configuration the relay runs with. */
static int start_identity_and_consent(struct relay *r, int port)
{
	char base_url[RELAY_CONFIG_STR_MAX];
	if (r->cfg.public_url[0])
		snprintf(base_url, sizeof base_url, "%s", r->cfg.public_url);
	else
		snprintf(base_url, sizeof base_url, "https://localhost:%d", port);
	if (relay_identity_start(r, base_url) != 0 || relay_consent_start(r) != 0)
		return -1;
	audit_config_loaded(r);
	return 0;
}

static void start_signals_and_timers(struct relay *r, uv_loop_t *loop)
{
	uv_signal_init(loop, &r->sigint);
	uv_signal_init(loop, &r->sigterm);
	r->sigint.data = r->sigterm.data = r;
	uv_signal_start(&r->sigint, on_signal, SIGINT);
	uv_signal_start(&r->sigterm, on_signal, SIGTERM);
	uv_timer_init(loop, &r->shutdown_timer);
	r->shutdown_timer.data = r;
	relay_housekeeping_start(r);
}

int relay_start(struct relay *r, uv_loop_t *loop)
{
	r->loop = loop;
	r->started_ms = relay_monotonic_ms();
	relay_log_threshold = (enum relay_log_level)r->cfg.log_level;
	signal(SIGPIPE, SIG_IGN);

	if (ensure_dir(r->cfg.data_dir) != 0) {
		RLOG_ERROR("relay", "data_dir_failed", "path=%s error=\"%s\"", r->cfg.data_dir,
			   strerror(errno));
		return -1;
	}
	if (alloc_scratch(r) != 0 || prepare_tls(r) != 0 || open_storage(r) != 0)
		return -1;
	if (blob_store_init(r) != 0) {
		RLOG_ERROR("relay", "blob_dir_failed", "path=%s/blobs error=\"%s\"", r->cfg.data_dir,
			   strerror(errno));
		return -1;
	}
	int port = start_lws(r, loop);
	if (port < 0 || start_identity_and_consent(r, port) != 0)
		return -1;
	start_signals_and_timers(r, loop);

	if (r->cfg.dev_mode)
		RLOG_WARN("relay", "development_mode",
			  "note=\"development identity provider and demo tenant enabled; never use in production\"");
	RLOG_INFO("relay", "listening", "port=%d address=%s version=%s", port,
		  r->cfg.listen[0] ? r->cfg.listen : "*", WAKKS_VERSION);
	return 0;
}

static void finish_stop(struct relay *r)
{
	uv_timer_stop(&r->shutdown_timer);
	uv_close((uv_handle_t *)&r->shutdown_timer, NULL);
	relay_housekeeping_stop(r);
	uv_signal_stop(&r->sigint);
	uv_signal_stop(&r->sigterm);
	/* Stopping is under way: a repeated signal (a supervisor's, or a second Ctrl-C) during the
	 * last commits and the close of the environment must not end the process with a signal
	 * instead of status 0. SIGKILL still ends a teardown that hangs. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	uv_close((uv_handle_t *)&r->sigint, NULL);
	uv_close((uv_handle_t *)&r->sigterm, NULL);
	if (r->lws)
		lws_context_destroy(r->lws);
	relay_identity_stop(r);
	relay_consent_stop(r);
	/* Completes every write already submitted before closing the environment. */
	store_close(r->store);
	r->store = NULL;
	relay_blob_busy_free(r);
	free(r->scratch);
	free(r->rx_frame);
	free(r->tx_frame);
	free(r->tx_buf);
	r->rx_frame = r->tx_frame = NULL;
	r->scratch = NULL;
	r->tx_buf = NULL;
	RLOG_INFO("relay", "stopped", "");
}

static void on_shutdown_poll(uv_timer_t *t)
{
	struct relay *r = t->data;
	if (r->conn_count == 0 || relay_monotonic_ms() >= r->stop_deadline_ms)
		finish_stop(r);
}

void relay_stop(struct relay *r)
{
	if (r->stopping)
		return;
	r->stopping = true;
	r->stop_deadline_ms = relay_monotonic_ms() + r->cfg.shutdown_grace_ms;
	RLOG_INFO("relay", "stopping", "connections=%llu", (unsigned long long)r->conn_count);
	for (struct relay_conn *c = r->conns; c; c = c->next)
		relay_conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY, "relay shutting down");
	uv_timer_start(&r->shutdown_timer, on_shutdown_poll, 0, SHUTDOWN_POLL_MS);
}
