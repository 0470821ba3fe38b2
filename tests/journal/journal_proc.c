/* SPDX-License-Identifier: MPL-2.0 */
#include "journal_proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *binary(void)
{
	const char *b = getenv("WAKKS_JOURNAL");
	return b ? b : "wakks-journal";
}

int journal_proc_init(struct journal_proc *j, const char *dir, int port, const char *ca,
		      const char *extra)
{
	memset(j, 0, sizeof *j);
	snprintf(j->dir, sizeof j->dir, "%s", dir);
	snprintf(j->out, sizeof j->out, "%s/out", dir);
	snprintf(j->config, sizeof j->config, "%s/journal.conf", dir);
	snprintf(j->log, sizeof j->log, "%s/journal.log", dir);
	mkdir(dir, 0700);
	FILE *f = fopen(j->config, "w");
	if (!f)
		return -1;
	fprintf(f, "relay_url = wss://localhost:%d\nca_file = %s\nstate_dir = %s/state\n"
		   "idp = dev-adfs\ndevidp_user = journal\ndestination = directory\ndirectory = %s\n"
		   "retry_base_ms = 100\n%s",
		port, ca, dir, j->out, extra ? extra : "");
	return fclose(f) == 0 ? 0 : -1;
}

static int count_started(const struct journal_proc *j)
{
	FILE *f = fopen(j->log, "r");
	if (!f)
		return 0;
	char line[1024];
	int n = 0;
	while (fgets(line, sizeof line, f))
		n += strstr(line, "journal started") != NULL;
	fclose(f);
	return n;
}

int journal_proc_start(struct journal_proc *j, int timeout_ms)
{
	int before = count_started(j);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(j->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
		}
		execl(binary(), "wakks-journal", "run", "--config", j->config, (char *)NULL);
		_exit(127);
	}
	j->pid = pid;
	j->starts++;
	for (int t = 0; t < timeout_ms; t += 10) {
		if (count_started(j) > before)
			return 0;
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			j->pid = 0;
			return -1;
		}
		usleep(10000);
	}
	return -1;
}

void journal_proc_kill(struct journal_proc *j)
{
	if (j->pid <= 0)
		return;
	kill(j->pid, SIGKILL);
	waitpid(j->pid, NULL, 0);
	j->pid = 0;
}

int journal_proc_stop(struct journal_proc *j)
{
	if (j->pid <= 0)
		return -1;
	kill(j->pid, SIGTERM);
	int st = 0;
	for (int t = 0; t < 10000; t += 10) {
		if (waitpid(j->pid, &st, WNOHANG) == j->pid) {
			j->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		}
		usleep(10000);
	}
	journal_proc_kill(j);
	return -1;
}

int journal_proc_command(struct journal_proc *j, const char *cmd, const char *arg, char **out)
{
	char path[600];
	snprintf(path, sizeof path, "%s/command.out", j->dir);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0)
			dup2(fd, 1);
		execl(binary(), "wakks-journal", cmd, "--config", j->config, arg, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	if (out) {
		*out = NULL;
		FILE *f = fopen(path, "r");
		if (f) {
			char *buf = calloc(1, 1 << 16);
			if (buf)
				fread(buf, 1, (1 << 16) - 1, f);
			fclose(f);
			*out = buf;
		}
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int journal_count_notes(const struct journal_proc *j, int *tmp_entries)
{
	DIR *d = opendir(j->out);
	int n = 0, tmp = 0;
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (strncmp(e->d_name, ".tmp-", 5) == 0)
				tmp++;
			else if (strlen(e->d_name) == 64)
				n++;
		}
		closedir(d);
	}
	if (tmp_entries)
		*tmp_entries = tmp;
	return n;
}
