/* SPDX-License-Identifier: MPL-2.0 */
#include "proxy_proc.h"
#include "text_file.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

int loopback_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = loopback(0);
	socklen_t len = sizeof a;
	int port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

bool loopback_port_open(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = loopback(port);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

pid_t proxy_run(char *const argv[], const char *out_path, int port)
{
	pid_t pid = fork();
	if (pid == 0) {
		/* SIGTERM, not SIGKILL: nginx's master then ends its workers too. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		if (loopback_port_open(port))
			return pid;
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		msleep(50);
	}
	char *text = test_read_text(out_path);
	fprintf(stderr, "%s did not start (is Debian's package installed? scripts/deps.sh):\n%s\n",
		argv[0], text ? text : "(no output)");
	free(text);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

int haproxy_pem(const char *dir, const char *cert, const char *key, char *pem, size_t cap)
{
	snprintf(pem, cap, "%s/haproxy.pem", dir);
	char *c = test_read_text(cert), *k = test_read_text(key);
	FILE *f = c && k ? fopen(pem, "w") : NULL;
	if (f) {
		fprintf(f, "%s%s", c, k);
		fclose(f);
	}
	free(c);
	free(k);
	return f ? 0 : -1;
}

pid_t haproxy_run(const char *dir, const char *cfg, int port, char *log, size_t log_cap)
{
	char conf[600];
	snprintf(conf, sizeof conf, "%s/haproxy.cfg", dir);
	snprintf(log, log_cap, "%s/haproxy.stderr", dir);
	FILE *f = fopen(conf, "w");
	if (!f)
		return -1;
	fprintf(f, "global\n\tmaxconn 256\n\n%s", cfg);
	fclose(f);
	static char sbin[] = "/usr/sbin/haproxy", bin[] = "haproxy", db[] = "-db", fl[] = "-f";
	char *argv[] = { access(sbin, X_OK) == 0 ? sbin : bin, db, fl, conf, NULL };
	return proxy_run(argv, log, port);
}

void proxy_stop(pid_t pid, int sig)
{
	kill(pid, sig);
	for (int i = 0; i < 100; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		msleep(50);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}
