/* SPDX-License-Identifier: MPL-2.0 */
/* wakks: the OS2wakks command-line client, one device per store directory.
 *
 * Exit status: 0 success, 1 the relay or the operation refused (the message says why), 2 usage,
 * 3 store or key problem, 4 network or TLS problem, 5 timed out. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "wakks.h"
#include "wakks_bytes.h"

enum { EX_OK = 0, EX_REFUSED = 1, EX_USAGE = 2, EX_STORE = 3, EX_NET = 4, EX_TIMEOUT = 5 };

#define DEFAULT_TIMEOUT_MS 20000

static const char usage_text[] =
	"usage: wakks [options] COMMAND [ARGS]\n"
	"\n"
	"A device of OS2wakks: its keys, sessions and messages live in a sealed store directory.\n"
	"\n"
	"Options (saved by `init` in the store's config, so later commands may omit them):\n"
	"  --relay URL        the relay, wss://HOST:PORT\n"
	"  --ca FILE          trusted CA or pinned certificate (the development relay: DATA/dev-cert.pem)\n"
	"  --store DIR        the device store (default: $WAKKS_STORE or ./wakks-store)\n"
	"  --key-file FILE    the store key: 32 bytes or 64 hex digits, mode 0600 (default: DIR/store.key);\n"
	"                     $WAKKS_STORE_KEY (64 hex digits) takes precedence\n"
	"  --json             machine-readable output, one JSON object per line\n"
	"  --timeout SECONDS  how long to wait for the relay (default 20)\n"
	"  -h, --help         this text\n"
	"\n"
	"Commands:\n"
	"  init                              create the store, its key file and config\n"
	"  login --user NAME [--idp IDP]     development identity provider (IDP dev-mitid for\n"
	"                                    citizens anna, bo; dev-adfs for caseworkers camilla,\n"
	"                                    dennis): OpenID Connect with PKCE, then register\n"
	"  register --issuer ISS [--token-file FILE]\n"
	"                                    any identity provider: prints the nonce to request the\n"
	"                                    ID token with, then reads the token (file or stdin)\n"
	"  whoami                            account, device and identity key of this device\n"
	"  send (--to ACCOUNT | --unit TENANT/UNIT)... TEXT\n"
	"                                    send a text (a caseworker may give both)\n"
	"  send --file PATH [--type MEDIA/TYPE] (--to ACCOUNT | --unit TENANT/UNIT)... [TEXT]\n"
	"                                    send a file, encrypted (with a text if given)\n"
	"  receive [--idle SECONDS] [--save-dir DIR]\n"
	"                                    fetch, decrypt, store and print new messages, then exit\n"
	"                                    after SECONDS without news (default 2); received files\n"
	"                                    are verified and saved in DIR (default: the store's\n"
	"                                    files/)\n"
	"  listen                            print messages as they arrive, until interrupted\n"
	"  history                           print the stored conversation history\n"
	"  devices                           list this account's devices\n"
	"  revoke DEVICE                     revoke a device of this account (this one: log out)\n"
	"  consent grant TENANT[/UNIT]       show the tenant's consent text and grant consent\n"
	"  consent withdraw TENANT[/UNIT]    withdraw it\n"
	"  consent list                      the account's consent history\n"
	"  safety-number PEER                safety number with a peer device (or every device of\n"
	"                                    a peer account); compare it with the peer's\n"
	"  peers                             known peer devices\n";

struct cli {
	const char *relay, *ca, *store, *key_file, *save_dir;
	bool json;
	int timeout_ms;
	wakks_client *c;
	int n_printed;
	uint64_t last_event_mono;
	/* devices / consents from DONE events */
	bool listed;
};

static struct cli g;

static void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("wakks: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (g.c)
		wakks_close(g.c);
	exit(code);
}

static int exit_for(int err)
{
	switch (err) {
	case WAKKS_E_STORE:
	case WAKKS_E_STORE_KEY:
	case WAKKS_E_CORRUPT:
	case WAKKS_E_IO:
	case WAKKS_E_NOT_REGISTERED:
		return EX_STORE;
	case WAKKS_E_NET:
	case WAKKS_E_TLS:
	case WAKKS_E_HANDSHAKE:
	case WAKKS_E_CLOSED:
		return EX_NET;
	case WAKKS_E_TIMEOUT:
		return EX_TIMEOUT;
	default:
		return EX_REFUSED;
	}
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void fmt_time(uint64_t ms, char *out, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm);
}

/* ---- store location, key, config --------------------------------------------------------------- */

static char store_path[4096];

static const char *config_path(void)
{
	static char p[4200];
	snprintf(p, sizeof p, "%s/config", g.store);
	return p;
}

static void load_config(void)
{
	FILE *f = fopen(config_path(), "r");
	if (!f)
		return;
	static char relay[4100], ca[4100];
	char line[4096];
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "relay=", 6) == 0 && !g.relay) {
			snprintf(relay, sizeof relay, "%s", line + 6);
			g.relay = relay;
		} else if (strncmp(line, "ca=", 3) == 0 && !g.ca && line[3]) {
			snprintf(ca, sizeof ca, "%s", line + 3);
			g.ca = ca;
		}
	}
	fclose(f);
}

static bool parse_hex_key(const char *s, size_t n, uint8_t key[32])
{
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		n--;
	if (n != 64)
		return false;
	for (size_t i = 0; i < 32; i++) {
		int hi = wakks_hexval(s[2 * i]), lo = wakks_hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static const char *key_path(void)
{
	static char p[4200];
	if (g.key_file)
		return g.key_file;
	snprintf(p, sizeof p, "%s/store.key", g.store);
	return p;
}

static void read_key(uint8_t key[32])
{
	const char *env = getenv("WAKKS_STORE_KEY");
	if (env) {
		if (!parse_hex_key(env, strlen(env), key))
			die(EX_USAGE, "WAKKS_STORE_KEY must be 64 hex digits");
		return;
	}
	const char *path = key_path();
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(EX_STORE, "cannot read the store key %s: %s (run `wakks init` first)", path,
		    strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || (st.st_mode & 077))
		die(EX_STORE, "the key file %s must have mode 0600 (it has %o)", path,
		    (unsigned)(st.st_mode & 0777));
	char buf[130];
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	if (n == 32)
		memcpy(key, buf, 32);
	else if (n <= 0 || !parse_hex_key(buf, (size_t)n, key))
		die(EX_STORE, "the key file %s must hold 32 bytes or 64 hex digits", path);
	sodium_memzero(buf, sizeof buf);
}

/* ---- events ------------------------------------------------------------------------------------- */

static const char *file_state_name(int state)
{
	switch (state) {
	case WAKKS_ATT_UPLOADING: return "uploading";
	case WAKKS_ATT_UPLOADED: return "sent";
	case WAKKS_ATT_DOWNLOADING: return "downloading";
	case WAKKS_ATT_SAVED: return "saved";
	default: return "failed";
	}
}

static void print_message(const wakks_message *m)
{
	char acc[33], dev[33], id[33], when[32];
	wakks_id_hex(m->sender_account, acc);
	wakks_id_hex(m->sender_device, dev);
	wakks_id_hex(m->id, id);
	fmt_time(m->stored_ms ? m->stored_ms : m->sent_ms, when, sizeof when);
	if (g.json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:s#}", "id", id, "from_account",
				      acc, "from_device", dev, "outgoing", m->outgoing, "sent_ms",
				      (json_int_t)m->sent_ms, "stored_ms", (json_int_t)m->stored_ms,
				      "text", m->text, (int)m->text_len);
		if (j && m->tenant[0]) {
			json_object_set_new(j, "tenant", json_string(m->tenant));
			json_object_set_new(j, "unit", json_string(m->unit));
		}
		const wakks_attachment *a = m->attachment;
		if (j && a)
			json_object_set_new(j, "file",
					    json_pack("{s:s, s:s, s:I, s:s, s:s}", "name", a->file_name,
						      "media_type", a->media_type, "size",
						      (json_int_t)a->size, "state",
						      file_state_name(a->state), "path",
						      a->path ? a->path : ""));
		char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
		if (s)
			puts(s);
		free(s);
		json_decref(j);
	} else {
		char where[80] = "";
		if (m->tenant[0])
			snprintf(where, sizeof where, " [%s/%s]", m->tenant, m->unit);
		const wakks_attachment *a = m->attachment;
		if (a && a->state == WAKKS_ATT_SAVED)
			printf("%s %s %s%s: file %s (%llu bytes) saved as %s\n", when,
			       m->outgoing ? "me  " : "from", acc, where, a->file_name,
			       (unsigned long long)a->size, a->path);
		else if (a)
			printf("%s %s %s%s: file %s (%llu bytes, %s, %s)\n", when,
			       m->outgoing ? "me  " : "from", acc, where, a->file_name,
			       (unsigned long long)a->size, a->media_type, file_state_name(a->state));
		else
			printf("%s %s %s%s: %.*s\n", when, m->outgoing ? "me  " : "from", acc, where,
			       (int)m->text_len, m->text);
	}
	fflush(stdout);
}

static void on_event(wakks_client *c, const wakks_event *ev, void *user)
{
	(void)c;
	(void)user;
	g.last_event_mono = mono_ms();
	switch (ev->type) {
	case WAKKS_EV_MESSAGE:
		print_message(ev->u.message);
		g.n_printed++;
		break;
	case WAKKS_EV_KEY_CHANGE:
	case WAKKS_EV_DEVICE_CHANGE: {
		char acc[33], dev[33];
		wakks_id_hex(ev->u.peer.account, acc);
		wakks_id_hex(ev->u.peer.device, dev);
		const char *what = ev->type == WAKKS_EV_KEY_CHANGE ? "changed its identity key"
				   : ev->u.peer.added		    ? "has a new device"
								    : "removed a device";
		if (g.json)
			printf("{\"event\":\"%s\",\"account\":\"%s\",\"device\":\"%s\",\"safety_number\":\"%s\"}\n",
			       ev->type == WAKKS_EV_KEY_CHANGE ? "key_change" : "device_change", acc, dev,
			       ev->u.peer.safety_number);
		else
			fprintf(stderr, "wakks: note: %s %s (device %s); new safety number %s\n", acc, what,
				dev, ev->u.peer.safety_number);
		break;
	}
	case WAKKS_EV_ERROR:
		fprintf(stderr, "wakks: %s: %s\n", ev->u.error.what, wakks_strerror(ev->u.error.code));
		break;
	default:
		break;
	}
}

/* ---- opening and connecting ---------------------------------------------------------------------- */

static void open_client(bool must_exist, bool reconnect)
{
	struct stat st;
	if (must_exist && stat(g.store, &st) != 0)
		die(EX_STORE, "no store at %s: run `wakks --store %s --relay URL init` first", g.store,
		    g.store);
	if (!g.relay)
		die(EX_USAGE, "no relay: give --relay wss://HOST:PORT (or run `init` with it)");
	uint8_t key[32];
	read_key(key);
	wakks_config cfg = {
		.relay_url = g.relay,
		.ca_file = g.ca,
		.store_dir = g.store,
		.store_key = key,
		.device_label = "wakks-cli",
		.on_event = on_event,
		.auto_reconnect = reconnect,
		.files_dir = g.save_dir,
	};
	int rc = wakks_open(&cfg, &g.c);
	sodium_memzero(key, sizeof key);
	if (rc != 0)
		die(exit_for(rc), "cannot open the store %s: %s", g.store, wakks_strerror(rc));
}

static bool reached(wakks_client *c, void *arg)
{
	int want = *(int *)arg;
	return wakks_state(c) >= want || (wakks_state(c) == WAKKS_DISCONNECTED && wakks_fd(c) < 0 &&
					 wakks_timeout_ms(c) < 0);
}

static void connect_to(int want_state)
{
	int rc = wakks_connect(g.c);
	if (rc != 0)
		die(EX_NET, "cannot connect to %s: %s", g.relay, wakks_strerror(rc));
	rc = wakks_run_until(g.c, reached, &want_state, g.timeout_ms);
	if (rc != 0)
		die(EX_TIMEOUT, "the relay did not answer in time");
	if (wakks_state(g.c) < want_state)
		die(EX_NET, "could not connect to %s (TLS, certificate or network; see --ca)", g.relay);
}

static void need_registered(void)
{
	if (!wakks_is_registered(g.c))
		die(EX_STORE, "this device is not registered yet: run `wakks login` or `wakks register`");
}

static int wait_op(uint32_t op, const char *what)
{
	int rc = wakks_wait(g.c, op, g.timeout_ms);
	if (rc == WAKKS_E_TIMEOUT)
		die(EX_TIMEOUT, "%s: no answer from the relay in time", what);
	if (rc != 0)
		die(exit_for(rc), "%s: %s", what, wakks_strerror(rc));
	return rc;
}

/* ---- commands ------------------------------------------------------------------------------------- */

static int cmd_init(void)
{
	if (!g.relay)
		die(EX_USAGE, "init needs --relay wss://HOST:PORT");
	if (mkdir(g.store, 0700) != 0 && errno != EEXIST)
		die(EX_STORE, "cannot create %s: %s", g.store, strerror(errno));
	if (!getenv("WAKKS_STORE_KEY") && access(key_path(), F_OK) != 0) {
		uint8_t key[32];
		char hex[65];
		randombytes_buf(key, sizeof key);
		sodium_bin2hex(hex, sizeof hex, key, sizeof key);
		int fd = open(key_path(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, hex, 64) != 64 || write(fd, "\n", 1) != 1 || fsync(fd) != 0)
			die(EX_STORE, "cannot write the key file %s: %s", key_path(), strerror(errno));
		close(fd);
		sodium_memzero(key, sizeof key);
		sodium_memzero(hex, sizeof hex);
	}
	char tmp[4300];
	snprintf(tmp, sizeof tmp, "%s.tmp", config_path());
	FILE *f = fopen(tmp, "w");
	if (!f)
		die(EX_STORE, "cannot write %s: %s", config_path(), strerror(errno));
	char *ca_abs = g.ca ? realpath(g.ca, NULL) : NULL;
	if (g.ca && !ca_abs)
		die(EX_USAGE, "cannot read the CA file %s: %s", g.ca, strerror(errno));
	fprintf(f, "relay=%s\nca=%s\n", g.relay, ca_abs ? ca_abs : "");
	free(ca_abs);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0 || rename(tmp, config_path()) != 0)
		die(EX_STORE, "cannot write %s", config_path());
	open_client(true, false);
	uint8_t ik[32];
	char hex[65];
	wakks_identity_key(g.c, ik);
	sodium_bin2hex(hex, sizeof hex, ik, 32);
	if (g.json)
		printf("{\"store\":\"%s\",\"identity_key\":\"%s\",\"registered\":%s}\n", g.store, hex,
		       wakks_is_registered(g.c) ? "true" : "false");
	else
		printf("store %s ready; identity key %s\n%s\n", g.store, hex,
		       wakks_is_registered(g.c) ? "registered" : "next: wakks login --user NAME");
	return EX_OK;
}

static void print_whoami(void)
{
	uint8_t acc[16], dev[16], ik[32];
	char a[33] = "", d[33] = "", k[65];
	if (wakks_account_id(g.c, acc) == 0)
		wakks_id_hex(acc, a);
	if (wakks_device_id(g.c, dev) == 0)
		wakks_id_hex(dev, d);
	wakks_identity_key(g.c, ik);
	sodium_bin2hex(k, sizeof k, ik, 32);
	if (g.json)
		printf("{\"account\":\"%s\",\"device\":\"%s\",\"identity_key\":\"%s\",\"registered\":%s}\n",
		       a, d, k, wakks_is_registered(g.c) ? "true" : "false");
	else
		printf("account  %s\ndevice   %s\nidentity %s\n", a[0] ? a : "(not registered)",
		       d[0] ? d : "(not registered)", k);
}

static int do_register(const char *token)
{
	uint32_t op;
	int rc = wakks_register(g.c, token, &op);
	if (rc != 0)
		die(exit_for(rc), "register: %s", wakks_strerror(rc));
	wait_op(op, "register");
	print_whoami();
	return EX_OK;
}

static int cmd_login(const char *user, const char *idp)
{
	if (!user)
		die(EX_USAGE, "login needs --user NAME");
	if (wakks_is_registered(g.c))
		die(EX_REFUSED, "this device is already registered (a store is one device)");
	connect_to(WAKKS_CONNECTED);
	char *token = NULL;
	int rc = wakks_devidp_login(g.c, idp, user, &token);
	if (rc != 0)
		die(exit_for(rc), "login at %s as %s failed: %s", idp, user, wakks_strerror(rc));
	rc = do_register(token);
	sodium_memzero(token, strlen(token));
	free(token);
	return rc;
}

static int cmd_register(const char *issuer, const char *token_file)
{
	if (!issuer)
		die(EX_USAGE, "register needs --issuer ISS (the identity provider's issuer URL)");
	if (wakks_is_registered(g.c))
		die(EX_REFUSED, "this device is already registered");
	connect_to(WAKKS_CONNECTED);
	char nonce[WAKKS_NONCE_CHARS + 1];
	if (wakks_registration_nonce(g.c, issuer, nonce) != 0)
		die(EX_USAGE, "bad issuer");
	/* The nonce is bound to this connection: keep it open while the person logs in. */
	if (g.json)
		printf("{\"nonce\":\"%s\"}\n", nonce);
	else
		printf("nonce %s\nrequest the ID token with this nonce, then give it on %s\n", nonce,
		       token_file ? token_file : "standard input");
	fflush(stdout);
	FILE *f = token_file ? fopen(token_file, "r") : stdin;
	if (!f)
		die(EX_USAGE, "cannot read %s: %s", token_file, strerror(errno));
	static char token[16 * 1024 + 2];
	if (!fgets(token, sizeof token, f))
		die(EX_USAGE, "no token given");
	if (f != stdin)
		fclose(f);
	token[strcspn(token, "\r\n")] = '\0';
	/* Keep the connection alive while waiting was not possible: if it dropped, say so. */
	wakks_poll(g.c, 0);
	if (wakks_state(g.c) != WAKKS_CONNECTED)
		die(EX_NET, "the connection closed while waiting for the token; run register again");
	return do_register(token);
}

static bool split_unit(char *arg, const char **tenant, const char **unit)
{
	char *slash = strchr(arg, '/');
	if (!slash || slash == arg || !slash[1])
		return false;
	*slash = '\0';
	*tenant = arg;
	*unit = slash + 1;
	return true;
}

static bool send_settled(wakks_client *c, void *arg)
{
	(void)arg;
	return wakks_pending_count(c) == 0 || wakks_state(c) == WAKKS_DISCONNECTED;
}

static int cmd_send(char **to, int n_to, char **units, int n_units, const char *text,
		    const char *file, const char *media_type)
{
	if ((n_to == 0 && n_units == 0) || (!text && !file))
		die(EX_USAGE, "send needs --to ACCOUNT or --unit TENANT/UNIT, and a text or --file");
	if (n_to > 1 || n_units > 1)
		die(EX_USAGE, "send takes one --to and/or one --unit");
	uint8_t acc[16];
	wakks_target t = { 0 };
	if (n_to) {
		if (wakks_id_parse(to[0], acc) != 0)
			die(EX_USAGE, "--to wants an account id (32 hex digits)");
		t.account = acc;
	}
	if (n_units && !split_unit(units[0], &t.tenant, &t.unit))
		die(EX_USAGE, "--unit wants TENANT/UNIT, e.g. varde/jobcenter");
	need_registered();
	uint32_t op;
	uint8_t id[16];
	int rc;
	if (file) {
		wakks_file f = { .path = file, .media_type = media_type };
		rc = wakks_send_file(g.c, &t, &f, text, text ? strlen(text) : 0, id, &op);
		if (rc == WAKKS_E_IO)
			die(EX_USAGE, "send: cannot read %s", file);
	} else {
		rc = wakks_send_text(g.c, &t, text, strlen(text), id, &op);
	}
	if (rc != 0)
		die(exit_for(rc), "send: %s", wakks_strerror(rc));
	connect_to(WAKKS_READY);
	rc = wakks_wait(g.c, op, g.timeout_ms);
	char hex[33];
	wakks_id_hex(id, hex);
	if (rc == WAKKS_E_TIMEOUT || rc == WAKKS_E_CLOSED || rc == WAKKS_E_RETRIES ||
	    rc == WAKKS_RELAY_RATE_LIMITED || rc == WAKKS_RELAY_UNAVAILABLE ||
	    rc == WAKKS_RELAY_QUOTA_EXCEEDED) {
		fprintf(stderr, "wakks: message %s is queued and will be sent by the next command "
				"that connects (%s)\n", hex, wakks_strerror(rc));
		return rc == WAKKS_E_TIMEOUT ? EX_TIMEOUT : EX_NET;
	}
	if (rc != 0)
		die(exit_for(rc), "send refused: %s", wakks_strerror(rc));
	/* Earlier queued messages go out too before we leave. */
	wakks_run_until(g.c, send_settled, NULL, g.timeout_ms);
	if (g.json)
		printf("{\"sent\":\"%s\"}\n", hex);
	else
		printf("sent %s\n", hex);
	return EX_OK;
}

static bool quiet_for(wakks_client *c, void *arg)
{
	uint64_t idle = *(uint64_t *)arg;
	/* A file being downloaded is news still on its way: wait for it (its message event). */
	if (wakks_downloads_pending(c))
		g.last_event_mono = mono_ms();
	return wakks_pending_count(c) == 0 && mono_ms() >= g.last_event_mono + idle;
}

static int cmd_receive(double idle_s, bool forever)
{
	need_registered();
	connect_to(WAKKS_READY);
	g.last_event_mono = mono_ms();
	if (forever) {
		for (;;) {
			wakks_poll(g.c, 1000);
			if (wakks_state(g.c) == WAKKS_DISCONNECTED && wakks_fd(g.c) < 0 &&
			    wakks_timeout_ms(g.c) < 0)
				die(EX_NET, "connection to the relay lost");
		}
	}
	uint64_t idle = (uint64_t)(idle_s * 1000);
	wakks_run_until(g.c, quiet_for, &idle, -1);
	if (!g.json && g.n_printed == 0)
		fprintf(stderr, "wakks: no new messages\n");
	return EX_OK;
}

static int print_history_one(const wakks_message *m, void *arg)
{
	(void)arg;
	print_message(m);
	return 0;
}

static int cmd_history(void)
{
	int rc = wakks_history(g.c, print_history_one, NULL);
	if (rc != 0)
		die(exit_for(rc), "history: %s", wakks_strerror(rc));
	return EX_OK;
}

static void on_list(wakks_client *c, const wakks_event *ev, void *user)
{
	(void)c;
	(void)user;
	if (ev->type != WAKKS_EV_DONE)
		return on_event(c, ev, user);
	for (size_t i = 0; i < ev->u.done.n_devices; i++) {
		const wakks_device_info *d = &ev->u.done.devices[i];
		char id[33], when[32], ik[65];
		wakks_id_hex(d->device, id);
		sodium_bin2hex(ik, sizeof ik, d->identity_key, 32);
		fmt_time(d->registered_ms, when, sizeof when);
		if (g.json)
			printf("{\"device\":\"%s\",\"identity_key\":\"%s\",\"registered_ms\":%llu,"
			       "\"label\":\"%s\",\"this_device\":%s}\n",
			       id, ik, (unsigned long long)d->registered_ms, d->label,
			       d->this_device ? "true" : "false");
		else
			printf("%s  %s  %-20s%s\n", id, when, d->label, d->this_device ? "  (this device)" : "");
	}
	for (size_t i = 0; i < ev->u.done.n_consents; i++) {
		const wakks_consent_entry *e = &ev->u.done.consents[i];
		char when[32];
		fmt_time(e->time_ms, when, sizeof when);
		if (g.json)
			printf("{\"kind\":\"%s\",\"tenant\":\"%s\",\"unit\":\"%s\",\"text_version\":\"%s\","
			       "\"time_ms\":%llu}\n",
			       e->kind == 1 ? "grant" : "withdrawal", e->tenant, e->unit, e->text_version,
			       (unsigned long long)e->time_ms);
		else
			printf("%s  %-10s %s%s%s  text %s\n", when, e->kind == 1 ? "granted" : "withdrawn",
			       e->tenant, e->unit[0] ? "/" : "", e->unit, e->text_version);
	}
	g.listed = true;
}

static int cmd_devices(void)
{
	need_registered();
	connect_to(WAKKS_READY);
	uint32_t op;
	int rc = wakks_devices_list(g.c, &op);
	if (rc != 0)
		die(exit_for(rc), "devices: %s", wakks_strerror(rc));
	wait_op(op, "devices");
	return EX_OK;
}

static int cmd_revoke(const char *dev_hex)
{
	uint8_t dev[16];
	if (!dev_hex || wakks_id_parse(dev_hex, dev) != 0)
		die(EX_USAGE, "revoke wants a device id (32 hex digits; see `wakks devices`)");
	need_registered();
	connect_to(WAKKS_READY);
	uint32_t op;
	int rc = wakks_device_revoke(g.c, dev, &op);
	if (rc != 0)
		die(exit_for(rc), "revoke: %s", wakks_strerror(rc));
	wait_op(op, "revoke");
	printf(g.json ? "{\"revoked\":\"%s\"}\n" : "revoked %s\n", dev_hex);
	return EX_OK;
}

static int cmd_consent(const char *verb, char *where, bool yes)
{
	need_registered();
	if (!verb)
		die(EX_USAGE, "consent grant|withdraw TENANT[/UNIT], or consent list");
	if (strcmp(verb, "list") == 0) {
		connect_to(WAKKS_READY);
		uint32_t op;
		int rc = wakks_consent_list(g.c, &op);
		if (rc != 0)
			die(exit_for(rc), "consent list: %s", wakks_strerror(rc));
		wait_op(op, "consent list");
		return EX_OK;
	}
	bool grant = strcmp(verb, "grant") == 0;
	if (!grant && strcmp(verb, "withdraw") != 0)
		die(EX_USAGE, "consent grant|withdraw TENANT[/UNIT], or consent list");
	if (!where)
		die(EX_USAGE, "consent %s needs TENANT or TENANT/UNIT", verb);
	const char *tenant = where, *unit = "";
	if (strchr(where, '/') && !split_unit(where, &tenant, &unit))
		die(EX_USAGE, "TENANT/UNIT, e.g. varde/jobcenter");
	connect_to(WAKKS_READY);
	wakks_consent_text text;
	int rc = wakks_consent_text_fetch(g.c, tenant, unit, &text);
	if (rc != 0)
		die(exit_for(rc), "cannot fetch the consent text of %s: %s", tenant, wakks_strerror(rc));
	if (grant && !g.json)
		printf("%s\n\n(consent text version %s, %s)\n", text.text, text.version, text.language);
	if (grant && !yes && isatty(0)) {
		printf("Grant consent? [y/N] ");
		fflush(stdout);
		char ans[8];
		if (!fgets(ans, sizeof ans, stdin) || (ans[0] != 'y' && ans[0] != 'j')) {
			wakks_consent_text_free(&text);
			die(EX_REFUSED, "consent not given");
		}
	}
	uint32_t op;
	rc = grant ? wakks_consent_grant(g.c, &text, &op) : wakks_consent_withdraw(g.c, &text, &op);
	wakks_consent_text_free(&text);
	if (rc != 0)
		die(exit_for(rc), "consent: %s", wakks_strerror(rc));
	wait_op(op, "consent");
	if (g.json)
		printf("{\"consent\":\"%s\",\"tenant\":\"%s\",\"unit\":\"%s\"}\n",
		       grant ? "granted" : "withdrawn", tenant, unit);
	else
		printf("consent %s: %s%s%s\n", grant ? "granted" : "withdrawn", tenant,
		       unit[0] ? "/" : "", unit);
	return EX_OK;
}

struct sn_walk {
	uint8_t id[16];
	int found;
};

static int sn_one(const uint8_t acc[16], const uint8_t dev[16], const uint8_t ik[32], void *arg)
{
	(void)ik;
	struct sn_walk *w = arg;
	if (memcmp(acc, w->id, 16) != 0 && memcmp(dev, w->id, 16) != 0)
		return 0;
	char sn[61], d[33];
	if (wakks_safety_number(g.c, dev, sn) != 0)
		return 0;
	wakks_id_hex(dev, d);
	if (g.json) {
		printf("{\"device\":\"%s\",\"safety_number\":\"%s\"}\n", d, sn);
	} else {
		printf("device %s\n  ", d);
		for (int i = 0; i < 12; i++)
			printf("%.5s%s", sn + 5 * i, i == 5 ? "\n  " : i == 11 ? "\n" : " ");
	}
	w->found++;
	return 0;
}

static int cmd_safety(const char *peer)
{
	struct sn_walk w = { .found = 0 };
	if (!peer || wakks_id_parse(peer, w.id) != 0)
		die(EX_USAGE, "safety-number wants a peer account or device id (32 hex digits)");
	wakks_peers(g.c, sn_one, &w);
	if (!w.found)
		die(EX_REFUSED, "no known device %s: exchange a message first", peer);
	return EX_OK;
}

static int peer_one(const uint8_t acc[16], const uint8_t dev[16], const uint8_t ik[32], void *arg)
{
	(void)arg;
	char a[33], d[33], k[65];
	wakks_id_hex(acc, a);
	wakks_id_hex(dev, d);
	sodium_bin2hex(k, sizeof k, ik, 32);
	printf(g.json ? "{\"account\":\"%s\",\"device\":\"%s\",\"identity_key\":\"%s\"}\n"
		      : "account %s device %s key %s\n",
	       a, d, k);
	return 0;
}

/* The command line's options, which may stand before and after the command. */
struct cli_options {
	const char *user, *idp, *issuer, *token_file, *file, *media_type;
	char *to[4], *units[4];
	int n_to, n_units;
	double idle;
	bool yes;
};

enum { O_RELAY = 256, O_CA, O_STORE, O_KEYFILE, O_JSON, O_TIMEOUT, O_USER, O_IDP, O_ISSUER,
       O_TOKENFILE, O_TO, O_UNIT, O_IDLE, O_YES, O_FILE, O_TYPE, O_SAVEDIR };

static const struct option opts[] = {
	{ "relay", required_argument, NULL, O_RELAY },
	{ "ca", required_argument, NULL, O_CA },
	{ "store", required_argument, NULL, O_STORE },
	{ "key-file", required_argument, NULL, O_KEYFILE },
	{ "json", no_argument, NULL, O_JSON },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "user", required_argument, NULL, O_USER },
	{ "idp", required_argument, NULL, O_IDP },
	{ "issuer", required_argument, NULL, O_ISSUER },
	{ "token-file", required_argument, NULL, O_TOKENFILE },
	{ "to", required_argument, NULL, O_TO },
	{ "unit", required_argument, NULL, O_UNIT },
	{ "idle", required_argument, NULL, O_IDLE },
	{ "yes", no_argument, NULL, O_YES },
	{ "file", required_argument, NULL, O_FILE },
	{ "type", required_argument, NULL, O_TYPE },
	{ "save-dir", required_argument, NULL, O_SAVEDIR },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Parses options from argv until the first non-option (or all of them, for the arguments after
 * the command). Returns -1 to go on, or the exit status (help or a usage error). */
static int parse_options(int argc, char **argv, const char *short_opts, struct cli_options *o)
{
	int ch;
	while ((ch = getopt_long(argc, argv, short_opts, opts, NULL)) != -1) {
		switch (ch) {
		case O_RELAY: g.relay = optarg; break;
		case O_CA: g.ca = optarg; break;
		case O_STORE: g.store = optarg; break;
		case O_KEYFILE: g.key_file = optarg; break;
		case O_JSON: g.json = true; break;
		case O_TIMEOUT: g.timeout_ms = (int)(atof(optarg) * 1000); break;
		case O_USER: o->user = optarg; break;
		case O_IDP: o->idp = optarg; break;
		case O_ISSUER: o->issuer = optarg; break;
		case O_TOKENFILE: o->token_file = optarg; break;
		case O_TO: if (o->n_to < 4) o->to[o->n_to++] = optarg; break;
		case O_UNIT: if (o->n_units < 4) o->units[o->n_units++] = optarg; break;
		case O_IDLE: o->idle = atof(optarg); break;
		case O_YES: o->yes = true; break;
		case O_FILE: o->file = optarg; break;
		case O_TYPE: o->media_type = optarg; break;
		case O_SAVEDIR: g.save_dir = optarg; break;
		case 'h': fputs(usage_text, stdout); return EX_OK;
		default: fputs(usage_text, stderr); return EX_USAGE;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	g.timeout_ms = DEFAULT_TIMEOUT_MS;
	struct cli_options o = { .idp = "dev-mitid", .idle = 2.0 };
	int status = parse_options(argc, argv, "+h", &o);
	if (status >= 0)
		return status;
	/* Options may also follow the command: parse them after it too. */
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return EX_USAGE;
	}
	const char *cmd = argv[optind];
	char *args[8];
	int n_args = 0;
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	optind = 1;
	status = parse_options(sub_argc, sub_argv, "h", &o);
	if (status >= 0)
		return status;
	for (int i = optind; i < sub_argc && n_args < 8; i++)
		args[n_args++] = sub_argv[i];
	if (!g.store)
		g.store = getenv("WAKKS_STORE") ? getenv("WAKKS_STORE") : "wakks-store";
	snprintf(store_path, sizeof store_path, "%s", g.store);
	g.store = store_path;
	if (g.timeout_ms <= 0)
		g.timeout_ms = DEFAULT_TIMEOUT_MS;
	if (strcmp(cmd, "init") == 0)
		return cmd_init();
	load_config();
	bool known = strcmp(cmd, "login") == 0 || strcmp(cmd, "register") == 0 ||
		     strcmp(cmd, "whoami") == 0 || strcmp(cmd, "send") == 0 ||
		     strcmp(cmd, "receive") == 0 || strcmp(cmd, "listen") == 0 ||
		     strcmp(cmd, "history") == 0 || strcmp(cmd, "devices") == 0 ||
		     strcmp(cmd, "revoke") == 0 || strcmp(cmd, "consent") == 0 ||
		     strcmp(cmd, "safety-number") == 0 || strcmp(cmd, "peers") == 0;
	if (!known) {
		fprintf(stderr, "wakks: unknown command %s (see wakks --help)\n", cmd);
		return EX_USAGE;
	}
	open_client(true, strcmp(cmd, "listen") == 0);
	int rc;
	if (strcmp(cmd, "login") == 0)
		rc = cmd_login(o.user, o.idp);
	else if (strcmp(cmd, "register") == 0)
		rc = cmd_register(o.issuer, o.token_file);
	else if (strcmp(cmd, "whoami") == 0)
		print_whoami(), rc = EX_OK;
	else if (strcmp(cmd, "send") == 0) {
		/* the text: the remaining words, joined by spaces */
		static char text[WAKKS_TEXT_MAX + 1];
		size_t n = 0;
		for (int i = 0; i < n_args; i++) {
			size_t l = strlen(args[i]);
			if (n + l + 2 > sizeof text)
				die(EX_USAGE, "text too long");
			if (i)
				text[n++] = ' ';
			memcpy(text + n, args[i], l);
			n += l;
		}
		text[n] = '\0';
		rc = cmd_send(o.to, o.n_to, o.units, o.n_units, n ? text : NULL, o.file, o.media_type);
	} else if (strcmp(cmd, "receive") == 0)
		rc = cmd_receive(o.idle, false);
	else if (strcmp(cmd, "listen") == 0)
		rc = cmd_receive(o.idle, true);
	else if (strcmp(cmd, "history") == 0)
		rc = cmd_history();
	else if (strcmp(cmd, "devices") == 0 || strcmp(cmd, "consent") == 0) {
		wakks_close(g.c);
		g.c = NULL;
		/* reopen with the list printer as the event handler */
		uint8_t key[32];
		read_key(key);
		wakks_config cfg = { .relay_url = g.relay, .ca_file = g.ca, .store_dir = g.store,
				     .store_key = key, .device_label = "wakks-cli", .on_event = on_list };
		int orc = wakks_open(&cfg, &g.c);
		sodium_memzero(key, sizeof key);
		if (orc != 0)
			die(exit_for(orc), "cannot open the store: %s", wakks_strerror(orc));
		rc = strcmp(cmd, "devices") == 0 ? cmd_devices()
						 : cmd_consent(n_args ? args[0] : NULL,
							       n_args > 1 ? args[1] : NULL, o.yes);
	} else if (strcmp(cmd, "revoke") == 0)
		rc = cmd_revoke(n_args ? args[0] : NULL);
	else if (strcmp(cmd, "safety-number") == 0)
		rc = cmd_safety(n_args ? args[0] : NULL);
	else
		rc = wakks_peers(g.c, peer_one, NULL) == 0 ? EX_OK : EX_STORE;
	wakks_disconnect(g.c);
	wakks_close(g.c);
	return rc;
}
