/* SPDX-License-Identifier: MPL-2.0 */
#include "services/cluster_events.h"

#include <string.h>

#include "core/log.h"
#include "relay_state.h"
#include "wakks_protocol.h"
#include "wakks_storage.h"

/* ---- encoding (spec/storage-postgresql.md, "Relay events") ---------------------------------- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool bad;
};

static void put(struct wbuf *w, const void *b, size_t n)
{
	if (w->bad || n > w->cap - w->len) {
		w->bad = true;
		return;
	}
	memcpy(w->p + w->len, b, n);
	w->len += n;
}

static void put_u8(struct wbuf *w, uint8_t v)
{
	put(w, &v, 1);
}

static void put_be(struct wbuf *w, uint64_t v, int bytes)
{
	uint8_t b[8];
	for (int i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	put(w, b, (size_t)bytes);
}

static void put_str(struct wbuf *w, const char *s)
{
	size_t n = strlen(s);
	if (n > 64) {
		w->bad = true;
		return;
	}
	put_u8(w, (uint8_t)n);
	put(w, s, n);
}

static void put_except(struct wbuf *w, const struct relay_event *ev)
{
	put_u8(w, ev->has_except ? 1 : 0);
	if (ev->has_except)
		put(w, ev->except, 16);
}

int relay_event_encode(const struct relay_event *ev, uint8_t *buf, size_t cap)
{
	struct wbuf w = { .p = buf, .cap = cap };
	put_u8(&w, RELAY_EVENT_VERSION);
	put_u8(&w, ev->kind);
	switch (ev->kind) {
	case RELAY_EV_DEVICES_CHANGED:
	case RELAY_EV_UNIT_DEVICES_CHANGED:
		put(&w, ev->id, 16);
		put_except(&w, ev);
		break;
	case RELAY_EV_CONSENT_CHANGED:
		put(&w, ev->id, 16);
		put_except(&w, ev);
		put_be(&w, ev->type, 4);
		put_be(&w, ev->time_ms, 8);
		put_str(&w, ev->tenant);
		put_str(&w, ev->unit);
		break;
	case RELAY_EV_DEVICE_GONE:
	case RELAY_EV_PREKEYS_CHECK:
		put(&w, ev->id, 16);
		break;
	case RELAY_EV_DEVICE_BOUND:
		put(&w, ev->id, 16);
		put_be(&w, ev->time_ms, 8);
		break;
	case RELAY_EV_RECEIPT:
		put_u8(&w, ev->type == PROTO_T_EXPIRED ? 2 : 1);
		put(&w, ev->id, 16);
		put(&w, ev->cmid, 16);
		put(&w, ev->account, 16);
		put(&w, ev->device, 16);
		put_be(&w, ev->time_ms, 8);
		break;
	default:
		return -1;
	}
	return w.bad ? -1 : (int)w.len;
}

struct rbuf {
	const uint8_t *p;
	size_t len, at;
	bool bad;
};

static void get(struct rbuf *r, void *out, size_t n)
{
	if (r->bad || n > r->len - r->at) {
		r->bad = true;
		memset(out, 0, n);
		return;
	}
	memcpy(out, r->p + r->at, n);
	r->at += n;
}

static uint8_t get_u8(struct rbuf *r)
{
	uint8_t v;
	get(r, &v, 1);
	return v;
}

static uint64_t get_be(struct rbuf *r, int bytes)
{
	uint8_t b[8];
	get(r, b, (size_t)bytes);
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v = v << 8 | b[i];
	return v;
}

/* A tenant or unit id: 0..64 bytes of printable ASCII (what the configuration allows, and no NUL
 * that would cut the string short). */
static void get_str(struct rbuf *r, char out[65])
{
	uint8_t n = get_u8(r);
	if (n > 64) {
		r->bad = true;
		n = 0;
	}
	get(r, out, n);
	out[r->bad ? 0 : n] = '\0';
	for (size_t i = 0; i < n && !r->bad; i++)
		if (out[i] < 0x21 || out[i] > 0x7e)
			r->bad = true;
}

static void get_except(struct rbuf *r, struct relay_event *ev)
{
	uint8_t flag = get_u8(r);
	if (flag > 1)
		r->bad = true;
	ev->has_except = flag == 1;
	if (ev->has_except)
		get(r, ev->except, 16);
}

int relay_event_decode(const uint8_t *msg, size_t len, struct relay_event *ev)
{
	struct rbuf r = { .p = msg, .len = len };
	memset(ev, 0, sizeof *ev);
	if (get_u8(&r) != RELAY_EVENT_VERSION)
		return -1;
	ev->kind = get_u8(&r);
	switch (ev->kind) {
	case RELAY_EV_DEVICES_CHANGED:
	case RELAY_EV_UNIT_DEVICES_CHANGED:
		get(&r, ev->id, 16);
		get_except(&r, ev);
		break;
	case RELAY_EV_CONSENT_CHANGED:
		get(&r, ev->id, 16);
		get_except(&r, ev);
		ev->type = (uint32_t)get_be(&r, 4);
		ev->time_ms = get_be(&r, 8);
		get_str(&r, ev->tenant);
		get_str(&r, ev->unit);
		if (!ev->tenant[0])
			r.bad = true;
		break;
	case RELAY_EV_DEVICE_GONE:
	case RELAY_EV_PREKEYS_CHECK:
		get(&r, ev->id, 16);
		break;
	case RELAY_EV_DEVICE_BOUND:
		get(&r, ev->id, 16);
		ev->time_ms = get_be(&r, 8);
		break;
	case RELAY_EV_RECEIPT: {
		uint8_t t = get_u8(&r);
		if (t != 1 && t != 2)
			r.bad = true;
		ev->type = t == 2 ? PROTO_T_EXPIRED : PROTO_T_RECEIPT;
		get(&r, ev->id, 16);
		get(&r, ev->cmid, 16);
		get(&r, ev->account, 16);
		get(&r, ev->device, 16);
		ev->time_ms = get_be(&r, 8);
		break;
	}
	default:
		return -1;
	}
	/* Exactly the fields of its kind: a longer event is another version's, not ours. */
	return r.bad || r.at != len ? -1 : 0;
}

/* ---- sending -------------------------------------------------------------------------------- */

void relay_cluster_broadcast(struct relay *r, const struct relay_event *ev)
{
	if (!r->store || !store_shared(r->store))
		return;
	uint8_t buf[RELAY_EVENT_MAX];
	int n = relay_event_encode(ev, buf, sizeof buf);
	int rc = n > 0 ? store_broadcast(r->store, buf, (size_t)n) : STORE_EINVAL;
	if (rc == 0)
		r->metrics.cluster_events_sent++;
	else
		RLOG_WARN("cluster", "event_not_sent", "kind=%u error=\"%s\"", ev->kind,
			  store_strerror(rc));
}
