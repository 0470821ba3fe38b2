/* SPDX-License-Identifier: MPL-2.0 */
/* The relay's account-id key file: 32 random bytes, mode 0600, created once. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "identity_internal.h"

static int read_key(int fd, uint8_t key[ID_HASH_KEY_BYTES])
{
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0077) != 0 ||
	    st.st_uid != geteuid() || st.st_size != ID_HASH_KEY_BYTES)
		return ID_ERR_KEYFILE;
	size_t got = 0;
	while (got < ID_HASH_KEY_BYTES) {
		ssize_t r = read(fd, key + got, ID_HASH_KEY_BYTES - got);
		if (r <= 0)
			return ID_ERR_IO;
		got += (size_t)r;
	}
	return 0;
}

int id_account_key_load(const char *path, uint8_t key[ID_HASH_KEY_BYTES])
{
	if (!path || !key)
		return ID_ERR_INVALID_ARG;
	if (sodium_init() < 0)
		return ID_ERR_CRYPTO;
	uint8_t k[ID_HASH_KEY_BYTES];
	int rc, fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		rc = read_key(fd, k);
		close(fd);
	} else if (errno == ENOENT) {
		/* First start: O_EXCL so that two relays racing on one directory cannot both create
		 * (and one of them use) a different key. */
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return ID_ERR_IO;
		randombytes_buf(k, sizeof k);
		rc = fchmod(fd, 0600) == 0 && write(fd, k, sizeof k) == (ssize_t)sizeof k && fsync(fd) == 0
			     ? 0
			     : ID_ERR_IO;
		if (close(fd) != 0)
			rc = ID_ERR_IO;
		if (rc != 0)
			unlink(path);
	} else {
		return ID_ERR_IO;
	}
	if (rc == 0)
		memcpy(key, k, sizeof k);
	sodium_memzero(k, sizeof k);
	return rc;
}
