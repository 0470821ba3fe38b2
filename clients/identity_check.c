/* SPDX-License-Identifier: MPL-2.0 */
/* The verified citizen identity (spec/client.md §15, §18): a tenant's public information from
 * the relay (its citizen providers' published keys, history days, the read-receipt switch), and
 * the check a unit device makes of a citizen's presentation — the provider's signature, the
 * audience, and the nonce binding the token to the identity key of the device that sent it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "threads_internal.h"

/* A tenant's information is fetched again at most this often (a rotated provider key). */
#define TENANT_REFRESH_MIN_MS 60000

static void tenant_clear(struct wakks__tenant_cache *t)
{
	for (size_t i = 0; i < t->n_idps; i++)
		id_keyset_free(t->idps[i].keys);
	memset(t, 0, sizeof *t);
}

void wakks__tenant_cache_clear(struct wakks__threads *th)
{
	for (size_t i = 0; i < th->n_tenants; i++)
		tenant_clear(&th->tenants[i]);
	th->n_tenants = 0;
}

static int parse_idp(json_t *j, struct wakks__idp_info *p)
{
	const char *iss = json_string_value(json_object_get(j, "issuer"));
	const char *cid = json_string_value(json_object_get(j, "client_id"));
	const char *pc = json_string_value(json_object_get(j, "person_claim"));
	json_t *algs = json_object_get(j, "algs"), *jwks = json_object_get(j, "jwks");
	if (!iss || !cid || !json_is_array(algs) || !json_is_object(jwks) || strlen(iss) >= 256 ||
	    strlen(cid) >= 256 || (pc && strlen(pc) >= 64))
		return WAKKS_E_PROTOCOL;
	snprintf(p->issuer, sizeof p->issuer, "%s", iss);
	snprintf(p->client_id, sizeof p->client_id, "%s", cid);
	snprintf(p->person_claim, sizeof p->person_claim, "%s", pc ? pc : "dk.cpr");
	size_t i;
	json_t *a;
	json_array_foreach(algs, i, a) {
		const char *s = json_string_value(a);
		if (s && strcmp(s, "RS256") == 0)
			p->algs |= ID_ALG_RS256;
		if (s && strcmp(s, "ES256") == 0)
			p->algs |= ID_ALG_ES256;
	}
	char *doc = json_dumps(jwks, JSON_COMPACT);
	int rc = doc && p->algs && id_keyset_parse(doc, strlen(doc), &p->keys) == 0 ? 0
										  : WAKKS_E_PROTOCOL;
	free(doc);
	return rc;
}

static int fetch_tenant(wakks_client *c, const char *tenant, struct wakks__tenant_cache *out)
{
	char path[64];
	snprintf(path, sizeof path, "/tenant/%s", tenant);
	int status = 0;
	char *body = NULL;
	int rc = wakks__https(c->tls, c->host, c->port, "GET", path, NULL, &status, &body, NULL, 0);
	if (rc != 0)
		return rc;
	if (status != 200) {
		free(body);
		return WAKKS_E_HTTP;
	}
	json_error_t jerr;
	json_t *j = json_loads(body, 0, &jerr);
	free(body);
	const char *id = json_string_value(json_object_get(j, "id"));
	const char *name = json_string_value(json_object_get(j, "name"));
	json_t *hd = json_object_get(j, "history_days"), *rr = json_object_get(j, "read_receipts");
	json_t *idps = json_object_get(j, "citizen_idps");
	rc = WAKKS_E_PROTOCOL;
	if (id && strcmp(id, tenant) == 0 && json_is_integer(hd) && json_integer_value(hd) >= 0 &&
	    json_integer_value(hd) <= 365 && json_is_boolean(rr) && json_is_array(idps)) {
		memset(out, 0, sizeof *out);
		snprintf(out->id, sizeof out->id, "%s", tenant);
		snprintf(out->name, sizeof out->name, "%s", name ? name : "");
		out->history_days = (uint32_t)json_integer_value(hd);
		out->read_receipts = json_is_true(rr);
		rc = 0;
		size_t i;
		json_t *p;
		json_array_foreach(idps, i, p) {
			if (out->n_idps == WAKKS__MAX_IDPS)
				break;
			/* A provider entry we cannot read verifies nothing; the others still do. */
			if (parse_idp(p, &out->idps[out->n_idps]) == 0)
				out->n_idps++;
		}
	}
	json_decref(j);
	return rc;
}

/* The tenant's information, fetched when not held (or when refresh and it is old enough). */
static struct wakks__tenant_cache *tenant_get(wakks_client *c, const char *tenant, bool refresh)
{
	struct wakks__threads *th = wakks__th(c);
	if (!th || th->test_tenant_unavailable)
		return NULL;
	struct wakks__tenant_cache *slot = NULL;
	for (size_t i = 0; i < th->n_tenants; i++)
		if (strcmp(th->tenants[i].id, tenant) == 0)
			slot = &th->tenants[i];
	uint64_t now = wakks__mono_ms();
	if (slot && slot->ok && (!refresh || now - slot->fetched_mono < TENANT_REFRESH_MIN_MS))
		return slot;
	if (slot && !slot->ok && now - slot->fetched_mono < TENANT_REFRESH_MIN_MS / 6)
		return NULL; /* it failed a moment ago */
	if (!slot) {
		if (th->n_tenants == WAKKS__MAX_TENANTS) {
			tenant_clear(&th->tenants[0]);
			memmove(&th->tenants[0], &th->tenants[1],
				(WAKKS__MAX_TENANTS - 1) * sizeof th->tenants[0]);
			th->n_tenants--;
		}
		slot = &th->tenants[th->n_tenants++];
		memset(slot, 0, sizeof *slot);
		snprintf(slot->id, sizeof slot->id, "%s", tenant);
	}
	struct wakks__tenant_cache fresh;
	int rc = fetch_tenant(c, tenant, &fresh);
	if (rc != 0) {
		if (!slot->ok)
			slot->fetched_mono = now;
		return slot->ok ? slot : NULL;
	}
	tenant_clear(slot);
	*slot = fresh;
	slot->ok = true;
	slot->fetched_mono = now;
	return slot;
}

int wakks__tenant_read_receipts(wakks_client *c, const char *tenant, bool *on)
{
	struct wakks__tenant_cache *t = tenant_get(c, tenant, false);
	if (!t)
		return WAKKS_E_HTTP;
	*on = t->read_receipts;
	return 0;
}

int wakks__tenant_history_days(wakks_client *c, const char *tenant, uint32_t *days)
{
	struct wakks__tenant_cache *t = tenant_get(c, tenant, false);
	if (!t)
		return WAKKS_E_HTTP;
	*days = t->history_days;
	return 0;
}

int wakks_tenant_info_get(wakks_client *c, const char *tenant, wakks_tenant_info *out)
{
	if (!c || !out || !wakks__slug_ok(tenant))
		return WAKKS_E_INVAL;
	struct wakks__tenant_cache t;
	int rc = fetch_tenant(c, tenant, &t);
	if (rc != 0)
		return rc;
	memset(out, 0, sizeof *out);
	snprintf(out->id, sizeof out->id, "%s", t.id);
	snprintf(out->name, sizeof out->name, "%s", t.name);
	out->history_days = t.history_days;
	out->read_receipts = t.read_receipts;
	out->n_citizen_idps = t.n_idps;
	tenant_clear(&t);
	return 0;
}

/* The failure reason of spec/client.md §15 for an identity library code. */
static int reason_of(int err)
{
	switch (err) {
	case ID_ERR_ISS:
		return WAKKS_IDR_FOREIGN_PROVIDER;
	case ID_ERR_AUD:
	case ID_ERR_AZP:
		return WAKKS_IDR_AUDIENCE;
	case ID_ERR_NONCE_MISSING:
	case ID_ERR_NONCE_MISMATCH:
		return WAKKS_IDR_KEY_BINDING;
	case ID_ERR_SUBJECT:
		return WAKKS_IDR_CLAIMS;
	default:
		return WAKKS_IDR_SIGNATURE;
	}
}

/* Steps 2-7 of §15. 0 with *p filled, or the reason. */
static int check(wakks_client *c, const char *tenant, const struct wakks__presentation *pr,
		 const uint8_t ik[32], id_presented *p)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		struct wakks__tenant_cache *t = tenant_get(c, tenant, attempt > 0);
		if (!t)
			return WAKKS_IDR_UNAVAILABLE;
		const struct wakks__idp_info *info = NULL;
		for (size_t i = 0; i < t->n_idps && !info; i++)
			if (strcmp(t->idps[i].issuer, pr->issuer) == 0)
				info = &t->idps[i];
		if (!info)
			return WAKKS_IDR_FOREIGN_PROVIDER;
		id_idp idp = {
			.id = "presented",
			.issuer = info->issuer,
			.client_id = info->client_id,
			.kind = ID_KIND_CITIZEN,
			.profile = ID_PROFILE_MITID_BROKER,
			.allowed_algs = info->algs,
			.person_claim = info->person_claim,
			.person_type = ID_PERSON_CPR,
			.skew_seconds = 60,
			.max_age_seconds = 600,
		};
		int rc = id_presentation_verify(&idp, info->keys, pr->token, pr->token_len, ik,
						pr->challenge, p);
		if (rc == 0)
			return WAKKS_IDR_NONE;
		/* A key the provider rotated in since we fetched: once more with fresh keys. */
		if (rc != ID_ERR_KID_UNKNOWN || attempt > 0)
			return reason_of(rc);
	}
	return WAKKS_IDR_SIGNATURE;
}

int wakks__presentation_accept(wakks_client *c, wakks__txn *t, const wc_content *ct,
			       const uint8_t sender_ik[32])
{
	struct wakks__thread_rec *tr = malloc(sizeof *tr);
	if (!tr)
		return WAKKS_E_NOMEM;
	int rc = wakks__thread_load(t, ct->conversation_id, tr);
	if (rc != 0) {
		free(tr);
		return rc;
	}
	struct wakks__presentation pr;
	id_presented p;
	memset(&p, 0, sizeof p);
	int reason = WAKKS_IDR_MALFORMED;
	bool citizen_device = memcmp(tr->citizen, c->account, 16) == 0;
	if (citizen_device) {
		/* Our own (or our other device's) presentation: nothing to check or show. */
		free(tr);
		return 0;
	}
	if (wakks__presentation_decode(ct->body, ct->body_len, &pr) == 0)
		reason = check(c, ct->tenant, &pr, sender_ik, &p);
	bool verified = reason == WAKKS_IDR_NONE;
	/* The thread shows its latest verified presentation; a failure replaces only failures. */
	if (verified || tr->id.status != WAKKS_ID_VERIFIED) {
		memset(&tr->id, 0, sizeof tr->id);
		tr->id.status = verified ? WAKKS_ID_VERIFIED : WAKKS_ID_UNVERIFIED;
		tr->id.reason = reason;
		if (verified) {
			snprintf(tr->id.name, sizeof tr->id.name, "%s", p.name);
			memcpy(tr->cpr, p.cpr, sizeof tr->cpr);
			tr->id.registered_ms = p.iat > 0 ? (uint64_t)p.iat * 1000u : 0;
		} else {
			memset(tr->cpr, 0, sizeof tr->cpr);
		}
		if (ct->body_len <= sizeof tr->pres) {
			memcpy(tr->pres, ct->body, ct->body_len);
			tr->pres_len = ct->body_len;
			memcpy(tr->pres_ik, sender_ik, 32);
			memcpy(tr->pres_acc, ct->sender_account, 16);
			memcpy(tr->pres_dev, ct->sender_device, 16);
			memcpy(tr->pres_mid, ct->message_id, 16);
			tr->pres_sent_ms = ct->sent_ms;
		}
		rc = wakks__thread_save(t, tr);
		wakks__thread_touched(c, ct->conversation_id);
	}
	sodium_memzero(&p, sizeof p);
	sodium_memzero(tr, sizeof *tr);
	free(tr);
	/* Unavailable is not final: the thread shows it until a later presentation verifies. */
	return rc;
}

#if defined(WAKKS_TEST_HOOKS) && WAKKS_TEST_HOOKS
void wakks__test_tenant_unavailable(wakks_client *c, bool on)
{
	struct wakks__threads *th = wakks__th(c);
	if (th)
		th->test_tenant_unavailable = on;
}
#endif
