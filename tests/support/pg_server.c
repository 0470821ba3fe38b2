/* SPDX-License-Identifier: MPL-2.0 */
#include "pg_server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

/* How long a server may take to accept connections after start (initdb excluded). */
#define PG_READY_TIMEOUT_MS 30000
/* How long the primary may take to report the standby as synchronous. */
#define PG_SYNC_TIMEOUT_MS 30000
/* How long a fast shutdown may take before the server is killed. */
#define PG_STOP_TIMEOUT_MS 30000
/* Another test may take the free port between our probe and the server's bind. */
#define PG_PORT_ATTEMPTS 5

/* Small (several servers run at once on a shared machine), durable (fsync, synchronous commit,
 * full page writes: the tests kill servers and count what survived), replicable. The port and
 * the socket directory come on the command line, because a standby's base backup copies this
 * file. */
static const char SERVER_CONF[] =
	"\n# wakks test server\n"
	"listen_addresses = '127.0.0.1'\n"
	"max_connections = 60\n"
	"shared_buffers = 16MB\n"
	"huge_pages = off\n"
	"fsync = on\n"
	"synchronous_commit = on\n"
	"full_page_writes = on\n"
	"wal_level = replica\n"
	"max_wal_senders = 4\n"
	"max_replication_slots = 4\n"
	"wal_keep_size = 128MB\n"
	"hot_standby = on\n"
	"max_wal_size = 256MB\n"
	"log_destination = 'stderr'\n"
	"logging_collector = off\n"
	"log_line_prefix = '%m [%p] '\n"
	"log_min_messages = warning\n";

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static const char *pg_bin(void)
{
	const char *b = getenv("WAKKS_PG_BIN");
	return b && *b ? b : PG_SERVER_BIN_DEFAULT;
}

/* ---- The server's user ---- */

static bool as_root;
static uid_t pg_uid;
static gid_t pg_gid;

/* Looked up before any fork: getpwnam is not safe between fork and exec. */
static int user_init(void)
{
	static bool done;
	if (done)
		return 0;
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("postgres");
		if (!pw) {
			fprintf(stderr, "pg_server: running as root needs the postgres user "
					"(the postgresql package creates it)\n");
			return -1;
		}
		pg_uid = pw->pw_uid;
		pg_gid = pw->pw_gid;
		as_root = true;
	}
	done = true;
	return 0;
}

/* In a forked child: become the server's user. Async-signal-safe calls only. */
static void child_drop_root(void)
{
	if (!as_root)
		return;
	if (setgroups(0, NULL) != 0 || setgid(pg_gid) != 0 || setuid(pg_uid) != 0)
		_exit(126);
}

/* A minimal environment, so no PG* variable of the test's environment reaches the tools. */
static char env_home[260];
static char *child_env[] = { "PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", env_home, NULL };

/* Runs argv[0] (a path) as the server's user with stdout and stderr appended to log_path, to
 * completion. Returns its exit status, or -1. */
static int run_tool(char *const argv[], const char *home, const char *log_path)
{
	snprintf(env_home, sizeof env_home, "HOME=%s", home);
	int logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(logfd);
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		dup2(devnull, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		child_drop_root();
		/* After the user change, which clears it. The calling thread waits for the tool, so
		 * this fires only when the test process dies. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execve(argv[0], argv, child_env);
		_exit(127);
	}
	close(logfd);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void print_log(const struct pg_server *s, const char *what)
{
	fprintf(stderr, "pg_server: %s; %s:\n", what, s->log_path);
	FILE *f = fopen(s->log_path, "r");
	if (!f)
		return;
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		fwrite(buf, 1, n, stderr);
	fclose(f);
}

/* ---- The watchdog ----
 * A shell (a fresh image, so nothing of a multithreaded parent's locks) in its own session reads
 * one line per directory made ("0 data_dir dir") and per server started ("pid data_dir dir") from a
 * pipe only this process can write to.
 * End of file means this process ended, however: it then kills each server still running from
 * its data directory (checked through /proc/pid/cwd, so a reused pid is left alone) and removes
 * the directories (unless WAKKS_KEEP_TEST_DIRS is set). */
static const char WATCHDOG_SH[] =
	"trap '' INT TERM HUP PIPE\n"
	"list=''\n"
	"while read -r pid data dir; do list=\"$list$pid $data $dir\n\"; done\n"
	"printf '%s' \"$list\" | while read -r pid data dir; do\n"
	"  if [ \"$(readlink /proc/$pid/cwd 2>/dev/null)\" = \"$data\" ]; then\n"
	"    kill -STOP \"$pid\" 2>/dev/null; pkill -KILL -P \"$pid\" 2>/dev/null\n"
	"    kill -KILL \"$pid\" 2>/dev/null\n"
	"  fi\n"
	"done\n"
	"[ -n \"$WAKKS_KEEP_TEST_DIRS\" ] && exit 0\n"
	"sleep 1\n"
	"printf '%s' \"$list\" | while read -r pid data dir; do\n"
	"  [ -n \"$dir\" ] && [ -d \"$dir\" ] && rm -rf \"$dir\"\n"
	"done\n";

static int watchdog_fd = -1;

static int watchdog_start(void)
{
	if (watchdog_fd >= 0)
		return 0;
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -1;
	static char keep[64];
	snprintf(keep, sizeof keep, "WAKKS_KEEP_TEST_DIRS=%s",
		 getenv("WAKKS_KEEP_TEST_DIRS") ? getenv("WAKKS_KEEP_TEST_DIRS") : "");
	char *env[] = { "PATH=/usr/bin:/bin", keep, NULL };
	char *argv[] = { "/bin/sh", "-c", (char *)WATCHDOG_SH, NULL };
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		/* Out of the test's process group: a timeout killing the group must not take the
		 * watchdog along before it has cleaned up. */
		setsid();
		dup2(fds[0], 0);
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		dup2(devnull, 2);
		/* Holding nothing else of the test's (a pipe another child waits on to close). */
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		execve(argv[0], argv, env);
		_exit(127);
	}
	close(fds[0]);
	watchdog_fd = fds[1];
	return 0;
}

/* A directory to remove (pid 0) or a server to kill. */
static void watchdog_add(const struct pg_server *s)
{
	if (watchdog_fd < 0)
		return;
	char line[700];
	int n = snprintf(line, sizeof line, "%d %s %s\n", (int)s->pid, s->data_dir, s->dir);
	/* One write under PIPE_BUF is atomic. */
	if (n > 0 && (size_t)n < sizeof line && write(watchdog_fd, line, (size_t)n) != n)
		fprintf(stderr, "pg_server: watchdog write failed\n");
}

/* ---- Directories and ports ---- */

/* True if every directory on the way to path (path included) lets the server's user pass. */
static bool traversable(const char *path)
{
	if (!as_root)
		return true;
	char buf[256];
	if (strlen(path) >= sizeof buf || path[0] != '/')
		return false;
	strcpy(buf, path);
	for (;;) {
		struct stat st;
		if (stat(buf, &st) != 0)
			return false;
		if (!(st.st_mode & S_IXOTH) && st.st_uid != pg_uid)
			return false;
		char *p = strrchr(buf, '/');
		if (!p || p == buf)
			break;
		*p = '\0';
	}
	return true;
}

/* A new directory the server's user owns, in TMPDIR if the user can reach it, else /tmp. */
static int make_dir(struct pg_server *s)
{
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp || strchr(tmp, ' ') || strlen(tmp) > 100 || !traversable(tmp))
		tmp = "/tmp";
	snprintf(s->dir, sizeof s->dir, "%s/wakks-pg-XXXXXX", tmp);
	if (!mkdtemp(s->dir))
		return -1;
	if (as_root && chown(s->dir, pg_uid, pg_gid) != 0)
		return -1;
	snprintf(s->data_dir, sizeof s->data_dir, "%s/data", s->dir);
	snprintf(s->log_path, sizeof s->log_path, "%s/server.log", s->dir);
	/* The log is written by the tools running as the server's user and read by us. */
	int fd = open(s->log_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (as_root && fchown(fd, pg_uid, pg_gid) != 0) {
		close(fd);
		return -1;
	}
	close(fd);
	watchdog_add(s);
	return 0;
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	int port = -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* ---- The server process ---- */

static int socket_conninfo(const struct pg_server *s, const char *db, char *out, size_t cap)
{
	int n = snprintf(out, cap, "host=%s port=%d user=postgres dbname=%s connect_timeout=5",
			 s->dir, s->port, db);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

int pg_server_conninfo(const struct pg_server *s, const char *db, char *out, size_t cap)
{
	int n = snprintf(out, cap, "host=127.0.0.1 port=%d user=postgres dbname=%s", s->port, db);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* Starts the postmaster on s->port; 0 once it accepts connections, 1 if it exited early (a port
 * taken meanwhile, say), -1 on another failure. */
static int launch(struct pg_server *s)
{
	char postgres[300], port[16];
	snprintf(postgres, sizeof postgres, "%s/postgres", pg_bin());
	snprintf(port, sizeof port, "%d", s->port);
	char *argv[] = { postgres, "-D", s->data_dir, "-p", port, "-k", s->dir, NULL };
	snprintf(env_home, sizeof env_home, "HOME=%s", s->dir);
	int logfd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(logfd);
		return -1;
	}
	if (pid == 0) {
		/* Its own session: a signal to the test's process group is not a signal to it. */
		setsid();
		int devnull = open("/dev/null", O_RDONLY);
		dup2(devnull, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		child_drop_root();
		execve(argv[0], argv, child_env);
		_exit(127);
	}
	close(logfd);
	s->pid = pid;
	watchdog_add(s);
	char ci[400];
	socket_conninfo(s, "postgres", ci, sizeof ci);
	for (int waited = 0; waited < PG_READY_TIMEOUT_MS; waited += 50) {
		if (PQping(ci) == PQPING_OK)
			return 0;
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			s->pid = 0;
			return 1;
		}
		msleep(50);
	}
	pg_server_kill(s);
	return -1;
}

static int launch_on_free_port(struct pg_server *s, bool keep_port)
{
	for (int attempt = 0; attempt < PG_PORT_ATTEMPTS; attempt++) {
		if (!(keep_port && attempt == 0))
			s->port = free_port();
		if (s->port <= 0)
			return -1;
		int r = launch(s);
		if (r <= 0) {
			if (r < 0)
				print_log(s, "the server did not become ready");
			return r;
		}
	}
	print_log(s, "the server exited at start");
	return -1;
}

static int append_conf(const struct pg_server *s)
{
	char path[300];
	snprintf(path, sizeof path, "%s/postgresql.conf", s->data_dir);
	FILE *f = fopen(path, "a");
	if (!f)
		return -1;
	fputs(SERVER_CONF, f);
	return fclose(f) == 0 ? 0 : -1;
}

int pg_server_start(struct pg_server *s)
{
	memset(s, 0, sizeof *s);
	signal(SIGPIPE, SIG_IGN);
	if (user_init() != 0 || watchdog_start() != 0 || make_dir(s) != 0) {
		fprintf(stderr, "pg_server: could not prepare a directory\n");
		return -1;
	}
	char initdb[300];
	snprintf(initdb, sizeof initdb, "%s/initdb", pg_bin());
	/* --no-sync: a fresh cluster of a test need not survive a power cut; the server itself
	 * runs with fsync on. */
	char *argv[] = { initdb, "-D", s->data_dir, "--data-checksums", "--auth=trust",
			 "-U", "postgres", "--no-sync", "--locale=C.UTF-8", "-E", "UTF8", NULL };
	if (run_tool(argv, s->dir, s->log_path) != 0) {
		print_log(s, "initdb failed");
		return -1;
	}
	if (append_conf(s) != 0)
		return -1;
	return launch_on_free_port(s, false);
}

int pg_server_restart(struct pg_server *s)
{
	if (s->pid > 0)
		return -1;
	return launch_on_free_port(s, true);
}

/* Waits for our child, the postmaster, to exit; true if it did within ms. */
static bool reap(struct pg_server *s, int ms)
{
	for (int waited = 0; waited <= ms; waited += 20) {
		int status;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			return true;
		}
		msleep(20);
	}
	return false;
}

int pg_server_stop(struct pg_server *s)
{
	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGINT);
	if (reap(s, PG_STOP_TIMEOUT_MS))
		return 0;
	print_log(s, "fast shutdown timed out");
	pg_server_kill(s);
	return -1;
}

/* The processes whose parent is ppid (the postmaster's backends, walsenders, ...). */
static size_t children_of(pid_t ppid, pid_t *out, size_t cap)
{
	size_t n = 0;
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d)) && n < cap;) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		char path[64], buf[512];
		snprintf(path, sizeof path, "/proc/%ld/stat", pid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t len = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[len] = '\0';
		/* "pid (comm) state ppid ...": comm may hold spaces and parentheses. */
		char *rp = strrchr(buf, ')');
		char state;
		int pp;
		if (rp && sscanf(rp + 1, " %c %d", &state, &pp) == 2 && pp == ppid)
			out[n++] = (pid_t)pid;
	}
	closedir(d);
	return n;
}

/* utime + stime of one process, in seconds; -1 if gone. */
static double proc_cpu(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t len = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[len] = '\0';
	char *rp = strrchr(buf, ')');
	unsigned long ut, st;
	/* after "pid (comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt
	 * cmajflt utime stime */
	if (!rp || sscanf(rp + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double pg_server_cpu_seconds(const struct pg_server *s)
{
	if (s->pid <= 0)
		return -1;
	double total = proc_cpu(s->pid);
	if (total < 0)
		return -1;
	pid_t kids[256];
	size_t n = children_of(s->pid, kids, 256);
	for (size_t i = 0; i < n; i++) {
		double c = proc_cpu(kids[i]);
		if (c > 0)
			total += c;
	}
	return total;
}

void pg_server_kill(struct pg_server *s)
{
	if (s->pid <= 0)
		return;
	/* Frozen first, so that it neither notices nor restarts the children killed under it. */
	kill(s->pid, SIGSTOP);
	pid_t kids[128];
	size_t n = children_of(s->pid, kids, 128);
	for (size_t i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	kill(s->pid, SIGKILL);
	while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
		;
	s->pid = 0;
	/* The orphans are reaped by init; a restart on the directory waits for their shared memory
	 * to be released, so wait for them to be gone. */
	for (size_t i = 0; i < n; i++)
		for (int w = 0; w < 200 && kill(kids[i], 0) == 0; w++) {
			char path[64], st[64];
			snprintf(path, sizeof path, "/proc/%d/stat", (int)kids[i]);
			FILE *f = fopen(path, "r");
			size_t len = f ? fread(st, 1, sizeof st - 1, f) : 0;
			if (f)
				fclose(f);
			st[len] = '\0';
			char *rp = strrchr(st, ')');
			if (!rp || rp[1] == '\0' || rp[2] == 'Z')
				break; /* a zombie holds nothing */
			msleep(10);
		}
}

void pg_server_cleanup(struct pg_server *s)
{
	if (s->pid > 0)
		pg_server_stop(s);
	if (s->dir[0] && !getenv("WAKKS_KEEP_TEST_DIRS")) {
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "pg_server: could not remove %s\n", s->dir);
	}
	s->dir[0] = '\0';
}

/* ---- SQL ---- */

static int exec_on(const char *conninfo, const char *sql, bool quiet)
{
	PGconn *c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		if (!quiet)
			fprintf(stderr, "pg_server: connect: %s", PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
	if (rc != 0 && !quiet)
		fprintf(stderr, "pg_server: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return rc;
}

int pg_server_exec(const struct pg_server *s, const char *db, const char *sql)
{
	char ci[400];
	if (socket_conninfo(s, db ? db : "postgres", ci, sizeof ci) != 0)
		return -1;
	return exec_on(ci, sql, false);
}

/* True if the query's first row's first column is "t". */
static bool query_true(const struct pg_server *s, const char *sql)
{
	char ci[400];
	socket_conninfo(s, "postgres", ci, sizeof ci);
	PGconn *c = PQconnectdb(ci);
	bool yes = false;
	if (PQstatus(c) == CONNECTION_OK) {
		PGresult *r = PQexec(c, sql);
		yes = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 &&
		      strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		PQclear(r);
	}
	PQfinish(c);
	return yes;
}

/* ---- Replication ---- */

int pg_server_start_standby(struct pg_server *standby, struct pg_server *primary)
{
	memset(standby, 0, sizeof *standby);
	if (user_init() != 0 || watchdog_start() != 0 || make_dir(standby) != 0)
		return -1;
	char tool[300], port[16];
	snprintf(tool, sizeof tool, "%s/pg_basebackup", pg_bin());
	snprintf(port, sizeof port, "%d", primary->port);
	/* -R: standby.signal and primary_conninfo; -X stream: the WAL written meanwhile too. */
	char *argv[] = { tool, "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-D",
			 standby->data_dir, "-R", "-X", "stream", "-c", "fast", "--no-sync", NULL };
	if (run_tool(argv, standby->dir, standby->log_path) != 0) {
		print_log(standby, "pg_basebackup failed");
		return -1;
	}
	standby->standby = true;
	if (launch_on_free_port(standby, false) != 0)
		return -1;
	/* Synchronous from here on: '*' is whichever standby streams, the only one. */
	if (pg_server_exec(primary, NULL, "ALTER SYSTEM SET synchronous_standby_names = '*'") != 0 ||
	    pg_server_exec(primary, NULL, "SELECT pg_reload_conf()") != 0)
		return -1;
	for (int waited = 0; waited < PG_SYNC_TIMEOUT_MS; waited += 50) {
		if (query_true(primary, "SELECT count(*) > 0 FROM pg_stat_replication "
					"WHERE state = 'streaming' AND sync_state = 'sync'"))
			return 0;
		msleep(50);
	}
	print_log(standby, "the standby did not become synchronous");
	return -1;
}

int pg_server_promote(struct pg_server *s)
{
	char tool[300];
	snprintf(tool, sizeof tool, "%s/pg_ctl", pg_bin());
	char *argv[] = { tool, "promote", "-w", "-t", "60", "-D", s->data_dir, NULL };
	if (run_tool(argv, s->dir, s->log_path) != 0) {
		print_log(s, "pg_ctl promote failed");
		return -1;
	}
	s->standby = false;
	return 0;
}

/* ---- Databases for tests ---- */

static struct pg_server shared_server;
static char shared_admin[512];

static void shared_stop(void)
{
	if (shared_server.dir[0])
		pg_server_cleanup(&shared_server);
}

const char *pg_test_admin_conninfo(void)
{
	const char *env = getenv("WAKKS_TEST_PG");
	if (env && *env)
		return env;
	if (shared_admin[0])
		return shared_admin;
	if (pg_server_start(&shared_server) != 0) {
		pg_server_cleanup(&shared_server);
		return NULL;
	}
	atexit(shared_stop);
	pg_server_conninfo(&shared_server, "postgres", shared_admin, sizeof shared_admin);
	return shared_admin;
}

const struct pg_server *pg_test_server(void)
{
	return shared_admin[0] ? &shared_server : NULL;
}

/* Appends key=value, quoted the libpq way only when the value needs it (so the string also
 * reads unchanged as a relay.conf value). */
static bool put_kv(char *out, size_t cap, size_t *len, const char *key, const char *val)
{
	bool quote = !*val || strpbrk(val, " \t'\\\"#;");
	int n = snprintf(out + *len, cap - *len, "%s%s=%s", *len ? " " : "", key, quote ? "'" : "");
	if (n < 0 || (size_t)n >= cap - *len)
		return false;
	*len += (size_t)n;
	for (const char *v = val; *v; v++) {
		if (*len + 3 >= cap)
			return false;
		if (*v == '\'' || *v == '\\')
			out[(*len)++] = '\\';
		out[(*len)++] = *v;
	}
	if (*len + 2 >= cap)
		return false;
	if (quote)
		out[(*len)++] = '\'';
	out[*len] = '\0';
	return true;
}

/* The admin connection string with its dbname replaced (it may be a URI or key=value). */
static int with_dbname(const char *admin, const char *db, char *out, size_t cap)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(admin, &err);
	if (!opts) {
		fprintf(stderr, "pg_server: bad connection string: %s\n", err ? err : "");
		PQfreemem(err);
		return -1;
	}
	size_t len = 0;
	bool ok = true;
	out[0] = '\0';
	for (PQconninfoOption *o = opts; ok && o->keyword; o++)
		if (o->val && *o->val && strcmp(o->keyword, "dbname") != 0)
			ok = put_kv(out, cap, &len, o->keyword, o->val);
	ok = ok && put_kv(out, cap, &len, "dbname", db);
	PQconninfoFree(opts);
	return ok ? 0 : -1;
}

int pg_test_create_db(char *conninfo, size_t cap, char *name, size_t name_cap)
{
	static unsigned counter;
	const char *admin = pg_test_admin_conninfo();
	if (!admin || name_cap < 64)
		return -1;
	/* Unique across the processes sharing a server (WAKKS_TEST_PG): pid, counter, time. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(name, name_cap, "wakks_t_%d_%u_%lx", (int)getpid(), ++counter,
		 (unsigned long)(ts.tv_nsec ^ (ts.tv_sec << 20)) & 0xffffffUL);
	char sql[128];
	snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\"", name);
	if (exec_on(admin, sql, false) != 0)
		return -1;
	return with_dbname(admin, name, conninfo, cap);
}

int pg_test_drop_db(const char *name)
{
	const char *admin = pg_test_admin_conninfo();
	if (!admin || strchr(name, '"'))
		return -1;
	char sql[160];
	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", name);
	return exec_on(admin, sql, false);
}

long long pg_test_deadlocks(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r = PQexec(c, "SELECT deadlocks FROM pg_stat_database "
				"WHERE datname = current_database()");
	long long n = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
			      ? strtoll(PQgetvalue(r, 0, 0), NULL, 10)
			      : -1;
	PQclear(r);
	PQfinish(c);
	return n;
}
