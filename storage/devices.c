/* SPDX-License-Identifier: MPL-2.0 */
/* Devices: put and revoke (writer), get and list by account (reader), and the record helpers the
 * other write operations use. */
#include <string.h>

#include "records_internal.h"
#include "pg/pg_internal.h"
#include "store_internal.h"

int store__device_load(struct store *s, MDB_txn *txn, const uint8_t id[STORE_ID_BYTES],
		       struct store_device *out)
{
	MDB_val v;
	int rc = store__get(s, txn, STORE__DB_DEVICES, id, STORE_ID_BYTES, &v);
	if (rc)
		return rc;
	return store__device_decode(id, v.mv_data, v.mv_size, out);
}

int store__device_save(struct store *s, MDB_txn *txn, const struct store_device *dev)
{
	uint8_t buf[STORE__DEVICE_MAX_LEN];
	size_t len = store__device_encode(dev, buf);
	if (len == 0)
		return STORE_EINVAL;
	return store__put(s, txn, STORE__DB_DEVICES, dev->id, STORE_ID_BYTES, buf, len);
}

int store__devices_add_label(struct store *s, MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = store__err(mdb_cursor_open(txn, s->dbi[STORE__DB_DEVICES], &cur));
	if (rc)
		return rc;
	int mrc = store__cursor_get(s, cur, &k, &v, MDB_FIRST);
	while ((mrc == 0 || mrc == MDB_CORRUPTED) && rc == 0) {
		/* A damaged record (checksum or layout) is left as it is: it was unreadable before
		 * and stays so, check-data reports it, and one such record must not make the whole
		 * database unopenable. */
		struct store_device d;
		uint8_t key[STORE_ID_BYTES], buf[STORE__DEVICE_MAX_LEN + STORE__CHECK_LEN];
		if (mrc == 0 && k.mv_size == STORE_ID_BYTES &&
		    store__device_decode_v1(k.mv_data, v.mv_data, v.mv_size, &d) == 0) {
			/* Copies first: the put moves the page the old key and value lie in. */
			memcpy(key, k.mv_data, sizeof key);
			size_t len = store__device_encode(&d, buf); /* no label: always valid */
			store__seal(key, sizeof key, buf, len);
			MDB_val nk = {.mv_size = sizeof key, .mv_data = key};
			MDB_val nv = {.mv_size = len + STORE__CHECK_LEN, .mv_data = buf};
			rc = store__err(mdb_cursor_put(cur, &nk, &nv, MDB_CURRENT));
		}
		if (rc == 0)
			mrc = store__cursor_get(s, cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc == 0 && mrc != MDB_NOTFOUND)
		rc = store__err(mrc);
	return rc;
}

int store__op_put_device_apply(struct store__wtxn *w, struct store__op *op)
{
	struct store *s = w->store;
	struct store_device dev = op->u.put_device, old;
	uint8_t key[STORE__KEY_ACCOUNT_DEVICE_LEN];
	MDB_val v;

	int rc = store__get(s, w->txn, STORE__DB_ACCOUNTS, dev.account_id, STORE_ID_BYTES, &v);
	if (rc)
		return rc;
	rc = store__device_load(s, w->txn, dev.id, &old);
	if (rc == 0) {
		/* A device id belongs to one account for good. */
		if (memcmp(old.account_id, dev.account_id, STORE_ID_BYTES) != 0)
			return STORE_EEXIST;
		dev.next_seq = old.next_seq;
		dev.mailbox_count = old.mailbox_count;
		dev.mailbox_bytes = old.mailbox_bytes;
	} else if (rc == STORE_ENOTFOUND) {
		dev.next_seq = 1;
		dev.mailbox_count = 0;
		dev.mailbox_bytes = 0;
	} else {
		return rc;
	}
	if (!dev.revoked)
		dev.revoked_ms = 0;
	rc = store__device_save(s, w->txn, &dev);
	if (rc)
		return rc;
	memcpy(key, dev.account_id, STORE_ID_BYTES);
	memcpy(key + STORE_ID_BYTES, dev.id, STORE_ID_BYTES);
	return store__put(s, w->txn, STORE__DB_ACCOUNT_DEVICES, key, sizeof key, "", 0);
}

int store__op_revoke_device_apply(struct store__wtxn *w, struct store__op *op)
{
	struct store *s = w->store;
	const uint8_t *id = op->u.revoke_device.device_id;
	struct store_device dev;
	int rc = store__device_load(s, w->txn, id, &dev);
	if (rc)
		return rc;
	if (dev.revoked)
		return 0;
	dev.revoked = true;
	dev.revoked_ms = op->u.revoke_device.at_ms;
	rc = store__device_save(s, w->txn, &dev);
	if (rc)
		return rc;
	rc = store__del(s, w->txn, STORE__DB_SIGNED_PREKEYS, id, STORE_ID_BYTES);
	if (rc && rc != STORE_ENOTFOUND)
		return rc;
	/* A revoked device is never woken again (spec/protocol.md §17). */
	rc = store__push_sub_drop(s, w->txn, id);
	if (rc)
		return rc;
	return store__otpk_delete_all(s, w->txn, id, NULL);
}

int store_get_device(struct store *s, const uint8_t id[STORE_ID_BYTES], struct store_device *out)
{
	MDB_txn *txn;
	if (!s || !id || !out)
		return STORE_EINVAL;
	if (s->pg)
		return pg_get_device(s, id, out);
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	rc = store__device_load(s, txn, id, out);
	store__read_end(s, txn);
	return rc;
}

int store_list_devices(struct store *s, const uint8_t account_id[STORE_ID_BYTES],
		       bool include_revoked, struct store_device *out, size_t cap, size_t *n)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t start[STORE__KEY_ACCOUNT_DEVICE_LEN] = {0};
	MDB_val k, v;
	size_t count = 0;
	if (!s || !account_id || !n || (cap && !out))
		return STORE_EINVAL;
	if (s->pg)
		return pg_list_devices(s, account_id, include_revoked, out, cap, n);
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	rc = store__err(mdb_cursor_open(txn, s->dbi[STORE__DB_ACCOUNT_DEVICES], &cur));
	if (rc)
		goto done;
	memcpy(start, account_id, STORE_ID_BYTES);
	k.mv_data = start;
	k.mv_size = sizeof start;
	int mrc = store__cursor_get(s, cur, &k, &v, MDB_SET_RANGE);
	while (mrc == 0) {
		if (k.mv_size != STORE__KEY_ACCOUNT_DEVICE_LEN) {
			rc = STORE_ECORRUPT;
			break;
		}
		if (memcmp(k.mv_data, account_id, STORE_ID_BYTES) != 0)
			break;
		struct store_device dev;
		rc = store__device_load(s, txn, (const uint8_t *)k.mv_data + STORE_ID_BYTES, &dev);
		if (rc)
			break;
		if (include_revoked || !dev.revoked) {
			if (count < cap)
				out[count] = dev;
			count++;
		}
		mrc = store__cursor_get(s, cur, &k, &v, MDB_NEXT);
	}
	if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = store__err(mrc);
	mdb_cursor_close(cur);
	if (rc == 0)
		*n = count;
done:
	store__read_end(s, txn);
	return rc;
}
