/* SPDX-License-Identifier: MPL-2.0 */
/* Sending: a message is persisted as pending first, then (one at a time, in order) the device
 * sets of its addressees and of our own account are fetched, sessions are set up from bundles
 * where missing, the content record is encrypted once per device (fan-out), the advanced sessions
 * are committed, and only then the `send` frame leaves. device_mismatch refreshes and retries
 * with the same client message id; a lost connection retries after the next auth with the same
 * id; `stored` ends it. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "wakks_internal.h"

/* device_mismatch retries in a row before the message waits for a later attempt: the device
 * set only changes when someone registers or is revoked, so more than a few means something is
 * wrong. */
#define SEND_MAX_ATTEMPTS 4
#define SEND_RETRY_MS 5000u

enum { TGT_ACCOUNT = 0, TGT_UNIT = 1, TGT_SELF = 2 };

void wakks__conversation_id(const uint8_t *account_a, const uint8_t *account_b, const char *tenant,
			    const char *unit, uint8_t out[16])
{
	/* A conversation is a citizen with a unit, or two accounts: the same id on every device of
	 * both sides, whoever writes first. */
	static const char ctx[] = "wakks/v1/conversation";
	crypto_hash_sha256_state st;
	uint8_t h[32], zero = 0;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)ctx, sizeof ctx);
	if (tenant && tenant[0]) {
		crypto_hash_sha256_update(&st, account_a, 16);
		crypto_hash_sha256_update(&st, (const uint8_t *)tenant, strlen(tenant) + 1);
		crypto_hash_sha256_update(&st, (const uint8_t *)unit, strlen(unit) + 1);
	} else {
		const uint8_t *lo = memcmp(account_a, account_b, 16) < 0 ? account_a : account_b;
		const uint8_t *hi = lo == account_a ? account_b : account_a;
		crypto_hash_sha256_update(&st, &zero, 1);
		crypto_hash_sha256_update(&st, lo, 16);
		crypto_hash_sha256_update(&st, hi, 16);
	}
	crypto_hash_sha256_final(&st, h);
	memcpy(out, h, 16);
}

static uint32_t *op_slot(wakks_client *c, const uint8_t cmid[16], bool create)
{
	for (size_t i = 0; i < 64; i++)
		if (c->send_ops[i].op && memcmp(c->send_ops[i].cmid, cmid, 16) == 0)
			return &c->send_ops[i].op;
	if (!create)
		return NULL;
	for (size_t i = 0; i < 64; i++)
		if (!c->send_ops[i].op) {
			memcpy(c->send_ops[i].cmid, cmid, 16);
			return &c->send_ops[i].op;
		}
	return NULL;
}

void wakks__cmid_new(wakks_client *c, uint8_t out[16])
{
	uint8_t rnd[WAKKS_CMID_RANDOM_BYTES];
	randombytes_buf(rnd, sizeof rnd);
	wakks_cmid_draw(&c->cmid, wakks__now_ms(), rnd, out);
}

int wakks__msg_new(wakks_client *c, const wakks_target *to, wakks_message *m)
{
	if (!to->account && !to->tenant)
		return WAKKS_E_INVAL;
	if ((to->tenant || to->unit) && (!wakks__slug_ok(to->tenant) || !wakks__slug_ok(to->unit)))
		return WAKKS_E_INVAL;
	if (!c->registered)
		return WAKKS_E_NOT_REGISTERED;
	memset(m, 0, sizeof *m);
	randombytes_buf(m->id, 16);
	/* The client message id is drawn when the message is queued (wakks__msg_queue). */
	memcpy(m->sender_account, c->account, 16);
	memcpy(m->sender_device, c->device, 16);
	if (to->account)
		memcpy(m->to_account, to->account, 16);
	if (to->tenant) {
		strcpy(m->tenant, to->tenant);
		strcpy(m->unit, to->unit);
	}
	/* citizen -> unit and caseworker -> citizen (on behalf of a unit) share one conversation:
	 * it is keyed by the citizen account, which is the account addressed or ourselves. */
	wakks__conversation_id(to->account ? to->account : c->account, c->account, m->tenant, m->unit,
			       m->conversation);
	/* The thread reference (spec/client.md §12): the citizen addressed, or ourselves. */
	if (to->tenant)
		memcpy(m->citizen, to->account ? to->account : c->account, 16);
	m->kind = WC_KIND_TEXT;
	m->sent_ms = wakks__now_ms();
	m->outgoing = true;
	return 0;
}

int wakks__msg_queue(wakks_client *c, wakks__txn *t, wakks_message *m)
{
	uint64_t last;
	int rc = wakks__store_last_u64(t, WT_MSG, &last);
	m->seq = last + 1;
	/* Drawn with the seq, so that the ids increase in the order the messages are sent (a
	 * presentation queued before the text that caused it, a file's text before the file). */
	wakks__cmid_new(c, m->cmid);
	uint8_t seqb[8];
	wakks_store_be64(seqb, m->seq);
	if (rc == 0)
		rc = wakks__msg_put(t, m, false);
	if (rc == 0)
		rc = wakks__store_put(t, WT_PENDING, m->cmid, 16, seqb, 8);
	if (rc == 0)
		rc = wakks__store_put(t, WT_MID, m->id, 16, seqb, 8);
	return rc;
}

uint32_t wakks__send_op(wakks_client *c, const uint8_t cmid[16])
{
	uint32_t id = wakks__op_new(c);
	uint32_t *slot = op_slot(c, cmid, true);
	if (slot)
		*slot = id;
	return id;
}

int wakks_send_text(wakks_client *c, const wakks_target *to, const char *text, size_t len,
		    uint8_t message_id[WAKKS_ID_BYTES], uint32_t *op)
{
	if (!c || !to || !text || len == 0)
		return WAKKS_E_INVAL;
	if (len > WAKKS_TEXT_MAX)
		return WAKKS_E_TOO_LARGE;
	wakks_message m;
	int rc = wakks__msg_new(c, to, &m);
	if (rc != 0)
		return rc;
	m.text = text;
	m.text_len = len;
	wakks__txn *t;
	rc = wakks__txn_begin(c->store, true, &t);
	if (rc != 0)
		return rc;
	rc = wakks__thread_before_send(c, t, &m);
	if (rc == 0)
		rc = wakks__msg_queue(c, t, &m);
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
	wakks__send_kick(c);
	return 0;
}

struct pending_min {
	uint8_t cmid[16];
	uint64_t seq;
	size_t count;
};

static int pending_scan(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen, void *arg)
{
	struct pending_min *p = arg;
	if (klen != 16 || vlen != 8)
		return 0;
	uint64_t seq = wakks_load_be64(val);
	p->count++;
	if (!p->seq || seq < p->seq) {
		p->seq = seq;
		memcpy(p->cmid, key, 16);
	}
	return 0;
}

size_t wakks_pending_count(const wakks_client *c)
{
	wakks__txn *t;
	if (wakks__txn_begin(c->store, false, &t) != 0)
		return 0;
	struct pending_min p = { .seq = 0 };
	wakks__store_each(t, WT_PENDING, pending_scan, &p);
	wakks__txn_abort(t);
	return p.count;
}

void wakks__send_reset(wakks_client *c)
{
	struct wakks__send *s = &c->send;
	s->active = false;
	s->phase = SP_IDLE;
	s->n_set = 0;
	wakks__upload_reset(c);
	if (s->has_att)
		wakks__att_wipe(&s->att);
	s->has_att = false;
}

static int load_head(wakks_client *c, wakks_message *m, uint8_t **raw, size_t *raw_len)
{
	wakks__txn *t;
	int rc = wakks__txn_begin(c->store, false, &t);
	if (rc != 0)
		return rc;
	rc = wakks__msg_get(t, c->send.seq, m, NULL, raw, raw_len);
	wakks__txn_abort(t);
	return rc;
}

static void name_missing_devices(wakks_client *c, const wakks_message *m, int target, proto_target *tg);

static void request_target(wakks_client *c, int kind, int target, const wakks_message *m)
{
	proto_frame_init(c->tx, kind == RQ_DEVSET ? PROTO_T_DEVICE_SET_GET : PROTO_T_BUNDLES_FETCH, 0);
	proto_target *tg = kind == RQ_DEVSET ? &c->tx->body.device_set_get : &c->tx->body.bundles_fetch;
	if (target == TGT_ACCOUNT)
		tg->account = m->to_account;
	else if (target == TGT_SELF)
		tg->account = c->account;
	else {
		tg->tenant = (proto_str){ m->tenant, strlen(m->tenant) };
		tg->unit = (proto_str){ m->unit, strlen(m->unit) };
	}
	if (kind == RQ_BUNDLES)
		name_missing_devices(c, m, target, tg);
	if (wakks__request(c, kind, 0, (uint32_t)target) < 0)
		wakks__send_reset(c); /* the connection is going; retried after the next auth */
}

/* Issues the next device_set_get (phase DEVSET) or bundles_fetch (phase BUNDLES) or moves on. */
static void step(wakks_client *c);

static void finish(wakks_client *c, int result, bool drop)
{
	struct wakks__send *s = &c->send;
	uint32_t *slot = op_slot(c, s->cmid, false);
	uint32_t op = slot ? *slot : 0;
	if (drop) {
		/* A permanent refusal: out of pending, kept in history marked failed. */
		wakks__txn *t;
		if (wakks__txn_begin(c->store, true, &t) == 0) {
			wakks_message m;
			uint8_t *raw = NULL;
			size_t rl = 0;
			int rc = wakks__msg_get(t, s->seq, &m, NULL, &raw, &rl);
			if (rc == 0)
				rc = wakks__msg_put(t, &m, true);
			wakks__store_free(raw, rl);
			if (rc == 0)
				rc = wakks__store_del(t, WT_PENDING, s->cmid, 16);
			if (rc == 0 && s->has_att)
				rc = wakks__upload_settle(c, t, s->seq, false);
			if (rc == 0)
				rc = wakks__txn_commit(t);
			else
				wakks__txn_abort(t);
			if (rc == 0 && s->has_att)
				wakks__upload_unlink(c);
		}
	}
	if (slot && (drop || result == 0))
		*slot = 0;
	wakks__send_reset(c);
	if (op)
		wakks__op_finish(c, op, result);
}

static void wait_retry(wakks_client *c, int result, uint64_t after_ms)
{
	struct wakks__send *s = &c->send;
	uint32_t *slot = op_slot(c, s->cmid, false);
	if (slot && *slot) {
		uint32_t op = *slot;
		*slot = 0;
		wakks__op_finish(c, op, result); /* the message stays pending and is retried */
	}
	s->phase = SP_WAIT_RETRY;
	s->retry_at_mono = wakks__mono_ms() + after_ms;
}

void wakks__send_kick(wakks_client *c)
{
	struct wakks__send *s = &c->send;
	if (s->active || c->state != WAKKS_READY || c->extension)
		return;
	wakks__txn *t;
	if (wakks__txn_begin(c->store, false, &t) != 0)
		return;
	struct pending_min p = { .seq = 0 };
	wakks__store_each(t, WT_PENDING, pending_scan, &p);
	wakks__txn_abort(t);
	if (!p.count)
		return;
	memset(s->target_used, 0, sizeof s->target_used);
	s->active = true;
	memcpy(s->cmid, p.cmid, 16);
	s->seq = p.seq;
	s->attempts = 0;
	wakks_message m;
	uint8_t *raw;
	size_t rl;
	if (load_head(c, &m, &raw, &rl) != 0) {
		finish(c, WAKKS_E_CORRUPT, true);
		return;
	}
	static const uint8_t zeros[16];
	/* Who gets it (spec/client.md §12): a `seen` only our own devices (addressed to our own
	 * account: a send names an addressee), history only the new device's account, everything
	 * else the account addressed and the thread's unit. */
	int route = wakks__msg_route(&m);
	s->target_used[TGT_ACCOUNT] = memcmp(m.to_account, zeros, 16) != 0;
	s->target_used[TGT_UNIT] = route == WAKKS__ROUTE_THREAD && m.tenant[0] != '\0';
	s->target_used[TGT_SELF] = true;
	wakks__store_free(raw, rl);
	s->target_next = 0;
	s->n_set = 0;
	/* A file message uploads its blob first (or learns that the relay has it all). */
	if (wakks__txn_begin(c->store, false, &t) != 0) {
		wakks__send_reset(c);
		return;
	}
	int rc = wakks__att_get(t, s->seq, &s->att);
	wakks__txn_abort(t);
	if (rc == 0) {
		s->has_att = true;
		s->phase = SP_UPLOAD;
		wakks__upload_start(c);
		return;
	}
	if (rc != WAKKS_E_NOT_FOUND) {
		finish(c, rc, true);
		return;
	}
	s->phase = SP_DEVSET;
	step(c);
}

void wakks__send_uploaded(wakks_client *c)
{
	c->send.phase = SP_DEVSET;
	c->send.target_next = 0;
	c->send.n_set = 0;
	step(c);
}

void wakks__send_give_up(wakks_client *c, int err, uint64_t retry_ms)
{
	if (retry_ms && err == PROTO_E_UNAVAILABLE) {
		/* The relay is still storing a chunk sent on a dropped connection (or checking the
		 * blob): a normal moment of resuming, not news for whoever waits on the message. */
		c->send.phase = SP_WAIT_RETRY;
		c->send.retry_at_mono = wakks__mono_ms() + retry_ms;
		return;
	}
	if (retry_ms) {
		wait_retry(c, err, retry_ms);
		return;
	}
	finish(c, err, true);
	wakks__send_kick(c);
}

static int add_addr(struct wakks__send *s, const uint8_t acc[16], const uint8_t dev[16])
{
	for (size_t i = 0; i < s->n_set; i++)
		if (memcmp(s->set[i].dev, dev, 16) == 0)
			return 0;
	if (s->n_set == s->cap_set) {
		size_t cap = s->cap_set ? s->cap_set * 2 : 16;
		struct wakks__addr *n = realloc(s->set, cap * sizeof *n);
		if (!n)
			return WAKKS_E_NOMEM;
		s->set = n;
		s->cap_set = cap;
	}
	memcpy(s->set[s->n_set].acc, acc, 16);
	memcpy(s->set[s->n_set].dev, dev, 16);
	s->n_set++;
	return 0;
}

/* The target a device of the set came from (by account match). */
static int target_of(wakks_client *c, const wakks_message *m, const uint8_t acc[16])
{
	if (memcmp(acc, c->account, 16) == 0)
		return TGT_SELF;
	if (c->send.target_used[TGT_ACCOUNT] && memcmp(acc, m->to_account, 16) == 0)
		return TGT_ACCOUNT;
	return TGT_UNIT;
}

/* Which targets have devices without a session: bit per target. */
static unsigned targets_missing_sessions(wakks_client *c, const wakks_message *m)
{
	unsigned bits = 0;
	wakks__txn *t;
	if (wakks__txn_begin(c->store, false, &t) != 0)
		return 0;
	for (size_t i = 0; i < c->send.n_set; i++)
		if (!wakks__session_exists(c, t, c->send.set[i].dev))
			bits |= 1u << target_of(c, m, c->send.set[i].acc);
	wakks__txn_abort(t);
	return bits;
}

/* A bundles_fetch names just the target's devices we have no session with (spec/protocol.md
 * §6.4): every bundle the relay hands out spends a one-time prekey of its device, so a sender
 * missing one session must not spend one of every unit member. The names point into the device
 * set, which lives until the send is reset. Without a store the fetch covers the whole target. */
static void name_missing_devices(wakks_client *c, const wakks_message *m, int target, proto_target *tg)
{
	wakks__txn *t;
	if (wakks__txn_begin(c->store, false, &t) != 0)
		return;
	for (size_t i = 0; i < c->send.n_set && tg->dev_count < PROTO_MAX_DEVICE_SET; i++)
		if (target_of(c, m, c->send.set[i].acc) == target &&
		    !wakks__session_exists(c, t, c->send.set[i].dev))
			tg->devs[tg->dev_count++] = c->send.set[i].dev;
	wakks__txn_abort(t);
}

static void encrypt_and_send(wakks_client *c, const wakks_message *m);
static void on_stored(wakks_client *c, const proto_stored *st);

static void step(wakks_client *c)
{
	struct wakks__send *s = &c->send;
	wakks_message m;
	uint8_t *raw;
	size_t rl;
	if (load_head(c, &m, &raw, &rl) != 0) {
		finish(c, WAKKS_E_CORRUPT, true);
		return;
	}
	for (;;) {
		if (s->phase == SP_DEVSET || s->phase == SP_BUNDLES) {
			unsigned need = s->phase == SP_BUNDLES ? targets_missing_sessions(c, &m) : 7u;
			while (s->target_next < 3 &&
			       (!s->target_used[s->target_next] || !(need & (1u << s->target_next))))
				s->target_next++;
			if (s->target_next < 3) {
				request_target(c, s->phase == SP_DEVSET ? RQ_DEVSET : RQ_BUNDLES,
					       s->target_next, &m);
				break;
			}
			if (s->phase == SP_DEVSET) {
				s->phase = SP_BUNDLES;
				s->target_next = 0;
				continue;
			}
			encrypt_and_send(c, &m);
			break;
		}
		break;
	}
	wakks__store_free(raw, rl);
}

static bool in_set(const struct wakks__send *s, const uint8_t dev[16])
{
	for (size_t i = 0; i < s->n_set; i++)
		if (memcmp(s->set[i].dev, dev, 16) == 0)
			return true;
	return false;
}

static void drop_from_set(struct wakks__send *s, const uint8_t dev[16])
{
	for (size_t i = 0; i < s->n_set; i++)
		if (memcmp(s->set[i].dev, dev, 16) == 0) {
			s->set[i] = s->set[--s->n_set];
			return;
		}
}

/* Sets up sessions from a bundles reply for devices of the set that have none. */
static void take_bundles(wakks_client *c, const proto_bundles *b)
{
	wakks__txn *t;
	if (wakks__txn_begin(c->store, true, &t) != 0)
		return;
	wakks_event evs[8];
	size_t n_ev = 0;
	int rc = 0;
	for (uint32_t i = 0; rc == 0 && i < b->count; i++) {
		const proto_bundle *pb = &b->list[i];
		if (!in_set(&c->send, pb->device) || wakks__session_exists(c, t, pb->device))
			continue;
		wc_prekey_bundle wb;
		memset(&wb, 0, sizeof wb);
		memcpy(wb.identity_key, pb->identity_key, 32);
		wb.signed_prekey_id = pb->spk.id;
		wb.signed_prekey_created_ms = pb->spk.time;
		memcpy(wb.signed_prekey, pb->spk.pub, 32);
		memcpy(wb.signed_prekey_signature, pb->spk.sig, 64);
		wb.has_one_time_prekey = pb->has_opk;
		if (pb->has_opk) {
			wb.one_time_prekey_id = pb->opk.id;
			memcpy(wb.one_time_prekey, pb->opk.pub, 32);
		}
		wc_session *sess = NULL;
		/* A bundle whose signed prekey does not verify is the relay lying: no session;
		 * the device stays without one and the send fails until it is fixed. */
		if (wc_session_initiate(&c->ik, &wb, &sess) != 0) {
			wakks_event ev = { .type = WAKKS_EV_ERROR };
			ev.u.error.code = WAKKS_E_VERIFY;
			ev.u.error.what = "a key bundle did not verify";
			if (n_ev < 8)
				evs[n_ev++] = ev;
			drop_from_set(&c->send, pb->device);
			continue;
		}
		rc = wakks__session_save(c, t, pb->device, pb->account, sess);
		wc_session_free(sess);
		bool have = false;
		wakks_event ev;
		if (rc == 0)
			rc = wakks__peer_seen(c, t, pb->account, pb->device, pb->identity_key, &ev, &have);
		if (have && n_ev < 8)
			evs[n_ev++] = ev;
	}
	if (rc == 0)
		rc = wakks__txn_commit(t);
	else
		wakks__txn_abort(t);
	if (rc != 0)
		return;
	for (size_t i = 0; i < n_ev; i++)
		wakks__emit(c, &evs[i]);
}

/* Loads the session of every device of the set; *n shrinks by the devices that have none. */
static int send__load_sessions(wakks_client *c, wakks__txn *t, wc_session **sess, size_t *n)
{
	struct wakks__send *s = &c->send;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < *n; i++) {
		rc = wakks__session_load(c, t, s->set[i].dev, NULL, &sess[i]);
		if (rc == WAKKS_E_NOT_FOUND) {
			/* the bundle did not come (set changed meanwhile): leave it to mismatch */
			drop_from_set(s, s->set[i].dev);
			(*n)--;
			i--;
			rc = 0;
		}
	}
	return rc;
}

/* Encrypts the message's content record once per session, advancing each; the envelopes go to
 * *out at stride *stride, their lengths to lens. */
static int send__encrypt(wakks_client *c, const wakks_message *m, wc_session **sess, size_t n,
			 uint8_t **out, size_t *stride, size_t *lens)
{
	struct wakks__send *s = &c->send;
	wc_content content = { 0 };
	uint8_t desc[WC_ATTACHMENT_DESCRIPTOR_MAX];
	size_t desc_len = 0;
	int rc = 0;
	memcpy(content.message_id, m->id, 16);
	memcpy(content.conversation_id, m->conversation, 16);
	content.kind = (uint8_t)(m->kind ? m->kind : WC_KIND_TEXT);
	content.version = 2;
	/* The thread reference travels inside the encryption (spec/crypto.md §11). */
	if (m->tenant[0] && wakks__msg_route(m) != WAKKS__ROUTE_ACCOUNT) {
		memcpy(content.citizen_account, m->citizen, 16);
		snprintf(content.tenant, sizeof content.tenant, "%s", m->tenant);
		snprintf(content.unit, sizeof content.unit, "%s", m->unit);
	}
	content.sent_ms = m->sent_ms;
	memcpy(content.sender_account, c->account, 16);
	memcpy(content.sender_device, c->device, 16);
	content.body = (const uint8_t *)m->text;
	content.body_len = m->text_len;
	if (s->has_att) {
		/* The descriptor (key, digest, size, type, name) is the whole body. */
		content.kind = WC_KIND_ATTACHMENT;
		rc = wc_attachment_encode(&s->att.desc, desc, sizeof desc, &desc_len) == 0
			     ? 0
			     : WAKKS_E_CORRUPT;
		content.body = desc;
		content.body_len = desc_len;
	}
	if (rc != 0) /* never send a file message without its descriptor */
		goto complete;
	*stride = wc_fanout_stride(&content);
	*out = malloc(n * *stride);
	rc = *out ? wc_fanout_encrypt(sess, n, &content, *out, n * *stride, lens) : WAKKS_E_NOMEM;
	/* Crypto codes have their own range; the caller knows only WAKKS_E_* codes. */
	if (rc < 0 && rc != WAKKS_E_NOMEM)
		rc = WAKKS_E_CRYPTO;
complete:
	sodium_memzero(desc, sizeof desc);
	return rc;
}

/* Saves the advanced sessions and commits them, or aborts when anything before failed. */
static int send__commit_sessions(wakks_client *c, wakks__txn *t, wc_session **sess, size_t n,
				 int rc)
{
	struct wakks__send *s = &c->send;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = wakks__session_save(c, t, s->set[i].dev, s->set[i].acc, sess[i]);
	if (rc == 0 && n > 0)
		rc = wakks__txn_commit(t);
	else
		wakks__txn_abort(t);
	return rc;
}

/* Builds the send frame from the committed envelopes and hands it to the connection. */
static void send__transmit(wakks_client *c, const wakks_message *m, const uint8_t *out,
			   size_t stride, const size_t *lens, size_t n)
{
	struct wakks__send *s = &c->send;
	proto_frame_init(c->tx, PROTO_T_SEND, 0);
	proto_send *ps = &c->tx->body.send;
	ps->cmid = s->cmid;
	if (s->target_used[TGT_ACCOUNT]) {
		ps->to[0] = m->to_account;
		ps->to_count = 1;
	}
	if (s->target_used[TGT_UNIT]) {
		ps->tenant = (proto_str){ m->tenant, strlen(m->tenant) };
		ps->unit = (proto_str){ m->unit, strlen(m->unit) };
	}
	ps->receipts = true;
	if (s->has_att) {
		ps->blobs[0] = s->att.blob;
		ps->blob_count = 1;
	}
	for (size_t i = 0; i < n; i++) {
		ps->env[i].device = s->set[i].dev;
		ps->env[i].ciphertext = (proto_bytes){ out + i * stride, lens[i] };
	}
	ps->env_count = (uint32_t)n;
	if (c->test_drop_after_send) {
		c->test_drop_after_send = false;
		c->ws.drop_after_flush = true;
	}
	s->phase = SP_SENT;
	int sr = wakks__request(c, RQ_SEND, 0, 0);
	if (sr < 0 && c->ws.state != WS_OPEN) {
		wakks__send_reset(c); /* connection gone: re-sent after the next auth */
	} else if (sr < 0) {
		/* The frame cannot be built: more devices or bytes than one frame carries
		 * (PROTO_MAX_RECIPIENT_DEVICES, PROTO_MAX_FRAME_BYTES). Retrying cannot help. */
		finish(c, WAKKS_E_TOO_LARGE, true);
		wakks__send_kick(c);
	}
}

static void encrypt_and_send(wakks_client *c, const wakks_message *m)
{
	struct wakks__send *s = &c->send;
	size_t n = s->n_set, n0 = n, stride = 0;
	if (n == 0 && wakks__msg_route(m) == WAKKS__ROUTE_SELF) {
		/* A `seen` for our own other devices when there are none: nothing to tell. */
		static const proto_stored none = { 0 };
		proto_stored st = none;
		st.cmid = s->cmid;
		st.time = wakks__now_ms();
		on_stored(c, &st);
		return;
	}
	if (n == 0) {
		/* Nobody to send to (a unit without members, an account without devices). */
		finish(c, PROTO_E_NOT_FOUND, true);
		return;
	}
	wc_session **sess = calloc(n, sizeof *sess);
	size_t *lens = calloc(n, sizeof *lens);
	uint8_t *out = NULL;
	wakks__txn *t = NULL;
	int rc = sess && lens ? wakks__txn_begin(c->store, true, &t) : WAKKS_E_NOMEM;
	if (rc == 0)
		rc = send__load_sessions(c, t, sess, &n);
	if (rc == 0 && n > 0)
		rc = send__encrypt(c, m, sess, n, &out, &stride, lens);
	/* Commit the advanced sessions before anything leaves: a message key is never reused. */
	if (t)
		rc = send__commit_sessions(c, t, sess, n, rc);
	if (sess)
		for (size_t i = 0; i < n0; i++)
			wc_session_free(sess[i]);
	if (rc == 0 && n == 0)
		finish(c, PROTO_E_NOT_FOUND, true);
	else if (rc != 0)
		wait_retry(c, rc, SEND_RETRY_MS);
	else
		send__transmit(c, m, out, stride, lens, n);
	if (out)
		sodium_memzero(out, n * stride);
	free(out);
	free(sess);
	free(lens);
}

static bool permanent(int err)
{
	switch (err) {
	case PROTO_E_RATE_LIMITED:
	case PROTO_E_UNAVAILABLE:
	case PROTO_E_QUOTA_EXCEEDED:
	case PROTO_E_INTERNAL:
	case PROTO_E_NOT_AUTHENTICATED:
		return false;
	default:
		return true;
	}
}

static void on_stored(wakks_client *c, const proto_stored *st)
{
	struct wakks__send *s = &c->send;
	wakks__txn *t;
	wakks_message m;
	uint8_t *raw = NULL;
	size_t rl = 0;
	int rc = wakks__txn_begin(c->store, true, &t);
	if (rc != 0)
		return;
	rc = wakks__msg_get(t, s->seq, &m, NULL, &raw, &rl);
	if (rc == 0) {
		m.stored_ms = st->time;
		rc = wakks__msg_put(t, &m, false);
	}
	if (rc == 0)
		rc = wakks__store_del(t, WT_PENDING, s->cmid, 16);
	if (rc == 0 && s->has_att) {
		rc = wakks__upload_settle(c, t, s->seq, true);
		m.attachment = &s->att.pub;
	}
	if (rc == 0)
		rc = wakks__txn_commit(t);
	else
		wakks__txn_abort(t);
	if (rc == 0 && s->has_att)
		wakks__upload_unlink(c);
	if (rc == 0 && !wakks__msg_hidden(&m)) {
		wakks_event ev = { .type = WAKKS_EV_SENT };
		ev.u.message = &m;
		wakks__emit(c, &ev);
	}
	wakks__store_free(raw, rl);
	finish(c, rc, false);
	wakks__send_kick(c);
}

static uint64_t retry_after(const proto_frame *f)
{
	const proto_error *e = &f->body.error;
	return f->type == PROTO_T_ERROR && e->has_details && e->details.retry_ms ? e->details.retry_ms
										 : SEND_RETRY_MS;
}

void wakks__send_on_reply(wakks_client *c, struct wakks__req *rq, const proto_frame *f)
{
	struct wakks__send *s = &c->send;
	if (!s->active)
		return;
	int err = f->type == PROTO_T_ERROR ? -(int)f->body.error.code : 0;
	if (err && !proto_errname(err))
		err = PROTO_E_INTERNAL;
	if (rq->kind == RQ_DEVSET || rq->kind == RQ_BUNDLES) {
		if (err) {
			if (permanent(err)) {
				finish(c, err, true);
				wakks__send_kick(c);
			} else {
				wait_retry(c, err, retry_after(f));
			}
			return;
		}
		if (rq->kind == RQ_DEVSET && f->type == PROTO_T_DEVICE_SET) {
			const proto_device_set *d = &f->body.device_set;
			for (uint32_t i = 0; i < d->count; i++)
				if (memcmp(d->list[i].device, c->device, 16) != 0 &&
				    add_addr(s, d->list[i].account, d->list[i].device) != 0) {
					wait_retry(c, WAKKS_E_NOMEM, SEND_RETRY_MS);
					return;
				}
		} else if (rq->kind == RQ_BUNDLES && f->type == PROTO_T_BUNDLES) {
			take_bundles(c, &f->body.bundles);
		} else {
			wait_retry(c, WAKKS_E_PROTOCOL, SEND_RETRY_MS);
			return;
		}
		s->target_next++;
		step(c);
		return;
	}
	/* RQ_SEND */
	if (f->type == PROTO_T_STORED) {
		on_stored(c, &f->body.stored);
		return;
	}
	if (err == PROTO_E_DEVICE_MISMATCH) {
		const proto_error_details *d = &f->body.error.details;
		for (uint32_t i = 0; f->body.error.has_details && i < d->stale_count; i++)
			wakks__peer_gone(c, d->stale[i]);
		if (++s->attempts >= SEND_MAX_ATTEMPTS) {
			wait_retry(c, WAKKS_E_RETRIES, 10 * SEND_RETRY_MS);
			return;
		}
		s->phase = SP_DEVSET;
		s->target_next = 0;
		s->n_set = 0;
		step(c);
		return;
	}
	if (!err)
		err = WAKKS_E_PROTOCOL;
	if (permanent(err)) {
		finish(c, err, true);
		wakks__send_kick(c);
	} else {
		wait_retry(c, err, retry_after(f));
	}
}

void wakks__send_timer(wakks_client *c)
{
	struct wakks__send *s = &c->send;
	if (s->active && s->phase == SP_WAIT_RETRY && wakks__mono_ms() >= s->retry_at_mono) {
		wakks__send_reset(c);
		wakks__send_kick(c);
	}
}
