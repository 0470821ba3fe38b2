/* SPDX-License-Identifier: MPL-2.0 */
#include "relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "core/clock.h"
#include "core/config_read.h"
#include "core/data_dir.h"
#include "core/log.h"
#include "core/proxy_addr.h"
#include "core/sd_notify.h"
#include "core/storage_config.h"
#include "wakks_version.h"
#include "handlers/blobs.h"
#include "net/conn.h"
#include "net/http.h"
#include "net/http_exchange.h"
#include "net/admin_listener.h"
#include "net/lws_log.h"
#include "services/push.h"
#include "services/webhook.h"
#include "net/tls_cert.h"
#include "net/ws.h"
#include "services/audit_log.h"
#include "services/blob_files.h"
#include "services/cluster.h"
#include "services/config_reload.h"
#include "services/consent_gate.h"
#include "services/devset.h"
#include "services/housekeeping.h"
#include "services/identity_binding.h"
#include "services/membership.h"
#include "services/readiness.h"
#include "pipeline/admin_routes.h"
#include "wakks_protocol.h"
#include "wakks_storage.h"

/* The TLS 1.2 suites the relay accepts (Mozilla's "intermediate" list without finite-field DHE):
 * forward secrecy and an AEAD each, for ECDSA (the development certificate) and RSA keys. */
#define RELAY_TLS12_CIPHERS                                                                  \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                          \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                          \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

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

/* lws knows the common file types; the web app's manifest it does not (its own type makes browsers
 * accept it as one). */
static const struct lws_protocol_vhost_options mime_manifest = {
	NULL, NULL, ".webmanifest", "application/manifest+json"
};

/* Longest-prefix mounts: /dev-idp, /consent, /branding and /tenant are answered by our HTTP callback,
 * everything else is a static file of the web client (or the placeholder page). Monitoring
 * (/metrics, /healthz, /readyz) is on the admin listener only (net/admin_listener.c). */
static const struct lws_http_mount *build_mounts(const struct relay_config *cfg)
{
	struct lws_http_mount *root = &mounts[4];
	memset(root, 0, sizeof *root);
	root->mountpoint = "/";
	root->mountpoint_len = 1;
	if (cfg->web_root[0]) {
		root->origin = cfg->web_root;
		root->def = "index.html";
		root->origin_protocol = LWSMPRO_FILE;
		root->extra_mimetypes = &mime_manifest;
		/* lws asks this protocol's callback for headers to add to each file it serves: the
		 * Content-Security-Policy (net/http.c). */
		root->protocol = "http";
	} else {
		root->origin = "http";
		root->origin_protocol = LWSMPRO_CALLBACK;
	}
	set_callback_mount(&mounts[3], "/tenant", root);
	set_callback_mount(&mounts[2], "/branding", &mounts[3]);
	set_callback_mount(&mounts[1], "/consent", &mounts[2]);
	set_callback_mount(&mounts[0], "/dev-idp", &mounts[1]);
	return &mounts[0];
}

static void audit_config_loaded(struct relay *r);

/* SIGHUP: re-read the configuration; a refused file leaves everything as it ran. */
static void on_sighup(uv_signal_t *h, int signum)
{
	(void)signum;
	struct relay *r = h->data;
	if (r->stopping)
		return;
	if (relay_config_reload(r) == 0)
		audit_config_loaded(r);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct relay *r = h->data;
	RLOG_INFO("relay", "signal", "signal=%d", signum);
	relay_stop(r);
}

/* Proof of life for the service manager: sent from the loop, so a loop that stalls (a blocked
 * callback, a livelock) misses it and gets the relay restarted. */
static void on_watchdog(uv_timer_t *t)
{
	(void)t;
	if (relay_sd_notify("WATCHDOG=1") < 0)
		RLOG_WARN("relay", "sd_notify_failed", "what=watchdog error=\"%s\"", strerror(errno));
}

/* READY only once the listener is bound and the database open (the end of relay_start): a
 * service ordered after the relay finds it answering. */
static void notify_ready(struct relay *r, int port)
{
	char state[128];
	snprintf(state, sizeof state, "READY=1\nSTATUS=listening on port %d", port);
	if (relay_sd_notify(state) < 0)
		RLOG_WARN("relay", "sd_notify_failed", "what=ready error=\"%s\"", strerror(errno));
	uint64_t usec = relay_sd_watchdog_usec();
	if (usec) {
		/* Half the interval, as the service manager advises: one late ping is no restart. */
		uint64_t ms = usec / 2000;
		if (ms == 0)
			ms = 1;
		uv_timer_start(&r->watchdog_timer, on_watchdog, ms, ms);
		RLOG_INFO("relay", "watchdog", "interval_ms=%llu", (unsigned long long)ms);
	}
}

/* Why store_open refused, as the one start-up line. */
static int storage_refused(const char *db_path, int rc)
{
	const char *restore = "restore the data directory from a backup (docs/operations.md)";
	switch (rc) {
	case STORE_ENOKEY:
		return relay_start_failed(RELAY_EXIT_DATA,
					  "restore account-id.key from the backup of this data directory; a new key would put every person into a new account",
					  "account-id.key is missing, but the database in %s holds accounts or records the key it belongs to",
					  db_path);
	case STORE_EKEY:
		return relay_start_failed(RELAY_EXIT_DATA,
					  "restore the account-id.key that was backed up with this database",
					  "account-id.key does not belong to the database in %s (the database records another key's fingerprint)",
					  db_path);
	case STORE_EIDENTITY:
		return relay_start_failed(RELAY_EXIT_DATA,
					  "put back the data.mdb this directory held, or restore data.mdb and database-id from one backup",
					  "%s/data.mdb is not the database this data directory held (database-id names another)",
					  db_path);
	case STORE_ESCHEMA_NEWER:
		return relay_start_failed(RELAY_EXIT_DATA, "run the relay version that wrote it, or newer",
					  "the database in %s was written by a newer relay", db_path);
	case STORE_EFULL:
		/* Opening writes (a new database, a migration): nothing is damaged, and the next
		 * start after space was freed succeeds, so not the data class. */
		return relay_start_failed(RELAY_EXIT_RUNTIME,
					  "free space on data_dir's file system (or raise map_size_max_mb if the map is at its maximum); nothing was lost",
					  "the database in %s cannot be opened: %s", db_path, store_strerror(rc));
	case STORE_EACCES:
		return relay_start_failed(RELAY_EXIT_CONFIG,
					  "make the data directory and its files writable by the relay's user, on a read-write filesystem",
					  "the database in %s cannot be opened: %s", db_path, store_strerror(rc));
	default:
		return relay_start_failed(RELAY_EXIT_DATA, restore,
					  "the database in %s cannot be opened: %s", db_path, store_strerror(rc));
	}
}

/* How long a relay keeps trying a shared database that does not answer at start (a fail-over,
 * the database starting with the relays after a power cut) before it gives up and exits for its
 * service manager to restart it: longer than a Patroni fail-over (about 30 s by default). */
#define SHARED_DB_START_WAIT_MS 60000
#define SHARED_DB_RETRY_FIRST_MS 500
#define SHARED_DB_RETRY_MAX_MS 5000

/* Why store_open refused a shared database, as the one start-up line. */
static int shared_storage_refused(const char *where, int rc)
{
	switch (rc) {
	case STORE_ENOKEY:
	case STORE_EKEY:
		return relay_start_failed(RELAY_EXIT_DATA,
					  "copy account-id.key from another relay of this database (every relay needs the same file), or restore the one backed up with it",
					  "account-id.key %s the database %s (the database records another key's fingerprint)",
					  rc == STORE_ENOKEY ? "is new here and does not belong to" : "does not belong to",
					  where);
	case STORE_EIDENTITY:
		return relay_start_failed(RELAY_EXIT_DATA,
					  "point conninfo at the database this data_dir belongs to; to join this relay to another database on purpose, remove data_dir/database-id",
					  "the database %s is not the one this data_dir was used with (database-id names another)",
					  where);
	case STORE_ESCHEMA_NEWER:
		return relay_start_failed(RELAY_EXIT_DATA, "run the relay version that wrote it, or newer",
					  "the database %s was written by a newer relay", where);
	case STORE_EACCES:
		return relay_start_failed(RELAY_EXIT_CONFIG,
					  "grant the relay's database user the rights of docs/deployment.md, or correct conninfo's user and password",
					  "the database %s refused the relay: %s", where, store_strerror(rc));
	case STORE_EIO:
		return relay_start_failed(RELAY_EXIT_RUNTIME,
					  "start the database or correct conninfo (host, port, dbname); the relay gives up after a minute so that its service manager restarts it",
					  "the database %s did not answer for %d s", where,
					  SHARED_DB_START_WAIT_MS / 1000);
	default:
		return relay_start_failed(RELAY_EXIT_DATA, "see docs/operations.md (PostgreSQL)",
					  "the database %s cannot be opened: %s", where, store_strerror(rc));
	}
}

/* The PostgreSQL engine: the database is shared by every relay of the service, so there is no
 * file to check here; data_dir still holds the account-id key (the same file on every relay: the
 * database records its fingerprint), the marker tying this directory to the database, the TLS
 * and push keys. A database that does not answer is retried for a bounded time. Returns 0 or the
 * exit status after relay_start_failed. */
static int open_shared_data(struct relay *r)
{
	const char *dir = r->cfg.data_dir;
	char where[RELAY_CONFIG_CONNINFO_MAX], file[RELAY_CONFIG_PATH_MAX + 32];
	relay_conninfo_describe(r->cfg.conninfo, where, sizeof where);
	uint8_t marker[RELAY_DB_ID_BYTES];
	int st = relay_data_dir_read_marker(dir, marker);
	if (st > 1)
		return st;
	bool have_marker = st == 0;
	snprintf(file, sizeof file, "%s/account-id.key", dir);
	if ((st = relay_data_dir_check_secret(file, r->cfg.data_dir_permissions)) != 0)
		return st;
	bool key_created = false;
	int rc = relay_identity_open_account_key(dir, r->identity.account_key, &key_created);
	if (rc != 0)
		return relay_start_failed(RELAY_EXIT_DATA,
					  "copy account-id.key from another relay of this database (32 bytes, mode 0600, owned by the relay's user)",
					  "%s is unusable: %s", file, id_strerror(rc));
	uint8_t fp[32];
	relay_identity_key_fingerprint(r->identity.account_key, fp);
	struct store_config sc = {
		.pg_conninfo = r->cfg.conninfo,
		.max_batch = r->cfg.max_batch,
		.mailbox_max_envelopes = r->cfg.mailbox_max_envelopes,
		.mailbox_max_bytes = r->cfg.mailbox_max_bytes,
		.mailbox_max_per_sender = r->cfg.mailbox_sender_max_envelopes,
		.expect_db_id = have_marker ? marker : NULL,
		.account_key_fp = fp,
		.account_key_new = key_created,
	};
	uint64_t deadline = relay_monotonic_ms() + SHARED_DB_START_WAIT_MS;
	uint64_t wait_ms = SHARED_DB_RETRY_FIRST_MS;
	for (int attempt = 1;; attempt++) {
		rc = store_open(&r->store, r->loop, &sc);
		if (rc != STORE_EIO || relay_monotonic_ms() + wait_ms > deadline)
			break;
		RLOG_WARN("storage", "database_unreachable", "database=\"%s\" attempt=%d retry_ms=%llu",
			  where, attempt, (unsigned long long)wait_ms);
		struct timespec ts = { (time_t)(wait_ms / 1000), (long)(wait_ms % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		wait_ms = wait_ms * 2 > SHARED_DB_RETRY_MAX_MS ? SHARED_DB_RETRY_MAX_MS : wait_ms * 2;
	}
	if (rc != 0) {
		if (key_created)
			unlink(file); /* ours, made just now: the directory stays as it was */
		return shared_storage_refused(where, rc);
	}
	if (key_created)
		RLOG_INFO("identity", "account_key_created", "path=%s", file);
	if (!have_marker) {
		uint8_t id[RELAY_DB_ID_BYTES];
		store_db_id(r->store, id);
		if ((st = relay_data_dir_write_marker(dir, id)) != 0)
			return st;
	}
	/* Connections off the writer: one for the loop thread's rate buckets (one statement at a
	 * time), a few for blob bytes on the threadpool (libuv's is 4 threads by default). */
	if (store_aux_open(r->store, 1, &r->aux_loop) != 0 ||
	    store_aux_open(r->store, 4, &r->aux_blobs) != 0)
		return relay_start_failed(RELAY_EXIT_RUNTIME, "give the relay more memory",
					  "out of memory");
	RLOG_INFO("storage", "database_open", "engine=postgresql database=\"%s\" created=%s", where,
		  store_created(r->store) ? "yes" : "no");
	return 0;
}

/* The account-id key, the database and the marker that ties the directory to that database
 * (spec/storage.md §2a): a directory that held a database never starts with another or an empty
 * one, and a key never meets a database of another key. Returns 0 or the exit status after
 * relay_start_failed; on failure the directory is left as it was. */
static int open_data(struct relay *r)
{
	if (r->cfg.engine == RELAY_ENGINE_POSTGRESQL)
		return open_shared_data(r);
	const char *dir = r->cfg.data_dir;
	int perms = r->cfg.data_dir_permissions;
	char db_path[RELAY_CONFIG_PATH_MAX + 8], file[RELAY_CONFIG_PATH_MAX + 32], why[600];
	snprintf(db_path, sizeof db_path, "%s/db", dir);
	uint8_t marker[RELAY_DB_ID_BYTES];
	int st = relay_data_dir_read_marker(dir, marker);
	if (st > 1)
		return st;
	bool have_marker = st == 0;

	int rc = store_check_file(db_path, why, sizeof why);
	if (rc == STORE_ENOTFOUND && have_marker)
		return relay_start_failed(RELAY_EXIT_DATA,
					  "restore db/data.mdb from a backup of this data directory; to start an empty relay on purpose, give it a new data_dir",
					  "%s/data.mdb is missing, but %s/database-id says this directory holds a database",
					  db_path, dir);
	if (rc != 0 && rc != STORE_ENOTFOUND)
		return relay_start_failed(rc == STORE_EACCES ? RELAY_EXIT_CONFIG : RELAY_EXIT_DATA,
					  "restore the data directory from a backup (docs/operations.md)",
					  "%s", why);
	snprintf(file, sizeof file, "%s/data.mdb", db_path);
	if ((st = relay_data_dir_check_secret(db_path, perms)) != 0 ||
	    (st = relay_data_dir_check_secret(file, perms)) != 0)
		return st;
	snprintf(file, sizeof file, "%s/account-id.key", dir);
	if ((st = relay_data_dir_check_secret(file, perms)) != 0)
		return st;

	bool key_created = false;
	rc = relay_identity_open_account_key(dir, r->identity.account_key, &key_created);
	if (rc != 0)
		return relay_start_failed(RELAY_EXIT_DATA,
					  "restore account-id.key from the backup of this data directory (32 bytes, mode 0600, owned by the relay's user)",
					  "%s is unusable: %s", file, id_strerror(rc));
	uint8_t fp[32];
	relay_identity_key_fingerprint(r->identity.account_key, fp);
	struct store_config sc = {
		.path = db_path,
		.map_size_initial = (size_t)r->cfg.map_size_initial_mb << 20,
		.map_size_max = (size_t)r->cfg.map_size_max_mb << 20,
		.max_batch = r->cfg.max_batch,
		.mailbox_max_envelopes = r->cfg.mailbox_max_envelopes,
		.mailbox_max_bytes = r->cfg.mailbox_max_bytes,
		.mailbox_max_per_sender = r->cfg.mailbox_sender_max_envelopes,
		.expect_db_id = have_marker ? marker : NULL,
		.account_key_fp = fp,
		.account_key_new = key_created,
	};
	rc = store_open(&r->store, r->loop, &sc);
	if (rc != 0) {
		if (key_created)
			unlink(file); /* ours, made just now: the directory stays as it was */
		return storage_refused(db_path, rc);
	}
	RLOG_INFO("storage", "page_cache", "mode=%s", store_page_cache_mode(r->store));
	if (key_created)
		RLOG_INFO("identity", "account_key_created", "path=%s", file);
	if (!have_marker) {
		uint8_t id[RELAY_DB_ID_BYTES];
		store_db_id(r->store, id);
		if ((st = relay_data_dir_write_marker(dir, id)) != 0)
			return st;
		if (store_created(r->store))
			RLOG_INFO("storage", "database_created", "path=%s", db_path);
		else
			RLOG_WARN("storage", "database_marker_written",
				  "path=%s/database-id note=\"this directory's database is now recorded; it will not start with another\"",
				  dir);
	}
	return 0;
}

/* The configured certificate, or with --dev the development certificate (generated once in the
 * data directory). Without --dev a certificate is required (relay_config_check_tls). Returns 0
 * or the exit status after relay_start_failed. */
static int prepare_tls(struct relay *r)
{
	if (!r->cfg.tls) {
		/* relay_config_check_tls allowed this only on a loopback listen address. */
		RLOG_INFO("tls", "off", "note=\"plain HTTP on a loopback address; the reverse proxy in front terminates TLS\"");
		return 0;
	}
	if (r->cfg.tls_cert[0]) {
		snprintf(r->tls_cert, sizeof r->tls_cert, "%s", r->cfg.tls_cert);
		snprintf(r->tls_key, sizeof r->tls_key, "%s", r->cfg.tls_key);
		const char *files[2] = { r->tls_cert, r->tls_key };
		for (int i = 0; i < 2; i++)
			if (access(files[i], R_OK) != 0)
				return relay_start_failed(RELAY_EXIT_CONFIG,
							  "correct tls_cert and tls_key, or make the files readable by the relay's user",
							  "%s %s cannot be read: %s", i ? "tls_key" : "tls_cert",
							  files[i], strerror(errno));
		return 0;
	}
	if (!r->cfg.dev_mode)
		return relay_start_failed(RELAY_EXIT_CONFIG, "configure tls_cert and tls_key",
					  "no certificate: tls_cert and tls_key are required without --dev");
	char err[256];
	int created = 0;
	if (relay_dev_cert_ensure(r->cfg.data_dir, r->tls_cert, r->tls_key, sizeof r->tls_cert,
				  &created, err, sizeof err) != 0)
		return relay_start_failed(RELAY_EXIT_CONFIG, "make data_dir writable by the relay's user",
					  "%s", err);
	int st = relay_data_dir_check_secret(r->tls_key, r->cfg.data_dir_permissions);
	if (st)
		return st;
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

/* Every start and every reload is a configuration load: the audit log records which configuration (its hash) and
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

/* lws (4.1) logs a failed bind and runs on without a listener; binding the address ourselves
 * first turns a port in use into a failed start. The probe is closed before lws binds. Returns 0
 * or the exit status after relay_start_failed. */
static int probe_port(const struct relay_config *cfg)
{
	if (cfg->port == 0)
		return 0;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port) };
	const char *addr = cfg->listen[0] ? cfg->listen : "0.0.0.0";
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return 0; /* a host or interface name: lws resolves it */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	int e = errno;
	close(fd);
	if (rc == 0)
		return 0;
	if (e == EADDRINUSE)
		return relay_start_failed(RELAY_EXIT_IN_USE,
					  "stop the process that holds the port (ss -ltnp), or configure another port",
					  "%s:%d is already in use", addr, cfg->port);
	return relay_start_failed(RELAY_EXIT_CONFIG, "correct listen and port",
				  "cannot listen on %s:%d: %s", addr, cfg->port, strerror(e));
}

/* Creates the lws context on our loop: HTTP and wakks.v1 on one TLS port. Returns the port it
 * listens on, or -1 after logging why. */
static int start_lws(struct relay *r, uv_loop_t *loop)
{
	relay_protocols[0] = (struct lws_protocols){ "http", relay_http_callback,
						     relay_http_pss_size(), 0, 0, NULL, 0 };
	/* rx_buffer_size and tx_packet_size: net/ws.h says why these sizes. */
	relay_protocols[1] = (struct lws_protocols){ RELAY_SUBPROTOCOL, relay_ws_callback,
						     relay_ws_pss_size(), RELAY_WS_RX_BUFFER_BYTES, 0,
						     NULL, RELAY_WS_TX_PACKET_BYTES };
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
	const char *unix_path = relay_listen_unix_path(r->cfg.listen);
	if (unix_path) {
		/* The socket file is made 0660 once created (below): the relay's user and group reach
		 * it, and the proxy's user joins that group (docs/deployment.md). */
		info.options |= LWS_SERVER_OPTION_UNIX_SOCK;
		info.iface = unix_path;
		info.port = 0; /* a port given with a socket path makes lws 4.1 not create the socket */
	}
	info.protocols = relay_protocols;
	info.mounts = build_mounts(&r->cfg);
	if (r->cfg.tls) {
		info.ssl_cert_filepath = r->tls_cert;
		info.ssl_private_key_filepath = r->tls_key;
	}
	/* TLS 1.2 and newer only, and in TLS 1.2 only ECDHE with an AEAD: CBC suites are the ones
	 * with padding-oracle and Lucky13 history, and static RSA has no forward secrecy. Every TLS
	 * 1.3 suite is an AEAD with ECDHE already. */
	info.ssl_options_set = SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
	info.ssl_cipher_list = RELAY_TLS12_CIPHERS;
	/* Security headers on every HTTP answer; the policy the web client runs under. */
	info.headers = relay_http_canned_headers();
	r->http_csp = relay_http_csp_build(&r->cfg);
	if (!r->http_csp) {
		RLOG_ERROR("relay", "out_of_memory", "what=content_security_policy");
		return -1;
	}
	info.user = r;
	info.timeout_secs = 20;

	relay_lws_log_setup(r->cfg.log_level);
	r->lws = lws_create_context(&info);
	if (!r->lws) {
		relay_start_failed(RELAY_EXIT_CONFIG,
				   "check tls_cert and tls_key (a PEM certificate and its key), listen and port",
				   "the TLS listener could not be created on port %d", r->cfg.port);
		return -1;
	}
	/* A peer that disconnects mid-write must cost an error return, never the process; set after
	 * the context because its event library installs signal handling of its own. */
	signal(SIGPIPE, SIG_IGN);
	if (unix_path && chmod(unix_path, 0660) != 0) {
		relay_start_failed(RELAY_EXIT_CONFIG, "make the socket's directory writable by the relay's user",
				   "the unix socket %s could not be created: %s", unix_path, strerror(errno));
		return -1;
	}
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

/* The handles relay_stop closes exist from the first line of relay_start on, so that a start
 * that fails anywhere stops on the same path as a running relay. */
static void init_handles(struct relay *r, uv_loop_t *loop)
{
	uv_signal_init(loop, &r->sigint);
	uv_signal_init(loop, &r->sigterm);
	uv_signal_init(loop, &r->sighup);
	r->sigint.data = r->sigterm.data = r->sighup.data = r;
	uv_timer_init(loop, &r->shutdown_timer);
	r->shutdown_timer.data = r;
	uv_timer_init(loop, &r->watchdog_timer);
	r->watchdog_timer.data = r;
	relay_ws_flush_init(r, loop);
}

static void start_signals_and_timers(struct relay *r)
{
	uv_signal_start(&r->sigint, on_signal, SIGINT);
	uv_signal_start(&r->sigterm, on_signal, SIGTERM);
	uv_signal_start(&r->sighup, on_sighup, SIGHUP);
	relay_housekeeping_start(r);
	r->running = true;
}

/* The monitoring listener (admin_listen): bound before the public port, so that a supervisor sees
 * a port in use as a failed start rather than a relay without monitoring. Returns 0 or the exit
 * status after relay_start_failed. */
static int start_admin(struct relay *r)
{
	char host[RELAY_CONFIG_STR_MAX];
	int port;
	if (relay_admin_listen_parse(r->cfg.admin_listen, host, sizeof host, &port) != 0)
		return 0; /* off (a malformed value was refused with the configuration) */
	int rc = relay_admin_start(r, host, port, relay_admin_route);
	if (rc == UV_EADDRINUSE)
		return relay_start_failed(RELAY_EXIT_IN_USE,
					  "stop the process that holds the port (ss -ltnp), or configure another admin_listen",
					  "admin_listen %s is already in use", r->cfg.admin_listen);
	if (rc != 0)
		return relay_start_failed(RELAY_EXIT_CONFIG, "correct admin_listen",
					  "cannot listen on admin_listen %s: %s", r->cfg.admin_listen,
					  uv_strerror(rc));
	RLOG_INFO("relay", "admin_listening", "port=%d address=%s", r->admin_port, host);
	return 0;
}

/* Every step up to listening; returns 0 or the exit status after relay_start_failed. */
static int start_steps(struct relay *r, uv_loop_t *loop, int *port)
{
	int st;
	if (alloc_scratch(r) != 0)
		return relay_start_failed(RELAY_EXIT_RUNTIME, "give the relay more memory",
					  "out of memory");
	if ((st = relay_data_dir_open(r->cfg.data_dir, r->cfg.data_dir_permissions,
				      &r->data_dir_lock)) != 0 ||
	    (st = prepare_tls(r)) != 0 || (st = open_data(r)) != 0)
		return st;
	/* Memberships the configuration no longer allows end with this start, durably before the
	 * first connection is accepted (spec/identity.md §9). */
	(void)relay_membership_start(r);
	relay_cluster_start(r);
	if (blob_store_init(r) != 0)
		return relay_start_failed(RELAY_EXIT_CONFIG, "make data_dir writable by the relay's user",
					  "%s/blobs cannot be created: %s", r->cfg.data_dir,
					  strerror(errno));
	if ((st = probe_port(&r->cfg)) != 0)
		return st;
	if ((st = start_admin(r)) != 0)
		return st;
	*port = start_lws(r, loop);
	if (*port < 0)
		return RELAY_EXIT_CONFIG;
	if (start_identity_and_consent(r, *port) != 0)
		return relay_start_failed(RELAY_EXIT_CONFIG,
					  "correct the identity provider or consent settings named above",
					  "identity providers or consent texts could not be loaded");
	if (relay_webhook_start(r) != 0)
		return relay_start_failed(RELAY_EXIT_CONFIG, "correct the tenant's webhook settings named above",
					  "a webhook secret could not be loaded");
	if (relay_push_start(r) != 0)
		return relay_start_failed(RELAY_EXIT_CONFIG, "correct the [push] settings named above",
					  "push credentials could not be loaded");
	return 0;
}

int relay_start(struct relay *r, uv_loop_t *loop)
{
	r->loop = loop;
	r->started_ms = relay_monotonic_ms();
	r->data_dir_lock = -1;
	relay_log_threshold = (enum relay_log_level)r->cfg.log_level;
	relay_log_format = (enum relay_log_format)r->cfg.log_format;
	signal(SIGPIPE, SIG_IGN);
	/* A write beyond the file size limit (RLIMIT_FSIZE) must fail with EFBIG, which is "storage
	 * full", not end the process (SIGXFSZ's default action). */
	signal(SIGXFSZ, SIG_IGN);
	/* A reload asked for while the relay is still starting must not end it (the default action
	 * of SIGHUP); it is handled once the relay runs. */
	signal(SIGHUP, SIG_IGN);
	init_handles(r, loop);

	int port = 0;
	int st = start_steps(r, loop, &port);
	if (st != 0) {
		r->exit_status = st;
		return -1;
	}
	start_signals_and_timers(r);
	relay_readiness_probe(r); /* ready as soon as the first commit comes back */

	if (r->cfg.dev_mode)
		RLOG_WARN("relay", "development_mode",
			  "note=\"development identity provider and demo tenant enabled; never use in production\"");
	RLOG_INFO("relay", "listening", "port=%d address=%s tls=%s version=%s", port,
		  r->cfg.listen[0] ? r->cfg.listen : "*", r->cfg.tls ? "on" : "off",
		  WAKKS_BUILD_VERSION);
	notify_ready(r, port);
	return 0;
}

static void finish_stop(struct relay *r)
{
	uv_timer_stop(&r->shutdown_timer);
	uv_close((uv_handle_t *)&r->shutdown_timer, NULL);
	uv_timer_stop(&r->watchdog_timer);
	uv_close((uv_handle_t *)&r->watchdog_timer, NULL);
	if (r->running)
		relay_housekeeping_stop(r);
	uv_signal_stop(&r->sigint);
	uv_signal_stop(&r->sigterm);
	uv_signal_stop(&r->sighup);
	relay_admin_stop(r);
	/* Stopping is under way: a repeated signal (a supervisor's, or a second Ctrl-C) during the
	 * last commits and the close of the environment must not end the process with a signal
	 * instead of status 0. SIGKILL still ends a teardown that hangs. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN); /* a reload asked for while stopping has nothing left to change */
	uv_close((uv_handle_t *)&r->sigint, NULL);
	uv_close((uv_handle_t *)&r->sigterm, NULL);
	uv_close((uv_handle_t *)&r->sighup, NULL);
	if (r->lws)
		lws_context_destroy(r->lws);
	relay_ws_flush_close(r);
	relay_push_stop(r);
	relay_webhook_stop(r);
	relay_identity_stop(r);
	relay_consent_stop(r);
	blob_store_stop(r);
	/* Completes every write already submitted before closing the environment. */
	store_close(r->store);
	r->store = NULL;
	relay_blob_busy_free(r);
	free(r->scratch);
	free(r->rx_frame);
	free(r->tx_frame);
	free(r->tx_buf);
	free(r->http_csp);
	r->http_csp = NULL;
	r->rx_frame = r->tx_frame = NULL;
	r->scratch = NULL;
	r->tx_buf = NULL;
	/* The data directory's lock is released last: another relay may start on it once nothing
	 * here touches it any more. */
	if (r->data_dir_lock >= 0)
		close(r->data_dir_lock);
	r->data_dir_lock = -1;
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
	/* The service manager waits for the process to exit from here on, instead of taking the
	 * time the connections need to close for a hang. */
	if (relay_sd_notify("STOPPING=1") < 0)
		RLOG_WARN("relay", "sd_notify_failed", "what=stopping error=\"%s\"", strerror(errno));
	r->stop_deadline_ms = relay_monotonic_ms() + r->cfg.shutdown_grace_ms;
	RLOG_INFO("relay", "stopping", "connections=%llu", (unsigned long long)r->conn_count);
	for (struct relay_conn *c = r->conns; c; c = c->next)
		relay_conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY, "relay shutting down");
	uv_timer_start(&r->shutdown_timer, on_shutdown_poll, 0, SHUTDOWN_POLL_MS);
}
