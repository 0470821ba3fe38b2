/* SPDX-License-Identifier: MPL-2.0 */
/* File messages through libwakks and a real relay process over real TLS: a citizen sends a
 * 10 MiB document (with a text) and a photo to varde/jobcenter; both caseworkers and the
 * citizen's other device download, verify and decrypt them, and the saved files are
 * byte-identical to the originals. An upload cut by a dropped connection, and one cut by closing
 * the client, continue from the relay's `have`; a download cut by closing the recipient is
 * fetched again after the redelivery and reported once; a download whose bytes do not match the
 * descriptor's digest is refused before decryption; a file over the relay's limit is refused;
 * history lists the files; neither the relay's files nor the stores hold plaintext. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "client_harness.h"
#include "relay_proc.h"
#include "test.h"
#include "wakks_internal.h"

#define MIB (1024u * 1024u)

static struct relay_proc relay;
static char base[400], ca[400], originals[400];
static struct th_dev anna1, anna2, camilla, dennis;

/* Recognisable plaintext (so a leak would be visible), varied so chunks differ. */
static uint8_t *make_plain(size_t len, const char *magic)
{
	static const char line[] = "Lonseddel for oktober, Varde Kommune. ";
	uint8_t *p = malloc(len);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(line[i % (sizeof line - 1)] ^ (uint8_t)((i / 4096) & 0x0f));
	memcpy(p, magic, strlen(magic) < len ? strlen(magic) : len);
	return p;
}

static int write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t w = fwrite(p, 1, n, f);
	return fclose(f) == 0 && w == n ? 0 : -1;
}

static uint8_t *slurp(const char *path, size_t *len)
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

/* The file saved for d's message named name has exactly these bytes. */
static bool saved_equals(const struct th_dev *d, const char *name, const uint8_t *p, size_t n)
{
	int i = th_find_file(d, name);
	if (i < 0 || d->msgs[i].file_state != WAKKS_ATT_SAVED || d->msgs[i].file_size != n)
		return false;
	size_t got = 0;
	uint8_t *buf = slurp(d->msgs[i].file_path, &got);
	bool same = buf && got == n && memcmp(buf, p, n) == 0;
	free(buf);
	return same;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Queues a file (from a path, or from memory when path is NULL) and pumps every device (the
 * recipients download meanwhile) until the operation finishes; returns its result. */
static int send_file(struct th_dev *d, const char *path, const uint8_t *data, size_t len,
		     const char *name, const char *text)
{
	wakks_target to = { NULL, "varde", "jobcenter" };
	wakks_file f = { .path = path, .data = data, .len = len, .file_name = name };
	uint32_t op;
	int rc = wakks_send_file(d->c, &to, &f, text, text ? strlen(text) : 0, NULL, &op);
	if (rc != 0)
		return rc;
	for (int i = 0; i < 1200; i++) {
		th_pump(50);
		for (size_t k = 0; k < WAKKS__MAX_OPS; k++)
			if (d->c->ops[k].id == op && d->c->ops[k].done)
				return d->c->ops[k].result;
	}
	return WAKKS_E_TIMEOUT;
}

static uint8_t *doc, *photo;
static const size_t doc_len = 10 * MIB, photo_len = 48 * 1024 + 7;
static char doc_path[512];

static void devices_register(void)
{
	REQUIRE(th_open(&anna1, "anna1", base, relay.port, ca) == 0);
	REQUIRE(th_open(&anna2, "anna2", base, relay.port, ca) == 0);
	REQUIRE(th_open(&camilla, "camilla", base, relay.port, ca) == 0);
	REQUIRE(th_open(&dennis, "dennis", base, relay.port, ca) == 0);
	REQUIRE(th_register(&anna1, "dev-mitid", "anna") == 0);
	REQUIRE(th_register(&anna2, "dev-mitid", "anna") == 0);
	REQUIRE(th_register(&camilla, "dev-adfs", "camilla") == 0);
	REQUIRE(th_register(&dennis, "dev-adfs", "dennis") == 0);
}

static void citizen_sends_document_and_photo_to_the_unit(void)
{
	doc = make_plain(doc_len, "%PDF-1.7 lonseddel");
	photo = make_plain(photo_len, "\xff\xd8\xff\xe0 JFIF brev fra kommunen");
	snprintf(doc_path, sizeof doc_path, "%s/lonseddel-oktober.pdf", originals);
	REQUIRE(write_file(doc_path, doc, doc_len) == 0);
	/* the document from a path, with a text; the photo from memory */
	CHECK_EQ_INT(send_file(&anna1, doc_path, NULL, 0, NULL, "Her er min lønseddel"), 0);
	CHECK_EQ_INT(send_file(&anna1, NULL, photo, photo_len, "brev.jpg", NULL), 0);
	CHECK_EQ_INT(wakks_pending_count(anna1.c), 0);
	/* the ciphertext left the outbox once the messages were stored */
	char outbox[600];
	snprintf(outbox, sizeof outbox, "%s/outbox", anna1.dir);
	CHECK_EQ_INT(count_entries(outbox), 0);

	struct th_dev *rcpt[3] = { &camilla, &dennis, &anna2 };
	for (int k = 0; k < 3; k++) {
		struct th_dev *d = rcpt[k];
		REQUIRE(th_wait_file(d, "lonseddel-oktober.pdf", 60000) == 0);
		REQUIRE(th_wait_file(d, "brev.jpg", 60000) == 0);
		REQUIRE(th_wait_text(d, "Her er min lønseddel", 10000) == 0);
		CHECK(saved_equals(d, "lonseddel-oktober.pdf", doc, doc_len));
		CHECK(saved_equals(d, "brev.jpg", photo, photo_len));
		int i = th_find_file(d, "lonseddel-oktober.pdf"), j = th_find_file(d, "brev.jpg");
		CHECK(strcmp(d->msgs[i].media_type, "application/pdf") == 0);
		CHECK(strcmp(d->msgs[j].media_type, "image/jpeg") == 0);
		CHECK(strcmp(d->msgs[i].tenant, "varde") == 0 && strcmp(d->msgs[i].unit, "jobcenter") == 0);
		CHECK(d->msgs[i].outgoing == (d == &anna2));
		/* saved in the store's files/ directory */
		char files[600];
		snprintf(files, sizeof files, "%s/files/", d->dir);
		CHECK(strncmp(d->msgs[i].file_path, files, strlen(files)) == 0);
		/* the text was queued first and arrives as its own message, before the file */
		CHECK(th_find(d, "Her er min lønseddel") < i);
		CHECK_EQ_INT(d->n_errors, 0);
	}
	/* the sender's history has both files as sent */
	CHECK_EQ_INT(anna1.n_sent, 3);
}

struct file_count {
	int saved, outgoing;
	char last_name[256];
};

static int count_files(const wakks_message *m, void *arg)
{
	struct file_count *f = arg;
	if (m->attachment) {
		f->saved += m->attachment->state == WAKKS_ATT_SAVED;
		f->outgoing += m->outgoing && m->attachment->state == WAKKS_ATT_UPLOADED;
		snprintf(f->last_name, sizeof f->last_name, "%s", m->attachment->file_name);
		if (m->text_len != 0)
			f->saved = -100; /* a file message carries no text */
	}
	return 0;
}

static void history_lists_the_files(void)
{
	struct file_count fc = { 0 };
	CHECK_EQ_INT(wakks_history(camilla.c, count_files, &fc), 0);
	CHECK_EQ_INT(fc.saved, 2);
	CHECK(strcmp(fc.last_name, "brev.jpg") == 0);
	struct file_count fa = { 0 };
	CHECK_EQ_INT(wakks_history(anna1.c, count_files, &fa), 0);
	CHECK_EQ_INT(fa.outgoing, 2);
	/* The client message ids increase in the order sent (spec/protocol.md §8.1): the text that
	 * came with the document was queued, and goes, before the document. */
	struct th_own_order o = { .device = anna1.c->device };
	CHECK_EQ_INT(wakks_history(anna1.c, th_own_ids_in_order, &o), 0);
	CHECK_EQ_INT(o.n, 3);
	CHECK_EQ_INT(o.ordered, 2);
}

/* A redelivery after a restart must not fetch or report a file twice: the envelopes were
 * acknowledged after the download. */
static void restarted_recipient_does_not_fetch_again(void)
{
	int before = camilla.n_msgs;
	REQUIRE(th_reopen(&camilla) == 0);
	REQUIRE(th_wait_ready(&camilla, 10000) == 0);
	th_pump(500);
	CHECK_EQ_INT(camilla.n_msgs, before);
	char files[600];
	snprintf(files, sizeof files, "%s/files", camilla.dir);
	CHECK_EQ_INT(count_entries(files), 2);
}

struct dl_wait {
	struct th_dev *d;
	uint64_t n;
};

static bool downloaded_at_least(void *arg)
{
	struct dl_wait *w = arg;
	return w->d->c->dl.active && w->d->c->dl.have >= w->n;
}

/* The recipient is closed in the middle of a download: its envelope was not acknowledged, so
 * the relay delivers it again, the stored message says the file is still to be fetched, and it
 * is fetched, saved and reported once. */
static void download_cut_by_a_restart_is_fetched_again(void)
{
	size_t len = 8 * MIB;
	uint8_t *p = make_plain(len, "%PDF-1.7 journalnotat");
	wakks_target to = { NULL, "varde", "jobcenter" };
	wakks_file f = { .data = p, .len = len, .file_name = "journalnotat.pdf" };
	REQUIRE(wakks_send_file(anna1.c, &to, &f, NULL, 0, NULL, NULL) == 0);
	struct dl_wait w = { &dennis, 1 * MIB };
	REQUIRE(th_pump_until(downloaded_at_least, &w, 30000) == 0);
	CHECK_EQ_INT(th_find_file(&dennis, "journalnotat.pdf"), -1); /* not reported yet */
	CHECK_EQ_INT(wakks_downloads_pending(dennis.c), 1);
	REQUIRE(th_reopen(&dennis) == 0);
	REQUIRE(th_wait_file(&dennis, "journalnotat.pdf", 60000) == 0);
	CHECK(saved_equals(&dennis, "journalnotat.pdf", p, len));
	th_pump(300);
	int n = 0;
	for (int i = 0; i < dennis.n_msgs; i++)
		n += dennis.msgs[i].file && strcmp(dennis.msgs[i].file_name, "journalnotat.pdf") == 0;
	CHECK_EQ_INT(n, 1);
	char second[700];
	snprintf(second, sizeof second, "%s/files/journalnotat-2.pdf", dennis.dir);
	struct stat st;
	CHECK(stat(second, &st) != 0);
	CHECK_EQ_INT(wakks_downloads_pending(dennis.c), 0);
	REQUIRE(th_wait_file(&camilla, "journalnotat.pdf", 60000) == 0);
	free(p);
}

#if defined(WAKKS_TEST_HOOKS) && WAKKS_TEST_HOOKS
static void upload_cut_by_a_dropped_connection_resumes_from_have(void)
{
	size_t len = 3 * MIB + 12345;
	uint8_t *p = make_plain(len, "%PDF-1.7 sygemelding");
	int drops = anna1.n_disconnects;
	anna1.c->test_upload_bytes = 0;
	/* the connection drops as soon as the fifth chunk is written */
	wakks__test_drop_after_chunks(anna1.c, 5);
	CHECK_EQ_INT(send_file(&anna1, NULL, p, len, "sygemelding.pdf", NULL), 0);
	CHECK(anna1.n_disconnects > drops);
	/* continued from the relay's `have`: at most the chunk in flight went twice */
	size_t ct = wc_attachment_ciphertext_size(len);
	CHECK(anna1.c->test_upload_bytes >= ct);
	CHECK(anna1.c->test_upload_bytes <= ct + PROTO_MAX_BLOB_CHUNK_BYTES);
	REQUIRE(th_wait_file(&dennis, "sygemelding.pdf", 60000) == 0);
	CHECK(saved_equals(&dennis, "sygemelding.pdf", p, len));
	REQUIRE(th_wait_file(&camilla, "sygemelding.pdf", 60000) == 0);
	CHECK(saved_equals(&camilla, "sygemelding.pdf", p, len));
	free(p);
}

struct bytes_wait {
	struct th_dev *d;
	uint64_t n;
};

static bool uploaded_at_least(void *arg)
{
	struct bytes_wait *w = arg;
	return w->d->c->test_upload_bytes >= w->n;
}

/* The client is closed in the middle of an upload (as an app that is killed): reopened from its
 * store it asks the relay how far it got and sends only the rest. */
static void upload_cut_by_a_restart_resumes_from_have(void)
{
	size_t len = 4 * MIB;
	uint8_t *p = make_plain(len, "%PDF-1.7 kontoudtog");
	char path[512];
	snprintf(path, sizeof path, "%s/kontoudtog.pdf", originals);
	REQUIRE(write_file(path, p, len) == 0);
	wakks_target to = { NULL, "varde", "jobcenter" };
	wakks_file f = { .path = path };
	uint32_t op;
	anna1.c->test_upload_bytes = 0;
	REQUIRE(wakks_send_file(anna1.c, &to, &f, NULL, 0, NULL, &op) == 0);
	struct bytes_wait w = { &anna1, 2 * MIB };
	REQUIRE(th_pump_until(uploaded_at_least, &w, 30000) == 0);
	CHECK_EQ_INT(wakks_pending_count(anna1.c), 1);
	REQUIRE(th_reopen(&anna1) == 0);
	REQUIRE(th_wait_file(&camilla, "kontoudtog.pdf", 60000) == 0);
	CHECK(saved_equals(&camilla, "kontoudtog.pdf", p, len));
	size_t ct = wc_attachment_ciphertext_size(len);
	CHECK(anna1.c->test_upload_bytes > 0);
	CHECK(anna1.c->test_upload_bytes <= ct - 2 * MIB + 2 * PROTO_MAX_BLOB_CHUNK_BYTES);
	th_pump(300);
	CHECK_EQ_INT(wakks_pending_count(anna1.c), 0);
	free(p);
}

static void download_not_matching_its_digest_is_refused_before_decryption(void)
{
	static const char data[] = "Bekraeftelse af aftale";
	int errors = dennis.n_errors;
	wakks__test_corrupt_next_download(dennis.c);
	CHECK_EQ_INT(send_file(&anna1, NULL, (const uint8_t *)data, sizeof data, "aftale.txt", NULL), 0);
	REQUIRE(th_wait_file(&dennis, "aftale.txt", 30000) == 0);
	int i = th_find_file(&dennis, "aftale.txt");
	CHECK_EQ_INT(dennis.msgs[i].file_state, WAKKS_ATT_FAILED);
	CHECK(dennis.msgs[i].file_path[0] == '\0');
	CHECK_EQ_INT(dennis.n_errors, errors + 1);
	CHECK_EQ_INT(dennis.last_error_code, WAKKS_E_VERIFY);
	CHECK(strstr(dennis.last_error, "digest") != NULL); /* refused at the digest, not opened */
	char saved[700];
	snprintf(saved, sizeof saved, "%s/files/aftale.txt", dennis.dir);
	struct stat st;
	CHECK(stat(saved, &st) != 0);
	/* the other caseworker, whose bytes were intact, has it */
	REQUIRE(th_wait_file(&camilla, "aftale.txt", 30000) == 0);
	CHECK(saved_equals(&camilla, "aftale.txt", (const uint8_t *)data, sizeof data));
	/* acknowledged all the same (the blob will not change): no redelivery after a restart */
	int before = dennis.n_msgs;
	REQUIRE(th_reopen(&dennis) == 0);
	REQUIRE(th_wait_ready(&dennis, 10000) == 0);
	th_pump(500);
	CHECK_EQ_INT(dennis.n_msgs, before);
}
#endif

/* The same check as the library makes, on a descriptor whose digest was tampered with. */
static void descriptor_with_another_digest_does_not_open(void)
{
	uint8_t pt[1000], ct[2000], out[1000];
	size_t ct_len;
	wc_attachment a;
	randombytes_buf(pt, sizeof pt);
	REQUIRE(wc_attachment_encrypt(pt, sizeof pt, ct, sizeof ct, &ct_len, &a) == 0);
	a.digest[5] ^= 0x40;
	memset(out, 0, sizeof out);
	CHECK(wc_attachment_decrypt(&a, ct, ct_len, out, sizeof out) == WC_E_VERIFY);
	uint8_t zero[1000] = { 0 };
	CHECK_MEM(out, zero, sizeof out); /* nothing was decrypted into the output */
	wc_attachment_wipe(&a);
}

static void file_over_the_relay_limit_is_refused(void)
{
	size_t len = 26 * MIB; /* the relay's default limit is 25 MiB */
	uint8_t *p = calloc(1, len);
	REQUIRE(p);
	CHECK_EQ_INT(send_file(&anna1, NULL, p, len, "for-stor.bin", NULL), WAKKS_RELAY_OVER_LIMIT);
	free(p);
	CHECK_EQ_INT(wakks_pending_count(anna1.c), 0);
	char outbox[600];
	snprintf(outbox, sizeof outbox, "%s/outbox", anna1.dir);
	CHECK_EQ_INT(count_entries(outbox), 0);
	/* kept in history as failed */
	struct file_count fc = { 0 };
	CHECK_EQ_INT(wakks_history(anna1.c, count_files, &fc), 0);
	CHECK(strcmp(fc.last_name, "for-stor.bin") == 0);
}

static void bad_arguments_are_refused(void)
{
	wakks_target to = { NULL, "varde", "jobcenter" };
	wakks_file nameless = { .data = (const uint8_t *)"x", .len = 1 };
	CHECK_EQ_INT(wakks_send_file(anna1.c, &to, &nameless, NULL, 0, NULL, NULL), WAKKS_E_INVAL);
	char missing[600];
	snprintf(missing, sizeof missing, "%s/findes-ikke.pdf", base);
	wakks_file absent = { .path = missing };
	CHECK_EQ_INT(wakks_send_file(anna1.c, &to, &absent, NULL, 0, NULL, NULL), WAKKS_E_IO);
	wakks_file badtype = { .data = (const uint8_t *)"x", .len = 1, .file_name = "a",
			       .media_type = "text/plain; charset=utf-8" };
	CHECK_EQ_INT(wakks_send_file(anna1.c, &to, &badtype, NULL, 0, NULL, NULL), WAKKS_E_INVAL);
	CHECK_EQ_INT(wakks_pending_count(anna1.c), 0);
}

/* Every regular file under dir (depth levels) is free of every needle. */
static int files_with(const char *dir, const char *const *needles, int depth, const char *skip)
{
	char cmd[800];
	snprintf(cmd, sizeof cmd, "find '%s' -maxdepth %d -type f", dir, depth);
	FILE *pp = popen(cmd, "r");
	if (!pp)
		return -1;
	char path[700];
	int hits = 0, files = 0;
	while (fgets(path, sizeof path, pp)) {
		path[strcspn(path, "\n")] = '\0';
		if (skip && strstr(path, skip))
			continue;
		size_t n = 0;
		uint8_t *buf = slurp(path, &n);
		files++;
		for (int i = 0; buf && needles[i]; i++)
			if (memmem(buf, n, needles[i], strlen(needles[i]))) {
				fprintf(stderr, "  plaintext \"%s\" in %s\n", needles[i], path);
				hits++;
			}
		free(buf);
	}
	pclose(pp);
	return files ? hits : -1;
}

static void no_plaintext_in_relay_files_or_stores(void)
{
	static const char *const needles[] = { "%PDF-1.7", "JFIF brev", "Lonseddel for oktober",
					       "Bekraeftelse af aftale", NULL };
	CHECK_EQ_INT(files_with(relay.data_dir, needles, 3, NULL), 0);
	/* the stores and outboxes (what files/ holds is the plaintext, by design) */
	CHECK_EQ_INT(files_with(base, needles, 3, "/files/"), 0);
}

int main(void)
{
	if (relay_proc_start(&relay, NULL, true) != 0) {
		fprintf(stderr, "relay did not start\n");
		return 1;
	}
	snprintf(base, sizeof base, "%s/clients", relay.dir);
	snprintf(ca, sizeof ca, "%s/dev-cert.pem", relay.data_dir);
	snprintf(originals, sizeof originals, "%s/originals", relay.dir);
	mkdir(originals, 0700);
	RUN(devices_register);
	RUN(citizen_sends_document_and_photo_to_the_unit);
	RUN(history_lists_the_files);
	RUN(restarted_recipient_does_not_fetch_again);
	RUN(download_cut_by_a_restart_is_fetched_again);
#if defined(WAKKS_TEST_HOOKS) && WAKKS_TEST_HOOKS
	RUN(upload_cut_by_a_dropped_connection_resumes_from_have);
	RUN(upload_cut_by_a_restart_resumes_from_have);
	RUN(download_not_matching_its_digest_is_refused_before_decryption);
#endif
	RUN(descriptor_with_another_digest_does_not_open);
	RUN(file_over_the_relay_limit_is_refused);
	RUN(bad_arguments_are_refused);
	th_close(&anna1);
	th_close(&anna2);
	th_close(&camilla);
	th_close(&dennis);
	relay_proc_stop(&relay);
	RUN(no_plaintext_in_relay_files_or_stores);
	free(doc);
	free(photo);
	int rc = TEST_RESULT();
	relay_proc_cleanup(&relay);
	return rc;
}
