/* SPDX-License-Identifier: MPL-2.0 */
/* What an app needs around push notifications (wakks.h "Push notifications"): giving the relay
 * its APNs or FCM token, the call a Notification Service Extension makes, reconnecting when the
 * network changes, and the library's version. */
#include <string.h>

#include "wakks_internal.h"

/* After authenticating, the extension waits this long without a frame before it concludes that
 * the relay has delivered everything waiting (the relay pushes a device's mailbox at once). */
#define EXTENSION_QUIET_MS 400

const char *wakks_version(void)
{
	return WAKKS_VERSION_STRING;
}

int wakks_push_register(wakks_client *c, int kind, const char *app, const char *token, uint32_t *op)
{
	if (!c || !app || !token || (kind != WAKKS_PUSH_APNS && kind != WAKKS_PUSH_FCM) ||
	    !proto_slug_valid(app, strlen(app)) || !*token || strlen(token) > PROTO_MAX_PUSH_TOKEN_BYTES)
		return WAKKS_E_INVAL;
	if (!c->registered)
		return WAKKS_E_NOT_REGISTERED;
	if (c->state != WAKKS_READY)
		return WAKKS_E_STATE;
	proto_frame_init(c->tx, PROTO_T_PUSH_REGISTER, 0);
	c->tx->body.push_register.kind = (uint32_t)kind;
	c->tx->body.push_register.app = (proto_str){ app, strlen(app) };
	c->tx->body.push_register.token = (proto_str){ token, strlen(token) };
	uint32_t id = wakks__op_new(c);
	int rc = wakks__request(c, RQ_PUSH, id, 0); /* validates: a token must be printable ASCII */
	if (rc < 0)
		return rc == PROTO_E_BAD_STRING || rc == PROTO_E_OVER_LIMIT ? WAKKS_E_INVAL : rc;
	wakks__log(c, WAKKS_LOG_INFO, "push token given to the relay for app %s", app);
	if (op)
		*op = id;
	return 0;
}

int wakks_push_remove(wakks_client *c, uint32_t *op)
{
	return wakks__bodiless_request(c, PROTO_T_PUSH_REMOVE, RQ_PUSH, op);
}

int wakks_network_changed(wakks_client *c)
{
	if (!c)
		return WAKKS_E_INVAL;
	if (!c->want_connected)
		return WAKKS_E_STATE;
	wakks__log(c, WAKKS_LOG_INFO, "network changed: reconnecting now");
	/* The lease stays with this process across the reconnect. */
	bool auto_reconnect = c->cfg.auto_reconnect;
	c->cfg.auto_reconnect = false;
	bool lease = c->lease_held;
	c->lease_held = false; /* wakks_disconnect must not release it */
	wakks_disconnect(c);
	c->lease_held = lease;
	c->cfg.auto_reconnect = auto_reconnect;
	return wakks_connect(c);
}

struct extension_run {
	void (*fn)(const wakks_message *m, void *arg);
	void *arg;
	int messages;
	void (*app_cb)(wakks_client *c, const wakks_event *ev, void *user);
	void *app_user;
};

static void extension_event(wakks_client *c, const wakks_event *ev, void *user)
{
	struct extension_run *run = user;
	(void)c;
	if (ev->type == WAKKS_EV_MESSAGE && !ev->u.message->outgoing) {
		run->messages++;
		if (run->fn)
			run->fn(ev->u.message, run->arg);
	}
}

int wakks_extension_fetch(const wakks_config *cfg, uint32_t max_ms,
			  void (*fn)(const wakks_message *m, void *arg), void *arg)
{
	if (!cfg)
		return WAKKS_E_INVAL;
	struct extension_run run = { .fn = fn, .arg = arg };
	wakks_config ec = *cfg;
	/* The app's event callback belongs to the app's state; the extension reports through fn.
	 * Log lines still reach the app's log function with the app's own user pointer. */
	ec.on_event = extension_event;
	ec.user = &run;
	ec.auto_reconnect = false;
	wakks_client *c;
	int rc = wakks_open(&ec, &c);
	if (rc != 0)
		return rc;
	c->extension = true;
	c->log_user = cfg->user;
	if (!c->registered) {
		wakks_close(c);
		return WAKKS_E_NOT_REGISTERED;
	}
	rc = wakks_connect(c);
	uint64_t start = wakks__mono_ms(), deadline = start + max_ms;
	while (rc == 0) {
		uint64_t now = wakks__mono_ms();
		if (now >= deadline)
			break;
		if (c->state == WAKKS_READY && wakks_downloads_pending(c) == 0 &&
		    now >= c->last_rx_mono + EXTENSION_QUIET_MS)
			break; /* everything waiting has come and been acknowledged */
		if (c->state == WAKKS_DISCONNECTED && !c->want_connected) {
			rc = c->conn_error ? c->conn_error : WAKKS_E_CLOSED;
			break;
		}
		uint64_t left = deadline - now;
		int r = wakks_poll(c, left < 50 ? (int)left : 50);
		if (r < 0 && c->state == WAKKS_DISCONNECTED)
			rc = r;
	}
	bool ready = c->state == WAKKS_READY;
	wakks__log(c, WAKKS_LOG_INFO, "extension fetch: %d new message(s) in %llu ms", run.messages,
		   (unsigned long long)(wakks__mono_ms() - start));
	wakks_disconnect(c);
	wakks_close(c);
	if (rc != 0)
		return rc;
	if (!ready && run.messages == 0)
		return WAKKS_E_TIMEOUT;
	return run.messages;
}
