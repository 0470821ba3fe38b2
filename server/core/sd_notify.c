/* SPDX-License-Identifier: MPL-2.0 */
#include "core/sd_notify.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int relay_sd_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !path[0])
		return 0;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	/* Only absolute paths and abstract names are meaningful to a service manager; anything else
	 * is a mistake in the environment, not a place to send to. */
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof sa.sun_path) {
		errno = EINVAL;
		return -1;
	}
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	ssize_t sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	int e = errno;
	close(fd);
	if (sent < 0) {
		errno = e;
		return -1;
	}
	return 1;
}

uint64_t relay_sd_watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	if (!usec || !usec[0])
		return 0;
	const char *pid = getenv("WATCHDOG_PID");
	if (pid && pid[0]) {
		char *end;
		errno = 0;
		long p = strtol(pid, &end, 10);
		if (errno || *end || p != (long)getpid())
			return 0; /* meant for another process (a wrapper that exec'd us is the same pid) */
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(usec, &end, 10);
	if (errno || *end || v == 0)
		return 0;
	return (uint64_t)v;
}
