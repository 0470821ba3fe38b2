/* SPDX-License-Identifier: MPL-2.0 */
/* data.mdb's page cache at page granularity (spec/storage.md §2b, storage/page_cache.c): a
 * commit that rewrites a few pages makes the kernel write back those pages, not the large folios
 * LMDB's coalesced appends would otherwise have left in the cache; and the sparse headroom
 * beyond LMDB's last page changes nothing that is read, survives reopening, passes the file
 * check and stays out of backups.
 *
 * The write-back test measures this process's write_bytes (/proc/self/io: bytes of page cache
 * the process dirtied, counted per folio) against wchar (the bytes LMDB handed to pwrite). On a
 * kernel whose page cache keeps large folios for the file system (ext4 and XFS on current
 * kernels) it fails without the page-cache module; on one without large folios it passes either
 * way. */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "test.h"
#include "storage_test.h"

#define ACCOUNTS 12000u
#define UPDATES 150u

static int read_io(uint64_t *wchar, uint64_t *write_bytes)
{
	FILE *f = fopen("/proc/self/io", "r");
	if (!f)
		return -1;
	char line[128];
	int found = 0;
	while (fgets(line, sizeof line, f)) {
		unsigned long long v;
		if (sscanf(line, "wchar: %llu", &v) == 1) {
			*wchar = v;
			found |= 1;
		} else if (sscanf(line, "write_bytes: %llu", &v) == 1) {
			*write_bytes = v;
			found |= 2;
		}
	}
	fclose(f);
	return found == 3 ? 0 : -1;
}

static void account(struct store_account *a, unsigned n, uint64_t created)
{
	memset(a, 0, sizeof *a);
	t_id(a->id, 'A', n);
	a->kind = STORE_ACCOUNT_CITIZEN;
	strcpy(a->tenant, "varde");
	a->created_ms = created;
}

/* Puts accounts [first, first + n) with created_ms = base + number, in group commits of up to
 * 256 requests (the writer paused while they queue): LMDB appends the new pages in long
 * coalesced writes. */
static int put_accounts(struct t_env *e, unsigned first, unsigned n, uint64_t base)
{
	static struct t_res res[256];
	for (unsigned done = 0; done < n;) {
		unsigned k = n - done < 256 ? n - done : 256;
		store_test_pause_writer(e->s, true);
		for (unsigned i = 0; i < k; i++) {
			struct store_account a;
			unsigned num = first + done + i;
			account(&a, num, base + num);
			memset(&res[i], 0, sizeof res[i]);
			struct store_req *req = store_req_new(e->s, t_cb, &res[i]);
			if (!req || store_req_put_account(req, &a) < 0 || store_submit(req) != 0)
				return -1;
		}
		store_test_pause_writer(e->s, false);
		t_wait_all(e, res, k);
		for (unsigned i = 0; i < k; i++)
			if (res[i].result != 0)
				return res[i].result;
		done += k;
	}
	return 0;
}

/* Every account in [first, first + n) reads back with created_ms = base + number. */
static bool accounts_read_back(struct t_env *e, unsigned first, unsigned n, uint64_t base)
{
	for (unsigned i = first; i < first + n; i++) {
		struct store_account want, got;
		account(&want, i, base + i);
		if (store_get_account(e->s, want.id, &got) != 0 || got.created_ms != want.created_ms ||
		    memcmp(got.id, want.id, STORE_ID_BYTES) != 0)
			return false;
	}
	return true;
}

static struct stat file_stat(const struct t_env *e)
{
	char path[700];
	struct stat st;
	memset(&st, 0, sizeof st);
	snprintf(path, sizeof path, "%s/data.mdb", e->dbpath);
	stat(path, &st);
	return st;
}

/* Builds a database by appends, reopens it, then commits single updates spread over it. Returns
 * write_bytes / (the pages LMDB wrote), or a negative value if the run failed. */
static double amplification(bool page_cache_off)
{
	struct t_env e;
	if (t_setup(&e) != 0)
		return -1;
	e.cfg.map_size_initial = 64u << 20;
	e.cfg.page_cache_off = page_cache_off;
	double ratio = -1;
	if (t_open(&e) != 0 || put_accounts(&e, 0, ACCOUNTS, 1000) != 0)
		goto out;
	t_close(&e);
	/* The cache still holds what the appends left; a new process (or this reopen) starts from
	 * it. */
	if (t_open(&e) != 0)
		goto out;
	CHECK_EQ_INT(strcmp(store_page_cache_mode(e.s), page_cache_off ? "off" : "single-pages"), 0);
	store_test_page_cache_wait(e.s);
	uint64_t w0, b0, w1, b1;
	if (read_io(&w0, &b0) != 0)
		goto out;
	/* Each update its own commit (a commit syncs), on accounts spread over the whole tree. */
	for (unsigned i = 0; i < UPDATES; i++) {
		struct t_res res = {0};
		struct store_account a;
		unsigned num = (i * 7919u) % ACCOUNTS;
		account(&a, num, 5000000 + num);
		struct store_req *req = store_req_new(e.s, t_cb, &res);
		if (!req || store_req_put_account(req, &a) < 0 || t_run(&e, req, &res) != 0)
			goto out;
	}
	if (read_io(&w1, &b1) != 0)
		goto out;
	/* What LMDB wrote, in pages: its page writes, plus per commit the meta page it updates
	 * with a short write. */
	double pages = (double)(w1 - w0) / 4096.0 + UPDATES;
	ratio = (double)(b1 - b0) / 4096.0 / pages;
	fprintf(stderr, "  page cache %s: %u commits, LMDB wrote %.0f pages (%" PRIu64
		" bytes), written back %" PRIu64 " bytes: %.2fx\n",
		page_cache_off ? "off" : "on", UPDATES, pages, w1 - w0, b1 - b0, ratio);
out:
	t_teardown(&e);
	return ratio;
}

static void single_updates_write_back_single_pages(void)
{
	/* Without the module, for comparison (not asserted: it depends on the kernel). */
	double off = amplification(true);
	double on = amplification(false);
	CHECK(off >= 0);
	REQUIRE(on >= 0);
	CHECK(on <= 1.5);
}

static void sparse_headroom_changes_nothing_read(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	e.cfg.map_size_initial = 64u << 20;
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(put_accounts(&e, 0, 2000, 1000));
	struct store_stats stats;
	store_get_stats(e.s, &stats);
	struct stat st = file_stat(&e);
	/* Longer than LMDB's last page, by headroom that holds no disk blocks. */
	CHECK((uint64_t)st.st_size >= stats.map_used + (8u << 20));
	CHECK((uint64_t)st.st_size <= stats.map_size);
	CHECK((uint64_t)st.st_blocks * 512u < (uint64_t)st.st_size / 2);
	CHECK(accounts_read_back(&e, 0, 2000, 1000));
	t_close(&e);

	char why[700];
	CHECK_EQ_INT(store_check_file(e.dbpath, why, sizeof why), 0);
	off_t before = st.st_size;
	REQUIRE_OK(t_open(&e));
	store_test_page_cache_wait(e.s);
	st = file_stat(&e);
	CHECK(st.st_size >= before);
	CHECK(accounts_read_back(&e, 0, 2000, 1000));
	/* New pages appended into the headroom read back too, after another reopen. */
	REQUIRE_OK(put_accounts(&e, 2000, 2000, 7000));
	t_close(&e);
	CHECK_EQ_INT(store_check_file(e.dbpath, why, sizeof why), 0);
	REQUIRE_OK(t_open(&e));
	CHECK(accounts_read_back(&e, 0, 2000, 1000));
	CHECK(accounts_read_back(&e, 2000, 2000, 7000));

	/* A backup copies LMDB's pages, not the sparse tail; opening the copy as an offline command
	 * does leaves its length alone. */
	char bdir[700], copy[720];
	snprintf(bdir, sizeof bdir, "%s/backup", e.dir);
	REQUIRE_OK(store_backup(e.s, bdir));
	store_get_stats(e.s, &stats);
	snprintf(copy, sizeof copy, "%s/data.mdb", bdir);
	struct stat cst;
	REQUIRE(stat(copy, &cst) == 0);
	st = file_stat(&e);
	CHECK((uint64_t)cst.st_size <= stats.map_used);
	CHECK(cst.st_size < st.st_size);
	t_close(&e);
	e.cfg.path = bdir;
	e.cfg.page_cache_off = true;
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(strcmp(store_page_cache_mode(e.s), "off"), 0);
	CHECK(accounts_read_back(&e, 0, 2000, 1000));
	CHECK(accounts_read_back(&e, 2000, 2000, 7000));
	t_close(&e);
	struct stat cst2;
	CHECK(stat(copy, &cst2) == 0 && cst2.st_size == cst.st_size);
	t_teardown(&e);
}

/* The headroom follows the map: never beyond its size, extended as the map grows. */
static void headroom_never_beyond_map(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e)); /* a 1 MiB map that doubles */
	REQUIRE_OK(t_open(&e));
	uint64_t grew_to = 0;
	for (unsigned round = 0; round < 8; round++) {
		REQUIRE_OK(put_accounts(&e, round * 2000, 2000, 1000));
		struct store_stats stats;
		store_get_stats(e.s, &stats);
		struct stat st = file_stat(&e);
		CHECK((uint64_t)st.st_size <= stats.map_size);
		CHECK((uint64_t)st.st_size >= stats.map_used);
		grew_to = stats.map_size;
	}
	CHECK(grew_to > (1u << 20));
	CHECK(accounts_read_back(&e, 0, 16000, 1000));
	t_teardown(&e);
}

int main(void)
{
	RUN(single_updates_write_back_single_pages);
	RUN(sparse_headroom_changes_nothing_read);
	RUN(headroom_never_beyond_map);
	return TEST_RESULT();
}
