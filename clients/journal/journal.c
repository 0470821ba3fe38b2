/* SPDX-License-Identifier: MPL-2.0 */
/* The engine. One thread: the libwakks event loop, and between its polls the due handovers.
 *
 * Never lose: libwakks runs with manual_ack, so the relay keeps an envelope until wakks_ack();
 * that happens only once the note's record says the destination accepted it. Never duplicate:
 * every message has an idempotency key; a message reported again (after a crash, a reconnect or
 * a lost ack) finds its record and is only acknowledged, and a note handed over again after a
 * crash between the destination's acceptance and our record is recognised by the destination by
 * the same key. The order of durable steps per message (spec/journal.md §3):
 *   1. spool the note (rename)  2. record "spooled"  3. hand over  4. record the result
 *   5. ack the envelope  6. notice into the thread (when supported). */
#include "journal.h"

#include <errno.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "dest.h"
#include "fsutil.h"
#include "jstore.h"
#include "note.h"
#include "wakks.h"

#define MAX_PENDING_ACKS 256

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Logs go to stderr, one line each, with ids and states only: never text, names or CPR. */
static void jlog(const char *level, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#include <stdarg.h>
static void jlog(const char *level, const char *what, const char *fmt, ...)
{
	char t[32];
	jnote_iso_time(now_ms(), t);
	fprintf(stderr, "%s %s journal %s ", t, level, what);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- configuration ----------------------------------------------------------------------- */

static void trim(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	size_t i = 0;
	while (s[i] == ' ' || s[i] == '\t')
		i++;
	memmove(s, s + i, n - i + 1);
}

int jconf_load(const char *path, struct jconf *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->destination, sizeof c->destination, "directory");
	snprintf(c->idp, sizeof c->idp, "dev-adfs");
	snprintf(c->grouping, sizeof c->grouping, "message");
	c->max_attempts = 8;
	c->notices = true;
	c->retry_base_ms = 1000;
	c->retry_max_ms = 300000;
	c->receipt_timeout_ms = 600000;
	c->sf.timeout_ms = 30000;
	c->sf.sftp.timeout_ms = 30000;
	c->sf.sftp.port = 22;
	snprintf(c->sf.sftp.remote_dir, sizeof c->sf.sftp.remote_dir, "journal");
	snprintf(c->receipts.listen, sizeof c->receipts.listen, "127.0.0.1");
	snprintf(c->receipts.path, sizeof c->receipts.path, "/sf2900/kvittering");
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "wakks-journal: cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	char line[1024];
	int n = 0, bad = 0;
	while (fgets(line, sizeof line, f)) {
		n++;
		trim(line);
		if (!line[0] || line[0] == '#')
			continue;
		char *eq = strchr(line, '=');
		if (!eq) {
			fprintf(stderr, "wakks-journal: %s:%d: expected key = value\n", path, n);
			bad = 1;
			continue;
		}
		*eq = '\0';
		char *k = line, *v = eq + 1;
		trim(k);
		trim(v);
#define STR(name)                                                         \
	if (strcmp(k, #name) == 0) {                                      \
		snprintf(c->name, sizeof c->name, "%s", v);               \
		continue;                                                 \
	}
		STR(relay_url)
		STR(ca_file)
		STR(state_dir)
		STR(idp)
		STR(devidp_user)
		STR(id_token_file)
		STR(destination)
		STR(directory)
		STR(names_file)
		STR(grouping)
#undef STR
#define SUB(key, field)                                                   \
	if (strcmp(k, key) == 0) {                                        \
		snprintf(c->field, sizeof c->field, "%s", v);             \
		continue;                                                 \
	}
		SUB("sf2900_service_url", sf.service_url)
		SUB("sf2900_sts_url", sf.sts_url)
		SUB("sf2900_entity_id", sf.entity_id)
		SUB("sf2900_cert", sf.cert_file)
		SUB("sf2900_key", sf.key_file)
		SUB("sf2900_ca", sf.ca_file)
		SUB("sf2900_cvr", sf.cvr)
		SUB("sf2900_sender_system", sf.sender_system)
		SUB("sf2900_recipient_system", sf.recipient_system)
		SUB("sftp_host", sf.sftp.host)
		SUB("sftp_user", sf.sftp.user)
		SUB("sftp_key", sf.sftp.key_file)
		SUB("sftp_host_fingerprint", sf.sftp.host_fingerprint)
		SUB("sftp_dir", sf.sftp.remote_dir)
		SUB("receipt_listen", receipts.listen)
		SUB("receipt_cert", receipts.cert_file)
		SUB("receipt_key", receipts.key_file)
		SUB("receipt_client_ca", receipts.client_ca)
		SUB("receipt_path", receipts.path)
#undef SUB
		char *end;
		unsigned long long u = strtoull(v, &end, 10);
		bool num_ok = *v && !*end;
		if (strcmp(k, "max_attempts") == 0 && num_ok && u >= 1 && u <= 1000) {
			c->max_attempts = (unsigned)u;
		} else if (strcmp(k, "retry_base_ms") == 0 && num_ok && u >= 10) {
			c->retry_base_ms = u;
		} else if (strcmp(k, "retry_max_ms") == 0 && num_ok && u >= 10) {
			c->retry_max_ms = u;
		} else if (strcmp(k, "notices") == 0 && (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)) {
			/* false for a second journal device (another destination) of the same tenant:
			 * the unit hears the status once */
			c->notices = strcmp(v, "true") == 0;
		} else if (strcmp(k, "receipt_timeout_ms") == 0 && num_ok && u >= 10) {
			c->receipt_timeout_ms = u;
		} else if (strcmp(k, "sf2900_timeout_ms") == 0 && num_ok && u >= 10 && u < 600000) {
			c->sf.timeout_ms = (int)u;
			c->sf.sftp.timeout_ms = (int)u;
		} else if (strcmp(k, "sftp_port") == 0 && num_ok && u >= 1 && u < 65536) {
			c->sf.sftp.port = (int)u;
		} else if (strcmp(k, "receipt_port") == 0 && num_ok && u < 65536) {
			c->receipts.port = (int)u;
		} else {
			fprintf(stderr, "wakks-journal: %s:%d: unknown key or bad value '%s'\n", path, n,
				k);
			bad = 1;
		}
	}
	fclose(f);
	if (!bad && (!c->relay_url[0] || !c->state_dir[0])) {
		fprintf(stderr, "wakks-journal: %s: relay_url and state_dir are required\n", path);
		bad = 1;
	}
	if (!bad && strcmp(c->destination, "directory") == 0 && !c->directory[0]) {
		fprintf(stderr, "wakks-journal: %s: destination directory needs directory =\n", path);
		bad = 1;
	}
	if (!bad && strcmp(c->grouping, "message") != 0 && strcmp(c->grouping, "day") != 0) {
		fprintf(stderr, "wakks-journal: %s: grouping is message or day\n", path);
		bad = 1;
	}
	if (!bad && strcmp(c->grouping, "day") == 0 && strcmp(c->destination, "directory") != 0) {
		/* A day note grows with each message; how SF2900 amends a handed-over note is for the
		 * integration description to say (spec/journal.md §2.2). */
		fprintf(stderr, "wakks-journal: %s: grouping = day needs destination = directory\n", path);
		bad = 1;
	}
	if (!bad && strcmp(c->destination, "sf2900") == 0 &&
	    (!c->receipts.cert_file[0] || !c->receipts.key_file[0] || !c->receipts.client_ca[0])) {
		fprintf(stderr, "wakks-journal: %s: sf2900 needs receipt_cert, receipt_key and "
				"receipt_client_ca for its receipt endpoint\n", path);
		bad = 1;
	}
	if (!bad && strcmp(c->destination, "directory") != 0 && strcmp(c->destination, "sf2900") != 0) {
		fprintf(stderr, "wakks-journal: %s: unknown destination '%s'\n", path, c->destination);
		bad = 1;
	}
	return bad ? -1 : 0;
}

/* ---- the engine --------------------------------------------------------------------------- */

struct pending_ack {
	uint8_t key[JKEY_BYTES];
	uint64_t delivery;
};

struct journal {
	const struct jconf *cf;
	wakks_client *c;
	jstore *st;
	jdest *dest;
	char spool[700];
	struct pending_ack acks[MAX_PENDING_ACKS];
	size_t n_acks;
	atomic_bool work; /* something may be due: scan the store (set by the receipt thread too) */
	jreceipts *receipts;
	json_t *names;
};

static void key_hex(const uint8_t key[JKEY_BYTES], char out[65])
{
	for (int i = 0; i < JKEY_BYTES; i++)
		snprintf(out + 2 * i, 3, "%02x", key[i]);
}

static int key_parse(const char *hex, uint8_t key[JKEY_BYTES])
{
	if (strlen(hex) != 2 * JKEY_BYTES)
		return -1;
	for (int i = 0; i < JKEY_BYTES; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		key[i] = (uint8_t)v;
	}
	return 0;
}

/* spec/journal.md §3: SHA-256("wakks.journal.v1" 0x00 tenant 0x00 thread[16] message_id[16]). */
static void note_key(const wakks_message *m, uint8_t key[JKEY_BYTES])
{
	crypto_hash_sha256_state h;
	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, (const uint8_t *)"wakks.journal.v1", 17);
	crypto_hash_sha256_update(&h, (const uint8_t *)m->tenant, strlen(m->tenant) + 1);
	crypto_hash_sha256_update(&h, m->conversation, 16);
	crypto_hash_sha256_update(&h, m->id, 16);
	crypto_hash_sha256_final(&h, key);
}

/* spec/client.md §7: the unit conversation id of (citizen, tenant, unit). */
static void unit_conversation(const uint8_t citizen[16], const char *tenant, const char *unit,
			      uint8_t out[16])
{
	uint8_t d[32];
	crypto_hash_sha256_state h;
	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, (const uint8_t *)"wakks/v1/conversation", 22);
	crypto_hash_sha256_update(&h, citizen, 16);
	crypto_hash_sha256_update(&h, (const uint8_t *)tenant, strlen(tenant) + 1);
	crypto_hash_sha256_update(&h, (const uint8_t *)unit, strlen(unit) + 1);
	crypto_hash_sha256_final(&h, d);
	memcpy(out, d, 16);
}

static const char *rec_str(json_t *rec, const char *k)
{
	const char *s = json_string_value(json_object_get(rec, k));
	return s ? s : "";
}

static uint64_t rec_u64(json_t *rec, const char *k)
{
	json_int_t v = json_integer_value(json_object_get(rec, k));
	return v > 0 ? (uint64_t)v : 0;
}

static bool acked_state(const char *s)
{
	return strcmp(s, "journalised") == 0 || strcmp(s, "accepted") == 0 ||
	       strcmp(s, "failed") == 0;
}

static void remember_delivery(struct journal *j, const uint8_t key[JKEY_BYTES], uint64_t delivery)
{
	for (size_t i = 0; i < j->n_acks; i++)
		if (memcmp(j->acks[i].key, key, JKEY_BYTES) == 0) {
			j->acks[i].delivery = delivery;
			return;
		}
	/* More unacknowledged envelopes than this the relay does not send at once (its in-flight
	 * limit); one that does not fit is delivered again on the next connection. */
	if (j->n_acks < MAX_PENDING_ACKS) {
		memcpy(j->acks[j->n_acks].key, key, JKEY_BYTES);
		j->acks[j->n_acks++].delivery = delivery;
	}
}

static void ack_if_known(struct journal *j, const uint8_t key[JKEY_BYTES])
{
	for (size_t i = 0; i < j->n_acks; i++)
		if (memcmp(j->acks[i].key, key, JKEY_BYTES) == 0) {
			if (wakks_ack(j->c, j->acks[i].delivery) != 0)
				return; /* not connected: redelivered, found accepted, acked then */
			j->acks[i] = j->acks[--j->n_acks];
			return;
		}
}

static const char *caseworker_name(struct journal *j, const uint8_t account[16])
{
	char h[33];
	wakks_id_hex(account, h);
	return j->names ? json_string_value(json_object_get(j->names, h)) : NULL;
}

static void on_message(struct journal *j, const wakks_message *m)
{
	if (m->outgoing || !m->delivery)
		return;
	if (m->kind == WAKKS_MSG_NOTICE) {
		/* Thread management (take, handover, closed, another journal's status): not
		 * conversation with the citizen, so no note. */
		wakks_ack(j->c, m->delivery);
		return;
	}
	if (!m->tenant[0] || !m->unit[0]) {
		/* Not a unit thread (a colleague writing to the journal account directly): there is
		 * no case to journalise it in. Acknowledged, and said so by id. */
		char h[33];
		wakks_id_hex(m->id, h);
		jlog("warn", "not_unit_thread", "message=%s (acknowledged, not journalised)", h);
		wakks_ack(j->c, m->delivery);
		return;
	}
	uint8_t key[JKEY_BYTES];
	char kh[65];
	note_key(m, key);
	key_hex(key, kh);
	json_t *rec = NULL;
	int rc = jstore_get(j->st, key, &rec);
	if (rc < 0) {
		jlog("error", "store", "key=%s: journal store unreadable; not acknowledged", kh);
		return;
	}
	if (rc == 0) {
		/* Seen before: acknowledge once accepted, otherwise wait for the handover. */
		bool ackable = acked_state(rec_str(rec, "state"));
		json_decref(rec);
		/* Said in the log so a test (and an operator) can see acks that did not reach the
		 * relay: after a clean stop nothing should be delivered twice. */
		jlog("info", "redelivered", "key=%s %s", kh, ackable ? "acknowledged again" : "in progress");
		if (ackable)
			wakks_ack(j->c, m->delivery);
		else
			remember_delivery(j, key, m->delivery);
		return;
	}
	/* Whose thread: a record of this version names its citizen (the thread reference inside
	 * the encryption); an older one is placed by its thread id, which is derived from the
	 * citizen's account (spec/client.md §7), so a sender whose account gives the id is the
	 * citizen, and a caseworker's message belongs to the citizen recorded for the thread. */
	struct jnote n = { .m = m };
	snprintf(n.key_hex, sizeof n.key_hex, "%s", kh);
	static const uint8_t zero[16];
	uint8_t conv[16];
	if (memcmp(m->citizen, zero, 16) != 0) {
		n.citizen_known = true;
		memcpy(n.citizen, m->citizen, 16);
	} else {
		unit_conversation(m->sender_account, m->tenant, m->unit, conv);
		if (memcmp(conv, m->conversation, 16) == 0) {
			n.citizen_known = true;
			memcpy(n.citizen, m->sender_account, 16);
		} else if (jstore_thread_get(j->st, m->conversation, n.citizen) == 0) {
			unit_conversation(n.citizen, m->tenant, m->unit, conv);
			n.citizen_known = memcmp(conv, m->conversation, 16) == 0;
		}
	}
	n.from_citizen = n.citizen_known && memcmp(n.citizen, m->sender_account, 16) == 0;
	if (n.from_citizen && jstore_thread_put(j->st, m->conversation, m->sender_account) != 0) {
		jlog("error", "store", "key=%s: thread not recorded; not acknowledged", kh);
		return;
	}
	if (!n.from_citizen)
		n.sender_name = caseworker_name(j, m->sender_account);
	/* The citizen's identity as this device verified it from the citizen's presentation
	 * (spec/client.md §15): name and CPR into the note; the reveal of the full number is
	 * written to this device's local audit log. */
	wakks_thread th;
	char cpr[11] = "";
	n.identity_reason = "not_presented";
	if (wakks_thread_get(j->c, m->conversation, &th) == 0) {
		static const char *const reasons[] = { "none", "malformed", "unavailable",
						       "foreign_provider", "signature", "audience",
						       "key_binding", "claims" };
		if (th.identity.status == WAKKS_ID_VERIFIED &&
		    wakks_identity_reveal(j->c, m->conversation, cpr) == 0) {
			n.citizen_cpr = cpr;
			n.citizen_name = th.identity.name;
			n.identity_reason = NULL;
		} else if (th.identity.status == WAKKS_ID_UNVERIFIED && th.identity.reason >= 0 &&
			   th.identity.reason < 8) {
			n.identity_reason = reasons[th.identity.reason];
		}
	}
	char err[160];
	int src = jnote_spool(j->spool, &n, now_ms(), err, sizeof err);
	sodium_memzero(cpr, sizeof cpr);
	if (src != 0) {
		jlog("error", "spool", "key=%s: %s; not acknowledged", kh, err);
		return;
	}
	char h[33];
	rec = json_object();
	json_object_set_new(rec, "state", json_string("spooled"));
	json_object_set_new(rec, "attempts", json_integer(0));
	json_object_set_new(rec, "next_try_ms", json_integer(0));
	wakks_id_hex(m->id, h);
	json_object_set_new(rec, "message_id", json_string(h));
	wakks_id_hex(m->conversation, h);
	json_object_set_new(rec, "thread", json_string(h));
	json_object_set_new(rec, "tenant", json_string(m->tenant));
	json_object_set_new(rec, "unit", json_string(m->unit));
	json_object_set_new(rec, "created_ms", json_integer((json_int_t)now_ms()));
	json_object_set_new(rec, "notice", json_string("none"));
	json_object_set_new(rec, "spool", json_true());
	if (m->attachment && m->attachment->state == WAKKS_ATT_SAVED && m->attachment->path)
		json_object_set_new(rec, "received_file", json_string(m->attachment->path));
	rc = jstore_put(j->st, key, rec);
	json_decref(rec);
	if (rc != 0) {
		jlog("error", "store", "key=%s: note not recorded; not acknowledged", kh);
		return;
	}
	remember_delivery(j, key, m->delivery);
	j->work = true;
	jlog("info", "spooled", "key=%s", kh);
}

static void on_event(wakks_client *c, const wakks_event *ev, void *user)
{
	(void)c;
	struct journal *j = user;
	if (ev->type == WAKKS_EV_MESSAGE)
		on_message(j, ev->u.message);
	else if (ev->type == WAKKS_EV_STATE && ev->u.state == WAKKS_READY)
		j->work = true; /* acks and notices that waited for the connection */
	else if (ev->type == WAKKS_EV_ERROR)
		jlog("warn", "client", "%s (%s)", ev->u.error.what, wakks_strerror(ev->u.error.code));
}

/* ---- handover ------------------------------------------------------------------------------ */

struct outcome {
	int result;
	const char *reason;
	const struct jconf *cf;
	uint64_t now;
};

/* A handover that did not succeed: tried again after a back-off doubling per attempt, or, after
 * max_attempts, parked ("dead": kept in the spool and the store, the envelope left on the relay)
 * until an operator retries (`wakks-journal retry`). */
static void retry_or_park(json_t *rec, uint64_t attempts, const char *reason,
			  const struct jconf *cf, uint64_t now)
{
	json_object_set_new(rec, "reason", json_string(reason));
	if (attempts >= cf->max_attempts) {
		json_object_set_new(rec, "state", json_string("dead"));
		return;
	}
	uint64_t back = cf->retry_base_ms;
	for (uint64_t i = 1; i < attempts && back < cf->retry_max_ms; i++)
		back *= 2;
	if (back > cf->retry_max_ms)
		back = cf->retry_max_ms;
	json_object_set_new(rec, "state", json_string("spooled"));
	json_object_set_new(rec, "next_try_ms", json_integer((json_int_t)(now + back)));
}

static int apply_outcome(json_t **recp, void *arg)
{
	struct outcome *o = arg;
	json_t *rec = *recp;
	if (!rec || strcmp(rec_str(rec, "state"), "spooled") != 0)
		return 0; /* changed meanwhile (an operator, a receipt): leave it */
	uint64_t attempts = rec_u64(rec, "attempts") + 1;
	json_object_set_new(rec, "attempts", json_integer((json_int_t)attempts));
	json_object_set_new(rec, "updated_ms", json_integer((json_int_t)o->now));
	if (o->result == JDEST_DONE) {
		json_object_set_new(rec, "state", json_string("journalised"));
		json_object_set_new(rec, "notice", json_string(o->cf->notices ? "pending" : "none"));
		json_object_del(rec, "reason");
	} else if (o->result == JDEST_SENT) {
		json_object_set_new(rec, "state", json_string("sent"));
		json_object_set_new(rec, "deadline_ms",
				    json_integer((json_int_t)(o->now + o->cf->receipt_timeout_ms)));
	} else if (o->result == JDEST_RETRY) {
		retry_or_park(rec, attempts, o->reason, o->cf, o->now);
	} else {
		json_object_set_new(rec, "state", json_string("dead"));
		json_object_set_new(rec, "reason", json_string(o->reason));
	}
	return 1;
}

/* A handover whose technical receipt did not come in time: sent again with the same transaction
 * id, which Serviceplatformen treats as the same handover. */
static int receipt_overdue(json_t **recp, void *arg)
{
	struct outcome *o = arg;
	json_t *rec = *recp;
	if (!rec || strcmp(rec_str(rec, "state"), "sent") != 0 || rec_u64(rec, "deadline_ms") > o->now)
		return 0;
	retry_or_park(rec, rec_u64(rec, "attempts"), "no technical receipt in time", o->cf, o->now);
	return 1;
}

struct receipt_apply {
	const struct sf2900_receipt *r;
	const struct jconf *cf;
	uint64_t now;
	const char *outcome; /* for the log */
};

/* Receipts may come late, twice or out of order: each moves a note only forward. */
static int apply_receipt(json_t **recp, void *arg)
{
	struct receipt_apply *a = arg;
	json_t *rec = *recp;
	if (!rec)
		return -2;
	const char *st = rec_str(rec, "state");
	bool before_accept = strcmp(st, "sent") == 0 || strcmp(st, "spooled") == 0 ||
			     strcmp(st, "dead") == 0;
	json_object_set_new(rec, "updated_ms", json_integer((json_int_t)a->now));
	if (a->r->kind == SF2900_TECHNICAL && a->r->accepted) {
		if (!before_accept)
			return 0;
		json_object_set_new(rec, "state", json_string("accepted"));
		json_object_del(rec, "reason");
		a->outcome = "technical accepted";
	} else if (a->r->kind == SF2900_TECHNICAL) {
		if (strcmp(st, "sent") != 0)
			return 0; /* a late rejection of an attempt superseded by a later one */
		retry_or_park(rec, rec_u64(rec, "attempts"),
			      a->r->reason[0] ? a->r->reason : "technical receipt: rejected", a->cf,
			      a->now);
		a->outcome = "technical rejected";
	} else if (a->r->accepted) {
		if (strcmp(st, "journalised") == 0)
			return 0;
		json_object_set_new(rec, "state", json_string("journalised"));
		json_object_set_new(rec, "notice", json_string(a->cf->notices ? "pending" : "none"));
		json_object_del(rec, "reason");
		a->outcome = "business accepted";
	} else {
		if (strcmp(st, "journalised") == 0 || strcmp(st, "failed") == 0)
			return 0;
		/* The receiving system refused the note: parked with its reason for a person. */
		json_object_set_new(rec, "state", json_string("failed"));
		json_object_set_new(rec, "notice", json_string(a->cf->notices ? "pending" : "none"));
		json_object_set_new(rec, "reason",
				    json_string(a->r->reason[0] ? a->r->reason : "business receipt: rejected"));
		a->outcome = "business rejected";
	}
	return 1;
}

struct due {
	uint8_t keys[64][JKEY_BYTES];
	size_t n;
	uint64_t now;
	struct journal *j;
	uint8_t ack_keys[64][JKEY_BYTES];
	size_t n_ack;
	uint8_t notice_keys[64][JKEY_BYTES];
	size_t n_notice;
	uint8_t overdue[64][JKEY_BYTES];
	size_t n_overdue;
	uint8_t cleanup[64][JKEY_BYTES];
	size_t n_cleanup;
};

static int collect_due(const uint8_t key[JKEY_BYTES], json_t *rec, void *arg)
{
	struct due *d = arg;
	const char *st = rec_str(rec, "state");
	if (strcmp(st, "spooled") == 0 && rec_u64(rec, "next_try_ms") <= d->now && d->n < 64)
		memcpy(d->keys[d->n++], key, JKEY_BYTES);
	if (strcmp(st, "journalised") == 0 && json_is_true(json_object_get(rec, "spool")) &&
	    d->n_cleanup < 64)
		memcpy(d->cleanup[d->n_cleanup++], key, JKEY_BYTES);
	if (strcmp(st, "sent") == 0 && rec_u64(rec, "deadline_ms") <= d->now && d->n_overdue < 64)
		memcpy(d->overdue[d->n_overdue++], key, JKEY_BYTES);
	if (acked_state(st) && d->n_ack < 64)
		for (size_t i = 0; i < d->j->n_acks; i++)
			if (memcmp(d->j->acks[i].key, key, JKEY_BYTES) == 0) {
				memcpy(d->ack_keys[d->n_ack++], key, JKEY_BYTES);
				break;
			}
	if (strcmp(rec_str(rec, "notice"), "pending") == 0 && d->n_notice < 64)
		memcpy(d->notice_keys[d->n_notice++], key, JKEY_BYTES);
	return 0;
}

static void hand_over(struct journal *j, const uint8_t key[JKEY_BYTES])
{
	char kh[65], dir[800], reason[200] = "";
	key_hex(key, kh);
	snprintf(dir, sizeof dir, "%s/%s", j->spool, kh);
	json_t *rec = NULL;
	unsigned attempt = 0;
	if (jstore_get(j->st, key, &rec) == 0)
		attempt = (unsigned)rec_u64(rec, "attempts") + 1;
	json_decref(rec);
	int res;
	if (!fs_exists(dir)) {
		res = JDEST_REJECTED;
		snprintf(reason, sizeof reason, "the spooled note is missing");
	} else {
		res = j->dest->handover(j->dest, dir, kh, attempt, reason, sizeof reason);
	}
	struct outcome o = { res, reason, j->cf, now_ms() };
	if (jstore_update(j->st, key, apply_outcome, &o) < 0) {
		jlog("error", "store", "key=%s: handover result not recorded", kh);
		return;
	}
	jlog(res <= JDEST_SENT ? "info" : "warn", "handover", "key=%s destination=%s result=%s%s%s", kh,
	     j->dest->name,
	     res == JDEST_DONE ? "journalised" : res == JDEST_SENT ? "sent" : res == JDEST_RETRY ? "retry" : "rejected",
	     reason[0] ? " reason=" : "", reason);
	if (res == JDEST_DONE)
		ack_if_known(j, key);
}

/* A journalised note's plaintext copies are no longer needed on this machine: the spool and the
 * file libwakks saved go (the device store keeps its history, sealed). Recorded first, so a
 * crash between the two leaves only files, never a record pointing at nothing needed. */
static int spool_done(json_t **recp, void *arg)
{
	(void)arg;
	if (!*recp || !json_is_true(json_object_get(*recp, "spool")))
		return 0;
	json_object_set_new(*recp, "spool", json_false());
	return 1;
}

static void clean_up(struct journal *j, const uint8_t key[JKEY_BYTES])
{
	json_t *rec = NULL;
	if (jstore_get(j->st, key, &rec) != 0)
		return;
	char kh[65], dir[800], file[1024];
	key_hex(key, kh);
	snprintf(dir, sizeof dir, "%s/%s", j->spool, kh);
	snprintf(file, sizeof file, "%s", rec_str(rec, "received_file"));
	json_decref(rec);
	if (jstore_update(j->st, key, spool_done, NULL) != 1)
		return;
	fs_rm_rf(dir);
	if (file[0])
		unlink(file);
}

static int notice_done(json_t **recp, void *arg)
{
	const char *to = arg;
	if (!*recp || strcmp(rec_str(*recp, "notice"), "pending") != 0)
		return 0;
	json_object_set_new(*recp, "notice", json_string(to));
	return 1;
}

/* The journal status notice into the thread (spec/journal.md §6): queued in the device store's
 * outbox (sent, and re-sent after a restart, by libwakks), then recorded as sent. A crash in
 * between sends it twice, which a device shows as the same latest status. */
static void send_notice(struct journal *j, const uint8_t key[JKEY_BYTES])
{
	json_t *rec = NULL;
	if (jstore_get(j->st, key, &rec) != 0)
		return;
	char kh[65];
	key_hex(key, kh);
	uint8_t thread[16], mid[16];
	bool ok = wakks_id_parse(rec_str(rec, "thread"), thread) == 0 &&
		  wakks_id_parse(rec_str(rec, "message_id"), mid) == 0;
	bool journalised = strcmp(rec_str(rec, "state"), "journalised") == 0;
	char reason[400];
	snprintf(reason, sizeof reason, "%s", rec_str(rec, "reason"));
	json_decref(rec);
	int rc = ok ? wakks_thread_notice(j->c, thread, WAKKS_NOTICE_JOURNAL_STATUS, NULL, mid,
					  journalised ? 1 : 2, journalised ? NULL : reason, NULL, NULL)
		    : WAKKS_E_INVAL;
	if (rc == 0) {
		jstore_update(j->st, key, notice_done, "sent");
		jlog("info", "notice", "key=%s status=%s", kh, journalised ? "journalised" : "failed");
	} else if (rc == WAKKS_E_NOT_FOUND || rc == WAKKS_E_INVAL) {
		/* No thread on this device to say it in (an older client's message). */
		jstore_update(j->st, key, notice_done, "none");
		jlog("warn", "notice", "key=%s not sent: %s", kh, wakks_strerror(rc));
	}
	/* Anything else (the store): tried again on the next scan. */
}

static void tick(struct journal *j)
{
	struct due d = { .now = now_ms(), .j = j };
	if (jstore_each_active(j->st, collect_due, &d) != 0) {
		jlog("error", "store", "journal store unreadable");
		return;
	}
	for (size_t i = 0; i < d.n_ack; i++)
		ack_if_known(j, d.ack_keys[i]);
	for (size_t i = 0; i < d.n_cleanup; i++)
		clean_up(j, d.cleanup[i]);
	for (size_t i = 0; i < d.n_notice; i++)
		send_notice(j, d.notice_keys[i]);
	for (size_t i = 0; i < d.n_overdue; i++) {
		struct outcome o = { 0, NULL, j->cf, d.now };
		char kh[65];
		key_hex(d.overdue[i], kh);
		if (jstore_update(j->st, d.overdue[i], receipt_overdue, &o) == 1)
			jlog("warn", "receipt_overdue", "key=%s: no technical receipt in time", kh);
		j->work = true;
	}
	for (size_t i = 0; i < d.n && !stop_flag; i++) {
		hand_over(j, d.keys[i]);
		wakks_poll(j->c, 0); /* keep the connection served between handovers */
	}
	j->work = d.n == 64;
}

/* On the receipt endpoint's thread: record the receipt (one write transaction), then let the
 * main loop act on it (acknowledge, notice). */
static int on_receipt(const struct sf2900_receipt *r, void *arg)
{
	struct journal *j = arg;
	uint8_t key[JKEY_BYTES];
	if (key_parse(r->transaction_id, key) != 0)
		return 1;
	struct receipt_apply a = { r, j->cf, now_ms(), NULL };
	int rc = jstore_update(j->st, key, apply_receipt, &a);
	if (rc == -2)
		return 1;
	if (rc < 0)
		return -1;
	if (a.outcome)
		jlog("info", "receipt", "key=%s %s%s%s", r->transaction_id, a.outcome,
		     r->reason[0] ? " reason=" : "", r->reason);
	j->work = true;
	return 0;
}

/* ---- set-up --------------------------------------------------------------------------------- */

static int load_store_key(const char *state_dir, uint8_t key[32])
{
	char path[700];
	snprintf(path, sizeof path, "%s/store.key", state_dir);
	uint8_t *data;
	size_t len;
	if (fs_read(path, &data, &len) == 0) {
		int ok = len == 32;
		if (ok)
			memcpy(key, data, 32);
		sodium_memzero(data, len);
		free(data);
		return ok ? 0 : -1;
	}
	/* First start: a new random key, kept beside the store (0600). A deployment with a
	 * platform key store puts the key there instead and writes this file at start. */
	randombytes_buf(key, 32);
	return fs_write_new(path, key, 32);
}

static json_t *load_names(const char *path)
{
	if (!path[0])
		return NULL;
	FILE *f = fopen(path, "r");
	if (!f) {
		jlog("warn", "names", "names_file unreadable; caseworkers are named by account");
		return NULL;
	}
	json_t *o = json_object();
	char line[512];
	while (fgets(line, sizeof line, f)) {
		trim(line);
		char *sp = strchr(line, ' ');
		if (!sp || line[0] == '#')
			continue;
		*sp = '\0';
		char *name = sp + 1;
		trim(name);
		uint8_t id[16];
		if (wakks_id_parse(line, id) == 0 && name[0])
			json_object_set_new(o, line, json_string(name));
	}
	fclose(f);
	return o;
}

static int ensure_registered(struct journal *j)
{
	if (wakks_is_registered(j->c))
		return 0;
	for (int i = 0; i < 500 && wakks_state(j->c) < WAKKS_CONNECTED && !stop_flag; i++)
		wakks_poll(j->c, 20);
	if (wakks_state(j->c) < WAKKS_CONNECTED) {
		jlog("error", "register", "relay not reachable");
		return -1;
	}
	char *token = NULL;
	int rc;
	if (j->cf->devidp_user[0]) {
		rc = wakks_devidp_login(j->c, j->cf->idp, j->cf->devidp_user, &token);
	} else if (j->cf->id_token_file[0]) {
		size_t len;
		rc = fs_read(j->cf->id_token_file, (uint8_t **)&token, &len) == 0 ? 0 : WAKKS_E_IO;
		if (rc == 0)
			trim(token);
	} else {
		char nonce[WAKKS_NONCE_CHARS + 1];
		rc = wakks_registration_nonce(j->c, j->cf->idp, nonce);
		jlog("error", "register", "not registered: log in at the provider with nonce %s and "
			  "set id_token_file (the token is bound to this connection)",
		     rc == 0 ? nonce : "?");
		return -1;
	}
	if (rc != 0) {
		jlog("error", "register", "no ID token: %s", wakks_strerror(rc));
		return -1;
	}
	uint32_t op;
	rc = wakks_register(j->c, token, &op);
	sodium_memzero(token, strlen(token));
	free(token);
	if (rc == 0)
		rc = wakks_wait(j->c, op, 15000);
	if (rc != 0) {
		jlog("error", "register", "refused: %s", wakks_strerror(rc));
		return -1;
	}
	char h[33];
	uint8_t acc[16];
	wakks_account_id(j->c, acc);
	wakks_id_hex(acc, h);
	jlog("info", "registered", "account=%s", h);
	return 0;
}

/* Done with: journalised, its notice sent (or none to send) and its spool removed. */
static bool note_active(json_t *rec)
{
	return strcmp(rec_str(rec, "state"), "journalised") != 0 ||
	       strcmp(rec_str(rec, "notice"), "pending") == 0 ||
	       json_is_true(json_object_get(rec, "spool"));
}

static int open_journal(struct journal *j, const struct jconf *cf)
{
	memset(j, 0, sizeof *j);
	j->cf = cf;
	char path[700], err[300];
	if (fs_mkdirs(cf->state_dir) != 0) {
		jlog("error", "start", "state_dir cannot be created");
		return -1;
	}
	snprintf(j->spool, sizeof j->spool, "%s/spool", cf->state_dir);
	if (fs_mkdirs(j->spool) != 0) {
		jlog("error", "start", "spool cannot be created");
		return -1;
	}
	snprintf(path, sizeof path, "%s/journal.lmdb", cf->state_dir);
	if (jstore_open(path, note_active, &j->st, err, sizeof err) != 0) {
		jlog("error", "start", "%s", err);
		return -1;
	}
	return 0;
}

int journal_run(const struct jconf *cf)
{
	if (sodium_init() < 0)
		return 1;
	struct journal j;
	if (open_journal(&j, cf) != 0)
		return 1;
	char err[300];
	if (strcmp(cf->destination, "sf2900") == 0)
		j.dest = jdest_sf2900_new(&cf->sf, err, sizeof err);
	else
		j.dest = jdest_directory_new(cf->directory, strcmp(cf->grouping, "day") == 0, err,
					     sizeof err);
	if (!j.dest) {
		jlog("error", "start", "%s", err);
		jstore_close(j.st);
		return 1;
	}
	if (strcmp(cf->destination, "sf2900") == 0) {
		j.receipts = jreceipts_start(&cf->receipts, on_receipt, &j, err, sizeof err);
		if (!j.receipts) {
			jlog("error", "start", "%s", err);
			jstore_close(j.st);
			return 1;
		}
		jlog("info", "receipts", "listening port=%d", jreceipts_port(j.receipts));
	}
	j.names = load_names(cf->names_file);
	uint8_t skey[32];
	char dev_dir[700], files_dir[700];
	snprintf(dev_dir, sizeof dev_dir, "%s/device", cf->state_dir);
	snprintf(files_dir, sizeof files_dir, "%s/received", cf->state_dir);
	if (load_store_key(cf->state_dir, skey) != 0) {
		jlog("error", "start", "store key unreadable or not 32 bytes");
		return 1;
	}
	wakks_config wc = {
		.relay_url = cf->relay_url,
		.ca_file = cf->ca_file[0] ? cf->ca_file : NULL,
		.store_dir = dev_dir,
		.store_key = skey,
		.device_label = "Journal",
		.on_event = on_event,
		.user = &j,
		.auto_reconnect = true,
		.files_dir = files_dir,
		.manual_ack = true,
	};
	int rc = wakks_open(&wc, &j.c);
	sodium_memzero(skey, sizeof skey);
	if (rc != 0) {
		jlog("error", "start", "device store: %s", wakks_strerror(rc));
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	wakks_connect(j.c);
	if (ensure_registered(&j) != 0) {
		wakks_close(j.c);
		return 1;
	}
	jlog("info", "started", "destination=%s", j.dest->name);
	j.work = true;
	uint64_t last_scan = 0;
	while (!stop_flag) {
		wakks_poll(j.c, 100);
		/* Retries come due by time: look at least once a second. */
		if (j.work || now_ms() - last_scan >= 1000) {
			j.work = false;
			last_scan = now_ms();
			tick(&j);
		}
	}
	jlog("info", "stopped", "signal");
	jreceipts_stop(j.receipts);
	wakks_close(j.c);
	j.dest->close(j.dest);
	json_decref(j.names);
	jstore_close(j.st);
	return 0;
}

/* ---- operator commands -------------------------------------------------------------------- */

static int list_one(const uint8_t key[JKEY_BYTES], json_t *rec, void *arg)
{
	(void)arg;
	const char *st = rec_str(rec, "state");
	if (strcmp(st, "journalised") == 0 && strcmp(rec_str(rec, "notice"), "pending") != 0)
		return 0;
	char kh[65];
	key_hex(key, kh);
	printf("%s %s attempts=%llu tenant=%s unit=%s message=%s reason=\"%s\"\n", kh, st,
	       (unsigned long long)rec_u64(rec, "attempts"), rec_str(rec, "tenant"),
	       rec_str(rec, "unit"), rec_str(rec, "message_id"), rec_str(rec, "reason"));
	return 0;
}

int journal_list(const struct jconf *cf)
{
	struct journal j;
	if (open_journal(&j, cf) != 0)
		return 1;
	int rc = jstore_each_active(j.st, list_one, NULL);
	jstore_close(j.st);
	return rc == 0 ? 0 : 1;
}

static int requeue(json_t **recp, void *arg)
{
	(void)arg;
	json_t *rec = *recp;
	if (!rec)
		return -2;
	const char *st = rec_str(rec, "state");
	if (strcmp(st, "dead") != 0 && strcmp(st, "failed") != 0)
		return 0;
	json_object_set_new(rec, "state", json_string("spooled"));
	json_object_set_new(rec, "attempts", json_integer(0));
	json_object_set_new(rec, "next_try_ms", json_integer(0));
	return 1;
}

struct parked {
	uint8_t keys[1024][JKEY_BYTES];
	size_t n;
};

static int collect_parked(const uint8_t key[JKEY_BYTES], json_t *rec, void *arg)
{
	struct parked *p = arg;
	const char *st = rec_str(rec, "state");
	if ((strcmp(st, "dead") == 0 || strcmp(st, "failed") == 0) && p->n < 1024)
		memcpy(p->keys[p->n++], key, JKEY_BYTES);
	return 0;
}

int journal_retry(const struct jconf *cf, const char *which)
{
	struct journal j;
	if (open_journal(&j, cf) != 0)
		return 1;
	int status = 0;
	if (strcmp(which, "all") == 0) {
		struct parked *p = calloc(1, sizeof *p);
		if (!p || jstore_each_active(j.st, collect_parked, p) != 0)
			status = 1;
		for (size_t i = 0; p && i < p->n; i++)
			if (jstore_update(j.st, p->keys[i], requeue, NULL) < 0)
				status = 1;
		printf("%zu parked notes queued again\n", p ? p->n : 0);
		free(p);
	} else {
		uint8_t key[JKEY_BYTES];
		int rc = key_parse(which, key) == 0 ? jstore_update(j.st, key, requeue, NULL) : -2;
		if (rc == 1) {
			printf("queued again\n");
		} else {
			fprintf(stderr, "wakks-journal: %s\n",
				rc == -2 ? "no such note" : rc == 0 ? "that note is not parked" : "store error");
			status = 1;
		}
	}
	jstore_close(j.st);
	return status;
}
