/* SPDX-License-Identifier: MPL-2.0 */
/* The idempotency index: (sender device, client message id) -> what the original send got, so a
 * resend after a lost `stored` stores nothing twice. Entries expire with the send's last envelope
 * through a second index ordered by expiry. */
#include <stdlib.h>
#include <string.h>

#include "records_internal.h"
#include "pg/pg_internal.h"
#include "store_internal.h"

int store__idem_lookup(struct store__wtxn *w, struct store__send_op *so)
{
	uint8_t key[STORE__KEY_IDEM_LEN];
	struct store_idempotency idem;
	MDB_val v;
	store__key_idem(key, so->send.sender_device, so->send.message_id);
	int rc = store__get(w->store, w->txn, STORE__DB_IDEMPOTENCY, key, sizeof key, &v);
	if (rc == STORE_ENOTFOUND)
		return 0;
	if (rc)
		return rc;
	rc = store__idem_decode(v.mv_data, v.mv_size, &idem, NULL, 0);
	if (rc)
		return rc;
	if (idem.n > so->seqs_cap) {
		/* The resend names fewer devices than the original: room for the original's list. */
		struct store_seq *seqs = realloc(so->seqs, idem.n * sizeof *seqs);
		if (!seqs)
			return STORE_ENOMEM;
		so->seqs = seqs;
		so->seqs_cap = idem.n;
	}
	store__idem_decode(v.mv_data, v.mv_size, &idem, so->seqs, idem.n);
	so->result.duplicate = true;
	so->result.stored_at_ms = idem.stored_at_ms;
	so->result.n = idem.n;
	so->result.seqs = so->seqs;
	return 1;
}

int store__idem_put(struct store__wtxn *w, const struct store__send_op *so, uint64_t expires_at)
{
	struct store *s = w->store;
	uint8_t key[STORE__KEY_IDEM_LEN], xkey[STORE__KEY_IDEM_EXPIRY_LEN];
	size_t n = so->result.n;
	size_t len = store__idem_len(n);
	void *dst;

	store__key_idem(key, so->send.sender_device, so->send.message_id);
	int rc = store__reserve(s, w->txn, STORE__DB_IDEMPOTENCY, key, sizeof key, len, 0, &dst);
	if (rc)
		return store__err(rc);
	store__idem_encode(w->now_ms, expires_at, so->seqs, n, dst);
	store__seal(key, sizeof key, dst, len);
	store__key_idem_expiry(xkey, expires_at, so->send.sender_device, so->send.message_id);
	return store__put(s, w->txn, STORE__DB_IDEMPOTENCY_EXPIRY, xkey, sizeof xkey, "", 0);
}

int store__idem_expire(struct store__wtxn *w, uint64_t now_ms, size_t max, size_t *deleted,
		       bool *more)
{
	struct store *s = w->store;
	MDB_cursor *cur;
	MDB_val k, v;
	size_t n = 0;
	int err = 0;
	int rc = mdb_cursor_open(w->txn, s->dbi[STORE__DB_IDEMPOTENCY_EXPIRY], &cur);
	if (rc)
		return store__err(rc);
	/* Oldest expiry first; each round deletes the first entry. */
	rc = store__cursor_get(s, cur, &k, &v, MDB_FIRST);
	while (rc == 0 || rc == MDB_CORRUPTED) {
		if (rc == MDB_CORRUPTED || k.mv_size != STORE__KEY_IDEM_EXPIRY_LEN) {
			/* derived data: drop a damaged index entry (as the mailbox expiry does) */
			rc = mdb_cursor_del(cur, 0);
			if (rc)
				break;
			rc = store__cursor_get(s, cur, &k, &v, MDB_FIRST);
			continue;
		}
		if (wakks_load_be64(k.mv_data) > now_ms)
			break;
		if (n == max) {
			*more = true;
			break;
		}
		uint8_t ikey[STORE__KEY_IDEM_LEN];
		memcpy(ikey, (const uint8_t *)k.mv_data + 8, sizeof ikey);
		rc = mdb_cursor_del(cur, 0);
		if (rc)
			break;
		err = store__del(s, w->txn, STORE__DB_IDEMPOTENCY, ikey, sizeof ikey);
		if (err == STORE_ENOTFOUND)
			err = 0;
		if (err)
			break;
		n++;
		rc = store__cursor_get(s, cur, &k, &v, MDB_FIRST);
	}
	mdb_cursor_close(cur);
	if (!err && rc != 0 && rc != MDB_NOTFOUND)
		err = store__err(rc);
	if (!err)
		*deleted = n;
	return err;
}

int store__idem_delete_sender(struct store__wtxn *w, const uint8_t sender_device[STORE_ID_BYTES],
			      size_t max, size_t *n, bool *more)
{
	struct store *s = w->store;
	MDB_cursor *cur;
	MDB_val k, v;
	size_t count = 0;
	int err = 0;
	int rc = mdb_cursor_open(w->txn, s->dbi[STORE__DB_IDEMPOTENCY], &cur);
	if (rc)
		return store__err(rc);
	for (;;) {
		uint8_t start[STORE__KEY_IDEM_LEN] = {0};
		memcpy(start, sender_device, STORE_ID_BYTES);
		k.mv_data = start;
		k.mv_size = sizeof start;
		rc = store__cursor_get(s, cur, &k, &v, MDB_SET_RANGE);
		if (rc == 0 && (k.mv_size < STORE_ID_BYTES ||
				memcmp(k.mv_data, sender_device, STORE_ID_BYTES) != 0))
			rc = MDB_NOTFOUND;
		if (rc || count == max)
			break;
		struct store_idempotency idem;
		uint8_t xkey[STORE__KEY_IDEM_EXPIRY_LEN];
		if (k.mv_size != STORE__KEY_IDEM_LEN) {
			err = STORE_ECORRUPT;
			break;
		}
		err = store__idem_decode(v.mv_data, v.mv_size, &idem, NULL, 0);
		if (err)
			break;
		store__key_idem_expiry(xkey, idem.expires_at_ms, sender_device,
				       (const uint8_t *)k.mv_data + STORE_ID_BYTES);
		rc = mdb_cursor_del(cur, 0);
		if (rc)
			break;
		err = store__del(s, w->txn, STORE__DB_IDEMPOTENCY_EXPIRY, xkey, sizeof xkey);
		if (err == STORE_ENOTFOUND)
			err = 0;
		if (err)
			break;
		count++;
	}
	mdb_cursor_close(cur);
	if (err)
		return err;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store__err(rc);
	*n = count;
	*more = rc == 0;
	return 0;
}

int store_get_idempotency(struct store *s, const uint8_t sender_device[STORE_ID_BYTES],
			  const uint8_t message_id[STORE_ID_BYTES], struct store_idempotency *out,
			  struct store_seq *seqs, size_t cap)
{
	MDB_txn *txn;
	MDB_val v;
	uint8_t key[STORE__KEY_IDEM_LEN];
	if (!s || !sender_device || !message_id || !out || (cap && !seqs))
		return STORE_EINVAL;
	if (s->pg)
		return pg_get_idempotency(s, sender_device, message_id, out, seqs, cap);
	store__key_idem(key, sender_device, message_id);
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	rc = store__get(s, txn, STORE__DB_IDEMPOTENCY, key, sizeof key, &v);
	if (rc == 0)
		rc = store__idem_decode(v.mv_data, v.mv_size, out, seqs, cap);
	store__read_end(s, txn);
	return rc;
}
