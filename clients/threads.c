/* SPDX-License-Identifier: MPL-2.0 */
/* The thread model of spec/client.md §12-§16: the thread reference of every record, the unit
 * device-set check of who may speak in a thread, system notices and the state derived from them,
 * read receipts and per-person unread marks, the record bodies (receipt, notice, presentation,
 * history), and the threads API of wakks.h. The verification of presentations and the tenant's
 * information are in identity_check.c; history for new unit devices in history.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "threads_internal.h"

/* ---- the client's thread state ------------------------------------------------------------ */

struct wakks__threads *wakks__th(wakks_client *c)
{
	if (!c->th)
		c->th = calloc(1, sizeof *c->th);
	return c->th;
}

void wakks__threads_free(wakks_client *c)
{
	struct wakks__threads *th = c->th;
	if (!th)
		return;
	wakks__parked_reset(c);
	free(th->parked);
	wakks__tenant_cache_clear(th);
	if (th->ev_token) {
		sodium_memzero(th->ev_token, strlen(th->ev_token));
		free(th->ev_token);
	}
	sodium_memzero(th, sizeof *th);
	free(th);
	c->th = NULL;
}

void wakks__thread_touched(wakks_client *c, const uint8_t thread[16])
{
	struct wakks__threads *th = wakks__th(c);
	if (!th)
		return;
	for (size_t i = 0; i < th->n_touched; i++)
		if (memcmp(th->touched[i], thread, 16) == 0)
			return;
	if (th->n_touched < WAKKS__MAX_TOUCHED)
		memcpy(th->touched[th->n_touched++], thread, 16);
}

void wakks__thread_flush(wakks_client *c)
{
	struct wakks__threads *th = c->th;
	if (!th)
		return;
	if (th->kick_send) {
		th->kick_send = false;
		wakks__send_kick(c);
	}
	size_t n = th->n_touched;
	uint8_t list[WAKKS__MAX_TOUCHED][16];
	memcpy(list, th->touched, n * 16);
	th->n_touched = 0;
	for (size_t i = 0; i < n; i++) {
		wakks_event ev = { .type = WAKKS_EV_THREAD };
		memcpy(ev.u.thread, list[i], 16);
		wakks__emit(c, &ev);
	}
}

/* ---- record bodies (spec/client.md §13-§16) ------------------------------------------------- */

static bool is_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

int wakks__notice_encode(const wakks_notice *n, wakks__buf *b)
{
	size_t nl = strlen(n->note);
	if (nl > WAKKS__NOTE_MAX)
		return WAKKS_E_TOO_LARGE;
	wakks__put_u8(b, 1);
	wakks__put_u8(b, (uint8_t)n->type);
	wakks__put_bytes(b, n->ref, 16);
	wakks__put_bytes(b, n->account, 16);
	wakks__put_u8(b, (uint8_t)n->state);
	wakks__put_u8(b, (uint8_t)(nl >> 8));
	wakks__put_u8(b, (uint8_t)nl);
	wakks__put_bytes(b, n->note, nl);
	return b->oom ? WAKKS_E_NOMEM : 0;
}

/* Which fields each type uses: ref, account, state, note (spec/client.md §13 table). */
static bool notice_fields_ok(const wakks_notice *n, size_t note_len)
{
	bool ref = !is_zero(n->ref, 16), acc = !is_zero(n->account, 16);
	switch (n->type) {
	case WAKKS_NOTICE_TAKE:
	case WAKKS_NOTICE_ANSWERED:
	case WAKKS_NOTICE_REOPENED:
	case WAKKS_NOTICE_IDENTITY_REQUEST:
		return !ref && !acc && n->state == 0 && note_len == 0;
	case WAKKS_NOTICE_HANDOVER:
		return !ref && acc && n->state == 0;
	case WAKKS_NOTICE_CLOSED:
		return !ref && !acc && n->state == 0;
	case WAKKS_NOTICE_HISTORY_OFFER:
		return ref && acc && n->state == 0 && note_len == 0;
	case WAKKS_NOTICE_JOURNAL_STATUS:
		return ref && !acc && (n->state == 1 || n->state == 2);
	case WAKKS_NOTICE_SEEN:
		return ref && !acc && n->state == 0 && note_len == 0;
	default:
		return false;
	}
}

int wakks__notice_decode(const uint8_t *p, size_t len, wakks_notice *n)
{
	wakks__rd r = { p, len, 0, false };
	memset(n, 0, sizeof *n);
	uint8_t ver = wakks__get_u8(&r);
	n->type = wakks__get_u8(&r);
	wakks__get_bytes(&r, n->ref, 16);
	wakks__get_bytes(&r, n->account, 16);
	n->state = wakks__get_u8(&r);
	size_t nl = (size_t)wakks__get_u8(&r) << 8;
	nl |= wakks__get_u8(&r);
	const uint8_t *note = wakks__get_view(&r, nl);
	if (!wakks__rd_done(&r) || ver != 1 || nl > WAKKS__NOTE_MAX || !notice_fields_ok(n, nl) ||
	    (nl && memchr(note, 0, nl)))
		return WAKKS_E_CORRUPT;
	memcpy(n->note, note, nl);
	n->note[nl] = '\0';
	return 0;
}

int wakks__receipt_decode(const uint8_t *p, size_t len, uint64_t *read_ms, const uint8_t **ids,
			  size_t *count)
{
	if (len < 11 || p[0] != 1 || p[1] != 1)
		return WAKKS_E_CORRUPT;
	size_t n = p[10];
	if (n == 0 || n > WAKKS__RECEIPT_MAX || len != 11 + 16 * n)
		return WAKKS_E_CORRUPT;
	*read_ms = wakks_load_be64(p + 2);
	*ids = p + 11;
	*count = n;
	return 0;
}

int wakks__receipt_encode(uint64_t read_ms, const uint8_t (*ids)[16], size_t count, wakks__buf *b)
{
	if (count == 0 || count > WAKKS__RECEIPT_MAX)
		return WAKKS_E_INVAL;
	wakks__put_u8(b, 1);
	wakks__put_u8(b, 1);
	wakks__put_u64(b, read_ms);
	wakks__put_u8(b, (uint8_t)count);
	for (size_t i = 0; i < count; i++)
		wakks__put_bytes(b, ids[i], 16);
	return b->oom ? WAKKS_E_NOMEM : 0;
}

int wakks__presentation_decode(const uint8_t *p, size_t len, struct wakks__presentation *out)
{
	wakks__rd r = { p, len, 0, false };
	memset(out, 0, sizeof *out);
	uint8_t ver = wakks__get_u8(&r);
	size_t il = wakks__get_u8(&r);
	const uint8_t *iss = wakks__get_view(&r, il);
	wakks__get_bytes(&r, out->challenge, 32);
	size_t tl = (size_t)wakks__get_u8(&r) << 8;
	tl |= wakks__get_u8(&r);
	const uint8_t *tok = wakks__get_view(&r, tl);
	if (!wakks__rd_done(&r) || ver != 1 || il == 0 || tl == 0 || tl > WAKKS__TOKEN_MAX ||
	    memchr(iss, 0, il) || memchr(tok, 0, tl))
		return WAKKS_E_CORRUPT;
	memcpy(out->issuer, iss, il);
	out->token = (const char *)tok;
	out->token_len = tl;
	return 0;
}

int wakks__presentation_encode(const char *issuer, const uint8_t challenge[32], const char *token,
			       wakks__buf *b)
{
	size_t il = strlen(issuer), tl = strlen(token);
	if (il == 0 || il > 255 || tl == 0 || tl > WAKKS__TOKEN_MAX)
		return WAKKS_E_INVAL;
	wakks__put_u8(b, 1);
	wakks__put_u8(b, (uint8_t)il);
	wakks__put_bytes(b, issuer, il);
	wakks__put_bytes(b, challenge, 32);
	wakks__put_u8(b, (uint8_t)(tl >> 8));
	wakks__put_u8(b, (uint8_t)tl);
	wakks__put_bytes(b, token, tl);
	return b->oom ? WAKKS_E_NOMEM : 0;
}

/* ---- the thread record (WT_THREAD) ----------------------------------------------------------- */

#define THREAD_RECORD_VERSION 1
#define THREAD_F_PRESENTED 0x01 /* this (citizen) device has presented itself in the thread */
#define THREAD_F_REQUESTED 0x02 /* this (unit) device has asked the citizen to present */

int wakks__thread_load(wakks__txn *t, const uint8_t id[16], struct wakks__thread_rec *tr)
{
	uint8_t *v;
	size_t vl;
	memset(tr, 0, sizeof *tr);
	int rc = wakks__store_get(t, WT_THREAD, id, 16, &v, &vl);
	if (rc != 0)
		return rc;
	wakks__rd r = { v, vl, 0, false };
	uint8_t ver = wakks__get_u8(&r);
	tr->flags = wakks__get_u8(&r);
	wakks__get_bytes(&r, tr->citizen, 16);
	wakks__get_str8(&r, tr->tenant, sizeof tr->tenant);
	wakks__get_str8(&r, tr->unit, sizeof tr->unit);
	tr->seen_seq = wakks__get_u64(&r);
	tr->id.status = wakks__get_u8(&r);
	tr->id.reason = wakks__get_u8(&r);
	tr->id.registered_ms = wakks__get_u64(&r);
	wakks__get_str8(&r, tr->id.name, sizeof tr->id.name);
	wakks__get_str8(&r, tr->cpr, sizeof tr->cpr);
	tr->pres_len = wakks__get_u32(&r);
	const uint8_t *pres = wakks__get_view(&r, tr->pres_len);
	wakks__get_bytes(&r, tr->pres_ik, 32);
	wakks__get_bytes(&r, tr->pres_acc, 16);
	wakks__get_bytes(&r, tr->pres_dev, 16);
	wakks__get_bytes(&r, tr->pres_mid, 16);
	tr->pres_sent_ms = wakks__get_u64(&r);
	if (!wakks__rd_done(&r) || ver != THREAD_RECORD_VERSION || tr->pres_len > sizeof tr->pres) {
		wakks__store_free(v, vl);
		return WAKKS_E_CORRUPT;
	}
	memcpy(tr->pres, pres, tr->pres_len);
	memcpy(tr->thread, id, 16);
	wakks__store_free(v, vl);
	if (tr->id.status == WAKKS_ID_VERIFIED && strlen(tr->cpr) == 10)
		snprintf(tr->id.cpr_masked, sizeof tr->id.cpr_masked, "%.6s-xxxx", tr->cpr);
	return 0;
}

int wakks__thread_save(wakks__txn *t, const struct wakks__thread_rec *tr)
{
	wakks__buf b = { 0 };
	wakks__put_u8(&b, THREAD_RECORD_VERSION);
	wakks__put_u8(&b, tr->flags);
	wakks__put_bytes(&b, tr->citizen, 16);
	wakks__put_str8(&b, tr->tenant);
	wakks__put_str8(&b, tr->unit);
	wakks__put_u64(&b, tr->seen_seq);
	wakks__put_u8(&b, (uint8_t)tr->id.status);
	wakks__put_u8(&b, (uint8_t)tr->id.reason);
	wakks__put_u64(&b, tr->id.registered_ms);
	wakks__put_str8(&b, tr->id.name);
	wakks__put_str8(&b, tr->cpr);
	wakks__put_u32(&b, (uint32_t)tr->pres_len);
	wakks__put_bytes(&b, tr->pres, tr->pres_len);
	wakks__put_bytes(&b, tr->pres_ik, 32);
	wakks__put_bytes(&b, tr->pres_acc, 16);
	wakks__put_bytes(&b, tr->pres_dev, 16);
	wakks__put_bytes(&b, tr->pres_mid, 16);
	wakks__put_u64(&b, tr->pres_sent_ms);
	int rc = b.oom ? WAKKS_E_NOMEM : wakks__store_put(t, WT_THREAD, tr->thread, 16, b.p, b.len);
	wakks__buf_free(&b);
	return rc;
}

/* The thread record of a thread reference, created when missing. */
int wakks__thread_ensure(wakks__txn *t, const uint8_t id[16], const uint8_t citizen[16],
			 const char *tenant, const char *unit, struct wakks__thread_rec *tr,
			 bool *created)
{
	int rc = wakks__thread_load(t, id, tr);
	if (created)
		*created = rc == WAKKS_E_NOT_FOUND;
	if (rc != WAKKS_E_NOT_FOUND)
		return rc;
	memset(tr, 0, sizeof *tr);
	memcpy(tr->thread, id, 16);
	memcpy(tr->citizen, citizen, 16);
	snprintf(tr->tenant, sizeof tr->tenant, "%s", tenant);
	snprintf(tr->unit, sizeof tr->unit, "%s", unit);
	return wakks__thread_save(t, tr);
}

/* ---- routing of outgoing records ------------------------------------------------------------ */

static int notice_type_of(const wakks_message *m)
{
	return m->kind == WC_KIND_SYSTEM && m->text_len >= 2 ? ((const uint8_t *)m->text)[1] : 0;
}

bool wakks__msg_hidden(const wakks_message *m)
{
	if (m->kind == WC_KIND_RECEIPT || m->kind == WC_KIND_PRESENTATION || m->kind == WC_KIND_HISTORY)
		return true;
	int nt = notice_type_of(m);
	return nt == WAKKS_NOTICE_HISTORY_OFFER || nt == WAKKS_NOTICE_SEEN ||
	       nt == WAKKS_NOTICE_IDENTITY_REQUEST;
}

int wakks__msg_route(const wakks_message *m)
{
	if (m->kind == WC_KIND_HISTORY)
		return WAKKS__ROUTE_ACCOUNT;
	if (notice_type_of(m) == WAKKS_NOTICE_SEEN)
		return WAKKS__ROUTE_SELF;
	return WAKKS__ROUTE_THREAD;
}

/* Queues a record of the thread in t: ids, sender, thread reference, addressing. */
int wakks__queue_record(wakks_client *c, wakks__txn *t, const struct wakks__thread_rec *tr,
			int kind, const uint8_t *to_account, const void *body, size_t len,
			wakks_message *out)
{
	wakks_message m;
	memset(&m, 0, sizeof m);
	randombytes_buf(m.id, 16);
	memcpy(m.sender_account, c->account, 16);
	memcpy(m.sender_device, c->device, 16);
	if (to_account)
		memcpy(m.to_account, to_account, 16);
	m.kind = kind;
	if (tr) {
		memcpy(m.conversation, tr->thread, 16);
		memcpy(m.citizen, tr->citizen, 16);
		snprintf(m.tenant, sizeof m.tenant, "%s", tr->tenant);
		snprintf(m.unit, sizeof m.unit, "%s", tr->unit);
	} else if (to_account) {
		wakks__conversation_id(c->account, to_account, NULL, NULL, m.conversation);
	}
	m.sent_ms = wakks__now_ms();
	m.outgoing = true;
	m.text = body;
	m.text_len = len;
	int rc = wakks__msg_queue(c, t, &m);
	if (rc == 0 && out)
		*out = m;
	return rc;
}

/* ---- registration evidence (spec/client.md §15) --------------------------------------------- */

int wakks__evidence_remember(wakks_client *c, const char *token)
{
	struct wakks__threads *th = wakks__th(c);
	if (!th)
		return WAKKS_E_NOMEM;
	char issuer[256];
	if (id_token_issuer(token, strlen(token), issuer, sizeof issuer) != 0)
		return 0; /* not a token we could present: register anyway, present nothing */
	free(th->ev_token);
	th->ev_token = strdup(token);
	snprintf(th->ev_issuer, sizeof th->ev_issuer, "%s", issuer);
	memcpy(th->ev_challenge, c->login_challenge_set ? c->login_challenge : c->challenge, 32);
	c->login_challenge_set = false;
	return th->ev_token ? 0 : WAKKS_E_NOMEM;
}

int wakks__evidence_save(wakks_client *c, wakks__txn *t)
{
	struct wakks__threads *th = c->th;
	if (!th || !th->ev_token)
		return 0;
	wakks__buf b = { 0 };
	wakks__put_u8(&b, 1);
	wakks__put_str8(&b, th->ev_issuer);
	wakks__put_bytes(&b, th->ev_challenge, 32);
	wakks__put_u32(&b, (uint32_t)strlen(th->ev_token));
	wakks__put_bytes(&b, th->ev_token, strlen(th->ev_token));
	int rc = b.oom ? WAKKS_E_NOMEM : wakks__store_put(t, WT_META, "evidence", 8, b.p, b.len);
	wakks__buf_free(&b);
	return rc;
}

/* The presentation body of this device's registration, into b. WAKKS_E_NOT_FOUND: none kept. */
static int evidence_presentation(wakks__txn *t, wakks__buf *b)
{
	uint8_t *v;
	size_t vl;
	int rc = wakks__store_get(t, WT_META, "evidence", 8, &v, &vl);
	if (rc != 0)
		return rc;
	wakks__rd r = { v, vl, 0, false };
	char issuer[256];
	uint8_t ch[32];
	uint8_t ver = wakks__get_u8(&r);
	wakks__get_str8(&r, issuer, sizeof issuer);
	wakks__get_bytes(&r, ch, 32);
	uint32_t tl = wakks__get_u32(&r);
	const uint8_t *tok = wakks__get_view(&r, tl);
	rc = WAKKS_E_CORRUPT;
	if (wakks__rd_done(&r) && ver == 1 && tl > 0 && tl <= WAKKS__TOKEN_MAX) {
		char *token = malloc(tl + 1);
		if (token) {
			memcpy(token, tok, tl);
			token[tl] = '\0';
			rc = wakks__presentation_encode(issuer, ch, token, b);
			sodium_memzero(token, tl);
			free(token);
		} else {
			rc = WAKKS_E_NOMEM;
		}
	}
	wakks__store_free(v, vl);
	return rc;
}

static int queue_presentation(wakks_client *c, wakks__txn *t, struct wakks__thread_rec *tr)
{
	wakks__buf b = { 0 };
	int rc = evidence_presentation(t, &b);
	if (rc == 0)
		rc = wakks__queue_record(c, t, tr, WC_KIND_PRESENTATION, NULL, b.p, b.len, NULL);
	wakks__buf_free(&b);
	if (rc == 0) {
		tr->flags |= THREAD_F_PRESENTED;
		rc = wakks__thread_save(t, tr);
	}
	return rc == WAKKS_E_NOT_FOUND ? 0 : rc;
}

static int queue_identity_request(wakks_client *c, wakks__txn *t, struct wakks__thread_rec *tr)
{
	wakks_notice n;
	memset(&n, 0, sizeof n);
	n.type = WAKKS_NOTICE_IDENTITY_REQUEST;
	wakks__buf b = { 0 };
	int rc = wakks__notice_encode(&n, &b);
	if (rc == 0)
		rc = wakks__queue_record(c, t, tr, WC_KIND_SYSTEM, tr->citizen, b.p, b.len, NULL);
	wakks__buf_free(&b);
	return rc;
}

int wakks__thread_before_send(wakks_client *c, wakks__txn *t, const wakks_message *m)
{
	if (!m->tenant[0])
		return 0;
	struct wakks__thread_rec tr;
	int rc = wakks__thread_ensure(t, m->conversation, m->citizen, m->tenant, m->unit, &tr, NULL);
	if (rc != 0)
		return rc;
	if (memcmp(m->citizen, c->account, 16) == 0) {
		/* A citizen's device presents itself before its first message in a unit thread. */
		if (tr.flags & THREAD_F_PRESENTED)
			return 0;
		return queue_presentation(c, t, &tr);
	}
	/* A unit device writing in a thread whose citizen has presented nothing (one it started
	 * after a CPR look-up) asks for the presentation, once, with its message. */
	if (tr.id.status != WAKKS_ID_NOT_PRESENTED || (tr.flags & THREAD_F_REQUESTED))
		return 0;
	tr.flags |= THREAD_F_REQUESTED;
	rc = wakks__thread_save(t, &tr);
	return rc == 0 ? queue_identity_request(c, t, &tr) : rc;
}

/* ---- receiving (spec/client.md §12-§16) ----------------------------------------------------- */

/* The message of seq, if it belongs to the thread. */
static int msg_in_thread(wakks__txn *t, const uint8_t mid[16], const uint8_t thread[16],
			 uint64_t *seq, uint8_t sender[16])
{
	uint8_t *v;
	size_t vl;
	int rc = wakks__store_get(t, WT_MID, mid, 16, &v, &vl);
	if (rc != 0)
		return rc;
	*seq = vl == 8 ? wakks_load_be64(v) : 0;
	wakks__store_free(v, vl);
	wakks_message m;
	uint8_t *raw = NULL;
	size_t rl = 0;
	rc = wakks__msg_get(t, *seq, &m, NULL, &raw, &rl);
	if (rc == 0 && memcmp(m.conversation, thread, 16) != 0)
		rc = WAKKS_E_NOT_FOUND;
	if (rc == 0)
		memcpy(sender, m.sender_account, 16);
	wakks__store_free(raw, rl);
	return rc;
}

static int accept_receipt(wakks_client *c, wakks__txn *t, const wc_content *ct)
{
	uint64_t read_ms;
	const uint8_t *ids;
	size_t n;
	if (!ct->tenant[0] || wakks__receipt_decode(ct->body, ct->body_len, &read_ms, &ids, &n) != 0)
		return WAKKS_E_VERIFY;
	bool from_citizen = memcmp(ct->sender_account, ct->citizen_account, 16) == 0;
	/* Only the other side's messages; one naming its own side is ignored as a whole. */
	uint64_t seqs[WAKKS__RECEIPT_MAX];
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t seq;
		uint8_t sender[16];
		int rc = msg_in_thread(t, ids + 16 * i, ct->conversation_id, &seq, sender);
		if (rc == WAKKS_E_NOT_FOUND)
			continue;
		if (rc != 0)
			return rc;
		if ((memcmp(sender, ct->citizen_account, 16) == 0) == from_citizen)
			return 0;
		seqs[k++] = i;
	}
	for (size_t j = 0; j < k; j++) {
		const uint8_t *mid = ids + 16 * seqs[j];
		uint8_t *v;
		size_t vl;
		int rc = wakks__store_get(t, WT_READ, mid, 16, &v, &vl);
		if (rc == 0) {
			uint64_t old = vl == 8 ? wakks_load_be64(v) : 0;
			wakks__store_free(v, vl);
			if (old && old <= read_ms)
				continue;
		} else if (rc != WAKKS_E_NOT_FOUND) {
			return rc;
		}
		uint8_t b[8];
		wakks_store_be64(b, read_ms);
		if ((rc = wakks__store_put(t, WT_READ, mid, 16, b, 8)) != 0)
			return rc;
	}
	wakks__thread_touched(c, ct->conversation_id);
	return 0;
}

static int accept_seen(wakks_client *c, wakks__txn *t, const wc_content *ct, const wakks_notice *n)
{
	if (memcmp(ct->sender_account, c->account, 16) != 0)
		return WAKKS_E_VERIFY; /* unread marks never leave the person's own devices */
	uint64_t seq;
	uint8_t sender[16];
	int rc = msg_in_thread(t, n->ref, ct->conversation_id, &seq, sender);
	if (rc == WAKKS_E_NOT_FOUND)
		return 0;
	struct wakks__thread_rec tr;
	if (rc == 0)
		rc = wakks__thread_load(t, ct->conversation_id, &tr);
	if (rc == WAKKS_E_NOT_FOUND)
		return 0;
	if (rc == 0 && seq > tr.seen_seq) {
		tr.seen_seq = seq;
		rc = wakks__thread_save(t, &tr);
		wakks__thread_touched(c, ct->conversation_id);
	}
	return rc;
}

static int accept_notice(wakks_client *c, wakks__txn *t, const wc_content *ct, bool *store_msg)
{
	wakks_notice n;
	if (wakks__notice_decode(ct->body, ct->body_len, &n) != 0)
		return WAKKS_E_VERIFY;
	if (n.type == WAKKS_NOTICE_SEEN)
		return accept_seen(c, t, ct, &n);
	if (!ct->tenant[0])
		return WAKKS_E_VERIFY;
	bool from_citizen = memcmp(ct->sender_account, ct->citizen_account, 16) == 0;
	if (from_citizen)
		return WAKKS_E_VERIFY; /* a citizen does not manage the thread */
	struct wakks__threads *th = wakks__th(c);
	if (n.type == WAKKS_NOTICE_HISTORY_OFFER) {
		if (th && th->n_offered < WAKKS__MAX_OFFERED)
			memcpy(th->offered[th->n_offered++], n.ref, 16);
		return 0;
	}
	if (n.type == WAKKS_NOTICE_IDENTITY_REQUEST) {
		if (memcmp(ct->citizen_account, c->account, 16) != 0)
			return 0;
		/* At most once per thread per ten minutes. */
		uint64_t now = wakks__mono_ms();
		for (size_t i = 0; th && i < th->n_presented; i++)
			if (memcmp(th->presented[i].thread, ct->conversation_id, 16) == 0) {
				if (now - th->presented[i].at < 600000)
					return 0;
				th->presented[i].at = now;
				goto present;
			}
		if (th && th->n_presented < WAKKS__MAX_OFFERED) {
			memcpy(th->presented[th->n_presented].thread, ct->conversation_id, 16);
			th->presented[th->n_presented++].at = now;
		}
present:;
		struct wakks__thread_rec tr;
		int rc = wakks__thread_ensure(t, ct->conversation_id, ct->citizen_account, ct->tenant,
					      ct->unit, &tr, NULL);
		if (rc == 0)
			rc = queue_presentation(c, t, &tr);
		if (rc == 0)
			th->kick_send = true;
		return rc;
	}
	*store_msg = true; /* take, handover, answered, closed, reopened, journal_status */
	return 0;
}

int wakks__thread_accept(wakks_client *c, wakks__txn *t, const wc_content *ct,
			 const uint8_t sender_ik[32], uint64_t stored_ms, bool from_history,
			 bool *store_msg)
{
	*store_msg = false;
	if (ct->version < 2)
		return (*store_msg = ct->kind == WC_KIND_TEXT || ct->kind == WC_KIND_ATTACHMENT), 0;
	if (ct->tenant[0]) {
		uint8_t want[16];
		wakks__conversation_id(ct->citizen_account, NULL, ct->tenant, ct->unit, want);
		if (memcmp(want, ct->conversation_id, 16) != 0)
			return WAKKS_E_VERIFY;
		/* Who may speak in a thread (§12): the citizen, our own devices, or a unit device. */
		if (!from_history && memcmp(ct->sender_account, ct->citizen_account, 16) != 0 &&
		    memcmp(ct->sender_account, c->account, 16) != 0) {
			int member = wakks__unit_member(c, ct->tenant, ct->unit, ct->sender_device);
			if (member < 0)
				return WAKKS__E_PARK;
			if (member == 0)
				return WAKKS_E_VERIFY;
		}
		struct wakks__thread_rec tr;
		bool created = false;
		int rc = wakks__thread_ensure(t, ct->conversation_id, ct->citizen_account, ct->tenant,
					      ct->unit, &tr, &created);
		if (rc != 0)
			return rc;
		if (created)
			wakks__unit_watch(c, ct->tenant, ct->unit);
	}
	switch (ct->kind) {
	case WC_KIND_TEXT:
	case WC_KIND_ATTACHMENT:
		*store_msg = true;
		return 0;
	case WC_KIND_RECEIPT:
		return accept_receipt(c, t, ct);
	case WC_KIND_SYSTEM:
		return accept_notice(c, t, ct, store_msg);
	case WC_KIND_PRESENTATION:
		if (!ct->tenant[0] || memcmp(ct->sender_account, ct->citizen_account, 16) != 0)
			return WAKKS_E_VERIFY;
		return wakks__presentation_accept(c, t, ct, sender_ik);
	case WC_KIND_HISTORY:
		if (from_history)
			return WAKKS_E_VERIFY;
		return wakks__history_accept(c, t, ct, stored_ms);
	default:
		return WAKKS_E_VERIFY;
	}
}

int wakks__thread_touch(wakks_client *c, wakks__txn *t, const wakks_message *m)
{
	(void)t;
	if (m->tenant[0])
		wakks__thread_touched(c, m->conversation);
	return 0;
}

/* ---- thread summaries ------------------------------------------------------------------------ */

struct summaries {
	wakks_client *c;
	struct summary {
		wakks_thread t;
		uint64_t seen_seq;
	} *v;
	size_t n, cap;
	const uint8_t *only; /* one thread, or NULL */
	int err;
};

static struct summary *summary_of(struct summaries *s, const uint8_t id[16], bool create)
{
	for (size_t i = 0; i < s->n; i++)
		if (memcmp(s->v[i].t.id, id, 16) == 0)
			return &s->v[i];
	if (!create)
		return NULL;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct summary *nv = realloc(s->v, cap * sizeof *nv);
		if (!nv) {
			s->err = WAKKS_E_NOMEM;
			return NULL;
		}
		s->v = nv;
		s->cap = cap;
	}
	struct summary *x = &s->v[s->n++];
	memset(x, 0, sizeof *x);
	memcpy(x->t.id, id, 16);
	return x;
}

static void apply_notice(struct summary *x, const wakks_message *m)
{
	wakks_notice n;
	if (wakks__notice_decode((const uint8_t *)m->text, m->text_len, &n) != 0)
		return;
	switch (n.type) {
	case WAKKS_NOTICE_TAKE:
		x->t.assigned = true;
		memcpy(x->t.assignee, m->sender_account, 16);
		break;
	case WAKKS_NOTICE_HANDOVER:
		x->t.assigned = true;
		memcpy(x->t.assignee, n.account, 16);
		break;
	case WAKKS_NOTICE_ANSWERED:
		x->t.state = WAKKS_THREAD_ANSWERED;
		break;
	case WAKKS_NOTICE_CLOSED:
		x->t.state = WAKKS_THREAD_CLOSED;
		break;
	case WAKKS_NOTICE_REOPENED:
		x->t.state = WAKKS_THREAD_OPEN;
		break;
	default:
		break;
	}
}

static int summary_msg(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen, void *arg)
{
	struct summaries *s = arg;
	wakks_message m;
	if (klen != 8 || wakks__msg_decode(val, vlen, &m, NULL) != 0)
		return WAKKS_E_CORRUPT;
	m.seq = wakks_load_be64(key);
	if (!m.tenant[0] || wakks__msg_hidden(&m) || is_zero(m.citizen, 16))
		return 0;
	if (s->only && memcmp(m.conversation, s->only, 16) != 0)
		return 0;
	struct summary *x = summary_of(s, m.conversation, true);
	if (!x)
		return s->err;
	if (x->t.messages == 0) {
		memcpy(x->t.citizen, m.citizen, 16);
		snprintf(x->t.tenant, sizeof x->t.tenant, "%s", m.tenant);
		snprintf(x->t.unit, sizeof x->t.unit, "%s", m.unit);
	}
	x->t.messages++;
	x->t.last_seq = m.seq;
	x->t.last_ms = m.stored_ms ? m.stored_ms : m.sent_ms;
	bool from_citizen = memcmp(m.sender_account, m.citizen, 16) == 0;
	if (m.kind == WC_KIND_SYSTEM) {
		apply_notice(x, &m);
		return 0;
	}
	/* The citizen writing again reopens an answered or closed thread. */
	if (from_citizen)
		x->t.state = WAKKS_THREAD_OPEN;
	bool self_is_citizen = memcmp(s->c->account, m.citizen, 16) == 0;
	if (from_citizen != self_is_citizen && m.seq > x->seen_seq)
		x->t.unread++;
	return 0;
}

static int thread_each_one(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
			   void *arg)
{
	(void)val;
	(void)vlen;
	struct summaries *s = arg;
	if (klen != 16)
		return WAKKS_E_CORRUPT;
	struct summary *x = summary_of(s, key, true);
	if (!x)
		return s->err;
	return 0;
}

static int thread_each(wakks__txn *t, struct summaries *s)
{
	int rc = wakks__store_each(t, WT_THREAD, thread_each_one, s);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < s->n; i++) {
		struct wakks__thread_rec tr;
		rc = wakks__thread_load(t, s->v[i].t.id, &tr);
		if (rc != 0)
			return rc;
		s->v[i].seen_seq = tr.seen_seq;
		s->v[i].t.identity = tr.id;
	}
	return 0;
}

/* Reads every thread record, then every message once: state, counts, unread. */
static int summarise(wakks_client *c, wakks__txn *t, const uint8_t *only, struct summaries *s)
{
	memset(s, 0, sizeof *s);
	s->c = c;
	s->only = only;
	/* Seen marks and identities first, so the pass over the messages can count unread. */
	struct wakks__thread_rec tr;
	if (only) {
		int rc = wakks__thread_load(t, only, &tr);
		if (rc == 0) {
			struct summary *x = summary_of(s, only, true);
			if (!x)
				return s->err;
			x->seen_seq = tr.seen_seq;
			x->t.identity = tr.id;
		} else if (rc != WAKKS_E_NOT_FOUND) {
			return rc;
		}
	} else {
		int rc = thread_each(t, s);
		if (rc != 0)
			return rc;
	}
	int rc = wakks__store_each(t, WT_MSG, summary_msg, s);
	if (rc < 0)
		return rc;
	/* Threads known only by their record (a presentation, nothing else yet) are left out. */
	size_t k = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].t.messages)
			s->v[k++] = s->v[i];
	s->n = k;
	return s->err;
}

static int by_newest(const void *a, const void *b)
{
	const struct summary *x = a, *y = b;
	return x->t.last_seq < y->t.last_seq ? 1 : x->t.last_seq > y->t.last_seq ? -1 : 0;
}

/* summarise in a read transaction of its own. */
static int summarise_stored(wakks_client *c, const uint8_t *only, struct summaries *s)
{
	wakks__txn *t;
	int rc = wakks__txn_begin(c->store, false, &t);
	if (rc != 0) {
		s->v = NULL;
		return rc;
	}
	rc = summarise(c, t, only, s);
	wakks__txn_abort(t);
	return rc;
}

int wakks_threads(wakks_client *c, int filter, uint64_t before_seq, wakks_thread *out, size_t cap,
		  size_t *n)
{
	if (!c || !n || (cap && !out) || filter < WAKKS_FILTER_ALL || filter > WAKKS_FILTER_UNREAD)
		return WAKKS_E_INVAL;
	*n = 0;
	struct summaries s;
	int rc = summarise_stored(c, NULL, &s);
	if (rc == 0) {
		qsort(s.v, s.n, sizeof *s.v, by_newest);
		for (size_t i = 0; i < s.n && *n < cap; i++) {
			const wakks_thread *x = &s.v[i].t;
			if (before_seq && x->last_seq >= before_seq)
				continue;
			if ((filter == WAKKS_FILTER_UNASSIGNED && x->assigned) ||
			    (filter == WAKKS_FILTER_MINE &&
			     (!x->assigned || memcmp(x->assignee, c->account, 16) != 0)) ||
			    (filter == WAKKS_FILTER_UNREAD && x->unread == 0))
				continue;
			out[(*n)++] = *x;
		}
	}
	free(s.v);
	return rc;
}

int wakks_thread_get(wakks_client *c, const uint8_t thread[WAKKS_ID_BYTES], wakks_thread *out)
{
	if (!c || !thread || !out)
		return WAKKS_E_INVAL;
	struct summaries s;
	int rc = summarise_stored(c, thread, &s);
	if (rc == 0 && s.n == 0)
		rc = WAKKS_E_NOT_FOUND;
	if (rc == 0)
		*out = s.v[0].t;
	free(s.v);
	return rc;
}

/* ---- a thread's messages ------------------------------------------------------------------- */

struct seq_list {
	const uint8_t *thread;
	uint64_t *v;
	size_t n, cap;
	bool oom;
};

static int collect_seq(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen, void *arg)
{
	struct seq_list *l = arg;
	wakks_message m;
	if (klen != 8 || wakks__msg_decode(val, vlen, &m, NULL) != 0)
		return WAKKS_E_CORRUPT;
	if (memcmp(m.conversation, l->thread, 16) != 0 || wakks__msg_hidden(&m))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		uint64_t *nv = realloc(l->v, cap * sizeof *nv);
		if (!nv) {
			l->oom = true;
			return WAKKS_E_NOMEM;
		}
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = wakks_load_be64(key);
	return 0;
}

int wakks__thread_seqs(wakks__txn *t, const uint8_t thread[16], uint64_t **seqs, size_t *n)
{
	struct seq_list l = { .thread = thread };
	int rc = wakks__store_each(t, WT_MSG, collect_seq, &l);
	if (rc < 0) {
		free(l.v);
		return rc;
	}
	*seqs = l.v;
	*n = l.n;
	return 0;
}

int wakks_thread_messages(wakks_client *c, const uint8_t thread[WAKKS_ID_BYTES],
			  uint64_t before_seq, size_t max,
			  int (*fn)(const wakks_message *m, void *arg), void *arg)
{
	if (!c || !thread || !fn)
		return WAKKS_E_INVAL;
	wakks__txn *t;
	int rc = wakks__txn_begin(c->store, false, &t);
	if (rc != 0)
		return rc;
	uint64_t *seqs = NULL;
	size_t n = 0, shown = 0;
	rc = wakks__thread_seqs(t, thread, &seqs, &n);
	for (size_t i = n; rc == 0 && i-- > 0 && shown < max;) {
		if (before_seq && seqs[i] >= before_seq)
			continue;
		wakks_message m;
		uint8_t *raw = NULL;
		size_t rl = 0;
		rc = wakks__msg_get(t, seqs[i], &m, NULL, &raw, &rl);
		if (rc == 0) {
			rc = wakks__msg_present(t, &m, fn, arg);
			shown++;
		}
		wakks__store_free(raw, rl);
	}
	wakks__txn_abort(t);
	free(seqs);
	return rc < 0 ? rc : 0;
}

/* ---- marking read, notices ------------------------------------------------------------------ */

int wakks_thread_read(wakks_client *c, const uint8_t thread[WAKKS_ID_BYTES])
{
	if (!c || !thread)
		return WAKKS_E_INVAL;
	if (!c->registered)
		return WAKKS_E_NOT_REGISTERED;
	struct wakks__thread_rec tr;
	bool receipts = true;
	wakks__txn *t;
	int rc = wakks__txn_begin(c->store, false, &t);
	if (rc != 0)
		return rc;
	rc = wakks__thread_load(t, thread, &tr);
	wakks__txn_abort(t);
	if (rc != 0)
		return rc;
	/* The tenant's switch decides whether the other side hears of it (blocking once). */
	if (wakks__tenant_read_receipts(c, tr.tenant, &receipts) != 0)
		receipts = false;
	rc = wakks__txn_begin(c->store, true, &t);
	if (rc != 0)
		return rc;
	uint64_t *seqs = NULL;
	size_t n = 0;
	rc = wakks__thread_load(t, thread, &tr);
	if (rc == 0)
		rc = wakks__thread_seqs(t, thread, &seqs, &n);
	bool self_is_citizen = memcmp(c->account, tr.citizen, 16) == 0;
	uint8_t ids[WAKKS__RECEIPT_MAX][16];
	size_t k = 0;
	uint8_t newest[16];
	uint64_t newest_seq = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (seqs[i] <= tr.seen_seq)
			continue;
		wakks_message m;
		uint8_t *raw = NULL;
		size_t rl = 0;
		rc = wakks__msg_get(t, seqs[i], &m, NULL, &raw, &rl);
		if (rc == 0) {
			memcpy(newest, m.id, 16);
			newest_seq = seqs[i];
			bool from_citizen = memcmp(m.sender_account, tr.citizen, 16) == 0;
			if (m.kind != WC_KIND_SYSTEM && from_citizen != self_is_citizen &&
			    k < WAKKS__RECEIPT_MAX)
				memcpy(ids[k++], m.id, 16);
		}
		wakks__store_free(raw, rl);
	}
	free(seqs);
	if (rc == 0 && newest_seq) {
		tr.seen_seq = newest_seq;
		rc = wakks__thread_save(t, &tr);
		wakks_notice seen;
		memset(&seen, 0, sizeof seen);
		seen.type = WAKKS_NOTICE_SEEN;
		memcpy(seen.ref, newest, 16);
		wakks__buf b = { 0 };
		if (rc == 0)
			rc = wakks__notice_encode(&seen, &b);
		if (rc == 0)
			rc = wakks__queue_record(c, t, &tr, WC_KIND_SYSTEM, c->account, b.p, b.len, NULL);
		wakks__buf_free(&b);
		if (rc == 0 && receipts && k) {
			wakks__buf rb = { 0 };
			rc = wakks__receipt_encode(wakks__now_ms(), (const uint8_t(*)[16])ids, k, &rb);
			if (rc == 0)
				rc = wakks__queue_record(c, t, &tr, WC_KIND_RECEIPT,
							 self_is_citizen ? NULL : tr.citizen, rb.p,
							 rb.len, NULL);
			wakks__buf_free(&rb);
		}
	}
	if (rc == 0)
		rc = wakks__txn_commit(t);
	else
		wakks__txn_abort(t);
	if (rc == 0)
		wakks__send_kick(c);
	return rc;
}

int wakks_thread_notice(wakks_client *c, const uint8_t thread[WAKKS_ID_BYTES], int type,
			const uint8_t *account, const uint8_t *ref, int state, const char *note,
			uint8_t message_id[WAKKS_ID_BYTES], uint32_t *op)
{
	if (!c || !thread)
		return WAKKS_E_INVAL;
	if (type != WAKKS_NOTICE_TAKE && type != WAKKS_NOTICE_HANDOVER &&
	    type != WAKKS_NOTICE_ANSWERED && type != WAKKS_NOTICE_CLOSED &&
	    type != WAKKS_NOTICE_REOPENED && type != WAKKS_NOTICE_JOURNAL_STATUS)
		return WAKKS_E_INVAL;
	if (!c->registered)
		return WAKKS_E_NOT_REGISTERED;
	wakks_notice n;
	memset(&n, 0, sizeof n);
	n.type = type;
	if (account)
		memcpy(n.account, account, 16);
	if (ref)
		memcpy(n.ref, ref, 16);
	n.state = state;
	if (note && strlen(note) > WAKKS__NOTE_MAX)
		return WAKKS_E_TOO_LARGE;
	if (note)
		snprintf(n.note, sizeof n.note, "%s", note);
	if (!notice_fields_ok(&n, strlen(n.note)))
		return WAKKS_E_INVAL;
	wakks__txn *t;
	int rc = wakks__txn_begin(c->store, true, &t);
	if (rc != 0)
		return rc;
	struct wakks__thread_rec tr;
	wakks__buf b = { 0 };
	wakks_message m;
	rc = wakks__thread_load(t, thread, &tr);
	if (rc == 0 && memcmp(tr.citizen, c->account, 16) == 0)
		rc = WAKKS_E_INVAL; /* the citizen does not manage the thread */
	if (rc == 0)
		rc = wakks__notice_encode(&n, &b);
	if (rc == 0)
		rc = wakks__queue_record(c, t, &tr, WC_KIND_SYSTEM, NULL, b.p, b.len, &m);
	wakks__buf_free(&b);
	if (rc == 0)
		rc = wakks__txn_commit(t);
	else
		wakks__txn_abort(t);
	if (rc != 0)
		return rc;
	uint32_t id = wakks__send_op(c, m.cmid);
	if (message_id)
		memcpy(message_id, m.id, 16);
	if (op)
		*op = id;
	wakks__thread_touched(c, thread);
	wakks__send_kick(c);
	return 0;
}

int wakks_thread_request_identity(wakks_client *c, const uint8_t thread[WAKKS_ID_BYTES])
{
	if (!c || !thread)
		return WAKKS_E_INVAL;
	wakks__txn *t;
	int rc = wakks__txn_begin(c->store, true, &t);
	if (rc != 0)
		return rc;
	struct wakks__thread_rec tr;
	rc = wakks__thread_load(t, thread, &tr);
	if (rc == 0)
		rc = queue_identity_request(c, t, &tr);
	if (rc == 0)
		rc = wakks__txn_commit(t);
	else
		wakks__txn_abort(t);
	if (rc == 0)
		wakks__send_kick(c);
	return rc;
}

/* ---- the local audit log ------------------------------------------------------------------- */

int wakks_identity_reveal(wakks_client *c, const uint8_t thread[WAKKS_ID_BYTES], char cpr[11])
{
	if (!c || !thread || !cpr)
		return WAKKS_E_INVAL;
	wakks__txn *t;
	int rc = wakks__txn_begin(c->store, true, &t);
	if (rc != 0)
		return rc;
	struct wakks__thread_rec tr;
	rc = wakks__thread_load(t, thread, &tr);
	if (rc == 0 && (tr.id.status != WAKKS_ID_VERIFIED || strlen(tr.cpr) != 10))
		rc = WAKKS_E_STATE;
	uint64_t last = 0;
	if (rc == 0)
		rc = wakks__store_last_u64(t, WT_AUDIT, &last);
	if (rc == 0) {
		/* Written before the number is handed out: a reveal is never unrecorded. */
		uint8_t key[8], val[1 + 1 + 8 + 16 + 16];
		wakks_store_be64(key, last + 1);
		val[0] = 1;
		val[1] = WAKKS_AUDIT_CPR_REVEAL;
		wakks_store_be64(val + 2, wakks__now_ms());
		memcpy(val + 10, thread, 16);
		memcpy(val + 26, tr.citizen, 16);
		rc = wakks__store_put(t, WT_AUDIT, key, 8, val, sizeof val);
	}
	if (rc == 0)
		rc = wakks__txn_commit(t);
	else
		wakks__txn_abort(t);
	if (rc == 0)
		memcpy(cpr, tr.cpr, 11);
	sodium_memzero(&tr, sizeof tr);
	return rc;
}

struct audit_walk {
	int (*fn)(const wakks_audit_entry *e, void *arg);
	void *arg;
};

static int audit_one(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen, void *arg)
{
	struct audit_walk *w = arg;
	if (klen != 8 || vlen != 42 || val[0] != 1)
		return WAKKS_E_CORRUPT;
	wakks_audit_entry e;
	memset(&e, 0, sizeof e);
	e.seq = wakks_load_be64(key);
	e.type = val[1];
	e.time_ms = wakks_load_be64(val + 2);
	memcpy(e.thread, val + 10, 16);
	memcpy(e.citizen, val + 26, 16);
	return w->fn(&e, w->arg) ? 1 : 0;
}

int wakks_audit_list(wakks_client *c, int (*fn)(const wakks_audit_entry *e, void *arg), void *arg)
{
	if (!c || !fn)
		return WAKKS_E_INVAL;
	struct audit_walk w = { fn, arg };
	return wakks__store_walk(c->store, WT_AUDIT, audit_one, &w);
}

/* ---- consent_check --------------------------------------------------------------------------- */

int wakks_consent_check(wakks_client *c, const uint8_t citizen[WAKKS_ID_BYTES], const char *tenant,
			const char *unit, uint32_t *op)
{
	if (!c || !citizen || !wakks__slug_ok(tenant) || !wakks__slug_ok(unit))
		return WAKKS_E_INVAL;
	if (c->state != WAKKS_READY)
		return WAKKS_E_STATE;
	proto_frame_init(c->tx, PROTO_T_CONSENT_CHECK, 0);
	c->tx->body.consent_check.account = citizen;
	c->tx->body.consent_check.tenant = (proto_str){ tenant, strlen(tenant) };
	c->tx->body.consent_check.unit = (proto_str){ unit, strlen(unit) };
	uint32_t id = wakks__op_new(c);
	int rc = wakks__request(c, RQ_CONSENT_CHECK, id, 0);
	if (rc < 0)
		return rc;
	if (op)
		*op = id;
	return 0;
}

#if defined(WAKKS_TEST_HOOKS) && WAKKS_TEST_HOOKS
int wakks__test_present(wakks_client *c, const char *tenant, const char *unit, const char *issuer,
			const uint8_t challenge[32], const char *token)
{
	uint8_t thread[16];
	wakks__conversation_id(c->account, NULL, tenant, unit, thread);
	wakks__txn *t;
	int rc = wakks__txn_begin(c->store, true, &t);
	if (rc != 0)
		return rc;
	struct wakks__thread_rec tr;
	wakks__buf b = { 0 };
	rc = wakks__thread_ensure(t, thread, c->account, tenant, unit, &tr, NULL);
	if (rc == 0)
		rc = wakks__presentation_encode(issuer, challenge, token, &b);
	if (rc == 0)
		rc = wakks__queue_record(c, t, &tr, WC_KIND_PRESENTATION, NULL, b.p, b.len, NULL);
	wakks__buf_free(&b);
	if (rc == 0) {
		/* This device's own evidence is not presented after it in this thread. */
		tr.flags |= THREAD_F_PRESENTED;
		rc = wakks__thread_save(t, &tr);
	}
	if (rc == 0)
		rc = wakks__txn_commit(t);
	else
		wakks__txn_abort(t);
	if (rc == 0)
		wakks__send_kick(c);
	return rc;
}
#endif
