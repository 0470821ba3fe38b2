/* SPDX-License-Identifier: MPL-2.0 */
/* Behind a reverse proxy (core/proxy_addr.h and the [relay] keys tls, trusted_proxies,
 * proxy_header): which header entries are believed, which listen addresses allow tls = off, and
 * the clear errors for everything else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/proxy_addr.h"
#include "test.h"

static struct relay_config cfg;
static char err[RELAY_CONFIG_ERRORS_MAX * 320];

/* Loads text, then checks it the way a starting relay does. Returns 0 or -1. */
static int load(const char *text)
{
	char path[] = "/tmp/wakks-proxy-config-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return -99;
	close(fd);
	relay_config_defaults(&cfg);
	err[0] = '\0';
	int rc = relay_config_load(&cfg, path, err, sizeof err);
	if (rc == 0)
		rc = relay_config_check(&cfg, err, sizeof err);
	if (rc == 0)
		rc = relay_config_check_tls(&cfg, err, sizeof err);
	unlink(path);
	return rc;
}

static struct relay_cidr trusted[RELAY_MAX_TRUSTED_PROXIES];
static int n_trusted;

static const char *client(enum relay_proxy_header kind, const char *peer, const char *header)
{
	static char out[RELAY_ADDR_STR_MAX];
	relay_proxy_client_address(trusted, n_trusted, kind, peer, header, out, sizeof out);
	return out;
}

static void cidr_blocks(void)
{
	struct relay_cidr c;
	CHECK_EQ_INT(relay_cidr_parse("10.0.0.0/8", &c), 0);
	CHECK_EQ_INT(c.prefix, 8);
	CHECK_EQ_INT(relay_cidr_parse("192.0.2.1", &c), 0);
	CHECK_EQ_INT(c.prefix, 32);
	CHECK_EQ_INT(relay_cidr_parse("2001:db8::/32", &c), 0);
	CHECK_EQ_INT(relay_cidr_parse("10.0.0.0/33", &c), -1);
	CHECK_EQ_INT(relay_cidr_parse("10.0.0.0/", &c), -1);
	CHECK_EQ_INT(relay_cidr_parse("10.0.0.0/-1", &c), -1);
	CHECK_EQ_INT(relay_cidr_parse("proxy.example", &c), -1);
	CHECK_EQ_INT(relay_cidr_parse("10.0.0.256", &c), -1);

	char why[128];
	struct relay_cidr list[4];
	int n = relay_cidr_list_parse("10.1.0.0/16, 192.0.2.10 ::1", list, 4, why, sizeof why);
	CHECK_EQ_INT(n, 3);
	CHECK(relay_cidr_list_contains(list, n, "10.1.200.3"));
	CHECK(!relay_cidr_list_contains(list, n, "10.2.0.1"));
	CHECK(relay_cidr_list_contains(list, n, "192.0.2.10"));
	CHECK(!relay_cidr_list_contains(list, n, "192.0.2.11"));
	CHECK(relay_cidr_list_contains(list, n, "::1"));
	/* An IPv4-mapped IPv6 peer is the IPv4 address it carries. */
	CHECK(relay_cidr_list_contains(list, n, "::ffff:10.1.2.3"));
	CHECK(!relay_cidr_list_contains(list, n, "garbage"));
	/* A block boundary that is not a whole byte. */
	n = relay_cidr_list_parse("172.16.0.0/12", list, 4, why, sizeof why);
	CHECK(relay_cidr_list_contains(list, n, "172.31.255.255"));
	CHECK(!relay_cidr_list_contains(list, n, "172.32.0.0"));
	CHECK_EQ_INT(relay_cidr_list_parse("1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4,5.5.5.5", list, 4, why,
					   sizeof why), -1);
	CHECK(strstr(why, "more than 4") != NULL);
	CHECK_EQ_INT(relay_cidr_list_parse("10.0.0.0/8, nginx", list, 4, why, sizeof why), -1);
	CHECK(strstr(why, "'nginx'") != NULL);
}

static void x_forwarded_for(void)
{
	char why[64];
	n_trusted = relay_cidr_list_parse("127.0.0.1, 10.0.0.0/8", trusted, 16, why, sizeof why);
	enum relay_proxy_header x = RELAY_PROXY_HEADER_XFF;
	/* A peer that is no trusted proxy is the client, whatever it claims. */
	CHECK(strcmp(client(x, "198.51.100.9", "203.0.113.5"), "198.51.100.9") == 0);
	/* A trusted proxy's header names the client. */
	CHECK(strcmp(client(x, "127.0.0.1", "203.0.113.5"), "203.0.113.5") == 0);
	/* Without a header, the proxy itself. */
	CHECK(strcmp(client(x, "127.0.0.1", NULL), "127.0.0.1") == 0);
	CHECK(strcmp(client(x, "127.0.0.1", ""), "127.0.0.1") == 0);
	/* The right-most untrusted entry: what the client put in front is not believed. */
	CHECK(strcmp(client(x, "127.0.0.1", "1.2.3.4, 203.0.113.5"), "203.0.113.5") == 0);
	/* Trusted hops (a load balancer in front of nginx) are skipped. */
	CHECK(strcmp(client(x, "127.0.0.1", "1.2.3.4, 203.0.113.5, 10.0.0.7"), "203.0.113.5") == 0);
	CHECK(strcmp(client(x, "127.0.0.1", "203.0.113.5,10.0.0.7 ,  10.9.9.9"), "203.0.113.5") == 0);
	/* Only trusted hops: the left-most. */
	CHECK(strcmp(client(x, "127.0.0.1", "10.0.0.8, 10.0.0.7"), "10.0.0.8") == 0);
	/* Garbage ends the walk at the trusted hop to its right. */
	CHECK(strcmp(client(x, "127.0.0.1", "203.0.113.5, bogus, 10.0.0.7"), "10.0.0.7") == 0);
	CHECK(strcmp(client(x, "127.0.0.1", "bogus"), "127.0.0.1") == 0);
	CHECK(strcmp(client(x, "127.0.0.1", "unknown"), "127.0.0.1") == 0);
	/* Ports and IPv6, normalised. */
	CHECK(strcmp(client(x, "127.0.0.1", "203.0.113.5:4711"), "203.0.113.5") == 0);
	CHECK(strcmp(client(x, "127.0.0.1", "2001:DB8::17"), "2001:db8::17") == 0);
	CHECK(strcmp(client(x, "127.0.0.1", "[2001:db8::17]:4711"), "2001:db8::17") == 0);
	CHECK(strcmp(client(x, "127.0.0.1", "::ffff:203.0.113.5"), "203.0.113.5") == 0);
	CHECK(strcmp(client(x, "127.0.0.1", "[2001:db8::17"), "127.0.0.1") == 0);
}

static void forwarded_header(void)
{
	char why[64];
	n_trusted = relay_cidr_list_parse("127.0.0.1", trusted, 16, why, sizeof why);
	enum relay_proxy_header f = RELAY_PROXY_HEADER_FORWARDED;
	CHECK(strcmp(client(f, "127.0.0.1", "for=192.0.2.60;proto=https;by=127.0.0.1"),
		     "192.0.2.60") == 0);
	CHECK(strcmp(client(f, "127.0.0.1", "For=\"[2001:db8:cafe::17]:4711\""), "2001:db8:cafe::17") ==
	      0);
	CHECK(strcmp(client(f, "127.0.0.1", "for=192.0.2.43, for=198.51.100.17;proto=https"),
		     "198.51.100.17") == 0);
	CHECK(strcmp(client(f, "127.0.0.1", "for=\"192.0.2.43:47011\""), "192.0.2.43") == 0);
	/* Obfuscated identifiers and elements without for= are not addresses. */
	CHECK(strcmp(client(f, "127.0.0.1", "for=_hidden"), "127.0.0.1") == 0);
	CHECK(strcmp(client(f, "127.0.0.1", "proto=https"), "127.0.0.1") == 0);
	/* The other header is not read for this kind. */
	CHECK(strcmp(client(f, "198.51.100.1", "for=192.0.2.60"), "198.51.100.1") == 0);
}

static void local_listen_addresses(void)
{
	CHECK(relay_listen_is_local("127.0.0.1"));
	CHECK(relay_listen_is_local("127.0.1.1"));
	CHECK(relay_listen_is_local("::1"));
	CHECK(!relay_listen_is_local("localhost")); /* a name: what it resolves to is not checked */
	CHECK(!relay_listen_is_local("0.0.0.0"));
	CHECK(!relay_listen_is_local("::"));
	CHECK(!relay_listen_is_local("192.0.2.1"));
	CHECK(!relay_listen_is_local(""));
	CHECK(!relay_listen_is_local("eth0"));
	CHECK(!relay_listen_is_local("128.0.0.1"));
	CHECK(relay_listen_is_local("unix:/run/os2wakks/relay.sock"));
	CHECK(!relay_listen_is_local("unix:relay.sock"));
	CHECK(!relay_listen_is_local("unix:"));
	char longpath[200] = "unix:/";
	memset(longpath + 6, 'a', 120);
	CHECK(!relay_listen_is_local(longpath));
	CHECK(relay_listen_unix_path("unix:/run/x.sock") && strcmp(relay_listen_unix_path("unix:/run/x.sock"), "/run/x.sock") == 0);
	CHECK(relay_listen_unix_path("127.0.0.1") == NULL);
}

/* A peer on the relay's unix socket (NULL): the local proxy, whose header is believed. */
static void unix_socket_peer(void)
{
	n_trusted = 0;
	char out[RELAY_ADDR_STR_MAX];
	CHECK(relay_proxy_client_address(trusted, 0, RELAY_PROXY_HEADER_XFF, NULL, "1.2.3.4, 203.0.113.5",
					 out, sizeof out));
	CHECK(strcmp(out, "203.0.113.5") == 0);
	CHECK(!relay_proxy_client_address(trusted, 0, RELAY_PROXY_HEADER_XFF, NULL, NULL, out, sizeof out));
	CHECK(strcmp(out, RELAY_UNIX_PEER) == 0);
	CHECK(!relay_proxy_client_address(trusted, 0, RELAY_PROXY_HEADER_XFF, NULL, "garbage", out, sizeof out));
	CHECK(strcmp(out, RELAY_UNIX_PEER) == 0);
}

static void config_keys(void)
{
	relay_config_defaults(&cfg);
	CHECK_EQ_INT(cfg.tls, 1);
	CHECK_EQ_INT(cfg.trusted_proxy_count, 0);
	CHECK_EQ_INT(load("[relay]\nlisten = 127.0.0.1\ntls = off\n"
			  "trusted_proxies = 127.0.0.1, 10.0.0.0/8\nproxy_header = forwarded\n"),
		     0);
	CHECK_EQ_INT(cfg.tls, 0);
	CHECK_EQ_INT(cfg.trusted_proxy_count, 2);
	CHECK_EQ_INT(cfg.proxy_header, RELAY_PROXY_HEADER_FORWARDED);
	/* tls = off needs no certificate, also without --dev. */
	CHECK_EQ_INT(load("[relay]\nlisten = ::1\ntls = off\n"), 0);
	CHECK_EQ_INT(load("[relay]\nlisten = unix:/run/os2wakks/relay.sock\ntls = off\n"), 0);
	CHECK_EQ_INT(load("[relay]\nlisten = unix:run/relay.sock\n"), -1);
	CHECK(strstr(err, "a unix socket is unix:/ABSOLUTE/PATH") != NULL);
}

static void config_errors(void)
{
	/* Plain HTTP on an address others reach is refused, with what to do instead. */
	CHECK_EQ_INT(load("[relay]\nlisten = 0.0.0.0\ntls = off\n"), -1);
	CHECK(strstr(err, "tls = off needs a listen address only this machine reaches") != NULL);
	CHECK(strstr(err, "'0.0.0.0'") != NULL);
	CHECK_EQ_INT(load("[relay]\nlisten = 192.0.2.1\ntls = off\n"), -1);
	CHECK_EQ_INT(load("[relay]\ntls = maybe\n"), -1);
	CHECK(strstr(err, ":2: key 'tls': 'maybe' is not one of on, off") != NULL);
	CHECK_EQ_INT(load("[relay]\ntrusted_proxies = 10.0.0.0/8, nginx.local\n"), -1);
	CHECK(strstr(err, ":2: key 'trusted_proxies': 'nginx.local' is not an address") != NULL);
	CHECK_EQ_INT(load("[relay]\nproxy_header = x-real-ip\n"), -1);
	CHECK(strstr(err, "not one of x-forwarded-for, forwarded") != NULL);
}

int main(void)
{
	RUN(cidr_blocks);
	RUN(x_forwarded_for);
	RUN(forwarded_header);
	RUN(local_listen_addresses);
	RUN(unix_socket_peer);
	RUN(config_keys);
	RUN(config_errors);
	return TEST_RESULT();
}
