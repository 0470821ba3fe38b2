/* SPDX-License-Identifier: MPL-2.0 */
/* Blob files through libuv's asynchronous filesystem calls: each operation is a small state
 * machine of uv_fs_* steps whose callbacks start the next step. */
#include "services/blob_files.h"
#include "services/blob_files_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "core/clock.h"
#include "core/log.h"
#include "net/conn.h"
#include "relay_state.h"

#define BLOB_PATH_MAX (RELAY_CONFIG_PATH_MAX + 96)

enum blob_op_kind { OP_APPEND, OP_SEAL, OP_READ, OP_REMOVE };

struct blob_op {
	uv_fs_t fs;
	uv_work_t work;
	struct relay *relay;
	enum blob_op_kind kind;
	int step;
	uv_file fd;
	char path[BLOB_PATH_MAX];
	char path2[BLOB_PATH_MAX];
	uint8_t *buf;
	size_t len, done;
	uint64_t offset;
	uint64_t size;
	uint8_t sha256[STORE_BLOB_SHA_BYTES];
	int result;
	blob_store_cb cb;
	void *arg;
};

static size_t inflight_bytes;

size_t blob_store_inflight_bytes(const struct relay *r)
{
	(void)r;
	return inflight_bytes + blob_pg_inflight_bytes();
}

void blob_store_stop(struct relay *r)
{
	blob_pg_stop(r);
}

static void hex(char *out, const uint8_t *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static void tmp_path(const struct relay *r, const uint8_t id[STORE_ID_BYTES], char out[BLOB_PATH_MAX])
{
	char h[2 * STORE_ID_BYTES + 1];
	hex(h, id, STORE_ID_BYTES);
	snprintf(out, BLOB_PATH_MAX, "%s/blobs/tmp/%s", r->cfg.data_dir, h);
}

static void final_path(const struct relay *r, const uint8_t sha[STORE_BLOB_SHA_BYTES],
		       char out[BLOB_PATH_MAX])
{
	char h[2 * STORE_BLOB_SHA_BYTES + 1];
	hex(h, sha, STORE_BLOB_SHA_BYTES);
	snprintf(out, BLOB_PATH_MAX, "%s/blobs/%s", r->cfg.data_dir, h);
}

int blob_store_init(struct relay *r)
{
	if (r->aux_blobs)
		return 0; /* the bytes are in the shared database (blob_files_pg.c) */
	char path[BLOB_PATH_MAX];
	snprintf(path, sizeof path, "%s/blobs", r->cfg.data_dir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	snprintf(path, sizeof path, "%s/blobs/tmp", r->cfg.data_dir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

static struct blob_op *op_new(struct relay *r, enum blob_op_kind kind, size_t buf_len,
			      blob_store_cb cb, void *arg)
{
	struct blob_op *op = calloc(1, sizeof *op);
	if (!op)
		return NULL;
	if (buf_len && !(op->buf = malloc(buf_len))) {
		free(op);
		return NULL;
	}
	op->relay = r;
	op->kind = kind;
	op->fd = -1;
	op->len = buf_len;
	op->cb = cb;
	op->arg = arg;
	op->fs.data = op;
	op->work.data = op;
	inflight_bytes += buf_len;
	return op;
}

static void op_finish(struct blob_op *op)
{
	if (op->cb)
		op->cb(op->result, op->buf, op->kind == OP_READ ? op->done : 0, op->arg);
	inflight_bytes -= op->len;
	free(op->buf);
	free(op);
}

static void step(uv_fs_t *req);

/* Closes the file if open, then finishes with op->result. */
static void close_and_finish(struct blob_op *op)
{
	if (op->fd >= 0) {
		uv_file fd = op->fd;
		op->fd = -1;
		op->step = -1; /* the close's callback finishes */
		if (uv_fs_close(op->relay->loop, &op->fs, fd, step) == 0)
			return;
	}
	op_finish(op);
}

/* ---- append: open, write (until all is written), fdatasync, close ---------------------------- */

enum { A_OPEN, A_WRITE, A_SYNC };

static int append_next(struct blob_op *op, ssize_t res)
{
	uv_loop_t *loop = op->relay->loop;
	switch (op->step) {
	case A_OPEN:
		op->fd = (uv_file)res;
		op->step = A_WRITE;
		res = 0;
		/* fall through */
	case A_WRITE: {
		op->done += (size_t)res;
		if (op->done < op->len) {
			uv_buf_t b = uv_buf_init((char *)op->buf + op->done, (unsigned)(op->len - op->done));
			return uv_fs_write(loop, &op->fs, op->fd, &b, 1, (int64_t)(op->offset + op->done), step);
		}
		op->step = A_SYNC;
		return uv_fs_fdatasync(loop, &op->fs, op->fd, step);
	}
	case A_SYNC:
		close_and_finish(op);
		return 0;
	}
	return UV_EINVAL;
}

/* ---- seal: hash on the threadpool, rename, fsync the directory ------------------------------- */

enum { S_RENAME = 1, S_DIR_OPEN, S_DIR_SYNC };

static void seal_hash(uv_work_t *w)
{
	struct blob_op *op = w->data;
	uint8_t buf[65536], got[STORE_BLOB_SHA_BYTES];
	crypto_hash_sha256_state st;
	uint64_t total = 0;
	int fd = open(op->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		op->result = uv_translate_sys_error(errno);
		return;
	}
	crypto_hash_sha256_init(&st);
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof buf, (off_t)total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			op->result = uv_translate_sys_error(errno);
			close(fd);
			return;
		}
		if (n == 0)
			break;
		crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
		total += (uint64_t)n;
	}
	close(fd);
	crypto_hash_sha256_final(&st, got);
	op->result = total == op->size && sodium_memcmp(got, op->sha256, sizeof got) == 0
			     ? 0 : BLOB_STORE_EDIGEST;
}

static void seal_hashed(uv_work_t *w, int status)
{
	struct blob_op *op = w->data;
	if (status != 0 && op->result == 0)
		op->result = status;
	if (op->result == 0) {
		op->step = S_RENAME;
		op->result = uv_fs_rename(op->relay->loop, &op->fs, op->path, op->path2, step);
		if (op->result == 0)
			return;
	}
	op_finish(op);
}

static int seal_next(struct blob_op *op, ssize_t res)
{
	uv_loop_t *loop = op->relay->loop;
	switch (op->step) {
	case S_RENAME: {
		op->step = S_DIR_OPEN;
		snprintf(op->path, sizeof op->path, "%s/blobs", op->relay->cfg.data_dir);
		return uv_fs_open(loop, &op->fs, op->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, step);
	}
	case S_DIR_OPEN:
		op->fd = (uv_file)res;
		op->step = S_DIR_SYNC;
		return uv_fs_fsync(loop, &op->fs, op->fd, step);
	case S_DIR_SYNC:
		close_and_finish(op);
		return 0;
	}
	return UV_EINVAL;
}

/* ---- read: open, read, close ------------------------------------------------------------------ */

enum { R_OPEN, R_READ };

static int read_more(struct blob_op *op)
{
	uv_buf_t b = uv_buf_init((char *)op->buf + op->done, (unsigned)(op->len - op->done));
	return uv_fs_read(op->relay->loop, &op->fs, op->fd, &b, 1, (int64_t)(op->offset + op->done),
			  step);
}

static int read_next(struct blob_op *op, ssize_t res)
{
	switch (op->step) {
	case R_OPEN:
		op->fd = (uv_file)res;
		op->step = R_READ;
		return read_more(op);
	case R_READ:
		op->done += (size_t)res;
		if (res > 0 && op->done < op->len)
			return read_more(op);
		close_and_finish(op); /* all asked for, or the end of the file */
		return 0;
	}
	return UV_EINVAL;
}

/* One callback for every uv_fs step of every operation. */
static void step(uv_fs_t *req)
{
	struct blob_op *op = req->data;
	ssize_t res = req->result;
	uv_fs_req_cleanup(req);
	if (op->step == -1) { /* the close after the last step */
		op_finish(op);
		return;
	}
	if (op->kind == OP_REMOVE) {
		if (res < 0 && res != UV_ENOENT)
			RLOG_WARN("blob", "unlink_failed", "error=\"%s\"", uv_strerror((int)res));
		op_finish(op);
		return;
	}
	if (res < 0) {
		op->result = (int)res;
		close_and_finish(op);
		return;
	}
	int rc;
	if (op->kind == OP_APPEND)
		rc = append_next(op, res);
	else if (op->kind == OP_SEAL)
		rc = seal_next(op, res);
	else
		rc = read_next(op, res);
	if (rc < 0) {
		op->result = rc;
		close_and_finish(op);
	}
}

int blob_store_append(struct relay *r, const uint8_t id[STORE_ID_BYTES], uint64_t offset,
		      const uint8_t *data, size_t len, blob_store_cb cb, void *arg)
{
	if (r->aux_blobs)
		return blob_pg_append(r, id, offset, data, len, cb, arg);
	struct blob_op *op = op_new(r, OP_APPEND, len, cb, arg);
	if (!op)
		return UV_ENOMEM;
	memcpy(op->buf, data, len);
	op->offset = offset;
	op->step = A_OPEN;
	tmp_path(r, id, op->path);
	int rc = uv_fs_open(r->loop, &op->fs, op->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600, step);
	if (rc < 0) {
		op->cb = NULL;
		op_finish(op);
	}
	return rc;
}

int blob_store_seal(struct relay *r, const uint8_t id[STORE_ID_BYTES],
		    const uint8_t sha256[STORE_BLOB_SHA_BYTES], uint64_t size, blob_store_cb cb,
		    void *arg)
{
	if (r->aux_blobs)
		return blob_pg_seal(r, id, sha256, size, cb, arg);
	struct blob_op *op = op_new(r, OP_SEAL, 0, cb, arg);
	if (!op)
		return UV_ENOMEM;
	memcpy(op->sha256, sha256, sizeof op->sha256);
	op->size = size;
	tmp_path(r, id, op->path);
	final_path(r, sha256, op->path2);
	int rc = uv_queue_work(r->loop, &op->work, seal_hash, seal_hashed);
	if (rc < 0) {
		op->cb = NULL;
		op_finish(op);
	}
	return rc;
}

int blob_store_read(struct relay *r, const uint8_t sha256[STORE_BLOB_SHA_BYTES], uint64_t offset,
		    size_t len, blob_store_cb cb, void *arg)
{
	if (r->aux_blobs)
		return blob_pg_read(r, sha256, offset, len, cb, arg);
	struct blob_op *op = op_new(r, OP_READ, len, cb, arg);
	if (!op)
		return UV_ENOMEM;
	op->offset = offset;
	op->step = R_OPEN;
	final_path(r, sha256, op->path);
	int rc = uv_fs_open(r->loop, &op->fs, op->path, O_RDONLY | O_CLOEXEC, 0, step);
	if (rc < 0) {
		op->cb = NULL;
		op_finish(op);
	}
	return rc;
}

void blob_store_remove(struct relay *r, const struct store_blob_removed *rm)
{
	if (r->aux_blobs) {
		blob_pg_remove(r, rm);
		return;
	}
	if (rm->state == STORE_BLOB_COMPLETE && !rm->file_unused)
		return;
	struct blob_op *op = op_new(r, OP_REMOVE, 0, NULL, NULL);
	if (!op)
		return;
	if (rm->state == STORE_BLOB_UPLOADING)
		tmp_path(r, rm->id, op->path);
	else
		final_path(r, rm->sha256, op->path);
	if (uv_fs_unlink(r->loop, &op->fs, op->path, step) < 0)
		op_finish(op);
}

/* ---- sweep: files without a record ------------------------------------------------------------ */

struct blob_sweep {
	uv_fs_t fs;
	struct relay *relay;
	bool tmp;
	size_t removed;
};

static int unhex(const char *h, size_t n, uint8_t *out)
{
	if (strlen(h) != 2 * n)
		return -1;
	return sodium_hex2bin(out, n, h, 2 * n, NULL, NULL, NULL) == 0 ? 0 : -1;
}

/* Whether the file named `name` (in blobs/, or blobs/tmp/ when tmp) belongs to no blob record. */
static bool unreferenced(struct relay *r, bool tmp, const char *name)
{
	if (tmp) {
		uint8_t id[STORE_ID_BYTES];
		struct store_blob b;
		if (unhex(name, STORE_ID_BYTES, id) != 0)
			return false; /* not ours: leave it */
		int rc = store_get_blob(r->store, id, &b);
		return rc == STORE_ENOTFOUND || (rc == 0 && b.state != STORE_BLOB_UPLOADING);
	}
	uint8_t sha[STORE_BLOB_SHA_BYTES];
	uint32_t n = 0;
	if (unhex(name, STORE_BLOB_SHA_BYTES, sha) != 0)
		return false;
	return store_get_blob_file_count(r->store, sha, &n) == 0 && n == 0;
}

static void sweep_scanned(uv_fs_t *req)
{
	struct blob_sweep *sw = req->data;
	struct relay *r = sw->relay;
	uv_dirent_t ent;
	/* A blob being written or checked may have a file without a (complete) record yet: sweep
	 * only while none is, and decide each file now, on the loop, in one go. */
	if (req->result >= 0 && r->store && !r->stopping && !r->blob_busy) {
		while (uv_fs_scandir_next(req, &ent) != UV_EOF) {
			if (ent.type != UV_DIRENT_FILE || !unreferenced(r, sw->tmp, ent.name))
				continue;
			struct blob_op *op = op_new(r, OP_REMOVE, 0, NULL, NULL);
			if (!op)
				break;
			snprintf(op->path, sizeof op->path, "%s/blobs/%s%s", r->cfg.data_dir,
				 sw->tmp ? "tmp/" : "", ent.name);
			if (uv_fs_unlink(r->loop, &op->fs, op->path, step) < 0)
				op_finish(op);
			else
				sw->removed++;
		}
	}
	if (sw->removed)
		RLOG_INFO("blob", "swept", "files=%zu", sw->removed);
	uv_fs_req_cleanup(req);
	free(sw);
}

void blob_store_sweep(struct relay *r)
{
	if (r->aux_blobs) {
		blob_pg_sweep(r);
		return;
	}
	for (int tmp = 0; tmp < 2; tmp++) {
		struct blob_sweep *sw = calloc(1, sizeof *sw);
		if (!sw)
			return;
		char path[BLOB_PATH_MAX];
		snprintf(path, sizeof path, "%s/blobs%s", r->cfg.data_dir, tmp ? "/tmp" : "");
		sw->relay = r;
		sw->tmp = tmp;
		sw->fs.data = sw;
		if (uv_fs_scandir(r->loop, &sw->fs, path, 0, sweep_scanned) < 0)
			free(sw);
	}
}

/* ---- references from send, ack and expiry ------------------------------------------------------ */

int relay_blob_check_refs(struct relay_conn *c, const uint8_t *const *ids, size_t n)
{
	struct relay *r = c->relay;
	for (size_t i = 0; i < n; i++) {
		struct store_blob b;
		uint32_t count;
		if (store_get_blob(r->store, ids[i], &b) != 0 || b.state != STORE_BLOB_COMPLETE)
			return -1;
		uint64_t until = 0;
		if (memcmp(b.owner_account, c->account_id, STORE_ID_BYTES) != 0 &&
		    (store_get_blob_grant(r->store, b.id, c->device_id, &count, &until) != 0 ||
		     until <= relay_now_ms()))
			return -1;
	}
	return 0;
}

void relay_blob_removed(struct relay *r, const struct store_blob_removal *rm)
{
	for (size_t i = 0; rm && i < rm->n; i++)
		blob_store_remove(r, &rm->items[i]);
	if (rm && rm->n)
		RLOG_INFO("blob", "removed", "blobs=%zu", rm->n);
}
