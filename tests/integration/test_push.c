/* SPDX-License-Identifier: MPL-2.0 */
/* Push against a real relay and push services started by the test (push_stand_in.py: HTTP/2 over
 * TLS on loopback, written independently of the relay): devices subscribe with push_register
 * (Web Push, APNs, FCM), go offline, and a message to them makes the relay push. The stand-in
 * verifies the VAPID JWT and decrypts the RFC 8291 payload, checks the APNs provider token and
 * headers and the FCM token exchange; the test then asserts that each offline device got exactly
 * one content-free push, the connected one none, that pushes within the interval are coalesced,
 * that 404/410/BadDeviceToken/Unregistered/UNREGISTERED remove the subscription, that 429 is
 * retried after a growing back-off, that the FCM access token is reused, that a push service that
 * never answers does not delay delivery, and that /metrics counts it all per provider. */
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "relay_proc.h"
#include "support/test_cert.h"
#include "tclient.h"
#include "test.h"

#define PAYLOAD "{\"wakks\":\"waiting\"}"

static struct relay_proc relay;
static char dir[] = "/tmp/wakks-push-XXXXXX";
static char events_path[300];
static int stand_in_port, stand_in_pid;
static json_t *keys;

enum { WEB, APNS, FCM };

static const struct {
	int kind;
	const char *target; /* web: subscription name; apns/fcm: token */
	bool online;
} subs[] = {
	{ WEB, "ok", false },     { WEB, "online", true },  { WEB, "gone404", false },
	{ WEB, "gone410", false }, { WEB, "busy", false },   { WEB, "hang", false },
	{ APNS, "tok-ok", false }, { APNS, "bad", false },   { APNS, "unreg", false },
	{ FCM, "fcm-ok", false },  { FCM, "unreg", false },  { FCM, "busy", false },
};
#define NSUBS (sizeof subs / sizeof subs[0])
static struct tdev sender, devs[NSUBS];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Every event so far, as a JSON array. */
static json_t *events(void)
{
	json_t *all = json_array();
	FILE *f = fopen(events_path, "r");
	char line[16384];
	while (f && fgets(line, sizeof line, f)) {
		json_t *e = json_loads(line, 0, NULL);
		if (e)
			json_array_append_new(all, e);
	}
	if (f)
		fclose(f);
	return all;
}

static int count(json_t *all, const char *kind, const char *target)
{
	int n = 0;
	size_t i;
	json_t *e;
	json_array_foreach(all, i, e) {
		if (strcmp(json_string_value(json_object_get(e, "kind")), kind) == 0 &&
		    (!target || (json_string_value(json_object_get(e, "target")) &&
				 strcmp(json_string_value(json_object_get(e, "target")), target) == 0)))
			n++;
	}
	return n;
}

static json_t *nth(json_t *all, const char *kind, const char *target, int k)
{
	size_t i;
	json_t *e;
	json_array_foreach(all, i, e) {
		const char *t = json_string_value(json_object_get(e, "target"));
		if (strcmp(json_string_value(json_object_get(e, "kind")), kind) == 0 && t &&
		    strcmp(t, target) == 0 && k-- == 0)
			return e;
	}
	return NULL;
}

/* Waits until pred holds on the events (or the timeout); returns the last snapshot. */
static json_t *wait_events(bool (*pred)(json_t *), int timeout_ms)
{
	double end = now_s() + timeout_ms / 1000.0;
	for (;;) {
		json_t *all = events();
		if (pred(all) || now_s() > end)
			return all;
		json_decref(all);
		usleep(50 * 1000);
	}
}

static bool first_round_done(json_t *all)
{
	return count(all, "web", "ok") >= 1 && count(all, "web", "gone404") >= 1 &&
	       count(all, "web", "gone410") >= 1 && count(all, "web", "busy") >= 3 &&
	       count(all, "web", "hang") >= 1 && count(all, "apns", "tok-ok") >= 1 &&
	       count(all, "apns", "bad") >= 1 && count(all, "apns", "unreg") >= 1 &&
	       count(all, "fcm", "fcm-ok") >= 1 && count(all, "fcm", "unreg") >= 1 &&
	       count(all, "fcm", "busy") >= 3;
}

static bool second_round_done(json_t *all)
{
	return count(all, "web", "ok") >= 2 && count(all, "apns", "tok-ok") >= 2 &&
	       count(all, "fcm", "fcm-ok") >= 2;
}

static int push_register(struct tdev *d, int kind, const char *target)
{
	proto_frame f;
	char ep[256];
	uint8_t p256dh[65], auth[16];
	proto_frame_init(&f, PROTO_T_PUSH_REGISTER, 0);
	proto_push_register *p = &f.body.push_register;
	p->kind = kind == WEB ? PROTO_PUSH_WEB : kind == APNS ? PROTO_PUSH_APNS : PROTO_PUSH_FCM;
	if (kind == WEB) {
		json_t *k = json_object_get(keys, target);
		snprintf(ep, sizeof ep, "https://localhost:%d/wp/%s", stand_in_port, target);
		sodium_hex2bin(p256dh, 65, json_string_value(json_object_get(k, "p256dh")), 130, NULL, NULL, NULL);
		sodium_hex2bin(auth, 16, json_string_value(json_object_get(k, "auth")), 32, NULL, NULL, NULL);
		p->endpoint = (proto_str){ ep, strlen(ep) };
		p->p256dh = p256dh;
		p->auth = auth;
	} else {
		const char *app = kind == APNS ? "wakks-ios" : "wakks-android";
		p->app = (proto_str){ app, strlen(app) };
		p->token = (proto_str){ target, strlen(target) };
	}
	return tdev_request(d, &f, 5000);
}

static int send_to_all(void)
{
	uint8_t cmid[16], to[NSUBS][16];
	randombytes_buf(cmid, sizeof cmid);
	for (size_t i = 0; i < NSUBS; i++)
		memcpy(to[i], devs[i].device_id, 16);
	return tdev_send(&sender, cmid, NULL, 0, "varde", "jobcenter", (const uint8_t(*)[16])to, NSUBS,
			 "til enheden", 11, false);
}

static uint64_t metric(const char *line_start)
{
	int status = 0;
	char *body = NULL;
	uint64_t v = UINT64_MAX;
	if (admin_get(relay.admin_port, "/metrics", &status, &body) != 0)
		return v;
	char key[160];
	snprintf(key, sizeof key, "\n%s ", line_start);
	const char *p = body ? strstr(body, key) : NULL;
	if (p)
		v = strtoull(p + strlen(key), NULL, 10);
	free(body);
	return v;
}

static void subscriptions_are_checked(void)
{
	/* the VAPID key a browser subscribes with */
	proto_frame f;
	proto_frame_init(&f, PROTO_T_PUSH_KEY_GET, 0);
	REQUIRE(tdev_request(&sender, &f, 5000) == PROTO_T_PUSH_KEY);
	CHECK_EQ_INT(sender.frame.body.push_key.vapid[0], 0x04);
	/* an endpoint that is not https, a point not on the curve, an app not configured */
	uint8_t p256dh[65], auth[16] = { 0 };
	memset(p256dh, 0x11, sizeof p256dh);
	p256dh[0] = 0x04;
	proto_frame_init(&f, PROTO_T_PUSH_REGISTER, 0);
	f.body.push_register.kind = PROTO_PUSH_WEB;
	f.body.push_register.endpoint = (proto_str){ "http://push.example/x", 21 };
	f.body.push_register.p256dh = p256dh;
	f.body.push_register.auth = auth;
	REQUIRE(tdev_request(&sender, &f, 5000) == PROTO_T_ERROR);
	CHECK_EQ_INT(sender.frame.body.error.code, -PROTO_E_INVALID);
	proto_frame_init(&f, PROTO_T_PUSH_REGISTER, 0);
	f.body.push_register.kind = PROTO_PUSH_WEB;
	f.body.push_register.endpoint = (proto_str){ "https://push.example/x", 22 };
	f.body.push_register.p256dh = p256dh;
	f.body.push_register.auth = auth;
	REQUIRE(tdev_request(&sender, &f, 5000) == PROTO_T_ERROR);
	CHECK_EQ_INT(sender.frame.body.error.code, -PROTO_E_INVALID);
	proto_frame_init(&f, PROTO_T_PUSH_REGISTER, 0);
	f.body.push_register.kind = PROTO_PUSH_FCM;
	f.body.push_register.app = (proto_str){ "wakks-ios", 9 }; /* an APNs app, not FCM */
	f.body.push_register.token = (proto_str){ "t", 1 };
	REQUIRE(tdev_request(&sender, &f, 5000) == PROTO_T_ERROR);
	CHECK_EQ_INT(sender.frame.body.error.code, -PROTO_E_NOT_FOUND);
	/* push_remove with nothing registered is fine */
	proto_frame_init(&f, PROTO_T_PUSH_REMOVE, 0);
	CHECK_EQ_INT(tdev_request(&sender, &f, 5000), PROTO_T_OK);
}

static void offline_devices_are_pushed(void)
{
	for (size_t i = 0; i < NSUBS; i++) {
		CHECK_EQ_INT(push_register(&devs[i], subs[i].kind, subs[i].target), PROTO_T_OK);
		if (!subs[i].online)
			tdev_disconnect(&devs[i]);
	}
	size_t online = 1; /* index of "online" */
	double t0 = now_s();
	REQUIRE(send_to_all() == PROTO_T_STORED);
	/* delivery to the connected device does not wait for push services (one never answers) */
	CHECK_EQ_INT(tdev_wait(&devs[online], PROTO_T_DELIVER, 3000), PROTO_T_DELIVER);
	CHECK(now_s() - t0 < 1.5);
	json_t *all = wait_events(first_round_done, 10000);
	CHECK(first_round_done(all));

	/* what every push service saw passed its checks */
	size_t i;
	json_t *e;
	json_array_foreach(all, i, e) {
		json_t *errs = json_object_get(e, "errors");
		if (json_array_size(errs)) {
			char *s = json_dumps(e, JSON_COMPACT);
			fprintf(stderr, "  stand-in found: %s\n", s);
			free(s);
		}
		CHECK_EQ_INT(json_array_size(errs), 0);
	}
	/* exactly one push per offline device, none to the connected one */
	CHECK_EQ_INT(count(all, "web", "online"), 0);
	CHECK_EQ_INT(count(all, "web", "ok"), 1);
	CHECK_EQ_INT(count(all, "apns", "tok-ok"), 1);
	CHECK_EQ_INT(count(all, "fcm", "fcm-ok"), 1);
	/* the payload says only that something waits */
	json_t *ok = nth(all, "web", "ok", 0);
	REQUIRE(ok);
	CHECK(json_string_value(json_object_get(ok, "payload")) &&
	      strcmp(json_string_value(json_object_get(ok, "payload")), PAYLOAD) == 0);
	CHECK(strcmp(json_string_value(json_object_get(ok, "ttl")), "86400") == 0);
	CHECK(strcmp(json_string_value(json_object_get(ok, "urgency")), "high") == 0);
	const char *apns_body = json_string_value(json_object_get(nth(all, "apns", "tok-ok", 0), "body"));
	CHECK(apns_body && !strstr(apns_body, "til enheden"));
	/* 429 twice, then accepted: the retries come after a growing back-off (base 200 ms) */
	json_t *b1 = nth(all, "web", "busy", 0), *b2 = nth(all, "web", "busy", 1), *b3 = nth(all, "web", "busy", 2);
	REQUIRE(b1 && b2 && b3);
	double g1 = json_real_value(json_object_get(b2, "t")) - json_real_value(json_object_get(b1, "t"));
	double g2 = json_real_value(json_object_get(b3, "t")) - json_real_value(json_object_get(b2, "t"));
	CHECK(g1 >= 0.18 && g2 >= 0.38 && g2 > g1);
	CHECK_EQ_INT(json_integer_value(json_object_get(b3, "status")), 201);
	CHECK_EQ_INT(count(all, "fcm", "busy"), 3);
	/* one token exchange so far */
	CHECK_EQ_INT(count(all, "fcm_token", NULL), 1);
	json_decref(all);
}

static void pushes_are_coalesced_and_gone_ones_removed(void)
{
	/* within the interval: stored, delivered to the connected device, no push */
	REQUIRE(send_to_all() == PROTO_T_STORED);
	CHECK_EQ_INT(tdev_wait(&devs[1], PROTO_T_DELIVER, 3000), PROTO_T_DELIVER);
	usleep(800 * 1000);
	json_t *all = events();
	CHECK_EQ_INT(count(all, "web", "ok"), 1);
	CHECK_EQ_INT(count(all, "apns", "tok-ok"), 1);
	json_decref(all);
	CHECK(metric("wakks_push_coalesced_total") >= 6);

	/* after the interval (3 s): pushed again; the gone subscriptions are not */
	sleep(3);
	REQUIRE(send_to_all() == PROTO_T_STORED);
	all = wait_events(second_round_done, 8000);
	CHECK(second_round_done(all));
	usleep(500 * 1000);
	json_decref(all);
	all = events();
	CHECK_EQ_INT(count(all, "web", "gone404"), 1);
	CHECK_EQ_INT(count(all, "web", "gone410"), 1);
	CHECK_EQ_INT(count(all, "apns", "bad"), 1);
	CHECK_EQ_INT(count(all, "apns", "unreg"), 1);
	CHECK_EQ_INT(count(all, "fcm", "unreg"), 1);
	CHECK_EQ_INT(count(all, "web", "online"), 0);
	/* the access token was cached, not fetched again */
	CHECK_EQ_INT(count(all, "fcm_token", NULL), 1);
	json_decref(all);

	CHECK(metric("wakks_push_sent_total{provider=\"web\"}") >= 3);  /* ok x2, busy */
	CHECK(metric("wakks_push_sent_total{provider=\"apns\"}") >= 2);
	CHECK(metric("wakks_push_sent_total{provider=\"fcm\"}") >= 3);  /* fcm-ok x2, busy */
	CHECK_EQ_INT(metric("wakks_push_subscriptions_removed_total"), 5);
	CHECK_EQ_INT(metric("wakks_push_failed_total{provider=\"web\"}"), 2);
	CHECK_EQ_INT(metric("wakks_push_dropped_total{provider=\"web\"}"), 0);
	/* nothing of a subscription in the relay's log */
	CHECK(!relay_log_contains(&relay, "/wp/ok"));
	CHECK(!relay_log_contains(&relay, "tok-ok"));
}

static FILE *server;
static char cert[256], key[256];

/* The stand-in on its port, the relay configured to use it, the devices registered. */
static void setup(void)
{
	char cmd[1024], conf[4096], path[320];
	REQUIRE(sodium_init() >= 0);
	REQUIRE(mkdtemp(dir) != NULL);
	REQUIRE(test_cert_write(dir, cert, key, sizeof cert) == 0);
	snprintf(events_path, sizeof events_path, "%s/push-events.jsonl", dir);
	const char *script = getenv("WAKKS_PUSH_STAND_IN");
	const char *python = getenv("WAKKS_PYTHON");
	REQUIRE(script && python);
	snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' '%s' '%s'", python, script, dir, cert, key);
	server = popen(cmd, "r");
	REQUIRE(server && fscanf(server, "%d %d", &stand_in_port, &stand_in_pid) == 2);
	snprintf(path, sizeof path, "%s/push-keys.json", dir);
	keys = json_load_file(path, 0, NULL);
	REQUIRE(keys);
	snprintf(conf, sizeof conf,
		 "[push]\nca_file = %s\ninterval_seconds = 3\nretry_base_ms = 200\nretry_max = 3\n"
		 "allow_local_endpoints = on\n"
		 "[push.app.wakks-ios]\nkind = apns\nurl = https://localhost:%d\nca_file = %s\n"
		 "key_file = %s/apns.p8\nkey_id = KEY1234567\nteam_id = TEAM123456\n"
		 "topic = dk.os2wakks.test\n"
		 "[push.app.wakks-android]\nkind = fcm\nurl = https://localhost:%d\nca_file = %s\n"
		 "service_account_file = %s/fcm.json\n"
		 /* the demo tenant with a fallback webhook after 2 s (spec/push.md §7) */
		 "[tenant varde]\nname = Varde Kommune\ncvr = 29189781\nidps = dev-mitid, dev-adfs\n"
		 "webhook_url = https://localhost:%d/hook\nwebhook_secret_file = %s/webhook.secret\n"
		 "webhook_after_seconds = 2\n"
		 "[unit varde/jobcenter]\nname = Jobcenter\ngroups = varde-jobcenter\n",
		 cert, stand_in_port, cert, dir, stand_in_port, cert, dir, stand_in_port, dir);
	REQUIRE(relay_proc_start(&relay, conf, true) == 0);

	tdev_init(&sender, relay.port);
	REQUIRE(tdev_register(&sender, "dev-mitid", "anna", 1) == 0);
	for (size_t i = 0; i < NSUBS; i++) {
		tdev_init(&devs[i], relay.port);
		REQUIRE(tdev_register(&devs[i], "dev-mitid", "anna", 1) == 0);
	}
}

/* A caseworker's message to the citizen: read on one device in time, no webhook; left unread on
 * every device, the tenant's webhook is called once, signed and content-free. */
static void unread_message_calls_the_webhook(void)
{
	struct tdev cw;
	char version[33];
	uint8_t sha[32];
	tdev_init(&cw, relay.port);
	REQUIRE(tdev_register(&cw, "dev-adfs", "camilla", 1) == 0);
	REQUIRE(tconsent_text(relay.port, "varde", version, sha) == 0);
	REQUIRE(tdev_consent(&sender, 1, "varde", "", version, sha) == PROTO_T_OK);
	uint8_t to[1][16], all[NSUBS + 1][16], cmid[16];
	memcpy(to[0], sender.account_id, 16);
	memcpy(all[0], sender.device_id, 16);
	for (size_t i = 0; i < NSUBS; i++)
		memcpy(all[i + 1], devs[i].device_id, 16);

	/* read in time on one device: no call */
	randombytes_buf(cmid, sizeof cmid);
	REQUIRE(tdev_send(&cw, cmid, (const uint8_t(*)[16])to, 1, "varde", "jobcenter",
			  (const uint8_t(*)[16])all, NSUBS + 1, "Hej Anna", 8, false) == PROTO_T_STORED);
	while (tdev_wait(&sender, PROTO_T_DELIVER, 2000) == PROTO_T_DELIVER)
		CHECK_EQ_INT(tdev_ack(&sender, sender.frame.body.deliver.seq), PROTO_T_OK);
	usleep(2600 * 1000);
	json_t *ev = events();
	CHECK_EQ_INT(count(ev, "hook", NULL), 0);
	json_decref(ev);

	/* unread everywhere: one call after 2 s */
	randombytes_buf(cmid, sizeof cmid);
	double t0 = now_s();
	REQUIRE(tdev_send(&cw, cmid, (const uint8_t(*)[16])to, 1, "varde", "jobcenter",
			  (const uint8_t(*)[16])all, NSUBS + 1, "Hej igen", 8, false) == PROTO_T_STORED);
	double end = t0 + 8;
	int hooks = 0;
	while (now_s() < end && hooks == 0) {
		usleep(100 * 1000);
		ev = events();
		hooks = count(ev, "hook", NULL);
		json_decref(ev);
	}
	CHECK_EQ_INT(hooks, 1);
	CHECK(now_s() - t0 >= 1.9);
	ev = events();
	json_t *h = nth(ev, "hook", "varde", 0);
	REQUIRE(h);
	CHECK_EQ_INT(json_array_size(json_object_get(h, "errors")), 0);
	const char *body = json_string_value(json_object_get(h, "body"));
	CHECK(body && !strstr(body, "Hej") && !strstr(body, "jobcenter"));
	json_decref(ev);
	/* the stand-in logs before it answers: the relay counts once the answer is in */
	uint64_t sent = 0;
	for (int i = 0; i < 40 && (sent = metric("wakks_webhook_sent_total")) == 0; i++)
		usleep(50 * 1000);
	CHECK_EQ_INT(sent, 1);
	tdev_free(&cw);
}

/* After a restart, devices with a subscription and envelopes still waiting are pushed again once
 * the interval has given them time to reconnect (a push lost in the restart is not lost). */
static void restart_pushes_what_still_waits(void)
{
	json_t *ev = events();
	int before = count(ev, "web", "ok"), apns_before = count(ev, "apns", "tok-ok");
	json_decref(ev);
	/* a push service that never answers does not hold up a clean stop */
	double t0 = now_s();
	CHECK_EQ_INT(relay_proc_stop(&relay), 0);
	CHECK(now_s() - t0 < 5);
	REQUIRE(relay_proc_restart(&relay, true) == 0);
	double end = now_s() + 10;
	int after = before;
	while (now_s() < end && after == before) {
		usleep(100 * 1000);
		ev = events();
		after = count(ev, "web", "ok");
		json_decref(ev);
	}
	CHECK_EQ_INT(after, before + 1);
	usleep(500 * 1000);
	ev = events();
	CHECK_EQ_INT(count(ev, "apns", "tok-ok"), apns_before + 1);
	CHECK_EQ_INT(count(ev, "web", "gone410"), 1); /* removed before the restart: stays removed */
	json_decref(ev);
}

int main(void)
{
	char cmd[400];
	RUN(setup);
	if (test__failures)
		return TEST_RESULT();
	RUN(subscriptions_are_checked);
	RUN(offline_devices_are_pushed);
	RUN(pushes_are_coalesced_and_gone_ones_removed);
	RUN(unread_message_calls_the_webhook);
	RUN(restart_pushes_what_still_waits);

	for (size_t i = 0; i < NSUBS; i++)
		tdev_free(&devs[i]);
	tdev_free(&sender);
	relay_proc_cleanup(&relay);
	if (stand_in_pid > 0)
		kill(stand_in_pid, SIGTERM);
	if (server)
		pclose(server);
	json_decref(keys);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	(void)system(cmd);
	return TEST_RESULT();
}
