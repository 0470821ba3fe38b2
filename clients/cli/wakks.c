/* SPDX-License-Identifier: MPL-2.0 */
/* wakks: the OS2wakks command-line client, one device per store directory.
 *
 * Exit status: 0 success, 1 the relay or the operation refused (the message says why), 2 usage,
 * 3 store or key problem, 4 network or TLS problem, 5 timed out, 6 a message is queued but not
 * sent yet (it goes out with the next command that connects). */
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

enum { EX_OK = 0, EX_REFUSED = 1, EX_USAGE = 2, EX_STORE = 3, EX_NET = 4, EX_TIMEOUT = 5,
       EX_QUEUED = 6 };

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
	"  --version          the version of wakks\n"
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
	"                                    send a text (a caseworker may give both); when the\n"
	"                                    relay cannot be reached it stays queued (exit 6)\n"
	"  send --file PATH [--type MEDIA/TYPE] (--to ACCOUNT | --unit TENANT/UNIT)... [TEXT]\n"
	"                                    send a file, encrypted (with a text if given)\n"
	"  receive [--idle SECONDS] [--save-dir DIR]\n"
	"                                    fetch, decrypt, store and print new messages, then exit\n"
	"                                    after SECONDS without news (default 2); received files\n"
	"                                    are verified and saved in DIR (default: the store's\n"
	"                                    files/)\n"
	"  listen                            print messages as they arrive, until interrupted\n"
	"  history                           print the stored conversation history\n"
	"  outbox                            list queued messages, not yet taken by the relay\n"
	"  outbox drop MESSAGE               take a queued message out: it is never sent\n"
	"  devices                           list this account's devices\n"
	"  revoke DEVICE                     revoke a device of this account (this one: log out)\n"
	"  consent grant TENANT[/UNIT] [--yes]\n"
	"                                    show the tenant's consent text and grant consent: in a\n"
	"                                    terminal after your yes; otherwise --yes is that yes\n"
	"  consent withdraw TENANT[/UNIT]    withdraw it\n"
	"  consent list                      the account's consent history\n"
	"  safety-number PEER                safety number with a peer device (or every device of\n"
	"                                    a peer account); compare it with the peer's\n"
	"  peers                             known peer devices\n"
	"  threads [--filter all|unassigned|mine|unread]\n"
	"                                    fetch news, then list the threads held, newest first:\n"
	"                                    state, assignee, unread count, verified citizen\n"
	"  thread THREAD [--limit N]         a thread's messages, newest first; marks it read\n"
	"  take THREAD | answered THREAD | reopen THREAD | close THREAD [NOTE]\n"
	"                                    assignment and state, shared with the unit's devices\n"
	"  handover THREAD ACCOUNT [NOTE]    hand the thread to a colleague, with a note\n"
	"  identity THREAD [--reveal]        the citizen's verified identity; --reveal shows the\n"
	"                                    full CPR number (recorded in this device's audit log)\n"
	"  audit                             this device's audit log (CPR reveals, no numbers)\n"
	"  consent check ACCOUNT TENANT/UNIT whether a citizen's consent covers the unit\n"
	"\n"
	"Times are local (TZ; Europe/Copenhagen when TZ is unset).\n"
	"\n"
	"Exit status: 0 done, 1 refused by the relay or the operation (the message says why),\n"
	"2 usage, 3 store or key problem, 4 network or TLS problem, 5 timed out, 6 a message is\n"
	"queued but not sent (the next command that connects sends it; see `wakks outbox`).\n";

struct cli {
	const char *relay, *ca, *store, *key_file, *save_dir;
	bool relay_from_config, ca_from_config;
	char host[256], port[8]; /* of the relay, for messages */
	bool json;
	int timeout_ms;
	wakks_client *c;
	int n_printed;
	uint64_t last_event_mono;
	uint64_t start_ms;       /* wall clock when this command started */
	/* consent grant/withdraw: the latest record of one scope in the account's history */
	const char *scan_tenant, *scan_unit;
	int scan_kind;           /* 0 none, 1 granted, 2 withdrawn */
	uint64_t scan_relay_ms, scan_time_ms;
	char scan_version[33];
	bool quiet;              /* fetching before answering from the store: print nothing */
	bool consent_active;     /* the answer of consent check */
};

static struct cli g;

static void vsay(const char *fmt, va_list ap)
{
	fputs("wakks: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* A line on stderr that does not end the command. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

static void leave(int code) __attribute__((noreturn));
static void leave(int code)
{
	if (g.c)
		wakks_close(g.c);
	exit(code);
}

static void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	leave(code);
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
	strftime(out, cap, "%Y-%m-%d %H:%M:%S %Z", &tm);
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
			g.relay_from_config = true;
		} else if (strncmp(line, "ca=", 3) == 0 && !g.ca && line[3]) {
			snprintf(ca, sizeof ca, "%s", line + 3);
			g.ca = ca;
			g.ca_from_config = true;
		}
	}
	fclose(f);
}

/* The relay's address as the library takes it, wss://HOST[:PORT][/PATH]. Anything else is a
 * usage error that says what is wrong with it, not the library's bare "invalid argument". */
static void check_relay(void)
{
	const char *u = g.relay;
	char where[4400];
	if (g.relay_from_config)
		snprintf(where, sizeof where, "the relay %s in %s", u, config_path());
	else
		snprintf(where, sizeof where, "--relay %s", u);
	const char *fix = g.relay_from_config ? " (run `init` again with --relay to change it)" : "";
	const char *sep = strstr(u, "://");
	if (!sep)
		die(EX_USAGE, "%s has no scheme: the relay's address is wss://HOST:PORT, e.g. wss://%s%s",
		    where, u[0] ? u : "localhost:8443", fix);
	if (strncmp(u, "wss://", 6) != 0)
		die(EX_USAGE, "%s: the relay speaks WebSocket over TLS, so its address starts with "
			      "wss://, not %.*s:// (e.g. wss://%s)%s",
		    where, (int)(sep - u), u, sep[3] ? sep + 3 : "localhost:8443", fix);
	const char *h = u + 6, *end;
	size_t hl;
	if (*h == '[') {
		end = strchr(h, ']');
		if (!end)
			die(EX_USAGE, "%s: an IPv6 address needs its closing ], e.g. wss://[::1]:8443%s",
			    where, fix);
		h++;
		hl = (size_t)(end - h);
		end++;
	} else {
		end = h + strcspn(h, ":/");
		hl = (size_t)(end - h);
	}
	if (hl == 0 || hl >= sizeof g.host)
		die(EX_USAGE, "%s names no host: write wss://HOST:PORT, e.g. wss://localhost:8443%s",
		    where, fix);
	memcpy(g.host, h, hl);
	g.host[hl] = '\0';
	snprintf(g.port, sizeof g.port, "443");
	if (*end == ':') {
		char *e;
		long p = strtol(end + 1, &e, 10);
		if (end[1] < '0' || end[1] > '9' || p <= 0 || p > 65535 || (*e && *e != '/'))
			die(EX_USAGE, "%s: the port must be a number from 1 to 65535%s", where, fix);
		snprintf(g.port, sizeof g.port, "%ld", p);
	} else if (*end && *end != '/') {
		die(EX_USAGE, "%s: unexpected %s after the host; write wss://HOST:PORT%s", where, end,
		    fix);
	}
}

/* A CA file that cannot be read is the command line's mistake, not the store's. */
static void check_ca(void)
{
	if (g.ca && access(g.ca, R_OK) != 0)
		die(EX_USAGE, "cannot read the CA file %s%s%s: %s; give the relay's certificate or CA "
			      "with --ca (the development relay's is DATA/dev-cert.pem)",
		    g.ca, g.ca_from_config ? " named in " : "", g.ca_from_config ? config_path() : "",
		    strerror(errno));
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

static const char *notice_name(int type)
{
	switch (type) {
	case WAKKS_NOTICE_TAKE: return "take";
	case WAKKS_NOTICE_HANDOVER: return "handover";
	case WAKKS_NOTICE_ANSWERED: return "answered";
	case WAKKS_NOTICE_CLOSED: return "closed";
	case WAKKS_NOTICE_REOPENED: return "reopened";
	case WAKKS_NOTICE_JOURNAL_STATUS: return "journal_status";
	default: return "notice";
	}
}

static void printable(const char *in, char *out, size_t cap);

static void print_message(const wakks_message *m)
{
	if (m->kind == WAKKS_MSG_NOTICE) {
		if (!m->notice)
			return;
		char acc[33], who[33] = "", id[33], when[48], note[2001];
		wakks_id_hex(m->sender_account, acc);
		wakks_id_hex(m->id, id);
		wakks_id_hex(m->conversation, who);
		fmt_time(m->stored_ms ? m->stored_ms : m->sent_ms, when, sizeof when);
		printable(m->notice->note, note, sizeof note);
		char to[33] = "";
		if (m->notice->type == WAKKS_NOTICE_HANDOVER)
			wakks_id_hex(m->notice->account, to);
		if (g.json) {
			json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "id", id, "thread",
					      who, "from_account", acc, "notice",
					      notice_name(m->notice->type), "to_account", to, "note",
					      note, "sent_ms", (json_int_t)m->sent_ms);
			char *str = j ? json_dumps(j, JSON_COMPACT) : NULL;
			if (str)
				puts(str);
			free(str);
			json_decref(j);
		} else {
			printf("%s notice %s: %s%s%s%s%s\n", when, acc, notice_name(m->notice->type),
			       to[0] ? " to " : "", to, note[0] ? ": " : "", note);
		}
		fflush(stdout);
		return;
	}
	char acc[33], dev[33], id[33], when[48];
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
			char th[33];
			wakks_id_hex(m->conversation, th);
			json_object_set_new(j, "tenant", json_string(m->tenant));
			json_object_set_new(j, "unit", json_string(m->unit));
			json_object_set_new(j, "thread", json_string(th));
		}
		if (j && m->read_ms)
			json_object_set_new(j, "read_ms", json_integer((json_int_t)m->read_ms));
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
			printf("%s %s %s%s: %.*s%s\n", when, m->outgoing ? "me  " : "from", acc, where,
			       (int)m->text_len, m->text, m->read_ms ? "  (læst)" : "");
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
		if (g.quiet)
			break;
		print_message(ev->u.message);
		g.n_printed++;
		break;
	case WAKKS_EV_DONE:
		if (ev->u.done.consent_active)
			g.consent_active = true;
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
	case WAKKS_EV_SENT: {
		/* A message queued by an earlier command went out with this one: say so, since the
		 * person may be wondering whether to send it again. This command's own (a text sent
		 * with a file is a message of its own) are reported by `send`. */
		if (ev->u.message->sent_ms >= g.start_ms)
			break;
		char id[33];
		wakks_id_hex(ev->u.message->id, id);
		if (g.json)
			printf("{\"event\":\"sent\",\"id\":\"%s\",\"queued\":true}\n", id);
		else
			say("queued message %s is sent now", id);
		break;
	}
	case WAKKS_EV_ERROR:
		/* A refused auth is explained once, by the command that wanted the connection. */
		if (ev->u.error.code == WAKKS_RELAY_AUTH_FAILED)
			break;
		fprintf(stderr, "wakks: %s: %s\n", ev->u.error.what, wakks_strerror(ev->u.error.code));
		break;
	default:
		break;
	}
}

/* ---- opening and connecting ---------------------------------------------------------------------- */

/* The label this device registers with: the host name, which the person who has to recognise
 * the device in a list knows. Host names are printable ASCII; anything else, or none, gives the
 * program's name, and a longer one is cut to the protocol's 64 bytes (WAKKS_LABEL_MAX). */
#define WAKKS_LABEL_MAX 64
static const char *device_label(char buf[WAKKS_LABEL_MAX + 1])
{
	char host[256];
	if (gethostname(host, sizeof host) != 0)
		return "wakks-cli";
	host[sizeof host - 1] = '\0';
	size_t n = strlen(host);
	for (size_t i = 0; i < n; i++)
		if (host[i] < 0x21 || host[i] > 0x7e)
			return "wakks-cli";
	if (n == 0)
		return "wakks-cli";
	if (n > WAKKS_LABEL_MAX)
		n = WAKKS_LABEL_MAX;
	memcpy(buf, host, n);
	buf[n] = '\0';
	return buf;
}

static void open_client(bool must_exist, bool reconnect, wakks_event_cb cb)
{
	char label[WAKKS_LABEL_MAX + 1];
	struct stat st;
	if (must_exist && stat(g.store, &st) != 0)
		die(EX_STORE, "no store at %s: run `wakks --store %s --relay URL init` first", g.store,
		    g.store);
	if (!g.relay)
		die(EX_USAGE, "no relay: give --relay wss://HOST:PORT (or run `init` with it)");
	check_relay();
	check_ca();
	uint8_t key[32];
	read_key(key);
	wakks_config cfg = {
		.relay_url = g.relay,
		.ca_file = g.ca,
		.store_dir = g.store,
		.store_key = key,
		.device_label = device_label(label),
		.on_event = cb,
		.auto_reconnect = reconnect,
		.files_dir = g.save_dir,
	};
	int rc = wakks_open(&cfg, &g.c);
	sodium_memzero(key, sizeof key);
	if (rc == WAKKS_E_TLS && g.ca)
		die(EX_USAGE, "the CA file %s holds no certificate that can be read (PEM expected); "
			      "give the relay's certificate or CA with --ca", g.ca);
	if (rc == WAKKS_E_TLS)
		die(EX_NET, "cannot load the system's trusted certificates; give the relay's "
			    "certificate or CA with --ca");
	if (rc != 0)
		die(exit_for(rc), "cannot open the store %s: %s", g.store, wakks_strerror(rc));
}

/* ---- a revoked device ------------------------------------------------------------------------ */

/* The store remembers that the relay refused this device (revoked, by itself or from another
 * device): a file next to the config, written when the CLI learns it. A revoked device stays
 * revoked, so later commands say so at once instead of trying to connect. */
static const char *revoked_path(void)
{
	static char p[4200];
	snprintf(p, sizeof p, "%s/revoked", g.store);
	return p;
}

static void mark_revoked(void)
{
	FILE *f = fopen(revoked_path(), "w");
	if (!f)
		return; /* the next command finds out from the relay again */
	fprintf(f, "%llu\n", (unsigned long long)time(NULL) * 1000u);
	fclose(f);
}

/* When the CLI learned that this device is revoked (ms), or 0 when it has not. */
static uint64_t revoked_since(void)
{
	FILE *f = fopen(revoked_path(), "r");
	if (!f)
		return 0;
	unsigned long long ms = 0;
	if (fscanf(f, "%llu", &ms) != 1 || ms == 0)
		ms = 1;
	fclose(f);
	return ms;
}

static const char revoked_advice[] =
	"this device is revoked: the relay no longer accepts it (it was logged out, or revoked from "
	"another device). Start again with a new store: wakks --store NEWDIR --relay URL init, then "
	"wakks --store NEWDIR login";

/* ---- connecting ------------------------------------------------------------------------------ */

static bool reached(wakks_client *c, void *arg)
{
	int want = *(int *)arg, why = 0;
	wakks_connection_error(c, &why);
	return wakks_state(c) >= want || why == WAKKS_WHY_AUTH_REFUSED ||
	       (wakks_state(c) == WAKKS_DISCONNECTED && wakks_fd(c) < 0 && wakks_timeout_ms(c) < 0);
}

/* Says why there is no connection, in words that tell a stopped relay, a certificate that is not
 * trusted and a host that cannot be reached apart; returns the exit status. */
static int explain_no_connection(void)
{
	int why = 0, err = wakks_connection_error(g.c, &why);
	switch (why) {
	case WAKKS_WHY_AUTH_REFUSED:
		mark_revoked();
		say("%s", revoked_advice);
		return EX_REFUSED;
	case WAKKS_WHY_NO_HOST:
		say("cannot reach the relay: the host name %s does not resolve; check it in --relay",
		    g.host);
		return EX_NET;
	case WAKKS_WHY_REFUSED:
		say("cannot reach the relay: nothing listens on %s port %s (connection refused); is "
		    "the relay running, and on that port?", g.host, g.port);
		return EX_NET;
	case WAKKS_WHY_UNREACHABLE:
		say("cannot reach the relay: host %s is unreachable (no route, or it does not answer); "
		    "check the network and the host in --relay", g.host);
		return EX_NET;
	case WAKKS_WHY_CERTIFICATE:
		say("the relay at %s:%s presents a certificate that is not trusted by %s%s, or not "
		    "issued for %s; give the relay's certificate or CA with --ca (the development "
		    "relay's is DATA/dev-cert.pem)",
		    g.host, g.port, g.ca ? "the CA file " : "the system's CAs", g.ca ? g.ca : "",
		    g.host);
		return EX_NET;
	default:
		break;
	}
	if (err == WAKKS_E_TLS)
		say("TLS with %s:%s failed: is this the address of a wakks relay?", g.host, g.port);
	else if (err == WAKKS_E_HANDSHAKE)
		say("%s:%s answered but refused the WebSocket upgrade: is this the address of a wakks "
		    "relay?", g.host, g.port);
	else
		say("lost the connection to %s: %s", g.relay,
		    wakks_strerror(err ? err : WAKKS_E_CLOSED));
	return EX_NET;
}

/* Connects until want_state; 0, or the exit status after saying what went wrong. */
static int try_connect(int want_state)
{
	if (wakks_connect(g.c) != 0)
		return explain_no_connection();
	if (wakks_run_until(g.c, reached, &want_state, g.timeout_ms) != 0) {
		if (wakks_connection_error(g.c, NULL) != 0)
			return explain_no_connection(); /* reconnecting (listen): the last reason */
		if (wakks_state(g.c) == WAKKS_CONNECTING)
			say("no answer from %s port %s in %d s: the host is unreachable or a firewall "
			    "drops the connection", g.host, g.port, g.timeout_ms / 1000);
		else
			say("the relay at %s did not answer in time", g.relay);
		return EX_TIMEOUT;
	}
	if (wakks_state(g.c) >= want_state)
		return EX_OK;
	return explain_no_connection();
}

static void connect_to(int want_state)
{
	int rc = try_connect(want_state);
	if (rc != EX_OK)
		leave(rc);
}

static void need_registered(void)
{
	if (!wakks_is_registered(g.c))
		die(EX_STORE, "this device is not registered yet: run `wakks login` or `wakks register`");
	if (revoked_since())
		die(EX_REFUSED, "%s", revoked_advice);
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
	check_relay();
	check_ca();
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
	open_client(true, false, on_event);
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
	uint64_t revoked = revoked_since();
	if (g.json) {
		printf("{\"account\":\"%s\",\"device\":\"%s\",\"identity_key\":\"%s\",\"registered\":%s,"
		       "\"revoked\":%s}\n",
		       a, d, k, wakks_is_registered(g.c) ? "true" : "false", revoked ? "true" : "false");
		return;
	}
	printf("account  %s\ndevice   %s\nidentity %s\n", a[0] ? a : "(not registered)",
	       d[0] ? d : "(not registered)", k);
	if (revoked) {
		char when[48];
		fmt_time(revoked, when, sizeof when);
		printf("status   revoked: the relay refused this device (noticed %s); log in again "
		       "from a new store\n", when);
	}
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

/* The development provider's demo users (devidp/, spec/identity.md): a citizen logs in at
 * dev-mitid, a caseworker at dev-adfs. A user the chosen provider does not offer gets told where
 * they belong. */
static void wrong_provider(const char *user, const char *idp) __attribute__((noreturn));
static void wrong_provider(const char *user, const char *idp)
{
	static const char *const citizens[] = { "anna", "bo" }, *const caseworkers[] = { "camilla",
											  "dennis" };
	for (size_t i = 0; i < 2; i++) {
		if (strcmp(user, caseworkers[i]) == 0)
			die(EX_USAGE, "%s is a caseworker, and %s has no caseworkers: caseworkers log in "
				      "at the municipality's AD FS, --idp dev-adfs", user, idp);
		if (strcmp(user, citizens[i]) == 0)
			die(EX_USAGE, "%s is a citizen, and %s has no citizens: citizens log in with "
				      "MitID, --idp dev-mitid (the default)", user, idp);
	}
	die(EX_USAGE, "%s has no user %s: the citizens are anna and bo (--idp dev-mitid), the "
		      "caseworkers camilla and dennis (--idp dev-adfs)", idp, user);
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
	if (rc == WAKKS_E_NOT_FOUND)
		wrong_provider(user, idp);
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

/* The message is in the outbox, not on the relay: say so plainly, so that nobody sends it again
 * by hand and the relay gets it twice. */
static int queued(const char *hex, const char *why)
{
	say("message %s is queued, not sent (%s). The next command that connects sends it (e.g. "
	    "`wakks receive`): do not send it again. `wakks outbox` lists queued messages; "
	    "`wakks outbox drop %s` takes it out.", hex, why, hex);
	if (g.json)
		printf("{\"queued\":\"%s\"}\n", hex);
	return EX_QUEUED;
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
	char hex[33];
	wakks_id_hex(id, hex);
	rc = try_connect(WAKKS_READY);
	if (rc == EX_REFUSED) {
		/* Revoked: it can never go out from this device; do not leave it waiting. */
		wakks_outbox_drop(g.c, id);
		die(EX_REFUSED, "message %s was not sent", hex);
	}
	if (rc != EX_OK)
		return queued(hex, "the relay could not be reached");
	rc = wakks_wait(g.c, op, g.timeout_ms);
	if (rc == WAKKS_E_TIMEOUT || rc == WAKKS_E_CLOSED || rc == WAKKS_E_RETRIES ||
	    rc == WAKKS_RELAY_RATE_LIMITED || rc == WAKKS_RELAY_UNAVAILABLE ||
	    rc == WAKKS_RELAY_QUOTA_EXCEEDED)
		return queued(hex, wakks_strerror(rc));
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

/* Copies UTF-8 text for a terminal: C0 and C1 control characters and DEL become '?'. */
static void printable(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)in; *p && o + 1 < cap; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			out[o++] = '?';
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			out[o++] = '?';
			p++;
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
}

static void on_list(wakks_client *c, const wakks_event *ev, void *user)
{
	(void)c;
	(void)user;
	if (ev->type != WAKKS_EV_DONE)
		return on_event(c, ev, user);
	if (ev->u.done.consent_active)
		g.consent_active = true;
	for (size_t i = 0; i < ev->u.done.n_devices; i++) {
		const wakks_device_info *d = &ev->u.done.devices[i];
		char id[33], when[48], ik[65];
		wakks_id_hex(d->device, id);
		sodium_bin2hex(ik, sizeof ik, d->identity_key, 32);
		fmt_time(d->registered_ms, when, sizeof when);
		/* The label is another device's text: JSON escapes it, and the terminal gets no
		 * control characters from it. */
		char label[sizeof d->label];
		printable(d->label, label, sizeof label);
		if (g.json) {
			json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:b}", "device", id, "identity_key", ik,
					      "registered_ms", (json_int_t)d->registered_ms, "label",
					      label, "this_device", d->this_device);
			char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;
			if (line)
				puts(line);
			free(line);
			json_decref(j);
		} else {
			printf("%s  %s  %-20s%s\n", id, when, label[0] ? label : "-",
			       d->this_device ? "  (this device)" : "");
		}
	}
	for (size_t i = 0; i < ev->u.done.n_consents; i++) {
		const wakks_consent_entry *e = &ev->u.done.consents[i];
		if (g.scan_tenant) {
			if (strcmp(e->tenant, g.scan_tenant) == 0 && strcmp(e->unit, g.scan_unit) == 0 &&
			    e->relay_ms >= g.scan_relay_ms) {
				g.scan_kind = e->kind;
				g.scan_relay_ms = e->relay_ms;
				g.scan_time_ms = e->time_ms;
				snprintf(g.scan_version, sizeof g.scan_version, "%s", e->text_version);
			}
			continue;
		}
		char when[48];
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
	uint8_t self[16];
	if (wakks_device_id(g.c, self) == 0 && memcmp(self, dev, 16) == 0)
		mark_revoked(); /* logged out: this store is done */
	printf(g.json ? "{\"revoked\":\"%s\"}\n" : "revoked %s\n", dev_hex);
	return EX_OK;
}

/* The latest record of this scope in the account's consent history (g.scan_*). */
static void consent_state(const char *tenant, const char *unit)
{
	g.scan_tenant = tenant;
	g.scan_unit = unit;
	uint32_t op;
	int rc = wakks_consent_list(g.c, &op);
	if (rc != 0)
		die(exit_for(rc), "consent list: %s", wakks_strerror(rc));
	wait_op(op, "consent list");
	g.scan_tenant = NULL;
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
	/* Consent is given by a person, never by default: in a terminal they answer the question,
	 * anywhere else --yes is their answer. */
	bool ask = grant && !yes;
	if (ask && !isatty(0))
		die(EX_USAGE, "consent needs your explicit yes: run `wakks consent grant %s%s%s` in a "
			      "terminal to read the text and answer, or add --yes to grant it",
		    tenant, unit[0] ? "/" : "", unit);
	connect_to(WAKKS_READY);
	consent_state(tenant, unit);
	wakks_consent_text text;
	int rc = wakks_consent_text_fetch(g.c, tenant, unit, &text);
	if (rc != 0)
		die(exit_for(rc), "cannot fetch the consent text of %s: %s", tenant, wakks_strerror(rc));
	/* Granting what is already granted (the same text) or withdrawing what is not granted would
	 * only add a record that changes nothing. */
	bool active = g.scan_kind == 1;
	bool same_text = active && strcmp(g.scan_version, text.version) == 0;
	if ((grant && same_text) || (!grant && !active)) {
		char when[48] = "";
		if (g.scan_kind)
			fmt_time(g.scan_time_ms, when, sizeof when);
		if (g.json)
			printf("{\"consent\":\"%s\",\"tenant\":\"%s\",\"unit\":\"%s\"}\n",
			       grant ? "already_active" : "not_active", tenant, unit);
		else if (grant)
			printf("consent to %s%s%s is already active (granted %s, text version %s): "
			       "nothing to do\n", tenant, unit[0] ? "/" : "", unit, when, text.version);
		else
			printf("there is no active consent to %s%s%s to withdraw%s%s%s\n", tenant,
			       unit[0] ? "/" : "", unit, g.scan_kind ? " (withdrawn " : "", when,
			       g.scan_kind ? ")" : "");
		wakks_consent_text_free(&text);
		return EX_OK;
	}
	if (grant && !g.json) {
		printf("%s\n\n(consent text version %s, %s)\n", text.text, text.version, text.language);
		if (active)
			printf("(this replaces your consent to text version %s)\n", g.scan_version);
	}
	if (ask) {
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

/* ---- the outbox ------------------------------------------------------------------------------ */

static int outbox_one(const wakks_message *m, void *arg)
{
	int *n = arg;
	char id[33], to[33] = "", when[48];
	static const uint8_t zero[16];
	wakks_id_hex(m->id, id);
	if (memcmp(m->to_account, zero, 16) != 0)
		wakks_id_hex(m->to_account, to);
	fmt_time(m->sent_ms, when, sizeof when);
	const wakks_attachment *a = m->attachment;
	(*n)++;
	if (g.json) {
		json_t *j = json_pack("{s:s, s:I, s:s, s:s, s:s}", "id", id, "queued_ms",
				      (json_int_t)m->sent_ms, "to_account", to, "tenant", m->tenant,
				      "unit", m->unit);
		if (j && a)
			json_object_set_new(j, "file",
					    json_pack("{s:s, s:s, s:I}", "name", a->file_name,
						      "media_type", a->media_type, "size",
						      (json_int_t)a->size));
		else if (j)
			json_object_set_new(j, "text", json_stringn(m->text, m->text_len));
		char *str = j ? json_dumps(j, JSON_COMPACT) : NULL;
		if (str)
			puts(str);
		free(str);
		json_decref(j);
		return 0;
	}
	printf("%s  %s  to %s%s%s%s%s: ", id, when, to, to[0] && m->tenant[0] ? " " : "", m->tenant,
	       m->tenant[0] ? "/" : "", m->unit);
	if (a)
		printf("file %s (%llu bytes)\n", a->file_name, (unsigned long long)a->size);
	else
		printf("%.*s\n", (int)m->text_len, m->text);
	return 0;
}

static int cmd_outbox(const char *verb, const char *id_hex)
{
	if (!verb || strcmp(verb, "list") == 0) {
		int n = 0;
		int rc = wakks_outbox(g.c, outbox_one, &n);
		if (rc != 0)
			die(exit_for(rc), "outbox: %s", wakks_strerror(rc));
		if (n == 0 && !g.json)
			say("the outbox is empty: every message has been taken by the relay");
		return EX_OK;
	}
	if (strcmp(verb, "drop") != 0)
		die(EX_USAGE, "outbox [list], or outbox drop MESSAGE");
	uint8_t id[16];
	if (!id_hex || wakks_id_parse(id_hex, id) != 0)
		die(EX_USAGE, "outbox drop wants a message id (32 hex digits; see `wakks outbox`)");
	int rc = wakks_outbox_drop(g.c, id);
	if (rc == WAKKS_E_NOT_FOUND)
		die(EX_REFUSED, "no queued message %s: `wakks outbox` lists them (a message the relay "
				"has taken cannot be called back)", id_hex);
	if (rc != 0)
		die(exit_for(rc), "outbox drop: %s", wakks_strerror(rc));
	if (g.json)
		printf("{\"dropped\":\"%s\"}\n", id_hex);
	else
		printf("dropped %s: it will not be sent\n", id_hex);
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
	const char *filter;
	int limit;
	bool reveal;
	bool idle_given;
};

/* ---- threads (spec/client.md §12-§18) ---------------------------------------------------- */

static bool is_thread_command(const char *cmd)
{
	static const char *const names[] = { "threads", "thread", "take", "answered", "reopen",
					     "close", "handover", "identity", "audit", NULL };
	for (int i = 0; names[i]; i++)
		if (strcmp(cmd, names[i]) == 0)
			return true;
	return false;
}

static const char *reason_name(int r)
{
	switch (r) {
	case WAKKS_IDR_MALFORMED: return "malformed";
	case WAKKS_IDR_UNAVAILABLE: return "unavailable";
	case WAKKS_IDR_FOREIGN_PROVIDER: return "foreign_provider";
	case WAKKS_IDR_SIGNATURE: return "signature";
	case WAKKS_IDR_AUDIENCE: return "audience";
	case WAKKS_IDR_KEY_BINDING: return "key_binding";
	case WAKKS_IDR_CLAIMS: return "claims";
	default: return "not_presented";
	}
}

static const char *state_name(int st)
{
	return st == WAKKS_THREAD_ANSWERED ? "answered" : st == WAKKS_THREAD_CLOSED ? "closed" : "open";
}

/* "Anna Jensen · 050384-xxxx · verificeret med MitID", or why not. */
static void identity_text(const wakks_identity *id, char *out, size_t cap)
{
	char name[256];
	printable(id->name, name, sizeof name);
	if (id->status == WAKKS_ID_VERIFIED)
		snprintf(out, cap, "%s · %s · verificeret med MitID", name, id->cpr_masked);
	else if (id->status == WAKKS_ID_UNVERIFIED)
		snprintf(out, cap, "ikke verificeret (%s)", reason_name(id->reason));
	else
		snprintf(out, cap, "ikke verificeret (not_presented)");
}

static void print_thread(const wakks_thread *t)
{
	char id[33], cit[33], who[33] = "-", ident[400];
	wakks_id_hex(t->id, id);
	wakks_id_hex(t->citizen, cit);
	if (t->assigned)
		wakks_id_hex(t->assignee, who);
	identity_text(&t->identity, ident, sizeof ident);
	if (g.json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:I, s:s}", "thread", id,
				      "citizen", cit, "tenant", t->tenant, "unit", t->unit, "state",
				      state_name(t->state), "assignee", t->assigned ? who : "",
				      "unread", (int)t->unread, "messages", (int)t->messages,
				      "last_ms", (json_int_t)t->last_ms, "identity",
				      t->identity.status == WAKKS_ID_VERIFIED ? "verified" : "unverified");
		if (j && t->identity.status == WAKKS_ID_VERIFIED) {
			json_object_set_new(j, "name", json_string(t->identity.name));
			json_object_set_new(j, "cpr", json_string(t->identity.cpr_masked));
		} else if (j) {
			json_object_set_new(j, "reason", json_string(reason_name(t->identity.reason)));
		}
		char *str = j ? json_dumps(j, JSON_COMPACT) : NULL;
		if (str)
			puts(str);
		free(str);
		json_decref(j);
		return;
	}
	printf("%s  %s/%s  %-8s  assignee %s  unread %u  %s\n", id, t->tenant, t->unit,
	       state_name(t->state), who, t->unread, ident);
}

/* Thread commands answer from the store after fetching what the relay holds; the relay delivers
 * a device's mailbox right after auth, so a short quiet spell says it is all here. */
#define THREAD_SYNC_IDLE_S 0.5

/* Fetches what the relay holds for this device, quietly, before answering from the store. */
static void sync_quietly(double idle_s)
{
	need_registered();
	connect_to(WAKKS_READY);
	g.quiet = true;
	g.last_event_mono = mono_ms();
	uint64_t idle = (uint64_t)((idle_s > 0 ? idle_s : 1.0) * 1000);
	/* Short polls, so the idle time is noticed when it has passed (not at the timeout). */
	uint64_t end = mono_ms() + (uint64_t)g.timeout_ms;
	while (!quiet_for(g.c, &idle) && mono_ms() < end)
		wakks_poll(g.c, 100);
	g.quiet = false;
}

static void parse_thread(const char *hex, uint8_t out[16])
{
	if (!hex || wakks_id_parse(hex, out) != 0)
		die(EX_USAGE, "a thread is 32 hex digits (see wakks threads)");
}

static int thread_message_one(const wakks_message *m, void *arg)
{
	(void)arg;
	print_message(m);
	return 0;
}

static int audit_one(const wakks_audit_entry *e, void *arg)
{
	(void)arg;
	char th[33], cit[33], when[48];
	wakks_id_hex(e->thread, th);
	wakks_id_hex(e->citizen, cit);
	fmt_time(e->time_ms, when, sizeof when);
	if (g.json)
		printf("{\"audit\":\"cpr_reveal\",\"time_ms\":%llu,\"thread\":\"%s\",\"citizen\":\"%s\"}\n",
		       (unsigned long long)e->time_ms, th, cit);
	else
		printf("%s  cpr_reveal  thread %s  citizen %s\n", when, th, cit);
	return 0;
}

static int cmd_thread(const char *cmd, char **args, int n_args, const struct cli_options *o)
{
	uint8_t th[16], acc[16];
	if (strcmp(cmd, "audit") == 0)
		return wakks_audit_list(g.c, audit_one, NULL) == 0 ? EX_OK : EX_STORE;
	if (strcmp(cmd, "threads") == 0) {
		int filter = WAKKS_FILTER_ALL;
		if (o->filter && strcmp(o->filter, "unassigned") == 0)
			filter = WAKKS_FILTER_UNASSIGNED;
		else if (o->filter && strcmp(o->filter, "mine") == 0)
			filter = WAKKS_FILTER_MINE;
		else if (o->filter && strcmp(o->filter, "unread") == 0)
			filter = WAKKS_FILTER_UNREAD;
		else if (o->filter && strcmp(o->filter, "all") != 0)
			die(EX_USAGE, "--filter is all, unassigned, mine or unread");
		sync_quietly(o->idle_given ? o->idle : THREAD_SYNC_IDLE_S);
		wakks_thread list[50];
		size_t n = 0;
		uint64_t before = 0;
		do {
			int rc = wakks_threads(g.c, filter, before, list, 50, &n);
			if (rc != 0)
				die(exit_for(rc), "threads: %s", wakks_strerror(rc));
			for (size_t i = 0; i < n; i++)
				print_thread(&list[i]);
			if (n)
				before = list[n - 1].last_seq;
		} while (n == 50);
		return EX_OK;
	}
	parse_thread(n_args ? args[0] : NULL, th);
	sync_quietly(o->idle_given ? o->idle : THREAD_SYNC_IDLE_S);
	wakks_thread t;
	int rc = wakks_thread_get(g.c, th, &t);
	if (rc != 0)
		die(rc == WAKKS_E_NOT_FOUND ? EX_REFUSED : exit_for(rc), "no such thread on this device");
	if (strcmp(cmd, "thread") == 0) {
		print_thread(&t);
		rc = wakks_thread_messages(g.c, th, 0, o->limit > 0 ? (size_t)o->limit : 50,
					   thread_message_one, NULL);
		if (rc == 0)
			rc = wakks_thread_read(g.c, th);
		if (rc != 0)
			die(exit_for(rc), "thread: %s", wakks_strerror(rc));
		wakks_run_until(g.c, send_settled, NULL, g.timeout_ms);
		return EX_OK;
	}
	if (strcmp(cmd, "identity") == 0) {
		print_thread(&t);
		if (!o->reveal)
			return EX_OK;
		char cpr[11];
		rc = wakks_identity_reveal(g.c, th, cpr);
		if (rc != 0)
			die(EX_REFUSED, "no verified CPR number to show: %s", wakks_strerror(rc));
		if (g.json)
			printf("{\"cpr\":\"%s\"}\n", cpr);
		else
			printf("CPR %.6s-%.4s\n", cpr, cpr + 6);
		sodium_memzero(cpr, sizeof cpr);
		return EX_OK;
	}
	int type = strcmp(cmd, "take") == 0	  ? WAKKS_NOTICE_TAKE
		   : strcmp(cmd, "answered") == 0 ? WAKKS_NOTICE_ANSWERED
		   : strcmp(cmd, "reopen") == 0	  ? WAKKS_NOTICE_REOPENED
		   : strcmp(cmd, "close") == 0	  ? WAKKS_NOTICE_CLOSED
						  : WAKKS_NOTICE_HANDOVER;
	int first_note = 1;
	if (type == WAKKS_NOTICE_HANDOVER) {
		if (n_args < 2 || wakks_id_parse(args[1], acc) != 0)
			die(EX_USAGE, "handover THREAD ACCOUNT [NOTE]");
		first_note = 2;
	}
	static char note[2001];
	size_t nl = 0;
	for (int i = first_note; i < n_args; i++) {
		size_t l = strlen(args[i]);
		if (nl + l + 2 > sizeof note)
			die(EX_USAGE, "the note is longer than 2000 bytes");
		if (nl)
			note[nl++] = ' ';
		memcpy(note + nl, args[i], l);
		nl += l;
	}
	note[nl] = '\0';
	if (nl && type != WAKKS_NOTICE_HANDOVER && type != WAKKS_NOTICE_CLOSED)
		die(EX_USAGE, "only handover and close take a note");
	uint32_t op;
	rc = wakks_thread_notice(g.c, th, type, type == WAKKS_NOTICE_HANDOVER ? acc : NULL, NULL, 0,
				 nl ? note : NULL, NULL, &op);
	if (rc != 0)
		die(exit_for(rc), "%s: %s", cmd, wakks_strerror(rc));
	wait_op(op, cmd);
	if (g.json)
		printf("{\"%s\":\"%s\"}\n", cmd, args[0]);
	else
		printf("%s: %s\n", cmd, args[0]);
	return EX_OK;
}

static int cmd_consent_check(const char *account, char *where)
{
	uint8_t acc[16];
	char *slash = where ? strchr(where, '/') : NULL;
	if (!account || wakks_id_parse(account, acc) != 0 || !slash)
		die(EX_USAGE, "consent check ACCOUNT TENANT/UNIT");
	*slash = '\0';
	need_registered();
	connect_to(WAKKS_READY);
	uint32_t op;
	int rc = wakks_consent_check(g.c, acc, where, slash + 1, &op);
	if (rc != 0)
		die(exit_for(rc), "consent check: %s", wakks_strerror(rc));
	g.consent_active = false;
	wait_op(op, "consent check");
	if (g.json)
		printf("{\"consent\":\"%s\"}\n", g.consent_active ? "active" : "none");
	else
		printf("consent %s for %s/%s\n", g.consent_active ? "active" : "not given", where,
		       slash + 1);
	return EX_OK;
}

enum { O_RELAY = 256, O_CA, O_STORE, O_KEYFILE, O_JSON, O_TIMEOUT, O_USER, O_IDP, O_ISSUER,
       O_TOKENFILE, O_TO, O_UNIT, O_IDLE, O_YES, O_FILE, O_TYPE, O_SAVEDIR, O_VERSION, O_FILTER,
       O_LIMIT, O_REVEAL };

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
	{ "filter", required_argument, NULL, O_FILTER },
	{ "limit", required_argument, NULL, O_LIMIT },
	{ "reveal", no_argument, NULL, O_REVEAL },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, O_VERSION },
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
		case O_IDLE: o->idle = atof(optarg); o->idle_given = true; break;
		case O_YES: o->yes = true; break;
		case O_FILE: o->file = optarg; break;
		case O_TYPE: o->media_type = optarg; break;
		case O_SAVEDIR: g.save_dir = optarg; break;
		case O_FILTER: o->filter = optarg; break;
		case O_LIMIT: o->limit = atoi(optarg); break;
		case O_REVEAL: o->reveal = true; break;
		case 'h': fputs(usage_text, stdout); return EX_OK;
		case O_VERSION: printf("wakks %s (OS2wakks)\n", WAKKS_VERSION); return EX_OK;
		default: fputs(usage_text, stderr); return EX_USAGE;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	g.timeout_ms = DEFAULT_TIMEOUT_MS;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	g.start_ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
	/* Times are shown in local time with their zone; the people using this live in Denmark. */
	if (!getenv("TZ"))
		setenv("TZ", "Europe/Copenhagen", 1);
	tzset();
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
	/* 0, not 1: getopt starts afresh, so options after the command's own arguments count too
	 * (`consent grant varde --yes`), not only the first parse's order */
	optind = 0;
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
		     strcmp(cmd, "safety-number") == 0 || strcmp(cmd, "peers") == 0 ||
		     strcmp(cmd, "outbox") == 0 || is_thread_command(cmd);
	if (!known) {
		fprintf(stderr, "wakks: unknown command %s (see wakks --help)\n", cmd);
		return EX_USAGE;
	}
	/* devices and consent print what the relay's answer carries */
	bool lists = strcmp(cmd, "devices") == 0 || strcmp(cmd, "consent") == 0;
	open_client(true, strcmp(cmd, "listen") == 0, lists ? on_list : on_event);
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
	else if (strcmp(cmd, "devices") == 0)
		rc = cmd_devices();
	else if (strcmp(cmd, "consent") == 0 && n_args && strcmp(args[0], "check") == 0)
		rc = cmd_consent_check(n_args > 1 ? args[1] : NULL, n_args > 2 ? args[2] : NULL);
	else if (strcmp(cmd, "consent") == 0)
		rc = cmd_consent(n_args ? args[0] : NULL, n_args > 1 ? args[1] : NULL, o.yes);
	else if (is_thread_command(cmd))
		rc = cmd_thread(cmd, args, n_args, &o);
	else if (strcmp(cmd, "outbox") == 0)
		rc = cmd_outbox(n_args ? args[0] : NULL, n_args > 1 ? args[1] : NULL);
	else if (strcmp(cmd, "revoke") == 0)
		rc = cmd_revoke(n_args ? args[0] : NULL);
	else if (strcmp(cmd, "safety-number") == 0)
		rc = cmd_safety(n_args ? args[0] : NULL);
	else
		rc = wakks_peers(g.c, peer_one, NULL) == 0 ? EX_OK : EX_STORE;
	wakks_disconnect(g.c);
	wakks_close(g.c);
	return rc;
}
