/* SPDX-License-Identifier: MPL-2.0 */
/* The push queue (push.h): coalescing per device, a bounded FIFO, a bounded number of requests in
 * flight, back-off and retry, clean-up of subscriptions a push service says are gone. */
#include "services/push.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/idmap.h"
#include "core/log.h"
#include "net/conn.h"
#include "relay_state.h"
#include "services/push_crypto.h"
#include "services/push_internal.h"
#include "wakks_identity.h"

/* Several relays on one store: the relay that stored an envelope cannot see whether its device is
 * connected to another relay, which delivers it within milliseconds. It waits this long and pushes
 * only if the mailbox still holds envelopes then. */
#define SHARED_PUSH_GRACE_MS 2000

/* What the service remembers about one device, from its first push until the interval after its
 * last one has passed (then the sweep forgets it). */
struct push_dev {
	uint8_t id[16];
	uint64_t last_sent_ms;   /* monotonic; 0 = never */
	uint64_t retry_at_ms;    /* monotonic; 0 = no retry pending */
	uint32_t attempts;       /* failed attempts of the current push */
	bool queued, in_flight;
	struct push_dev *next;   /* in the queue or the retry list */
};

struct relay_push {
	struct push_service svc;
	struct idmap devs;               /* device id -> struct push_dev */
	struct push_dev *head, *tail;    /* queue, FIFO */
	struct push_dev *retries;        /* waiting for their back-off */
	size_t queued, in_flight, tracked;
	uv_timer_t timer;
	/* After a start: devices with a subscription and envelopes waiting (stored before a restart,
	 * or whose push was lost in it) are pushed, a page per tick so a large table never stalls
	 * the loop. */
	bool sweeping;
	uint64_t sweep_not_before; /* one interval after the start: devices reconnect first */
	uint8_t sweep_after[16];
	bool sweep_started;
	bool pumping; /* a provider that fails at once calls push_done inside pump: no recursion */
};

/* The service lives behind the relay's opaque pointer (relay_state.h: struct relay_push *push). */
static struct relay_push *svc_of(const struct relay *r)
{
	return r->push;
}

static const char *provider_name(int p)
{
	return p == RELAY_PUSH_P_APNS ? "apns" : p == RELAY_PUSH_P_FCM ? "fcm" : "web";
}

static int provider_of_kind(uint8_t kind)
{
	return kind == STORE_PUSH_APNS ? RELAY_PUSH_P_APNS
	       : kind == STORE_PUSH_FCM ? RELAY_PUSH_P_FCM : RELAY_PUSH_P_WEB;
}

static void forget(struct relay_push *p, struct push_dev *d)
{
	idmap_del(&p->devs, d->id);
	p->tracked--;
	free(d);
}

static void enqueue(struct relay_push *p, struct push_dev *d)
{
	d->queued = true;
	d->next = NULL;
	if (p->tail)
		p->tail->next = d;
	else
		p->head = d;
	p->tail = d;
	p->queued++;
}

static struct push_app *find_app(struct relay_push *p, int kind, const char *name)
{
	for (int i = 0; i < p->svc.app_count; i++) {
		const struct relay_push_app_config *c = p->svc.apps[i]->cfg;
		if (c->kind == kind && strcmp(c->name, name) == 0)
			return p->svc.apps[i];
	}
	return NULL;
}

static void push_done(struct push_job *job, enum push_outcome outcome, uint64_t retry_after_ms);

/* On a shared store: nothing left in the device's mailbox (another relay delivered it and the
 * device acknowledged), so nothing to wake it for. */
static bool delivered_elsewhere(struct relay *r, const uint8_t device[16])
{
	uint64_t count = 0, bytes = 0;
	return store_shared(r->store) && store_mailbox_depth(r->store, device, &count, &bytes) == 0 &&
	       count == 0;
}

/* Starts queued pushes while there is room in flight. */
static void pump(struct relay_push *p)
{
	struct relay *r = p->svc.relay;
	if (p->pumping)
		return;
	p->pumping = true;
	while (p->head && p->in_flight < r->cfg.push.max_in_flight) {
		struct push_dev *d = p->head;
		p->head = d->next;
		if (!p->head)
			p->tail = NULL;
		p->queued--;
		d->queued = false;
		/* Connected meanwhile: delivery has it; nothing to wake. */
		struct push_job *job = NULL;
		struct store_push_sub sub;
		if (relay_conn_of_device(r, d->id) || delivered_elsewhere(r, d->id) ||
		    store_get_push_sub(r->store, d->id, &sub) != 0 ||
		    (sub.kind == STORE_PUSH_WEB && !p->svc.vapid) || !(job = calloc(1, sizeof *job))) {
			forget(p, d);
			continue;
		}
		job->relay = r;
		job->done = push_done;
		memcpy(job->device, d->id, 16);
		job->sub = sub;
		job->provider = provider_of_kind(sub.kind);
		if (sub.kind != STORE_PUSH_WEB && !(job->app = find_app(p, sub.kind, sub.app))) {
			/* The app left the configuration: nothing can reach this token now. */
			r->metrics.push_failed[job->provider]++;
			free(job);
			forget(p, d);
			continue;
		}
		d->in_flight = true;
		p->in_flight++;
		if (sub.kind == STORE_PUSH_WEB)
			push__web_send(&p->svc, job);
		else if (sub.kind == STORE_PUSH_APNS)
			push__apns_send(&p->svc, job);
		else
			push__fcm_send(&p->svc, job);
	}
	p->pumping = false;
}

static void gone_deleted(struct store_req *req, int result, void *data)
{
	(void)req;
	(void)data;
	if (result != 0)
		RLOG_WARN("push", "subscription_delete_failed", "error=\"%s\"", store_strerror(result));
}

static void push_done(struct push_job *job, enum push_outcome outcome, uint64_t retry_after_ms)
{
	struct relay *r = job->relay;
	struct relay_push *p = svc_of(r);
	struct push_dev *d = p ? idmap_get(&p->devs, job->device) : NULL;
	int prov = job->provider;
	if (!p || !d) {
		free(job);
		return;
	}
	d->in_flight = false;
	p->in_flight--;
	uint64_t now = relay_monotonic_ms();
	switch (outcome) {
	case PUSH_SENT:
		r->metrics.push_sent[prov]++;
		d->last_sent_ms = now;
		d->attempts = 0;
		break;
	case PUSH_GONE: {
		r->metrics.push_failed[prov]++;
		r->metrics.push_subscriptions_removed++;
		RLOG_INFO("push", "subscription_gone", "provider=%s", provider_name(prov));
		/* Only this subscription: one the device registered meanwhile stays. */
		struct store_req *req = store_req_new(r->store, gone_deleted, NULL);
		if (req && store_req_delete_push_sub(req, job->device, job->sub.updated_ms) >= 0)
			(void)store_submit(req);
		else
			store_req_free(req);
		forget(p, d);
		break;
	}
	case PUSH_RENEW:
	case PUSH_RETRY:
		if (outcome == PUSH_RENEW && job->app) {
			job->app->jwt_made_ms = 0;
			if (job->app->fcm)
				push__fcm_renew(job->app->fcm);
		}
		if (d->attempts < r->cfg.push.retry_max && !r->stopping) {
			uint64_t backoff = (uint64_t)r->cfg.push.retry_base_ms << (d->attempts < 16 ? d->attempts : 16);
			d->attempts++;
			d->retry_at_ms = now + (retry_after_ms > backoff ? retry_after_ms : backoff);
			d->next = p->retries;
			p->retries = d;
			RLOG_DEBUG("push", "retry", "provider=%s attempt=%u", provider_name(prov),
				   d->attempts);
			break;
		}
		/* out of retries */
		__attribute__((fallthrough));
	case PUSH_FAILED:
		r->metrics.push_failed[prov]++;
		RLOG_INFO("push", "push_failed", "provider=%s", provider_name(prov));
		d->attempts = 0;
		d->last_sent_ms = now; /* the interval also spaces out attempts at a failing device */
		break;
	}
	free(job);
	pump(p);
}

void relay_push_offline(struct relay *r, const uint8_t device[16])
{
	struct relay_push *p = svc_of(r);
	if (!p || r->stopping)
		return;
	struct push_dev *d = idmap_get(&p->devs, device);
	uint64_t now = relay_monotonic_ms();
	if (d) {
		if (d->queued || d->in_flight || d->retry_at_ms ||
		    now - d->last_sent_ms < (uint64_t)r->cfg.push.interval_seconds * 1000u) {
			r->metrics.push_coalesced++;
			return;
		}
	} else {
		/* Most devices have no subscription (the journal device, caseworkers' browsers that
		 * never subscribed): one read decides before any memory is spent on them. */
		struct store_push_sub sub;
		if (store_get_push_sub(r->store, device, &sub) != 0)
			return;
		if (p->tracked >= (size_t)r->cfg.push.queue_max) {
			r->metrics.push_dropped[provider_of_kind(sub.kind)]++;
			return;
		}
		d = calloc(1, sizeof *d);
		if (!d || idmap_put(&p->devs, device, d) != 0) {
			free(d);
			r->metrics.push_dropped[provider_of_kind(sub.kind)]++;
			return;
		}
		memcpy(d->id, device, 16);
		p->tracked++;
	}
	if (store_shared(r->store)) {
		/* Waits like a retry; pump then skips it when another relay delivered meanwhile. */
		d->retry_at_ms = now + SHARED_PUSH_GRACE_MS;
		d->next = p->retries;
		p->retries = d;
		return;
	}
	enqueue(p, d);
	pump(p);
}

struct sweep {
	struct relay_push *p;
	uint64_t now, interval_ms;
	struct push_dev *stale;
};

static void collect_stale(void *value, void *data)
{
	struct push_dev *d = value;
	struct sweep *s = data;
	if (!d->queued && !d->in_flight && !d->retry_at_ms && s->now - d->last_sent_ms >= s->interval_ms) {
		d->next = s->stale;
		s->stale = d;
	}
}

/* Devices visited by one page of the start-up sweep. */
#define SWEEP_PAGE 128

struct sweep_page {
	uint8_t ids[SWEEP_PAGE][16];
	size_t n;
};

static void sweep_collect(const uint8_t id[16], void *data)
{
	struct sweep_page *pg = data;
	memcpy(pg->ids[pg->n++], id, 16);
}

static void sweep_step(struct relay_push *p)
{
	struct relay *r = p->svc.relay;
	struct sweep_page pg = { .n = 0 };
	int n = store_list_push_subs(r->store, p->sweep_started ? p->sweep_after : NULL, SWEEP_PAGE,
				     sweep_collect, &pg);
	if (n < SWEEP_PAGE)
		p->sweeping = false;
	for (size_t i = 0; i < pg.n; i++) {
		uint64_t count = 0, bytes = 0;
		if (!relay_conn_of_device(r, pg.ids[i]) &&
		    store_mailbox_depth(r->store, pg.ids[i], &count, &bytes) == 0 && count > 0)
			relay_push_offline(r, pg.ids[i]);
	}
	if (pg.n) {
		memcpy(p->sweep_after, pg.ids[pg.n - 1], 16);
		p->sweep_started = true;
	}
}

static void on_tick(uv_timer_t *t)
{
	struct relay_push *p = t->data;
	struct relay *r = p->svc.relay;
	uint64_t now = relay_monotonic_ms();
	if (p->sweeping && now >= p->sweep_not_before && p->tracked < (size_t)r->cfg.push.queue_max / 2)
		sweep_step(p);
	/* Due retries go back to the queue, in the order they fell due. */
	struct push_dev **pp = &p->retries;
	while (*pp) {
		struct push_dev *d = *pp;
		if (d->retry_at_ms <= now) {
			*pp = d->next;
			d->retry_at_ms = 0;
			enqueue(p, d);
		} else {
			pp = &d->next;
		}
	}
	struct sweep s = { p, now, (uint64_t)r->cfg.push.interval_seconds * 1000u, NULL };
	idmap_foreach(&p->devs, collect_stale, &s);
	while (s.stale) {
		struct push_dev *d = s.stale;
		s.stale = d->next;
		forget(p, d);
	}
	pump(p);
}

const uint8_t *relay_push_vapid_public(const struct relay *r)
{
	struct relay_push *p = svc_of(r);
	return p && p->svc.vapid ? p->svc.vapid_public : NULL;
}

const struct relay_push_app_config *relay_push_app(const struct relay *r, uint32_t kind,
						   const char *name, size_t len)
{
	const struct relay_push_app_config *a = relay_push_config_find(&r->cfg.push, name, len);
	return a && (uint32_t)a->kind == kind ? a : NULL;
}

int relay_push_start(struct relay *r)
{
	struct relay_push *p = calloc(1, sizeof *p);
	if (!p)
		return -1;
	p->svc.relay = r;
	idmap_init(&p->devs);
	r->push = p;
	const struct relay_push_config *pc = &r->cfg.push;
	if (pc->web) {
		char path[RELAY_CONFIG_PATH_MAX + 32], why[300];
		snprintf(path, sizeof path, "%s/push-vapid.pem", r->cfg.data_dir);
		if (push_vapid_load(path, &p->svc.vapid, why, sizeof why) != 0 ||
		    push_p256_public(p->svc.vapid, p->svc.vapid_public) != 0) {
			RLOG_ERROR("push", "vapid_key_unusable", "why=\"%s\"", why);
			return -1;
		}
		id_b64url_encode(p->svc.vapid_public, 65, p->svc.vapid_k, sizeof p->svc.vapid_k);
	}
	for (int i = 0; i < pc->app_count; i++) {
		const struct relay_push_app_config *a = &pc->apps[i];
		struct push_app *app = calloc(1, sizeof *app);
		if (!app)
			return -1;
		app->cfg = a;
		p->svc.apps[p->svc.app_count++] = app;
		if ((a->kind == RELAY_PUSH_APP_APNS ? push__apns_load(app) : push__fcm_load(app)) != 0)
			return -1; /* logged by the provider, without the credential */
	}
	p->svc.http = http_client_new(r->loop, pc->max_in_flight, pc->max_in_flight);
	if (!p->svc.http)
		return -1;
	uv_timer_init(r->loop, &p->timer);
	p->timer.data = p;
	p->sweeping = true;
	p->sweep_not_before = relay_monotonic_ms() + (uint64_t)pc->interval_seconds * 1000u;
	/* Back-offs are at least retry_base_ms; a tick of a fifth of it keeps them close to due. */
	uint64_t tick = pc->retry_base_ms / 5 ? pc->retry_base_ms / 5 : 1;
	uv_timer_start(&p->timer, on_tick, tick, tick > 1000 ? 1000 : tick);
	RLOG_INFO("push", "started", "web_push=%s apps=%d interval_s=%u", pc->web ? "on" : "off",
		  pc->app_count, pc->interval_seconds);
	return 0;
}

static void free_dev(void *value, void *data)
{
	(void)data;
	free(value);
}

static void timer_closed(uv_handle_t *h)
{
	free(h->data);
}

void relay_push_stop(struct relay *r)
{
	struct relay_push *p = r->push;
	if (!p)
		return;
	/* Jobs still in flight complete as cancelled inside http_client_free, on this thread: they
	 * find the service gone (r->push is cleared first) and only free themselves. */
	r->push = NULL;
	if (p->svc.http)
		http_client_free(p->svc.http);
	for (int i = 0; i < p->svc.app_count; i++) {
		struct push_app *a = p->svc.apps[i];
		if (a->fcm)
			push__fcm_free(a->fcm);
		EVP_PKEY_free(a->key);
		OPENSSL_cleanse(a->jwt, sizeof a->jwt);
		free(a);
	}
	EVP_PKEY_free(p->svc.vapid);
	idmap_foreach(&p->devs, free_dev, NULL);
	idmap_free(&p->devs);
	if (uv_is_active((uv_handle_t *)&p->timer) || p->timer.loop) {
		uv_timer_stop(&p->timer);
		uv_close((uv_handle_t *)&p->timer, timer_closed);
	} else {
		free(p);
	}
}

/* An https:// URL with a host name: what RFC 8030 push services hand out. Unless the
 * configuration allows it (tests), not localhost and not an IP literal: no push service uses one,
 * and a device must not make the relay POST to the relay's own network (spec/push.md §8). */
bool relay_push_endpoint_ok(const char *s, size_t len, bool allow_local)
{
	if (len <= 8 || memcmp(s, "https://", 8) != 0)
		return false;
	size_t end = 8;
	while (end < len && s[end] != '/' && s[end] != '?' && s[end] != '#' && s[end] != '@')
		end++;
	if (end == 8 || (end < len && s[end] == '@'))
		return false; /* no host, or user info */
	if (allow_local)
		return true;
	const char *host = s + 8;
	size_t hl = end - 8;
	if (host[0] == '[')
		return false; /* IPv6 literal */
	const char *colon = memchr(host, ':', hl);
	if (colon)
		hl = (size_t)(colon - host);
	bool digits_and_dots = hl > 0;
	for (size_t i = 0; i < hl; i++)
		digits_and_dots &= (host[i] >= '0' && host[i] <= '9') || host[i] == '.';
	static const char lh[] = "localhost";
	bool local = (hl == 9 && strncasecmp(host, lh, 9) == 0) ||
		     (hl > 10 && strncasecmp(host + hl - 10, ".localhost", 10) == 0);
	return !digits_and_dots && !local;
}
