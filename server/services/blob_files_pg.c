/* SPDX-License-Identifier: MPL-2.0 */
/* Blob bytes in the shared PostgreSQL database (wakks_storage.h store_blob_data_*): files in one
 * relay's data_dir could not be read by the others. Every call runs on libuv's threadpool with a
 * connection of the relay's blob pool; callbacks run on the loop thread, exactly once per started
 * operation, also while the relay stops. */
#include "services/blob_files_internal.h"

#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "core/log.h"
#include "relay_state.h"

/* Uploads without a record, and sealed contents no complete blob names, are removed by the sweep
 * once this old: younger ones may belong to a declare or completion another relay is about to
 * commit. */
#define SWEEP_MIN_AGE_MS (10u * 60u * 1000u)
/* Keys looked at by one sweep, of each kind. */
#define SWEEP_BATCH 256
/* A content that a removed blob leaves unused is kept when it was sealed this recently: another
 * relay may just have sealed a blob with the same bytes (the sweep removes it later if not). */
#define REMOVE_CONTENT_MIN_AGE_MS 60000u
/* Rate buckets unused this long are full again and are deleted by the sweep. */
#define RATE_IDLE_MS (60u * 60u * 1000u)

enum pg_op_kind { PG_APPEND, PG_SEAL, PG_READ, PG_REMOVE };

struct pg_op {
	uv_work_t work;
	struct relay *relay;
	struct store_aux *aux;
	enum pg_op_kind kind;
	uint8_t key[STORE_BLOB_SHA_BYTES];
	size_t key_len;
	uint8_t sha256[STORE_BLOB_SHA_BYTES];
	uint64_t offset, size, min_age_ms;
	uint8_t *buf;
	size_t len, got;
	int store_rc;
	blob_store_cb cb;
	void *arg;
};

static size_t inflight_bytes;
/* Work queued on the threadpool (operations and sweeps): the pools are closed only once it is
 * done, and a stopping relay hands them over here (blob_pg_stop). */
static unsigned pending;
static struct store_aux *closing_blobs, *closing_loop;

static void work_finished(void)
{
	if (--pending == 0 && (closing_blobs || closing_loop)) {
		store_aux_close(closing_blobs);
		store_aux_close(closing_loop);
		closing_blobs = closing_loop = NULL;
	}
}

void blob_pg_stop(struct relay *r)
{
	if (pending == 0) {
		store_aux_close(r->aux_blobs);
		store_aux_close(r->aux_loop);
	} else {
		closing_blobs = r->aux_blobs;
		closing_loop = r->aux_loop;
	}
	r->aux_blobs = r->aux_loop = NULL;
}

size_t blob_pg_inflight_bytes(void)
{
	return inflight_bytes;
}

static void op_work(uv_work_t *w)
{
	struct pg_op *op = w->data;
	switch (op->kind) {
	case PG_APPEND:
		op->store_rc = store_blob_data_write(op->aux, op->key, op->offset, op->buf, op->len);
		break;
	case PG_SEAL:
		op->store_rc = store_blob_data_seal(op->aux, op->key, op->sha256, op->size);
		break;
	case PG_READ:
		op->store_rc = store_blob_data_read(op->aux, op->sha256, op->offset, op->buf, op->len,
						    &op->got);
		break;
	case PG_REMOVE:
		op->store_rc = store_blob_data_remove(op->aux, op->key, op->key_len, op->min_age_ms);
		break;
	}
}

/* The storage result as blob_files.h's callers know results: libuv codes (a full database is a
 * full disk to them: UV_ENOSPC) and BLOB_STORE_EDIGEST. */
static int result_of(const struct pg_op *op, int status)
{
	if (status != 0)
		return status;
	switch (op->store_rc) {
	case 0:
		return 0;
	case STORE_EFULL:
		return UV_ENOSPC;
	case STORE_ENOTFOUND:
		return UV_ENOENT;
	case STORE_EINVAL:
		return op->kind == PG_SEAL ? BLOB_STORE_EDIGEST : UV_EINVAL;
	case STORE_ENOMEM:
		return UV_ENOMEM;
	default:
		return UV_EIO;
	}
}

static void op_done(uv_work_t *w, int status)
{
	struct pg_op *op = w->data;
	int result = result_of(op, status);
	if (op->kind == PG_REMOVE && result != 0)
		RLOG_WARN("blob", "remove_failed", "error=\"%s\"", store_strerror(op->store_rc));
	if (op->cb)
		op->cb(result, op->buf, op->kind == PG_READ && result == 0 ? op->got : 0, op->arg);
	inflight_bytes -= op->len;
	free(op->buf);
	free(op);
	work_finished();
}

static struct pg_op *op_new(struct relay *r, enum pg_op_kind kind, size_t buf_len, blob_store_cb cb,
			    void *arg)
{
	if (!r->aux_blobs)
		return NULL;
	struct pg_op *op = calloc(1, sizeof *op);
	if (!op)
		return NULL;
	if (buf_len && !(op->buf = malloc(buf_len))) {
		free(op);
		return NULL;
	}
	op->relay = r;
	op->aux = r->aux_blobs;
	op->kind = kind;
	op->len = buf_len;
	op->cb = cb;
	op->arg = arg;
	op->work.data = op;
	inflight_bytes += buf_len;
	return op;
}

static int op_start(struct pg_op *op)
{
	int rc = uv_queue_work(op->relay->loop, &op->work, op_work, op_done);
	if (rc < 0) {
		inflight_bytes -= op->len;
		free(op->buf);
		free(op);
		return rc;
	}
	pending++;
	return 0;
}

int blob_pg_append(struct relay *r, const uint8_t id[STORE_ID_BYTES], uint64_t offset,
		   const uint8_t *data, size_t len, blob_store_cb cb, void *arg)
{
	struct pg_op *op = op_new(r, PG_APPEND, len, cb, arg);
	if (!op)
		return UV_ENOMEM;
	memcpy(op->buf, data, len);
	memcpy(op->key, id, STORE_ID_BYTES);
	op->offset = offset;
	return op_start(op);
}

int blob_pg_seal(struct relay *r, const uint8_t id[STORE_ID_BYTES],
		 const uint8_t sha256[STORE_BLOB_SHA_BYTES], uint64_t size, blob_store_cb cb,
		 void *arg)
{
	struct pg_op *op = op_new(r, PG_SEAL, 0, cb, arg);
	if (!op)
		return UV_ENOMEM;
	memcpy(op->key, id, STORE_ID_BYTES);
	memcpy(op->sha256, sha256, STORE_BLOB_SHA_BYTES);
	op->size = size;
	return op_start(op);
}

int blob_pg_read(struct relay *r, const uint8_t sha256[STORE_BLOB_SHA_BYTES], uint64_t offset,
		 size_t len, blob_store_cb cb, void *arg)
{
	struct pg_op *op = op_new(r, PG_READ, len, cb, arg);
	if (!op)
		return UV_ENOMEM;
	memcpy(op->sha256, sha256, STORE_BLOB_SHA_BYTES);
	op->offset = offset;
	return op_start(op);
}

static void remove_key(struct relay *r, const uint8_t *key, size_t key_len, uint64_t min_age_ms)
{
	struct pg_op *op = op_new(r, PG_REMOVE, 0, NULL, NULL);
	if (!op)
		return;
	memcpy(op->key, key, key_len);
	op->key_len = key_len;
	op->min_age_ms = min_age_ms;
	(void)op_start(op);
}

void blob_pg_remove(struct relay *r, const struct store_blob_removed *rm)
{
	if (rm->state == STORE_BLOB_UPLOADING)
		remove_key(r, rm->id, STORE_ID_BYTES, 0);
	else if (rm->file_unused)
		remove_key(r, rm->sha256, STORE_BLOB_SHA_BYTES, REMOVE_CONTENT_MIN_AGE_MS);
}

/* ---- sweep: data no record names ------------------------------------------------------------- */

struct pg_sweep {
	uv_work_t work;
	struct relay *relay;
	struct store_aux *blobs, *rates;
	uint8_t ids[SWEEP_BATCH][STORE_ID_BYTES];
	uint8_t shas[SWEEP_BATCH][STORE_BLOB_SHA_BYTES];
	int n_ids, n_shas;
	int rates_removed;
};

static void sweep_list(uv_work_t *w)
{
	struct pg_sweep *sw = w->data;
	sw->n_ids = store_blob_data_list(sw->blobs, STORE_ID_BYTES, NULL, SWEEP_MIN_AGE_MS,
					 &sw->ids[0][0], SWEEP_BATCH);
	sw->n_shas = store_blob_data_list(sw->blobs, STORE_BLOB_SHA_BYTES, NULL, SWEEP_MIN_AGE_MS,
					  &sw->shas[0][0], SWEEP_BATCH);
	sw->rates_removed = sw->rates ? store_rate_sweep(sw->rates, RATE_IDLE_MS) : 0;
	(void)store_challenge_sweep(sw->blobs); /* expired login challenges */
}

/* On the loop: decides each listed key against the records, as the file sweep does. */
static void sweep_listed(uv_work_t *w, int status)
{
	struct pg_sweep *sw = w->data;
	struct relay *r = sw->relay;
	size_t removed = 0;
	if (status == 0 && r->store && !r->stopping) {
		for (int i = 0; i < sw->n_ids; i++) {
			struct store_blob b;
			int rc = store_get_blob(r->store, sw->ids[i], &b);
			if (rc == STORE_ENOTFOUND || (rc == 0 && b.state != STORE_BLOB_UPLOADING)) {
				remove_key(r, sw->ids[i], STORE_ID_BYTES, SWEEP_MIN_AGE_MS);
				removed++;
			}
		}
		for (int i = 0; i < sw->n_shas; i++) {
			uint32_t n = 0;
			if (store_get_blob_file_count(r->store, sw->shas[i], &n) == 0 && n == 0) {
				remove_key(r, sw->shas[i], STORE_BLOB_SHA_BYTES, SWEEP_MIN_AGE_MS);
				removed++;
			}
		}
	}
	if (sw->n_ids < 0 || sw->n_shas < 0)
		RLOG_WARN("blob", "sweep_failed", "error=\"%s\"",
			  store_strerror(sw->n_ids < 0 ? sw->n_ids : sw->n_shas));
	if (removed)
		RLOG_INFO("blob", "swept", "stored_blobs=%zu", removed);
	if (sw->rates_removed > 0)
		RLOG_DEBUG("rate", "swept", "buckets=%d", sw->rates_removed);
	free(sw);
	work_finished();
}

void blob_pg_sweep(struct relay *r)
{
	if (!r->aux_blobs)
		return;
	struct pg_sweep *sw = calloc(1, sizeof *sw);
	if (!sw)
		return;
	sw->relay = r;
	sw->blobs = r->aux_blobs;
	sw->rates = r->aux_blobs; /* the loop thread's pool stays free for it */
	sw->work.data = sw;
	if (uv_queue_work(r->loop, &sw->work, sweep_list, sweep_listed) < 0)
		free(sw);
	else
		pending++;
}
