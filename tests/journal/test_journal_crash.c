/* SPDX-License-Identifier: MPL-2.0 */
/* Crash test: while a citizen and a caseworker write a stream of messages, wakks-journal is
 * killed with SIGKILL at random moments 20 times and started again each time. At the end every
 * message has exactly one note, no partial note is left, and nothing is pending. */
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

#define N_MSGS 60
#define N_KILLS 20

static struct relay_proc relay;
static struct journal_proc jp;
static char base[400], ca[400];
static struct th_dev anna, camilla;
static uint8_t anna_acc[16];
static uint8_t ids[N_MSGS][16];
static uint8_t thread_id[16];

static void set_up(void)
{
	REQUIRE(th_open(&anna, "anna", base, relay.port, ca) == 0);
	REQUIRE(th_open(&camilla, "camilla", base, relay.port, ca) == 0);
	REQUIRE(th_register(&anna, "dev-mitid", "anna") == 0);
	REQUIRE(th_register(&camilla, "dev-adfs", "camilla") == 0);
	wakks_account_id(anna.c, anna_acc);
	wakks_consent_text text;
	REQUIRE(wakks_consent_text_fetch(anna.c, "varde", "", &text) == 0);
	uint32_t op;
	REQUIRE(wakks_consent_grant(anna.c, &text, &op) == 0);
	REQUIRE(wakks_wait(anna.c, op, 10000) == 0);
	wakks_consent_text_free(&text);
	char dir[500];
	snprintf(dir, sizeof dir, "%s/jdir", relay.dir);
	REQUIRE(journal_proc_init(&jp, dir, relay.port, ca, NULL) == 0);
	REQUIRE(journal_proc_start(&jp, 20000) == 0);
}

static void killed_twenty_times_during_a_stream(void)
{
	int sent = 0, kills = 0;
	/* Messages are queued a few at a time while the daemon is killed after a random 0-400 ms
	 * of work and restarted at once: kills land while spooling, handing over, recording and
	 * acknowledging. */
	while (kills < N_KILLS || sent < N_MSGS) {
		for (int k = 0; k < 3 && sent < N_MSGS; k++, sent++) {
			char text[64];
			snprintf(text, sizeof text, "besked %d", sent);
			bool citizen = sent % 3 != 2;
			wakks_target t = { citizen ? NULL : anna_acc, "varde", "jobcenter" };
			REQUIRE(wakks_send_text(citizen ? anna.c : camilla.c, &t, text, strlen(text),
						ids[sent], NULL) == 0);
		}
		th_pump((int)(randombytes_uniform(400)));
		if (kills < N_KILLS) {
			journal_proc_kill(&jp);
			kills++;
			REQUIRE(journal_proc_start(&jp, 20000) == 0);
		}
	}
	/* The thread id, from the first message as the caseworker received it. */
	REQUIRE(th_wait_text(&camilla, "besked 0", 10000) == 0);
	memcpy(thread_id, camilla.msgs[th_find(&camilla, "besked 0")].conversation, 16);
	for (int i = 0; i < 300 && (wakks_pending_count(anna.c) || wakks_pending_count(camilla.c)); i++)
		th_pump(50);
	CHECK_EQ_INT(wakks_pending_count(anna.c) + wakks_pending_count(camilla.c), 0);
	for (int i = 0; i < 400 && journal_count_notes(&jp, NULL) < N_MSGS; i++)
		th_pump(50);
	th_pump(500); /* a duplicate would show up by now */
	CHECK_EQ_INT(kills, N_KILLS);
	CHECK_EQ_INT(jp.starts, N_KILLS + 1);
	/* Where the kills landed: envelopes delivered again after a kill (killed between
	 * receiving and acknowledging), of them still in progress (killed before the handover was
	 * recorded), and notes spooled more than once. */
	FILE *f = fopen(jp.log, "r");
	int again = 0, in_progress = 0, spooled = 0;
	char line[1024];
	while (f && fgets(line, sizeof line, f)) {
		again += strstr(line, "journal redelivered") != NULL;
		in_progress += strstr(line, "in progress") != NULL;
		spooled += strstr(line, "journal spooled") != NULL;
	}
	if (f)
		fclose(f);
	fprintf(stderr, "  redelivered after a kill: %d (still in progress: %d); spooled %d times for %d messages\n",
		again, in_progress, spooled, N_MSGS);
}

static void every_message_has_exactly_one_note(void)
{
	int tmp = -1;
	CHECK_EQ_INT(journal_count_notes(&jp, &tmp), N_MSGS);
	CHECK_EQ_INT(tmp, 0);
	int found[N_MSGS] = { 0 };
	DIR *d = opendir(jp.out);
	REQUIRE(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strlen(e->d_name) != 64)
			continue;
		char path[1200];
		snprintf(path, sizeof path, "%s/%s/note.json", jp.out, e->d_name);
		json_t *n = json_load_file(path, 0, NULL);
		CHECK(n != NULL);
		const char *mid = n ? json_string_value(json_object_get(n, "message_id")) : NULL;
		const char *text = n ? json_string_value(json_object_get(n, "text")) : NULL;
		int k = -1;
		for (int i = 0; i < N_MSGS && mid; i++) {
			char h[33];
			wakks_id_hex(ids[i], h);
			if (strcmp(h, mid) == 0)
				k = i;
		}
		CHECK(k >= 0);
		if (k >= 0) {
			found[k]++;
			char want[64];
			snprintf(want, sizeof want, "besked %d", k);
			CHECK(text && strcmp(text, want) == 0);
		}
		json_decref(n);
	}
	closedir(d);
	for (int i = 0; i < N_MSGS; i++)
		if (found[i] != 1)
			fprintf(stderr, "  message %d has %d notes\n", i, found[i]);
	int ok = 0;
	for (int i = 0; i < N_MSGS; i++)
		ok += found[i] == 1;
	CHECK_EQ_INT(ok, N_MSGS);
	char *out = NULL;
	for (int i = 0; i < 100; i++) { /* the last notices go out within moments */
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

struct statuses {
	int n[N_MSGS];
};

/* spec/client.md §13, decoded independently: version 1, type, ref[16], account[16], state, note. */
static int collect_status(const wakks_message *m, void *arg)
{
	struct statuses *s = arg;
	const uint8_t *p = (const uint8_t *)m->text;
	if (m->kind != WAKKS_MSG_NOTICE || m->text_len < 37 || p[0] != 1 || p[1] != 7 || p[34] != 1)
		return 0;
	for (int k = 0; k < N_MSGS; k++)
		if (memcmp(p + 2, ids[k], 16) == 0)
			s->n[k]++;
	return 0;
}

static bool all_statuses(void *arg)
{
	struct statuses *s = arg;
	memset(s, 0, sizeof *s);
	wakks_thread_messages(camilla.c, thread_id, 0, 10000, collect_status, s);
	for (int k = 0; k < N_MSGS; k++)
		if (s->n[k] < 1)
			return false;
	return true;
}

/* The caseworker sees "journalised" on every message. A kill between queueing a notice and
 * recording it sends it twice: the same latest status (spec/journal.md §6). */
static void caseworker_sees_every_message_journalised(void)
{
	struct statuses s;
	CHECK_EQ_INT(th_pump_until(all_statuses, &s, 15000), 0);
	int twice = 0;
	for (int k = 0; k < N_MSGS; k++)
		twice += s.n[k] > 1;
	fprintf(stderr, "  notices sent twice after a kill: %d of %d\n", twice, N_MSGS);
}

int main(void)
{
	if (sodium_init() < 0 || relay_proc_start(&relay, NULL, true) != 0) {
		fprintf(stderr, "relay did not start\n");
		return 1;
	}
	snprintf(base, sizeof base, "%s/clients", relay.dir);
	snprintf(ca, sizeof ca, "%s/dev-cert.pem", relay.data_dir);
	RUN(set_up);
	RUN(killed_twenty_times_during_a_stream);
	RUN(every_message_has_exactly_one_note);
	RUN(caseworker_sees_every_message_journalised);
	journal_proc_stop(&jp);
	th_close(&anna);
	th_close(&camilla);
	int rc = TEST_RESULT();
	if (rc != 0) {
		char cmd[600];
		snprintf(cmd, sizeof cmd, "tail -50 '%s' >&2", jp.log);
		if (system(cmd) != 0)
			fprintf(stderr, "(no journal log)\n");
	}
	relay_proc_stop(&relay);
	relay_proc_cleanup(&relay);
	return rc;
}
