/* SPDX-License-Identifier: MPL-2.0 */
/* The fallback webhook (webhook.h, spec/push.md §7). What waits is kept in memory, one entry per
 * citizen with an unread unit message: a restart forgets it, so a message stored before a restart
 * gets no webhook (spec/push.md §7 says so). */
#include "services/webhook.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include "core/clock.h"
#include "core/idmap.h"
#include "core/log.h"
#include "net/http_client.h"
#include "relay_state.h"
#include "wakks_storage.h"

/* Citizens with an unread unit message tracked at once: beyond it new ones are not tracked
 * (counted as dropped); one entry is about 600 bytes. */
#define WEBHOOK_MAX_PENDING 100000u
#define WEBHOOK_SECRET_MIN 32
#define WEBHOOK_SECRET_MAX 256
#define WEBHOOK_DEVICES 16 /* PROTO_MAX_DEVICES_PER_ACCOUNT */

struct wh_tenant {
	const struct relay_tenant_config *cfg;
	uint8_t secret[WEBHOOK_SECRET_MAX];
	size_t secret_len;
	uint64_t after_ms;
};

struct wh_entry {
	uint8_t citizen[16];
	int tenant;                 /* index in tenants[] */
	uint64_t since_unix;        /* when the message was stored */
	uint64_t due_mono;          /* next check or attempt */
	uint64_t quiet_until_mono;  /* after a call: no other call for this citizen until then */
	uint32_t attempts;
	bool in_flight, fired;
	size_t n;
	uint8_t devices[WEBHOOK_DEVICES][16];
	uint64_t seqs[WEBHOOK_DEVICES];
};

struct relay_webhook {
	struct relay *relay;
	struct wh_tenant tenants[RELAY_MAX_TENANTS];
	int n_tenants;
	struct idmap pending; /* citizen account -> struct wh_entry */
	size_t count;
	struct http_client *http;
	uv_timer_t timer;
};

static int tenant_index(const struct relay_webhook *w, const char *tenant, size_t len)
{
	for (int i = 0; i < w->n_tenants; i++)
		if (strlen(w->tenants[i].cfg->id) == len && memcmp(w->tenants[i].cfg->id, tenant, len) == 0)
			return i;
	return -1;
}

int relay_webhook_enabled(const struct relay *r, const char *tenant, size_t len)
{
	return r->webhook && tenant && tenant_index(r->webhook, tenant, len) >= 0;
}

void relay_webhook_note(struct relay *r, const char *tenant, const uint8_t citizen[16],
			const uint8_t (*devices)[16], const uint64_t *seqs, size_t n)
{
	struct relay_webhook *w = r->webhook;
	int t = w ? tenant_index(w, tenant, strlen(tenant)) : -1;
	if (t < 0 || n == 0 || idmap_get(&w->pending, citizen))
		return; /* the earlier unread message already has the clock running */
	if (w->count >= WEBHOOK_MAX_PENDING) {
		r->metrics.webhook_failed++;
		return;
	}
	struct wh_entry *e = calloc(1, sizeof *e);
	if (!e || idmap_put(&w->pending, citizen, e) != 0) {
		free(e);
		return;
	}
	w->count++;
	memcpy(e->citizen, citizen, 16);
	e->tenant = t;
	e->since_unix = (uint64_t)time(NULL);
	e->due_mono = relay_monotonic_ms() + w->tenants[t].after_ms;
	e->n = n < WEBHOOK_DEVICES ? n : WEBHOOK_DEVICES;
	memcpy(e->devices, devices, e->n * 16);
	memcpy(e->seqs, seqs, e->n * sizeof *seqs);
}

struct first_seq {
	uint64_t seq;
	bool found;
};

static int first_cb(const struct store_envelope *env, void *data)
{
	struct first_seq *f = data;
	f->found = env->ref.seq == f->seq;
	return 1; /* only the first */
}

/* Unread when the envelope is still in the mailbox of every device it went to. */
static bool still_unread(struct relay *r, const struct wh_entry *e)
{
	for (size_t i = 0; i < e->n; i++) {
		struct first_seq f = { e->seqs[i], false };
		if (store_mailbox_iter(r->store, e->devices[i], e->seqs[i], 1, first_cb, &f) < 0 ||
		    !f.found)
			return false;
	}
	return true;
}

static void forget(struct relay_webhook *w, struct wh_entry *e)
{
	idmap_del(&w->pending, e->citizen);
	w->count--;
	free(e);
}

static void hex(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static void hmac256(const struct wh_tenant *t, const uint8_t *m, size_t len, uint8_t out[32])
{
	unsigned int n = 32;
	HMAC(EVP_sha256(), t->secret, (int)t->secret_len, m, len, out, &n);
}

struct wh_call {
	struct relay *relay;
	uint8_t citizen[16];
};

static void call_done(void *ctx, const struct http_response *resp)
{
	struct wh_call *call = ctx;
	struct relay *r = call->relay;
	struct relay_webhook *w = r->webhook;
	struct wh_entry *e = w ? idmap_get(&w->pending, call->citizen) : NULL;
	free(call);
	if (!e)
		return;
	e->in_flight = false;
	uint64_t now = relay_monotonic_ms();
	bool ok = resp->error == HTTP_CLIENT_OK && resp->status >= 200 && resp->status < 300;
	bool retry = !ok && (resp->error == HTTP_CLIENT_TRANSPORT || resp->status == 429 ||
			     resp->status >= 500) && e->attempts < r->cfg.push.retry_max;
	const char *tenant = w->tenants[e->tenant].cfg->id;
	if (ok) {
		r->metrics.webhook_sent++;
		RLOG_INFO("webhook", "called", "tenant=%s", tenant);
	} else if (retry) {
		e->due_mono = now + ((uint64_t)r->cfg.push.retry_base_ms << e->attempts);
		e->attempts++;
		return;
	} else {
		r->metrics.webhook_failed++;
		RLOG_WARN("webhook", "call_failed", "tenant=%s status=%ld", tenant, resp->status);
	}
	/* Once per citizen per interval: the entry stays as a marker until then. */
	e->fired = true;
	e->quiet_until_mono = now + w->tenants[e->tenant].after_ms;
}

static void call(struct relay_webhook *w, struct wh_entry *e)
{
	struct relay *r = w->relay;
	const struct wh_tenant *t = &w->tenants[e->tenant];
	/* ref: HMAC(secret, "wakks-webhook-ref" 0x00 account)[0..16], linkable only by the tenant. */
	uint8_t mac[32], in[18 + 16];
	memcpy(in, "wakks-webhook-ref", 17);
	in[17] = 0;
	memcpy(in + 18, e->citizen, 16);
	hmac256(t, in, sizeof in, mac);
	char ref[33];
	hex(mac, 16, ref);
	char body[256];
	int bl = snprintf(body, sizeof body, "{\"v\":1,\"tenant\":\"%s\",\"ref\":\"%s\",\"since\":%llu}",
			  t->cfg->id, ref, (unsigned long long)e->since_unix);
	char ts[24];
	int tl = snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
	/* signature over "wakks-webhook-v1" 0x00 timestamp 0x00 body */
	uint8_t signed_in[17 + 1 + 24 + 1 + sizeof body];
	size_t sl = 0;
	memcpy(signed_in, "wakks-webhook-v1", 16), sl = 16;
	signed_in[sl++] = 0;
	memcpy(signed_in + sl, ts, (size_t)tl), sl += (size_t)tl;
	signed_in[sl++] = 0;
	memcpy(signed_in + sl, body, (size_t)bl), sl += (size_t)bl;
	hmac256(t, signed_in, sl, mac);
	char sig_h[100], ts_h[64], sig[65];
	hex(mac, 32, sig);
	snprintf(sig_h, sizeof sig_h, "X-Wakks-Signature: v1=%s", sig);
	snprintf(ts_h, sizeof ts_h, "X-Wakks-Timestamp: %s", ts);
	const char *headers[] = { "Content-Type: application/json", ts_h, sig_h, NULL };
	struct http_request req = {
		.method = "POST", .url = t->cfg->webhook_url, .headers = headers,
		.body = (const uint8_t *)body, .body_len = (size_t)bl, .timeout_ms = 15000,
		.ca_file = r->cfg.push.ca_file[0] ? r->cfg.push.ca_file : NULL,
		.max_response_bytes = 16384,
	};
	struct wh_call *c = malloc(sizeof *c);
	if (!c)
		return;
	c->relay = r;
	memcpy(c->citizen, e->citizen, 16);
	e->in_flight = true;
	if (http_client_submit(w->http, &req, call_done, c) != 0) {
		free(c);
		e->in_flight = false;
		e->due_mono = relay_monotonic_ms() + r->cfg.push.retry_base_ms;
	}
}

struct due_list {
	struct wh_entry *items[256];
	size_t n;
	uint64_t now;
};

static void collect(void *value, void *data)
{
	struct wh_entry *e = value;
	struct due_list *d = data;
	bool due = e->fired ? d->now >= e->quiet_until_mono : !e->in_flight && d->now >= e->due_mono;
	if (due && d->n < sizeof d->items / sizeof d->items[0])
		d->items[d->n++] = e;
}

static void on_tick(uv_timer_t *h)
{
	struct relay_webhook *w = h->data;
	struct due_list d = { .now = relay_monotonic_ms() };
	idmap_foreach(&w->pending, collect, &d);
	for (size_t i = 0; i < d.n; i++) {
		struct wh_entry *e = d.items[i];
		if (e->fired || !still_unread(w->relay, e))
			forget(w, e); /* read meanwhile, or its quiet period is over */
		else
			call(w, e);
	}
}

static int read_secret(struct wh_tenant *t)
{
	FILE *f = fopen(t->cfg->webhook_secret_file, "rb");
	if (!f)
		return -1;
	size_t n = fread(t->secret, 1, sizeof t->secret, f);
	int extra = fgetc(f);
	fclose(f);
	while (n && (t->secret[n - 1] == '\n' || t->secret[n - 1] == '\r'))
		n--;
	t->secret_len = n;
	return n >= WEBHOOK_SECRET_MIN && extra == EOF ? 0 : -1;
}

int relay_webhook_start(struct relay *r)
{
	struct relay_webhook *w = NULL;
	for (int i = 0; i < r->cfg.tenant_count; i++) {
		const struct relay_tenant_config *tc = &r->cfg.tenants[i];
		if (!tc->webhook_url[0])
			continue;
		if (!w) {
			if (!(w = calloc(1, sizeof *w)))
				return -1;
			w->relay = r;
			idmap_init(&w->pending);
			r->webhook = w;
		}
		struct wh_tenant *t = &w->tenants[w->n_tenants++];
		t->cfg = tc;
		t->after_ms = (uint64_t)(tc->webhook_after_seconds ? tc->webhook_after_seconds : 86400) * 1000u;
		if (!tc->webhook_secret_file[0] || read_secret(t) != 0) {
			RLOG_ERROR("webhook", "secret_unusable",
				   "tenant=%s file=%s need=\"%d to %d bytes\"", tc->id,
				   tc->webhook_secret_file[0] ? tc->webhook_secret_file : "-",
				   WEBHOOK_SECRET_MIN, WEBHOOK_SECRET_MAX);
			return -1;
		}
	}
	if (!w)
		return 0;
	if (!(w->http = http_client_new(r->loop, 4, 64)))
		return -1;
	uv_timer_init(r->loop, &w->timer);
	w->timer.data = w;
	uv_timer_start(&w->timer, on_tick, 250, 250);
	return 0;
}

static void free_entry(void *value, void *data)
{
	(void)data;
	free(value);
}

static void closed(uv_handle_t *h)
{
	free(h->data);
}

void relay_webhook_stop(struct relay *r)
{
	struct relay_webhook *w = r->webhook;
	if (!w)
		return;
	r->webhook = NULL; /* calls cancelled below find no service */
	if (w->http)
		http_client_free(w->http);
	idmap_foreach(&w->pending, free_entry, NULL);
	idmap_free(&w->pending);
	for (int i = 0; i < w->n_tenants; i++)
		OPENSSL_cleanse(w->tenants[i].secret, sizeof w->tenants[i].secret);
	if (w->timer.loop) {
		uv_timer_stop(&w->timer);
		uv_close((uv_handle_t *)&w->timer, closed);
	} else {
		free(w);
	}
}
