/* SPDX-License-Identifier: MPL-2.0 */
#include "services/identity_binding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "core/clock.h"
#include "core/log.h"
#include "net/http_client.h"
#include "relay_state.h"
#include "services/code_exchange.h"
#include "services/login_challenge.h"
#include "services/provider_keys.h"
#include "wakks_devidp.h"

/* Registrations in flight within one token lifetime; beyond it registration fails closed. */
#define REPLAY_CAPACITY 65536
/* AD FS and MitID brokers issue tokens valid for minutes; a registration happens right after. */
#define TOKEN_MAX_AGE_SECONDS 600
#define TOKEN_SKEW_SECONDS 60

static void account_key_path(const char *data_dir, char *path, size_t len)
{
	snprintf(path, len, "%s/account-id.key", data_dir);
}

int relay_identity_open_account_key(const char *data_dir, uint8_t key[ID_HASH_KEY_BYTES],
				    bool *created)
{
	char path[RELAY_CONFIG_PATH_MAX + 32];
	account_key_path(data_dir, path, sizeof path);
	struct stat st;
	bool existed = lstat(path, &st) == 0;
	int rc = id_account_key_load(path, key);
	if (rc == 0)
		*created = !existed;
	return rc;
}

int relay_identity_load_account_key(const char *data_dir, uint8_t key[ID_HASH_KEY_BYTES])
{
	char path[RELAY_CONFIG_PATH_MAX + 32];
	account_key_path(data_dir, path, sizeof path);
	struct stat st;
	/* Only the relay's start creates the key (with the database it belongs to): a command that
	 * made a fresh one would derive account ids no database holds. */
	int rc = lstat(path, &st) == 0 ? id_account_key_load(path, key) : ID_ERR_IO;
	if (rc != 0)
		RLOG_ERROR("identity", "account_key_invalid", "path=%s error=\"%s\"", path,
			   lstat(path, &st) == 0 ? id_strerror(rc) : "missing");
	return rc == 0 ? 0 : -1;
}

void relay_identity_key_fingerprint(const uint8_t key[ID_HASH_KEY_BYTES], uint8_t fp[32])
{
	static const char domain[] = "OS2wakks account-id key fingerprint v1";
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const unsigned char *)domain, sizeof domain - 1);
	crypto_generichash_update(&st, key, ID_HASH_KEY_BYTES);
	crypto_generichash_final(&st, fp, 32);
}

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	char *buf = malloc(ID_JWKS_MAX_BYTES + 1);
	size_t n = buf ? fread(buf, 1, ID_JWKS_MAX_BYTES + 1, f) : 0;
	fclose(f);
	if (!buf || n > ID_JWKS_MAX_BYTES) {
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static unsigned parse_algs(const char *algs)
{
	unsigned bits = 0;
	if (strstr(algs, "RS256"))
		bits |= ID_ALG_RS256;
	if (strstr(algs, "ES256"))
		bits |= ID_ALG_ES256;
	return bits;
}

static int start_devidp(struct relay *r, struct relay_idp *p, const char *base_url)
{
	char key_dir[RELAY_CONFIG_PATH_MAX + 16];
	snprintf(key_dir, sizeof key_dir, "%s/devidp", r->cfg.data_dir);
	devidp_config dc = {
		.profile = p->idp.profile,
		.issuer = p->issuer,
		.client_id = p->cfg->audience,
		.key_dir = key_dir,
	};
	snprintf(p->issuer, sizeof p->issuer, "%s/dev-idp/%s", base_url, p->cfg->id);
	int rc = devidp_open(&dc, &p->dev);
	if (rc != 0) {
		RLOG_ERROR("identity", "devidp_failed", "idp=%s error=\"%s\"", p->cfg->id,
			   devidp_strerror(rc));
		return -1;
	}
	const char *jwks = devidp_jwks_json(p->dev);
	rc = id_keyset_parse(jwks, strlen(jwks), &p->keys);
	if (rc != 0)
		return -1;
	RLOG_WARN("identity", "devidp_enabled", "idp=%s issuer=%s note=\"development identity provider\"",
		  p->cfg->id, p->issuer);
	return 0;
}

/* Loads the key set from the provider's jwks_file into *out. */
static int load_key_file(const struct relay_idp_config *cfg, id_keyset **out)
{
	char *json = NULL;
	size_t len = 0;
	if (read_file(cfg->jwks_file, &json, &len) != 0) {
		RLOG_ERROR("identity", "jwks_unreadable", "idp=%s path=%s", cfg->id, cfg->jwks_file);
		return -1;
	}
	int rc = id_keyset_parse(json, len, out);
	free(json);
	if (rc != 0) {
		RLOG_ERROR("identity", "jwks_invalid", "idp=%s path=%s error=\"%s\"", cfg->id,
			   cfg->jwks_file, id_strerror(rc));
		return -1;
	}
	return 0;
}

/* Key set reloads after an unknown kid are at least this far apart. */
#define JWKS_REFRESH_MIN_MS 60000

int relay_identity_refresh_keys(struct relay *r, struct relay_idp *p)
{
	(void)r;
	uint64_t now = relay_monotonic_ms();
	if (p->dev || p->remote || now - p->keys_loaded_ms < JWKS_REFRESH_MIN_MS)
		return -1;
	p->keys_loaded_ms = now;
	id_keyset *fresh = NULL;
	if (load_key_file(p->cfg, &fresh) != 0)
		return -1;
	id_keyset_free(p->keys);
	p->keys = fresh;
	RLOG_INFO("identity", "jwks_reloaded", "idp=%s keys=%zu", p->cfg->id, id_keyset_count(fresh));
	return 0;
}

static int start_idp(struct relay *r, struct relay_idp *p, const struct relay_idp_config *cfg,
		     const char *base_url)
{
	p->cfg = cfg;
	p->idp.id = cfg->id;
	p->idp.client_id = cfg->audience;
	p->idp.kind = cfg->kind == RELAY_IDP_CITIZEN ? ID_KIND_CITIZEN : ID_KIND_CASEWORKER;
	p->idp.profile = cfg->profile == RELAY_IDP_PROFILE_ADFS ? ID_PROFILE_ADFS : ID_PROFILE_MITID_BROKER;
	p->idp.allowed_algs = parse_algs(cfg->algs);
	p->idp.profile = cfg->profile == RELAY_IDP_PROFILE_ENTRA ? ID_PROFILE_ENTRA : p->idp.profile;
	p->idp.skew_seconds = TOKEN_SKEW_SECONDS;
	p->idp.max_age_seconds = TOKEN_MAX_AGE_SECONDS;
	p->idp.issuer = p->issuer;
	p->idp.person_claim = cfg->person_claim[0] ? cfg->person_claim : NULL;
	p->idp.person_type = (id_person_type)cfg->person_type;
	p->idp.assurance_claim = cfg->assurance_claim[0] ? cfg->assurance_claim : NULL;
	p->idp.groups_claim = cfg->groups_claim[0] ? cfg->groups_claim : NULL;
	p->idp.required_tid = cfg->entra_tenant[0] ? cfg->entra_tenant : NULL;
	if (cfg->development) {
		if (start_devidp(r, p, base_url) != 0)
			return -1;
	} else {
		snprintf(p->issuer, sizeof p->issuer, "%s", cfg->issuer);
		/* Keys over HTTPS come from services/provider_keys.c once every provider is set up. */
		if (cfg->jwks_file[0] && load_key_file(cfg, &p->keys) != 0)
			return -1;
		if (relay_code_exchange_load(p) != 0)
			return -1;
	}
	if (id_idp_validate(&p->idp) != 0) {
		RLOG_ERROR("identity", "idp_invalid", "idp=%s", cfg->id);
		return -1;
	}
	return 0;
}

static void build_tenant(struct relay_tenant_ids *t, const struct relay_tenant_config *cfg)
{
	memset(t, 0, sizeof *t);
	t->tenant.id = cfg->id;
	t->tenant.name = cfg->name;
	t->tenant.cvr = cfg->cvr;
	size_t g = 0;
	for (int i = 0; i < cfg->unit_count; i++) {
		t->units[i] = (id_unit){ cfg->units[i].id, cfg->units[i].name };
		for (int j = 0; j < cfg->units[i].group_count; j++)
			t->groups[g++] = (id_group_map){ cfg->units[i].groups[j], cfg->units[i].id };
	}
	for (int i = 0; i < cfg->idp_count; i++)
		t->idp_ids[i] = cfg->idps[i];
	t->tenant.units = t->units;
	t->tenant.n_units = (size_t)cfg->unit_count;
	t->tenant.idp_ids = t->idp_ids;
	t->tenant.n_idp_ids = (size_t)cfg->idp_count;
	t->tenant.group_map = t->groups;
	t->tenant.n_group_map = g;
}

/* Outbound requests in flight at once, and waiting: a handful of providers, each fetching two
 * documents now and then, plus code exchanges of clients logging in. */
#define HTTP_MAX_IN_FLIGHT 8
#define HTTP_MAX_QUEUED 256

/* The outbound HTTPS client, when a provider needs one (keys over HTTPS, a confidential client);
 * made at the start, or at the first reload that configures such a provider, and kept. Then the
 * providers' remote key state (services/provider_keys.c) for the providers now in r->identity. */
static int start_outbound(struct relay *r)
{
	bool need = false;
	for (int i = 0; i < r->cfg.idp_count; i++) {
		const struct relay_idp_config *c = &r->cfg.idps[i];
		need |= !c->development && (c->discovery[0] || c->jwks_url[0] ||
					    c->client_auth != RELAY_IDP_AUTH_NONE);
	}
	if (need && !r->identity.http) {
		r->identity.http = http_client_new(r->loop, HTTP_MAX_IN_FLIGHT, HTTP_MAX_QUEUED);
		if (!r->identity.http) {
			RLOG_ERROR("identity", "http_client_failed",
				   "note=\"outbound HTTPS could not start\"");
			return -1;
		}
	}
	return relay_provider_keys_attach(r, r->identity.http);
}

/* The providers and tenants of r->cfg into id (its replay cache and account key untouched). On
 * failure what was loaded stays in id for free_providers. */
static int build(struct relay *r, struct relay_identity *id, const char *base_url)
{
	for (int i = 0; i < r->cfg.idp_count; i++) {
		id->idp_count = i + 1;
		if (start_idp(r, &id->idps[i], &r->cfg.idps[i], base_url) != 0)
			return -1;
	}
	for (int i = 0; i < r->cfg.tenant_count; i++) {
		build_tenant(&id->tenants[i], &r->cfg.tenants[i]);
		if (id_tenant_validate(&id->tenants[i].tenant) != 0) {
			RLOG_ERROR("identity", "tenant_invalid", "tenant=%s", r->cfg.tenants[i].id);
			return -1;
		}
	}
	return 0;
}

static void free_providers(struct relay_identity *id)
{
	for (int i = 0; i < id->idp_count; i++) {
		relay_code_exchange_unload(&id->idps[i]);
		id_keyset_free(id->idps[i].keys);
		devidp_close(id->idps[i].dev);
		id->idps[i].keys = NULL;
		id->idps[i].dev = NULL;
	}
	id->idp_count = 0;
}

int relay_identity_start(struct relay *r, const char *base_url)
{
	struct relay_identity *id = &r->identity;
	if (id_replay_new(REPLAY_CAPACITY, &id->replay) != 0)
		return -1;
	if (build(r, id, base_url) != 0)
		return -1;
	return start_outbound(r);
}

int relay_identity_rebuild(struct relay *r, const char *base_url)
{
	struct relay_identity *fresh = calloc(1, sizeof *fresh);
	if (!fresh)
		return -1;
	if (build(r, fresh, base_url) != 0) {
		free_providers(fresh);
		free(fresh);
		return -1;
	}
	/* Fetches and registrations waiting for the old providers' keys end (the waiting ones are
	 * verified once more against the keys they have), then the old providers go. */
	relay_provider_keys_detach(r);
	free_providers(&r->identity);
	/* The providers move over (their issuer pointers point into themselves, so they are set
	 * again); the tenants are built again in place for the same reason. */
	memcpy(r->identity.idps, fresh->idps, sizeof fresh->idps);
	r->identity.idp_count = fresh->idp_count;
	for (int i = 0; i < r->identity.idp_count; i++)
		r->identity.idps[i].idp.issuer = r->identity.idps[i].issuer;
	for (int i = 0; i < r->cfg.tenant_count; i++)
		build_tenant(&r->identity.tenants[i], &r->cfg.tenants[i]);
	free(fresh);
	/* Providers with keys over HTTPS start from their persisted set and fetch. */
	if (start_outbound(r) != 0)
		RLOG_WARN("identity", "idp_fetch_not_started", "note=\"providers with keys over HTTPS "
			  "verify with their persisted key sets only\"");
	return 0;
}

void relay_identity_stop(struct relay *r)
{
	struct relay_identity *id = &r->identity;
	relay_provider_keys_stop(r);
	relay_login_challenge_free(r);
	if (id->http) {
		http_client_free(id->http);
		id->http = NULL;
	}
	free_providers(id);
	id_replay_free(id->replay);
	id->replay = NULL;
	sodium_memzero(id->account_key, sizeof id->account_key);
}

struct relay_idp *relay_identity_idp_by_issuer(struct relay *r, const char *iss)
{
	for (int i = 0; i < r->identity.idp_count; i++)
		if (strcmp(r->identity.idps[i].issuer, iss) == 0)
			return &r->identity.idps[i];
	return NULL;
}

struct relay_idp *relay_identity_idp_by_id(struct relay *r, const char *id)
{
	for (int i = 0; i < r->identity.idp_count; i++)
		if (strcmp(r->identity.idps[i].cfg->id, id) == 0)
			return &r->identity.idps[i];
	return NULL;
}

const id_tenant *relay_identity_tenant_for_idp(struct relay *r, const char *idp_id)
{
	for (int i = 0; i < r->cfg.tenant_count; i++)
		for (size_t j = 0; j < r->identity.tenants[i].tenant.n_idp_ids; j++)
			if (strcmp(r->identity.tenants[i].tenant.idp_ids[j], idp_id) == 0)
				return &r->identity.tenants[i].tenant;
	return NULL;
}
