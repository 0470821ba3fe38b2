/* SPDX-License-Identifier: MPL-2.0 */
/* The relay behind a reverse proxy: `tls = off` only on a loopback address; the client address a
 * trusted proxy's X-Forwarded-For / Forwarded header names is the one per-address limits count
 * and logs show, and an untrusted peer's header is ignored. Then the real thing: Debian's nginx
 * and HAProxy, each run with its file from docs/proxy as shipped (only addresses and certificate
 * paths substituted), terminate TLS in front of a relay on loopback, and two test devices
 * register and converse through them. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proxy_proc.h"
#include "relay_proc.h"
#include "test_cert.h"
#include "tclient.h"
#include "test.h"
#include "text_file.h"

/* A plain-HTTP WebSocket upgrade to 127.0.0.1:port with one extra header line (NULL: none), as a
 * proxy would send it. Returns the connected socket after a 101, or -1. */
static int upgrade(int port, const char *extra_header)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
		return -1;
	char req[1024];
	int n = snprintf(req, sizeof req,
			 "GET /v1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wakks.v1\r\n%s%s\r\n",
			 port, extra_header ? extra_header : "", extra_header ? "\r\n" : "");
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	char resp[512];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t got = poll(&p, 1, 5000) == 1 ? read(fd, resp, sizeof resp - 1) : -1;
	if (got <= 0) {
		close(fd);
		return -1;
	}
	resp[got] = '\0';
	if (strncmp(resp, "HTTP/1.1 101", 12) != 0) {
		close(fd);
		return -1;
	}
	/* A refusal's close frame may come in the same read as the 101: then the relay waits for
	 * our answer to it, not sending anything more, so it must be seen here. */
	const char *end = strstr(resp, "\r\n\r\n");
	if (end && end + 4 < resp + got && (end[4] & 0x0f) == 8) {
		close(fd);
		return -1;
	}
	return fd;
}

/* True when the relay ends the connection within timeout_ms (a close frame, then EOF). */
static bool closed_by_relay(int fd, int timeout_ms)
{
	char buf[512];
	for (int waited = 0; waited < timeout_ms; waited += 50) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 50) == 1) {
			ssize_t n = read(fd, buf, sizeof buf);
			if (n <= 0)
				return true;
			/* A close frame (opcode 8) is the relay's refusal. */
			if ((buf[0] & 0x0f) == 8)
				return true;
		}
	}
	return false;
}

static void forwarded_for_counts_per_client(void)
{
	struct relay_proc p;
	REQUIRE(relay_proc_start(&p,
				 "[relay]\ntls = off\ntrusted_proxies = 127.0.0.1\n"
				 "[limits]\nmax_connections_per_address = 1\n",
				 true) == 0);
	CHECK(relay_log_contains(&p, "tls=off"));
	/* Two clients behind one proxy: each has its own budget of one connection. */
	int a = upgrade(p.port, "X-Forwarded-For: 198.51.100.7");
	int b = upgrade(p.port, "X-Forwarded-For: 203.0.113.9, 198.51.100.8");
	CHECK(a >= 0);
	CHECK(b >= 0);
	CHECK(a >= 0 && !closed_by_relay(a, 300));
	CHECK(b >= 0 && !closed_by_relay(b, 300));
	/* The first client again: over its budget, refused under its own address. */
	int again = upgrade(p.port, "X-Forwarded-For: 198.51.100.7");
	CHECK(again < 0 || closed_by_relay(again, 3000));
	CHECK(relay_log_contains(&p, "reason=connections_per_address peer=198.51.100.7"));
	CHECK(relay_log_contains(&p, "peer=198.51.100.8 forwarded=yes"));
	/* What the client put in front of the chain is never the address. */
	CHECK(!relay_log_contains(&p, "peer=203.0.113.9"));
	/* The proxy's own connections (no header) are the proxy's. */
	int own = upgrade(p.port, NULL);
	CHECK(own >= 0 && !closed_by_relay(own, 300));
	CHECK(relay_log_contains(&p, "peer=127.0.0.1 forwarded=no"));
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	if (again >= 0)
		close(again);
	if (own >= 0)
		close(own);
	CHECK_EQ_INT(relay_proc_stop(&p), 0);
	relay_proc_cleanup(&p);
}

/* A peer that is not a trusted proxy: its header is a claim like any other, and ignored. */
static void untrusted_peer_header_ignored(void)
{
	struct relay_proc p;
	REQUIRE(relay_proc_start(&p,
				 "[relay]\ntls = off\ntrusted_proxies = 10.0.0.0/8\n"
				 "proxy_header = forwarded\n"
				 "[limits]\nmax_connections_per_address = 1\n",
				 true) == 0);
	int a = upgrade(p.port, "Forwarded: for=198.51.100.7");
	CHECK(a >= 0 && !closed_by_relay(a, 300));
	int b = upgrade(p.port, "Forwarded: for=198.51.100.8");
	CHECK(b < 0 || closed_by_relay(b, 3000));
	CHECK(relay_log_contains(&p, "reason=connections_per_address peer=127.0.0.1"));
	CHECK(!relay_log_contains(&p, "peer=198.51.100"));
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	CHECK_EQ_INT(relay_proc_stop(&p), 0);
	relay_proc_cleanup(&p);
}

/* The Forwarded header (RFC 7239) from a trusted proxy, IPv6 client and port included. */
static void forwarded_header_from_trusted_proxy(void)
{
	struct relay_proc p;
	REQUIRE(relay_proc_start(&p,
				 "[relay]\ntls = off\ntrusted_proxies = 127.0.0.0/8\n"
				 "proxy_header = forwarded\n",
				 true) == 0);
	int a = upgrade(p.port, "Forwarded: for=\"[2001:db8:cafe::17]:4711\";proto=https");
	CHECK(a >= 0 && !closed_by_relay(a, 300));
	CHECK(relay_log_contains(&p, "peer=2001:db8:cafe::17 forwarded=yes"));
	/* X-Forwarded-For is not the configured header: not read. */
	int b = upgrade(p.port, "X-Forwarded-For: 198.51.100.7");
	CHECK(b >= 0 && !closed_by_relay(b, 300));
	CHECK(!relay_log_contains(&p, "peer=198.51.100.7"));
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	CHECK_EQ_INT(relay_proc_stop(&p), 0);
	relay_proc_cleanup(&p);
}

/* Plain HTTP on an address other machines reach is refused at start, saying why. */
static void tls_off_refused_on_a_public_address(void)
{
	struct relay_proc p;
	struct relay_proc_opts o = { .dev = true,
				     .extra_config = "[relay]\nlisten = 0.0.0.0\ntls = off\n" };
	REQUIRE(relay_proc_prepare(&p, &o) == 0);
	CHECK_EQ_INT(relay_proc_run_to_exit(&p, true, 10000), 2);
	CHECK(relay_log_contains(&p, "tls = off needs a listen address only this machine reaches"));
	CHECK(!relay_log_contains(&p, "event=listening"));
	relay_proc_cleanup(&p);
}

/* --- nginx in front ------------------------------------------------------------------------ */

/* Writes DIR/nginx.conf around the shipped server block (its own paths and ports substituted)
 * and starts nginx in the foreground. Over TCP the relay sees nginx come from 127.0.0.2
 * (proxy_bind), so that the client (127.0.0.1) and the proxy have different addresses; with
 * unix_socket the relay listens there. Returns nginx's pid or -1. */
static pid_t start_nginx(const char *dir, int port, int relay_port, const char *unix_socket,
			 const char *cert, const char *key)
{
	char path[600];
	snprintf(path, sizeof path, "%s/docs/proxy/nginx-os2wakks.conf", WAKKS_SOURCE_ROOT);
	char *site = test_read_text(path);
	if (!site)
		return -1;
	char listen[64], upstream[400], bind_line[160];
	snprintf(listen, sizeof listen, "listen 127.0.0.1:%d ssl http2;", port);
	if (unix_socket)
		snprintf(upstream, sizeof upstream, "server unix:%s;", unix_socket);
	else
		snprintf(upstream, sizeof upstream, "server 127.0.0.1:%d;", relay_port);
	snprintf(bind_line, sizeof bind_line, "proxy_pass http://os2wakks_relay;%s",
		 unix_socket ? "" : "\n\t\tproxy_bind 127.0.0.2;");
	char cert_line[400], key_line[400];
	snprintf(cert_line, sizeof cert_line, "ssl_certificate     %s;", cert);
	snprintf(key_line, sizeof key_line, "ssl_certificate_key %s;", key);
	if (text_replace(&site, "listen 443 ssl http2;", listen) != 0 ||
	    text_replace(&site, "listen [::]:443 ssl http2;", "") != 0 ||
	    text_replace(&site, "server 127.0.0.1:8080;", upstream) != 0 ||
	    text_replace(&site, "ssl_certificate     /etc/ssl/os2wakks/fullchain.pem;", cert_line) != 0 ||
	    text_replace(&site, "ssl_certificate_key /etc/ssl/os2wakks/privkey.pem;", key_line) != 0 ||
	    text_replace(&site, "proxy_pass http://os2wakks_relay;", bind_line) != 0) {
		free(site);
		return -1;
	}
	char site_path[600], conf_path[600];
	snprintf(site_path, sizeof site_path, "%s/site.conf", dir);
	snprintf(conf_path, sizeof conf_path, "%s/nginx.conf", dir);
	FILE *f = fopen(site_path, "w");
	if (!f)
		return -1;
	fputs(site, f);
	fclose(f);
	free(site);
	f = fopen(conf_path, "w");
	if (!f)
		return -1;
	/* Run as the test's user (root in CI: workers as root too, so they can use the test's
	 * private directory); nginx ignores `user` when not started as root. */
	fprintf(f,
		"daemon off;\nmaster_process on;\nworker_processes 1;\nuser %s;\n"
		"pid %s/nginx.pid;\nerror_log %s/error.log info;\n"
		"events { worker_connections 128; }\n"
		"http {\n  access_log %s/access.log;\n"
		"  client_body_temp_path %s/body;\n  proxy_temp_path %s/proxy;\n"
		"  fastcgi_temp_path %s/fastcgi;\n  uwsgi_temp_path %s/uwsgi;\n"
		"  scgi_temp_path %s/scgi;\n  include %s;\n}\n",
		geteuid() == 0 ? "root" : "nobody", dir, dir, dir, dir, dir, dir, dir, dir, site_path);
	fclose(f);

	static char sbin[] = "/usr/sbin/nginx", bin[] = "nginx", p[] = "-p", c[] = "-c", e[] = "-e";
	char log[600];
	snprintf(log, sizeof log, "%s/nginx.stderr", dir);
	char *argv[] = { access(sbin, X_OK) == 0 ? sbin : bin, p, (char *)dir, c, conf_path, e, log,
			 NULL };
	return proxy_run(argv, log, port);
}


/* Writes DIR/haproxy.cfg: a global section of the test's and the shipped file with its
 * certificate, port and relay substituted; the relay sees HAProxy come from 127.0.0.2. Starts
 * HAProxy in the foreground. Returns its pid or -1. */
static pid_t start_haproxy(const char *dir, int port, int relay_port, const char *cert,
			   const char *key)
{
	char path[600], pem[600];
	snprintf(path, sizeof path, "%s/docs/proxy/haproxy-os2wakks.cfg", WAKKS_SOURCE_ROOT);
	char *cfg = test_read_text(path);
	if (!cfg || haproxy_pem(dir, cert, key, pem, sizeof pem) != 0) {
		free(cfg);
		return -1;
	}
	char bind[800], server[128];
	snprintf(bind, sizeof bind, "bind 127.0.0.1:%d ssl crt %s alpn", port, pem);
	snprintf(server, sizeof server, "server relay 127.0.0.1:%d check source 127.0.0.2", relay_port);
	if (text_replace(&cfg, "bind :443 ssl crt /etc/haproxy/certs/wakks.example.dk.pem alpn", bind) != 0 ||
	    text_replace(&cfg, "server relay 127.0.0.1:8080 check", server) != 0) {
		free(cfg);
		return -1;
	}
	char log[600];
	pid_t pid = haproxy_run(dir, cfg, port, log, sizeof log);
	free(cfg);
	return pid;
}

enum proxy_kind { NGINX, HAPROXY, NGINX_UNIX_SOCKET };

/* A relay on loopback (or a unix socket) without TLS, the proxy in front with TLS; a citizen and
 * a caseworker register through it (the development provider's login too) and a message goes
 * from one to the other. The relay must see the client (127.0.0.1) through the proxy's header,
 * never the proxy (127.0.0.2, or the socket's peer). */
static void converse_through(enum proxy_kind kind)
{
	/* The relay's public URL is the proxy's: the development provider's issuer names it. */
	int port = loopback_free_port();
	REQUIRE(port > 0);
	char extra[256];
	snprintf(extra, sizeof extra,
		 "[relay]\ntls = off\ntrusted_proxies = 127.0.0.2\npublic_url = https://localhost:%d\n",
		 port);
	struct relay_proc p;
	struct relay_proc_opts o = { .dev = true, .extra_config = extra };
	REQUIRE(relay_proc_prepare(&p, &o) == 0);
	char sock[400] = "";
	if (kind == NGINX_UNIX_SOCKET) {
		snprintf(sock, sizeof sock, "%s/relay.sock", p.dir);
		FILE *f = fopen(p.config_path, "a");
		REQUIRE(f != NULL);
		fprintf(f, "[relay]\nlisten = unix:%s\n", sock);
		fclose(f);
	}
	REQUIRE(relay_proc_restart(&p, true) == 0);
	if (kind == NGINX_UNIX_SOCKET) {
		struct stat st;
		CHECK(stat(sock, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0660);
	}
	char cert[300], key[300];
	REQUIRE(test_cert_write(p.dir, cert, key, sizeof cert) == 0);
	pid_t proxy = kind == HAPROXY ? start_haproxy(p.dir, port, p.port, cert, key)
				      : start_nginx(p.dir, port, p.port, sock[0] ? sock : NULL, cert, key);
	REQUIRE(proxy > 0);

	int status = 0;
	char *body = NULL;
	CHECK_EQ_INT(https_request(port, "GET", "/", NULL, NULL, &status, &body, NULL, 0), 0);
	CHECK_EQ_INT(status, 200);
	CHECK(body && strstr(body, "<html") != NULL);
	free(body);
	body = NULL;
	/* Monitoring stays on the admin listener: the proxy reaches none of it. */
	CHECK_EQ_INT(https_request(port, "GET", "/metrics", NULL, NULL, &status, &body, NULL, 0), 0);
	CHECK_EQ_INT(status, 404);
	free(body);

	struct tdev anna, camilla;
	tdev_init(&anna, port);
	tdev_init(&camilla, port);
	CHECK_EQ_INT(tdev_register(&anna, "dev-mitid", "anna", 5), 0);
	CHECK_EQ_INT(tdev_register(&camilla, "dev-adfs", "camilla", 5), 0);
	uint8_t devs[1][16], cmid[16];
	memcpy(devs[0], camilla.device_id, 16);
	randombytes_buf(cmid, sizeof cmid);
	CHECK_EQ_INT(tdev_send(&anna, cmid, NULL, 0, "varde", "jobcenter",
			       (const uint8_t(*)[16])devs, 1, "through the proxy", 17, false),
		     PROTO_T_STORED);
	CHECK_EQ_INT(tdev_wait(&camilla, PROTO_T_DELIVER, 5000), PROTO_T_DELIVER);
	const proto_deliver *d = &camilla.frame.body.deliver;
	CHECK(d->ciphertext.len == 17 && memcmp(d->ciphertext.ptr, "through the proxy", 17) == 0);
	CHECK_MEM(d->account, anna.account_id, 16);
	CHECK_EQ_INT(tdev_ack(&camilla, d->seq), PROTO_T_OK);

	CHECK(relay_log_contains(&p, "peer=127.0.0.1 forwarded=yes"));
	CHECK(!relay_log_contains(&p, "peer=127.0.0.2"));
	CHECK(!relay_log_contains(&p, "peer=unix"));
	CHECK(!relay_log_contains(&p, "forwarded=no"));

	tdev_free(&anna);
	tdev_free(&camilla);
	proxy_stop(proxy, kind == HAPROXY ? SIGUSR1 : SIGQUIT); /* both: graceful */
	CHECK_EQ_INT(relay_proc_stop(&p), 0);
	relay_proc_cleanup(&p);
}

static void register_and_converse_through_nginx(void)
{
	converse_through(NGINX);
}

static void register_and_converse_through_haproxy(void)
{
	converse_through(HAPROXY);
}

static void register_and_converse_through_nginx_to_a_unix_socket(void)
{
	converse_through(NGINX_UNIX_SOCKET);
}

/* A unix socket path must be absolute; tls = off is allowed on one. */
static void unix_socket_listen_checked(void)
{
	struct relay_proc p;
	struct relay_proc_opts o = { .dev = true,
				     .extra_config = "[relay]\nlisten = unix:relay.sock\ntls = off\n" };
	REQUIRE(relay_proc_prepare(&p, &o) == 0);
	CHECK_EQ_INT(relay_proc_run_to_exit(&p, true, 10000), 2);
	CHECK(relay_log_contains(&p, "a unix socket is unix:/ABSOLUTE/PATH"));
	relay_proc_cleanup(&p);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(forwarded_for_counts_per_client);
	RUN(untrusted_peer_header_ignored);
	RUN(forwarded_header_from_trusted_proxy);
	RUN(tls_off_refused_on_a_public_address);
	RUN(register_and_converse_through_nginx);
	RUN(register_and_converse_through_haproxy);
	RUN(register_and_converse_through_nginx_to_a_unix_socket);
	RUN(unix_socket_listen_checked);
	return TEST_RESULT();
}
