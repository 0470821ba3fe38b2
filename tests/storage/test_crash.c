/* SPDX-License-Identifier: MPL-2.0 */
/* Crash consistency: a child process stores envelopes and acks some, reporting each completed
 * (durable) write on a pipe; the parent kills it with SIGKILL at a random moment, reopens the
 * environment and checks that every reported store is there and every reported ack took effect,
 * and that the mailbox counters match the mailbox. Each store request also appends an audit entry,
 * so after every crash the log has exactly one entry per committed send, chained without a gap.
 * Repeated over many cycles on one environment. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "test.h"
#include "storage_test.h"

#define CYCLES 24
#define SENDS_PER_CYCLE 1500 /* bounds the database size when commits are fast */
#define IN_FLIGHT 16
#define MAX_SEQ (CYCLES * SENDS_PER_CYCLE + 16)

struct child {
	struct store *s;
	int fd;
	unsigned next_msg, last_msg;
	unsigned in_flight;
};

struct child_req {
	struct child *c;
	unsigned msg;
	bool ack;
	uint64_t seq;
};

static void child_submit(struct child *c);

/* Audit entries: seq u64 || prev_hash || input || hash, hash = a toy 32-byte FNV-1a (the store
 * does not interpret entries; the chain links are what is checked). */
static void toy_hash(const uint8_t *p, size_t n, uint8_t out[STORE_AUDIT_HASH_BYTES])
{
	for (int lane = 0; lane < 4; lane++) {
		uint64_t h = 0xcbf29ce484222325ull + (uint64_t)lane;
		for (size_t i = 0; i < n; i++)
			h = (h ^ p[i]) * 0x100000001b3ull;
		memcpy(out + 8 * lane, &h, 8);
	}
}

static int audit_build(uint64_t prev_seq, const uint8_t prev_hash[STORE_AUDIT_HASH_BYTES],
		       const void *input, size_t input_len, uint8_t *out, size_t out_cap,
		       size_t *out_len, uint8_t out_hash[STORE_AUDIT_HASH_BYTES])
{
	size_t n = 8 + STORE_AUDIT_HASH_BYTES + input_len;
	if (n + STORE_AUDIT_HASH_BYTES > out_cap)
		return -1;
	for (int i = 7; i >= 0; i--)
		out[7 - i] = (uint8_t)((prev_seq + 1) >> (8 * i));
	memcpy(out + 8, prev_hash, STORE_AUDIT_HASH_BYTES);
	memcpy(out + 8 + STORE_AUDIT_HASH_BYTES, input, input_len);
	toy_hash(out, n, out_hash);
	memcpy(out + n, out_hash, STORE_AUDIT_HASH_BYTES);
	*out_len = n + STORE_AUDIT_HASH_BYTES;
	return 0;
}

static void report(struct child *c, const char *line)
{
	size_t len = strlen(line);
	if (write(c->fd, line, len) != (ssize_t)len)
		_exit(3);
}

static void child_done(struct store_req *req, int result, void *data)
{
	struct child_req *cr = data;
	struct child *c = cr->c;
	char line[96];
	if (result != 0)
		_exit(4);
	if (cr->ack) {
		const struct store_delete_result *dr = store_req_delete_result(req, 0);
		if (!dr || !dr->found)
			_exit(5);
		snprintf(line, sizeof line, "A %llu\n", (unsigned long long)cr->seq);
		report(c, line);
	} else {
		const struct store_send_result *sr = store_req_send_result(req, 0);
		if (!sr || sr->duplicate || sr->n != 2)
			_exit(6);
		snprintf(line, sizeof line, "S %u %llu %llu\n", cr->msg,
			 (unsigned long long)sr->seqs[0].seq, (unsigned long long)sr->seqs[1].seq);
		report(c, line);
		/* ack every third message on device 1 right away */
		if (cr->msg % 3 == 0) {
			struct child_req *ar = calloc(1, sizeof *ar);
			ar->c = c;
			ar->ack = true;
			ar->seq = sr->seqs[0].seq;
			struct store_req *a = store_req_new(c->s, child_done, ar);
			uint8_t d1[STORE_ID_BYTES];
			t_id(d1, 'D', 1);
			if (store_req_delete_envelope(a, d1, ar->seq) != 0 || store_submit(a) != 0)
				_exit(7);
			c->in_flight++;
		}
	}
	free(cr);
	c->in_flight--;
	child_submit(c);
}

static void child_submit(struct child *c)
{
	while (c->in_flight < IN_FLIGHT && c->next_msg < c->last_msg) {
		unsigned msg = c->next_msg++;
		char payload[32];
		snprintf(payload, sizeof payload, "payload-%u", msg);
		struct store_recipient r[2] = {
			{.payload = (const uint8_t *)payload, .payload_len = strlen(payload), .expires_at_ms = UINT64_MAX},
			{.payload = (const uint8_t *)payload, .payload_len = strlen(payload), .expires_at_ms = UINT64_MAX},
		};
		t_id(r[0].device_id, 'D', 1);
		t_id(r[1].device_id, 'D', 2);
		struct store_send snd = {.kind = STORE_KIND_ENVELOPE, .recipients = r, .n_recipients = 2};
		t_id(snd.sender_account, 'A', 1);
		t_id(snd.sender_device, 'D', 3);
		t_id(snd.message_id, 'M', msg);
		struct child_req *cr = calloc(1, sizeof *cr);
		cr->c = c;
		cr->msg = msg;
		struct store_req *req = store_req_new(c->s, child_done, cr);
		if (store_req_store_envelopes(req, &snd) != 0 ||
		    store_req_audit_append(req, audit_build, &msg, sizeof msg) != 1 ||
		    store_submit(req) != 0)
			_exit(8);
		c->in_flight++;
	}
}

static void run_child(const struct store_config *cfg, int fd, unsigned cycle)
{
	uv_loop_t loop;
	struct child c = {.fd = fd, .next_msg = 1 + cycle * SENDS_PER_CYCLE,
			  .last_msg = 1 + (cycle + 1) * SENDS_PER_CYCLE};
	uv_loop_init(&loop);
	if (store_open(&c.s, &loop, cfg) != 0)
		_exit(2);
	child_submit(&c);
	uv_run(&loop, UV_RUN_DEFAULT); /* the async handle keeps it running until the kill */
	_exit(0);
}

/* What the parent knows was durable. */
static unsigned stored_msg[2][MAX_SEQ]; /* [device-1][seq] -> message number, 0 = none */
static bool acked[MAX_SEQ];             /* device 1 */

static void parse_line(char *line)
{
	unsigned msg;
	unsigned long long s1, s2;
	if (sscanf(line, "S %u %llu %llu", &msg, &s1, &s2) == 3) {
		CHECK(s1 < MAX_SEQ && s2 < MAX_SEQ);
		if (s1 < MAX_SEQ && s2 < MAX_SEQ) {
			stored_msg[0][s1] = msg;
			stored_msg[1][s2] = msg;
		}
	} else if (sscanf(line, "A %llu", &s1) == 1) {
		CHECK(s1 < MAX_SEQ);
		if (s1 < MAX_SEQ)
			acked[s1] = true;
	} else {
		CHECK(!"unparsable report");
	}
}

struct seen {
	unsigned msg_at[MAX_SEQ];
	size_t n;
};

static int seen_cb(const struct store_envelope *env, void *data)
{
	struct seen *s = data;
	unsigned msg = wakks_load_be32(env->ref.message_id + 12);
	if (env->ref.seq < MAX_SEQ)
		s->msg_at[env->ref.seq] = msg;
	s->n++;
	return 0;
}

struct chain {
	uint64_t prev_seq;
	uint8_t prev_hash[STORE_AUDIT_HASH_BYTES];
	bool broken;
};

static int chain_cb(uint64_t seq, const uint8_t *entry, size_t len, void *data)
{
	struct chain *c = data;
	uint8_t h[STORE_AUDIT_HASH_BYTES];
	const size_t hb = STORE_AUDIT_HASH_BYTES;
	if (seq != c->prev_seq + 1 || len < 8 + 2 * hb ||
	    memcmp(entry + 8, c->prev_hash, hb) != 0) {
		c->broken = true;
		return 1;
	}
	toy_hash(entry, len - hb, h);
	if (memcmp(h, entry + len - hb, hb) != 0) {
		c->broken = true;
		return 1;
	}
	c->prev_seq = seq;
	memcpy(c->prev_hash, entry + len - hb, hb);
	return 0;
}

/* One audit entry per committed send: as many as device 2 (never acked) was given seqs. */
static void verify_audit(struct t_env *e)
{
	struct chain c;
	struct store_device d2;
	uint8_t id[STORE_ID_BYTES], head_hash[STORE_AUDIT_HASH_BYTES];
	uint64_t head;
	memset(&c, 0, sizeof c);
	t_id(id, 'D', 2);
	CHECK_EQ_INT(store_get_device(e->s, id, &d2), 0);
	CHECK(store_audit_iter(e->s, 1, SIZE_MAX, chain_cb, &c) >= 0);
	CHECK(!c.broken);
	CHECK_EQ_INT(store_audit_head(e->s, &head, head_hash), 0);
	CHECK_EQ_INT(head, c.prev_seq);
	CHECK_MEM(head_hash, c.prev_hash, STORE_AUDIT_HASH_BYTES);
	CHECK_EQ_INT(head, d2.next_seq - 1);
}

static void verify(struct t_env *e, unsigned *reported)
{
	static struct seen seen[2];
	REQUIRE_OK(t_open(e));
	for (unsigned d = 0; d < 2; d++) {
		uint8_t id[STORE_ID_BYTES];
		uint64_t count, bytes;
		t_id(id, 'D', d + 1);
		memset(&seen[d], 0, sizeof seen[d]);
		int n = store_mailbox_iter(e->s, id, 0, MAX_SEQ, seen_cb, &seen[d]);
		CHECK(n >= 0);
		CHECK_EQ_INT(store_mailbox_depth(e->s, id, &count, &bytes), 0);
		CHECK_EQ_INT(count, seen[d].n);
		for (unsigned seq = 1; seq < MAX_SEQ; seq++) {
			unsigned want = stored_msg[d][seq];
			if (!want)
				continue;
			if (d == 0 && acked[seq]) {
				CHECK_EQ_INT(seen[d].msg_at[seq], 0); /* an acked envelope never returns */
			} else if (d == 0 && want % 3 == 0) {
				/* its ack was submitted, unreported: either state is allowed */
				CHECK(seen[d].msg_at[seq] == 0 || seen[d].msg_at[seq] == want);
			} else {
				CHECK_EQ_INT(seen[d].msg_at[seq], want);
			}
			(*reported)++;
		}
	}
	verify_audit(e);
	t_close(e);
}

static void test_sigkill_loses_no_acknowledged_write(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	e.cfg.map_size_initial = 1u << 20; /* growth happens during the cycles, too */
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN), 0);
	for (unsigned d = 1; d <= 3; d++)
		CHECK_EQ_INT(t_put_device(&e, 1, d), 0);
	t_close(&e);

	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	fprintf(stderr, "crash test seed %u\n", seed);
	srand(seed);
	unsigned total_reports = 0, checked = 0;
	for (unsigned cycle = 0; cycle < CYCLES; cycle++) {
		int fds[2];
		REQUIRE_OK(pipe(fds));
		pid_t pid = fork();
		REQUIRE(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			run_child(&e.cfg, fds[1], cycle);
		}
		close(fds[1]);
		int kill_after_ms = 20 + rand() % 250;
		struct timespec t0, now;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		char buf[8192];
		size_t have = 0;
		bool killed = false;
		for (;;) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			long elapsed = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
			if (!killed && elapsed >= kill_after_ms) {
				kill(pid, SIGKILL);
				killed = true;
			}
			struct pollfd p = {.fd = fds[0], .events = POLLIN};
			int pr = poll(&p, 1, killed ? 1000 : (int)(kill_after_ms - elapsed));
			if (pr < 0 && errno == EINTR)
				continue;
			if (pr == 0)
				continue;
			ssize_t got = read(fds[0], buf + have, sizeof buf - 1 - have);
			if (got <= 0)
				break; /* EOF: the child is gone */
			have += (size_t)got;
			buf[have] = 0;
			char *start = buf, *nl;
			while ((nl = strchr(start, '\n')) != NULL) {
				*nl = 0;
				parse_line(start);
				total_reports++;
				start = nl + 1;
			}
			have = strlen(start);
			memmove(buf, start, have);
		}
		close(fds[0]);
		int status;
		waitpid(pid, &status, 0);
		/* killed by us, not an earlier failure exit */
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		checked = 0;
		verify(&e, &checked);
	}
	fprintf(stderr, "crash test: %u reports, %u envelopes checked at the end\n", total_reports, checked);
	CHECK(total_reports > 0);
	t_teardown(&e);
}

int main(void)
{
	RUN(test_sigkill_loses_no_acknowledged_write);
	return TEST_RESULT();
}
