/* SPDX-License-Identifier: MPL-2.0 */
/* Accounts: put (writer) and get (reader), and the unit membership index that put maintains:
 * unit_members key = u8 len(tenant) || tenant || u8 len(unit) || unit || account id, empty value. */
#include <string.h>

#include "records_internal.h"
#include "store_internal.h"

#define UNIT_KEY_MAX (1 + STORE_TENANT_MAX + 1 + STORE_UNIT_ID_MAX + STORE_ID_BYTES)

/* Writes the prefix (tenant, unit) and returns its length. */
static size_t unit_prefix(const char *tenant, const char *unit, uint8_t *out)
{
	size_t tl = strlen(tenant), ul = strlen(unit), n = 0;
	out[n++] = (uint8_t)tl;
	memcpy(out + n, tenant, tl);
	n += tl;
	out[n++] = (uint8_t)ul;
	memcpy(out + n, unit, ul);
	return n + ul;
}

static int set_memberships(struct store__wtxn *w, const struct store_account *a, bool present)
{
	uint8_t key[UNIT_KEY_MAX];
	for (unsigned i = 0; i < a->n_units; i++) {
		size_t n = unit_prefix(a->tenant, a->units[i], key);
		memcpy(key + n, a->id, STORE_ID_BYTES);
		n += STORE_ID_BYTES;
		int rc = present ? store__put(w->store, w->txn, STORE__DB_UNIT_MEMBERS, key, n, "", 0)
				 : store__del(w->store, w->txn, STORE__DB_UNIT_MEMBERS, key, n);
		if (rc != 0 && rc != STORE_ENOTFOUND)
			return rc;
	}
	return 0;
}

int store__op_put_account_apply(struct store__wtxn *w, struct store__op *op)
{
	uint8_t buf[STORE__ACCOUNT_MAX_LEN];
	const struct store_account *a = op->u.put_account;
	size_t len = store__account_encode(a, buf);
	if (!len)
		return STORE_EINVAL;
	/* A caseworker moved between units loses the old memberships. */
	MDB_val old;
	int rc = store__get(w->store, w->txn, STORE__DB_ACCOUNTS, a->id, STORE_ID_BYTES, &old);
	if (rc == 0) {
		struct store_account prev;
		rc = store__account_decode(a->id, old.mv_data, old.mv_size, &prev);
		if (rc == 0)
			rc = set_memberships(w, &prev, false);
		if (rc != 0)
			return rc;
	} else if (rc != STORE_ENOTFOUND) {
		return rc;
	}
	rc = store__put(w->store, w->txn, STORE__DB_ACCOUNTS, a->id, STORE_ID_BYTES, buf, len);
	return rc ? rc : set_memberships(w, a, true);
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

int store_list_unit_accounts(struct store *s, const char *tenant, const char *unit,
			     store_account_cb cb, void *data)
{
	if (!s || !tenant || !unit || !cb || strlen(tenant) > STORE_TENANT_MAX ||
	    strlen(unit) > STORE_UNIT_ID_MAX)
		return STORE_EINVAL;
	uint8_t prefix[UNIT_KEY_MAX];
	size_t plen = unit_prefix(tenant, unit, prefix);
	MDB_txn *txn;
	MDB_cursor *cur;
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	rc = mdb_cursor_open(txn, s->dbi[STORE__DB_UNIT_MEMBERS], &cur);
	if (rc != 0) {
		store__read_end(s, txn);
		return store__err(rc);
	}
	MDB_val k = { .mv_size = plen, .mv_data = prefix }, v;
	int visited = 0;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != plen + STORE_ID_BYTES || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		visited++;
		if (cb((const uint8_t *)k.mv_data + plen, data))
			break;
	}
	mdb_cursor_close(cur);
	store__read_end(s, txn);
	return rc == 0 || rc == MDB_NOTFOUND ? visited : store__err(rc);
}
