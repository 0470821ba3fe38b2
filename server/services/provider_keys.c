/* SPDX-License-Identifier: MPL-2.0 */
/* Provider metadata and key sets over HTTPS. One fetch per provider at a time: discovery (when
 * configured) then the key set; waiters queue behind it. A key set replaces the previous one only
 * when it parses; anything else keeps the last good set and retries with backoff. */
#include "services/provider_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "net/http_client.h"
#include "relay_state.h"

#define TICK_MS 1000

struct waiter {
	provider_keys_done_fn done;
	void *ctx;
	struct waiter *next;
};

struct provider_remote {
	struct relay *relay;
	struct relay_idp *idp;
	char cache_jwks[RELAY_CONFIG_PATH_MAX + 96];
	char cache_meta[RELAY_CONFIG_PATH_MAX + 96];
	id_discovery meta;
	bool have_meta;
	bool fetching;
	uint64_t next_fetch_ms;   /* monotonic: when the set (or a retry) is due */
	uint64_t retry_ms;        /* the next backoff step */
	uint64_t last_kid_fetch_ms;
	bool kid_fetched;         /* a kid-caused fetch happened (so last_kid_fetch_ms counts) */
	struct waiter *waiters;
	uint64_t generation;      /* fetches started; a stale completion is ignored */
};

struct relay_provider_keys {
	struct http_client *http;
	uv_timer_t timer;
	bool timer_started;
	uint64_t generations; /* fetches started, over every provider and reload */
};

/* One file write on the threadpool: the loop never waits for a disk. */
struct persist_op {
	uv_work_t work;
	char path[RELAY_CONFIG_PATH_MAX + 96];
	size_t len;
	int err;
	char data[];
};

static void persist_work(uv_work_t *w)
{
	struct persist_op *op = w->data;
	char tmp[sizeof op->path + 8];
	snprintf(tmp, sizeof tmp, "%s.tmp", op->path);
	op->err = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		op->err = errno;
		return;
	}
	size_t off = 0;
	while (off < op->len) {
		ssize_t n = write(fd, op->data + off, op->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			op->err = n < 0 ? errno : EIO;
			break;
		}
		off += (size_t)n;
	}
	if (op->err == 0 && fsync(fd) != 0)
		op->err = errno;
	close(fd);
	if (op->err == 0 && rename(tmp, op->path) != 0)
		op->err = errno;
	if (op->err != 0)
		unlink(tmp);
}

static void persist_done(uv_work_t *w, int status)
{
	struct persist_op *op = w->data;
	if (status != 0 || op->err != 0)
		RLOG_WARN("identity", "idp_cache_write_failed", "path=%s error=\"%s\"", op->path,
			  strerror(status != 0 ? ECANCELED : op->err));
	free(op);
}

static void persist(struct relay *r, const char *path, const uint8_t *data, size_t len)
{
	struct persist_op *op = malloc(sizeof *op + len);
	if (!op)
		return;
	snprintf(op->path, sizeof op->path, "%s", path);
	memcpy(op->data, data, len);
	op->len = len;
	op->work.data = op;
	if (uv_queue_work(r->loop, &op->work, persist_work, persist_done) != 0)
		free(op);
}

static int read_small_file(const char *path, size_t max, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	char *buf = malloc(max + 1);
	size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
	fclose(f);
	if (!buf || n > max) {
		free(buf);
		return -1;
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
}

bool relay_provider_is_remote(const struct relay_idp *p)
{
	return p->remote != NULL;
}

const id_discovery *relay_provider_metadata(const struct relay_idp *p)
{
	return p->remote && p->remote->have_meta ? &p->remote->meta : NULL;
}

static void finish(struct provider_remote *pr, bool ok)
{
	struct relay *r = pr->relay;
	uint64_t now = relay_monotonic_ms();
	pr->fetching = false;
	if (!ok) {
		pr->next_fetch_ms = now + pr->retry_ms;
		pr->retry_ms = pr->retry_ms * 2 > PROVIDER_KEYS_RETRY_MAX_MS ? PROVIDER_KEYS_RETRY_MAX_MS
									: pr->retry_ms * 2;
	} else {
		pr->retry_ms = PROVIDER_KEYS_RETRY_MIN_MS;
	}
	struct waiter *w = pr->waiters;
	pr->waiters = NULL;
	while (w) {
		struct waiter *next = w->next;
		w->done(w->ctx, ok);
		free(w);
		w = next;
	}
	(void)r;
}

/* The request's context: which provider, and which of its fetches (a provider freed or a fetch
 * superseded meanwhile is recognised). */
struct fetch_ctx {
	struct relay *relay;
	int idp_index;
	uint64_t generation;
};

static struct provider_remote *ctx_remote(struct fetch_ctx *fc)
{
	struct relay *r = fc->relay;
	if (fc->idp_index >= r->identity.idp_count)
		return NULL;
	struct provider_remote *pr = r->identity.idps[fc->idp_index].remote;
	return pr && pr->generation == fc->generation ? pr : NULL;
}

static const char *jwks_url(const struct provider_remote *pr)
{
	if (pr->idp->cfg->jwks_url[0])
		return pr->idp->cfg->jwks_url;
	return pr->have_meta ? pr->meta.jwks_uri : NULL;
}

static int submit(struct provider_remote *pr, const char *url, http_client_done_fn fn);

static bool response_ok(struct provider_remote *pr, const struct http_response *res, const char *what)
{
	if (res->error == HTTP_CLIENT_OK && res->status == 200)
		return true;
	if (res->error != HTTP_CLIENT_CANCELLED)
		RLOG_WARN("identity", "idp_fetch_failed", "idp=%s what=%s status=%ld error=\"%s\" "
			  "note=\"keeping the last good key set\"", pr->idp->cfg->id, what, res->status,
			  res->error == HTTP_CLIENT_OK ? "unexpected HTTP status"
						       : (res->error_text ? res->error_text : "transport"));
	return false;
}

static void on_jwks(void *ctx, const struct http_response *res)
{
	struct fetch_ctx *fc = ctx;
	struct provider_remote *pr = ctx_remote(fc);
	free(fc);
	if (!pr)
		return;
	if (!response_ok(pr, res, "jwks"))
		return finish(pr, false);
	id_keyset *ks = NULL;
	int rc = id_keyset_parse((const char *)res->body, res->body_len, &ks);
	if (rc != 0) {
		RLOG_WARN("identity", "idp_jwks_invalid", "idp=%s error=\"%s\" note=\"keeping the last "
			  "good key set\"", pr->idp->cfg->id, id_strerror(rc));
		return finish(pr, false);
	}
	char cc[256];
	int64_t age = -1;
	if (res->headers && http_header_value(res->headers, "Cache-Control", cc, sizeof cc) >= 0)
		age = id_cache_max_age(cc);
	if (age < 0)
		age = PROVIDER_KEYS_DEFAULT_FRESH_S;
	if (age < PROVIDER_KEYS_MIN_FRESH_S)
		age = PROVIDER_KEYS_MIN_FRESH_S;
	if (age > PROVIDER_KEYS_MAX_FRESH_S)
		age = PROVIDER_KEYS_MAX_FRESH_S;
	id_keyset_free(pr->idp->keys);
	pr->idp->keys = ks;
	pr->next_fetch_ms = relay_monotonic_ms() + (uint64_t)age * 1000;
	persist(pr->relay, pr->cache_jwks, res->body, res->body_len);
	RLOG_INFO("identity", "idp_keys_fetched", "idp=%s keys=%zu fresh_s=%lld", pr->idp->cfg->id,
		  id_keyset_count(ks), (long long)age);
	finish(pr, true);
}

static void on_discovery(void *ctx, const struct http_response *res)
{
	struct fetch_ctx *fc = ctx;
	struct provider_remote *pr = ctx_remote(fc);
	free(fc);
	if (!pr)
		return;
	if (response_ok(pr, res, "discovery")) {
		id_discovery d;
		int rc = id_discovery_parse((const char *)res->body, res->body_len, pr->idp->issuer,
					    false, &d);
		if (rc == 0) {
			pr->meta = d;
			pr->have_meta = true;
			persist(pr->relay, pr->cache_meta, res->body, res->body_len);
		} else {
			RLOG_WARN("identity", "idp_discovery_invalid", "idp=%s error=\"%s\"",
				  pr->idp->cfg->id, id_strerror(rc));
		}
	}
	/* Metadata known (now or from before): the keys, even when this discovery fetch failed. */
	const char *url = jwks_url(pr);
	if (!url || submit(pr, url, on_jwks) != 0)
		finish(pr, false);
}

static int submit(struct provider_remote *pr, const char *url, http_client_done_fn fn)
{
	struct relay *r = pr->relay;
	struct fetch_ctx *fc = malloc(sizeof *fc);
	if (!fc)
		return -1;
	*fc = (struct fetch_ctx){ r, (int)(pr->idp - r->identity.idps), pr->generation };
	static const char *const headers[] = { "Accept: application/json", NULL };
	struct http_request req = {
		.method = "GET",
		.url = url,
		.headers = headers,
		.timeout_ms = PROVIDER_KEYS_TIMEOUT_MS,
		.ca_file = pr->idp->cfg->ca_file[0] ? pr->idp->cfg->ca_file : NULL,
		.max_response_bytes = fn == on_jwks ? ID_JWKS_MAX_BYTES : ID_DISCOVERY_MAX_BYTES,
	};
	if (http_client_submit(r->identity.provider_keys->http, &req, fn, fc) != 0) {
		free(fc);
		return -1;
	}
	return 0;
}

static void start_fetch(struct provider_remote *pr)
{
	if (pr->fetching)
		return;
	pr->fetching = true;
	pr->generation = ++pr->relay->identity.provider_keys->generations;
	const char *disc = pr->idp->cfg->discovery;
	int rc = disc[0] ? submit(pr, disc, on_discovery)
			 : submit(pr, pr->idp->cfg->jwks_url, on_jwks);
	if (rc != 0) {
		RLOG_WARN("identity", "idp_fetch_not_queued", "idp=%s", pr->idp->cfg->id);
		finish(pr, false);
	}
}

int relay_provider_keys_refresh(struct relay *r, struct relay_idp *p, provider_keys_done_fn done,
				void *ctx)
{
	(void)r;
	struct provider_remote *pr = p->remote;
	if (!pr)
		return -1;
	uint64_t now = relay_monotonic_ms();
	if (!pr->fetching) {
		if (pr->kid_fetched && now - pr->last_kid_fetch_ms < PROVIDER_KEYS_KID_REFRESH_MIN_MS)
			return -1;
		pr->kid_fetched = true;
		pr->last_kid_fetch_ms = now;
	}
	struct waiter *w = malloc(sizeof *w);
	if (!w)
		return -1;
	*w = (struct waiter){ done, ctx, NULL };
	struct waiter **tail = &pr->waiters;
	while (*tail)
		tail = &(*tail)->next;
	*tail = w;
	start_fetch(pr);
	return 0;
}

static void on_tick(uv_timer_t *t)
{
	struct relay *r = t->data;
	uint64_t now = relay_monotonic_ms();
	for (int i = 0; i < r->identity.idp_count; i++) {
		struct provider_remote *pr = r->identity.idps[i].remote;
		if (pr && !pr->fetching && now >= pr->next_fetch_ms)
			start_fetch(pr);
	}
}

/* The persisted state of a provider: metadata first (it names the key set's URL), then keys. */
static void load_persisted(struct provider_remote *pr)
{
	char *buf = NULL;
	size_t len = 0;
	struct relay_idp *p = pr->idp;
	if (p->cfg->discovery[0] && read_small_file(pr->cache_meta, ID_DISCOVERY_MAX_BYTES, &buf, &len) == 0) {
		pr->have_meta = id_discovery_parse(buf, len, p->issuer, false, &pr->meta) == 0;
		free(buf);
	}
	if (read_small_file(pr->cache_jwks, ID_JWKS_MAX_BYTES, &buf, &len) == 0) {
		id_keyset *ks = NULL;
		if (id_keyset_parse(buf, len, &ks) == 0) {
			id_keyset_free(p->keys);
			p->keys = ks;
			RLOG_INFO("identity", "idp_keys_restored", "idp=%s keys=%zu path=%s", p->cfg->id,
				  id_keyset_count(ks), pr->cache_jwks);
		} else {
			RLOG_WARN("identity", "idp_cache_invalid", "idp=%s path=%s", p->cfg->id,
				  pr->cache_jwks);
		}
		free(buf);
	}
}

int relay_provider_keys_attach(struct relay *r, struct http_client *http)
{
	bool any = false;
	for (int i = 0; i < r->identity.idp_count; i++) {
		const struct relay_idp_config *cfg = r->identity.idps[i].cfg;
		any |= !cfg->development && (cfg->discovery[0] || cfg->jwks_url[0]);
	}
	if (!any)
		return 0;
	if (!http) {
		RLOG_ERROR("identity", "idp_no_http_client", "note=\"outbound HTTPS is unavailable\"");
		return -1;
	}
	char dir[RELAY_CONFIG_PATH_MAX + 16];
	snprintf(dir, sizeof dir, "%s/idp-cache", r->cfg.data_dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		RLOG_ERROR("identity", "idp_cache_dir_failed", "path=%s error=\"%s\"", dir, strerror(errno));
		return -1;
	}
	struct relay_provider_keys *pk = r->identity.provider_keys;
	if (!pk) {
		if (!(pk = calloc(1, sizeof *pk)))
			return -1;
		pk->http = http;
		r->identity.provider_keys = pk;
		uv_timer_init(r->loop, &pk->timer);
		pk->timer.data = r;
		uv_timer_start(&pk->timer, on_tick, TICK_MS, TICK_MS);
		pk->timer_started = true;
	}
	for (int i = 0; i < r->identity.idp_count; i++) {
		struct relay_idp *p = &r->identity.idps[i];
		if (p->remote || p->cfg->development || (!p->cfg->discovery[0] && !p->cfg->jwks_url[0]))
			continue;
		struct provider_remote *pr = calloc(1, sizeof *pr);
		if (!pr)
			return -1;
		pr->relay = r;
		pr->idp = p;
		pr->retry_ms = PROVIDER_KEYS_RETRY_MIN_MS;
		snprintf(pr->cache_jwks, sizeof pr->cache_jwks, "%s/%s.jwks.json", dir, p->cfg->id);
		snprintf(pr->cache_meta, sizeof pr->cache_meta, "%s/%s.discovery.json", dir, p->cfg->id);
		p->remote = pr;
		load_persisted(pr);
		if (!p->keys)
			RLOG_WARN("identity", "idp_keys_pending", "idp=%s note=\"no key set yet: tokens "
				  "of this provider are refused until the first fetch succeeds\"", p->cfg->id);
		start_fetch(pr);
	}
	return 0;
}

void relay_provider_keys_detach(struct relay *r)
{
	for (int i = 0; i < r->identity.idp_count; i++) {
		struct provider_remote *pr = r->identity.idps[i].remote;
		if (!pr)
			continue;
		r->identity.idps[i].remote = NULL; /* completions still to come find no provider */
		finish(pr, false);
		free(pr);
	}
}

static void free_pk(uv_handle_t *h)
{
	free(h->data);
}

void relay_provider_keys_stop(struct relay *r)
{
	relay_provider_keys_detach(r);
	struct relay_provider_keys *pk = r->identity.provider_keys;
	r->identity.provider_keys = NULL;
	if (!pk)
		return;
	if (pk->timer_started) {
		uv_timer_stop(&pk->timer);
		pk->timer.data = pk;
		uv_close((uv_handle_t *)&pk->timer, free_pk);
	} else {
		free(pk);
	}
}
