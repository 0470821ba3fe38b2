/* SPDX-License-Identifier: MPL-2.0 */
/* Receiving: de-duplicate by (sender account, sender device, cmid), decrypt (continuing a
 * session or opening one from a prekey envelope), check the content record names the sender the
 * relay authenticated, then commit the new session state, the used one-time prekey's deletion,
 * the message and the de-duplication keys in one transaction, report the message, and only then
 * acknowledge it to the relay. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "threads_internal.h"

void wakks__ack(wakks_client *c, uint64_t seq)
{
	proto_frame_init(c->tx, PROTO_T_ACK, 0);
	c->tx->body.ack.seq = seq;
	wakks__request(c, RQ_ACK, 0, 0); /* a lost ack only means a redelivery, de-duplicated */
}

static void report(wakks_client *c, int code, const char *what)
{
	wakks_event ev = { .type = WAKKS_EV_ERROR };
	ev.u.error.code = code;
	ev.u.error.what = what;
	wakks__emit(c, &ev);
}

static void rx_key(const proto_deliver *d, uint8_t key[48])
{
	memcpy(key, d->account, 16);
	memcpy(key + 16, d->device, 16);
	memcpy(key + 32, d->cmid, 16);
}

/* What one deliver carries from phase to phase; pt, sess and att are released in one place. */
struct receive__rx {
	const proto_deliver *d;
	uint8_t rxk[48];
	wakks__txn *t;
	uint8_t *pt;
	size_t cap, pl;
	wc_session *sess;
	bool used_opk;
	uint32_t opk_id;
	wc_content content;
	struct wakks__att att;
	wakks_message m;
	bool is_new;
	uint64_t fetch;
	wakks_event peer_ev;
	bool have_peer_ev;
	bool store_msg; /* the thread model says: a message to keep (spec/client.md §12) */
};

/* Spec §6 step 1. WAKKS_E_NOT_FOUND: a new envelope, the transaction still open. Anything else
 * closed the transaction and finished the deliver: 0 acked again (or its file fetched first),
 * an error left it unacked to be delivered again. */
static int receive__seen_before(wakks_client *c, wakks__txn *t, const proto_deliver *d,
				const uint8_t rxk[48])
{
	uint8_t *v;
	size_t vl;
	int rc = wakks__store_get(t, WT_RX, rxk, 48, &v, &vl);
	if (rc == 0) {
		/* Already processed and persisted; the earlier ack was lost, or the file it carries
		 * was not fetched yet (then fetch it before acknowledging). */
		uint64_t fetch = vl == 16 ? wakks__download_pending(t, v) : 0;
		wakks__store_free(v, vl);
		wakks__txn_abort(t);
		if (fetch)
			wakks__download_enqueue(c, d->seq, fetch);
		else
			wakks__ack(c, d->seq);
		return 0;
	}
	if (rc != WAKKS_E_NOT_FOUND)
		wakks__txn_abort(t);
	return rc;
}

/* A new session from the sender (first contact, or they started over). */
static int receive__respond(wakks_client *c, struct receive__rx *rx, const wc_envelope_info *info)
{
	const proto_deliver *d = rx->d;
	wc_signed_prekey spk;
	wc_one_time_prekey opk;
	int crc;
	memset(&opk, 0, sizeof opk);
	int src = wakks__spk_load(c, rx->t, info->signed_prekey_id, &spk);
	int orc = info->has_one_time_prekey
			  ? wakks__opk_load(rx->t, info->one_time_prekey_id, &opk)
			  : 0;
	if (src == 0 && orc == 0) {
		crc = wc_session_respond(&c->ik, &spk, info->has_one_time_prekey ? &opk : NULL,
					 d->ciphertext.ptr, d->ciphertext.len, &rx->sess, rx->pt,
					 rx->cap, &rx->pl);
		rx->used_opk = crc == 0 && info->has_one_time_prekey;
		rx->opk_id = info->one_time_prekey_id;
	} else {
		crc = WC_E_PREKEY;
	}
	wc_signed_prekey_wipe(&spk);
	wc_one_time_prekey_wipe(&opk);
	return crc;
}

/* Spec §6 step 2: continue the stored session (decrypted on a copy, so a failure leaves the
 * stored one as it was), or open a new one from a prekey envelope. */
static int receive__decrypt(wakks_client *c, struct receive__rx *rx)
{
	const proto_deliver *d = rx->d;
	wc_envelope_info info;
	int crc = WC_E_FORMAT;
	if (wc_envelope_peek(d->ciphertext.ptr, d->ciphertext.len, &info) != 0)
		return crc;
	uint8_t acc_of_session[16];
	int rc = wakks__session_load(c, rx->t, d->device, acc_of_session, &rx->sess);
	if (rc == 0) {
		crc = wc_session_decrypt(rx->sess, d->ciphertext.ptr, d->ciphertext.len, rx->pt,
					 rx->cap, &rx->pl);
		if (crc != 0) {
			wc_session_free(rx->sess);
			rx->sess = NULL;
		}
	} else if (rc != WAKKS_E_NOT_FOUND) {
		report(c, rc, "stored session unreadable");
	}
	/* A prekey envelope opens a new session only when there is none or it belongs to
	 * another one: one the current session owns but cannot open is a replay, and must
	 * not replace a working session. */
	if (!rx->sess && info.is_prekey && (rc == WAKKS_E_NOT_FOUND || crc == WC_E_SESSION))
		crc = receive__respond(c, rx, &info);
	return crc;
}

/* Spec §6 step 3 and §6a step 1: the content record and, for a file, its descriptor. */
static int receive__check_content(struct receive__rx *rx)
{
	if (wc_content_decode(rx->pt, rx->pl, &rx->content) != 0)
		return WC_E_FORMAT;
	/* The record must name the sender the relay authenticated, and the session must be bound to
	 * that device's identity key (checked when the peer is recorded, against the key we know
	 * for it). */
	if (memcmp(rx->content.sender_account, rx->d->account, 16) != 0 ||
	    memcmp(rx->content.sender_device, rx->d->device, 16) != 0)
		return WC_E_VERIFY;
	/* A file message: its body is the attachment descriptor, nothing else. */
	if (rx->content.kind == WC_KIND_ATTACHMENT &&
	    wc_attachment_decode(rx->content.body, rx->content.body_len, &rx->att.desc) != 0)
		return WC_E_FORMAT;
	return 0;
}

/* The history record of a new message. */
static void receive__fill_message(wakks_client *c, struct receive__rx *rx, bool is_file)
{
	const proto_deliver *d = rx->d;
	wakks_message *m = &rx->m;
	memcpy(m->id, rx->content.message_id, 16);
	memcpy(m->conversation, rx->content.conversation_id, 16);
	memcpy(m->sender_account, d->account, 16);
	memcpy(m->sender_device, d->device, 16);
	memcpy(m->cmid, d->cmid, 16);
	m->sent_ms = rx->content.sent_ms;
	m->stored_ms = d->time;
	m->outgoing = memcmp(d->account, c->account, 16) == 0; /* from our other device */
	if (d->tenant.ptr && d->tenant.len <= WAKKS_SLUG_MAX && d->unit.ptr &&
	    d->unit.len <= WAKKS_SLUG_MAX) {
		memcpy(m->tenant, d->tenant.ptr, d->tenant.len);
		memcpy(m->unit, d->unit.ptr, d->unit.len);
	}
	m->text = is_file ? "" : (const char *)rx->content.body;
	m->text_len = is_file ? 0 : rx->content.body_len;
	m->kind = rx->content.kind == WC_KIND_SYSTEM ? WC_KIND_SYSTEM : WC_KIND_TEXT;
	if (rx->content.version == 2) {
		/* The thread reference, not the delivery's unit, places the record. */
		memcpy(m->citizen, rx->content.citizen_account, 16);
		snprintf(m->tenant, sizeof m->tenant, "%s", rx->content.tenant);
		snprintf(m->unit, sizeof m->unit, "%s", rx->content.unit);
	} else if (m->tenant[0]) {
		memcpy(m->citizen, d->account, 16);
	}
}

/* De-duplicate by message id too: a replayed first envelope may open a second session. */
static int receive__store_message(wakks_client *c, struct receive__rx *rx)
{
	bool is_file = rx->content.kind == WC_KIND_ATTACHMENT;
	uint8_t *v;
	size_t vl;
	int rc = wakks__store_get(rx->t, WT_MID, rx->content.message_id, 16, &v, &vl);
	if (rc == 0) {
		wakks__store_free(v, vl);
		if (is_file)
			rx->fetch = wakks__download_pending(rx->t, rx->content.message_id);
		return 0;
	}
	if (rc != WAKKS_E_NOT_FOUND)
		return rc;
	rx->is_new = true;
	uint64_t last = 0;
	rc = wakks__store_last_u64(rx->t, WT_MSG, &last);
	rx->m.seq = last + 1;
	receive__fill_message(c, rx, is_file);
	uint8_t seqb[8];
	wakks_store_be64(seqb, rx->m.seq);
	if (rc == 0)
		rc = wakks__msg_put(rx->t, &rx->m, false);
	if (rc == 0)
		rc = wakks__store_put(rx->t, WT_MID, rx->m.id, 16, seqb, 8);
	if (rc == 0 && is_file) {
		/* Stored now, fetched next: the file is downloaded before the ack. */
		memcpy(rx->att.blob, rx->att.desc.digest, 16);
		rx->att.ct_size = wc_attachment_ciphertext_size((size_t)rx->att.desc.size);
		rx->att.state = WAKKS_ATT_DOWNLOADING;
		rc = wakks__att_put(rx->t, rx->m.seq, &rx->att);
		rx->fetch = rx->m.seq;
	}
	return rc;
}

/* Spec §6 step 4, in the open transaction: peer, session, used one-time prekey, message, rx. */
static int receive__persist(wakks_client *c, struct receive__rx *rx)
{
	const proto_deliver *d = rx->d;
	uint8_t remote_ik[32];
	wc_session_remote_identity(rx->sess, remote_ik);
	int rc = wakks__peer_seen(c, rx->t, d->account, d->device, remote_ik, &rx->peer_ev,
				  &rx->have_peer_ev);
	if (rc == 0)
		rc = wakks__session_save(c, rx->t, d->device, d->account, rx->sess);
	if (rc == 0 && rx->used_opk) {
		uint8_t k[4];
		wakks_store_be32(k, rx->opk_id);
		rc = wakks__store_del(rx->t, WT_OPK, k, 4);
	}
	if (rc == 0 && rx->store_msg)
		rc = receive__store_message(c, rx);
	if (rc == 0 && rx->is_new)
		rc = wakks__thread_touch(c, rx->t, &rx->m);
	if (rc == 0)
		rc = wakks__store_put(rx->t, WT_RX, rx->rxk, sizeof rx->rxk, rx->content.message_id,
				      16);
	return rc;
}

/* Spec §6 step 5, after the commit: the events, then the ack; a file is fetched first. */
static void receive__announce(wakks_client *c, struct receive__rx *rx)
{
	if (rx->have_peer_ev)
		wakks__emit(c, &rx->peer_ev);
	if (rx->fetch) {
		/* The message event and the ack follow the download. */
		wakks__download_enqueue(c, rx->d->seq, rx->fetch);
		return;
	}
	if (rx->is_new) {
		wakks_event ev = { .type = WAKKS_EV_MESSAGE };
		wakks_notice n;
		if (rx->m.kind == WC_KIND_SYSTEM &&
		    wakks__notice_decode((const uint8_t *)rx->m.text, rx->m.text_len, &n) == 0)
			rx->m.notice = &n;
		ev.u.message = &rx->m;
		wakks__emit(c, &ev);
		rx->m.notice = NULL;
	}
	wakks__thread_flush(c);
	if (c->test_crash_receive == WAKKS__CRASH_BEFORE_ACK) {
		c->test_crash_receive = WAKKS__CRASH_NONE;
		wakks__ws_abort(&c->ws);
		return;
	}
	wakks__ack(c, rx->d->seq);
}

void wakks__on_deliver(wakks_client *c, const proto_deliver *d)
{
	struct receive__rx rx;
	memset(&rx, 0, sizeof rx);
	rx.d = d;
	rx_key(d, rx.rxk);
	if (wakks__parked_any(c)) {
		/* An earlier deliver waits for a unit's device set: keep the order. */
		wakks__park(c, d, NULL, NULL);
		return;
	}
	if (wakks__txn_begin(c->store, true, &rx.t) != 0)
		return; /* not acked: delivered again later */
	if (receive__seen_before(c, rx.t, d, rx.rxk) != WAKKS_E_NOT_FOUND)
		return;
	rx.cap = wc_envelope_plaintext_max(d->ciphertext.len);
	if (!(rx.pt = malloc(rx.cap ? rx.cap : 1))) {
		wakks__txn_abort(rx.t);
		return;
	}
	int crc = receive__decrypt(c, &rx);
	if (crc == 0)
		crc = receive__check_content(&rx);
	if (crc != 0) {
		/* Undecryptable: nothing we can do later will open it (the keys it needs are gone or
		 * never existed). Drop it so the mailbox moves on, and say so. */
		wakks__txn_abort(rx.t);
		report(c, WAKKS_E_VERIFY, "a received message could not be decrypted and was dropped");
		wakks__ack(c, d->seq);
		goto complete;
	}
	uint8_t sender_ik[32];
	wc_session_remote_identity(rx.sess, sender_ik);
	int rc = wakks__thread_accept(c, rx.t, &rx.content, sender_ik, d->time, false, &rx.store_msg);
	if (rc == WAKKS__E_PARK) {
		/* The sender's unit membership is not known yet: decrypted again when it is. */
		wakks__txn_abort(rx.t);
		wakks__park(c, d, rx.content.tenant, rx.content.unit);
		goto complete;
	}
	if (rc == WAKKS_E_VERIFY) {
		/* Against a rule of its kind (spec/client.md §12-§16): it can never become valid, so
		 * nothing of it is kept — but the session it advanced is, or the sender's next
		 * messages would not open. */
		report(c, WAKKS_E_VERIFY, "a received record broke a thread rule and was dropped");
		rx.store_msg = false;
		rc = 0;
	}
	if (rc == 0)
		rc = receive__persist(c, &rx);
	if (c->test_crash_receive == WAKKS__CRASH_BEFORE_COMMIT) {
		c->test_crash_receive = WAKKS__CRASH_NONE;
		wakks__txn_abort(rx.t);
		wakks__ws_abort(&c->ws);
		goto complete;
	}
	if (rc == 0)
		rc = wakks__txn_commit(rx.t);
	else
		wakks__txn_abort(rx.t);
	if (rc != 0) {
		/* Not persisted: not acknowledged. The stored session is unchanged, so the
		 * redelivery decrypts again. */
		report(c, rc, "a received message could not be stored; it will be delivered again");
		goto complete;
	}
	receive__announce(c, &rx);
complete:
	wc_session_free(rx.sess);
	wakks__att_wipe(&rx.att);
	sodium_memzero(rx.pt, rx.cap);
	free(rx.pt);
}
