/* SPDX-License-Identifier: MPL-2.0 */
/* GDPR erasure of an account, in bounded steps: first the bulk (its devices' mailboxes and the
 * idempotency entries of their sends), at most STORE_ERASE_MAX entries per step; then, in the step
 * that finds no bulk left, its prekeys, devices, consent records, index entries and the account
 * record itself. The account record goes last, so a later step finds the rest again. */
#include <stdlib.h>
#include <string.h>

#include "erase_bulk.h"
#include "records_internal.h"
#include "store_internal.h"

/* The ids of the account's devices (account_devices index), in a malloc'd array. */
static int account_device_ids(struct store *s, MDB_txn *txn, const uint8_t account[STORE_ID_BYTES],
			      uint8_t (**out)[STORE_ID_BYTES], size_t *n_out)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t (*ids)[STORE_ID_BYTES] = NULL;
	size_t n = 0, cap = 0;
	int err = 0;
	int rc = mdb_cursor_open(txn, s->dbi[STORE__DB_ACCOUNT_DEVICES], &cur);
	if (rc)
		return store__err(rc);
	k.mv_data = (void *)account;
	k.mv_size = STORE_ID_BYTES;
	rc = store__cursor_get(s, cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0) {
		if (k.mv_size < STORE_ID_BYTES || memcmp(k.mv_data, account, STORE_ID_BYTES) != 0)
			break;
		if (k.mv_size != STORE__KEY_ACCOUNT_DEVICE_LEN) {
			err = STORE_ECORRUPT;
			break;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			void *nids = realloc(ids, ncap * sizeof *ids);
			if (!nids) {
				err = STORE_ENOMEM;
				break;
			}
			ids = nids;
			cap = ncap;
		}
		memcpy(ids[n++], (const uint8_t *)k.mv_data + STORE_ID_BYTES, STORE_ID_BYTES);
		rc = store__cursor_get(s, cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (!err && rc != 0 && rc != MDB_NOTFOUND)
		err = store__err(rc);
	if (err) {
		free(ids);
		return err;
	}
	*out = ids;
	*n_out = n;
	return 0;
}

/* Removes everything of one device but its mailbox and idempotency entries (already gone). */
static int erase_device(struct store__wtxn *w, const uint8_t account[STORE_ID_BYTES],
			const uint8_t device[STORE_ID_BYTES], struct store_erase_result *res)
{
	struct store *s = w->store;
	uint8_t key[STORE__KEY_ACCOUNT_DEVICE_LEN];
	size_t otpks = 0;
	int rc = store__del(s, w->txn, STORE__DB_SIGNED_PREKEYS, device, STORE_ID_BYTES);
	if (rc == 0)
		res->signed_prekeys++;
	else if (rc != STORE_ENOTFOUND)
		return rc;
	rc = store__otpk_delete_all(s, w->txn, device, &otpks);
	if (rc)
		return rc;
	res->one_time_prekeys += otpks;
	rc = store__push_sub_drop(s, w->txn, device);
	if (rc)
		return rc;
	rc = store__del(s, w->txn, STORE__DB_DEVICES, device, STORE_ID_BYTES);
	if (rc == 0)
		res->devices++;
	else if (rc != STORE_ENOTFOUND)
		return rc;
	memcpy(key, account, STORE_ID_BYTES);
	memcpy(key + STORE_ID_BYTES, device, STORE_ID_BYTES);
	rc = store__del(s, w->txn, STORE__DB_ACCOUNT_DEVICES, key, sizeof key);
	return rc == STORE_ENOTFOUND ? 0 : rc;
}

static int lmdb_mailbox_delete_some(void *w, const uint8_t device[STORE_ID_BYTES], size_t max,
				    size_t *n, uint64_t *bytes, bool *more)
{
	return store__mailbox_delete_some(w, device, max, n, bytes, more);
}

static int lmdb_idem_delete_sender(void *w, const uint8_t device[STORE_ID_BYTES], size_t max,
				   size_t *n, bool *more)
{
	return store__idem_delete_sender(w, device, max, n, more);
}

static int lmdb_blob_erase_owner(void *w, const uint8_t account[STORE_ID_BYTES], size_t max,
				 size_t *n, bool *more)
{
	return store__blob_erase_owner(w, account, max, n, more);
}

static const struct store__erase_steps lmdb_steps = {
	lmdb_mailbox_delete_some, lmdb_idem_delete_sender, lmdb_blob_erase_owner
};

int store__op_erase_account_apply(struct store__wtxn *w, struct store__op *op)
{
	struct store *s = w->store;
	const uint8_t *account = op->u.erase_account.account_id;
	struct store_erase_result *res = &op->u.erase_account.result;
	struct store_account acct;
	uint8_t (*devices)[STORE_ID_BYTES] = NULL;
	size_t n_devices = 0;
	MDB_val v;

	memset(res, 0, sizeof *res);
	int rc = store__get(s, w->txn, STORE__DB_ACCOUNTS, account, STORE_ID_BYTES, &v);
	if (rc == STORE_ENOTFOUND)
		return 0; /* absent, or erased by an earlier step */
	if (rc)
		return rc;
	rc = store__account_decode(account, v.mv_data, v.mv_size, &acct);
	if (rc)
		return rc;
	res->found = true;
	rc = account_device_ids(s, w->txn, account, &devices, &n_devices);
	if (rc)
		return rc;

	/* The bulk, bounded. */
	rc = store__erase_bulk(&lmdb_steps, w, account, (const uint8_t(*)[STORE_ID_BYTES])devices,
			       n_devices, res, &w->envelopes_deleted);
	if (rc)
		goto done;
	if (res->more)
		goto done; /* the rest in a later step */

	/* The last step: everything else, the account record last. */
	for (size_t i = 0; i < n_devices; i++) {
		rc = erase_device(w, account, devices[i], res);
		if (rc)
			goto done;
	}
	rc = store__consent_erase(w, account, &res->consents, &res->consent_latest);
	if (rc)
		goto done;
	rc = store__account_index(w, &acct, true, &res->index_entries);
	if (rc)
		goto done;
	rc = store__del(s, w->txn, STORE__DB_ACCOUNTS, account, STORE_ID_BYTES);
	if (rc)
		goto done;
	res->account_deleted = true;
done:
	free(devices);
	return rc;
}
