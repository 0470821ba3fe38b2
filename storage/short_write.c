/* SPDX-License-Identifier: MPL-2.0 */
/* What a failed commit's EIO was. LMDB reports a write that the kernel carried out only in part
 * as EIO ("short write, filesystem full?"), not as the errno the rest of the write would have
 * met: a commit whose coalesced pages run into the end of the disk's free space, the quota or
 * the file size limit fails with EIO, not ENOSPC, EDQUOT or EFBIG. The rest of the write is
 * asked again here, with one page of zeros where LMDB's next page would have gone: the first
 * hole of data.mdb beyond LMDB's last page, which holds zeros that nothing reads
 * (spec/storage.md §2b). The errno of that write is the answer. A write that succeeds means the
 * EIO was something else (or space came back meanwhile): then it stays an I/O error. */
#include <errno.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "store_internal.h"

/* Writes len zero bytes at off. 0, or the errno that stopped it. */
static int write_zeros(int fd, const char *zeros, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, zeros, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			return ENOSPC; /* no progress: nothing more fits */
		zeros += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* The errno of writing one page at the first hole beyond LMDB's last page, or EIO when that
 * cannot be asked. Inside a write transaction: another process that opens the environment (the
 * backup command) appends only inside one, so the file's end stays where it was read. */
static int probe(struct store *s)
{
	MDB_txn *txn;
	if (s->unmapped || mdb_txn_begin(s->env, NULL, 0, &txn) != 0)
		return EIO; /* also after a failed meta-page write: LMDB refuses every transaction */
	int rc = EIO, fd;
	MDB_envinfo info;
	MDB_stat st;
	char *zeros = NULL;
	if (mdb_env_get_fd(s->env, &fd) != 0 || mdb_env_info(s->env, &info) != 0 ||
	    mdb_env_stat(s->env, &st) != 0)
		goto out;
	off_t end = (off_t)(info.me_last_pgno + 1) * st.ms_psize;
	off_t hole = lseek(fd, end, SEEK_HOLE);
	if (hole < 0 && errno == ENXIO)
		hole = end; /* the file ends at LMDB's last page: LMDB appends at its end */
	if (hole < 0 || (uint64_t)hole + st.ms_psize > info.me_mapsize)
		goto out; /* the file never grows beyond the map */
	/* The file size limit is read, not met: meeting it raises SIGXFSZ, whose default action
	 * ends the process, and the library does not choose the process's signal handling. */
	struct rlimit lim;
	if (getrlimit(RLIMIT_FSIZE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY &&
	    (uint64_t)hole + st.ms_psize > (uint64_t)lim.rlim_cur) {
		rc = EFBIG;
		goto out;
	}
	zeros = calloc(1, st.ms_psize);
	if (!zeros)
		goto out;
	rc = write_zeros(fd, zeros, st.ms_psize, hole);
	if (rc == 0)
		rc = EIO;
out:
	free(zeros);
	mdb_txn_abort(txn);
	return rc;
}

int store__commit_err(struct store *s, int rc)
{
	return store__err(rc == EIO ? probe(s) : rc);
}
