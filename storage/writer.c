/* SPDX-License-Identifier: MPL-2.0 */
/* The writer thread: takes queued requests, applies each in a child transaction of one parent
 * write transaction, commits the parent synchronously (group commit), and hands the finished
 * requests back to the loop through uv_async. */
#include <stdlib.h>
#include <time.h>

#include "store_internal.h"

struct batch_totals {
	uint64_t stored, deleted, expired;
};

uint64_t store__mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static unsigned hist_bucket(size_t n)
{
	unsigned b = 0;
	while (n > 1 && b < STORE_BATCH_HIST_BUCKETS - 1) {
		n >>= 1;
		b++;
	}
	return b;
}

/* One attempt at committing the batch. Returns 0 (each request's result set), or a batch-wide
 * error: STORE__EMAPFULL / STORE__ETXNFULL (caller grows or splits and retries) or another code
 * (the parent transaction could not be begun or committed). */
static int commit_batch(struct store *s, struct store_req **reqs, size_t n, uint64_t *commit_us,
			struct batch_totals *tot)
{
	MDB_txn *parent, *child;
	if (s->unmapped)
		return STORE_EIO;
	int rc = store__err(mdb_txn_begin(s->env, NULL, 0, &parent));
	if (rc)
		return rc;
	uint64_t now = store__now_ms(s);
	struct batch_totals t = {0, 0, 0};
	for (size_t i = 0; i < n; i++) {
		struct store_req *req = reqs[i];
		rc = store__err(mdb_txn_begin(s->env, parent, 0, &child));
		if (rc)
			goto abort;
		struct store__wtxn w = {.store = s, .txn = child, .now_ms = now, .req = req};
		req->has_failed_device = false;
		rc = store__req_apply(&w);
		if (rc == 0) {
			rc = store__err(mdb_txn_commit(child));
			if (rc)
				goto abort; /* the parent's state is unknown now: retry or fail all */
			t.stored += w.envelopes_stored;
			t.deleted += w.envelopes_deleted;
			t.expired += w.envelopes_expired;
		} else {
			mdb_txn_abort(child);
			if (rc == STORE__EMAPFULL || rc == STORE__ETXNFULL)
				goto abort;
		}
		req->result = rc;
	}
	uint64_t t0 = store__mono_us();
	rc = store__commit_err(s, mdb_txn_commit(parent));
	if (rc)
		return rc;
	*commit_us = store__mono_us() - t0;
	*tot = t;
	return 0;
abort:
	mdb_txn_abort(parent);
	return rc;
}

/* The same bounds as the relay's other latency histograms (0.5 ms to 10 s). */
const uint64_t store_commit_hist_bounds_us[STORE_COMMIT_HIST_BUCKETS - 1] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,
	5000000, 10000000
};

static size_t commit_bucket(uint64_t us)
{
	size_t i = 0;
	while (i < STORE_COMMIT_HIST_BUCKETS - 1 && us > store_commit_hist_bounds_us[i])
		i++;
	return i;
}

static void fail_all(struct store_req **reqs, size_t n, int rc)
{
	for (size_t i = 0; i < n; i++)
		reqs[i]->result = rc;
}

void store__stats_batch(struct store *s, size_t n, uint64_t commit_us, uint64_t stored,
			uint64_t deleted, uint64_t expired)
{
	pthread_mutex_lock(&s->lock);
	s->stats.batches++;
	s->stats.last_batch_size = n;
	if (n > s->stats.max_batch_size)
		s->stats.max_batch_size = n;
	s->stats.batch_hist[hist_bucket(n)]++;
	s->stats.last_commit_us = commit_us;
	s->stats.total_commit_us += commit_us;
	s->stats.commit_hist[commit_bucket(commit_us)]++;
	s->stats.envelopes_stored += stored;
	s->stats.envelopes_deleted += deleted;
	s->stats.envelopes_expired += expired;
	pthread_mutex_unlock(&s->lock);
}

static void run_batch(struct store *s, struct store_req **reqs, size_t n)
{
	if (s->pg) {
		pg__run_batch(s, reqs, n);
		return;
	}
	for (;;) {
		uint64_t commit_us = 0;
		struct batch_totals tot;
		int rc = commit_batch(s, reqs, n, &commit_us, &tot);
		if (rc == 0) {
			store__stats_batch(s, n, commit_us, tot.stored, tot.deleted, tot.expired);
			store__pc_after_commit(s);
			return;
		}
		if (rc == STORE__EMAPFULL && store__grow_map(s) == 0)
			continue;
		if ((rc == STORE__EMAPFULL || rc == STORE__ETXNFULL) && n > 1) {
			/* Perhaps only some requests are too big: give each its own chance. */
			for (size_t i = 0; i < n; i++)
				run_batch(s, &reqs[i], 1);
			return;
		}
		if (rc == STORE_EFULL) {
			/* Not the map (that is STORE__EMAPFULL here): the file system said so. */
			pthread_mutex_lock(&s->lock);
			s->stats.disk_full_errors += n;
			pthread_mutex_unlock(&s->lock);
		}
		if (rc == STORE__EMAPFULL)
			rc = STORE_EFULL;
		else if (rc == STORE__ETXNFULL)
			rc = STORE_ELIMIT;
		fail_all(reqs, n, rc);
		return;
	}
}

static void post_completions(struct store *s, struct store_req **reqs, size_t n)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		struct store_req *req = reqs[i];
		req->next = NULL;
		if (s->done_tail)
			s->done_tail->next = req;
		else
			s->done_head = req;
		s->done_tail = req;
		s->stats.requests++;
		if (req->result != 0)
			s->stats.requests_failed++;
		if (req->result == STORE_EFULL)
			s->stats.full_errors++;
	}
	pthread_mutex_unlock(&s->lock);
	uv_async_send(&s->async);
}

static void *writer_main(void *arg)
{
	struct store *s = arg;
	for (;;) {
		size_t n = 0;
		pthread_mutex_lock(&s->lock);
		while (!s->stopping && (!s->queue_head || s->paused))
			pthread_cond_wait(&s->cond, &s->lock);
		while (s->queue_head && n < s->cfg.max_batch) {
			struct store_req *req = s->queue_head;
			s->queue_head = req->next;
			if (!s->queue_head)
				s->queue_tail = NULL;
			s->batch[n++] = req;
		}
		pthread_mutex_unlock(&s->lock);
		if (n == 0)
			break; /* stopping and drained */
		run_batch(s, s->batch, n);
		post_completions(s, s->batch, n);
	}
	return NULL;
}

int store__writer_start(struct store *s)
{
	s->batch = calloc(s->cfg.max_batch, sizeof *s->batch);
	if (!s->batch)
		return STORE_ENOMEM;
	if (pthread_create(&s->writer, NULL, writer_main, s) != 0)
		return STORE_ENOMEM;
	s->writer_started = true;
	return 0;
}

void store__writer_stop(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	s->paused = false;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->writer_started)
		pthread_join(s->writer, NULL);
	s->writer_started = false;
}

int store__queue_push(struct store *s, struct store_req *req)
{
	pthread_mutex_lock(&s->lock);
	if (s->stopping) {
		pthread_mutex_unlock(&s->lock);
		return STORE_ECLOSED;
	}
	req->next = NULL;
	if (s->queue_tail)
		s->queue_tail->next = req;
	else
		s->queue_head = req;
	s->queue_tail = req;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void store__run_completions(struct store *s)
{
	for (;;) {
		pthread_mutex_lock(&s->lock);
		struct store_req *req = s->done_head;
		s->done_head = s->done_tail = NULL;
		pthread_mutex_unlock(&s->lock);
		if (!req)
			return;
		while (req) {
			struct store_req *next = req->next;
			req->cb(req, req->result, req->data);
			store__req_destroy(req);
			req = next;
		}
	}
}

void store__async_cb(uv_async_t *handle)
{
	store__run_completions(handle->data);
}
