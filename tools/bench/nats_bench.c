/* SPDX-License-Identifier: MPL-2.0 */
/*
 * The relay's workload against NATS JetStream: N publisher and N consumer connections; pair p
 * publishes 1 KiB messages with acknowledged (asynchronous) publishes to subject bench.p of one
 * file-storage stream, and a durable push consumer with explicit acks receives and acknowledges
 * each. A pair keeps at most `window` messages between publish and consumer ack, as the relay load
 * generator does between send and the committed ack. Send time travels in the payload.
 *
 * With --cafile the connections speak TLS (a server with a `tls {}` block, its certificate verified
 * against that file), as the relay's clients always do.
 *
 * Differences that remain, stated in docs/benchmarks.md: the consumer's ack is sent without
 * waiting for the server to confirm it (natsMsg_Ack), and JetStream's durability is what the
 * server's sync setting makes it.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <nats/nats.h>

#include "bench_util.h"

#define MAX_PAIRS 1024

struct npair {
	int index;
	natsConnection *pub_nc, *sub_nc;
	jsCtx *pub_js, *sub_js;
	natsSubscription *sub;
	char subject[32];
	_Atomic uint64_t sent, completed, stored;
	pthread_mutex_t lock; /* samples, filled on the subscription's delivery thread */
	struct bench_samples lat;
};

static struct {
	const char *url, *cafile;
	int pairs, window;
	double duration, warmup, rate;
	size_t size;
	pid_t pid;
} opt = { .url = "nats://127.0.0.1:4222", .pairs = 32, .window = 16, .duration = 10, .warmup = 2,
	  .size = 1024 };

static struct npair pairs[MAX_PAIRS];
static _Atomic int measuring, stopping;
static _Atomic uint64_t m_completed, m_stored, errors;
static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;

static void check(natsStatus s, const char *what)
{
	if (s == NATS_OK)
		return;
	fprintf(stderr, "nats_bench: %s: %s\n", what, natsStatus_GetText(s));
	nats_PrintLastErrorStack(stderr);
	exit(1);
}

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	(void)nc;
	(void)sub;
	struct npair *p = closure;
	const char *data = natsMsg_GetData(msg);
	if (natsMsg_GetDataLength(msg) >= 8) {
		uint64_t sent;
		memcpy(&sent, data, 8);
		if (atomic_load(&measuring)) {
			pthread_mutex_lock(&p->lock);
			bench_samples_add(&p->lat, (bench_now_ns() - sent) / 1000u);
			pthread_mutex_unlock(&p->lock);
		}
	}
	if (natsMsg_Ack(msg, NULL) != NATS_OK)
		atomic_fetch_add(&errors, 1);
	natsMsg_Destroy(msg);
	atomic_fetch_add(&p->completed, 1);
	if (atomic_load(&measuring))
		atomic_fetch_add(&m_completed, 1);
	pthread_mutex_lock(&wake_lock);
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&wake_lock);
}

static void on_pub_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	(void)js;
	(void)pa;
	struct npair *p = closure;
	if (pae)
		atomic_fetch_add(&errors, 1);
	atomic_fetch_add(&p->stored, 1);
	if (atomic_load(&measuring))
		atomic_fetch_add(&m_stored, 1);
	natsMsg_Destroy(msg);
}

static natsConnection *connect_one(const char *name)
{
	natsOptions *o;
	natsConnection *nc;
	check(natsOptions_Create(&o), "options");
	check(natsOptions_SetURL(o, opt.url), "url");
	check(natsOptions_SetName(o, name), "name");
	if (opt.cafile) {
		check(natsOptions_SetSecure(o, true), "secure");
		check(natsOptions_LoadCATrustedCertificates(o, opt.cafile), "trusted certificate");
	}
	/* Deliveries of all subscriptions share the library's pool of threads instead of one thread
	 * per subscription: closer to one loop serving many connections. */
	check(natsOptions_UseGlobalMessageDelivery(o, true), "global delivery");
	check(natsConnection_Connect(&nc, o), "connect");
	natsOptions_Destroy(o);
	return nc;
}

static void *publisher(void *arg)
{
	(void)arg;
	uint8_t *buf = malloc(opt.size);
	for (size_t i = 0; i < opt.size; i++)
		buf[i] = (uint8_t)(i * 131u + 7u);
	uint64_t interval = opt.rate > 0 ? (uint64_t)(1e9 * opt.pairs / opt.rate) : 0;
	uint64_t *due = calloc((size_t)opt.pairs, sizeof *due);
	uint64_t start = bench_now_ns();
	for (int i = 0; i < opt.pairs; i++)
		due[i] = start + (interval ? interval * (uint64_t)i / (uint64_t)opt.pairs : 0);
	while (!atomic_load(&stopping)) {
		bool sent_any = false;
		uint64_t now = bench_now_ns();
		for (int i = 0; i < opt.pairs; i++) {
			struct npair *p = &pairs[i];
			while (atomic_load(&p->sent) - atomic_load(&p->completed) < (uint64_t)opt.window &&
			       (!interval || due[i] <= now)) {
				memcpy(buf, &now, 8);
				natsStatus s = js_PublishAsync(p->pub_js, p->subject, buf, (int)opt.size, NULL);
				if (s != NATS_OK) {
					atomic_fetch_add(&errors, 1);
					break;
				}
				atomic_fetch_add(&p->sent, 1);
				sent_any = true;
				if (interval) {
					due[i] += interval;
					if (due[i] + 1000000000u < now)
						due[i] = now;
				}
			}
		}
		if (!sent_any) {
			pthread_mutex_lock(&wake_lock);
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&wake, &wake_lock, &ts);
			pthread_mutex_unlock(&wake_lock);
		}
	}
	free(due);
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "url", 1, 0, 'u' }, { "pairs", 1, 0, 'p' }, { "window", 1, 0, 'w' },
		{ "duration", 1, 0, 'd' }, { "warmup", 1, 0, 'W' }, { "size", 1, 0, 'z' },
		{ "pid", 1, 0, 'P' }, { "rate", 1, 0, 'r' }, { "cafile", 1, 0, 'c' }, { 0, 0, 0, 0 }
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'u': opt.url = optarg; break;
		case 'p': opt.pairs = atoi(optarg); break;
		case 'w': opt.window = atoi(optarg); break;
		case 'd': opt.duration = atof(optarg); break;
		case 'W': opt.warmup = atof(optarg); break;
		case 'z': opt.size = (size_t)atol(optarg); break;
		case 'P': opt.pid = (pid_t)atoi(optarg); break;
		case 'r': opt.rate = atof(optarg); break;
		case 'c': opt.cafile = optarg; break;
		default:
			fprintf(stderr, "usage: nats_bench --url URL --pid SERVER_PID [--pairs N] [--window N] "
					"[--rate R] [--duration S] [--warmup S] [--size B] [--cafile PEM]\n");
			return 2;
		}
	}
	if (opt.pairs < 1 || opt.pairs > MAX_PAIRS || opt.window < 1 || opt.size < 8 || opt.pid <= 0) {
		fprintf(stderr, "nats_bench: bad arguments (--pid is required)\n");
		return 2;
	}
	check(nats_Open(-1), "open");

	/* One file-storage stream for all pairs, created afresh. */
	natsConnection *admin = connect_one("bench-admin");
	jsCtx *ajs;
	check(natsConnection_JetStream(&ajs, admin, NULL), "jetstream");
	js_DeleteStream(ajs, "BENCH", NULL, NULL);
	jsStreamConfig sc;
	jsStreamConfig_Init(&sc);
	const char *subjects[] = { "bench.>" };
	sc.Name = "BENCH";
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	sc.Retention = js_WorkQueuePolicy; /* an acknowledged message is removed: like the relay's ack */
	jsErrCode jerr = 0;
	check(js_AddStream(NULL, ajs, &sc, NULL, &jerr), "add stream");

	for (int i = 0; i < opt.pairs; i++) {
		struct npair *p = &pairs[i];
		p->index = i;
		pthread_mutex_init(&p->lock, NULL);
		snprintf(p->subject, sizeof p->subject, "bench.%d", i);
		char name[32], durable[32];
		snprintf(name, sizeof name, "pub-%d", i);
		p->pub_nc = connect_one(name);
		jsOptions jo;
		jsOptions_Init(&jo);
		jo.PublishAsync.MaxPending = opt.window;
		jo.PublishAsync.AckHandler = on_pub_ack;
		jo.PublishAsync.AckHandlerClosure = p;
		check(natsConnection_JetStream(&p->pub_js, p->pub_nc, &jo), "publisher context");
		snprintf(name, sizeof name, "sub-%d", i);
		p->sub_nc = connect_one(name);
		check(natsConnection_JetStream(&p->sub_js, p->sub_nc, NULL), "consumer context");
		jsSubOptions so;
		jsSubOptions_Init(&so);
		snprintf(durable, sizeof durable, "c%d", i);
		so.Config.Durable = durable;
		so.Config.AckPolicy = js_AckExplicit;
		so.Config.MaxAckPending = opt.window * 4;
		so.ManualAck = true;
		so.Stream = "BENCH";
		check(js_Subscribe(&p->sub, p->sub_js, p->subject, on_msg, p, NULL, &so, &jerr), "subscribe");
	}

	pthread_t th;
	pthread_create(&th, NULL, publisher, NULL);
	bench_sleep_ms((int)(opt.warmup * 1000));
	double cpu0 = bench_proc_cpu_seconds(opt.pid), wait0 = bench_proc_runqueue_seconds(opt.pid);
	long long disk0 = bench_proc_disk_write_bytes(opt.pid);
	uint64_t t0 = bench_now_ns();
	atomic_store(&measuring, 1);
	bench_sleep_ms((int)(opt.duration * 1000));
	atomic_store(&measuring, 0);
	uint64_t t1 = bench_now_ns();
	double cpu1 = bench_proc_cpu_seconds(opt.pid), wait1 = bench_proc_runqueue_seconds(opt.pid);
	long long disk1 = bench_proc_disk_write_bytes(opt.pid);
	long hwm = bench_proc_status_kib(opt.pid, "VmHWM");
	atomic_store(&stopping, 1);
	pthread_join(th, NULL);

	struct bench_samples lat = { 0 };
	for (int i = 0; i < opt.pairs; i++) {
		pthread_mutex_lock(&pairs[i].lock);
		bench_samples_merge(&lat, &pairs[i].lat);
		pthread_mutex_unlock(&pairs[i].lock);
	}
	bench_samples_sort(&lat);
	double secs = (double)(t1 - t0) / 1e9;
	uint64_t done = atomic_load(&m_completed);
	double rate = (double)done / secs;
	double cpu_us = done ? (cpu1 - cpu0) * 1e6 / (double)done : 0;
	printf("nats jetstream over %s: %d pairs, window %d, %s, %zu-byte payloads, %.0f s measured\n",
	       opt.cafile ? "TLS" : "plain TCP", opt.pairs, opt.window, opt.rate > 0 ? "target rate" : "flat out", opt.size, secs);
	printf("  full cycle      %10.0f msg/s  (publish, ack, deliver, consumer ack)\n", rate);
	printf("  stored          %10.0f msg/s\n", (double)atomic_load(&m_stored) / secs);
	printf("  send->deliver   p50 %.3f ms  p99 %.3f ms  p999 %.3f ms\n",
	       bench_samples_pct(&lat, 0.5) / 1e3, bench_samples_pct(&lat, 0.99) / 1e3,
	       bench_samples_pct(&lat, 0.999) / 1e3);
	printf("  server CPU      %10.1f us/msg  (%.2f cores)\n", cpu_us, (cpu1 - cpu0) / secs);
	printf("  server waiting  %10.2f s per s  (runnable, waiting for a CPU)\n", (wait1 - wait0) / secs);
	double disk_kib = done ? (double)(disk1 - disk0) / 1024.0 / (double)done : 0;
	printf("  server disk     %10.1f KiB written back per msg  (%.0f MB/s)\n", disk_kib,
	       (double)(disk1 - disk0) / 1e6 / secs);
	printf("  server peak RSS %10.1f MiB (VmHWM)\n", (double)hwm / 1024);
	printf("RESULT system=nats mode=%s msgs_per_s=%.0f p50_us=%.0f p99_us=%.0f p999_us=%.0f "
	       "cpu_us_per_msg=%.2f hwm_kib=%ld errors=%llu cpu_wait=%.2f disk_kib_per_msg=%.1f\n",
	       opt.rate > 0 ? "rate" : "max", rate, bench_samples_pct(&lat, 0.5),
	       bench_samples_pct(&lat, 0.99), bench_samples_pct(&lat, 0.999), cpu_us, hwm,
	       (unsigned long long)atomic_load(&errors), (wait1 - wait0) / secs, disk_kib);
	fflush(stdout);
	bench_samples_free(&lat);
	/* The process exits here: closing 2N connections one by one only adds time. */
	_exit(0);
}
