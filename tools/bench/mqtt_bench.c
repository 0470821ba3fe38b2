/* SPDX-License-Identifier: MPL-2.0 */
/*
 * The relay's workload against mosquitto, and mosquitto's idle TLS connections.
 *
 * Throughput: N publisher and N subscriber clients (libmosquitto, all driven by one thread
 * through the library's external-loop calls, connections spread over source addresses in
 * 127.0.0.0/8). Pair p publishes 1 KiB messages with QoS 1 to bench/p; a persistent session
 * (clean session off) subscribed with QoS 1 receives them; the library answers each with PUBACK.
 * A pair keeps at most `window` messages between publish and delivery. Send time travels in the
 * payload. With --cafile the clients speak TLS (the broker's TLS listener, its certificate
 * verified against that file), as the relay's clients always do.
 *
 * Idle (--idle N --port TLS_PORT): N TLS connections each send an MQTT CONNECT and hold after
 * CONNACK; the broker's RSS per connection is printed (the same measure as the relay's idle
 * mode).
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/types.h>
#include <unistd.h>

#include <mosquitto.h>

#include "bench_util.h"
#include "tls_client.h"
#include "tls_conn.h"

static struct {
	int port, pairs, window, idle, hold_s, per_addr;
	const char *cafile; /* set: throughput over TLS, the broker's certificate verified with it */
	double duration, warmup, rate;
	size_t size;
	pid_t pid;
} opt = { .port = 1883, .pairs = 32, .window = 16, .duration = 10, .warmup = 2, .size = 1024,
	  .hold_s = 5, .per_addr = 60 };

struct mpair {
	struct mosquitto *pub, *sub;
	char topic[32];
	uint64_t sent, completed;
	uint64_t due;
};

static struct mpair *pairs;
static bool measuring;
static uint64_t m_completed, m_stored, errors, connected, subscribed;
static struct bench_samples lat;

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
	(void)m;
	(void)obj;
	if (rc == 0)
		connected++;
	else
		errors++;
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *qos)
{
	(void)m;
	(void)obj;
	(void)mid;
	if (n == 1 && qos[0] == 1)
		subscribed++;
	else
		errors++;
}

static void on_publish(struct mosquitto *m, void *obj, int mid)
{
	(void)m;
	(void)obj;
	(void)mid;
	if (measuring)
		m_stored++;
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	(void)m;
	struct mpair *p = obj;
	if (msg->payloadlen >= 8 && measuring) {
		uint64_t sent;
		memcpy(&sent, msg->payload, 8);
		bench_samples_add(&lat, (bench_now_ns() - sent) / 1000u);
	}
	p->completed++;
	if (measuring)
		m_completed++;
}

static struct mosquitto *client(const char *id, bool clean, void *obj, unsigned src)
{
	struct mosquitto *m = mosquitto_new(id, clean, obj);
	if (!m) {
		fprintf(stderr, "mqtt_bench: mosquitto_new failed\n");
		exit(1);
	}
	mosquitto_connect_callback_set(m, on_connect);
	mosquitto_subscribe_callback_set(m, on_subscribe);
	mosquitto_publish_callback_set(m, on_publish);
	mosquitto_message_callback_set(m, on_message);
	mosquitto_max_inflight_messages_set(m, (unsigned)opt.window);
	if (opt.cafile && mosquitto_tls_set(m, opt.cafile, NULL, NULL, NULL, NULL) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "mqtt_bench: cannot use %s for TLS\n", opt.cafile);
		exit(1);
	}
	char bind[INET_ADDRSTRLEN];
	uint32_t a = bench_source_addr(src);
	inet_ntop(AF_INET, &a, bind, sizeof bind);
	if (mosquitto_connect_bind(m, "127.0.0.1", opt.port, 600, bind) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "mqtt_bench: cannot connect to port %d\n", opt.port);
		exit(1);
	}
	return m;
}

/* One pass of the external loop over every client. */
static void pump(struct pollfd *pfd, struct mosquitto **all, int n, int timeout_ms)
{
	for (int i = 0; i < n; i++) {
		pfd[i].fd = mosquitto_socket(all[i]);
		pfd[i].events = POLLIN | (mosquitto_want_write(all[i]) ? POLLOUT : 0);
		pfd[i].revents = 0;
	}
	if (poll(pfd, (nfds_t)n, timeout_ms) < 0)
		return;
	for (int i = 0; i < n; i++) {
		if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP))
			mosquitto_loop_read(all[i], 64);
		if (pfd[i].revents & POLLOUT || mosquitto_want_write(all[i]))
			mosquitto_loop_write(all[i], 64);
	}
}

static int run_throughput(void)
{
	int n = 2 * opt.pairs;
	pairs = calloc((size_t)opt.pairs, sizeof *pairs);
	struct mosquitto **all = calloc((size_t)n, sizeof *all);
	struct pollfd *pfd = calloc((size_t)n, sizeof *pfd);
	for (int i = 0; i < opt.pairs; i++) {
		struct mpair *p = &pairs[i];
		char id[32];
		snprintf(p->topic, sizeof p->topic, "bench/%d", i);
		snprintf(id, sizeof id, "bench-pub-%d", i);
		p->pub = client(id, true, p, (unsigned)(2 * i) / (unsigned)opt.per_addr);
		snprintf(id, sizeof id, "bench-sub-%d", i);
		p->sub = client(id, false, p, (unsigned)(2 * i + 1) / (unsigned)opt.per_addr);
		all[2 * i] = p->pub;
		all[2 * i + 1] = p->sub;
	}
	uint64_t t_limit = bench_now_ns() + 30000000000ull;
	while (connected < (uint64_t)n && bench_now_ns() < t_limit)
		pump(pfd, all, n, 10);
	for (int i = 0; i < opt.pairs; i++)
		mosquitto_subscribe(pairs[i].sub, NULL, pairs[i].topic, 1);
	while (subscribed < (uint64_t)opt.pairs && bench_now_ns() < t_limit)
		pump(pfd, all, n, 10);
	if (subscribed < (uint64_t)opt.pairs) {
		fprintf(stderr, "mqtt_bench: only %llu of %d clients connected and subscribed\n",
			(unsigned long long)subscribed, opt.pairs);
		return 1;
	}
	uint8_t *buf = malloc(opt.size);
	for (size_t i = 0; i < opt.size; i++)
		buf[i] = (uint8_t)(i * 131u + 7u);
	uint64_t interval = opt.rate > 0 ? (uint64_t)(1e9 * opt.pairs / opt.rate) : 0;
	uint64_t start = bench_now_ns();
	for (int i = 0; i < opt.pairs; i++)
		pairs[i].due = start + (interval ? interval * (uint64_t)i / (uint64_t)opt.pairs : 0);
	uint64_t warm_end = start + (uint64_t)(opt.warmup * 1e9), t0 = 0, t1 = 0;
	double cpu0 = 0, cpu1 = 0, wait0 = 0, wait1 = 0;
	long long disk0 = 0, disk1 = 0;
	uint64_t last_misc = start;
	for (;;) {
		uint64_t now = bench_now_ns();
		if (!measuring && !t0 && now >= warm_end) {
			cpu0 = bench_proc_cpu_seconds(opt.pid);
			wait0 = bench_proc_runqueue_seconds(opt.pid);
			disk0 = bench_proc_disk_write_bytes(opt.pid);
			t0 = bench_now_ns();
			measuring = true;
		}
		if (measuring && now >= t0 + (uint64_t)(opt.duration * 1e9)) {
			measuring = false;
			t1 = bench_now_ns();
			cpu1 = bench_proc_cpu_seconds(opt.pid);
			wait1 = bench_proc_runqueue_seconds(opt.pid);
			disk1 = bench_proc_disk_write_bytes(opt.pid);
			break;
		}
		for (int i = 0; i < opt.pairs; i++) {
			struct mpair *p = &pairs[i];
			while (p->sent - p->completed < (uint64_t)opt.window && (!interval || p->due <= now)) {
				memcpy(buf, &now, 8);
				if (mosquitto_publish(p->pub, NULL, p->topic, (int)opt.size, buf, 1, false) !=
				    MOSQ_ERR_SUCCESS) {
					errors++;
					break;
				}
				p->sent++;
				if (interval) {
					p->due += interval;
					if (p->due + 1000000000u < now)
						p->due = now;
				}
			}
		}
		pump(pfd, all, n, 1);
		if (now - last_misc > 500000000u) {
			for (int i = 0; i < n; i++)
				mosquitto_loop_misc(all[i]);
			last_misc = now;
		}
	}
	long hwm = bench_proc_status_kib(opt.pid, "VmHWM");
	bench_samples_sort(&lat);
	double secs = (double)(t1 - t0) / 1e9;
	double rate = (double)m_completed / secs;
	double cpu_us = m_completed ? (cpu1 - cpu0) * 1e6 / (double)m_completed : 0;
	printf("mosquitto QoS 1 over %s: %d pairs, window %d, %s, %zu-byte payloads, %.0f s measured\n",
	       opt.cafile ? "TLS" : "plain TCP",
	       opt.pairs, opt.window, opt.rate > 0 ? "target rate" : "flat out", opt.size, secs);
	printf("  full cycle      %10.0f msg/s  (publish, PUBACK, deliver, PUBACK)\n", rate);
	printf("  stored          %10.0f msg/s  (PUBACK to the publisher)\n", (double)m_stored / secs);
	printf("  send->deliver   p50 %.3f ms  p99 %.3f ms  p999 %.3f ms\n",
	       bench_samples_pct(&lat, 0.5) / 1e3, bench_samples_pct(&lat, 0.99) / 1e3,
	       bench_samples_pct(&lat, 0.999) / 1e3);
	printf("  server CPU      %10.1f us/msg  (%.2f cores)\n", cpu_us, (cpu1 - cpu0) / secs);
	printf("  server waiting  %10.2f s per s  (runnable, waiting for a CPU)\n", (wait1 - wait0) / secs);
	double disk_kib = m_completed ? (double)(disk1 - disk0) / 1024.0 / (double)m_completed : 0;
	printf("  server disk     %10.1f KiB written back per msg  (%.0f MB/s)\n", disk_kib,
	       (double)(disk1 - disk0) / 1e6 / secs);
	printf("  server peak RSS %10.1f MiB (VmHWM)\n", (double)hwm / 1024);
	printf("RESULT system=mosquitto mode=%s msgs_per_s=%.0f p50_us=%.0f p99_us=%.0f p999_us=%.0f "
	       "cpu_us_per_msg=%.2f hwm_kib=%ld errors=%llu cpu_wait=%.2f disk_kib_per_msg=%.1f\n",
	       opt.rate > 0 ? "rate" : "max", rate, bench_samples_pct(&lat, 0.5),
	       bench_samples_pct(&lat, 0.99), bench_samples_pct(&lat, 0.999), cpu_us, hwm,
	       (unsigned long long)errors, (wait1 - wait0) / secs, disk_kib);
	fflush(stdout);
	_exit(0);
}

/* ---- idle TLS connections ------------------------------------------------------------------ */

struct iconn {
	struct tls_conn tc;
	bool ready, done;
};

static uint64_t i_ready, i_failed, i_lost;
static bool i_holding;

static void idle_open(struct tls_conn *tc)
{
	/* MQTT 3.1.1 CONNECT: protocol "MQTT", level 4, clean session, keep-alive 0 (off), an empty
	 * client id (the broker assigns one). */
	static const uint8_t connect[] = { 0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0, 0, 0 };
	tc_write_raw(tc, connect, sizeof connect);
	tc_flush(tc);
}

static size_t idle_data(struct tls_conn *tc, const uint8_t *d, size_t len)
{
	struct iconn *c = (struct iconn *)tc;
	if (len < 4)
		return 0;
	if (!c->ready) {
		if (d[0] == 0x20 && d[1] == 2 && d[3] == 0) {
			c->ready = true;
			i_ready++;
		} else {
			i_failed++;
			c->done = true;
		}
	}
	return len;
}

static void idle_close(struct tls_conn *tc)
{
	struct iconn *c = (struct iconn *)tc;
	if (c->done)
		return;
	c->done = true;
	if (c->ready)
		i_lost++;
	else
		i_failed++;
}

static int run_idle(void)
{
	long lim = bench_raise_nofile();
	int n = opt.idle;
	if (lim > 0 && n + 64 > lim)
		n = (int)lim - 64;
	struct iconn *conns = calloc((size_t)n, sizeof *conns);
	SSL_CTX *ctx = tls_client_ctx_new();
	int epfd = epoll_create1(0);
	bench_sleep_ms(300);
	long rss0 = bench_proc_status_kib(opt.pid, "VmRSS");
	long anon0 = bench_proc_status_kib(opt.pid, "RssAnon");
	int next = 0;
	uint64_t t0 = bench_now_ns();
	struct epoll_event ev[256];
	while (i_ready + i_failed < (uint64_t)n) {
		while (next < n && (uint64_t)next - i_ready - i_failed < 64) {
			struct iconn *c = &conns[next];
			c->tc.on_open = idle_open;
			c->tc.on_data = idle_data;
			c->tc.on_close = idle_close;
			if (tc_start(&c->tc, ctx, epfd, (unsigned)next / (unsigned)opt.per_addr, opt.port) != 0) {
				c->done = true;
				i_failed++;
			}
			next++;
		}
		int k = epoll_wait(epfd, ev, 256, 20);
		for (int i = 0; i < k; i++)
			tc_on_ready(&((struct iconn *)ev[i].data.ptr)->tc);
		if (bench_now_ns() - t0 > 600000000000ull)
			break;
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	i_holding = true;
	uint64_t hold_end = bench_now_ns() + (uint64_t)opt.hold_s * 1000000000u;
	while (bench_now_ns() < hold_end) {
		int k = epoll_wait(epfd, ev, 256, 100);
		for (int i = 0; i < k; i++)
			tc_on_ready(&((struct iconn *)ev[i].data.ptr)->tc);
	}
	long rss1 = bench_proc_status_kib(opt.pid, "VmRSS");
	long anon1 = bench_proc_status_kib(opt.pid, "RssAnon");
	uint64_t held = i_ready - i_lost;
	double per = held ? (double)(rss1 - rss0) / (double)held : 0;
	double per_anon = held ? (double)(anon1 - anon0) / (double)held : 0;
	printf("mosquitto idle: %llu TLS MQTT connections held for %d s (connected in %.1f s, %llu failed)\n",
	       (unsigned long long)held, opt.hold_s, secs, (unsigned long long)i_failed);
	printf("  broker RSS      %.1f MiB before, %.1f MiB holding\n", (double)rss0 / 1024,
	       (double)rss1 / 1024);
	printf("  per connection  %.1f KiB of RSS (%.1f KiB anonymous)\n", per, per_anon);
	printf("RESULT system=mosquitto mode=idle connections=%llu kib_per_conn=%.2f anon_kib_per_conn=%.2f "
	       "rss_kib=%ld\n", (unsigned long long)held, per, per_anon, rss1);
	fflush(stdout);
	_exit(0);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "port", 1, 0, 'o' }, { "pairs", 1, 0, 'p' }, { "window", 1, 0, 'w' },
		{ "duration", 1, 0, 'd' }, { "warmup", 1, 0, 'W' }, { "size", 1, 0, 'z' },
		{ "pid", 1, 0, 'P' }, { "rate", 1, 0, 'r' }, { "idle", 1, 0, 'i' },
		{ "hold", 1, 0, 'h' }, { "cafile", 1, 0, 'c' }, { 0, 0, 0, 0 }
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'o': opt.port = atoi(optarg); break;
		case 'p': opt.pairs = atoi(optarg); break;
		case 'w': opt.window = atoi(optarg); break;
		case 'd': opt.duration = atof(optarg); break;
		case 'W': opt.warmup = atof(optarg); break;
		case 'z': opt.size = (size_t)atol(optarg); break;
		case 'P': opt.pid = (pid_t)atoi(optarg); break;
		case 'r': opt.rate = atof(optarg); break;
		case 'i': opt.idle = atoi(optarg); break;
		case 'h': opt.hold_s = atoi(optarg); break;
		case 'c': opt.cafile = optarg; break;
		default:
			fprintf(stderr, "usage: mqtt_bench --port P --pid BROKER_PID [--pairs N] [--window N] "
					"[--rate R] [--duration S] [--warmup S] [--size B] [--cafile PEM] | --idle N [--hold S]\n");
			return 2;
		}
	}
	if (opt.pid <= 0 || opt.pairs < 1 || opt.window < 1 || opt.size < 8) {
		fprintf(stderr, "mqtt_bench: bad arguments (--pid is required)\n");
		return 2;
	}
	if (opt.idle)
		return run_idle();
	bench_raise_nofile();
	mosquitto_lib_init();
	return run_throughput();
}
