/* SPDX-License-Identifier: MPL-2.0 */
#include "relay_proc.h"
#include "text_file.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pg_server.h"
#include "test_cert.h"

/* Processes started by this process, killed at exit so no relay outlives its test or benchmark. */
#define MAX_TRACKED 16
static pid_t tracked[MAX_TRACKED];
static bool atexit_installed;

static void kill_tracked(void)
{
	for (int i = 0; i < MAX_TRACKED; i++)
		if (tracked[i] > 0) {
			kill(tracked[i], SIGKILL);
			waitpid(tracked[i], NULL, 0);
			tracked[i] = 0;
		}
}

static void track(pid_t pid, bool add)
{
	if (!atexit_installed) {
		atexit(kill_tracked);
		atexit_installed = true;
	}
	for (int i = 0; i < MAX_TRACKED; i++) {
		if (add && tracked[i] == 0) {
			tracked[i] = pid;
			return;
		}
		if (!add && tracked[i] == pid) {
			tracked[i] = 0;
			return;
		}
	}
}

const char *relay_binary(void)
{
	const char *b = getenv("WAKKS_RELAY");
	return b ? b : "wakks-relay";
}

bool relay_log_contains(const struct relay_proc *p, const char *needle)
{
	char *log = test_read_text(p->log_path);
	bool found = log && strstr(log, needle);
	free(log);
	return found;
}

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Starts the relay binary on p's configuration, its stderr appended to logfd (closed here), and
 * dies with the test. Returns the pid, or -1. */
static pid_t spawn_relay(const struct relay_proc *p, bool dev, int logfd)
{
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(logfd, 2);
		int devnull = open("/dev/null", O_RDWR);
		dup2(devnull, 0);
		dup2(devnull, 1);
		const char *bin = p->binary;
		if (dev)
			execl(bin, bin, "--config", p->config_path, "--dev", (char *)NULL);
		else
			execl(bin, bin, "--config", p->config_path, (char *)NULL);
		_exit(127);
	}
	close(logfd);
	return pid;
}

/* The first start truncates the log; a restart appends to it, so a test can read both runs. */
static int spawn(struct relay_proc *p, bool dev, bool fresh_log)
{
	/* Skip what the log held before, so the port we read is this run's. */
	int logfd = open(p->log_path, O_WRONLY | O_CREAT | O_APPEND | (fresh_log ? O_TRUNC : 0), 0600);
	if (logfd < 0)
		return -1;
	off_t log_start = lseek(logfd, 0, SEEK_END);
	pid_t pid = spawn_relay(p, dev, logfd);
	if (pid < 0)
		return -1;
	p->pid = pid;
	track(pid, true);
	for (int i = 0; i < 200; i++) {
		char *log = test_read_text(p->log_path);
		const char *at = log && (off_t)strlen(log) > log_start ? log + log_start : NULL;
		/* logfmt, or JSON when a test configures log_format = json */
		const char *l = at ? strstr(at, "event=listening port=") : NULL;
		const char *lj = at ? strstr(at, "\"event\":\"listening\",\"port\":\"") : NULL;
		if (l || lj) {
			p->port = l ? atoi(l + strlen("event=listening port="))
				    : atoi(lj + strlen("\"event\":\"listening\",\"port\":\""));
			const char *a = strstr(at, "event=admin_listening port=");
			const char *aj = strstr(at, "\"event\":\"admin_listening\",\"port\":\"");
			p->admin_port = a ? atoi(a + strlen("event=admin_listening port="))
				      : aj ? atoi(aj + strlen("\"event\":\"admin_listening\",\"port\":\""))
					   : 0;
			free(log);
			return 0;
		}
		free(log);
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			track(pid, false);
			p->pid = 0;
			break;
		}
		msleep(50);
	}
	relay_proc_kill(p);
	char *log = test_read_text(p->log_path);
	fprintf(stderr, "relay did not start; its log:\n%s\n", log ? log : "(none)");
	free(log);
	return -1;
}

bool relay_test_engine_pg(void)
{
	const char *e = getenv("WAKKS_TEST_ENGINE");
	return e && strcmp(e, "postgresql") == 0;
}

/* The conninfo line of a relay.conf written by relay_proc_prepare, and the database's name from
 * the comment before it. */
static const char PG_DB_MARK[] = "# wakks test database: ";

static bool reuse_database(struct relay_proc *p)
{
	char *conf = test_read_text(p->config_path);
	const char *m = conf ? strstr(conf, PG_DB_MARK) : NULL;
	const char *c = m ? strstr(m, "\nconninfo = ") : NULL;
	bool ok = false;
	if (c) {
		m += strlen(PG_DB_MARK);
		c += strlen("\nconninfo = ");
		size_t mn = strcspn(m, "\n"), cn = strcspn(c, "\n");
		if (mn < sizeof p->pg_db && cn < sizeof p->pg_conninfo) {
			memcpy(p->pg_db, m, mn);
			p->pg_db[mn] = '\0';
			memcpy(p->pg_conninfo, c, cn);
			p->pg_conninfo[cn] = '\0';
			ok = true;
		}
	}
	free(conf);
	return ok;
}

/* The database of the relay: the caller's connection string, the database this directory's
 * relay.conf already names, or a fresh one. */
static int pg_choose(struct relay_proc *p, const struct relay_proc_opts *o)
{
	if (o->pg_conninfo) {
		if (strlen(o->pg_conninfo) >= sizeof p->pg_conninfo)
			return -1;
		strcpy(p->pg_conninfo, o->pg_conninfo);
	} else if (!(p->keep_dir && reuse_database(p)) &&
		   pg_test_create_db(p->pg_conninfo, sizeof p->pg_conninfo, p->pg_db, sizeof p->pg_db) != 0) {
		fprintf(stderr, "relay_proc: no PostgreSQL database for the relay\n");
		return -1;
	}
	return 0;
}

/* After the caller's extra config, so that it wins over a [storage] the test wrote. */
static void pg_config(const struct relay_proc *p, FILE *f)
{
	if (p->pg_db[0])
		fprintf(f, "%s%s\n", PG_DB_MARK, p->pg_db);
	fprintf(f, "[storage]\nengine = postgresql\nconninfo = %s\n", p->pg_conninfo);
}

int relay_proc_prepare(struct relay_proc *p, const struct relay_proc_opts *o)
{
	/* A client writing to a connection the relay closed must see an error, not die. */
	signal(SIGPIPE, SIG_IGN);
	memset(p, 0, sizeof *p);
	p->binary = o->binary ? o->binary : relay_binary();
	p->stop_wait_ms = o->stop_wait_ms ? o->stop_wait_ms : 10000;
	if (o->dir) {
		if (strlen(o->dir) >= sizeof p->dir)
			return -1;
		strcpy(p->dir, o->dir);
		p->keep_dir = true;
	} else {
		const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
		snprintf(p->dir, sizeof p->dir, "%s/wakks-test-XXXXXX", tmp);
		if (!mkdtemp(p->dir))
			return -1;
	}
	const char *data = o->data_subdir ? o->data_subdir : "data";
	if (strlen(p->dir) + 1 + strlen(data) >= sizeof p->data_dir)
		return -1;
	snprintf(p->data_dir, sizeof p->data_dir, "%s/%s", p->dir, data);
	snprintf(p->log_path, sizeof p->log_path, "%s/relay.log", p->dir);
	snprintf(p->config_path, sizeof p->config_path, "%s/relay.conf", p->dir);
	char cert[300] = "", key[300] = "";
	if (!o->dev && !o->no_tls_cert && test_cert_write(p->dir, cert, key, sizeof cert) != 0)
		return -1;
	/* Before the config is rewritten: it may name the database to reuse. */
	if (relay_test_engine_pg() && pg_choose(p, o) != 0)
		return -1;
	FILE *f = fopen(p->config_path, "w");
	if (!f)
		return -1;
	/* Relays of parallel tests each take an ephemeral monitoring port. */
	fprintf(f, "[relay]\nlisten = 127.0.0.1\nport = %d\ndata_dir = %s\nlog_level = %s\n"
		   "admin_listen = 127.0.0.1:0\n", o->port, p->data_dir,
		o->log_level ? o->log_level : "debug");
	if (cert[0])
		fprintf(f, "tls_cert = %s\ntls_key = %s\n", cert, key);
	fprintf(f, "%s\n", o->extra_config ? o->extra_config : "");
	if (relay_test_engine_pg())
		pg_config(p, f);
	if (fclose(f) != 0)
		return -1;
	return 0;
}

int relay_proc_start_opts(struct relay_proc *p, const struct relay_proc_opts *o)
{
	if (relay_proc_prepare(p, o) != 0)
		return -1;
	return spawn(p, o->dev, true);
}

char *relay_proc_log(const struct relay_proc *p)
{
	return test_read_text(p->log_path);
}

int relay_proc_run_to_exit(struct relay_proc *p, bool dev, int timeout_ms)
{
	int logfd = open(p->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (logfd < 0)
		return -1;
	pid_t pid = spawn_relay(p, dev, logfd);
	if (pid < 0)
		return -1;
	track(pid, true);
	int status = 0;
	for (int waited = 0; waited <= timeout_ms; waited += 20) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			track(pid, false);
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		msleep(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	track(pid, false);
	char *log = test_read_text(p->log_path);
	fprintf(stderr, "relay did not exit; its log:\n%s\n", log ? log : "(none)");
	free(log);
	return -1;
}

int relay_proc_start(struct relay_proc *p, const char *extra_config, bool dev)
{
	struct relay_proc_opts o = { .extra_config = extra_config, .dev = dev };
	return relay_proc_start_opts(p, &o);
}

int relay_proc_restart(struct relay_proc *p, bool dev)
{
	return spawn(p, dev, false);
}

int relay_proc_stop(struct relay_proc *p)
{
	if (p->pid <= 0)
		return -1;
	kill(p->pid, SIGTERM);
	int status = 0;
	for (int waited = 0; waited < p->stop_wait_ms; waited += 50) {
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			track(p->pid, false);
			p->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		msleep(50);
	}
	relay_proc_kill(p);
	return -1;
}

void relay_proc_kill(struct relay_proc *p)
{
	if (p->pid <= 0)
		return;
	kill(p->pid, SIGKILL);
	waitpid(p->pid, NULL, 0);
	track(p->pid, false);
	p->pid = 0;
}

void relay_proc_cleanup(struct relay_proc *p)
{
	if (p->pid > 0)
		relay_proc_kill(p);
	/* A server of this process goes with it; on WAKKS_TEST_PG's the database would stay. A
	 * caller's directory may be prepared again and name it. */
	if (p->pg_db[0] && !p->keep_dir && getenv("WAKKS_TEST_PG"))
		pg_test_drop_db(p->pg_db);
	if (p->dir[0] && !p->keep_dir && !getenv("WAKKS_KEEP_TEST_DIRS")) {
		char cmd[400];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", p->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", p->dir);
	}
}

int relay_run_command_io(char *const args[], const char *input, char **out, char **err)
{
	char in_path[] = "/tmp/wakks-in-XXXXXX", out_path[] = "/tmp/wakks-out-XXXXXX",
	     err_path[] = "/tmp/wakks-err-XXXXXX";
	int in_fd = mkstemp(in_path), out_fd = mkstemp(out_path), err_fd = mkstemp(err_path);
	if (in_fd < 0 || out_fd < 0 || err_fd < 0)
		return -1;
	size_t len = input ? strlen(input) : 0;
	if (len && write(in_fd, input, len) != (ssize_t)len)
		return -1;
	lseek(in_fd, 0, SEEK_SET);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in_fd, 0);
		dup2(out_fd, 1);
		dup2(err_fd, 2);
		execv(relay_binary(), args);
		_exit(127);
	}
	close(in_fd);
	close(out_fd);
	close(err_fd);
	int status = 0;
	waitpid(pid, &status, 0);
	*out = test_read_text(out_path);
	*err = test_read_text(err_path);
	unlink(in_path);
	unlink(out_path);
	unlink(err_path);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int relay_run_command(char *const args[], char **err)
{
	char path[] = "/tmp/wakks-cmd-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fd, 2);
		int devnull = open("/dev/null", O_RDWR);
		dup2(devnull, 1);
		execv(relay_binary(), args);
		_exit(127);
	}
	close(fd);
	int status = 0;
	waitpid(pid, &status, 0);
	*err = test_read_text(path);
	unlink(path);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int admin_get(int port, const char *path, int *status, char **body)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	char req[512];
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap + 1);
	for (ssize_t r; buf && (r = read(fd, buf + len, cap - len)) > 0;) {
		len += (size_t)r;
		if (len == cap) {
			char *grown = realloc(buf, 2 * cap + 1);
			if (!grown) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = grown;
			cap *= 2;
		}
	}
	close(fd);
	if (!buf)
		return -1;
	buf[len] = '\0';
	const char *sep = strstr(buf, "\r\n\r\n");
	if (!sep || sscanf(buf, "HTTP/1.1 %d", status) != 1) {
		free(buf);
		return -1;
	}
	*body = strdup(sep + 4);
	free(buf);
	return *body ? 0 : -1;
}
