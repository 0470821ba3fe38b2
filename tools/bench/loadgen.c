/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Load generator for wakks-relay: wakks.v1 over TLS WebSockets with opaque ciphertexts.
 *
 * Throughput mode: N sender and N receiver devices (pair p: sender -> receiver, each its own
 * citizen account), each sender keeps a window of messages that have not completed the full
 * cycle send -> stored (durable) -> deliver -> ack -> ok (deleted), at a target rate or flat out,
 * for a bounded time. The send time is inside the ciphertext; the receiver reads it back.
 * Idle mode: N devices authenticate and hold their connections; the relay's RSS per connection
 * is printed.
 *
 * Shapes for tools/bench/curves.sh: --fanout F gives each sender F receiver devices (F accounts,
 * one envelope each per send; a send completes when all F acks are committed); --background N
 * keeps N more authenticated devices connected and idle during the run; --backlog N first fills
 * the mailboxes of devices that stay offline with N envelopes, so the run measures a relay
 * holding that backlog. --cmid random draws each send's client message id at random, as clients
 * did before ids were time-ordered (spec/protocol.md §8.1), to compare what the relay's
 * idempotency index then writes.
 *
 * Several relays: --relays N starts N relays on one PostgreSQL database (WAKKS_TEST_ENGINE=postgresql:
 * the test support's throw-away server, tests/support/pg_server.h) and connects device i to relay
 * i mod N, so a sender and its receivers sit on different relays and every message crosses them
 * through the database's notifications. CPU, disk and memory figures are then the relays' sums, and
 * the PostgreSQL server's own CPU is printed beside them.
 *
 * Devices are registered through the relay's normal registration (an OpenID Connect ID token from
 * the benchmark's identity provider, bench_idp.h) and their keys saved in the state directory, so
 * later runs only authenticate. One thread per core, epoll, non-blocking OpenSSL; each thread owns
 * whole pairs so a pair's counters need no locks.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bench_idp.h"
#include "bench_util.h"
#include "pg_server.h"
#include "relay_proc.h"
#include "tls_client.h"
#include "tls_conn.h"
#include "wakks_bytes.h"
#include "wakks_cmid.h"
#include "wakks_crypto.h"
#include "wakks_protocol.h"

/* Sends tracked per pair for send->stored latency: at least the largest window. */
#define RING 4096u
#define MAX_WINDOW RING
/* Connection attempts in progress per thread: below the relay's listen backlog. */
#define MAX_CONNECTING 64u
/* An ack's request id with this bit set acknowledges an envelope left over from an earlier run. */
#define RID_FOREIGN 0x80000000u
/* Relays of one benchmark (--relays): a handful is what a deployment runs. */
#define MAX_RELAYS 8
/* Recipient devices per send: one account each, and a send names at most this many accounts. */
#define MAX_FANOUT PROTO_MAX_RECIPIENT_ACCOUNTS
/* Envelopes one backlog filler leaves in one offline device's mailbox (the bench relay's limit). */
#define BACKLOG_PER_DEVICE 100000u
/* Sends of one backlog filler in flight, and fillers at least (up to one per 1 000 envelopes): the
 * backlog is stored at the relay's group-commit rate rather than one small window's. */
#define FILL_WINDOW 64u
#define MIN_FILLERS 16u

enum phase { PH_CONNECT, PH_FILL, PH_RUN, PH_MEASURE, PH_DRAIN, PH_STOP };

struct device { /* saved as is in STATE/devices.bin */
	uint8_t ik_pk[32], ik_sk[64], dev[16], acc[16];
};

struct worker;
struct pair;

struct dconn {
	struct tls_conn tc; /* first: callbacks get &tc */
	struct worker *w;
	struct device *d;
	uint32_t index; /* device number */
	struct pair *pair;
	bool ready, done;
	bool offline; /* a backlog filler's receiver: never connects */
	uint32_t next_rid;
	uint8_t challenge[32];
};

struct pair {
	struct dconn *s, *r[MAX_FANOUT];
	unsigned nr;  /* receivers: envelopes per send */
	bool filler;  /* backlog: receivers offline, a send completes at `stored` */
	uint64_t quota; /* filler: sends still to make */
	uint32_t index;
	uint64_t sent, completed, failed; /* completed and failed count envelopes */
	uint64_t next_due_ns;
	uint64_t send_ns[RING];
	uint8_t *frame; /* send template */
	size_t frame_len, rid_off, cmid_off, ct_off[MAX_FANOUT];
	struct wakks_cmid_gen cmid; /* the sender's client message ids */
};

struct worker {
	int id;
	pthread_t th;
	int epfd;
	SSL_CTX *ctx;
	struct dconn *conns;
	size_t nconns, next_start, connecting;
	struct pair *pairs;
	size_t npairs;
	struct dconn **dirty;
	size_t ndirty;
	proto_frame *frame; /* for the rare frames decoded in full */
	uint8_t *enc;       /* encode buffer for them */
	struct bench_samples lat, stored_lat;
	_Atomic uint64_t ready, failed, lost, completed, delivered, stored, errors, filled;
};

static struct {
	const char *relay_bin, *state;
	unsigned pairs, window, threads, per_addr, idle, hold_s, fanout, background, relays;
	unsigned long backlog;
	double rate, duration, warmup;
	size_t ct_size;
	bool random_cmid; /* --cmid random: ids drawn at random, as clients did before */
} opt = { .pairs = 32, .window = 16, .threads = 1, .per_addr = 60, .duration = 10, .warmup = 2,
	  .ct_size = 1024, .hold_s = 5, .fanout = 1, .relays = 1 };

static _Atomic int phase;
static struct bench_idp *idp;
static struct device *devices;
static size_t ndevices_saved;
/* The relays' ports: device i connects to relay_ports[i % nports]. */
static int relay_ports[MAX_RELAYS];
static unsigned nports = 1;
static uint8_t run_nonce[8];
static uint64_t interval_ns; /* rate mode: per pair */
static _Atomic int errors_printed;

/* ---- helpers --------------------------------------------------------------------------------- */

static uint64_t get_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void mark_dirty(struct dconn *c)
{
	if (!c->tc.dirty)
		return;
	struct worker *w = c->w;
	for (size_t i = 0; i < w->ndirty; i++)
		if (w->dirty[i] == c)
			return;
	w->dirty[w->ndirty++] = c;
}

static void print_error(struct dconn *c, const uint8_t *buf, size_t len, const char *what)
{
	if (atomic_fetch_add(&errors_printed, 1) >= 5)
		return;
	proto_frame *f = c->w->frame;
	if (proto_frame_decode(buf, len, f) == 0 && f->type == PROTO_T_ERROR)
		fprintf(stderr, "loadgen: %s: relay error %.*s: %.*s\n", what,
			(int)f->body.error.name.len, f->body.error.name.ptr,
			(int)f->body.error.text.len, f->body.error.text.ptr);
	else
		fprintf(stderr, "loadgen: %s: undecodable reply\n", what);
}

static void send_full_frame(struct dconn *c, proto_frame *f)
{
	f->request_id = c->next_rid++;
	size_t len;
	if (proto_frame_encode(f, c->w->enc, PROTO_MAX_FRAME_BYTES, &len) != 0) {
		fprintf(stderr, "loadgen: cannot encode frame type %u\n", f->type);
		exit(1);
	}
	tc_write_ws(&c->tc, c->w->enc, len);
	mark_dirty(c);
}

/* ---- the send template: [64, rid, {cmid, to:[acc...], env:[{dev, ct}...]}] --------------------- */

static uint8_t *put_array_header(uint8_t *q, unsigned n)
{
	if (n < 16) {
		*q++ = (uint8_t)(0x90 | n);
	} else {
		*q++ = 0xdc;
		*q++ = (uint8_t)(n >> 8);
		*q++ = (uint8_t)n;
	}
	return q;
}

static void build_template(struct pair *p)
{
	size_t cap = 128 + p->nr * (64 + opt.ct_size); /* per recipient: "to" entry and envelope */
	uint8_t *b = malloc(cap), *q = b;
	*q++ = 0x93;
	*q++ = 0x40;
	*q++ = 0xce; /* request id as uint32: the decoder accepts any integer form */
	p->rid_off = (size_t)(q - b);
	q += 4;
	*q++ = 0x83;
	*q++ = 0xa4;
	memcpy(q, "cmid", 4), q += 4;
	*q++ = 0xc4, *q++ = 16;
	p->cmid_off = (size_t)(q - b);
	memset(q, 0, 16); /* each send writes its own (send_one) */
	q += 16;
	*q++ = 0xa2;
	memcpy(q, "to", 2), q += 2;
	q = put_array_header(q, p->nr);
	for (unsigned k = 0; k < p->nr; k++) {
		*q++ = 0xc4, *q++ = 16;
		memcpy(q, p->r[k]->d->acc, 16), q += 16;
	}
	*q++ = 0xa3;
	memcpy(q, "env", 3), q += 3;
	q = put_array_header(q, p->nr);
	for (unsigned k = 0; k < p->nr; k++) {
		*q++ = 0x82, *q++ = 0xa3;
		memcpy(q, "dev", 3), q += 3;
		*q++ = 0xc4, *q++ = 16;
		memcpy(q, p->r[k]->d->dev, 16), q += 16;
		*q++ = 0xa2;
		memcpy(q, "ct", 2), q += 2;
		*q++ = 0xc5, *q++ = (uint8_t)(opt.ct_size >> 8), *q++ = (uint8_t)opt.ct_size;
		p->ct_off[k] = (size_t)(q - b);
		/* Opaque bytes: send time (8), run nonce (8), pair (4), then filler. */
		for (size_t i = 0; i < opt.ct_size; i++)
			q[i] = (uint8_t)(i * 131u + 7u);
		memcpy(q + 8, run_nonce, 8);
		wakks_store_be32(q + 16, p->index);
		q += opt.ct_size;
	}
	p->frame = b;
	p->frame_len = (size_t)(q - b);
}

static void send_one(struct pair *p, uint64_t now)
{
	struct dconn *s = p->s;
	uint32_t rid = s->next_rid++;
	if (s->next_rid >= RID_FOREIGN)
		s->next_rid = 1;
	wakks_store_be32(p->frame + p->rid_off, rid);
	/* A client's id for every send (spec/protocol.md §8.1): where it falls in the relay's
	 * idempotency index decides how many pages a commit writes. */
	if (opt.random_cmid) {
		randombytes_buf(p->frame + p->cmid_off, WAKKS_CMID_BYTES);
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint8_t rnd[WAKKS_CMID_RANDOM_BYTES];
		randombytes_buf(rnd, sizeof rnd);
		wakks_cmid_draw(&p->cmid, (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u,
				rnd, p->frame + p->cmid_off);
	}
	for (unsigned k = 0; k < p->nr; k++)
		wakks_store_be64(p->frame + p->ct_off[k], now);
	p->send_ns[rid % RING] = now;
	p->sent++;
	tc_write_ws(&s->tc, p->frame, p->frame_len);
	mark_dirty(s);
}

/* Room for one more send: envelopes not yet through their cycle, counted in whole sends. */
static bool window_open(const struct pair *p)
{
	uint64_t window = p->filler ? FILL_WINDOW : opt.window;
	return p->sent * p->nr - p->completed - p->failed + p->nr <= window * p->nr;
}

static bool pair_ready(const struct pair *p)
{
	if (!p->s->ready)
		return false;
	for (unsigned k = 0; k < p->nr; k++)
		if (!p->r[k]->ready && !p->r[k]->offline)
			return false;
	return true;
}

static void fill_window(struct pair *p)
{
	if (!pair_ready(p))
		return;
	int ph = atomic_load_explicit(&phase, memory_order_relaxed);
	if (p->filler != (ph == PH_FILL))
		return;
	uint64_t now = bench_now_ns();
	while (window_open(p) && (!p->filler || p->quota)) {
		send_one(p, now);
		if (p->filler)
			p->quota--;
	}
}

/* ---- deliver: read "seq" and "ct" without a full decode ------------------------------------ */

/* Skips or reads one msgpack value of the kinds deliver carries (uint, bin, str). */
static bool mp_read(const uint8_t **pp, const uint8_t *end, uint64_t *u, const uint8_t **bin,
		    size_t *bin_len)
{
	const uint8_t *p = *pp;
	if (p >= end)
		return false;
	uint8_t t = *p++;
	size_t n = 0, hl = 0;
	if (t <= 0x7f) {
		*u = t;
	} else if (t >= 0xcc && t <= 0xcf) {
		n = (size_t)1 << (t - 0xcc);
		if ((size_t)(end - p) < n)
			return false;
		*u = get_be(p, n);
		p += n;
	} else if ((t & 0xe0) == 0xa0 || t == 0xd9 || t == 0xda || t == 0xc4 || t == 0xc5 || t == 0xc6) {
		if ((t & 0xe0) == 0xa0)
			n = t & 0x1f;
		else {
			hl = (t == 0xd9 || t == 0xc4) ? 1 : (t == 0xda || t == 0xc5) ? 2 : 4;
			if ((size_t)(end - p) < hl)
				return false;
			n = (size_t)get_be(p, hl);
			p += hl;
		}
		if ((size_t)(end - p) < n)
			return false;
		*bin = p;
		*bin_len = n;
		p += n;
	} else {
		return false;
	}
	*pp = p;
	return true;
}

static bool parse_deliver(const uint8_t *buf, size_t len, uint64_t *seq, const uint8_t **ct,
			  size_t *ct_len)
{
	const uint8_t *p = buf, *end = buf + len;
	if (len < 4 || p[0] != 0x93 || p[1] != PROTO_T_DELIVER || p[2] != 0x00 || (p[3] & 0xf0) != 0x80)
		return false;
	unsigned keys = p[3] & 0x0f;
	p += 4;
	bool have_seq = false, have_ct = false;
	for (unsigned i = 0; i < keys; i++) {
		uint64_t u = 0;
		const uint8_t *k = NULL, *v = NULL;
		size_t kl = 0, vl = 0;
		if (!mp_read(&p, end, &u, &k, &kl) || !k || !mp_read(&p, end, &u, &v, &vl))
			return false;
		if (kl == 3 && memcmp(k, "seq", 3) == 0)
			*seq = u, have_seq = true;
		else if (kl == 2 && memcmp(k, "ct", 2) == 0)
			*ct = v, *ct_len = vl, have_ct = true;
	}
	return have_seq && have_ct;
}

static void send_ack(struct dconn *c, uint64_t seq, bool foreign)
{
	uint8_t b[21] = { 0x93, PROTO_T_ACK, 0xce, 0, 0, 0, 0, 0x81, 0xa3, 's', 'e', 'q', 0xcf };
	uint32_t rid = c->next_rid++;
	if (c->next_rid >= RID_FOREIGN)
		c->next_rid = 1;
	wakks_store_be32(b + 3, foreign ? rid | RID_FOREIGN : rid);
	wakks_store_be64(b + 13, seq);
	tc_write_ws(&c->tc, b, sizeof b);
	mark_dirty(c);
}

/* ---- connection callbacks ------------------------------------------------------------------ */

static void conn_ready(struct dconn *c)
{
	c->ready = true;
	c->w->connecting--;
	atomic_fetch_add(&c->w->ready, 1);
}

static void on_hello(struct dconn *c, const uint8_t *buf, size_t len)
{
	proto_frame *f = c->w->frame;
	if (proto_frame_decode(buf, len, f) != 0) {
		fprintf(stderr, "loadgen: bad hello\n");
		return;
	}
	memcpy(c->challenge, f->body.hello.challenge, 32);
	if (c->index < ndevices_saved) {
		uint8_t msg[PROTO_AUTH_MSG_BYTES], sig[64];
		proto_auth_message(msg, c->challenge, c->d->dev);
		crypto_sign_detached(sig, NULL, msg, sizeof msg, c->d->ik_sk);
		proto_frame_init(f, PROTO_T_AUTH, 0);
		f->body.auth.device = c->d->dev;
		f->body.auth.sig = sig;
		send_full_frame(c, f);
		return;
	}
	char token[2048];
	size_t tl = bench_idp_token(idp, c->index, c->d->ik_pk, c->challenge, token, sizeof token);
	if (!tl) {
		fprintf(stderr, "loadgen: cannot mint a token\n");
		exit(1);
	}
	uint8_t spk_pub[32], spk_sec[32], spk_sig[64], msg[WC_SIGNED_PREKEY_MESSAGE_BYTES];
	crypto_box_keypair(spk_pub, spk_sec);
	uint64_t now = (uint64_t)time(NULL) * 1000u;
	wc_signed_prekey_message(1, spk_pub, now, msg);
	crypto_sign_detached(spk_sig, NULL, msg, sizeof msg, c->d->ik_sk);
	proto_frame_init(f, PROTO_T_REGISTER, 0);
	f->body.reg.attestation = (proto_str){ token, tl };
	f->body.reg.identity_key = c->d->ik_pk;
	f->body.reg.spk = (proto_signed_prekey){ 1, spk_pub, now, spk_sig };
	send_full_frame(c, f);
}

static size_t on_data(struct tls_conn *tc, const uint8_t *buf, size_t len)
{
	struct dconn *c = (struct dconn *)tc;
	struct worker *w = c->w;
	uint32_t type, rid;
	if (proto_frame_peek(buf, len, &type, &rid) != 0)
		return len;
	struct pair *p = c->pair;
	int ph = atomic_load_explicit(&phase, memory_order_relaxed);
	switch (type) {
	case PROTO_T_DELIVER: {
		uint64_t seq = 0;
		const uint8_t *ct = NULL;
		size_t ct_len = 0;
		if (!parse_deliver(buf, len, &seq, &ct, &ct_len)) {
			proto_frame *f = w->frame;
			if (proto_frame_decode(buf, len, f) != 0)
				return len;
			seq = f->body.deliver.seq;
			ct = f->body.deliver.ciphertext.ptr;
			ct_len = f->body.deliver.ciphertext.len;
		}
		bool ours = ct_len >= 20 && memcmp(ct + 8, run_nonce, 8) == 0;
		if (ours) {
			uint64_t sent_ns = wakks_load_be64(ct), now = bench_now_ns();
			if (ph == PH_MEASURE) {
				bench_samples_add(&w->lat, (now - sent_ns) / 1000u);
				atomic_fetch_add_explicit(&w->delivered, 1, memory_order_relaxed);
			}
		}
		send_ack(c, seq, !ours);
		break;
	}
	case PROTO_T_OK:
		if (rid & RID_FOREIGN || !p)
			break;
		p->completed++;
		if (ph == PH_MEASURE)
			atomic_fetch_add_explicit(&w->completed, 1, memory_order_relaxed);
		if (ph == PH_RUN || ph == PH_MEASURE) {
			if (interval_ns == 0)
				fill_window(p);
		}
		break;
	case PROTO_T_STORED:
		if (!p)
			break;
		if (p->filler) { /* nobody will ack: the envelopes stay as backlog */
			p->completed += p->nr;
			atomic_fetch_add_explicit(&w->filled, p->nr, memory_order_relaxed);
			fill_window(p);
			break;
		}
		if (ph == PH_MEASURE) {
			bench_samples_add(&w->stored_lat, (bench_now_ns() - p->send_ns[rid % RING]) / 1000u);
			atomic_fetch_add_explicit(&w->stored, 1, memory_order_relaxed);
		}
		break;
	case PROTO_T_HELLO:
		on_hello(c, buf, len);
		break;
	case PROTO_T_REGISTERED: {
		proto_frame *f = w->frame;
		if (proto_frame_decode(buf, len, f) != 0)
			break;
		memcpy(c->d->dev, f->body.registered.device, 16);
		memcpy(c->d->acc, f->body.registered.account, 16);
		conn_ready(c);
		break;
	}
	case PROTO_T_AUTH_OK:
		conn_ready(c);
		break;
	case PROTO_T_ERROR:
		atomic_fetch_add(&w->errors, 1);
		if (!c->ready) {
			print_error(c, buf, len, "connecting");
			c->done = true;
			w->connecting--;
			atomic_fetch_add(&w->failed, 1);
			tc_close(&c->tc);
		} else if (p && c == p->s) {
			print_error(c, buf, len, "send");
			p->failed += p->nr;
		} else {
			print_error(c, buf, len, "ack");
		}
		break;
	default: /* prekeys_low and other pushes: not part of the workload */
		break;
	}
	return len;
}

static void on_close(struct tls_conn *tc)
{
	struct dconn *c = (struct dconn *)tc;
	if (c->done)
		return;
	c->done = true;
	if (!c->ready) {
		c->w->connecting--;
		atomic_fetch_add(&c->w->failed, 1);
		if (atomic_fetch_add(&errors_printed, 1) < 5)
			fprintf(stderr, "loadgen: connection %u failed before authenticating (close %u)\n",
				c->index, c->tc.close_code);
	} else if (atomic_load(&phase) < PH_STOP) {
		atomic_fetch_add(&c->w->lost, 1);
		if (atomic_fetch_add(&errors_printed, 1) < 5)
			fprintf(stderr, "loadgen: connection %u closed by the relay (close %u)\n", c->index,
				c->tc.close_code);
	}
}

/* ---- worker loop ------------------------------------------------------------------------------ */

static void start_more(struct worker *w)
{
	while (w->connecting < MAX_CONNECTING && w->next_start < w->nconns) {
		struct dconn *c = &w->conns[w->next_start++];
		if (c->offline)
			continue;
		c->tc.websocket = true;
		c->tc.ws_path = PROTO_WS_PATH;
		c->tc.ws_protocol = PROTO_WS_SUBPROTOCOL;
		c->tc.on_data = on_data;
		c->tc.on_close = on_close;
		c->next_rid = 1;
		w->connecting++;
		if (tc_start(&c->tc, w->ctx, w->epfd, c->index / opt.per_addr,
			     relay_ports[c->index % nports]) != 0) {
			c->done = true;
			w->connecting--;
			atomic_fetch_add(&w->failed, 1);
			if (atomic_fetch_add(&errors_printed, 1) < 5)
				fprintf(stderr, "loadgen: connect %u: %s\n", c->index, strerror(errno));
		}
	}
}

static void flush_dirty(struct worker *w)
{
	for (size_t i = 0; i < w->ndirty; i++)
		if (w->dirty[i]->tc.state != TC_CLOSED)
			tc_flush(&w->dirty[i]->tc);
	w->ndirty = 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event ev[256];
	bool started_sending = false, started_filling = false;
	for (;;) {
		int ph = atomic_load(&phase);
		if (ph == PH_STOP)
			break;
		start_more(w);
		int timeout = interval_ns && (ph == PH_RUN || ph == PH_MEASURE) ? 1 : 20;
		int n = epoll_wait(w->epfd, ev, 256, timeout);
		for (int i = 0; i < n; i++) {
			struct dconn *c = ev[i].data.ptr;
			tc_on_ready(&c->tc);
		}
		if (ph == PH_FILL && !started_filling) {
			for (size_t i = 0; i < w->npairs; i++)
				fill_window(&w->pairs[i]);
			started_filling = true;
		}
		if (ph == PH_RUN || ph == PH_MEASURE) {
			uint64_t now = bench_now_ns();
			for (size_t i = 0; i < w->npairs; i++) {
				struct pair *p = &w->pairs[i];
				if (p->filler)
					continue;
				if (!started_sending && interval_ns) {
					p->next_due_ns = now + interval_ns * i / (w->npairs ? w->npairs : 1);
				} else if (!started_sending) {
					fill_window(p);
				} else if (interval_ns) {
					if (p->next_due_ns + 1000000000u < now)
						p->next_due_ns = now; /* far behind: do not burst to catch up */
					while (p->next_due_ns <= now && window_open(p)) {
						send_one(p, now);
						p->next_due_ns += interval_ns;
					}
				}
			}
			started_sending = true;
		}
		flush_dirty(w);
	}
	return NULL;
}

/* ---- device file -------------------------------------------------------------------------------- */

static void path_in_state(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", opt.state, name);
}

/* Runs `rm -rf 'a'` (b NULL) or `cp -a 'a' 'b'`. */
static int run_shell(const char *a, const char *b)
{
	char cmd[1400];
	if (b)
		snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", a, b);
	else
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", a);
	int rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "loadgen: '%s' failed\n", cmd);
	return rc;
}

/* Every run starts from the relay's data as it was right after registration (STATE/relay-data.registered):
 * devices and keys only, no mailboxes and no idempotency records left by earlier runs, so runs
 * measure the same database and do not slow down as its history grows. */
static void load_devices(size_t need)
{
	char path[600], data[600], snap[600];
	path_in_state(path, sizeof path, "devices.bin");
	path_in_state(data, sizeof data, "relay-data");
	path_in_state(snap, sizeof snap, "relay-data.registered");
	struct stat st;
	bool have_snap = stat(snap, &st) == 0;
	run_shell(data, NULL);
	if (have_snap)
		run_shell(snap, data);
	devices = calloc(need, sizeof *devices);
	FILE *f = have_snap ? fopen(path, "rb") : NULL;
	if (f) {
		ndevices_saved = fread(devices, sizeof *devices, need, f);
		fclose(f);
	}
	for (size_t i = ndevices_saved; i < need; i++)
		crypto_sign_keypair(devices[i].ik_pk, devices[i].ik_sk);
}

static void snapshot_data(void)
{
	char data[600], snap[600];
	path_in_state(data, sizeof data, "relay-data");
	path_in_state(snap, sizeof snap, "relay-data.registered");
	run_shell(snap, NULL);
	run_shell(data, snap);
}

static int save_devices(size_t n)
{
	char path[600], tmp[620];
	path_in_state(path, sizeof path, "devices.bin");
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "wb");
	if (!f || fwrite(devices, sizeof *devices, n, f) != n || fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

/* ---- running phases ---------------------------------------------------------------------------- */

static struct worker *workers;

/* Throughput layout, by device number: opt.pairs units of a sender and opt.fanout receivers, then
 * nfillers units of a backlog sender and its offline receiver, then opt.background idle devices. */
static size_t nfillers;

static size_t active_devices(void)
{
	return (size_t)opt.pairs * (1 + opt.fanout);
}

static size_t layout_devices(void)
{
	return active_devices() + 2 * nfillers + opt.background;
}

/* The unit (pair number, or beyond the pairs a device of its own) of device i, and its role:
 * 0 sender, k >= 1 receiver k - 1, -1 not part of a pair. */
static size_t layout_unit(size_t i, int *role)
{
	size_t a = active_devices();
	if (i < a) {
		*role = (int)(i % (1 + opt.fanout));
		return i / (1 + opt.fanout);
	}
	if (i < a + 2 * nfillers) {
		*role = (int)((i - a) % 2);
		return opt.pairs + (i - a) / 2;
	}
	*role = -1;
	return i;
}

static void setup_workers(size_t ndev, bool pairs)
{
	workers = calloc(opt.threads, sizeof *workers);
	for (unsigned t = 0; t < opt.threads; t++) {
		struct worker *w = &workers[t];
		w->id = (int)t;
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		w->ctx = tls_client_ctx_new();
		w->frame = malloc(sizeof *w->frame);
		w->enc = malloc(PROTO_MAX_FRAME_BYTES);
		w->conns = calloc(ndev / opt.threads + 2, sizeof *w->conns);
		w->dirty = calloc(ndev / opt.threads + 2, sizeof *w->dirty);
		w->pairs = calloc(ndev / 2 / opt.threads + 2, sizeof *w->pairs);
	}
	/* A pair's connections all go to thread (pair number) % threads. */
	for (size_t i = 0; i < ndev; i++) {
		int role = -1;
		size_t unit = pairs ? layout_unit(i, &role) : i;
		struct worker *w = &workers[unit % opt.threads];
		struct dconn *c = &w->conns[w->nconns++];
		c->w = w;
		c->d = &devices[i];
		c->index = (uint32_t)i;
		c->tc.fd = -1;
		if (role == 0) {
			struct pair *p = &w->pairs[w->npairs++];
			p->index = (uint32_t)unit;
			p->s = c;
			p->filler = unit >= opt.pairs;
			c->pair = p;
		} else if (role > 0) {
			struct pair *p = &w->pairs[w->npairs - 1];
			p->r[p->nr++] = c;
			c->pair = p;
			c->offline = p->filler;
		}
	}
}

static void free_workers(void)
{
	for (unsigned t = 0; t < opt.threads; t++) {
		struct worker *w = &workers[t];
		for (size_t i = 0; i < w->nconns; i++)
			if (w->conns[i].tc.state != TC_CLOSED || w->conns[i].tc.fd >= 0)
				tc_close(&w->conns[i].tc);
		for (size_t i = 0; i < w->npairs; i++)
			free(w->pairs[i].frame);
		close(w->epfd);
		SSL_CTX_free(w->ctx);
		free(w->frame);
		free(w->enc);
		free(w->conns);
		free(w->dirty);
		free(w->pairs);
		bench_samples_free(&w->lat);
		bench_samples_free(&w->stored_lat);
	}
	free(workers);
	workers = NULL;
}

static uint64_t sum(size_t off)
{
	uint64_t s = 0;
	for (unsigned t = 0; t < opt.threads; t++)
		s += atomic_load((_Atomic uint64_t *)((char *)&workers[t] + off));
	return s;
}
#define SUM(field) sum(offsetof(struct worker, field))

static void start_threads(void)
{
	for (unsigned t = 0; t < opt.threads; t++)
		pthread_create(&workers[t].th, NULL, worker_main, &workers[t]);
}

static void join_threads(void)
{
	atomic_store(&phase, PH_STOP);
	for (unsigned t = 0; t < opt.threads; t++)
		pthread_join(workers[t].th, NULL);
}

/* Connects every device (registering those not yet registered). Returns seconds taken, or -1
 * when some failed. */
static double connect_all(size_t ndev)
{
	uint64_t t0 = bench_now_ns();
	size_t last = 0;
	uint64_t last_print = t0;
	size_t progress = 0;
	uint64_t progress_at = t0;
	for (;;) {
		size_t done = SUM(ready) + SUM(failed);
		if (done >= ndev)
			break;
		uint64_t now = bench_now_ns();
		if (done != progress) {
			progress = done;
			progress_at = now;
		} else if (now - progress_at > 60000000000ull) {
			/* Bounded: a relay that stops answering ends the run instead of hanging it. */
			fprintf(stderr, "loadgen: no connection progressed for 60 s (%zu of %zu done)\n", done,
				ndev);
			return -1;
		}
		if (now - last_print > 5000000000ull) {
			fprintf(stderr, "loadgen: %zu of %zu connected (%.0f/s)\n", done, ndev,
				(double)(done - last) * 1e9 / (double)(now - last_print));
			last = done;
			last_print = now;
		}
		bench_sleep_ms(10);
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	return SUM(failed) ? -1 : secs;
}

/* Starts the relay measured, in the state directory (its data kept between runs, so registered
 * devices are reused), trusting the benchmark identity provider. Limits: the per-connection
 * request rate is raised so that one benchmark device may send thousands of frames a second (the
 * default 200/s protects against one abusive device, not what is measured here). Connections per
 * address stay at the default: the load generator spreads its connections over many source
 * addresses instead. */
static int start_relay(struct relay_proc *rp)
{
	char extra[1024];
	int n = snprintf(extra, sizeof extra,
			 "[limits]\nrequests_per_second = 1000000\nrequest_burst = 1000000\nsends_per_minute = 1000000\n"
			 "unauth_timeout_ms = 60000\nmailbox_max_envelopes = %u\n"
			 "mailbox_sender_max_envelopes = %u\n"
			 "[idp bench]\nissuer = %s\naudience = %s\njwks_file = %s/idp.jwks.json\n"
			 "algs = ES256\nkind = citizen\nprofile = mitid-broker\n"
			 "[tenant bench]\nname = Benchmark Kommune\ncvr = 29189803\nidps = bench\n",
			 BACKLOG_PER_DEVICE, BACKLOG_PER_DEVICE, BENCH_IDP_ISSUER, BENCH_IDP_AUDIENCE,
			 opt.state);
	if (n <= 0 || (size_t)n >= sizeof extra)
		return -1;
	struct relay_proc_opts o = { .binary = opt.relay_bin, .dir = opt.state,
				     .data_subdir = "relay-data", .log_level = "info",
				     .extra_config = extra, .stop_wait_ms = 30000 };
	return relay_proc_start_opts(rp, &o);
}

/* Relay k (1..) beside the first on the same PostgreSQL database, in STATE/relay-K: the same
 * configuration and the first relay's account-id key (every relay of a database has the same). */
static int start_more_relay(struct relay_proc *rp, const struct relay_proc *first, unsigned k)
{
	char dir[600];
	snprintf(dir, sizeof dir, "%s/relay-%u", opt.state, k + 1);
	mkdir(dir, 0700);
	struct relay_proc_opts o = { .binary = opt.relay_bin, .dir = dir, .data_subdir = "relay-data",
				     .log_level = "info", .stop_wait_ms = 30000,
				     .pg_conninfo = first->pg_conninfo };
	/* The first relay's configuration, which names the idp and tenant: read back from its file. */
	FILE *f = fopen(first->config_path, "r");
	static char conf[4096];
	size_t n = f ? fread(conf, 1, sizeof conf - 1, f) : 0;
	if (f)
		fclose(f);
	conf[n] = '\0';
	/* Only the sections after [relay] (relay_proc writes that one itself), and not the database
	 * lines relay_proc appended (this relay gets the first one's). */
	char *from = strstr(conf, "[limits]"), *db_lines = strstr(conf, "\n# wakks test database");
	if (!db_lines)
		db_lines = strstr(conf, "\n[storage]");
	if (!from)
		return -1;
	if (db_lines)
		*db_lines = '\0';
	o.extra_config = from;
	char cmd[1400];
	if (relay_proc_prepare(rp, &o) != 0 || mkdir(rp->data_dir, 0700) != 0)
		return -1;
	snprintf(cmd, sizeof cmd, "install -m 600 '%s/account-id.key' '%s/account-id.key'",
		 first->data_dir, rp->data_dir);
	if (system(cmd) != 0)
		return -1;
	return relay_proc_restart(rp, false);
}

/* Registers devices [ndevices_saved, ndev) on a relay started for it, saves them. */
static int register_missing(size_t ndev)
{
	if (ndevices_saved >= ndev)
		return 0;
	struct relay_proc rl;
	if (start_relay(&rl) != 0)
		return -1;
	relay_ports[0] = rl.port;
	nports = 1;
	size_t remaining = ndev - ndevices_saved;
	/* Only the new devices connect; registration runs without pairs. */
	struct device *all = devices;
	size_t saved = ndevices_saved;
	atomic_store(&phase, PH_CONNECT);
	setup_workers(remaining, false);
	for (unsigned t = 0; t < opt.threads; t++)
		for (size_t i = 0; i < workers[t].nconns; i++) {
			workers[t].conns[i].d = &all[saved + workers[t].conns[i].index];
			workers[t].conns[i].index += (uint32_t)saved;
		}
	start_threads();
	double secs = connect_all(remaining);
	join_threads();
	free_workers();
	relay_proc_stop(&rl);
	if (secs < 0) {
		fprintf(stderr, "loadgen: registration failed (relay log: %s)\n", rl.log_path);
		return -1;
	}
	printf("registration: %zu devices in %.1f s (%.0f devices/s; OpenID Connect ID token, "
	       "register, durable commit)\n", remaining, secs, (double)remaining / secs);
	fflush(stdout);
	ndevices_saved = ndev;
	if (save_devices(ndev) != 0)
		return -1;
	snapshot_data();
	return 0;
}

static void rusage_self(double *cpu)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	*cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* A counter from the relay's /metrics, or -1. */
static double relay_metric(const struct relay_proc *rl, const char *name)
{
	int status = 0;
	char *body = NULL;
	double v = -1;
	if (admin_get(rl->admin_port, "/metrics", &status, &body) == 0 && status == 200 && body) {
		size_t nl = strlen(name);
		for (const char *l = body; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
			if (strncmp(l, name, nl) == 0 && l[nl] == ' ') {
				v = atof(l + nl + 1);
				break;
			}
	}
	free(body);
	return v;
}

/* Fills the offline devices' mailboxes with opt.backlog envelopes (phase PH_FILL). */
static int fill_backlog(void)
{
	if (!opt.backlog)
		return 0;
	uint64_t t0 = bench_now_ns(), last = t0, progress = 0;
	atomic_store(&phase, PH_FILL);
	for (;;) {
		uint64_t done = SUM(filled), now = bench_now_ns();
		if (done >= opt.backlog)
			break;
		if (done != progress) {
			progress = done;
			last = now;
		} else if (now - last > 30000000000ull) {
			fprintf(stderr, "loadgen: backlog stuck at %llu of %lu envelopes\n",
				(unsigned long long)done, opt.backlog);
			return -1;
		}
		bench_sleep_ms(20);
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	printf("backlog: %lu envelopes stored for %zu offline devices in %.1f s (%.0f/s)\n", opt.backlog,
	       nfillers, secs, (double)opt.backlog / secs);
	fflush(stdout);
	return 0;
}

static int run_throughput(void)
{
	nfillers = (opt.backlog + BACKLOG_PER_DEVICE - 1) / BACKLOG_PER_DEVICE;
	if (nfillers < MIN_FILLERS)
		nfillers = opt.backlog / 1000 < MIN_FILLERS ? (opt.backlog + 999) / 1000 : MIN_FILLERS;
	size_t ndev = layout_devices();
	if (opt.background) {
		long lim = bench_raise_nofile();
		if (lim > 0 && (long)ndev + 64 > lim) {
			fprintf(stderr, "loadgen: file limit %ld is too low for %zu connections\n", lim, ndev);
			return 1;
		}
	}
	load_devices(ndev);
	if (register_missing(ndev) != 0)
		return 1;
	static struct relay_proc rls[MAX_RELAYS];
	struct relay_proc *const rl0 = &rls[0];
	if (start_relay(rl0) != 0)
		return 1;
	relay_ports[0] = rl0->port;
	for (unsigned k = 1; k < opt.relays; k++) {
		if (start_more_relay(&rls[k], rl0, k) != 0) {
			fprintf(stderr, "loadgen: relay %u did not start\n", k + 1);
			for (unsigned j = 0; j < k; j++)
				relay_proc_stop(&rls[j]);
			return 1;
		}
		relay_ports[k] = rls[k].port;
	}
	nports = opt.relays;
	const struct pg_server *db = relay_test_engine_pg() ? pg_test_server() : NULL;
	randombytes_buf(run_nonce, sizeof run_nonce);
	interval_ns = opt.rate > 0 ? (uint64_t)(1e9 * opt.pairs / opt.rate) : 0;
	atomic_store(&phase, PH_CONNECT);
	setup_workers(ndev, true);
	for (unsigned t = 0; t < opt.threads; t++)
		for (size_t i = 0; i < workers[t].npairs; i++) {
			struct pair *p = &workers[t].pairs[i];
			build_template(p);
			if (p->filler)
				p->quota = (opt.backlog + nfillers - 1 - (p->index - opt.pairs)) / nfillers;
		}
	/* The template must be a frame the relay accepts: check it once with the codec. */
	{
		struct pair *p = &workers[0].pairs[0];
		wakks_store_be32(p->frame + p->rid_off, 1);
		if (proto_frame_decode(p->frame, p->frame_len, workers[0].frame) != 0 ||
		    workers[0].frame->body.send.env[0].ciphertext.len != opt.ct_size) {
			fprintf(stderr, "loadgen: send template does not decode\n");
			return 1;
		}
	}
	start_threads();
	if (connect_all(ndev - nfillers) < 0 || fill_backlog() != 0) {
		fprintf(stderr, "loadgen: not every device authenticated, or the backlog was not stored\n");
		join_threads();
		for (unsigned k = 0; k < opt.relays; k++)
			relay_proc_stop(&rls[k]);
		return 1;
	}
	atomic_store(&phase, PH_RUN);
	bench_sleep_ms((int)(opt.warmup * 1000));
	double cpu0 = 0, wait0 = 0, commits0 = 0, requests0 = 0, self0;
	long long disk0 = 0;
	for (unsigned k = 0; k < opt.relays; k++) {
		cpu0 += bench_proc_cpu_seconds(rls[k].pid);
		wait0 += bench_proc_runqueue_seconds(rls[k].pid);
		disk0 += bench_proc_disk_write_bytes(rls[k].pid);
		commits0 += relay_metric(&rls[k], "wakks_store_commits_total");
		requests0 += relay_metric(&rls[k], "wakks_store_requests_total");
	}
	double db_cpu0 = db ? pg_server_cpu_seconds(db) : 0;
	rusage_self(&self0);
	uint64_t t0 = bench_now_ns();
	atomic_store(&phase, PH_MEASURE);
	bench_sleep_ms((int)(opt.duration * 1000));
	atomic_store(&phase, PH_DRAIN);
	uint64_t t1 = bench_now_ns();
	double cpu1 = 0, wait1 = 0, commits1 = 0, requests1 = 0, self1;
	long long disk1 = 0;
	long rss = 0;
	for (unsigned k = 0; k < opt.relays; k++) {
		cpu1 += bench_proc_cpu_seconds(rls[k].pid);
		wait1 += bench_proc_runqueue_seconds(rls[k].pid);
		disk1 += bench_proc_disk_write_bytes(rls[k].pid);
		commits1 += relay_metric(&rls[k], "wakks_store_commits_total");
		requests1 += relay_metric(&rls[k], "wakks_store_requests_total");
		rss += bench_proc_status_kib(rls[k].pid, "VmRSS");
	}
	double db_cpu1 = db ? pg_server_cpu_seconds(db) : 0;
	rusage_self(&self1);
	/* Envelopes through the full cycle; a send counts once all its envelopes have. */
	uint64_t envelopes = SUM(completed), delivered = SUM(delivered), stored = SUM(stored);
	uint64_t completed = envelopes / opt.fanout;
	/* Let what is in flight finish so the mailboxes end empty. */
	for (int i = 0; i < 500; i++) {
		bool idle = true;
		for (unsigned t = 0; t < opt.threads && idle; t++)
			for (size_t k = 0; k < workers[t].npairs && idle; k++) {
				struct pair *p = &workers[t].pairs[k];
				idle = p->filler || p->sent * p->nr == p->completed + p->failed;
			}
		if (idle)
			break;
		bench_sleep_ms(10);
	}
	long hwm = 0;
	for (unsigned k = 0; k < opt.relays; k++)
		hwm += bench_proc_status_kib(rls[k].pid, "VmHWM");
	join_threads();
	struct bench_samples lat = { 0 }, slat = { 0 };
	for (unsigned t = 0; t < opt.threads; t++) {
		bench_samples_merge(&lat, &workers[t].lat);
		bench_samples_merge(&slat, &workers[t].stored_lat);
	}
	bench_samples_sort(&lat);
	bench_samples_sort(&slat);
	double secs = (double)(t1 - t0) / 1e9;
	double rate = (double)completed / secs;
	double cpu_us = completed ? (cpu1 - cpu0) * 1e6 / (double)completed : 0;
	double commits = commits0 >= 0 && commits1 >= 0 ? commits1 - commits0 : 0;
	double per_commit = commits > 0 ? (requests1 - requests0) / commits : 0;
	uint64_t errors = SUM(errors), lost = SUM(lost);
	printf("relay: %u pairs, window %u, %s, %zu-byte ciphertexts, %u thread(s), %.0f s measured "
	       "after %.0f s warm-up\n",
	       opt.pairs, opt.window, opt.rate > 0 ? "target rate" : "flat out", opt.ct_size,
	       opt.threads, secs, opt.warmup);
	if (relay_test_engine_pg())
		printf("  storage         PostgreSQL, %u relay(s) on one database%s\n", opt.relays,
		       opt.relays > 1 ? " (sender and receivers on different relays)" : "");
	if (opt.fanout > 1 || opt.background || opt.backlog)
		printf("  shape           %u recipient device(s) per send, %u idle devices connected, "
		       "%lu envelopes waiting for offline devices\n", opt.fanout, opt.background,
		       opt.backlog);
	if (opt.rate > 0)
		printf("  target          %10.0f msg/s\n", opt.rate);
	printf("  full cycle      %10.0f msg/s  (send, stored, deliver, ack committed)\n", rate);
	if (opt.fanout > 1)
		printf("  envelopes       %10.0f /s through the full cycle\n", (double)envelopes / secs);
	printf("  stored          %10.0f msg/s\n", (double)stored / secs);
	printf("  delivered       %10.0f msg/s\n", (double)delivered / secs);
	printf("  send->deliver   p50 %.3f ms  p99 %.3f ms  p999 %.3f ms  (%zu samples)\n",
	       bench_samples_pct(&lat, 0.5) / 1e3, bench_samples_pct(&lat, 0.99) / 1e3,
	       bench_samples_pct(&lat, 0.999) / 1e3, lat.n);
	printf("  send->stored    p50 %.3f ms  p99 %.3f ms\n", bench_samples_pct(&slat, 0.5) / 1e3,
	       bench_samples_pct(&slat, 0.99) / 1e3);
	printf("  relay CPU       %10.1f us/msg  (%.2f cores)\n", cpu_us, (cpu1 - cpu0) / secs);
	if (db)
		printf("  database CPU    %10.1f us/msg  (%.2f cores; the PostgreSQL server's processes)\n",
		       completed ? (db_cpu1 - db_cpu0) * 1e6 / (double)completed : 0,
		       (db_cpu1 - db_cpu0) / secs);
	if (wait0 >= 0 && wait1 >= 0)
		printf("  relay waiting   %10.2f s per s  (runnable, waiting for a CPU: load from other "
		       "processes)\n", (wait1 - wait0) / secs);
	printf("  load generator  %10.1f us/msg  (%.2f cores)\n",
	       completed ? (self1 - self0) * 1e6 / (double)completed : 0, (self1 - self0) / secs);
	double disk_kib = completed ? (double)(disk1 - disk0) / 1024.0 / (double)completed : 0;
	printf("  relay disk      %10.1f KiB written back per msg  (%.0f MB/s)\n", disk_kib,
	       (double)(disk1 - disk0) / 1e6 / secs);
	printf("  relay commits   %10.0f /s, %.1f write requests each\n", commits / secs, per_commit);
	printf("  relay RSS       %10.1f MiB, peak %.1f MiB (VmHWM)\n", (double)rss / 1024.0,
	       (double)hwm / 1024.0);
	if (errors || lost)
		printf("  errors %llu, connections lost %llu\n", (unsigned long long)errors,
		       (unsigned long long)lost);
	printf("RESULT system=relay mode=%s msgs_per_s=%.0f p50_us=%.0f p99_us=%.0f p999_us=%.0f "
	       "cpu_us_per_msg=%.2f hwm_kib=%ld errors=%llu cpu_wait=%.2f disk_kib_per_msg=%.1f "
	       "fanout=%u envelopes_per_s=%.0f cpu_us_per_env=%.2f background=%u backlog=%lu "
	       "rss_kib=%ld commits_per_s=%.0f requests_per_commit=%.2f relays=%u engine=%s "
	       "db_cpu_us_per_msg=%.2f\n",
	       opt.rate > 0 ? "rate" : "max", rate, bench_samples_pct(&lat, 0.5),
	       bench_samples_pct(&lat, 0.99), bench_samples_pct(&lat, 0.999), cpu_us, hwm,
	       (unsigned long long)(errors + lost), wait0 >= 0 ? (wait1 - wait0) / secs : -1.0, disk_kib,
	       opt.fanout, (double)envelopes / secs,
	       envelopes ? (cpu1 - cpu0) * 1e6 / (double)envelopes : 0, opt.background, opt.backlog, rss,
	       commits / secs, per_commit, opt.relays, relay_test_engine_pg() ? "postgresql" : "lmdb",
	       completed && db ? (db_cpu1 - db_cpu0) * 1e6 / (double)completed : 0);
	fflush(stdout);
	bench_samples_free(&lat);
	bench_samples_free(&slat);
	free_workers();
	for (unsigned k = 0; k < opt.relays; k++)
		relay_proc_stop(&rls[k]);
	return 0;
}

static int run_idle(void)
{
	size_t ndev = opt.idle;
	long lim = bench_raise_nofile();
	if (lim > 0 && (long)ndev + 64 > lim) {
		fprintf(stderr, "loadgen: file limit %ld allows about %ld connections\n", lim, lim - 64);
		ndev = (size_t)(lim - 64);
	}
	load_devices(ndev);
	if (register_missing(ndev) != 0)
		return 1;
	struct relay_proc rl;
	if (start_relay(&rl) != 0)
		return 1;
	relay_ports[0] = rl.port;
	nports = 1;
	bench_sleep_ms(500);
	long rss0 = bench_proc_status_kib(rl.pid, "VmRSS");
	long anon0 = bench_proc_status_kib(rl.pid, "RssAnon");
	atomic_store(&phase, PH_CONNECT);
	setup_workers(ndev, false);
	start_threads();
	double secs = connect_all(ndev);
	uint64_t ready = SUM(ready);
	bench_sleep_ms((int)opt.hold_s * 1000);
	long rss1 = bench_proc_status_kib(rl.pid, "VmRSS");
	long anon1 = bench_proc_status_kib(rl.pid, "RssAnon");
	long hwm = bench_proc_status_kib(rl.pid, "VmHWM");
	uint64_t lost = SUM(lost);
	uint64_t held = ready - lost;
	double per = held ? (double)(rss1 - rss0) / (double)held : 0;
	double per_anon = held ? (double)(anon1 - anon0) / (double)held : 0;
	printf("idle: %llu authenticated TLS WebSocket connections held for %u s (connected in %.1f s)\n",
	       (unsigned long long)held, opt.hold_s, secs < 0 ? 0 : secs);
	printf("  relay RSS       %.1f MiB before, %.1f MiB holding (anonymous %.1f MiB), peak %.1f MiB\n",
	       (double)rss0 / 1024, (double)rss1 / 1024, (double)anon1 / 1024, (double)hwm / 1024);
	printf("  per connection  %.1f KiB of RSS (%.1f KiB anonymous memory; the rest is database pages "
	       "read while authenticating)\n", per, per_anon);
	printf("RESULT system=relay mode=idle connections=%llu kib_per_conn=%.2f anon_kib_per_conn=%.2f "
	       "rss_kib=%ld\n", (unsigned long long)held, per, per_anon, rss1);
	fflush(stdout);
	join_threads();
	free_workers();
	relay_proc_stop(&rl);
	return held == ndev ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: loadgen --relay BINARY --state DIR [options]\n"
		"  --pairs N       sender/receiver device pairs (32)\n"
		"  --window N      messages per pair not yet through the full cycle (16)\n"
		"  --rate R        target messages/s in total (flat out when absent)\n"
		"  --duration S    measured seconds (10), after --warmup S (2)\n"
		"  --size B        ciphertext bytes (1024)\n"
		"  --threads N     load generator threads (1)\n"
		"  --per-addr N    connections per source address (60; the relay allows 64)\n"
		"  --fanout F      recipient devices per send, one account each (1; at most 32)\n"
		"  --background N  N more devices connected and idle during the run (0)\n"
		"  --backlog N     first store N envelopes for devices that stay offline (0)\n"
		"  --idle N        idle mode: hold N authenticated connections, print RSS each\n"
		"  --hold S        idle mode: seconds to hold before measuring (5)\n"
		"  --register N    register devices up to N and exit\n"
		"  --cmid MODE     client message ids: time (time-ordered, as clients make them) or\n"
		"                  random (as clients made them before; for comparison) (time)\n"
		"  --relays N      throughput on N relays sharing one PostgreSQL database (1; more need\n"
		"                  WAKKS_TEST_ENGINE=postgresql)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "relay", 1, 0, 'b' }, { "state", 1, 0, 's' }, { "pairs", 1, 0, 'p' },
		{ "window", 1, 0, 'w' }, { "rate", 1, 0, 'r' }, { "duration", 1, 0, 'd' },
		{ "warmup", 1, 0, 'u' }, { "size", 1, 0, 'z' }, { "threads", 1, 0, 't' },
		{ "per-addr", 1, 0, 'a' }, { "idle", 1, 0, 'i' }, { "hold", 1, 0, 'h' },
		{ "register", 1, 0, 'g' }, { "fanout", 1, 0, 'f' }, { "background", 1, 0, 'k' },
		{ "backlog", 1, 0, 'l' }, { "relays", 1, 0, 'n' }, { "cmid", 1, 0, 'c' },
		{ 0, 0, 0, 0 }
	};
	unsigned reg = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'b': opt.relay_bin = optarg; break;
		case 's': opt.state = optarg; break;
		case 'p': opt.pairs = (unsigned)atoi(optarg); break;
		case 'w': opt.window = (unsigned)atoi(optarg); break;
		case 'r': opt.rate = atof(optarg); break;
		case 'd': opt.duration = atof(optarg); break;
		case 'u': opt.warmup = atof(optarg); break;
		case 'z': opt.ct_size = (size_t)atol(optarg); break;
		case 't': opt.threads = (unsigned)atoi(optarg); break;
		case 'a': opt.per_addr = (unsigned)atoi(optarg); break;
		case 'i': opt.idle = (unsigned)atoi(optarg); break;
		case 'h': opt.hold_s = (unsigned)atoi(optarg); break;
		case 'g': reg = (unsigned)atoi(optarg); break;
		case 'f': opt.fanout = (unsigned)atoi(optarg); break;
		case 'k': opt.background = (unsigned)atoi(optarg); break;
		case 'l': opt.backlog = strtoul(optarg, NULL, 10); break;
		case 'n': opt.relays = (unsigned)atoi(optarg); break;
		case 'c':
			if (strcmp(optarg, "random") != 0 && strcmp(optarg, "time") != 0)
				usage();
			opt.random_cmid = strcmp(optarg, "random") == 0;
			break;
		default: usage();
		}
	}
	if (!opt.relay_bin || !opt.state || !opt.pairs || !opt.window || opt.window > MAX_WINDOW ||
	    !opt.threads || !opt.per_addr || opt.ct_size < 20 || opt.ct_size > 65535 ||
	    !opt.fanout || opt.fanout > MAX_FANOUT ||
	    opt.duration <= 0 || opt.duration > 3600 || !opt.relays || opt.relays > MAX_RELAYS ||
	    (opt.relays > 1 && !relay_test_engine_pg()))
		usage();
	if (sodium_init() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	mkdir(opt.state, 0700);
	idp = bench_idp_open(opt.state);
	if (!idp) {
		fprintf(stderr, "loadgen: cannot create the identity provider key in %s\n", opt.state);
		return 1;
	}
	bench_raise_nofile();
	int rc;
	if (reg) {
		load_devices(reg);
		rc = register_missing(reg) == 0 ? 0 : 1;
	} else if (opt.idle) {
		rc = run_idle();
	} else {
		rc = run_throughput();
	}
	bench_idp_free(idp);
	free(devices);
	return rc;
}
