/* SPDX-License-Identifier: MPL-2.0 */
/* No global state: two clients, each on its own thread with its own event loop (the fd, the
 * events it wants and the timer, as an application's loop would use them), talk through a real
 * relay. The threads share nothing but two counters. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "relay_proc.h"
#include "test.h"
#include "wakks.h"

#define N_MESSAGES 5

static struct relay_proc relay;
static char ca[400], base[400];
static atomic_int bo_received, dennis_received, bo_ready, dennis_ready, consent_done, failures;
static uint8_t bo_account[16];
static atomic_int bo_account_known;

struct party {
	const char *name, *idp, *user;
	atomic_int *received;
	wakks_client *c;
};

static void on_event(wakks_client *c, const wakks_event *ev, void *user)
{
	(void)c;
	struct party *p = user;
	if (ev->type == WAKKS_EV_MESSAGE && !ev->u.message->outgoing) {
		if (p->received == &dennis_received && !atomic_load(&bo_account_known)) {
			memcpy(bo_account, ev->u.message->sender_account, 16);
			atomic_store(&bo_account_known, 1);
		}
		atomic_fetch_add(p->received, 1);
	}
	if (ev->type == WAKKS_EV_ERROR)
		atomic_fetch_add(&failures, 1);
}

/* The application's own loop: poll(2) on the client's fd with its timer, then process. */
static void app_loop_once(wakks_client *c, int max_ms)
{
	int t = wakks_timeout_ms(c);
	if (t < 0 || t > max_ms)
		t = max_ms;
	struct pollfd pfd = { .fd = wakks_fd(c), .events = wakks_want(c) };
	poll(&pfd, pfd.fd >= 0 ? 1 : 0, t);
	wakks_process(c);
}

static bool run_until_flag(wakks_client *c, atomic_int *flag, int want, int timeout_ms)
{
	for (int t = 0; t < timeout_ms && atomic_load(flag) < want; t += 20)
		app_loop_once(c, 20);
	return atomic_load(flag) >= want;
}

static int open_and_register(struct party *p)
{
	char dir[500], url[64];
	snprintf(dir, sizeof dir, "%s/%s", base, p->name);
	snprintf(url, sizeof url, "wss://localhost:%d", relay.port);
	uint8_t key[32];
	randombytes_buf(key, sizeof key);
	wakks_config cfg = { .relay_url = url, .ca_file = ca, .store_dir = dir, .store_key = key,
			     .on_event = on_event, .user = p, .auto_reconnect = true };
	if (wakks_open(&cfg, &p->c) != 0 || wakks_connect(p->c) != 0)
		return -1;
	for (int t = 0; t < 10000 && wakks_state(p->c) < WAKKS_CONNECTED; t += 20)
		app_loop_once(p->c, 20);
	char *token = NULL;
	uint32_t op;
	if (wakks_devidp_login(p->c, p->idp, p->user, &token) != 0)
		return -1;
	int rc = wakks_register(p->c, token, &op);
	free(token);
	return rc == 0 ? wakks_wait(p->c, op, 10000) : rc;
}

static void *citizen(void *arg)
{
	struct party *p = arg;
	if (open_and_register(p) != 0) {
		atomic_fetch_add(&failures, 1);
		return NULL;
	}
	atomic_store(&bo_ready, 1);
	run_until_flag(p->c, &dennis_ready, 1, 10000);
	wakks_target unit = { NULL, "varde", "jobcenter" };
	for (int i = 0; i < N_MESSAGES; i++) {
		char text[32];
		uint32_t op;
		snprintf(text, sizeof text, "borger %d", i);
		if (wakks_send_text(p->c, &unit, text, strlen(text), NULL, &op) != 0 ||
		    wakks_wait(p->c, op, 10000) != 0)
			atomic_fetch_add(&failures, 1);
	}
	wakks_consent_text text;
	uint32_t op;
	if (wakks_consent_text_fetch(p->c, "varde", "", &text) != 0 ||
	    wakks_consent_grant(p->c, &text, &op) != 0 || wakks_wait(p->c, op, 10000) != 0)
		atomic_fetch_add(&failures, 1);
	wakks_consent_text_free(&text);
	atomic_store(&consent_done, 1);
	run_until_flag(p->c, p->received, N_MESSAGES, 20000);
	wakks_close(p->c);
	return NULL;
}

static void *caseworker(void *arg)
{
	struct party *p = arg;
	if (open_and_register(p) != 0) {
		atomic_fetch_add(&failures, 1);
		return NULL;
	}
	atomic_store(&dennis_ready, 1);
	run_until_flag(p->c, p->received, N_MESSAGES, 20000);
	run_until_flag(p->c, &consent_done, 1, 20000);
	if (!atomic_load(&bo_account_known)) {
		atomic_fetch_add(&failures, 1);
		wakks_close(p->c);
		return NULL;
	}
	wakks_target to = { bo_account, "varde", "jobcenter" };
	for (int i = 0; i < N_MESSAGES; i++) {
		char text[32];
		uint32_t op;
		snprintf(text, sizeof text, "sagsbehandler %d", i);
		if (wakks_send_text(p->c, &to, text, strlen(text), NULL, &op) != 0 ||
		    wakks_wait(p->c, op, 10000) != 0)
			atomic_fetch_add(&failures, 1);
	}
	/* keep serving until the citizen has everything */
	run_until_flag(p->c, &bo_received, N_MESSAGES, 20000);
	wakks_close(p->c);
	return NULL;
}

static void two_clients_on_two_threads(void)
{
	struct party bo = { "bo", "dev-mitid", "bo", &bo_received, NULL };
	struct party dennis = { "dennis", "dev-adfs", "dennis", &dennis_received, NULL };
	pthread_t a, b;
	REQUIRE(pthread_create(&a, NULL, citizen, &bo) == 0);
	REQUIRE(pthread_create(&b, NULL, caseworker, &dennis) == 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	CHECK_EQ_INT(atomic_load(&dennis_received), N_MESSAGES);
	CHECK_EQ_INT(atomic_load(&bo_received), N_MESSAGES);
	CHECK_EQ_INT(atomic_load(&failures), 0);
}

int main(void)
{
	if (sodium_init() < 0 || relay_proc_start(&relay, NULL, true) != 0)
		return 1;
	snprintf(ca, sizeof ca, "%s/dev-cert.pem", relay.data_dir);
	snprintf(base, sizeof base, "%s/clients", relay.dir);
	mkdir(base, 0700);
	RUN(two_clients_on_two_threads);
	relay_proc_stop(&relay);
	int rc = TEST_RESULT();
	relay_proc_cleanup(&relay);
	return rc;
}
