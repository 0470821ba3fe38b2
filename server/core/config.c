/* SPDX-License-Identifier: MPL-2.0 */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "core/log.h"
#include "core/storage_config.h"
#include "wakks_identity.h"
#include "wakks_protocol.h"

/* A config line longer than this is refused rather than silently cut. */
#define CONFIG_LINE_MAX 2048

enum key_type { KEY_STR, KEY_PATH, KEY_U32, KEY_U64, KEY_PORT, KEY_LOGLEVEL, KEY_LOGFORMAT,
		KEY_PERMISSIONS, KEY_ONOFF, KEY_PROXIES, KEY_PROXY_HEADER, KEY_ENGINE,
		KEY_CONNINFO };

struct key_spec {
	const char *section;
	const char *name;
	enum key_type type;
	size_t offset;
	size_t size;	   /* for strings: buffer size */
	uint64_t min, max; /* for numbers */
};

#define STR(sec, key, kind) { sec, #key, kind, offsetof(struct relay_config, key), \
			      sizeof(((struct relay_config *)0)->key), 0, 0 }
#define NUM(sec, key, kind, lo, hi) { sec, #key, kind, offsetof(struct relay_config, key), \
				      sizeof(((struct relay_config *)0)->key), lo, hi }

static const struct key_spec relay_keys[] = {
	STR("relay", listen, KEY_STR),
	NUM("relay", port, KEY_PORT, 0, 65535),
	STR("relay", data_dir, KEY_PATH),
	STR("relay", tls_cert, KEY_PATH),
	STR("relay", tls_key, KEY_PATH),
	STR("relay", web_root, KEY_PATH),
	STR("relay", public_url, KEY_STR),
	NUM("relay", log_level, KEY_LOGLEVEL, 0, 3),
	NUM("relay", log_format, KEY_LOGFORMAT, 0, 1),
	STR("relay", admin_listen, KEY_STR),
	STR("relay", tenants_dir, KEY_PATH),
	NUM("relay", data_dir_permissions, KEY_PERMISSIONS, 0, 1),
	NUM("relay", tls, KEY_ONOFF, 0, 1),
	STR("relay", trusted_proxies, KEY_PROXIES),
	NUM("relay", proxy_header, KEY_PROXY_HEADER, 0, 1),
	NUM("limits", max_frame_bytes, KEY_U32, 1024, 1u << 20),
	NUM("limits", unauth_timeout_ms, KEY_U32, 100, 600000),
	NUM("limits", max_connections_per_address, KEY_U32, 1, 1000000),
	NUM("limits", requests_per_second, KEY_U32, 1, 1000000),
	NUM("limits", request_burst, KEY_U32, 1, 1000000),
	NUM("limits", unauth_max_frame_bytes, KEY_U32, 1024, 1u << 20),
	NUM("limits", unauth_requests_per_second, KEY_U32, 1, 1000000),
	NUM("limits", unauth_request_burst, KEY_U32, 1, 1000000),
	NUM("limits", unauth_buffer_max_bytes, KEY_U32, 65536, 1u << 30),
	NUM("limits", send_queue_max_bytes, KEY_U32, 65536, 1u << 30),
	NUM("limits", max_inflight_deliveries, KEY_U32, 1, 4096),
	NUM("limits", mailbox_max_envelopes, KEY_U32, 1, 100000000),
	NUM("limits", mailbox_max_bytes, KEY_U64, 1024, 1ull << 40),
	NUM("limits", mailbox_sender_max_envelopes, KEY_U32, 1, 100000000),
	NUM("limits", envelope_ttl_seconds, KEY_U32, 1, 366u * 86400),
	NUM("limits", bundle_fetches_per_minute, KEY_U32, 1, 1000000),
	NUM("limits", sends_per_minute, KEY_U32, 1, 1000000),
	NUM("limits", prekeys_low_watermark, KEY_U32, 0, 10000),
	NUM("limits", shutdown_grace_ms, KEY_U32, 0, 60000),
	NUM("limits", blob_max_bytes, KEY_U64, 1, 1ull << 30),
	NUM("limits", blob_quota_bytes, KEY_U64, 1, 1ull << 40),
	NUM("limits", blob_orphan_seconds, KEY_U32, 1, 7u * 86400),
	NUM("limits", caseworker_attestation_seconds, KEY_U32, 1, 7u * 86400),
	NUM("storage", map_size_initial_mb, KEY_U64, 1, 1ull << 24),
	NUM("storage", map_size_max_mb, KEY_U64, 1, 1ull << 24),
	NUM("storage", max_batch, KEY_U32, 1, 100000),
	NUM("storage", storage_warn_percent, KEY_U32, 1, 100),
	NUM("storage", engine, KEY_ENGINE, 0, 1),
	STR("storage", conninfo, KEY_CONNINFO),
};

void relay_config_defaults(struct relay_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	snprintf(cfg->listen, sizeof cfg->listen, "0.0.0.0");
	cfg->port = 8443;
	snprintf(cfg->data_dir, sizeof cfg->data_dir, "./var");
	/* The Prometheus port registered for exporters of this kind; loopback only by default. */
	snprintf(cfg->admin_listen, sizeof cfg->admin_listen, "127.0.0.1:9464");
	cfg->log_level = RELAY_LOG_INFO;
	cfg->tls = 1;
	cfg->max_frame_bytes = 1u << 20;
	cfg->unauth_timeout_ms = 600000;
	cfg->max_connections_per_address = 64;
	cfg->requests_per_second = 200;
	cfg->request_burst = 400;
	/* The largest legitimate pre-authentication frame is a `register` with a 16 KiB ID token
	 * and 100 one-time prekeys: about 21 KiB. */
	cfg->unauth_max_frame_bytes = 32u << 10;
	/* A client sends one `auth` or `register` per connection, and a few more after a failed
	 * login; each costs the relay a signature check. */
	cfg->unauth_requests_per_second = 1;
	cfg->unauth_request_burst = 5;
	/* 512 unauthenticated peers each halfway through a largest pre-authentication frame. */
	cfg->unauth_buffer_max_bytes = 16u << 20;
	cfg->send_queue_max_bytes = 4u << 20;
	cfg->max_inflight_deliveries = 64; /* spec/protocol.md §8.3 */
	cfg->mailbox_max_envelopes = 10000;
	cfg->mailbox_max_bytes = 256ull << 20;
	/* A tenth of a mailbox per sender account: ten senders must fill a unit member's mailbox
	 * together before an eleventh is refused. */
	cfg->mailbox_sender_max_envelopes = 1000;
	/* A sender sets up sessions once per device; thirty fetches a minute cover writing to a
	 * handful of units and colleagues, while bounding the one-time prekeys a device can spend. */
	cfg->bundle_fetches_per_minute = 30;
	/* A person types a few messages a minute; an application sending on their behalf (a journal
	 * bridge, a retry after reconnecting) bursts a little more. */
	cfg->sends_per_minute = 120;
	cfg->envelope_ttl_seconds = 30u * 86400;
	cfg->prekeys_low_watermark = 20;
	cfg->shutdown_grace_ms = 2000;
	relay_push_config_defaults(&cfg->push);
	cfg->blob_max_bytes = 25ull << 20;
	cfg->blob_quota_bytes = 200ull << 20;
	cfg->blob_orphan_seconds = 3600;
	cfg->caseworker_attestation_seconds = 12u * 3600;
	cfg->map_size_initial_mb = 64;
	cfg->map_size_max_mb = 1u << 16;
	cfg->max_batch = 1024;
	cfg->storage_warn_percent = 90;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

uint32_t relay_tenant_history_days(const struct relay_tenant_config *t)
{
	return t->history_days_set ? t->history_days : RELAY_DEFAULT_HISTORY_DAYS;
}

void relay_config_add_dev_defaults(struct relay_config *cfg)
{
	if (cfg->tenant_count == 0) {
		struct relay_tenant_config *t = &cfg->tenants[cfg->tenant_count++];
		copy_str(t->id, sizeof t->id, "varde");
		copy_str(t->name, sizeof t->name, "Varde Kommune");
		copy_str(t->cvr, sizeof t->cvr, "29189781");
		copy_str(t->idps[0], sizeof t->idps[0], "dev-mitid");
		copy_str(t->idps[1], sizeof t->idps[1], "dev-adfs");
		t->idp_count = 2;
		/* The development provider's journal user is the tenant's journal device. */
		copy_str(t->journal_upns[0], sizeof t->journal_upns[0], "journal@varde.dk");
		t->journal_upn_count = 1;
		struct relay_unit_config *u = &t->units[t->unit_count++];
		copy_str(u->id, sizeof u->id, "jobcenter");
		copy_str(u->name, sizeof u->name, "Jobcenter");
		copy_str(u->groups[0], sizeof u->groups[0], "varde-jobcenter");
		u->group_count = 1;
		u = &t->units[t->unit_count++];
		copy_str(u->id, sizeof u->id, "borgerservice");
		copy_str(u->name, sizeof u->name, "Borgerservice");
		copy_str(u->groups[0], sizeof u->groups[0], "varde-borgerservice");
		u->group_count = 1;
	}
	if (!relay_config_idp(cfg, "dev-mitid")) {
		struct relay_idp_config *p = &cfg->idps[cfg->idp_count++];
		copy_str(p->id, sizeof p->id, "dev-mitid");
		p->kind = RELAY_IDP_CITIZEN;
		p->profile = RELAY_IDP_PROFILE_MITID_BROKER;
		copy_str(p->audience, sizeof p->audience, "wakks-dev");
		copy_str(p->algs, sizeof p->algs, "ES256");
		p->development = true;
	}
	if (!relay_config_idp(cfg, "dev-adfs")) {
		struct relay_idp_config *p = &cfg->idps[cfg->idp_count++];
		copy_str(p->id, sizeof p->id, "dev-adfs");
		p->kind = RELAY_IDP_CASEWORKER;
		p->profile = RELAY_IDP_PROFILE_ADFS;
		copy_str(p->audience, sizeof p->audience, "wakks-dev");
		copy_str(p->algs, sizeof p->algs, "RS256");
		p->development = true;
	}
}

const struct relay_tenant_config *relay_config_tenant(const struct relay_config *cfg,
						      const char *id)
{
	for (int i = 0; i < cfg->tenant_count; i++)
		if (strcmp(cfg->tenants[i].id, id) == 0)
			return &cfg->tenants[i];
	return NULL;
}

const struct relay_idp_config *relay_config_idp(const struct relay_config *cfg, const char *id)
{
	for (int i = 0; i < cfg->idp_count; i++)
		if (strcmp(cfg->idps[i].id, id) == 0)
			return &cfg->idps[i];
	return NULL;
}

struct parse_ctx {
	const char *path;
	int line;
	char *err;
	size_t err_len;
	char section[16];
	char section_name[128];
	struct relay_tenant_config *tenant;
	struct relay_unit_config *unit;
	struct relay_idp_config *idp;
	struct relay_consent_text_config *consent;
	struct relay_push_config *push;         /* in [push] or [push.app.NAME] */
	struct relay_push_app_config *push_app; /* in [push.app.NAME] */
	bool skip_section; /* its header was refused: its keys would only repeat that error */
	bool tenant_file;  /* a tenants.d file: one tenant, its units and consent texts only */
	struct relay_tenant_config *file_tenant; /* that tenant, once its section was read */
};

/* A configuration with several mistakes gets all of them in one run (an operator fixing one per
 * restart would need as many restarts): each error is appended to err as a line of its own, up to
 * RELAY_CONFIG_ERRORS_MAX lines. Returns -1. */
static int report(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int report(char *err, size_t err_len, const char *fmt, ...)
{
	size_t used = strnlen(err, err_len);
	size_t lines = used ? 1 : 0;
	for (size_t i = 0; i < used; i++)
		lines += err[i] == '\n';
	if (lines >= RELAY_CONFIG_ERRORS_MAX || used + 2 >= err_len)
		return -1;
	if (used)
		err[used++] = '\n';
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err + used, err_len - used, fmt, ap);
	va_end(ap);
	return -1;
}

static int fail(struct parse_ctx *p, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct parse_ctx *p, const char *key, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (key)
		return report(p->err, p->err_len, "%s:%d: key '%s': %s", p->path, p->line, key, what);
	return report(p->err, p->err_len, "%s:%d: %s", p->path, p->line, what);
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int parse_u64(const char *v, uint64_t *out)
{
	if (!isdigit((unsigned char)v[0]))
		return -1;
	errno = 0;
	char *end;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || *end != '\0')
		return -1;
	*out = x;
	return 0;
}

static int set_string(struct parse_ctx *p, const char *key, char *dst, size_t size,
		      const char *value)
{
	if (strlen(value) >= size)
		return fail(p, key, "value is longer than %zu bytes", size - 1);
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

static int set_relay_key(struct parse_ctx *p, struct relay_config *cfg, const char *key,
			 const char *value)
{
	for (size_t i = 0; i < sizeof relay_keys / sizeof relay_keys[0]; i++) {
		const struct key_spec *k = &relay_keys[i];
		if (strcmp(k->section, p->section) != 0 || strcmp(k->name, key) != 0)
			continue;
		char *field = (char *)cfg + k->offset;
		uint64_t n;
		switch (k->type) {
		case KEY_STR:
		case KEY_PATH:
			if (k->type == KEY_PATH && value[0] == '\0' && strcmp(key, "data_dir") == 0)
				return fail(p, key, "must not be empty");
			return set_string(p, key, field, k->size, value);
		case KEY_LOGLEVEL: {
			int lvl = relay_log_level_parse(value);
			if (lvl < 0)
				return fail(p, key, "'%s' is not one of debug, info, warn, error",
					    value);
			*(int *)field = lvl;
			return 0;
		}
		case KEY_LOGFORMAT: {
			int fmt = relay_log_format_parse(value);
			if (fmt < 0)
				return fail(p, key, "'%s' is not one of logfmt, json", value);
			*(int *)field = fmt;
			return 0;
		}
		case KEY_PERMISSIONS:
			if (strcmp(value, "strict") == 0)
				*(int *)field = RELAY_PERMISSIONS_STRICT;
			else if (strcmp(value, "warn") == 0)
				*(int *)field = RELAY_PERMISSIONS_WARN;
			else
				return fail(p, key, "'%s' is not one of strict, warn", value);
			return 0;
		case KEY_ONOFF:
			if (strcmp(value, "on") == 0)
				*(int *)field = 1;
			else if (strcmp(value, "off") == 0)
				*(int *)field = 0;
			else
				return fail(p, key, "'%s' is not one of on, off", value);
			return 0;
		case KEY_PROXIES: {
			char why[128];
			int count = relay_cidr_list_parse(value, cfg->trusted_proxies,
							  RELAY_MAX_TRUSTED_PROXIES, why, sizeof why);
			if (count < 0)
				return fail(p, key, "%s", why);
			cfg->trusted_proxy_count = count;
			return 0;
		}
		case KEY_ENGINE: {
			int e = relay_storage_engine_parse(value);
			if (e < 0)
				return fail(p, key, "'%s' is not one of lmdb, postgresql", value);
			*(int *)field = e;
			return 0;
		}
		case KEY_CONNINFO: {
			char why[128];
			if (relay_conninfo_check(value, why, sizeof why) != 0)
				return fail(p, key, "%s", why);
			return set_string(p, key, field, k->size, value);
		}
		case KEY_PROXY_HEADER:
			if (strcasecmp(value, "x-forwarded-for") == 0)
				*(int *)field = RELAY_PROXY_HEADER_XFF;
			else if (strcasecmp(value, "forwarded") == 0)
				*(int *)field = RELAY_PROXY_HEADER_FORWARDED;
			else
				return fail(p, key, "'%s' is not one of x-forwarded-for, forwarded", value);
			return 0;
		case KEY_PORT:
		case KEY_U32:
		case KEY_U64:
			if (parse_u64(value, &n) != 0)
				return fail(p, key, "'%s' is not a whole number", value);
			if (n < k->min || n > k->max)
				return fail(p, key, "%llu is outside %llu..%llu",
					    (unsigned long long)n, (unsigned long long)k->min,
					    (unsigned long long)k->max);
			if (k->type == KEY_PORT)
				*(int *)field = (int)n;
			else if (k->size == sizeof(uint32_t))
				*(uint32_t *)field = (uint32_t)n;
			else
				*(uint64_t *)field = n;
			return 0;
		}
	}
	return fail(p, key, "unknown key in [%s]", p->section);
}

/* Splits a comma-separated list into fixed slots; refuses more than `max` items. */
static int set_list(struct parse_ctx *p, const char *key, char *slots, size_t slot_size,
		    int max, int *count, const char *value)
{
	char buf[CONFIG_LINE_MAX];
	copy_str(buf, sizeof buf, value);
	*count = 0;
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		tok = trim(tok);
		if (!*tok)
			continue;
		if (*count >= max)
			return fail(p, key, "more than %d items", max);
		if (set_string(p, key, slots + (size_t)*count * slot_size, slot_size, tok) != 0)
			return -1;
		(*count)++;
	}
	return 0;
}

/* v^(12/5) for v in [0, 1] with multiplications only (the relay links no libm): the fifth root of
 * v^12 by Newton's method, which falls monotonically from 1 onto it. */
static double pow_12_5(double v)
{
	double a = 1;
	for (int i = 0; i < 12; i++)
		a *= v;
	double y = 1;
	for (int i = 0; i < 200 && a > 0; i++) {
		double y4 = y * y * y * y;
		double next = y - (y4 * y - a) / (5 * y4);
		if (next >= y)
			break;
		y = next;
	}
	return a > 0 ? y : 0;
}

/* WCAG 2.1's relative luminance of an sRGB channel given as 0..255. */
static double channel_luminance(unsigned c)
{
	double s = c / 255.0;
	return s <= 0.04045 ? s / 12.92 : pow_12_5((s + 0.055) / 1.055);
}

double relay_colour_contrast_on_white(const char *hex)
{
	unsigned rgb[3];
	if (strlen(hex) != 7 || hex[0] != '#' || strspn(hex + 1, "0123456789abcdefABCDEF") != 6 ||
	    sscanf(hex + 1, "%2x%2x%2x", &rgb[0], &rgb[1], &rgb[2]) != 3)
		return -1;
	double l = 0.2126 * channel_luminance(rgb[0]) + 0.7152 * channel_luminance(rgb[1]) +
		   0.0722 * channel_luminance(rgb[2]);
	return 1.05 / (l + 0.05);
}

/* The logo's media type by its file name, or NULL when it is not a PNG or SVG file. */
const char *relay_logo_media_type(const char *path)
{
	size_t n = strlen(path);
	if (n > 4 && strcmp(path + n - 4, ".png") == 0)
		return "image/png";
	if (n > 4 && strcmp(path + n - 4, ".svg") == 0)
		return "image/svg+xml";
	return NULL;
}

static int set_tenant_key(struct parse_ctx *p, const char *key, const char *value)
{
	struct relay_tenant_config *t = p->tenant;
	if (strcmp(key, "name") == 0)
		return set_string(p, key, t->name, sizeof t->name, value);
	if (strcmp(key, "cvr") == 0) {
		if (!relay_cvr_valid(value))
			return fail(p, key, "'%s' is not a CVR number (8 digits passing the modulus-11 check)",
				    value);
		return set_string(p, key, t->cvr, sizeof t->cvr, value);
	}
	if (strcmp(key, "kind") == 0) {
		if (strcmp(value, "municipality") == 0)
			t->kind = RELAY_TENANT_MUNICIPALITY;
		else if (strcmp(value, "region") == 0)
			t->kind = RELAY_TENANT_REGION;
		else
			return fail(p, key, "'%s' is not municipality or region", value);
		return 0;
	}
	if (strcmp(key, "scope") == 0) {
		if (strcmp(value, "light") == 0)
			t->scope = RELAY_TENANT_LIGHT;
		else if (strcmp(value, "full") == 0)
			t->scope = RELAY_TENANT_FULL;
		else
			return fail(p, key, "'%s' is not light or full", value);
		return 0;
	}
	if (strcmp(key, "idps") == 0) {
		t->idps_line = p->line;
		return set_list(p, key, t->idps[0], sizeof t->idps[0], RELAY_MAX_GROUP_MAPS,
				&t->idp_count, value);
	}
	if (strcmp(key, "display_name") == 0)
		return set_string(p, key, t->display_name, sizeof t->display_name, value);
	if (strcmp(key, "colour") == 0) {
		double ratio = relay_colour_contrast_on_white(value);
		if (ratio < 0)
			return fail(p, key, "a colour is written \"#rrggbb\", in quotes (# starts a comment)");
		/* Buttons and the header carry white text on it (WCAG 1.4.3). */
		if (ratio < 4.5)
			return fail(p, key, "white text on %s has contrast %.2f:1; at least 4.5:1 is needed",
				    value, ratio);
		return set_string(p, key, t->colour, sizeof t->colour, value);
	}
	if (strcmp(key, "logo") == 0) {
		if (!relay_logo_media_type(value))
			return fail(p, key, "the logo is a .png or .svg file");
		return set_string(p, key, t->logo, sizeof t->logo, value);
	}
	if (strcmp(key, "journal_upns") == 0)
		return set_list(p, key, t->journal_upns[0], sizeof t->journal_upns[0],
				RELAY_MAX_GROUP_MAPS, &t->journal_upn_count, value);
	if (strcmp(key, "webhook_url") == 0) {
		if (strncmp(value, "https://", 8) != 0)
			return fail(p, key, "must be an https:// URL");
		return set_string(p, key, t->webhook_url, sizeof t->webhook_url, value);
	}
	if (strcmp(key, "webhook_secret_file") == 0)
		return set_string(p, key, t->webhook_secret_file, sizeof t->webhook_secret_file, value);
	if (strcmp(key, "webhook_after_seconds") == 0) {
		uint64_t n;
		if (parse_u64(value, &n) != 0 || n < 1 || n > 30u * 86400)
			return fail(p, key, "'%s' is not a whole number in 1..2592000", value);
		t->webhook_after_seconds = (uint32_t)n;
		return 0;
	}
	if (strcmp(key, "history_days") == 0) {
		uint64_t d;
		if (parse_u64(value, &d) != 0 || d > RELAY_MAX_HISTORY_DAYS)
			return fail(p, key, "history_days is a number of days from 0 to %u",
				    RELAY_MAX_HISTORY_DAYS);
		t->history_days = (uint32_t)d;
		t->history_days_set = true;
		return 0;
	}
	if (strcmp(key, "read_receipts") == 0) {
		if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0)
			return fail(p, key, "read_receipts is true or false");
		t->read_receipts_off = strcmp(value, "false") == 0;
		return 0;
	}
	return fail(p, key, "unknown key in [tenant %s]", t->id);
}

static int set_unit_key(struct parse_ctx *p, const char *key, const char *value)
{
	struct relay_unit_config *u = p->unit;
	if (strcmp(key, "name") == 0)
		return set_string(p, key, u->name, sizeof u->name, value);
	if (strcmp(key, "groups") == 0)
		return set_list(p, key, u->groups[0], sizeof u->groups[0], RELAY_MAX_GROUP_MAPS,
				&u->group_count, value);
	return fail(p, key, "unknown key in [unit %s]", p->section_name);
}

static int set_idp_key(struct parse_ctx *p, const char *key, const char *value)
{
	struct relay_idp_config *d = p->idp;
	if (strcmp(key, "issuer") == 0)
		return set_string(p, key, d->issuer, sizeof d->issuer, value);
	if (strcmp(key, "audience") == 0)
		return set_string(p, key, d->audience, sizeof d->audience, value);
	if (strcmp(key, "jwks_file") == 0)
		return set_string(p, key, d->jwks_file, sizeof d->jwks_file, value);
	if (strcmp(key, "jwks_url") == 0 || strcmp(key, "discovery") == 0) {
		if (!id_url_acceptable(value, false))
			return fail(p, key, "must be an https:// URL of at most %d bytes", ID_URL_MAX_BYTES);
		if (key[0] == 'j')
			return set_string(p, key, d->jwks_url, sizeof d->jwks_url, value);
		return set_string(p, key, d->discovery, sizeof d->discovery, value);
	}
	if (strcmp(key, "ca_file") == 0)
		return set_string(p, key, d->ca_file, sizeof d->ca_file, value);
	if (strcmp(key, "person_claim") == 0)
		return set_string(p, key, d->person_claim, sizeof d->person_claim, value);
	if (strcmp(key, "assurance_claim") == 0)
		return set_string(p, key, d->assurance_claim, sizeof d->assurance_claim, value);
	if (strcmp(key, "groups_claim") == 0)
		return set_string(p, key, d->groups_claim, sizeof d->groups_claim, value);
	if (strcmp(key, "entra_tenant") == 0)
		return set_string(p, key, d->entra_tenant, sizeof d->entra_tenant, value);
	if (strcmp(key, "person_type") == 0) {
		static const char *const names[] = { "", "cpr", "mitid-uuid", "sub", "upn" };
		for (int i = 1; i < 5; i++)
			if (strcmp(value, names[i]) == 0)
				return d->person_type = i, 0;
		return fail(p, key, "'%s' is not cpr, mitid-uuid, sub or upn", value);
	}
	if (strcmp(key, "display_name") == 0)
		return set_string(p, key, d->display_name, sizeof d->display_name, value);
	if (strcmp(key, "scopes") == 0 || strcmp(key, "acr_values") == 0) {
		for (const char *c = value; *c; c++)
			if ((unsigned char)*c < 0x21 && *c != ' ')
				return fail(p, key, "space-separated values of printable characters only");
		if (key[0] == 's')
			return set_string(p, key, d->scopes, sizeof d->scopes, value);
		return set_string(p, key, d->acr_values, sizeof d->acr_values, value);
	}
	if (strcmp(key, "client_auth") == 0) {
		if (strcmp(value, "none") == 0)
			d->client_auth = RELAY_IDP_AUTH_NONE;
		else if (strcmp(value, "client_secret_basic") == 0)
			d->client_auth = RELAY_IDP_AUTH_SECRET_BASIC;
		else if (strcmp(value, "private_key_jwt") == 0)
			d->client_auth = RELAY_IDP_AUTH_PRIVATE_KEY_JWT;
		else
			return fail(p, key, "'%s' is not none, client_secret_basic or private_key_jwt", value);
		return 0;
	}
	if (strcmp(key, "client_secret_file") == 0)
		return set_string(p, key, d->client_secret_file, sizeof d->client_secret_file, value);
	if (strcmp(key, "client_key_file") == 0)
		return set_string(p, key, d->client_key_file, sizeof d->client_key_file, value);
	if (strcmp(key, "client_key_id") == 0)
		return set_string(p, key, d->client_key_id, sizeof d->client_key_id, value);
	if (strcmp(key, "algs") == 0) {
		char buf[64];
		if (strlen(value) >= sizeof buf)
			return fail(p, key, "too long");
		copy_str(buf, sizeof buf, value);
		char *save = NULL;
		for (char *a = strtok_r(buf, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
			a = trim(a);
			if (strcmp(a, "RS256") != 0 && strcmp(a, "ES256") != 0)
				return fail(p, key, "'%s' is not allowed (RS256 or ES256 only)", a);
		}
		return set_string(p, key, d->algs, sizeof d->algs, value);
	}
	if (strcmp(key, "kind") == 0) {
		if (strcmp(value, "citizen") == 0)
			d->kind = RELAY_IDP_CITIZEN;
		else if (strcmp(value, "caseworker") == 0)
			d->kind = RELAY_IDP_CASEWORKER;
		else
			return fail(p, key, "'%s' is not citizen or caseworker", value);
		return 0;
	}
	if (strcmp(key, "profile") == 0) {
		if (strcmp(value, "mitid-broker") == 0)
			d->profile = RELAY_IDP_PROFILE_MITID_BROKER;
		else if (strcmp(value, "adfs") == 0)
			d->profile = RELAY_IDP_PROFILE_ADFS;
		else if (strcmp(value, "entra-id") == 0)
			d->profile = RELAY_IDP_PROFILE_ENTRA;
		else
			return fail(p, key, "'%s' is not mitid-broker, adfs or entra-id", value);
		return 0;
	}
	return fail(p, key, "unknown key in [idp %s]", d->id);
}

static int set_consent_key(struct parse_ctx *p, const char *key, const char *value)
{
	struct relay_consent_text_config *c = p->consent;
	size_t n = strlen(value);
	if (strcmp(key, "version") == 0) {
		if (n == 0 || n > 32 ||
		    strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != n)
			return fail(p, key, "a version id is 1-32 of A-Z a-z 0-9 . _ -");
		return set_string(p, key, c->version, sizeof c->version, value);
	}
	if (strcmp(key, "text_file") == 0)
		return set_string(p, key, c->text_file, sizeof c->text_file, value);
	if (strcmp(key, "language") == 0) {
		if (n < 2 || n > 8)
			return fail(p, key, "a language tag is 2-8 characters, e.g. da");
		return set_string(p, key, c->language, sizeof c->language, value);
	}
	return fail(p, key, "unknown key in [consent %s]", p->section_name);
}

/* Identity-provider ids are configuration names only (never on the wire), so they keep their own
 * rule; tenant and unit ids are the wire's slugs (proto_slug_valid). */
static bool valid_idp_id(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n < 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

static int open_section(struct parse_ctx *p, struct relay_config *cfg, char *header)
{
	p->tenant = NULL;
	p->unit = NULL;
	p->idp = NULL;
	p->consent = NULL;
	p->push = NULL;
	p->push_app = NULL;
	if (strcmp(header, "push") == 0 || strncmp(header, "push.app.", 9) == 0) {
		char why[200];
		copy_str(p->section, sizeof p->section, "push");
		copy_str(p->section_name, sizeof p->section_name, header);
		p->push = &cfg->push;
		if (header[4] && !(p->push_app = relay_push_config_app(&cfg->push, header + 9, why,
								       sizeof why))) {
			p->push = NULL;
			return fail(p, NULL, "%s", why);
		}
		return 0;
	}
	char *name = strchr(header, ' ');
	if (name) {
		*name++ = '\0';
		name = trim(name);
	}
	if (strlen(header) >= sizeof p->section)
		return fail(p, NULL, "unknown section [%s]", header);
	copy_str(p->section, sizeof p->section, header);
	copy_str(p->section_name, sizeof p->section_name, name ? name : "");

	if (p->tenant_file) {
		if (strcmp(header, "tenant") != 0 && strcmp(header, "unit") != 0 &&
		    strcmp(header, "consent") != 0)
			return fail(p, NULL, "a tenant file holds [tenant], [unit] and [consent] sections "
				    "only, not [%s]", header);
		if (strcmp(header, "tenant") == 0 && p->file_tenant)
			return fail(p, NULL, "one tenant per file: [tenant %s] follows [tenant %s]",
				    name ? name : "", p->file_tenant->id);
		if (strcmp(header, "tenant") != 0 &&
		    (!p->file_tenant || !name || strncmp(name, p->file_tenant->id,
							 strlen(p->file_tenant->id)) != 0 ||
		     (name[strlen(p->file_tenant->id)] != '/' && name[strlen(p->file_tenant->id)] != '\0')))
			return fail(p, NULL, "[%s %s] names another tenant than this file's", header,
				    name ? name : "");
	}
	if (strcmp(header, "relay") == 0 || strcmp(header, "limits") == 0 ||
	    strcmp(header, "storage") == 0) {
		if (name)
			return fail(p, NULL, "section [%s] takes no name", header);
		return 0;
	}
	if (strcmp(header, "tenant") != 0 && strcmp(header, "unit") != 0 &&
	    strcmp(header, "idp") != 0 && strcmp(header, "consent") != 0)
		return fail(p, NULL, "unknown section [%s]", header);
	if (!name || !*name)
		return fail(p, NULL, "section [%s] needs a name", header);
	if (strcmp(header, "tenant") == 0) {
		if (!proto_slug_valid(name, strlen(name)))
			return fail(p, "tenant",
				    "tenant id '%s' must be 1-%u of a-z 0-9 -, not starting with -",
				    name, PROTO_MAX_SLUG_BYTES);
		if (relay_config_tenant(cfg, name))
			return fail(p, NULL, "tenant '%s' defined twice", name);
		if (cfg->tenant_count >= RELAY_MAX_TENANTS)
			return fail(p, NULL, "more than %d tenants", RELAY_MAX_TENANTS);
		p->tenant = &cfg->tenants[cfg->tenant_count++];
		copy_str(p->tenant->id, sizeof p->tenant->id, name);
		if (p->tenant_file) {
			p->file_tenant = p->tenant;
			copy_str(p->tenant->source_file, sizeof p->tenant->source_file, p->path);
		}
		return 0;
	}
	if (strcmp(header, "unit") == 0) {
		char *slash = strchr(name, '/');
		if (!slash)
			return fail(p, NULL, "unit section must be [unit TENANT/UNIT]");
		*slash = '\0';
		struct relay_tenant_config *t = (struct relay_tenant_config *)relay_config_tenant(cfg, name);
		if (!t)
			return fail(p, NULL, "unit names tenant '%s', which is not defined above it",
				    name);
		const char *unit_id = slash + 1;
		if (!proto_slug_valid(unit_id, strlen(unit_id)))
			return fail(p, "unit",
				    "unit id '%s' must be 1-%u of a-z 0-9 -, not starting with -",
				    unit_id, PROTO_MAX_SLUG_BYTES);
		for (int i = 0; i < t->unit_count; i++)
			if (strcmp(t->units[i].id, unit_id) == 0)
				return fail(p, NULL, "unit '%s/%s' defined twice", name, unit_id);
		if (t->unit_count >= RELAY_MAX_UNITS_PER_TENANT)
			return fail(p, NULL, "more than %d units in tenant '%s'",
				    RELAY_MAX_UNITS_PER_TENANT, name);
		p->tenant = t;
		p->unit = &t->units[t->unit_count++];
		copy_str(p->unit->id, sizeof p->unit->id, unit_id);
		*slash = '/';
		return 0;
	}
	if (strcmp(header, "consent") == 0) {
		char *slash = strchr(name, '/');
		if (slash)
			*slash = '\0';
		struct relay_tenant_config *t = (struct relay_tenant_config *)relay_config_tenant(cfg, name);
		if (!t)
			return fail(p, NULL, "consent names tenant '%s', which is not defined above it", name);
		p->consent = &t->consent;
		if (slash) {
			p->consent = NULL;
			for (int i = 0; i < t->unit_count; i++)
				if (strcmp(t->units[i].id, slash + 1) == 0)
					p->consent = &t->units[i].consent;
			if (!p->consent)
				return fail(p, NULL, "consent names unit '%s/%s', which is not defined above it",
					    name, slash + 1);
			*slash = '/';
		}
		p->consent->set = true;
		snprintf(p->consent->language, sizeof p->consent->language, "da");
		return 0;
	}
	if (strcmp(header, "idp") == 0) {
		if (!valid_idp_id(name))
			return fail(p, NULL, "idp id '%s' must be 1-63 of a-z 0-9 - _", name);
		if (relay_config_idp(cfg, name))
			return fail(p, NULL, "idp '%s' defined twice", name);
		if (cfg->idp_count >= RELAY_MAX_IDPS)
			return fail(p, NULL, "more than %d identity providers", RELAY_MAX_IDPS);
		p->idp = &cfg->idps[cfg->idp_count++];
		copy_str(p->idp->id, sizeof p->idp->id, name);
		copy_str(p->idp->algs, sizeof p->idp->algs, "RS256");
		return 0;
	}
	return fail(p, NULL, "unknown section [%s]", header);
}

/* Cuts a comment that starts with # or ; after whitespace, outside double quotes. */
static void strip_comment(char *s)
{
	bool quoted = false;
	for (char *c = s; *c; c++) {
		if (*c == '"')
			quoted = !quoted;
		else if (!quoted && (*c == '#' || *c == ';') && c > s && isspace((unsigned char)c[-1])) {
			*c = '\0';
			return;
		}
	}
}

static int parse_line(struct parse_ctx *p, struct relay_config *cfg, char *line)
{
	strip_comment(line);
	char *s = trim(line);
	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		char *end = strchr(s, ']');
		if (!end || trim(end + 1)[0] != '\0')
			return fail(p, NULL, "malformed section header");
		*end = '\0';
		int rc = open_section(p, cfg, trim(s + 1));
		p->skip_section = rc != 0;
		return rc;
	}
	if (p->skip_section)
		return 0;
	char *eq = strchr(s, '=');
	if (!eq)
		return fail(p, NULL, "expected 'key = value'");
	*eq = '\0';
	char *key = trim(s);
	char *value = trim(eq + 1);
	size_t vlen = strlen(value);
	if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
		value[vlen - 1] = '\0';
		value++;
	}
	if (p->section[0] == '\0')
		return fail(p, key, "key outside of any section");
	if (p->push) {
		char why[200];
		if (relay_push_config_set(p->push, p->push_app, key, value, why, sizeof why) != 0)
			return fail(p, key, "%s", why);
		return 0;
	}
	if (p->consent)
		return set_consent_key(p, key, value);
	if (p->unit)
		return set_unit_key(p, key, value);
	if (p->tenant)
		return set_tenant_key(p, key, value);
	if (p->idp)
		return set_idp_key(p, key, value);
	return set_relay_key(p, cfg, key, value);
}

static int load_file(struct relay_config *cfg, const char *path, char *err, size_t err_len,
		     bool tenant_file);

int relay_config_load(struct relay_config *cfg, const char *path, char *err, size_t err_len)
{
	err[0] = '\0';
	return load_file(cfg, path, err, err_len, false);
}

int relay_config_load_tenant_file(struct relay_config *cfg, const char *path, char *err,
				  size_t err_len)
{
	return load_file(cfg, path, err, err_len, true);
}

bool relay_cvr_valid(const char *cvr)
{
	static const int weights[8] = { 2, 7, 6, 5, 4, 3, 2, 1 };
	if (strlen(cvr) != 8 || strspn(cvr, "0123456789") != 8 || cvr[0] == '0')
		return false;
	int sum = 0;
	for (int i = 0; i < 8; i++)
		sum += (cvr[i] - '0') * weights[i];
	return sum % 11 == 0;
}

static int load_file(struct relay_config *cfg, const char *path, char *err, size_t err_len,
		     bool tenant_file)
{
	struct parse_ctx p = { .path = path, .err = err, .err_len = err_len,
			       .tenant_file = tenant_file };
	FILE *f = fopen(path, "r");
	if (!f)
		return report(err, err_len, "%s: cannot open configuration file: %s", path,
			      strerror(errno));
	char line[CONFIG_LINE_MAX];
	int rc = 0;
	crypto_hash_sha256_state sha;
	crypto_hash_sha256_init(&sha);
	while (fgets(line, sizeof line, f)) {
		crypto_hash_sha256_update(&sha, (const unsigned char *)line, strlen(line));
		p.line++;
		size_t n = strlen(line);
		if (n == sizeof line - 1 && line[n - 1] != '\n') {
			rc = fail(&p, NULL, "line longer than %d bytes", CONFIG_LINE_MAX - 2);
			break; /* the rest of the line would be read as lines of their own */
		}
		if (parse_line(&p, cfg, line) != 0)
			rc = -1;
	}
	if (rc == 0 && !tenant_file) {
		char why[200];
		if (relay_push_config_check(&cfg->push, why, sizeof why) != 0)
			rc = report(err, err_len, "%s: %s", path, why);
	}
	if (rc == 0 && ferror(f))
		rc = report(err, err_len, "%s: read error", path);
	if (rc == 0 && tenant_file && !p.file_tenant)
		rc = report(err, err_len, "%s: a tenant file needs a [tenant ID] section", path);
	if (rc == 0 && !tenant_file) {
		crypto_hash_sha256_final(&sha, cfg->file_sha256);
		copy_str(cfg->file, sizeof cfg->file, path);
	}
	fclose(f);
	return rc;
}

/* The tenant whose `idps` lists provider `id` first, before tenant index `before`; -1 if none. */
static int earlier_tenant_listing(const struct relay_config *cfg, int before, const char *id)
{
	for (int i = 0; i < before; i++)
		for (int j = 0; j < cfg->tenants[i].idp_count; j++)
			if (strcmp(cfg->tenants[i].idps[j], id) == 0)
				return i;
	return -1;
}

/* A caseworker provider (a municipality's AD FS) belongs to one tenant: the relay finds a token's
 * tenant by its issuer (spec/identity.md §4), so a second tenant listing it would never see its
 * caseworkers (the first tenant wins) and is refused here instead. Citizen providers are shared. */
static int check_caseworker_idps_unshared(const struct relay_config *cfg, char *err, size_t err_len)
{
	int rc = 0;
	for (int i = 0; i < cfg->tenant_count; i++) {
		const struct relay_tenant_config *t = &cfg->tenants[i];
		for (int j = 0; j < t->idp_count; j++) {
			const struct relay_idp_config *d = relay_config_idp(cfg, t->idps[j]);
			if (!d || d->kind != RELAY_IDP_CASEWORKER)
				continue;
			int other = earlier_tenant_listing(cfg, i, d->id);
			if (other < 0)
				continue;
			char where[RELAY_CONFIG_PATH_MAX + 32] = "";
			if (t->idps_line > 0)
				snprintf(where, sizeof where, "%s:%d: key 'idps': ",
					 t->source_file[0] ? t->source_file : cfg->file, t->idps_line);
			rc = report(err, err_len,
				    "%stenant %s lists caseworker provider '%s', which tenant %s already lists; "
				    "a caseworker provider belongs to one tenant",
				    where, t->id, d->id, cfg->tenants[other].id);
		}
	}
	return rc;
}

int relay_config_check_tls(const struct relay_config *cfg, char *err, size_t err_len)
{
	/* Without TLS of its own the relay's traffic must not leave the machine: only a reverse
	 * proxy beside it, which terminates TLS, may reach it. */
	if (strncmp(cfg->listen, RELAY_LISTEN_UNIX_PREFIX, strlen(RELAY_LISTEN_UNIX_PREFIX)) == 0 &&
	    !relay_listen_unix_path(cfg->listen))
		return report(err, err_len,
			      "relay: listen = '%s': a unix socket is unix:/ABSOLUTE/PATH, shorter than 108 bytes",
			      cfg->listen);
	if (!cfg->tls)
		return relay_listen_is_local(cfg->listen)
			       ? 0
			       : report(err, err_len,
					"relay: tls = off needs a listen address only this machine reaches "
					"(a loopback address such as 127.0.0.1, or unix:/PATH), not '%s'; put the reverse "
					"proxy on this machine, or keep tls = on",
					cfg->listen);
	if (!cfg->dev_mode && !cfg->tls_cert[0])
		return report(err, err_len,
			      "relay: tls_cert and tls_key are required without --dev (only a development "
			      "relay generates a certificate of its own)");
	return 0;
}

int relay_config_check(const struct relay_config *cfg, char *err, size_t err_len)
{
	int rc = 0;
	err[0] = '\0';
	if (cfg->map_size_initial_mb > cfg->map_size_max_mb)
		rc = report(err, err_len, "storage: map_size_initial_mb exceeds map_size_max_mb");
	if (cfg->engine == RELAY_ENGINE_POSTGRESQL && !cfg->conninfo[0])
		rc = report(err, err_len, "storage: engine = postgresql needs conninfo (a libpq "
				    "connection string naming the shared database)");
	if (cfg->engine == RELAY_ENGINE_LMDB && cfg->conninfo[0])
		rc = report(err, err_len, "storage: conninfo belongs to engine = postgresql; the "
				    "lmdb engine keeps its database in data_dir");
	if (cfg->unauth_max_frame_bytes > cfg->unauth_buffer_max_bytes)
		rc = report(err, err_len, "limits: unauth_max_frame_bytes exceeds unauth_buffer_max_bytes");
	if ((cfg->tls_cert[0] == '\0') != (cfg->tls_key[0] == '\0'))
		rc = report(err, err_len, "relay: tls_cert and tls_key must be set together");
	for (int i = 0; i < cfg->tenant_count; i++) {
		const struct relay_tenant_config *t = &cfg->tenants[i];
		for (int j = 0; j < t->idp_count; j++) {
			const struct relay_idp_config *d = relay_config_idp(cfg, t->idps[j]);
			if (!d)
				rc = report(err, err_len, "tenant %s: idps names '%s', which is not defined",
					    t->id, t->idps[j]);
			else if (d->development && !cfg->dev_mode)
				rc = report(err, err_len,
					    "tenant %s: idp '%s' is the development provider, which needs --dev",
					    t->id, d->id);
		}
	}
	if (check_caseworker_idps_unshared(cfg, err, err_len) != 0)
		rc = -1;
	for (int i = 0; i < cfg->tenant_count; i++) {
		const struct relay_tenant_config *t = &cfg->tenants[i];
		if (!t->name[0] || !t->cvr[0])
			rc = report(err, err_len, "tenant %s: name and cvr are required", t->id);
		if (t->logo[0]) {
			FILE *f = fopen(t->logo, "rb");
			long size = -1;
			if (f && fseek(f, 0, SEEK_END) == 0)
				size = ftell(f);
			if (f)
				fclose(f);
			if (size < 0)
				rc = report(err, err_len, "tenant %s: logo %s cannot be read", t->id, t->logo);
			else if (size == 0 || size > RELAY_LOGO_MAX_BYTES)
				rc = report(err, err_len, "tenant %s: logo %s must be 1 byte to %d KiB",
					    t->id, t->logo, RELAY_LOGO_MAX_BYTES / 1024);
		}
		if (t->consent.set && (!t->consent.version[0] || !t->consent.text_file[0]))
			rc = report(err, err_len, "consent %s: version and text_file are required", t->id);
		for (int j = 0; j < t->unit_count; j++) {
			const struct relay_consent_text_config *c = &t->units[j].consent;
			if (c->set && (!c->version[0] || !c->text_file[0]))
				rc = report(err, err_len, "consent %s/%s: version and text_file are required",
					    t->id, t->units[j].id);
		}
	}
	for (int i = 0; i < cfg->idp_count; i++) {
		const struct relay_idp_config *d = &cfg->idps[i];
		if (d->development)
			continue;
		if (!d->issuer[0] || !d->audience[0])
			rc = report(err, err_len, "idp %s: issuer and audience are required", d->id);
		if (!d->jwks_file[0] && !d->jwks_url[0] && !d->discovery[0])
			rc = report(err, err_len, "idp %s: name its keys with discovery, jwks_url or "
				    "jwks_file", d->id);
		if (d->jwks_file[0] && (d->jwks_url[0] || d->discovery[0]))
			rc = report(err, err_len, "idp %s: jwks_file is for providers without "
				    "discovery or jwks_url; name one source of keys", d->id);
		if (d->profile != RELAY_IDP_PROFILE_MITID_BROKER && strcmp(d->algs, "RS256") != 0)
			rc = report(err, err_len, "idp %s: the %s profile allows RS256 only", d->id,
				    d->profile == RELAY_IDP_PROFILE_ADFS ? "adfs" : "entra-id");
		if (d->entra_tenant[0] && d->profile != RELAY_IDP_PROFILE_ENTRA)
			rc = report(err, err_len, "idp %s: entra_tenant belongs to the entra-id profile",
				    d->id);
		if (d->client_auth == RELAY_IDP_AUTH_SECRET_BASIC && !d->client_secret_file[0])
			rc = report(err, err_len, "idp %s: client_auth client_secret_basic needs "
				    "client_secret_file", d->id);
		if (d->client_auth == RELAY_IDP_AUTH_PRIVATE_KEY_JWT && !d->client_key_file[0])
			rc = report(err, err_len, "idp %s: client_auth private_key_jwt needs "
				    "client_key_file", d->id);
		if (d->client_auth != RELAY_IDP_AUTH_NONE && !d->discovery[0])
			rc = report(err, err_len, "idp %s: a confidential client (client_auth) needs "
				    "discovery, which names the token endpoint", d->id);
	}
	return rc;
}
