/* SPDX-License-Identifier: MPL-2.0 */
/* Units' device sets (spec/client.md §12, §16): who may speak in a thread besides the citizen
 * and our own devices, and which devices of a unit are new. A record from a device not in the
 * set known for its unit waits (parked, with every deliver after it, so order is kept) until
 * device_set_get has answered; then it is processed again from the start. */
#include <stdlib.h>
#include <string.h>

#include "threads_internal.h"

static struct wakks__unit_cache *unit_find(struct wakks__threads *th, const char *tenant,
					   const char *unit, bool create)
{
	for (size_t i = 0; i < th->n_units; i++)
		if (strcmp(th->units[i].tenant, tenant) == 0 && strcmp(th->units[i].unit, unit) == 0)
			return &th->units[i];
	if (!create)
		return NULL;
	struct wakks__unit_cache *u = NULL;
	if (th->n_units == WAKKS__MAX_UNITS) {
		/* Reuse a slot no answer is on its way to (a request names its slot by index); the
		 * unit forgotten is asked again when needed. */
		for (size_t i = 0; i < th->n_units && !u; i++)
			if (!th->units[i].asked || th->units[i].known)
				u = &th->units[i];
		if (!u)
			u = &th->units[0];
	} else {
		u = &th->units[th->n_units++];
	}
	memset(u, 0, sizeof *u);
	snprintf(u->tenant, sizeof u->tenant, "%s", tenant);
	snprintf(u->unit, sizeof u->unit, "%s", unit);
	return u;
}

static void ask(wakks_client *c, struct wakks__unit_cache *u)
{
	if (u->asked || c->state != WAKKS_READY)
		return;
	proto_frame_init(c->tx, PROTO_T_DEVICE_SET_GET, 0);
	c->tx->body.device_set_get.tenant = (proto_str){ u->tenant, strlen(u->tenant) };
	c->tx->body.device_set_get.unit = (proto_str){ u->unit, strlen(u->unit) };
	struct wakks__threads *th = c->th;
	if (wakks__request(c, RQ_UNITSET, 0, (uint32_t)(u - th->units)) >= 0)
		u->asked = true;
}

void wakks__unit_watch(wakks_client *c, const char *tenant, const char *unit)
{
	struct wakks__threads *th = wakks__th(c);
	struct wakks__unit_cache *u = th ? unit_find(th, tenant, unit, true) : NULL;
	if (u && !u->known)
		ask(c, u);
}

int wakks__unit_member(wakks_client *c, const char *tenant, const char *unit,
		       const uint8_t dev[16])
{
	struct wakks__threads *th = wakks__th(c);
	if (!th)
		return 0;
	struct wakks__unit_cache *u = unit_find(th, tenant, unit, true);
	if (u->known) {
		for (size_t i = 0; i < u->n; i++)
			if (memcmp(u->dev[i], dev, 16) == 0)
				return 1;
		if (u->fresh) {
			/* Just asked, and not in it: not a member. The next miss asks again. */
			u->fresh = false;
			return 0;
		}
		/* The set may have grown since (a colleague's new device): ask again. */
		u->known = false;
		u->asked = false;
		u->miss_pending = true;
	}
	if (!u->asked)
		ask(c, u);
	return u->asked ? -1 : 0;
}

void wakks__unit_cache_put(wakks_client *c, const char *tenant, const char *unit,
			   const proto_device_set *set)
{
	struct wakks__threads *th = wakks__th(c);
	struct wakks__unit_cache *u = th ? unit_find(th, tenant, unit, true) : NULL;
	if (!u)
		return;
	u->known = true;
	u->fresh = u->miss_pending;
	u->miss_pending = false;
	u->n = 0;
	for (uint32_t i = 0; set && i < set->count && i < PROTO_MAX_DEVICE_SET; i++) {
		memcpy(u->acc[u->n], set->list[i].account, 16);
		memcpy(u->dev[u->n], set->list[i].device, 16);
		u->n++;
	}
}

void wakks__park(wakks_client *c, const proto_deliver *d, const char *tenant, const char *unit)
{
	struct wakks__threads *th = wakks__th(c);
	if (!th)
		return; /* not acknowledged: delivered again on the next connection */
	if (th->n_parked == th->cap_parked) {
		size_t cap = th->cap_parked ? th->cap_parked * 2 : 8;
		struct wakks__parked *n = realloc(th->parked, cap * sizeof *n);
		if (!n)
			return;
		th->parked = n;
		th->cap_parked = cap;
	}
	size_t tl = d->tenant.ptr ? d->tenant.len : 0, ul = d->unit.ptr ? d->unit.len : 0;
	size_t need = 16 * 3 + tl + ul + d->ciphertext.len;
	uint8_t *buf = malloc(need ? need : 1);
	if (!buf)
		return;
	struct wakks__parked p;
	memset(&p, 0, sizeof p);
	p.buf = buf;
	p.d = *d;
	memcpy(buf, d->cmid, 16);
	memcpy(buf + 16, d->account, 16);
	memcpy(buf + 32, d->device, 16);
	p.d.cmid = buf;
	p.d.account = buf + 16;
	p.d.device = buf + 32;
	uint8_t *q = buf + 48;
	if (tl) {
		memcpy(q, d->tenant.ptr, tl);
		p.d.tenant = (proto_str){ (const char *)q, tl };
		q += tl;
	}
	if (ul) {
		memcpy(q, d->unit.ptr, ul);
		p.d.unit = (proto_str){ (const char *)q, ul };
		q += ul;
	}
	memcpy(q, d->ciphertext.ptr, d->ciphertext.len);
	p.d.ciphertext = (proto_bytes){ q, d->ciphertext.len };
	snprintf(p.tenant, sizeof p.tenant, "%s", tenant ? tenant : "");
	snprintf(p.unit, sizeof p.unit, "%s", unit ? unit : "");
	if (th->replaying) {
		/* It was at the front: it stays there, ahead of what came after it. */
		memmove(&th->parked[1], &th->parked[0], th->n_parked * sizeof p);
		th->parked[0] = p;
	} else {
		th->parked[th->n_parked] = p;
	}
	th->n_parked++;
}

bool wakks__parked_any(wakks_client *c)
{
	return c->th && c->th->n_parked > 0 && !c->th->replaying;
}

void wakks__parked_reset(wakks_client *c)
{
	struct wakks__threads *th = c->th;
	if (!th)
		return;
	for (size_t i = 0; i < th->n_parked; i++)
		free(th->parked[i].buf);
	th->n_parked = 0;
	/* A new connection asks again; what is known stays known. */
	for (size_t i = 0; i < th->n_units; i++)
		th->units[i].asked = false;
}

/* Processes the parked delivers from the front while their unit is known. */
static void replay(wakks_client *c)
{
	struct wakks__threads *th = c->th;
	while (th && th->n_parked && c->state == WAKKS_READY) {
		struct wakks__parked p = th->parked[0];
		if (p.tenant[0]) {
			struct wakks__unit_cache *u = unit_find(th, p.tenant, p.unit, false);
			if (u && !u->known && u->asked)
				return; /* still waiting for it */
		}
		memmove(&th->parked[0], &th->parked[1], (th->n_parked - 1) * sizeof p);
		th->n_parked--;
		th->replaying = true;
		size_t before = th->n_parked;
		wakks__on_deliver(c, &p.d);
		th->replaying = false;
		free(p.buf);
		if (th->n_parked > before)
			return; /* parked again, waiting for another unit */
	}
}

void wakks__thread_on_reply(wakks_client *c, struct wakks__req *rq, const proto_frame *f)
{
	int err = f->type == PROTO_T_ERROR ? -(int)f->body.error.code : 0;
	if (rq->kind == RQ_CONSENT_CHECK) {
		wakks_event ev = { .type = WAKKS_EV_DONE };
		ev.u.done.op = rq->op;
		ev.u.done.result = f->type == PROTO_T_CONSENT_STATE ? 0 : err ? err : WAKKS_E_PROTOCOL;
		ev.u.done.consent_active =
			f->type == PROTO_T_CONSENT_STATE && f->body.consent_state.active;
		wakks__op_finish_event(c, &ev);
		return;
	}
	struct wakks__threads *th = c->th;
	if (!th || rq->aux >= th->n_units)
		return;
	struct wakks__unit_cache *u = &th->units[rq->aux];
	/* An error leaves the set empty: nobody but the citizen and ourselves may speak. */
	wakks__unit_cache_put(c, u->tenant, u->unit,
			      f->type == PROTO_T_DEVICE_SET ? &f->body.device_set : NULL);
	if (f->type == PROTO_T_DEVICE_SET)
		wakks__history_on_unit_set(c, u);
	replay(c);
	if (th->kick_send) {
		th->kick_send = false;
		wakks__send_kick(c);
	}
}

void wakks__thread_on_unit_devices(wakks_client *c, const char *tenant, const char *unit)
{
	struct wakks__threads *th = wakks__th(c);
	struct wakks__unit_cache *u = th ? unit_find(th, tenant, unit, true) : NULL;
	if (!u)
		return;
	u->asked = false;
	ask(c, u);
}

static int unit_of_thread(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
			  void *arg)
{
	(void)val;
	(void)vlen;
	wakks_client *c = arg;
	if (klen != 16)
		return 0;
	wakks__txn *t = c->th->walk_txn;
	struct wakks__thread_rec tr;
	if (wakks__thread_load(t, key, &tr) == 0 && tr.tenant[0] &&
	    memcmp(tr.citizen, c->account, 16) != 0) {
		struct wakks__unit_cache *u = unit_find(c->th, tr.tenant, tr.unit, true);
		if (u)
			u->asked = false;
		if (tr.id.status == WAKKS_ID_UNVERIFIED && tr.id.reason == WAKKS_IDR_UNAVAILABLE &&
		    tr.pres_len && c->th->n_recheck < WAKKS__MAX_OFFERED)
			memcpy(c->th->recheck[c->th->n_recheck++], key, 16);
	}
	return 0;
}

/* A presentation that could not be checked for want of the tenant's information is checked
 * again from what the thread kept of it (spec/client.md §15). */
static void recheck_presentations(wakks_client *c)
{
	struct wakks__threads *th = c->th;
	for (size_t i = 0; i < th->n_recheck; i++) {
		wakks__txn *t;
		if (wakks__txn_begin(c->store, true, &t) != 0)
			break;
		struct wakks__thread_rec *tr = malloc(sizeof *tr);
		int rc = tr ? wakks__thread_load(t, th->recheck[i], tr) : WAKKS_E_NOMEM;
		if (rc == 0) {
			wc_content ct = { 0 };
			ct.version = 2;
			ct.kind = WC_KIND_PRESENTATION;
			memcpy(ct.message_id, tr->pres_mid, 16);
			memcpy(ct.conversation_id, tr->thread, 16);
			ct.sent_ms = tr->pres_sent_ms;
			memcpy(ct.sender_account, tr->pres_acc, 16);
			memcpy(ct.sender_device, tr->pres_dev, 16);
			memcpy(ct.citizen_account, tr->citizen, 16);
			snprintf(ct.tenant, sizeof ct.tenant, "%s", tr->tenant);
			snprintf(ct.unit, sizeof ct.unit, "%s", tr->unit);
			ct.body = tr->pres;
			ct.body_len = tr->pres_len;
			rc = wakks__presentation_accept(c, t, &ct, tr->pres_ik);
		}
		if (rc == 0)
			rc = wakks__txn_commit(t);
		else
			wakks__txn_abort(t);
		free(tr);
	}
	th->n_recheck = 0;
	wakks__thread_flush(c);
}

void wakks__thread_after_auth(wakks_client *c)
{
	struct wakks__threads *th = wakks__th(c);
	if (!th)
		return;
	/* Every unit this device holds threads of: compare its device set (new devices get the
	 * history, §16). */
	wakks__txn *t;
	if (wakks__txn_begin(c->store, false, &t) != 0)
		return;
	th->walk_txn = t;
	th->n_recheck = 0;
	wakks__store_each(t, WT_THREAD, unit_of_thread, c);
	th->walk_txn = NULL;
	wakks__txn_abort(t);
	recheck_presentations(c);
	for (size_t i = 0; i < th->n_units; i++)
		ask(c, &th->units[i]);
}
