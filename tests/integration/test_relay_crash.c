/* SPDX-License-Identifier: MPL-2.0 */
/* Crash safety: under a stream of sends and acks the relay is killed with SIGKILL at random
 * moments and restarted, 20 times. Every envelope whose `stored` reached the sender is delivered;
 * no envelope whose `ack` was answered `ok` is delivered again; storage opens every time. */
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "relay_proc.h"
#include "tclient.h"
#include "test.h"

#define CYCLES 20
#define MAX_MSGS 20000

static struct relay_proc relay;
static struct tdev anna, bo;

static uint8_t stored[MAX_MSGS][16];
static size_t n_stored;
static uint8_t acked[MAX_MSGS][16];
static size_t n_acked;
static uint8_t delivered[MAX_MSGS][16];
static size_t n_delivered;
static int redelivered_after_ack;

static bool in(uint8_t (*set)[16], size_t n, const uint8_t id[16])
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(set[i], id, 16) == 0)
			return true;
	return false;
}

struct killer {
	pid_t pid;
	int delay_ms;
};

static void *kill_later(void *p)
{
	struct killer *k = p;
	struct timespec ts = { k->delay_ms / 1000, (long)(k->delay_ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
	kill(k->pid, SIGKILL);
	return NULL;
}

/* Reads deliveries that have arrived and acks them; records what the relay confirmed. */
static int drain(int timeout_ms)
{
	for (;;) {
		int t = tdev_wait(&bo, PROTO_T_DELIVER, timeout_ms);
		if (t != PROTO_T_DELIVER)
			return t;
		uint8_t cmid[16];
		memcpy(cmid, bo.frame.body.deliver.cmid, 16);
		if (in(acked, n_acked, cmid))
			redelivered_after_ack++;
		if (!in(delivered, n_delivered, cmid) && n_delivered < MAX_MSGS)
			memcpy(delivered[n_delivered++], cmid, 16);
		if (tdev_ack(&bo, bo.frame.body.deliver.seq) != PROTO_T_OK)
			return -1;
		if (n_acked < MAX_MSGS)
			memcpy(acked[n_acked++], cmid, 16);
	}
}

static int connect_both(void)
{
	anna.port = bo.port = relay.port;
	return tdev_login(&anna) == 0 && tdev_login(&bo) == 0 ? 0 : -1;
}

static void one_cycle(unsigned seed)
{
	struct killer k = { relay.pid, 30 + (int)(seed % 400) };
	pthread_t th;
	pthread_create(&th, NULL, kill_later, &k);
	uint8_t to[1][16], devs[1][16];
	memcpy(to[0], bo.account_id, 16);
	memcpy(devs[0], bo.device_id, 16);
	while (n_stored < MAX_MSGS) {
		uint8_t cmid[16];
		randombytes_buf(cmid, sizeof cmid);
		if (tdev_send(&anna, cmid, (const uint8_t(*)[16])to, 1, NULL, NULL,
			      (const uint8_t(*)[16])devs, 1, cmid, 16, false) != PROTO_T_STORED)
			break;
		memcpy(stored[n_stored++], cmid, 16);
		if (drain(0) < 0)
			break;
	}
	pthread_join(th, NULL);
	relay_proc_kill(&relay);
	tdev_disconnect(&anna);
	tdev_disconnect(&bo);
}

static void sigkill_loses_nothing_stored_and_repeats_nothing_acked(void)
{
	srand((unsigned)time(NULL));
	for (int cycle = 0; cycle < CYCLES; cycle++) {
		one_cycle((unsigned)rand());
		if (relay_proc_restart(&relay, true) != 0) {
			CHECK(!"relay restarts after SIGKILL");
			return;
		}
		if (connect_both() != 0) {
			CHECK(!"devices authenticate after restart");
			return;
		}
	}
	/* Final drain on a relay left running. */
	drain(1500);
	size_t missing = 0;
	for (size_t i = 0; i < n_stored; i++)
		if (!in(delivered, n_delivered, stored[i]))
			missing++;
	fprintf(stderr, "  %zu stored, %zu delivered, %zu acked over %d kills\n", n_stored,
		n_delivered, n_acked, CYCLES);
	CHECK(n_stored > (size_t)CYCLES);
	CHECK_EQ_INT(missing, 0);
	CHECK_EQ_INT(redelivered_after_ack, 0);
	CHECK_EQ_INT(relay_proc_stop(&relay), 0);
}

int main(void)
{
	if (sodium_init() < 0 || relay_proc_start(&relay, NULL, true) != 0)
		return 1;
	tdev_init(&anna, relay.port);
	tdev_init(&bo, relay.port);
	if (tdev_register(&anna, "dev-mitid", "anna", 1) != 0 ||
	    tdev_register(&bo, "dev-mitid", "bo", 1) != 0)
		return 1;
	RUN(sigkill_loses_nothing_stored_and_repeats_nothing_acked);
	tdev_free(&anna);
	tdev_free(&bo);
	relay_proc_cleanup(&relay);
	return TEST_RESULT();
}
