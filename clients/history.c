/* SPDX-License-Identifier: MPL-2.0 */
/* History for new unit devices (spec/client.md §16): a device of a unit that holds the unit's
 * threads gives a device that joined the unit's device set the threads of the last history_days
 * days, as ordinary end-to-end encrypted records of kind history addressed to the new device's
 * account; the receiving side places every entry as if it had been received then. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "threads_internal.h"

/* A history record's body stays well inside MAX_PLAINTEXT with its v2 header. */
#define HISTORY_BODY_MAX 60000
#define HISTORY_ENTRIES_MAX 1024
#define DAY_MS 86400000ull

static bool is_zero16(const uint8_t *p)
{
	static const uint8_t zero[16];
	return memcmp(p, zero, 16) == 0;
}

/* ---- receiving ------------------------------------------------------------------------------- */

/* Stores one entry's record as a message (kinds 1, 2 and visible notices). */
static int store_entry(wakks_client *c, wakks__txn *t, const wc_content *r, uint64_t stored_ms)
{
	wakks_message m;
	memset(&m, 0, sizeof m);
	memcpy(m.id, r->message_id, 16);
	memcpy(m.conversation, r->conversation_id, 16);
	memcpy(m.sender_account, r->sender_account, 16);
	memcpy(m.sender_device, r->sender_device, 16);
	/* Not a delivery of its own: nothing de-duplicates on it, and it never reaches the relay's
	 * idempotency index, so it stays random rather than time-ordered (spec/protocol.md §8.1): a
	 * time in it would stand for a send that no device made at that time. */
	randombytes_buf(m.cmid, 16);
	memcpy(m.citizen, r->citizen_account, 16);
	snprintf(m.tenant, sizeof m.tenant, "%s", r->tenant);
	snprintf(m.unit, sizeof m.unit, "%s", r->unit);
	m.sent_ms = r->sent_ms;
	m.stored_ms = stored_ms;
	m.outgoing = memcmp(r->sender_account, c->account, 16) == 0;
	m.from_history = true;
	bool is_file = r->kind == WC_KIND_ATTACHMENT;
	m.kind = r->kind == WC_KIND_SYSTEM ? WC_KIND_SYSTEM : WC_KIND_TEXT;
	m.text = is_file ? "" : (const char *)r->body;
	m.text_len = is_file ? 0 : r->body_len;
	struct wakks__att att;
	memset(&att, 0, sizeof att);
	if (is_file && wc_attachment_decode(r->body, r->body_len, &att.desc) != 0)
		return 0; /* an entry that does not decode is skipped */
	uint64_t last = 0;
	int rc = wakks__store_last_u64(t, WT_MSG, &last);
	m.seq = last + 1;
	uint8_t seqb[8];
	wakks_store_be64(seqb, m.seq);
	if (rc == 0)
		rc = wakks__msg_put(t, &m, false);
	if (rc == 0)
		rc = wakks__store_put(t, WT_MID, m.id, 16, seqb, 8);
	if (rc == 0 && is_file) {
		/* The blob is not sent again: the file is named, not downloadable (§16). */
		memcpy(att.blob, att.desc.digest, 16);
		att.ct_size = wc_attachment_ciphertext_size((size_t)att.desc.size);
		att.state = WAKKS_ATT_FAILED;
		rc = wakks__att_put(t, m.seq, &att);
	}
	wakks__att_wipe(&att);
	if (rc == 0)
		wakks__thread_touched(c, m.conversation);
	return rc;
}

int wakks__history_accept(wakks_client *c, wakks__txn *t, const wc_content *ct, uint64_t stored_ms)
{
	(void)stored_ms;
	const uint8_t *p = ct->body;
	size_t len = ct->body_len;
	if (len < 3 || p[0] != 1)
		return WAKKS_E_VERIFY;
	size_t count = ((size_t)p[1] << 8) | p[2];
	if (count == 0 || count > HISTORY_ENTRIES_MAX)
		return WAKKS_E_VERIFY;
	bool from_own = memcmp(ct->sender_account, c->account, 16) == 0;
	/* First the whole shape, so a damaged record changes nothing. */
	size_t off = 3;
	for (size_t i = 0; i < count; i++) {
		if (len - off < 8 + 32 + 4)
			return WAKKS_E_VERIFY;
		size_t rl = wakks_load_be32(p + off + 40);
		off += 44;
		if (len - off < rl)
			return WAKKS_E_VERIFY;
		off += rl;
	}
	if (off != len)
		return WAKKS_E_VERIFY;
	uint32_t days = 0;
	off = 3;
	for (size_t i = 0; i < count; i++) {
		uint64_t entry_stored = wakks_load_be64(p + off);
		const uint8_t *ik = p + off + 8;
		size_t rl = wakks_load_be32(p + off + 40);
		const uint8_t *rec = p + off + 44;
		off += 44 + rl;
		wc_content r;
		if (wc_content_decode(rec, rl, &r) != 0 || r.version != 2 || !r.tenant[0] ||
		    r.kind == WC_KIND_HISTORY)
			continue;
		/* The sender gives history of units it belongs to (or to its own account). */
		if (!from_own) {
			int member = wakks__unit_member(c, r.tenant, r.unit, ct->sender_device);
			if (member < 0)
				return WAKKS__E_PARK;
			if (member == 0)
				continue;
		}
		if (wakks__tenant_history_days(c, r.tenant, &days) == 0 &&
		    entry_stored + (uint64_t)days * DAY_MS < wakks__now_ms())
			continue;
		uint8_t *v;
		size_t vl;
		int rc = wakks__store_get(t, WT_MID, r.message_id, 16, &v, &vl);
		if (rc == 0) {
			wakks__store_free(v, vl);
			continue; /* held already */
		}
		if (rc != WAKKS_E_NOT_FOUND)
			return rc;
		bool store = false;
		rc = wakks__thread_accept(c, t, &r, ik, entry_stored, true, &store);
		if (rc == WAKKS__E_PARK)
			return rc;
		if (rc == WAKKS_E_VERIFY)
			continue;
		if (rc == 0 && store)
			rc = store_entry(c, t, &r, entry_stored);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ---- sending --------------------------------------------------------------------------------- */

struct builder {
	wakks_client *c;
	wakks__txn *t;
	char tenant[WAKKS_SLUG_MAX + 1], unit[WAKKS_SLUG_MAX + 1];
	uint64_t since_ms;
	const uint8_t *to;
	wakks__buf body; /* entries of the record being filled, after its 3-byte head */
	size_t count;
	uint8_t any_thread[16];
	bool have_thread;
	struct wakks__thread_rec any_rec;
	int err;
	uint8_t done_threads[256][16]; /* presentations added, per thread */
	size_t n_done;
};

static int flush(struct builder *b)
{
	if (!b->count)
		return 0;
	size_t n = 3 + b->body.len;
	uint8_t *rec = malloc(n);
	if (!rec)
		return WAKKS_E_NOMEM;
	rec[0] = 1;
	rec[1] = (uint8_t)(b->count >> 8);
	rec[2] = (uint8_t)b->count;
	memcpy(rec + 3, b->body.p, b->body.len);
	int rc = wakks__queue_record(b->c, b->t, NULL, WC_KIND_HISTORY, b->to, rec, n, NULL);
	sodium_memzero(rec, n);
	free(rec);
	wakks__buf_free(&b->body);
	memset(&b->body, 0, sizeof b->body);
	b->count = 0;
	return rc;
}

static int add_entry(struct builder *b, uint64_t stored_ms, const uint8_t ik[32],
		     const wc_content *r)
{
	size_t need = wc_content_encoded_size(r);
	if (b->body.len + 44 + need > HISTORY_BODY_MAX || b->count == HISTORY_ENTRIES_MAX) {
		int rc = flush(b);
		if (rc != 0)
			return rc;
	}
	uint8_t *enc = malloc(need);
	size_t el = 0;
	if (!enc)
		return WAKKS_E_NOMEM;
	int rc = wc_content_encode(r, enc, need, &el) == 0 ? 0 : WAKKS_E_CORRUPT;
	if (rc == 0) {
		wakks__put_u64(&b->body, stored_ms);
		wakks__put_bytes(&b->body, ik, 32);
		wakks__put_u32(&b->body, (uint32_t)el);
		wakks__put_bytes(&b->body, enc, el);
		rc = b->body.oom ? WAKKS_E_NOMEM : 0;
		b->count++;
	}
	sodium_memzero(enc, need);
	free(enc);
	return rc;
}

/* The identity key we know for a device: ours, or the peer record's. */
static void ik_of(wakks_client *c, wakks__txn *t, const uint8_t acc[16], const uint8_t dev[16],
		  uint8_t ik[32])
{
	memset(ik, 0, 32);
	if (memcmp(dev, c->device, 16) == 0) {
		memcpy(ik, c->ik.public_key, 32);
		return;
	}
	uint8_t key[32], *v;
	size_t vl;
	memcpy(key, acc, 16);
	memcpy(key + 16, dev, 16);
	if (wakks__store_get(t, WT_PEER, key, 32, &v, &vl) == 0) {
		if (vl >= 34)
			memcpy(ik, v + 2, 32);
		wakks__store_free(v, vl);
	}
}

static int add_presentation(struct builder *b, const uint8_t thread[16])
{
	for (size_t i = 0; i < b->n_done; i++)
		if (memcmp(b->done_threads[i], thread, 16) == 0)
			return 0;
	if (b->n_done < 256)
		memcpy(b->done_threads[b->n_done++], thread, 16);
	struct wakks__thread_rec *tr = malloc(sizeof *tr);
	if (!tr)
		return WAKKS_E_NOMEM;
	int rc = wakks__thread_load(b->t, thread, tr);
	if (rc == 0 && tr->pres_len) {
		wc_content r = { 0 };
		r.version = 2;
		r.kind = WC_KIND_PRESENTATION;
		memcpy(r.message_id, tr->pres_mid, 16);
		memcpy(r.conversation_id, thread, 16);
		r.sent_ms = tr->pres_sent_ms;
		memcpy(r.sender_account, tr->pres_acc, 16);
		memcpy(r.sender_device, tr->pres_dev, 16);
		memcpy(r.citizen_account, tr->citizen, 16);
		snprintf(r.tenant, sizeof r.tenant, "%s", tr->tenant);
		snprintf(r.unit, sizeof r.unit, "%s", tr->unit);
		r.body = tr->pres;
		r.body_len = tr->pres_len;
		rc = add_entry(b, tr->pres_sent_ms, tr->pres_ik, &r);
	} else if (rc == WAKKS_E_NOT_FOUND) {
		rc = 0;
	}
	if (!b->have_thread && rc == 0 && wakks__thread_load(b->t, thread, &b->any_rec) == 0)
		b->have_thread = true;
	sodium_memzero(tr, sizeof *tr);
	free(tr);
	return rc;
}

static int history_msg(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen, void *arg)
{
	struct builder *b = arg;
	wakks_message m;
	bool failed = false;
	if (klen != 8 || wakks__msg_decode(val, vlen, &m, &failed) != 0)
		return 0;
	m.seq = wakks_load_be64(key);
	uint64_t when = m.stored_ms ? m.stored_ms : m.sent_ms;
	if (failed || !m.stored_ms || wakks__msg_hidden(&m) || strcmp(m.tenant, b->tenant) != 0 ||
	    strcmp(m.unit, b->unit) != 0 || is_zero16(m.citizen) || when < b->since_ms)
		return 0;
	int rc = add_presentation(b, m.conversation);
	if (rc != 0)
		return rc;
	wc_content r = { 0 };
	r.version = 2;
	r.kind = (uint8_t)m.kind;
	memcpy(r.message_id, m.id, 16);
	memcpy(r.conversation_id, m.conversation, 16);
	r.sent_ms = m.sent_ms;
	memcpy(r.sender_account, m.sender_account, 16);
	memcpy(r.sender_device, m.sender_device, 16);
	memcpy(r.citizen_account, m.citizen, 16);
	snprintf(r.tenant, sizeof r.tenant, "%s", m.tenant);
	snprintf(r.unit, sizeof r.unit, "%s", m.unit);
	r.body = (const uint8_t *)m.text;
	r.body_len = m.text_len;
	uint8_t desc[WC_ATTACHMENT_DESCRIPTOR_MAX];
	struct wakks__att att;
	int arc = wakks__att_get(b->t, m.seq, &att);
	if (arc == 0) {
		size_t dl = 0;
		if (wc_attachment_encode(&att.desc, desc, sizeof desc, &dl) != 0) {
			wakks__att_wipe(&att);
			return 0;
		}
		r.kind = WC_KIND_ATTACHMENT;
		r.body = desc;
		r.body_len = dl;
		wakks__att_wipe(&att);
	}
	uint8_t ik[32];
	ik_of(b->c, b->t, m.sender_account, m.sender_device, ik);
	rc = add_entry(b, when, ik, &r);
	sodium_memzero(desc, sizeof desc);
	return rc;
}

/* Queues the unit's history for account `to` (the new device's). */
static int give_history(wakks_client *c, const char *tenant, const char *unit, const uint8_t to[16],
			const uint8_t new_dev[16], uint32_t days)
{
	struct builder *b = calloc(1, sizeof *b);
	if (!b)
		return WAKKS_E_NOMEM;
	b->c = c;
	snprintf(b->tenant, sizeof b->tenant, "%s", tenant);
	snprintf(b->unit, sizeof b->unit, "%s", unit);
	uint64_t now = wakks__now_ms();
	b->since_ms = now > (uint64_t)days * DAY_MS ? now - (uint64_t)days * DAY_MS : 0;
	b->to = to;
	int rc = wakks__txn_begin(c->store, true, &b->t);
	if (rc != 0) {
		free(b);
		return rc;
	}
	rc = wakks__store_each(b->t, WT_MSG, history_msg, b);
	if (rc == 0 && b->have_thread) {
		/* Tell the unit first, so the colleagues' devices need not give it too. */
		wakks_notice n;
		memset(&n, 0, sizeof n);
		n.type = WAKKS_NOTICE_HISTORY_OFFER;
		memcpy(n.ref, new_dev, 16);
		memcpy(n.account, to, 16);
		wakks__buf nb = { 0 };
		rc = wakks__notice_encode(&n, &nb);
		if (rc == 0)
			rc = wakks__queue_record(c, b->t, &b->any_rec, WC_KIND_SYSTEM, NULL, nb.p,
						 nb.len, NULL);
		wakks__buf_free(&nb);
	}
	if (rc == 0)
		rc = flush(b);
	wakks__buf_free(&b->body);
	if (rc == 0)
		rc = wakks__txn_commit(b->t);
	else
		wakks__txn_abort(b->t);
	sodium_memzero(&b->any_rec, sizeof b->any_rec);
	free(b);
	return rc;
}

/* The recorded set of a unit (WT_UNITDEV): device ids, n of them. */
static int recorded_set(wakks__txn *t, const char *key, uint8_t (**devs)[16], size_t *n)
{
	uint8_t *v;
	size_t vl;
	*devs = NULL;
	*n = 0;
	int rc = wakks__store_get(t, WT_UNITDEV, key, strlen(key), &v, &vl);
	if (rc != 0)
		return rc;
	if (vl % 16) {
		wakks__store_free(v, vl);
		return WAKKS_E_CORRUPT;
	}
	*devs = malloc(vl ? vl : 1);
	if (*devs) {
		memcpy(*devs, v, vl);
		*n = vl / 16;
	}
	wakks__store_free(v, vl);
	return *devs ? 0 : WAKKS_E_NOMEM;
}

void wakks__history_on_unit_set(wakks_client *c, struct wakks__unit_cache *u)
{
	/* Only the unit's own devices give its history (a citizen's device never does). */
	bool member = false;
	for (size_t i = 0; i < u->n && !member; i++)
		member = memcmp(u->dev[i], c->device, 16) == 0;
	if (!member)
		return;
	char key[2 * WAKKS_SLUG_MAX + 2];
	snprintf(key, sizeof key, "%s/%s", u->tenant, u->unit);
	wakks__txn *t;
	if (wakks__txn_begin(c->store, true, &t) != 0)
		return;
	uint8_t(*old)[16] = NULL;
	size_t n_old = 0;
	int rc = recorded_set(t, key, &old, &n_old);
	bool first = rc == WAKKS_E_NOT_FOUND;
	if (rc != 0 && !first) {
		wakks__txn_abort(t);
		return;
	}
	/* The new devices: in the answer, not recorded, not this device. */
	struct {
		uint8_t acc[16], dev[16];
	} fresh[16];
	size_t n_fresh = 0;
	for (size_t i = 0; !first && i < u->n && n_fresh < 16; i++) {
		bool seen = memcmp(u->dev[i], c->device, 16) == 0;
		for (size_t j = 0; j < n_old && !seen; j++)
			seen = memcmp(old[j], u->dev[i], 16) == 0;
		if (!seen) {
			memcpy(fresh[n_fresh].acc, u->acc[i], 16);
			memcpy(fresh[n_fresh].dev, u->dev[i], 16);
			n_fresh++;
		}
	}
	free(old);
	rc = wakks__store_put(t, WT_UNITDEV, key, strlen(key), u->dev, u->n * 16);
	if (rc == 0)
		rc = wakks__txn_commit(t);
	else
		wakks__txn_abort(t);
	if (rc != 0 || n_fresh == 0)
		return;
	uint32_t days = 0;
	if (wakks__tenant_history_days(c, u->tenant, &days) != 0 || days == 0)
		return;
	struct wakks__threads *th = c->th;
	bool queued = false;
	for (size_t i = 0; i < n_fresh; i++) {
		bool offered = false;
		for (size_t j = 0; th && j < th->n_offered && !offered; j++)
			offered = memcmp(th->offered[j], fresh[i].dev, 16) == 0;
		/* Several new devices of one account get one copy (sent to the account). */
		for (size_t j = 0; j < i && !offered; j++)
			offered = memcmp(fresh[j].acc, fresh[i].acc, 16) == 0;
		if (offered)
			continue;
		if (give_history(c, u->tenant, u->unit, fresh[i].acc, fresh[i].dev, days) == 0)
			queued = true;
	}
	if (queued)
		wakks__send_kick(c);
}
