/* SPDX-License-Identifier: MPL-2.0 */
/* Blob bytes in the database (tables blob_data and blob_sealed, schema_relay.c): every relay
 * reads what any relay wrote, and the bytes are as durable and replicated as the records. Each
 * function is one transaction on a pooled connection (aux_pool.c), called from the threadpool. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "aux_internal.h"

/* Chunks read per statement while sealing: a bound on the memory of one seal (at most 8 MiB with
 * the largest chunks) independent of the blob's size. */
#define SEAL_ROWS_PER_READ 8

static int lock_key(PGconn *conn, const uint8_t *key)
{
	struct aux_params p = { 0 };
	aux_param_i64(&p, aux_lock_key(key));
	int err = 0;
	PGresult *res = aux_exec(conn, "SELECT pg_advisory_xact_lock($1)", &p, &err);
	PQclear(res);
	return res ? 0 : err;
}

static int commit(PGconn *conn)
{
	/* With synchronous_commit on (and a synchronous standby), returned = durable (replicated). */
	return aux_simple(conn, "COMMIT");
}

/* ---- write --------------------------------------------------------------------------------- */

struct write_args {
	const uint8_t *id;
	int64_t offset;
	const uint8_t *data;
	size_t len;
};

static int write_fn(PGconn *conn, void *arg)
{
	struct write_args *w = arg;
	int rc = aux_simple(conn, "BEGIN");
	if (rc == 0)
		rc = lock_key(conn, w->id);
	int err = 0;
	if (rc == 0) {
		/* Uploads are sequential (spec/relay.md §9): whatever lies at or past offset was
		 * written but never recorded (the relay failed between the two); it is replaced. */
		struct aux_params p = { 0 };
		aux_param_bytes(&p, w->id, STORE_ID_BYTES);
		aux_param_i64(&p, w->offset);
		PGresult *res = aux_exec(conn, "DELETE FROM blob_data WHERE key = $1 AND off >= $2",
					 &p, &err);
		PQclear(res);
		rc = res ? 0 : err;
	}
	if (rc == 0) {
		struct aux_params p = { 0 };
		aux_param_bytes(&p, w->id, STORE_ID_BYTES);
		aux_param_i64(&p, w->offset);
		aux_param_i64(&p, (int64_t)w->len);
		aux_param_bytes(&p, w->data, w->len);
		PGresult *res = aux_exec(conn,
					 "INSERT INTO blob_data (key, off, len, data, written_ms)"
					 " VALUES ($1, $2, $3, $4, " AUX_NOW_MS ")",
					 &p, &err);
		PQclear(res);
		rc = res ? 0 : err;
	}
	return rc ? rc : commit(conn);
}

int store_blob_data_write(struct store_aux *aux, const uint8_t id[STORE_ID_BYTES], uint64_t offset,
			  const uint8_t *data, size_t len)
{
	if (!aux || len == 0 || len > STORE_BLOB_CHUNK_MAX || offset > INT64_MAX)
		return STORE_EINVAL;
	struct write_args w = { .id = id, .offset = (int64_t)offset, .data = data, .len = len };
	return aux_run(aux, write_fn, &w);
}

/* ---- seal ---------------------------------------------------------------------------------- */

struct seal_args {
	const uint8_t *id;
	const uint8_t *sha256;
	int64_t size;
};

/* Content already sealed with this size: refreshes its sealed_ms (so that a sweep that decided it
 * unused before this seal leaves it) and tells whether it exists. */
static int touch_sealed(PGconn *conn, const struct seal_args *s, bool *exists)
{
	struct aux_params p = { 0 };
	aux_param_bytes(&p, s->sha256, STORE_BLOB_SHA_BYTES);
	aux_param_i64(&p, s->size);
	int err = 0;
	PGresult *res = aux_exec(conn,
				 "UPDATE blob_sealed SET sealed_ms = " AUX_NOW_MS
				 " WHERE sha256 = $1 AND size = $2",
				 &p, &err);
	if (!res)
		return err;
	*exists = strcmp(PQcmdTuples(res), "0") != 0;
	PQclear(res);
	return 0;
}

/* Hashes the upload's chunks in order; 0 when they are contiguous from 0, size bytes in all, with
 * the declared SHA-256; STORE_EINVAL otherwise. */
static int verify_chunks(PGconn *conn, const struct seal_args *s)
{
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	int64_t next = 0;
	for (;;) {
		struct aux_params p = { 0 };
		aux_param_bytes(&p, s->id, STORE_ID_BYTES);
		aux_param_i64(&p, next);
		aux_param_i64(&p, SEAL_ROWS_PER_READ);
		int err = 0;
		PGresult *res = aux_exec(conn,
					 "SELECT off, data FROM blob_data WHERE key = $1 AND off >= $2"
					 " ORDER BY off LIMIT $3",
					 &p, &err);
		if (!res)
			return err;
		int n = PQntuples(res);
		for (int i = 0; i < n; i++) {
			int64_t off = aux_get_i64(res, i, 0);
			int len = PQgetlength(res, i, 1);
			if (off != next || len <= 0 || off + len > s->size) {
				PQclear(res);
				return STORE_EINVAL; /* a gap, or bytes past the declared size */
			}
			crypto_hash_sha256_update(&st, (const unsigned char *)PQgetvalue(res, i, 1),
						  (unsigned long long)len);
			next = off + len;
		}
		PQclear(res);
		if (n < SEAL_ROWS_PER_READ)
			break;
	}
	uint8_t got[STORE_BLOB_SHA_BYTES];
	crypto_hash_sha256_final(&st, got);
	if (next != s->size || sodium_memcmp(got, s->sha256, sizeof got) != 0)
		return STORE_EINVAL;
	return 0;
}

static int seal_fn(PGconn *conn, void *arg)
{
	struct seal_args *s = arg;
	int rc = aux_simple(conn, "BEGIN");
	if (rc == 0)
		rc = lock_key(conn, s->id);
	if (rc == 0)
		rc = lock_key(conn, s->sha256);
	bool exists = false;
	if (rc == 0)
		rc = touch_sealed(conn, s, &exists);
	if (rc == 0 && !exists)
		rc = verify_chunks(conn, s);
	int err = 0;
	if (rc == 0 && !exists) {
		struct aux_params p = { 0 };
		aux_param_bytes(&p, s->sha256, STORE_BLOB_SHA_BYTES);
		aux_param_i64(&p, s->size);
		PGresult *res = aux_exec(conn,
					 "INSERT INTO blob_sealed (sha256, size, sealed_ms)"
					 " VALUES ($1, $2, " AUX_NOW_MS ")",
					 &p, &err);
		PQclear(res);
		rc = res ? 0 : err;
		if (rc == 0) {
			struct aux_params q = { 0 };
			aux_param_bytes(&q, s->sha256, STORE_BLOB_SHA_BYTES);
			aux_param_bytes(&q, s->id, STORE_ID_BYTES);
			res = aux_exec(conn,
				       "UPDATE blob_data SET key = $1, written_ms = " AUX_NOW_MS
				       " WHERE key = $2",
				       &q, &err);
			PQclear(res);
			rc = res ? 0 : err;
		}
	} else if (rc == 0) {
		/* The same content is sealed already (another blob with these bytes, or this seal
		 * committed before a lost connection hid its answer): the upload's copy goes. */
		struct aux_params p = { 0 };
		aux_param_bytes(&p, s->id, STORE_ID_BYTES);
		PGresult *res = aux_exec(conn, "DELETE FROM blob_data WHERE key = $1", &p, &err);
		PQclear(res);
		rc = res ? 0 : err;
	}
	if (rc != 0)
		return rc;
	return commit(conn);
}

int store_blob_data_seal(struct store_aux *aux, const uint8_t id[STORE_ID_BYTES],
			 const uint8_t sha256[STORE_BLOB_SHA_BYTES], uint64_t size)
{
	if (!aux || size == 0 || size > INT64_MAX)
		return STORE_EINVAL;
	struct seal_args s = { .id = id, .sha256 = sha256, .size = (int64_t)size };
	return aux_run(aux, seal_fn, &s);
}

/* ---- read ---------------------------------------------------------------------------------- */

struct read_args {
	const uint8_t *sha256;
	int64_t offset;
	uint8_t *buf;
	size_t len;
	size_t got;
};

static int read_fn(PGconn *conn, void *arg)
{
	struct read_args *r = arg;
	r->got = 0;
	struct aux_params p = { 0 };
	aux_param_bytes(&p, r->sha256, STORE_BLOB_SHA_BYTES);
	int err = 0;
	PGresult *res = aux_exec(conn, "SELECT size FROM blob_sealed WHERE sha256 = $1", &p, &err);
	if (!res)
		return err;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return STORE_ENOTFOUND;
	}
	int64_t size = aux_get_i64(res, 0, 0);
	PQclear(res);
	if (r->offset >= size)
		return 0;
	int64_t end = r->offset + (int64_t)r->len;
	if (end > size)
		end = size;
	struct aux_params q = { 0 };
	aux_param_bytes(&q, r->sha256, STORE_BLOB_SHA_BYTES);
	aux_param_i64(&q, r->offset);
	aux_param_i64(&q, end);
	/* Rows overlapping [offset, end): the index bounds the scan by off < end. */
	res = aux_exec(conn,
		       "SELECT off, data FROM blob_data WHERE key = $1 AND off < $3"
		       " AND off + len > $2 ORDER BY off",
		       &q, &err);
	if (!res)
		return err;
	int64_t at = r->offset;
	for (int i = 0; i < PQntuples(res) && at < end; i++) {
		int64_t off = aux_get_i64(res, i, 0);
		int64_t len = PQgetlength(res, i, 1);
		if (off > at || off + len <= at)
			break; /* a gap: sealed content never has one */
		int64_t n = (off + len < end ? off + len : end) - at;
		memcpy(r->buf + (at - r->offset), PQgetvalue(res, i, 1) + (at - off), (size_t)n);
		at += n;
	}
	PQclear(res);
	if (at != end)
		return STORE_EIO;
	r->got = (size_t)(end - r->offset);
	return 0;
}

int store_blob_data_read(struct store_aux *aux, const uint8_t sha256[STORE_BLOB_SHA_BYTES],
			 uint64_t offset, uint8_t *buf, size_t len, size_t *got)
{
	if (!aux || offset > INT64_MAX || len > INT64_MAX - offset)
		return STORE_EINVAL;
	struct read_args r = { .sha256 = sha256, .offset = (int64_t)offset, .buf = buf, .len = len };
	int rc = aux_run(aux, read_fn, &r);
	if (rc == 0)
		*got = r.got;
	return rc;
}

/* ---- remove and list ------------------------------------------------------------------------- */

struct remove_args {
	const uint8_t *key;
	size_t key_len;
	int64_t min_age_ms;
};

static int remove_fn(PGconn *conn, void *arg)
{
	struct remove_args *m = arg;
	int rc = aux_simple(conn, "BEGIN");
	if (rc == 0)
		rc = lock_key(conn, m->key);
	int err = 0;
	bool sealed = m->key_len == STORE_BLOB_SHA_BYTES;
	bool go = true;
	if (rc == 0 && sealed) {
		/* A seal refreshes sealed_ms under the same lock: content sealed again since the
		 * caller decided it was unused stays. */
		struct aux_params p = { 0 };
		aux_param_bytes(&p, m->key, m->key_len);
		aux_param_i64(&p, m->min_age_ms);
		PGresult *res = aux_exec(conn,
					 "DELETE FROM blob_sealed WHERE sha256 = $1"
					 " AND sealed_ms <= " AUX_NOW_MS " - $2",
					 &p, &err);
		if (res)
			go = strcmp(PQcmdTuples(res), "0") != 0;
		PQclear(res);
		rc = res ? 0 : err;
	}
	if (rc == 0 && go) {
		struct aux_params p = { 0 };
		aux_param_bytes(&p, m->key, m->key_len);
		aux_param_i64(&p, m->min_age_ms);
		/* An upload written to within min_age_ms is kept whole. */
		PGresult *res = aux_exec(conn,
					 sealed ? "DELETE FROM blob_data WHERE key = $1 AND $2 >= 0"
						: "DELETE FROM blob_data WHERE key = $1 AND NOT EXISTS"
						  " (SELECT 1 FROM blob_data WHERE key = $1"
						  "  AND written_ms > " AUX_NOW_MS " - $2)",
					 &p, &err);
		PQclear(res);
		rc = res ? 0 : err;
	}
	return rc ? rc : commit(conn);
}

int store_blob_data_remove(struct store_aux *aux, const uint8_t *key, size_t key_len,
			   uint64_t min_age_ms)
{
	if (!aux || (key_len != STORE_ID_BYTES && key_len != STORE_BLOB_SHA_BYTES) ||
	    min_age_ms > INT64_MAX / 2)
		return STORE_EINVAL;
	struct remove_args m = { .key = key, .key_len = key_len, .min_age_ms = (int64_t)min_age_ms };
	return aux_run(aux, remove_fn, &m);
}

struct list_args {
	size_t key_len;
	const uint8_t *after;
	int64_t min_age_ms;
	uint8_t *keys;
	size_t max;
	int n;
};

static int list_fn(PGconn *conn, void *arg)
{
	struct list_args *l = arg;
	static const uint8_t none[1] = { 0 };
	struct aux_params p = { 0 };
	/* Every key sorts after the empty bytea. */
	aux_param_bytes(&p, l->after ? l->after : none, l->after ? l->key_len : 0);
	aux_param_i64(&p, l->min_age_ms);
	aux_param_i64(&p, (int64_t)l->max);
	int err = 0;
	PGresult *res = aux_exec(
		conn,
		l->key_len == STORE_BLOB_SHA_BYTES
			? "SELECT sha256 FROM blob_sealed WHERE sha256 > $1"
			  " AND sealed_ms <= " AUX_NOW_MS " - $2 ORDER BY sha256 LIMIT $3"
			: "SELECT key FROM blob_data WHERE key > $1 AND length(key) = 16"
			  " GROUP BY key HAVING max(written_ms) <= " AUX_NOW_MS " - $2"
			  " ORDER BY key LIMIT $3",
		&p, &err);
	if (!res)
		return err;
	int n = PQntuples(res);
	l->n = 0;
	for (int i = 0; i < n && (size_t)i < l->max; i++) {
		if ((size_t)PQgetlength(res, i, 0) != l->key_len)
			continue;
		memcpy(l->keys + (size_t)l->n * l->key_len, PQgetvalue(res, i, 0), l->key_len);
		l->n++;
	}
	PQclear(res);
	return 0;
}

int store_blob_data_list(struct store_aux *aux, size_t key_len, const uint8_t *after,
			 uint64_t min_age_ms, uint8_t *keys, size_t max)
{
	if (!aux || (key_len != STORE_ID_BYTES && key_len != STORE_BLOB_SHA_BYTES) || max == 0 ||
	    max > 100000 || min_age_ms > INT64_MAX / 2)
		return STORE_EINVAL;
	struct list_args l = { .key_len = key_len, .after = after, .min_age_ms = (int64_t)min_age_ms,
			       .keys = keys, .max = max };
	int rc = aux_run(aux, list_fn, &l);
	return rc ? rc : l.n;
}
