/* SPDX-License-Identifier: MPL-2.0 */
/* Stored messages (history), sessions and peers: record codecs and accessors. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "threads_internal.h"

/* Version 2 adds the kind, the route, the thread's citizen and the history flag; version 1
 * records (texts and files written before threads) are still read. */
#define MSG_RECORD_VERSION 2
#define MSG_F_OUTGOING 0x01
#define MSG_F_FAILED 0x02
#define MSG_F_HISTORY 0x04
#define PEER_RECORD_VERSION 1
#define PEER_F_GONE 0x01

int wakks__msg_encode(const wakks_message *m, bool failed, wakks__buf *b)
{
	wakks__put_u8(b, MSG_RECORD_VERSION);
	wakks__put_u8(b, (uint8_t)((m->outgoing ? MSG_F_OUTGOING : 0) | (failed ? MSG_F_FAILED : 0) |
				   (m->from_history ? MSG_F_HISTORY : 0)));
	wakks__put_u8(b, (uint8_t)(m->kind ? m->kind : WC_KIND_TEXT));
	wakks__put_bytes(b, m->id, 16);
	wakks__put_bytes(b, m->conversation, 16);
	wakks__put_bytes(b, m->sender_account, 16);
	wakks__put_bytes(b, m->sender_device, 16);
	wakks__put_bytes(b, m->cmid, 16);
	wakks__put_bytes(b, m->to_account, 16);
	wakks__put_bytes(b, m->citizen, 16);
	wakks__put_u64(b, m->sent_ms);
	wakks__put_u64(b, m->stored_ms);
	wakks__put_str8(b, m->tenant);
	wakks__put_str8(b, m->unit);
	wakks__put_u32(b, (uint32_t)m->text_len);
	wakks__put_bytes(b, m->text, m->text_len);
	return b->oom ? WAKKS_E_NOMEM : 0;
}

/* m->text points into p. */
int wakks__msg_decode(const uint8_t *p, size_t n, wakks_message *m, bool *failed)
{
	wakks__rd r = { p, n, 0, false };
	memset(m, 0, sizeof *m);
	uint8_t ver = wakks__get_u8(&r);
	uint8_t fl = wakks__get_u8(&r);
	m->kind = ver == 2 ? wakks__get_u8(&r) : WC_KIND_TEXT;
	wakks__get_bytes(&r, m->id, 16);
	wakks__get_bytes(&r, m->conversation, 16);
	wakks__get_bytes(&r, m->sender_account, 16);
	wakks__get_bytes(&r, m->sender_device, 16);
	wakks__get_bytes(&r, m->cmid, 16);
	wakks__get_bytes(&r, m->to_account, 16);
	if (ver == 2)
		wakks__get_bytes(&r, m->citizen, 16);
	m->sent_ms = wakks__get_u64(&r);
	m->stored_ms = wakks__get_u64(&r);
	wakks__get_str8(&r, m->tenant, sizeof m->tenant);
	wakks__get_str8(&r, m->unit, sizeof m->unit);
	uint32_t tl = wakks__get_u32(&r);
	m->text = (const char *)wakks__get_view(&r, tl);
	m->text_len = tl;
	m->outgoing = fl & MSG_F_OUTGOING;
	m->from_history = fl & MSG_F_HISTORY;
	if (failed)
		*failed = fl & MSG_F_FAILED;
	if (ver == 1 && m->tenant[0]) {
		/* Written before threads: the citizen is the one addressed, or the sender. */
		static const uint8_t zero[16];
		memcpy(m->citizen, m->outgoing && memcmp(m->to_account, zero, 16) != 0
					   ? m->to_account
					   : m->sender_account,
		       16);
	}
	bool kind_ok = m->kind >= WC_KIND_TEXT && m->kind <= WC_KIND_HISTORY && m->kind != 2;
	return wakks__rd_done(&r) && (ver == 1 || ver == 2) && kind_ok ? 0 : WAKKS_E_CORRUPT;
}

int wakks__msg_put(wakks__txn *t, const wakks_message *m, bool failed)
{
	wakks__buf b = { 0 };
	uint8_t key[8];
	wakks_store_be64(key, m->seq);
	int rc = wakks__msg_encode(m, failed, &b);
	if (rc == 0)
		rc = wakks__store_put(t, WT_MSG, key, 8, b.p, b.len);
	wakks__buf_free(&b);
	return rc;
}

int wakks__msg_get(wakks__txn *t, uint64_t seq, wakks_message *m, bool *failed, uint8_t **raw,
		   size_t *raw_len)
{
	uint8_t key[8];
	wakks_store_be64(key, seq);
	int rc = wakks__store_get(t, WT_MSG, key, 8, raw, raw_len);
	if (rc != 0)
		return rc;
	rc = wakks__msg_decode(*raw, *raw_len, m, failed);
	if (rc != 0) {
		wakks__store_free(*raw, *raw_len);
		*raw = NULL;
		return rc;
	}
	m->seq = seq;
	return 0;
}

int wakks__msg_present(wakks__txn *t, wakks_message *m,
		       int (*fn)(const wakks_message *m, void *arg), void *arg)
{
	/* A file message's attachment lives in its own table, under the same seq. */
	struct wakks__att a;
	int rc = wakks__att_get(t, m->seq, &a);
	bool has_att = rc == 0;
	if (rc != 0 && rc != WAKKS_E_NOT_FOUND)
		return rc;
	m->attachment = has_att ? &a.pub : NULL;
	/* A notice decoded; when the other side read it (a read receipt, WT_READ). */
	wakks_notice n;
	if (m->kind == WC_KIND_SYSTEM &&
	    wakks__notice_decode((const uint8_t *)m->text, m->text_len, &n) == 0)
		m->notice = &n;
	uint8_t *rv;
	size_t rvl;
	if (wakks__store_get(t, WT_READ, m->id, 16, &rv, &rvl) == 0) {
		m->read_ms = rvl == 8 ? wakks_load_be64(rv) : 0;
		wakks__store_free(rv, rvl);
	}
	rc = fn(m, arg) ? 1 : 0;
	m->notice = NULL;
	m->attachment = NULL; /* it pointed at a, wiped now */
	if (has_att)
		wakks__att_wipe(&a);
	return rc;
}

struct history_walk {
	int (*fn)(const wakks_message *m, void *arg);
	void *arg;
	wakks__txn *t;
};

static int history_one(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen, void *arg)
{
	struct history_walk *h = arg;
	wakks_message m;
	if (klen != 8 || wakks__msg_decode(val, vlen, &m, NULL) != 0)
		return WAKKS_E_CORRUPT;
	if (wakks__msg_hidden(&m))
		return 0;
	m.seq = wakks_load_be64(key);
	return wakks__msg_present(h->t, &m, h->fn, h->arg);
}

int wakks_history(wakks_client *c, int (*fn)(const wakks_message *m, void *arg), void *arg)
{
	if (!c || !fn)
		return WAKKS_E_INVAL;
	wakks__txn *t;
	int rc = wakks__txn_begin(c->store, false, &t);
	if (rc != 0)
		return rc;
	struct history_walk h = { fn, arg, t };
	rc = wakks__store_each(t, WT_MSG, history_one, &h);
	wakks__txn_abort(t);
	return rc < 0 ? rc : 0;
}

/* ---- sessions -------------------------------------------------------------------------------- */

int wakks__session_load(wakks_client *c, wakks__txn *t, const uint8_t dev[16], uint8_t acc[16],
			wc_session **out)
{
	uint8_t *v;
	size_t vl;
	int rc = wakks__store_get(t, WT_SESSION, dev, 16, &v, &vl);
	if (rc != 0)
		return rc;
	if (vl <= 16) {
		wakks__store_free(v, vl);
		return WAKKS_E_CORRUPT;
	}
	if (acc)
		memcpy(acc, v, 16);
	rc = wc_session_unseal(wakks__store_session_key(c->store), v + 16, vl - 16, out);
	wakks__store_free(v, vl);
	return rc == 0 ? 0 : rc == WC_E_NOMEM ? WAKKS_E_NOMEM : WAKKS_E_CORRUPT;
}

int wakks__session_save(wakks_client *c, wakks__txn *t, const uint8_t dev[16],
			const uint8_t acc[16], const wc_session *s)
{
	size_t n = wc_session_sealed_size(s);
	uint8_t *buf = malloc(16 + n);
	if (!buf)
		return WAKKS_E_NOMEM;
	memcpy(buf, acc, 16);
	size_t len;
	int rc = wc_session_seal(s, wakks__store_session_key(c->store), buf + 16, n, &len);
	if (rc == 0)
		rc = wakks__store_put(t, WT_SESSION, dev, 16, buf, 16 + len);
	else
		rc = WAKKS_E_CRYPTO;
	sodium_memzero(buf, 16 + n);
	free(buf);
	return rc;
}

static void prev_key(const uint8_t dev[16], uint8_t key[17])
{
	memcpy(key, dev, 16);
	key[16] = 0x01;
}

int wakks__session_load_prev(wakks_client *c, wakks__txn *t, const uint8_t dev[16],
			     wc_session **out)
{
	uint8_t key[17], *v;
	size_t vl;
	prev_key(dev, key);
	int rc = wakks__store_get(t, WT_SESSION, key, 17, &v, &vl);
	if (rc != 0)
		return rc;
	if (vl <= 16) {
		wakks__store_free(v, vl);
		return WAKKS_E_CORRUPT;
	}
	rc = wc_session_unseal(wakks__store_session_key(c->store), v + 16, vl - 16, out);
	wakks__store_free(v, vl);
	return rc == 0 ? 0 : rc == WC_E_NOMEM ? WAKKS_E_NOMEM : WAKKS_E_CORRUPT;
}

int wakks__session_archive(wakks__txn *t, const uint8_t dev[16])
{
	uint8_t key[17], *v;
	size_t vl;
	int rc = wakks__store_get(t, WT_SESSION, dev, 16, &v, &vl);
	if (rc == WAKKS_E_NOT_FOUND)
		return 0;
	if (rc != 0)
		return rc;
	prev_key(dev, key);
	rc = wakks__store_put(t, WT_SESSION, key, 17, v, vl); /* sealed as it was */
	wakks__store_free(v, vl);
	return rc;
}

bool wakks__session_exists(wakks_client *c, wakks__txn *t, const uint8_t dev[16])
{
	(void)c;
	uint8_t *v;
	size_t vl;
	if (wakks__store_get(t, WT_SESSION, dev, 16, &v, &vl) != 0)
		return false;
	wakks__store_free(v, vl);
	return true;
}

/* ---- peers ------------------------------------------------------------------------------------ */

struct account_scan {
	const uint8_t *acc;
	const uint8_t *dev;
	size_t others; /* live devices of the account other than dev */
};

static int count_account_devices(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
				 void *arg)
{
	struct account_scan *s = arg;
	if (klen == 32 && memcmp(key, s->acc, 16) == 0 && memcmp(key + 16, s->dev, 16) != 0 &&
	    vlen >= 2 && !(val[1] & PEER_F_GONE))
		s->others++;
	return 0;
}

int wakks__peer_seen(wakks_client *c, wakks__txn *t, const uint8_t acc[16], const uint8_t dev[16],
		     const uint8_t ik[32], wakks_event *ev, bool *have_event)
{
	uint8_t key[32];
	memcpy(key, acc, 16);
	memcpy(key + 16, dev, 16);
	uint8_t *v;
	size_t vl;
	*have_event = false;
	int rc = wakks__store_get(t, WT_PEER, key, 32, &v, &vl);
	bool known = false, changed = false;
	if (rc == 0) {
		known = vl == 2 + 32 + 8 && v[0] == PEER_RECORD_VERSION && !(v[1] & PEER_F_GONE);
		changed = known && sodium_memcmp(v + 2, ik, 32) != 0;
		wakks__store_free(v, vl);
		if (known && !changed)
			return 0;
	} else if (rc != WAKKS_E_NOT_FOUND) {
		return rc;
	}
	memset(ev, 0, sizeof *ev);
	if (changed) {
		ev->type = WAKKS_EV_KEY_CHANGE;
		*have_event = true;
	} else if (memcmp(acc, c->account, 16) != 0) {
		/* A new device of an account we already talk to: the user should know. */
		struct account_scan s = { acc, dev, 0 };
		rc = wakks__store_each(t, WT_PEER, count_account_devices, &s);
		if (rc < 0)
			return rc;
		if (s.others) {
			ev->type = WAKKS_EV_DEVICE_CHANGE;
			ev->u.peer.added = true;
			*have_event = true;
		}
	}
	if (*have_event) {
		memcpy(ev->u.peer.account, acc, 16);
		memcpy(ev->u.peer.device, dev, 16);
		memcpy(ev->u.peer.identity_key, ik, 32);
		wc_safety_number(c->ik.public_key, ik, ev->u.peer.safety_number);
	}
	uint8_t rec[2 + 32 + 8];
	rec[0] = PEER_RECORD_VERSION;
	rec[1] = 0;
	memcpy(rec + 2, ik, 32);
	wakks_store_be64(rec + 34, wakks__now_ms());
	return wakks__store_put(t, WT_PEER, key, 32, rec, sizeof rec);
}

struct peer_find {
	const uint8_t *dev;
	uint8_t key[32];
	uint8_t rec[42];
	bool found;
};

static int find_peer(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen, void *arg)
{
	struct peer_find *p = arg;
	if (klen == 32 && vlen == 42 && memcmp(key + 16, p->dev, 16) == 0) {
		memcpy(p->key, key, 32);
		memcpy(p->rec, val, 42);
		p->found = true;
		return 1;
	}
	return 0;
}

void wakks__peer_gone(wakks_client *c, const uint8_t dev[16])
{
	wakks__txn *t;
	if (wakks__txn_begin(c->store, true, &t) != 0)
		return;
	struct peer_find p = { .dev = dev };
	wakks__store_each(t, WT_PEER, find_peer, &p);
	wakks__store_del(t, WT_SESSION, dev, 16);
	uint8_t pk[17];
	prev_key(dev, pk);
	wakks__store_del(t, WT_SESSION, pk, 17);
	bool emit = false;
	if (p.found && !(p.rec[1] & PEER_F_GONE)) {
		p.rec[1] |= PEER_F_GONE;
		emit = wakks__store_put(t, WT_PEER, p.key, 32, p.rec, sizeof p.rec) == 0 &&
		       memcmp(p.key, c->account, 16) != 0;
	}
	if (wakks__txn_commit(t) != 0 || !emit)
		return;
	wakks_event ev = { .type = WAKKS_EV_DEVICE_CHANGE };
	memcpy(ev.u.peer.account, p.key, 16);
	memcpy(ev.u.peer.device, dev, 16);
	memcpy(ev.u.peer.identity_key, p.rec + 2, 32);
	ev.u.peer.added = false;
	wc_safety_number(c->ik.public_key, p.rec + 2, ev.u.peer.safety_number);
	wakks__emit(c, &ev);
}

int wakks_safety_number(wakks_client *c, const uint8_t peer_device[WAKKS_ID_BYTES],
			char out[WAKKS_SAFETY_NUMBER_DIGITS + 1])
{
	if (!c || !peer_device || !out)
		return WAKKS_E_INVAL;
	struct peer_find p = { .dev = peer_device };
	int rc = wakks__store_walk(c->store, WT_PEER, find_peer, &p);
	if (rc < 0)
		return rc;
	if (!p.found)
		return WAKKS_E_NOT_FOUND;
	return wc_safety_number(c->ik.public_key, p.rec + 2, out) == 0 ? 0 : WAKKS_E_CRYPTO;
}

struct peers_walk {
	int (*fn)(const uint8_t *acc, const uint8_t *dev, const uint8_t *ik, void *arg);
	void *arg;
};

static int peers_one(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen, void *arg)
{
	struct peers_walk *w = arg;
	if (klen != 32 || vlen != 42 || (val[1] & PEER_F_GONE))
		return 0;
	return w->fn(key, key + 16, val + 2, w->arg) ? 1 : 0;
}

int wakks_peers(wakks_client *c,
		int (*fn)(const uint8_t account[WAKKS_ID_BYTES], const uint8_t device[WAKKS_ID_BYTES],
			  const uint8_t identity_key[WAKKS_KEY_BYTES], void *arg),
		void *arg)
{
	if (!c || !fn)
		return WAKKS_E_INVAL;
	struct peers_walk w = { fn, arg };
	return wakks__store_walk(c->store, WT_PEER, peers_one, &w);
}
