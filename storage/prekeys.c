/* SPDX-License-Identifier: MPL-2.0 */
/* Signed prekeys (one per device, replaced) and one-time prekeys (many per device, each handed
 * out once: taking happens on the writer thread, so two fetches can never get the same key). */
#include <string.h>

#include "records_internal.h"
#include "pg/pg_internal.h"
#include "store_internal.h"

/* The device must exist and be active to receive new prekeys. */
static int device_active(struct store__wtxn *w, const uint8_t id[STORE_ID_BYTES])
{
	struct store_device dev;
	int rc = store__device_load(w->store, w->txn, id, &dev);
	if (rc == STORE_ENOTFOUND) {
		store__req_fail_device(w, id);
		return STORE_ENODEVICE;
	}
	if (rc)
		return rc;
	if (dev.revoked) {
		store__req_fail_device(w, id);
		return STORE_EREVOKED;
	}
	return 0;
}

int store__op_put_signed_prekey_apply(struct store__wtxn *w, struct store__op *op)
{
	uint8_t buf[STORE__SPK_LEN];
	const uint8_t *id = op->u.put_signed_prekey.device_id;
	int rc = device_active(w, id);
	if (rc)
		return rc;
	store__spk_encode(&op->u.put_signed_prekey.spk, buf);
	return store__put(w->store, w->txn, STORE__DB_SIGNED_PREKEYS, id, STORE_ID_BYTES, buf,
			  sizeof buf);
}

/* Positions cur on the device's first one-time prekey; MDB_NOTFOUND when it has none. */
static int first_otpk(struct store *s, MDB_cursor *cur, const uint8_t device_id[STORE_ID_BYTES], MDB_val *k,
		      MDB_val *v)
{
	uint8_t start[STORE__KEY_OTPK_LEN];
	store__key_otpk(start, device_id, 0);
	k->mv_data = start;
	k->mv_size = sizeof start;
	int rc = store__cursor_get(s, cur, k, v, MDB_SET_RANGE);
	if (rc == 0 && (k->mv_size != STORE__KEY_OTPK_LEN ||
			memcmp(k->mv_data, device_id, STORE_ID_BYTES) != 0))
		rc = MDB_NOTFOUND;
	return rc;
}

/* Counts the device's one-time prekeys, stopping once past limit. */
static int count_otpks(struct store *s, MDB_txn *txn, const uint8_t device_id[STORE_ID_BYTES],
		       uint32_t limit, uint32_t *n)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint32_t count = 0;
	int rc = mdb_cursor_open(txn, s->dbi[STORE__DB_ONE_TIME_PREKEYS], &cur);
	if (rc)
		return store__err(rc);
	rc = first_otpk(s, cur, device_id, &k, &v);
	while (rc == 0 && count <= limit) {
		count++;
		rc = store__cursor_get(s, cur, &k, &v, MDB_NEXT);
		if (rc == 0 && (k.mv_size != STORE__KEY_OTPK_LEN ||
				memcmp(k.mv_data, device_id, STORE_ID_BYTES) != 0))
			rc = MDB_NOTFOUND;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store__err(rc);
	*n = count;
	return 0;
}

int store__op_add_one_time_prekeys_apply(struct store__wtxn *w, struct store__op *op)
{
	const uint8_t *id = op->u.add_one_time_prekeys.device_id;
	uint8_t key[STORE__KEY_OTPK_LEN], val[STORE__OTPK_LEN];
	uint32_t count;
	int rc = device_active(w, id);
	if (rc)
		return rc;
	for (size_t i = 0; i < op->u.add_one_time_prekeys.n; i++) {
		const struct store_prekey *pk = &op->u.add_one_time_prekeys.keys[i];
		store__key_otpk(key, id, pk->id);
		store__otpk_encode(pk, val);
		rc = store__put(w->store, w->txn, STORE__DB_ONE_TIME_PREKEYS, key, sizeof key, val,
				sizeof val);
		if (rc)
			return rc;
	}
	rc = count_otpks(w->store, w->txn, id, STORE_OTPK_MAX_PER_DEVICE, &count);
	if (rc)
		return rc;
	if (count > STORE_OTPK_MAX_PER_DEVICE) {
		store__req_fail_device(w, id);
		return STORE_ELIMIT;
	}
	return 0;
}

int store__op_take_one_time_prekeys_apply(struct store__wtxn *w, struct store__op *op)
{
	MDB_cursor *cur;
	MDB_val k, v;
	struct store_take_result *res = &op->u.take_one_time_prekeys.result;
	struct store_taken_prekey *keys = op->u.take_one_time_prekeys.keys;
	int rc = mdb_cursor_open(w->txn, w->store->dbi[STORE__DB_ONE_TIME_PREKEYS], &cur);
	if (rc)
		return store__err(rc);
	int err = 0;
	for (size_t i = 0; i < res->n; i++) {
		keys[i].found = false;
		memset(&keys[i].key, 0, sizeof keys[i].key);
		rc = first_otpk(w->store, cur, keys[i].device_id, &k, &v);
		if (rc == MDB_NOTFOUND)
			continue; /* none left for this device: the sender goes without */
		if (rc) {
			err = store__err(rc);
			break;
		}
		struct store_prekey pk;
		err = store__otpk_decode(k.mv_data, v.mv_data, v.mv_size, &pk);
		if (err)
			break;
		rc = mdb_cursor_del(cur, 0);
		if (rc) {
			err = store__err(rc);
			break;
		}
		keys[i].found = true;
		keys[i].key = pk;
	}
	mdb_cursor_close(cur);
	return err;
}

int store__otpk_delete_all(struct store *s, MDB_txn *txn, const uint8_t device_id[STORE_ID_BYTES],
			   size_t *n)
{
	return store__delete_prefix(s, txn, STORE__DB_ONE_TIME_PREKEYS, device_id, STORE_ID_BYTES,
				    NULL, NULL, n);
}

int store_count_one_time_prekeys(struct store *s, const uint8_t device_id[STORE_ID_BYTES],
				 uint32_t *n)
{
	MDB_txn *txn;
	if (!s || !device_id || !n)
		return STORE_EINVAL;
	if (s->pg)
		return pg_count_one_time_prekeys(s, device_id, n);
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	rc = count_otpks(s, txn, device_id, UINT32_MAX - 1, n);
	store__read_end(s, txn);
	return rc;
}

int store_get_signed_prekey(struct store *s, const uint8_t device_id[STORE_ID_BYTES],
			    struct store_signed_prekey *out)
{
	MDB_txn *txn;
	MDB_val v;
	if (!s || !device_id || !out)
		return STORE_EINVAL;
	if (s->pg)
		return pg_get_signed_prekey(s, device_id, out);
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	rc = store__get(s, txn, STORE__DB_SIGNED_PREKEYS, device_id, STORE_ID_BYTES, &v);
	if (rc == 0)
		rc = store__spk_decode(v.mv_data, v.mv_size, out);
	store__read_end(s, txn);
	return rc;
}
