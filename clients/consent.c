/* SPDX-License-Identifier: MPL-2.0 */
/* Consent records (spec/consent.md): the text from the relay, the record byte by byte, the
 * signature with its domain string, grant/withdraw/list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "wakks_consent_record.h"
#include "wakks_internal.h"

#define CONSENT_CLIENT "libwakks/" WAKKS_VERSION

static bool ascii_ok(const char *s, size_t min, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

int wakks_consent_record(const wakks_client *c, int kind, const char *tenant, const char *unit,
			 const char *text_version, const uint8_t text_sha256[32],
			 const char *language, uint64_t time_ms, uint8_t *rec, size_t *rec_len,
			 uint8_t sig[64])
{
	if (!c || (kind != 1 && kind != 2) || !wakks__slug_ok(tenant) ||
	    (unit && unit[0] && !wakks__slug_ok(unit)) || !ascii_ok(text_version, 1, 32) ||
	    !text_sha256 || !ascii_ok(language, 2, 8) || !rec || !rec_len || !sig)
		return WAKKS_E_INVAL;
	if (!c->registered)
		return WAKKS_E_NOT_REGISTERED;
	proto_consent_record r = {
		.kind = (uint8_t)kind, .account = c->account, .device = c->device,
		.tenant = { tenant, strlen(tenant) },
		.unit = { unit ? unit : "", unit ? strlen(unit) : 0 },
		.purpose = { PROTO_CONSENT_PURPOSE, strlen(PROTO_CONSENT_PURPOSE) },
		.text_version = { text_version, strlen(text_version) }, .text_sha256 = text_sha256,
		.language = { language, strlen(language) },
		.client_version = { CONSENT_CLIENT, strlen(CONSENT_CLIENT) }, .time_ms = time_ms,
	};
	size_t n;
	int rc = proto_consent_record_encode(&r, rec, PROTO_MAX_CONSENT_RECORD_BYTES, &n);
	if (rc == PROTO_E_NO_SPACE)
		return WAKKS_E_TOO_LARGE;
	if (rc != 0)
		return WAKKS_E_INVAL;
	uint8_t msg[PROTO_CONSENT_SIGNED_MAX];
	size_t ml;
	if (proto_consent_record_signed(rec, n, msg, sizeof msg, &ml) != 0)
		return WAKKS_E_TOO_LARGE;
	crypto_sign_detached(sig, NULL, msg, ml, c->ik.secret_key);
	*rec_len = n;
	return 0;
}

/* Fills a list entry from a record. Returns 0 or WAKKS_E_CORRUPT. */
static int record_parse(const uint8_t *p, size_t n, wakks_consent_entry *e)
{
	proto_consent_record r;
	const char *why;
	if (proto_consent_record_parse(p, n, &r, &why) != 0)
		return WAKKS_E_CORRUPT;
	e->kind = r.kind;
	snprintf(e->tenant, sizeof e->tenant, "%.*s", (int)r.tenant.len, r.tenant.ptr);
	snprintf(e->unit, sizeof e->unit, "%.*s", (int)r.unit.len, r.unit.ptr ? r.unit.ptr : "");
	snprintf(e->text_version, sizeof e->text_version, "%.*s", (int)r.text_version.len,
		 r.text_version.ptr);
	e->time_ms = r.time_ms;
	return 0;
}

static int consent_send(wakks_client *c, int kind, const wakks_consent_text *text, uint32_t *op)
{
	if (!c || !text)
		return WAKKS_E_INVAL;
	if (!c->registered)
		return WAKKS_E_NOT_REGISTERED;
	if (c->state != WAKKS_READY)
		return WAKKS_E_STATE;
	uint8_t rec[PROTO_MAX_CONSENT_RECORD_BYTES], sig[64];
	size_t rl;
	int rc = wakks_consent_record(c, kind, text->tenant, text->unit, text->version, text->sha256,
				      text->language, wakks__now_ms(), rec, &rl, sig);
	if (rc != 0)
		return rc;
	proto_frame_init(c->tx, kind == 1 ? PROTO_T_CONSENT_GRANT : PROTO_T_CONSENT_WITHDRAW, 0);
	proto_consent *pc = kind == 1 ? &c->tx->body.consent_grant : &c->tx->body.consent_withdraw;
	pc->record = (proto_bytes){ rec, rl };
	pc->sig = sig;
	uint32_t id = wakks__op_new(c);
	/* aux: the record's kind */
	rc = wakks__request(c, RQ_CONSENT, id, (uint32_t)kind);
	if (rc < 0)
		return rc;
	/* Remember what the event will name. */
	snprintf(c->consent_tenant, sizeof c->consent_tenant, "%s", text->tenant);
	snprintf(c->consent_unit, sizeof c->consent_unit, "%s", text->unit);
	if (op)
		*op = id;
	return 0;
}

int wakks_consent_grant(wakks_client *c, const wakks_consent_text *text, uint32_t *op)
{
	return consent_send(c, 1, text, op);
}

int wakks_consent_withdraw(wakks_client *c, const wakks_consent_text *text, uint32_t *op)
{
	return consent_send(c, 2, text, op);
}

int wakks_consent_list(wakks_client *c, uint32_t *op)
{
	return wakks__bodiless_request(c, PROTO_T_CONSENT_LIST, RQ_CONSENT_LIST, op);
}

void wakks__on_consent_reply(wakks_client *c, struct wakks__req *rq, const proto_frame *f)
{
	int err = f->type == PROTO_T_ERROR ? -(int)f->body.error.code : 0;
	if (rq->kind == RQ_CONSENT) {
		if (f->type == PROTO_T_OK) {
			wakks_event ev = { .type = WAKKS_EV_CONSENT };
			ev.u.consent.kind = (int)rq->aux;
			snprintf(ev.u.consent.tenant, sizeof ev.u.consent.tenant, "%s", c->consent_tenant);
			snprintf(ev.u.consent.unit, sizeof ev.u.consent.unit, "%s", c->consent_unit);
			wakks__emit(c, &ev);
		}
		wakks__op_finish(c, rq->op, f->type == PROTO_T_OK ? 0 : err ? err : WAKKS_E_PROTOCOL);
		return;
	}
	if (f->type != PROTO_T_CONSENTS) {
		wakks__op_finish(c, rq->op, err ? err : WAKKS_E_PROTOCOL);
		return;
	}
	const proto_consents *l = &f->body.consents;
	wakks_consent_entry *list = calloc(l->count ? l->count : 1, sizeof *list);
	if (!list) {
		wakks__op_finish(c, rq->op, WAKKS_E_NOMEM);
		return;
	}
	size_t n = 0;
	for (uint32_t i = 0; i < l->count; i++) {
		wakks_consent_entry *e = &list[n];
		if (record_parse(l->list[i].record.ptr, l->list[i].record.len, e) != 0)
			continue; /* not ours to judge: the relay verified it; skip what we cannot read */
		e->kind = (int)l->list[i].kind;
		e->relay_ms = l->list[i].time;
		n++;
	}
	wakks__op_finish_data(c, rq->op, 0, NULL, 0, list, n);
	free(list);
}

/* ---- the consent text ------------------------------------------------------------------------- */

int wakks_consent_text_fetch(wakks_client *c, const char *tenant, const char *unit,
			     wakks_consent_text *out)
{
	if (!c || !out || !wakks__slug_ok(tenant) || (unit && unit[0] && !wakks__slug_ok(unit)))
		return WAKKS_E_INVAL;
	char path[128];
	snprintf(path, sizeof path, "/consent/%s%s%s", tenant, unit && unit[0] ? "/" : "",
		 unit && unit[0] ? unit : "");
	int status = 0;
	char *body = NULL;
	int rc = wakks__https(c->tls, c->host, c->port, "GET", path, NULL, &status, &body, NULL, 0);
	if (rc != 0)
		return rc;
	if (status != 200) {
		free(body);
		return WAKKS_E_HTTP;
	}
	json_t *j = json_loads(body, 0, NULL);
	free(body);
	const char *ver = json_string_value(json_object_get(j, "version"));
	const char *lang = json_string_value(json_object_get(j, "language"));
	const char *sha = json_string_value(json_object_get(j, "sha256"));
	const char *text = json_string_value(json_object_get(j, "text"));
	const char *ten = json_string_value(json_object_get(j, "tenant"));
	const char *un = json_string_value(json_object_get(j, "unit"));
	wakks_consent_text t;
	memset(&t, 0, sizeof t);
	size_t shal = 0;
	rc = WAKKS_E_PROTOCOL;
	if (ver && lang && sha && text && ten && ascii_ok(ver, 1, 32) && ascii_ok(lang, 2, 8) &&
	    wakks__slug_ok(ten) && (!un || !un[0] || wakks__slug_ok(un)) &&
	    sodium_hex2bin(t.sha256, 32, sha, strlen(sha), NULL, &shal, NULL) == 0 && shal == 32) {
		/* The text must be what the hash names: the record will say we showed it. */
		size_t tl = json_string_length(json_object_get(j, "text"));
		uint8_t h[32];
		crypto_hash_sha256(h, (const uint8_t *)text, tl);
		if (sodium_memcmp(h, t.sha256, 32) == 0 && (t.text = malloc(tl + 1)) != NULL) {
			memcpy(t.text, text, tl);
			t.text[tl] = '\0';
			snprintf(t.tenant, sizeof t.tenant, "%s", ten);
			snprintf(t.unit, sizeof t.unit, "%s", un ? un : "");
			snprintf(t.version, sizeof t.version, "%s", ver);
			snprintf(t.language, sizeof t.language, "%s", lang);
			*out = t;
			rc = 0;
		}
	}
	json_decref(j);
	return rc;
}

void wakks_consent_text_free(wakks_consent_text *t)
{
	if (t) {
		free(t->text);
		t->text = NULL;
	}
}
