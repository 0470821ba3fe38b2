/* SPDX-License-Identifier: MPL-2.0 */
/* End to end with the sf2900 destination against a stand-in Serviceplatformen started here:
 * an HTTPS SOAP service and STS in Python that require the municipality's client certificate and
 * check the token, the request and every document, which the journal uploads to a real OpenSSH
 * sshd (SFTP only, loopback port, throw-away host and user keys, host key pinned by fingerprint).
 * The stand-in then delivers technical and business receipts to the journal's receipt endpoint
 * with its own client certificate. Scripted in the messages: a technical rejection, a business
 * rejection (parked, then retried by the operator command), a missing receipt (timeout, sent
 * again under the same transaction id), a server fault, and a stand-in killed and restarted.
 * At the end each message is exactly one accepted note at the stand-in. */
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "client_harness.h"
#include "journal_proc.h"
#include "relay_proc.h"
#include "test.h"

static struct relay_proc relay;
static struct journal_proc jp;
static char base[400], ca[400], kd[500], fingerprint[128];
static struct th_dev anna, camilla;
static uint8_t anna_acc[16];
static pid_t sshd_pid, standin_pid;
static int sshd_port, standin_port, receipt_port;
static char standin_log[600];

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t sl = sizeof sa;
	int port = -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static pid_t spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void reap(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

static bool log_has(const char *path, const char *needle, int count)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	char line[2048];
	int n = 0;
	while (fgets(line, sizeof line, f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n >= count;
}

static int standin_starts;

static int start_standin(void)
{
	char a[13][700];
	const char *dir = getenv("WAKKS_JOURNAL_TESTS");
	snprintf(a[0], sizeof a[0], "%s/sf2900_standin.py", dir ? dir : ".");
	snprintf(a[1], sizeof a[1], "--port=%d", standin_port);
	snprintf(a[2], sizeof a[2], "--cert=%s/standin.pem", kd);
	snprintf(a[3], sizeof a[3], "--key=%s/standin.key", kd);
	snprintf(a[4], sizeof a[4], "--client-ca=%s/ca.pem", kd);
	snprintf(a[5], sizeof a[5], "--expect-cn=wakks-journal-system");
	snprintf(a[6], sizeof a[6], "--entity-id=http://entityid.kombit.dk/service/sf2900/1");
	snprintf(a[7], sizeof a[7], "--cvr=29189781");
	snprintf(a[8], sizeof a[8], "--sftp-root=%s/sftproot", kd);
	snprintf(a[9], sizeof a[9], "--receipt-url=https://127.0.0.1:%d/sf2900/kvittering", receipt_port);
	snprintf(a[10], sizeof a[10], "--receipt-cert=%s/serviceplatformen.pem", kd);
	snprintf(a[11], sizeof a[11], "--receipt-key=%s/serviceplatformen.key", kd);
	snprintf(a[12], sizeof a[12], "--receipt-ca=%s/ca.pem", kd);
	char st[700];
	snprintf(st, sizeof st, "--state=%s/standin-state.json", kd);
	char *argv[] = { "/usr/bin/python3", a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8],
			 a[9], a[10], a[11], a[12], st, "--slow-seconds=2.5", NULL };
	standin_pid = spawn(argv, standin_log);
	standin_starts++;
	for (int i = 0; i < 500; i++) {
		if (log_has(standin_log, "standin listening", standin_starts))
			return 0;
		usleep(10000);
	}
	return -1;
}

/* The stand-in's state, fetched with the system certificate. */
static json_t *standin_state(void)
{
	char cmd[2000];
	snprintf(cmd, sizeof cmd,
		 "curl -s --max-time 5 --cacert %s/ca.pem --cert %s/system.pem --key %s/system.key "
		 "https://127.0.0.1:%d/state",
		 kd, kd, kd, standin_port);
	FILE *p = popen(cmd, "r");
	if (!p)
		return NULL;
	json_t *j = json_loadf(p, 0, NULL);
	pclose(p);
	return j;
}

static void set_up(void)
{
	snprintf(kd, sizeof kd, "%s/sf", relay.dir);
	mkdir(kd, 0700);
	sshd_port = free_port();
	standin_port = free_port();
	receipt_port = free_port();
	char cmd[1200];
	const char *dir = getenv("WAKKS_JOURNAL_TESTS");
	snprintf(cmd, sizeof cmd, "%s/sf2900_setup.sh %s %d", dir ? dir : ".", kd, sshd_port);
	FILE *p = popen(cmd, "r");
	REQUIRE(p);
	REQUIRE(fgets(fingerprint, sizeof fingerprint, p) != NULL);
	pclose(p);
	fingerprint[strcspn(fingerprint, "\n")] = '\0';
	REQUIRE(strncmp(fingerprint, "SHA256:", 7) == 0);
	char conf[600], log[600];
	snprintf(conf, sizeof conf, "%s/sshd_config", kd);
	snprintf(log, sizeof log, "%s/sshd.log", kd);
	if (access("/usr/sbin/sshd", X_OK) != 0)
		fprintf(stderr, "no /usr/sbin/sshd: `make test` installs openssh-server\n");
	REQUIRE(access("/usr/sbin/sshd", X_OK) == 0);
	char *sargv[] = { "/usr/sbin/sshd", "-D", "-e", "-f", conf, NULL };
	sshd_pid = spawn(sargv, log);
	for (int i = 0; i < 300 && !log_has(log, "Server listening", 1); i++)
		usleep(10000);
	REQUIRE(log_has(log, "Server listening", 1));
	snprintf(standin_log, sizeof standin_log, "%s/standin.log", kd);
	REQUIRE(start_standin() == 0);

	REQUIRE(th_open(&anna, "anna", base, relay.port, ca) == 0);
	REQUIRE(th_open(&camilla, "camilla", base, relay.port, ca) == 0);
	REQUIRE(th_register(&anna, "dev-mitid", "anna") == 0);
	REQUIRE(th_register(&camilla, "dev-adfs", "camilla") == 0);
	wakks_account_id(anna.c, anna_acc);
	wakks_consent_text text;
	REQUIRE(wakks_consent_text_fetch(anna.c, "varde", "", &text) == 0);
	uint32_t op;
	REQUIRE(wakks_consent_grant(anna.c, &text, &op) == 0);
	REQUIRE(wakks_wait(anna.c, op, 10000) == 0);
	wakks_consent_text_free(&text);

	const char *user = getenv("USER");
	char extra[6000];
	snprintf(extra, sizeof extra,
		 "destination = sf2900\n"
		 "sf2900_service_url = https://127.0.0.1:%d/sf2900\n"
		 "sf2900_sts_url = https://127.0.0.1:%d/sts\n"
		 "sf2900_entity_id = http://entityid.kombit.dk/service/sf2900/1\n"
		 "sf2900_cert = %s/system.pem\nsf2900_key = %s/system.key\nsf2900_ca = %s/ca.pem\n"
		 "sf2900_cvr = 29189781\nsf2900_sender_system = os2wakks-varde\n"
		 "sf2900_recipient_system = esdh-varde\nsf2900_timeout_ms = 1500\n"
		 "sftp_host = 127.0.0.1\nsftp_port = %d\nsftp_user = %s\nsftp_key = %s/userkey\n"
		 "sftp_host_fingerprint = %s\nsftp_dir = %s/sftproot/journal\n"
		 "receipt_port = %d\nreceipt_cert = %s/receipts.pem\nreceipt_key = %s/receipts.key\n"
		 "receipt_client_ca = %s/ca.pem\nreceipt_timeout_ms = 1500\n",
		 standin_port, standin_port, kd, kd, kd, sshd_port, user && *user ? user : "root", kd,
		 fingerprint, kd, receipt_port, kd, kd, kd);
	char jdir[500];
	snprintf(jdir, sizeof jdir, "%s/jdir", relay.dir);
	REQUIRE(journal_proc_init(&jp, jdir, relay.port, ca, extra) == 0);
	REQUIRE(journal_proc_start(&jp, 20000) == 0);
}

#define N 8
static uint8_t ids[N][16];
static const char *texts[N] = {
	"Almindelig besked",
	NULL, /* a file */
	"[teknisk-afvis] første forsøg afvises teknisk",
	"[forretning-afvis] fagsystemet afviser første gang",
	"[ingen-kvittering] første forsøg får ingen kvittering",
	"[fejl] Serviceplatformen fejler første gang",
	"sendt mens Serviceplatformen var nede",
	"[langsom] svaret kommer efter afsenderens timeout",
};
static uint8_t *file_data;
static const size_t file_len = 123457;

static int send_one(int i)
{
	wakks_target t = { i % 2 ? anna_acc : NULL, "varde", "jobcenter" };
	struct th_dev *d = i % 2 ? &camilla : &anna;
	int rc;
	if (texts[i]) {
		rc = wakks_send_text(d->c, &t, texts[i], strlen(texts[i]), ids[i], NULL);
	} else {
		wakks_file f = { .data = file_data, .len = file_len, .file_name = "bilag.pdf" };
		rc = wakks_send_file(d->c, &t, &f, NULL, 0, ids[i], NULL);
	}
	for (int k = 0; rc == 0 && k < 400 && wakks_pending_count(d->c); k++)
		th_pump(25);
	return rc;
}

static char *key_of(int i, char out[65])
{
	/* Read back from the journal's list or the stand-in: the transaction whose text matches. */
	json_t *st = standin_state();
	json_t *tr = json_object_get(st, "transactions");
	const char *k;
	json_t *v;
	out[0] = '\0';
	json_object_foreach(tr, k, v)
	{
		const char *tx = json_string_value(json_object_get(v, "text"));
		if (tx && texts[i] && strcmp(tx, texts[i]) == 0)
			snprintf(out, 65, "%s", k);
		if (!texts[i] && json_integer_value(json_object_get(v, "docs")) == 2)
			snprintf(out, 65, "%s", k);
	}
	json_decref(st);
	return out;
}

static int accepted(const char *key)
{
	json_t *st = standin_state();
	int n = (int)json_integer_value(json_object_get(json_object_get(st, "business_accepted"), key));
	json_decref(st);
	return n;
}

static bool all_accepted(void *arg)
{
	int upto = *(int *)arg;
	for (int i = 0; i < upto; i++) {
		char k[65];
		if (i == 3)
			continue; /* parked until the operator retries */
		if (!key_of(i, k)[0] || accepted(k) != 1)
			return false;
	}
	return true;
}

static void receipts_rejections_and_timeouts(void)
{
	file_data = malloc(file_len);
	randombytes_buf(file_data, file_len);
	for (int i = 0; i < 6; i++)
		REQUIRE(send_one(i) == 0);
	int upto = 6;
	CHECK_EQ_INT(th_pump_until(all_accepted, &upto, 30000), 0);
	/* The business rejection is parked with its reason, and listed for the operator. */
	char k3[65];
	key_of(3, k3);
	REQUIRE(k3[0]);
	char *out = NULL;
	for (int i = 0; i < 100; i++) {
		free(out);
		out = NULL;
		journal_proc_command(&jp, "list", NULL, &out);
		if (out && strstr(out, k3) && strstr(out, " failed "))
			break;
		th_pump(50);
	}
	CHECK(out && strstr(out, k3) && strstr(out, " failed ") && strstr(out, "Sagen er lukket"));
	free(out);
	CHECK_EQ_INT(accepted(k3), 0);
	/* The operator hands it over again; this time the case system takes it. */
	CHECK_EQ_INT(journal_proc_command(&jp, "retry", k3, NULL), 0);
	for (int i = 0; i < 200 && accepted(k3) != 1; i++)
		th_pump(50);
	CHECK_EQ_INT(accepted(k3), 1);
	/* The missing receipt was waited for, then the same transaction id sent again. */
	char k4[65];
	key_of(4, k4);
	json_t *st = standin_state();
	CHECK(json_integer_value(json_object_get(json_object_get(json_object_get(st, "transactions"), k4), "seen")) >= 2);
	CHECK_EQ_INT(json_array_size(json_object_get(st, "refused")), 0);
	json_decref(st);
	CHECK(log_has(jp.log, "no technical receipt in time", 1));
	CHECK(log_has(jp.log, "technical rejected", 1));
	CHECK(log_has(jp.log, "business rejected", 1));
	/* The attachment arrived by SFTP byte for byte. */
	char k1[65], path[1200];
	key_of(1, k1);
	snprintf(path, sizeof path, "%s/sftproot/journal/%s-1-bilag.pdf", kd, k1);
	FILE *f = fopen(path, "rb");
	CHECK(f != NULL);
	if (f) {
		uint8_t *buf = malloc(file_len + 1);
		CHECK_EQ_INT(fread(buf, 1, file_len + 1, f), file_len);
		CHECK(memcmp(buf, file_data, file_len) == 0);
		free(buf);
		fclose(f);
	}
}

static void standin_restart_loses_nothing(void)
{
	reap(&standin_pid);
	REQUIRE(send_one(6) == 0);
	th_pump(1200); /* handovers fail: connection refused, retried with back-off */
	CHECK(log_has(jp.log, "result=retry", 1));
	REQUIRE(start_standin() == 0);
	int upto = 7;
	CHECK_EQ_INT(th_pump_until(all_accepted, &upto, 30000), 0);
}

/* The service answers later than the sender waits: the sender gives up, and the same
 * transaction id sent again is the same handover (one note). */
static void slow_answer_is_a_timeout_then_the_same_handover(void)
{
	REQUIRE(send_one(7) == 0);
	int upto = 8;
	CHECK_EQ_INT(th_pump_until(all_accepted, &upto, 30000), 0);
	char k[65];
	key_of(7, k);
	json_t *st = standin_state();
	CHECK(json_integer_value(json_object_get(json_object_get(json_object_get(st, "transactions"), k), "seen")) >= 2);
	json_decref(st);
	CHECK(log_has(jp.log, "Timeout was reached", 1) || log_has(jp.log, "timed out", 1));
}

static void exactly_one_note_each_and_all_acknowledged(void)
{
	for (int i = 0; i < N; i++) {
		char k[65];
		key_of(i, k);
		CHECK(k[0]);
		CHECK_EQ_INT(accepted(k), 1);
	}
	json_t *st = standin_state();
	CHECK_EQ_INT(json_object_size(json_object_get(st, "transactions")), N);
	/* The party of every note is the citizen as the journal device verified her. */
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(st, "transactions"), k, v)
	{
		const char *cpr = json_string_value(json_object_get(v, "cpr"));
		const char *name = json_string_value(json_object_get(v, "name"));
		CHECK(cpr && strcmp(cpr, "0503841234") == 0);
		CHECK(name && strcmp(name, "Anna Jensen") == 0);
	}
	json_decref(st);
	char *out = NULL;
	CHECK_EQ_INT(journal_proc_command(&jp, "list", NULL, &out), 0);
	CHECK(out && out[0] == '\0');
	free(out);
	/* Every envelope was acknowledged: after a restart nothing is delivered again. */
	CHECK_EQ_INT(journal_proc_stop(&jp), 0);
	REQUIRE(journal_proc_start(&jp, 20000) == 0);
	th_pump(1500);
	CHECK(!log_has(jp.log, "redelivered", 1));
}

static void receipt_endpoint_requires_a_trusted_client_certificate(void)
{
	char cmd[2500];
	snprintf(cmd, sizeof cmd,
		 "curl -s -o /dev/null --max-time 5 --cacert %s/ca.pem -d x "
		 "https://127.0.0.1:%d/sf2900/kvittering",
		 kd, receipt_port);
	CHECK(system(cmd) != 0); /* no client certificate: the handshake fails */
	snprintf(cmd, sizeof cmd,
		 "curl -s -o /dev/null --max-time 5 --cacert %s/ca.pem --cert %s/stranger.pem "
		 "--key %s/stranger.key -d x https://127.0.0.1:%d/sf2900/kvittering",
		 kd, kd, kd, receipt_port);
	CHECK(system(cmd) != 0); /* a certificate of another CA: likewise */
	snprintf(cmd, sizeof cmd,
		 "curl -s -o /dev/null -w '%%{http_code}' --max-time 5 --cacert %s/ca.pem --cert "
		 "%s/serviceplatformen.pem --key %s/serviceplatformen.key -d '<x/>' "
		 "https://127.0.0.1:%d/sf2900/kvittering",
		 kd, kd, kd, receipt_port);
	FILE *p = popen(cmd, "r");
	char code[8] = "";
	if (p) {
		if (!fgets(code, sizeof code, p))
			code[0] = '\0';
		pclose(p);
	}
	CHECK(strcmp(code, "400") == 0); /* trusted, but not a receipt */
}

int main(void)
{
	if (sodium_init() < 0 || relay_proc_start(&relay, NULL, true) != 0) {
		fprintf(stderr, "relay did not start\n");
		return 1;
	}
	snprintf(base, sizeof base, "%s/clients", relay.dir);
	snprintf(ca, sizeof ca, "%s/dev-cert.pem", relay.data_dir);
	RUN(set_up);
	RUN(receipts_rejections_and_timeouts);
	RUN(standin_restart_loses_nothing);
	RUN(slow_answer_is_a_timeout_then_the_same_handover);
	RUN(exactly_one_note_each_and_all_acknowledged);
	RUN(receipt_endpoint_requires_a_trusted_client_certificate);
	journal_proc_stop(&jp);
	reap(&standin_pid);
	reap(&sshd_pid);
	th_close(&anna);
	th_close(&camilla);
	free(file_data);
	int rc = TEST_RESULT();
	if (rc != 0) {
		char cmd[1400];
		snprintf(cmd, sizeof cmd, "tail -60 '%s' >&2; tail -20 '%s' >&2", jp.log, standin_log);
		if (system(cmd) != 0)
			fprintf(stderr, "(no logs)\n");
	}
	relay_proc_stop(&relay);
	relay_proc_cleanup(&relay);
	return rc;
}
