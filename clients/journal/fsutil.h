/* SPDX-License-Identifier: MPL-2.0 */
/* Durable file operations: every file written is fsynced before it is renamed into place, and
 * the directory holding a rename is fsynced after it, so that a crash leaves either the old
 * state or the new one (spec/journal.md §3). */
#ifndef WAKKS_JOURNAL_FSUTIL_H
#define WAKKS_JOURNAL_FSUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Creates path (mode 0600) with data, fsynced. Fails if it exists. @return 0 or -1 (errno). */
int fs_write_new(const char *path, const void *data, size_t len);
/* Copies src to a new dst (0600), fsynced; *sha256 (may be NULL) receives the SHA-256 of the
 * bytes copied and *size their count. @return 0 or -1. */
int fs_copy_new(const char *src, const char *dst, uint8_t sha256[32], uint64_t *size);
/* Reads a whole file (malloc'd, NUL-terminated). @return 0 or -1. */
int fs_read(const char *path, uint8_t **data, size_t *len);
int fs_fsync_dir(const char *path);
/* rename(2), then fsync of the destination's parent directory. @return 0 or -1. */
int fs_rename_durable(const char *from, const char *to);
/* Removes a directory tree (no symlinks followed). Missing is success. */
int fs_rm_rf(const char *path);
/* mkdir -p with mode 0700. */
int fs_mkdirs(const char *path);
int fs_exists(const char *path);
/* A file name made safe as one path component (no '/', no leading '.', no control bytes). */
void fs_safe_name(const char *in, char *out, size_t out_len);

#endif
