/* SPDX-License-Identifier: MPL-2.0 */
#include "services/membership.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/clock.h"
#include "core/log.h"
#include "relay_state.h"
#include "wakks_storage.h"

/* Whether the tenant still trusts a configured caseworker provider: without one no caseworker
 * of the tenant could have been attested, nor can be again. */
static bool trusts_caseworker_idp(const struct relay_config *cfg, const struct relay_tenant_config *t)
{
	for (int i = 0; i < t->idp_count; i++) {
		const struct relay_idp_config *p = relay_config_idp(cfg, t->idps[i]);
		if (p && p->kind == RELAY_IDP_CASEWORKER)
			return true;
	}
	return false;
}

static bool unit_allowed(const struct relay_tenant_config *t, const char *unit)
{
	for (int i = 0; i < t->unit_count; i++)
		if (strcmp(t->units[i].id, unit) == 0)
			return t->units[i].group_count > 0;
	return false;
}

bool relay_membership_prune(struct relay *r, struct store_account *acc)
{
	if (acc->kind != STORE_ACCOUNT_CASEWORKER)
		return false;
	const struct relay_tenant_config *t = relay_config_tenant(&r->cfg, acc->tenant);
	bool trusted = t && trusts_caseworker_idp(&r->cfg, t);
	uint8_t kept = 0;
	for (uint8_t i = 0; i < acc->n_units; i++) {
		if (!trusted || !unit_allowed(t, acc->units[i]))
			continue;
		if (kept != i)
			memcpy(acc->units[kept], acc->units[i], sizeof acc->units[0]);
		kept++;
	}
	bool dropped = kept != acc->n_units;
	acc->n_units = kept;
	/* Units a reload has just ended, until the accounts' rewrites are durable. */
	for (int d = 0; d < r->revoked_unit_count; d++)
		for (uint8_t i = 0; i < acc->n_units; i++)
			if (strcmp(acc->tenant, r->revoked_units[d][0]) == 0 &&
			    strcmp(acc->units[i], r->revoked_units[d][1]) == 0) {
				memmove(acc->units[i], acc->units[i + 1],
					(size_t)(acc->n_units - i - 1) * sizeof acc->units[0]);
				acc->n_units--;
				dropped = true;
				break;
			}
	return dropped;
}

bool relay_membership_has(const struct store_account *acc, const char *unit)
{
	for (uint8_t i = 0; i < acc->n_units; i++)
		if (strcmp(acc->units[i], unit) == 0)
			return true;
	return false;
}

bool relay_attestation_expired(struct relay *r, const struct store_account *acc,
			       const struct store_device *dev)
{
	if (acc->kind != STORE_ACCOUNT_CASEWORKER)
		return false;
	uint64_t max_ms = (uint64_t)r->cfg.caseworker_attestation_seconds * 1000u;
	return relay_now_ms() - dev->created_ms >= max_ms;
}

/* The start's rewrites in flight: the new fingerprints become the recorded ones only once every
 * rewrite is durable, so a crash in between re-evaluates at the next start. */
struct membership_commit {
	struct relay *r;
	/* A reload's units whose membership ended, in force (r->revoked_units) until the rewrites
	 * are durable: the loop keeps answering meanwhile. */
	char (*drops)[2][65];
	int n_drops;
	size_t pending;
	bool failed;
	bool walked; /* every rewrite submitted */
	char path[RELAY_CONFIG_PATH_MAX + 32];
	char tmp[RELAY_CONFIG_PATH_MAX + 40];
};

static void commit_if_done(struct membership_commit *mc)
{
	if (!mc->walked || mc->pending)
		return;
	if (mc->failed || rename(mc->tmp, mc->path) != 0) {
		RLOG_ERROR("membership", "reevaluation_failed", "path=%s", mc->path);
		remove(mc->tmp);
	}
	if (mc->r && mc->r->revoked_units == mc->drops) {
		mc->r->revoked_units = NULL;
		mc->r->revoked_unit_count = 0;
	}
	free(mc->drops);
	free(mc);
}

static void rewritten(struct store_req *req, int result, void *data)
{
	(void)req;
	struct membership_commit *mc = data;
	if (result != 0) {
		RLOG_ERROR("membership", "rewrite_failed", "error=\"%s\"", store_strerror(result));
		mc->failed = true;
	}
	mc->pending--;
	commit_if_done(mc);
}

/* What a unit's membership rests on: the groups that map to it (compared case-insensitively, so
 * lower-cased here) and the caseworker providers its tenant trusts, with their issuers. The
 * account record keeps the unit, not the group that gave it, so a change of this fingerprint is
 * how the relay knows that a membership may no longer hold. */
static void unit_fingerprint(const struct relay_config *cfg, const struct relay_tenant_config *t,
			     const struct relay_unit_config *u, char hex[65])
{
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	for (int i = 0; i < u->group_count; i++) {
		char g[RELAY_CONFIG_STR_MAX];
		size_t n = strlen(u->groups[i]);
		for (size_t j = 0; j <= n; j++) /* with its NUL: a separator */
			g[j] = (char)tolower((unsigned char)u->groups[i][j]);
		crypto_hash_sha256_update(&st, (const unsigned char *)"g", 1);
		crypto_hash_sha256_update(&st, (const unsigned char *)g, n + 1);
	}
	for (int i = 0; i < t->idp_count; i++) {
		const struct relay_idp_config *p = relay_config_idp(cfg, t->idps[i]);
		if (!p || p->kind != RELAY_IDP_CASEWORKER)
			continue;
		crypto_hash_sha256_update(&st, (const unsigned char *)"i", 1);
		crypto_hash_sha256_update(&st, (const unsigned char *)p->id, strlen(p->id) + 1);
		crypto_hash_sha256_update(&st, (const unsigned char *)p->issuer, strlen(p->issuer) + 1);
	}
	uint8_t h[32];
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(hex, 65, h, sizeof h);
}

struct start_walk {
	struct relay *r;
	struct membership_commit *mc;
	const char *drop[RELAY_MAX_UNITS_PER_TENANT]; /* units whose fingerprint changed */
	int n_drop;
	size_t pruned;
	int rc;
};

static int prune_one(const uint8_t account[16], void *data)
{
	struct start_walk *w = data;
	struct store_account acc;
	if (store_get_account(w->r->store, account, &acc) != 0)
		return 0;
	bool changed = relay_membership_prune(w->r, &acc);
	for (int d = 0; d < w->n_drop; d++)
		for (uint8_t i = 0; i < acc.n_units; i++)
			if (strcmp(acc.units[i], w->drop[d]) == 0) {
				memmove(acc.units[i], acc.units[i + 1],
					(size_t)(acc.n_units - i - 1) * sizeof acc.units[0]);
				acc.n_units--;
				changed = true;
				break;
			}
	if (!changed)
		return 0;
	struct store_req *req = store_req_new(w->r->store, rewritten, w->mc);
	if (!req || store_req_put_account(req, &acc) < 0) {
		store_req_free(req);
		w->rc = -1;
		return 1;
	}
	if (store_submit(req) != 0) { /* frees the request */
		w->rc = -1;
		return 1;
	}
	w->mc->pending++;
	w->pruned++;
	return 0;
}

/* The fingerprint recorded for tenant/unit at the last start, into hex; false if none. */
static bool previous_fingerprint(const char *text, const char *tenant, const char *unit, char hex[65])
{
	char name[2 * RELAY_CONFIG_STR_MAX];
	int n = snprintf(name, sizeof name, "%s/%s ", tenant, unit);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, name, (size_t)n) == 0 && sscanf(p + n, "%64[0-9a-f]", hex) == 1)
			return true;
	return false;
}

/* Rewrites the accounts whose units the configuration no longer allows (see the header), with
 * mc->pending counting the rewrites in flight. Returns 0 or -1. */
static int walk(struct relay *r, struct membership_commit *mc)
{
	snprintf(mc->path, sizeof mc->path, "%s/memberships", r->cfg.data_dir);
	snprintf(mc->tmp, sizeof mc->tmp, "%s.tmp", mc->path);
	char *old = NULL;
	size_t old_len = 0;
	FILE *f = fopen(mc->path, "r");
	if (f) {
		FILE *mem = open_memstream(&old, &old_len);
		char buf[512];
		size_t n;
		while (mem && (n = fread(buf, 1, sizeof buf, f)) > 0)
			fwrite(buf, 1, n, mem);
		if (mem)
			fclose(mem);
		fclose(f);
	}
	struct start_walk w = { .r = r, .mc = mc };
	FILE *out = fopen(mc->tmp, "w");
	if (!out)
		w.rc = -1;
	for (int i = 0; i < r->cfg.tenant_count && w.rc == 0; i++) {
		const struct relay_tenant_config *t = &r->cfg.tenants[i];
		w.n_drop = 0;
		for (int j = 0; j < t->unit_count; j++) {
			char now[65], before[65];
			unit_fingerprint(&r->cfg, t, &t->units[j], now);
			fprintf(out, "%s/%s %s\n", t->id, t->units[j].id, now);
			/* The groups or providers changed: every membership of the unit ends; a
			 * caseworker whose fresh ID token still maps to it gets it back by re-attesting. */
			if (old && previous_fingerprint(old, t->id, t->units[j].id, before) &&
			    strcmp(before, now) != 0) {
				w.drop[w.n_drop++] = t->units[j].id;
				if (mc->drops && mc->n_drops < RELAY_MAX_TENANTS * RELAY_MAX_UNITS_PER_TENANT) {
					snprintf(mc->drops[mc->n_drops][0], 65, "%s", t->id);
					snprintf(mc->drops[mc->n_drops][1], 65, "%s", t->units[j].id);
					mc->n_drops++;
					RLOG_INFO("membership", "unit_mapping_changed",
						  "tenant=%s unit=%s note=\"memberships end; caseworkers regain them by re-attesting\"",
						  t->id, t->units[j].id);
				}
			}
		}
		/* One pass over the tenant's caseworkers, one rewrite per account: also units no
		 * longer configured or without groups, and a tenant without its caseworker provider
		 * (relay_membership_prune). */
		if (store_list_tenant_accounts(r->store, t->id, STORE_ACCOUNT_CASEWORKER, prune_one, &w) < 0)
			w.rc = -1;
	}
	free(old);
	if (out && fclose(out) != 0)
		w.rc = -1;
	if (w.pruned)
		RLOG_INFO("membership", "reevaluated", "accounts_changed=%zu", w.pruned);
	mc->failed |= w.rc != 0;
	return w.rc;
}

int relay_membership_start(struct relay *r)
{
	struct membership_commit *mc = calloc(1, sizeof *mc);
	if (!mc)
		return -1;
	int rc = walk(r, mc);
	/* Nothing else is on the loop yet: wait here until the rewrites are durable, so that no
	 * request is ever answered from a membership that just ended. */
	while (mc->pending)
		uv_run(r->loop, UV_RUN_ONCE);
	mc->walked = true;
	commit_if_done(mc);
	return rc;
}

int relay_membership_reevaluate(struct relay *r)
{
	struct membership_commit *mc = calloc(1, sizeof *mc);
	if (!mc)
		return -1;
	mc->r = r;
	mc->drops = calloc(RELAY_MAX_TENANTS * RELAY_MAX_UNITS_PER_TENANT, sizeof *mc->drops);
	if (!mc->drops) {
		free(mc);
		return -1;
	}
	/* The overlay is in force before the first rewrite is read back: the loop answers other
	 * requests while they are written. */
	r->revoked_units = mc->drops;
	r->revoked_unit_count = 0;
	int rc = walk(r, mc);
	r->revoked_unit_count = mc->n_drops;
	mc->walked = true;
	commit_if_done(mc);
	return rc;
}
