/* SPDX-License-Identifier: MPL-2.0 */
/* Receiving: de-duplicate by (sender account, sender device, cmid), decrypt (continuing a
 * session or opening one from a prekey envelope), check the content record names the sender the
 * relay authenticated, then commit the new session state, the used one-time prekey's deletion,
 * the message and the de-duplication keys in one transaction, report the message, and only then
 * acknowledge it to the relay. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "wakks_internal.h"

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

void wakks__on_deliver(wakks_client *c, const proto_deliver *d)
{
	uint8_t rxk[48];
	rx_key(d, rxk);
	wakks__txn *t;
	if (wakks__txn_begin(c->store, true, &t) != 0)
		return; /* not acked: delivered again later */
	uint8_t *v;
	size_t vl;
	int rc = wakks__store_get(t, WT_RX, rxk, sizeof rxk, &v, &vl);
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
		return;
	}
	if (rc != WAKKS_E_NOT_FOUND) {
		wakks__txn_abort(t);
		return;
	}

	wc_envelope_info info;
	size_t cap = wc_envelope_plaintext_max(d->ciphertext.len);
	uint8_t *pt = malloc(cap ? cap : 1);
	size_t pl = 0;
	wc_session *sess = NULL;
	bool used_opk = false;
	uint32_t opk_id = 0;
	int crc = WC_E_FORMAT;
	if (!pt) {
		wakks__txn_abort(t);
		return;
	}
	if (wc_envelope_peek(d->ciphertext.ptr, d->ciphertext.len, &info) == 0) {
		uint8_t acc_of_session[16];
		rc = wakks__session_load(c, t, d->device, acc_of_session, &sess);
		if (rc == 0) {
			crc = wc_session_decrypt(sess, d->ciphertext.ptr, d->ciphertext.len, pt, cap, &pl);
			if (crc != 0) {
				wc_session_free(sess);
				sess = NULL;
			}
		} else if (rc != WAKKS_E_NOT_FOUND) {
			report(c, rc, "stored session unreadable");
		}
		/* A prekey envelope opens a new session only when there is none or it belongs to
		 * another one: one the current session owns but cannot open is a replay, and must
		 * not replace a working session. */
		if (!sess && info.is_prekey && (rc == WAKKS_E_NOT_FOUND || crc == WC_E_SESSION)) {
			/* A new session from the sender (first contact, or they started over). */
			wc_signed_prekey spk;
			wc_one_time_prekey opk;
			memset(&opk, 0, sizeof opk);
			int src = wakks__spk_load(c, t, info.signed_prekey_id, &spk);
			int orc = info.has_one_time_prekey ? wakks__opk_load(t, info.one_time_prekey_id, &opk) : 0;
			if (src == 0 && orc == 0) {
				crc = wc_session_respond(&c->ik, &spk, info.has_one_time_prekey ? &opk : NULL,
							 d->ciphertext.ptr, d->ciphertext.len, &sess, pt,
							 cap, &pl);
				used_opk = crc == 0 && info.has_one_time_prekey;
				opk_id = info.one_time_prekey_id;
			} else {
				crc = WC_E_PREKEY;
			}
			wc_signed_prekey_wipe(&spk);
			wc_one_time_prekey_wipe(&opk);
		}
	}

	wc_content content;
	if (crc == 0 && wc_content_decode(pt, pl, &content) != 0)
		crc = WC_E_FORMAT;
	/* The record must name the sender the relay authenticated, and the session must be bound to
	 * that device's identity key (checked below against the key we know for it). */
	if (crc == 0 && (memcmp(content.sender_account, d->account, 16) != 0 ||
			 memcmp(content.sender_device, d->device, 16) != 0))
		crc = WC_E_VERIFY;
	/* A file message: its body is the attachment descriptor, nothing else. */
	struct wakks__att att;
	memset(&att, 0, sizeof att);
	if (crc == 0 && content.kind == WC_KIND_ATTACHMENT &&
	    wc_attachment_decode(content.body, content.body_len, &att.desc) != 0)
		crc = WC_E_FORMAT;
	if (crc != 0) {
		/* Undecryptable: nothing we can do later will open it (the keys it needs are gone or
		 * never existed). Drop it so the mailbox moves on, and say so. */
		wakks__txn_abort(t);
		wc_session_free(sess);
		sodium_memzero(pt, cap);
		free(pt);
		report(c, WAKKS_E_VERIFY, "a received message could not be decrypted and was dropped");
		wakks__ack(c, d->seq);
		return;
	}

	uint8_t remote_ik[32];
	wc_session_remote_identity(sess, remote_ik);
	wakks_event peer_ev;
	bool have_peer_ev = false;
	rc = wakks__peer_seen(c, t, d->account, d->device, remote_ik, &peer_ev, &have_peer_ev);
	if (rc == 0)
		rc = wakks__session_save(c, t, d->device, d->account, sess);
	wc_session_free(sess);
	if (rc == 0 && used_opk) {
		uint8_t k[4];
		wakks_store_be32(k, opk_id);
		rc = wakks__store_del(t, WT_OPK, k, 4);
	}
	/* De-duplicate by message id too: a replayed first envelope may open a second session. */
	wakks_message m;
	memset(&m, 0, sizeof m);
	bool is_new = false, is_file = content.kind == WC_KIND_ATTACHMENT;
	uint64_t fetch = 0;
	if (rc == 0 && (content.kind == WC_KIND_TEXT || is_file)) {
		rc = wakks__store_get(t, WT_MID, content.message_id, 16, &v, &vl);
		if (rc == 0) {
			wakks__store_free(v, vl);
			if (is_file)
				fetch = wakks__download_pending(t, content.message_id);
		} else if (rc == WAKKS_E_NOT_FOUND) {
			is_new = true;
			uint64_t last;
			rc = wakks__store_last_u64(t, WT_MSG, &last);
			m.seq = last + 1;
			memcpy(m.id, content.message_id, 16);
			memcpy(m.conversation, content.conversation_id, 16);
			memcpy(m.sender_account, d->account, 16);
			memcpy(m.sender_device, d->device, 16);
			memcpy(m.cmid, d->cmid, 16);
			m.sent_ms = content.sent_ms;
			m.stored_ms = d->time;
			m.outgoing = memcmp(d->account, c->account, 16) == 0; /* from our other device */
			if (d->tenant.ptr && d->tenant.len <= WAKKS_SLUG_MAX && d->unit.ptr &&
			    d->unit.len <= WAKKS_SLUG_MAX) {
				memcpy(m.tenant, d->tenant.ptr, d->tenant.len);
				memcpy(m.unit, d->unit.ptr, d->unit.len);
			}
			m.text = is_file ? "" : (const char *)content.body;
			m.text_len = is_file ? 0 : content.body_len;
			uint8_t seqb[8];
			wakks_store_be64(seqb, m.seq);
			if (rc == 0)
				rc = wakks__msg_put(t, &m, false);
			if (rc == 0)
				rc = wakks__store_put(t, WT_MID, m.id, 16, seqb, 8);
			if (rc == 0 && is_file) {
				/* Stored now, fetched next: the file is downloaded before the ack. */
				memcpy(att.blob, att.desc.digest, 16);
				att.ct_size = wc_attachment_ciphertext_size((size_t)att.desc.size);
				att.state = WAKKS_ATT_DOWNLOADING;
				rc = wakks__att_put(t, m.seq, &att);
				fetch = m.seq;
			}
		}
	}
	if (rc == 0)
		rc = wakks__store_put(t, WT_RX, rxk, sizeof rxk, content.message_id, 16);
	if (c->test_crash_receive == WAKKS__CRASH_BEFORE_COMMIT) {
		c->test_crash_receive = WAKKS__CRASH_NONE;
		wakks__txn_abort(t);
		sodium_memzero(pt, cap);
		free(pt);
		wakks__ws_abort(&c->ws);
		return;
	}
	wakks__att_wipe(&att);
	if (rc == 0)
		rc = wakks__txn_commit(t);
	else
		wakks__txn_abort(t);
	if (rc != 0) {
		/* Not persisted: not acknowledged. The stored session is unchanged, so the
		 * redelivery decrypts again. */
		sodium_memzero(pt, cap);
		free(pt);
		report(c, rc, "a received message could not be stored; it will be delivered again");
		return;
	}
	if (have_peer_ev)
		wakks__emit(c, &peer_ev);
	if (fetch) {
		/* The message event and the ack follow the download. */
		sodium_memzero(pt, cap);
		free(pt);
		wakks__download_enqueue(c, d->seq, fetch);
		return;
	}
	if (is_new) {
		wakks_event ev = { .type = WAKKS_EV_MESSAGE };
		ev.u.message = &m;
		wakks__emit(c, &ev);
	}
	sodium_memzero(pt, cap);
	free(pt);
	if (c->test_crash_receive == WAKKS__CRASH_BEFORE_ACK) {
		c->test_crash_receive = WAKKS__CRASH_NONE;
		wakks__ws_abort(&c->ws);
		return;
	}
	wakks__ack(c, d->seq);
}
