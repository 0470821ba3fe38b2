/* SPDX-License-Identifier: MPL-2.0 */
#include "net/admin_listener.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "core/log.h"
#include "relay_state.h"

/* A request line and a scraper's few headers fit easily; anything longer is not a monitoring
 * client and is closed. */
#define ADMIN_REQUEST_MAX 4096
/* Connections at once: scrapers and probes, a handful; more is someone else. */
#define ADMIN_CONNS_MAX 32
/* A client that has not sent its request in this time is closed (a slow-loris ties up nothing). */
#define ADMIN_IDLE_MS 5000

struct admin_conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t write;
	struct relay_admin *admin;
	struct admin_conn *prev, *next;
	char req[ADMIN_REQUEST_MAX];
	size_t req_len;
	char *out;
	int open_handles;
	bool answered;
};

struct relay_admin {
	uv_tcp_t server;
	struct relay *relay;
	relay_admin_route_fn route;
	struct admin_conn *conns;
	int n_conns;
	bool stopping;
};

static void conn_free(uv_handle_t *h)
{
	struct admin_conn *c = h->data;
	if (--c->open_handles > 0)
		return;
	free(c->out);
	free(c);
}

static void conn_close(struct admin_conn *c)
{
	if (uv_is_closing((uv_handle_t *)&c->tcp))
		return;
	struct relay_admin *a = c->admin;
	if (c->prev)
		c->prev->next = c->next;
	else
		a->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	a->n_conns--;
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, conn_free);
	uv_close((uv_handle_t *)&c->tcp, conn_free);
}

static void on_written(uv_write_t *w, int status)
{
	(void)status;
	conn_close(w->data);
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 503: return "Service Unavailable";
	default: return status >= 500 ? "Internal Server Error" : "Bad Request";
	}
}

static void answer(struct admin_conn *c, int status, const char *type, const char *body, size_t len)
{
	c->answered = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
	char head[256];
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
			 status, reason_phrase(status), type, len);
	c->out = malloc((size_t)n + len);
	if (!c->out) {
		conn_close(c);
		return;
	}
	memcpy(c->out, head, (size_t)n);
	memcpy(c->out + n, body, len);
	uv_buf_t buf = uv_buf_init(c->out, (unsigned)((size_t)n + len));
	c->write.data = c;
	if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &buf, 1, on_written) != 0)
		conn_close(c);
}

int relay_admin_parse_request(const char *head, char *method, size_t method_len, char *path,
			      size_t path_len)
{
	const char *p = head;
	size_t m = 0;
	while (p[m] >= 'A' && p[m] <= 'Z' && m < 7)
		m++;
	if (m == 0 || p[m] != ' ' || m >= method_len)
		return -1;
	const char *t = p + m + 1;
	if (*t != '/')
		return -1;
	size_t n = 0;
	while (t[n] > ' ' && t[n] != 0x7f)
		n++;
	if (t[n] != ' ' || n >= path_len)
		return -1;
	const char *v = t + n + 1;
	if (strncmp(v, "HTTP/1.", 7) != 0 || (v[7] != '0' && v[7] != '1') ||
	    !(v[8] == '\n' || (v[8] == '\r' && v[9] == '\n')))
		return -1;
	memcpy(method, p, m);
	method[m] = '\0';
	size_t keep = n;
	const char *q = memchr(t, '?', n);
	if (q)
		keep = (size_t)(q - t);
	memcpy(path, t, keep);
	path[keep] = '\0';
	return 0;
}

/* The request line is all the routes need; headers are read past and ignored. */
static void handle_request(struct admin_conn *c)
{
	char method[8], target[256];
	if (relay_admin_parse_request(c->req, method, sizeof method, target, sizeof target) != 0) {
		answer(c, 400, "text/plain", "bad request\n", 12);
		return;
	}
	struct relay_admin_answer a = { 0 };
	if (c->admin->route(c->admin->relay, method, target, &a) != 0) {
		answer(c, 500, "text/plain", "out of memory\n", 14);
		return;
	}
	answer(c, a.status, a.content_type ? a.content_type : "text/plain", a.body ? a.body : "",
	       a.len);
	free(a.body);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct admin_conn *c = h->data;
	size_t room = sizeof c->req - 1 - c->req_len;
	*buf = uv_buf_init(c->req + c->req_len, (unsigned)room);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	(void)buf;
	struct admin_conn *c = s->data;
	if (n < 0) {
		conn_close(c);
		return;
	}
	c->req_len += (size_t)n;
	c->req[c->req_len] = '\0';
	if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n"))
		handle_request(c);
	else if (c->req_len == sizeof c->req - 1)
		answer(c, 400, "text/plain", "request too large\n", 18);
}

static void on_idle(uv_timer_t *t)
{
	struct admin_conn *c = t->data;
	if (!c->answered)
		conn_close(c);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct relay_admin *a = server->data;
	if (status < 0)
		return;
	struct admin_conn *c = calloc(1, sizeof *c);
	if (!c)
		return;
	c->admin = a;
	uv_tcp_init(server->loop, &c->tcp);
	uv_timer_init(server->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->open_handles = 2;
	c->next = a->conns;
	if (a->conns)
		a->conns->prev = c;
	a->conns = c;
	a->n_conns++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 || a->n_conns > ADMIN_CONNS_MAX ||
	    a->stopping) {
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_idle, ADMIN_IDLE_MS, 0);
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
		conn_close(c);
}

static void server_free(uv_handle_t *h)
{
	free(h->data);
}

int relay_admin_start(struct relay *r, const char *host, int port, relay_admin_route_fn route)
{
	struct sockaddr_in sa;
	int rc = uv_ip4_addr(host, port, &sa);
	if (rc != 0)
		return rc;
	struct relay_admin *a = calloc(1, sizeof *a);
	if (!a)
		return UV_ENOMEM;
	a->relay = r;
	a->route = route;
	uv_tcp_init(r->loop, &a->server);
	a->server.data = a;
	rc = uv_tcp_bind(&a->server, (const struct sockaddr *)&sa, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&a->server, 16, on_connection);
	if (rc != 0) {
		uv_close((uv_handle_t *)&a->server, server_free);
		return rc;
	}
	struct sockaddr_storage bound;
	int len = sizeof bound;
	if (uv_tcp_getsockname(&a->server, (struct sockaddr *)&bound, &len) == 0)
		r->admin_port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
	r->admin = a;
	return 0;
}

void relay_admin_stop(struct relay *r)
{
	struct relay_admin *a = r->admin;
	if (!a)
		return;
	a->stopping = true;
	while (a->conns)
		conn_close(a->conns);
	uv_close((uv_handle_t *)&a->server, server_free);
	r->admin = NULL;
}
