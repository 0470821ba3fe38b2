/* SPDX-License-Identifier: MPL-2.0 */
/* consent_grant, consent_withdraw, consent_list (spec/consent.md): a citizen's device signs a
 * record of the exact text it showed; the relay checks it, keeps every record and its signature
 * byte for byte, and audits each change. */
#include <stdlib.h>
#include <string.h>

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
#include "services/consent_gate.h"
#include "services/notify.h"
#include "wakks_consent_record.h"
#include "wakks_storage.h"

/* A record's time may differ this much from the relay's clock (device clocks drift). */
#define CONSENT_CLOCK_SKEW_MS (10u * 60u * 1000u)

static bool view_is(proto_str v, const char *s)
{
	return v.len == strlen(s) && memcmp(v.ptr, s, v.len) == 0;
}

static void copy_view(char *dst, size_t cap, proto_str v)
{
	size_t n = v.len < cap - 1 ? v.len : cap - 1;
	memcpy(dst, v.ptr, n);
	dst[n] = '\0';
}

/* 0 when sig is the device key's Ed25519 signature over the record's signed message (§3). */
static int record_verify(const uint8_t *record, size_t len, const uint8_t sig[64],
			 const uint8_t identity_key[32])
{
	uint8_t msg[PROTO_CONSENT_SIGNED_MAX];
	size_t n;
	if (proto_consent_record_signed(record, len, msg, sizeof msg, &n) != 0)
		return -1;
	return crypto_sign_verify_detached(sig, msg, n, identity_key) == 0 ? 0 : -1;
}

static bool unit_exists(const struct relay_tenant_config *t, const char *unit)
{
	if (!unit[0])
		return true;
	for (int i = 0; i < t->unit_count; i++)
		if (strcmp(t->units[i].id, unit) == 0)
			return true;
	return false;
}

/* A consent change in flight, with what the notice after it needs. */
struct consent_call {
	struct relay_call call;
	uint8_t account[16], device[16];
	char tenant[STORE_TENANT_MAX + 1], unit[STORE_UNIT_ID_MAX + 1];
	uint8_t kind;
};

static void consent_stored(struct relay_call *call, struct relay_conn *c)
{
	struct consent_call *n = (struct consent_call *)call;
	if (c)
		relay_send_ok(c, call->from.request_id);
	const struct store_put_consent_result *res = store_req_put_consent_result(call->req, 0);
	struct relay_tenant_counters *tc = relay_metrics_tenant(call->from.relay, n->tenant,
								  strlen(n->tenant));
	if (tc)
		tc->consents++;
	relay_notify_consent_changed(call->from.relay, n->account, n->device, n->tenant, n->unit, n->kind,
				     res ? res->received_at_ms : relay_now_ms());
}

static void handle_consent_change(struct relay_conn *c, const proto_frame *f, uint8_t kind)
{
	struct relay *r = c->relay;
	const proto_consent *m = kind == STORE_CONSENT_GRANT ? &f->body.consent_grant
							     : &f->body.consent_withdraw;
	if (c->account_kind != STORE_ACCOUNT_CITIZEN) {
		relay_send_error(c, f->request_id, PROTO_E_FORBIDDEN, "only citizens give consent", NULL);
		return;
	}
	proto_consent_record rec;
	const char *why = NULL;
	if (proto_consent_record_parse(m->record.ptr, m->record.len, &rec, &why) != 0) {
		relay_send_error(c, f->request_id, PROTO_E_INVALID, why, NULL);
		return;
	}
	char tenant[STORE_TENANT_MAX + 1], unit[STORE_UNIT_ID_MAX + 1], version[33];
	copy_view(tenant, sizeof tenant, rec.tenant);
	copy_view(unit, sizeof unit, rec.unit);
	copy_view(version, sizeof version, rec.text_version);
	const struct relay_tenant_config *t = relay_config_tenant(&r->cfg, tenant);
	uint64_t now = relay_now_ms();
	const struct relay_consent_text *text = t ? relay_consent_text(r, tenant, unit) : NULL;
	if (rec.kind != kind)
		why = "the record's kind does not match the frame";
	else if (memcmp(rec.account, c->account_id, 16) != 0 || memcmp(rec.device, c->device_id, 16) != 0)
		why = "the record names another account or device";
	else if (!view_is(rec.purpose, PROTO_CONSENT_PURPOSE))
		why = "unknown purpose";
	else if (kind == STORE_CONSENT_GRANT && t && unit_exists(t, unit) &&
		 (!text || strcmp(text->version, version) != 0 ||
		  memcmp(text->sha256, rec.text_sha256, 32) != 0))
		why = "the record does not name the current consent text and its SHA-256";
	else if (rec.time_ms + CONSENT_CLOCK_SKEW_MS < now || rec.time_ms > now + CONSENT_CLOCK_SKEW_MS)
		why = "the record's time is more than 10 minutes from the relay's clock";
	if (!t || !unit_exists(t, unit)) {
		relay_send_error(c, f->request_id, PROTO_E_NOT_FOUND, "no such tenant or unit", NULL);
		return;
	}
	if (why) {
		relay_send_error(c, f->request_id, PROTO_E_INVALID, why, NULL);
		return;
	}
	struct store_device dev;
	if (store_get_device(r->store, c->device_id, &dev) != 0 ||
	    record_verify(m->record.ptr, m->record.len, m->sig, dev.identity_key) != 0) {
		relay_send_error(c, f->request_id, PROTO_E_BAD_SIGNATURE,
				 "signature does not verify", NULL);
		return;
	}

	struct store_consent sc = { .kind = kind, .record = m->record.ptr, .record_len = m->record.len };
	memcpy(sc.account_id, c->account_id, 16);
	snprintf(sc.tenant, sizeof sc.tenant, "%s", tenant);
	snprintf(sc.unit, sizeof sc.unit, "%s", unit);
	snprintf(sc.text_version, sizeof sc.text_version, "%s", version);
	memcpy(sc.signature, m->sig, 64);
	uint8_t subjects[2][16];
	memcpy(subjects[0], c->account_id, 16);
	memcpy(subjects[1], c->device_id, 16);
	char details[2 * 65 + 2];
	int dl = snprintf(details, sizeof details, "%s/%s", tenant, unit);

	struct consent_call *n = (struct consent_call *)relay_call_new(c, f->request_id, sizeof *n,
									consent_stored);
	if (!n)
		return;
	n->call.limit_text = "this account holds the maximum number of consent records";
	memcpy(n->account, c->account_id, 16);
	memcpy(n->device, c->device_id, 16);
	snprintf(n->tenant, sizeof n->tenant, "%s", tenant);
	snprintf(n->unit, sizeof n->unit, "%s", unit);
	n->kind = kind;
	int op = store_req_put_consent(n->call.req, &sc);
	if (op >= 0)
		op = relay_audit_append(n->call.req, kind == STORE_CONSENT_GRANT ? ID_AUDIT_CONSENT_GIVEN
										   : ID_AUDIT_CONSENT_WITHDRAWN,
					now, (const uint8_t(*)[16])subjects, 2, details, (size_t)dl);
	relay_call_submit(c, &n->call, op);
}

void handle_consent_grant(struct relay_conn *c, const proto_frame *f)
{
	handle_consent_change(c, f, STORE_CONSENT_GRANT);
}

void handle_consent_withdraw(struct relay_conn *c, const proto_frame *f)
{
	handle_consent_change(c, f, STORE_CONSENT_WITHDRAW);
}

/* The history's bytes are copied out of the read transaction into one buffer the reply points
 * into until it is encoded. */
struct list_ctx {
	proto_consents *out;
	uint8_t *buf;
	size_t used, cap;
};

static int collect(const struct store_consent *sc, void *data)
{
	struct list_ctx *l = data;
	if (l->out->count >= PROTO_MAX_CONSENTS || l->used + sc->record_len + 64 > l->cap)
		return 1;
	uint8_t *rec = l->buf + l->used;
	memcpy(rec, sc->record, sc->record_len);
	memcpy(rec + sc->record_len, sc->signature, 64);
	l->used += sc->record_len + 64;
	proto_consent_entry *e = &l->out->list[l->out->count++];
	e->kind = sc->kind;
	e->record = (proto_bytes){ rec, sc->record_len };
	e->sig = rec + sc->record_len;
	e->time = sc->received_at_ms;
	return 0;
}

void handle_consent_list(struct relay_conn *c, const proto_frame *f)
{
	struct relay *r = c->relay;
	if (c->account_kind != STORE_ACCOUNT_CITIZEN) {
		relay_send_error(c, f->request_id, PROTO_E_FORBIDDEN, "only citizens have consent records", NULL);
		return;
	}
	proto_frame *out = relay_tx_frame(r, PROTO_T_CONSENTS, f->request_id);
	struct list_ctx l = { .out = &out->body.consents,
			      .cap = (size_t)PROTO_MAX_CONSENTS * (PROTO_MAX_CONSENT_RECORD_BYTES + 64) };
	l.buf = malloc(l.cap);
	if (!l.buf || store_consent_iter(r->store, c->account_id, collect, &l) < 0) {
		free(l.buf);
		relay_send_error(c, f->request_id, PROTO_E_INTERNAL, "consent history unreadable", NULL);
		return;
	}
	relay_send_frame(c, out);
	free(l.buf);
}
