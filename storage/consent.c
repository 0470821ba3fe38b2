/* SPDX-License-Identifier: MPL-2.0 */
/* Consent records: appended per citizen account and never overwritten (evidence), with a latest
 * index per (account, tenant, unit) for the relay's enforcement check and per-tenant counters for
 * the municipality's report, both kept in the transaction that appends or erases records. */
#include <string.h>

#include "pg/pg_internal.h"
#include "records_internal.h"
#include "store_internal.h"

/* Adds signed deltas to the report counters of (tenant, unit, text version), clamping at zero;
 * a row whose counters are all zero is deleted. */
static int count_add(struct store__wtxn *w, const char *tenant, const char *unit,
		     const char *text_version, int dg, int dw, int da)
{
	struct store *s = w->store;
	uint8_t key[STORE__KEY_CONSENT_COUNT_MAX], val[STORE__CONSENT_COUNT_LEN];
	struct store__consent_count c = {0, 0, 0};
	MDB_val v;
	size_t klen = store__key_consent_count(key, tenant, unit, text_version);
	if (!klen)
		return STORE_ECORRUPT;
	int rc = store__get(s, w->txn, STORE__DB_CONSENT_COUNTS, key, klen, &v);
	if (rc == 0)
		rc = store__consent_count_decode(v.mv_data, v.mv_size, &c);
	else if (rc == STORE_ENOTFOUND)
		rc = 0;
	if (rc)
		return rc;
#define ADD(field, d) c.field = (d) < 0 ? (c.field >= (uint64_t)-(d) ? c.field - (uint64_t)-(d) : 0) \
					: c.field + (uint64_t)(d)
	ADD(grants, dg);
	ADD(withdrawals, dw);
	ADD(active, da);
#undef ADD
	if (c.grants == 0 && c.withdrawals == 0 && c.active == 0) {
		rc = store__del(s, w->txn, STORE__DB_CONSENT_COUNTS, key, klen);
		return rc == STORE_ENOTFOUND ? 0 : rc;
	}
	store__consent_count_encode(&c, val);
	return store__put(s, w->txn, STORE__DB_CONSENT_COUNTS, key, klen, val, sizeof val);
}

/* The seq of the account's last consent record, 0 if it has none. */
static int last_seq(struct store *s, MDB_txn *txn, const uint8_t account[STORE_ID_BYTES],
		    uint64_t *seq)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t end[STORE__KEY_CONSENT_LEN];
	int rc = mdb_cursor_open(txn, s->dbi[STORE__DB_CONSENTS], &cur);
	if (rc)
		return store__err(rc);
	store__key_consent(end, account, UINT64_MAX);
	k.mv_data = end;
	k.mv_size = sizeof end;
	rc = store__cursor_get(s, cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && !(k.mv_size == sizeof end && memcmp(k.mv_data, end, sizeof end) == 0))
		rc = store__cursor_get(s, cur, &k, &v, MDB_PREV); /* the first key past the account's range */
	else if (rc == MDB_NOTFOUND)
		rc = store__cursor_get(s, cur, &k, &v, MDB_LAST);
	int err = 0;
	*seq = 0;
	if (rc == 0 && k.mv_size >= STORE_ID_BYTES && memcmp(k.mv_data, account, STORE_ID_BYTES) == 0) {
		if (k.mv_size != STORE__KEY_CONSENT_LEN)
			err = STORE_ECORRUPT;
		else
			*seq = wakks_load_be64((const uint8_t *)k.mv_data + STORE_ID_BYTES);
	}
	mdb_cursor_close(cur);
	if (err)
		return err;
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : store__err(rc);
}

int store__op_put_consent_apply(struct store__wtxn *w, struct store__op *op)
{
	struct store *s = w->store;
	struct store_consent c = op->u.put_consent.c;
	struct store_account acct;
	struct store__consent_latest old, latest;
	uint8_t key[STORE__KEY_CONSENT_LEN], lkey[STORE__KEY_CONSENT_LATEST_MAX];
	uint8_t buf[STORE__CONSENT_MAX_LEN], lbuf[STORE__CONSENT_LATEST_MAX_LEN];
	uint64_t seq;
	bool had_latest = false;
	MDB_val v;

	int rc = store__get(s, w->txn, STORE__DB_ACCOUNTS, c.account_id, STORE_ID_BYTES, &v);
	if (rc)
		return rc;
	rc = store__account_decode(c.account_id, v.mv_data, v.mv_size, &acct);
	if (rc)
		return rc;
	if (acct.kind != STORE_ACCOUNT_CITIZEN)
		return STORE_EINVAL;
	rc = last_seq(s, w->txn, c.account_id, &seq);
	if (rc)
		return rc;
	if (seq >= STORE_CONSENT_MAX_PER_ACCOUNT)
		return STORE_ELIMIT;
	c.seq = seq + 1;
	if (c.received_at_ms == 0)
		c.received_at_ms = w->now_ms;
	size_t len = store__consent_encode(&c, buf);
	if (!len)
		return STORE_EINVAL;
	store__key_consent(key, c.account_id, c.seq);
	void *dst;
	rc = store__reserve(s, w->txn, STORE__DB_CONSENTS, key, sizeof key, len, MDB_NOOVERWRITE, &dst);
	if (rc)
		return rc == MDB_KEYEXIST ? STORE_ECORRUPT : store__err(rc);
	memcpy(dst, buf, len);
	store__seal(key, sizeof key, dst, len);

	/* The latest index: the superseded record no longer counts as active. */
	size_t lklen = store__key_consent_latest(lkey, c.account_id, c.tenant, c.unit);
	if (!lklen)
		return STORE_EINVAL;
	rc = store__get(s, w->txn, STORE__DB_CONSENT_LATEST, lkey, lklen, &v);
	if (rc == 0) {
		rc = store__consent_latest_decode(v.mv_data, v.mv_size, &old);
		had_latest = rc == 0;
	} else if (rc == STORE_ENOTFOUND) {
		rc = 0;
	}
	if (rc)
		return rc;
	if (had_latest && old.kind == STORE_CONSENT_GRANT) {
		rc = count_add(w, c.tenant, c.unit, old.text_version, 0, 0, -1);
		if (rc)
			return rc;
	}
	memset(&latest, 0, sizeof latest);
	latest.kind = c.kind;
	latest.seq = c.seq;
	latest.received_at_ms = c.received_at_ms;
	memcpy(latest.text_version, c.text_version, sizeof latest.text_version);
	size_t llen = store__consent_latest_encode(&latest, lbuf);
	if (!llen)
		return STORE_EINVAL;
	rc = store__put(s, w->txn, STORE__DB_CONSENT_LATEST, lkey, lklen, lbuf, llen);
	if (rc)
		return rc;
	bool grant = c.kind == STORE_CONSENT_GRANT;
	rc = count_add(w, c.tenant, c.unit, c.text_version, grant ? 1 : 0, grant ? 0 : 1, grant ? 1 : 0);
	if (rc)
		return rc;
	op->u.put_consent.result.seq = c.seq;
	op->u.put_consent.result.received_at_ms = c.received_at_ms;
	return 0;
}

/* Tenant and unit of a latest-index key (the part after the account id). */
static int latest_key_names(const uint8_t *k, size_t klen, char tenant[STORE_TENANT_MAX + 1],
			    char unit[STORE_UNIT_ID_MAX + 1])
{
	size_t off = STORE_ID_BYTES;
	if (klen < off + 2)
		return STORE_ECORRUPT;
	size_t tlen = k[off++];
	if (tlen == 0 || tlen > STORE_TENANT_MAX || klen - off < tlen + 1)
		return STORE_ECORRUPT;
	memcpy(tenant, k + off, tlen);
	tenant[tlen] = '\0';
	off += tlen;
	size_t ulen = k[off++];
	if (ulen > STORE_UNIT_ID_MAX || klen - off != ulen)
		return STORE_ECORRUPT;
	memcpy(unit, k + off, ulen);
	unit[ulen] = '\0';
	if (strlen(tenant) != tlen || strlen(unit) != ulen)
		return STORE_ECORRUPT;
	return 0;
}

/* Records: the report's grant and withdrawal counters go down with them. */
static int uncount_record(const MDB_val *k, const MDB_val *v, void *data)
{
	struct store_consent c;
	if (k->mv_size != STORE__KEY_CONSENT_LEN)
		return STORE_ECORRUPT;
	int err = store__consent_decode(k->mv_data, v->mv_data, v->mv_size, &c);
	if (err)
		return err;
	bool grant = c.kind == STORE_CONSENT_GRANT;
	return count_add(data, c.tenant, c.unit, c.text_version, grant ? -1 : 0, grant ? 0 : -1, 0);
}

/* Latest entries: an active grant stops counting as active. */
static int uncount_latest(const MDB_val *k, const MDB_val *v, void *data)
{
	struct store__consent_latest l;
	char tenant[STORE_TENANT_MAX + 1], unit[STORE_UNIT_ID_MAX + 1];
	int err = latest_key_names(k->mv_data, k->mv_size, tenant, unit);
	if (!err)
		err = store__consent_latest_decode(v->mv_data, v->mv_size, &l);
	if (!err && l.kind == STORE_CONSENT_GRANT)
		err = count_add(data, tenant, unit, l.text_version, 0, 0, -1);
	return err;
}

int store__consent_erase(struct store__wtxn *w, const uint8_t account_id[STORE_ID_BYTES],
			 size_t *records, size_t *latest)
{
	int err = store__delete_prefix(w->store, w->txn, STORE__DB_CONSENTS, account_id,
				       STORE_ID_BYTES, uncount_record, w, records);
	if (!err)
		err = store__delete_prefix(w->store, w->txn, STORE__DB_CONSENT_LATEST, account_id,
					   STORE_ID_BYTES, uncount_latest, w, latest);
	return err;
}

/* ---- reads ----------------------------------------------------------------------------------- */

int store_consent_latest(struct store *s, const uint8_t account_id[STORE_ID_BYTES],
			 const char *tenant, const char *unit, uint8_t *kind, uint64_t *received_at_ms)
{
	MDB_txn *txn;
	MDB_val v;
	uint8_t key[STORE__KEY_CONSENT_LATEST_MAX];
	struct store__consent_latest l;
	if (s && s->pg)
		return pg_consent_latest(s, account_id, tenant, unit, kind, received_at_ms);
	if (!s || !account_id || !tenant)
		return STORE_EINVAL;
	size_t klen = store__key_consent_latest(key, account_id, tenant, unit ? unit : "");
	if (!klen)
		return STORE_EINVAL;
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	rc = store__get(s, txn, STORE__DB_CONSENT_LATEST, key, klen, &v);
	if (rc == 0)
		rc = store__consent_latest_decode(v.mv_data, v.mv_size, &l);
	store__read_end(s, txn);
	if (rc)
		return rc;
	if (kind)
		*kind = l.kind;
	if (received_at_ms)
		*received_at_ms = l.received_at_ms;
	return 0;
}

int store_consent_iter(struct store *s, const uint8_t account_id[STORE_ID_BYTES],
		       store_consent_cb cb, void *data)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t start[STORE__KEY_CONSENT_LEN];
	MDB_val k, v;
	int visited = 0;
	if (s && s->pg)
		return pg_consent_iter(s, account_id, cb, data);
	if (!s || !account_id || !cb)
		return STORE_EINVAL;
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	rc = store__err(mdb_cursor_open(txn, s->dbi[STORE__DB_CONSENTS], &cur));
	if (rc)
		goto done;
	store__key_consent(start, account_id, 0);
	k.mv_data = start;
	k.mv_size = sizeof start;
	int mrc = store__cursor_get(s, cur, &k, &v, MDB_SET_RANGE);
	while (mrc == 0) {
		struct store_consent c;
		if (k.mv_size < STORE_ID_BYTES || memcmp(k.mv_data, account_id, STORE_ID_BYTES) != 0)
			break;
		if (k.mv_size != STORE__KEY_CONSENT_LEN) {
			rc = STORE_ECORRUPT;
			break;
		}
		rc = store__consent_decode(k.mv_data, v.mv_data, v.mv_size, &c);
		if (rc)
			break;
		visited++;
		if (cb(&c, data) != 0 || visited >= STORE_CONSENT_MAX_PER_ACCOUNT)
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

/* Splits a counter key after the tenant prefix (plen bytes) into unit and text version. */
static int count_key_names(const uint8_t *k, size_t klen, size_t plen, char unit[STORE_UNIT_ID_MAX + 1],
			   char text_version[STORE_CONSENT_TEXT_VERSION_MAX + 1])
{
	size_t off = plen;
	if (klen - off < 1)
		return STORE_ECORRUPT;
	size_t ulen = k[off++];
	if (ulen > STORE_UNIT_ID_MAX || klen - off < ulen + 1)
		return STORE_ECORRUPT;
	memcpy(unit, k + off, ulen);
	unit[ulen] = '\0';
	off += ulen;
	size_t vlen = k[off++];
	if (vlen == 0 || vlen > STORE_CONSENT_TEXT_VERSION_MAX || klen - off != vlen)
		return STORE_ECORRUPT;
	memcpy(text_version, k + off, vlen);
	text_version[vlen] = '\0';
	if (strlen(unit) != ulen || strlen(text_version) != vlen)
		return STORE_ECORRUPT;
	return 0;
}

int store_consent_report(struct store *s, const char *tenant, store_consent_report_cb cb, void *data)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t prefix[STORE__KEY_CONSENT_COUNT_MAX];
	MDB_val k, v;
	int visited = 0;
	if (s && s->pg)
		return pg_consent_report(s, tenant, cb, data);
	if (!s || !tenant || !cb)
		return STORE_EINVAL;
	size_t plen = store__key_consent_count(prefix, tenant, NULL, NULL);
	if (!plen)
		return STORE_EINVAL;
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	rc = store__err(mdb_cursor_open(txn, s->dbi[STORE__DB_CONSENT_COUNTS], &cur));
	if (rc)
		goto done;
	k.mv_data = prefix;
	k.mv_size = plen;
	int mrc = store__cursor_get(s, cur, &k, &v, MDB_SET_RANGE);
	while (mrc == 0 && visited < INT32_MAX) {
		char unit[STORE_UNIT_ID_MAX + 1], tv[STORE_CONSENT_TEXT_VERSION_MAX + 1];
		struct store__consent_count c;
		/* a longer tenant sharing the prefix has a different length byte: never matches */
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		rc = count_key_names(k.mv_data, k.mv_size, plen, unit, tv);
		if (!rc)
			rc = store__consent_count_decode(v.mv_data, v.mv_size, &c);
		if (rc)
			break;
		struct store_consent_count row = {
			.unit = unit,
			.text_version = tv,
			.grants = c.grants,
			.withdrawals = c.withdrawals,
			.active = c.active,
		};
		visited++;
		if (cb(&row, data) != 0)
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
