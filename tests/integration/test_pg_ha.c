/* SPDX-License-Identifier: MPL-2.0 */
/* Several relays on one PostgreSQL, and PostgreSQL's fail-over under them (issue 24): real relay
 * processes, real PostgreSQL servers (tests/support/pg_server), real TLS WebSockets.
 *
 * three_relays_survive_kill9: anna's and bo's devices are spread over three relays sharing one
 * database, every send crossing relays (each reaches the other account's devices and the
 * sender's own others). Under that load one relay after the other is killed with SIGKILL and
 * restarted, 20 times; its devices reconnect to another relay. Every envelope whose `stored`
 * reached its sender is delivered to every one of its devices; none is delivered again after its
 * `ack` was answered `ok`; none is stored twice.
 *
 * failover_loses_nothing_stored: two relays on a primary with a synchronous standby, through a
 * multi-host connection string asking for the writable server. Under load the primary dies
 * (every process SIGKILLed); a second later the test promotes the standby, as Patroni would.
 * Devices retry what was not answered `stored` with the same cmid. Nothing answered `stored` is
 * lost, nothing is stored twice (a retried cmid never becomes a second envelope), and the relays
 * carry on: they store and deliver on the promoted server without a restart. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pg_server.h"
#include "relay_proc.h"
#include "tclient.h"
#include "test.h"

#define KILL_CYCLES 20
/* Per test; the cmid sets are sized for it. */
#define MAX_MSGS 6000
#define SET_CAP 16384 /* a power of two, over twice MAX_MSGS */
/* The devices send as fast as the relays answer: the per-device send budget must not be what
 * stops them. */
#define LIMITS "[limits]\nsends_per_minute = 1000000\n"

/* ---- cmid sets: cmid -> the seq it was delivered with ---- */

struct idset {
	uint8_t (*key)[16];
	uint64_t *val;
	bool *used;
	size_t n;
};

static void set_init(struct idset *s)
{
	s->key = calloc(SET_CAP, 16);
	s->val = calloc(SET_CAP, sizeof *s->val);
	s->used = calloc(SET_CAP, sizeof *s->used);
	s->n = 0;
}

static void set_free(struct idset *s)
{
	free(s->key);
	free(s->val);
	free(s->used);
}

static size_t slot(const struct idset *s, const uint8_t id[16])
{
	uint64_t h;
	memcpy(&h, id, 8); /* cmids are random */
	size_t i = (size_t)h & (SET_CAP - 1);
	while (s->used[i] && memcmp(s->key[i], id, 16) != 0)
		i = (i + 1) & (SET_CAP - 1);
	return i;
}

static uint64_t *set_get(const struct idset *s, const uint8_t id[16])
{
	size_t i = slot(s, id);
	return s->used[i] ? &s->val[i] : NULL;
}

static void set_put(struct idset *s, const uint8_t id[16], uint64_t v)
{
	size_t i = slot(s, id);
	if (!s->used[i] && s->n >= SET_CAP / 2)
		return; /* full: MAX_MSGS keeps this from happening */
	if (!s->used[i])
		s->n++;
	s->used[i] = true;
	memcpy(s->key[i], id, 16);
	s->val[i] = v;
}

/* ---- Devices and what they saw ---- */

struct dev {
	struct tdev t;
	int relay;           /* which relay it is connected to */
	bool up;             /* connected and authenticated */
	struct idset delivered;
	struct idset acked;
	uint8_t pending[16]; /* a cmid not yet answered `stored`, retried as is */
	bool has_pending;
};

struct world {
	struct relay_proc *relays;
	int n_relays;
	struct dev *devs;
	int n_devs;
	/* cmids answered `stored`, with the sender's index */
	uint8_t stored[MAX_MSGS][16];
	int sender[MAX_MSGS];
	size_t n_stored;
	int redelivered_after_ack;
	int stored_twice; /* a cmid delivered to one device under two seqs */
};

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool alive(const struct relay_proc *p)
{
	int status;
	return p->pid > 0 && waitpid(p->pid, &status, WNOHANG) == 0;
}

/* A relay on conninfo. Relays sharing a database share its account-id key: the first one makes
 * it, the others get a copy (as an operator installs the same key file on every relay). */
static int start_relay(struct relay_proc *p, const char *conninfo, const struct relay_proc *first)
{
	struct relay_proc_opts o = { .dev = true, .extra_config = LIMITS, .pg_conninfo = conninfo };
	if (!first)
		return relay_proc_start_opts(p, &o);
	if (relay_proc_prepare(p, &o) != 0 || mkdir(p->data_dir, 0700) != 0)
		return -1;
	char cmd[900];
	snprintf(cmd, sizeof cmd, "install -m 600 '%s/account-id.key' '%s/account-id.key'",
		 first->data_dir, p->data_dir);
	if (system(cmd) != 0)
		return -1;
	return relay_proc_restart(p, true);
}

/* Connects d to its relay, else to the next one that lets it in. */
static int connect_dev(struct world *w, struct dev *d)
{
	for (int k = 0; k < w->n_relays; k++) {
		int r = (d->relay + k) % w->n_relays;
		if (!alive(&w->relays[r]))
			continue;
		d->t.port = w->relays[r].port;
		if (tdev_login(&d->t) == 0) {
			d->relay = r;
			d->up = true;
			return 0;
		}
		tdev_disconnect(&d->t);
	}
	d->up = false;
	return -1;
}

/* Reads the deliveries that arrived (waiting up to timeout_ms for each) and acks them. */
static void drain(struct world *w, struct dev *d, int timeout_ms)
{
	while (d->up) {
		int t = tdev_wait(&d->t, PROTO_T_DELIVER, timeout_ms);
		if (t != PROTO_T_DELIVER) {
			if (t < 0)
				d->up = false;
			return;
		}
		uint8_t cmid[16];
		uint64_t seq = d->t.frame.body.deliver.seq;
		memcpy(cmid, d->t.frame.body.deliver.cmid, 16);
		if (set_get(&d->acked, cmid))
			w->redelivered_after_ack++;
		uint64_t *seen = set_get(&d->delivered, cmid);
		if (seen && *seen != seq)
			w->stored_twice++;
		if (!seen)
			set_put(&d->delivered, cmid, seq);
		int r = tdev_ack(&d->t, seq);
		if (r == PROTO_T_OK)
			set_put(&d->acked, cmid, seq);
		else if (r < 0)
			d->up = false;
	}
}

/* One send from device i to every other device (the other account's and its own account's
 * others), of its pending cmid or a new one. Returns 1 when stored, 0 when refused (the cmid
 * stays pending), -1 when the connection failed (the device is down). */
static int send_one(struct world *w, int i)
{
	struct dev *d = &w->devs[i];
	if (!d->has_pending) {
		randombytes_buf(d->pending, 16);
		d->has_pending = true;
	}
	uint8_t to[1][16], devs[8][16];
	size_t n = 0;
	for (int j = 0; j < w->n_devs; j++) {
		if (j == i)
			continue;
		memcpy(devs[n++], w->devs[j].t.device_id, 16);
		if (memcmp(w->devs[j].t.account_id, d->t.account_id, 16) != 0)
			memcpy(to[0], w->devs[j].t.account_id, 16);
	}
	int r = tdev_send(&d->t, d->pending, (const uint8_t(*)[16])to, 1, NULL, NULL,
			  (const uint8_t(*)[16])devs, n, d->pending, 16, false);
	if (r == PROTO_T_STORED) {
		if (memcmp(d->t.frame.body.stored.cmid, d->pending, 16) != 0)
			return 0;
		if (w->n_stored < MAX_MSGS) {
			memcpy(w->stored[w->n_stored], d->pending, 16);
			w->sender[w->n_stored++] = i;
		}
		d->has_pending = false;
		return 1;
	}
	if (r < 0) {
		d->up = false;
		return -1;
	}
	return 0;
}

/* Every device drains until nothing arrived anywhere for quiet_ms. */
static void final_drain(struct world *w, int quiet_ms)
{
	for (int round = 0; round < 50; round++) {
		size_t before = 0, after = 0;
		for (int i = 0; i < w->n_devs; i++)
			before += w->devs[i].delivered.n + w->devs[i].acked.n;
		for (int i = 0; i < w->n_devs; i++) {
			if (!w->devs[i].up)
				connect_dev(w, &w->devs[i]);
			drain(w, &w->devs[i], quiet_ms / w->n_devs);
		}
		for (int i = 0; i < w->n_devs; i++)
			after += w->devs[i].delivered.n + w->devs[i].acked.n;
		if (after == before)
			return;
	}
}

/* Every stored cmid reached each of its devices. Returns the number of misses. */
static size_t missing_deliveries(const struct world *w)
{
	size_t missing = 0;
	for (size_t k = 0; k < w->n_stored; k++)
		for (int j = 0; j < w->n_devs; j++)
			if (j != w->sender[k] && !set_get(&w->devs[j].delivered, w->stored[k]))
				missing++;
	return missing;
}

/* anna's devices and bo's, alternating, device i first on relay i % n_relays. */
static int people(struct world *w)
{
	for (int i = 0; i < w->n_devs; i++) {
		struct dev *d = &w->devs[i];
		memset(d, 0, sizeof *d);
		d->relay = i % w->n_relays;
		tdev_init(&d->t, w->relays[d->relay].port);
		set_init(&d->delivered);
		set_init(&d->acked);
		if (tdev_register(&d->t, "dev-mitid", i % 2 ? "bo" : "anna", 1) != 0)
			return -1;
		d->up = true;
	}
	/* Registered: from now on a device logs in wherever it connects. Everyone reconnects so
	 * that every relay sees the final device sets from the start. */
	for (int i = 0; i < w->n_devs; i++)
		if (connect_dev(w, &w->devs[i]) != 0)
			return -1;
	return 0;
}

static void people_free(struct world *w)
{
	for (int i = 0; i < w->n_devs; i++) {
		tdev_free(&w->devs[i].t);
		set_free(&w->devs[i].delivered);
		set_free(&w->devs[i].acked);
	}
}

/* ---- Three relays, kill -9 ---- */

struct killer {
	pid_t pid;
	int delay_ms;
	volatile bool done;
};

static void *kill_later(void *p)
{
	struct killer *k = p;
	msleep(k->delay_ms);
	kill(k->pid, SIGKILL);
	k->done = true;
	return NULL;
}

static void three_relays_survive_kill9(void)
{
	static struct world w;
	static struct relay_proc relays[3];
	static struct dev devs[6];
	memset(&w, 0, sizeof w);
	w.relays = relays;
	w.n_relays = 3;
	w.devs = devs;
	w.n_devs = 6;
	char conninfo[600], db[64];
	REQUIRE(pg_test_create_db(conninfo, sizeof conninfo, db, sizeof db) == 0);
	REQUIRE(start_relay(&relays[0], conninfo, NULL) == 0);
	REQUIRE(start_relay(&relays[1], conninfo, &relays[0]) == 0);
	REQUIRE(start_relay(&relays[2], conninfo, &relays[0]) == 0);
	REQUIRE(people(&w) == 0);

	size_t stored_before_kill[KILL_CYCLES];
	int refused = 0;
	for (int cycle = 0; cycle < KILL_CYCLES; cycle++) {
		struct relay_proc *victim = &relays[cycle % 3];
		struct killer k = { victim->pid, 50 + (int)randombytes_uniform(400), false };
		pthread_t th;
		pthread_create(&th, NULL, kill_later, &k);
		/* Load until the kill, and a little after: the survivors keep answering. */
		int after_kill = 0;
		long long start = now_ms();
		while (w.n_stored + 8 < MAX_MSGS && now_ms() - start < 5000 && after_kill < 12) {
			for (int i = 0; i < w.n_devs; i++) {
				if (!w.devs[i].up)
					continue;
				if (send_one(&w, i) == 0)
					refused++;
				drain(&w, &w.devs[i], 0);
			}
			if (k.done)
				after_kill++;
		}
		pthread_join(th, NULL);
		stored_before_kill[cycle] = w.n_stored;
		relay_proc_kill(victim);
		if (relay_proc_restart(victim, true) != 0) {
			CHECK(!"a killed relay restarts on the shared database");
			break;
		}
		/* Its devices (noticed or not yet) move on to another relay. */
		for (int i = 0; i < w.n_devs; i++) {
			struct dev *d = &w.devs[i];
			if (&relays[d->relay] == victim || !d->up) {
				tdev_disconnect(&d->t);
				d->relay = (d->relay + 1 + (int)randombytes_uniform(2)) % 3;
				if (connect_dev(&w, d) != 0)
					CHECK(!"a device reconnects to a relay");
			}
		}
	}
	final_drain(&w, 3000);
	size_t delivered = 0;
	for (int i = 0; i < w.n_devs; i++)
		delivered += w.devs[i].delivered.n;
	fprintf(stderr, "  %zu stored, %zu deliveries over %d kills, %d sends refused\n",
		w.n_stored, delivered, KILL_CYCLES, refused);
	/* Load ran through every cycle, not only before the first kill. */
	CHECK(w.n_stored > stored_before_kill[0] + 10 * KILL_CYCLES);
	CHECK_EQ_INT(refused, 0);
	CHECK_EQ_INT(missing_deliveries(&w), 0);
	CHECK_EQ_INT(w.redelivered_after_ack, 0);
	CHECK_EQ_INT(w.stored_twice, 0);
	for (int r = 0; r < 3; r++) {
		CHECK(alive(&relays[r]));
		CHECK_EQ_INT(relay_proc_stop(&relays[r]), 0);
		relay_proc_cleanup(&relays[r]);
	}
	people_free(&w);
	pg_test_drop_db(db);
}

/* ---- Fail-over ---- */

struct failover {
	struct pg_server *primary, *standby;
	int delay_ms;
	volatile bool killed, promoted;
	int promote_rc;
};

static void *fail_over(void *p)
{
	struct failover *f = p;
	msleep(f->delay_ms);
	pg_server_kill(f->primary);
	f->killed = true;
	/* Patroni's leader lease would expire first; the relays meanwhile find no writable server. */
	msleep(1000);
	f->promote_rc = pg_server_promote(f->standby);
	f->promoted = true;
	return NULL;
}

static void failover_loses_nothing_stored(void)
{
	static struct world w;
	static struct relay_proc relays[2];
	static struct dev devs[4];
	memset(&w, 0, sizeof w);
	w.relays = relays;
	w.n_relays = 2;
	w.devs = devs;
	w.n_devs = 4;
	struct pg_server primary, standby;
	REQUIRE(pg_server_start(&primary) == 0);
	REQUIRE(pg_server_exec(&primary, NULL, "CREATE DATABASE wakks_ha") == 0);
	REQUIRE(pg_server_start_standby(&standby, &primary) == 0);
	char conninfo[400];
	snprintf(conninfo, sizeof conninfo,
		 "host=127.0.0.1,127.0.0.1 port=%d,%d user=postgres dbname=wakks_ha "
		 "target_session_attrs=read-write connect_timeout=3", primary.port, standby.port);
	REQUIRE(start_relay(&relays[0], conninfo, NULL) == 0);
	REQUIRE(start_relay(&relays[1], conninfo, &relays[0]) == 0);
	REQUIRE(people(&w) == 0);

	struct failover f = { &primary, &standby, 500 + (int)randombytes_uniform(1000), false, false, 0 };
	pthread_t th;
	pthread_create(&th, NULL, fail_over, &f);
	size_t stored_at_kill = 0, stored_at_promotion = 0;
	int reconnects = 0;
	long long start = now_ms();
	/* Load before, during and after the fail-over, until enough was stored on the new primary
	 * through both relays. */
	while (w.n_stored + 8 < MAX_MSGS && now_ms() - start < 45000) {
		if (f.killed && !stored_at_kill)
			stored_at_kill = w.n_stored ? w.n_stored : 1;
		if (f.promoted && !stored_at_promotion)
			stored_at_promotion = w.n_stored ? w.n_stored : 1;
		if (stored_at_promotion && w.n_stored > stored_at_promotion + 100)
			break;
		bool any = false;
		for (int i = 0; i < w.n_devs; i++) {
			struct dev *d = &w.devs[i];
			if (!d->up) {
				reconnects++;
				if (connect_dev(&w, d) != 0)
					continue;
			}
			any = true;
			if (send_one(&w, i) == 0)
				msleep(50); /* unavailable: retried with the same cmid */
			drain(&w, d, 0);
		}
		if (!any)
			msleep(100);
	}
	pthread_join(th, NULL);
	CHECK_EQ_INT(f.promote_rc, 0);
	/* What was still pending is retried to the end: every send is eventually stored once. */
	for (int i = 0; i < w.n_devs; i++)
		for (int tries = 0; w.devs[i].has_pending && tries < 100; tries++) {
			if (!w.devs[i].up && connect_dev(&w, &w.devs[i]) != 0) {
				msleep(100);
				continue;
			}
			if (send_one(&w, i) == 0)
				msleep(100);
		}
	final_drain(&w, 3000);
	fprintf(stderr, "  %zu stored (%zu before the kill, %zu before the promotion), "
			"%d reconnects\n", w.n_stored, stored_at_kill, stored_at_promotion, reconnects);
	CHECK(stored_at_kill > 10);
	CHECK(w.n_stored > stored_at_promotion + 100);
	for (int i = 0; i < w.n_devs; i++)
		CHECK(!w.devs[i].has_pending);
	CHECK_EQ_INT(missing_deliveries(&w), 0);
	CHECK_EQ_INT(w.redelivered_after_ack, 0);
	CHECK_EQ_INT(w.stored_twice, 0);
	/* The relays carried on: never restarted, still running. */
	for (int r = 0; r < 2; r++) {
		CHECK(alive(&relays[r]));
		CHECK_EQ_INT(relay_proc_stop(&relays[r]), 0);
		relay_proc_cleanup(&relays[r]);
	}
	people_free(&w);
	pg_server_cleanup(&standby);
	pg_server_cleanup(&primary);
}

int main(void)
{
	/* Inherently about PostgreSQL: whatever the registration, the relays store there. */
	setenv("WAKKS_TEST_ENGINE", "postgresql", 1);
	if (sodium_init() < 0)
		return 1;
	RUN(three_relays_survive_kill9);
	RUN(failover_loses_nothing_stored);
	return TEST_RESULT();
}
