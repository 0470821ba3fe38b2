/* SPDX-License-Identifier: MPL-2.0 */
/* register: binds a new device to a person through an OpenID Connect ID token whose nonce commits
 * to the device's identity key and this connection's challenge (spec/identity.md). The relay keeps
 * a keyed hash of the person identifier, never the identifier itself. Every refusal is the same
 * on the wire; the log names the exact check that failed. */
#include <stdlib.h>
#include <string.h>

#include <strings.h>
#include <sodium.h>

#include "core/clock.h"
#include "core/log.h"
#include "handlers/call.h"
#include "handlers/handlers.h"
#include "net/conn.h"
#include "net/outgoing.h"
#include "relay_state.h"
#include "services/metrics.h"
#include "services/audit_log.h"
#include "services/delivery.h"
#include "services/identity_binding.h"
#include "services/login_challenge.h"
#include "services/notify.h"
#include "services/prekeys.h"
#include "services/provider_keys.h"
#include "wakks_storage.h"
#include "services/cluster.h"

struct register_call {
	struct relay_call call;
	uint8_t account[16];
	uint8_t device[16];
};

static void register_refused(struct relay_call *call, struct relay_conn *c, int result)
{
	RLOG_ERROR("register", "store_failed", "error=\"%s\"", store_strerror(result));
	if (c) {
		c->registering = false;
		relay_call_reply_error(c, call->from.request_id, result, NULL,
				       "the registration could not be stored; retry");
	}
}

static void registered(struct relay_call *call, struct relay_conn *c)
{
	struct register_call *g = (struct register_call *)call;
	struct relay *r = call->from.relay;
	RLOG_INFO("register", "device_registered", "conn=%llu", c ? (unsigned long long)c->id : 0ull);
	if (c)
		c->registering = false;
	if (c && c->state == CONN_UNAUTHENTICATED) {
		relay_conn_authenticated(c, g->device, g->account);
		relay_cluster_device_bound(r, g->device, c->bound_ms);
		proto_frame *out = relay_tx_frame(r, PROTO_T_REGISTERED, call->from.request_id);
		out->body.registered.account = g->account;
		out->body.registered.device = g->device;
		relay_send_frame(c, out);
		relay_prekeys_check(r, g->device);
		relay_deliver_pump(c);
	}
	relay_notify_devices_changed(r, g->account, g->device);
	relay_notify_unit_devices_changed(r, g->account, g->device);
}

static void refuse(struct relay_conn *c, uint32_t request_id, const char *check, int err)
{
	c->relay->metrics.auth_failed++;
	enum relay_idfail why = strcmp(check, "token") == 0 || strcmp(check, "token_shape") == 0
					? RELAY_IDFAIL_TOKEN
				: strcmp(check, "unknown_issuer") == 0 ||
						strcmp(check, "no_tenant_trusts_issuer") == 0
					? RELAY_IDFAIL_PROVIDER
					: RELAY_IDFAIL_OTHER;
	c->relay->metrics.identity_failures[why]++;
	RLOG_INFO("register", "refused", "conn=%llu peer=%s check=%s reason=\"%s\"",
		  (unsigned long long)c->id, c->peer, check, err ? id_errname(err) : check);
	relay_send_error(c, request_id, PROTO_E_ATTESTATION_REJECTED, "identity attestation rejected",
			 NULL);
}

/* The tenant's journal bridge registers like a caseworker, under a UPN the configuration names. */
static bool relay_is_journal_upn(struct relay *r, const char *tenant_id, const char *upn)
{
	const struct relay_tenant_config *t = relay_config_tenant(&r->cfg, tenant_id);
	for (int i = 0; t && i < t->journal_upn_count; i++)
		if (strcasecmp(t->journal_upns[i], upn) == 0)
			return true;
	return false;
}

/* Builds the account record from a verified identity; the person identifier is hashed here. */
static int account_from(struct relay *r, id_verified *v, const id_tenant *tenant,
			struct store_account *acc)
{
	memset(acc, 0, sizeof *acc);
	int rc;
	if (v->kind == ID_KIND_CITIZEN) {
		acc->kind = STORE_ACCOUNT_CITIZEN;
		rc = id_citizen_account_id(r->identity.account_key, v, acc->id);
		snprintf(acc->tenant, sizeof acc->tenant, "-");
	} else {
		acc->kind = relay_is_journal_upn(r, tenant->id, v->person_id) ? STORE_ACCOUNT_JOURNAL
									       : STORE_ACCOUNT_CASEWORKER;
		rc = id_caseworker_account_id(r->identity.account_key, tenant->id, v->person_id, acc->id);
		snprintf(acc->tenant, sizeof acc->tenant, "%s", tenant->id);
		for (size_t i = 0; i < v->n_units && i < STORE_ACCOUNT_UNITS_MAX; i++)
			snprintf(acc->units[acc->n_units++], sizeof acc->units[0], "%s", v->units[i]);
	}
	return rc;
}

/* A register waiting for its provider's key set to be fetched (the token named a key id the set
 * does not hold, or no set has been fetched yet): the frame's canonical bytes, decoded again when
 * the fetch ends, so nothing points into the connection's receive buffer meanwhile. */
struct parked_register {
	struct relay_origin from;
	size_t len;
	uint8_t frame[];
};

static void run_register(struct relay_conn *c, const proto_frame *f, bool may_fetch);

static void resume_register(void *ctx, bool ok)
{
	struct parked_register *pr = ctx;
	struct relay_conn *c = pr->from.relay->stopping ? NULL : relay_origin_conn(&pr->from);
	proto_frame *f = c ? calloc(1, sizeof *f) : NULL;
	(void)ok; /* a failed fetch leaves the old set, which refuses the token as before */
	if (c) {
		c->registering = false;
		if (f && c->state == CONN_UNAUTHENTICATED && proto_frame_decode(pr->frame, pr->len, f) == 0)
			run_register(c, f, false);
		else if (c->state == CONN_UNAUTHENTICATED)
			relay_send_error(c, pr->from.request_id, PROTO_E_INTERNAL,
					 "the registration could not be resumed; retry", NULL);
	}
	free(f);
	sodium_memzero(pr->frame, pr->len); /* holds the token */
	free(pr);
}

/* Parks the register until the provider's keys are fetched. Returns 0 when parked (nothing is
 * answered now), -1 when no fetch may start (rate limit) or memory is short. */
static int park_register(struct relay_conn *c, const proto_frame *f, struct relay_idp *idp)
{
	uint8_t *buf = malloc(PROTO_MAX_FRAME_BYTES);
	size_t len = 0;
	if (!buf || proto_frame_encode(f, buf, PROTO_MAX_FRAME_BYTES, &len) != 0) {
		free(buf);
		return -1;
	}
	struct parked_register *pr = malloc(sizeof *pr + len);
	if (pr) {
		pr->from = relay_origin_of(c, f->request_id);
		pr->len = len;
		memcpy(pr->frame, buf, len);
	}
	sodium_memzero(buf, len);
	free(buf);
	if (!pr)
		return -1;
	if (relay_provider_keys_refresh(c->relay, idp, resume_register, pr) != 0) {
		sodium_memzero(pr->frame, pr->len);
		free(pr);
		return -1;
	}
	/* Like a registration being stored: a second register must not race this one. */
	c->registering = true;
	RLOG_INFO("register", "awaiting_provider_keys", "conn=%llu idp=%s",
		  (unsigned long long)c->id, idp->cfg->id);
	return 0;
}

/* Verifies the attestation in full against the provider its issuer names, and the signed prekey
 * against the identity key, then derives the account. Returns 0 with *acc (and *idp_out), 1 when
 * the register was parked to wait for the provider's keys, or -1 after answering the refusal.
 * The verified identity is wiped before returning. */
static int verify_attestation(struct relay_conn *c, const proto_frame *f, struct store_account *acc,
			      struct relay_idp **idp_out, bool may_fetch)
{
	struct relay *r = c->relay;
	const proto_register *g = &f->body.reg;
	char iss[ID_ISSUER_MAX_BYTES + 1];
	if (id_token_issuer(g->attestation.ptr, g->attestation.len, iss, sizeof iss) != 0)
		return refuse(c, f->request_id, "token_shape", 0), -1;
	struct relay_idp *idp = relay_identity_idp_by_issuer(r, iss);
	if (!idp)
		return refuse(c, f->request_id, "unknown_issuer", 0), -1;
	const id_tenant *tenant = relay_identity_tenant_for_idp(r, idp->cfg->id);
	if (!tenant)
		return refuse(c, f->request_id, "no_tenant_trusts_issuer", 0), -1;

	id_verified v;
	/* A provider whose keys come over HTTPS and were never fetched (nor persisted) holds none:
	 * that is an unknown key id, which a fetch may cure. */
	int rc = !idp->keys ? ID_ERR_KID_UNKNOWN
			    : id_verify(&idp->idp, idp->keys, tenant, g->attestation.ptr,
					g->attestation.len, g->identity_key, c->challenge,
					(int64_t)(relay_now_ms() / 1000), r->identity.replay, &v);
	/* A provider that rotated its keys: fetch its key set once (off the loop; the register
	 * waits) and verify again. */
	if (rc == ID_ERR_KID_UNKNOWN && may_fetch && relay_provider_is_remote(idp) &&
	    park_register(c, f, idp) == 0)
		return 1;
	if (rc == ID_ERR_KID_UNKNOWN && !relay_provider_is_remote(idp) &&
	    relay_identity_refresh_keys(r, idp) == 0)
		rc = id_verify(&idp->idp, idp->keys, tenant, g->attestation.ptr, g->attestation.len,
			       g->identity_key, c->challenge, (int64_t)(relay_now_ms() / 1000),
			       r->identity.replay, &v);
	/* A client whose page was replaced during the log-in bound its nonce to a login challenge
	 * (spec/identity.md §2.2) instead of this connection's: that one, once. */
	uint8_t login_challenge[32];
	if (rc == ID_ERR_NONCE_MISMATCH &&
	    relay_login_challenge_find(r, g->identity_key, login_challenge)) {
		rc = id_verify(&idp->idp, idp->keys, tenant, g->attestation.ptr, g->attestation.len,
			       g->identity_key, login_challenge, (int64_t)(relay_now_ms() / 1000),
			       r->identity.replay, &v);
		/* Used once: a second registration with it (here or through another relay) fails. */
		if (rc == 0 && !relay_login_challenge_consume(r, g->identity_key, login_challenge)) {
			id_verified_wipe(&v);
			rc = ID_ERR_NONCE_MISMATCH;
		}
		sodium_memzero(login_challenge, sizeof login_challenge);
	}
	if (rc != 0)
		return refuse(c, f->request_id, "token", rc), -1;
	if (relay_spk_verify(g->identity_key, &g->spk) != 0) {
		id_verified_wipe(&v);
		relay_send_error(c, f->request_id, PROTO_E_BAD_SIGNATURE,
				 "signed prekey signature does not verify with the identity key", NULL);
		return -1;
	}
	rc = account_from(r, &v, tenant, acc);
	id_verified_wipe(&v);
	if (rc != 0)
		return refuse(c, f->request_id, "account_id", rc), -1;
	*idp_out = idp;
	return 0;
}

/* Stores the account (keeping its creation time), the new device, its prekeys and the audit
 * entry in one transaction; the device is live once that commits. */
/* The device's label: the one this register carries (the decoder checked it is UTF-8 of at most
 * PROTO_MAX_LABEL_BYTES); without one, a re-attested device keeps the label it had. Never logged:
 * the device chose it, and it may name a person. */
static void set_label(struct store_device *dev, const proto_str *label, const struct store_device *old)
{
	_Static_assert(PROTO_MAX_LABEL_BYTES <= STORE_DEVICE_LABEL_MAX, "a wire label fits the record");
	if (label->ptr && label->len > 0 && label->len <= PROTO_MAX_LABEL_BYTES) {
		dev->label_len = (uint8_t)label->len;
		memcpy(dev->label, label->ptr, label->len);
	} else if (old) {
		dev->label_len = old->label_len;
		memcpy(dev->label, old->label, old->label_len);
	}
	dev->label[dev->label_len] = '\0';
}

static void store_registration(struct relay_conn *c, const proto_frame *f, struct store_account *acc,
			       const struct relay_idp *idp, const struct store_device *rebind)
{
	struct relay *r = c->relay;
	const proto_register *g = &f->body.reg;
	struct store_account existing;
	acc->created_ms = store_get_account(r->store, acc->id, &existing) == 0 ? existing.created_ms
									       : relay_now_ms();
	/* created_at is the time of the device's last attestation: a re-attestation keeps the
	 * device id (and its mailbox, sessions and place in every device set) and restarts it. */
	struct store_device dev = { .created_ms = relay_now_ms() };
	if (rebind)
		memcpy(dev.id, rebind->id, sizeof dev.id);
	else
		randombytes_buf(dev.id, sizeof dev.id);
	memcpy(dev.account_id, acc->id, 16);
	memcpy(dev.identity_key, g->identity_key, 32);
	set_label(&dev, &g->label, rebind);
	struct store_signed_prekey spk = { .id = g->spk.id, .created_ms = g->spk.time };
	memcpy(spk.public_key, g->spk.pub, 32);
	memcpy(spk.signature, g->spk.sig, 64);
	struct store_prekey opk[PROTO_MAX_PREKEYS_PER_UPLOAD];
	for (uint32_t i = 0; i < g->opk_count; i++) {
		opk[i].id = g->opk[i].id;
		memcpy(opk[i].public_key, g->opk[i].pub, 32);
	}
	uint8_t subjects[2][16];
	memcpy(subjects[0], acc->id, 16);
	memcpy(subjects[1], dev.id, 16);

	struct register_call *k = (struct register_call *)relay_call_new(c, f->request_id, sizeof *k,
									registered);
	if (!k)
		return;
	k->call.refused = register_refused;
	memcpy(k->account, acc->id, 16);
	memcpy(k->device, dev.id, 16);
	struct store_req *req = k->call.req;
	int op = store_req_put_account(req, acc);
	if (op >= 0)
		op = store_req_put_device(req, &dev);
	if (op >= 0)
		op = store_req_put_signed_prekey(req, dev.id, &spk);
	if (op >= 0 && g->opk_count)
		op = store_req_add_one_time_prekeys(req, dev.id, opk, g->opk_count);
	if (op >= 0)
		op = relay_audit_append(req, ID_AUDIT_DEVICE_REGISTERED, dev.created_ms,
					(const uint8_t(*)[16])subjects, 2, idp->cfg->id, strlen(idp->cfg->id));
	if (relay_call_submit(c, &k->call, op) == 0)
		c->registering = true;
}

void handle_register(struct relay_conn *c, const proto_frame *f)
{
	run_register(c, f, true);
}

static void run_register(struct relay_conn *c, const proto_frame *f, bool may_fetch)
{
	struct relay *r = c->relay;
	struct store_account acc;
	struct relay_idp *idp = NULL;
	/* Before the token is looked at: a second register must not use up its token either. */
	if (c->registering) {
		relay_send_error(c, f->request_id, PROTO_E_ALREADY_AUTHENTICATED,
				 "a registration on this connection is being stored; nothing else was stored",
				 NULL);
		return;
	}
	if (verify_attestation(c, f, &acc, &idp, may_fetch) != 0)
		return;
	size_t live = 0;
	struct store_device devs[PROTO_MAX_DEVICES_PER_ACCOUNT];
	if (store_list_devices(r->store, acc.id, false, devs, PROTO_MAX_DEVICES_PER_ACCOUNT, &live) != 0)
		live = 0;
	/* The identity key of a live device of this account: a re-attestation of that device
	 * (spec/protocol.md §5.1), which re-binds it with the fresh token's units. */
	const struct store_device *rebind = NULL;
	for (size_t i = 0; i < live && i < PROTO_MAX_DEVICES_PER_ACCOUNT && !rebind; i++)
		if (sodium_memcmp(devs[i].identity_key, f->body.reg.identity_key, 32) == 0)
			rebind = &devs[i];
	if (!rebind && live >= PROTO_MAX_DEVICES_PER_ACCOUNT) {
		relay_send_error(c, f->request_id, PROTO_E_TOO_MANY_DEVICES,
				 "this account has the maximum number of devices; revoke one first", NULL);
		return;
	}
	store_registration(c, f, &acc, idp, rebind);
}
