/* SPDX-License-Identifier: MPL-2.0 */
#include "wsclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <sodium.h>

#include "tls_client.h"
#include "ws_proto.h"

static int tls_open(int port, int *fd_out, SSL_CTX **ctx_out, SSL **ssl_out)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return -1;
	}
	SSL_CTX *ctx = tls_client_ctx_new();
	SSL *ssl = ctx ? SSL_new(ctx) : NULL;
	if (!ssl) {
		SSL_CTX_free(ctx);
		close(fd);
		return -1;
	}
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, "localhost");
	if (SSL_connect(ssl) != 1) {
		SSL_free(ssl);
		SSL_CTX_free(ctx);
		close(fd);
		return -1;
	}
	*fd_out = fd;
	*ctx_out = ctx;
	*ssl_out = ssl;
	return 0;
}

static int write_all(SSL *ssl, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len) {
		int n = SSL_write(ssl, p, (int)len);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads until "\r\n\r\n"; returns header length or -1. */
static int read_headers(SSL *ssl, char *buf, size_t cap, size_t *got)
{
	size_t n = 0;
	while (n + 1 < cap) {
		int r = SSL_read(ssl, buf + n, 1);
		if (r <= 0)
			return -1;
		n++;
		buf[n] = '\0';
		if (n >= 4 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0) {
			*got = n;
			return (int)n;
		}
	}
	return -1;
}

int wsc_connect(struct wsc *c, int port, const char *path, const char *subprotocol)
{
	memset(c, 0, sizeof *c);
	c->fd = -1;
	if (tls_open(port, &c->fd, &c->ctx, &c->ssl) != 0)
		return -1;
	uint8_t key_raw[16];
	char key[WS_PROTO_KEY_BYTES];
	randombytes_buf(key_raw, sizeof key_raw);
	ws_proto_key(key_raw, key);
	char req[1024];
	int n = ws_proto_upgrade_request(req, sizeof req, path, port, key, subprotocol);
	if (n < 0 || write_all(c->ssl, req, (size_t)n) != 0)
		return -1;
	char headers[4096];
	size_t got;
	if (read_headers(c->ssl, headers, sizeof headers, &got) < 0)
		return -1;
	if ((c->http_status = ws_proto_response_status(headers)) < 0)
		return -1;
	if (c->http_status != 101) {
		char len_s[32];
		size_t clen = 0;
		if (ws_proto_header_value(headers, "content-length", len_s, sizeof len_s))
			clen = (size_t)atol(len_s);
		if (clen >= sizeof c->http_body)
			clen = sizeof c->http_body - 1;
		size_t have = 0;
		while (have < clen) {
			int r = SSL_read(c->ssl, c->http_body + have, (int)(clen - have));
			if (r <= 0)
				break;
			have += (size_t)r;
		}
		c->http_body[have] = '\0';
		return 1;
	}
	ws_proto_header_value(headers, "sec-websocket-protocol", c->protocol, sizeof c->protocol);
	return 0;
}

static int send_frame(struct wsc *c, int opcode, bool fin, const void *data, size_t len)
{
	uint8_t hdr[WS_PROTO_MAX_HEADER], mask[4];
	randombytes_buf(mask, 4);
	size_t h = ws_proto_header_encode(hdr, opcode, fin, len, mask);
	uint8_t *buf = malloc(h + len + 1);
	if (!buf)
		return -1;
	memcpy(buf, hdr, h);
	ws_proto_mask(buf + h, data, len, mask);
	int rc = write_all(c->ssl, buf, h + len);
	free(buf);
	return rc;
}

int wsc_send(struct wsc *c, int opcode, const void *data, size_t len)
{
	return send_frame(c, opcode, true, data, len);
}

int wsc_send_fragment(struct wsc *c, int opcode, bool fin, const void *data, size_t len)
{
	return send_frame(c, opcode, fin, data, len);
}

int wsc_send_fragmented(struct wsc *c, int opcode, const void *data, size_t len, size_t frag)
{
	const uint8_t *p = data;
	size_t off = 0;
	do {
		size_t n = len - off < frag ? len - off : frag;
		bool fin = off + n == len;
		if (send_frame(c, off == 0 ? opcode : 0, fin, p + off, n) != 0)
			return -1;
		off += n;
	} while (off < len);
	return 0;
}

int wsc_send_raw(struct wsc *c, const void *data, size_t len)
{
	return write_all(c->ssl, data, len);
}

static int read_exact(struct wsc *c, uint8_t *buf, size_t len, int timeout_ms)
{
	size_t got = 0;
	while (got < len) {
		if (!SSL_pending(c->ssl)) {
			struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
			int pr = poll(&pfd, 1, timeout_ms);
			if (pr == 0)
				return 0;
			if (pr < 0)
				return -1;
		}
		int r = SSL_read(c->ssl, buf + got, (int)(len - got));
		if (r <= 0) {
			int err = SSL_get_error(c->ssl, r);
			if (err == SSL_ERROR_WANT_READ)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return 1;
}

int wsc_recv(struct wsc *c, int timeout_ms)
{
	free(c->msg);
	c->msg = NULL;
	c->msg_len = 0;
	int opcode = 0;
	for (;;) {
		uint8_t h[WS_PROTO_MAX_HEADER];
		int r = read_exact(c, h, 2, timeout_ms);
		if (r <= 0)
			return r;
		size_t hsize = ws_proto_header_size(h);
		if (hsize > 2 && read_exact(c, h + 2, hsize - 2, timeout_ms) <= 0)
			return -1;
		struct ws_proto_header fh;
		ws_proto_header_decode(h, hsize, &fh);
		bool fin = fh.fin;
		int op = fh.opcode;
		uint64_t len = fh.len;
		if (len > (64u << 20))
			return -1;
		uint8_t *payload = malloc(len + 1);
		if (!payload || (len && read_exact(c, payload, len, timeout_ms) <= 0)) {
			free(payload);
			return -1;
		}
		if (op == WS_OP_PING) {
			send_frame(c, WS_OP_PONG, true, payload, len);
			free(payload);
			continue;
		}
		if (op == WS_OP_CLOSE) {
			c->close_code = len >= 2 ? (uint16_t)((payload[0] << 8) | payload[1]) : 1005;
			size_t rl = len > 2 ? len - 2 : 0;
			if (rl >= sizeof c->close_reason)
				rl = sizeof c->close_reason - 1;
			memcpy(c->close_reason, payload + 2, rl);
			c->close_reason[rl] = '\0';
			free(payload);
			return WS_OP_CLOSE;
		}
		if (op != 0)
			opcode = op;
		uint8_t *n = realloc(c->msg, c->msg_len + len + 1);
		if (!n) {
			free(payload);
			return -1;
		}
		c->msg = n;
		memcpy(c->msg + c->msg_len, payload, len);
		c->msg_len += len;
		free(payload);
		if (fin)
			return opcode;
	}
}

static void free_conn(struct wsc *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->ctx)
		SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	free(c->msg);
	c->ssl = NULL;
	c->ctx = NULL;
	c->fd = -1;
	c->msg = NULL;
}

void wsc_close(struct wsc *c)
{
	/* Our close, or the answer to the server's (RFC 6455 §5.5.1: its code echoed). */
	if (c->ssl) {
		uint16_t v = c->close_code && c->close_code != 1005 ? c->close_code : 1000;
		uint8_t code[2] = { (uint8_t)(v >> 8), (uint8_t)v };
		send_frame(c, WS_OP_CLOSE, true, code, 2);
	}
	if (c->ssl)
		SSL_shutdown(c->ssl);
	free_conn(c);
}

void wsc_abort(struct wsc *c)
{
	free_conn(c);
}

int https_request(int port, const char *method, const char *path, const char *content_type,
		  const char *body, int *status, char **resp_body, char *location, size_t loc_cap)
{
	return https_request_headers(port, method, path, content_type, body, status, resp_body,
				     location, loc_cap, NULL, 0);
}

int https_request_headers(int port, const char *method, const char *path,
			  const char *content_type, const char *body, int *status, char **resp_body,
			  char *location, size_t loc_cap, char *resp_headers, size_t hdr_cap)
{
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	if (tls_open(port, &fd, &ctx, &ssl) != 0)
		return -1;
	size_t blen = body ? strlen(body) : 0;
	char req[4096];
	int n = snprintf(req, sizeof req,
			 "%s %s HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n"
			 "%s%s%sContent-Length: %zu\r\n\r\n",
			 method, path, port, content_type ? "Content-Type: " : "",
			 content_type ? content_type : "", content_type ? "\r\n" : "", blen);
	int rc = -1;
	char headers[8192];
	size_t got;
	if ((size_t)n >= sizeof req || write_all(ssl, req, (size_t)n) != 0 ||
	    (blen && write_all(ssl, body, blen) != 0) ||
	    read_headers(ssl, headers, sizeof headers, &got) < 0 ||
	    (*status = ws_proto_response_status(headers)) < 0)
		goto out;
	if (location && !ws_proto_header_value(headers, "location", location, loc_cap))
		location[0] = '\0';
	if (resp_headers)
		snprintf(resp_headers, hdr_cap, "%s", headers);
	char len_s[32];
	size_t clen = 0;
	bool have_len = ws_proto_header_value(headers, "content-length", len_s, sizeof len_s) != NULL;
	if (have_len)
		clen = (size_t)atol(len_s);
	size_t cap = have_len ? clen + 1 : 65536, have = 0;
	char *out = malloc(cap);
	if (!out)
		goto out;
	while (have + 1 < cap && (!have_len || have < clen)) {
		int r = SSL_read(ssl, out + have, (int)(cap - 1 - have));
		if (r <= 0)
			break;
		have += (size_t)r;
	}
	out[have] = '\0';
	*resp_body = out;
	rc = 0;
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return rc;
}
