/* SPDX-License-Identifier: MPL-2.0 */
/* Cross-relay notification (spec/storage-postgresql.md §6): the LISTEN connection on the loop
 * thread (a uv_poll on its socket, connected without blocking the loop, reconnected with back-off
 * when lost, wake(NULL, 0) after a reconnect), the dispatch of wake and event notifications from
 * other relays, and store_broadcast. */
#include <stdlib.h>
#include <string.h>

#include "pg_internal.h"

#define BACKOFF_MIN_MS 100u
#define BACKOFF_MAX_MS 5000u

static void poll_cb(uv_poll_t *h, int status, int events);

static void free_if_done(struct pgstore *pg)
{
	if (pg->handles_open == 0 && !pg->store) {
		free(pg->conninfo);
		free(pg);
	}
}

static void poll_closed(uv_handle_t *h)
{
	struct pgstore *pg = h->data;
	free(h);
	pg->handles_open--;
	free_if_done(pg);
}

static void timer_closed(uv_handle_t *h)
{
	struct pgstore *pg = h->data;
	pg->handles_open--;
	free_if_done(pg);
}

/* Stops watching the socket: before libpq may close it (a new fd may reuse its number). */
static void unwatch(struct pgstore *pg)
{
	if (!pg->poll_init)
		return;
	uv_poll_stop(&pg->poll_h->h);
	uv_close((uv_handle_t *)&pg->poll_h->h, poll_closed);
	pg->poll_h = NULL;
	pg->poll_init = false;
}

static int watch(struct pgstore *pg, int events)
{
	unwatch(pg);
	int fd = PQsocket(pg->lconn);
	if (fd < 0)
		return -1;
	struct pg_poll *ph = malloc(sizeof *ph);
	if (!ph)
		return -1;
	if (uv_poll_init(pg->store->loop, &ph->h, fd) != 0) {
		free(ph);
		return -1;
	}
	ph->h.data = pg;
	pg->handles_open++;
	pg->poll_h = ph;
	pg->poll_init = true;
	if (uv_poll_start(&ph->h, events, poll_cb) != 0) {
		unwatch(pg);
		return -1;
	}
	return 0;
}

static void connect_start(struct pgstore *pg);
static void read_notifies(struct pgstore *pg);

static void timer_cb(uv_timer_t *t)
{
	connect_start(t->data);
}

/* The connection failed or broke: drop it and try again after the back-off. */
static void lost(struct pgstore *pg)
{
	unwatch(pg);
	if (pg->lconn)
		PQfinish(pg->lconn);
	pg->lconn = NULL;
	pg->listening = pg->lconnecting = false;
	unsigned delay = pg->backoff_ms ? pg->backoff_ms : BACKOFF_MIN_MS;
	pg->backoff_ms = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay * 2;
	uv_timer_start(&pg->timer, timer_cb, delay, 0);
}

int pg__notify_parse(const char *channel, const char *payload, const char *own_hex,
		     uint8_t (*ids)[STORE_ID_BYTES], size_t *n, uint8_t *msg, size_t *msg_len)
{
	size_t len = strlen(payload), ih = 2 * PG__INSTANCE_BYTES;
	/* Our own notifications: this relay handled them when its writer committed. */
	if (len < ih || memcmp(payload, own_hex, ih) == 0)
		return PG__NOTIFY_IGNORE;
	const char *body = payload + ih;
	size_t blen = len - ih;
	if (strcmp(channel, PG__WAKE_CHANNEL) == 0) {
		size_t k = blen / (2 * STORE_ID_BYTES);
		if (k == 0 || k > PG__WAKE_MAX || blen % (2 * STORE_ID_BYTES) != 0)
			return PG__NOTIFY_IGNORE;
		for (size_t i = 0; i < k; i++)
			if (pg__unhex(body + i * 2 * STORE_ID_BYTES, 2 * STORE_ID_BYTES, ids[i],
				      STORE_ID_BYTES) != 0)
				return PG__NOTIFY_IGNORE;
		*n = k;
		return PG__NOTIFY_WAKE;
	}
	if (strcmp(channel, PG__EVENT_CHANNEL) == 0) {
		size_t mlen = blen / 2;
		if (mlen == 0 || mlen > STORE_BROADCAST_MAX || pg__unhex(body, blen, msg, mlen) != 0)
			return PG__NOTIFY_IGNORE;
		*msg_len = mlen;
		return PG__NOTIFY_EVENT;
	}
	return PG__NOTIFY_IGNORE;
}

static void dispatch(struct pgstore *pg, const PGnotify *n)
{
	uint8_t ids[PG__WAKE_MAX][STORE_ID_BYTES];
	uint8_t msg[STORE_BROADCAST_MAX];
	size_t k = 0, mlen = 0;
	switch (pg__notify_parse(n->relname, n->extra, pg->instance_hex, ids, &k, msg, &mlen)) {
	case PG__NOTIFY_WAKE:
		if (pg->wake)
			pg->wake((const uint8_t(*)[STORE_ID_BYTES])ids, k, pg->listen_data);
		break;
	case PG__NOTIFY_EVENT:
		if (pg->event)
			pg->event(msg, mlen, pg->listen_data);
		break;
	default:
		break; /* ours, or not from a relay of this program: nothing to act on */
	}
}

static void connected(struct pgstore *pg)
{
	PGresult *r = PQexec(pg->lconn, "LISTEN " PG__WAKE_CHANNEL "; LISTEN " PG__EVENT_CHANNEL);
	bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok || PQsetnonblocking(pg->lconn, 1) != 0 || watch(pg, UV_READABLE) != 0) {
		lost(pg);
		return;
	}
	pg->lconnecting = false;
	pg->listening = true;
	pg->backoff_ms = 0;
	bool again = pg->ever_listened;
	pg->ever_listened = true;
	/* Whatever was committed while nobody listened went unannounced. */
	if (again && pg->wake)
		pg->wake(NULL, 0, pg->listen_data);
	/* Notifications that came with LISTEN's answer are queued already; the socket will not
	 * become readable for them. */
	if (pg->lconn)
		read_notifies(pg);
}

static void connect_step(struct pgstore *pg)
{
	/* PQconnectPoll may close the socket and open another (the next host): unwatch first. */
	unwatch(pg);
	switch (PQconnectPoll(pg->lconn)) {
	case PGRES_POLLING_READING:
		if (watch(pg, UV_READABLE) != 0)
			lost(pg);
		break;
	case PGRES_POLLING_WRITING:
		if (watch(pg, UV_WRITABLE) != 0)
			lost(pg);
		break;
	case PGRES_POLLING_OK:
		connected(pg);
		break;
	default:
		lost(pg);
		break;
	}
}

static void connect_start(struct pgstore *pg)
{
	const char *keys[] = {"application_name", "keepalives", "keepalives_idle",
			      "keepalives_interval", "keepalives_count", "dbname",
			      "client_encoding", NULL};
	const char *vals[] = {"wakks-listen", "1", "10", "5", "3", pg->conninfo, "UTF8", NULL};
	pg->lconn = PQconnectStartParams(keys, vals, 1);
	if (!pg->lconn || PQstatus(pg->lconn) == CONNECTION_BAD) {
		lost(pg);
		return;
	}
	/* The server's last words (FATAL on a terminated session) would go to stderr. */
	PQsetNoticeReceiver(pg->lconn, pg__quiet_notice, NULL);
	pg->lconnecting = true;
	if (watch(pg, UV_WRITABLE) != 0)
		lost(pg);
}

static void read_notifies(struct pgstore *pg)
{
	if (!PQconsumeInput(pg->lconn)) {
		lost(pg);
		return;
	}
	PGnotify *n;
	while (pg->lconn && (n = PQnotifies(pg->lconn)) != NULL) {
		dispatch(pg, n);
		PQfreemem(n);
	}
	/* LISTEN's connection runs no queries; results arriving here are errors (the server's
	 * FATAL before it closes the connection). */
	if (pg->lconn && PQstatus(pg->lconn) == CONNECTION_BAD)
		lost(pg);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
	(void)events;
	struct pgstore *pg = h->data;
	if (!pg->store)
		return;
	if (pg->lconnecting) {
		connect_step(pg);
		return;
	}
	if (status < 0) {
		lost(pg);
		return;
	}
	read_notifies(pg);
}

int pg__listen_start(struct pgstore *pg)
{
	if (pg->timer_init)
		return 0;
	if (uv_timer_init(pg->store->loop, &pg->timer) != 0)
		return STORE_ENOMEM;
	pg->timer.data = pg;
	pg->timer_init = true;
	pg->handles_open++;
	connect_start(pg);
	return 0;
}

void pg__listen_stop(struct pgstore *pg)
{
	pg->store = NULL;
	unwatch(pg);
	if (pg->lconn)
		PQfinish(pg->lconn);
	pg->lconn = NULL;
	if (pg->timer_init) {
		uv_timer_stop(&pg->timer);
		uv_close((uv_handle_t *)&pg->timer, timer_closed);
		pg->timer_init = false;
	}
	free_if_done(pg);
}

void store_set_listeners(struct store *s, store_wake_cb wake, store_event_cb event, void *data)
{
	if (!s || !s->pg)
		return;
	s->pg->wake = wake;
	s->pg->event = event;
	s->pg->listen_data = data;
	if (wake || event)
		pg__listen_start(s->pg);
}

int store_broadcast(struct store *s, const uint8_t *msg, size_t len)
{
	if (!s || !msg || len == 0 || len > STORE_BROADCAST_MAX)
		return STORE_EINVAL;
	if (!s->pg)
		return 0;
	char payload[2 * PG__INSTANCE_BYTES + 2 * STORE_BROADCAST_MAX + 1];
	memcpy(payload, s->pg->instance_hex, 2 * PG__INSTANCE_BYTES);
	pg__hex(msg, len, payload + 2 * PG__INSTANCE_BYTES);
	struct pg_params p;
	int err = 0;
	pg_p_init(&p);
	pg_p_text(&p, payload);
	PGresult *r = pg__read(s, "SELECT pg_notify('" PG__EVENT_CHANNEL "', $1)", &p, &err);
	if (!r)
		return err;
	PQclear(r);
	return 0;
}
