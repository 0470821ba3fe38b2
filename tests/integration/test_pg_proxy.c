/* SPDX-License-Identifier: MPL-2.0 */
/* The reference load balancer of docs/deployment.md section 8, as shipped (docs/ha/haproxy.cfg,
 * only addresses, ports and certificate paths substituted), in front of three relays on one
 * PostgreSQL database: WebSockets pass through it to relays that it reaches over TLS and checks
 * against their CA; its health checks read each relay's /readyz on the monitoring port. Two of
 * the three relays are killed: a device reconnecting at once is passed to the live relay (a
 * refused attempt is redispatched), HAProxy marks the dead ones down from their health checks,
 * and what was sent before and after reaches the devices. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pg_server.h"
#include "relay_proc.h"
#include "tclient.h"
#include "test.h"
#include "test_cert.h"

static struct relay_proc relays[3];
static struct tdev anna, bo;
static pid_t haproxy;
static char db[64];
/* HAProxy's files and the relays' certificate: one certificate for localhost that stands for the
 * internal CA's certificates of the relays (HAProxy verifies the relays against it). */
static char dir[] = "/tmp/wakks-proxy-XXXXXX";
static char cert[300], key[300];
static char haproxy_log[600];

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
	fclose(f);
	if (buf)
		buf[got] = '\0';
	return buf;
}

/* Replaces the one occurrence of from in *s. Returns 0, or -1 if it is missing. */
static int replace(char **s, const char *from, const char *to)
{
	char *at = strstr(*s, from);
	if (!at)
		return -1;
	size_t head = (size_t)(at - *s), fl = strlen(from), tl = strlen(to), rest = strlen(at + fl);
	char *out = malloc(head + tl + rest + 1);
	memcpy(out, *s, head);
	memcpy(out + head, to, tl);
	memcpy(out + head + tl, at + fl, rest + 1);
	free(*s);
	*s = out;
	return 0;
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	int port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Relay k on a fixed port (HAProxy's configuration names it), believing HAProxy's header. The
 * relays after the first get its account-id key. */
static int start_relay(int k, const char *conninfo)
{
	char extra[1024];
	snprintf(extra, sizeof extra, "[relay]\ntrusted_proxies = 127.0.0.2\ntls_cert = %s\ntls_key = %s\n"
		 "[limits]\nsends_per_minute = 100000\n", cert, key);
	struct relay_proc_opts o = { .dev = true, .extra_config = extra, .pg_conninfo = conninfo,
				     .port = free_port() };
	if (k == 0)
		return relay_proc_start_opts(&relays[0], &o);
	if (relay_proc_prepare(&relays[k], &o) != 0 || mkdir(relays[k].data_dir, 0700) != 0)
		return -1;
	char cmd[900];
	snprintf(cmd, sizeof cmd, "install -m 600 '%s/account-id.key' '%s/account-id.key'",
		 relays[0].data_dir, relays[k].data_dir);
	if (system(cmd) != 0)
		return -1;
	return relay_proc_restart(&relays[k], true);
}

static bool port_open(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* docs/ha/haproxy.cfg with this machine's ports and files; HAProxy's connections to the relays
 * come from 127.0.0.2 (their trusted proxy). Returns the pid, or -1. */
static pid_t start_haproxy(int port)
{
	char path[600];
	snprintf(path, sizeof path, "%s/docs/ha/haproxy.cfg", WAKKS_SOURCE_ROOT);
	char *cfg = read_all(path), *c = read_all(cert), *k = read_all(key);
	char pem[600];
	snprintf(pem, sizeof pem, "%s/haproxy.pem", dir);
	FILE *f = fopen(pem, "w");
	if (!cfg || !c || !k || !f)
		return -1;
	fprintf(f, "%s%s", c, k);
	fclose(f);
	free(c);
	free(k);
	char bind[800], ca[700];
	snprintf(bind, sizeof bind, "bind 127.0.0.1:%d ssl crt %s alpn", port, pem);
	snprintf(ca, sizeof ca, "ca-file %s", cert);
	int bad = replace(&cfg, "bind :443 ssl crt /etc/haproxy/certs/wakks.example.dk.pem alpn", bind) ||
		  replace(&cfg, "ca-file /etc/haproxy/relay-ca.pem", ca);
	for (int i = 0; i < 3; i++) {
		char from[128], to[160];
		snprintf(from, sizeof from, "server relay%d 10.0.1.1%d:8443 verifyhost relay%d.wakks.internal",
			 i + 1, i + 1, i + 1);
		snprintf(to, sizeof to, "server relay%d 127.0.0.1:%d verifyhost localhost port %d source 127.0.0.2",
			 i + 1, relays[i].port, relays[i].admin_port);
		bad = bad || replace(&cfg, from, to);
	}
	if (bad) {
		fprintf(stderr, "docs/ha/haproxy.cfg no longer has the lines this test substitutes\n");
		free(cfg);
		return -1;
	}
	char conf[600];
	snprintf(conf, sizeof conf, "%s/haproxy.cfg", dir);
	snprintf(haproxy_log, sizeof haproxy_log, "%s/haproxy.stderr", dir);
	f = fopen(conf, "w");
	if (!f)
		return -1;
	fprintf(f, "global\n\tmaxconn 256\n\n%s", cfg);
	fclose(f);
	free(cfg);
	const char *bin = access("/usr/sbin/haproxy", X_OK) == 0 ? "/usr/sbin/haproxy" : "haproxy";
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int fd = open(haproxy_log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp(bin, bin, "-db", "-f", conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		if (port_open(port))
			return pid;
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		msleep(50);
	}
	char *text = read_all(haproxy_log);
	fprintf(stderr, "haproxy did not start:\n%s\n", text ? text : "(no output)");
	free(text);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static bool log_says(const char *needle)
{
	char *text = read_all(haproxy_log);
	bool yes = text && strstr(text, needle);
	free(text);
	return yes;
}

/* Logs in through HAProxy, retrying while it still sends some attempts to a relay it has not
 * yet marked down. */
static int login_through(struct tdev *d, int port, int within_ms)
{
	d->port = port;
	for (int waited = 0; waited < within_ms; waited += 250) {
		if (tdev_login(d) == 0)
			return 0;
		tdev_disconnect(d);
		msleep(250);
	}
	return -1;
}

static int send_to_bo(const uint8_t cmid[16])
{
	uint8_t to[1][16], devs[1][16];
	memcpy(to[0], bo.account_id, 16);
	memcpy(devs[0], bo.device_id, 16);
	return tdev_send(&anna, cmid, (const uint8_t(*)[16])to, 1, NULL, NULL,
			 (const uint8_t(*)[16])devs, 1, cmid, 16, false);
}

/* bo receives cmid (and acks it). */
static bool bo_receives(const uint8_t cmid[16])
{
	while (tdev_wait(&bo, PROTO_T_DELIVER, 5000) == PROTO_T_DELIVER) {
		bool it = memcmp(bo.frame.body.deliver.cmid, cmid, 16) == 0;
		tdev_ack(&bo, bo.frame.body.deliver.seq);
		if (it)
			return true;
	}
	return false;
}

static void devices_converse_through_haproxy_while_relays_die(void)
{
	char conninfo[600];
	REQUIRE(mkdtemp(dir) != NULL);
	REQUIRE(test_cert_write(dir, cert, key, sizeof cert) == 0);
	REQUIRE(pg_test_create_db(conninfo, sizeof conninfo, db, sizeof db) == 0);
	for (int k = 0; k < 3; k++)
		REQUIRE(start_relay(k, conninfo) == 0);
	int port = free_port();
	REQUIRE(port > 0);
	haproxy = start_haproxy(port);
	REQUIRE(haproxy > 0);

	/* Registered on the first relay directly (the development provider's login codes are one
	 * relay's), then only through HAProxy. */
	tdev_init(&anna, relays[0].port);
	tdev_init(&bo, relays[0].port);
	REQUIRE(tdev_register(&anna, "dev-mitid", "anna", 1) == 0);
	REQUIRE(tdev_register(&bo, "dev-mitid", "bo", 1) == 0);
	REQUIRE(login_through(&anna, port, 5000) == 0);
	REQUIRE(login_through(&bo, port, 5000) == 0);
	uint8_t m1[16], m2[16], m3[16];
	randombytes_buf(m1, 16);
	CHECK_EQ_INT(send_to_bo(m1), PROTO_T_STORED);
	CHECK(bo_receives(m1));
	/* The health checks pass through the monitoring port (/readyz answers 200). */
	msleep(2500);
	CHECK(!log_says(" is DOWN"));

	/* bo goes offline, anna sends, two relays die. */
	tdev_disconnect(&bo);
	randombytes_buf(m2, 16);
	CHECK_EQ_INT(send_to_bo(m2), PROTO_T_STORED);
	relay_proc_kill(&relays[0]);
	relay_proc_kill(&relays[1]);
	/* At once, before any health check noticed: an attempt that meets a dead relay is
	 * redispatched to another (retries, option redispatch), which with two of three dead may
	 * still be a dead one; a client then tries again, as its back-off does. Every log-in gets
	 * through within three tries, and most at the first. */
	anna.port = port;
	int first_try = 0, in_three = 0;
	for (int i = 0; i < 6; i++) {
		bool in = false;
		for (int attempt = 0; attempt < 3 && !in; attempt++) {
			tdev_disconnect(&anna);
			in = tdev_login(&anna) == 0;
			first_try += in && attempt == 0;
		}
		in_three += in;
	}
	CHECK_EQ_INT(in_three, 6);
	fprintf(stderr, "log-ins through HAProxy at the first try: %d of 6\n", first_try);
	CHECK(first_try >= 4);
	/* inter 2s, fall 3: down within about 6 s. */
	bool down = false;
	for (int i = 0; i < 100 && !down; i++) {
		down = log_says("relay1 is DOWN") && log_says("relay2 is DOWN");
		if (!down)
			msleep(100);
	}
	CHECK(down);
	CHECK(!log_says("relay3 is DOWN"));
	/* bo reaches the relay left too, and what was sent while he was away. */
	REQUIRE(login_through(&bo, port, 10000) == 0);
	CHECK(bo_receives(m2));
	randombytes_buf(m3, 16);
	CHECK_EQ_INT(send_to_bo(m3), PROTO_T_STORED);
	CHECK(bo_receives(m3));
	/* The relay believed HAProxy's X-Forwarded-For (trusted_proxies): it saw the client. */
	CHECK(relay_log_contains(&relays[2], "peer=127.0.0.1 forwarded=yes"));
}

int main(void)
{
	setenv("WAKKS_TEST_ENGINE", "postgresql", 1);
	if (sodium_init() < 0)
		return 1;
	RUN(devices_converse_through_haproxy_while_relays_die);
	if (haproxy > 0) {
		kill(haproxy, SIGTERM);
		waitpid(haproxy, NULL, 0);
	}
	tdev_free(&anna);
	tdev_free(&bo);
	for (int k = 2; k >= 0; k--)
		relay_proc_cleanup(&relays[k]);
	if (db[0])
		pg_test_drop_db(db);
	if (dir[strlen(dir) - 1] != 'X' && !getenv("WAKKS_KEEP_TEST_DIRS")) {
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return TEST_RESULT();
}
