/* SPDX-License-Identifier: MPL-2.0 */
/* libwakks internals: the sealed device store, the non-blocking TLS WebSocket, the HTTPS helper,
 * byte codecs and the client object. Not installed; the tests of these parts include it. */
#ifndef WAKKS_INTERNAL_H
#define WAKKS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "wakks.h"
#include "wakks_bytes.h"
#include "wakks_cmid.h"
#include "wakks_crypto.h"
#include "wakks_protocol.h"

/* ---- Byte codec for stored records (big-endian, length-checked) ------------------------------ */
typedef struct wakks__buf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
} wakks__buf;

void wakks__put_u8(wakks__buf *b, uint8_t v);
void wakks__put_u32(wakks__buf *b, uint32_t v);
void wakks__put_u64(wakks__buf *b, uint64_t v);
void wakks__put_bytes(wakks__buf *b, const void *p, size_t n);
void wakks__put_str8(wakks__buf *b, const char *s); /* u8 length || bytes; s of <= 255 bytes */
void wakks__buf_free(wakks__buf *b);                /* wipes, then frees */

typedef struct wakks__rd {
	const uint8_t *p;
	size_t len, off;
	bool bad;
} wakks__rd;

uint8_t wakks__get_u8(wakks__rd *r);
uint32_t wakks__get_u32(wakks__rd *r);
uint64_t wakks__get_u64(wakks__rd *r);
void wakks__get_bytes(wakks__rd *r, void *out, size_t n);
const uint8_t *wakks__get_view(wakks__rd *r, size_t n);
void wakks__get_str8(wakks__rd *r, char *out, size_t cap); /* NUL-terminated; bad if too long */
/* True when every byte was read and nothing was out of bounds. */
bool wakks__rd_done(const wakks__rd *r);

/* A tenant or unit id as a C string: proto_slug_valid, and false for NULL. */
bool wakks__slug_ok(const char *s);

uint64_t wakks__now_ms(void);
uint64_t wakks__mono_ms(void);

/* ---- Device store (spec/client.md) ------------------------------------------------------------
 * One LMDB environment in the store directory, owned by one client (an exclusive lock file).
 * Every value is sealed: nonce[24] || XChaCha20-Poly1305(record key, nonce, plaintext,
 * ad = "wakks/v1/client-store" 0x00 table 0x00 key). A write transaction commits with fsync,
 * so a set of changes (a session, a message, a deleted prekey) becomes durable all at once or
 * not at all. Values returned by wakks__store_get are malloc'd plaintext (wakks__store_free). */
enum wakks__table {
	WT_META = 0, /* "self": identity and ids; "check": key check */
	WT_SPK,      /* u32 id -> signed prekey */
	WT_OPK,      /* u32 id -> one-time prekey */
	WT_SESSION,  /* device[16] -> account[16] || sealed session (current); device[16] 0x01 ->
		      * the same of the previous session */
	WT_PEER,     /* account[16] || device[16] -> identity key, flags, times */
	WT_PENDING,  /* cmid[16] -> u64 history seq */
	WT_RX,       /* account || device || cmid -> message id: de-duplicates deliveries */
	WT_MID,      /* message id -> u64 history seq: de-duplicates messages */
	WT_MSG,      /* u64 seq -> message record (history) */
	WT_ATT,      /* u64 seq -> attachment of a file message */
	WT_THREAD,   /* thread id -> seen mark, identity result, latest presentation (threads.c) */
	WT_READ,     /* message id -> u64 when the other side read it (read receipts) */
	WT_AUDIT,    /* u64 seq -> local audit entry (CPR reveals) */
	WT_UNITDEV,  /* "tenant/unit" -> the unit's device set as last seen (history, §16) */
	WT__COUNT
};

typedef struct wakks__store wakks__store;
typedef struct wakks__txn wakks__txn;

/* @return 0, WAKKS_E_IO, WAKKS_E_STORE (incl. already open), WAKKS_E_STORE_KEY, WAKKS_E_NOMEM. */
int wakks__store_open(const char *dir, const uint8_t key[WAKKS_STORE_KEY_BYTES], wakks__store **out);
void wakks__store_close(wakks__store *s);
/* The network lease (wakks.net in the store directory): the one process talking to the relay for
 * this device. take: 0 or WAKKS_E_BUSY (another process holds it), WAKKS_E_IO; !take releases. */
int wakks__store_lease(wakks__store *s, bool take);
/* A key derived from the store key for sealing sessions with wc_session_seal. */
const uint8_t *wakks__store_session_key(const wakks__store *s);

int wakks__txn_begin(wakks__store *s, bool write, wakks__txn **out);
/* Commits (fsync) and frees. On failure the transaction is aborted. */
int wakks__txn_commit(wakks__txn *t);
void wakks__txn_abort(wakks__txn *t);

int wakks__store_put(wakks__txn *t, int table, const void *key, size_t klen, const void *val,
		     size_t vlen);
/* @return 0, WAKKS_E_NOT_FOUND, WAKKS_E_CORRUPT (does not open), WAKKS_E_STORE, WAKKS_E_NOMEM. */
int wakks__store_get(wakks__txn *t, int table, const void *key, size_t klen, uint8_t **val,
		     size_t *vlen);
/* Deleting a missing key is not an error. */
int wakks__store_del(wakks__txn *t, int table, const void *key, size_t klen);
/* Calls fn for every record in key order; fn returns nonzero to stop (that value is returned).
 * Damaged records make it fail with WAKKS_E_CORRUPT. */
int wakks__store_each(wakks__txn *t, int table,
		      int (*fn)(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
				void *arg),
		      void *arg);
/* wakks__store_each in a read transaction of its own: 0, or a negative error (a stop value from
 * fn is not an error). */
int wakks__store_walk(wakks__store *s, int table,
		      int (*fn)(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
				void *arg),
		      void *arg);
/* Largest key of a table with 8-byte keys (0 when empty). */
int wakks__store_last_u64(wakks__txn *t, int table, uint64_t *out);
void wakks__store_free(uint8_t *val, size_t vlen);

/* ---- Non-blocking TLS WebSocket (RFC 6455, client side) --------------------------------------- */
enum wakks__ws_state {
	WS_IDLE = 0,
	WS_TCP,        /* non-blocking connect in progress */
	WS_TLS,        /* TLS handshake */
	WS_UPGRADE,    /* HTTP upgrade sent, reading the response */
	WS_OPEN,
	WS_CLOSED,
};

/* The largest message we accept: one protocol frame (the relay never sends more). */
#define WAKKS__WS_MAX_MESSAGE PROTO_MAX_FRAME_BYTES
/* Upgrade response headers: a relay sends a few hundred bytes. */
#define WAKKS__WS_MAX_HEADERS 8192

typedef struct wakks__ws {
	int state;
	int fd;
	SSL *ssl;
	struct addrinfo *ai_list, *ai_next;
	char host[256];
	int port;
	char key[32];            /* Sec-WebSocket-Key */
	bool want_write;         /* TLS needs POLLOUT to make progress */
	uint8_t *out;            /* bytes queued for SSL_write */
	size_t out_len, out_cap;
	uint8_t *in;             /* bytes read, not yet parsed */
	size_t in_len, in_cap;
	uint8_t *msg;            /* message being assembled from fragments */
	size_t msg_len;
	int msg_op;
	uint16_t close_code;
	int error;               /* WAKKS_E_* that ended it */
	int why;                 /* enum wakks_conn_why: what more is known about it */
	int connect_errno;       /* the last TCP connect failure (errno) */
	uint64_t last_rx_mono;   /* when bytes last arrived (pongs included): liveness */
	bool drop_after_flush;   /* test hook: abort once the queue is written */
} wakks__ws;

typedef void (*wakks__ws_msg_cb)(void *arg, const uint8_t *msg, size_t len);

/* Resolves (blocking) and starts a non-blocking connect. @return 0, WAKKS_E_NET. */
int wakks__ws_start(wakks__ws *w, SSL_CTX *ctx, const char *host, int port);
short wakks__ws_want(const wakks__ws *w);
/* Makes all possible progress; complete binary messages go to cb. @return 0 while usable, or a
 * negative code when the connection is gone (then w->state is WS_CLOSED). */
int wakks__ws_io(wakks__ws *w, SSL_CTX *ctx, wakks__ws_msg_cb cb, void *arg);
/* Queues one binary message (masked) and tries to write it. @return 0, WAKKS_E_CLOSED,
 * WAKKS_E_NOMEM. */
int wakks__ws_send(wakks__ws *w, int opcode, const void *data, size_t len);
/* Parses the frames buffered in w->in (the part of wakks__ws_io after reading), for tests of
 * hostile input. @return 0, or WAKKS_E_PROTOCOL, WAKKS_E_TOO_LARGE, WAKKS_E_CLOSED (close frame),
 * WAKKS_E_NOMEM. */
int wakks__ws_parse(wakks__ws *w, wakks__ws_msg_cb cb, void *arg);
/* Sends close (best effort) and frees everything. */
void wakks__ws_close(wakks__ws *w, bool graceful);

/* TLS context: verification on, against ca_file (a CA bundle or one pinned certificate) or the
 * system store. @return 0, WAKKS_E_TLS. */
int wakks__tls_ctx(const char *ca_file, SSL_CTX **out);

/* Blocking HTTPS request to host:port (same trust). Response body malloc'd, NUL-terminated.
 * location (may be NULL) receives the Location header. @return 0, WAKKS_E_NET, WAKKS_E_TLS,
 * WAKKS_E_HTTP (unparseable response), WAKKS_E_NOMEM. */
int wakks__https(SSL_CTX *ctx, const char *host, int port, const char *method, const char *path,
		 const char *form, int *status, char **body, char *location, size_t loc_cap);

/* ---- The client --------------------------------------------------------------------------- */
#define WAKKS__MAX_OPS 256

struct wakks__op {
	uint32_t id;
	bool done;
	int result;
};

/* What an outstanding request is for. */
enum wakks__req_kind {
	RQ_NONE = 0, RQ_AUTH, RQ_REGISTER, RQ_DEVSET, RQ_BUNDLES, RQ_SEND, RQ_ACK, RQ_PREKEYS,
	RQ_SPK, RQ_DEVICES, RQ_REVOKE, RQ_CONSENT, RQ_CONSENT_LIST, RQ_BLOB_PUT, RQ_BLOB_CHUNK,
	RQ_BLOB_GET, RQ_PUSH, RQ_UNITSET, RQ_CONSENT_CHECK,
};

#define WAKKS__MAX_REQS 128

struct wakks__req {
	uint32_t rid;
	int kind;
	uint32_t op;
	uint32_t aux; /* RQ_SPK: new spk id; RQ_CONSENT: kind */
	uint64_t sent_mono;
};

/* A device address in a send's required set. */
struct wakks__addr {
	uint8_t acc[16], dev[16];
};

/* The head of the send queue in progress. */
enum wakks__send_phase { SP_IDLE = 0, SP_UPLOAD, SP_DEVSET, SP_BUNDLES, SP_SENT, SP_WAIT_RETRY };

/* The attachment of a file message (table WT_ATT), as stored. */
#define WAKKS__PATH_MAX 1024
struct wakks__att {
	int state;                /* enum wakks_attachment_state */
	uint8_t blob[16];         /* the blob's id: the first 16 bytes of desc.digest */
	uint64_t ct_size;         /* ciphertext bytes */
	wc_attachment desc;       /* key, digest, size, media type, file name */
	char path[WAKKS__PATH_MAX];
	wakks_attachment pub;     /* the public view (wakks__att_view) */
};

struct wakks__send {
	bool active;
	uint8_t cmid[16];
	uint64_t seq;
	uint32_t op;
	int phase;
	int attempts;
	/* Targets: 0 account, 1 unit, 2 our own account. */
	bool target_used[3];
	int target_next;          /* next target to query in the current phase */
	struct wakks__addr *set;  /* union of device sets, our own device excluded */
	size_t n_set, cap_set;
	uint64_t retry_at_mono;
	/* A file message: its attachment (key included; wiped on reset) and the upload. */
	bool has_att;
	struct wakks__att att;
	int upload_fd;            /* the ciphertext in outbox/, open while uploading (-1: none) */
	uint8_t *chunk;           /* one chunk read from it */
};

/* Downloads of received files: one at a time, in the order the envelopes arrived. */
struct wakks__dl_item {
	uint64_t deliver_seq;     /* the envelope to acknowledge afterwards */
	uint64_t msg_seq;         /* the message in history */
};

struct wakks__download {
	struct wakks__dl_item *queue;
	size_t n, cap;
	bool active;              /* queue[0] is being fetched */
	struct wakks__att att;
	uint8_t *ct;              /* the ciphertext so far */
	uint64_t have;
	uint64_t retry_at_mono;   /* a blob_get refused for now: ask again then (0: none) */
};

struct wakks_client {
	wakks_config cfg;
	char *relay_url, *ca_file, *store_dir, *label;
	char host[256];
	int port;
	SSL_CTX *tls;
	wakks__store *store;

	/* self */
	wc_identity ik;
	bool registered;
	uint8_t account[16], device[16];
	uint32_t next_opk_id, next_spk_id, spk_current;
	uint64_t spk_created_ms;

	/* connection */
	wakks__ws ws;
	int state;
	bool want_connected;
	uint8_t challenge[32];
	bool have_challenge;
	/* Set by wakks_login_finish: the login challenge its token's nonce binds (spec/identity.md
	 * §2.2), taken by the next registration's evidence instead of the connection's challenge. */
	uint8_t login_challenge[32];
	bool login_challenge_set;
	uint32_t next_rid;
	struct wakks__req reqs[WAKKS__MAX_REQS];
	uint64_t reconnect_at_mono;
	uint32_t backoff_ms;
	uint64_t last_rx_mono, ping_sent_mono;
	bool prekey_upload_inflight;
	bool spk_rotate_inflight;

	/* operations */
	uint32_t next_op;
	struct wakks__op ops[WAKKS__MAX_OPS];

	/* sending */
	struct wakks__send send;
	struct wakks_cmid_gen cmid; /* this run's last client message id */
	proto_frame *rx;  /* decoded incoming frame (big: heap) */
	proto_frame *tx;  /* frame being built */
	uint8_t *txbuf;   /* encoded frame */
	/* operation ids of messages queued by this run, by client message id */
	struct {
		uint8_t cmid[16];
		uint32_t op;
	} send_ops[64];
	struct wakks__download dl;
	struct wakks__threads *th; /* the thread model's state (threads_internal.h) */
	char *files_dir;
	char consent_tenant[WAKKS_SLUG_MAX + 1], consent_unit[WAKKS_SLUG_MAX + 1];
	int conn_error, conn_why;   /* wakks_connection_error */
	bool in_callback;
	bool extension;    /* wakks_extension_fetch: receive only, never send or change keys */
	bool lease_held;   /* the store's network lease (wakks_connect .. wakks_disconnect) */
	void *log_user;    /* cfg.on_log's argument: cfg.user, the app's also in the extension */
	bool test_drop_after_send;
	int test_crash_receive; /* WAKKS__CRASH_*: one-shot */
	uint32_t test_drop_after_chunks; /* drop the connection after this many more chunks */
	bool test_corrupt_download;      /* flip a byte of the next downloaded ciphertext */
	uint64_t test_upload_bytes;      /* blob bytes sent in chunks (counted always) */
};

void wakks__emit(wakks_client *c, const wakks_event *ev);
/* A diagnostics line to cfg.on_log (never content, keys, tokens or identifiers). */
void wakks__log(wakks_client *c, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
uint32_t wakks__op_new(wakks_client *c);
void wakks__op_finish(wakks_client *c, uint32_t op, int result);
/* Finishes ev->u.done.op with ev->u.done.result and emits ev as it is. */
void wakks__op_finish_event(wakks_client *c, const wakks_event *ev);
void wakks__op_finish_data(wakks_client *c, uint32_t op, int result, const wakks_device_info *d,
			   size_t nd, const wakks_consent_entry *ce, size_t nce);
/* Encodes and sends c->tx as a request of kind; returns the request id (> 0) or negative. */
int wakks__request(wakks_client *c, int kind, uint32_t op, uint32_t aux);
/* A request of frame `type` with an empty body, for a registered, ready client: its operation id
 * into *op (when op is not NULL). */
int wakks__bodiless_request(wakks_client *c, int type, int kind, uint32_t *op);
int wakks__send_frame(wakks_client *c);
struct wakks__req *wakks__req_take(wakks_client *c, uint32_t rid);

int wakks__save_self(wakks_client *c, wakks__txn *t);
int wakks__load_self(wakks_client *c);

/* keys.c */
int wakks__prekeys_store(wakks_client *c, wakks__txn *t, uint32_t n, proto_prekey *out,
			 uint8_t (*pubs)[32]);
int wakks__spk_new(wakks_client *c, wakks__txn *t, wc_signed_prekey *out);
void wakks__keys_after_auth(wakks_client *c);
/* Load a signed / one-time prekey by id (responder side of X3DH). 0, WAKKS_E_NOT_FOUND, ... */
int wakks__spk_load(wakks_client *c, wakks__txn *t, uint32_t id, wc_signed_prekey *out);
int wakks__opk_load(wakks__txn *t, uint32_t id, wc_one_time_prekey *out);
void wakks__on_prekeys_low(wakks_client *c);
void wakks__on_key_reply(wakks_client *c, struct wakks__req *rq, const proto_frame *f);

/* send.c */
void wakks__send_kick(wakks_client *c);
void wakks__send_on_reply(wakks_client *c, struct wakks__req *rq, const proto_frame *f);
void wakks__send_reset(wakks_client *c);
void wakks__send_timer(wakks_client *c);
void wakks__conversation_id(const uint8_t *account_a, const uint8_t *account_b, const char *tenant,
			    const char *unit, uint8_t out[16]);

/* send.c: fills a new outgoing message for to (message id, addressing, conversation, time), and
 * queues it as pending in t (assigning m->seq and m->cmid). */
int wakks__msg_new(wakks_client *c, const wakks_target *to, wakks_message *m);
/* send.c: the client message id of a new send, time-ordered (spec/protocol.md §8.1): every send
 * of this device draws it here (wakks__msg_queue), so ids made by one run always increase, in the
 * order the messages are queued and sent. */
void wakks__cmid_new(wakks_client *c, uint8_t out[16]);
int wakks__msg_queue(wakks_client *c, wakks__txn *t, wakks_message *m);
/* The head's upload is complete: go on to encrypt and send. */
void wakks__send_uploaded(wakks_client *c);
/* The head's upload was refused: retry after retry_ms (the message stays pending; the op
 * finishes with err, except for PROTO_E_UNAVAILABLE, a pause while resuming), or with 0 give up
 * (failed, out of pending). */
void wakks__send_give_up(wakks_client *c, int err, uint64_t retry_ms);
/* Registers an operation for a queued message. */
uint32_t wakks__send_op(wakks_client *c, const uint8_t cmid[16]);

/* receive.c */
void wakks__on_deliver(wakks_client *c, const proto_deliver *d);
void wakks__ack(wakks_client *c, uint64_t seq);

/* attachment.c: the WT_ATT record, uploads (a phase of sending) and downloads. */
int wakks__att_put(wakks__txn *t, uint64_t seq, const struct wakks__att *a);
/* 0, WAKKS_E_NOT_FOUND (not a file message), WAKKS_E_CORRUPT, ... Fills a->pub too. */
int wakks__att_get(wakks__txn *t, uint64_t seq, struct wakks__att *a);
void wakks__att_wipe(struct wakks__att *a);
/* The outbox file of a blob: STORE_DIR/outbox/HEX(blob). */
void wakks__outbox_path(const wakks_client *c, const uint8_t blob[16], char *out, size_t cap);
/* Starts (or resumes) the upload of the send queue's head: blob_put. */
void wakks__upload_start(wakks_client *c);
/* A blob_state or error for RQ_BLOB_PUT / RQ_BLOB_CHUNK. */
void wakks__upload_on_reply(wakks_client *c, struct wakks__req *rq, const proto_frame *f);
void wakks__upload_reset(wakks_client *c);
/* After the file message was stored or refused: the attachment's final state, the outbox file
 * removed. Runs inside the caller's transaction t (the unlink after its commit). */
int wakks__upload_settle(wakks_client *c, wakks__txn *t, uint64_t seq, bool stored);
void wakks__upload_unlink(wakks_client *c);
/* A received file message stored as DOWNLOADING: fetch it, then ack deliver_seq. */
void wakks__download_enqueue(wakks_client *c, uint64_t deliver_seq, uint64_t msg_seq);
/* manual_ack: reports the stored message of an envelope delivered again (WAKKS_EV_MESSAGE with
 * its delivery), or acknowledges it when no message of that id is stored. */
void wakks__redeliver(wakks_client *c, uint64_t delivery, const uint8_t message_id[16]);
void wakks__download_on_reply(wakks_client *c, struct wakks__req *rq, const proto_frame *f);
void wakks__download_reset(wakks_client *c);
void wakks__download_timer(wakks_client *c);
/* The message seq whose attachment still needs downloading for message id, or 0. */
uint64_t wakks__download_pending(wakks__txn *t, const uint8_t message_id[16]);

/* peers (receive.c): records a peer device's identity key; emits key/device change events. */
int wakks__peer_seen(wakks_client *c, wakks__txn *t, const uint8_t acc[16], const uint8_t dev[16],
		     const uint8_t ik[32], wakks_event *ev_out, bool *have_event);
void wakks__peer_gone(wakks_client *c, const uint8_t dev[16]);

/* sessions (messages.c): load (and unseal) / save (seal) / drop the session with a device. */
int wakks__session_load(wakks_client *c, wakks__txn *t, const uint8_t dev[16], uint8_t acc[16],
			wc_session **out);
int wakks__session_save(wakks_client *c, wakks__txn *t, const uint8_t dev[16],
			const uint8_t acc[16], const wc_session *s);
bool wakks__session_exists(wakks_client *c, wakks__txn *t, const uint8_t dev[16]);
/* The session with a device before its current one (spec/client.md §6: two devices that start
 * a session with each other at once each end up with the other's; the previous one still opens
 * what the peer sends on it). Load: 0, WAKKS_E_NOT_FOUND, ... Archive: the current session
 * becomes the previous one (replacing it); no current is not an error. */
int wakks__session_load_prev(wakks_client *c, wakks__txn *t, const uint8_t dev[16],
			     wc_session **out);
int wakks__session_archive(wakks__txn *t, const uint8_t dev[16]);
int wakks__msg_put(wakks__txn *t, const wakks_message *m, bool failed);
int wakks__msg_get(wakks__txn *t, uint64_t seq, wakks_message *m, bool *failed, uint8_t **raw,
		   size_t *raw_len);

/* messages */
int wakks__msg_encode(const wakks_message *m, bool failed, wakks__buf *b);
int wakks__msg_decode(const uint8_t *p, size_t n, wakks_message *m, bool *failed);
/* Hands m to fn the way the API shows a message: with its attachment, if it has one, which is
 * wiped after fn returns (m must not be kept). Returns 1 when fn asked to stop, 0, or an error. */
int wakks__msg_present(wakks__txn *t, wakks_message *m,
		       int (*fn)(const wakks_message *m, void *arg), void *arg);

/* threads.c: the records of spec/client.md §12-§16 and the thread model. */
enum { WAKKS__ROUTE_THREAD = 0, WAKKS__ROUTE_SELF, WAKKS__ROUTE_ACCOUNT };
/* Records that change state but are not shown as messages. */
bool wakks__msg_hidden(const wakks_message *m);
int wakks__msg_route(const wakks_message *m);
/* A decrypted, sender-checked record of kind 1-6 (or one from a history entry): placement,
 * notices, receipts, presentations, history, in the open transaction t. sender_ik is the key of
 * the device that sent the record. stored_ms the relay's time (or the entry's). *store_msg is set
 * when the caller must store it as a message (kinds 1, 2 and visible notices), after the
 * checks here; *event receives a message to announce after the commit (history entries are
 * announced here as they are stored: ev_fn). Returns 0 (also for records that are dropped by
 * rule), WAKKS__E_PARK (the unit's device set is needed first), or a store error. */
#define WAKKS__E_PARK 1
struct receive__rx;
int wakks__thread_accept(wakks_client *c, wakks__txn *t, const wc_content *ct,
			 const uint8_t sender_ik[32], uint64_t stored_ms, bool from_history,
			 bool *store_msg);
/* After a thread message was stored at seq (kind 1/2/4 visible). */
int wakks__thread_touch(wakks_client *c, wakks__txn *t, const wakks_message *m);
/* Queue the citizen's presentation before its first message in a unit thread (send.c). */
int wakks__thread_before_send(wakks_client *c, wakks__txn *t, const wakks_message *m);
/* Replies and pushes of the thread model. */
void wakks__thread_on_reply(wakks_client *c, struct wakks__req *rq, const proto_frame *f);
void wakks__thread_on_unit_devices(wakks_client *c, const char *tenant, const char *unit);
void wakks__thread_after_auth(wakks_client *c);
/* Whether a device is in the cached set of tenant/unit: 1 yes, 0 no, -1 not known (ask). */
int wakks__unit_member(wakks_client *c, const char *tenant, const char *unit,
		       const uint8_t dev[16]);
void wakks__unit_cache_put(wakks_client *c, const char *tenant, const char *unit,
			   const proto_device_set *set);
/* Parking a deliver until a unit's device set is known. */
void wakks__park(wakks_client *c, const proto_deliver *d, const char *tenant, const char *unit);
void wakks__parked_reset(wakks_client *c);
/* The registration evidence (issuer, challenge, token): remembered when register is sent, kept
 * (META "evidence") in the transaction that stores `registered`. */
int wakks__evidence_remember(wakks_client *c, const char *token);
int wakks__evidence_save(wakks_client *c, wakks__txn *t);
bool wakks__parked_any(wakks_client *c);
void wakks__thread_flush(wakks_client *c);
void wakks__threads_free(wakks_client *c);
struct wakks__threads;

/* consent.c */
void wakks__on_consent_reply(wakks_client *c, struct wakks__req *rq, const proto_frame *f);

enum { WAKKS__CRASH_NONE = 0, WAKKS__CRASH_BEFORE_COMMIT, WAKKS__CRASH_BEFORE_ACK };
#if defined(WAKKS_TEST_HOOKS) && WAKKS_TEST_HOOKS
/* Test hooks, only in builds configured with -Dtest_hooks=true (the flags they set are never set
 * otherwise):
 * - drop the connection as soon as the next send frame is written, as if the relay's reply
 *   were lost;
 * - on the next delivery, end the connection as a crash would, before the results are
 *   committed or after the commit but before the ack. */
void wakks__test_drop_after_send(wakks_client *c);
void wakks__test_crash_on_receive(wakks_client *c, int point);
/* - drop the connection as soon as the n-th blob chunk from now is written;
 * - flip one byte of the next downloaded ciphertext before it is checked. */
void wakks__test_drop_after_chunks(wakks_client *c, uint32_t n);
void wakks__test_corrupt_next_download(wakks_client *c);
/* - queue a presentation of any content in this (citizen) device's thread with tenant/unit,
 *   instead of its own registration evidence (tests of forged and foreign evidence). */
int wakks__test_present(wakks_client *c, const char *tenant, const char *unit, const char *issuer,
			const uint8_t challenge[32], const char *token);
/* - make the tenant's information unavailable (as if the relay's HTTPS could not be reached). */
void wakks__test_tenant_unavailable(wakks_client *c, bool on);
#endif
/* Ends the connection at once without a close frame; safe inside a message callback. */
void wakks__ws_abort(wakks__ws *w);

#endif
