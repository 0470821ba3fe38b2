/* SPDX-License-Identifier: MPL-2.0 */
/* End to end through a real relay process over real TLS: a citizen with two devices and a
 * caseworker of varde/jobcenter, all libwakks clients registered through the development
 * identity provider's OpenID Connect flow, talk with X3DH + Double Ratchet; every device decrypts
 * its own envelope. The citizen writes first (citizen -> unit is always allowed), so the test
 * does not depend on the relay's consent enforcement. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client_harness.h"
#include "relay_proc.h"
#include "test.h"
#include "wakks_internal.h"

static struct relay_proc relay;
static char base[400], ca[400];
static struct th_dev anna1, anna2, camilla, camilla2;
static uint8_t anna_acc[16], camilla_acc[16];

static void registration_through_the_development_provider(void)
{
	REQUIRE(th_open(&anna1, "anna1", base, relay.port, ca) == 0);
	/* anna2 rotates its signed prekey at every authentication (a short schedule) */
	REQUIRE(th_open_rotating(&anna2, "anna2", base, relay.port, ca, 1) == 0);
	REQUIRE(th_open(&camilla, "camilla", base, relay.port, ca) == 0);
	REQUIRE(th_register(&anna1, "dev-mitid", "anna") == 0);
	REQUIRE(th_register(&anna2, "dev-mitid", "anna") == 0);
	REQUIRE(th_register(&camilla, "dev-adfs", "camilla") == 0);
	uint8_t a2[16];
	CHECK_EQ_INT(wakks_account_id(anna1.c, anna_acc), 0);
	CHECK_EQ_INT(wakks_account_id(anna2.c, a2), 0);
	CHECK_MEM(anna_acc, a2, 16); /* one person, one account, two devices */
	CHECK_EQ_INT(wakks_account_id(camilla.c, camilla_acc), 0);
	CHECK(memcmp(anna_acc, camilla_acc, 16) != 0);
	CHECK_EQ_INT(wakks_state(anna1.c), WAKKS_READY);
}

static void citizen_writes_to_the_unit(void)
{
	REQUIRE(th_send(&anna1, NULL, "varde", "jobcenter", "Hej, jeg har et spørgsmål") == 0);
	REQUIRE(th_wait_text(&camilla, "Hej, jeg har et spørgsmål", 10000) == 0);
	REQUIRE(th_wait_text(&anna2, "Hej, jeg har et spørgsmål", 10000) == 0);
	int i = th_find(&camilla, "Hej, jeg har et spørgsmål");
	REQUIRE(i >= 0);
	CHECK_MEM(camilla.msgs[i].sender_account, anna_acc, 16);
	CHECK(!camilla.msgs[i].outgoing);
	CHECK(strcmp(camilla.msgs[i].tenant, "varde") == 0 && strcmp(camilla.msgs[i].unit, "jobcenter") == 0);
	/* The sender's other device gets its copy, marked as ours. */
	int j = th_find(&anna2, "Hej, jeg har et spørgsmål");
	REQUIRE(j >= 0);
	CHECK(anna2.msgs[j].outgoing);
	CHECK_MEM(anna2.msgs[j].id, camilla.msgs[i].id, 16);
	CHECK_EQ_INT(th_count(&anna1, "Hej, jeg har et spørgsmål"), 0); /* not to itself */
}

/* The caseworker may write to the citizen only while the citizen's consent for the tenant is
 * active: the citizen reads the tenant's text from the relay and grants, signed by its device. */
static void citizen_grants_consent(void)
{
	wakks_consent_text text;
	int rc = wakks_consent_text_fetch(anna1.c, "varde", "", &text);
	REQUIRE(rc == 0);
	CHECK(strcmp(text.tenant, "varde") == 0);
	CHECK(text.text && text.text[0]);
	uint32_t op;
	REQUIRE(wakks_consent_grant(anna1.c, &text, &op) == 0);
	CHECK_EQ_INT(wakks_wait(anna1.c, op, 10000), 0);
	wakks_consent_text_free(&text);
	REQUIRE(wakks_consent_list(anna2.c, &op) == 0); /* the account's history, from the other device */
	CHECK_EQ_INT(wakks_wait(anna2.c, op, 10000), 0);
	CHECK_EQ_INT(anna2.n_consents, 1);
	CHECK_EQ_INT(anna2.last_consent_kind, 1);
}

static void caseworker_answers_both_citizen_devices(void)
{
	REQUIRE(th_send(&camilla, anna_acc, "varde", "jobcenter", "Hej Anna, hvad drejer det sig om?") == 0);
	REQUIRE(th_wait_text(&anna1, "Hej Anna, hvad drejer det sig om?", 10000) == 0);
	REQUIRE(th_wait_text(&anna2, "Hej Anna, hvad drejer det sig om?", 10000) == 0);
	int i = th_find(&anna1, "Hej Anna, hvad drejer det sig om?");
	int j = th_find(&anna2, "Hej Anna, hvad drejer det sig om?");
	REQUIRE(i >= 0 && j >= 0);
	CHECK_MEM(anna1.msgs[i].sender_account, camilla_acc, 16);
	CHECK(!anna1.msgs[i].outgoing);
	/* One conversation on every device: the citizen's question and the answer share its id. */
	CHECK_MEM(anna1.msgs[i].conversation, anna2.msgs[0].conversation, 16);
	/* Back and forth a few times: the ratchet turns. */
	for (int k = 0; k < 3; k++) {
		char q[64], a[64];
		snprintf(q, sizeof q, "spørgsmål %d", k);
		snprintf(a, sizeof a, "svar %d", k);
		CHECK_EQ_INT(th_send(&anna2, NULL, "varde", "jobcenter", q), 0);
		CHECK_EQ_INT(th_send(&camilla, anna_acc, "varde", "jobcenter", a), 0);
	}
	CHECK_EQ_INT(th_wait_text(&camilla, "spørgsmål 2", 10000), 0);
	CHECK_EQ_INT(th_wait_text(&anna1, "svar 2", 10000), 0);
	CHECK_EQ_INT(th_wait_text(&anna1, "spørgsmål 2", 10000), 0); /* anna2's, copy to anna1 */
	CHECK_EQ_INT(th_wait_text(&anna2, "svar 2", 10000), 0);
}

static void safety_numbers_agree(void)
{
	uint8_t cdev[16], adev[16];
	REQUIRE(wakks_device_id(camilla.c, cdev) == 0);
	REQUIRE(wakks_device_id(anna1.c, adev) == 0);
	char s1[61], s2[61];
	CHECK_EQ_INT(wakks_safety_number(anna1.c, cdev, s1), 0);
	CHECK_EQ_INT(wakks_safety_number(camilla.c, adev, s2), 0);
	CHECK(strcmp(s1, s2) == 0);
	CHECK_EQ_INT(strlen(s1), 60);
}

struct history_count {
	int n;
	bool saw;
};

static int count_history(const wakks_message *m, void *arg)
{
	struct history_count *h = arg;
	h->n++;
	if (m->text_len == strlen("efter genstart") && memcmp(m->text, "efter genstart", m->text_len) == 0)
		h->saw = true;
	return 0;
}

static void restarted_client_continues_from_its_store(void)
{
	REQUIRE(th_reopen(&camilla) == 0);
	REQUIRE(th_wait_ready(&camilla, 10000) == 0);
	CHECK_EQ_INT(th_send(&camilla, anna_acc, "varde", "jobcenter", "efter genstart"), 0);
	CHECK_EQ_INT(th_wait_text(&anna1, "efter genstart", 10000), 0);
	REQUIRE(th_reopen(&anna1) == 0);
	REQUIRE(th_wait_ready(&anna1, 10000) == 0);
	CHECK_EQ_INT(th_send(&anna1, NULL, "varde", "jobcenter", "også efter genstart"), 0);
	CHECK_EQ_INT(th_wait_text(&camilla, "også efter genstart", 10000), 0);
	/* History survives the restart: the store holds what was received and sent. */
	struct history_count h = { 0, false };
	CHECK_EQ_INT(wakks_history(anna1.c, count_history, &h), 0);
	CHECK(h.n >= 5);
	CHECK(h.saw);
}

static void offline_recipient_catches_up(void)
{
	th_pump(300); /* copies of earlier messages still on their way arrive first */
	wakks_disconnect(anna2.c);
	CHECK_EQ_INT(th_send(&camilla, anna_acc, "varde", "jobcenter", "mens du var væk 1"), 0);
	CHECK_EQ_INT(th_send(&camilla, anna_acc, "varde", "jobcenter", "mens du var væk 2"), 0);
	th_pump(200);
	CHECK(th_find(&anna2, "mens du var væk 1") < 0);
	REQUIRE(wakks_connect(anna2.c) == 0);
	REQUIRE(th_wait_text(&anna2, "mens du var væk 2", 10000) == 0);
	/* in order */
	int i1 = th_find(&anna2, "mens du var væk 1"), i2 = th_find(&anna2, "mens du var væk 2");
	CHECK(i1 >= 0 && i1 < i2);
}

struct cmid_seen {
	const char *text;
	uint8_t cmid[16];
	uint64_t sent_ms;
	bool found;
};

static int find_cmid(const wakks_message *m, void *arg)
{
	struct cmid_seen *s = arg;
	for (; s->text; s++)
		if (!m->outgoing && m->text_len == strlen(s->text) &&
		    memcmp(m->text, s->text, m->text_len) == 0) {
			memcpy(s->cmid, m->cmid, 16);
			s->sent_ms = m->sent_ms;
			s->found = true;
		}
	return 0;
}

static void sends_carry_time_ordered_client_message_ids(void)
{
	/* Three sends queued at once (mostly in one millisecond): as the recipient gets them from
	 * the relay, their ids increase in the order sent, begin with the time they were written
	 * (spec/protocol.md §8.1) and differ in their random part. */
	wakks_target to = { anna_acc, "varde", "jobcenter" };
	struct cmid_seen seen[] = { { .text = "tid 1" }, { .text = "tid 2" }, { .text = "tid 3" }, { 0 } };
	uint64_t before = wakks__now_ms();
	for (int i = 0; i < 3; i++)
		REQUIRE(wakks_send_text(camilla.c, &to, seen[i].text, strlen(seen[i].text), NULL, NULL) == 0);
	uint64_t after = wakks__now_ms();
	REQUIRE(th_wait_text(&anna2, "tid 3", 15000) == 0);
	CHECK_EQ_INT(wakks_history(anna2.c, find_cmid, seen), 0);
	for (int i = 0; i < 3; i++) {
		REQUIRE(seen[i].found);
		uint64_t t = wakks_cmid_time(seen[i].cmid);
		CHECK(t >= before && t <= after);
		/* Drawn when the message is queued, just after its send time was read (the two may
		 * fall in different milliseconds). */
		CHECK(t >= seen[i].sent_ms);
		if (i > 0) {
			CHECK(memcmp(seen[i - 1].cmid, seen[i].cmid, 16) < 0);
			CHECK(memcmp(seen[i - 1].cmid + 6, seen[i].cmid + 6, 10) != 0);
		}
	}
	/* The messages each device sent, in its history (= sending) order and across the restarts
	 * above: increasing ids. */
	const struct th_dev *devs[] = { &anna1, &camilla };
	for (int k = 0; k < 2; k++) {
		struct th_own_order o = { .device = devs[k]->c->device };
		CHECK_EQ_INT(wakks_history(devs[k]->c, th_own_ids_in_order, &o), 0);
		CHECK(o.n >= 2);
		CHECK_EQ_INT(o.ordered, o.n - 1);
	}
}

static void message_queued_offline_is_sent_after_reconnect(void)
{
	wakks_disconnect(anna1.c);
	wakks_target to = { NULL, "varde", "jobcenter" };
	uint32_t op;
	REQUIRE(wakks_send_text(anna1.c, &to, "skrevet offline", 15, NULL, &op) == 0);
	CHECK_EQ_INT(wakks_pending_count(anna1.c), 1);
	/* Pending survives a restart too. */
	REQUIRE(th_reopen(&anna1) == 0);
	CHECK_EQ_INT(wakks_pending_count(anna1.c), 1);
	REQUIRE(th_wait_text(&camilla, "skrevet offline", 15000) == 0);
	th_pump(200);
	CHECK_EQ_INT(wakks_pending_count(anna1.c), 0);
}

#if defined(WAKKS_TEST_HOOKS) && WAKKS_TEST_HOOKS
/* These two need the test hooks (a lost reply, a crash at a chosen point). */
static void resend_after_lost_reply_stores_nothing_twice(void)
{
	wakks__test_drop_after_send(anna1.c);
	wakks_target to = { NULL, "varde", "jobcenter" };
	uint32_t op;
	REQUIRE(wakks_send_text(anna1.c, &to, "svaret gik tabt", 15, NULL, &op) == 0);
	/* The first attempt reaches the relay but its reply never arrives; the client reconnects
	 * and sends again with the same client message id. */
	REQUIRE(th_wait_text(&camilla, "svaret gik tabt", 15000) == 0);
	REQUIRE(th_wait_text(&anna2, "svaret gik tabt", 15000) == 0);
	for (int i = 0; i < 200 && wakks_pending_count(anna1.c) > 0; i++)
		th_pump(50);
	CHECK_EQ_INT(wakks_pending_count(anna1.c), 0);
	th_pump(1000);
	CHECK_EQ_INT(th_count(&camilla, "svaret gik tabt"), 1);
	CHECK_EQ_INT(th_count(&anna2, "svaret gik tabt"), 1);
	CHECK_EQ_INT(camilla.n_errors, 0); /* the second copy was never stored, so never delivered */
}

static void crash_before_ack_or_before_commit_shows_message_once(void)
{
	/* Killed after the message was stored but before the ack reached the relay: the relay
	 * delivers it again after the restart; it is recognised and shown once. */
	wakks__test_crash_on_receive(anna2.c, WAKKS__CRASH_BEFORE_ACK);
	int drops = anna2.n_disconnects;
	CHECK_EQ_INT(th_send(&camilla, anna_acc, "varde", "jobcenter", "gemt men ikke kvitteret"), 0);
	CHECK_EQ_INT(th_wait_text(&anna2, "gemt men ikke kvitteret", 10000), 0);
	CHECK_EQ_INT(anna2.n_disconnects, drops + 1); /* the crash happened */
	REQUIRE(th_reopen(&anna2) == 0);
	REQUIRE(th_wait_ready(&anna2, 10000) == 0);
	th_pump(1000);
	CHECK_EQ_INT(th_count(&anna2, "gemt men ikke kvitteret"), 1);
	/* Killed before the results were committed: nothing was stored, nothing acknowledged; the
	 * redelivery decrypts with the unchanged stored session and is shown once. */
	wakks__test_crash_on_receive(anna2.c, WAKKS__CRASH_BEFORE_COMMIT);
	drops = anna2.n_disconnects;
	CHECK_EQ_INT(th_send(&camilla, anna_acc, "varde", "jobcenter", "ikke gemt"), 0);
	for (int i = 0; i < 100 && anna2.n_disconnects == drops; i++)
		th_pump(20);
	CHECK_EQ_INT(anna2.n_disconnects, drops + 1);
	REQUIRE(th_reopen(&anna2) == 0); /* (it may have reconnected by itself already) */
	CHECK_EQ_INT(th_wait_text(&anna2, "ikke gemt", 10000), 0);
	th_pump(500);
	CHECK_EQ_INT(th_count(&anna2, "ikke gemt"), 1);
}

#endif

static void prekeys_are_topped_up_and_rotated(void)
{
	/* Each citizen message fetched a bundle of camilla's (20 one-time prekeys, the relay's
	 * low-water mark is 20): the relay asked for more and the client uploaded them. */
	CHECK(camilla.n_prekey_uploads >= 1);
	/* anna2 reconnected, and rotates at every authentication. */
	CHECK(anna2.n_spk_rotations >= 1);
	CHECK_EQ_INT(anna2.n_errors, 0);
}

static void new_caseworker_device_joins_and_revoked_one_gets_nothing(void)
{
	REQUIRE(th_open(&camilla2, "camilla2", base, relay.port, ca) == 0);
	REQUIRE(th_register(&camilla2, "dev-adfs", "camilla") == 0);
	uint8_t c2dev[16];
	REQUIRE(wakks_device_id(camilla2.c, c2dev) == 0);
	/* The next citizen message reaches the new device; the citizen is told about it. */
	int dc = anna1.n_device_changes;
	CHECK_EQ_INT(th_send(&anna1, NULL, "varde", "jobcenter", "til hele teamet"), 0);
	CHECK_EQ_INT(th_wait_text(&camilla2, "til hele teamet", 10000), 0);
	CHECK_EQ_INT(anna1.n_device_changes, dc + 1);
	CHECK_MEM(anna1.last_change_device, c2dev, 16);
	/* anna1 lacked a session with the new device only: her bundle fetch named it alone, so no
	 * one-time prekey of camilla's first device was spent (spec/protocol.md §6.4). */
	CHECK(relay_log_contains(&relay, "set=2 named=1 taken=1"));
	CHECK(!relay_log_contains(&relay, "set=2 named=0"));
	/* The new device opens sessions with anna2's rotated signed prekey. */
	CHECK_EQ_INT(th_send(&camilla2, anna_acc, "varde", "jobcenter", "fra den nye enhed"), 0);
	CHECK_EQ_INT(th_wait_text(&anna2, "fra den nye enhed", 10000), 0);
	/* camilla revokes the new device: it gets nothing more. */
	uint32_t op;
	REQUIRE(wakks_device_revoke(camilla.c, c2dev, &op) == 0);
	CHECK_EQ_INT(wakks_wait(camilla.c, op, 10000), 0);
	int c2 = camilla2.n_msgs;
	CHECK_EQ_INT(th_send(&anna1, NULL, "varde", "jobcenter", "efter tilbagekaldelse"), 0);
	CHECK_EQ_INT(th_wait_text(&camilla, "efter tilbagekaldelse", 10000), 0);
	th_pump(500);
	CHECK_EQ_INT(camilla2.n_msgs, c2);
	CHECK(wakks_state(camilla2.c) != WAKKS_READY);
	th_close(&camilla2);
}

static void changed_identity_key_is_reported_with_safety_number(void)
{
	/* What a relay substituting keys would cause: anna1's record of camilla's device names
	 * another key than the one camilla's sessions are bound to. Made by rewriting the peer
	 * record in anna1's store (it is anna1's own store and key). */
	uint8_t cdev[16], fake[32];
	REQUIRE(wakks_device_id(camilla.c, cdev) == 0);
	randombytes_buf(fake, sizeof fake);
	wakks__txn *t;
	REQUIRE(wakks__txn_begin(anna1.c->store, true, &t) == 0);
	wakks_event ev;
	bool have = false;
	REQUIRE(wakks__peer_seen(anna1.c, t, camilla_acc, cdev, fake, &ev, &have) == 0);
	REQUIRE(wakks__txn_commit(t) == 0);
	CHECK(have && ev.type == WAKKS_EV_KEY_CHANGE);
	int kc = anna1.n_key_changes;
	CHECK_EQ_INT(th_send(&camilla, anna_acc, "varde", "jobcenter", "samme enhed"), 0);
	CHECK_EQ_INT(th_wait_text(&anna1, "samme enhed", 10000), 0);
	CHECK_EQ_INT(anna1.n_key_changes, kc + 1);
	CHECK_MEM(anna1.last_change_device, cdev, 16);
	/* The event carries the safety number of the key the session is really bound to. */
	char sn[61];
	CHECK_EQ_INT(wakks_safety_number(anna1.c, cdev, sn), 0);
	CHECK(strcmp(sn, anna1.last_safety) == 0);
	uint8_t adev[16];
	char theirs[61];
	REQUIRE(wakks_device_id(anna1.c, adev) == 0);
	CHECK_EQ_INT(wakks_safety_number(camilla.c, adev, theirs), 0);
	CHECK(strcmp(sn, theirs) == 0);
}

static void conversation_continues_after_all_that(void)
{
	CHECK_EQ_INT(th_send(&camilla, anna_acc, "varde", "jobcenter", "tak for i dag"), 0);
	CHECK_EQ_INT(th_wait_text(&anna1, "tak for i dag", 10000), 0);
	CHECK_EQ_INT(anna1.n_errors + anna2.n_errors, 0);
}

/* Every file under dir (one level of subdirectories) is free of every needle. */
static int files_with(const char *dir, const char *const *needles, int depth)
{
	char cmd[700];
	snprintf(cmd, sizeof cmd, "find '%s' -maxdepth %d -type f", dir, depth);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	char path[600];
	int hits = 0, files = 0;
	while (fgets(path, sizeof path, p)) {
		path[strcspn(path, "\n")] = '\0';
		FILE *f = fopen(path, "rb");
		if (!f)
			continue;
		files++;
		fseek(f, 0, SEEK_END);
		long n = ftell(f);
		fseek(f, 0, SEEK_SET);
		char *buf = n > 0 ? malloc((size_t)n) : NULL;
		if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n)
			for (int i = 0; needles[i]; i++)
				if (memmem(buf, (size_t)n, needles[i], strlen(needles[i]))) {
					fprintf(stderr, "  plaintext \"%s\" in %s\n", needles[i], path);
					hits++;
				}
		free(buf);
		fclose(f);
	}
	pclose(p);
	return files ? hits : -1;
}

static void no_plaintext_in_relay_or_client_files(void)
{
	static const char *const texts[] = { "Hej, jeg har et spørgsmål", "hvad drejer det sig om",
					     "efter genstart", "skrevet offline", "svaret gik tabt",
					     "til hele teamet", "tak for i dag", NULL };
	/* the relay's LMDB files (after it stopped, so everything is flushed) */
	CHECK_EQ_INT(files_with(relay.data_dir, texts, 3), 0);
	/* the devices' sealed stores */
	CHECK_EQ_INT(files_with(base, texts, 2), 0);
}

int main(void)
{
	if (relay_proc_start(&relay, NULL, true) != 0) {
		fprintf(stderr, "relay did not start\n");
		return 1;
	}
	snprintf(base, sizeof base, "%s/clients", relay.dir);
	snprintf(ca, sizeof ca, "%s/dev-cert.pem", relay.data_dir);
	RUN(registration_through_the_development_provider);
	RUN(citizen_writes_to_the_unit);
	RUN(citizen_grants_consent);
	RUN(caseworker_answers_both_citizen_devices);
	RUN(safety_numbers_agree);
	RUN(restarted_client_continues_from_its_store);
	RUN(offline_recipient_catches_up);
	RUN(sends_carry_time_ordered_client_message_ids);
	RUN(message_queued_offline_is_sent_after_reconnect);
#if defined(WAKKS_TEST_HOOKS) && WAKKS_TEST_HOOKS
	RUN(resend_after_lost_reply_stores_nothing_twice);
#endif
#if defined(WAKKS_TEST_HOOKS) && WAKKS_TEST_HOOKS
	RUN(crash_before_ack_or_before_commit_shows_message_once);
#endif
	RUN(prekeys_are_topped_up_and_rotated);
	RUN(new_caseworker_device_joins_and_revoked_one_gets_nothing);
	RUN(changed_identity_key_is_reported_with_safety_number);
	RUN(conversation_continues_after_all_that);
	th_close(&anna1);
	th_close(&anna2);
	th_close(&camilla);
	relay_proc_stop(&relay);
	RUN(no_plaintext_in_relay_or_client_files);
	int rc = TEST_RESULT();
	relay_proc_cleanup(&relay);
	return rc;
}
