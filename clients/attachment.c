/* SPDX-License-Identifier: MPL-2.0 */
/* File messages (spec/client.md §5a, §6a). Sending: the file is encrypted under a fresh key, the
 * ciphertext kept in the store's outbox/ and the message queued as pending with its attachment;
 * the upload is the first phase of sending it (blob_put, then blob_chunk from the relay's
 * `have`, so a reconnect or restart continues where the relay stands). Receiving: the blob is
 * downloaded before the envelope is acknowledged, its size and SHA-256 are checked against the
 * descriptor before anything is decrypted, and the plaintext is saved as a new file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "wakks_internal.h"

#define ATT_RECORD_VERSION 1
#define CHUNK PROTO_MAX_BLOB_CHUNK_BYTES
/* A refused blob request without a retry time is asked again after this long. */
#define BLOB_RETRY_MS 2000u
/* Saved names: a sender's file name is cut to this many bytes, leaving room for "-N". */
#define SAVED_NAME_MAX 200
/* "name", "name-2", ... "name-999": then the save fails rather than loop for ever. */
#define SAVED_NAME_TRIES 999

/* ---- the WT_ATT record -------------------------------------------------------------------- */

static void att_view(struct wakks__att *a)
{
	memset(&a->pub, 0, sizeof a->pub);
	snprintf(a->pub.file_name, sizeof a->pub.file_name, "%s", a->desc.file_name);
	snprintf(a->pub.media_type, sizeof a->pub.media_type, "%s", a->desc.media_type);
	a->pub.size = a->desc.size;
	a->pub.state = a->state;
	a->pub.path = a->path;
}

int wakks__att_put(wakks__txn *t, uint64_t seq, const struct wakks__att *a)
{
	uint8_t desc[WC_ATTACHMENT_DESCRIPTOR_MAX], key[8];
	size_t dl;
	if (wc_attachment_encode(&a->desc, desc, sizeof desc, &dl) != 0)
		return WAKKS_E_INVAL;
	wakks__buf b = { 0 };
	size_t pl = strnlen(a->path, sizeof a->path);
	wakks__put_u8(&b, ATT_RECORD_VERSION);
	wakks__put_u8(&b, (uint8_t)a->state);
	wakks__put_bytes(&b, a->blob, 16);
	wakks__put_u64(&b, a->ct_size);
	wakks__put_u32(&b, (uint32_t)dl);
	wakks__put_bytes(&b, desc, dl);
	wakks__put_u32(&b, (uint32_t)pl);
	wakks__put_bytes(&b, a->path, pl);
	sodium_memzero(desc, sizeof desc);
	wakks_store_be64(key, seq);
	int rc = b.oom ? WAKKS_E_NOMEM : wakks__store_put(t, WT_ATT, key, 8, b.p, b.len);
	wakks__buf_free(&b);
	return rc;
}

int wakks__att_get(wakks__txn *t, uint64_t seq, struct wakks__att *a)
{
	uint8_t key[8], *v;
	size_t vl;
	wakks_store_be64(key, seq);
	int rc = wakks__store_get(t, WT_ATT, key, 8, &v, &vl);
	if (rc != 0)
		return rc;
	struct wakks__att x;
	memset(&x, 0, sizeof x);
	wakks__rd r = { v, vl, 0, false };
	uint8_t ver = wakks__get_u8(&r);
	x.state = wakks__get_u8(&r);
	wakks__get_bytes(&r, x.blob, 16);
	x.ct_size = wakks__get_u64(&r);
	uint32_t dl = wakks__get_u32(&r);
	const uint8_t *desc = wakks__get_view(&r, dl);
	uint32_t pl = wakks__get_u32(&r);
	const uint8_t *path = wakks__get_view(&r, pl);
	rc = WAKKS_E_CORRUPT;
	if (wakks__rd_done(&r) && ver == ATT_RECORD_VERSION && pl < sizeof x.path &&
	    x.state >= WAKKS_ATT_UPLOADING && x.state <= WAKKS_ATT_FAILED &&
	    wc_attachment_decode(desc, dl, &x.desc) == 0) {
		memcpy(x.path, path, pl);
		x.path[pl] = '\0';
		*a = x;
		att_view(a);
		rc = 0;
	}
	sodium_memzero(&x, sizeof x);
	wakks__store_free(v, vl);
	return rc;
}

void wakks__att_wipe(struct wakks__att *a)
{
	sodium_memzero(a, sizeof *a);
}

void wakks__outbox_path(const wakks_client *c, const uint8_t blob[16], char *out, size_t cap)
{
	char hex[33];
	wakks_id_hex(blob, hex);
	snprintf(out, cap, "%s/outbox/%s", c->store_dir, hex);
}

/* ---- files ---------------------------------------------------------------------------------- */

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return WAKKS_E_IO;
	int rc = fsync(fd) == 0 ? 0 : WAKKS_E_IO;
	close(fd);
	return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return WAKKS_E_IO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Writes p to a new temporary file in dir, fsynced; its name in tmp. */
static int write_temp(const char *dir, const uint8_t *p, size_t n, char *tmp, size_t cap)
{
	if ((size_t)snprintf(tmp, cap, "%s/.wakks-XXXXXX", dir) >= cap)
		return WAKKS_E_INVAL;
	int fd = mkstemp(tmp);
	if (fd < 0)
		return WAKKS_E_IO;
	int rc = write_all(fd, p, n);
	if (rc == 0 && fsync(fd) != 0)
		rc = WAKKS_E_IO;
	close(fd);
	if (rc != 0)
		unlink(tmp);
	return rc;
}

static int ensure_dir(const char *dir)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return WAKKS_E_IO;
	return 0;
}

/* A sender's file name made safe as one path component: no separators, control characters or
 * leading dot, at most SAVED_NAME_MAX bytes (cut on a UTF-8 boundary). */
static void safe_name(const char *in, char *out)
{
	size_t n = strnlen(in, WC_FILE_NAME_MAX);
	if (n > SAVED_NAME_MAX) {
		n = SAVED_NAME_MAX;
		while (n && ((uint8_t)in[n] & 0xC0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = (uint8_t)in[i];
		out[i] = ch < 0x20 || ch == 0x7f || ch == '/' || ch == '\\' ? '_' : (char)ch;
	}
	out[n] = '\0';
	if (out[0] == '.')
		out[0] = '_';
	if (!out[0])
		strcpy(out, "attachment");
}

/* Saves plaintext under a new name in dir: "name", else "stem-2.ext", ... Never replaces a
 * file. The full path in path. */
static int save_file(const char *dir, const char *file_name, const uint8_t *p, size_t n,
		     char *path, size_t cap)
{
	char tmp[WAKKS__PATH_MAX], name[SAVED_NAME_MAX + 1];
	int rc = ensure_dir(dir);
	if (rc != 0)
		return rc;
	if ((rc = write_temp(dir, p, n, tmp, sizeof tmp)) != 0)
		return rc;
	safe_name(file_name, name);
	const char *dot = strrchr(name, '.');
	size_t stem = dot && dot != name ? (size_t)(dot - name) : strlen(name);
	rc = WAKKS_E_IO;
	for (int i = 1; i <= SAVED_NAME_TRIES; i++) {
		int w = i == 1 ? snprintf(path, cap, "%s/%s", dir, name)
			       : snprintf(path, cap, "%s/%.*s-%d%s", dir, (int)stem, name, i, name + stem);
		if (w < 0 || (size_t)w >= cap) {
			rc = WAKKS_E_INVAL;
			break;
		}
		if (link(tmp, path) == 0) {
			rc = 0;
			break;
		}
		if (errno != EEXIST)
			break;
	}
	unlink(tmp);
	if (rc == 0)
		rc = fsync_dir(dir);
	return rc;
}

static int read_whole(const char *path, uint8_t **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return WAKKS_E_IO;
	struct stat st;
	int rc = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? 0 : WAKKS_E_IO;
	if (rc == 0 && (uint64_t)st.st_size > WAKKS_FILE_MAX)
		rc = WAKKS_E_TOO_LARGE;
	uint8_t *buf = NULL;
	size_t n = rc == 0 ? (size_t)st.st_size : 0, got = 0;
	if (rc == 0 && !(buf = malloc(n ? n : 1)))
		rc = WAKKS_E_NOMEM;
	while (rc == 0 && got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			rc = WAKKS_E_IO;
		else
			got += (size_t)r;
	}
	close(fd);
	if (rc != 0) {
		if (buf)
			sodium_memzero(buf, n);
		free(buf);
		return rc;
	}
	*out = buf;
	*len = n;
	return 0;
}

static const char *guess_media_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ "pdf", "application/pdf" }, { "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
		{ "png", "image/png" },       { "gif", "image/gif" },  { "heic", "image/heic" },
		{ "webp", "image/webp" },     { "txt", "text/plain" }, { "csv", "text/csv" },
		{ "doc", "application/msword" },
		{ "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document" },
		{ "odt", "application/vnd.oasis.opendocument.text" },
	};
	const char *dot = strrchr(name, '.');
	if (dot && dot != name)
		for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
			if (strcasecmp(dot + 1, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}

static bool media_type_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > WC_MEDIA_TYPE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	return true;
}

/* ---- sending a file --------------------------------------------------------------------------- */

/* The descriptor's file name and media type, checked before anything is read or drawn. */
static int send_file__check(const wakks_file *file, size_t len, const char **name_out,
			    const char **type_out)
{
	if (len > WAKKS_TEXT_MAX || (!file->path && file->len > WAKKS_FILE_MAX))
		return WAKKS_E_TOO_LARGE;
	const char *name = file->file_name;
	if (!name && file->path) {
		const char *slash = strrchr(file->path, '/');
		name = slash ? slash + 1 : file->path;
	}
	const char *type = file->media_type ? file->media_type : name ? guess_media_type(name) : NULL;
	if (!name || !name[0] || strlen(name) > WC_FILE_NAME_MAX || !media_type_ok(type) ||
	    (file->path && strlen(file->path) >= WAKKS__PATH_MAX))
		return WAKKS_E_INVAL;
	*name_out = name;
	*type_out = type;
	return 0;
}

/* Encrypts the whole file under a fresh key into *ct and fills the upload record. */
static int send_file__encrypt(const wakks_file *file, const uint8_t *plain, size_t plain_len,
			      const char *name, const char *type, uint8_t **ct_out,
			      size_t *ct_len_out, struct wakks__att *a)
{
	size_t cap = wc_attachment_ciphertext_size(plain_len), ct_len = 0;
	uint8_t *ct = malloc(cap);
	if (!ct)
		return WAKKS_E_NOMEM;
	if (wc_attachment_encrypt(plain, plain_len, ct, cap, &ct_len, &a->desc) != 0) {
		free(ct);
		return WAKKS_E_CRYPTO;
	}
	snprintf(a->desc.media_type, sizeof a->desc.media_type, "%s", type);
	snprintf(a->desc.file_name, sizeof a->desc.file_name, "%s", name);
	/* The blob id is the first half of the ciphertext's digest: it is as random as the key and
	 * header that begin the ciphertext, and the recipients learn it from the descriptor. */
	memcpy(a->blob, a->desc.digest, 16);
	a->ct_size = ct_len;
	a->state = WAKKS_ATT_UPLOADING;
	snprintf(a->path, sizeof a->path, "%s", file->path ? file->path : "");
	*ct_out = ct;
	*ct_len_out = ct_len;
	return 0;
}

/* Writes the ciphertext to its outbox name durably (temporary file, rename, directory fsync). */
static int send_file__write_outbox(wakks_client *c, const uint8_t blob[16], const uint8_t *ct,
				   size_t ct_len, char *outbox, size_t outbox_cap)
{
	char dir[WAKKS__PATH_MAX], tmp[WAKKS__PATH_MAX];
	int rc;
	snprintf(dir, sizeof dir, "%s/outbox", c->store_dir);
	wakks__outbox_path(c, blob, outbox, outbox_cap);
	if ((rc = ensure_dir(dir)) != 0 || (rc = write_temp(dir, ct, ct_len, tmp, sizeof tmp)) != 0)
		return rc;
	if (rename(tmp, outbox) != 0 || fsync_dir(dir) != 0) {
		unlink(tmp);
		return WAKKS_E_IO;
	}
	return 0;
}

/* One transaction: the text message (if any), the file message and its upload record. */
static int send_file__queue(wakks_client *c, const char *text, size_t len, wakks_message *mt,
			    wakks_message *mf, const struct wakks__att *a)
{
	wakks__txn *t;
	int rc = wakks__txn_begin(c->store, true, &t);
	if (rc != 0)
		return rc;
	if (len) {
		mt->text = text;
		mt->text_len = len;
		rc = wakks__msg_queue(c, t, mt);
	}
	mf->text = "";
	mf->text_len = 0;
	if (rc == 0)
		rc = wakks__msg_queue(c, t, mf);
	if (rc == 0)
		rc = wakks__att_put(t, mf->seq, a);
	if (rc == 0)
		rc = wakks__txn_commit(t);
	else
		wakks__txn_abort(t);
	return rc;
}

int wakks_send_file(wakks_client *c, const wakks_target *to, const wakks_file *file,
		    const char *text, size_t len, uint8_t message_id[WAKKS_ID_BYTES], uint32_t *op)
{
	if (!c || !to || !file || (len && !text) || (!file->path && !file->data && file->len))
		return WAKKS_E_INVAL;
	const char *name, *type;
	int rc = send_file__check(file, len, &name, &type);
	if (rc != 0)
		return rc;
	wakks_message mt, mf;
	if ((rc = wakks__msg_new(c, to, &mf)) != 0)
		return rc;
	if (len && (rc = wakks__msg_new(c, to, &mt)) != 0)
		return rc;

	uint8_t *plain = (uint8_t *)file->data, *ct = NULL;
	size_t plain_len = file->len, ct_len = 0;
	if (file->path && (rc = read_whole(file->path, &plain, &plain_len)) != 0)
		return rc;
	struct wakks__att a;
	memset(&a, 0, sizeof a);
	char outbox[WAKKS__PATH_MAX];
	bool written = false;
	if ((rc = send_file__encrypt(file, plain, plain_len, name, type, &ct, &ct_len, &a)) != 0)
		goto out;
	/* The ciphertext first, durably; then the message that refers to it. */
	if ((rc = send_file__write_outbox(c, a.blob, ct, ct_len, outbox, sizeof outbox)) != 0)
		goto out;
	written = true;
	if ((rc = send_file__queue(c, text, len, &mt, &mf, &a)) != 0)
		goto out;
	written = false; /* the pending message owns it now */
	uint32_t id = wakks__send_op(c, mf.cmid);
	if (message_id)
		memcpy(message_id, mf.id, 16);
	if (op)
		*op = id;
	wakks__send_kick(c);
out:
	if (written)
		unlink(outbox);
	if (file->path) {
		sodium_memzero(plain, plain_len);
		free(plain);
	}
	free(ct);
	wakks__att_wipe(&a);
	return rc;
}

/* ---- uploading (the first phase of sending a file message) ---------------------------------- */

static bool transient(int err)
{
	return err == PROTO_E_RATE_LIMITED || err == PROTO_E_UNAVAILABLE ||
	       err == PROTO_E_QUOTA_EXCEEDED || err == PROTO_E_INTERNAL ||
	       err == PROTO_E_NOT_AUTHENTICATED;
}

static uint64_t retry_of(const proto_frame *f)
{
	const proto_error *e = &f->body.error;
	return f->type == PROTO_T_ERROR && e->has_details && e->details.retry_ms ? e->details.retry_ms
										 : BLOB_RETRY_MS;
}

void wakks__upload_start(wakks_client *c)
{
	struct wakks__send *s = &c->send;
	proto_frame_init(c->tx, PROTO_T_BLOB_PUT, 0);
	c->tx->body.blob_put = (proto_blob_put){ s->att.blob, s->att.ct_size, s->att.desc.digest };
	if (wakks__request(c, RQ_BLOB_PUT, 0, 0) < 0)
		wakks__send_reset(c); /* the connection is going; resumed after the next auth */
}

static int send_chunk(wakks_client *c, uint64_t have)
{
	struct wakks__send *s = &c->send;
	if (s->upload_fd < 0) {
		char path[WAKKS__PATH_MAX];
		wakks__outbox_path(c, s->att.blob, path, sizeof path);
		s->upload_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (s->upload_fd < 0)
			return WAKKS_E_IO;
	}
	if (!s->chunk && !(s->chunk = malloc(CHUNK)))
		return WAKKS_E_NOMEM;
	size_t n = s->att.ct_size - have < CHUNK ? (size_t)(s->att.ct_size - have) : CHUNK, got = 0;
	while (got < n) {
		ssize_t r = pread(s->upload_fd, s->chunk + got, n - got, (off_t)(have + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return WAKKS_E_IO; /* the outbox file is shorter than the blob: damaged */
		got += (size_t)r;
	}
	proto_frame_init(c->tx, PROTO_T_BLOB_CHUNK, 0);
	c->tx->body.blob_chunk = (proto_blob_chunk){ s->att.blob, have, { s->chunk, n } };
	if (c->test_drop_after_chunks && --c->test_drop_after_chunks == 0)
		c->ws.drop_after_flush = true;
	c->test_upload_bytes += n;
	if (wakks__request(c, RQ_BLOB_CHUNK, 0, 0) < 0)
		wakks__send_reset(c); /* the connection is going; resumed after the next auth */
	return 0;
}

void wakks__upload_on_reply(wakks_client *c, struct wakks__req *rq, const proto_frame *f)
{
	(void)rq;
	struct wakks__send *s = &c->send;
	if (!s->active || s->phase != SP_UPLOAD || !s->has_att)
		return;
	if (f->type == PROTO_T_ERROR) {
		int err = -(int)f->body.error.code;
		if (!proto_errname(err))
			err = PROTO_E_INTERNAL;
		wakks__send_give_up(c, err, transient(err) ? retry_of(f) : 0);
		return;
	}
	const proto_blob_state *b = &f->body.blob_state;
	if (f->type != PROTO_T_BLOB_STATE || memcmp(b->id, s->att.blob, 16) != 0 ||
	    b->size != s->att.ct_size) {
		wakks__send_give_up(c, WAKKS_E_PROTOCOL, BLOB_RETRY_MS);
		return;
	}
	if (b->done) {
		/* Complete and checked by the relay: note it, then send the message. */
		wakks__txn *t;
		if (s->att.state == WAKKS_ATT_UPLOADING && wakks__txn_begin(c->store, true, &t) == 0) {
			s->att.state = WAKKS_ATT_UPLOADED;
			if (wakks__att_put(t, s->seq, &s->att) == 0)
				wakks__txn_commit(t);
			else
				wakks__txn_abort(t);
			att_view(&s->att);
		}
		wakks__upload_reset(c);
		wakks__send_uploaded(c);
		return;
	}
	if (b->have >= s->att.ct_size) {
		/* All there but not yet checked (the relay restarted meanwhile): ask again. */
		wakks__send_give_up(c, PROTO_E_UNAVAILABLE, BLOB_RETRY_MS);
		return;
	}
	int rc = send_chunk(c, b->have);
	if (rc != 0)
		wakks__send_give_up(c, rc, 0);
}

void wakks__upload_reset(wakks_client *c)
{
	struct wakks__send *s = &c->send;
	if (s->upload_fd >= 0)
		close(s->upload_fd);
	s->upload_fd = -1;
	free(s->chunk);
	s->chunk = NULL;
}

int wakks__upload_settle(wakks_client *c, wakks__txn *t, uint64_t seq, bool stored)
{
	struct wakks__send *s = &c->send;
	s->att.state = stored ? WAKKS_ATT_UPLOADED : WAKKS_ATT_FAILED;
	att_view(&s->att);
	return wakks__att_put(t, seq, &s->att);
}

void wakks__upload_unlink(wakks_client *c)
{
	char path[WAKKS__PATH_MAX];
	wakks__upload_reset(c);
	wakks__outbox_path(c, c->send.att.blob, path, sizeof path);
	unlink(path);
}

/* ---- downloading (before the envelope is acknowledged) ------------------------------------- */

uint64_t wakks__download_pending(wakks__txn *t, const uint8_t message_id[16])
{
	uint8_t *v;
	size_t vl;
	if (wakks__store_get(t, WT_MID, message_id, 16, &v, &vl) != 0)
		return 0;
	uint64_t seq = vl == 8 ? wakks_load_be64(v) : 0;
	wakks__store_free(v, vl);
	struct wakks__att a;
	if (!seq || wakks__att_get(t, seq, &a) != 0)
		return 0;
	bool pending = a.state == WAKKS_ATT_DOWNLOADING;
	wakks__att_wipe(&a);
	return pending ? seq : 0;
}

static void download_next(wakks_client *c);

static void send_get(wakks_client *c)
{
	struct wakks__download *d = &c->dl;
	uint64_t left = d->att.ct_size - d->have;
	proto_frame_init(c->tx, PROTO_T_BLOB_GET, 0);
	c->tx->body.blob_get =
		(proto_blob_get){ d->att.blob, d->have, left < CHUNK ? (uint32_t)left : CHUNK };
	if (wakks__request(c, RQ_BLOB_GET, 0, 0) < 0)
		wakks__download_reset(c); /* the connection is going: delivered again later */
}

static void pop(wakks_client *c)
{
	struct wakks__download *d = &c->dl;
	free(d->ct);
	d->ct = NULL;
	d->have = 0;
	wakks__att_wipe(&d->att);
	d->active = false;
	d->retry_at_mono = 0;
	if (d->n) {
		memmove(d->queue, d->queue + 1, (d->n - 1) * sizeof *d->queue);
		d->n--;
	}
}

/* Commits the attachment's new state, reports the message, acknowledges the envelope. */
static void conclude(wakks_client *c, int err, const char *what)
{
	struct wakks__download *d = &c->dl;
	struct wakks__dl_item it = d->queue[0];
	wakks__txn *t;
	wakks_message m;
	uint8_t *raw = NULL;
	size_t rl = 0;
	int rc = wakks__txn_begin(c->store, true, &t);
	if (rc == 0) {
		rc = wakks__att_put(t, it.msg_seq, &d->att);
		if (rc == 0)
			rc = wakks__msg_get(t, it.msg_seq, &m, NULL, &raw, &rl);
		if (rc == 0)
			rc = wakks__txn_commit(t);
		else
			wakks__txn_abort(t);
	}
	if (rc != 0) {
		/* Not recorded: not acknowledged; the next connection delivers and fetches again. */
		wakks_event ev = { .type = WAKKS_EV_ERROR };
		ev.u.error.code = rc;
		ev.u.error.what = "a received file could not be stored; it will be fetched again";
		wakks__emit(c, &ev);
		wakks__store_free(raw, rl);
		pop(c);
		download_next(c);
		return;
	}
	if (err) {
		wakks_event ev = { .type = WAKKS_EV_ERROR };
		ev.u.error.code = err;
		ev.u.error.what = what;
		wakks__emit(c, &ev);
	}
	att_view(&d->att);
	m.attachment = &d->att.pub;
	if (c->cfg.manual_ack)
		m.delivery = it.deliver_seq;
	wakks_event ev = { .type = WAKKS_EV_MESSAGE };
	ev.u.message = &m;
	wakks__emit(c, &ev);
	wakks__store_free(raw, rl);
	if (!c->cfg.manual_ack) /* else the application acknowledges (wakks_ack) */
		wakks__ack(c, it.deliver_seq);
	pop(c);
	download_next(c);
}

static void fail(wakks_client *c, int err, const char *what)
{
	c->dl.att.state = WAKKS_ATT_FAILED;
	c->dl.att.path[0] = '\0';
	conclude(c, err, what);
}

static void complete(wakks_client *c)
{
	struct wakks__download *d = &c->dl;
	uint8_t digest[32];
	if (c->test_corrupt_download) {
		c->test_corrupt_download = false;
		d->ct[d->att.ct_size / 2] ^= 0x01;
	}
	/* Size and SHA-256 of the whole ciphertext against the descriptor, before decrypting. */
	crypto_hash_sha256(digest, d->ct, (size_t)d->att.ct_size);
	if (d->att.ct_size != wc_attachment_ciphertext_size((size_t)d->att.desc.size) ||
	    sodium_memcmp(digest, d->att.desc.digest, 32) != 0) {
		fail(c, WAKKS_E_VERIFY, "a received file did not match its digest and was not opened");
		return;
	}
	size_t n = (size_t)d->att.desc.size;
	uint8_t *pt = malloc(n ? n : 1);
	if (!pt) {
		fail(c, WAKKS_E_NOMEM, "no memory to open a received file");
		return;
	}
	if (wc_attachment_decrypt(&d->att.desc, d->ct, (size_t)d->att.ct_size, pt, n) != 0) {
		free(pt);
		fail(c, WAKKS_E_VERIFY, "a received file could not be decrypted");
		return;
	}
	char path[WAKKS__PATH_MAX];
	int rc = save_file(c->files_dir, d->att.desc.file_name, pt, n, path, sizeof path);
	sodium_memzero(pt, n);
	free(pt);
	if (rc != 0) {
		/* Not saved: not acknowledged; fetched again on the next connection. */
		wakks_event ev = { .type = WAKKS_EV_ERROR };
		ev.u.error.code = rc;
		ev.u.error.what = "a received file could not be saved; it will be fetched again";
		wakks__emit(c, &ev);
		pop(c);
		download_next(c);
		return;
	}
	d->att.state = WAKKS_ATT_SAVED;
	snprintf(d->att.path, sizeof d->att.path, "%s", path);
	conclude(c, 0, NULL);
}

static void download_next(wakks_client *c)
{
	struct wakks__download *d = &c->dl;
	while (!d->active && d->n) {
		wakks__txn *t;
		if (wakks__txn_begin(c->store, false, &t) != 0)
			return;
		int rc = wakks__att_get(t, d->queue[0].msg_seq, &d->att);
		wakks__txn_abort(t);
		if (rc != 0 || d->att.state != WAKKS_ATT_DOWNLOADING) {
			/* Done already (the same envelope queued twice) or nothing to fetch. */
			if (rc == 0 && c->cfg.manual_ack) {
				uint8_t *raw = NULL;
				size_t rl = 0;
				wakks_message m;
				bool got = wakks__txn_begin(c->store, false, &t) == 0;
				if (got && wakks__msg_get(t, d->queue[0].msg_seq, &m, NULL, &raw, &rl) == 0) {
					uint64_t seq = d->queue[0].deliver_seq;
					wakks__store_free(raw, rl);
					wakks__txn_abort(t);
					wakks__redeliver(c, seq, m.id);
				} else if (got) {
					wakks__txn_abort(t);
				}
			} else if (rc == 0) {
				wakks__ack(c, d->queue[0].deliver_seq);
			}
			pop(c);
			continue;
		}
		d->active = true;
		d->have = 0;
		/* The descriptor bounds the size (WC_ATTACHMENT_MAX_BYTES): a peer cannot make us
		 * allocate more than that. */
		if (d->att.ct_size != wc_attachment_ciphertext_size((size_t)d->att.desc.size)) {
			fail(c, WAKKS_E_VERIFY, "a received file's size does not match its descriptor");
			continue;
		}
		if (!(d->ct = malloc((size_t)d->att.ct_size))) {
			fail(c, WAKKS_E_NOMEM, "no memory to receive a file");
			continue;
		}
		send_get(c);
	}
}

void wakks__download_enqueue(wakks_client *c, uint64_t deliver_seq, uint64_t msg_seq)
{
	struct wakks__download *d = &c->dl;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		struct wakks__dl_item *q = realloc(d->queue, cap * sizeof *q);
		if (!q)
			return; /* not acknowledged: delivered and queued again later */
		d->queue = q;
		d->cap = cap;
	}
	d->queue[d->n++] = (struct wakks__dl_item){ deliver_seq, msg_seq };
	download_next(c);
}

void wakks__download_on_reply(wakks_client *c, struct wakks__req *rq, const proto_frame *f)
{
	(void)rq;
	struct wakks__download *d = &c->dl;
	if (!d->active)
		return;
	if (f->type == PROTO_T_ERROR) {
		int err = -(int)f->body.error.code;
		if (!proto_errname(err))
			err = PROTO_E_INTERNAL;
		if (transient(err)) {
			d->retry_at_mono = wakks__mono_ms() + retry_of(f);
			return;
		}
		/* Gone (expired, or never there for us) or shorter than its descriptor says. */
		fail(c, err == PROTO_E_OUT_OF_RANGE ? WAKKS_E_VERIFY : err,
		     "a received file could not be fetched");
		return;
	}
	const proto_blob_data *b = &f->body.blob_data;
	if (f->type != PROTO_T_BLOB_DATA || memcmp(b->id, d->att.blob, 16) != 0 ||
	    b->offset != d->have || b->data.len == 0 || b->data.len > d->att.ct_size - d->have) {
		fail(c, WAKKS_E_VERIFY, "the relay sent a received file's bytes out of order");
		return;
	}
	memcpy(d->ct + d->have, b->data.ptr, b->data.len);
	d->have += b->data.len;
	if (d->have == d->att.ct_size)
		complete(c);
	else
		send_get(c);
}

void wakks__download_reset(wakks_client *c)
{
	struct wakks__download *d = &c->dl;
	free(d->ct);
	d->ct = NULL;
	d->have = 0;
	d->active = false;
	d->retry_at_mono = 0;
	d->n = 0;
	wakks__att_wipe(&d->att);
}

void wakks__download_timer(wakks_client *c)
{
	struct wakks__download *d = &c->dl;
	if (d->active && d->retry_at_mono && wakks__mono_ms() >= d->retry_at_mono) {
		d->retry_at_mono = 0;
		send_get(c);
	}
}

size_t wakks_downloads_pending(const wakks_client *c)
{
	return c ? c->dl.n : 0;
}
