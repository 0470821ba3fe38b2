/* SPDX-License-Identifier: MPL-2.0 */
/* A non-blocking TLS WebSocket client (RFC 6455): connect, TLS with certificate and host name
 * verification, the upgrade with subprotocol wakks.v1, masked frames out, fragments, ping/pong
 * and close in. Everything that could block returns instead and says what it waits for. */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "wakks_internal.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_OP_CONT 0x0
#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xA
/* Bytes queued for the relay: a full frame plus control frames. Beyond it sends fail: a relay
 * that stops reading must not make us buffer without bound. */
#define WS_MAX_QUEUED (2u * PROTO_MAX_FRAME_BYTES + 4096u)

int wakks__tls_ctx(const char *ca_file, SSL_CTX **out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return WAKKS_E_TLS;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
			 : SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		SSL_CTX_free(ctx);
		return WAKKS_E_TLS;
	}
	/* A pinned certificate need not be a CA: accept a chain that ends at any trusted cert. */
	X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx), X509_V_FLAG_PARTIAL_CHAIN);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	*out = ctx;
	return 0;
}

static void ws_fail(wakks__ws *w, int err)
{
	if (!w->error)
		w->error = err;
	if (w->ssl) {
		SSL_free(w->ssl);
		w->ssl = NULL;
	}
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
	if (w->ai_list) {
		freeaddrinfo(w->ai_list);
		w->ai_list = w->ai_next = NULL;
	}
	w->state = WS_CLOSED;
}

/* What a failed TCP connect says about the host, for wakks_connection_error. */
static int why_of_errno(int e)
{
	switch (e) {
	case ECONNREFUSED:
		return WAKKS_WHY_REFUSED;
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ETIMEDOUT:
	case EHOSTDOWN:
	case ENETDOWN:
		return WAKKS_WHY_UNREACHABLE;
	default:
		return WAKKS_WHY_OTHER;
	}
}

static int try_next_address(wakks__ws *w)
{
	while (w->ai_next) {
		struct addrinfo *ai = w->ai_next;
		w->ai_next = ai->ai_next;
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				ai->ai_protocol);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
			w->fd = fd;
			w->state = WS_TCP;
			return 0;
		}
		w->connect_errno = errno;
		close(fd);
	}
	w->why = why_of_errno(w->connect_errno);
	return WAKKS_E_NET;
}

int wakks__ws_start(wakks__ws *w, SSL_CTX *ctx, const char *host, int port)
{
	(void)ctx;
	memset(w, 0, sizeof *w);
	w->fd = -1;
	snprintf(w->host, sizeof w->host, "%s", host);
	w->port = port;
	char ps[16];
	snprintf(ps, sizeof ps, "%d", port);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	if (getaddrinfo(host, ps, &hints, &w->ai_list) != 0) {
		w->state = WS_CLOSED;
		w->error = WAKKS_E_NET;
		w->why = WAKKS_WHY_NO_HOST;
		return WAKKS_E_NET;
	}
	w->ai_next = w->ai_list;
	if (try_next_address(w) != 0) {
		ws_fail(w, WAKKS_E_NET);
		return WAKKS_E_NET;
	}
	return 0;
}

short wakks__ws_want(const wakks__ws *w)
{
	switch (w->state) {
	case WS_TCP:
		return POLLOUT;
	case WS_TLS:
		return w->want_write ? POLLOUT : POLLIN;
	case WS_UPGRADE:
	case WS_OPEN:
		return (short)(POLLIN | (w->out_len || w->want_write ? POLLOUT : 0));
	default:
		return 0;
	}
}

static int queue(wakks__ws *w, const void *p, size_t n)
{
	if (w->out_len + n > WS_MAX_QUEUED)
		return WAKKS_E_NOMEM;
	if (w->out_len + n > w->out_cap) {
		size_t cap = w->out_cap ? w->out_cap : 4096;
		while (cap < w->out_len + n)
			cap *= 2;
		uint8_t *q = realloc(w->out, cap);
		if (!q)
			return WAKKS_E_NOMEM;
		w->out = q;
		w->out_cap = cap;
	}
	memcpy(w->out + w->out_len, p, n);
	w->out_len += n;
	return 0;
}

/* Writes queued bytes until done or the socket would block. */
static int flush(wakks__ws *w)
{
	w->want_write = false;
	if (!w->ssl)
		return 0; /* no transport (the parser's tests): keep the bytes queued */
	while (w->out_len) {
		ERR_clear_error();
		int n = SSL_write(w->ssl, w->out, (int)(w->out_len > 65536 ? 65536 : w->out_len));
		if (n <= 0) {
			int e = SSL_get_error(w->ssl, n);
			if (e == SSL_ERROR_WANT_WRITE) {
				w->want_write = true;
				return 0;
			}
			if (e == SSL_ERROR_WANT_READ)
				return 0;
			return WAKKS_E_CLOSED;
		}
		memmove(w->out, w->out + n, w->out_len - (size_t)n);
		w->out_len -= (size_t)n;
	}
	if (w->drop_after_flush && w->state == WS_OPEN) {
		/* Test hook: the frame is on the wire; end the connection without reading the
		 * reply, as if it were lost. Half-close and let the relay finish reading first. */
		shutdown(w->fd, SHUT_WR);
		uint64_t end = wakks__mono_ms() + 3000;
		char sink[4096];
		while (wakks__mono_ms() < end) {
			struct pollfd pfd = { .fd = w->fd, .events = POLLIN };
			if (poll(&pfd, 1, 100) > 0 && read(w->fd, sink, sizeof sink) <= 0)
				break;
		}
		return WAKKS_E_CLOSED;
	}
	return 0;
}

static int frame_out(wakks__ws *w, int opcode, const void *data, size_t len)
{
	uint8_t hdr[14];
	size_t h = 0;
	hdr[h++] = (uint8_t)(0x80 | (opcode & 0x0f));
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
	randombytes_buf(mask, sizeof mask);
	memcpy(hdr + h, mask, 4);
	h += 4;
	size_t start = w->out_len;
	int rc = queue(w, hdr, h);
	if (rc == 0 && len)
		rc = queue(w, data, len);
	if (rc != 0) {
		w->out_len = start;
		return rc;
	}
	uint8_t *p = w->out + start + h;
	for (size_t i = 0; i < len; i++)
		p[i] ^= mask[i & 3];
	return 0;
}

int wakks__ws_send(wakks__ws *w, int opcode, const void *data, size_t len)
{
	if (w->state != WS_OPEN)
		return WAKKS_E_CLOSED;
	int rc = frame_out(w, opcode ? opcode : WS_OP_BINARY, data, len);
	if (rc != 0)
		return rc;
	rc = flush(w);
	if (rc != 0)
		ws_fail(w, rc);
	return rc;
}

static int start_tls(wakks__ws *w, SSL_CTX *ctx)
{
	w->ssl = SSL_new(ctx);
	if (!w->ssl)
		return WAKKS_E_TLS;
	SSL_set_fd(w->ssl, w->fd);
	/* SNI and host name verification (an IP literal is checked as an IP address). */
	struct in6_addr a6;
	struct in_addr a4;
	bool ip = inet_pton(AF_INET, w->host, &a4) == 1 || inet_pton(AF_INET6, w->host, &a6) == 1;
	if (ip) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(w->ssl), w->host);
	} else {
		SSL_set_tlsext_host_name(w->ssl, w->host);
		SSL_set1_host(w->ssl, w->host);
	}
	w->state = WS_TLS;
	return 0;
}

static int send_upgrade(wakks__ws *w)
{
	uint8_t raw[16];
	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(w->key, sizeof w->key, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
	char req[768];
	bool v6 = strchr(w->host, ':') != NULL;
	int n = snprintf(req, sizeof req,
			 "GET " PROTO_WS_PATH " HTTP/1.1\r\nHost: %s%s%s:%d\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
			 "Sec-WebSocket-Protocol: " PROTO_WS_SUBPROTOCOL "\r\n\r\n",
			 v6 ? "[" : "", w->host, v6 ? "]" : "", w->port, w->key);
	if (n <= 0 || (size_t)n >= sizeof req)
		return WAKKS_E_INVAL;
	w->state = WS_UPGRADE;
	int rc = queue(w, req, (size_t)n);
	return rc ? rc : flush(w);
}

static bool header_is(const char *headers, const char *name, const char *want)
{
	size_t nl = strlen(name);
	for (const char *p = headers; (p = strchr(p, '\n')) != NULL;) {
		p++;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			size_t l = strcspn(v, "\r\n");
			while (l && (v[l - 1] == ' ' || v[l - 1] == '\t'))
				l--;
			return strlen(want) == l && strncmp(v, want, l) == 0;
		}
	}
	return false;
}

/* Checks the 101 response. Returns bytes consumed, 0 if incomplete, or negative. */
static int parse_upgrade(wakks__ws *w)
{
	size_t end = 0;
	for (size_t i = 3; i < w->in_len; i++)
		if (memcmp(w->in + i - 3, "\r\n\r\n", 4) == 0) {
			end = i + 1;
			break;
		}
	if (!end)
		return w->in_len > WAKKS__WS_MAX_HEADERS ? WAKKS_E_HANDSHAKE : 0;
	char *h = malloc(end + 1);
	if (!h)
		return WAKKS_E_NOMEM;
	memcpy(h, w->in, end);
	h[end] = '\0';
	int status = 0;
	int rc = 0;
	if (sscanf(h, "HTTP/1.1 %d", &status) != 1 || status != 101)
		rc = WAKKS_E_HANDSHAKE;
	/* Sec-WebSocket-Accept = base64(SHA-1(key || GUID)) */
	char src[128], accept[64];
	unsigned char sha[EVP_MAX_MD_SIZE];
	unsigned int shalen = 0;
	snprintf(src, sizeof src, "%s%s", w->key, WS_GUID);
	if (rc == 0 && EVP_Digest(src, strlen(src), sha, &shalen, EVP_sha1(), NULL) != 1)
		rc = WAKKS_E_HANDSHAKE;
	if (rc == 0) {
		sodium_bin2base64(accept, sizeof accept, sha, shalen, sodium_base64_VARIANT_ORIGINAL);
		if (!header_is(h, "sec-websocket-accept", accept) ||
		    !header_is(h, "sec-websocket-protocol", PROTO_WS_SUBPROTOCOL))
			rc = WAKKS_E_HANDSHAKE;
	}
	free(h);
	return rc ? rc : (int)end;
}

static void consume(wakks__ws *w, size_t n)
{
	memmove(w->in, w->in + n, w->in_len - n);
	w->in_len -= n;
}

/* Parses complete frames from w->in. Returns 0 or negative (protocol violation / close). */
static int parse_frames(wakks__ws *w, wakks__ws_msg_cb cb, void *arg)
{
	while (w->in_len >= 2 && w->state == WS_OPEN) {
		const uint8_t *p = w->in;
		bool fin = p[0] & 0x80;
		int op = p[0] & 0x0f;
		if (p[0] & 0x70)
			return WAKKS_E_PROTOCOL; /* no extensions were negotiated */
		if (p[1] & 0x80)
			return WAKKS_E_PROTOCOL; /* a server never masks */
		uint64_t len = p[1] & 0x7f;
		size_t h = 2;
		if (len == 126) {
			if (w->in_len < 4)
				return 0;
			len = ((uint64_t)p[2] << 8) | p[3];
			h = 4;
		} else if (len == 127) {
			if (w->in_len < 10)
				return 0;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = (len << 8) | p[2 + i];
			h = 10;
		}
		bool control = op & 0x8;
		if (control && (len > 125 || !fin))
			return WAKKS_E_PROTOCOL;
		/* Refuse what can never be a valid message before buffering it. */
		if (len > WAKKS__WS_MAX_MESSAGE || w->msg_len + len > WAKKS__WS_MAX_MESSAGE)
			return WAKKS_E_TOO_LARGE;
		if (w->in_len - h < len)
			return 0;
		const uint8_t *pl = p + h;
		if (op == WS_OP_PING) {
			int rc = frame_out(w, WS_OP_PONG, pl, (size_t)len);
			consume(w, h + (size_t)len);
			if (rc)
				return rc;
			continue;
		}
		if (op == WS_OP_PONG) {
			consume(w, h + (size_t)len);
			continue;
		}
		if (op == WS_OP_CLOSE) {
			w->close_code = len >= 2 ? (uint16_t)((pl[0] << 8) | pl[1]) : 1005;
			uint8_t code[2] = { 0x03, 0xe8 };
			frame_out(w, WS_OP_CLOSE, code, 2);
			flush(w);
			consume(w, h + (size_t)len);
			return WAKKS_E_CLOSED;
		}
		if (op == WS_OP_TEXT)
			return WAKKS_E_PROTOCOL; /* the protocol is binary only */
		if (op == WS_OP_BINARY) {
			if (w->msg_op)
				return WAKKS_E_PROTOCOL; /* new message inside a fragmented one */
			w->msg_op = op;
		} else if (op == WS_OP_CONT) {
			if (!w->msg_op)
				return WAKKS_E_PROTOCOL;
		} else {
			return WAKKS_E_PROTOCOL;
		}
		if (fin && w->msg_len == 0) {
			/* The common case: one unfragmented message, handed over in place. */
			w->msg_op = 0;
			cb(arg, pl, (size_t)len);
			consume(w, h + (size_t)len);
			continue;
		}
		uint8_t *m = realloc(w->msg, w->msg_len + (size_t)len + 1);
		if (!m)
			return WAKKS_E_NOMEM;
		w->msg = m;
		memcpy(w->msg + w->msg_len, pl, (size_t)len);
		w->msg_len += (size_t)len;
		consume(w, h + (size_t)len);
		if (fin) {
			w->msg_op = 0;
			size_t ml = w->msg_len;
			w->msg_len = 0;
			cb(arg, w->msg, ml);
		}
	}
	return 0;
}

int wakks__ws_parse(wakks__ws *w, wakks__ws_msg_cb cb, void *arg)
{
	return parse_frames(w, cb, arg);
}

/* Reads what TLS has. Returns 1 if bytes were read, 0 if it would block, negative on EOF. */
static int read_some(wakks__ws *w)
{
	int got = 0;
	for (;;) {
		if (w->in_cap - w->in_len < 16384) {
			size_t cap = w->in_cap ? w->in_cap * 2 : 32768;
			/* Bounded: one message plus one frame header and what follows in one read. */
			if (cap > WAKKS__WS_MAX_MESSAGE + 65536 + 16384)
				cap = WAKKS__WS_MAX_MESSAGE + 65536 + 16384;
			if (cap <= w->in_cap)
				return got ? 1 : 0; /* full: parse first */
			uint8_t *q = realloc(w->in, cap);
			if (!q)
				return WAKKS_E_NOMEM;
			w->in = q;
			w->in_cap = cap;
		}
		ERR_clear_error();
		int n = SSL_read(w->ssl, w->in + w->in_len, (int)(w->in_cap - w->in_len));
		if (n > 0) {
			w->in_len += (size_t)n;
			w->last_rx_mono = wakks__mono_ms();
			got = 1;
			continue;
		}
		int e = SSL_get_error(w->ssl, n);
		if (e == SSL_ERROR_WANT_READ)
			return got;
		if (e == SSL_ERROR_WANT_WRITE) {
			w->want_write = true;
			return got;
		}
		return got ? 1 : WAKKS_E_CLOSED;
	}
}

int wakks__ws_io(wakks__ws *w, SSL_CTX *ctx, wakks__ws_msg_cb cb, void *arg)
{
	int rc = 0;
	if (w->state == WS_TCP) {
		int err = 0;
		socklen_t el = sizeof err;
		struct pollfd pfd = { .fd = w->fd, .events = POLLOUT };
		if (poll(&pfd, 1, 0) <= 0)
			return 0;
		getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err == EINPROGRESS)
			return 0;
		if (err != 0) {
			close(w->fd);
			w->fd = -1;
			w->connect_errno = err;
			if (try_next_address(w) != 0) {
				ws_fail(w, WAKKS_E_NET);
				return WAKKS_E_NET;
			}
			return 0;
		}
		freeaddrinfo(w->ai_list);
		w->ai_list = w->ai_next = NULL;
		if ((rc = start_tls(w, ctx)) != 0)
			goto fail;
	}
	if (w->state == WS_TLS) {
		ERR_clear_error();
		int r = SSL_connect(w->ssl);
		if (r != 1) {
			int e = SSL_get_error(w->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				w->want_write = e == SSL_ERROR_WANT_WRITE;
				return 0;
			}
			if (SSL_get_verify_result(w->ssl) != X509_V_OK)
				w->why = WAKKS_WHY_CERTIFICATE;
			rc = WAKKS_E_TLS;
			goto fail;
		}
		w->want_write = false;
		if ((rc = send_upgrade(w)) != 0)
			goto fail;
	}
	if (w->state == WS_UPGRADE || w->state == WS_OPEN) {
		if ((rc = flush(w)) != 0)
			goto fail;
		for (;;) {
			int r = read_some(w);
			if (r < 0 && w->in_len == 0) {
				rc = r;
				goto fail;
			}
			if (w->state == WS_UPGRADE) {
				int used = parse_upgrade(w);
				if (used < 0) {
					rc = used;
					goto fail;
				}
				if (used > 0) {
					consume(w, (size_t)used);
					w->state = WS_OPEN;
				}
			}
			if (w->state == WS_OPEN) {
				rc = parse_frames(w, cb, arg);
				if (w->state != WS_OPEN) /* failed inside a callback's send */
					return w->error ? w->error : WAKKS_E_CLOSED;
				if (rc == 0)
					rc = flush(w);
				if (rc != 0)
					goto fail;
			}
			if (r < 0) {
				rc = r;
				goto fail;
			}
			if (r == 0)
				break;
		}
	}
	return w->state == WS_CLOSED ? (w->error ? w->error : WAKKS_E_CLOSED) : 0;
fail:
	ws_fail(w, rc);
	return rc;
}

void wakks__ws_abort(wakks__ws *w)
{
	ws_fail(w, WAKKS_E_CLOSED);
}

void wakks__ws_close(wakks__ws *w, bool graceful)
{
	if (graceful && w->state == WS_OPEN && w->ssl) {
		uint8_t code[2] = { 0x03, 0xe8 };
		if (frame_out(w, WS_OP_CLOSE, code, 2) == 0)
			flush(w);
		SSL_shutdown(w->ssl);
	}
	ws_fail(w, WAKKS_E_CLOSED);
	free(w->out);
	free(w->in);
	free(w->msg);
	w->out = w->in = w->msg = NULL;
	w->out_len = w->out_cap = w->in_len = w->in_cap = w->msg_len = 0;
	w->state = WS_IDLE;
}

/* ---- Blocking HTTPS for the consent text and the development identity provider ---------------- */

static int blocking_connect(SSL_CTX *ctx, const char *host, int port, int *fd_out, SSL **ssl_out)
{
	char ps[16];
	snprintf(ps, sizeof ps, "%d", port);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *list, *ai;
	if (getaddrinfo(host, ps, &hints, &list) != 0)
		return WAKKS_E_NET;
	int fd = -1;
	for (ai = list; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		struct timeval tv = { 15, 0 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(list);
	if (fd < 0)
		return WAKKS_E_NET;
	wakks__ws tmp = { .fd = fd };
	snprintf(tmp.host, sizeof tmp.host, "%s", host);
	if (start_tls(&tmp, ctx) != 0 || SSL_connect(tmp.ssl) != 1) {
		if (tmp.ssl)
			SSL_free(tmp.ssl);
		close(fd);
		return WAKKS_E_TLS;
	}
	*fd_out = fd;
	*ssl_out = tmp.ssl;
	return 0;
}

/* Largest HTTP response we read: a consent text or a token response. */
#define HTTPS_MAX_RESPONSE (1u << 20)

static int https__send_request(SSL *ssl, const char *host, int port, const char *method,
			       const char *path, const char *form)
{
	size_t flen = form ? strlen(form) : 0;
	size_t cap = strlen(path) + strlen(host) + flen + 256;
	char *req = malloc(cap);
	if (!req)
		return WAKKS_E_NOMEM;
	bool v6 = strchr(host, ':') != NULL;
	int n = snprintf(req, cap,
			 "%s %s HTTP/1.1\r\nHost: %s%s%s:%d\r\nConnection: close\r\n%s"
			 "Content-Length: %zu\r\n\r\n%s",
			 method, path, v6 ? "[" : "", host, v6 ? "]" : "", port,
			 !form ? "" : form[0] == '{' ? "Content-Type: application/json\r\n"
				  : "Content-Type: application/x-www-form-urlencoded\r\n", flen,
			 form ? form : "");
	int rc = n <= 0 || SSL_write(ssl, req, n) != n ? WAKKS_E_NET : 0;
	free(req);
	return rc;
}

/* Reads until the server closes (the request asked it to); resp has room for the terminator. */
static int https__read_response(SSL *ssl, char *resp, size_t *have_out)
{
	size_t have = 0;
	for (;;) {
		if (have == HTTPS_MAX_RESPONSE)
			return WAKKS_E_HTTP;
		int r = SSL_read(ssl, resp + have, (int)(HTTPS_MAX_RESPONSE - have));
		if (r <= 0)
			break;
		have += (size_t)r;
	}
	resp[have] = '\0';
	*have_out = have;
	return 0;
}

/* Scans the header lines (resp ends at the blank line) for Location and chunked encoding. */
static void https__scan_headers(const char *resp, char *location, size_t loc_cap, bool *chunked)
{
	if (location) {
		location[0] = '\0';
		for (const char *p = resp; (p = strchr(p, '\n')) != NULL;) {
			p++;
			if (strncasecmp(p, "location:", 9) == 0) {
				const char *v = p + 9;
				while (*v == ' ')
					v++;
				size_t l = strcspn(v, "\r\n");
				if (l < loc_cap) {
					memcpy(location, v, l);
					location[l] = '\0';
				}
			}
		}
	}
	*chunked = false;
	for (const char *p = resp; (p = strchr(p, '\n')) != NULL;) {
		p++;
		if (strncasecmp(p, "transfer-encoding:", 18) == 0 && strstr(p, "chunked"))
			*chunked = true;
	}
}

/* De-chunks the body in place; *blen is its length before and after. */
static int https__dechunk(char *b, size_t *blen)
{
	char *src = b, *dst = b, *end = b + *blen;
	while (src < end) {
		char *nl = strstr(src, "\r\n");
		if (!nl)
			return WAKKS_E_HTTP;
		size_t cl = strtoul(src, NULL, 16);
		src = nl + 2;
		if (cl == 0)
			break;
		if ((size_t)(end - src) < cl)
			return WAKKS_E_HTTP;
		memmove(dst, src, cl);
		dst += cl;
		src += cl + 2;
	}
	*blen = (size_t)(dst - b);
	return 0;
}

/* Splits a whole response into status, headers and a copy of the body. */
static int https__parse_response(char *resp, size_t have, int *status, char **body,
				 char *location, size_t loc_cap)
{
	char *hend = strstr(resp, "\r\n\r\n");
	if (!hend || sscanf(resp, "HTTP/1.%*d %d", status) != 1)
		return WAKKS_E_HTTP;
	*hend = '\0';
	bool chunked;
	https__scan_headers(resp, location, loc_cap, &chunked);
	char *b = hend + 4;
	size_t blen = have - (size_t)(b - resp);
	if (chunked && https__dechunk(b, &blen) != 0)
		return WAKKS_E_HTTP;
	char *out_body = malloc(blen + 1);
	if (!out_body)
		return WAKKS_E_NOMEM;
	memcpy(out_body, b, blen);
	out_body[blen] = '\0';
	*body = out_body;
	return 0;
}

int wakks__https(SSL_CTX *ctx, const char *host, int port, const char *method, const char *path,
		 const char *form, int *status, char **body, char *location, size_t loc_cap)
{
	int fd;
	SSL *ssl;
	int rc = blocking_connect(ctx, host, port, &fd, &ssl);
	if (rc != 0)
		return rc;
	/* Room for the response before the request leaves: a sent request is not sent twice. */
	char *resp = malloc(HTTPS_MAX_RESPONSE + 1);
	size_t have = 0;
	if (!resp) {
		rc = WAKKS_E_NOMEM;
		goto out;
	}
	if ((rc = https__send_request(ssl, host, port, method, path, form)) != 0)
		goto out;
	if ((rc = https__read_response(ssl, resp, &have)) != 0)
		goto out;
	rc = https__parse_response(resp, have, status, body, location, loc_cap);
out:
	free(resp);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(fd);
	return rc;
}
