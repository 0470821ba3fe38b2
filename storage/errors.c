/* SPDX-License-Identifier: MPL-2.0 */
/* Error names and the mapping of LMDB and errno codes onto them. */
#include <errno.h>

#include <lmdb.h>

#include "store_internal.h"

const char *store_strerror(int err)
{
	if (err == 0)
		return "success";
	switch (err) {
#define STORE__ERRNO_TEXT(name, code, text) \
	case STORE_##name:                  \
		return text;
		STORE_ERRNO_MAP(STORE__ERRNO_TEXT)
#undef STORE__ERRNO_TEXT
	default:
		return "unknown storage error";
	}
}

int store__err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return STORE_ENOTFOUND;
	case MDB_KEYEXIST:
		return STORE_EEXIST;
	case MDB_MAP_FULL:
		return STORE__EMAPFULL;
	case MDB_TXN_FULL:
		return STORE__ETXNFULL;
	case ENOSPC:
	case EDQUOT:
	case EFBIG: /* the file may not grow (the file size limit): as full as a full disk */
		return STORE_EFULL;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return STORE_ECORRUPT;
	case MDB_PANIC:
	case EIO:
		return STORE_EIO;
	case MDB_READERS_FULL:
	case MDB_MAP_RESIZED:
	case EBUSY:
	case EAGAIN:
		return STORE_EBUSY;
	case ENOMEM:
		return STORE_ENOMEM;
	case EACCES:
	case EPERM:
	case EROFS:
		return STORE_EACCES;
	case EEXIST:
		return STORE_EEXIST;
	case ENOENT:
	case ENOTDIR:
		return STORE_ENOTFOUND;
	case EINVAL:
		return STORE_EINVAL;
	default:
		return STORE_EINTERNAL;
	}
}
