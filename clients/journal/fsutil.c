/* SPDX-License-Identifier: MPL-2.0 */
#define _XOPEN_SOURCE 700
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

static int write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fs_write_new(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int rc = write_all(fd, data, len);
	if (rc == 0)
		rc = fsync(fd);
	if (close(fd) != 0)
		rc = -1;
	return rc;
}

int fs_copy_new(const char *src, const char *dst, uint8_t sha256[32], uint64_t *size)
{
	int in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0)
		return -1;
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	crypto_hash_sha256_state h;
	crypto_hash_sha256_init(&h);
	uint8_t buf[65536];
	uint64_t total = 0;
	int rc = 0;
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		crypto_hash_sha256_update(&h, buf, (unsigned long long)n);
		total += (uint64_t)n;
		if (write_all(out, buf, (size_t)n) != 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0)
		rc = fsync(out);
	if (close(out) != 0)
		rc = -1;
	close(in);
	uint8_t d[32];
	crypto_hash_sha256_final(&h, d);
	if (sha256)
		memcpy(sha256, d, 32);
	if (size)
		*size = total;
	return rc;
}

int fs_read(const char *path, uint8_t **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	size_t cap = 4096, n = 0;
	uint8_t *p = malloc(cap + 1);
	while (p) {
		size_t r = fread(p + n, 1, cap - n, f);
		n += r;
		if (n < cap)
			break;
		uint8_t *q = realloc(p, cap * 2 + 1);
		if (!q) {
			free(p);
			p = NULL;
			break;
		}
		p = q;
		cap *= 2;
	}
	int err = ferror(f);
	fclose(f);
	if (!p || err) {
		free(p);
		return -1;
	}
	p[n] = '\0';
	*data = p;
	*len = n;
	return 0;
}

int fs_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

int fs_rename_durable(const char *from, const char *to)
{
	if (rename(from, to) != 0)
		return -1;
	char parent[4096];
	snprintf(parent, sizeof parent, "%s", to);
	char *slash = strrchr(parent, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(parent, sizeof parent, ".");
	return fs_fsync_dir(slash && parent[0] ? parent : slash ? "/" : ".");
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

int fs_rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int fs_mkdirs(const char *path)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	}
	return mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

int fs_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

void fs_safe_name(const char *in, char *out, size_t out_len)
{
	size_t o = 0;
	for (size_t i = 0; in[i] && o + 1 < out_len; i++) {
		unsigned char c = (unsigned char)in[i];
		out[o++] = (c == '/' || c == '\\' || c < 0x20 || c == 0x7F) ? '_' : (char)c;
	}
	out[o] = '\0';
	if (o == 0 || out[0] == '.')
		out[0] = o == 0 ? '\0' : '_';
	if (o == 0)
		snprintf(out, out_len, "file");
}
