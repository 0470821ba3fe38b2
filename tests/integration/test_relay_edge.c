/* SPDX-License-Identifier: MPL-2.0 */
/* The relay's edge against a real relay process: what an unauthenticated peer can make it do
 * (frames are rate limited and size-capped before authentication, and all unauthenticated
 * peers together hold a bounded amount of reassembly memory), which TLS 1.2 suites it accepts,
 * and the security headers it serves the browser client with. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include "relay_proc.h"
#include "tclient.h"
#include "test.h"

static struct relay_proc relay;
static char web_root[64];

/* The relay's settings for this file: pre-authentication limits small enough to reach, and a
 * web client directory to serve. */
#define UNAUTH_FRAME 32768
#define UNAUTH_BUFFER 65536

static int wait_error(struct tdev *d, int timeout_ms)
{
	int t = tdev_wait(d, PROTO_T_ERROR, timeout_ms);
	return t == PROTO_T_ERROR ? -(int)d->frame.body.error.code : t;
}

static void register_flood_is_rate_limited(void)
{
	/* register frames with a token that does not verify: each costs the relay a token check,
	 * and before the fix every one was checked, however fast they came. */
	struct tdev d;
	tdev_init(&d, relay.port);
	REQUIRE(tdev_connect(&d) == 0);
	int limited = 0, checked = 0;
	for (int i = 0; i < 20; i++) {
		int t = tdev_register_token(&d, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", 0);
		REQUIRE(t == PROTO_T_ERROR);
		if (d.frame.body.error.code == -PROTO_E_RATE_LIMITED) {
			limited++;
			CHECK(d.frame.body.error.details.retry_ms > 0);
		} else {
			CHECK_EQ_INT(d.frame.body.error.code, -PROTO_E_ATTESTATION_REJECTED);
			checked++;
		}
	}
	/* Burst 5 at 1 per second: 20 frames sent back to back cannot all be checked. */
	CHECK(limited > 0);
	CHECK(checked >= 5);
	/* Frames that do not even decode cost a token too (spec/protocol.md §3.4). */
	static const uint8_t junk[8] = { 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1 };
	int junk_limited = 0;
	for (int i = 0; i < 10; i++) {
		REQUIRE(tdev_send_raw(&d, junk, sizeof junk) == 0);
		if (wait_error(&d, 5000) == PROTO_E_RATE_LIMITED)
			junk_limited++;
	}
	CHECK(junk_limited > 0);
	tdev_free(&d);
}

static void authenticated_connection_gets_its_own_bucket(void)
{
	/* The device's burst of 400 is not shared with what the connection spent before register. */
	struct tdev d;
	tdev_init(&d, relay.port);
	REQUIRE(tdev_register(&d, "dev-mitid", "anna", 1) == 0);
	for (int i = 0; i < 20; i++) {
		proto_frame f;
		proto_frame_init(&f, PROTO_T_KEY_COUNT_GET, 0);
		CHECK_EQ_INT(tdev_request(&d, &f, 5000), PROTO_T_KEY_COUNT);
	}
	tdev_free(&d);
}

static void unauthenticated_frame_size_is_capped(void)
{
	uint8_t *junk = malloc(UNAUTH_FRAME + 1000);
	REQUIRE(junk);
	memset(junk, 0xc1, UNAUTH_FRAME + 1000);

	struct tdev d;
	tdev_init(&d, relay.port);
	REQUIRE(tdev_connect(&d) == 0);
	REQUIRE(wsc_send(&d.ws, WS_OP_BINARY, junk, UNAUTH_FRAME + 1000) == 0);
	CHECK_EQ_INT(wait_error(&d, 5000), PROTO_E_TOO_LARGE);
	CHECK_EQ_INT(wsc_recv(&d.ws, 5000), WS_OP_CLOSE);
	CHECK_EQ_INT(d.ws.close_code, 1009);
	CHECK(strcmp(d.ws.close_reason, "frame larger than unauth_max_frame_bytes") == 0);
	tdev_free(&d);

	/* After register the configured max_frame_bytes applies: the same message is read whole
	 * (and answered as the junk it is) on a connection that stays open. */
	struct tdev a;
	tdev_init(&a, relay.port);
	REQUIRE(tdev_register(&a, "dev-mitid", "bo", 1) == 0);
	REQUIRE(wsc_send(&a.ws, WS_OP_BINARY, junk, UNAUTH_FRAME + 1000) == 0);
	CHECK_EQ_INT(wait_error(&a, 5000), PROTO_E_MALFORMED);
	proto_frame f;
	proto_frame_init(&f, PROTO_T_KEY_COUNT_GET, 0);
	CHECK_EQ_INT(tdev_request(&a, &f, 5000), PROTO_T_KEY_COUNT);
	tdev_free(&a);
	free(junk);
}

/* Opens a raw connection, reads hello and sends the first `len` bytes of a message as a
 * fragment that is not final. */
static int start_unfinished_message(struct wsc *c, const uint8_t *data, size_t len)
{
	if (wsc_connect(c, relay.port, "/v1", "wakks.v1") != 0 || wsc_recv(c, 5000) != WS_OP_BINARY)
		return -1;
	return wsc_send_fragment(c, WS_OP_BINARY, false, data, len);
}

/* A ping between fragments: its pong comes once the relay has read what was sent before it. */
static int synced(struct wsc *c)
{
	return wsc_send(c, WS_OP_PING, "sync", 4) == 0 ? wsc_recv(c, 5000) : -1;
}

static void unauthenticated_memory_is_bounded(void)
{
	/* Each unfinished 20000-byte fragment makes the relay hold a 32 KiB buffer; the budget for
	 * all unauthenticated peers is 64 KiB, so the third peer is refused and the first two go on. */
	static uint8_t junk[20000];
	memset(junk, 0xc1, sizeof junk);
	struct wsc c[4];
	for (int i = 0; i < 2; i++) {
		REQUIRE(start_unfinished_message(&c[i], junk, sizeof junk) == 0);
		CHECK_EQ_INT(synced(&c[i]), WS_OP_PONG);
	}
	REQUIRE(start_unfinished_message(&c[2], junk, sizeof junk) == 0);
	int op = wsc_recv(&c[2], 5000);
	CHECK_EQ_INT(op, WS_OP_BINARY);
	proto_frame f;
	REQUIRE(op == WS_OP_BINARY && proto_frame_decode(c[2].msg, c[2].msg_len, &f) == 0);
	CHECK_EQ_INT(f.type, PROTO_T_ERROR);
	CHECK_EQ_INT(f.body.error.code, -PROTO_E_UNAVAILABLE);
	CHECK_EQ_INT(wsc_recv(&c[2], 5000), WS_OP_CLOSE);
	CHECK_EQ_INT(c[2].close_code, 1013);
	wsc_close(&c[2]);

	/* The first peer finishes its message and is answered; its buffer is released, so a new
	 * peer fits in the budget again. */
	REQUIRE(wsc_send_fragment(&c[0], WS_OP_CONT, true, junk, 1000) == 0);
	op = wsc_recv(&c[0], 5000);
	REQUIRE(op == WS_OP_BINARY && proto_frame_decode(c[0].msg, c[0].msg_len, &f) == 0);
	CHECK_EQ_INT(f.body.error.code, -PROTO_E_MALFORMED);
	REQUIRE(start_unfinished_message(&c[3], junk, sizeof junk) == 0);
	CHECK_EQ_INT(synced(&c[3]), WS_OP_PONG);
	/* Closing a peer mid-message returns its share too (checked by the budget staying usable
	 * for the next test's connections). */
	wsc_close(&c[0]);
	wsc_close(&c[1]);
	wsc_close(&c[3]);
}

/* One TLS 1.2 handshake offering exactly `ciphers`. Returns 1 when it completed, 0 when the
 * relay refused it, -1 when the connection could not be made. */
static int tls12_handshake(const char *ciphers)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)relay.port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return -1;
	}
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = NULL;
	int rc = -1;
	if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, ciphers) != 1 || !(ssl = SSL_new(ctx)))
		goto out;
	SSL_set_fd(ssl, fd);
	rc = SSL_connect(ssl) == 1 ? 1 : 0;
	ERR_clear_error();
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return rc;
}

static void tls12_accepts_only_aead_suites(void)
{
	/* Every TLS 1.2 suite this OpenSSL knows that is not an AEAD (the CBC and NULL suites),
	 * offered together: the relay must refuse the handshake. */
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	REQUIRE(ctx && SSL_CTX_set_cipher_list(ctx, "ALL:COMPLEMENTOFALL:@SECLEVEL=0") == 1);
	SSL *ssl = SSL_new(ctx);
	REQUIRE(ssl);
	STACK_OF(SSL_CIPHER) *all = SSL_get1_supported_ciphers(ssl);
	REQUIRE(all);
	char *list = calloc(1, 16384);
	REQUIRE(list);
	int cbc = 0;
	for (int i = 0; i < sk_SSL_CIPHER_num(all); i++) {
		const SSL_CIPHER *ci = sk_SSL_CIPHER_value(all, i);
		if (SSL_CIPHER_is_aead(ci) || strcmp(SSL_CIPHER_get_version(ci), "TLSv1.3") == 0)
			continue;
		if (strlen(list) + strlen(SSL_CIPHER_get_name(ci)) + 2 >= 16384)
			break;
		if (list[0])
			strcat(list, ":");
		strcat(list, SSL_CIPHER_get_name(ci));
		cbc++;
	}
	sk_SSL_CIPHER_free(all);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	CHECK(cbc > 0);
	CHECK_EQ_INT(tls12_handshake(list), 0);
	free(list);
	/* The one the issue named, alone. */
	CHECK_EQ_INT(tls12_handshake("ECDHE-ECDSA-AES256-SHA"), 0);
	/* TLS 1.2 with AEAD suites still works. */
	CHECK_EQ_INT(tls12_handshake("ECDHE-ECDSA-AES128-GCM-SHA256"), 1);
	CHECK_EQ_INT(tls12_handshake("ECDHE-ECDSA-CHACHA20-POLY1305"), 1);
}

/* The value of header `name` in a response head, or NULL. */
static const char *header(const char *head, const char *name, char *out, size_t cap)
{
	return ws_proto_header_value(head, name, out, cap);
}

/* The directive `name` of a Content-Security-Policy, up to its `;`, in out. */
static bool csp_directive(const char *csp, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	for (const char *p = csp; p && *p;) {
		while (*p == ' ' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len >= nl && strncmp(p, name, nl) == 0 && (p[nl] == ' ' || len == nl)) {
			snprintf(out, cap, "%.*s", (int)len, p);
			return true;
		}
		p = end;
	}
	return false;
}

static void check_security_headers(const char *path, int want_status)
{
	int status = 0;
	char *body = NULL;
	static char head[8192];
	char v[1024], d[512];
	REQUIRE(https_request_headers(relay.port, "GET", path, NULL, NULL, &status, &body, NULL, 0,
				      head, sizeof head) == 0);
	free(body);
	CHECK_EQ_INT(status, want_status);
	CHECK(header(head, "strict-transport-security", v, sizeof v) && strstr(v, "max-age="));
	CHECK(header(head, "x-content-type-options", v, sizeof v) && strcmp(v, "nosniff") == 0);
	CHECK(header(head, "referrer-policy", v, sizeof v) && strcmp(v, "no-referrer") == 0);
	if (!header(head, "content-security-policy", v, sizeof v)) {
		fprintf(stderr, "%s: no content-security-policy in\n%s\n", path, head);
		CHECK(false);
		return;
	}
	/* Strict enough that injected script cannot run: scripts only from the relay's own
	 * files, no inline script, no eval, nothing from elsewhere, no framing. */
	CHECK(csp_directive(v, "default-src", d, sizeof d) && strcmp(d, "default-src 'none'") == 0);
	if (csp_directive(v, "script-src", d, sizeof d)) {
		CHECK(strstr(d, "'unsafe-inline'") == NULL);
		CHECK(strstr(d, "'unsafe-eval'") == NULL);
		CHECK(strstr(d, "*") == NULL && strstr(d, "data:") == NULL && strstr(d, "blob:") == NULL);
	}
	CHECK(csp_directive(v, "frame-ancestors", d, sizeof d) && strcmp(d, "frame-ancestors 'none'") == 0);
	CHECK(csp_directive(v, "base-uri", d, sizeof d) && strcmp(d, "base-uri 'none'") == 0);
}

static void web_client_served_with_security_headers(void)
{
	check_security_headers("/", 200);
	check_security_headers("/index.html", 200);
	check_security_headers("/app.js", 200);
	check_security_headers("/consent/varde", 200);
	check_security_headers("/no-such-file", 404);
	check_security_headers("/dev-idp/dev-mitid/authorize", 400);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

int main(void)
{
	snprintf(web_root, sizeof web_root, "/tmp/wakks-edge-web-XXXXXX");
	if (sodium_init() < 0 || !mkdtemp(web_root))
		return 1;
	write_file(web_root, "index.html",
		   "<!DOCTYPE html><html><head><script src=\"app.js\"></script></head></html>\n");
	write_file(web_root, "app.js", "document.title = 'edge';\n");
	char cfg[512];
	snprintf(cfg, sizeof cfg,
		 "[relay]\nweb_root = %s\n[limits]\nunauth_max_frame_bytes = %d\n"
		 "unauth_buffer_max_bytes = %d\n",
		 web_root, UNAUTH_FRAME, UNAUTH_BUFFER);
	if (relay_proc_start(&relay, cfg, true) != 0)
		return 1;
	RUN(register_flood_is_rate_limited);
	RUN(authenticated_connection_gets_its_own_bucket);
	RUN(unauthenticated_frame_size_is_capped);
	RUN(unauthenticated_memory_is_bounded);
	RUN(tls12_accepts_only_aead_suites);
	RUN(web_client_served_with_security_headers);
	CHECK_EQ_INT(relay_proc_stop(&relay), 0);
	relay_proc_cleanup(&relay);
	char path[128];
	snprintf(path, sizeof path, "%s/index.html", web_root);
	unlink(path);
	snprintf(path, sizeof path, "%s/app.js", web_root);
	unlink(path);
	rmdir(web_root);
	return TEST_RESULT();
}
