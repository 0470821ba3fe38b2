/* SPDX-License-Identifier: MPL-2.0 */
/* Outbound HTTPS for the relay (provider metadata and keys, token exchange, push), off the event
 * loop: libcurl's multi interface runs on one worker thread owned by the client; results come back
 * on the loop thread through a uv_async_t. A request that hangs costs a slot, never the loop. */
#ifndef WAKKS_SERVER_NET_HTTP_CLIENT_H
#define WAKKS_SERVER_NET_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct http_client;

struct http_request {
	const char *method;              /* "GET", "POST", ... */
	const char *url;                 /* https:// (http:// only to loopback, for tests) */
	const char *const *headers;      /* NULL-terminated list of "Name: value", or NULL */
	const uint8_t *body;             /* request body, or NULL */
	size_t body_len;
	long timeout_ms;                 /* whole transfer; 0 = 10 000 */
	const char *ca_file;             /* PEM bundle to trust instead of the system store, or NULL */
	const char *client_cert_file;    /* PEM client certificate for mutual TLS, or NULL */
	const char *client_key_file;     /* its PEM private key, or NULL */
	bool require_http2;              /* fail unless HTTP/2 was negotiated (APNs) */
	size_t max_response_bytes;       /* larger bodies fail with HTTP_CLIENT_TOO_LARGE; 0 = 1 MiB */
};

enum http_client_error {
	HTTP_CLIENT_OK = 0,
	HTTP_CLIENT_TRANSPORT = 1,       /* DNS, connect, TLS, timeout: see error_text */
	HTTP_CLIENT_TOO_LARGE = 2,
	HTTP_CLIENT_CANCELLED = 3,       /* the client was freed before the request finished */
	HTTP_CLIENT_NOT_HTTP2 = 4,
};

struct http_response {
	enum http_client_error error;
	const char *error_text;          /* for logs; never contains the request body */
	long status;                     /* HTTP status, 0 when error != OK */
	const uint8_t *body;             /* NUL-terminated copy, valid during the callback only */
	size_t body_len;
	const char *headers;             /* the response header block (last response), NUL-terminated */
};

/* Called once per request, on the loop thread. */
typedef void (*http_client_done_fn)(void *ctx, const struct http_response *response);

/* max_in_flight bounds concurrent transfers; further requests wait in a bounded queue of
 * max_queued entries (http_client_submit returns -1 when it is full). */
struct http_client *http_client_new(uv_loop_t *loop, size_t max_in_flight, size_t max_queued);

/* Copies everything in *request; returns 0, or -1 when the queue is full or out of memory. */
int http_client_submit(struct http_client *client, const struct http_request *request,
		       http_client_done_fn done, void *ctx);

/* The value of the first header `name` (case-insensitive) of a response header block into out;
 * returns its length, or -1 when absent or longer than out_size-1. */
int http_header_value(const char *headers, const char *name, char *out, size_t out_size);

/* Stops the worker; unfinished requests complete with HTTP_CLIENT_CANCELLED before this returns.
 * Must be called on the loop thread; the loop must run afterwards so the async handle closes. */
void http_client_free(struct http_client *client);

#endif
