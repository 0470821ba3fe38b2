/* SPDX-License-Identifier: MPL-2.0 */
/* The service manager's view of a real relay process (core/sd_notify.h): the test plays the
 * service manager, creating the notification socket (abstract and file system) and reading the
 * datagrams the relay sends. READY=1 comes once, only after the relay has opened its database and
 * listens; WATCHDOG=1 comes from the loop at about half of WATCHDOG_USEC; STOPPING=1 follows
 * SIGTERM, and nothing after it says READY again. A start that fails never says READY, and its
 * STATUS names the problem. */
#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "relay_proc.h"
#include "test.h"

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Binds a datagram socket at `name` ('@': abstract) and points NOTIFY_SOCKET at it. */
static int notify_socket(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(name);
	memcpy(sa.sun_path, name, n);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	else
		unlink(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa,
			   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) != 0) {
		perror("notify socket");
		return -1;
	}
	setenv("NOTIFY_SOCKET", name, 1);
	return fd;
}

/* The next datagram within timeout_ms into buf (NUL-terminated); its length, 0 on timeout. */
static int next_msg(int fd, char *buf, size_t cap, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) <= 0)
		return 0;
	ssize_t n = recv(fd, buf, cap - 1, 0);
	if (n < 0)
		return 0;
	buf[n] = '\0';
	return (int)n;
}

static void unset_env(void)
{
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

/* The whole life of a relay under a service manager with a watchdog of 400 ms. */
static void run_lifecycle(const char *socket_name)
{
	int fd = notify_socket(socket_name);
	REQUIRE(fd >= 0);
	setenv("WATCHDOG_USEC", "400000", 1);
	struct relay_proc p;
	int started = relay_proc_start(&p, NULL, true);
	unset_env();
	REQUIRE(started == 0);

	char msg[512];
	/* The first message is READY, and by then the relay has logged that its database is open and
	 * that it listens (the log line comes before the notification in the same thread). */
	REQUIRE(next_msg(fd, msg, sizeof msg, 5000) > 0);
	CHECK(strncmp(msg, "READY=1\n", 8) == 0);
	char status[64];
	snprintf(status, sizeof status, "STATUS=listening on port %d", p.port);
	CHECK(strstr(msg, status) != NULL);
	CHECK(relay_log_contains(&p, relay_test_engine_pg() ? "event=database_open engine=postgresql"
							     : "event=database_created"));
	CHECK(relay_log_contains(&p, "event=listening"));

	/* Watchdog pings at about 200 ms: five arrive, none READY again, and the gaps are neither a
	 * busy loop nor far beyond the interval (a loaded machine, or ASan, may delay a tick). */
	uint64_t last = mono_ms(), min_gap = UINT64_MAX, max_gap = 0;
	int pings = 0;
	while (pings < 5) {
		int n = next_msg(fd, msg, sizeof msg, 1500);
		if (n == 0)
			break;
		CHECK(strcmp(msg, "WATCHDOG=1") == 0);
		uint64_t now = mono_ms(), gap = now - last;
		last = now;
		if (pings > 0) {
			min_gap = gap < min_gap ? gap : min_gap;
			max_gap = gap > max_gap ? gap : max_gap;
		}
		pings++;
	}
	CHECK_EQ_INT(pings, 5);
	CHECK(min_gap >= 100);
	CHECK(max_gap < 1000);

	/* SIGTERM: STOPPING=1 comes (pings still may precede it), then the process exits 0 and no
	 * READY follows. */
	CHECK_EQ_INT(relay_proc_stop(&p), 0);
	bool stopping = false, ready_again = false;
	while (next_msg(fd, msg, sizeof msg, 200) > 0) {
		if (strcmp(msg, "STOPPING=1") == 0)
			stopping = true;
		if (strstr(msg, "READY=1"))
			ready_again = true;
	}
	CHECK(stopping);
	CHECK(!ready_again);
	relay_proc_cleanup(&p);
	close(fd);
	if (socket_name[0] == '/')
		unlink(socket_name);
}

static void abstract_socket(void)
{
	char name[64];
	snprintf(name, sizeof name, "@wakks-test-notify-%ld-%u", (long)getpid(), randombytes_random());
	run_lifecycle(name);
}

static void path_socket(void)
{
	char name[108];
	snprintf(name, sizeof name, "/tmp/wakks-test-notify-%ld-%u.sock", (long)getpid(),
		 randombytes_random());
	run_lifecycle(name);
}

/* A watchdog meant for another process (WATCHDOG_PID) is not this relay's to feed. */
static void watchdog_for_other_pid(void)
{
	char name[64];
	snprintf(name, sizeof name, "@wakks-test-notify-pid-%ld-%u", (long)getpid(),
		 randombytes_random());
	int fd = notify_socket(name);
	REQUIRE(fd >= 0);
	setenv("WATCHDOG_USEC", "200000", 1);
	setenv("WATCHDOG_PID", "1", 1);
	struct relay_proc p;
	int started = relay_proc_start(&p, NULL, true);
	unset_env();
	REQUIRE(started == 0);
	char msg[512];
	REQUIRE(next_msg(fd, msg, sizeof msg, 5000) > 0);
	CHECK(strncmp(msg, "READY=1\n", 8) == 0);
	CHECK_EQ_INT(next_msg(fd, msg, sizeof msg, 500), 0);
	relay_proc_stop(&p);
	relay_proc_cleanup(&p);
	close(fd);
}

/* A relay that cannot start (its port is taken by another relay) never says READY. */
static void failed_start_is_never_ready(void)
{
	struct relay_proc holder, p;
	REQUIRE(relay_proc_start(&holder, NULL, true) == 0);
	char port[64];
	snprintf(port, sizeof port, "[relay]\nport = %d\n", holder.port);
	struct relay_proc_opts o = { .dev = true, .extra_config = NULL };
	REQUIRE(relay_proc_prepare(&p, &o) == 0);
	/* The prepared configuration has port 0; a second [relay] section sets the taken port. */
	FILE *f = fopen(p.config_path, "a");
	REQUIRE(f != NULL);
	fprintf(f, "\n%s", port);
	fclose(f);

	char name[64];
	snprintf(name, sizeof name, "@wakks-test-notify-fail-%ld-%u", (long)getpid(),
		 randombytes_random());
	int fd = notify_socket(name);
	REQUIRE(fd >= 0);
	int st = relay_proc_run_to_exit(&p, true, 10000);
	unset_env();
	CHECK_EQ_INT(st, 4);
	char msg[512];
	bool ready = false, status = false;
	while (next_msg(fd, msg, sizeof msg, 100) > 0) {
		if (strstr(msg, "READY=1"))
			ready = true;
		/* Why, for `systemctl status`: the start_failed line's problem. */
		if (strncmp(msg, "STATUS=start failed: ", 21) == 0 && strstr(msg, "already in use"))
			status = true;
	}
	CHECK(!ready);
	CHECK(status);
	close(fd);
	relay_proc_cleanup(&p);
	relay_proc_stop(&holder);
	relay_proc_cleanup(&holder);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(abstract_socket);
	RUN(path_socket);
	RUN(watchdog_for_other_pid);
	RUN(failed_start_is_never_ready);
	return TEST_RESULT();
}
