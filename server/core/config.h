/* SPDX-License-Identifier: MPL-2.0 */
/* The relay's configuration: embedded defaults, overridden by an optional INI-style file
 * (format in docs/configuration.md). Every key is validated; the first error names file, line and
 * key, and the relay exits with status 2. */
#ifndef WAKKS_RELAY_CORE_CONFIG_H
#define WAKKS_RELAY_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config_push.h"
#include "core/proxy_addr.h"

#define RELAY_CONFIG_PATH_MAX 1024
#define RELAY_CONFIG_STR_MAX 256
/* A libpq connection string: a multi-host list of a few nodes with its options fits easily. */
#define RELAY_CONFIG_CONNINFO_MAX 2048
/* Bounds on configured objects: the directory frames list them all in one reply. */
#define RELAY_MAX_TENANTS 128
#define RELAY_MAX_UNITS_PER_TENANT 32
#define RELAY_MAX_IDPS 64
#define RELAY_MAX_GROUP_MAPS 8

/* The consent text a citizen is shown (spec/consent.md §1). */
struct relay_consent_text_config {
	bool set;
	char version[33];
	char text_file[RELAY_CONFIG_PATH_MAX];
	char language[9];
};

struct relay_unit_config {
	char id[64];
	char name[RELAY_CONFIG_STR_MAX];
	/* Caseworkers whose group claim holds any of these values are members of the unit. */
	char groups[RELAY_MAX_GROUP_MAPS][RELAY_CONFIG_STR_MAX];
	int group_count;
	struct relay_consent_text_config consent; /* optional: narrows the tenant's text */
};

struct relay_tenant_config {
	char id[64];
	char name[RELAY_CONFIG_STR_MAX];
	char cvr[16];
	/* What kind of public authority and how much of it uses the relay (docs/configuration.md):
	 * a municipality or a region; "light" (only the units listed) or "full" (all of it). */
	enum relay_tenant_kind { RELAY_TENANT_MUNICIPALITY, RELAY_TENANT_REGION } kind;
	enum relay_tenant_scope { RELAY_TENANT_LIGHT, RELAY_TENANT_FULL } scope;
	char source_file[RELAY_CONFIG_PATH_MAX]; /* the tenants.d file it came from, "" if none */
	char idps[RELAY_MAX_GROUP_MAPS][64]; /* ids of the identity providers it trusts */
	int idp_count;
	int idps_line; /* line of the `idps` key in the file, 0 when not from a file */
	struct relay_unit_config units[RELAY_MAX_UNITS_PER_TENANT];
	int unit_count;
	/* UPNs (from the tenant's caseworker provider) that register as the tenant's journal device. */
	char journal_upns[RELAY_MAX_GROUP_MAPS][RELAY_CONFIG_STR_MAX];
	int journal_upn_count;
	/* The fallback webhook (spec/push.md §7): called when a unit's message to a citizen waits
	 * unread this long. Empty url: none. */
	char webhook_url[RELAY_CONFIG_STR_MAX];
	char webhook_secret_file[RELAY_CONFIG_PATH_MAX];
	uint32_t webhook_after_seconds;
	struct relay_consent_text_config consent;
	/* Branding the web client shows (docs/configuration.md): the name citizens read, a logo file
	 * the relay serves at /branding/ID/logo, and a colour ("#rrggbb", contrast >= 4.5:1 on white,
	 * since buttons carry white text on it). Empty when not set. */
	char display_name[RELAY_CONFIG_STR_MAX];
	char logo[RELAY_CONFIG_PATH_MAX];
	char colour[8];
	/* Published to clients (GET /tenant/ID, spec/client.md §18). Zeroed means the defaults:
	 * history for new unit devices of RELAY_DEFAULT_HISTORY_DAYS, read receipts on. */
	bool history_days_set;
	uint32_t history_days;    /* 0..RELAY_MAX_HISTORY_DAYS when set */
	bool read_receipts_off;
};

#define RELAY_DEFAULT_HISTORY_DAYS 30u
#define RELAY_MAX_HISTORY_DAYS 365u
/* The tenant's history_days setting, its default when not set. */
uint32_t relay_tenant_history_days(const struct relay_tenant_config *t);

enum relay_idp_kind { RELAY_IDP_CITIZEN, RELAY_IDP_CASEWORKER };
enum relay_idp_profile { RELAY_IDP_PROFILE_MITID_BROKER, RELAY_IDP_PROFILE_ADFS,
			 RELAY_IDP_PROFILE_ENTRA };
/* How the relay authenticates at the provider's token endpoint when it completes the code exchange
 * for clients (spec/identity.md §2.3); NONE: clients are public and exchange the code themselves. */
enum relay_idp_client_auth { RELAY_IDP_AUTH_NONE, RELAY_IDP_AUTH_SECRET_BASIC,
			     RELAY_IDP_AUTH_PRIVATE_KEY_JWT };
#define RELAY_CONFIG_URL_MAX 520

struct relay_idp_config {
	char id[64];
	char issuer[RELAY_CONFIG_STR_MAX];
	char audience[RELAY_CONFIG_STR_MAX];
	char jwks_file[RELAY_CONFIG_PATH_MAX];
	char algs[64]; /* comma-separated allowlist, e.g. "RS256,ES256" */
	enum relay_idp_kind kind;
	enum relay_idp_profile profile;
	bool development; /* the built-in development provider; only with --dev */
	/* Keys and metadata over HTTPS (docs/identity-providers.md): the discovery document's URL
	 * and/or the key set's; ca_file trusts a PEM bundle instead of the system store. */
	char discovery[RELAY_CONFIG_URL_MAX];
	char jwks_url[RELAY_CONFIG_URL_MAX];
	char ca_file[RELAY_CONFIG_PATH_MAX];
	/* Claim names and the person identifier's type, overriding the profile's defaults. */
	char person_claim[64];
	int person_type; /* 0 = profile default; else id_person_type */
	char assurance_claim[64];
	char groups_claim[64];
	char entra_tenant[64]; /* Entra ID: the tid tokens must carry */
	/* What clients are told to ask for (spec/identity.md §2.3). */
	char display_name[RELAY_CONFIG_STR_MAX];
	char scopes[RELAY_CONFIG_STR_MAX];     /* space-separated; default "openid" */
	char acr_values[RELAY_CONFIG_STR_MAX]; /* space-separated, may be empty */
	enum relay_idp_client_auth client_auth;
	char client_secret_file[RELAY_CONFIG_PATH_MAX];
	char client_key_file[RELAY_CONFIG_PATH_MAX]; /* private JWK (RSA or P-256) for private_key_jwt */
	char client_key_id[128];                     /* kid of that key as registered at the provider */
};

struct relay_config {
	/* [relay] */
	char listen[RELAY_CONFIG_STR_MAX];
	int port;
	char data_dir[RELAY_CONFIG_PATH_MAX];
	char tls_cert[RELAY_CONFIG_PATH_MAX];
	char tls_key[RELAY_CONFIG_PATH_MAX];
	char web_root[RELAY_CONFIG_PATH_MAX];
	char public_url[RELAY_CONFIG_STR_MAX];
	int log_level;
	int log_format; /* enum relay_log_format */
	int data_dir_permissions; /* enum relay_permissions */
	/* Where /metrics, /healthz and /readyz are served, off the public port: "HOST:PORT", or
	 * "off" (server/pipeline/admin_routes.c). */
	char admin_listen[RELAY_CONFIG_STR_MAX];
	/* A directory of tenant files, one [tenant] with its units and consent each (*.conf, read
	 * in name order after this file; core/tenant_files.c). "" = none. */
	char tenants_dir[RELAY_CONFIG_PATH_MAX];
	/* 0 (`tls = off`): plain HTTP for a reverse proxy on this machine that terminates TLS; only
	 * with a loopback or unix-socket listen address (relay_config_check_tls). */
	int tls;
	/* Peers whose proxy_header names the client (core/proxy_addr.h). */
	struct relay_cidr trusted_proxies[RELAY_MAX_TRUSTED_PROXIES];
	int trusted_proxy_count;
	int proxy_header; /* enum relay_proxy_header */
	/* [limits] */
	uint32_t max_frame_bytes;
	uint32_t unauth_timeout_ms;
	uint32_t max_connections_per_address;
	uint32_t requests_per_second;
	uint32_t request_burst;
	/* Before authentication a connection has done nothing to be trusted with: smaller frames, a
	 * slower token bucket, and one budget for the reassembly memory of all such connections. */
	uint32_t unauth_max_frame_bytes;
	uint32_t unauth_requests_per_second;
	uint32_t unauth_request_burst;
	uint32_t unauth_buffer_max_bytes;
	uint32_t send_queue_max_bytes;
	uint32_t max_inflight_deliveries; /* unacknowledged deliver frames per connection */
	uint32_t mailbox_max_envelopes;
	uint64_t mailbox_max_bytes;
	uint32_t mailbox_sender_max_envelopes; /* envelopes from one sender account in one mailbox */
	uint32_t envelope_ttl_seconds;
	uint32_t prekeys_low_watermark;
	uint32_t bundle_fetches_per_minute; /* per requesting device */
	uint32_t sends_per_minute;          /* per sending device */
	uint32_t shutdown_grace_ms;
	uint64_t blob_max_bytes;       /* largest attachment blob accepted */
	uint64_t blob_quota_bytes;     /* bytes of blobs one account may hold at once */
	uint32_t blob_orphan_seconds;  /* an upload not referenced by a send is deleted after this */
	/* A caseworker device's ID token vouches for its groups this long; then it re-attests
	 * (spec/identity.md §9) before it may write to or look up citizens again. */
	uint32_t caseworker_attestation_seconds;
	/* [storage] */
	uint64_t map_size_initial_mb;
	uint64_t map_size_max_mb;
	uint32_t storage_warn_percent; /* warn when the map or the disk is this full */
	uint32_t max_batch;
	/* enum relay_storage_engine; with RELAY_ENGINE_POSTGRESQL, conninfo is the libpq connection
	 * string of the database every relay of the service shares (core/storage_config.h). It may
	 * hold a password: it is never logged whole. */
	int engine;
	char conninfo[RELAY_CONFIG_CONNINFO_MAX];
	/* [tenant ID], [unit TENANT/UNIT], [idp ID] */
	struct relay_tenant_config tenants[RELAY_MAX_TENANTS];
	int tenant_count;
	struct relay_idp_config idps[RELAY_MAX_IDPS];
	int idp_count;
	/* [push], [push.app.NAME] (core/config_push.h) */
	struct relay_push_config push;
	/* From the command line only, never from a file: a production file cannot turn it on. */
	bool dev_mode;
	/* The file last loaded ("" without one): relay_config_check names it with the line of the
	 * key that contradicts another. */
	char file[RELAY_CONFIG_PATH_MAX];
	/* SHA-256 of the configuration file's bytes (zero without a file), for the audit log. */
	uint8_t file_sha256[32];
};

/* Where the relay keeps its data: the embedded LMDB file in data_dir (one relay), or a PostgreSQL
 * database that several relays share. */
enum relay_storage_engine { RELAY_ENGINE_LMDB, RELAY_ENGINE_POSTGRESQL };

/* What the relay does about a data directory or secret file that group or others can access. */
enum relay_permissions { RELAY_PERMISSIONS_STRICT, RELAY_PERMISSIONS_WARN };

/* Fills `cfg` with the embedded defaults. */
void relay_config_defaults(struct relay_config *cfg);

/* Adds the demo tenant and the development identity providers (for --dev). */
void relay_config_add_dev_defaults(struct relay_config *cfg);

/* Every mistake of a configuration is reported in one run: err receives one line per error
 * ('\n' between them), at most this many (a main file with a hundred tenant files, each with the
 * same mistake, still shows them all). */
#define RELAY_CONFIG_ERRORS_MAX 200

/* Reads `path` over the current values. On error returns -1 and writes to `err` one line per
 * error, each naming file, line and key; the lines after an error are still read. */
int relay_config_load(struct relay_config *cfg, const char *path, char *err, size_t err_len);

/* Checks relations between keys after loading (e.g. unit groups, tenant idps exist). On error
 * returns -1 and writes every failed check to `err`, one line each. */
int relay_config_check(const struct relay_config *cfg, char *err, size_t err_len);

/* What running the relay needs beyond relay_config_check (the operator commands do not serve
 * TLS): without --dev, tls_cert and tls_key. Returns 0, or -1 with the reason appended to err
 * as a line of its own (after what relay_config_check wrote there). */
int relay_config_check_tls(const struct relay_config *cfg, char *err, size_t err_len);

/* Reads one tenant file (tenants.d): exactly one [tenant ID] section with its [unit ID/..] and
 * [consent ID..] sections, nothing else; a tenant already defined is refused. Errors as
 * relay_config_load, appended to what err holds. Returns 0 or -1. */
int relay_config_load_tenant_file(struct relay_config *cfg, const char *path, char *err,
				  size_t err_len);

/* True when cvr is 8 digits whose weighted sum (2,7,6,5,4,3,2,1) is a multiple of 11, as the
 * Danish CVR register assigns them. */
bool relay_cvr_valid(const char *cvr);

const struct relay_tenant_config *relay_config_tenant(const struct relay_config *cfg,
						      const char *id);
const struct relay_idp_config *relay_config_idp(const struct relay_config *cfg, const char *id);

/* A tenant's logo is served from memory-sized reads: larger files are a configuration error. */
#define RELAY_LOGO_MAX_BYTES (256 * 1024)

/* The contrast ratio (WCAG 2.1) of white on the colour "#rrggbb", or -1 when it is not one. */
double relay_colour_contrast_on_white(const char *hex);

/* "image/png" or "image/svg+xml" by the logo's file name; NULL for any other file. */
const char *relay_logo_media_type(const char *path);

#endif
