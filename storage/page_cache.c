/* SPDX-License-Identifier: MPL-2.0 */
/* data.mdb's page cache at page granularity, so that a commit rewriting one 4 KiB page writes
 * back 4 KiB (spec/storage.md §2b).
 *
 * Why: LMDB writes its dirty pages with pwrite/pwritev, coalescing neighbours. A write of several
 * pages to a range the page cache does not hold makes the kernel (ext4 and XFS on current
 * kernels) create one large folio of 16-64 KiB for it; when a later commit rewrites one 4 KiB
 * page of that range the whole folio is dirtied and written back (4-16x the bytes). Pages brought
 * into the cache by a fault through a mapping with MADV_RANDOM are single pages, and a write into
 * cached pages creates nothing new. So:
 *   - at open, before LMDB's map is used, the file's clean cached pages are dropped (a previous
 *     process, or LMDB's own read of its meta pages, may have left large folios);
 *   - the used part of the file is read back through a private read-only MAP_SHARED mapping with
 *     MADV_RANDOM + MADV_POPULATE_READ, on a short-lived thread, because for a big file this
 *     reads all of it and start-up must not wait for that; until it is through, LMDB's own faults
 *     (MDB_NORDAHEAD maps with MADV_RANDOM) bring single pages anyway;
 *   - LMDB appends new pages at the end of the file, coalesced: the file is kept a sparse,
 *     populated headroom longer than LMDB's last page (ftruncate, never beyond the map size), so
 *     that the appends land on single cached zero pages. The writer extends it after a commit
 *     when the last page comes near the prepared end.
 * Everything is best effort: if a step fails (or the kernel lacks MADV_POPULATE_READ, before
 * Linux 5.14) only the write amplification changes, never what is stored. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif

/* The headroom kept beyond the last page: the file is extended to last page + HEADROOM when less
 * than half of it is left. Its zero pages cost page cache (reclaimable), no disk blocks. */
#define HEADROOM ((uint64_t)16 << 20)
/* The populating mapping covers this much at a time: bounded address space, and the warm-up
 * thread sees a stop request between chunks. */
#define CHUNK ((uint64_t)8 << 20)

/* Brings [off, end) of the file into the page cache as single pages. 0 or -errno; stop, when
 * non-NULL and set, ends early with 0. */
static int populate(int fd, uint64_t off, uint64_t end, const bool *stop)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	off &= ~(pg - 1);
	while (off < end) {
		if (stop && __atomic_load_n(stop, __ATOMIC_RELAXED))
			return 0;
		size_t len = (size_t)(end - off < CHUNK ? end - off : CHUNK);
		void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)off);
		if (m == MAP_FAILED)
			return -errno;
		int rc = 0;
		if (madvise(m, len, MADV_RANDOM) != 0 || madvise(m, len, MADV_POPULATE_READ) != 0)
			rc = -errno;
		munmap(m, len);
		if (rc)
			return rc;
		off += len;
	}
	return 0;
}

static void set_failed(struct store *s)
{
	__atomic_store_n(&s->pc.mode, STORE__PC_FAILED, __ATOMIC_RELAXED);
}

/* LMDB's used part of the file: up to and with its last page. */
static int used_end(struct store *s, uint64_t *end)
{
	MDB_envinfo info;
	if (mdb_env_info(s->env, &info) != 0)
		return -1;
	*end = ((uint64_t)info.me_last_pgno + 1) * s->pc.psize;
	return 0;
}

/* Extends the file to used + HEADROOM (at most the map size) and, if populate_now, populates what
 * was added (at open the warm-up thread does). The length changes only inside a write
 * transaction: LMDB's writer lock is held across processes, so no other process (a backup
 * command's open) extends or appends between fstat and ftruncate, and a shorter ftruncate can
 * never cut what another writer appended. No transaction of this thread may be active. */
static void extend(struct store *s, uint64_t used, bool populate_now)
{
	uint64_t target = used + HEADROOM;
	target = (target + CHUNK - 1) & ~(CHUNK - 1);
	if (target > s->map_size)
		target = s->map_size;
	MDB_txn *txn;
	if (mdb_txn_begin(s->env, NULL, 0, &txn) != 0)
		return; /* e.g. another process grew the map: the next commit tries again */
	struct stat st;
	uint64_t from = 0;
	int rc = fstat(s->pc.fd, &st);
	if (rc == 0) {
		from = (uint64_t)st.st_size;
		if (from < target)
			rc = ftruncate(s->pc.fd, (off_t)target);
	}
	mdb_txn_abort(txn);
	if (rc != 0) {
		set_failed(s);
		return;
	}
	if (from >= target) {
		s->pc.prepared_end = from;
		return;
	}
	s->pc.prepared_end = target;
	if (populate_now && populate(s->pc.fd, from, target, NULL) != 0)
		set_failed(s);
}

/* How far from the start of the file read-ahead of LMDB's reads of its meta pages can reach
 * (Linux's default read-ahead is 128 KiB). */
#define HEADER_READAHEAD ((uint64_t)1 << 20)

void store__pc_drop(struct store *s)
{
	int fd;
	struct stat st;
	if (s->cfg.page_cache_off || mdb_env_get_fd(s->env, &fd) != 0 || fstat(fd, &st) != 0)
		return;
	/* Right after mdb_env_open, not before: LMDB reads its meta pages with pread, whose
	 * read-ahead brings the next pages in as large folios; its map is not touched yet (no
	 * transaction has begun). A folio still being read is locked and would be skipped: a fault
	 * on it waits for the read, so the start of the file is populated once first. Only clean
	 * pages that no process maps go. */
	uint64_t head = (uint64_t)st.st_size < HEADER_READAHEAD ? (uint64_t)st.st_size : HEADER_READAHEAD;
	populate(fd, 0, head, NULL);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

static void *warm_main(void *arg)
{
	struct store *s = arg;
	/* The tail first: LMDB's appends go there. */
	if (populate(s->pc.fd, s->pc.warm_used, s->pc.warm_end, &s->pc.warm_stop) != 0 ||
	    populate(s->pc.fd, 0, s->pc.warm_head, &s->pc.warm_stop) != 0)
		set_failed(s);
	return NULL;
}

void store__pc_start(struct store *s)
{
	MDB_stat ms;
	uint64_t used;
	if (s->cfg.page_cache_off) {
		s->pc.mode = STORE__PC_OFF;
		return;
	}
	if (mdb_env_get_fd(s->env, &s->pc.fd) != 0 || mdb_env_stat(s->env, &ms) != 0) {
		s->pc.mode = STORE__PC_FAILED;
		return;
	}
	s->pc.psize = ms.ms_psize;
	/* The first page tells whether the kernel can populate a mapping (EINVAL before 5.14). */
	int rc = populate(s->pc.fd, 0, s->pc.psize, NULL);
	if (rc != 0 || used_end(s, &used) != 0) {
		s->pc.mode = rc == -EINVAL ? STORE__PC_UNSUPPORTED : STORE__PC_FAILED;
		return;
	}
	s->pc.mode = STORE__PC_ON;
	extend(s, used, false);
	s->pc.warm_used = used;
	s->pc.warm_end = s->pc.prepared_end > used ? s->pc.prepared_end : used;
	/* A file larger than half the memory would only push itself (and everything else) out of
	 * the cache again: its start is populated, the rest comes in single pages as LMDB reads it. */
	long pages = sysconf(_SC_PHYS_PAGES), pagesize = sysconf(_SC_PAGESIZE);
	uint64_t half = pages > 0 && pagesize > 0 ? (uint64_t)pages * (uint64_t)pagesize / 2 : used;
	s->pc.warm_head = used < half ? used : half & ~(s->pc.psize - 1);
	if (pthread_create(&s->pc.warm, NULL, warm_main, s) == 0)
		s->pc.warm_started = true;
	else
		set_failed(s);
}

void store__pc_after_commit(struct store *s)
{
	uint64_t used;
	if (__atomic_load_n(&s->pc.mode, __ATOMIC_RELAXED) != STORE__PC_ON || s->unmapped ||
	    s->pc.prepared_end >= s->map_size || used_end(s, &used) != 0)
		return;
	if (used + HEADROOM / 2 > s->pc.prepared_end)
		extend(s, used, true);
}

void store__pc_stop(struct store *s)
{
	if (!s->pc.warm_started)
		return;
	__atomic_store_n(&s->pc.warm_stop, true, __ATOMIC_RELAXED);
	pthread_join(s->pc.warm, NULL);
	s->pc.warm_started = false;
}

const char *store_page_cache_mode(const struct store *s)
{
	if (!s || s->pg)
		return "none";
	switch (__atomic_load_n(&s->pc.mode, __ATOMIC_RELAXED)) {
	case STORE__PC_ON:
		return "single-pages";
	case STORE__PC_UNSUPPORTED:
		return "unsupported";
	case STORE__PC_FAILED:
		return "failed";
	default:
		return "off";
	}
}

#ifdef WAKKS_TEST_HOOKS
void store_test_page_cache_wait(struct store *s)
{
	if (s->pc.warm_started)
		pthread_join(s->pc.warm, NULL);
	s->pc.warm_started = false;
}
#endif
