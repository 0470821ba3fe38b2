/* SPDX-License-Identifier: MPL-2.0 */
/* Frame decode throughput: a typical `send` (10 recipient devices, 1 KiB ciphertext each) through
 * proto_frame_decode() (scan + msgpack-c unpack + schema validation), beside msgpack-c's bare
 * unpack of the same bytes. Prints frames/s and the ratio; never fails.
 *   proto_decode_bench [seconds]   (default 1: twenty interleaved rounds of 0.05 s CPU time per
 *   variant; rates are frames per second of thread CPU time) */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wakks_protocol.h"

#define RECIPIENTS 10
#define CT_BYTES 1024
#define ROUNDS 20

static proto_frame frame;
static uint8_t wire[64 * 1024];
static size_t wire_len;
static volatile uint64_t sink;

/* CPU time of this thread: a machine shared with other work slows the wall clock of a run, not
 * the CPU time it consumes, so the ratio stays meaningful under load. */
static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void build_send(void)
{
	static uint8_t ids[RECIPIENTS + 1][PROTO_ID_BYTES], ct[RECIPIENTS][CT_BYTES];
	for (int i = 0; i <= RECIPIENTS; i++)
		for (int k = 0; k < (int)PROTO_ID_BYTES; k++)
			ids[i][k] = (uint8_t)(i * 31 + k * 7 + 1);
	for (int i = 0; i < RECIPIENTS; i++)
		for (int k = 0; k < CT_BYTES; k++)
			ct[i][k] = (uint8_t)(i ^ k);
	proto_frame_init(&frame, PROTO_T_SEND, 1234);
	proto_send *s = &frame.body.send;
	s->cmid = ids[RECIPIENTS];
	s->tenant = (proto_str){ "varde", 5 };
	s->unit = (proto_str){ "jobcenter", 9 };
	s->receipts = true;
	for (int i = 0; i < RECIPIENTS; i++)
		s->env[i] = (proto_envelope){ ids[i], { ct[i], CT_BYTES } };
	s->env_count = RECIPIENTS;
	if (proto_frame_encode(&frame, wire, sizeof wire, &wire_len) != 0) {
		fprintf(stderr, "encode failed\n");
		exit(1);
	}
}

static int run_decode(void)
{
	int rc = proto_frame_decode(wire, wire_len, &frame);
	sink += frame.body.send.env_count;
	return rc;
}

/* What proto_frame_decode() wraps: a zone and msgpack_unpack(), nothing else. */
static int run_bare_unpack(void)
{
	msgpack_zone z;
	msgpack_object o;
	size_t off = 0;
	if (!msgpack_zone_init(&z, 4096))
		return -1;
	int rc = msgpack_unpack((const char *)wire, wire_len, &off, &z, &o);
	sink += o.via.array.size;
	msgpack_zone_destroy(&z);
	return rc == MSGPACK_UNPACK_SUCCESS ? 0 : -1;
}

/* msgpack_unpack() into one zone kept across frames and cleared each time, as the decoder does. */
static int run_reused_zone(void)
{
	static msgpack_zone *z;
	msgpack_object o;
	size_t off = 0;
	if (z == NULL && (z = msgpack_zone_new(4096)) == NULL)
		return -1;
	int rc = msgpack_unpack((const char *)wire, wire_len, &off, z, &o);
	sink += o.via.array.size;
	msgpack_zone_clear(z);
	return rc == MSGPACK_UNPACK_SUCCESS ? 0 : -1;
}

/* msgpack-c's idiomatic API: msgpack_unpacked with a zone of its own per call. */
static int run_unpack_next(void)
{
	msgpack_unpacked u;
	size_t off = 0;
	msgpack_unpacked_init(&u);
	int rc = msgpack_unpack_next(&u, (const char *)wire, wire_len, &off);
	sink += u.data.via.array.size;
	msgpack_unpacked_destroy(&u);
	return rc == MSGPACK_UNPACK_SUCCESS ? 0 : -1;
}

/* Frames per second of one timed run of about `seconds`. */
static double rate_of(int (*fn)(void), double seconds)
{
	uint64_t n = 0;
	double t0 = now(), t;
	do {
		for (int i = 0; i < 1000; i++)
			fn();
		n += 1000;
		t = now();
	} while (t - t0 < seconds);
	return (double)n / (t - t0);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	if (seconds <= 0)
		seconds = 1.0;
	build_send();
	if (run_decode() != 0 || run_bare_unpack() != 0 || run_unpack_next() != 0 ||
	    run_reused_zone() != 0) {
		fprintf(stderr, "benchmark function failed\n");
		return 1;
	}
	/* Interleaved rounds, best of each: a load spike on a shared machine hits all three alike
	 * instead of whichever happened to run at the time. */
	double bare = 0, next = 0, reuse = 0, full = 0;
	for (int r = 0; r < ROUNDS; r++) {
		double b = rate_of(run_bare_unpack, seconds / ROUNDS);
		double x = rate_of(run_unpack_next, seconds / ROUNDS);
		double z = rate_of(run_reused_zone, seconds / ROUNDS);
		double f = rate_of(run_decode, seconds / ROUNDS);
		bare = b > bare ? b : bare;
		next = x > next ? x : next;
		reuse = z > reuse ? z : reuse;
		full = f > full ? f : full;
	}
	printf("frame: send, %d recipient devices x %d B ciphertext, %zu B on the wire; best of %d "
	       "rounds, frames per CPU second\n",
	       RECIPIENTS, CT_BYTES, wire_len, ROUNDS);
	printf("%-44s %10.0f frames/s\n", "msgpack_unpack_next (msgpack_unpacked)", next);
	printf("%-44s %10.0f frames/s\n", "msgpack_unpack, new zone per frame", bare);
	printf("%-44s %10.0f frames/s\n", "msgpack_unpack, one zone reused", reuse);
	printf("%-44s %10.0f frames/s\n", "proto_frame_decode (scan+unpack+validate)", full);
	printf("ratio: msgpack_unpack_next / full decode = %.2fx (target <= 1.50x)\n", next / full);
	printf("ratio: msgpack_unpack, new zone / full decode = %.2fx\n", bare / full);
	printf("ratio: msgpack_unpack, reused zone / full decode = %.2fx\n", reuse / full);
	return 0;
}
