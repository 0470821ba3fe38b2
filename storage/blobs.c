/* SPDX-License-Identifier: MPL-2.0 */
/* Attachment blobs: the record of each blob (owner, declared size and SHA-256, bytes stored,
 * state, expiry, references), its expiry index, the per-device download grants, the per-account
 * usage that the quota bounds, and the count of complete blobs per content-addressed file. The
 * ciphertext itself lives in files the relay manages; removals report which file to delete. */
#include <stdlib.h>
#include <string.h>

#include "pg/pg_internal.h"
#include "records_internal.h"
#include "store_internal.h"

#define BLOB_EXPIRY_KEY_LEN 24 /* expires_at u64 | blob id */
#define BLOB_GRANT_KEY_LEN 32  /* blob id | device id */

/* ---- records --------------------------------------------------------------------------------- */

void store__blob_encode(const struct store_blob *b, uint8_t out[STORE__BLOB_LEN])
{
	uint8_t *p = out;
	*p++ = STORE__RECORD_V1;
	*p++ = b->state;
	memcpy(p, b->owner_account, STORE_ID_BYTES);
	p += STORE_ID_BYTES;
	memcpy(p, b->owner_device, STORE_ID_BYTES);
	p += STORE_ID_BYTES;
	wakks_store_be64(p, b->size);
	p += 8;
	wakks_store_be64(p, b->have);
	p += 8;
	memcpy(p, b->sha256, STORE_BLOB_SHA_BYTES);
	p += STORE_BLOB_SHA_BYTES;
	wakks_store_be64(p, b->created_ms);
	p += 8;
	wakks_store_be64(p, b->expires_at_ms);
	p += 8;
	wakks_store_be32(p, b->refs);
}

int store__blob_decode(const uint8_t id[STORE_ID_BYTES], const uint8_t *buf, size_t len,
		       struct store_blob *out)
{
	if (len != STORE__BLOB_LEN || buf[0] != STORE__RECORD_V1 ||
	    (buf[1] != STORE_BLOB_UPLOADING && buf[1] != STORE_BLOB_COMPLETE))
		return STORE_ECORRUPT;
	struct store_blob b;
	const uint8_t *p = buf + 2;
	memcpy(b.id, id, STORE_ID_BYTES);
	b.state = buf[1];
	memcpy(b.owner_account, p, STORE_ID_BYTES);
	p += STORE_ID_BYTES;
	memcpy(b.owner_device, p, STORE_ID_BYTES);
	p += STORE_ID_BYTES;
	b.size = wakks_load_be64(p);
	p += 8;
	b.have = wakks_load_be64(p);
	p += 8;
	memcpy(b.sha256, p, STORE_BLOB_SHA_BYTES);
	p += STORE_BLOB_SHA_BYTES;
	b.created_ms = wakks_load_be64(p);
	p += 8;
	b.expires_at_ms = wakks_load_be64(p);
	p += 8;
	b.refs = wakks_load_be32(p);
	if (b.size == 0 || b.have > b.size || (b.state == STORE_BLOB_COMPLETE && b.have != b.size))
		return STORE_ECORRUPT;
	*out = b;
	return 0;
}

static void expiry_key(uint8_t k[BLOB_EXPIRY_KEY_LEN], uint64_t at, const uint8_t id[STORE_ID_BYTES])
{
	wakks_store_be64(k, at);
	memcpy(k + 8, id, STORE_ID_BYTES);
}

static void grant_key(uint8_t k[BLOB_GRANT_KEY_LEN], const uint8_t blob[STORE_ID_BYTES],
		      const uint8_t dev[STORE_ID_BYTES])
{
	memcpy(k, blob, STORE_ID_BYTES);
	memcpy(k + STORE_ID_BYTES, dev, STORE_ID_BYTES);
}

static int load(struct store *s, MDB_txn *txn, const uint8_t id[STORE_ID_BYTES], struct store_blob *out)
{
	MDB_val v;
	int rc = store__get(s, txn, STORE__DB_BLOBS, id, STORE_ID_BYTES, &v);
	if (rc)
		return rc;
	return store__blob_decode(id, v.mv_data, v.mv_size, out);
}

static int save(struct store *s, MDB_txn *txn, const struct store_blob *b)
{
	uint8_t buf[STORE__BLOB_LEN];
	store__blob_encode(b, buf);
	return store__put(s, txn, STORE__DB_BLOBS, b->id, STORE_ID_BYTES, buf, sizeof buf);
}

/* Moves the blob's expiry index entry to `at` (b is saved by the caller). */
static int set_expiry(struct store *s, MDB_txn *txn, struct store_blob *b, uint64_t at)
{
	uint8_t k[BLOB_EXPIRY_KEY_LEN];
	if (b->expires_at_ms == at)
		return 0;
	expiry_key(k, b->expires_at_ms, b->id);
	int rc = store__del(s, txn, STORE__DB_BLOB_EXPIRY, k, sizeof k);
	if (rc && rc != STORE_ENOTFOUND)
		return rc;
	b->expires_at_ms = at;
	expiry_key(k, at, b->id);
	return store__put(s, txn, STORE__DB_BLOB_EXPIRY, k, sizeof k, "", 0);
}

/* A u64 (usage) or u32 (files, grants) counter value; absent = 0. */
static int get_counter(struct store *s, MDB_txn *txn, enum store__db db, const void *key,
		       size_t klen, size_t width, uint64_t *out)
{
	MDB_val v;
	int rc = store__get(s, txn, db, key, klen, &v);
	if (rc == STORE_ENOTFOUND) {
		*out = 0;
		return 0;
	}
	if (rc)
		return rc;
	if (v.mv_size != width)
		return STORE_ECORRUPT;
	*out = width == 8 ? wakks_load_be64(v.mv_data) : wakks_load_be32(v.mv_data);
	return 0;
}

static int put_counter(struct store *s, MDB_txn *txn, enum store__db db, const void *key,
		       size_t klen, size_t width, uint64_t val)
{
	if (val == 0) {
		int rc = store__del(s, txn, db, key, klen);
		return rc == STORE_ENOTFOUND ? 0 : rc;
	}
	uint8_t buf[8];
	if (width == 8)
		wakks_store_be64(buf, val);
	else
		wakks_store_be32(buf, (uint32_t)val);
	return store__put(s, txn, db, key, klen, buf, width);
}

/* Adds delta (which may be negative) to a counter, saturating at 0. */
static int add_counter(struct store *s, MDB_txn *txn, enum store__db db, const void *key,
		       size_t klen, size_t width, int64_t delta, uint64_t *after)
{
	uint64_t v;
	int rc = get_counter(s, txn, db, key, klen, width, &v);
	if (rc)
		return rc;
	if (delta < 0)
		v = (uint64_t)-delta > v ? 0 : v - (uint64_t)-delta;
	else
		v += (uint64_t)delta;
	if (width == 4 && v > UINT32_MAX)
		return STORE_ELIMIT;
	if (after)
		*after = v;
	return put_counter(s, txn, db, key, klen, width, v);
}

/* An account's usage (§4.15): u64 bytes || u32 blobs; absent = none. */
static int usage_get(struct store *s, MDB_txn *txn, const uint8_t account[STORE_ID_BYTES],
		     uint64_t *bytes, uint32_t *count)
{
	MDB_val v;
	int rc = store__get(s, txn, STORE__DB_BLOB_USAGE, account, STORE_ID_BYTES, &v);
	if (rc == STORE_ENOTFOUND) {
		*bytes = 0;
		*count = 0;
		return 0;
	}
	if (rc)
		return rc;
	if (v.mv_size != 12)
		return STORE_ECORRUPT;
	*bytes = wakks_load_be64(v.mv_data);
	*count = wakks_load_be32((const uint8_t *)v.mv_data + 8);
	return 0;
}

static int usage_put(struct store *s, MDB_txn *txn, const uint8_t account[STORE_ID_BYTES],
		     uint64_t bytes, uint32_t count)
{
	if (count == 0) {
		int rc = store__del(s, txn, STORE__DB_BLOB_USAGE, account, STORE_ID_BYTES);
		return rc == STORE_ENOTFOUND ? 0 : rc;
	}
	uint8_t buf[12];
	wakks_store_be64(buf, bytes);
	wakks_store_be32(buf + 8, count);
	return store__put(s, txn, STORE__DB_BLOB_USAGE, account, STORE_ID_BYTES, buf, sizeof buf);
}

/* A device's grant on a blob (§4.14): u32 count || u64 expires_at; absent = count 0. */
static int grant_get(struct store *s, MDB_txn *txn, const uint8_t k[BLOB_GRANT_KEY_LEN],
		     uint32_t *count, uint64_t *expires_at)
{
	MDB_val v;
	int rc = store__get(s, txn, STORE__DB_BLOB_GRANTS, k, BLOB_GRANT_KEY_LEN, &v);
	if (rc == STORE_ENOTFOUND) {
		*count = 0;
		*expires_at = 0;
		return 0;
	}
	if (rc)
		return rc;
	if (v.mv_size != 12 || wakks_load_be32(v.mv_data) == 0)
		return STORE_ECORRUPT;
	*count = wakks_load_be32(v.mv_data);
	*expires_at = wakks_load_be64((const uint8_t *)v.mv_data + 4);
	return 0;
}

static int grant_put(struct store *s, MDB_txn *txn, const uint8_t k[BLOB_GRANT_KEY_LEN],
		     uint32_t count, uint64_t expires_at)
{
	if (count == 0) {
		int rc = store__del(s, txn, STORE__DB_BLOB_GRANTS, k, BLOB_GRANT_KEY_LEN);
		return rc == STORE_ENOTFOUND ? 0 : rc;
	}
	uint8_t buf[12];
	wakks_store_be32(buf, count);
	wakks_store_be64(buf + 4, expires_at);
	return store__put(s, txn, STORE__DB_BLOB_GRANTS, k, BLOB_GRANT_KEY_LEN, buf, sizeof buf);
}

/* Removes a blob with everything that hangs off it; fills *out. */
static int remove_blob(struct store__wtxn *w, const struct store_blob *b, struct store_blob_removed *out)
{
	struct store *s = w->store;
	uint8_t k[BLOB_EXPIRY_KEY_LEN];
	expiry_key(k, b->expires_at_ms, b->id);
	int rc = store__del(s, w->txn, STORE__DB_BLOB_EXPIRY, k, sizeof k);
	if (rc && rc != STORE_ENOTFOUND)
		return rc;
	rc = store__del(s, w->txn, STORE__DB_BLOBS, b->id, STORE_ID_BYTES);
	if (rc)
		return rc;
	uint8_t ak[2 * STORE_ID_BYTES];
	memcpy(ak, b->owner_account, STORE_ID_BYTES);
	memcpy(ak + STORE_ID_BYTES, b->id, STORE_ID_BYTES);
	rc = store__del(s, w->txn, STORE__DB_ACCOUNT_BLOBS, ak, sizeof ak);
	if (rc && rc != STORE_ENOTFOUND)
		return rc;
	uint64_t used;
	uint32_t blobs;
	rc = usage_get(s, w->txn, b->owner_account, &used, &blobs);
	if (!rc)
		rc = usage_put(s, w->txn, b->owner_account, used > b->size ? used - b->size : 0,
			       blobs ? blobs - 1 : 0);
	if (rc)
		return rc;
	uint64_t files = 0;
	if (b->state == STORE_BLOB_COMPLETE) {
		rc = add_counter(s, w->txn, STORE__DB_BLOB_FILES, b->sha256, STORE_BLOB_SHA_BYTES, 4, -1,
				 &files);
		if (rc)
			return rc;
	}
	/* Grants: every key with the blob id as prefix. */
	rc = store__delete_prefix(s, w->txn, STORE__DB_BLOB_GRANTS, b->id, STORE_ID_BYTES, NULL, NULL,
				  NULL);
	if (rc)
		return rc;
	store__blob_removed_fill(out, b, files);
	return 0;
}

void store__blob_removed_fill(struct store_blob_removed *out, const struct store_blob *b,
			      uint64_t files_left)
{
	memset(out, 0, sizeof *out);
	memcpy(out->id, b->id, STORE_ID_BYTES);
	out->state = b->state;
	memcpy(out->sha256, b->sha256, STORE_BLOB_SHA_BYTES);
	out->file_unused = b->state == STORE_BLOB_UPLOADING || files_left == 0;
}

/* ---- apply ----------------------------------------------------------------------------------- */

int store__op_blob_declare_apply(struct store__wtxn *w, struct store__op *op)
{
	struct store *s = w->store;
	struct store_blob *in = &op->u.blob_one.blob;
	struct store_blob cur;
	op->u.blob_one.created = false;
	int rc = load(s, w->txn, in->id, &cur);
	if (rc == 0) {
		if (memcmp(cur.owner_device, in->owner_device, STORE_ID_BYTES) != 0 ||
		    cur.size != in->size || memcmp(cur.sha256, in->sha256, STORE_BLOB_SHA_BYTES) != 0)
			return STORE_EEXIST;
		*in = cur;
		return 0;
	}
	if (rc != STORE_ENOTFOUND)
		return rc;
	uint64_t used;
	uint32_t blobs;
	rc = usage_get(s, w->txn, in->owner_account, &used, &blobs);
	if (rc)
		return rc;
	if (blobs >= STORE_BLOB_MAX_PER_ACCOUNT)
		return STORE_ELIMIT;
	if (op->u.blob_one.quota && (used + in->size > op->u.blob_one.quota || used + in->size < used))
		return STORE_EQUOTA;
	struct store_blob b = *in;
	b.state = STORE_BLOB_UPLOADING;
	b.have = 0;
	b.refs = 0;
	b.created_ms = w->now_ms;
	uint8_t k[BLOB_EXPIRY_KEY_LEN], ak[2 * STORE_ID_BYTES];
	expiry_key(k, b.expires_at_ms, b.id);
	memcpy(ak, b.owner_account, STORE_ID_BYTES);
	memcpy(ak + STORE_ID_BYTES, b.id, STORE_ID_BYTES);
	if ((rc = store__put(s, w->txn, STORE__DB_BLOB_EXPIRY, k, sizeof k, "", 0)) ||
	    (rc = store__put(s, w->txn, STORE__DB_ACCOUNT_BLOBS, ak, sizeof ak, "", 0)) ||
	    (rc = save(s, w->txn, &b)) ||
	    (rc = usage_put(s, w->txn, b.owner_account, used + b.size, blobs + 1)))
		return rc;
	/* The result is the stored record; only fields a retry of the batch writes again change. */
	op->u.blob_one.created = true;
	*in = b;
	return 0;
}

int store__op_blob_progress_apply(struct store__wtxn *w, struct store__op *op)
{
	struct store *s = w->store;
	struct store_blob b;
	int rc = load(s, w->txn, op->u.blob_one.blob.id, &b);
	if (rc)
		return rc;
	if (b.state != STORE_BLOB_UPLOADING || b.have != op->u.blob_one.from ||
	    op->u.blob_one.have > b.size || op->u.blob_one.have < b.have)
		return STORE_EINVAL;
	b.have = op->u.blob_one.have;
	if ((rc = set_expiry(s, w->txn, &b, op->u.blob_one.blob.expires_at_ms)) || (rc = save(s, w->txn, &b)))
		return rc;
	uint64_t keep = op->u.blob_one.blob.expires_at_ms;
	op->u.blob_one.blob = b;
	op->u.blob_one.blob.expires_at_ms = keep;
	return 0;
}

int store__op_blob_complete_apply(struct store__wtxn *w, struct store__op *op)
{
	struct store *s = w->store;
	struct store_blob b;
	int rc = load(s, w->txn, op->u.blob_one.blob.id, &b);
	if (rc)
		return rc;
	if (b.state == STORE_BLOB_UPLOADING) {
		if (b.have != b.size)
			return STORE_EINVAL;
		b.state = STORE_BLOB_COMPLETE;
		rc = add_counter(s, w->txn, STORE__DB_BLOB_FILES, b.sha256, STORE_BLOB_SHA_BYTES, 4, 1, NULL);
		if (!rc)
			rc = set_expiry(s, w->txn, &b, op->u.blob_one.blob.expires_at_ms);
		if (!rc)
			rc = save(s, w->txn, &b);
		if (rc)
			return rc;
	}
	uint64_t keep = op->u.blob_one.blob.expires_at_ms;
	op->u.blob_one.blob = b;
	op->u.blob_one.blob.expires_at_ms = keep;
	return 0;
}

int store__op_blob_ref_apply(struct store__wtxn *w, struct store__op *op)
{
	struct store *s = w->store;
	if (!store__req_guard_allows(w->req, op->u.blob_many.guard_op))
		return 0;
	for (size_t i = 0; i < op->u.blob_many.n; i++) {
		struct store_blob b;
		int rc = load(s, w->txn, op->u.blob_many.ids[i], &b);
		if (rc)
			return rc;
		if (b.state != STORE_BLOB_COMPLETE)
			return STORE_ENOTFOUND;
		if ((uint64_t)b.refs + op->u.blob_many.n_devices > UINT32_MAX)
			return STORE_ELIMIT;
		b.refs += (uint32_t)op->u.blob_many.n_devices;
		if (op->u.blob_many.expires_at_ms > b.expires_at_ms &&
		    (rc = set_expiry(s, w->txn, &b, op->u.blob_many.expires_at_ms)))
			return rc;
		if ((rc = save(s, w->txn, &b)))
			return rc;
		for (size_t d = 0; d < op->u.blob_many.n_devices; d++) {
			uint8_t k[BLOB_GRANT_KEY_LEN];
			uint32_t count;
			uint64_t until, at = op->u.blob_many.expires_at_ms;
			grant_key(k, b.id, op->u.blob_many.devices[d]);
			rc = grant_get(s, w->txn, k, &count, &until);
			if (!rc && count == UINT32_MAX)
				rc = STORE_ELIMIT;
			if (!rc)
				rc = grant_put(s, w->txn, k, count + 1, until > at ? until : at);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int store__op_blob_release_apply(struct store__wtxn *w, struct store__op *op)
{
	struct store *s = w->store;
	struct store_blob_removal *res = &op->u.blob_many.result;
	res->n = 0;
	res->more = false;
	res->items = op->u.blob_many.removed;
	if (!store__req_guard_allows(w->req, op->u.blob_many.guard_op))
		return 0;
	for (size_t i = 0; i < op->u.blob_many.n; i++) {
		struct store_blob b;
		int rc = load(s, w->txn, op->u.blob_many.ids[i], &b);
		if (rc == STORE_ENOTFOUND)
			continue;
		if (rc)
			return rc;
		uint8_t k[BLOB_GRANT_KEY_LEN];
		uint32_t had;
		uint64_t until;
		grant_key(k, b.id, op->u.blob_many.devices[0]);
		rc = grant_get(s, w->txn, k, &had, &until);
		if (rc)
			return rc;
		if (had == 0)
			continue;
		if ((rc = grant_put(s, w->txn, k, had - 1, until)))
			return rc;
		if (b.refs > 0)
			b.refs--;
		if (b.refs == 0 && b.state == STORE_BLOB_COMPLETE)
			rc = remove_blob(w, &b, &op->u.blob_many.removed[res->n++]);
		else
			rc = save(s, w->txn, &b);
		if (rc)
			return rc;
	}
	return 0;
}

int store__op_blob_delete_apply(struct store__wtxn *w, struct store__op *op)
{
	struct store_blob_removal *res = &op->u.blob_many.result;
	res->n = 0;
	res->more = false;
	res->items = op->u.blob_many.removed;
	struct store_blob b;
	int rc = load(w->store, w->txn, op->u.blob_many.ids[0], &b);
	if (rc == STORE_ENOTFOUND)
		return 0;
	if (rc)
		return rc;
	rc = remove_blob(w, &b, &op->u.blob_many.removed[0]);
	if (rc == 0)
		res->n = 1;
	return rc;
}

int store__op_blob_expire_apply(struct store__wtxn *w, struct store__op *op)
{
	struct store *s = w->store;
	struct store_blob_removal *res = &op->u.blob_many.result;
	uint8_t (*due)[STORE_ID_BYTES] = op->u.blob_many.ids; /* scratch, max entries */
	size_t n = 0, max = op->u.blob_many.max;
	res->n = 0;
	res->more = false;
	res->items = op->u.blob_many.removed;

	MDB_cursor *cur;
	MDB_val k, v;
	int err = 0, rc = mdb_cursor_open(w->txn, s->dbi[STORE__DB_BLOB_EXPIRY], &cur);
	if (rc)
		return store__err(rc);
	rc = store__cursor_get(s, cur, &k, &v, MDB_FIRST);
	while (rc == 0) {
		if (k.mv_size != BLOB_EXPIRY_KEY_LEN) {
			err = STORE_ECORRUPT;
			break;
		}
		if (wakks_load_be64(k.mv_data) > op->u.blob_many.now_ms)
			break;
		if (n == max) {
			res->more = true;
			break;
		}
		memcpy(due[n++], (const uint8_t *)k.mv_data + 8, STORE_ID_BYTES);
		rc = store__cursor_get(s, cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (!err && rc != 0 && rc != MDB_NOTFOUND)
		err = store__err(rc);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		struct store_blob b;
		rc = load(s, w->txn, due[i], &b);
		if (rc == STORE_ENOTFOUND)
			continue;
		if (rc)
			return rc;
		if ((rc = remove_blob(w, &b, &op->u.blob_many.removed[res->n++])))
			return rc;
	}
	return 0;
}

int store__blob_erase_owner(struct store__wtxn *w, const uint8_t account[STORE_ID_BYTES],
			    size_t max, size_t *n, bool *more)
{
	struct store *s = w->store;
	MDB_cursor *cur;
	*n = 0;
	*more = false;
	int rc = mdb_cursor_open(w->txn, s->dbi[STORE__DB_ACCOUNT_BLOBS], &cur);
	if (rc)
		return store__err(rc);
	for (;;) {
		MDB_val k = { .mv_size = STORE_ID_BYTES, .mv_data = (void *)account }, v;
		rc = store__cursor_get(s, cur, &k, &v, MDB_SET_RANGE);
		if (rc == 0 && (k.mv_size != 2 * STORE_ID_BYTES ||
				memcmp(k.mv_data, account, STORE_ID_BYTES) != 0))
			rc = MDB_NOTFOUND;
		if (rc) {
			rc = rc == MDB_NOTFOUND ? 0 : store__err(rc);
			break;
		}
		if (*n == max) {
			*more = true;
			break;
		}
		uint8_t id[STORE_ID_BYTES];
		struct store_blob b;
		struct store_blob_removed gone;
		memcpy(id, (const uint8_t *)k.mv_data + STORE_ID_BYTES, STORE_ID_BYTES);
		rc = load(s, w->txn, id, &b);
		if (rc == STORE_ENOTFOUND) /* a stale index entry */
			rc = store__err(mdb_cursor_del(cur, 0));
		else if (rc == 0)
			rc = remove_blob(w, &b, &gone);
		if (rc)
			break;
		(*n)++;
	}
	mdb_cursor_close(cur);
	return rc;
}

/* ---- builders -------------------------------------------------------------------------------- */

static int add_one(struct store_req *req, enum store__op_kind kind, const uint8_t id[STORE_ID_BYTES],
		   struct store__op **out)
{
	int idx, err;
	if (!req || !id)
		return STORE_EINVAL;
	struct store__op *op = store__req_add(req, kind, &idx, &err);
	if (!op)
		return err;
	memcpy(op->u.blob_one.blob.id, id, STORE_ID_BYTES);
	*out = op;
	return idx;
}

int store_req_blob_declare(struct store_req *req, const struct store_blob *blob, uint64_t quota_bytes)
{
	struct store__op *op = NULL;
	if (!blob || blob->size == 0)
		return STORE_EINVAL;
	int idx = add_one(req, STORE__OP_blob_declare, blob->id, &op);
	if (idx < 0)
		return idx;
	op->u.blob_one.blob = *blob;
	op->u.blob_one.quota = quota_bytes;
	return idx;
}

int store_req_blob_progress(struct store_req *req, const uint8_t id[STORE_ID_BYTES], uint64_t from,
			    uint64_t have, uint64_t expires_at_ms)
{
	struct store__op *op = NULL;
	if (have < from)
		return STORE_EINVAL;
	int idx = add_one(req, STORE__OP_blob_progress, id, &op);
	if (idx < 0)
		return idx;
	op->u.blob_one.from = from;
	op->u.blob_one.have = have;
	op->u.blob_one.blob.expires_at_ms = expires_at_ms;
	return idx;
}

int store_req_blob_complete(struct store_req *req, const uint8_t id[STORE_ID_BYTES],
			    uint64_t expires_at_ms)
{
	struct store__op *op = NULL;
	int idx = add_one(req, STORE__OP_blob_complete, id, &op);
	if (idx < 0)
		return idx;
	op->u.blob_one.blob.expires_at_ms = expires_at_ms;
	return idx;
}

const struct store_blob *store_req_blob_result(const struct store_req *req, int op, bool *created)
{
	if (!req || req->result != 0 || op < 0 || (size_t)op >= req->n_ops)
		return NULL;
	const struct store__op *o = &req->ops[op];
	if (o->kind != STORE__OP_blob_declare && o->kind != STORE__OP_blob_progress &&
	    o->kind != STORE__OP_blob_complete)
		return NULL;
	if (created)
		*created = o->u.blob_one.created;
	return &o->u.blob_one.blob;
}

/* An operation naming n blob ids, with room for `cap` removals. */
static int add_many(struct store_req *req, enum store__op_kind kind,
		    const uint8_t (*ids)[STORE_ID_BYTES], size_t n, size_t n_scratch, size_t cap,
		    struct store__op **out)
{
	int idx, err;
	if (!req)
		return STORE_EINVAL;
	uint8_t (*copy)[STORE_ID_BYTES] = malloc((n_scratch ? n_scratch : 1) * STORE_ID_BYTES);
	struct store_blob_removed *removed = calloc(cap ? cap : 1, sizeof *removed);
	if (!copy || !removed) {
		free(copy);
		free(removed);
		return STORE_ENOMEM;
	}
	if (n)
		memcpy(copy, ids, n * STORE_ID_BYTES);
	struct store__op *op = store__req_add(req, kind, &idx, &err);
	if (!op) {
		free(copy);
		free(removed);
		return err;
	}
	op->u.blob_many.ids = copy;
	op->u.blob_many.n = n;
	op->u.blob_many.removed = removed;
	op->u.blob_many.cap = cap;
	op->u.blob_many.guard_op = -1;
	op->u.blob_many.result.items = removed;
	*out = op;
	return idx;
}

int store_req_blob_ref(struct store_req *req, const uint8_t (*blob_ids)[STORE_ID_BYTES], size_t n,
		       const uint8_t (*device_ids)[STORE_ID_BYTES], size_t n_devices,
		       uint64_t expires_at_ms, int send_op)
{
	struct store__op *op = NULL;
	if (!blob_ids || !device_ids || n == 0 || n_devices == 0)
		return STORE_EINVAL;
	if (n > STORE_BLOB_REF_MAX || n_devices > STORE_SEND_MAX_RECIPIENTS)
		return STORE_ELIMIT;
	uint8_t (*devs)[STORE_ID_BYTES] = malloc(n_devices * STORE_ID_BYTES);
	if (!devs)
		return STORE_ENOMEM;
	memcpy(devs, device_ids, n_devices * STORE_ID_BYTES);
	int idx = add_many(req, STORE__OP_blob_ref, blob_ids, n, n, 0, &op);
	if (idx < 0) {
		free(devs);
		return idx;
	}
	op->u.blob_many.devices = devs;
	op->u.blob_many.n_devices = n_devices;
	op->u.blob_many.expires_at_ms = expires_at_ms;
	op->u.blob_many.guard_op = send_op;
	return idx;
}

int store_req_blob_release(struct store_req *req, const uint8_t (*blob_ids)[STORE_ID_BYTES],
			   size_t n, const uint8_t device_id[STORE_ID_BYTES], int delete_op)
{
	struct store__op *op = NULL;
	if (!blob_ids || !device_id || n == 0)
		return STORE_EINVAL;
	if (n > STORE_BLOB_REF_MAX)
		return STORE_ELIMIT;
	uint8_t (*dev)[STORE_ID_BYTES] = malloc(STORE_ID_BYTES);
	if (!dev)
		return STORE_ENOMEM;
	memcpy(dev, device_id, STORE_ID_BYTES);
	int idx = add_many(req, STORE__OP_blob_release, blob_ids, n, n, n, &op);
	if (idx < 0) {
		free(dev);
		return idx;
	}
	op->u.blob_many.devices = dev;
	op->u.blob_many.n_devices = 1;
	op->u.blob_many.guard_op = delete_op;
	return idx;
}

int store_req_blob_delete(struct store_req *req, const uint8_t id[STORE_ID_BYTES])
{
	struct store__op *op = NULL;
	if (!id)
		return STORE_EINVAL;
	return add_many(req, STORE__OP_blob_delete, (const uint8_t(*)[STORE_ID_BYTES])id, 1, 1, 1, &op);
}

int store_req_blob_expire(struct store_req *req, uint64_t now_ms, size_t max)
{
	struct store__op *op = NULL;
	if (max == 0 || max > STORE_BLOB_EXPIRE_MAX)
		return STORE_EINVAL;
	int idx = add_many(req, STORE__OP_blob_expire, NULL, 0, max, max, &op);
	if (idx < 0)
		return idx;
	op->u.blob_many.now_ms = now_ms;
	op->u.blob_many.max = max;
	return idx;
}

const struct store_blob_removal *store_req_blob_removed(const struct store_req *req, int op)
{
	if (!req || req->result != 0 || op < 0 || (size_t)op >= req->n_ops)
		return NULL;
	const struct store__op *o = &req->ops[op];
	if (o->kind != STORE__OP_blob_release && o->kind != STORE__OP_blob_delete &&
	    o->kind != STORE__OP_blob_expire)
		return NULL;
	return &o->u.blob_many.result;
}

/* ---- reads ----------------------------------------------------------------------------------- */

int store_get_blob(struct store *s, const uint8_t id[STORE_ID_BYTES], struct store_blob *out)
{
	MDB_txn *txn;
	struct store_blob b;
	if (s && s->pg)
		return pg_get_blob(s, id, out);
	if (!s || !id || !out)
		return STORE_EINVAL;
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	rc = load(s, txn, id, &b);
	store__read_end(s, txn);
	if (rc == 0)
		*out = b;
	return rc;
}

int store_list_blobs(struct store *s, store_blob_cb cb, void *data)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	if (s && s->pg)
		return pg_list_blobs(s, cb, data);
	if (!s || !cb)
		return STORE_EINVAL;
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	rc = store__err(mdb_cursor_open(txn, s->dbi[STORE__DB_BLOBS], &cur));
	if (rc)
		goto done;
	int mrc;
	for (mrc = store__cursor_get(s, cur, &k, &v, MDB_FIRST); mrc == 0 && rc == 0;
	     mrc = store__cursor_get(s, cur, &k, &v, MDB_NEXT)) {
		struct store_blob b;
		if (k.mv_size != STORE_ID_BYTES) {
			rc = STORE_ECORRUPT;
			break;
		}
		rc = store__blob_decode(k.mv_data, v.mv_data, v.mv_size, &b);
		if (rc == 0)
			rc = cb(&b, data);
	}
	/* A damaged blob record is an error: a backup must not leave out a file it cannot name. */
	if (rc == 0 && mrc == MDB_CORRUPTED)
		rc = STORE_ECORRUPT;
	mdb_cursor_close(cur);
done:
	store__read_end(s, txn);
	return rc;
}

int store_get_blob_file_count(struct store *s, const uint8_t sha256[STORE_BLOB_SHA_BYTES],
			      uint32_t *count)
{
	MDB_txn *txn;
	uint64_t v = 0;
	if (s && s->pg)
		return pg_get_blob_file_count(s, sha256, count);
	if (!s || !sha256 || !count)
		return STORE_EINVAL;
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	rc = get_counter(s, txn, STORE__DB_BLOB_FILES, sha256, STORE_BLOB_SHA_BYTES, 4, &v);
	store__read_end(s, txn);
	if (rc == 0)
		*count = (uint32_t)v;
	return rc;
}

int store_get_blob_grant(struct store *s, const uint8_t blob_id[STORE_ID_BYTES],
			 const uint8_t device_id[STORE_ID_BYTES], uint32_t *count,
			 uint64_t *expires_at_ms)
{
	MDB_txn *txn;
	uint8_t k[BLOB_GRANT_KEY_LEN];
	uint32_t n = 0;
	uint64_t until = 0;
	if (s && s->pg)
		return pg_get_blob_grant(s, blob_id, device_id, count, expires_at_ms);
	if (!s || !blob_id || !device_id || !count)
		return STORE_EINVAL;
	grant_key(k, blob_id, device_id);
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	rc = grant_get(s, txn, k, &n, &until);
	store__read_end(s, txn);
	if (rc == 0 && n == 0)
		rc = STORE_ENOTFOUND;
	if (rc == 0) {
		*count = n;
		if (expires_at_ms)
			*expires_at_ms = until;
	}
	return rc;
}

int store_get_blob_usage(struct store *s, const uint8_t account_id[STORE_ID_BYTES], uint64_t *bytes,
			 uint32_t *count)
{
	MDB_txn *txn;
	uint64_t v = 0;
	uint32_t n = 0;
	if (s && s->pg)
		return pg_get_blob_usage(s, account_id, bytes, count);
	if (!s || !account_id || !bytes)
		return STORE_EINVAL;
	int rc = store__read_begin(s, &txn);
	if (rc)
		return rc;
	rc = usage_get(s, txn, account_id, &v, &n);
	store__read_end(s, txn);
	if (rc == 0) {
		*bytes = v;
		if (count)
			*count = n;
	}
	return rc;
}
