/* SPDX-License-Identifier: MPL-2.0 */
/* Registration and prekeys: the register frame, one-time prekey top-ups on prekeys_low, and
 * signed prekey rotation. Private halves are committed to the store before the public halves
 * leave the device, so the relay never hands out a prekey this device cannot open. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "wakks_internal.h"

#define SPK_RECORD_VERSION 1
#define OPK_RECORD_VERSION 1
/* Signed prekeys kept after rotation so that prekey envelopes in flight still open
 * (spec/crypto.md §6.1): the current one and this many before it. */
#define SPK_KEEP_PREVIOUS 2

static int put_spk(wakks__txn *t, const wc_signed_prekey *k)
{
	wakks__buf b = { 0 };
	wakks__put_u8(&b, SPK_RECORD_VERSION);
	wakks__put_u32(&b, k->id);
	wakks__put_u64(&b, k->created_ms);
	wakks__put_bytes(&b, k->public_key, 32);
	wakks__put_bytes(&b, k->secret_key, 32);
	wakks__put_bytes(&b, k->signature, 64);
	uint8_t key[4];
	wakks_store_be32(key, k->id);
	int rc = b.oom ? WAKKS_E_NOMEM : wakks__store_put(t, WT_SPK, key, 4, b.p, b.len);
	wakks__buf_free(&b);
	return rc;
}

int wakks__spk_new(wakks_client *c, wakks__txn *t, wc_signed_prekey *out)
{
	uint32_t id = c->next_spk_id ? c->next_spk_id : 1;
	if (wc_signed_prekey_generate(&c->ik, id, wakks__now_ms(), out) != 0)
		return WAKKS_E_CRYPTO;
	int rc = put_spk(t, out);
	if (rc != 0) {
		wc_signed_prekey_wipe(out);
		return rc;
	}
	c->next_spk_id = id + 1;
	return 0;
}

int wakks__prekeys_store(wakks_client *c, wakks__txn *t, uint32_t n, proto_prekey *out,
			 uint8_t (*pubs)[32])
{
	wc_one_time_prekey *keys = calloc(n, sizeof *keys);
	if (!keys)
		return WAKKS_E_NOMEM;
	uint32_t first = c->next_opk_id ? c->next_opk_id : 1;
	int rc = wc_one_time_prekeys_generate(first, n, keys) == 0 ? 0 : WAKKS_E_CRYPTO;
	for (uint32_t i = 0; rc == 0 && i < n; i++) {
		uint8_t rec[1 + 32 + 32], key[4];
		rec[0] = OPK_RECORD_VERSION;
		memcpy(rec + 1, keys[i].public_key, 32);
		memcpy(rec + 33, keys[i].secret_key, 32);
		wakks_store_be32(key, keys[i].id);
		rc = wakks__store_put(t, WT_OPK, key, 4, rec, sizeof rec);
		sodium_memzero(rec, sizeof rec);
		memcpy(pubs[i], keys[i].public_key, 32);
		out[i].id = keys[i].id;
		out[i].pub = pubs[i];
	}
	for (uint32_t i = 0; i < n; i++)
		wc_one_time_prekey_wipe(&keys[i]);
	free(keys);
	if (rc == 0)
		c->next_opk_id = first + n;
	return rc;
}

int wakks_register(wakks_client *c, const char *id_token, uint32_t *op)
{
	if (!c || !id_token || !id_token[0] || strlen(id_token) > PROTO_MAX_ATTESTATION_BYTES)
		return WAKKS_E_INVAL;
	if (c->registered)
		return WAKKS_E_REGISTERED;
	if (c->state != WAKKS_CONNECTED || !c->have_challenge)
		return WAKKS_E_STATE;
	uint32_t n = c->cfg.prekey_batch;
	uint8_t pubs[PROTO_MAX_PREKEYS_PER_UPLOAD][32];
	wc_signed_prekey spk;
	wakks__txn *t;
	int rc = wakks__txn_begin(c->store, true, &t);
	if (rc != 0)
		return rc;
	proto_frame_init(c->tx, PROTO_T_REGISTER, 0);
	proto_register *g = &c->tx->body.reg;
	rc = wakks__spk_new(c, t, &spk);
	if (rc == 0)
		rc = wakks__prekeys_store(c, t, n, g->opk, pubs);
	if (rc == 0) {
		c->spk_current = spk.id;
		c->spk_created_ms = spk.created_ms;
		rc = wakks__save_self(c, t);
	}
	if (rc == 0)
		rc = wakks__txn_commit(t);
	else
		wakks__txn_abort(t);
	if (rc != 0) {
		wakks__load_self(c); /* back to the committed counters */
		return rc;
	}
	/* The token and this connection's challenge are the evidence a citizen's device later
	 * presents to units (spec/client.md §15); kept when the relay says `registered`. */
	if ((rc = wakks__evidence_remember(c, id_token)) != 0)
		return rc;
	g->attestation = (proto_str){ id_token, strlen(id_token) };
	g->identity_key = c->ik.public_key;
	g->spk = (proto_signed_prekey){ spk.id, spk.public_key, spk.created_ms, spk.signature };
	g->opk_count = n;
	if (c->label && c->label[0])
		g->label = (proto_str){ c->label, strlen(c->label) };
	uint32_t id = wakks__op_new(c);
	rc = wakks__request(c, RQ_REGISTER, id, 0);
	wc_signed_prekey_wipe(&spk);
	if (rc < 0)
		return rc;
	if (op)
		*op = id;
	return 0;
}

static void upload_prekeys(wakks_client *c)
{
	if (c->prekey_upload_inflight || c->state != WAKKS_READY)
		return;
	uint32_t n = c->cfg.prekey_batch;
	uint8_t pubs[PROTO_MAX_PREKEYS_PER_UPLOAD][32];
	proto_frame_init(c->tx, PROTO_T_PREKEYS_UPLOAD, 0);
	wakks__txn *t;
	int rc = wakks__txn_begin(c->store, true, &t);
	if (rc == 0) {
		rc = wakks__prekeys_store(c, t, n, c->tx->body.prekeys_upload.opk, pubs);
		if (rc == 0)
			rc = wakks__save_self(c, t);
		if (rc == 0)
			rc = wakks__txn_commit(t);
		else
			wakks__txn_abort(t);
	}
	if (rc == 0) {
		c->tx->body.prekeys_upload.opk_count = n;
		rc = wakks__request(c, RQ_PREKEYS, 0, n);
	}
	if (rc < 0) {
		wakks__load_self(c);
		wakks_event ev = { .type = WAKKS_EV_ERROR };
		ev.u.error.code = rc;
		ev.u.error.what = "one-time prekey upload failed";
		wakks__emit(c, &ev);
		return;
	}
	c->prekey_upload_inflight = true;
}

void wakks__on_prekeys_low(wakks_client *c)
{
	upload_prekeys(c);
}

struct spk_prune {
	uint32_t keep_from;
	uint32_t ids[64];
	size_t n;
};

static int collect_old_spk(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
			   void *arg)
{
	(void)val;
	(void)vlen;
	struct spk_prune *p = arg;
	if (klen != 4)
		return 0;
	uint32_t id = wakks_load_be32(key);
	if (id < p->keep_from && p->n < 64)
		p->ids[p->n++] = id;
	return 0;
}

static void rotate_spk(wakks_client *c)
{
	if (c->spk_rotate_inflight)
		return;
	wc_signed_prekey spk;
	wakks__txn *t;
	int rc = wakks__txn_begin(c->store, true, &t);
	if (rc == 0) {
		rc = wakks__spk_new(c, t, &spk);
		if (rc == 0)
			rc = wakks__save_self(c, t);
		if (rc == 0)
			rc = wakks__txn_commit(t);
		else
			wakks__txn_abort(t);
	}
	if (rc == 0) {
		proto_frame_init(c->tx, PROTO_T_SPK_ROTATE, 0);
		c->tx->body.spk_rotate.spk =
			(proto_signed_prekey){ spk.id, spk.public_key, spk.created_ms, spk.signature };
		/* The request's aux carries the new id; it becomes current when the relay confirms. */
		rc = wakks__request(c, RQ_SPK, 0, spk.id);
		wc_signed_prekey_wipe(&spk);
		if (rc > 0) {
			c->spk_rotate_inflight = true;
			return;
		}
	}
	wakks__load_self(c);
	wakks_event ev = { .type = WAKKS_EV_ERROR };
	ev.u.error.code = rc;
	ev.u.error.what = "signed prekey rotation failed";
	wakks__emit(c, &ev);
}

void wakks__keys_after_auth(wakks_client *c)
{
	if (c->spk_current == 0 || wakks__now_ms() >= c->spk_created_ms + c->cfg.spk_rotate_ms)
		rotate_spk(c);
}

void wakks__on_key_reply(wakks_client *c, struct wakks__req *rq, const proto_frame *f)
{
	int err = f->type == PROTO_T_ERROR ? -(int)f->body.error.code : 0;
	if (rq->kind == RQ_PREKEYS) {
		c->prekey_upload_inflight = false;
		/* The protocol answers key_count; the relay of this version answers ok. */
		if (f->type == PROTO_T_KEY_COUNT || f->type == PROTO_T_OK) {
			wakks_event ev = { .type = WAKKS_EV_PREKEYS };
			ev.u.prekeys.uploaded = rq->aux;
			ev.u.prekeys.on_relay = f->type == PROTO_T_KEY_COUNT ? f->body.key_count.count : 0;
			wakks__emit(c, &ev);
		} else {
			wakks_event ev = { .type = WAKKS_EV_ERROR };
			ev.u.error.code = err ? err : WAKKS_E_PROTOCOL;
			ev.u.error.what = "one-time prekey upload refused";
			wakks__emit(c, &ev);
		}
		return;
	}
	/* RQ_SPK */
	c->spk_rotate_inflight = false;
	if (f->type != PROTO_T_OK) {
		wakks_event ev = { .type = WAKKS_EV_ERROR };
		ev.u.error.code = err ? err : WAKKS_E_PROTOCOL;
		ev.u.error.what = "signed prekey rotation refused";
		wakks__emit(c, &ev);
		return;
	}
	/* The new key is current; prune all but the last SPK_KEEP_PREVIOUS before it. */
	wakks__txn *t;
	if (wakks__txn_begin(c->store, true, &t) != 0)
		return;
	uint8_t key[4];
	wakks_store_be32(key, rq->aux);
	uint8_t *v;
	size_t vl;
	int rc = wakks__store_get(t, WT_SPK, key, 4, &v, &vl);
	if (rc == 0) {
		wakks__rd r = { v, vl, 0, false };
		wakks__get_u8(&r);
		wakks__get_u32(&r);
		c->spk_created_ms = wakks__get_u64(&r);
		c->spk_current = rq->aux;
		wakks__store_free(v, vl);
		struct spk_prune p = { .keep_from = rq->aux > SPK_KEEP_PREVIOUS ? rq->aux - SPK_KEEP_PREVIOUS : 0 };
		rc = wakks__store_each(t, WT_SPK, collect_old_spk, &p);
		for (size_t i = 0; rc == 0 && i < p.n; i++) {
			wakks_store_be32(key, p.ids[i]);
			rc = wakks__store_del(t, WT_SPK, key, 4);
		}
		if (rc == 0)
			rc = wakks__save_self(c, t);
	}
	if (rc == 0)
		rc = wakks__txn_commit(t);
	else
		wakks__txn_abort(t);
	wakks_event ev = { .type = WAKKS_EV_PREKEYS };
	ev.u.prekeys.rotated = true;
	wakks__emit(c, &ev);
}

int wakks__spk_load(wakks_client *c, wakks__txn *t, uint32_t id, wc_signed_prekey *out)
{
	(void)c;
	uint8_t key[4];
	wakks_store_be32(key, id);
	uint8_t *v;
	size_t vl;
	int rc = wakks__store_get(t, WT_SPK, key, 4, &v, &vl);
	if (rc != 0)
		return rc;
	wakks__rd r = { v, vl, 0, false };
	uint8_t ver = wakks__get_u8(&r);
	out->id = wakks__get_u32(&r);
	out->created_ms = wakks__get_u64(&r);
	wakks__get_bytes(&r, out->public_key, 32);
	wakks__get_bytes(&r, out->secret_key, 32);
	wakks__get_bytes(&r, out->signature, 64);
	rc = wakks__rd_done(&r) && ver == SPK_RECORD_VERSION && out->id == id ? 0 : WAKKS_E_CORRUPT;
	wakks__store_free(v, vl);
	return rc;
}

int wakks__opk_load(wakks__txn *t, uint32_t id, wc_one_time_prekey *out)
{
	uint8_t key[4];
	wakks_store_be32(key, id);
	uint8_t *v;
	size_t vl;
	int rc = wakks__store_get(t, WT_OPK, key, 4, &v, &vl);
	if (rc != 0)
		return rc;
	if (vl != 65 || v[0] != OPK_RECORD_VERSION) {
		wakks__store_free(v, vl);
		return WAKKS_E_CORRUPT;
	}
	out->id = id;
	memcpy(out->public_key, v + 1, 32);
	memcpy(out->secret_key, v + 33, 32);
	wakks__store_free(v, vl);
	return 0;
}
