/* SPDX-License-Identifier: MPL-2.0 */
/* Monitoring and logs against a real relay: its admin listener's /metrics after real sends,
 * consents, look-ups and failed logins (the counters and histograms move, and every histogram is
 * consistent), /readyz (ready, and not ready when the disk is "nearly full"), the shipped Grafana
 * dashboard and alert rules (every metric they use is one the relay exports), and the log in both
 * formats (each line parses; libwebsockets' lines come through our logger; no token or CPR
 * number appears). argv[1]: the source tree's docs/monitoring. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "wakks_version.h"
#include <sodium.h>

#include "relay_proc.h"
#include "tclient.h"
#include "test.h"
#include "wakks_devidp.h"

#define TENANT_CONFIG                                                                        \
	"log_format = json\n"                                                                \
	"[tenant varde]\nname = Varde Kommune\ncvr = 29189781\nidps = dev-mitid, dev-adfs\n"  \
	"[unit varde/jobcenter]\nname = Jobcenter\ngroups = varde-jobcenter\n"

static struct relay_proc relay;
static const char *monitoring_dir;
static char *anna_token; /* an ID token the relay saw: it must never reach the log */

static char *scrape(void)
{
	int status = 0;
	char *body = NULL;
	if (admin_get(relay.admin_port, "/metrics", &status, &body) != 0 || status != 200) {
		free(body);
		return NULL;
	}
	return body;
}

/* The value of the sample `series` (name with labels, exactly as exported); -1 if absent. */
static double sample(const char *body, const char *series)
{
	char key[256];
	snprintf(key, sizeof key, "\n%s ", series);
	const char *p = body ? strstr(body, key) : NULL;
	return p ? strtod(p + strlen(key), NULL) : -1;
}

/* Prometheus' histogram rules: cumulative buckets that never decrease, le="+Inf" equal to
 * _count, a _sum that is there (and, for latencies measured in microseconds, positive once
 * anything was observed; the delivery latency is in the stored time's milliseconds, and a push
 * within the same millisecond adds 0). */
static void check_histogram(const char *body, const char *name, double min_count)
{
	bool microseconds = strcmp(name, "wakks_delivery_duration_seconds") != 0;
	char prefix[128];
	snprintf(prefix, sizeof prefix, "\n%s_bucket{le=\"", name);
	double last = 0;
	int buckets = 0;
	bool inf_seen = false;
	double inf = -1;
	for (const char *p = strstr(body, prefix); p; p = strstr(p + 1, prefix)) {
		const char *close = strstr(p, "\"} ");
		REQUIRE(close);
		double v = strtod(close + 3, NULL);
		CHECK(v >= last);
		last = v;
		buckets++;
		if (strncmp(p + strlen(prefix), "+Inf", 4) == 0) {
			inf_seen = true;
			inf = v;
		}
	}
	char series[160];
	snprintf(series, sizeof series, "%s_count", name);
	double count = sample(body, series);
	snprintf(series, sizeof series, "%s_sum", name);
	double sum = sample(body, series);
	CHECK(buckets >= 10);
	CHECK(inf_seen);
	CHECK(inf == count);
	CHECK(count >= min_count);
	CHECK(sum >= 0 && (count == 0 || sum > 0 || !microseconds));
	if (count < min_count)
		fprintf(stderr, "  %s_count = %g, expected >= %g\n", name, count, min_count);
}

static int lookup(struct tdev *d, const char *cpr)
{
	proto_frame f;
	proto_frame_init(&f, PROTO_T_CITIZEN_LOOKUP, 0);
	f.body.citizen_lookup.cpr = (proto_str){ cpr, strlen(cpr) };
	return tdev_request(d, &f, 5000);
}

/* Real traffic: a citizen grants consent, a caseworker looks her up and writes to her as a member
 * of the unit, she receives it; a device nobody registered tries to log in. */
static void counters_and_histograms_move_after_real_sends(void)
{
	char *before = scrape();
	REQUIRE(before);
	check_histogram(before, "wakks_send_stored_duration_seconds", 0);
	double commits_before = sample(before, "wakks_store_commit_duration_seconds_count");
	CHECK(sample(before, "wakks_build_info{version=\"" WAKKS_BUILD_VERSION "\"}") == 1);
	free(before);

	struct tdev anna, camilla, stranger;
	tdev_init(&anna, relay.port);
	tdev_init(&camilla, relay.port);
	tdev_init(&stranger, relay.port);
	REQUIRE(tdev_connect(&anna) == 0);
	REQUIRE(tdev_obtain_token(&anna, "dev-mitid", "anna", &anna_token) == 0);
	REQUIRE(tdev_register_token(&anna, anna_token, 2) == PROTO_T_REGISTERED);
	REQUIRE(tdev_register(&camilla, "dev-adfs", "camilla", 2) == 0);
	char version[33];
	uint8_t sha[32];
	REQUIRE(tconsent_text(relay.port, "varde", version, sha) == 0);
	CHECK_EQ_INT(tdev_consent(&anna, 1, "varde", "", version, sha), PROTO_T_OK);
	const devidp_user *a = devidp_demo_user("anna");
	REQUIRE(a);
	CHECK_EQ_INT(lookup(&camilla, a->cpr), PROTO_T_CITIZEN);
	const int sends = 3;
	for (int i = 0; i < sends; i++) {
		uint8_t cmid[16], acc[1][16], devs[1][16];
		randombytes_buf(cmid, 16);
		memcpy(acc[0], anna.account_id, 16);
		memcpy(devs[0], anna.device_id, 16);
		CHECK_EQ_INT(tdev_send(&camilla, cmid, (const uint8_t(*)[16])acc, 1, "varde", "jobcenter",
				       (const uint8_t(*)[16])devs, 1, "hej", 3, false),
			     PROTO_T_STORED);
		CHECK_EQ_INT(tdev_wait(&anna, PROTO_T_DELIVER, 5000), PROTO_T_DELIVER);
	}
	REQUIRE(tdev_connect(&stranger) == 0);
	CHECK(tdev_auth(&stranger) == PROTO_T_ERROR);

	char *body = scrape();
	REQUIRE(body);
	check_histogram(body, "wakks_send_stored_duration_seconds", sends);
	check_histogram(body, "wakks_delivery_duration_seconds", sends);
	check_histogram(body, "wakks_store_commit_duration_seconds", commits_before + sends);
	CHECK(sample(body, "wakks_tenant_sends_total{tenant=\"varde\"}") == sends);
	CHECK(sample(body, "wakks_tenant_deliveries_total{tenant=\"varde\"}") == sends);
	CHECK(sample(body, "wakks_tenant_consents_total{tenant=\"varde\"}") == 1);
	CHECK(sample(body, "wakks_tenant_lookups_total{tenant=\"varde\"}") == 1);
	CHECK(sample(body, "wakks_identity_failures_total{reason=\"unknown_device\"}") == 1);
	CHECK(sample(body, "wakks_identity_failures_total{reason=\"token_rejected\"}") == 0);
	CHECK(sample(body, "wakks_auth_failed_total") == 1);
	CHECK(sample(body, "wakks_connections_open") >= 3);
	CHECK(sample(body, "process_resident_memory_bytes") > 1e6);
	CHECK(sample(body, "process_open_fds") > 5);
	CHECK(sample(body, "process_cpu_seconds_total") > 0);
	CHECK(sample(body, "wakks_mailbox_depth_offline_total") >= 0);
	free(body);
	tdev_free(&anna);
	tdev_free(&camilla);
	tdev_free(&stranger);
}

/* Envelopes for a device that is not connected show as the offline queue (sampled every 10 s:
 * the first sample comes a tick after start, so this waits for the next one). */
static void offline_queue_depth_counts_waiting_envelopes(void)
{
	struct tdev bo, camilla2;
	tdev_init(&bo, relay.port);
	tdev_init(&camilla2, relay.port);
	REQUIRE(tdev_register(&bo, "dev-mitid", "bo", 2) == 0);
	REQUIRE(tdev_register(&camilla2, "dev-mitid", "anna", 2) == 0); /* a citizen writing */
	tdev_disconnect(&bo);
	uint8_t cmid[16], acc[1][16], devs[8][16];
	size_t n = 0;
	memcpy(devs[n++], bo.device_id, 16);
	randombytes_buf(cmid, 16);
	memcpy(acc[0], bo.account_id, 16);
	/* anna's other devices keep a copy: the relay names the missing ones when it refuses. */
	int rc = tdev_send(&camilla2, cmid, (const uint8_t(*)[16])acc, 1, NULL, NULL,
			   (const uint8_t(*)[16])devs, n, "hej", 3, false);
	if (rc == PROTO_T_ERROR) {
		const proto_error_details *d = &camilla2.frame.body.error.details;
		for (uint32_t i = 0; i < d->missing_count && n < 8; i++)
			memcpy(devs[n++], d->missing[i], 16);
		rc = tdev_send(&camilla2, cmid, (const uint8_t(*)[16])acc, 1, NULL, NULL,
			       (const uint8_t(*)[16])devs, n, "hej", 3, false);
	}
	REQUIRE(rc == PROTO_T_STORED);
	double offline = -1;
	for (int i = 0; i < 120 && offline < 1; i++) {
		usleep(100 * 1000);
		char *body = scrape();
		offline = sample(body, "wakks_mailbox_depth_offline_total");
		free(body);
	}
	CHECK(offline >= 1);
	tdev_free(&bo);
	tdev_free(&camilla2);
}

static void readyz_ready_and_healthz_live(void)
{
	int status = 0;
	char *body = NULL;
	/* Ready once the first probe's commit came back: at once on an idle machine, later on a
	 * loaded one ("starting" until then). */
	for (int i = 0; i < 100 && status != 200; i++) {
		free(body);
		body = NULL;
		REQUIRE(admin_get(relay.admin_port, "/readyz", &status, &body) == 0);
		if (status != 200)
			usleep(50 * 1000);
	}
	CHECK_EQ_INT(status, 200);
	CHECK(strstr(body, "\"ready\":true") != NULL);
	if (status != 200)
		fprintf(stderr, "  /readyz: %s", body);
	free(body);
	REQUIRE(admin_get(relay.admin_port, "/nothing", &status, &body) == 0);
	CHECK_EQ_INT(status, 404);
	free(body);
}

/* The status line the monitoring listener answers `request` with; -1 without an answer. */
static int raw_admin(const char *request)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)relay.admin_port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int status = -1;
	char buf[256] = "";
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    write(fd, request, strlen(request)) == (ssize_t)strlen(request) &&
	    read(fd, buf, sizeof buf - 1) > 0)
		sscanf(buf, "HTTP/1.1 %d", &status);
	if (fd >= 0)
		close(fd);
	return status;
}

static void admin_listener_refuses_what_is_not_a_get(void)
{
	CHECK_EQ_INT(raw_admin("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), 405);
	CHECK_EQ_INT(raw_admin("GET /metrics?x=1 HTTP/1.0\r\n\r\n"), 200);
	CHECK_EQ_INT(raw_admin("hello\r\n\r\n"), 400);
	CHECK_EQ_INT(raw_admin("GET http://x/metrics HTTP/1.1\r\n\r\n"), 400);
	/* A request head larger than the listener reads is refused, not buffered without end. */
	char big[6000];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memcpy(big, "GET /", 5);
	CHECK_EQ_INT(raw_admin(big), 400);
}

/* storage_warn_percent = 1: any real disk is past it, as a nearly full one would be. */
static void readyz_fails_when_disk_nearly_full(void)
{
	struct relay_proc full;
	REQUIRE(relay_proc_start(&full, "[storage]\nstorage_warn_percent = 1\n", false) == 0);
	int status = 0;
	char *body = NULL;
	for (int i = 0; i < 40 && status != 503; i++) {
		free(body);
		body = NULL;
		usleep(100 * 1000);
		REQUIRE(admin_get(full.admin_port, "/readyz", &status, &body) == 0);
	}
	CHECK_EQ_INT(status, 503);
	CHECK(body && strstr(body, "disk_nearly_full") != NULL);
	free(body);
	/* Alive all the same: liveness is not readiness. */
	REQUIRE(admin_get(full.admin_port, "/healthz", &status, &body) == 0);
	CHECK_EQ_INT(status, 200);
	free(body);
	relay_proc_cleanup(&full);
}

/* ---- the shipped dashboard and alert rules --------------------------------------------------- */

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;
	while (m && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(f);
	if (m)
		fclose(m);
	return buf;
}

/* The metric families the relay exports ("# TYPE name type"), histograms with their series. */
static bool exported(const char *metrics, const char *name)
{
	char line[200];
	snprintf(line, sizeof line, "# TYPE %s ", name);
	if (strstr(metrics, line))
		return true;
	static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
	size_t n = strlen(name);
	for (int i = 0; i < 3; i++) {
		size_t s = strlen(suffixes[i]);
		if (n > s && strcmp(name + n - s, suffixes[i]) == 0) {
			snprintf(line, sizeof line, "# TYPE %.*s histogram", (int)(n - s), name);
			if (strstr(metrics, line))
				return true;
		}
	}
	return false;
}

/* Every wakks_* and process_* identifier in a PromQL expression must be exported; returns how
 * many it checked. */
static int check_expr(const char *metrics, const char *expr, const char *where)
{
	int checked = 0;
	for (const char *p = expr; *p;) {
		if ((strncmp(p, "wakks_", 6) == 0 || strncmp(p, "process_", 8) == 0) &&
		    (p == expr || !(isalnum((unsigned char)p[-1]) || p[-1] == '_'))) {
			char name[128];
			size_t n = 0;
			while ((isalnum((unsigned char)p[n]) || p[n] == '_') && n < sizeof name - 1) {
				name[n] = p[n];
				n++;
			}
			name[n] = '\0';
			if (!exported(metrics, name))
				fprintf(stderr, "  %s uses %s, which the relay does not export\n", where, name);
			CHECK(exported(metrics, name));
			checked++;
			p += n;
		} else {
			p++;
		}
	}
	return checked;
}

static int check_dashboard_node(const char *metrics, json_t *node)
{
	int checked = 0;
	if (json_is_object(node)) {
		const char *k;
		json_t *v;
		json_object_foreach(node, k, v) {
			if ((strcmp(k, "expr") == 0 || strcmp(k, "query") == 0) && json_is_string(v))
				checked += check_expr(metrics, json_string_value(v), "grafana-dashboard.json");
			else
				checked += check_dashboard_node(metrics, v);
		}
	} else if (json_is_array(node)) {
		size_t i;
		json_t *v;
		json_array_foreach(node, i, v)
			checked += check_dashboard_node(metrics, v);
	}
	return checked;
}

static void dashboard_and_alerts_use_exported_metrics(void)
{
	char *metrics = scrape();
	REQUIRE(metrics);
	char path[600];
	snprintf(path, sizeof path, "%s/grafana-dashboard.json", monitoring_dir);
	json_error_t jerr;
	json_t *dash = json_load_file(path, 0, &jerr);
	if (!dash)
		fprintf(stderr, "  %s: %s (line %d)\n", path, jerr.text, jerr.line);
	REQUIRE(dash);
	CHECK(json_is_array(json_object_get(dash, "panels")));
	CHECK(check_dashboard_node(metrics, dash) >= 20);
	json_decref(dash);

	snprintf(path, sizeof path, "%s/alerts.yml", monitoring_dir);
	char *rules = read_text(path);
	REQUIRE(rules);
	int exprs = 0, checked = 0;
	static const char *const required[] = { "WakksRelayDown", "WakksStorageNearlyFull",
						"WakksCommitLatencyHigh", "WakksAuthFailureSpike" };
	for (int i = 0; i < 4; i++) {
		char alert[64];
		snprintf(alert, sizeof alert, "alert: %s\n", required[i]);
		CHECK(strstr(rules, alert) != NULL);
	}
	/* The rules keep each expr on one line (the file says so), so a line-based read is the
	 * whole of it; a multi-line "expr: |" would be refused here. */
	for (char *line = strtok(rules, "\n"); line; line = strtok(NULL, "\n")) {
		while (*line == ' ')
			line++;
		if (strncmp(line, "expr:", 5) != 0)
			continue;
		CHECK(strcmp(line, "expr: |") != 0 && strcmp(line, "expr: >") != 0);
		exprs++;
		checked += check_expr(metrics, line + 5, "alerts.yml");
	}
	CHECK(exprs >= 6);
	CHECK(checked >= exprs);
	free(rules);
	free(metrics);
}

/* ---- logs ------------------------------------------------------------------------------------ */

/* Every line of the JSON log is one JSON object with time, level, component and event strings. */
static void json_log_lines_parse(void)
{
	char *log = relay_proc_log(&relay);
	REQUIRE(log);
	int lines = 0, lws_lines = 0;
	for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
		json_error_t err;
		json_t *j = json_loads(line, 0, &err);
		if (!j)
			fprintf(stderr, "  not JSON: %s\n", line);
		CHECK(j != NULL);
		if (!j)
			continue;
		lines++;
		CHECK(json_is_string(json_object_get(j, "time")));
		CHECK(json_is_string(json_object_get(j, "level")));
		CHECK(json_is_string(json_object_get(j, "event")));
		const char *component = json_string_value(json_object_get(j, "component"));
		CHECK(component != NULL);
		if (component && strcmp(component, "lws") == 0)
			lws_lines++;
		json_decref(j);
	}
	CHECK(lines > 10);
	/* libwebsockets' notices at start (log_level debug) come through our logger. */
	CHECK(lws_lines >= 1);
	free(log);
}

/* A logfmt line: key=value pairs, a value bare or double-quoted with backslash escapes; the first
 * four keys are time, level, component, event. Returns the number of pairs, -1 if malformed. */
static int logfmt_pairs(const char *line, char component[32])
{
	static const char *const first[] = { "time", "level", "component", "event" };
	int n = 0;
	for (const char *p = line; *p;) {
		const char *k = p;
		while (*p && *p != '=' && *p != ' ' && *p != '"')
			p++;
		if (*p != '=' || p == k)
			return -1;
		size_t klen = (size_t)(p - k);
		if (n < 4 && (strlen(first[n]) != klen || strncmp(k, first[n], klen) != 0))
			return -1;
		p++;
		const char *v = p;
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\' && p[1])
					p++;
			if (*p != '"')
				return -1;
			p++;
		} else {
			while (*p && *p != ' ' && *p != '"')
				p++;
		}
		if (n == 2)
			snprintf(component, 32, "%.*s", (int)(p - v), v);
		n++;
		if (*p == ' ')
			p++;
		else if (*p)
			return -1;
	}
	return n;
}

static void logfmt_lines_parse_and_hold_no_secrets(void)
{
	struct relay_proc plain;
	REQUIRE(relay_proc_start(&plain, TENANT_CONFIG + strlen("log_format = json\n"), true) == 0);
	struct tdev anna;
	tdev_init(&anna, plain.port);
	char *token = NULL;
	REQUIRE(tdev_connect(&anna) == 0);
	REQUIRE(tdev_obtain_token(&anna, "dev-mitid", "anna", &token) == 0);
	REQUIRE(tdev_register_token(&anna, token, 2) == PROTO_T_REGISTERED);
	/* A second registration with the same (now used) token is refused: a logged refusal. */
	struct tdev again;
	tdev_init(&again, plain.port);
	REQUIRE(tdev_connect(&again) == 0);
	CHECK_EQ_INT(tdev_register_token(&again, token, 2), PROTO_T_ERROR);
	const devidp_user *a = devidp_demo_user("anna");
	REQUIRE(a);
	struct tdev camilla;
	tdev_init(&camilla, plain.port);
	REQUIRE(tdev_register(&camilla, "dev-adfs", "camilla", 2) == 0);
	CHECK(lookup(&camilla, a->cpr) != -1);
	CHECK(lookup(&camilla, "0101011234") != -1);
	CHECK_EQ_INT(relay_proc_stop(&plain), 0);

	char *log = relay_proc_log(&plain);
	REQUIRE(log);
	/* The token's signature part (after the last dot) is what would make it usable. */
	const char *sig = strrchr(token, '.');
	REQUIRE(sig && strlen(sig) > 20);
	CHECK(strstr(log, sig + 1) == NULL);
	CHECK(strstr(log, a->cpr) == NULL);
	CHECK(strstr(log, "0101011234") == NULL);
	CHECK(strstr(log, a->mitid_uuid) == NULL);
	CHECK(anna_token == NULL || strstr(log, strrchr(anna_token, '.') + 1) == NULL);
	int lines = 0, lws_lines = 0;
	for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
		char component[32] = "";
		int n = logfmt_pairs(line, component);
		if (n < 4)
			fprintf(stderr, "  not logfmt: %s\n", line);
		CHECK(n >= 4);
		lines++;
		lws_lines += strcmp(component, "lws") == 0;
	}
	CHECK(lines > 10);
	CHECK(lws_lines >= 1);
	free(log);
	free(token);
	tdev_free(&anna);
	tdev_free(&again);
	tdev_free(&camilla);
	relay_proc_cleanup(&plain);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test_monitoring DOCS_MONITORING_DIR\n");
		return 2;
	}
	monitoring_dir = argv[1];
	if (sodium_init() < 0 || relay_proc_start(&relay, TENANT_CONFIG, true) != 0)
		return 1;
	RUN(readyz_ready_and_healthz_live);
	RUN(admin_listener_refuses_what_is_not_a_get);
	RUN(counters_and_histograms_move_after_real_sends);
	RUN(offline_queue_depth_counts_waiting_envelopes);
	RUN(dashboard_and_alerts_use_exported_metrics);
	RUN(readyz_fails_when_disk_nearly_full);
	RUN(logfmt_lines_parse_and_hold_no_secrets);
	CHECK_EQ_INT(relay_proc_stop(&relay), 0);
	RUN(json_log_lines_parse);
	relay_proc_cleanup(&relay);
	free(anna_token);
	return TEST_RESULT();
}
