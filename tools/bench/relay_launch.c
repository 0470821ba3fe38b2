/* SPDX-License-Identifier: MPL-2.0 */
#include "relay_launch.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_idp.h"
#include "bench_util.h"

static int write_config(struct relay_launch *r, const char *state)
{
	snprintf(r->config_path, sizeof r->config_path, "%s/relay.conf", state);
	FILE *f = fopen(r->config_path, "w");
	if (!f)
		return -1;
	/* Limits: the per-connection request rate is raised so that one benchmark device may send
	 * thousands of frames a second (the default 200/s protects against one abusive device, not
	 * what is measured here). Connections per address stay at the default: the load generator
	 * spreads its connections over many source addresses instead. */
	fprintf(f,
		"[relay]\nlisten = 127.0.0.1\nport = 0\ndata_dir = %s/relay-data\nlog_level = info\n"
		"[limits]\nrequests_per_second = 1000000\nrequest_burst = 1000000\n"
		"unauth_timeout_ms = 60000\n"
		"[idp bench]\nissuer = %s\naudience = %s\njwks_file = %s/idp.jwks.json\nalgs = ES256\n"
		"kind = citizen\nprofile = mitid-broker\n"
		"[tenant bench]\nname = Benchmark Kommune\ncvr = 12345678\nidps = bench\n",
		state, BENCH_IDP_ISSUER, BENCH_IDP_AUDIENCE, state);
	return fclose(f) == 0 ? 0 : -1;
}

int relay_launch_start(struct relay_launch *r, const char *binary, const char *state)
{
	memset(r, 0, sizeof *r);
	if (write_config(r, state) != 0)
		return -1;
	snprintf(r->log_path, sizeof r->log_path, "%s/relay.log", state);
	int logfd = open(r->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (logfd < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(logfd, 2);
		int devnull = open("/dev/null", O_RDWR);
		dup2(devnull, 0);
		dup2(devnull, 1);
		execl(binary, binary, "--config", r->config_path, (char *)NULL);
		_exit(127);
	}
	close(logfd);
	r->pid = pid;
	for (int i = 0; i < 400; i++) {
		char buf[8192];
		FILE *f = fopen(r->log_path, "r");
		size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
		if (f)
			fclose(f);
		buf[n] = '\0';
		const char *l = strstr(buf, "event=listening port=");
		if (l) {
			r->port = atoi(l + strlen("event=listening port="));
			return 0;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			fprintf(stderr, "relay exited during start-up:\n%s\n", buf);
			r->pid = 0;
			return -1;
		}
		bench_sleep_ms(25);
	}
	fprintf(stderr, "relay did not start (see %s)\n", r->log_path);
	relay_launch_stop(r);
	return -1;
}

int relay_launch_stop(struct relay_launch *r)
{
	if (r->pid <= 0)
		return -1;
	kill(r->pid, SIGTERM);
	int status = 0;
	for (int i = 0; i < 600; i++) {
		if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
			r->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		bench_sleep_ms(50);
	}
	kill(r->pid, SIGKILL);
	waitpid(r->pid, NULL, 0);
	r->pid = 0;
	return -1;
}
