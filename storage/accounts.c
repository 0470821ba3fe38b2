/* SPDX-License-Identifier: MPL-2.0 */
/* Accounts: put (writer) and get (reader). */
#include "records_internal.h"
#include "store_internal.h"

int store__op_put_account_apply(struct store__wtxn *w, struct store__op *op)
{
	uint8_t buf[STORE__ACCOUNT_MAX_LEN];
	const struct store_account *a = op->u.put_account;
	size_t len = store__account_encode(a, buf);
	if (!len)
		return STORE_EINVAL;
	return store__put(w->store, w->txn, STORE__DB_ACCOUNTS, a->id, STORE_ID_BYTES, buf, len);
}

int store_get_account(struct store *s, const uint8_t id[STORE_ID_BYTES], struct store_account *out)
{
	MDB_txn *txn;
	MDB_val v;
	if (!s || !id || !out)
		return STORE_EINVAL;
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	rc = store__get(s, txn, STORE__DB_ACCOUNTS, id, STORE_ID_BYTES, &v);
	if (rc == 0)
		rc = store__account_decode(id, v.mv_data, v.mv_size, out);
	store__read_end(s, txn);
	return rc;
}
