/* SPDX-License-Identifier: MPL-2.0 */
/* Accounts: put (writer, keeping the unit and tenant indexes in step), get, and listing the
 * accounts of a unit or of a tenant (reader). */
#include <stdlib.h>
#include <string.h>

#include "pg/pg_internal.h"
#include "records_internal.h"
#include "store_internal.h"

int store__account_index(struct store__wtxn *w, const struct store_account *a, bool del, size_t *n)
{
	size_t count = 0;
	uint8_t key[STORE__KEY_UNIT_MAX > STORE__KEY_TENANT_MAX ? STORE__KEY_UNIT_MAX : STORE__KEY_TENANT_MAX];
	size_t len;
	int rc;
	for (unsigned i = 0; i < a->n_units; i++) {
		len = store__key_unit_prefix(key, a->tenant, a->units[i]);
		if (!len)
			return STORE_EINVAL;
		memcpy(key + len, a->id, STORE_ID_BYTES);
		len += STORE_ID_BYTES;
		rc = del ? store__del(w->store, w->txn, STORE__DB_UNIT_ACCOUNTS, key, len)
			 : store__put(w->store, w->txn, STORE__DB_UNIT_ACCOUNTS, key, len, "", 0);
		if (rc == 0)
			count++;
		else if (!(del && rc == STORE_ENOTFOUND))
			return rc;
	}
	len = store__key_tenant_prefix(key, a->tenant);
	if (!len)
		return STORE_EINVAL;
	key[len++] = a->kind;
	memcpy(key + len, a->id, STORE_ID_BYTES);
	len += STORE_ID_BYTES;
	rc = del ? store__del(w->store, w->txn, STORE__DB_TENANT_ACCOUNTS, key, len)
		 : store__put(w->store, w->txn, STORE__DB_TENANT_ACCOUNTS, key, len, "", 0);
	if (rc == 0)
		count++;
	else if (!(del && rc == STORE_ENOTFOUND))
		return rc;
	if (n)
		*n = count;
	return 0;
}

int store__op_put_account_apply(struct store__wtxn *w, struct store__op *op)
{
	uint8_t buf[STORE__ACCOUNT_MAX_LEN];
	const struct store_account *a = op->u.put_account;
	struct store_account old;
	MDB_val v;
	size_t len = store__account_encode(a, buf);
	if (!len)
		return STORE_EINVAL;
	int rc = store__get(w->store, w->txn, STORE__DB_ACCOUNTS, a->id, STORE_ID_BYTES, &v);
	if (rc == 0) {
		rc = store__account_decode(a->id, v.mv_data, v.mv_size, &old);
		if (rc == 0)
			rc = store__account_index(w, &old, true, NULL);
	} else if (rc == STORE_ENOTFOUND) {
		rc = 0;
	}
	if (rc)
		return rc;
	rc = store__put(w->store, w->txn, STORE__DB_ACCOUNTS, a->id, STORE_ID_BYTES, buf, len);
	if (rc)
		return rc;
	return store__account_index(w, a, false, NULL);
}

int store_get_account(struct store *s, const uint8_t id[STORE_ID_BYTES], struct store_account *out)
{
	MDB_txn *txn;
	MDB_val v;
	if (!s || !id || !out)
		return STORE_EINVAL;
	if (s->pg)
		return pg_get_account(s, id, out);
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	rc = store__get(s, txn, STORE__DB_ACCOUNTS, id, STORE_ID_BYTES, &v);
	if (rc == 0)
		rc = store__account_decode(id, v.mv_data, v.mv_size, out);
	store__read_end(s, txn);
	return rc;
}

/* Collects the account ids of index keys starting with prefix (optionally followed by a kind
 * byte equal to kind), then calls cb for each with the transaction closed. */
static int list_index(struct store *s, enum store__db db, const uint8_t *prefix, size_t plen,
		      bool has_kind, uint8_t kind, store_account_cb cb, void *data)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t (*ids)[STORE_ID_BYTES] = NULL;
	size_t n = 0, cap = 0;
	size_t klen = plen + (has_kind ? 1 : 0) + STORE_ID_BYTES;
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	rc = store__err(mdb_cursor_open(txn, s->dbi[db], &cur));
	if (rc) {
		store__read_end(s, txn);
		return rc;
	}
	k.mv_data = (void *)prefix;
	k.mv_size = plen;
	int mrc = store__cursor_get(s, cur, &k, &v, MDB_SET_RANGE);
	while (mrc == 0 && k.mv_size >= plen && memcmp(k.mv_data, prefix, plen) == 0) {
		const uint8_t *p = k.mv_data;
		/* a longer name sharing the prefix has a different length byte, so it never matches;
		 * an exact prefix match must be followed by exactly the rest of the key */
		if (k.mv_size != klen) {
			rc = STORE_ECORRUPT;
			break;
		}
		if (!has_kind || kind == 0 || p[plen] == kind) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				void *nids = realloc(ids, ncap * sizeof *ids);
				if (!nids) {
					rc = STORE_ENOMEM;
					break;
				}
				ids = nids;
				cap = ncap;
			}
			memcpy(ids[n++], p + klen - STORE_ID_BYTES, STORE_ID_BYTES);
		}
		mrc = store__cursor_get(s, cur, &k, &v, MDB_NEXT);
	}
	if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = store__err(mrc);
	mdb_cursor_close(cur);
	store__read_end(s, txn);
	int calls = 0;
	for (size_t i = 0; rc == 0 && i < n && calls < INT32_MAX; i++) {
		calls++;
		if (cb(ids[i], data) != 0)
			break;
	}
	free(ids);
	return rc ? rc : calls;
}

int store_list_unit_accounts(struct store *s, const char *tenant, const char *unit,
			     store_account_cb cb, void *data)
{
	uint8_t prefix[STORE__KEY_UNIT_MAX];
	if (!s || !tenant || !unit || !cb)
		return STORE_EINVAL;
	if (s->pg)
		return pg_list_unit_accounts(s, tenant, unit, cb, data);
	size_t plen = store__key_unit_prefix(prefix, tenant, unit);
	if (!plen)
		return STORE_EINVAL;
	return list_index(s, STORE__DB_UNIT_ACCOUNTS, prefix, plen, false, 0, cb, data);
}

int store_list_tenant_accounts(struct store *s, const char *tenant, uint8_t kind,
			       store_account_cb cb, void *data)
{
	uint8_t prefix[STORE__KEY_TENANT_MAX];
	if (!s || !tenant || !cb)
		return STORE_EINVAL;
	if (s->pg)
		return pg_list_tenant_accounts(s, tenant, kind, cb, data);
	size_t plen = store__key_tenant_prefix(prefix, tenant);
	if (!plen)
		return STORE_EINVAL;
	if (kind) {
		prefix[plen++] = kind; /* the kind byte narrows the range */
		return list_index(s, STORE__DB_TENANT_ACCOUNTS, prefix, plen, false, 0, cb, data);
	}
	return list_index(s, STORE__DB_TENANT_ACCOUNTS, prefix, plen, true, 0, cb, data);
}
