/* SPDX-License-Identifier: MPL-2.0 */
/* libwakks for app developers, against a real relay: the Notification-Service-Extension call
 * (wakks_extension_fetch) run in a second process while the main client holds the same store
 * open; the network lease that keeps two processes of one device from talking to the relay at
 * once; APNs/FCM token registration; "network changed, reconnect now"; the log callback (no
 * message text in it); the version. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "client_harness.h"
#include "relay_proc.h"
#include "test.h"

static struct relay_proc relay;
static char base[400], ca[400], url[128];
static struct th_dev sender, phone; /* a caseworker of varde/jobcenter, a citizen's phone */
static uint8_t citizen[16];
static char log_lines[8192];

static void phone_log(int level, const char *line, void *user)
{
	(void)level;
	(void)user;
	strncat(log_lines, line, sizeof log_lines - strlen(log_lines) - 2);
	strcat(log_lines, "\n");
}

/* The extension, as its own process: prints "N text|text|..." and exits 0, or prints the error. */
static char fetched[2048];
static void on_fetched(const wakks_message *m, void *arg)
{
	(void)arg;
	strncat(fetched, m->text, m->text_len < 200 ? m->text_len : 200);
	strcat(fetched, "|");
}

static int extension_main(char **argv)
{
	uint8_t key[32];
	if (sodium_init() < 0 || sodium_hex2bin(key, 32, argv[3], 64, NULL, NULL, NULL) != 0)
		return 2;
	wakks_config cfg = { .relay_url = argv[4], .ca_file = argv[5], .store_dir = argv[2],
			     .store_key = key };
	int n = wakks_extension_fetch(&cfg, 5000, on_fetched, NULL);
	printf("%d %s\n", n, fetched);
	return 0;
}

/* Runs the extension in a new process (this binary again) on the phone's store; returns its
 * result and the texts it was given. */
static int run_extension(char *texts, size_t cap)
{
	char keyhex[65], cmd[2048];
	sodium_bin2hex(keyhex, sizeof keyhex, phone.key, 32);
	snprintf(cmd, sizeof cmd, "'/proc/%d/exe' --extension '%s' %s '%s' '%s'", (int)getpid(),
		 phone.dir, keyhex, url, ca);
	FILE *p = popen(cmd, "r");
	int n = -999;
	char line[2100] = "";
	if (p && fgets(line, sizeof line, p))
		sscanf(line, "%d", &n);
	if (p)
		pclose(p);
	const char *sp = strchr(line, ' ');
	snprintf(texts, cap, "%s", sp ? sp + 1 : "");
	return n;
}

static void setup_devices(void)
{
	REQUIRE(th_open(&sender, "sender", base, relay.port, ca) == 0);
	REQUIRE(th_open(&phone, "phone", base, relay.port, ca) == 0);
	REQUIRE(th_register(&sender, "dev-adfs", "camilla") == 0);
	REQUIRE(th_register(&phone, "dev-mitid", "anna") == 0);
	REQUIRE(wakks_account_id(phone.c, citizen) == 0);
	/* the citizen consents, so the caseworker may write to her */
	wakks_consent_text text;
	uint32_t op;
	REQUIRE(wakks_consent_text_fetch(phone.c, "varde", "", &text) == 0);
	REQUIRE(wakks_consent_grant(phone.c, &text, &op) == 0);
	CHECK_EQ_INT(wakks_wait(phone.c, op, 10000), 0);
	wakks_consent_text_free(&text);
	/* the phone's log goes to the test from here on */
	phone.on_log = phone_log;
	REQUIRE(th_reopen(&phone) == 0);
	REQUIRE(th_wait_ready(&phone, 10000) == 0);
	CHECK(strstr(log_lines, "connecting to localhost") != NULL);
	CHECK(strstr(log_lines, "authenticated") != NULL);
	/* one handle per process: a second open of the phone's store here is refused */
	wakks_client *again = NULL;
	wakks_config cfg = { .relay_url = url, .ca_file = ca, .store_dir = phone.dir, .store_key = phone.key };
	CHECK_EQ_INT(wakks_open(&cfg, &again), WAKKS_E_STORE);
}

static void push_tokens_are_registered(void)
{
	uint32_t op;
	REQUIRE(wakks_push_register(phone.c, WAKKS_PUSH_APNS, "wakks-ios", "a1b2c3d4e5f6", &op) == 0);
	CHECK_EQ_INT(wakks_wait(phone.c, op, 5000), 0);
	/* an app the relay does not know for that kind */
	REQUIRE(wakks_push_register(phone.c, WAKKS_PUSH_FCM, "wakks-ios", "tok", &op) == 0);
	CHECK_EQ_INT(wakks_wait(phone.c, op, 5000), WAKKS_RELAY_NOT_FOUND);
	CHECK_EQ_INT(wakks_push_register(phone.c, WAKKS_PUSH_APNS, "wakks-ios", "has space", &op), WAKKS_E_INVAL);
	CHECK_EQ_INT(wakks_push_register(phone.c, 1, "wakks-ios", "tok", &op), WAKKS_E_INVAL);
	REQUIRE(wakks_push_remove(phone.c, &op) == 0);
	CHECK_EQ_INT(wakks_wait(phone.c, op, 5000), 0);
	CHECK(strstr(log_lines, "a1b2c3d4e5f6") == NULL); /* the token is never logged */
}

static int count_fn(const wakks_message *m, void *arg)
{
	if ((m->text_len == 13 && memcmp(m->text, "Til telefonen", 13) == 0) ||
	    (m->text_len == 9 && memcmp(m->text, "Og en til", 9) == 0))
		(*(int *)arg)++;
	return 0;
}

static void extension_fetches_while_the_app_holds_the_store(void)
{
	char texts[2100];
	/* the app is connected: it receives itself, the extension steps aside at once */
	CHECK_EQ_INT(run_extension(texts, sizeof texts), WAKKS_E_BUSY);

	/* the app goes to the background: store open, not connected */
	wakks_disconnect(phone.c);
	int before = phone.n_msgs;
	REQUIRE(th_send(&sender, citizen, "varde", "jobcenter", "Til telefonen") == 0);
	REQUIRE(th_send(&sender, citizen, "varde", "jobcenter", "Og en til") == 0);
	CHECK_EQ_INT(run_extension(texts, sizeof texts), 2);
	CHECK(strstr(texts, "Til telefonen|") != NULL && strstr(texts, "Og en til|") != NULL);

	/* the app, which held the store open all along, finds both in its history */
	int found = 0;
	CHECK_EQ_INT(wakks_history(phone.c, count_fn, &found), 0);
	CHECK_EQ_INT(found, 2);
	/* back in the foreground: nothing is delivered again (the extension acknowledged both) */
	REQUIRE(wakks_connect(phone.c) == 0);
	REQUIRE(th_wait_ready(&phone, 10000) == 0);
	th_pump(800);
	CHECK_EQ_INT(phone.n_msgs, before);
	/* and nothing waits any more: the extension finds nothing */
	wakks_disconnect(phone.c);
	CHECK_EQ_INT(run_extension(texts, sizeof texts), 0);
	CHECK(strstr(log_lines, "Til telefonen") == NULL);
}

static void network_change_reconnects_now(void)
{
	REQUIRE(wakks_connect(phone.c) == 0);
	REQUIRE(th_wait_ready(&phone, 10000) == 0);
	int drops = phone.n_disconnects;
	CHECK_EQ_INT(wakks_network_changed(phone.c), 0);
	REQUIRE(th_wait_ready(&phone, 5000) == 0);
	CHECK(phone.n_disconnects > drops);
	CHECK(strstr(log_lines, "network changed") != NULL);
	/* still the lease holder: the extension keeps out */
	char texts[2100];
	CHECK_EQ_INT(run_extension(texts, sizeof texts), WAKKS_E_BUSY);
	wakks_disconnect(phone.c);
	CHECK_EQ_INT(wakks_network_changed(phone.c), WAKKS_E_STATE);
}

static void version_is_the_projects(void)
{
	CHECK(strcmp(wakks_version(), WAKKS_VERSION) == 0);
	CHECK(strcmp(WAKKS_VERSION_STRING, WAKKS_VERSION) == 0);
	CHECK(WAKKS_VERSION_NUMBER >= WAKKS_VERSION_AT(0, 1, 0));
}

/* An APNs app for the relay's configuration: a fresh P-256 key as a .p8 file. */
static int write_p8(const char *path)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	FILE *f = fopen(path, "w");
	int ok = k && f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;
	if (f)
		fclose(f);
	EVP_PKEY_free(k);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "--extension") == 0)
		return extension_main(argv);
	char tmpl[] = "/tmp/wakks-ext-XXXXXX", p8[128], conf[1024];
	if (!mkdtemp(tmpl))
		return 1;
	snprintf(p8, sizeof p8, "%s/apns.p8", tmpl);
	if (write_p8(p8) != 0)
		return 1;
	/* An app the relay pushes to; its push service is not reachable here, which only costs
	 * retries off the delivery path. */
	snprintf(conf, sizeof conf,
		 "[push.app.wakks-ios]\nkind = apns\nurl = https://127.0.0.1:9\nkey_file = %s\n"
		 "key_id = KEY1234567\nteam_id = TEAM123456\ntopic = dk.os2wakks.test\n", p8);
	if (relay_proc_start(&relay, conf, true) != 0) {
		fprintf(stderr, "relay did not start\n");
		return 1;
	}
	snprintf(base, sizeof base, "%s/clients", relay.dir);
	snprintf(ca, sizeof ca, "%s/dev-cert.pem", relay.data_dir);
	snprintf(url, sizeof url, "wss://localhost:%d", relay.port);
	RUN(version_is_the_projects);
	RUN(setup_devices);
	RUN(push_tokens_are_registered);
	RUN(extension_fetches_while_the_app_holds_the_store);
	RUN(network_change_reconnects_now);
	th_close(&sender);
	th_close(&phone);
	relay_proc_stop(&relay);
	relay_proc_cleanup(&relay);
	unlink(p8);
	rmdir(tmpl);
	return TEST_RESULT();
}
