/* SPDX-License-Identifier: MPL-2.0 */
/* Encrypted attachments against a real relay over TLS WebSockets: a citizen encrypts a 10 MiB
 * document and a photo on the device, uploads the ciphertext in chunks and sends the unit an
 * envelope referencing both; both caseworkers download byte-identical ciphertext and decrypt it.
 * The relay's files hold only ciphertext. An upload cut at a random byte resumes after a
 * reconnect; a corrupted chunk, an oversized blob and one over the account's quota are refused
 * with their own errors; a device without a referencing envelope cannot download; blobs are
 * deleted when the last reference is acknowledged. An upload survives a crash of the relay. On a
 * second relay with short lifetimes, blobs are deleted when an upload is never referenced or its
 * envelopes expire.
 *
 * Against the PostgreSQL engine (WAKKS_TEST_ENGINE=postgresql) the bytes are rows of the
 * database's blob_data table rather than files (spec/storage-postgresql.md §5.2): the same checks
 * read them there. */
#include <errno.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "relay_proc.h"
#include "tclient.h"
#include "test.h"
#include "wakks_crypto.h"

#define CHUNK PROTO_MAX_BLOB_CHUNK_BYTES
#define MIB (1024u * 1024u)

static struct relay_proc relay;
static struct tdev anna, bo, camilla, dennis;

/* A plaintext file encrypted on the citizen's device, and what the relay may see of it. */
struct att {
	uint8_t id[16];
	uint8_t *plain;
	size_t plain_len;
	uint8_t *ct;
	size_t ct_len;
	wc_attachment desc;
};
static struct att pdf, photo;
static uint64_t delivered_seq[2]; /* camilla's and dennis's envelope referencing them */

static void sha256(const uint8_t *p, size_t n, uint8_t out[32]);

/* The blob id is the first half of the ciphertext's SHA-256 (spec/protocol.md §10). */
static void make_att(struct att *a, size_t len, const char *magic, const char *media, const char *name)
{
	memset(a, 0, sizeof *a);
	a->plain = malloc(len);
	a->plain_len = len;
	/* Recognisable plaintext: a header and repeated text, so a leak would be visible. */
	for (size_t i = 0; i < len; i++)
		a->plain[i] = (uint8_t)"Lonseddel for oktober, Varde Kommune. "[i % 38];
	memcpy(a->plain, magic, strlen(magic));
	a->ct = malloc(wc_attachment_ciphertext_size(len));
	if (wc_attachment_encrypt(a->plain, len, a->ct, wc_attachment_ciphertext_size(len), &a->ct_len,
				  &a->desc) != WC_OK)
		a->ct_len = 0;
	uint8_t digest[32];
	sha256(a->ct, a->ct_len, digest);
	memcpy(a->id, digest, 16);
	snprintf(a->desc.media_type, sizeof a->desc.media_type, "%s", media);
	snprintf(a->desc.file_name, sizeof a->desc.file_name, "%s", name);
}

static void free_att(struct att *a)
{
	free(a->plain);
	free(a->ct);
	wc_attachment_wipe(&a->desc);
}

static void sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
	crypto_hash_sha256(out, p, n);
}

/* ---- the blob frames ------------------------------------------------------------------------- */

static int blob_put(struct tdev *d, const uint8_t id[16], uint64_t size, const uint8_t sha[32])
{
	proto_frame f;
	proto_frame_init(&f, PROTO_T_BLOB_PUT, 0);
	f.body.blob_put = (proto_blob_put){ id, size, sha };
	return tdev_request(d, &f, 10000);
}

/* A chunk; while the relay is still storing an earlier chunk of the blob (sent on a connection
 * that dropped) it answers unavailable with a retry time, and the client tries again. */
static int blob_chunk(struct tdev *d, const uint8_t id[16], uint64_t off, const uint8_t *p, size_t n)
{
	static proto_frame f;
	for (int attempt = 0;; attempt++) {
		proto_frame_init(&f, PROTO_T_BLOB_CHUNK, 0);
		f.body.blob_chunk = (proto_blob_chunk){ id, off, { p, n } };
		int t = tdev_request(d, &f, 20000);
		if (t != PROTO_T_ERROR || d->frame.body.error.code != -PROTO_E_UNAVAILABLE ||
		    !d->frame.body.error.has_details || attempt == 100)
			return t;
		usleep((useconds_t)d->frame.body.error.details.retry_ms * 1000);
	}
}

static int blob_status(struct tdev *d, const uint8_t id[16])
{
	proto_frame f;
	proto_frame_init(&f, PROTO_T_BLOB_STATUS, 0);
	f.body.blob_status.id = id;
	return tdev_request(d, &f, 10000);
}

static int blob_get(struct tdev *d, const uint8_t id[16], uint64_t off, uint32_t len)
{
	proto_frame f;
	proto_frame_init(&f, PROTO_T_BLOB_GET, 0);
	f.body.blob_get = (proto_blob_get){ id, off, len };
	return tdev_request(d, &f, 10000);
}

/* Uploads ct[from..len) in chunks, continuing from whatever the relay says it has. Returns 0 when
 * the relay reports the blob complete, else the last reply type (error in d->frame). */
static int upload_from(struct tdev *d, const uint8_t id[16], const uint8_t *ct, size_t len)
{
	uint8_t sha[32];
	sha256(ct, len, sha);
	int t = blob_put(d, id, len, sha);
	if (t != PROTO_T_BLOB_STATE)
		return t;
	/* All bytes there but not done: the relay is still checking the digest of an upload whose
	 * last chunk came on a connection that dropped; ask again, as libwakks does. */
	for (int checks = 0; !d->frame.body.blob_state.done;) {
		uint64_t have = d->frame.body.blob_state.have;
		size_t n = len - have < CHUNK ? len - have : CHUNK;
		if (n == 0 && ++checks > 200)
			return -1;
		if (n == 0)
			usleep(50 * 1000);
		t = n ? blob_chunk(d, id, have, ct + have, n) : blob_status(d, id);
		if (t != PROTO_T_BLOB_STATE)
			return t;
	}
	return 0;
}

/* Downloads a whole blob into a malloc'd buffer. Returns its length, or -1 (error in d->frame). */
static long download(struct tdev *d, const uint8_t id[16], size_t size, uint8_t **out)
{
	uint8_t *buf = malloc(size);
	size_t have = 0;
	while (have < size) {
		if (blob_get(d, id, have, CHUNK) != PROTO_T_BLOB_DATA) {
			free(buf);
			return -1;
		}
		const proto_blob_data *b = &d->frame.body.blob_data;
		if (b->offset != have || b->data.len > size - have) {
			free(buf);
			return -1;
		}
		memcpy(buf + have, b->data.ptr, b->data.len);
		have += b->data.len;
	}
	*out = buf;
	return (long)have;
}

/* ---- The PostgreSQL engine's blob bytes ---- */

/* One query with an optional bytea parameter on p's database, binary results. */
static PGresult *pg_query(const struct relay_proc *p, const char *sql, const uint8_t *key,
			  size_t key_len)
{
	PGconn *c = PQconnectdb(p->pg_conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "connect: %s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	const char *values[1] = { (const char *)key };
	int lengths[1] = { (int)key_len }, formats[1] = { 1 };
	PGresult *r = PQexecParams(c, sql, key ? 1 : 0, NULL, values, lengths, formats, 1);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
		PQclear(r);
		r = NULL;
	}
	PQfinish(c);
	return r;
}

/* The sealed content's bytes in order, malloc'd; NULL if there are none. */
static uint8_t *pg_sealed_bytes(const struct relay_proc *p, const uint8_t sha[32], size_t *len)
{
	PGresult *r = pg_query(p, "SELECT string_agg(data, ''::bytea ORDER BY off) FROM blob_data "
			       "WHERE key = $1", sha, 32);
	uint8_t *out = NULL;
	if (r && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
		*len = (size_t)PQgetlength(r, 0, 0);
		out = malloc(*len ? *len : 1);
		memcpy(out, PQgetvalue(r, 0, 0), *len);
	}
	PQclear(r);
	return out;
}

/* Rows under the content's SHA-256 (bytes or its seal). */
static bool pg_sealed_exists(const struct relay_proc *p, const uint8_t sha[32])
{
	PGresult *r = pg_query(p, "SELECT EXISTS (SELECT 1 FROM blob_data WHERE key = $1) OR "
			       "EXISTS (SELECT 1 FROM blob_sealed WHERE sha256 = $1)", sha, 32);
	bool yes = r && PQntuples(r) == 1 && PQgetlength(r, 0, 0) == 1 && PQgetvalue(r, 0, 0)[0] == 1;
	PQclear(r);
	return yes;
}

/* Uploads in progress: blob_data rows keyed by a 16-byte blob id. */
static int pg_uploads(const struct relay_proc *p)
{
	PGresult *r = pg_query(p, "SELECT count(DISTINCT key)::int4 FROM blob_data WHERE length(key) = 16",
			       NULL, 0);
	int n = -1;
	if (r && PQntuples(r) == 1 && PQgetlength(r, 0, 0) == 4) {
		const uint8_t *v = (const uint8_t *)PQgetvalue(r, 0, 0);
		n = (int)((uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3]);
	}
	PQclear(r);
	return n;
}

static char *blob_file(const struct relay_proc *p, const uint8_t *ct, size_t len)
{
	uint8_t sha[32];
	char hex[65];
	static char path[512];
	sha256(ct, len, sha);
	sodium_bin2hex(hex, sizeof hex, sha, sizeof sha);
	snprintf(path, sizeof path, "%s/blobs/%s", p->data_dir, hex);
	return path;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* Waits up to ms for a file to disappear (the relay unlinks asynchronously). */
static bool gone_within(const char *path, int ms)
{
	for (int i = 0; i < ms / 20; i++) {
		if (!exists(path))
			return true;
		usleep(20000);
	}
	return !exists(path);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
	*len = fread(buf, 1, (size_t)n, f);
	fclose(f);
	return buf;
}

/* The stored content of ciphertext ct (its file, or its rows), malloc'd; NULL if none. */
static uint8_t *stored_content(const uint8_t *ct, size_t ct_len, size_t *len)
{
	if (!relay_test_engine_pg())
		return read_file(blob_file(&relay, ct, ct_len), len);
	uint8_t sha[32];
	sha256(ct, ct_len, sha);
	return pg_sealed_bytes(&relay, sha, len);
}

static bool stored_exists(const uint8_t *ct, size_t ct_len)
{
	if (!relay_test_engine_pg())
		return exists(blob_file(&relay, ct, ct_len));
	uint8_t sha[32];
	sha256(ct, ct_len, sha);
	return pg_sealed_exists(&relay, sha);
}

/* Number of entries in DATA_DIR/blobs/tmp: uploads in progress (the blob_data rows of blob ids
 * under PostgreSQL). */
static int tmp_entries(const struct relay_proc *p)
{
	if (relay_test_engine_pg())
		return pg_uploads(p);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "ls -A '%s/blobs/tmp' | wc -l", p->data_dir);
	FILE *f = popen(cmd, "r");
	int n = -1;
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

/* The envelope body: the two descriptors (a real client encrypts them inside its message). */
static size_t descriptors(uint8_t *out, size_t cap)
{
	size_t n = 0, l;
	const struct att *list[2] = { &pdf, &photo };
	for (int i = 0; i < 2; i++) {
		if (wc_attachment_encode(&list[i]->desc, out + n + 2, cap - n - 2, &l) != WC_OK)
			return 0;
		out[n] = (uint8_t)(l >> 8);
		out[n + 1] = (uint8_t)l;
		n += 2 + l;
	}
	return n;
}

static int send_with_blobs(struct tdev *from, const uint8_t (*devs)[16], size_t n_devs,
			   const uint8_t *const *blobs, size_t n_blobs, const uint8_t *ct, size_t ct_len)
{
	static proto_frame f;
	uint8_t cmid[16];
	randombytes_buf(cmid, 16);
	proto_frame_init(&f, PROTO_T_SEND, 0);
	proto_send *s = &f.body.send;
	s->cmid = cmid;
	s->tenant = (proto_str){ "varde", 5 };
	s->unit = (proto_str){ "jobcenter", 9 };
	for (size_t i = 0; i < n_devs; i++) {
		s->env[i] = (proto_envelope){ devs[i], { ct, ct_len } };
		s->env_count++;
	}
	for (size_t i = 0; i < n_blobs; i++)
		s->blobs[s->blob_count++] = blobs[i];
	return tdev_request(from, &f, 10000);
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void people_register(void)
{
	tdev_init(&anna, relay.port);
	tdev_init(&bo, relay.port);
	tdev_init(&camilla, relay.port);
	tdev_init(&dennis, relay.port);
	REQUIRE(tdev_register(&anna, "dev-mitid", "anna", 5) == 0);
	REQUIRE(tdev_register(&bo, "dev-mitid", "bo", 5) == 0);
	REQUIRE(tdev_register(&camilla, "dev-adfs", "camilla", 5) == 0);
	REQUIRE(tdev_register(&dennis, "dev-adfs", "dennis", 5) == 0);
}

static void citizen_sends_document_and_photo_to_unit(void)
{
	make_att(&pdf, 10 * MIB, "%PDF-1.7\n", "application/pdf", "lonseddel.pdf");
	make_att(&photo, 700 * 1024, "\xff\xd8\xff\xe0JFIF", "image/jpeg", "brev.jpg");
	REQUIRE(pdf.ct_len > 10 * MIB && photo.ct_len > 0);
	double t0 = now_s();
	CHECK_EQ_INT(upload_from(&anna, pdf.id, pdf.ct, pdf.ct_len), 0);
	double up = now_s() - t0;
	fprintf(stderr, "  upload of %.1f MiB: %.1f MiB/s (chunks of 256 KiB, each fsynced)\n",
		(double)pdf.ct_len / MIB, (double)pdf.ct_len / MIB / up);
	CHECK_EQ_INT(upload_from(&anna, photo.id, photo.ct, photo.ct_len), 0);
	CHECK_EQ_INT(tmp_entries(&relay), 0);

	/* The relay's files are the ciphertext, content-addressed, and nothing of the plaintext. */
	size_t flen = 0;
	uint8_t *file = stored_content(pdf.ct, pdf.ct_len, &flen);
	REQUIRE(file != NULL);
	CHECK(flen == pdf.ct_len && memcmp(file, pdf.ct, flen) == 0);
	CHECK(memmem(file, flen, "Lonseddel for oktober", 21) == NULL);
	/* The plaintext's magic would stand at the start; anywhere else four random bytes of
	 * ciphertext can match it by chance (about once in 400 files of this size). */
	CHECK(flen < 9 || memcmp(file, "%PDF-1.7\n", 9) != 0);
	free(file);
	file = stored_content(photo.ct, photo.ct_len, &flen);
	REQUIRE(file != NULL);
	CHECK(flen == photo.ct_len && memcmp(file, photo.ct, flen) == 0);
	CHECK(flen < 10 || memmem(file, 10, "JFIF", 4) == NULL);
	free(file);

	/* Declaring a complete blob again answers done: nothing to upload. */
	uint8_t sha[32];
	sha256(photo.ct, photo.ct_len, sha);
	REQUIRE(blob_put(&anna, photo.id, photo.ct_len, sha) == PROTO_T_BLOB_STATE);
	CHECK(anna.frame.body.blob_state.done);
	CHECK_EQ_INT(anna.frame.body.blob_state.have, photo.ct_len);

	/* One envelope per caseworker device, both referencing both blobs. */
	uint8_t devs[2][16], body[2 * WC_ATTACHMENT_DESCRIPTOR_MAX + 4];
	memcpy(devs[0], camilla.device_id, 16);
	memcpy(devs[1], dennis.device_id, 16);
	size_t body_len = descriptors(body, sizeof body);
	REQUIRE(body_len > 0);
	const uint8_t *blobs[2] = { pdf.id, photo.id };
	CHECK_EQ_INT(send_with_blobs(&anna, (const uint8_t(*)[16])devs, 2, blobs, 2, body, body_len),
		     PROTO_T_STORED);

	struct tdev *cw[2] = { &camilla, &dennis };
	for (int i = 0; i < 2; i++) {
		REQUIRE(tdev_wait(cw[i], PROTO_T_DELIVER, 5000) == PROTO_T_DELIVER);
		const proto_deliver *dv = &cw[i]->frame.body.deliver;
		delivered_seq[i] = dv->seq;
		REQUIRE(dv->ciphertext.len == body_len);
		uint8_t got[sizeof body];
		memcpy(got, dv->ciphertext.ptr, body_len);
		size_t off = 0;
		const struct att *list[2] = { &pdf, &photo };
		for (int k = 0; k < 2; k++) {
			size_t l = ((size_t)got[off] << 8) | got[off + 1];
			wc_attachment desc;
			REQUIRE(wc_attachment_decode(got + off + 2, l, &desc) == WC_OK);
			off += 2 + l;
			uint8_t *ct = NULL;
			double t1 = now_s();
			long n = download(cw[i], list[k]->id, list[k]->ct_len, &ct);
			if (i == 0 && k == 0)
				fprintf(stderr, "  download of %.1f MiB: %.1f MiB/s\n", (double)n / MIB,
					(double)n / MIB / (now_s() - t1));
			REQUIRE(n == (long)list[k]->ct_len);
			CHECK(memcmp(ct, list[k]->ct, (size_t)n) == 0); /* byte-identical ciphertext */
			uint8_t *plain = malloc(desc.size ? desc.size : 1);
			CHECK_EQ_INT(wc_attachment_decrypt(&desc, ct, (size_t)n, plain, desc.size), WC_OK);
			CHECK(desc.size == list[k]->plain_len &&
			      memcmp(plain, list[k]->plain, desc.size) == 0);
			CHECK(strcmp(desc.file_name, list[k]->desc.file_name) == 0);
			free(plain);
			free(ct);
			wc_attachment_wipe(&desc);
		}
	}
}

static void download_without_referencing_envelope_refused(void)
{
	/* bo holds no envelope referencing the photo: the same answer as for a blob that does not
	 * exist. */
	uint8_t nowhere[16];
	randombytes_buf(nowhere, 16);
	CHECK_EQ_INT(blob_get(&bo, photo.id, 0, 1024), PROTO_T_ERROR);
	CHECK_EQ_INT(bo.frame.body.error.code, -PROTO_E_NOT_FOUND);
	proto_str known = bo.frame.body.error.text;
	char text1[256];
	snprintf(text1, sizeof text1, "%.*s", (int)known.len, known.ptr);
	CHECK_EQ_INT(blob_get(&bo, nowhere, 0, 1024), PROTO_T_ERROR);
	CHECK_EQ_INT(bo.frame.body.error.code, -PROTO_E_NOT_FOUND);
	CHECK(strlen(text1) == bo.frame.body.error.text.len &&
	      memcmp(text1, bo.frame.body.error.text.ptr, strlen(text1)) == 0);
	CHECK_EQ_INT(blob_status(&bo, photo.id), PROTO_T_ERROR);
	CHECK_EQ_INT(bo.frame.body.error.code, -PROTO_E_NOT_FOUND);
	/* Nor may bo pass on a blob he never received. */
	uint8_t devs[2][16];
	memcpy(devs[0], camilla.device_id, 16);
	memcpy(devs[1], dennis.device_id, 16);
	const uint8_t *blobs[1] = { photo.id };
	CHECK_EQ_INT(send_with_blobs(&bo, (const uint8_t(*)[16])devs, 2, blobs, 1, (const uint8_t *)"x", 1),
		     PROTO_T_ERROR);
	CHECK_EQ_INT(bo.frame.body.error.code, -PROTO_E_NOT_FOUND);
	/* camilla, who holds an envelope referencing the photo, may pass it on to her unit; dennis's
	 * copy of that is acknowledged at once (his first envelope still references the photo). */
	uint8_t to_dennis[1][16];
	memcpy(to_dennis[0], dennis.device_id, 16);
	CHECK_EQ_INT(send_with_blobs(&camilla, (const uint8_t(*)[16])to_dennis, 1, blobs, 1,
				     (const uint8_t *)"fwd", 3),
		     PROTO_T_STORED);
	REQUIRE(tdev_wait(&dennis, PROTO_T_DELIVER, 5000) == PROTO_T_DELIVER);
	CHECK(dennis.frame.body.deliver.seq != delivered_seq[1]);
	CHECK_MEM(dennis.frame.body.deliver.account, camilla.account_id, 16);
	CHECK_EQ_INT(tdev_ack(&dennis, dennis.frame.body.deliver.seq), PROTO_T_OK);
	CHECK_EQ_INT(blob_get(&dennis, photo.id, 0, 16), PROTO_T_BLOB_DATA);
	/* The uploader may read its own blob back. */
	CHECK_EQ_INT(blob_get(&anna, photo.id, 0, 16), PROTO_T_BLOB_DATA);
	CHECK_MEM(anna.frame.body.blob_data.data.ptr, photo.ct, 16);
}

static void blobs_deleted_after_last_ack(void)
{
	char pdf_path[512], photo_path[512];
	snprintf(pdf_path, sizeof pdf_path, "%s", blob_file(&relay, pdf.ct, pdf.ct_len));
	snprintf(photo_path, sizeof photo_path, "%s", blob_file(&relay, photo.ct, photo.ct_len));
	/* camilla acknowledges: her grant ends, dennis still may download. */
	CHECK_EQ_INT(tdev_ack(&camilla, delivered_seq[0]), PROTO_T_OK);
	CHECK_EQ_INT(blob_get(&camilla, photo.id, 0, 16), PROTO_T_ERROR);
	CHECK_EQ_INT(camilla.frame.body.error.code, -PROTO_E_NOT_FOUND);
	CHECK_EQ_INT(blob_get(&dennis, photo.id, 0, 16), PROTO_T_BLOB_DATA);
	CHECK(stored_exists(pdf.ct, pdf.ct_len) && stored_exists(photo.ct, photo.ct_len));
	/* dennis acknowledges: no reference left, the files and records go. (PostgreSQL keeps
	 * content sealed less than a minute ago for a while, since another relay may have sealed the
	 * same bytes just now; its sweep removes it later: spec/storage-postgresql.md §5.2.) */
	CHECK_EQ_INT(tdev_ack(&dennis, delivered_seq[1]), PROTO_T_OK);
	CHECK(relay_test_engine_pg() || gone_within(pdf_path, 3000));
	CHECK(relay_test_engine_pg() || gone_within(photo_path, 3000));
	CHECK_EQ_INT(blob_get(&anna, photo.id, 0, 16), PROTO_T_ERROR);
	CHECK_EQ_INT(anna.frame.body.error.code, -PROTO_E_NOT_FOUND);
	CHECK_EQ_INT(blob_status(&anna, pdf.id), PROTO_T_ERROR);
}

static void upload_cut_at_random_byte_resumes(void)
{
	struct att a;
	make_att(&a, 3 * MIB, "%PDF-1.4\n", "application/pdf", "resume.pdf");
	REQUIRE(a.ct_len > 0);
	uint8_t sha[32];
	sha256(a.ct, a.ct_len, sha);
	size_t cut = 1 + randombytes_uniform((uint32_t)a.ct_len - 2);
	REQUIRE(blob_put(&anna, a.id, a.ct_len, sha) == PROTO_T_BLOB_STATE);
	size_t have = 0;
	while (have < cut) {
		size_t n = cut - have < CHUNK ? cut - have : CHUNK;
		REQUIRE(blob_chunk(&anna, a.id, have, a.ct + have, n) == PROTO_T_BLOB_STATE);
		have = anna.frame.body.blob_state.have;
	}
	CHECK_EQ_INT(have, cut);
	/* One more chunk goes out, and the connection drops before its answer. */
	static proto_frame f;
	static uint8_t wire[PROTO_MAX_FRAME_BYTES];
	size_t wl = 0, n = a.ct_len - cut < CHUNK ? a.ct_len - cut : CHUNK;
	proto_frame_init(&f, PROTO_T_BLOB_CHUNK, 999);
	f.body.blob_chunk = (proto_blob_chunk){ a.id, cut, { a.ct + cut, n } };
	REQUIRE(proto_frame_encode(&f, wire, sizeof wire, &wl) == 0);
	tdev_send_raw(&anna, wire, wl);
	wsc_abort(&anna.ws);
	anna.connected = false;

	/* Reconnected: the relay holds the bytes up to the cut (and the last chunk if it got it in
	 * full), and the upload continues from there. */
	REQUIRE(tdev_login(&anna) == 0);
	REQUIRE(blob_status(&anna, a.id) == PROTO_T_BLOB_STATE);
	uint64_t resumed = anna.frame.body.blob_state.have;
	CHECK(resumed == cut || resumed == cut + n);
	CHECK(!anna.frame.body.blob_state.done || resumed == a.ct_len);
	/* A chunk at a stale offset stores nothing and tells where to continue (the dropped
	 * connection's last chunk may have been completed meanwhile). */
	if (resumed > 0 && resumed < a.ct_len) {
		REQUIRE(blob_chunk(&anna, a.id, 0, a.ct, 1) == PROTO_T_BLOB_STATE);
		uint64_t now_have = anna.frame.body.blob_state.have;
		CHECK(now_have == cut || now_have == cut + n);
		CHECK(now_have >= resumed);
	}
	CHECK_EQ_INT(upload_from(&anna, a.id, a.ct, a.ct_len), 0);
	uint8_t *back = NULL;
	CHECK_EQ_INT(download(&anna, a.id, a.ct_len, &back), (long)a.ct_len);
	CHECK(back && memcmp(back, a.ct, a.ct_len) == 0);
	free(back);
	free_att(&a);
}

static void corrupted_chunk_refused_and_deleted(void)
{
	struct att a;
	make_att(&a, 600 * 1024, "\x89PNG", "image/png", "skade.png");
	REQUIRE(a.ct_len > CHUNK);
	uint8_t sha[32];
	sha256(a.ct, a.ct_len, sha);
	a.ct[CHUNK + 77] ^= 0x20; /* a bit flipped on the way, in the second chunk */
	REQUIRE(blob_put(&anna, a.id, a.ct_len, sha) == PROTO_T_BLOB_STATE);
	int t = PROTO_T_BLOB_STATE;
	size_t have = 0;
	while (t == PROTO_T_BLOB_STATE && have < a.ct_len) {
		size_t n = a.ct_len - have < CHUNK ? a.ct_len - have : CHUNK;
		t = blob_chunk(&anna, a.id, have, a.ct + have, n);
		if (t == PROTO_T_BLOB_STATE)
			have = anna.frame.body.blob_state.have;
	}
	CHECK_EQ_INT(t, PROTO_T_ERROR);
	CHECK_EQ_INT(anna.frame.body.error.code, -PROTO_E_BAD_DIGEST);
	CHECK(anna.frame.body.error.name.len == 10 && memcmp(anna.frame.body.error.name.ptr, "bad_digest", 10) == 0);
	/* The blob is gone: record, temporary file, nothing under its would-be name. */
	CHECK_EQ_INT(blob_status(&anna, a.id), PROTO_T_ERROR);
	CHECK_EQ_INT(anna.frame.body.error.code, -PROTO_E_NOT_FOUND);
	for (int i = 0; i < 100 && tmp_entries(&relay) != 0; i++)
		usleep(20000);
	CHECK_EQ_INT(tmp_entries(&relay), 0);
	CHECK(!stored_exists(a.ct, a.ct_len));
	free_att(&a);
}

static void over_size_limit_and_quota_refused(void)
{
	uint8_t id[16], sha[32];
	randombytes_buf(sha, 32);
	memcpy(id, sha, 16);
	/* blob_max_bytes = 12 MiB in this relay's configuration. */
	CHECK_EQ_INT(blob_put(&anna, id, 12 * MIB + 1, sha), PROTO_T_ERROR);
	CHECK_EQ_INT(anna.frame.body.error.code, -PROTO_E_OVER_LIMIT);
	CHECK(anna.frame.body.error.has_details);
	CHECK_EQ_INT(anna.frame.body.error.details.limit, 12 * MIB);
	/* blob_quota_bytes = 16 MiB: anna holds the 3 MiB resumed upload; 12 MiB fits, then 2 more
	 * do not. */
	CHECK_EQ_INT(blob_put(&anna, id, 12 * MIB, sha), PROTO_T_BLOB_STATE);
	uint8_t id2[16], sha2[32];
	randombytes_buf(sha2, 32);
	memcpy(id2, sha2, 16);
	CHECK_EQ_INT(blob_put(&anna, id2, 2 * MIB, sha2), PROTO_T_ERROR);
	CHECK_EQ_INT(anna.frame.body.error.code, -PROTO_E_QUOTA_EXCEEDED);
	CHECK_EQ_INT(anna.frame.body.error.details.limit, 16 * MIB);
	/* Another account has its own quota. */
	CHECK_EQ_INT(blob_put(&bo, id2, 2 * MIB, sha2), PROTO_T_BLOB_STATE);
	/* A blob id is the first half of its digest (else invalid, nothing stored), so only those
	 * who hold the digest can name a blob; for them, an id in use by another device is forbidden. */
	uint8_t odd[16];
	randombytes_buf(odd, 16);
	CHECK_EQ_INT(blob_put(&bo, odd, 1, sha2), PROTO_T_ERROR);
	CHECK_EQ_INT(bo.frame.body.error.code, -PROTO_E_INVALID);
	CHECK_EQ_INT(blob_status(&bo, odd), PROTO_T_ERROR);
	CHECK_EQ_INT(bo.frame.body.error.code, -PROTO_E_NOT_FOUND);
	CHECK_EQ_INT(blob_put(&bo, id, 12 * MIB, sha), PROTO_T_ERROR);
	CHECK_EQ_INT(bo.frame.body.error.code, -PROTO_E_FORBIDDEN);
	/* An incomplete blob cannot be referenced. */
	uint8_t devs[2][16];
	memcpy(devs[0], camilla.device_id, 16);
	memcpy(devs[1], dennis.device_id, 16);
	const uint8_t *blobs[1] = { id };
	CHECK_EQ_INT(send_with_blobs(&anna, (const uint8_t(*)[16])devs, 2, blobs, 1, (const uint8_t *)"x", 1),
		     PROTO_T_ERROR);
	CHECK_EQ_INT(anna.frame.body.error.code, -PROTO_E_NOT_FOUND);
}

/* Restarts the killed relay with files no record names in its blob directory (as a crash or an
 * erasure leaves them): they are swept after the start; other files are left alone. */
static void restart_sweeping_stray_files(void)
{
	char junk_tmp[600], junk_final[600], other[600];
	snprintf(junk_tmp, sizeof junk_tmp, "%s/blobs/tmp/%s", relay.data_dir, "00112233445566778899aabbccddeeff");
	snprintf(junk_final, sizeof junk_final, "%s/blobs/%s", relay.data_dir,
		 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	snprintf(other, sizeof other, "%s/blobs/README", relay.data_dir);
	const char *made[3] = { junk_tmp, junk_final, other };
	for (int i = 0; i < 3; i++) {
		FILE *f = fopen(made[i], "wb");
		REQUIRE(f != NULL);
		fputs("x", f);
		fclose(f);
	}
	REQUIRE(relay_proc_restart(&relay, true) == 0);
	CHECK(gone_within(junk_tmp, 5000));
	CHECK(gone_within(junk_final, 5000));
	CHECK(exists(other));
}

/* The relay is killed in the middle of an upload: after the restart the stored bytes are there and
 * the upload continues from them. */
static void upload_survives_relay_crash(void)
{
	struct att a;
	make_att(&a, 1 * MIB, "%PDF-1.5\n", "application/pdf", "nedbrud.pdf");
	REQUIRE(a.ct_len > 2 * CHUNK);
	uint8_t sha[32];
	sha256(a.ct, a.ct_len, sha);
	REQUIRE(blob_put(&bo, a.id, a.ct_len, sha) == PROTO_T_BLOB_STATE);
	REQUIRE(blob_chunk(&bo, a.id, 0, a.ct, CHUNK) == PROTO_T_BLOB_STATE);
	REQUIRE(blob_chunk(&bo, a.id, CHUNK, a.ct + CHUNK, CHUNK) == PROTO_T_BLOB_STATE);
	relay_proc_kill(&relay);
	tdev_disconnect(&bo);
	if (relay_test_engine_pg())
		/* No blob files: the bytes are rows in the database (its sweep is the engine's test). */
		CHECK_EQ_INT(relay_proc_restart(&relay, true), 0);
	else
		restart_sweeping_stray_files();
	struct tdev *all[4] = { &anna, &bo, &camilla, &dennis };
	for (int i = 0; i < 4; i++) {
		tdev_disconnect(all[i]);
		all[i]->port = relay.port;
	}
	REQUIRE(tdev_login(&bo) == 0);
	REQUIRE(blob_status(&bo, a.id) == PROTO_T_BLOB_STATE);
	CHECK_EQ_INT(bo.frame.body.blob_state.have, 2 * CHUNK);
	CHECK_EQ_INT(upload_from(&bo, a.id, a.ct, a.ct_len), 0);
	uint8_t *back = NULL;
	CHECK_EQ_INT(download(&bo, a.id, a.ct_len, &back), (long)a.ct_len);
	CHECK(back && memcmp(back, a.ct, a.ct_len) == 0);
	free(back);
	free_att(&a);
}

/* A second relay with short lifetimes: uploads never referenced expire after 2 s, envelopes
 * after 3 s, and their blobs with them. */
static void blobs_expire(void)
{
	struct relay_proc r2;
	struct tdev a2, c2, d2;
	REQUIRE(relay_proc_start(&r2, "[limits]\nblob_orphan_seconds = 2\nenvelope_ttl_seconds = 3\n", true) == 0);
	tdev_init(&a2, r2.port);
	tdev_init(&c2, r2.port);
	tdev_init(&d2, r2.port);
	REQUIRE(tdev_register(&a2, "dev-mitid", "anna", 5) == 0);
	REQUIRE(tdev_register(&c2, "dev-adfs", "camilla", 5) == 0);
	REQUIRE(tdev_register(&d2, "dev-adfs", "dennis", 5) == 0);

	struct att orphan, sent, half;
	make_att(&orphan, 100 * 1024, "%PDF", "application/pdf", "glemt.pdf");
	make_att(&half, 100 * 1024, "%PDF", "application/pdf", "halv.pdf");
	make_att(&sent, 100 * 1024, "%PDF", "application/pdf", "sendt.pdf");
	CHECK_EQ_INT(upload_from(&a2, orphan.id, orphan.ct, orphan.ct_len), 0);
	CHECK_EQ_INT(upload_from(&a2, sent.id, sent.ct, sent.ct_len), 0);
	uint8_t devs[2][16];
	memcpy(devs[0], c2.device_id, 16);
	memcpy(devs[1], d2.device_id, 16);
	const uint8_t *blobs[1] = { sent.id };
	CHECK_EQ_INT(send_with_blobs(&a2, (const uint8_t(*)[16])devs, 2, blobs, 1, (const uint8_t *)"x", 1),
		     PROTO_T_STORED);
	REQUIRE(tdev_wait(&c2, PROTO_T_DELIVER, 5000) == PROTO_T_DELIVER);
	CHECK_EQ_INT(blob_get(&c2, sent.id, 0, 16), PROTO_T_BLOB_DATA);
	/* An upload in progress expires too, temporary file and all. */
	uint8_t sha[32];
	sha256(half.ct, half.ct_len, sha);
	REQUIRE(blob_put(&a2, half.id, half.ct_len, sha) == PROTO_T_BLOB_STATE);
	REQUIRE(blob_chunk(&a2, half.id, 0, half.ct, 1000) == PROTO_T_BLOB_STATE);

	char orphan_path[512], sent_path[512];
	snprintf(orphan_path, sizeof orphan_path, "%s", blob_file(&r2, orphan.ct, orphan.ct_len));
	snprintf(sent_path, sizeof sent_path, "%s", blob_file(&r2, sent.ct, sent.ct_len));
	CHECK(gone_within(orphan_path, 6000));
	/* (Under PostgreSQL there is no file to wait for: the blob's record is waited for.) */
	for (int i = 0; i < 300 && blob_status(&a2, orphan.id) != PROTO_T_ERROR; i++)
		usleep(20000);
	CHECK_EQ_INT(blob_status(&a2, orphan.id), PROTO_T_ERROR);
	CHECK_EQ_INT(blob_status(&a2, half.id), PROTO_T_ERROR);
	/* The bytes go right after the record, off the request's path. */
	for (int i = 0; i < 150 && tmp_entries(&r2) != 0; i++)
		usleep(20000);
	CHECK_EQ_INT(tmp_entries(&r2), 0);
	/* Unacknowledged, the envelopes expire, and the referenced blob with them. */
	CHECK(gone_within(sent_path, 8000));
	for (int i = 0; i < 400 && blob_get(&d2, sent.id, 0, 16) != PROTO_T_ERROR; i++)
		usleep(20000);
	CHECK_EQ_INT(blob_get(&d2, sent.id, 0, 16), PROTO_T_ERROR);
	CHECK_EQ_INT(d2.frame.body.error.code, -PROTO_E_NOT_FOUND);

	free_att(&orphan);
	free_att(&sent);
	free_att(&half);
	tdev_free(&a2);
	tdev_free(&c2);
	tdev_free(&d2);
	relay_proc_stop(&r2);
	relay_proc_cleanup(&r2);
}

int main(void)
{
	if (sodium_init() < 0 ||
	    relay_proc_start(&relay, "[limits]\nblob_max_bytes = 12582912\nblob_quota_bytes = 16777216\n", true) != 0)
		return 1;
	RUN(people_register);
	RUN(citizen_sends_document_and_photo_to_unit);
	RUN(download_without_referencing_envelope_refused);
	RUN(blobs_deleted_after_last_ack);
	RUN(upload_cut_at_random_byte_resumes);
	RUN(corrupted_chunk_refused_and_deleted);
	RUN(over_size_limit_and_quota_refused);
	RUN(upload_survives_relay_crash);
	RUN(blobs_expire);
	free_att(&pdf);
	free_att(&photo);
	tdev_free(&anna);
	tdev_free(&bo);
	tdev_free(&camilla);
	tdev_free(&dennis);
	relay_proc_stop(&relay);
	relay_proc_cleanup(&relay);
	return TEST_RESULT();
}
