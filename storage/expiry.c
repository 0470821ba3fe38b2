/* SPDX-License-Identifier: MPL-2.0 */
/* Expiry: removes envelopes whose expires_at has passed, oldest first through the expiry index,
 * and idempotency entries past their own expiry; bounded per call so one batch stays short. */
#include <string.h>

#include "records_internal.h"
#include "store_internal.h"

int store__op_expire_apply(struct store__wtxn *w, struct store__op *op)
{
	struct store *s = w->store;
	struct store_expire_result *res = &op->u.expire.result;
	struct store_envelope_ref *items = op->u.expire.items;
	uint64_t now = op->u.expire.now_ms;
	size_t max = op->u.expire.max, n = 0;
	MDB_cursor *cur;
	MDB_val k, v;
	int err = 0;

	res->n = 0;
	res->idempotency_deleted = 0;
	res->more = false;

	/* First collect the due (device, seq) pairs, then delete them (which also deletes their
	 * expiry index entries) with the cursor closed. items[] holds them meanwhile. */
	int rc = mdb_cursor_open(w->txn, s->dbi[STORE__DB_MAILBOX_EXPIRY], &cur);
	if (rc)
		return store__err(rc);
	rc = store__cursor_get(s, cur, &k, &v, MDB_FIRST);
	while (rc == 0 || rc == MDB_CORRUPTED) {
		if (rc == MDB_CORRUPTED || k.mv_size != STORE__KEY_MAILBOX_EXPIRY_LEN) {
			/* A damaged index entry names nothing it can be trusted for; it is derived
			 * data, so drop it rather than stop every later expiry pass on it. */
			rc = mdb_cursor_del(cur, 0);
			if (rc)
				break;
			rc = store__cursor_get(s, cur, &k, &v, MDB_NEXT);
			continue;
		}
		const uint8_t *p = k.mv_data;
		if (wakks_load_be64(p) > now)
			break;
		if (n == max) {
			res->more = true;
			break;
		}
		memset(&items[n], 0, sizeof items[n]);
		memcpy(items[n].device_id, p + 8, STORE_ID_BYTES);
		items[n].seq = wakks_load_be64(p + 8 + STORE_ID_BYTES);
		op->u.expire.due[n] = wakks_load_be64(p);
		n++;
		rc = store__cursor_get(s, cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (!err && rc != 0 && rc != MDB_NOTFOUND)
		err = store__err(rc);
	if (err)
		return err;

	size_t out = 0;
	for (size_t i = 0; i < n; i++) {
		bool found, damaged;
		struct store_envelope_ref ref;
		uint8_t device[STORE_ID_BYTES];
		uint64_t seq = items[i].seq;
		memcpy(device, items[i].device_id, STORE_ID_BYTES);
		err = store__mailbox_delete(w, device, seq, &found, &ref, &damaged);
		if (err)
			return err;
		if (found && damaged) {
			/* its sender is not known, so there is no one to tell */
		} else if (found) {
			items[out++] = ref; /* out <= i: never overwrites an entry still to be read */
		} else {
			/* An index entry without its envelope: drop the stale entry. */
			uint8_t xkey[STORE__KEY_MAILBOX_EXPIRY_LEN];
			store__key_mailbox_expiry(xkey, op->u.expire.due[i], device, seq);
			err = store__del(s, w->txn, STORE__DB_MAILBOX_EXPIRY, xkey, sizeof xkey);
			if (err)
				return err;
		}
	}
	res->n = out;
	w->envelopes_expired += out;
	return store__idem_expire(w, now, max, &res->idempotency_deleted, &res->more);
}
