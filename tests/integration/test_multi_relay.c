/* SPDX-License-Identifier: MPL-2.0 */
/* Two real relay processes on one PostgreSQL database (a throw-away server the test starts),
 * behaving as one service: a citizen on relay A writes to a caseworker connected to relay B, who
 * receives it at once on the open connection (the database's wake notification, not a
 * reconnect); a device registered through B is announced to its account's device on A; a device
 * revoked through A loses its connection on B; a device connecting to B ends its older connection
 * on A; a send budget spent on A is spent on B too; an attachment uploaded through A is
 * downloaded through B byte for byte; A sends no push for a device B delivered to. The relays share the account-id key (the same file). */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pg_server.h"
#include "relay_proc.h"
#include "wakks_devidp.h"
#include "tclient.h"
#include "test.h"

#define CHUNK PROTO_MAX_BLOB_CHUNK_BYTES
/* The send budget both relays are given: small, so that the test spends it quickly, and more
 * than anna sends in all the tests. */
#define SENDS_PER_MINUTE 10
/* The server trusts local connections; a password in the connection string is what the relay's
 * log must never show. */
#define PASSWORD "never-in-a-log-7f3a"

static struct relay_proc ra, rb;
static struct tdev anna, camilla, bo1, bo2;
static char conninfo[512], dbname[64];

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int copy_file(const char *from, const char *to, mode_t mode)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (out < 0) {
		close(in);
		return -1;
	}
	char buf[4096];
	ssize_t n;
	int rc = 0;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			rc = -1;
	if (n < 0)
		rc = -1;
	close(in);
	if (close(out) != 0)
		rc = -1;
	return rc;
}

/* Both relays: the PostgreSQL engine on the test's database, a small send budget. */
static int start_relays(void)
{
	static char extra[1024];
	snprintf(extra, sizeof extra,
		 "[storage]\nengine = postgresql\nconninfo = %s\n[limits]\nsends_per_minute = %d\n"
		 /* a push that fails counts at once (no retries), to a loopback endpoint */
		 "[push]\nretry_max = 0\nallow_local_endpoints = on\n",
		 conninfo, SENDS_PER_MINUTE);
	struct relay_proc_opts o = { .extra_config = extra, .dev = true };
	if (relay_proc_start_opts(&ra, &o) != 0)
		return -1;
	/* B gets A's account-id key before its first start: every relay of a database needs the
	 * same one (the database records its fingerprint). */
	if (relay_proc_prepare(&rb, &o) != 0 || (mkdir(rb.data_dir, 0700) != 0 && errno != EEXIST))
		return -1;
	char from[400], to[400];
	snprintf(from, sizeof from, "%s/account-id.key", ra.data_dir);
	snprintf(to, sizeof to, "%s/account-id.key", rb.data_dir);
	if (copy_file(from, to, 0600) != 0)
		return -1;
	return relay_proc_restart(&rb, true);
}

static void cmid_make(uint8_t cmid[16])
{
	randombytes_buf(cmid, 16);
}

/* anna's send to the varde jobcenter unit, whose one member device is camilla's. */
static int send_to_unit(struct tdev *from, const char *text)
{
	uint8_t devs[1][16], cmid[16];
	memcpy(devs[0], camilla.device_id, 16);
	cmid_make(cmid);
	return tdev_send(from, cmid, NULL, 0, "varde", "jobcenter", (const uint8_t(*)[16])devs, 1,
			 text, strlen(text), false);
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void a_relay_with_another_key_is_refused(void)
{
	/* A third relay with a key of its own: the database names another key's fingerprint. */
	struct relay_proc rc3;
	static char extra[700];
	snprintf(extra, sizeof extra, "[storage]\nengine = postgresql\nconninfo = %s\n", conninfo);
	struct relay_proc_opts o = { .extra_config = extra, .dev = true };
	REQUIRE(relay_proc_prepare(&rc3, &o) == 0);
	CHECK_EQ_INT(relay_proc_run_to_exit(&rc3, true, 30000), 3);
	CHECK(relay_log_contains(&rc3, "account-id.key"));
	/* Its conninfo is never logged whole, only where it points: never its password. */
	CHECK(!relay_log_contains(&rc3, PASSWORD));
	CHECK(relay_log_contains(&rc3, "dbname="));
	relay_proc_cleanup(&rc3);
}

static void devices_register_on_either_relay(void)
{
	REQUIRE(tdev_register(&anna, "dev-mitid", "anna", 5) == 0);
	REQUIRE(tdev_register(&bo1, "dev-mitid", "bo", 5) == 0);
	REQUIRE(tdev_register(&camilla, "dev-adfs", "camilla", 5) == 0);
	/* bo's second device registers through B: one account (the shared key), and bo's device on
	 * A hears of it from B's event. */
	REQUIRE(tdev_register(&bo2, "dev-mitid", "bo", 5) == 0);
	CHECK_MEM(bo1.account_id, bo2.account_id, 16);
	CHECK_EQ_INT(tdev_wait(&bo1, PROTO_T_DEVICES_CHANGED, 3000), PROTO_T_DEVICES_CHANGED);
}

static void a_send_through_a_reaches_a_device_on_b_at_once(void)
{
	/* camilla is connected to B and has nothing queued: what anna stores through A must be
	 * pushed on that connection, promptly. */
	CHECK_EQ_INT(tdev_wait(&camilla, PROTO_T_DELIVER, 200), 0);
	uint64_t t0 = now_ms();
	CHECK_EQ_INT(send_to_unit(&anna, "through A"), PROTO_T_STORED);
	REQUIRE(tdev_wait(&camilla, PROTO_T_DELIVER, 3000) == PROTO_T_DELIVER);
	uint64_t took = now_ms() - t0;
	const proto_deliver *d = &camilla.frame.body.deliver;
	CHECK(d->ciphertext.len == 9 && memcmp(d->ciphertext.ptr, "through A", 9) == 0);
	CHECK_MEM(d->account, anna.account_id, 16);
	CHECK_EQ_INT(tdev_ack(&camilla, d->seq), PROTO_T_OK);
	/* Well under the liveness and expiry passes' periods: a wake, not a poll. */
	CHECK(took < 1000);
	printf("# stored on A -> delivered on B: %llu ms\n", (unsigned long long)took);
}

static void a_device_revoked_through_a_loses_its_connection_on_b(void)
{
	while (tdev_wait(&bo1, PROTO_T_DEVICES_CHANGED, 100) == PROTO_T_DEVICES_CHANGED)
		;
	proto_frame f;
	proto_frame_init(&f, PROTO_T_DEVICE_REVOKE, 0);
	f.body.device_revoke.device = bo2.device_id;
	CHECK_EQ_INT(tdev_request(&bo1, &f, 5000), PROTO_T_OK);
	CHECK_EQ_INT(tdev_wait(&bo2, PROTO_T_DELIVER, 3000), -1);
	CHECK_EQ_INT(bo2.ws.close_code, 4004);
	/* Nor can it authenticate on either relay. */
	REQUIRE(tdev_connect(&bo2) == 0);
	CHECK_EQ_INT(tdev_auth(&bo2), PROTO_T_ERROR);
	tdev_disconnect(&bo2);
}

static void a_device_connecting_to_b_ends_its_connection_on_a(void)
{
	struct tdev anna_b;
	tdev_init(&anna_b, rb.port);
	tdev_copy_identity(&anna_b, &anna);
	REQUIRE(tdev_login(&anna_b) == 0);
	/* One connection per device across the relays, the newer one kept. */
	CHECK_EQ_INT(tdev_wait(&anna, PROTO_T_DELIVER, 3000), -1);
	CHECK_EQ_INT(anna.ws.close_code, 4001);
	tdev_free(&anna_b);
	anna.port = ra.port;
	REQUIRE(tdev_login(&anna) == 0);
}

static void a_send_budget_spent_on_a_is_spent_on_b(void)
{
	/* bo's device on A (its only one since the revocation) has sent nothing yet. */
	int stored = 0;
	for (int i = 0; i < SENDS_PER_MINUTE; i++)
		if (send_to_unit(&bo1, "budget") == PROTO_T_STORED)
			stored++;
	CHECK_EQ_INT(stored, SENDS_PER_MINUTE);
	/* The same device on B: its budget is the one spent on A. */
	struct tdev bo1_b;
	tdev_init(&bo1_b, rb.port);
	tdev_copy_identity(&bo1_b, &bo1);
	REQUIRE(tdev_login(&bo1_b) == 0);
	CHECK_EQ_INT(send_to_unit(&bo1_b, "one more"), PROTO_T_ERROR);
	CHECK_EQ_INT(bo1_b.frame.body.error.code, -PROTO_E_RATE_LIMITED);
	tdev_free(&bo1_b);
	/* camilla's mailbox gets the stored ones (delivered on B). */
	int delivered = 0;
	for (int i = 0; i < SENDS_PER_MINUTE; i++)
		if (tdev_wait(&camilla, PROTO_T_DELIVER, 3000) == PROTO_T_DELIVER &&
		    tdev_ack(&camilla, camilla.frame.body.deliver.seq) == PROTO_T_OK)
			delivered++;
	CHECK_EQ_INT(delivered, SENDS_PER_MINUTE);
}

/* ---- pushes ---------------------------------------------------------------------------------- */

static uint64_t metric(const struct relay_proc *p, const char *line_start)
{
	int status = 0;
	char *body = NULL;
	uint64_t v = UINT64_MAX;
	if (admin_get(p->admin_port, "/metrics", &status, &body) != 0)
		return v;
	char key[160];
	snprintf(key, sizeof key, "\n%s ", line_start);
	const char *at = body ? strstr(body, key) : NULL;
	if (at)
		v = strtoull(at + strlen(key), NULL, 10);
	free(body);
	return v;
}

/* A Web Push subscription of d to an endpoint where nothing listens: every push the relay tries
 * fails at once and is counted. */
static int subscribe_web_push(struct tdev *d)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	uint8_t p256dh[65], auth[16];
	size_t n = 0;
	int ok = k && EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, p256dh,
						      sizeof p256dh, &n) == 1 && n == 65;
	EVP_PKEY_free(k);
	if (!ok)
		return -1;
	randombytes_buf(auth, sizeof auth);
	static const char ep[] = "https://localhost:1/wp/nobody";
	proto_frame f;
	proto_frame_init(&f, PROTO_T_PUSH_REGISTER, 0);
	f.body.push_register.kind = PROTO_PUSH_WEB;
	f.body.push_register.endpoint = (proto_str){ ep, strlen(ep) };
	f.body.push_register.p256dh = p256dh;
	f.body.push_register.auth = auth;
	return tdev_request(d, &f, 5000);
}

#define WEB_FAILED "wakks_push_failed_total{provider=\"web\"}"

static void the_relays_count_what_they_told_each_other(void)
{
	/* Everything above went both ways: events (device notices, revocation, replaced
	 * connections) and wakes, none malformed. */
	CHECK(metric(&ra, "wakks_cluster_events_sent_total") >= 3);
	CHECK(metric(&rb, "wakks_cluster_events_received_total") >= 3);
	CHECK(metric(&rb, "wakks_cluster_wakes_total") >= 1);
	CHECK(metric(&ra, "wakks_cluster_events_malformed_total") == 0);
	CHECK(metric(&rb, "wakks_cluster_events_malformed_total") == 0);
}

/* Whoever can reach the database can send an event: one that breaks the format is counted and
 * dropped, and the relays carry on. */
static void a_malformed_event_is_dropped(void)
{
	PGconn *c = PQconnectdb(conninfo);
	REQUIRE(PQstatus(c) == CONNECTION_OK);
	/* Another instance id, then a version-1 "device gone" one byte short. */
	PGresult *res = PQexec(c, "SELECT pg_notify('wakks_event', repeat('ab', 16) || '0104' || "
				  "repeat('11', 15))");
	CHECK(PQresultStatus(res) == PGRES_TUPLES_OK);
	PQclear(res);
	PQfinish(c);
	uint64_t n = 0;
	for (int i = 0; i < 50 && n != 1; i++) {
		usleep(50 * 1000);
		n = metric(&rb, "wakks_cluster_events_malformed_total");
	}
	CHECK(n == 1);
	CHECK(metric(&ra, "wakks_cluster_events_malformed_total") == 1);
	CHECK(relay_log_contains(&rb, "event=event_malformed"));
	/* Still serving: a send through A reaches B. */
	CHECK_EQ_INT(send_to_unit(&anna, "after"), PROTO_T_STORED);
	REQUIRE(tdev_wait(&camilla, PROTO_T_DELIVER, 3000) == PROTO_T_DELIVER);
	CHECK_EQ_INT(tdev_ack(&camilla, camilla.frame.body.deliver.seq), PROTO_T_OK);
}

static void no_push_for_a_device_connected_to_another_relay(void)
{
	REQUIRE(subscribe_web_push(&camilla) == PROTO_T_OK);
	uint64_t before = metric(&ra, WEB_FAILED);
	REQUIRE(before != UINT64_MAX);
	/* A does not see camilla (she is on B): B delivers, she acknowledges, A pushes nothing. */
	CHECK_EQ_INT(send_to_unit(&anna, "on B"), PROTO_T_STORED);
	REQUIRE(tdev_wait(&camilla, PROTO_T_DELIVER, 3000) == PROTO_T_DELIVER);
	CHECK_EQ_INT(tdev_ack(&camilla, camilla.frame.body.deliver.seq), PROTO_T_OK);
	usleep(3500 * 1000);
	CHECK(metric(&ra, WEB_FAILED) == before);
	/* Connected nowhere: A pushes (and the push fails, as nothing listens). */
	tdev_disconnect(&camilla);
	CHECK_EQ_INT(send_to_unit(&anna, "nowhere"), PROTO_T_STORED);
	uint64_t after = before;
	for (int i = 0; i < 100 && after == before; i++) {
		usleep(100 * 1000);
		after = metric(&ra, WEB_FAILED);
	}
	CHECK(after == before + 1);
	/* Back on B, the envelope is there. */
	REQUIRE(tdev_login(&camilla) == 0);
	REQUIRE(tdev_wait(&camilla, PROTO_T_DELIVER, 3000) == PROTO_T_DELIVER);
	CHECK_EQ_INT(tdev_ack(&camilla, camilla.frame.body.deliver.seq), PROTO_T_OK);
}

/* ---- blobs ------------------------------------------------------------------------------------- */

static int blob_chunk(struct tdev *d, const uint8_t id[16], uint64_t off, const uint8_t *p, size_t n)
{
	static proto_frame f;
	for (int attempt = 0;; attempt++) {
		proto_frame_init(&f, PROTO_T_BLOB_CHUNK, 0);
		f.body.blob_chunk = (proto_blob_chunk){ id, off, { p, n } };
		int t = tdev_request(d, &f, 20000);
		if (t != PROTO_T_ERROR || d->frame.body.error.code != -PROTO_E_UNAVAILABLE ||
		    !d->frame.body.error.has_details || attempt == 100)
			return t;
		usleep((useconds_t)d->frame.body.error.details.retry_ms * 1000);
	}
}

static void an_attachment_uploaded_through_a_is_downloaded_through_b(void)
{
	/* 600 KiB of ciphertext: three chunks. */
	size_t len = 600u * 1024u;
	uint8_t *ct = malloc(len), sha[32], id[16];
	REQUIRE(ct != NULL);
	randombytes_buf(ct, len);
	crypto_hash_sha256(sha, ct, len);
	memcpy(id, sha, 16);
	proto_frame f;
	proto_frame_init(&f, PROTO_T_BLOB_PUT, 0);
	f.body.blob_put = (proto_blob_put){ id, len, sha };
	REQUIRE(tdev_request(&anna, &f, 10000) == PROTO_T_BLOB_STATE);
	int t = PROTO_T_BLOB_STATE;
	for (size_t off = 0; off < len && t == PROTO_T_BLOB_STATE; off += CHUNK)
		t = blob_chunk(&anna, id, off, ct + off, len - off < CHUNK ? len - off : CHUNK);
	REQUIRE(t == PROTO_T_BLOB_STATE);
	/* The relay seals the upload after its last chunk; wait for done. */
	for (int i = 0; i < 100 && !anna.frame.body.blob_state.done; i++) {
		usleep(50 * 1000);
		proto_frame_init(&f, PROTO_T_BLOB_STATUS, 0);
		f.body.blob_status.id = id;
		REQUIRE(tdev_request(&anna, &f, 10000) == PROTO_T_BLOB_STATE);
	}
	CHECK(anna.frame.body.blob_state.done);

	/* The envelope referencing it, to camilla (on B). */
	static proto_frame s;
	uint8_t cmid[16];
	cmid_make(cmid);
	proto_frame_init(&s, PROTO_T_SEND, 0);
	s.body.send.cmid = cmid;
	s.body.send.tenant = (proto_str){ "varde", 5 };
	s.body.send.unit = (proto_str){ "jobcenter", 9 };
	s.body.send.env[0] = (proto_envelope){ camilla.device_id, { (const uint8_t *)"att", 3 } };
	s.body.send.env_count = 1;
	s.body.send.blobs[0] = id;
	s.body.send.blob_count = 1;
	CHECK_EQ_INT(tdev_request(&anna, &s, 10000), PROTO_T_STORED);
	REQUIRE(tdev_wait(&camilla, PROTO_T_DELIVER, 3000) == PROTO_T_DELIVER);
	uint64_t seq = camilla.frame.body.deliver.seq;

	/* Through B, byte for byte. */
	uint8_t *got = malloc(len);
	size_t have = 0;
	while (got && have < len) {
		proto_frame_init(&f, PROTO_T_BLOB_GET, 0);
		f.body.blob_get = (proto_blob_get){ id, have, CHUNK };
		if (tdev_request(&camilla, &f, 10000) != PROTO_T_BLOB_DATA)
			break;
		const proto_blob_data *b = &camilla.frame.body.blob_data;
		if (b->offset != have || b->data.len == 0 || b->data.len > len - have)
			break;
		memcpy(got + have, b->data.ptr, b->data.len);
		have += b->data.len;
	}
	CHECK(have == len);
	CHECK(got && have == len && memcmp(got, ct, len) == 0);
	CHECK_EQ_INT(tdev_ack(&camilla, seq), PROTO_T_OK);
	free(got);
	free(ct);
}

/* A relay whose database is down at start (a fail-over, a power cut that brought both back)
 * waits for it instead of exiting at once. */
static struct pg_server down;

static void *bring_database_back(void *arg)
{
	(void)arg;
	usleep(1500 * 1000);
	if (pg_server_restart(&down) != 0)
		fprintf(stderr, "the database did not come back\n");
	return NULL;
}

static void a_relay_waits_for_its_database_at_start(void)
{
	REQUIRE(pg_server_start(&down) == 0);
	char ci[512];
	REQUIRE(pg_server_exec(&down, NULL, "CREATE DATABASE wakks") == 0);
	REQUIRE(pg_server_conninfo(&down, "wakks", ci, sizeof ci) == 0);
	REQUIRE(pg_server_stop(&down) == 0);
	static char extra[700];
	snprintf(extra, sizeof extra, "[storage]\nengine = postgresql\nconninfo = %s\n", ci);
	struct relay_proc r3;
	struct relay_proc_opts o = { .extra_config = extra, .dev = true };
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, bring_database_back, NULL) == 0);
	int rc = relay_proc_start_opts(&r3, &o);
	pthread_join(t, NULL);
	CHECK_EQ_INT(rc, 0);
	CHECK(relay_log_contains(&r3, "event=database_unreachable"));
	struct tdev d;
	tdev_init(&d, r3.port);
	CHECK_EQ_INT(tdev_register(&d, "dev-mitid", "anna", 1), 0);
	tdev_free(&d);
	relay_proc_cleanup(&r3);
	pg_server_cleanup(&down);
}

/* The operator's commands work on the shared database through any relay's configuration: a
 * caseworker revoked by the command loses her connection on B; check-data reads every table. */
static void operator_commands_work_on_the_shared_database(void)
{
	const devidp_user *cw = devidp_demo_user("camilla");
	REQUIRE(cw != NULL);
	char *err = NULL, *out = NULL;
	char *revoke[] = { (char *)relay_binary(), "--config", ra.config_path, "--dev",
			   "revoke-caseworker", "varde", (char *)cw->upn, NULL };
	CHECK_EQ_INT(relay_run_command(revoke, &err), 0);
	free(err);
	CHECK_EQ_INT(tdev_wait(&camilla, PROTO_T_DELIVER, 3000), -1);
	CHECK_EQ_INT(camilla.ws.close_code, 4004);
	char *check[] = { (char *)relay_binary(), "--config", rb.config_path, "--dev", "check-data",
			  NULL };
	err = NULL;
	CHECK_EQ_INT(relay_run_command_io(check, "", &out, &err), 0);
	CHECK(out && strstr(out, " 0 damaged"));
	free(out);
	free(err);
	/* A backup is PostgreSQL's own. */
	char *backup[] = { (char *)relay_binary(), "--config", ra.config_path, "--dev", "backup",
			   "/nonexistent/backup", NULL };
	err = NULL;
	CHECK_EQ_INT(relay_run_command(backup, &err), 2);
	CHECK(err && strstr(err, "pg_basebackup") && !strstr(err, PASSWORD));
	free(err);
}

static void both_relays_say_they_are_ready_on_postgresql(void)
{
	/* Ready once a commit through the database came back (a few hundred ms after start). */
	int status = 0;
	char *body = NULL;
	for (int i = 0; i < 50 && status != 200; i++) {
		free(body);
		body = NULL;
		if (admin_get(rb.admin_port, "/readyz", &status, &body) != 0)
			break;
		if (status != 200)
			usleep(100 * 1000);
	}
	CHECK_EQ_INT(status, 200);
	free(body);
	body = NULL;
	CHECK_EQ_INT(admin_get(ra.admin_port, "/metrics", &status, &body), 0);
	CHECK(body && strstr(body, "wakks_store_engine_info{engine=\"postgresql\"} 1"));
	free(body);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	/* The relays here are configured for one shared database by the test itself, not given a
	 * database each by relay_proc. */
	unsetenv("WAKKS_TEST_ENGINE");
	if (pg_test_create_db(conninfo, sizeof conninfo, dbname, sizeof dbname) != 0) {
		fprintf(stderr, "no PostgreSQL server for the test\n");
		return 1;
	}
	size_t n = strlen(conninfo);
	snprintf(conninfo + n, sizeof conninfo - n, " password=%s", PASSWORD);
	if (start_relays() != 0) {
		relay_proc_cleanup(&ra);
		relay_proc_cleanup(&rb);
		pg_test_drop_db(dbname);
		return 1;
	}
	tdev_init(&anna, ra.port);
	tdev_init(&bo1, ra.port);
	tdev_init(&camilla, rb.port);
	tdev_init(&bo2, rb.port);
	RUN(both_relays_say_they_are_ready_on_postgresql);
	RUN(devices_register_on_either_relay);
	RUN(a_send_through_a_reaches_a_device_on_b_at_once);
	RUN(a_device_revoked_through_a_loses_its_connection_on_b);
	RUN(a_device_connecting_to_b_ends_its_connection_on_a);
	RUN(a_send_budget_spent_on_a_is_spent_on_b);
	RUN(the_relays_count_what_they_told_each_other);
	RUN(a_malformed_event_is_dropped);
	RUN(no_push_for_a_device_connected_to_another_relay);
	RUN(an_attachment_uploaded_through_a_is_downloaded_through_b);
	RUN(operator_commands_work_on_the_shared_database);
	RUN(a_relay_with_another_key_is_refused);
	RUN(a_relay_waits_for_its_database_at_start);
	tdev_free(&anna);
	tdev_free(&camilla);
	tdev_free(&bo1);
	tdev_free(&bo2);
	relay_proc_cleanup(&ra);
	relay_proc_cleanup(&rb);
	pg_test_drop_db(dbname);
	return TEST_RESULT();
}
