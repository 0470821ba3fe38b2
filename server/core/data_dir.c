/* SPDX-License-Identifier: MPL-2.0 */
#include "core/data_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/sd_notify.h"
#include "wakks_bytes.h"

#define MARKER_NAME "database-id"
#define PID_NAME "relay.pid"

int relay_start_failed(int status, const char *action, const char *problem_fmt, ...)
{
	char problem[1024];
	va_list ap;
	va_start(ap, problem_fmt);
	vsnprintf(problem, sizeof problem, problem_fmt, ap);
	va_end(ap);
	RLOG_ERROR("relay", "start_failed", "exit=%d problem=\"%s\" action=\"%s\"", status, problem,
		   action);
	/* `systemctl status` shows why, beside the exit status. */
	char state[sizeof problem + 32];
	snprintf(state, sizeof state, "STATUS=start failed: %s", problem);
	(void)relay_sd_notify(state);
	return status;
}

/* Group or other access to something only the relay's user should read. */
static int check_mode(const char *path, mode_t mode, bool dir, int permissions)
{
	if ((mode & 0077) == 0)
		return 0;
	if (permissions == RELAY_PERMISSIONS_WARN) {
		RLOG_WARN("relay", "permissions_open", "path=%s mode=%04o", path, (unsigned)(mode & 07777));
		return 0;
	}
	return relay_start_failed(RELAY_EXIT_CONFIG,
				  dir ? "chmod 700 the directory (or set data_dir_permissions = warn)"
				      : "chmod 600 the file (or set data_dir_permissions = warn)",
				  "%s is accessible by group or others (mode %04o)", path,
				  (unsigned)(mode & 07777));
}

/* The pid another relay wrote when it took the lock; 0 if unreadable. */
static long holder_pid(const char *dir)
{
	char path[RELAY_CONFIG_PATH_MAX + 16], buf[32] = "";
	snprintf(path, sizeof path, "%s/" PID_NAME, dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static int write_pid(const char *dir)
{
	char path[RELAY_CONFIG_PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/" PID_NAME, dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	int rc = write(fd, buf, (size_t)n) == n ? 0 : -1;
	if (close(fd) != 0)
		rc = -1;
	return rc;
}

int relay_data_dir_open(const char *dir, int permissions, int *lock_fd)
{
	struct stat st;
	if (stat(dir, &st) != 0) {
		if (errno != ENOENT)
			return relay_start_failed(RELAY_EXIT_CONFIG,
						  "make data_dir reachable by the relay's user",
						  "data_dir %s: %s", dir, strerror(errno));
		if (mkdir(dir, 0700) != 0)
			return relay_start_failed(
				RELAY_EXIT_CONFIG,
				errno == ENOENT ? "create the parent directory or correct data_dir"
						: "create data_dir (0700, owned by the relay's user) or correct data_dir",
				"data_dir %s cannot be created: %s", dir, strerror(errno));
		if (stat(dir, &st) != 0)
			return relay_start_failed(RELAY_EXIT_CONFIG, "check data_dir",
						  "data_dir %s: %s", dir, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return relay_start_failed(RELAY_EXIT_CONFIG,
					  "point data_dir at a directory, or move the file away",
					  "data_dir %s is not a directory", dir);
	int rc = check_mode(dir, st.st_mode, true, permissions);
	if (rc)
		return rc;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return relay_start_failed(RELAY_EXIT_CONFIG, "make data_dir readable by the relay's user",
					  "data_dir %s cannot be opened: %s", dir, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK)
			return relay_start_failed(RELAY_EXIT_IN_USE,
						  "stop the other relay first, or give this one another data_dir",
						  "data_dir %s is in use by another relay (pid %ld)", dir,
						  holder_pid(dir));
		return relay_start_failed(RELAY_EXIT_CONFIG, "use a local filesystem for data_dir",
					  "data_dir %s cannot be locked: %s", dir, strerror(e));
	}
	if (write_pid(dir) != 0) {
		int e = errno;
		close(fd);
		return relay_start_failed(RELAY_EXIT_CONFIG,
					  "make data_dir writable by the relay's user (chown, chmod 700) on a read-write filesystem",
					  "data_dir %s is not writable: %s", dir, strerror(e));
	}
	*lock_fd = fd;
	return 0;
}

int relay_data_dir_check_secret(const char *path, int permissions)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return 0;
	return check_mode(path, st.st_mode, S_ISDIR(st.st_mode), permissions);
}

int relay_data_dir_read_marker(const char *dir, uint8_t id[RELAY_DB_ID_BYTES])
{
	char path[RELAY_CONFIG_PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/" MARKER_NAME, dir);
	const char *action = "restore database-id from the backup of this data directory";
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return 1;
		return relay_start_failed(RELAY_EXIT_DATA, action, "%s cannot be read: %s", path,
					  strerror(errno));
	}
	char buf[2 * RELAY_DB_ID_BYTES + 2];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	uint8_t v[RELAY_DB_ID_BYTES];
	bool ok = n == sizeof buf - 1 && buf[n - 1] == '\n';
	for (size_t i = 0; ok && i < RELAY_DB_ID_BYTES; i++) {
		int hi = wakks_hexval(buf[2 * i]), lo = wakks_hexval(buf[2 * i + 1]);
		ok = hi >= 0 && lo >= 0;
		v[i] = (uint8_t)(hi << 4 | lo);
	}
	if (!ok)
		return relay_start_failed(RELAY_EXIT_DATA, action,
					  "%s is malformed (expected 32 hex digits and a newline)", path);
	memcpy(id, v, sizeof v);
	return 0;
}

int relay_data_dir_write_marker(const char *dir, const uint8_t id[RELAY_DB_ID_BYTES])
{
	char path[RELAY_CONFIG_PATH_MAX + 16], tmp[RELAY_CONFIG_PATH_MAX + 24];
	snprintf(path, sizeof path, "%s/" MARKER_NAME, dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	char text[2 * RELAY_DB_ID_BYTES + 1];
	for (size_t i = 0; i < RELAY_DB_ID_BYTES; i++) {
		text[2 * i] = "0123456789abcdef"[id[i] >> 4];
		text[2 * i + 1] = "0123456789abcdef"[id[i] & 15];
	}
	text[2 * RELAY_DB_ID_BYTES] = '\n';
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && write(fd, text, sizeof text) == (ssize_t)sizeof text && fsync(fd) == 0;
	if (fd >= 0 && close(fd) != 0)
		ok = false;
	ok = ok && rename(tmp, path) == 0;
	int dfd = ok ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	ok = ok && dfd >= 0 && fsync(dfd) == 0;
	if (dfd >= 0)
		close(dfd);
	if (!ok) {
		int e = errno;
		unlink(tmp);
		return relay_start_failed(RELAY_EXIT_CONFIG, "make data_dir writable by the relay's user",
					  "%s cannot be written: %s", path, strerror(e));
	}
	return 0;
}
