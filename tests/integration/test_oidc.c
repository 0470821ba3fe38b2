/* SPDX-License-Identifier: MPL-2.0 */
/* Identity against a certified OpenID provider we did not write (oidc-provider from npm, started
 * here on loopback over HTTPS with a test certificate; tests/oidc/provider.mjs), three times: as a
 * MitID broker (CPR, NSIS assurance in acr), as an AD FS (UPN, groups as names and SIDs) and as an
 * Entra ID (oid, tid, group object ids, group overage). The relay discovers the providers, fetches
 * their keys over HTTPS, registers devices from their tokens, follows a key rotation, falls back to
 * the persisted key set when the provider is unreachable at a restart, and refuses the tokens
 * docs/identity-providers.md lists with the documented error. Tokens are obtained the way a public
 * client does (authorization code + PKCE: tests/oidc/login.mjs). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "relay_proc.h"
#include "tclient.h"
#include "test.h"
#include "wakks_identity.h"

#define NSIS "https://data.gov.dk/concept/core/nsis/loa/"
#define TID "3f2a6c1e-7d4b-4e8a-9c5f-0a1b2c3d4e5f"
#define GROUP_OID "0b2ad6e4-5f2a-4c5e-a1e3-6d4c1d6f0a11"
#define REDIRECT "http://127.0.0.1:9/cb"
#define ENTRA_SECRET "s3cret-of-the-relay-4f1d8a0c9b7e6d5c"

static struct relay_proc relay;
static char dir[256], cert[300], key[300], client_key[300], entra_secret[300];
static const char *oidc_dir; /* tests/oidc in the source tree */

struct provider {
	const char *mode;
	int port;
	pid_t pid;
	char issuer[64];
	char keys[300];
	char log[300];
	char clients[1024];
};
static struct provider broker = { .mode = "mitid" }, adfs = { .mode = "adfs" },
		       entra = { .mode = "entra" };

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int port = -1;
	if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(s, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (s >= 0)
		close(s);
	return port;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(1 << 20);
	size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	if (buf)
		buf[n] = 0;
	return buf;
}

static bool file_contains(const char *path, const char *needle)
{
	char *s = slurp(path);
	bool found = s && strstr(s, needle);
	free(s);
	return found;
}

static void provider_stop(struct provider *p);

static int provider_start_once(struct provider *p, int wait_ms)
{
	char config[2048], script[512];
	snprintf(p->issuer, sizeof p->issuer, "https://127.0.0.1:%d", p->port);
	snprintf(config, sizeof config,
		 "{\"port\":%d,\"mode\":\"%s\",\"cert\":\"%s\",\"key\":\"%s\",\"signing_keys\":\"%s\","
		 "\"tid\":\"" TID "\",\"clients\":%s}",
		 p->port, p->mode, cert, key, p->keys, p->clients);
	snprintf(script, sizeof script, "%s/provider.mjs", oidc_dir);
	unlink(p->log);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		dup2(fd, 2);
		setenv("OIDC_TEST_CONFIG", config, 1);
		execlp("node", "node", script, (char *)NULL);
		_exit(127);
	}
	p->pid = pid;
	/* Node, the provider and fresh RSA keys take a few seconds on a loaded machine. */
	for (int i = 0; i < wait_ms / 50; i++) {
		if (file_contains(p->log, "listening "))
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			p->pid = 0;
			break;
		}
		msleep(50);
	}
	char *log = slurp(p->log);
	fprintf(stderr, "provider %s did not start:\n%s\n", p->mode, log ? log : "");
	free(log);
	provider_stop(p);
	return -1;
}

/* Node 20 started by this process now and then stops for good early in its start (a futex wait,
 * no socket yet; never seen when started from a shell): a start that has not listened within
 * 10 s is killed and tried again. */
static int provider_start(struct provider *p)
{
	for (int attempt = 0; attempt < 3; attempt++)
		if (provider_start_once(p, attempt < 2 ? 10000 : 30000) == 0)
			return 0;
	return -1;
}

static void provider_stop(struct provider *p)
{
	if (p->pid <= 0)
		return;
	kill(p->pid, SIGKILL);
	waitpid(p->pid, NULL, 0);
	p->pid = 0;
}

/* Runs argv, returns its stdout (malloc'd) or NULL when it failed. */
static char *run_capture(char *const argv[])
{
	int fds[2];
	if (pipe(fds) != 0)
		return NULL;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		setenv("NODE_EXTRA_CA_CERTS", cert, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	size_t cap = 65536, n = 0;
	char *out = malloc(cap);
	ssize_t r;
	while (out && (r = read(fds[0], out + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	close(fds[0]);
	int st = 0;
	waitpid(pid, &st, 0);
	if (out)
		out[n] = 0;
	return out;
}

/* The string member `name` of the JSON text s, malloc'd, or NULL. */
static char *json_member(const char *s, const char *name)
{
	char k[64];
	snprintf(k, sizeof k, "\"%s\":\"", name);
	const char *t = s ? strstr(s, k) : NULL;
	if (!t)
		return NULL;
	t += strlen(k);
	const char *end = strchr(t, '"');
	return end ? strndup(t, (size_t)(end - t)) : NULL;
}

/* Logs `login` in at provider p as client_id with the nonce that binds dev (connected) to it.
 * A confidential client (the broker's wakks-citizen) stops at the code, which the relay
 * exchanges (POST /idp/token); a public one exchanges it itself. *token is malloc'd. Returns 0
 * or -1. */
static int obtain_with(struct provider *p, const char *client_id, const char *login,
		       struct tdev *dev, const uint8_t *challenge, const char *acr, char **token)
{
	/* The broker's wakks-citizen (private_key_jwt) and the Entra ID's wakks-entra
	 * (client_secret_basic) are the relay's confidential clients. */
	bool confidential = (p == &broker && strcmp(client_id, "wakks-citizen") == 0) ||
			    (p == &entra && strcmp(client_id, "wakks-entra") == 0);
	char nonce[ID_NONCE_BUF_BYTES], args[2048], script[512];
	if (id_nonce_compute(p->issuer, dev->ik_pk, challenge ? challenge : dev->challenge, nonce) != 0)
		return -1;
	snprintf(args, sizeof args,
		 "{\"authorization_endpoint\":\"%s/auth\",\"token_endpoint\":\"%s/token\","
		 "\"client_id\":\"%s\",\"redirect_uri\":\"" REDIRECT "\",\"nonce\":\"%s\","
		 "\"login_hint\":\"%s\",\"acr_values\":\"%s\",\"code_only\":%s}",
		 p->issuer, p->issuer, client_id, nonce, login, acr ? acr : "",
		 confidential ? "true" : "false");
	snprintf(script, sizeof script, "%s/login.mjs", oidc_dir);
	char *const argv[] = { "node", script, args, NULL };
	char *out = run_capture(argv);
	if (confidential) {
		char *code = json_member(out, "code"), *verifier = json_member(out, "code_verifier");
		char body[4096];
		char *resp = NULL;
		int status = 0;
		snprintf(body, sizeof body,
			 "{\"idp\":\"%s\",\"code\":\"%s\",\"redirect_uri\":\"" REDIRECT "\","
			 "\"code_verifier\":\"%s\"}", p == &broker ? "broker" : "entra",
			 code ? code : "", verifier ? verifier : "");
		free(code);
		free(verifier);
		free(out);
		out = NULL;
		if (https_request(relay.port, "POST", "/idp/token", "application/json", body,
				  &status, &resp, NULL, 0) != 0 || status != 200) {
			fprintf(stderr, "relay exchange: status %d: %s\n", status, resp ? resp : "");
			free(resp);
			return -1;
		}
		out = resp;
	}
	*token = json_member(out, "id_token");
	if (!*token)
		fprintf(stderr, "login %s at %s failed: %s\n", login, p->mode, out ? out : "");
	free(out);
	return *token ? 0 : -1;
}

static int obtain(struct provider *p, const char *client_id, const char *login, struct tdev *dev,
		  const char *acr, char **token)
{
	return obtain_with(p, client_id, login, dev, NULL, acr, token);
}

/* Connects dev, logs `login` in at p and registers with the token. Returns the reply type. */
static int login_register(struct tdev *dev, struct provider *p, const char *client_id,
			  const char *login)
{
	char *token = NULL;
	if (tdev_connect(dev) != 0)
		return -1;
	if (obtain(p, client_id, login, dev, p == &broker ? NSIS "Substantial" : NULL, &token) != 0)
		return -1;
	int t = tdev_register_token(dev, token, 2);
	free(token);
	return t;
}

/* Registration is refused on the wire with the one generic error, and the log names `err`. */
static void refused_with(struct provider *p, const char *client_id, const char *login,
			 const char *err)
{
	struct tdev d;
	tdev_init(&d, relay.port);
	int t = login_register(&d, p, client_id, login);
	CHECK_EQ_INT(t, PROTO_T_ERROR);
	if (t == PROTO_T_ERROR)
		CHECK_EQ_INT(d.frame.body.error.code, -PROTO_E_ATTESTATION_REJECTED);
	char needle[128];
	snprintf(needle, sizeof needle, "reason=\"%s\"", err);
	CHECK(relay_log_contains(&relay, needle));
	tdev_free(&d);
}

static bool wait_log(const char *needle, int ms)
{
	for (int i = 0; i < ms / 50; i++) {
		if (relay_log_contains(&relay, needle))
			return true;
		msleep(50);
	}
	return false;
}

static void relay_fetches_keys_and_registers(void)
{
	/* Each provider's keys came over HTTPS at the start (discovery for two, jwks_url for one). */
	CHECK(wait_log("idp_keys_fetched idp=broker", 10000));
	CHECK(wait_log("idp_keys_fetched idp=adfs", 10000));
	CHECK(wait_log("idp_keys_fetched idp=entra", 10000));
	struct tdev c, w, s, e;
	tdev_init(&c, relay.port);
	tdev_init(&w, relay.port);
	tdev_init(&s, relay.port);
	tdev_init(&e, relay.port);
	CHECK_EQ_INT(login_register(&c, &broker, "wakks-citizen", "anna"), PROTO_T_REGISTERED);
	/* AD FS: a group by name, and one by SID. */
	CHECK_EQ_INT(login_register(&w, &adfs, "wakks-caseworker", "camilla"), PROTO_T_REGISTERED);
	CHECK_EQ_INT(login_register(&s, &adfs, "wakks-caseworker", "dennis"), PROTO_T_REGISTERED);
	CHECK_EQ_INT(login_register(&e, &entra, "wakks-entra", "eva"), PROTO_T_REGISTERED);
	tdev_free(&c);
	tdev_free(&w);
	tdev_free(&s);
	tdev_free(&e);
	/* The key sets were persisted for a restart. */
	char path[512];
	snprintf(path, sizeof path, "%s/idp-cache/adfs.jwks.json", relay.data_dir);
	CHECK(access(path, R_OK) == 0);
	snprintf(path, sizeof path, "%s/idp-cache/broker.discovery.json", relay.data_dir);
	CHECK(access(path, R_OK) == 0);
}

static void documented_refusals(void)
{
	/* A token the provider issued to another client. */
	refused_with(&broker, "other-app", "anna", "ID_ERR_AUD");
	/* No CPR claim. */
	refused_with(&broker, "wakks-citizen", "nocpr", "ID_ERR_SUBJECT");
	/* Assurance below Substantial (acr answered Low). */
	refused_with(&broker, "wakks-citizen", "low", "ID_ERR_ASSURANCE_LOW");
	/* Entra group overage. */
	refused_with(&entra, "wakks-entra", "many", "ID_ERR_GROUP_OVERAGE");
	/* Groups that map to no unit. */
	refused_with(&adfs, "wakks-caseworker", "outsider", "ID_ERR_NO_UNIT");
}

static void providers_are_published(void)
{
	int status = 0;
	char *body = NULL;
	CHECK_EQ_INT(https_request(relay.port, "GET", "/idp/providers/varde", NULL, NULL, &status,
				   &body, NULL, 0), 0);
	CHECK_EQ_INT(status, 200);
	char expect[512];
	/* The broker, with what a client asks it for; the relay completes its code exchange, so
	 * no token endpoint is given out. */
	snprintf(expect, sizeof expect,
		 "{\"id\":\"broker\",\"kind\":\"citizen\",\"display_name\":\"MitID\","
		 "\"issuer\":\"%s\",\"authorization_endpoint\":\"%s/auth\",\"client_id\":"
		 "\"wakks-citizen\",\"scope\":\"openid\",\"code_exchange\":\"relay\","
		 "\"acr_values\":\"" NSIS "Substantial\"",
		 broker.issuer, broker.issuer);
	CHECK(body && strstr(body, expect));
	CHECK(body && strstr(body, "\"tenant\":\"varde\""));
	/* The default lifetime of a caseworker's attestation, for clients to re-attest in time. */
	CHECK(body && strstr(body, "\"caseworker_attestation_seconds\":43200"));
	/* The AD FS's clients are public: they exchange the code at its token endpoint. */
	snprintf(expect, sizeof expect, "\"client_id\":\"wakks-caseworker\",\"scope\":\"openid\","
		 "\"code_exchange\":\"client\",\"token_endpoint\":\"%s/token\"", adfs.issuer);
	CHECK(body && strstr(body, expect));
	/* The Entra ID belongs to another tenant. */
	CHECK(body && !strstr(body, "\"id\":\"entra\""));
	free(body);
	body = NULL;
	CHECK_EQ_INT(https_request(relay.port, "GET", "/idp/providers", NULL, NULL, &status, &body,
				   NULL, 0), 0);
	CHECK(status == 200 && body && strstr(body, "\"id\":\"entra\"") && !strstr(body, "\"tenant\""));
	free(body);
	body = NULL;
	CHECK_EQ_INT(https_request(relay.port, "GET", "/idp/providers/nosuch", NULL, NULL, &status,
				   &body, NULL, 0), 0);
	CHECK_EQ_INT(status, 404);
	free(body);
}

static void confidential_exchange_refusals(void)
{
	int status = 0;
	char *body = NULL;
	/* A made-up code: the provider refuses, the relay says so. */
	CHECK_EQ_INT(https_request(relay.port, "POST", "/idp/token", "application/json",
				   "{\"idp\":\"broker\",\"code\":\"nope\",\"redirect_uri\":\"" REDIRECT
				   "\",\"code_verifier\":\"" "abcdefghijabcdefghijabcdefghijabcdefghijabc" "\"}",
				   &status, &body, NULL, 0), 0);
	CHECK_EQ_INT(status, 502);
	CHECK(body && strstr(body, "\"provider_error\":\"invalid_grant\""));
	free(body);
	body = NULL;
	/* A public client's provider is not exchanged by the relay. */
	CHECK_EQ_INT(https_request(relay.port, "POST", "/idp/token", "application/json",
				   "{\"idp\":\"adfs\",\"code\":\"x\",\"redirect_uri\":\"" REDIRECT "\"}",
				   &status, &body, NULL, 0), 0);
	CHECK_EQ_INT(status, 404);
	free(body);
	body = NULL;
	CHECK_EQ_INT(https_request(relay.port, "POST", "/idp/token", "application/json", "[1]",
				   &status, &body, NULL, 0), 0);
	CHECK_EQ_INT(status, 400);
	free(body);
	/* Neither the client secret nor the private key reaches the log. */
	CHECK(!relay_log_contains(&relay, ENTRA_SECRET));
	char *k = slurp(client_key);
	char *d = json_member(k, "d");
	CHECK(d && strlen(d) > 100 && !relay_log_contains(&relay, d));
	free(d);
	free(k);
}

/* A log-in that outlives the connection (a full-page redirect): the nonce binds a login
 * challenge fetched over HTTPS for the device's key; the register arrives on a later connection. */
static void login_challenge_outlives_the_connection(void)
{
	struct tdev d;
	tdev_init(&d, relay.port);
	char ik[64], body[160], *resp = NULL;
	int status = 0;
	sodium_bin2base64(ik, sizeof ik, d.ik_pk, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(body, sizeof body, "{\"ik\":\"%s\"}", ik);
	CHECK_EQ_INT(https_request(relay.port, "POST", "/idp/login-challenge", "application/json", body,
				   &status, &resp, NULL, 0), 0);
	CHECK_EQ_INT(status, 200);
	char *ch64 = json_member(resp, "challenge");
	free(resp);
	uint8_t ch[32];
	size_t ch_len = 0;
	REQUIRE(ch64 && sodium_base642bin(ch, sizeof ch, ch64, strlen(ch64), NULL, &ch_len, NULL,
					  sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 && ch_len == 32);
	free(ch64);
	/* Two log-ins bound to the same login challenge, before any connection exists. */
	char *t1 = NULL, *t2 = NULL;
	REQUIRE(obtain_with(&adfs, "wakks-caseworker", "camilla", &d, ch, NULL, &t1) == 0);
	REQUIRE(obtain_with(&adfs, "wakks-caseworker", "camilla", &d, ch, NULL, &t2) == 0);
	REQUIRE(tdev_connect(&d) == 0);
	CHECK_EQ_INT(tdev_register_token(&d, t1, 2), PROTO_T_REGISTERED);
	/* The login challenge is used up. */
	struct tdev again;
	tdev_init(&again, relay.port);
	tdev_copy_identity(&again, &d);
	REQUIRE(tdev_connect(&again) == 0);
	CHECK_EQ_INT(tdev_register_token(&again, t2, 2), PROTO_T_ERROR);
	CHECK(relay_log_contains(&relay, "reason=\"ID_ERR_NONCE_MISMATCH\""));
	/* Not base64url of 32 bytes. */
	resp = NULL;
	CHECK_EQ_INT(https_request(relay.port, "POST", "/idp/login-challenge", "application/json",
				   "{\"ik\":\"AAAA\"}", &status, &resp, NULL, 0), 0);
	CHECK_EQ_INT(status, 400);
	free(resp);
	free(t1);
	free(t2);
	tdev_free(&d);
	tdev_free(&again);
}

/* The command-line client logs in as a native app (RFC 8252): it prints the authorization URL,
 * the person logs in in a browser (here login.mjs, typing into the provider's form), the provider
 * redirects to the client's loopback listener (any port: RFC 8252 §7.3), and the relay exchanges
 * the code (the broker's client is confidential). */
static void cli_logs_in_through_the_provider(void)
{
	const char *cli = getenv("WAKKS_CLI");
	REQUIRE(cli != NULL);
	char bundle[400], store[400], relay_url[64], cmd[2048];
	snprintf(bundle, sizeof bundle, "%s/ca-bundle.pem", dir);
	snprintf(store, sizeof store, "%s/cli-store", dir);
	snprintf(relay_url, sizeof relay_url, "wss://localhost:%d", relay.port);
	snprintf(cmd, sizeof cmd, "cat '%s/test-cert.pem' '%s' > '%s' && '%s' --store '%s' --relay %s --ca '%s' init >/dev/null",
		 relay.dir, cert, bundle, cli, store, relay_url, bundle);
	REQUIRE(system(cmd) == 0);
	int err[2];
	REQUIRE(pipe(err) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(err[1], 2);
		close(err[0]);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		execl(cli, cli, "--store", store, "login", "--idp", "broker", (char *)NULL);
		_exit(127);
	}
	close(err[1]);
	/* The address the person opens. */
	char buf[8192];
	size_t n = 0;
	char *url = NULL;
	while (!url && n < sizeof buf - 1) {
		ssize_t r = read(err[0], buf + n, sizeof buf - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		buf[n] = 0;
		char *h = strstr(buf, "\nhttps://");
		char *nl = h ? strchr(h + 1, '\n') : NULL;
		if (nl) {
			*nl = 0;
			url = h + 1;
		}
	}
	CHECK(url != NULL);
	if (!url)
		fprintf(stderr, "wakks login printed: %s\n", buf);
	if (url) {
		char args[4096], script[512];
		snprintf(args, sizeof args, "{\"url\":\"%s\",\"login\":\"anna\",\"redirect_prefix\":\"http://127.0.0.1:\"}", url);
		snprintf(script, sizeof script, "%s/login.mjs", oidc_dir);
		char *const argv[] = { "node", script, args, NULL };
		char *out = run_capture(argv);
		CHECK(out && strstr(out, "\"delivered\":200"));
		if (!out || !strstr(out, "\"delivered\":200"))
			fprintf(stderr, "login.mjs: %s\n", out ? out : "");
		free(out);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	close(err[0]);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(relay_log_contains(&relay, "code_exchanged idp=broker"));
	/* Registered (the exit status says so): the store's device authenticates on its own. */
	snprintf(cmd, sizeof cmd, "'%s' --store '%s' receive --idle 1 >/dev/null 2>&1", cli, store);
	CHECK(system(cmd) == 0);
}

static void key_rotation_is_followed(void)
{
	/* The broker restarts with a new signing key (a new kid): the relay's set lacks it, so the
	 * register waits for one fetch and then succeeds. */
	provider_stop(&broker);
	unlink(broker.keys);
	REQUIRE(provider_start(&broker) == 0);
	struct tdev d;
	tdev_init(&d, relay.port);
	CHECK_EQ_INT(login_register(&d, &broker, "wakks-citizen", "bo"), PROTO_T_REGISTERED);
	CHECK(relay_log_contains(&relay, "awaiting_provider_keys"));
	tdev_free(&d);
}

/* A live reload (SIGHUP) builds the providers afresh: those with keys over HTTPS start from their
 * persisted sets and fetch again, and their tokens keep registering. */
static void reload_keeps_providers_over_https(void)
{
	kill(relay.pid, SIGHUP);
	CHECK(wait_log("event=reloaded", 10000));
	struct tdev c, w;
	tdev_init(&c, relay.port);
	tdev_init(&w, relay.port);
	CHECK_EQ_INT(login_register(&c, &broker, "wakks-citizen", "anna"), PROTO_T_REGISTERED);
	CHECK_EQ_INT(login_register(&w, &adfs, "wakks-caseworker", "dennis"), PROTO_T_REGISTERED);
	tdev_free(&c);
	tdev_free(&w);
}

/* Rewrites relay.conf, replacing `from` with `to` once. */
static int edit_config(const char *from, const char *to)
{
	char *s = slurp(relay.config_path);
	char *at = s ? strstr(s, from) : NULL;
	if (!at) {
		free(s);
		return -1;
	}
	FILE *f = fopen(relay.config_path, "w");
	if (!f) {
		free(s);
		return -1;
	}
	fprintf(f, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	fclose(f);
	free(s);
	return 0;
}

static void unreachable_at_restart_uses_persisted_keys(void)
{
	/* The relay restarts while the AD FS's key set cannot be reached (its URL now names a port
	 * nobody listens on): the persisted set verifies the provider's tokens. */
	REQUIRE(relay_proc_stop(&relay) == 0);
	char from[128], to[128];
	snprintf(from, sizeof from, "jwks_url = https://127.0.0.1:%d/jwks", adfs.port);
	snprintf(to, sizeof to, "jwks_url = https://127.0.0.1:%d/jwks", free_port());
	REQUIRE(edit_config(from, to) == 0);
	REQUIRE(relay_proc_restart(&relay, false) == 0);
	CHECK(wait_log("idp_keys_restored idp=adfs", 5000));
	CHECK(wait_log("idp_fetch_failed idp=adfs", 10000));
	struct tdev d;
	tdev_init(&d, relay.port);
	CHECK_EQ_INT(login_register(&d, &adfs, "wakks-caseworker", "camilla"), PROTO_T_REGISTERED);
	tdev_free(&d);
}

static void setup_providers(void)
{
	struct provider *all[] = { &broker, &adfs, &entra };
	for (int i = 0; i < 3; i++) {
		all[i]->port = free_port();
		snprintf(all[i]->keys, sizeof all[i]->keys, "%s/%s-signing.json", dir, all[i]->mode);
		snprintf(all[i]->log, sizeof all[i]->log, "%s/%s.log", dir, all[i]->mode);
	}
#define PUBLIC_CLIENT(id)                                                                          \
	"{\"client_id\":\"" id "\",\"token_endpoint_auth_method\":\"none\",\"application_type\":"  \
	"\"native\",\"redirect_uris\":[\"" REDIRECT "\",\"http://127.0.0.1/callback\"],\"grant_types\":[\"authorization_code\"],"   \
	"\"response_types\":[\"code\"]}"
	/* The relay is the broker's confidential client (private_key_jwt, as NemLog-in offers). */
	snprintf(client_key, sizeof client_key, "%s/relay-client-key.json", dir);
	snprintf(broker.clients, sizeof broker.clients,
		 "[{\"client_id\":\"wakks-citizen\",\"token_endpoint_auth_method\":\"private_key_jwt\","
		 "\"token_endpoint_auth_signing_alg\":\"RS256\",\"jwks_file\":\"%s\","
		 "\"application_type\":\"native\",\"redirect_uris\":[\"" REDIRECT "\",\"http://127.0.0.1/callback\"],"
		 "\"grant_types\":[\"authorization_code\"],\"response_types\":[\"code\"]},%s]",
		 client_key, PUBLIC_CLIENT("other-app"));
	snprintf(adfs.clients, sizeof adfs.clients, "[%s]", PUBLIC_CLIENT("wakks-caseworker"));
	/* The relay is the Entra ID's confidential client with a secret (client_secret_basic). */
	snprintf(entra.clients, sizeof entra.clients,
		 "[{\"client_id\":\"wakks-entra\",\"client_secret\":\"" ENTRA_SECRET "\","
		 "\"token_endpoint_auth_method\":\"client_secret_basic\",\"application_type\":"
		 "\"native\",\"redirect_uris\":[\"" REDIRECT "\"],\"grant_types\":"
		 "[\"authorization_code\"],\"response_types\":[\"code\"]}]");
	snprintf(entra_secret, sizeof entra_secret, "%s/entra-secret", dir);
	FILE *f = fopen(entra_secret, "w");
	if (f) {
		fchmod(fileno(f), 0600);
		fputs(ENTRA_SECRET "\n", f);
		fclose(f);
	}
}

static int make_cert(void)
{
	char cmd[1200];
	snprintf(cert, sizeof cert, "%s/oidc-cert.pem", dir);
	snprintf(key, sizeof key, "%s/oidc-key.pem", dir);
	snprintf(cmd, sizeof cmd,
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout '%s' "
		 "-out '%s' -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
		 ">/dev/null 2>&1", key, cert);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	oidc_dir = getenv("WAKKS_OIDC_DIR");
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/wakks-oidc-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (!oidc_dir || sodium_init() < 0 || !mkdtemp(dir) || make_cert() != 0)
		return 1;
	char install[600];
	snprintf(install, sizeof install, "'%s/install.sh'", oidc_dir);
	if (system(install) != 0) {
		fprintf(stderr, "tests/oidc/install.sh failed: node and npm are needed\n");
		return 1;
	}
	setup_providers();
	if (provider_start(&broker) != 0 || provider_start(&adfs) != 0 || provider_start(&entra) != 0) {
		provider_stop(&broker);
		provider_stop(&adfs);
		provider_stop(&entra);
		return 1;
	}
	char extra[4096];
	snprintf(extra, sizeof extra,
		 "[idp broker]\nissuer = %s\naudience = wakks-citizen\n"
		 "discovery = %s/.well-known/openid-configuration\nca_file = %s\nalgs = RS256\n"
		 "kind = citizen\nprofile = mitid-broker\nacr_values = " NSIS "Substantial\n"
		 "display_name = MitID\nclient_auth = private_key_jwt\nclient_key_file = %s\n\n"
		 "[idp adfs]\nissuer = %s\naudience = wakks-caseworker\njwks_url = %s/jwks\n"
		 "discovery = %s/.well-known/openid-configuration\n"
		 "ca_file = %s\nkind = caseworker\nprofile = adfs\n\n"
		 "[idp entra]\nissuer = %s\naudience = wakks-entra\n"
		 "discovery = %s/.well-known/openid-configuration\nca_file = %s\nkind = caseworker\n"
		 "profile = entra-id\nentra_tenant = " TID "\n"
		 "client_auth = client_secret_basic\nclient_secret_file = %s\n\n"
		 "[tenant varde]\nname = Varde Kommune\ncvr = 29189781\nidps = broker, adfs\n"
		 "[unit varde/jobcenter]\nname = Jobcenter\n"
		 "groups = VARDE\\Jobcenter, S-1-5-21-1004336348-1177238915-682003330-1130\n\n"
		 "[tenant vejle]\nname = Vejle Kommune\ncvr = 29189129\nidps = broker, entra\n"
		 "[unit vejle/borgerservice]\nname = Borgerservice\ngroups = " GROUP_OID "\n",
		 broker.issuer, broker.issuer, cert, client_key, adfs.issuer, adfs.issuer, adfs.issuer,
		 cert, entra.issuer, entra.issuer, cert, entra_secret);
	struct relay_proc_opts o = { .extra_config = extra };
	int rc = relay_proc_start_opts(&relay, &o);
	if (rc == 0) {
		RUN(relay_fetches_keys_and_registers);
		RUN(documented_refusals);
		RUN(providers_are_published);
		RUN(confidential_exchange_refusals);
		RUN(login_challenge_outlives_the_connection);
		RUN(cli_logs_in_through_the_provider);
		RUN(key_rotation_is_followed);
		RUN(reload_keeps_providers_over_https);
		RUN(unreachable_at_restart_uses_persisted_keys);
	}
	provider_stop(&broker);
	provider_stop(&adfs);
	provider_stop(&entra);
	relay_proc_cleanup(&relay);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return rc == 0 ? TEST_RESULT() : 1;
}
