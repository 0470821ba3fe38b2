/* SPDX-License-Identifier: MPL-2.0 */
#include "small_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

int small_fs_mount(struct small_fs *fs, const char *dir, const char *mnt_name, unsigned size_mib,
		   const char **why)
{
	fs->mounted = false;
	snprintf(fs->img, sizeof fs->img, "%s/fs.img", dir);
	snprintf(fs->mnt, sizeof fs->mnt, "%s/%s", dir, mnt_name);
	int fd = open(fs->img, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	bool made = fd >= 0 && ftruncate(fd, (off_t)size_mib << 20) == 0;
	if (fd >= 0)
		close(fd);
	if (!made || mkdir(fs->mnt, 0700) != 0)
		return *why = "the image could not be made", -1;
	char cmd[1400];
	snprintf(cmd, sizeof cmd, "mkfs.ext4 -q -F -b 4096 -m 0 '%s' >/dev/null 2>&1", fs->img);
	if (system(cmd) != 0)
		return *why = "mkfs.ext4 failed (e2fsprogs missing?)", -1;
	snprintf(cmd, sizeof cmd, "mount -o loop '%s' '%s' 2>&1", fs->img, fs->mnt);
	if (system(cmd) != 0)
		return *why = "mount -o loop failed (no loop devices here?)", -1;
	fs->mounted = true;
	if (chmod(fs->mnt, 0700) != 0)
		return *why = "chmod of the mount failed", -1;
	return 0;
}

void small_fs_unmount(struct small_fs *fs)
{
	if (fs->mounted && umount2(fs->mnt, MNT_DETACH) != 0)
		fprintf(stderr, "umount %s: %s\n", fs->mnt, strerror(errno));
	fs->mounted = false;
	if (fs->mnt[0])
		rmdir(fs->mnt);
	if (fs->img[0])
		unlink(fs->img);
}

int small_fs_fill(const char *path, off_t keep)
{
	static char chunk[1 << 20];
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	memset(chunk, 0x5a, sizeof chunk);
	off_t size = 0;
	for (size_t step = sizeof chunk; step >= 4096; step /= 4) {
		ssize_t n;
		while ((n = write(fd, chunk, step)) > 0)
			size += n;
	}
	/* The blocks of delayed allocation are really taken only once written back. */
	int rc = fsync(fd) == 0 && ftruncate(fd, size - keep) == 0 && fsync(fd) == 0 ? 0 : -1;
	close(fd);
	return rc;
}
