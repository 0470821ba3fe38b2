/* SPDX-License-Identifier: MPL-2.0 */
/* Opening checks (spec/storage.md §2a): data.mdb is checked against its meta pages before it is
 * mapped, never re-created when empty; the database's id and the account-id key's fingerprint
 * are checked in the opening transaction and a refused open writes nothing. */
#include <fcntl.h>
#include <sys/stat.h>

#include "test.h"
#include "storage_test.h"

static struct t_env e;
static char mdb[700];
static char why[700];

static long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int copy_file(const char *from, const char *to, long len)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	int rc = in && out ? 0 : -1;
	for (long i = 0; rc == 0 && i < len; i++) {
		int c = fgetc(in);
		if (c == EOF || fputc(c, out) == EOF)
			rc = -1;
	}
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		rc = -1;
	return rc;
}

static void file_checked_before_mapping(void)
{
	CHECK_EQ_INT(store_check_file(e.dbpath, why, sizeof why), STORE_ENOTFOUND);
	REQUIRE_OK(t_open(&e));
	CHECK(store_created(e.s));
	t_close(&e);
	CHECK_EQ_INT(store_check_file(e.dbpath, why, sizeof why), 0);
	long size = file_size(mdb);
	REQUIRE(size >= 16384);

	char saved[760];
	snprintf(saved, sizeof saved, "%s.saved", mdb);
	REQUIRE(copy_file(mdb, saved, size) == 0);
	/* Cut to two pages: both meta pages are there, the pages they name are not. */
	REQUIRE(truncate(mdb, 8192) == 0);
	CHECK_EQ_INT(store_check_file(e.dbpath, why, sizeof why), STORE_ECORRUPT);
	CHECK(strstr(why, "is truncated: 8192 bytes"));
	CHECK_EQ_INT(t_open(&e), STORE_ECORRUPT); /* not SIGBUS */
	CHECK_EQ_INT(file_size(mdb), 8192);
	/* Empty: refused, not initialised. */
	REQUIRE(truncate(mdb, 0) == 0);
	CHECK_EQ_INT(store_check_file(e.dbpath, why, sizeof why), STORE_ECORRUPT);
	CHECK(strstr(why, "is empty"));
	CHECK_EQ_INT(t_open(&e), STORE_ECORRUPT);
	CHECK_EQ_INT(file_size(mdb), 0);
	/* Not an LMDB file. */
	FILE *f = fopen(mdb, "wb");
	REQUIRE(f);
	for (int i = 0; i < 8192; i++)
		fputc('x', f);
	fclose(f);
	CHECK_EQ_INT(store_check_file(e.dbpath, why, sizeof why), STORE_ECORRUPT);
	CHECK(strstr(why, "is not an LMDB database"));
	REQUIRE(rename(saved, mdb) == 0);
	REQUIRE_OK(t_open(&e));
	CHECK(!store_created(e.s));
	t_close(&e);
}

static void database_id_checked(void)
{
	uint8_t id[STORE_DB_ID_BYTES], again[STORE_DB_ID_BYTES], other[STORE_DB_ID_BYTES] = { 1 };
	REQUIRE_OK(t_open(&e));
	store_db_id(e.s, id);
	t_close(&e);
	e.cfg.expect_db_id = id;
	REQUIRE_OK(t_open(&e));
	store_db_id(e.s, again);
	CHECK_MEM(id, again, sizeof id);
	t_close(&e);
	e.cfg.expect_db_id = other;
	CHECK_EQ_INT(t_open(&e), STORE_EIDENTITY);
	e.cfg.expect_db_id = NULL;
}

static void key_fingerprint_recorded_then_checked(void)
{
	uint8_t a[STORE_KEY_FP_BYTES], b[STORE_KEY_FP_BYTES];
	memset(a, 0xaa, sizeof a);
	memset(b, 0xbb, sizeof b);
	e.cfg.account_key_fp = a;
	REQUIRE_OK(t_open(&e)); /* records a */
	t_close(&e);
	e.cfg.account_key_fp = b;
	CHECK_EQ_INT(t_open(&e), STORE_EKEY);
	e.cfg.account_key_new = true; /* b was just made: the database's own key was lost */
	CHECK_EQ_INT(t_open(&e), STORE_ENOKEY);
	e.cfg.account_key_new = false;
	e.cfg.account_key_fp = a;
	REQUIRE_OK(t_open(&e));
	t_close(&e);
	e.cfg.account_key_fp = NULL;
}

int main(void)
{
	if (t_setup(&e) != 0)
		return 1;
	snprintf(mdb, sizeof mdb, "%s/data.mdb", e.dbpath);
	RUN(file_checked_before_mapping);
	RUN(database_id_checked);
	RUN(key_fingerprint_recorded_then_checked);
	t_teardown(&e);
	return TEST_RESULT();
}
