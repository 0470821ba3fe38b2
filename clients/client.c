/* SPDX-License-Identifier: MPL-2.0 */
/* The client object: opening the store, the connection state machine (connect, hello, auth,
 * reconnect with back-off, keepalive), requests and their replies, operations, events. */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "wakks_internal.h"

#define SELF_VERSION 1
/* Reconnect back-off: doubles from the first delay up to the cap, with jitter. */
#define BACKOFF_FIRST_MS 250u
#define BACKOFF_MAX_MS 30000u
/* Keepalive: a ping after this much silence; the connection is dropped when the relay stays
 * silent for twice as long (a dead NAT mapping or relay). */
#define KEEPALIVE_MS 25000u
/* A request unanswered this long means the connection is unusable. */
#define REQUEST_TIMEOUT_MS 30000u

/* ---- self record ------------------------------------------------------------------------------- */

int wakks__save_self(wakks_client *c, wakks__txn *t)
{
	wakks__buf b = { 0 };
	wakks__put_u8(&b, SELF_VERSION);
	wakks__put_u8(&b, c->registered ? 1 : 0);
	wakks__put_bytes(&b, c->ik.public_key, 32);
	wakks__put_bytes(&b, c->ik.secret_key, 64);
	wakks__put_bytes(&b, c->account, 16);
	wakks__put_bytes(&b, c->device, 16);
	wakks__put_u32(&b, c->next_opk_id);
	wakks__put_u32(&b, c->next_spk_id);
	wakks__put_u32(&b, c->spk_current);
	wakks__put_u64(&b, c->spk_created_ms);
	int rc = b.oom ? WAKKS_E_NOMEM : wakks__store_put(t, WT_META, "self", 4, b.p, b.len);
	wakks__buf_free(&b);
	return rc;
}

int wakks__load_self(wakks_client *c)
{
	wakks__txn *t;
	int rc = wakks__txn_begin(c->store, true, &t);
	if (rc != 0)
		return rc;
	uint8_t *v;
	size_t vl;
	rc = wakks__store_get(t, WT_META, "self", 4, &v, &vl);
	if (rc == WAKKS_E_NOT_FOUND) {
		/* A new store: a new identity. */
		if (wc_identity_generate(&c->ik) != 0) {
			wakks__txn_abort(t);
			return WAKKS_E_CRYPTO;
		}
		c->next_opk_id = 1;
		c->next_spk_id = 1;
		rc = wakks__save_self(c, t);
		if (rc == 0)
			return wakks__txn_commit(t);
		wakks__txn_abort(t);
		return rc;
	}
	wakks__txn_abort(t);
	if (rc != 0)
		return rc;
	wakks__rd r = { v, vl, 0, false };
	uint8_t ver = wakks__get_u8(&r);
	c->registered = wakks__get_u8(&r) & 1;
	wakks__get_bytes(&r, c->ik.public_key, 32);
	wakks__get_bytes(&r, c->ik.secret_key, 64);
	wakks__get_bytes(&r, c->account, 16);
	wakks__get_bytes(&r, c->device, 16);
	c->next_opk_id = wakks__get_u32(&r);
	c->next_spk_id = wakks__get_u32(&r);
	c->spk_current = wakks__get_u32(&r);
	c->spk_created_ms = wakks__get_u64(&r);
	bool ok = wakks__rd_done(&r) && ver == SELF_VERSION;
	wakks__store_free(v, vl);
	return ok ? 0 : WAKKS_E_CORRUPT;
}

/* ---- open / close ---------------------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* "wss://host:port[/v1]" -> host, port. IPv6 literals in brackets. */
static int parse_url(const char *url, char *host, size_t cap, int *port)
{
	if (strncmp(url, "wss://", 6) != 0)
		return WAKKS_E_INVAL;
	const char *h = url + 6, *end;
	if (*h == '[') {
		end = strchr(h, ']');
		if (!end)
			return WAKKS_E_INVAL;
		h++;
	} else {
		end = h + strcspn(h, ":/");
	}
	size_t hl = (size_t)(end - h);
	if (hl == 0 || hl >= cap)
		return WAKKS_E_INVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (*end == ']')
		end++;
	*port = 443;
	if (*end == ':') {
		char *e;
		long p = strtol(end + 1, &e, 10);
		if (p <= 0 || p > 65535 || (*e && *e != '/'))
			return WAKKS_E_INVAL;
		*port = (int)p;
	} else if (*end && *end != '/') {
		return WAKKS_E_INVAL;
	}
	return 0;
}

int wakks_open(const wakks_config *cfg, wakks_client **out)
{
	if (!cfg || !cfg->relay_url || !cfg->store_dir || !cfg->store_key || !out)
		return WAKKS_E_INVAL;
	if (wc_init() != 0)
		return WAKKS_E_CRYPTO;
	wakks_client *c = calloc(1, sizeof *c);
	if (!c)
		return WAKKS_E_NOMEM;
	c->ws.fd = -1;
	c->send.upload_fd = -1;
	c->cfg = *cfg;
	c->relay_url = dup_or_null(cfg->relay_url);
	c->ca_file = dup_or_null(cfg->ca_file);
	c->log_user = cfg->user;
	c->store_dir = dup_or_null(cfg->store_dir);
	c->label = dup_or_null(cfg->device_label);
	c->cfg.relay_url = c->relay_url;
	c->cfg.ca_file = c->ca_file;
	c->cfg.store_dir = c->store_dir;
	c->cfg.device_label = c->label;
	c->cfg.store_key = NULL; /* not kept: the store derived what it needs */
	if (cfg->files_dir) {
		c->files_dir = strdup(cfg->files_dir);
	} else if (c->store_dir) {
		size_t n = strlen(c->store_dir) + sizeof "/files";
		if ((c->files_dir = malloc(n)))
			snprintf(c->files_dir, n, "%s/files", c->store_dir);
	}
	c->cfg.files_dir = c->files_dir;
	if (!c->cfg.prekey_batch || c->cfg.prekey_batch > PROTO_MAX_PREKEYS_PER_UPLOAD)
		c->cfg.prekey_batch = 50;
	if (!c->cfg.spk_rotate_ms)
		c->cfg.spk_rotate_ms = 7ull * 24 * 3600 * 1000;
	c->next_rid = 1;
	c->next_op = 1;
	c->backoff_ms = BACKOFF_FIRST_MS;
	int rc = WAKKS_E_NOMEM;
	c->rx = malloc(sizeof *c->rx);
	c->tx = malloc(sizeof *c->tx);
	c->txbuf = malloc(PROTO_MAX_FRAME_BYTES);
	if (!c->relay_url || !c->store_dir || !c->rx || !c->tx || !c->txbuf || !c->files_dir ||
	    (cfg->ca_file && !c->ca_file) || (cfg->device_label && !c->label))
		goto fail;
	if ((rc = parse_url(c->relay_url, c->host, sizeof c->host, &c->port)) != 0)
		goto fail;
	if ((rc = wakks__tls_ctx(c->ca_file, &c->tls)) != 0)
		goto fail;
	if ((rc = wakks__store_open(c->store_dir, cfg->store_key, &c->store)) != 0)
		goto fail;
	if ((rc = wakks__load_self(c)) != 0)
		goto fail;
	*out = c;
	return 0;
fail:
	wakks_close(c);
	return rc;
}

void wakks_close(wakks_client *c)
{
	if (!c)
		return;
	wakks__ws_close(&c->ws, true);
	wakks__send_reset(c);
	free(c->send.set);
	wakks__download_reset(c);
	free(c->dl.queue);
	wakks__threads_free(c);
	free(c->files_dir);
	wakks__store_close(c->store);
	if (c->tls)
		SSL_CTX_free(c->tls);
	wc_identity_wipe(&c->ik);
	free(c->relay_url);
	free(c->ca_file);
	free(c->store_dir);
	free(c->label);
	free(c->rx);
	free(c->tx);
	free(c->txbuf);
	sodium_memzero(c, sizeof *c);
	free(c);
}

/* ---- events and operations ------------------------------------------------------------------ */

void wakks__emit(wakks_client *c, const wakks_event *ev)
{
	if (!c->cfg.on_event)
		return;
	c->in_callback = true;
	c->cfg.on_event(c, ev, c->cfg.user);
	c->in_callback = false;
}

uint32_t wakks__op_new(wakks_client *c)
{
	uint32_t id = c->next_op++;
	if (c->next_op == 0)
		c->next_op = 1;
	/* Reuse the slot of the oldest finished operation if the table is full. */
	struct wakks__op *slot = NULL;
	for (size_t i = 0; i < WAKKS__MAX_OPS && !slot; i++)
		if (c->ops[i].id == 0)
			slot = &c->ops[i];
	for (size_t i = 0; i < WAKKS__MAX_OPS && !slot; i++)
		if (c->ops[i].done)
			slot = &c->ops[i];
	if (!slot)
		slot = &c->ops[id % WAKKS__MAX_OPS];
	*slot = (struct wakks__op){ id, false, 0 };
	return id;
}

void wakks__op_finish_data(wakks_client *c, uint32_t op, int result, const wakks_device_info *d,
			   size_t nd, const wakks_consent_entry *ce, size_t nce)
{
	if (!op)
		return;
	for (size_t i = 0; i < WAKKS__MAX_OPS; i++)
		if (c->ops[i].id == op) {
			c->ops[i].done = true;
			c->ops[i].result = result;
		}
	wakks_event ev = { .type = WAKKS_EV_DONE };
	ev.u.done.op = op;
	ev.u.done.result = result;
	ev.u.done.devices = d;
	ev.u.done.n_devices = nd;
	ev.u.done.consents = ce;
	ev.u.done.n_consents = nce;
	wakks__emit(c, &ev);
}

void wakks__op_finish_event(wakks_client *c, const wakks_event *ev)
{
	for (size_t i = 0; i < WAKKS__MAX_OPS; i++)
		if (ev->u.done.op && c->ops[i].id == ev->u.done.op) {
			c->ops[i].done = true;
			c->ops[i].result = ev->u.done.result;
		}
	wakks__emit(c, ev);
}

void wakks__op_finish(wakks_client *c, uint32_t op, int result)
{
	wakks__op_finish_data(c, op, result, NULL, 0, NULL, 0);
}

void wakks__log(wakks_client *c, int level, const char *fmt, ...)
{
	if (!c->cfg.on_log)
		return;
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	c->cfg.on_log(level, line, c->log_user);
}

static void set_state(wakks_client *c, int st)
{
	if (c->state == st)
		return;
	c->state = st;
	wakks_event ev = { .type = WAKKS_EV_STATE };
	ev.u.state = st;
	wakks__emit(c, &ev);
}

/* ---- requests ------------------------------------------------------------------------------- */

int wakks__send_frame(wakks_client *c)
{
	size_t len;
	int rc = proto_frame_encode(c->tx, c->txbuf, PROTO_MAX_FRAME_BYTES, &len);
	if (rc != 0)
		return rc;
	return wakks__ws_send(&c->ws, 0, c->txbuf, len);
}

int wakks__request(wakks_client *c, int kind, uint32_t op, uint32_t aux)
{
	if (c->ws.state != WS_OPEN)
		return WAKKS_E_CLOSED;
	struct wakks__req *slot = NULL;
	for (size_t i = 0; i < WAKKS__MAX_REQS; i++)
		if (c->reqs[i].kind == RQ_NONE) {
			slot = &c->reqs[i];
			break;
		}
	if (!slot)
		return WAKKS_E_NOMEM;
	uint32_t rid = c->next_rid++;
	if (c->next_rid == 0)
		c->next_rid = 1;
	c->tx->request_id = rid;
	int rc = wakks__send_frame(c);
	if (rc != 0)
		return rc;
	*slot = (struct wakks__req){ rid, kind, op, aux, wakks__mono_ms() };
	return (int)rid;
}

struct wakks__req *wakks__req_take(wakks_client *c, uint32_t rid)
{
	for (size_t i = 0; i < WAKKS__MAX_REQS; i++)
		if (c->reqs[i].kind != RQ_NONE && c->reqs[i].rid == rid)
			return &c->reqs[i];
	return NULL;
}

/* ---- connection ------------------------------------------------------------------------------ */

static void fail_requests(wakks_client *c, int err)
{
	for (size_t i = 0; i < WAKKS__MAX_REQS; i++) {
		struct wakks__req rq = c->reqs[i];
		if (rq.kind == RQ_NONE)
			continue;
		c->reqs[i].kind = RQ_NONE;
		if (rq.op && rq.kind != RQ_SEND && rq.kind != RQ_DEVSET && rq.kind != RQ_BUNDLES)
			wakks__op_finish(c, rq.op, err);
	}
	c->prekey_upload_inflight = false;
	c->spk_rotate_inflight = false;
}

static void connection_lost(wakks_client *c, int err)
{
	/* A refused auth is the reason the relay then closes: keep that one. */
	if (c->conn_why != WAKKS_WHY_AUTH_REFUSED) {
		c->conn_error = err ? err : WAKKS_E_CLOSED;
		c->conn_why = c->ws.why;
	}
	wakks__ws_close(&c->ws, false);
	c->have_challenge = false;
	fail_requests(c, err ? err : WAKKS_E_CLOSED);
	wakks__send_reset(c);
	wakks__download_reset(c);
	wakks__parked_reset(c);
	set_state(c, WAKKS_DISCONNECTED);
	if (!(c->want_connected && c->cfg.auto_reconnect)) {
		/* No reconnect will come: tell whoever waits on a queued message. The messages stay
		 * pending and go out with the same id on the next connection. */
		for (size_t i = 0; i < 64; i++)
			if (c->send_ops[i].op) {
				uint32_t op = c->send_ops[i].op;
				c->send_ops[i].op = 0;
				wakks__op_finish(c, op, err ? err : WAKKS_E_CLOSED);
			}
	}
	if (c->want_connected && c->cfg.auto_reconnect) {
		uint32_t jitter = randombytes_uniform(c->backoff_ms / 2 + 1);
		c->reconnect_at_mono = wakks__mono_ms() + c->backoff_ms + jitter;
		wakks__log(c, WAKKS_LOG_INFO, "connection lost (%s); reconnecting in %u ms",
			   wakks_strerror(c->conn_error), c->backoff_ms + jitter);
		c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
	} else {
		wakks__log(c, WAKKS_LOG_INFO, "connection lost (%s)", wakks_strerror(c->conn_error));
		c->want_connected = false;
		/* Nobody talks to the relay for this device now: an extension may. */
		if (c->lease_held)
			wakks__store_lease(c->store, false);
		c->lease_held = false;
	}
}

static int start_connect(wakks_client *c)
{
	c->reconnect_at_mono = 0;
	int rc = wakks__ws_start(&c->ws, c->tls, c->host, c->port);
	set_state(c, WAKKS_CONNECTING);
	if (rc != 0)
		connection_lost(c, rc);
	return rc;
}

int wakks_connect(wakks_client *c)
{
	if (!c)
		return WAKKS_E_INVAL;
	if (c->ws.state != WS_IDLE && c->ws.state != WS_CLOSED)
		return WAKKS_E_STATE;
	if (!c->lease_held) {
		int lrc = wakks__store_lease(c->store, true);
		if (lrc != 0) {
			wakks__log(c, WAKKS_LOG_INFO, "another process of this device is connected");
			return lrc;
		}
		c->lease_held = true;
	}
	wakks__log(c, WAKKS_LOG_INFO, "connecting to %s:%d", c->host, c->port);
	c->want_connected = true;
	c->backoff_ms = BACKOFF_FIRST_MS;
	c->conn_error = 0;
	c->conn_why = WAKKS_WHY_OTHER;
	return start_connect(c);
}

int wakks_connection_error(const wakks_client *c, int *why)
{
	if (why)
		*why = c->conn_why;
	return c->conn_error;
}

void wakks_disconnect(wakks_client *c)
{
	if (!c)
		return;
	c->want_connected = false;
	c->reconnect_at_mono = 0;
	if (c->lease_held)
		wakks__store_lease(c->store, false);
	c->lease_held = false;
	if (c->ws.state != WS_IDLE) {
		wakks__ws_close(&c->ws, true);
		c->have_challenge = false;
		fail_requests(c, WAKKS_E_CLOSED);
		wakks__send_reset(c);
		wakks__download_reset(c);
		set_state(c, WAKKS_DISCONNECTED);
	}
}

int wakks_state(const wakks_client *c)
{
	return c->state;
}

int wakks_fd(const wakks_client *c)
{
	return c->ws.fd;
}

short wakks_want(const wakks_client *c)
{
	return wakks__ws_want(&c->ws);
}

/* The timer's rotation interval: the configured one, but not more often than once a minute on
 * one connection (after each auth the configured interval applies as it is). */
#define SPK_TIMER_MIN_MS 60000u
static uint64_t spk_timer_interval(const wakks_client *c)
{
	return c->cfg.spk_rotate_ms > SPK_TIMER_MIN_MS ? c->cfg.spk_rotate_ms : SPK_TIMER_MIN_MS;
}

int wakks_timeout_ms(const wakks_client *c)
{
	uint64_t now = wakks__mono_ms(), at = 0;
	if (c->reconnect_at_mono)
		at = c->reconnect_at_mono;
	if (c->send.active && c->send.phase == SP_WAIT_RETRY && (!at || c->send.retry_at_mono < at))
		at = c->send.retry_at_mono;
	if (c->dl.active && c->dl.retry_at_mono && (!at || c->dl.retry_at_mono < at))
		at = c->dl.retry_at_mono;
	if (c->state == WAKKS_READY && c->spk_current && !c->spk_rotate_inflight) {
		uint64_t due = c->spk_created_ms + spk_timer_interval(c), wall = wakks__now_ms();
		uint64_t rot = now + (due > wall ? due - wall : 0);
		if (!at || rot < at)
			at = rot;
	}
	if (c->ws.state == WS_OPEN) {
		uint64_t seen = c->ws.last_rx_mono > c->last_rx_mono ? c->ws.last_rx_mono : c->last_rx_mono;
		uint64_t ka = seen + (c->ping_sent_mono ? 2 : 1) * KEEPALIVE_MS;
		if (!at || ka < at)
			at = ka;
	}
	if (!at)
		return -1;
	return at <= now ? 0 : (int)(at - now > 3600000 ? 3600000 : at - now);
}

static void send_auth(wakks_client *c)
{
	uint8_t msg[PROTO_AUTH_MSG_BYTES], sig[64];
	proto_auth_message(msg, c->challenge, c->device);
	crypto_sign_detached(sig, NULL, msg, sizeof msg, c->ik.secret_key);
	proto_frame_init(c->tx, PROTO_T_AUTH, 0);
	c->tx->body.auth.device = c->device;
	c->tx->body.auth.sig = sig;
	int rc = wakks__request(c, RQ_AUTH, 0, 0);
	if (rc < 0) {
		wakks_event ev = { .type = WAKKS_EV_ERROR };
		ev.u.error.code = rc;
		ev.u.error.what = "auth could not be sent";
		wakks__emit(c, &ev);
	}
}

static void on_ready(wakks_client *c)
{
	c->backoff_ms = BACKOFF_FIRST_MS;
	set_state(c, WAKKS_READY);
	wakks__log(c, WAKKS_LOG_INFO, "authenticated%s", c->extension ? " (extension)" : "");
	if (c->extension)
		return; /* receive only: keys and the outbox are the main app's */
	wakks__keys_after_auth(c);
	wakks__send_kick(c);
	wakks__thread_after_auth(c);
}

static void on_error_push(wakks_client *c, const proto_error *e)
{
	wakks_event ev = { .type = WAKKS_EV_ERROR };
	ev.u.error.code = -(int)e->code;
	ev.u.error.what = "relay error";
	wakks__emit(c, &ev);
}

static void on_reply(wakks_client *c, const proto_frame *f)
{
	struct wakks__req *slot = wakks__req_take(c, f->request_id);
	if (!slot)
		return; /* a reply to nothing we asked: ignore */
	struct wakks__req rq = *slot;
	slot->kind = RQ_NONE;
	int err = f->type == PROTO_T_ERROR ? -(int)f->body.error.code : 0;
	if (err && !proto_errname(err))
		err = PROTO_E_INTERNAL; /* unknown codes count as internal (spec §13.5) */
	switch (rq.kind) {
	case RQ_AUTH:
		if (f->type == PROTO_T_AUTH_OK) {
			on_ready(c);
		} else {
			/* auth_failed: revoked or unknown device. Stop; reconnecting cannot help. */
			wakks_event ev = { .type = WAKKS_EV_ERROR };
			ev.u.error.code = err ? err : WAKKS_E_PROTOCOL;
			ev.u.error.what = "authentication refused";
			c->conn_error = ev.u.error.code;
			c->conn_why = WAKKS_WHY_AUTH_REFUSED;
			wakks__emit(c, &ev);
			c->want_connected = false;
		}
		break;
	case RQ_REGISTER:
		if (f->type == PROTO_T_REGISTERED) {
			memcpy(c->account, f->body.registered.account, 16);
			memcpy(c->device, f->body.registered.device, 16);
			c->registered = true;
			wakks__txn *t;
			int rc = wakks__txn_begin(c->store, true, &t);
			if (rc == 0) {
				rc = wakks__save_self(c, t);
				if (rc == 0)
					rc = wakks__evidence_save(c, t);
				if (rc == 0)
					rc = wakks__txn_commit(t);
				else
					wakks__txn_abort(t);
			}
			wakks__op_finish(c, rq.op, rc);
			if (rc == 0)
				on_ready(c);
		} else {
			wakks__op_finish(c, rq.op, err ? err : WAKKS_E_PROTOCOL);
		}
		break;
	case RQ_DEVSET:
	case RQ_BUNDLES:
	case RQ_SEND:
		wakks__send_on_reply(c, &rq, f);
		break;
	case RQ_ACK:
		break;
	case RQ_BLOB_PUT:
	case RQ_BLOB_CHUNK:
		wakks__upload_on_reply(c, &rq, f);
		break;
	case RQ_BLOB_GET:
		wakks__download_on_reply(c, &rq, f);
		break;
	case RQ_PREKEYS:
	case RQ_SPK:
		wakks__on_key_reply(c, &rq, f);
		break;
	case RQ_DEVICES:
		if (f->type == PROTO_T_DEVICES) {
			const proto_devices *d = &f->body.devices;
			wakks_device_info list[PROTO_MAX_DEVICES_PER_ACCOUNT];
			memset(list, 0, sizeof list);
			for (uint32_t i = 0; i < d->count; i++) {
				memcpy(list[i].device, d->list[i].device, 16);
				memcpy(list[i].identity_key, d->list[i].identity_key, 32);
				list[i].registered_ms = d->list[i].time;
				size_t l = d->list[i].label.len < 64 ? d->list[i].label.len : 64;
				if (d->list[i].label.ptr)
					memcpy(list[i].label, d->list[i].label.ptr, l);
				list[i].this_device = memcmp(list[i].device, c->device, 16) == 0;
			}
			wakks__op_finish_data(c, rq.op, 0, list, d->count, NULL, 0);
		} else {
			wakks__op_finish(c, rq.op, err ? err : WAKKS_E_PROTOCOL);
		}
		break;
	case RQ_REVOKE:
	case RQ_PUSH:
		wakks__op_finish(c, rq.op, f->type == PROTO_T_OK ? 0 : err ? err : WAKKS_E_PROTOCOL);
		break;
	case RQ_CONSENT:
	case RQ_CONSENT_LIST:
		wakks__on_consent_reply(c, &rq, f);
		break;
	case RQ_UNITSET:
	case RQ_CONSENT_CHECK:
		wakks__thread_on_reply(c, &rq, f);
		break;
	default:
		break;
	}
}

static void on_receipt(wakks_client *c, const proto_receipt *r, bool expired)
{
	wakks_event ev = { .type = WAKKS_EV_RECEIPT };
	memcpy(ev.u.receipt.cmid, r->cmid, 16);
	memcpy(ev.u.receipt.account, r->account, 16);
	memcpy(ev.u.receipt.device, r->device, 16);
	ev.u.receipt.time_ms = r->time;
	ev.u.receipt.expired = expired;
	wakks__emit(c, &ev);
}

static void on_message(void *arg, const uint8_t *msg, size_t len)
{
	wakks_client *c = arg;
	c->last_rx_mono = wakks__mono_ms();
	c->ping_sent_mono = 0;
	proto_frame *f = c->rx;
	if (proto_frame_decode(msg, len, f) != 0) {
		/* A frame we cannot read (a newer relay?): ignore it rather than fail (§13.5). */
		return;
	}
	switch (f->type) {
	case PROTO_T_HELLO:
		memcpy(c->challenge, f->body.hello.challenge, 32);
		c->have_challenge = true;
		set_state(c, WAKKS_CONNECTED);
		if (c->registered)
			send_auth(c);
		break;
	case PROTO_T_DELIVER:
		if (c->state == WAKKS_READY)
			wakks__on_deliver(c, &f->body.deliver);
		break;
	case PROTO_T_RECEIPT:
		on_receipt(c, &f->body.receipt, false);
		break;
	case PROTO_T_EXPIRED:
		on_receipt(c, &f->body.expired, true);
		break;
	case PROTO_T_PREKEYS_LOW:
		if (!c->extension)
			wakks__on_prekeys_low(c);
		break;
	case PROTO_T_UNIT_DEVICES_CHANGED: {
		char ten[WAKKS_SLUG_MAX + 1] = "", unit[WAKKS_SLUG_MAX + 1] = "";
		const proto_unit_devices_changed *u = &f->body.unit_devices_changed;
		memcpy(ten, u->tenant.ptr, u->tenant.len);
		memcpy(unit, u->unit.ptr, u->unit.len);
		if (c->state == WAKKS_READY)
			wakks__thread_on_unit_devices(c, ten, unit);
		break;
	}
	case PROTO_T_ERROR:
		if (f->request_id == 0) {
			on_error_push(c, &f->body.error);
			break;
		}
		on_reply(c, f);
		break;
	default:
		if (f->request_id != 0)
			on_reply(c, f);
		/* unknown pushes are ignored */
		break;
	}
}

static void run_timers(wakks_client *c)
{
	uint64_t now = wakks__mono_ms();
	if (c->reconnect_at_mono && now >= c->reconnect_at_mono && c->want_connected)
		start_connect(c);
	if (c->ws.state == WS_OPEN) {
		uint64_t seen = c->ws.last_rx_mono > c->last_rx_mono ? c->ws.last_rx_mono : c->last_rx_mono;
		if (c->ping_sent_mono && seen > c->ping_sent_mono)
			c->ping_sent_mono = 0; /* the pong (or anything) came back */
		if (now >= seen + 2 * KEEPALIVE_MS) {
			connection_lost(c, WAKKS_E_TIMEOUT);
			return;
		}
		if (now >= seen + KEEPALIVE_MS && !c->ping_sent_mono) {
			c->ping_sent_mono = now;
			wakks__ws_send(&c->ws, 0x9, "k", 1);
		}
		for (size_t i = 0; i < WAKKS__MAX_REQS; i++)
			if (c->reqs[i].kind != RQ_NONE && now > c->reqs[i].sent_mono + REQUEST_TIMEOUT_MS) {
				connection_lost(c, WAKKS_E_TIMEOUT);
				return;
			}
	}
	/* A long-lived connection rotates the signed prekey on schedule too (at most once per
	 * SPK_TIMER_MIN_MS, whatever the configured interval). */
	if (c->state == WAKKS_READY && c->spk_current && !c->spk_rotate_inflight && !c->extension &&
	    wakks__now_ms() >= c->spk_created_ms + spk_timer_interval(c))
		wakks__keys_after_auth(c);
	wakks__send_timer(c);
	wakks__download_timer(c);
}

int wakks_process(wakks_client *c)
{
	if (!c)
		return WAKKS_E_INVAL;
	int rc = 0;
	if (c->ws.state == WS_CLOSED) {
		rc = c->ws.error ? c->ws.error : WAKKS_E_CLOSED;
		connection_lost(c, rc);
		return rc;
	}
	if (c->ws.state != WS_IDLE) {
		int before = c->ws.state;
		rc = wakks__ws_io(&c->ws, c->tls, on_message, c);
		if (before != WS_OPEN && c->ws.state == WS_OPEN)
			c->last_rx_mono = wakks__mono_ms();
		if (rc != 0 || c->ws.state == WS_CLOSED) {
			connection_lost(c, rc);
			return rc ? rc : WAKKS_E_CLOSED;
		}
	}
	run_timers(c);
	return rc;
}

int wakks_poll(wakks_client *c, int timeout_ms)
{
	int t = wakks_timeout_ms(c);
	if (t < 0 || (timeout_ms >= 0 && timeout_ms < t))
		t = timeout_ms;
	struct pollfd pfd = { .fd = c->ws.fd, .events = wakks_want(c) };
	if (pfd.fd >= 0 && pfd.events)
		poll(&pfd, 1, t);
	else if (t != 0)
		poll(NULL, 0, t < 0 ? 1000 : t);
	return wakks_process(c);
}

int wakks_run_until(wakks_client *c, bool (*done)(wakks_client *c, void *arg), void *arg,
		    int timeout_ms)
{
	uint64_t end = wakks__mono_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
	while (!done(c, arg)) {
		uint64_t now = wakks__mono_ms();
		if (timeout_ms >= 0 && now >= end)
			return WAKKS_E_TIMEOUT;
		wakks_poll(c, timeout_ms < 0 ? 1000 : (int)(end - now));
	}
	return 0;
}

struct op_wait {
	uint32_t op;
	struct wakks__op *slot;
};

static bool op_done(wakks_client *c, void *arg)
{
	struct op_wait *w = arg;
	(void)c;
	return w->slot->id != w->op || w->slot->done;
}

int wakks_wait(wakks_client *c, uint32_t op, int timeout_ms)
{
	struct op_wait w = { op, NULL };
	for (size_t i = 0; i < WAKKS__MAX_OPS; i++)
		if (c->ops[i].id == op && op)
			w.slot = &c->ops[i];
	if (!w.slot)
		return WAKKS_E_INVAL;
	int rc = wakks_run_until(c, op_done, &w, timeout_ms);
	if (rc != 0)
		return rc;
	if (w.slot->id != op)
		return WAKKS_E_INVAL; /* slot reused: more than WAKKS__MAX_OPS operations in flight */
	int result = w.slot->result;
	w.slot->id = 0;
	return result;
}

/* ---- this device ------------------------------------------------------------------------------ */

bool wakks_is_registered(const wakks_client *c)
{
	return c->registered;
}

int wakks_account_id(const wakks_client *c, uint8_t out[WAKKS_ID_BYTES])
{
	if (!c->registered)
		return WAKKS_E_NOT_REGISTERED;
	memcpy(out, c->account, 16);
	return 0;
}

int wakks_device_id(const wakks_client *c, uint8_t out[WAKKS_ID_BYTES])
{
	if (!c->registered)
		return WAKKS_E_NOT_REGISTERED;
	memcpy(out, c->device, 16);
	return 0;
}

void wakks_identity_key(const wakks_client *c, uint8_t out[WAKKS_KEY_BYTES])
{
	memcpy(out, c->ik.public_key, 32);
}

int wakks_challenge(const wakks_client *c, uint8_t out[32])
{
	if (!c->have_challenge)
		return WAKKS_E_STATE;
	memcpy(out, c->challenge, 32);
	return 0;
}

int wakks_registration_nonce(const wakks_client *c, const char *issuer,
			     char out[WAKKS_NONCE_CHARS + 1])
{
	static const char ctx[] = "wakks.v1 oidc-nonce";
	if (!issuer || !issuer[0] || strlen(issuer) > 512)
		return WAKKS_E_INVAL;
	if (!c->have_challenge)
		return WAKKS_E_STATE;
	size_t il = strlen(issuer);
	crypto_hash_sha256_state st;
	uint8_t zero = 0, len[2] = { (uint8_t)(il >> 8), (uint8_t)il }, h[32];
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)ctx, sizeof ctx - 1);
	crypto_hash_sha256_update(&st, &zero, 1);
	crypto_hash_sha256_update(&st, len, 2);
	crypto_hash_sha256_update(&st, (const uint8_t *)issuer, il);
	crypto_hash_sha256_update(&st, c->ik.public_key, 32);
	crypto_hash_sha256_update(&st, c->challenge, 32);
	crypto_hash_sha256_final(&st, h);
	sodium_bin2base64(out, WAKKS_NONCE_CHARS + 1, h, sizeof h,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return 0;
}

int wakks__bodiless_request(wakks_client *c, int type, int kind, uint32_t *op)
{
	if (!c)
		return WAKKS_E_INVAL;
	if (!c->registered)
		return WAKKS_E_NOT_REGISTERED;
	if (c->state != WAKKS_READY)
		return WAKKS_E_STATE;
	proto_frame_init(c->tx, type, 0);
	uint32_t id = wakks__op_new(c);
	int rc = wakks__request(c, kind, id, 0);
	if (rc < 0)
		return rc;
	if (op)
		*op = id;
	return 0;
}

int wakks_devices_list(wakks_client *c, uint32_t *op)
{
	return wakks__bodiless_request(c, PROTO_T_DEVICES_LIST, RQ_DEVICES, op);
}

int wakks_device_revoke(wakks_client *c, const uint8_t device[WAKKS_ID_BYTES], uint32_t *op)
{
	if (!device)
		return WAKKS_E_INVAL;
	if (!c->registered)
		return WAKKS_E_NOT_REGISTERED;
	if (c->state != WAKKS_READY)
		return WAKKS_E_STATE;
	proto_frame_init(c->tx, PROTO_T_DEVICE_REVOKE, 0);
	c->tx->body.device_revoke.device = device;
	uint32_t id = wakks__op_new(c);
	int rc = wakks__request(c, RQ_REVOKE, id, 0);
	if (rc < 0)
		return rc;
	if (op)
		*op = id;
	return 0;
}

#if defined(WAKKS_TEST_HOOKS) && WAKKS_TEST_HOOKS
void wakks__test_drop_after_send(wakks_client *c)
{
	c->test_drop_after_send = true;
}
#endif

#if defined(WAKKS_TEST_HOOKS) && WAKKS_TEST_HOOKS
void wakks__test_crash_on_receive(wakks_client *c, int point)
{
	c->test_crash_receive = point;
}
#endif

#if defined(WAKKS_TEST_HOOKS) && WAKKS_TEST_HOOKS
void wakks__test_drop_after_chunks(wakks_client *c, uint32_t n)
{
	c->test_drop_after_chunks = n;
}

void wakks__test_corrupt_next_download(wakks_client *c)
{
	c->test_corrupt_download = true;
}
#endif
