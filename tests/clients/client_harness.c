/* SPDX-License-Identifier: MPL-2.0 */
#include "client_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#define TH_MAX_DEVS 16
static struct th_dev *devs[TH_MAX_DEVS];

static void on_event(wakks_client *c, const wakks_event *ev, void *user)
{
	(void)c;
	struct th_dev *d = user;
	switch (ev->type) {
	case WAKKS_EV_MESSAGE: {
		if (d->n_msgs >= TH_MAX_MSGS)
			break;
		struct th_msg *m = &d->msgs[d->n_msgs++];
		const wakks_message *w = ev->u.message;
		size_t n = w->text_len < sizeof m->text - 1 ? w->text_len : sizeof m->text - 1;
		memcpy(m->text, w->text, n);
		m->text[n] = '\0';
		memcpy(m->id, w->id, 16);
		memcpy(m->sender_account, w->sender_account, 16);
		memcpy(m->sender_device, w->sender_device, 16);
		memcpy(m->conversation, w->conversation, 16);
		m->outgoing = w->outgoing;
		m->delivery = w->delivery;
		snprintf(m->tenant, sizeof m->tenant, "%s", w->tenant);
		snprintf(m->unit, sizeof m->unit, "%s", w->unit);
		m->file = w->attachment != NULL;
		if (w->attachment) {
			m->file_state = w->attachment->state;
			m->file_size = w->attachment->size;
			snprintf(m->file_name, sizeof m->file_name, "%s", w->attachment->file_name);
			snprintf(m->media_type, sizeof m->media_type, "%s", w->attachment->media_type);
			snprintf(m->file_path, sizeof m->file_path, "%s",
				 w->attachment->path ? w->attachment->path : "");
		}
		break;
	}
	case WAKKS_EV_SENT:
		d->n_sent++;
		break;
	case WAKKS_EV_STATE:
		if (ev->u.state == WAKKS_DISCONNECTED)
			d->n_disconnects++;
		break;
	case WAKKS_EV_PREKEYS:
		if (ev->u.prekeys.rotated)
			d->n_spk_rotations++;
		else
			d->n_prekey_uploads++;
		break;
	case WAKKS_EV_KEY_CHANGE:
		d->n_key_changes++;
		memcpy(d->last_change_device, ev->u.peer.device, 16);
		memcpy(d->last_safety, ev->u.peer.safety_number, sizeof d->last_safety);
		break;
	case WAKKS_EV_DEVICE_CHANGE:
		d->n_device_changes++;
		memcpy(d->last_change_device, ev->u.peer.device, 16);
		memcpy(d->last_safety, ev->u.peer.safety_number, sizeof d->last_safety);
		break;
	case WAKKS_EV_DONE:
		d->consent_active = ev->u.done.consent_active ? 1 : 0;
		if (ev->u.done.consents || ev->u.done.n_consents) {
			d->n_consents = (int)ev->u.done.n_consents;
			if (ev->u.done.n_consents)
				d->last_consent_kind = ev->u.done.consents[ev->u.done.n_consents - 1].kind;
		}
		if (ev->u.done.result != 0)
			fprintf(stderr, "  [%s] operation %u failed: %s\n", d->name, ev->u.done.op,
				wakks_strerror(ev->u.done.result));
		break;
	case WAKKS_EV_RECEIPT:
		d->n_receipts++;
		break;
	case WAKKS_EV_ERROR:
		d->n_errors++;
		d->last_error_code = ev->u.error.code;
		snprintf(d->last_error, sizeof d->last_error, "%s", ev->u.error.what);
		fprintf(stderr, "  [%s] error event: %s (%s)\n", d->name, ev->u.error.what,
			wakks_strerror(ev->u.error.code));
		break;
	default:
		break;
	}
}

static int open_client(struct th_dev *d)
{
	char url[128];
	snprintf(url, sizeof url, "wss://localhost:%d", d->port);
	wakks_config cfg = {
		.relay_url = url,
		.ca_file = d->ca,
		.store_dir = d->dir,
		.store_key = d->key,
		.device_label = d->name,
		.on_event = on_event,
		.user = d,
		.auto_reconnect = true,
		.prekey_batch = 20,
		.spk_rotate_ms = d->spk_rotate_ms,
		.files_dir = d->files_dir,
		.on_log = d->on_log,
		.manual_ack = d->manual_ack,
	};
	int rc = wakks_open(&cfg, &d->c);
	if (rc != 0) {
		fprintf(stderr, "wakks_open(%s): %s\n", d->name, wakks_strerror(rc));
		return rc;
	}
	for (int i = 0; i < TH_MAX_DEVS; i++)
		if (!devs[i] || devs[i] == d) {
			devs[i] = d;
			break;
		}
	return wakks_connect(d->c);
}

int th_open(struct th_dev *d, const char *name, const char *base, int port, const char *ca)
{
	memset(d, 0, sizeof *d);
	d->name = name;
	d->port = port;
	snprintf(d->ca, sizeof d->ca, "%s", ca);
	snprintf(d->dir, sizeof d->dir, "%s/%s", base, name);
	mkdir(base, 0700);
	randombytes_buf(d->key, sizeof d->key);
	return open_client(d);
}

int th_open_rotating(struct th_dev *d, const char *name, const char *base, int port,
		     const char *ca, uint64_t spk_rotate_ms)
{
	memset(d, 0, sizeof *d);
	d->spk_rotate_ms = spk_rotate_ms;
	d->name = name;
	d->port = port;
	snprintf(d->ca, sizeof d->ca, "%s", ca);
	snprintf(d->dir, sizeof d->dir, "%s/%s", base, name);
	mkdir(base, 0700);
	randombytes_buf(d->key, sizeof d->key);
	return open_client(d);
}

int th_reopen(struct th_dev *d)
{
	wakks_close(d->c);
	d->c = NULL;
	return open_client(d);
}

void th_close(struct th_dev *d)
{
	for (int i = 0; i < TH_MAX_DEVS; i++)
		if (devs[i] == d)
			devs[i] = NULL;
	wakks_close(d->c);
	d->c = NULL;
}

void th_pump(int ms)
{
	uint64_t end = (uint64_t)ms;
	for (uint64_t t = 0; t < end; t += 10)
		for (int i = 0; i < TH_MAX_DEVS; i++)
			if (devs[i] && devs[i]->c)
				wakks_poll(devs[i]->c, i == 0 ? 10 : 0);
}

int th_pump_until(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
	for (int t = 0; t < timeout_ms; t += 10) {
		if (cond(arg))
			return 0;
		bool any = false;
		for (int i = 0; i < TH_MAX_DEVS; i++)
			if (devs[i] && devs[i]->c) {
				wakks_poll(devs[i]->c, any ? 0 : 10);
				any = true;
			}
	}
	return cond(arg) ? 0 : -1;
}

static bool is_connected(void *arg)
{
	struct th_dev *d = arg;
	return wakks_state(d->c) >= WAKKS_CONNECTED;
}

static bool is_ready(void *arg)
{
	struct th_dev *d = arg;
	return wakks_state(d->c) == WAKKS_READY;
}

int th_wait_ready(struct th_dev *d, int timeout_ms)
{
	return th_pump_until(is_ready, d, timeout_ms);
}

int th_register(struct th_dev *d, const char *idp, const char *user)
{
	if (th_pump_until(is_connected, d, 10000) != 0)
		return -1;
	char *token = NULL;
	int rc = wakks_devidp_login(d->c, idp, user, &token);
	if (rc != 0) {
		fprintf(stderr, "devidp login %s: %s\n", user, wakks_strerror(rc));
		return rc;
	}
	uint32_t op;
	rc = wakks_register(d->c, token, &op);
	free(token);
	if (rc == 0)
		rc = wakks_wait(d->c, op, 10000);
	if (rc != 0)
		fprintf(stderr, "register %s: %s\n", user, wakks_strerror(rc));
	return rc;
}

struct msgs_wait {
	struct th_dev *d;
	int n;
};

static bool has_msgs(void *arg)
{
	struct msgs_wait *w = arg;
	return w->d->n_msgs >= w->n;
}

int th_wait_msgs(struct th_dev *d, int n, int timeout_ms)
{
	struct msgs_wait w = { d, n };
	return th_pump_until(has_msgs, &w, timeout_ms);
}

struct op_done {
	struct th_dev *d;
	int sent_before;
};

static bool sent_one(void *arg)
{
	struct op_done *o = arg;
	return o->d->n_sent > o->sent_before;
}

int th_send(struct th_dev *d, const uint8_t *account, const char *tenant, const char *unit,
	    const char *text)
{
	wakks_target to = { account, tenant, unit };
	uint32_t op;
	int before = d->n_sent;
	int rc = wakks_send_text(d->c, &to, text, strlen(text), NULL, &op);
	if (rc != 0)
		return rc;
	/* Pump everyone (recipients too) until stored. */
	struct op_done o = { d, before };
	if (th_pump_until(sent_one, &o, 15000) != 0)
		return -1;
	return 0;
}

int th_find(const struct th_dev *d, const char *text)
{
	for (int i = 0; i < d->n_msgs; i++)
		if (strcmp(d->msgs[i].text, text) == 0)
			return i;
	return -1;
}

int th_count(const struct th_dev *d, const char *text)
{
	int n = 0;
	for (int i = 0; i < d->n_msgs; i++)
		n += strcmp(d->msgs[i].text, text) == 0;
	return n;
}

struct text_wait {
	struct th_dev *d;
	const char *text;
};

static bool has_text(void *arg)
{
	struct text_wait *w = arg;
	return th_find(w->d, w->text) >= 0;
}

int th_wait_text(struct th_dev *d, const char *text, int timeout_ms)
{
	struct text_wait w = { d, text };
	return th_pump_until(has_text, &w, timeout_ms);
}

int th_find_file(const struct th_dev *d, const char *name)
{
	for (int i = d->n_msgs - 1; i >= 0; i--)
		if (d->msgs[i].file && strcmp(d->msgs[i].file_name, name) == 0)
			return i;
	return -1;
}

struct file_wait {
	struct th_dev *d;
	const char *name;
};

static bool has_file(void *arg)
{
	struct file_wait *w = arg;
	int i = th_find_file(w->d, w->name);
	return i >= 0 && (w->d->msgs[i].file_state == WAKKS_ATT_SAVED ||
			  w->d->msgs[i].file_state == WAKKS_ATT_FAILED);
}

int th_wait_file(struct th_dev *d, const char *name, int timeout_ms)
{
	struct file_wait w = { d, name };
	return th_pump_until(has_file, &w, timeout_ms);
}

int th_own_ids_in_order(const wakks_message *m, void *arg)
{
	struct th_own_order *o = arg;
	if (!m->outgoing || m->from_history || memcmp(m->sender_device, o->device, 16) != 0)
		return 0;
	if (o->n > 0 && memcmp(o->last, m->cmid, 16) < 0)
		o->ordered++;
	memcpy(o->last, m->cmid, 16);
	o->n++;
	return 0;
}
