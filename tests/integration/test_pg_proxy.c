/* SPDX-License-Identifier: MPL-2.0 */
/* The reference load balancer of docs/deployment.md section 8, as shipped (docs/ha/haproxy.cfg,
 * only addresses, ports and certificate paths substituted), in front of three relays on one
 * PostgreSQL database: WebSockets pass through it to relays that it reaches over TLS and checks
 * against their CA; its health checks read each relay's /readyz on the monitoring port. Two of
 * the three relays are killed: a device reconnecting at once is passed to the live relay (a
 * refused attempt is redispatched), HAProxy marks the dead ones down from their health checks,
 * and what was sent before and after reaches the devices. */
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pg_server.h"
#include "proxy_proc.h"
#include "relay_proc.h"
#include "tclient.h"
#include "test.h"
#include "test_cert.h"
#include "text_file.h"

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

/* Relay k on a fixed port (HAProxy's configuration names it), believing HAProxy's header. The
 * relays after the first get its account-id key. */
static int start_relay(int k, const char *conninfo)
{
	char extra[1024];
	snprintf(extra, sizeof extra, "[relay]\ntrusted_proxies = 127.0.0.2\ntls_cert = %s\ntls_key = %s\n"
		 "[limits]\nsends_per_minute = 100000\n", cert, key);
	struct relay_proc_opts o = { .dev = true, .extra_config = extra, .pg_conninfo = conninfo,
				     .port = loopback_free_port() };
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

/* docs/ha/haproxy.cfg with this machine's ports and files; HAProxy's connections to the relays
 * come from 127.0.0.2 (their trusted proxy). Returns the pid, or -1. */
static pid_t start_haproxy(int port)
{
	char path[600], pem[600];
	snprintf(path, sizeof path, "%s/docs/ha/haproxy.cfg", WAKKS_SOURCE_ROOT);
	char *cfg = test_read_text(path);
	if (!cfg || haproxy_pem(dir, cert, key, pem, sizeof pem) != 0) {
		free(cfg);
		return -1;
	}
	char bind[800], ca[700];
	snprintf(bind, sizeof bind, "bind 127.0.0.1:%d ssl crt %s alpn", port, pem);
	snprintf(ca, sizeof ca, "ca-file %s", cert);
	int bad = text_replace(&cfg, "bind :443 ssl crt /etc/haproxy/certs/wakks.example.dk.pem alpn", bind) ||
		  text_replace(&cfg, "ca-file /etc/haproxy/relay-ca.pem", ca);
	for (int i = 0; i < 3; i++) {
		char from[128], to[160];
		snprintf(from, sizeof from, "server relay%d 10.0.1.1%d:8443 verifyhost relay%d.wakks.internal",
			 i + 1, i + 1, i + 1);
		snprintf(to, sizeof to, "server relay%d 127.0.0.1:%d verifyhost localhost port %d source 127.0.0.2",
			 i + 1, relays[i].port, relays[i].admin_port);
		bad = bad || text_replace(&cfg, from, to);
	}
	if (bad) {
		fprintf(stderr, "docs/ha/haproxy.cfg no longer has the lines this test substitutes\n");
		free(cfg);
		return -1;
	}
	pid_t pid = haproxy_run(dir, cfg, port, haproxy_log, sizeof haproxy_log);
	free(cfg);
	return pid;
}

static bool log_says(const char *needle)
{
	char *text = test_read_text(haproxy_log);
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
	int port = loopback_free_port();
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
