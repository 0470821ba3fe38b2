/* SPDX-License-Identifier: MPL-2.0 */
/* A small real file system that can fill up: an ext4 image (4 KiB blocks, none reserved for root)
 * loop-mounted inside a directory of the test's. Mounting needs root; tests skip without it. */
#ifndef WAKKS_TEST_SMALL_FS_H
#define WAKKS_TEST_SMALL_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct small_fs {
	char img[560], mnt[560];
	bool mounted;
};

/* Makes an image of size_mib MiB at DIR/fs.img and mounts it at DIR/MNT_NAME (mode 0700).
 * 0, or -1 with why (a reason to skip: no e2fsprogs, no loop devices). */
int small_fs_mount(struct small_fs *fs, const char *dir, const char *mnt_name, unsigned size_mib,
		   const char **why);

/* Unmounts (detached: a process a failed check left running keeps it until it ends) and removes
 * the mount point and the image. Safe to call when nothing was mounted. */
void small_fs_unmount(struct small_fs *fs);

/* Writes path until the file system is full, then gives keep bytes of it back. 0 or -1. */
int small_fs_fill(const char *path, off_t keep);

#endif
