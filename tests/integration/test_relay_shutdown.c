/* SPDX-License-Identifier: MPL-2.0 */
/* Stopping under load (spec/relay.md §8): SIGTERM while one device pipelines sends and another
 * acknowledges deliveries as fast as they come. Every connection gets close code 1001 — never a
 * reset that swallows the close frame (1006) — and the relay exits 0; ten times over. And the
 * relay waits for the close handshakes, bounded by shutdown_grace_ms. */
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
#include "wsclient.h"

#define RUNS 10
#define PIPELINE 64 /* sends in flight: more than the relay reads in one go, so bytes wait */

static struct relay_proc relay;
static struct tdev anna, bo;

struct busy {
	struct tdev *d;
	int close_code; /* what the connection ended with; 1006: no close frame */
	int frames;
};

/* The close frame's code, answering it at once as a client does; 1006 without one. */
static int ended(struct busy *b)
{
	int code = b->d->ws.close_code ? b->d->ws.close_code : 1006;
	tdev_disconnect(b->d);
	return code;
}

static int post_send(struct tdev *d)
{
	static proto_frame f;
	static uint8_t ct[16384];
	uint8_t cmid[16];
	proto_frame_init(&f, PROTO_T_SEND, 0);
	randombytes_buf(cmid, sizeof cmid);
	f.body.send.cmid = cmid;
	f.body.send.to[f.body.send.to_count++] = bo.account_id;
	f.body.send.env[0].device = bo.device_id;
	f.body.send.env[0].ciphertext = (proto_bytes){ ct, sizeof ct };
	f.body.send.env_count = 1;
	return tdev_post(d, &f);
}

/* anna: keeps PIPELINE sends to bo in flight, one more for each reply, until the connection
 * ends. A failed write is not the end: the close frame (or the reset) is read next. */
static void *sending(void *p)
{
	struct busy *b = p;
	for (int i = 0; i < PIPELINE; i++)
		post_send(b->d);
	for (;;) {
		int t = tdev_next(b->d, 3000);
		if (t <= 0) {
			b->close_code = ended(b);
			return NULL;
		}
		b->frames++;
		post_send(b->d);
	}
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* bo: acknowledges every delivery as it arrives, without waiting for the ok, and reads a little
 * slower than the relay writes: its receive buffer fills, so the relay's send buffer holds
 * frames (the close frame too) while acks wait unread on the relay's side — the state in which
 * closing the socket at once resets it and loses the close frame. */
static void *acking(void *p)
{
	struct busy *b = p;
	static proto_frame f;
	for (;;) {
		int t = tdev_next(b->d, 3000);
		if (t <= 0) {
			b->close_code = ended(b);
			return NULL;
		}
		if (++b->frames % 16 == 0)
			sleep_ms(1);
		if (t == PROTO_T_DELIVER) {
			proto_frame_init(&f, PROTO_T_ACK, 0);
			f.body.ack.seq = b->d->frame.body.deliver.seq;
			tdev_post(b->d, &f);
		}
	}
}

static void sigterm_under_load_closes_with_1001_every_time(void)
{
	int clean = 0;
	for (int run = 0; run < RUNS; run++) {
		if (run > 0 && relay_proc_restart(&relay, true) != 0) {
			CHECK(!"relay restarts");
			return;
		}
		anna.port = bo.port = relay.port;
		REQUIRE(tdev_login(&anna) == 0 && tdev_login(&bo) == 0);
		struct busy s = { .d = &anna }, a = { .d = &bo };
		pthread_t ts, ta;
		pthread_create(&ts, NULL, sending, &s);
		pthread_create(&ta, NULL, acking, &a);
		sleep_ms(150 + 15 * run); /* SIGTERM lands at a different point of the traffic */
		kill(relay.pid, SIGTERM);
		pthread_join(ts, NULL);
		pthread_join(ta, NULL);
		CHECK(s.frames > 0 && a.frames > 0); /* both were busy */
		CHECK_EQ_INT(s.close_code, 1001);
		CHECK_EQ_INT(a.close_code, 1001);
		CHECK_EQ_INT(relay_proc_stop(&relay), 0);
		clean += s.close_code == 1001 && a.close_code == 1001;
	}
	fprintf(stderr, "  %d of %d runs closed cleanly\n", clean, RUNS);
}

/* How often relay.log (kept across restarts) says the relay stopped. */
static int stops_logged(void)
{
	FILE *f = fopen(relay.log_path, "r");
	char line[1024];
	int n = 0;
	while (f && fgets(line, sizeof line, f))
		n += strstr(line, "event=stopped") != NULL;
	if (f)
		fclose(f);
	return n;
}

static void shutdown_waits_for_the_close_handshake_within_grace(void)
{
	/* relay.conf sets shutdown_grace_ms = 1500 */
	REQUIRE(relay_proc_restart(&relay, true) == 0);
	int stops_before = stops_logged();
	struct wsc quiet;
	REQUIRE(wsc_connect(&quiet, relay.port, "/v1", "wakks.v1") == 0);
	CHECK_EQ_INT(wsc_recv(&quiet, 5000), WS_OP_BINARY); /* hello */
	kill(relay.pid, SIGTERM);
	CHECK_EQ_INT(wsc_recv(&quiet, 5000), WS_OP_CLOSE);
	CHECK_EQ_INT(quiet.close_code, 1001);
	/* this client does not answer the close yet: the relay waits for it */
	sleep_ms(400);
	CHECK_EQ_INT(stops_logged(), stops_before);
	/* the answer completes the handshake and the relay exits without waiting for the rest */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	wsc_close(&quiet);
	CHECK_EQ_INT(relay_proc_stop(&relay), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(ms < 900);

	/* a client that never answers holds it at most shutdown_grace_ms */
	REQUIRE(relay_proc_restart(&relay, true) == 0);
	REQUIRE(wsc_connect(&quiet, relay.port, "/v1", "wakks.v1") == 0);
	CHECK_EQ_INT(wsc_recv(&quiet, 5000), WS_OP_BINARY);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	kill(relay.pid, SIGTERM);
	CHECK_EQ_INT(relay_proc_stop(&relay), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(ms >= 1400 && ms < 4000);
	wsc_abort(&quiet);
}

int main(void)
{
	/* No rate limit in the way, and the widest delivery window: 16 KiB deliveries fill bo's
	 * socket, as a busy device's would. */
	if (sodium_init() < 0 ||
	    relay_proc_start(&relay, "[limits]\nshutdown_grace_ms = 1500\n"
				     "requests_per_second = 100000\nrequest_burst = 100000\n"
				     "max_inflight_deliveries = 4096\n", true) != 0)
		return 1;
	tdev_init(&anna, relay.port);
	tdev_init(&bo, relay.port);
	if (tdev_register(&anna, "dev-mitid", "anna", 1) != 0 ||
	    tdev_register(&bo, "dev-mitid", "bo", 1) != 0)
		return 1;
	tdev_disconnect(&anna);
	tdev_disconnect(&bo);
	RUN(sigterm_under_load_closes_with_1001_every_time);
	RUN(shutdown_waits_for_the_close_handshake_within_grace);
	tdev_free(&anna);
	tdev_free(&bo);
	relay_proc_cleanup(&relay);
	return TEST_RESULT();
}
