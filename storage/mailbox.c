/* SPDX-License-Identifier: MPL-2.0 */
/* Mailboxes: storing a send's envelopes (sequence numbers, quota, idempotency), deleting on ack,
 * and reading a device's mailbox in sequence order. */
#include <string.h>

#include "records_internal.h"
#include "pg/pg_internal.h"
#include "store_internal.h"

/* ---- each sender's share of a mailbox ---------------------------------------------------------
 * mailbox_senders[recipient device || sender account] = u32 count of the sender's envelopes in
 * that mailbox (a bare counter like the blob counters; absent when zero). It lets a send be
 * refused when one sender holds its whole share, so that one sender cannot fill a mailbox for
 * everyone, without scanning the mailbox. */
#define SENDER_KEY_LEN (2 * STORE_ID_BYTES)

static void sender_key(uint8_t key[SENDER_KEY_LEN], const uint8_t device[STORE_ID_BYTES],
		       const uint8_t account[STORE_ID_BYTES])
{
	memcpy(key, device, STORE_ID_BYTES);
	memcpy(key + STORE_ID_BYTES, account, STORE_ID_BYTES);
}

static int sender_count(struct store *s, MDB_txn *txn, const uint8_t key[SENDER_KEY_LEN], uint32_t *n)
{
	MDB_val v;
	int rc = store__get(s, txn, STORE__DB_MAILBOX_SENDERS, key, SENDER_KEY_LEN, &v);
	if (rc == STORE_ENOTFOUND) {
		*n = 0;
		return 0;
	}
	if (rc)
		return rc;
	if (v.mv_size != 4)
		return STORE_ECORRUPT;
	*n = wakks_load_be32(v.mv_data);
	return 0;
}

/* Adds delta (+1 or -count) to the sender's count; a count reaching zero is deleted. A missing
 * or smaller count than removed is taken as zero: removing never fails for the counter. */
static int sender_add(struct store *s, MDB_txn *txn, const uint8_t device[STORE_ID_BYTES],
		      const uint8_t account[STORE_ID_BYTES], int64_t delta)
{
	uint8_t key[SENDER_KEY_LEN], buf[4];
	uint32_t n;
	sender_key(key, device, account);
	int rc = sender_count(s, txn, key, &n);
	if (rc)
		return rc;
	int64_t next = (int64_t)n + delta;
	if (next <= 0) {
		rc = n ? store__del(s, txn, STORE__DB_MAILBOX_SENDERS, key, sizeof key) : 0;
		return rc == STORE_ENOTFOUND ? 0 : rc;
	}
	if (next > UINT32_MAX)
		return STORE_ELIMIT;
	wakks_store_be32(buf, (uint32_t)next);
	return store__put(s, txn, STORE__DB_MAILBOX_SENDERS, key, sizeof key, buf, sizeof buf);
}

int store__mailbox_senders_build(struct store *s, MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = store__err(mdb_cursor_open(txn, s->dbi[STORE__DB_MAILBOXES], &cur));
	if (rc)
		return rc;
	int mrc = store__cursor_get(s, cur, &k, &v, MDB_FIRST);
	while ((mrc == 0 || mrc == MDB_CORRUPTED) && rc == 0) {
		/* A damaged envelope names no sender it could be counted for; it is reported lost
		 * when its device next reads its mailbox. */
		struct store_envelope e;
		if (mrc == 0 && k.mv_size != STORE__KEY_MAILBOX_LEN)
			rc = STORE_ECORRUPT;
		if (mrc == 0 && rc == 0)
			rc = store__mailbox_decode(k.mv_data, v.mv_data, v.mv_size, &e);
		if (mrc == 0 && rc == 0)
			rc = sender_add(s, txn, e.ref.device_id, e.ref.sender_account, 1);
		if (rc == 0)
			mrc = store__cursor_get(s, cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc == 0 && mrc != MDB_NOTFOUND)
		rc = store__err(mrc);
	return rc;
}

static int put_envelope(struct store__wtxn *w, const struct store_envelope *e)
{
	struct store *s = w->store;
	uint8_t key[STORE__KEY_MAILBOX_LEN], xkey[STORE__KEY_MAILBOX_EXPIRY_LEN];
	size_t len = STORE__MAILBOX_HDR_LEN + e->payload_len;
	uint8_t *dst;

	store__key_mailbox(key, e->ref.device_id, e->ref.seq);
	/* Reserve the value in the page and write it in place: no second copy of the payload. */
	int rc = store__reserve(s, w->txn, STORE__DB_MAILBOXES, key, sizeof key, len, MDB_NOOVERWRITE,
				(void **)&dst);
	if (rc)
		return rc == MDB_KEYEXIST ? STORE_ECORRUPT : store__err(rc);
	store__mailbox_encode_header(e, dst);
	if (e->payload_len)
		memcpy(dst + STORE__MAILBOX_HDR_LEN, e->payload, e->payload_len);
	store__seal(key, sizeof key, dst, len);
	store__key_mailbox_expiry(xkey, e->expires_at_ms, e->ref.device_id, e->ref.seq);
	return store__put(s, w->txn, STORE__DB_MAILBOX_EXPIRY, xkey, sizeof xkey, "", 0);
}

int store__op_store_envelopes_apply(struct store__wtxn *w, struct store__op *op)
{
	struct store *s = w->store;
	struct store__send_op *so = op->u.store_envelopes;
	const struct store_send *send = &so->send;
	bool idempotent = !(send->flags & STORE_SEND_NO_IDEMPOTENCY);
	uint64_t max_expiry = 0;
	int rc;

	so->result.duplicate = false;
	so->result.stored_at_ms = w->now_ms;
	so->result.n = send->n_recipients;
	so->result.seqs = so->seqs;
	/* A client's envelopes are never stored from a revoked sending device, checked inside the
	 * transaction: a revocation committed before this batch (or earlier in it) wins over a send
	 * the relay checked before the revocation reached it. (Erasure revokes before it deletes.) */
	if (send->kind == STORE_KIND_ENVELOPE) {
		struct store_device sender;
		rc = store__device_load(s, w->txn, send->sender_device, &sender);
		if (rc && rc != STORE_ENOTFOUND)
			return rc;
		if (rc == 0 && sender.revoked) {
			store__req_fail_device(w, send->sender_device);
			return STORE_EREVOKED;
		}
	}
	if (idempotent) {
		rc = store__idem_lookup(w, so);
		if (rc < 0)
			return rc;
		if (rc == 1)
			return 0; /* a resend: the original result, nothing stored */
	}
	for (size_t i = 0; i < send->n_recipients; i++) {
		const struct store_recipient *r = &send->recipients[i];
		struct store_device dev;
		rc = store__device_load(s, w->txn, r->device_id, &dev);
		if (rc == STORE_ENOTFOUND) {
			store__req_fail_device(w, r->device_id);
			return STORE_ENODEVICE;
		}
		if (rc)
			return rc;
		if (dev.revoked) {
			store__req_fail_device(w, r->device_id);
			return STORE_EREVOKED;
		}
		if ((s->cfg.mailbox_max_envelopes && dev.mailbox_count + 1 > s->cfg.mailbox_max_envelopes) ||
		    (s->cfg.mailbox_max_bytes && dev.mailbox_bytes + r->payload_len > s->cfg.mailbox_max_bytes)) {
			store__req_fail_device(w, r->device_id);
			return STORE_EQUOTA;
		}
		if (s->cfg.mailbox_max_per_sender) {
			uint8_t skey[SENDER_KEY_LEN];
			uint32_t held;
			sender_key(skey, r->device_id, send->sender_account);
			rc = sender_count(s, w->txn, skey, &held);
			if (rc)
				return rc;
			if ((uint64_t)held + 1 > s->cfg.mailbox_max_per_sender) {
				store__req_fail_device(w, r->device_id);
				return STORE_ESHARE;
			}
		}
		struct store_envelope e = {
			.stored_at_ms = w->now_ms,
			.expires_at_ms = r->expires_at_ms,
			.payload = r->payload,
			.payload_len = r->payload_len,
		};
		memcpy(e.ref.device_id, r->device_id, STORE_ID_BYTES);
		e.ref.seq = dev.next_seq;
		e.ref.kind = send->kind;
		memcpy(e.ref.sender_account, send->sender_account, STORE_ID_BYTES);
		memcpy(e.ref.sender_device, send->sender_device, STORE_ID_BYTES);
		memcpy(e.ref.message_id, send->message_id, STORE_ID_BYTES);
		rc = put_envelope(w, &e);
		if (rc == 0)
			rc = sender_add(s, w->txn, r->device_id, send->sender_account, 1);
		if (rc)
			return rc;
		dev.next_seq++;
		dev.mailbox_count++;
		dev.mailbox_bytes += r->payload_len;
		rc = store__device_save(s, w->txn, &dev);
		if (rc)
			return rc;
		memcpy(so->seqs[i].device_id, r->device_id, STORE_ID_BYTES);
		so->seqs[i].seq = e.ref.seq;
		if (r->expires_at_ms > max_expiry)
			max_expiry = r->expires_at_ms;
	}
	w->envelopes_stored += send->n_recipients;
	return idempotent ? store__idem_put(w, so, max_expiry) : 0;
}

/* Reads one envelope value. A value that fails its checksum or its decoder is damaged: only the
 * key (device, seq) is believed, e->damaged is set and the payload length is what the value's
 * size implies, for the device's byte counter. */
static int read_envelope(struct store *s, const MDB_val *k, MDB_val v, bool checked_ok,
			 struct store_envelope *e)
{
	if (k->mv_size != STORE__KEY_MAILBOX_LEN)
		return STORE_ECORRUPT;
	if (checked_ok && store__mailbox_decode(k->mv_data, v.mv_data, v.mv_size, e) == 0)
		return 0;
	if (checked_ok)
		__atomic_add_fetch(&s->corrupt_reads, 1, __ATOMIC_RELAXED);
	memset(e, 0, sizeof *e);
	memcpy(e->ref.device_id, k->mv_data, STORE_ID_BYTES);
	e->ref.seq = wakks_load_be64((const uint8_t *)k->mv_data + STORE_ID_BYTES);
	e->damaged = true;
	size_t over = STORE__MAILBOX_HDR_LEN + (checked_ok ? 0 : STORE__CHECK_LEN);
	e->payload_len = v.mv_size > over ? v.mv_size - over : 0;
	return 0;
}

int store__mailbox_delete(struct store__wtxn *w, const uint8_t device_id[STORE_ID_BYTES],
			  uint64_t seq, bool *found, struct store_envelope_ref *ref, bool *damaged)
{
	struct store *s = w->store;
	uint8_t key[STORE__KEY_MAILBOX_LEN], xkey[STORE__KEY_MAILBOX_EXPIRY_LEN];
	struct store_envelope e;
	struct store_device dev;
	MDB_val v;

	*found = false;
	*damaged = false;
	store__key_mailbox(key, device_id, seq);
	int rc = store__get(s, w->txn, STORE__DB_MAILBOXES, key, sizeof key, &v);
	if (rc == STORE_ENOTFOUND)
		return 0;
	if (rc && rc != STORE_ECORRUPT)
		return rc;
	MDB_val k = {.mv_size = sizeof key, .mv_data = key};
	rc = read_envelope(s, &k, v, rc == 0, &e);
	if (rc)
		return rc;
	rc = store__del(s, w->txn, STORE__DB_MAILBOXES, key, sizeof key);
	if (rc)
		return rc;
	/* A damaged envelope's expires_at and sender are unknown: its expiry entry stays behind and
	 * the expiry pass drops it as stale when it comes due; its sender's share is not given back. */
	if (!e.damaged) {
		store__key_mailbox_expiry(xkey, e.expires_at_ms, device_id, seq);
		rc = store__del(s, w->txn, STORE__DB_MAILBOX_EXPIRY, xkey, sizeof xkey);
		if (rc && rc != STORE_ENOTFOUND)
			return rc;
		rc = sender_add(s, w->txn, device_id, e.ref.sender_account, -1);
		if (rc)
			return rc;
	}
	rc = store__device_load(s, w->txn, device_id, &dev);
	if (rc == 0) {
		dev.mailbox_count = dev.mailbox_count ? dev.mailbox_count - 1 : 0;
		dev.mailbox_bytes = dev.mailbox_bytes >= e.payload_len ? dev.mailbox_bytes - e.payload_len : 0;
		rc = store__device_save(s, w->txn, &dev);
	} else if (rc == STORE_ENOTFOUND) {
		rc = 0;
	}
	if (rc)
		return rc;
	*found = true;
	*ref = e.ref;
	*damaged = e.damaged;
	return 0;
}

int store__op_delete_envelope_apply(struct store__wtxn *w, struct store__op *op)
{
	struct store_delete_result *res = &op->u.delete_envelope.result;
	memset(res, 0, sizeof *res);
	int rc = store__mailbox_delete(w, op->u.delete_envelope.device_id, op->u.delete_envelope.seq,
				       &res->found, &res->ref, &res->damaged);
	if (rc == 0 && res->found)
		w->envelopes_deleted++;
	return rc;
}

/* Positions cur on the device's lowest-seq envelope; MDB_NOTFOUND when its mailbox is empty,
 * MDB_CORRUPTED when that envelope's checksum fails. */
static int first_envelope(struct store *s, MDB_cursor *cur, const uint8_t device_id[STORE_ID_BYTES],
			  MDB_val *k, MDB_val *v)
{
	uint8_t start[STORE__KEY_MAILBOX_LEN];
	store__key_mailbox(start, device_id, 0);
	k->mv_data = start;
	k->mv_size = sizeof start;
	int rc = store__cursor_get(s, cur, k, v, MDB_SET_RANGE);
	if ((rc == 0 || rc == MDB_CORRUPTED) &&
	    (k->mv_size < STORE_ID_BYTES || memcmp(k->mv_data, device_id, STORE_ID_BYTES) != 0))
		rc = MDB_NOTFOUND;
	return rc;
}

int store__mailbox_delete_some(struct store__wtxn *w, const uint8_t device_id[STORE_ID_BYTES],
			       size_t max, size_t *n, uint64_t *bytes, bool *more)
{
	struct store *s = w->store;
	MDB_cursor *cur;
	MDB_val k, v;
	size_t count = 0;
	uint64_t sum = 0;
	int err = 0;
	int rc = mdb_cursor_open(w->txn, s->dbi[STORE__DB_MAILBOXES], &cur);
	if (rc)
		return store__err(rc);
	for (;;) {
		rc = first_envelope(s, cur, device_id, &k, &v);
		if ((rc && rc != MDB_CORRUPTED) || count == max)
			break;
		struct store_envelope e;
		uint8_t xkey[STORE__KEY_MAILBOX_EXPIRY_LEN];
		err = read_envelope(s, &k, v, rc == 0, &e);
		if (err)
			break;
		store__key_mailbox_expiry(xkey, e.expires_at_ms, device_id, e.ref.seq);
		rc = mdb_cursor_del(cur, 0);
		if (rc)
			break;
		err = e.damaged ? 0 : store__del(s, w->txn, STORE__DB_MAILBOX_EXPIRY, xkey, sizeof xkey);
		if (err == STORE_ENOTFOUND)
			err = 0;
		if (err == 0)
			err = sender_add(s, w->txn, device_id, e.ref.sender_account, -1);
		if (err)
			break;
		count++;
		sum += e.payload_len;
	}
	mdb_cursor_close(cur);
	if (err)
		return err;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store__err(rc);
	bool remaining = rc == 0; /* the loop stopped at the bound with an envelope left */
	if (count) {
		struct store_device dev;
		err = store__device_load(s, w->txn, device_id, &dev);
		if (err == 0) {
			dev.mailbox_count = dev.mailbox_count >= count ? dev.mailbox_count - count : 0;
			dev.mailbox_bytes = dev.mailbox_bytes >= sum ? dev.mailbox_bytes - sum : 0;
			err = store__device_save(s, w->txn, &dev);
		} else if (err == STORE_ENOTFOUND) {
			err = 0;
		}
		if (err)
			return err;
	}
	*n = count;
	*bytes = sum;
	*more = remaining;
	return 0;
}

int store__op_delete_mailbox_apply(struct store__wtxn *w, struct store__op *op)
{
	struct store_delete_mailbox_result *res = &op->u.delete_mailbox.result;
	memset(res, 0, sizeof *res);
	int rc = store__mailbox_delete_some(w, op->u.delete_mailbox.device_id,
					    STORE_DELETE_MAILBOX_MAX, &res->n, &res->bytes, &res->more);
	if (rc == 0)
		w->envelopes_deleted += res->n;
	return rc;
}

int store_mailbox_iter(struct store *s, const uint8_t device_id[STORE_ID_BYTES], uint64_t from_seq,
		       size_t max, store_mailbox_cb cb, void *data)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t start[STORE__KEY_MAILBOX_LEN];
	MDB_val k, v;
	int visited = 0;
	if (!s || !device_id || !cb)
		return STORE_EINVAL;
	if (s->pg)
		return pg_mailbox_iter(s, device_id, from_seq, max, cb, data);
	if (max > INT32_MAX)
		max = INT32_MAX;
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	rc = store__err(mdb_cursor_open(txn, s->dbi[STORE__DB_MAILBOXES], &cur));
	if (rc)
		goto done;
	store__key_mailbox(start, device_id, from_seq);
	k.mv_data = start;
	k.mv_size = sizeof start;
	int mrc = max ? store__cursor_get(s, cur, &k, &v, MDB_SET_RANGE) : MDB_NOTFOUND;
	while (mrc == 0 || mrc == MDB_CORRUPTED) {
		struct store_envelope e;
		if (k.mv_size < STORE_ID_BYTES || memcmp(k.mv_data, device_id, STORE_ID_BYTES) != 0)
			break;
		/* A damaged envelope is handed out as such, never as data (spec/storage.md §6). */
		rc = read_envelope(s, &k, v, mrc == 0, &e);
		if (rc)
			break;
		visited++;
		if (cb(&e, data) != 0 || (size_t)visited >= max)
			break;
		mrc = store__cursor_get(s, cur, &k, &v, MDB_NEXT);
	}
	if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = store__err(mrc);
	mdb_cursor_close(cur);
done:
	store__read_end(s, txn);
	return rc ? rc : visited;
}

int store_mailbox_depth(struct store *s, const uint8_t device_id[STORE_ID_BYTES], uint64_t *count,
			uint64_t *bytes)
{
	struct store_device dev;
	int rc = store_get_device(s, device_id, &dev);
	if (rc)
		return rc;
	if (count)
		*count = dev.mailbox_count;
	if (bytes)
		*bytes = dev.mailbox_bytes;
	return 0;
}

int store_mailbox_total(struct store *s, uint64_t *count)
{
	MDB_txn *txn;
	if (s->pg)
		return pg_mailbox_total(s, count);
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	MDB_stat st;
	rc = store__err(mdb_stat(txn, s->dbi[STORE__DB_MAILBOXES], &st));
	store__read_end(s, txn);
	if (rc == 0)
		*count = st.ms_entries;
	return rc;
}
