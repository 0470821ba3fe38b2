/* SPDX-License-Identifier: MPL-2.0 */
/* The wakks command line, driven as a process against a real relay: a citizen and a caseworker
 * set up stores, log in through the development provider, write, send and receive files,
 * receive, grant consent; device labels; exit statuses and refusals. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "relay_proc.h"
#include "test.h"

static struct relay_proc relay;
static char relay_url[64], ca[400], store_a[400], store_c[400];
static char out[65536], err[65536];

static void slurp(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
}

/* Runs the CLI with the arguments (NULL-terminated); stdout in out, stderr in err. */
static int wakks(const char *first, ...)
{
	const char *argv[32];
	int argc = 0;
	argv[argc++] = getenv("WAKKS_CLI");
	va_list ap;
	va_start(ap, first);
	for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *))
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	char opath[] = "/tmp/wakks-cli-out-XXXXXX", epath[] = "/tmp/wakks-cli-err-XXXXXX";
	int ofd = mkstemp(opath), efd = mkstemp(epath);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(ofd, 1);
		dup2(efd, 2);
		int devnull = open("/dev/null", O_RDONLY);
		dup2(devnull, 0);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	lseek(ofd, 0, SEEK_SET);
	lseek(efd, 0, SEEK_SET);
	slurp(ofd, out, sizeof out);
	slurp(efd, err, sizeof err);
	close(ofd);
	close(efd);
	unlink(opath);
	unlink(epath);
	if (err[0])
		fprintf(stderr, "    [wakks %s] %s", first, err);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char anna_account[33], camilla_account[33], anna_device[33], camilla_device[33];

static void json_field(const char *line, const char *name, char *dst, size_t cap)
{
	json_t *j = json_loads(line, JSON_DISABLE_EOF_CHECK, NULL);
	const char *v = json_string_value(json_object_get(j, name));
	snprintf(dst, cap, "%s", v ? v : "");
	json_decref(j);
}

static void help_and_usage_errors(void)
{
	CHECK_EQ_INT(wakks("--help", NULL), 0);
	CHECK(strstr(out, "login") && strstr(out, "consent grant") && strstr(out, "outbox"));
	CHECK(strstr(out, "Exit status") && strstr(out, "6 a message is"));
	CHECK_EQ_INT(wakks("frobnicate", NULL), 2);
	CHECK_EQ_INT(wakks("--store", store_a, "whoami", NULL), 3); /* no store yet */
	CHECK_EQ_INT(wakks("--version", NULL), 0);
	CHECK(strncmp(out, "wakks " WAKKS_VERSION, strlen("wakks " WAKKS_VERSION)) == 0);
}

/* A relay address of the wrong form, or a CA file that is not there, is a usage error that says
 * what is wrong; it is not reported as a problem of the store. */
static void relay_url_and_ca_mistakes(void)
{
	char store_x[500];
	snprintf(store_x, sizeof store_x, "%s/x-store", relay.dir);
	CHECK_EQ_INT(wakks("--store", store_x, "--relay", "https://localhost:8443", "init", NULL), 2);
	CHECK(strstr(err, "wss://") && strstr(err, "not https://") && !strstr(err, "store"));
	CHECK_EQ_INT(wakks("--store", store_x, "--relay", "localhost:8443", "init", NULL), 2);
	CHECK(strstr(err, "no scheme") && strstr(err, "wss://localhost:8443"));
	CHECK_EQ_INT(wakks("--store", store_x, "--relay", "wss://localhost:http", "init", NULL), 2);
	CHECK(strstr(err, "port") != NULL);
	CHECK_EQ_INT(wakks("--store", store_x, "--relay", relay_url, "--ca", "/nonexistent/ca.pem",
			   "init", NULL), 2);
	CHECK(strstr(err, "CA file /nonexistent/ca.pem") && !strstr(err, "store"));
	/* the same for a store that exists */
	CHECK_EQ_INT(wakks("--store", store_a, "--relay", "https://localhost:8443", "whoami", NULL), 2);
	CHECK(strstr(err, "wss://") && !strstr(err, "cannot open the store"));
	CHECK_EQ_INT(wakks("--store", store_a, "--ca", "/nonexistent/ca.pem", "devices", NULL), 2);
	CHECK(strstr(err, "CA file") && !strstr(err, "cannot open the store"));
}

/* A caseworker at the citizens' provider, or a citizen at the caseworkers', is told where they
 * log in. */
static void login_at_the_wrong_provider(void)
{
	char store_w[500];
	snprintf(store_w, sizeof store_w, "%s/wrong-idp-store", relay.dir);
	REQUIRE(wakks("--store", store_w, "--relay", relay_url, "--ca", ca, "init", NULL) == 0);
	CHECK_EQ_INT(wakks("--store", store_w, "login", "--user", "camilla", NULL), 2);
	CHECK(strstr(err, "camilla is a caseworker") && strstr(err, "--idp dev-adfs"));
	CHECK(strstr(err, "HTTP request failed") == NULL);
	CHECK_EQ_INT(wakks("--store", store_w, "login", "--user", "anna", "--idp", "dev-adfs", NULL), 2);
	CHECK(strstr(err, "anna is a citizen") && strstr(err, "--idp dev-mitid"));
	CHECK_EQ_INT(wakks("--store", store_w, "login", "--user", "zelda", NULL), 2);
	CHECK(strstr(err, "no user zelda") != NULL);
	/* nothing was registered: the right provider still works */
	CHECK_EQ_INT(wakks("--store", store_w, "login", "--user", "dennis", "--idp", "dev-adfs", NULL), 0);
}

/* A self-signed certificate the relay's is not: the CA file of a relay we do not trust. */
static bool write_other_cert(const char *path)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	bool ok = key && x;
	if (ok) {
		ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
		X509_gmtime_adj(X509_getm_notBefore(x), 0);
		X509_gmtime_adj(X509_getm_notAfter(x), 3600);
		X509_set_pubkey(x, key);
		X509_NAME *name = X509_get_subject_name(x);
		X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost",
					   -1, -1, 0);
		X509_set_issuer_name(x, name);
		ok = X509_sign(x, key, EVP_sha256()) > 0;
	}
	FILE *f = ok ? fopen(path, "w") : NULL;
	ok = f && PEM_write_X509(f, x) == 1;
	if (f)
		fclose(f);
	X509_free(x);
	EVP_PKEY_free(key);
	return ok;
}

/* A relay that is not running, a certificate that is not trusted and a host that does not
 * resolve each get their own message. */
static void connection_failures_told_apart(void)
{
	char other[500];
	snprintf(other, sizeof other, "%s/other-cert.pem", relay.dir);
	REQUIRE(write_other_cert(other));
	CHECK_EQ_INT(wakks("--store", store_a, "--ca", other, "devices", NULL), 4);
	CHECK(strstr(err, "certificate") && strstr(err, "--ca") && strstr(err, other));
	CHECK(strstr(err, "(TLS, certificate or network") == NULL);
	CHECK_EQ_INT(wakks("--store", store_a, "--relay", "wss://no-such-host.invalid:8443",
			   "devices", NULL), 4);
	CHECK(strstr(err, "no-such-host.invalid does not resolve") != NULL);
	/* a port nothing listens on: the relay is not running there */
	CHECK_EQ_INT(wakks("--store", store_a, "--relay", "wss://localhost:1", "devices", NULL), 4);
	CHECK(strstr(err, "connection refused") && strstr(err, "is the relay running"));
}

static void init_and_login(void)
{
	REQUIRE(wakks("--store", store_a, "--relay", relay_url, "--ca", ca, "init", NULL) == 0);
	char keyfile[500];
	snprintf(keyfile, sizeof keyfile, "%s/store.key", store_a);
	struct stat st;
	CHECK(stat(keyfile, &st) == 0 && (st.st_mode & 0777) == 0600);
	/* the config remembers relay and CA: later commands need only the store */
	REQUIRE(wakks("--store", store_a, "login", "--user", "anna", NULL) == 0);
	REQUIRE(wakks("--store", store_a, "--json", "whoami", NULL) == 0);
	json_field(out, "account", anna_account, sizeof anna_account);
	json_field(out, "device", anna_device, sizeof anna_device);
	CHECK_EQ_INT(strlen(anna_account), 32);
	/* one store is one device */
	CHECK_EQ_INT(wakks("--store", store_a, "login", "--user", "anna", NULL), 1);

	REQUIRE(wakks("--store", store_c, "--relay", relay_url, "--ca", ca, "init", NULL) == 0);
	REQUIRE(wakks("--store", store_c, "login", "--user", "camilla", "--idp", "dev-adfs", NULL) == 0);
	REQUIRE(wakks("--store", store_c, "--json", "whoami", NULL) == 0);
	json_field(out, "account", camilla_account, sizeof camilla_account);
	json_field(out, "device", camilla_device, sizeof camilla_device);
	CHECK(strcmp(anna_account, camilla_account) != 0);
}

/* The issuer the nonce binds comes from the provider's discovery document, not from the address
 * the CLI reached the relay by (spec/identity.md §11.1): a login through 127.0.0.1 works too. */
static void login_through_the_loopback_address(void)
{
	char store_b[500], url[64];
	snprintf(store_b, sizeof store_b, "%s/bo-store", relay.dir);
	snprintf(url, sizeof url, "wss://127.0.0.1:%d", relay.port);
	REQUIRE(wakks("--store", store_b, "--relay", url, "--ca", ca, "init", NULL) == 0);
	CHECK_EQ_INT(wakks("--store", store_b, "login", "--user", "bo", NULL), 0);
	CHECK_EQ_INT(wakks("--store", store_b, "whoami", NULL), 0);
}

static void citizen_writes_caseworker_receives(void)
{
	CHECK_EQ_INT(wakks("--store", store_a, "send", "--unit", "varde/jobcenter", "Hej", "fra",
			   "kommandolinjen", NULL), 0);
	CHECK_EQ_INT(wakks("--store", store_c, "--json", "receive", NULL), 0);
	CHECK(strstr(out, "\"text\":\"Hej fra kommandolinjen\"") != NULL);
	char from[33];
	json_field(out, "from_account", from, sizeof from);
	CHECK(strcmp(from, anna_account) == 0);
	/* received once: the next receive has nothing */
	CHECK_EQ_INT(wakks("--store", store_c, "--json", "receive", "--idle", "1", NULL), 0);
	CHECK_EQ_INT(strlen(out), 0);
}

static bool same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	bool same = fa && fb;
	while (same) {
		int ca_ = fgetc(fa), cb = fgetc(fb);
		if (ca_ != cb)
			same = false;
		if (ca_ == EOF)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

/* send --file, then receive: the same bytes land in the save directory; history lists it. */
static void file_sent_and_received_byte_identical(void)
{
	char src[500], dir[500], saved[600];
	snprintf(src, sizeof src, "%s/laegeerklaering.pdf", relay.dir);
	FILE *f = fopen(src, "wb");
	REQUIRE(f);
	for (int i = 0; i < 700 * 1024; i++)
		fputc((i * 7 + i / 1000) & 0xff, f);
	fclose(f);
	CHECK_EQ_INT(wakks("--store", store_a, "send", "--file", src, "--unit", "varde/jobcenter",
			   "Lægeerklæring", "vedhæftet", NULL), 0);
	snprintf(dir, sizeof dir, "%s/modtaget", relay.dir);
	CHECK_EQ_INT(wakks("--store", store_c, "receive", "--save-dir", dir, NULL), 0);
	CHECK(strstr(out, "Lægeerklæring vedhæftet") != NULL);
	CHECK(strstr(out, "file laegeerklaering.pdf (716800 bytes) saved as") != NULL);
	snprintf(saved, sizeof saved, "%s/laegeerklaering.pdf", dir);
	CHECK(same_file(src, saved));
	/* the same name again is saved next to it, never over it */
	CHECK_EQ_INT(wakks("--store", store_a, "--json", "send", "--file", src, "--unit",
			   "varde/jobcenter", NULL), 0);
	CHECK_EQ_INT(wakks("--store", store_c, "--json", "receive", "--save-dir", dir, NULL), 0);
	CHECK(strstr(out, "\"name\":\"laegeerklaering.pdf\"") != NULL);
	CHECK(strstr(out, "\"state\":\"saved\"") != NULL);
	CHECK(strstr(out, "\"media_type\":\"application/pdf\"") != NULL);
	snprintf(saved, sizeof saved, "%s/laegeerklaering-2.pdf", dir);
	CHECK(same_file(src, saved));
	/* the default place is the store's files/ */
	CHECK_EQ_INT(wakks("--store", store_a, "send", "--file", src, "--unit", "varde/jobcenter", NULL), 0);
	CHECK_EQ_INT(wakks("--store", store_c, "receive", NULL), 0);
	snprintf(saved, sizeof saved, "%s/files/laegeerklaering.pdf", store_c);
	CHECK(same_file(src, saved));
	CHECK_EQ_INT(wakks("--store", store_c, "history", NULL), 0);
	CHECK(strstr(out, "file laegeerklaering.pdf (716800 bytes) saved as") != NULL);
	CHECK_EQ_INT(wakks("--store", store_a, "history", NULL), 0);
	CHECK(strstr(out, "file laegeerklaering.pdf (716800 bytes, application/pdf, sent)") != NULL);
	/* a file that is not there */
	CHECK_EQ_INT(wakks("--store", store_a, "send", "--file", "/nonexistent/x.pdf", "--unit",
			   "varde/jobcenter", NULL), 2);
}

static void caseworker_needs_consent(void)
{
	/* Without the citizen's consent the relay refuses; the CLI says so and exits 1. */
	CHECK_EQ_INT(wakks("--store", store_c, "send", "--to", anna_account, "--unit", "varde/jobcenter",
			   "Før samtykke", NULL), 1);
	CHECK(strstr(err, "consent") != NULL);
	CHECK_EQ_INT(wakks("--store", store_a, "consent", "grant", "varde", "--yes", NULL), 0);
	CHECK(strstr(out, "consent granted: varde") != NULL);
	CHECK_EQ_INT(wakks("--store", store_a, "--json", "consent", "list", NULL), 0);
	CHECK(strstr(out, "\"kind\":\"grant\"") != NULL);
	CHECK_EQ_INT(wakks("--store", store_c, "send", "--to", anna_account, "--unit", "varde/jobcenter",
			   "Efter samtykke", NULL), 0);
	CHECK_EQ_INT(wakks("--store", store_a, "receive", NULL), 0);
	CHECK(strstr(out, "Efter samtykke") != NULL);
	CHECK(strstr(out, "Før samtykke") == NULL);
}

/* Consent is never granted without an explicit yes; a consent already active is not granted
 * again. */
static void consent_needs_a_yes_and_is_granted_once(void)
{
	/* stdin is not a terminal and there is no --yes: refused, nothing signed */
	CHECK_EQ_INT(wakks("--store", store_a, "consent", "grant", "varde/jobcenter", NULL), 2);
	CHECK(strstr(err, "explicit yes") && strstr(err, "--yes"));
	CHECK_EQ_INT(wakks("--store", store_a, "--json", "consent", "list", NULL), 0);
	CHECK(strstr(out, "\"unit\":\"jobcenter\"") == NULL);
	/* granted already (caseworker_needs_consent): said so, no second record */
	CHECK_EQ_INT(wakks("--store", store_a, "consent", "grant", "varde", "--yes", NULL), 0);
	CHECK(strstr(out, "consent to varde is already active") != NULL);
	CHECK_EQ_INT(wakks("--store", store_a, "--json", "consent", "list", NULL), 0);
	int grants = 0;
	for (const char *p = out; (p = strstr(p, "\"kind\":\"grant\"")); p++)
		grants++;
	CHECK_EQ_INT(grants, 1);
}

/* The caseworker's working day from the command line (spec/client.md §12-§18): the verified
 * citizen in the thread list of both caseworkers, take and handover with a note, a colleague's
 * reply in the same thread, read receipts, the reveal audited, consent checked. */
static void threads_from_the_command_line(void)
{
	char store_d[500], dennis_account[33], thread[33];
	snprintf(store_d, sizeof store_d, "%s/dennis-store", relay.dir);
	REQUIRE(wakks("--store", store_d, "--relay", relay_url, "--ca", ca, "init", NULL) == 0);
	REQUIRE(wakks("--store", store_d, "login", "--user", "dennis", "--idp", "dev-adfs", NULL) == 0);
	REQUIRE(wakks("--store", store_d, "--json", "whoami", NULL) == 0);
	json_field(out, "account", dennis_account, sizeof dennis_account);
	CHECK_EQ_INT(wakks("--store", store_a, "send", "--unit", "varde/jobcenter", "Spørgsmål",
			   "om", "kursus", NULL), 0);
	CHECK_EQ_INT(wakks("--store", store_c, "--json", "threads", NULL), 0);
	json_field(out, "thread", thread, sizeof thread);
	CHECK_EQ_INT(strlen(thread), 32);
	CHECK(strstr(out, "\"name\":\"Anna Jensen\"") && strstr(out, "\"cpr\":\"050384-xxxx\""));
	CHECK_EQ_INT(wakks("--store", store_d, "threads", NULL), 0);
	CHECK(strstr(out, thread) && strstr(out, "Anna Jensen · 050384-xxxx · verificeret med MitID"));
	CHECK_EQ_INT(wakks("--store", store_c, "take", thread, NULL), 0);
	CHECK_EQ_INT(wakks("--store", store_c, "handover", thread, dennis_account, "Se", "sagen",
			   NULL), 0);
	CHECK_EQ_INT(wakks("--store", store_d, "--json", "threads", "--filter", "mine", NULL), 0);
	CHECK(strstr(out, thread) != NULL);
	CHECK_EQ_INT(wakks("--store", store_c, "--json", "threads", "--filter", "mine", NULL), 0);
	CHECK(strstr(out, thread) == NULL);
	CHECK_EQ_INT(wakks("--store", store_c, "send", "--to", anna_account, "--unit",
			   "varde/jobcenter", "Svar", "fra", "Camilla", NULL), 0);
	CHECK_EQ_INT(wakks("--store", store_d, "thread", thread, NULL), 0);
	CHECK(strstr(out, "Svar fra Camilla") && strstr(out, "handover to") &&
	      strstr(out, ": Se sagen"));
	/* The citizen reads it; the unit sees "læst". Citizens never see the notices. */
	CHECK_EQ_INT(wakks("--store", store_a, "thread", thread, NULL), 0);
	CHECK(strstr(out, "Svar fra Camilla") && !strstr(out, "handover"));
	CHECK_EQ_INT(wakks("--store", store_c, "thread", thread, NULL), 0);
	CHECK(strstr(out, "Svar fra Camilla  (læst)") != NULL);
	CHECK_EQ_INT(wakks("--store", store_c, "identity", thread, "--reveal", NULL), 0);
	CHECK(strstr(out, "CPR 050384-1234") != NULL);
	CHECK_EQ_INT(wakks("--store", store_c, "audit", NULL), 0);
	CHECK(strstr(out, "cpr_reveal") && strstr(out, anna_account) && !strstr(out, "1234"));
	CHECK_EQ_INT(wakks("--store", store_d, "audit", NULL), 0);
	CHECK(strstr(out, "cpr_reveal") == NULL);
	CHECK_EQ_INT(wakks("--store", store_d, "consent", "check", anna_account, "varde/jobcenter",
			   NULL), 0);
	CHECK(strstr(out, "consent active") != NULL);
	CHECK_EQ_INT(wakks("--store", store_c, "thread", "not-a-thread", NULL), 2);
}

/* Times are local, with their zone: Europe/Copenhagen unless TZ says otherwise. */
static void times_show_their_zone(void)
{
	unsetenv("TZ");
	CHECK_EQ_INT(wakks("--store", store_a, "history", NULL), 0);
	CHECK(strstr(out, " CET ") || strstr(out, " CEST "));
	setenv("TZ", "UTC", 1);
	CHECK_EQ_INT(wakks("--store", store_a, "history", NULL), 0);
	CHECK(strstr(out, " UTC ") != NULL);
	unsetenv("TZ");
}

static void devices_history_and_safety_numbers(void)
{
	CHECK_EQ_INT(wakks("--store", store_a, "--json", "devices", NULL), 0);
	CHECK(strstr(out, anna_device) && strstr(out, "\"this_device\":true"));
	CHECK_EQ_INT(wakks("--store", store_a, "history", NULL), 0);
	CHECK(strstr(out, "Hej fra kommandolinjen") && strstr(out, "Efter samtykke"));
	char sn_a[256], sn_c[256];
	CHECK_EQ_INT(wakks("--store", store_a, "--json", "safety-number", camilla_account, NULL), 0);
	json_field(out, "safety_number", sn_a, sizeof sn_a);
	CHECK_EQ_INT(wakks("--store", store_c, "--json", "safety-number", anna_device, NULL), 0);
	json_field(out, "safety_number", sn_c, sizeof sn_c);
	CHECK_EQ_INT(strlen(sn_a), 60);
	CHECK(strcmp(sn_a, sn_c) == 0);
	CHECK_EQ_INT(wakks("--store", store_a, "safety-number", "00112233445566778899aabbccddeeff", NULL), 1);
}

/* The CLI registers with its host name as the device's label (cut to the protocol's 64 bytes),
 * and `devices` shows each device's label, in JSON and as text. */
static void devices_show_the_host_name(void)
{
	char host[256], want[65], label[128] = "";
	REQUIRE(gethostname(host, sizeof host) == 0);
	host[sizeof host - 1] = '\0';
	size_t n = strnlen(host, sizeof want - 1);
	memcpy(want, host, n);
	want[n] = '\0';
	CHECK_EQ_INT(wakks("--store", store_a, "--json", "devices", NULL), 0);
	for (char *line = out; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		char dev[33];
		json_field(line, "device", dev, sizeof dev);
		if (strcmp(dev, anna_device) == 0)
			json_field(line, "label", label, sizeof label);
	}
	CHECK(strcmp(label, want) == 0);
	CHECK_EQ_INT(wakks("--store", store_c, "devices", NULL), 0);
	CHECK(strstr(out, camilla_device) && strstr(out, want));
}

static void relay_down_then_queued_message_goes_out(void)
{
	relay_proc_stop(&relay);
	/* The message is stored as pending; the CLI says it is queued, not sent (exit 6), and why. */
	CHECK_EQ_INT(wakks("--store", store_a, "--timeout", "3", "send", "--unit", "varde/jobcenter",
			   "skrevet mens relæet var nede", NULL), 6);
	CHECK(strstr(err, "queued, not sent") && strstr(err, "connection refused"));
	CHECK_EQ_INT(wakks("--store", store_c, "--timeout", "3", "receive", NULL), 4);
	CHECK(strstr(err, "connection refused") != NULL);
	/* the outbox lists it; a second one, dropped, never goes out */
	CHECK_EQ_INT(wakks("--store", store_a, "--timeout", "3", "--json", "send", "--unit",
			   "varde/jobcenter", "fortrudt", NULL), 6);
	char dropped[33];
	json_field(out, "queued", dropped, sizeof dropped);
	CHECK_EQ_INT(strlen(dropped), 32);
	CHECK_EQ_INT(wakks("--store", store_a, "outbox", NULL), 0);
	CHECK(strstr(out, "skrevet mens relæet var nede") && strstr(out, "fortrudt") &&
	      strstr(out, dropped));
	CHECK_EQ_INT(wakks("--store", store_a, "outbox", "drop", dropped, NULL), 0);
	CHECK_EQ_INT(wakks("--store", store_a, "outbox", "drop", dropped, NULL), 1);
	CHECK_EQ_INT(wakks("--store", store_a, "outbox", NULL), 0);
	CHECK(strstr(out, "skrevet mens relæet var nede") && !strstr(out, "fortrudt"));
	REQUIRE(relay_proc_restart(&relay, true) == 0);
	snprintf(relay_url, sizeof relay_url, "wss://localhost:%d", relay.port);
	/* the next command that connects sends it, with the same client message id, and says so */
	CHECK_EQ_INT(wakks("--store", store_a, "--relay", relay_url, "receive", "--idle", "1", NULL), 0);
	CHECK(strstr(err, "is sent now") != NULL);
	CHECK_EQ_INT(wakks("--store", store_a, "outbox", NULL), 0);
	CHECK(strstr(err, "the outbox is empty") != NULL);
	CHECK_EQ_INT(wakks("--store", store_c, "--relay", relay_url, "receive", NULL), 0);
	CHECK(strstr(out, "skrevet mens relæet var nede") != NULL);
	CHECK(strstr(out, "fortrudt") == NULL);
}

/* A device revoked from another device of the account: its send says so (exit 1, the message
 * not left queued), and whoami shows it. */
static void revoked_device_is_told_so(void)
{
	char store_2[500], dev2[33];
	snprintf(store_2, sizeof store_2, "%s/anna2-store", relay.dir);
	REQUIRE(wakks("--store", store_2, "--relay", relay_url, "--ca", ca, "init", NULL) == 0);
	REQUIRE(wakks("--store", store_2, "login", "--user", "anna", NULL) == 0);
	REQUIRE(wakks("--store", store_2, "--json", "whoami", NULL) == 0);
	json_field(out, "device", dev2, sizeof dev2);
	CHECK(strstr(out, "\"revoked\":false") != NULL);
	REQUIRE(wakks("--store", store_a, "--relay", relay_url, "revoke", dev2, NULL) == 0);
	CHECK_EQ_INT(wakks("--store", store_2, "send", "--unit", "varde/jobcenter", "efter", NULL), 1);
	CHECK(strstr(err, "revoked") && !strstr(err, "could not connect"));
	CHECK_EQ_INT(wakks("--store", store_2, "outbox", NULL), 0);
	CHECK(strstr(out, "efter") == NULL);
	CHECK_EQ_INT(wakks("--store", store_2, "whoami", NULL), 0);
	CHECK(strstr(out, "revoked") != NULL);
	CHECK_EQ_INT(wakks("--store", store_2, "--json", "whoami", NULL), 0);
	CHECK(strstr(out, "\"revoked\":true") != NULL);
	/* later commands say so at once */
	CHECK_EQ_INT(wakks("--store", store_2, "devices", NULL), 1);
	CHECK(strstr(err, "revoked") != NULL);
}

/* Withdrawing what is not granted adds no record either. */
static void consent_withdrawn_once(void)
{
	CHECK_EQ_INT(wakks("--store", store_a, "--relay", relay_url, "consent", "withdraw", "varde",
			   NULL), 0);
	CHECK(strstr(out, "consent withdrawn: varde") != NULL);
	CHECK_EQ_INT(wakks("--store", store_a, "--relay", relay_url, "consent", "withdraw", "varde",
			   NULL), 0);
	CHECK(strstr(out, "no active consent to varde") != NULL);
	CHECK_EQ_INT(wakks("--store", store_a, "--relay", relay_url, "--json", "consent", "list",
			   NULL), 0);
	int withdrawals = 0;
	for (const char *p = out; (p = strstr(p, "\"kind\":\"withdrawal\"")); p++)
		withdrawals++;
	CHECK_EQ_INT(withdrawals, 1);
}

static void store_key_problems(void)
{
	char keyfile[500];
	snprintf(keyfile, sizeof keyfile, "%s/store.key", store_a);
	chmod(keyfile, 0644);
	CHECK_EQ_INT(wakks("--store", store_a, "whoami", NULL), 3);
	CHECK(strstr(err, "0600") != NULL);
	chmod(keyfile, 0600);
	setenv("WAKKS_STORE_KEY", "00000000000000000000000000000000000000000000000000000000000000ff", 1);
	CHECK_EQ_INT(wakks("--store", store_a, "whoami", NULL), 3);
	unsetenv("WAKKS_STORE_KEY");
	CHECK_EQ_INT(wakks("--store", store_a, "whoami", NULL), 0);
}

int main(void)
{
	if (!getenv("WAKKS_CLI") || relay_proc_start(&relay, NULL, true) != 0)
		return 1;
	snprintf(relay_url, sizeof relay_url, "wss://localhost:%d", relay.port);
	snprintf(ca, sizeof ca, "%s/dev-cert.pem", relay.data_dir);
	snprintf(store_a, sizeof store_a, "%s/anna-store", relay.dir);
	snprintf(store_c, sizeof store_c, "%s/camilla-store", relay.dir);
	unsetenv("WAKKS_STORE_KEY");
	RUN(help_and_usage_errors);
	RUN(init_and_login);
	RUN(relay_url_and_ca_mistakes);
	RUN(login_at_the_wrong_provider);
	RUN(login_through_the_loopback_address);
	RUN(connection_failures_told_apart);
	RUN(citizen_writes_caseworker_receives);
	RUN(file_sent_and_received_byte_identical);
	RUN(caseworker_needs_consent);
	RUN(consent_needs_a_yes_and_is_granted_once);
	RUN(threads_from_the_command_line);
	RUN(times_show_their_zone);
	RUN(devices_history_and_safety_numbers);
	RUN(devices_show_the_host_name);
	RUN(relay_down_then_queued_message_goes_out);
	RUN(revoked_device_is_told_so);
	RUN(consent_withdrawn_once);
	RUN(store_key_problems);
	relay_proc_stop(&relay);
	int rc = TEST_RESULT();
	relay_proc_cleanup(&relay);
	return rc;
}
