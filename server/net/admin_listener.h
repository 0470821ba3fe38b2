/* SPDX-License-Identifier: MPL-2.0 */
/* The monitoring listener: plain HTTP/1.1 on its own address (admin_listen, loopback by default),
 * apart from the public TLS port, so that metrics and health are never served to the internet
 * and a scraper needs no client certificate or TLS set-up. One GET per connection, answered and
 * closed (Prometheus and load-balancer probes need nothing more). On the loop thread, with libuv
 * directly: it must answer while the public listener's libwebsockets context is busy or broken. */
#ifndef WAKKS_RELAY_NET_ADMIN_LISTENER_H
#define WAKKS_RELAY_NET_ADMIN_LISTENER_H

#include <stddef.h>

struct relay;

/* What a route answers; body is malloc'd and freed by the listener. */
struct relay_admin_answer {
	int status;
	const char *content_type; /* static */
	char *body;
	size_t len;
};

/* Answers method/path (the path without its query) into *a. Returns 0, or -1 when out of memory
 * (the listener answers 500). */
typedef int (*relay_admin_route_fn)(struct relay *r, const char *method, const char *path,
				    struct relay_admin_answer *a);

/* The request line of an HTTP/1.x request head (what a client sent up to its blank line):
 * METHOD (1-7 of A-Z), one space, a target starting with '/' (at most path_len - 1 bytes, no
 * space or control character; its query after '?' is dropped), one space, HTTP/1.0 or HTTP/1.1,
 * CRLF or LF. Returns 0 with method and path written, -1 for anything else. */
int relay_admin_parse_request(const char *head, char *method, size_t method_len, char *path,
			      size_t path_len);

/* Listens on host:port (port 0: an ephemeral one) and stores the bound port in r->admin_port.
 * Returns 0, or a negative libuv error code (nothing listens then). */
int relay_admin_start(struct relay *r, const char *host, int port, relay_admin_route_fn route);

/* Closes the listener and every connection on it (their memory is freed by the close callbacks,
 * on a later turn of the loop). */
void relay_admin_stop(struct relay *r);

#endif
