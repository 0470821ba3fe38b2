/* SPDX-License-Identifier: MPL-2.0 */
/* Push subscriptions (spec/storage.md §4.19): at most one per device, keyed by the device id.
 * Written by push_register, dropped by push_remove, by the device's revocation or erasure, and
 * when a push service says the subscription is gone. */
#include <stdlib.h>
#include <string.h>

#include "wakks_bytes.h"
#include "pg/pg_internal.h"
#include "store_internal.h"

/* version(1) kind(1) reserved(2) updated_at(8) p256dh(65) auth(16) app_len(1) addr_len(2) */
#define HEAD_LEN 96u
#define MAX_LEN (HEAD_LEN + STORE_PUSH_APP_MAX + STORE_PUSH_ADDR_MAX)

static bool printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

/* The rules a record obeys, for what is written and what is read back. */
static bool sub_valid(const struct store_push_sub *p)
{
	size_t app = strnlen(p->app, sizeof p->app);
	if (p->addr_len == 0 || p->addr_len > STORE_PUSH_ADDR_MAX || app == sizeof p->app ||
	    !printable(p->addr, p->addr_len) || !printable(p->app, app))
		return false;
	if (p->kind == STORE_PUSH_WEB)
		return app == 0 && p->p256dh[0] == 0x04;
	return (p->kind == STORE_PUSH_APNS || p->kind == STORE_PUSH_FCM) && app > 0;
}

size_t store__push_sub_encode(const struct store_push_sub *p, uint8_t *out)
{
	size_t app = strlen(p->app);
	memset(out, 0, HEAD_LEN);
	out[0] = 0x01;
	out[1] = p->kind;
	wakks_store_be64(out + 4, p->updated_ms);
	if (p->kind == STORE_PUSH_WEB) {
		memcpy(out + 12, p->p256dh, sizeof p->p256dh);
		memcpy(out + 77, p->auth, sizeof p->auth);
	}
	out[93] = (uint8_t)app;
	wakks_store_be16(out + 94, (uint16_t)p->addr_len);
	memcpy(out + HEAD_LEN, p->app, app);
	memcpy(out + HEAD_LEN + app, p->addr, p->addr_len);
	return HEAD_LEN + app + p->addr_len;
}

int store__push_sub_decode(const uint8_t *v, size_t len, struct store_push_sub *out)
{
	struct store_push_sub p;
	if (len < HEAD_LEN || v[0] != 0x01 || v[2] != 0 || v[3] != 0)
		return STORE_ECORRUPT;
	memset(&p, 0, sizeof p);
	p.kind = v[1];
	p.updated_ms = wakks_load_be64(v + 4);
	memcpy(p.p256dh, v + 12, sizeof p.p256dh);
	memcpy(p.auth, v + 77, sizeof p.auth);
	size_t app = v[93];
	p.addr_len = wakks_load_be16(v + 94);
	if (app > STORE_PUSH_APP_MAX || p.addr_len > STORE_PUSH_ADDR_MAX ||
	    len != HEAD_LEN + app + p.addr_len)
		return STORE_ECORRUPT;
	memcpy(p.app, v + HEAD_LEN, app);
	memcpy(p.addr, v + HEAD_LEN + app, p.addr_len);
	if (!sub_valid(&p))
		return STORE_ECORRUPT;
	/* An app kind's key fields are zero; anything else is not a record this program wrote. */
	if (p.kind != STORE_PUSH_WEB) {
		static const uint8_t zero[65 + 16];
		if (memcmp(v + 12, zero, sizeof zero) != 0)
			return STORE_ECORRUPT;
	}
	*out = p;
	return 0;
}

int store__push_sub_drop(struct store *s, MDB_txn *txn, const uint8_t device[STORE_ID_BYTES])
{
	int rc = store__del(s, txn, STORE__DB_PUSH_SUBS, device, STORE_ID_BYTES);
	return rc == STORE_ENOTFOUND ? 0 : rc;
}

int store__op_put_push_sub_apply(struct store__wtxn *w, struct store__op *op)
{
	struct store *s = w->store;
	struct store_push_sub *p = op->u.push_sub.sub;
	struct store_device dev;
	uint8_t buf[MAX_LEN];
	int rc = store__device_load(s, w->txn, op->u.push_sub.device_id, &dev);
	if (rc)
		return rc;
	if (dev.revoked)
		return STORE_EREVOKED;
	p->updated_ms = w->now_ms; /* written on retry too: the batch's clock */
	size_t len = store__push_sub_encode(p, buf);
	return store__put(s, w->txn, STORE__DB_PUSH_SUBS, op->u.push_sub.device_id, STORE_ID_BYTES,
			  buf, len);
}

int store__op_delete_push_sub_apply(struct store__wtxn *w, struct store__op *op)
{
	struct store *s = w->store;
	const uint8_t *id = op->u.push_sub.device_id;
	op->u.push_sub.found = false;
	if (op->u.push_sub.if_updated_ms) {
		/* Only the subscription the push service refused: one the device registered since
		 * then stays. */
		MDB_val v;
		struct store_push_sub cur;
		int rc = store__get(s, w->txn, STORE__DB_PUSH_SUBS, id, STORE_ID_BYTES, &v);
		if (rc == STORE_ENOTFOUND)
			return 0;
		if (rc == 0)
			rc = store__push_sub_decode(v.mv_data, v.mv_size, &cur);
		if (rc == 0 && cur.updated_ms != op->u.push_sub.if_updated_ms)
			return 0;
		if (rc && rc != STORE_ECORRUPT)
			return rc;
	}
	int rc = store__del(s, w->txn, STORE__DB_PUSH_SUBS, id, STORE_ID_BYTES);
	if (rc == STORE_ENOTFOUND)
		return 0;
	if (rc == 0)
		op->u.push_sub.found = true;
	return rc;
}

int store_req_put_push_sub(struct store_req *req, const uint8_t device_id[STORE_ID_BYTES],
			   const struct store_push_sub *sub)
{
	int idx, err;
	if (!req || !device_id || !sub || !sub_valid(sub))
		return STORE_EINVAL;
	struct store_push_sub *copy = malloc(sizeof *copy);
	if (!copy)
		return STORE_ENOMEM;
	*copy = *sub;
	struct store__op *op = store__req_add(req, STORE__OP_put_push_sub, &idx, &err);
	if (!op) {
		free(copy);
		return err;
	}
	memcpy(op->u.push_sub.device_id, device_id, STORE_ID_BYTES);
	op->u.push_sub.sub = copy;
	return idx;
}

int store_req_delete_push_sub(struct store_req *req, const uint8_t device_id[STORE_ID_BYTES],
			      uint64_t if_updated_ms)
{
	int idx, err;
	if (!req || !device_id)
		return STORE_EINVAL;
	struct store__op *op = store__req_add(req, STORE__OP_delete_push_sub, &idx, &err);
	if (!op)
		return err;
	memcpy(op->u.push_sub.device_id, device_id, STORE_ID_BYTES);
	op->u.push_sub.if_updated_ms = if_updated_ms;
	return idx;
}

int store_get_push_sub(struct store *s, const uint8_t device_id[STORE_ID_BYTES],
		       struct store_push_sub *out)
{
	MDB_txn *txn;
	MDB_val v;
	if (!s || !device_id || !out)
		return STORE_EINVAL;
	if (s->pg)
		return pg_get_push_sub(s, device_id, out);
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	rc = store__get(s, txn, STORE__DB_PUSH_SUBS, device_id, STORE_ID_BYTES, &v);
	if (rc == 0)
		rc = store__push_sub_decode(v.mv_data, v.mv_size, out);
	store__read_end(s, txn);
	return rc;
}

int store_list_push_subs(struct store *s, const uint8_t *after, size_t max,
			 void (*cb)(const uint8_t device_id[STORE_ID_BYTES], void *data), void *data)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	if (!s || !cb)
		return STORE_EINVAL;
	if (s->pg)
		return pg_list_push_subs(s, after, max, cb, data);
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	rc = store__err(mdb_cursor_open(txn, s->dbi[STORE__DB_PUSH_SUBS], &cur));
	if (rc) {
		store__read_end(s, txn);
		return rc;
	}
	uint8_t start[STORE_ID_BYTES];
	int mrc;
	if (after) {
		memcpy(start, after, sizeof start);
		k.mv_data = start;
		k.mv_size = sizeof start;
		mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (mrc == 0 && k.mv_size == sizeof start && memcmp(k.mv_data, after, sizeof start) == 0)
			mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	} else {
		mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	}
	size_t n = 0;
	/* Keys only: a damaged value is the reader's business when it reads the subscription. */
	while (mrc == 0 && n < max) {
		if (k.mv_size != STORE_ID_BYTES) {
			rc = STORE_ECORRUPT;
			break;
		}
		uint8_t id[STORE_ID_BYTES];
		memcpy(id, k.mv_data, sizeof id);
		n++;
		cb(id, data);
		mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = store__err(mrc);
	mdb_cursor_close(cur);
	store__read_end(s, txn);
	return rc ? rc : (int)n;
}

int store__push_subs_create(struct store *s, MDB_txn *txn)
{
	/* The database is new in schema 5 and store_open has just created it; a version-4
	 * environment that already holds entries in it was not written by this program. */
	MDB_stat st;
	int rc = store__err(mdb_stat(txn, s->dbi[STORE__DB_PUSH_SUBS], &st));
	if (rc == 0 && st.ms_entries != 0)
		rc = STORE_ESCHEMA;
	return rc;
}
