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
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL *ssl = SSL_new(ctx);
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

static const char *header_value(const char *headers, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	for (const char *p = headers; (p = strchr(p, '\n')) != NULL;) {
		p++;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			size_t l = strcspn(v, "\r\n");
			if (l >= cap)
				l = cap - 1;
			memcpy(out, v, l);
			out[l] = '\0';
			return out;
		}
	}
	return NULL;
}

int wsc_connect(struct wsc *c, int port, const char *path, const char *subprotocol)
{
	memset(c, 0, sizeof *c);
	c->fd = -1;
	if (tls_open(port, &c->fd, &c->ctx, &c->ssl) != 0)
		return -1;
	uint8_t key_raw[16];
	char key[32];
	randombytes_buf(key_raw, sizeof key_raw);
	sodium_bin2base64(key, sizeof key, key_raw, sizeof key_raw, sodium_base64_VARIANT_ORIGINAL);
	char req[1024];
	int n = snprintf(req, sizeof req,
			 "GET %s HTTP/1.1\r\nHost: localhost:%d\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
			 "%s%s%s\r\n",
			 path, port, key, subprotocol ? "Sec-WebSocket-Protocol: " : "",
			 subprotocol ? subprotocol : "", subprotocol ? "\r\n" : "");
	if (write_all(c->ssl, req, (size_t)n) != 0)
		return -1;
	char headers[4096];
	size_t got;
	if (read_headers(c->ssl, headers, sizeof headers, &got) < 0)
		return -1;
	if (sscanf(headers, "HTTP/1.%*d %d", &c->http_status) != 1)
		return -1;
	if (c->http_status != 101) {
		char len_s[32];
		size_t clen = 0;
		if (header_value(headers, "content-length", len_s, sizeof len_s))
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
	header_value(headers, "sec-websocket-protocol", c->protocol, sizeof c->protocol);
	return 0;
}

static int send_frame(struct wsc *c, int opcode, bool fin, const void *data, size_t len)
{
	uint8_t hdr[14];
	size_t h = 0;
	hdr[h++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
	if (len < 126) {
		hdr[h++] = (uint8_t)(0x80 | len);
	} else if (len < 65536) {
		hdr[h++] = 0x80 | 126;
		hdr[h++] = (uint8_t)(len >> 8);
		hdr[h++] = (uint8_t)len;
	} else {
		hdr[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			hdr[h++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	uint8_t mask[4];
	randombytes_buf(mask, 4);
	memcpy(hdr + h, mask, 4);
	h += 4;
	uint8_t *buf = malloc(h + len + 1);
	if (!buf)
		return -1;
	memcpy(buf, hdr, h);
	const uint8_t *p = data;
	for (size_t i = 0; i < len; i++)
		buf[h + i] = p[i] ^ mask[i & 3];
	int rc = write_all(c->ssl, buf, h + len);
	free(buf);
	return rc;
}

int wsc_send(struct wsc *c, int opcode, const void *data, size_t len)
{
	return send_frame(c, opcode, true, data, len);
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
		uint8_t h[2];
		int r = read_exact(c, h, 2, timeout_ms);
		if (r <= 0)
			return r;
		bool fin = h[0] & 0x80;
		int op = h[0] & 0x0f;
		uint64_t len = h[1] & 0x7f;
		if (len == 126) {
			uint8_t e[2];
			if (read_exact(c, e, 2, timeout_ms) <= 0)
				return -1;
			len = ((uint64_t)e[0] << 8) | e[1];
		} else if (len == 127) {
			uint8_t e[8];
			if (read_exact(c, e, 8, timeout_ms) <= 0)
				return -1;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = (len << 8) | e[i];
		}
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
	if (c->ssl && !c->close_code) {
		uint8_t code[2] = { 0x03, 0xe8 };
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
	    sscanf(headers, "HTTP/1.%*d %d", status) != 1)
		goto out;
	if (location && !header_value(headers, "location", location, loc_cap))
		location[0] = '\0';
	char len_s[32];
	size_t clen = 0;
	bool have_len = header_value(headers, "content-length", len_s, sizeof len_s) != NULL;
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
