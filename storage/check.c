/* SPDX-License-Identifier: MPL-2.0 */
/* The data file checked against its meta pages before LMDB maps it. LMDB trusts the file: a
 * truncated data.mdb is mapped past its end and the first read of a missing page kills the
 * process with SIGBUS. The layout read here is LMDB's on-disk format (lmdb/mdb.c, MDB_meta) for
 * a 64-bit build, the only one we ship. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"

#define MDB_MAGIC 0xBEEFC0DEu
#define MDB_DATA_VERSION 1u
#define MDB_PAGE_HEADER 16u   /* pgno, pad, flags, lower, upper */
#define MDB_P_META 0x08u
/* Offsets inside a meta page: the header, then MDB_meta. */
#define OFF_FLAGS 10u
#define OFF_MAGIC (MDB_PAGE_HEADER + 0u)
#define OFF_VERSION (MDB_PAGE_HEADER + 4u)
#define OFF_PSIZE (MDB_PAGE_HEADER + 24u)   /* mm_dbs[FREE_DBI].md_pad holds the page size */
#define OFF_LAST_PG (MDB_PAGE_HEADER + 120u)
#define OFF_TXNID (MDB_PAGE_HEADER + 128u)
#define META_BYTES (OFF_TXNID + 8u)
#define MIN_PAGE 512u
#define MAX_PAGE 65536u

_Static_assert(sizeof(size_t) == 8, "the meta page offsets are those of a 64-bit LMDB");

struct meta {
	uint32_t psize;
	uint64_t last_pg;
	uint64_t txnid;
};

static uint32_t le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static uint16_t le16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static int say(char *why, size_t why_len, int rc, const char *fmt, ...)
{
	if (why && why_len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Reads and checks the meta page at offset off; 0 or -1. */
static int read_meta(int fd, off_t off, struct meta *m)
{
	uint8_t b[META_BYTES];
	if (pread(fd, b, sizeof b, off) != (ssize_t)sizeof b)
		return -1;
	if (!(le16(b + OFF_FLAGS) & MDB_P_META) || le32(b + OFF_MAGIC) != MDB_MAGIC ||
	    le32(b + OFF_VERSION) != MDB_DATA_VERSION)
		return -1;
	m->psize = le32(b + OFF_PSIZE);
	m->last_pg = le64(b + OFF_LAST_PG);
	m->txnid = le64(b + OFF_TXNID);
	return 0;
}

int store_check_file(const char *dir, char *why, size_t why_len)
{
	char path[4096];
	struct stat st;
	if (!dir || (size_t)snprintf(path, sizeof path, "%s/data.mdb", dir) >= sizeof path)
		return STORE_EINVAL;
	if (stat(dir, &st) != 0)
		return errno == ENOENT ? STORE_ENOTFOUND
				       : say(why, why_len, store__err(errno), "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return say(why, why_len, STORE_ECORRUPT, "%s is not a directory", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? STORE_ENOTFOUND
				       : say(why, why_len, errno == ELOOP ? STORE_ECORRUPT : store__err(errno),
					     "%s: %s", path, strerror(errno));
	int rc = 0;
	struct meta m0, m1;
	/* Two short reads: no read-ahead, which would leave large folios in the page cache
	 * (page_cache.c). */
	posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
	if (fstat(fd, &st) != 0) {
		rc = say(why, why_len, STORE_EIO, "%s: %s", path, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		rc = say(why, why_len, STORE_ECORRUPT, "%s is not a regular file", path);
	} else if (st.st_size == 0) {
		rc = say(why, why_len, STORE_ECORRUPT, "%s is empty (0 bytes)", path);
	} else if (read_meta(fd, 0, &m0) != 0 || m0.psize < MIN_PAGE || m0.psize > MAX_PAGE ||
		   (m0.psize & (m0.psize - 1)) != 0) {
		rc = say(why, why_len, STORE_ECORRUPT, "%s is not an LMDB database of this version",
			 path);
	} else if ((uint64_t)st.st_size < 2u * (uint64_t)m0.psize || read_meta(fd, m0.psize, &m1) != 0 ||
		   m1.psize != m0.psize) {
		rc = say(why, why_len, STORE_ECORRUPT, "%s is truncated or damaged: its second meta page is missing",
			 path);
	} else {
		const struct meta *newest = m1.txnid > m0.txnid ? &m1 : &m0;
		uint64_t need = (newest->last_pg + 1) * (uint64_t)newest->psize;
		if (newest->last_pg >= ((uint64_t)1 << 40) || (uint64_t)st.st_size < need)
			rc = say(why, why_len, STORE_ECORRUPT,
				 "%s is truncated: %llu bytes, its meta page needs %llu", path,
				 (unsigned long long)st.st_size, (unsigned long long)need);
	}
	close(fd);
	return rc;
}
