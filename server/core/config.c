/* SPDX-License-Identifier: MPL-2.0 */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/log.h"
#include "wakks_protocol.h"

/* A config line longer than this is refused rather than silently cut. */
#define CONFIG_LINE_MAX 2048

enum key_type { KEY_STR, KEY_PATH, KEY_U32, KEY_U64, KEY_PORT, KEY_LOGLEVEL, KEY_PERMISSIONS };

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
	NUM("relay", data_dir_permissions, KEY_PERMISSIONS, 0, 1),
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
};

void relay_config_defaults(struct relay_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	snprintf(cfg->listen, sizeof cfg->listen, "0.0.0.0");
	cfg->port = 8443;
	snprintf(cfg->data_dir, sizeof cfg->data_dir, "./var");
	cfg->log_level = RELAY_LOG_INFO;
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
	bool skip_section; /* its header was refused: its keys would only repeat that error */
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
		case KEY_PERMISSIONS:
			if (strcmp(value, "strict") == 0)
				*(int *)field = RELAY_PERMISSIONS_STRICT;
			else if (strcmp(value, "warn") == 0)
				*(int *)field = RELAY_PERMISSIONS_WARN;
			else
				return fail(p, key, "'%s' is not one of strict, warn", value);
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

static int set_tenant_key(struct parse_ctx *p, const char *key, const char *value)
{
	struct relay_tenant_config *t = p->tenant;
	if (strcmp(key, "name") == 0)
		return set_string(p, key, t->name, sizeof t->name, value);
	if (strcmp(key, "cvr") == 0) {
		if (strlen(value) != 8 || strspn(value, "0123456789") != 8)
			return fail(p, key, "a CVR number is 8 digits");
		return set_string(p, key, t->cvr, sizeof t->cvr, value);
	}
	if (strcmp(key, "idps") == 0) {
		t->idps_line = p->line;
		return set_list(p, key, t->idps[0], sizeof t->idps[0], RELAY_MAX_GROUP_MAPS,
				&t->idp_count, value);
	}
	if (strcmp(key, "journal_upns") == 0)
		return set_list(p, key, t->journal_upns[0], sizeof t->journal_upns[0],
				RELAY_MAX_GROUP_MAPS, &t->journal_upn_count, value);
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
	if (strcmp(key, "jwks_url") == 0)
		return fail(p, key, "not supported by this version: store the key set in a file "
			    "and name it with jwks_file");
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
		else
			return fail(p, key, "'%s' is not mitid-broker or adfs", value);
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
	char *name = strchr(header, ' ');
	if (name) {
		*name++ = '\0';
		name = trim(name);
	}
	if (strlen(header) >= sizeof p->section)
		return fail(p, NULL, "unknown section [%s]", header);
	copy_str(p->section, sizeof p->section, header);
	copy_str(p->section_name, sizeof p->section_name, name ? name : "");

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

int relay_config_load(struct relay_config *cfg, const char *path, char *err, size_t err_len)
{
	struct parse_ctx p = { .path = path, .err = err, .err_len = err_len };
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, err_len, "%s: cannot open configuration file: %s", path,
			 strerror(errno));
		return -1;
	}
	char line[CONFIG_LINE_MAX];
	int rc = 0;
	err[0] = '\0';
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
	if (rc == 0 && ferror(f)) {
		snprintf(err, err_len, "%s: read error", path);
		rc = -1;
	}
	if (rc == 0) {
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
				snprintf(where, sizeof where, "%s:%d: key 'idps': ", cfg->file, t->idps_line);
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
		if (!d->issuer[0] || !d->audience[0] || !d->jwks_file[0])
			rc = report(err, err_len, "idp %s: issuer, audience and jwks_file are required",
				    d->id);
		if (d->profile == RELAY_IDP_PROFILE_ADFS && strcmp(d->algs, "RS256") != 0)
			rc = report(err, err_len, "idp %s: the adfs profile allows RS256 only", d->id);
	}
	return rc;
}
