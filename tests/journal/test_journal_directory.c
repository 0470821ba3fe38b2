/* SPDX-License-Identifier: MPL-2.0 */
/* End to end with the directory destination: a real relay, the development provider, a citizen
 * and two caseworkers on libwakks, and wakks-journal as a process registered as the tenant's
 * journal device. Every message of the thread, texts and files, becomes exactly one note with
 * the right thread, citizen, sender and times, a PDF that poppler reads back, and documents
 * byte-identical to what was sent; a restart of the daemon adds no note. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "client_harness.h"
#include "journal_proc.h"
#include "relay_proc.h"
#include "test.h"

static struct relay_proc relay;
static struct journal_proc jp, jday; /* one note per message; one per conversation and day */
static char base[400], ca[400];
static struct th_dev anna, camilla, dennis;
static uint8_t anna_acc[16], camilla_acc[16], dennis_acc[16];
static uint8_t thread_id[16]; /* the thread of Anna and the jobcenter */
static uint8_t *doc, *photo;
static const size_t doc_len = 300 * 1024 + 17, photo_len = 70 * 1024;

struct sent {
	const char *text;      /* a text message, or NULL */
	const char *file_name; /* a file message */
	const uint8_t *data;
	size_t len;
	uint8_t id[16];
	const char *role;
	const uint8_t *sender;
	const char *name;
};
static struct sent sent[6];
static int n_sent;

static int send_and_wait(struct th_dev *d, const uint8_t *to, struct sent *s)
{
	wakks_target t = { to, "varde", "jobcenter" };
	uint32_t op;
	int rc;
	if (s->text) {
		rc = wakks_send_text(d->c, &t, s->text, strlen(s->text), s->id, &op);
	} else {
		wakks_file f = { .data = s->data, .len = s->len, .file_name = s->file_name,
				 .media_type = "application/pdf" };
		rc = wakks_send_file(d->c, &t, &f, NULL, 0, s->id, &op);
	}
	if (rc != 0)
		return rc;
	for (int i = 0; i < 600; i++) {
		th_pump(50);
		if (wakks_pending_count(d->c) == 0)
			return 0;
	}
	return -1;
}

static void devices_and_journal_register(void)
{
	REQUIRE(th_open(&anna, "anna", base, relay.port, ca) == 0);
	REQUIRE(th_open(&camilla, "camilla", base, relay.port, ca) == 0);
	REQUIRE(th_open(&dennis, "dennis", base, relay.port, ca) == 0);
	REQUIRE(th_register(&anna, "dev-mitid", "anna") == 0);
	REQUIRE(th_register(&camilla, "dev-adfs", "camilla") == 0);
	REQUIRE(th_register(&dennis, "dev-adfs", "dennis") == 0);
	wakks_account_id(anna.c, anna_acc);
	wakks_account_id(camilla.c, camilla_acc);
	wakks_account_id(dennis.c, dennis_acc);
	/* The operator's directory of caseworker names, by account. */
	char names[600], h1[33], h2[33];
	snprintf(names, sizeof names, "%s/jdir/names.txt", relay.dir);
	mkdir(jp.dir, 0700);
	wakks_id_hex(camilla_acc, h1);
	wakks_id_hex(dennis_acc, h2);
	FILE *f = fopen(names, "w");
	REQUIRE(f);
	fprintf(f, "# caseworkers\n%s Camilla Holm\n%s Dennis Lund\n", h1, h2);
	fclose(f);
	char extra[700];
	snprintf(extra, sizeof extra, "names_file = %s\n", names);
	char dir[500];
	snprintf(dir, sizeof dir, "%s/jdir", relay.dir);
	REQUIRE(journal_proc_init(&jp, dir, relay.port, ca, extra) == 0);
	REQUIRE(journal_proc_start(&jp, 20000) == 0);
	/* A second device of the journal account, writing a note per conversation and day. */
	snprintf(dir, sizeof dir, "%s/jday", relay.dir);
	snprintf(extra, sizeof extra, "names_file = %s\ngrouping = day\nnotices = false\n", names);
	REQUIRE(journal_proc_init(&jday, dir, relay.port, ca, extra) == 0);
	REQUIRE(journal_proc_start(&jday, 20000) == 0);
}

static void a_conversation_with_files(void)
{
	wakks_consent_text text;
	REQUIRE(wakks_consent_text_fetch(anna.c, "varde", "", &text) == 0);
	uint32_t op;
	REQUIRE(wakks_consent_grant(anna.c, &text, &op) == 0);
	REQUIRE(wakks_wait(anna.c, op, 10000) == 0);
	wakks_consent_text_free(&text);
	sent[0] = (struct sent){ .text = "Hej, jeg har fået et brev om mit forløb (æøå)",
				 .role = "citizen", .sender = anna_acc };
	sent[1] = (struct sent){ .file_name = "lægeerklæring.pdf", .data = doc, .len = doc_len,
				 .role = "citizen", .sender = anna_acc };
	sent[2] = (struct sent){ .text = "Tak, Anna. Jeg kigger på det i dag.", .role = "caseworker",
				 .sender = camilla_acc, .name = "Camilla Holm" };
	sent[3] = (struct sent){ .file_name = "plan.pdf", .data = photo, .len = photo_len,
				 .role = "caseworker", .sender = dennis_acc, .name = "Dennis Lund" };
	sent[4] = (struct sent){ .text = "Her er planen. Mvh Dennis", .role = "caseworker",
				 .sender = dennis_acc, .name = "Dennis Lund" };
	REQUIRE(send_and_wait(&anna, NULL, &sent[0]) == 0);
	REQUIRE(send_and_wait(&anna, NULL, &sent[1]) == 0);
	REQUIRE(send_and_wait(&camilla, anna_acc, &sent[2]) == 0);
	REQUIRE(send_and_wait(&dennis, anna_acc, &sent[3]) == 0);
	REQUIRE(send_and_wait(&dennis, anna_acc, &sent[4]) == 0);
	n_sent = 5;
	int i0 = th_find(&camilla, sent[0].text);
	REQUIRE(i0 >= 0);
	memcpy(thread_id, camilla.msgs[i0].conversation, 16);
	for (int i = 0; i < 600 && journal_count_notes(&jp, NULL) < n_sent; i++)
		th_pump(50);
	CHECK_EQ_INT(journal_count_notes(&jp, NULL), n_sent);
}

static json_t *load_note(const char *key_dir)
{
	char path[1200];
	snprintf(path, sizeof path, "%s/%s/note.json", jp.out, key_dir);
	return json_load_file(path, 0, NULL);
}

static bool file_equals(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	uint8_t *buf = malloc(len + 1);
	size_t n = buf ? fread(buf, 1, len + 1, f) : 0;
	fclose(f);
	bool eq = buf && n == len && memcmp(buf, data, len) == 0;
	free(buf);
	return eq;
}

static char *run_capture(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	if (!p)
		return NULL;
	char *buf = calloc(1, 1 << 16);
	if (buf)
		fread(buf, 1, (1 << 16) - 1, p);
	pclose(p);
	return buf;
}

static void one_note_per_message_with_the_right_contents(void)
{
	DIR *d = opendir(jp.out);
	REQUIRE(d);
	int found[6] = { 0 };
	char anna_hex[33];
	wakks_id_hex(anna_acc, anna_hex);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strlen(e->d_name) != 64)
			continue;
		json_t *n = load_note(e->d_name);
		CHECK(n != NULL);
		if (!n)
			continue;
		const char *mid = json_string_value(json_object_get(n, "message_id"));
		int k = -1;
		for (int i = 0; i < n_sent; i++) {
			char h[33];
			wakks_id_hex(sent[i].id, h);
			if (mid && strcmp(h, mid) == 0)
				k = i;
		}
		CHECK(k >= 0);
		if (k < 0) {
			json_decref(n);
			continue;
		}
		found[k]++;
		struct sent *s = &sent[k];
		CHECK(strcmp(json_string_value(json_object_get(n, "key")), e->d_name) == 0);
		CHECK(strcmp(json_string_value(json_object_get(n, "tenant")), "varde") == 0);
		CHECK(strcmp(json_string_value(json_object_get(n, "unit")), "jobcenter") == 0);
		json_t *cit = json_object_get(n, "citizen");
		CHECK(json_string_value(json_object_get(cit, "account")) &&
		      strcmp(json_string_value(json_object_get(cit, "account")), anna_hex) == 0);
		/* Verified by the journal device from Anna's MitID presentation (development
		 * provider: Anna Jensen, 050384-1234). */
		CHECK(json_string_value(json_object_get(cit, "identity")) &&
		      strcmp(json_string_value(json_object_get(cit, "identity")), "verified_mitid") == 0);
		CHECK(json_string_value(json_object_get(cit, "cpr")) &&
		      strcmp(json_string_value(json_object_get(cit, "cpr")), "0503841234") == 0);
		CHECK(json_string_value(json_object_get(cit, "name")) &&
		      strcmp(json_string_value(json_object_get(cit, "name")), "Anna Jensen") == 0);
		json_t *snd = json_object_get(n, "sender");
		CHECK(strcmp(json_string_value(json_object_get(snd, "role")), s->role) == 0);
		char sh[33];
		wakks_id_hex(s->sender, sh);
		CHECK(strcmp(json_string_value(json_object_get(snd, "account")), sh) == 0);
		if (s->name)
			CHECK(json_string_value(json_object_get(snd, "name")) &&
			      strcmp(json_string_value(json_object_get(snd, "name")), s->name) == 0);
		CHECK(json_string_value(json_object_get(n, "sent_at")) != NULL);
		char pdf[1200], cmd[1400];
		snprintf(pdf, sizeof pdf, "%s/%s/note.pdf", jp.out, e->d_name);
		snprintf(cmd, sizeof cmd, "pdftotext -enc UTF-8 '%s' - 2>&1", pdf);
		char *txt = run_capture(cmd);
		CHECK(txt && strstr(txt, "Journalnotat"));
		CHECK(txt && strstr(txt, "varde / jobcenter"));
		CHECK(txt && strstr(txt, "Anna Jensen, CPR 050384-1234"));
		if (s->text) {
			CHECK(strcmp(json_string_value(json_object_get(n, "text")), s->text) == 0);
			CHECK(txt && strstr(txt, s->text));
			CHECK_EQ_INT(json_array_size(json_object_get(n, "documents")), 0);
		} else {
			json_t *doc0 = json_array_get(json_object_get(n, "documents"), 0);
			CHECK(strcmp(json_string_value(json_object_get(doc0, "file_name")), s->file_name) == 0);
			CHECK(strcmp(json_string_value(json_object_get(doc0, "state")), "received") == 0);
			char p[1400];
			snprintf(p, sizeof p, "%s/%s/%s", jp.out, e->d_name,
				 json_string_value(json_object_get(doc0, "path")));
			CHECK(file_equals(p, s->data, s->len));
			CHECK(txt && strstr(txt, s->file_name));
		}
		free(txt);
		snprintf(cmd, sizeof cmd, "pdfinfo '%s' 2>&1", pdf);
		char *info = run_capture(cmd);
		CHECK(info && strstr(info, "Pages:") && !strstr(info, "Error"));
		free(info);
		json_decref(n);
	}
	closedir(d);
	for (int i = 0; i < n_sent; i++)
		CHECK_EQ_INT(found[i], 1);
	/* Nothing pending, nothing parked, no notice left to send (they go out within moments). */
	char *out = NULL;
	for (int i = 0; i < 100; i++) {
		free(out);
		out = NULL;
		CHECK_EQ_INT(journal_proc_command(&jp, "list", NULL, &out), 0);
		if (out && out[0] == '\0')
			break;
		th_pump(50);
	}
	CHECK(out && out[0] == '\0');
	free(out);
}

static int entries(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

/* Every day note of the day journal, and how often each sent message appears in them. */
static int day_messages(int counts[6], bool check_contents)
{
	memset(counts, 0, 6 * sizeof *counts);
	DIR *d = opendir(jday.out);
	if (!d)
		return -1;
	int total = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strlen(e->d_name) != 64)
			continue;
		char path[1200];
		snprintf(path, sizeof path, "%s/%s/note.json", jday.out, e->d_name);
		json_t *n = json_load_file(path, 0, NULL);
		if (!n)
			return -1;
		if (check_contents) {
			CHECK(strcmp(json_string_value(json_object_get(n, "schema")), "wakks.journal.day-note/1") == 0);
			char anna_hex[33];
			wakks_id_hex(anna_acc, anna_hex);
			const char *acc = json_string_value(json_object_get(json_object_get(n, "citizen"), "account"));
			CHECK(acc && strcmp(acc, anna_hex) == 0);
		}
		char *txt = NULL;
		if (check_contents) {
			char cmd[1400];
			snprintf(cmd, sizeof cmd, "pdftotext -enc UTF-8 '%s/%s/note.pdf' - 2>&1", jday.out, e->d_name);
			txt = run_capture(cmd);
		}
		size_t i;
		json_t *m;
		const char *prev = "";
		json_array_foreach(json_object_get(n, "messages"), i, m)
		{
			total++;
			const char *mid = json_string_value(json_object_get(m, "message_id"));
			const char *at = json_string_value(json_object_get(m, "stored_at"));
			if (check_contents)
				CHECK(at && strcmp(prev, at) <= 0); /* in the relay's order */
			prev = at ? at : "";
			for (int k = 0; k < 6; k++) {
				char h[33];
				wakks_id_hex(sent[k].id, h);
				if (!mid || strcmp(h, mid) != 0)
					continue;
				counts[k]++;
				if (!check_contents)
					continue;
				if (sent[k].text) {
					CHECK(txt && strstr(txt, sent[k].text));
				} else {
					json_t *doc0 = json_array_get(json_object_get(m, "documents"), 0);
					char fp[1400];
					snprintf(fp, sizeof fp, "%s/%s/%s", jday.out, e->d_name,
						 json_string_value(json_object_get(doc0, "path")));
					CHECK(file_equals(fp, sent[k].data, sent[k].len));
					CHECK(txt && strstr(txt, sent[k].file_name));
				}
			}
		}
		free(txt);
		json_decref(n);
	}
	closedir(d);
	return total;
}

static void one_note_per_conversation_and_day(void)
{
	int counts[6];
	for (int i = 0; i < 200 && day_messages(counts, false) < n_sent; i++)
		th_pump(50);
	CHECK_EQ_INT(day_messages(counts, true), n_sent);
	for (int k = 0; k < n_sent; k++)
		CHECK_EQ_INT(counts[k], 1);
	/* One conversation: one note, unless the test ran across midnight. */
	int notes = journal_count_notes(&jday, NULL);
	CHECK(notes == 1 || notes == 2);
}

struct statuses {
	int journalised[6];
	int other;
};

/* A notice's body as spec/client.md §13 lays it out, decoded here independently of libwakks:
 * version 1, type, ref[16], account[16], state, note_len u16, note. */
static bool notice_body(const wakks_message *m, int *type, const uint8_t **ref, int *state)
{
	const uint8_t *p = (const uint8_t *)m->text;
	if (m->text_len < 37 || p[0] != 1)
		return false;
	size_t nl = ((size_t)p[35] << 8) | p[36];
	if (m->text_len != 37 + nl)
		return false;
	*type = p[1];
	*ref = p + 2;
	*state = p[34];
	return true;
}

static int collect_status(const wakks_message *m, void *arg)
{
	struct statuses *s = arg;
	int type, state;
	const uint8_t *ref;
	if (m->kind != WAKKS_MSG_NOTICE || !notice_body(m, &type, &ref, &state) ||
	    type != WAKKS_NOTICE_JOURNAL_STATUS)
		return 0;
	for (int k = 0; k < n_sent; k++)
		if (memcmp(ref, sent[k].id, 16) == 0) {
			if (state == 1)
				s->journalised[k]++;
			else
				s->other++;
			return 0;
		}
	s->other++;
	return 0;
}

static int count_statuses(struct th_dev *d, struct statuses *s)
{
	memset(s, 0, sizeof *s);
	int rc = wakks_thread_messages(d->c, thread_id, 0, 1000, collect_status, s);
	int n = 0;
	for (int k = 0; k < n_sent; k++)
		n += s->journalised[k] > 0;
	return rc == 0 ? n : -1;
}

struct both_have {
	int n;
};

static bool caseworkers_have_statuses(void *arg)
{
	struct both_have *b = arg;
	struct statuses s;
	return count_statuses(&camilla, &s) >= b->n && count_statuses(&dennis, &s) >= b->n;
}

/* Both caseworkers' libwakks hold "journalised" for each message of the thread, once: the
 * per-message journal's notices (the day journal is configured not to send any). */
static void caseworkers_see_journalised(void)
{
	struct both_have b = { n_sent };
	CHECK_EQ_INT(th_pump_until(caseworkers_have_statuses, &b, 15000), 0);
	struct statuses s;
	CHECK_EQ_INT(count_statuses(&camilla, &s), n_sent);
	CHECK_EQ_INT(s.other, 0);
	for (int k = 0; k < n_sent; k++)
		CHECK_EQ_INT(s.journalised[k], 1);
	CHECK_EQ_INT(count_statuses(&dennis, &s), n_sent);
	/* The citizen never receives the notices that manage the thread. */
	CHECK_EQ_INT(count_statuses(&anna, &s), 0);
}

static void a_restart_adds_no_note(void)
{
	CHECK_EQ_INT(journal_proc_stop(&jp), 0);
	REQUIRE(journal_proc_start(&jp, 20000) == 0);
	th_pump(1500);
	/* Every envelope was acknowledged before the stop: none is delivered again. */
	char *log = NULL;
	size_t n = 0;
	FILE *lf = fopen(jp.log, "r");
	if (lf) {
		log = calloc(1, 1 << 20);
		n = log ? fread(log, 1, (1 << 20) - 1, lf) : 0;
		fclose(lf);
	}
	CHECK(n > 0 && !strstr(log, "redelivered"));
	free(log);
	int tmp = -1;
	CHECK_EQ_INT(journal_count_notes(&jp, &tmp), n_sent);
	CHECK_EQ_INT(tmp, 0);
	/* A new message after the restart is journalised too. */
	sent[5] = (struct sent){ .text = "Efter genstart", .role = "citizen", .sender = anna_acc };
	REQUIRE(send_and_wait(&anna, NULL, &sent[5]) == 0);
	n_sent = 6;
	for (int i = 0; i < 200 && journal_count_notes(&jp, NULL) < n_sent; i++)
		th_pump(50);
	CHECK_EQ_INT(journal_count_notes(&jp, NULL), n_sent);
	/* Journalised notes leave no plaintext behind: the spool and the received files go. */
	th_pump(1500);
	char dir[600];
	snprintf(dir, sizeof dir, "%s/state/spool", jp.dir);
	CHECK_EQ_INT(entries(dir), 0);
	snprintf(dir, sizeof dir, "%s/state/received", jp.dir);
	CHECK_EQ_INT(entries(dir), 0);
	/* The day journal, killed and started again, holds the new message once too. */
	journal_proc_kill(&jday);
	REQUIRE(journal_proc_start(&jday, 20000) == 0);
	int counts[6];
	for (int i = 0; i < 200 && day_messages(counts, false) < n_sent; i++)
		th_pump(50);
	th_pump(500);
	CHECK_EQ_INT(day_messages(counts, true), n_sent);
	for (int k = 0; k < n_sent; k++)
		CHECK_EQ_INT(counts[k], 1);
}

int main(void)
{
	if (sodium_init() < 0 || relay_proc_start(&relay, NULL, true) != 0) {
		fprintf(stderr, "relay did not start\n");
		return 1;
	}
	snprintf(base, sizeof base, "%s/clients", relay.dir);
	snprintf(ca, sizeof ca, "%s/dev-cert.pem", relay.data_dir);
	snprintf(jp.dir, sizeof jp.dir, "%s/jdir", relay.dir);
	doc = malloc(doc_len);
	photo = malloc(photo_len);
	randombytes_buf(doc, doc_len);
	randombytes_buf(photo, photo_len);
	RUN(devices_and_journal_register);
	RUN(a_conversation_with_files);
	RUN(one_note_per_message_with_the_right_contents);
	RUN(one_note_per_conversation_and_day);
	RUN(caseworkers_see_journalised);
	RUN(a_restart_adds_no_note);
	journal_proc_stop(&jp);
	journal_proc_stop(&jday);
	th_close(&anna);
	th_close(&camilla);
	th_close(&dennis);
	free(doc);
	free(photo);
	int rc = TEST_RESULT();
	if (rc != 0) {
		char cmd[1200];
		snprintf(cmd, sizeof cmd, "cat '%s' '%s' >&2", jp.log, jday.log);
		if (system(cmd) != 0)
			fprintf(stderr, "(no journal log)\n");
	}
	relay_proc_stop(&relay);
	relay_proc_cleanup(&relay);
	return rc;
}
