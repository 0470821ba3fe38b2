/* SPDX-License-Identifier: MPL-2.0 */
#include "receipts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_REQUEST (1u << 20)

struct jreceipts {
	struct jreceipts_conf c;
	SSL_CTX *ctx;
	int fd, port;
	int stop_pipe[2];
	pthread_t th;
	jreceipt_fn fn;
	void *arg;
};

static void respond(SSL *ssl, int status, const char *body)
{
	char head[256];
	const char *text = status == 200 ? "OK" : status == 404 ? "Not Found" : status == 500 ? "Internal Server Error" : "Bad Request";
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 %d %s\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 status, text, body ? strlen(body) : 0);
	SSL_write(ssl, head, n);
	if (body && *body)
		SSL_write(ssl, body, (int)strlen(body));
}

static void answer(SSL *ssl, int status, bool ok, const char *reason)
{
	char *xml = sf2900_receipt_answer(ok, reason);
	respond(ssl, status, xml ? xml : "");
	free(xml);
}

/* Reads one request: headers up to a blank line, then Content-Length bytes. */
static int read_request(SSL *ssl, char **buf, size_t *len, size_t *body_off, char *method,
			char *path)
{
	size_t cap = 8192, n = 0;
	char *b = malloc(cap + 1);
	if (!b)
		return -1;
	long want = -1;
	size_t hdr_end = 0;
	for (;;) {
		if (hdr_end && want >= 0 && n >= hdr_end + (size_t)want)
			break;
		if (n == cap) {
			if (cap >= MAX_REQUEST + 16384)
				goto bad;
			cap *= 2;
			char *nb = realloc(b, cap + 1);
			if (!nb)
				goto bad;
			b = nb;
		}
		int r = SSL_read(ssl, b + n, (int)(cap - n));
		if (r <= 0)
			goto bad;
		n += (size_t)r;
		b[n] = '\0';
		if (!hdr_end) {
			char *e = strstr(b, "\r\n\r\n");
			if (!e)
				continue;
			hdr_end = (size_t)(e - b) + 4;
			if (sscanf(b, "%7s %127s", method, path) != 2)
				goto bad;
			char *cl = strcasestr(b, "\r\nContent-Length:");
			if (!cl || cl > e)
				goto bad;
			want = strtol(cl + 17, NULL, 10);
			if (want < 0 || want > (long)MAX_REQUEST)
				goto bad;
		}
	}
	*buf = b;
	*len = hdr_end + (size_t)want;
	*body_off = hdr_end;
	return 0;
bad:
	free(b);
	return -1;
}

static void serve(struct jreceipts *r, int cfd)
{
	struct timeval tv = { 10, 0 };
	setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	SSL *ssl = SSL_new(r->ctx);
	if (!ssl)
		return;
	SSL_set_fd(ssl, cfd);
	if (SSL_accept(ssl) != 1) {
		/* No client certificate, or one we do not trust: TLS ends here. */
		fprintf(stderr, "journal receipts: TLS handshake refused\n");
		SSL_free(ssl);
		return;
	}
	char *buf = NULL, method[8], path[128];
	size_t len, off;
	if (read_request(ssl, &buf, &len, &off, method, path) != 0) {
		answer(ssl, 400, false, "malformed HTTP request");
	} else if (strcmp(method, "POST") != 0 || strcmp(path, r->c.path) != 0) {
		answer(ssl, 404, false, "no such service");
	} else {
		struct sf2900_receipt rc;
		char why[200];
		if (sf2900_receipt_parse(buf + off, len - off, &rc, why, sizeof why) != 0) {
			answer(ssl, 400, false, why);
		} else {
			int res = r->fn(&rc, r->arg);
			if (res == 0)
				answer(ssl, 200, true, NULL);
			else if (res == 1)
				answer(ssl, 404, false, "unknown transaction");
			else
				answer(ssl, 500, false, "receipt not recorded; deliver it again");
		}
	}
	free(buf);
	SSL_shutdown(ssl);
	SSL_free(ssl);
}

static void *run(void *arg)
{
	struct jreceipts *r = arg;
	for (;;) {
		struct pollfd p[2] = { { r->fd, POLLIN, 0 }, { r->stop_pipe[0], POLLIN, 0 } };
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		int cfd = accept4(r->fd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0)
			continue;
		serve(r, cfd); /* one at a time: receipts are small and rare */
		close(cfd);
	}
	return NULL;
}

jreceipts *jreceipts_start(const struct jreceipts_conf *c, jreceipt_fn fn, void *arg, char *err,
			   size_t err_len)
{
	struct jreceipts *r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	r->c = *c;
	r->fn = fn;
	r->arg = arg;
	r->fd = -1;
	r->stop_pipe[0] = r->stop_pipe[1] = -1;
	r->ctx = SSL_CTX_new(TLS_server_method());
	if (!r->ctx || SSL_CTX_set_min_proto_version(r->ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate_chain_file(r->ctx, c->cert_file) != 1 ||
	    SSL_CTX_use_PrivateKey_file(r->ctx, c->key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(r->ctx, c->client_ca, NULL) != 1) {
		snprintf(err, err_len, "receipt endpoint: certificate, key or client CA unusable");
		goto fail;
	}
	SSL_CTX_set_verify(r->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)c->port) };
	if (inet_pton(AF_INET, c->listen[0] ? c->listen : "127.0.0.1", &sa.sin_addr) != 1) {
		snprintf(err, err_len, "receipt endpoint: bad listen address");
		goto fail;
	}
	r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	socklen_t sl = sizeof sa;
	if (r->fd < 0 || bind(r->fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(r->fd, 16) != 0 || getsockname(r->fd, (struct sockaddr *)&sa, &sl) != 0) {
		snprintf(err, err_len, "receipt endpoint: cannot listen on port %d: %s", c->port,
			 strerror(errno));
		goto fail;
	}
	r->port = ntohs(sa.sin_port);
	if (pipe2(r->stop_pipe, O_CLOEXEC) != 0 || pthread_create(&r->th, NULL, run, r) != 0) {
		snprintf(err, err_len, "receipt endpoint: cannot start its thread");
		goto fail;
	}
	return r;
fail:
	if (r->fd >= 0)
		close(r->fd);
	if (r->stop_pipe[0] >= 0) {
		close(r->stop_pipe[0]);
		close(r->stop_pipe[1]);
	}
	SSL_CTX_free(r->ctx);
	free(r);
	return NULL;
}

int jreceipts_port(const jreceipts *r)
{
	return r->port;
}

void jreceipts_stop(jreceipts *r)
{
	if (!r)
		return;
	if (write(r->stop_pipe[1], "x", 1) != 1)
		return;
	pthread_join(r->th, NULL);
	close(r->stop_pipe[0]);
	close(r->stop_pipe[1]);
	close(r->fd);
	SSL_CTX_free(r->ctx);
	free(r);
}
