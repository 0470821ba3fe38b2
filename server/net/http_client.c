/* SPDX-License-Identifier: MPL-2.0 */
/* Outbound HTTPS off the event loop. The worker thread owns the curl multi handle outright (libcurl
 * handles are not thread-safe); the loop thread only appends to `pending` under the mutex and wakes
 * the worker, and the worker hands finished jobs back through `finished` and the async handle. */
#include "net/http_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TIMEOUT_MS 10000L
#define DEFAULT_MAX_RESPONSE ((size_t)1 << 20)
#define MAX_HEADER_BYTES ((size_t)64 << 10)
#define CONNECT_TIMEOUT_MS 5000L

struct growbuf {
	char *data;
	size_t len, cap, limit;
	bool overflow;
};

struct job {
	struct job *next;
	http_client_done_fn done;
	void *ctx;
	CURL *easy;
	struct curl_slist *header_list;
	char *url, *method, *ca_file, *cert_file, *key_file;
	uint8_t *body;
	size_t body_len;
	long timeout_ms;
	bool require_http2, plain_http;
	struct growbuf response, headers;
	enum http_client_error error;
	long status;
	char error_text[CURL_ERROR_SIZE];
};

struct job_list {
	struct job *head, *tail;
	size_t count;
};

struct http_client {
	uv_loop_t *loop;
	uv_async_t wake_loop;
	pthread_t worker;
	pthread_mutex_t lock;
	CURLM *multi;
	struct job_list pending, finished;
	struct job *running; /* the worker's own list, linked through `next`; never locked */
	size_t max_in_flight, max_queued;
	bool stopping;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static void list_push(struct job_list *l, struct job *j)
{
	j->next = NULL;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->count++;
}

static struct job *list_take_all(struct job_list *l)
{
	struct job *head = l->head;
	l->head = l->tail = NULL;
	l->count = 0;
	return head;
}

static bool buf_append(struct growbuf *b, const char *data, size_t n)
{
	if (b->len + n > b->limit) {
		b->overflow = true;
		return false;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *grown = realloc(b->data, cap);
		if (!grown) {
			b->overflow = true;
			return false;
		}
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct job *j = userdata;
	return buf_append(&j->response, data, size * nmemb) ? size * nmemb : 0;
}

/* Keeps only the last response's header block: a 100-continue or a proxy's answer comes first. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct job *j = userdata;
	size_t n = size * nmemb;
	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0)
		j->headers.len = 0;
	return buf_append(&j->headers, data, n) ? n : 0;
}

static void job_free(struct job *j)
{
	if (j->easy)
		curl_easy_cleanup(j->easy);
	curl_slist_free_all(j->header_list);
	free(j->url);
	free(j->method);
	free(j->ca_file);
	free(j->cert_file);
	free(j->key_file);
	free(j->body);
	free(j->response.data);
	free(j->headers.data);
	free(j);
}

static char *dup_or_null(const char *s, bool *failed)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*failed = true;
	return d;
}

/* Plain http:// only to a loopback host, so test stand-ins need no certificate while a
 * misconfigured production URL cannot send tokens or secrets in the clear. */
static int classify_url(const char *url, bool *plain_http)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int rc = -1;
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		if (strcasecmp(scheme, "https") == 0) {
			*plain_http = false;
			rc = 0;
		} else if (strcasecmp(scheme, "http") == 0 &&
			   (strcmp(host, "127.0.0.1") == 0 || strcmp(host, "[::1]") == 0 ||
			    strcasecmp(host, "localhost") == 0)) {
			*plain_http = true;
			rc = 0;
		}
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

static struct job *job_from_request(const struct http_request *r)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		return NULL;
	bool failed = false;
	j->url = dup_or_null(r->url, &failed);
	j->method = dup_or_null(r->method ? r->method : "GET", &failed);
	j->ca_file = dup_or_null(r->ca_file, &failed);
	j->cert_file = dup_or_null(r->client_cert_file, &failed);
	j->key_file = dup_or_null(r->client_key_file, &failed);
	for (const char *const *h = r->headers; h && *h && !failed; h++) {
		struct curl_slist *grown = curl_slist_append(j->header_list, *h);
		if (!grown)
			failed = true;
		else
			j->header_list = grown;
	}
	if (r->body_len > 0 && !failed) {
		j->body = malloc(r->body_len);
		if (j->body) {
			memcpy(j->body, r->body, r->body_len);
			j->body_len = r->body_len;
		} else {
			failed = true;
		}
	}
	j->timeout_ms = r->timeout_ms > 0 ? r->timeout_ms : DEFAULT_TIMEOUT_MS;
	j->require_http2 = r->require_http2;
	j->response.limit = r->max_response_bytes ? r->max_response_bytes : DEFAULT_MAX_RESPONSE;
	j->headers.limit = MAX_HEADER_BYTES;
	if (failed || !j->url || classify_url(j->url, &j->plain_http) != 0) {
		job_free(j);
		return NULL;
	}
	return j;
}

static long http_version_for(const struct job *j)
{
	if (j->require_http2)
		return j->plain_http ? CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE : CURL_HTTP_VERSION_2TLS;
	return CURL_HTTP_VERSION_2TLS; /* h2 where the server offers it, HTTP/1.1 otherwise */
}

static int job_prepare(struct job *j)
{
	CURL *e = curl_easy_init();
	if (!e)
		return -1;
	j->easy = e;
	curl_easy_setopt(e, CURLOPT_PRIVATE, j);
	curl_easy_setopt(e, CURLOPT_URL, j->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, j->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 j->timeout_ms < CONNECT_TIMEOUT_MS ? j->timeout_ms : CONNECT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "OS2wakks-relay");
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, http_version_for(j));
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->error_text);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
	if (j->header_list)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->header_list);
	if (j->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, j->ca_file);
	if (j->cert_file)
		curl_easy_setopt(e, CURLOPT_SSLCERT, j->cert_file);
	if (j->key_file)
		curl_easy_setopt(e, CURLOPT_SSLKEY, j->key_file);
	if (strcmp(j->method, "GET") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, j->method);
	if (j->body || strcmp(j->method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body ? (char *)j->body : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body_len);
	}
	return 0;
}

static void job_settle(struct job *j, CURLcode code)
{
	if (code == CURLE_OK) {
		long version = 0;
		curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &j->status);
		curl_easy_getinfo(j->easy, CURLINFO_HTTP_VERSION, &version);
		if (j->require_http2 && version != CURL_HTTP_VERSION_2_0) {
			j->error = HTTP_CLIENT_NOT_HTTP2;
			snprintf(j->error_text, sizeof j->error_text, "the server did not speak HTTP/2");
		}
	} else if (j->response.overflow || j->headers.overflow) {
		j->error = HTTP_CLIENT_TOO_LARGE;
		snprintf(j->error_text, sizeof j->error_text, "the response exceeds %zu bytes",
			 j->response.limit);
	} else {
		j->error = HTTP_CLIENT_TRANSPORT;
		if (j->error_text[0] == '\0')
			snprintf(j->error_text, sizeof j->error_text, "%s", curl_easy_strerror(code));
	}
	if (j->error != HTTP_CLIENT_OK)
		j->status = 0;
}

static void hand_back(struct http_client *c, struct job *j)
{
	pthread_mutex_lock(&c->lock);
	list_push(&c->finished, j);
	pthread_mutex_unlock(&c->lock);
	uv_async_send(&c->wake_loop);
}

static void cancel_job(struct http_client *c, struct job *j)
{
	j->error = HTTP_CLIENT_CANCELLED;
	j->status = 0;
	snprintf(j->error_text, sizeof j->error_text, "cancelled: the relay is stopping");
	hand_back(c, j);
}

/* Moves waiting jobs into the multi handle while slots are free; returns the number running. */
static size_t start_pending(struct http_client *c, size_t running)
{
	while (running < c->max_in_flight) {
		pthread_mutex_lock(&c->lock);
		struct job *j = c->pending.head;
		if (j) {
			c->pending.head = j->next;
			if (!c->pending.head)
				c->pending.tail = NULL;
			c->pending.count--;
		}
		pthread_mutex_unlock(&c->lock);
		if (!j)
			break;
		if (job_prepare(j) != 0 || curl_multi_add_handle(c->multi, j->easy) != CURLM_OK) {
			j->error = HTTP_CLIENT_TRANSPORT;
			snprintf(j->error_text, sizeof j->error_text, "could not start the transfer");
			hand_back(c, j);
			continue;
		}
		j->next = c->running;
		c->running = j;
		running++;
	}
	return running;
}

static void forget_running(struct http_client *c, struct job *j)
{
	for (struct job **p = &c->running; *p; p = &(*p)->next) {
		if (*p == j) {
			*p = j->next;
			return;
		}
	}
}

static size_t collect_finished(struct http_client *c, size_t running)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(c->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct job *j = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
		CURLcode code = msg->data.result;
		curl_multi_remove_handle(c->multi, msg->easy_handle);
		forget_running(c, j);
		job_settle(j, code);
		hand_back(c, j);
		running--;
	}
	return running;
}

static void cancel_list(struct http_client *c, struct job *j)
{
	while (j) {
		struct job *next = j->next;
		if (j->easy)
			curl_multi_remove_handle(c->multi, j->easy);
		cancel_job(c, j);
		j = next;
	}
}

static void cancel_everything(struct http_client *c)
{
	struct job *running = c->running;
	c->running = NULL;
	cancel_list(c, running);
	pthread_mutex_lock(&c->lock);
	struct job *waiting = list_take_all(&c->pending);
	pthread_mutex_unlock(&c->lock);
	cancel_list(c, waiting);
}

static void *worker_main(void *arg)
{
	struct http_client *c = arg;
	size_t running = 0;
	for (;;) {
		pthread_mutex_lock(&c->lock);
		bool stopping = c->stopping;
		pthread_mutex_unlock(&c->lock);
		if (stopping)
			break;
		running = start_pending(c, running);
		int still = 0;
		curl_multi_perform(c->multi, &still);
		running = collect_finished(c, running);
		curl_multi_poll(c->multi, NULL, 0, 1000, NULL);
	}
	cancel_everything(c);
	return NULL;
}

static void deliver_finished(uv_async_t *handle)
{
	struct http_client *c = handle->data;
	pthread_mutex_lock(&c->lock);
	struct job *j = list_take_all(&c->finished);
	pthread_mutex_unlock(&c->lock);
	while (j) {
		struct job *next = j->next;
		struct http_response r = {
			.error = j->error,
			.error_text = j->error_text,
			.status = j->status,
			.body = (const uint8_t *)(j->response.data ? j->response.data : ""),
			.body_len = j->error == HTTP_CLIENT_OK ? j->response.len : 0,
			.headers = j->headers.data ? j->headers.data : "",
		};
		j->done(j->ctx, &r);
		job_free(j);
		j = next;
	}
}

static void free_after_close(uv_handle_t *handle)
{
	struct http_client *c = handle->data;
	pthread_mutex_destroy(&c->lock);
	curl_multi_cleanup(c->multi);
	free(c);
}

struct http_client *http_client_new(uv_loop_t *loop, size_t max_in_flight, size_t max_queued)
{
	pthread_once(&curl_once, curl_init_once);
	struct http_client *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->loop = loop;
	c->max_in_flight = max_in_flight ? max_in_flight : 1;
	c->max_queued = max_queued;
	c->multi = curl_multi_init();
	if (!c->multi || pthread_mutex_init(&c->lock, NULL) != 0) {
		if (c->multi)
			curl_multi_cleanup(c->multi);
		free(c);
		return NULL;
	}
	curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	if (uv_async_init(loop, &c->wake_loop, deliver_finished) != 0) {
		pthread_mutex_destroy(&c->lock);
		curl_multi_cleanup(c->multi);
		free(c);
		return NULL;
	}
	c->wake_loop.data = c;
	if (pthread_create(&c->worker, NULL, worker_main, c) != 0) {
		uv_close((uv_handle_t *)&c->wake_loop, free_after_close);
		return NULL;
	}
	return c;
}

int http_client_submit(struct http_client *c, const struct http_request *request,
		       http_client_done_fn done, void *ctx)
{
	if (!c || !request || !request->url || !done)
		return -1;
	struct job *j = job_from_request(request);
	if (!j)
		return -1;
	j->done = done;
	j->ctx = ctx;
	pthread_mutex_lock(&c->lock);
	bool full = c->stopping || c->pending.count >= c->max_queued;
	if (!full)
		list_push(&c->pending, j);
	pthread_mutex_unlock(&c->lock);
	if (full) {
		job_free(j);
		return -1;
	}
	curl_multi_wakeup(c->multi);
	return 0;
}

int http_header_value(const char *headers, const char *name, char *out, size_t out_size)
{
	size_t name_len = strlen(name);
	for (const char *line = headers; line && *line;) {
		const char *end = strpbrk(line, "\r\n");
		size_t line_len = end ? (size_t)(end - line) : strlen(line);
		if (line_len > name_len && line[name_len] == ':' &&
		    strncasecmp(line, name, name_len) == 0) {
			const char *v = line + name_len + 1, *v_end = line + line_len;
			while (v < v_end && (*v == ' ' || *v == '\t'))
				v++;
			while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t'))
				v_end--;
			size_t n = (size_t)(v_end - v);
			if (n + 1 > out_size)
				return -1;
			memcpy(out, v, n);
			out[n] = '\0';
			return (int)n;
		}
		if (!end)
			break;
		line = end + strspn(end, "\r\n");
	}
	return -1;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_mutex_unlock(&c->lock);
	curl_multi_wakeup(c->multi);
	pthread_join(c->worker, NULL);
	deliver_finished(&c->wake_loop);
	uv_close((uv_handle_t *)&c->wake_loop, free_after_close);
}
