/* SPDX-License-Identifier: MPL-2.0 */
/* Live configuration (SIGHUP) against a real relay with open connections: a reload that changes
 * a unit's group mapping, the tenant's consent text, the TLS certificate and a limit takes effect
 * at once
 * (the caseworker whose groups no longer map to the unit loses it on her open connection, /consent
 * serves the new text, a new TLS connection gets the new certificate) while the open connections
 * stay; a reload of an invalid file changes nothing and logs every error. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sodium.h>

#include "relay_proc.h"
#include "tclient.h"
#include "test.h"
#include "test_cert.h"
#include "tls_client.h"
#include "wakks_devidp.h"

static struct relay_proc relay;
static char dir_a[300], dir_b[300];
static char cert_a[400], key_a[400], cert_b[400], key_b[400];
static char text_v1[400], text_v2[400];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* The configuration the relay re-reads: the demo tenant with its jobcenter mapped from `group`,
 * the consent text (version, file), and the certificate pair; `extra` appended. */
static void write_config(const char *group, const char *version, const char *text_file,
			 const char *cert, const char *key, const char *extra)
{
	FILE *f = fopen(relay.config_path, "w");
	if (!f)
		return;
	fprintf(f, "[relay]\nlisten = 127.0.0.1\nport = %d\ndata_dir = %s\nlog_level = debug\n"
		   "admin_listen = 127.0.0.1:0\ntls_cert = %s\ntls_key = %s\n%s"
		   "[tenant varde]\nname = Varde Kommune\ncvr = 29189781\nidps = dev-mitid, dev-adfs\n"
		   "[unit varde/jobcenter]\nname = Jobcenter\ngroups = %s\n"
		   "[consent varde]\nversion = %s\ntext_file = %s\n",
		relay.port, relay.data_dir, cert, key, extra, group, version, text_file);
	fclose(f);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay ? strstr(hay, needle) : NULL; p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* SIGHUP, then waits for the n-th line with `event` in the log. */
static bool reload_and_wait(const char *event, int n)
{
	kill(relay.pid, SIGHUP);
	for (int i = 0; i < 100; i++) {
		char *log = relay_proc_log(&relay);
		int c = count(log, event);
		free(log);
		if (c >= n)
			return true;
		usleep(50 * 1000);
	}
	return false;
}

/* The certificate a new TLS connection to the relay is given. NULL on failure. */
static X509 *served_certificate(void)
{
	SSL_CTX *ctx = tls_client_ctx_new();
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)relay.port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	X509 *x = NULL;
	if (ctx && fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
		SSL *ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_connect(ssl) == 1)
			x = SSL_get1_peer_certificate(ssl);
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	if (fd >= 0)
		close(fd);
	SSL_CTX_free(ctx);
	return x;
}

static bool serves(const char *cert_path)
{
	FILE *f = fopen(cert_path, "r");
	X509 *want = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	X509 *got = served_certificate();
	bool same = want && got && X509_cmp(want, got) == 0;
	X509_free(want);
	X509_free(got);
	return same;
}

static int write_to(struct tdev *from, const struct tdev *to)
{
	uint8_t cmid[16], acc[1][16], devs[1][16];
	randombytes_buf(cmid, 16);
	memcpy(acc[0], to->account_id, 16);
	memcpy(devs[0], to->device_id, 16);
	return tdev_send(from, cmid, (const uint8_t(*)[16])acc, 1, "varde", "jobcenter",
			 (const uint8_t(*)[16])devs, 1, "hej", 3, false);
}

static void reload_changes_mapping_consent_text_and_certificate_live(void)
{
	struct tdev anna, camilla;
	tdev_init(&anna, relay.port);
	tdev_init(&camilla, relay.port);
	REQUIRE(tdev_register(&anna, "dev-mitid", "anna", 2) == 0);
	REQUIRE(tdev_register(&camilla, "dev-adfs", "camilla", 2) == 0);
	char version[33];
	uint8_t sha1[32], sha2[32];
	REQUIRE(tconsent_text(relay.port, "varde", version, sha1) == 0);
	CHECK(strcmp(version, "v1") == 0);
	CHECK_EQ_INT(tdev_consent(&anna, 1, "varde", "", version, sha1), PROTO_T_OK);
	CHECK_EQ_INT(write_to(&camilla, &anna), PROTO_T_STORED);
	CHECK_EQ_INT(tdev_wait(&anna, PROTO_T_DELIVER, 5000), PROTO_T_DELIVER);
	CHECK(serves(cert_a));

	/* camilla's groups (varde-jobcenter, varde-alle-medarbejdere) no longer map to the unit. */
	write_config("varde-jobcenter-ledere", "v2", text_v2, cert_b, key_b, "");
	REQUIRE(reload_and_wait("event=reloaded", 1));

	/* Her open connection stays, and she is no member of the unit on it any more. */
	CHECK_EQ_INT(write_to(&camilla, &anna), PROTO_T_ERROR);
	CHECK_EQ_INT(camilla.frame.body.error.code, -PROTO_E_FORBIDDEN);
	/* The new consent text is served, and anna's open connection still answers. */
	REQUIRE(tconsent_text(relay.port, "varde", version, sha2) == 0);
	CHECK(strcmp(version, "v2") == 0);
	CHECK(memcmp(sha1, sha2, 32) != 0);
	CHECK_EQ_INT(tdev_consent(&anna, 1, "varde", "", version, sha2), PROTO_T_OK);
	/* New connections get the new certificate. */
	CHECK(serves(cert_b));
	CHECK(!serves(cert_a));
	/* The rewrite of her account is durable: after a restart-free reconnect she is still out. */
	tdev_disconnect(&camilla);
	REQUIRE(tdev_login(&camilla) == 0);
	CHECK_EQ_INT(write_to(&camilla, &anna), PROTO_T_ERROR);
	/* Mapped back, a fresh attestation gives her the unit again. */
	write_config("varde-jobcenter", "v2", text_v2, cert_b, key_b, "");
	REQUIRE(reload_and_wait("event=reloaded", 2));
	struct tdev camilla2;
	tdev_init(&camilla2, relay.port);
	REQUIRE(tdev_register(&camilla2, "dev-adfs", "camilla", 2) == 0);
	uint8_t cmid[16], acc[1][16], devs[2][16];
	randombytes_buf(cmid, 16);
	memcpy(acc[0], anna.account_id, 16);
	memcpy(devs[0], anna.device_id, 16);
	memcpy(devs[1], camilla.device_id, 16); /* her first device keeps a copy */
	CHECK_EQ_INT(tdev_send(&camilla2, cmid, (const uint8_t(*)[16])acc, 1, "varde", "jobcenter",
			       (const uint8_t(*)[16])devs, 2, "hej", 3, false),
		     PROTO_T_STORED);
	/* Limits too: one send a minute, from the next request on. */
	write_config("varde-jobcenter", "v2", text_v2, cert_b, key_b, "[limits]\nsends_per_minute = 1\n");
	REQUIRE(reload_and_wait("event=reloaded", 3));
	int replies[2];
	for (int i = 0; i < 2; i++) {
		randombytes_buf(cmid, 16);
		replies[i] = tdev_send(&camilla2, cmid, (const uint8_t(*)[16])acc, 1, "varde", "jobcenter",
				       (const uint8_t(*)[16])devs, 2, "hej", 3, false);
	}
	CHECK_EQ_INT(replies[0], PROTO_T_STORED);
	CHECK_EQ_INT(replies[1], PROTO_T_ERROR);
	CHECK_EQ_INT(camilla2.frame.body.error.code, -PROTO_E_RATE_LIMITED);

	char *log = relay_proc_log(&relay);
	CHECK(count(log, "event=certificate_reloaded") == 3);
	CHECK(count(log, "event=unit_mapping_changed tenant=varde unit=jobcenter") >= 1);
	free(log);
	tdev_free(&anna);
	tdev_free(&camilla);
	tdev_free(&camilla2);
}

static void invalid_file_changes_nothing(void)
{
	/* Three mistakes, and changes that must not happen: text v1, certificate A. */
	write_config("varde-jobcenter", "v1", text_v1, cert_a, key_a,
		     "requests_per_second = lots\nno_such_key = 1\n"
		     "[tenant other]\nname = Other\ncvr = 29189803\nidps = nowhere\n");
	REQUIRE(reload_and_wait("event=reload_refused", 1));
	char *log = relay_proc_log(&relay);
	CHECK(count(log, "event=reload_error") >= 3);
	CHECK(strstr(log, "requests_per_second") != NULL);
	CHECK(strstr(log, "no_such_key") != NULL);
	CHECK(strstr(log, "nowhere") != NULL);
	free(log);
	char version[33];
	uint8_t sha[32];
	REQUIRE(tconsent_text(relay.port, "varde", version, sha) == 0);
	CHECK(strcmp(version, "v2") == 0);
	CHECK(serves(cert_b));
	/* A certificate that does not load is refused the same way, before anything changes. */
	write_config("varde-jobcenter", "v1", text_v1, cert_a, key_b, "");
	REQUIRE(reload_and_wait("event=reload_refused", 2));
	REQUIRE(tconsent_text(relay.port, "varde", version, sha) == 0);
	CHECK(strcmp(version, "v2") == 0);
	CHECK(serves(cert_b));
	int status = 0;
	char *body = NULL;
	REQUIRE(admin_get(relay.admin_port, "/metrics", &status, &body) == 0);
	CHECK(strstr(body, "\nwakks_config_reload_failures_total 2\n") != NULL);
	CHECK(strstr(body, "\nwakks_config_reloads_total 3\n") != NULL);
	free(body);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	snprintf(dir_a, sizeof dir_a, "/tmp/wakks-reload-XXXXXX");
	snprintf(dir_b, sizeof dir_b, "/tmp/wakks-reload-XXXXXX");
	if (!mkdtemp(dir_a) || !mkdtemp(dir_b) ||
	    test_cert_write(dir_a, cert_a, key_a, sizeof cert_a) != 0 ||
	    test_cert_write(dir_b, cert_b, key_b, sizeof cert_b) != 0)
		return 1;
	snprintf(text_v1, sizeof text_v1, "%s/consent-v1.txt", dir_a);
	snprintf(text_v2, sizeof text_v2, "%s/consent-v2.txt", dir_a);
	write_file(text_v1, "Samtykke, version 1.\n");
	write_file(text_v2, "Samtykke, version 2: nu også til Jobcenteret.\n");
	/* --dev for the development identity providers; the certificate is configured. */
	char extra[2000];
	snprintf(extra, sizeof extra,
		 "tls_cert = %s\ntls_key = %s\n"
		 "[tenant varde]\nname = Varde Kommune\ncvr = 29189781\nidps = dev-mitid, dev-adfs\n"
		 "[unit varde/jobcenter]\nname = Jobcenter\ngroups = varde-jobcenter\n"
		 "[consent varde]\nversion = v1\ntext_file = %s\n",
		 cert_a, key_a, text_v1);
	if (relay_proc_start(&relay, extra, true) != 0)
		return 1;
	RUN(reload_changes_mapping_consent_text_and_certificate_live);
	RUN(invalid_file_changes_nothing);
	CHECK_EQ_INT(relay_proc_stop(&relay), 0);
	relay_proc_cleanup(&relay);
	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf %s %s", dir_a, dir_b);
	if (system(cmd) != 0)
		return 1;
	return TEST_RESULT();
}
