/* SPDX-License-Identifier: MPL-2.0 */
/*
 * libwakks: the OS2wakks device client (spec/protocol.md, spec/crypto.md, spec/identity.md,
 * spec/consent.md; the device store is spec/client.md).
 *
 * A wakks_client is one device: its keys, sessions, peers, pending and received messages live in
 * a sealed store in a directory of its own; it talks to one relay over a TLS WebSocket. Every
 * cryptographic operation happens here: the relay only stores and forwards opaque envelopes.
 *
 * Two ways to drive it
 *   Blocking (command-line tools, tests): wakks_connect(), then wakks_wait() on the operation an
 *   asynchronous call returned, or wakks_poll() / wakks_run_until() for incoming events.
 *   From an application's event loop: watch wakks_fd() for wakks_want() (POLLIN / POLLOUT), call
 *   wakks_process() when it is ready or when wakks_timeout_ms() has passed. Events arrive through
 *   the callback given in wakks_config; they are only ever called from inside wakks_process()
 *   (and so from wakks_poll(), wakks_wait() and wakks_run_until()).
 *
 * Operations
 *   Calls that need the relay (register, send, device list, revoke, consent) are asynchronous:
 *   they return 0 and an operation id (> 0) in *op, or a negative error at once. The operation
 *   finishes with one WAKKS_EV_DONE event carrying the id and its result (0 or a negative
 *   WAKKS_E_* / relay code); wakks_wait() runs the loop until then and returns that result.
 *   A message (wakks_send_text) is different: it is persisted as pending first and survives
 *   disconnects and restarts; it is re-sent with the same client message id until the relay
 *   says `stored`, which is reported as WAKKS_EV_SENT (and WAKKS_EV_DONE for its op id, if the
 *   client that queued it is still running).
 *
 * Errors
 *   Every int result is 0 or negative. -1..-63 are the wire codes of protocol/ negated
 *   (PROTO_E_*: a relay refusal such as -37 device_mismatch keeps its wire number); -100..-199
 *   are this library's (WAKKS_E_*). wakks_strerror() names all of them. Codes of the libraries
 *   underneath (storage, crypto) are mapped onto these and never returned as they are.
 *
 * Threads
 *   No global state beyond libsodium's and OpenSSL's (both initialise themselves thread-safely):
 *   any number of clients may live in one process, on one thread or each on its own. One client
 *   must be used from one thread at a time; its callback runs on that thread.
 *
 * Ownership
 *   Strings and structs passed in are copied when the library keeps them. Pointers inside an
 *   event are valid only during the callback. Buffers the library returns through `char **`
 *   are malloc'd and belong to the caller (free()).
 */
#ifndef WAKKS_H
#define WAKKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WAKKS_ID_BYTES 16
#define WAKKS_KEY_BYTES 32
#define WAKKS_STORE_KEY_BYTES 32
#define WAKKS_NONCE_CHARS 43              /* base64url of SHA-256, no padding */
#define WAKKS_SAFETY_NUMBER_DIGITS 60
#define WAKKS_SLUG_MAX 32
/* One text message: the content record's body limit (crypto: MAX_PLAINTEXT less its header).
 * One send frame (1 MiB) carries one envelope per device, so the longest texts reach about 15
 * devices; a 4 KiB text reaches every device a frame may name (512). */
#define WAKKS_TEXT_MAX (65536 - 78)

/* ---- Errors ---------------------------------------------------------------------------------- */
#define WAKKS_ERRNO_MAP(X)                                                                     \
	X(INVAL, -100, "invalid argument")                                                     \
	X(NOMEM, -101, "out of memory")                                                        \
	X(IO, -102, "file or system error")                                                    \
	X(STORE, -103, "device store error")                                                   \
	X(STORE_KEY, -104, "store key does not open this store")                               \
	X(CORRUPT, -105, "a stored record is damaged")                                         \
	X(NET, -106, "network error")                                                          \
	X(TLS, -107, "TLS error or certificate not trusted")                                   \
	X(HANDSHAKE, -108, "WebSocket upgrade refused")                                        \
	X(CLOSED, -109, "connection closed")                                                   \
	X(TIMEOUT, -110, "timed out")                                                          \
	X(STATE, -111, "not possible in this state")                                           \
	X(NOT_REGISTERED, -112, "device is not registered")                                    \
	X(REGISTERED, -113, "device is already registered")                                    \
	X(CRYPTO, -114, "cryptographic operation failed")                                      \
	X(VERIFY, -115, "verification failed")                                                 \
	X(NOT_FOUND, -116, "not found")                                                        \
	X(PROTOCOL, -117, "unexpected reply from the relay")                                   \
	X(HTTP, -118, "HTTP request failed")                                                   \
	X(RETRIES, -119, "device set kept changing; gave up for now")                          \
	X(TOO_LARGE, -120, "input exceeds a limit")

enum {
	WAKKS_OK = 0,
#define WAKKS__ERR_ENUM(name, code, text) WAKKS_E_##name = (code),
	WAKKS_ERRNO_MAP(WAKKS__ERR_ENUM)
#undef WAKKS__ERR_ENUM
};

/* Relay refusals an application dispatches on (the wire codes of spec/protocol.md §12, negated;
 * equal to protocol/'s PROTO_E_*). Any other code from -1 to -63 is a refusal too. */
#define WAKKS_RELAY_AUTH_FAILED (-34)
#define WAKKS_RELAY_ATTESTATION_REJECTED (-35)
#define WAKKS_RELAY_NOT_FOUND (-36)
#define WAKKS_RELAY_DEVICE_MISMATCH (-37)
#define WAKKS_RELAY_QUOTA_EXCEEDED (-38)
#define WAKKS_RELAY_RATE_LIMITED (-39)
#define WAKKS_RELAY_CONSENT_REQUIRED (-40)
#define WAKKS_RELAY_FORBIDDEN (-41)
#define WAKKS_RELAY_TOO_MANY_DEVICES (-43)
#define WAKKS_RELAY_UNAVAILABLE (-44)
#define WAKKS_RELAY_OVER_LIMIT (-11)  /* a blob larger than the relay allows */
#define WAKKS_RELAY_BAD_DIGEST (-46)  /* an uploaded blob did not match its SHA-256 */

/* Static text for any result code of this library or a relay refusal; never NULL. */
const char *wakks_strerror(int err);

/* ---- Events ---------------------------------------------------------------------------------- */
enum wakks_event_type {
	WAKKS_EV_STATE = 1,     /* connection state changed: ev->state */
	WAKKS_EV_MESSAGE,       /* a message was received, decrypted and persisted: ev->message */
	WAKKS_EV_SENT,          /* the relay stored one of our messages: ev->message (outgoing) */
	WAKKS_EV_RECEIPT,       /* a recipient device acknowledged (or let expire) our message */
	WAKKS_EV_DEVICE_CHANGE, /* a peer account gained or lost a device: ev->peer */
	WAKKS_EV_KEY_CHANGE,    /* a known peer device shows a new identity key: ev->peer */
	WAKKS_EV_CONSENT,       /* a consent record of ours was accepted: ev->consent */
	WAKKS_EV_PREKEYS,       /* one-time prekeys uploaded or signed prekey rotated: ev->prekeys */
	WAKKS_EV_DONE,          /* an asynchronous operation finished: ev->done */
	WAKKS_EV_ERROR,         /* a problem with no operation to report it on: ev->error */
	WAKKS_EV_THREAD,        /* a thread changed (state, unread, identity, read receipts, history
				 * arrived): ev->thread, its id; re-read it with wakks_thread_get */
};

enum wakks_state {
	WAKKS_DISCONNECTED = 0, /* idle, or waiting to reconnect (wakks_timeout_ms tells when) */
	WAKKS_CONNECTING,       /* TCP, TLS and WebSocket upgrade in progress */
	WAKKS_CONNECTED,        /* hello received: the challenge is known; not authenticated */
	WAKKS_READY,            /* authenticated as this device */
};

typedef struct wakks_message {
	uint8_t id[WAKKS_ID_BYTES];            /* message id (content record), what de-duplicates */
	uint8_t conversation[WAKKS_ID_BYTES];
	uint8_t sender_account[WAKKS_ID_BYTES];
	uint8_t sender_device[WAKKS_ID_BYTES];
	uint8_t cmid[WAKKS_ID_BYTES];          /* client message id of the send that carried it */
	uint64_t sent_ms;                      /* sender's clock */
	uint64_t stored_ms;                    /* relay's commit time (0 while pending) */
	uint64_t seq;                          /* local history position */
	bool outgoing;
	char tenant[WAKKS_SLUG_MAX + 1];       /* the unit addressed, "" if none */
	char unit[WAKKS_SLUG_MAX + 1];
	uint8_t to_account[WAKKS_ID_BYTES];    /* outgoing: the account addressed (zeros if none) */
	const char *text;                      /* UTF-8 as sent, not NUL-terminated */
	size_t text_len;
	const struct wakks_attachment *attachment; /* a file message: the file, else NULL */
	/* Threads (spec/client.md §12-§16). */
	int kind;                              /* enum wakks_message_kind */
	uint8_t citizen[WAKKS_ID_BYTES];       /* the thread's citizen; zeros: not a unit thread */
	const struct wakks_notice *notice;     /* kind WAKKS_MSG_NOTICE: the notice, else NULL
						* (text is then the encoded notice, not for display) */
	uint64_t read_ms;                      /* the other side read it (read receipt); 0: not yet */
	bool from_history;                     /* given to this device as history (§16) */
} wakks_message;

/* The kinds an application sees (history, thread messages, events); the other records of
 * spec/client.md (receipts, presentations, history, and the notices seen, identity_request and
 * history_offer) change state and are not shown as messages. */
enum wakks_message_kind {
	WAKKS_MSG_TEXT = 1,   /* a text, or a file message (attachment set) */
	WAKKS_MSG_NOTICE = 4, /* a system notice of the thread: take, handover, ... (notice set) */
};

/* System notice types (spec/client.md §13). */
enum wakks_notice_type {
	WAKKS_NOTICE_TAKE = 1,
	WAKKS_NOTICE_HANDOVER = 2,
	WAKKS_NOTICE_ANSWERED = 3,
	WAKKS_NOTICE_CLOSED = 4,
	WAKKS_NOTICE_REOPENED = 5,
	WAKKS_NOTICE_HISTORY_OFFER = 6,
	WAKKS_NOTICE_JOURNAL_STATUS = 7,
	WAKKS_NOTICE_SEEN = 8,
	WAKKS_NOTICE_IDENTITY_REQUEST = 9,
};

typedef struct wakks_notice {
	int type;                              /* enum wakks_notice_type */
	uint8_t ref[WAKKS_ID_BYTES];           /* journal_status: the message; history_offer: device */
	uint8_t account[WAKKS_ID_BYTES];       /* handover: the new assignee */
	int state;                             /* journal_status: 1 journalised, 2 failed */
	char note[2001];                       /* handover note, closing reason, failure reason */
} wakks_notice;

/* The file of a file message (spec/client.md §5a, §6a). A file message carries exactly one file
 * and no text (a text sent with a file is a text message of its own, queued just before it). */
enum wakks_attachment_state {
	WAKKS_ATT_UPLOADING = 1, /* outgoing: the ciphertext is not yet wholly on the relay */
	WAKKS_ATT_UPLOADED,      /* outgoing: uploaded; the message is sent or about to be */
	WAKKS_ATT_DOWNLOADING,   /* incoming: not fetched yet (the envelope is not acknowledged) */
	WAKKS_ATT_SAVED,         /* incoming: size and SHA-256 verified, decrypted, saved at path */
	WAKKS_ATT_FAILED,        /* not sent, or not received: the blob was gone or did not verify */
};

typedef struct wakks_attachment {
	char file_name[256];   /* as the sender named it (UTF-8, no '/' guaranteed: sanitised on save) */
	char media_type[128];  /* as the sender declared it, e.g. "application/pdf" */
	uint64_t size;         /* plaintext bytes */
	int state;             /* enum wakks_attachment_state */
	/* Incoming and saved: the plaintext file (in the files directory). Outgoing: the file it
	 * was read from, "" when sent from memory. NUL-terminated. */
	const char *path;
} wakks_attachment;

typedef struct wakks_peer_event {
	uint8_t account[WAKKS_ID_BYTES];
	uint8_t device[WAKKS_ID_BYTES];
	uint8_t identity_key[WAKKS_KEY_BYTES];
	bool added;                            /* device change: added (true) or gone (false) */
	char safety_number[WAKKS_SAFETY_NUMBER_DIGITS + 1]; /* ours with this device's key */
} wakks_peer_event;

typedef struct wakks_device_info {
	uint8_t device[WAKKS_ID_BYTES];
	uint8_t identity_key[WAKKS_KEY_BYTES];
	uint64_t registered_ms;
	char label[65];
	bool this_device;
} wakks_device_info;

typedef struct wakks_consent_entry {
	int kind;                              /* 1 grant, 2 withdrawal */
	uint64_t relay_ms;                     /* when the relay stored it */
	uint64_t time_ms;                      /* when the citizen acted (from the record) */
	char tenant[WAKKS_SLUG_MAX + 1];
	char unit[WAKKS_SLUG_MAX + 1];
	char text_version[33];
} wakks_consent_entry;

typedef struct wakks_event {
	int type; /* enum wakks_event_type */
	union {
		int state; /* enum wakks_state */
		const wakks_message *message;
		struct {
			uint8_t cmid[WAKKS_ID_BYTES];
			uint8_t account[WAKKS_ID_BYTES];
			uint8_t device[WAKKS_ID_BYTES];
			uint64_t time_ms;
			bool expired;
		} receipt;
		wakks_peer_event peer;
		struct {
			int kind; /* 1 granted, 2 withdrawn */
			char tenant[WAKKS_SLUG_MAX + 1];
			char unit[WAKKS_SLUG_MAX + 1];
		} consent;
		struct {
			uint32_t uploaded;  /* one-time prekeys uploaded */
			uint32_t on_relay;  /* the relay's count after the upload */
			bool rotated;       /* the signed prekey was rotated */
		} prekeys;
		struct {
			uint32_t op;
			int result;
			/* For devices_list: the devices; for consent_list: the history. */
			const wakks_device_info *devices;
			size_t n_devices;
			const wakks_consent_entry *consents;
			size_t n_consents;
			bool consent_active; /* for wakks_consent_check */
		} done;
		struct {
			int code;
			const char *what; /* short static description */
		} error;
		uint8_t thread[WAKKS_ID_BYTES];
	} u;
} wakks_event;

typedef struct wakks_client wakks_client;
typedef void (*wakks_event_cb)(wakks_client *c, const wakks_event *ev, void *user);

/* ---- Opening a device ------------------------------------------------------------------------ */
typedef struct wakks_config {
	const char *relay_url;   /* "wss://host:port" (path /v1 is implied); required */
	const char *ca_file;     /* PEM file of trusted CAs or a pinned certificate; NULL: system */
	const char *store_dir;   /* directory of the device store; created (0700) if missing */
	const uint8_t *store_key; /* WAKKS_STORE_KEY_BYTES from the platform key store */
	const char *device_label; /* shown in device lists; NULL: none */
	wakks_event_cb on_event; /* may be NULL */
	void *user;
	bool auto_reconnect;     /* reconnect with back-off after a drop (default for apps) */
	uint32_t prekey_batch;   /* one-time prekeys per upload; 0: 50 */
	uint64_t spk_rotate_ms;  /* signed prekey rotation interval; 0: 7 days. Checked after
				  * each auth, and on a long connection at most once a minute */
	const char *files_dir;   /* where received files are saved (created 0700 if missing);
				  * NULL: STORE_DIR/files */
} wakks_config;

/* Opens (or creates) the store in cfg->store_dir and sets up a client; nothing is sent yet. A
 * new store gets a fresh identity key. The store is held open exclusively by this client (a
 * second open of the same directory fails with WAKKS_E_STORE).
 * @return 0, WAKKS_E_INVAL, WAKKS_E_NOMEM, WAKKS_E_IO, WAKKS_E_STORE, WAKKS_E_STORE_KEY (the key
 *         does not open this store), WAKKS_E_CORRUPT. *out is written only on success. */
int wakks_open(const wakks_config *cfg, wakks_client **out);

/* Closes the connection (without waiting), the store, and frees everything. Pending messages
 * stay in the store. NULL is a no-op. Must not be called from inside the event callback. */
void wakks_close(wakks_client *c);

/* ---- Connection ------------------------------------------------------------------------------ */
/* Starts connecting (DNS resolution is blocking, everything after it is not). When the device
 * is registered the client authenticates automatically after hello, then re-sends pending
 * messages and tops up prekeys. @return 0, WAKKS_E_STATE (already connecting or connected),
 * WAKKS_E_NET (resolution failed). */
int wakks_connect(wakks_client *c);
/* Closes the connection and stops reconnecting. */
void wakks_disconnect(wakks_client *c);
int wakks_state(const wakks_client *c);

/* Why the last connection, or attempt to connect, ended, so an application can tell the person
 * what to fix: the WAKKS_E_* code (0 while none has ended) and, in *why (may be NULL), one of
 * enum wakks_conn_why. Reset by wakks_connect. */
enum wakks_conn_why {
	WAKKS_WHY_OTHER = 0,    /* nothing more specific known */
	WAKKS_WHY_NO_HOST,      /* the host name did not resolve */
	WAKKS_WHY_REFUSED,      /* the host answered, but nothing listens on the port */
	WAKKS_WHY_UNREACHABLE,  /* no route to the host, or it did not answer */
	WAKKS_WHY_CERTIFICATE,  /* TLS: the relay's certificate is not trusted or not for this host */
	WAKKS_WHY_AUTH_REFUSED, /* the relay refused this device's auth: revoked or unknown */
};
int wakks_connection_error(const wakks_client *c, int *why);

/* The socket to watch (-1 when none), the poll(2) events to watch it for, and the milliseconds
 * until wakks_process() must be called anyway (-1: no timer). */
int wakks_fd(const wakks_client *c);
short wakks_want(const wakks_client *c);
int wakks_timeout_ms(const wakks_client *c);
/* Does all work that is possible without blocking: reads and dispatches frames, writes queued
 * frames, runs timers (reconnect, key rotation). @return 0, or a negative code when the
 * connection was lost (the client then reconnects later if auto_reconnect). */
int wakks_process(wakks_client *c);

/* Waits up to timeout_ms (-1: for ever) for the socket or a timer, then wakks_process(). */
int wakks_poll(wakks_client *c, int timeout_ms);
/* Runs wakks_poll until done(c, arg) is true. @return 0, or WAKKS_E_TIMEOUT. */
int wakks_run_until(wakks_client *c, bool (*done)(wakks_client *c, void *arg), void *arg,
		    int timeout_ms);
/* Runs the loop until operation op finishes. @return the operation's result, or
 * WAKKS_E_TIMEOUT (the operation goes on), WAKKS_E_INVAL (unknown op). */
int wakks_wait(wakks_client *c, uint32_t op, int timeout_ms);

/* ---- This device ----------------------------------------------------------------------------- */
bool wakks_is_registered(const wakks_client *c);
/* Copy out ids and the identity public key. @return 0 or WAKKS_E_NOT_REGISTERED (ids only). */
int wakks_account_id(const wakks_client *c, uint8_t out[WAKKS_ID_BYTES]);
int wakks_device_id(const wakks_client *c, uint8_t out[WAKKS_ID_BYTES]);
void wakks_identity_key(const wakks_client *c, uint8_t out[WAKKS_KEY_BYTES]);

/* ---- Registration (spec/identity.md §2-3) ------------------------------------------------------ */
/* The current connection's challenge (from hello). @return 0 or WAKKS_E_STATE (no hello yet). */
int wakks_challenge(const wakks_client *c, uint8_t out[32]);
/* The OpenID Connect nonce the app must send to the identity provider `issuer` for this device
 * and this connection: b64url(SHA-256("wakks.v1 oidc-nonce" 0x00 u16be(len) issuer IK C)),
 * NUL-terminated. A token is usable only on the connection whose challenge it binds, so
 * register before the connection drops. @return 0, WAKKS_E_INVAL, WAKKS_E_STATE. */
int wakks_registration_nonce(const wakks_client *c, const char *issuer,
			     char out[WAKKS_NONCE_CHARS + 1]);
/* Sends `register` with the ID token, the identity key, a new signed prekey and a batch of
 * one-time prekeys (their private halves are stored first). On success the account and device
 * ids are stored and the connection is authenticated. @return 0 (then *op), WAKKS_E_STATE (not
 * connected or already authenticated), WAKKS_E_REGISTERED, WAKKS_E_INVAL, WAKKS_E_STORE.
 * The operation result: 0, PROTO_E_ATTESTATION_REJECTED (-35), PROTO_E_TOO_MANY_DEVICES, ... */
int wakks_register(wakks_client *c, const char *id_token, uint32_t *op);

/* Development identity provider only (`/dev-idp/IDP` on the relay): runs the OpenID Connect
 * authorization-code flow with PKCE for demo user `user` with this connection's nonce, and
 * returns the ID token in *token (malloc'd). Blocking HTTPS to the relay, same trust settings.
 * @return 0, WAKKS_E_STATE (no challenge yet), WAKKS_E_NOT_FOUND (this provider offers no such
 *         user: citizens log in at dev-mitid, caseworkers at dev-adfs), WAKKS_E_HTTP,
 *         WAKKS_E_TLS, WAKKS_E_NET. */
int wakks_devidp_login(wakks_client *c, const char *idp, const char *user, char **token);

/* ---- Messages -------------------------------------------------------------------------------- */
/* An addressee: a citizen or caseworker account, a unit (tenant and unit slugs), or both (a
 * caseworker writing to a citizen on behalf of the unit, so colleagues and the journal get it). */
typedef struct wakks_target {
	const uint8_t *account; /* WAKKS_ID_BYTES or NULL */
	const char *tenant;     /* with unit, or NULL */
	const char *unit;
} wakks_target;

/* Queues a text: persists it as pending with a fresh client message id, then (when connected)
 * fetches device sets and bundles, sets up sessions, encrypts one envelope per device of the
 * addressee(s) and of our own other devices, and sends. On device_mismatch it refreshes and
 * retries with the same id; after a reconnect or restart it re-sends with the same id until
 * `stored`. message_id (may be NULL) receives the message id. @return 0 (then *op, may be NULL),
 * WAKKS_E_INVAL, WAKKS_E_TOO_LARGE, WAKKS_E_NOT_REGISTERED, WAKKS_E_STORE. The op's result:
 * 0 when stored, or the relay's refusal (e.g. PROTO_E_CONSENT_REQUIRED, PROTO_E_NOT_FOUND), in
 * which case the message is dropped from pending and kept in history as failed. */
int wakks_send_text(wakks_client *c, const wakks_target *to, const char *text, size_t len,
		    uint8_t message_id[WAKKS_ID_BYTES], uint32_t *op);
/* The op's result may also be WAKKS_E_TOO_LARGE: the envelopes for all devices do not fit in
 * one frame (dropped from pending, kept in history as failed). Results that leave the message
 * pending, to be sent again with the same id: WAKKS_E_CLOSED (connection lost and no
 * auto_reconnect), WAKKS_E_RETRIES (the device set kept changing), WAKKS_RELAY_RATE_LIMITED,
 * WAKKS_RELAY_UNAVAILABLE, WAKKS_RELAY_QUOTA_EXCEEDED; WAKKS_EV_SENT still follows when it is
 * stored later. */
/* A file to send: its bytes from a path or from memory. */
typedef struct wakks_file {
	const char *path;         /* read whole at the call; or NULL and data/len */
	const uint8_t *data;
	size_t len;
	const char *file_name;    /* NULL: the last component of path (required with data) */
	const char *media_type;   /* NULL: from the file name's extension, else
				   * application/octet-stream */
} wakks_file;

/* Largest file wakks_send_file takes (the attachment limit of crypto/; a relay's own limit,
 * 25 MiB by default, may be lower: the op then fails with PROTO_E_OVER_LIMIT). */
#define WAKKS_FILE_MAX (64u * 1024 * 1024)

/* Queues a file message: encrypts the file under a fresh key (spec/crypto.md §13), writes the
 * ciphertext into the store directory (outbox/) and, in one transaction, the message as pending
 * with its attachment state. When connected it uploads the ciphertext in chunks of at most
 * 256 KiB, continuing from the relay's `have` after a reconnect or restart, then sends the
 * message (content record kind attachment, `blobs` naming the blob) exactly like
 * wakks_send_text. With text (len > 0), a text message is queued in the same transaction just
 * before the file message. The whole file and its ciphertext are held in memory during the
 * call. message_id (may be NULL) receives the file message's id; *op (may be NULL) finishes
 * when the file message is stored (the text, queued first, is stored before it) or refused.
 * @return 0, WAKKS_E_INVAL (no file name, bad target, a name or type too long), WAKKS_E_IO (the
 *         path cannot be read, or the ciphertext cannot be written), WAKKS_E_TOO_LARGE (over
 *         WAKKS_FILE_MAX, or text over WAKKS_TEXT_MAX), WAKKS_E_NOT_REGISTERED, WAKKS_E_STORE,
 *         WAKKS_E_NOMEM. The op's results are those of wakks_send_text, and also refusals of
 *         the upload: PROTO_E_OVER_LIMIT (-11, larger than the relay allows),
 *         PROTO_E_QUOTA_EXCEEDED (kept pending), PROTO_E_BAD_DIGEST (-46). A refused file
 *         message is kept in history as failed with attachment state WAKKS_ATT_FAILED. */
int wakks_send_file(wakks_client *c, const wakks_target *to, const wakks_file *file,
		    const char *text, size_t len, uint8_t message_id[WAKKS_ID_BYTES], uint32_t *op);

/* Receiving a file message: the envelope is decrypted and the message stored with attachment
 * state WAKKS_ATT_DOWNLOADING, then the blob is downloaded (blob_get, 256 KiB at a time) BEFORE
 * the envelope is acknowledged; its size and SHA-256 are checked against the descriptor before
 * anything is decrypted; the plaintext is written to the files directory (a new file, never
 * overwriting one: "name", "name-2", ...) and fsynced; then the state becomes WAKKS_ATT_SAVED,
 * WAKKS_EV_MESSAGE reports the message with its attachment, and the envelope is acknowledged.
 * A blob that is gone (PROTO_E_NOT_FOUND) or does not verify ends as WAKKS_ATT_FAILED (an
 * WAKKS_EV_ERROR says which: WAKKS_E_VERIFY for a blob that did not verify, nothing
 * decrypted), and the message event still follows. A connection lost during a download
 * leaves the envelope unacknowledged: it is delivered again and the download starts over.
 * Downloads run one at a time, so the message event of a file can come after those of texts
 * that arrived later. */

/* Number of received files waiting to be downloaded or being downloaded (their envelopes are
 * not acknowledged yet). */
size_t wakks_downloads_pending(const wakks_client *c);

/* Number of messages waiting for `stored`. */
size_t wakks_pending_count(const wakks_client *c);

/* The outbox: calls fn for every message still waiting for `stored`, in the order they are sent
 * (history order); fn returns nonzero to stop. The message is valid during the call.
 * @return 0, WAKKS_E_STORE, WAKKS_E_CORRUPT, WAKKS_E_NOMEM. */
int wakks_outbox(wakks_client *c, int (*fn)(const wakks_message *m, void *arg), void *arg);
/* Takes a message (by message id) out of the outbox so it is never sent: it stays in history
 * marked failed (a file message's attachment as WAKKS_ATT_FAILED, its outbox file removed), and
 * the op that queued it, if this client still runs it, finishes with WAKKS_E_NOT_FOUND.
 * @return 0, WAKKS_E_NOT_FOUND (no such message waiting), WAKKS_E_STATE (it is the message being
 * sent right now: it may already be on the relay), WAKKS_E_STORE, WAKKS_E_CORRUPT. */
int wakks_outbox_drop(wakks_client *c, const uint8_t message_id[WAKKS_ID_BYTES]);

/* Calls fn for every stored message (received and sent), oldest first; fn returns nonzero to
 * stop. The message is valid during the call. @return 0, WAKKS_E_STORE, WAKKS_E_CORRUPT. */
int wakks_history(wakks_client *c, int (*fn)(const wakks_message *m, void *arg), void *arg);


/* ---- Threads (spec/client.md §12-§18) -------------------------------------------------------
 * The threading model. A thread is (tenant, unit, citizen account): everything the citizen and
 * the unit's caseworkers say about that citizen. Every record of a thread carries the thread
 * reference inside the encryption, and is sent so that it reaches every device of the citizen,
 * of every member of the unit and the unit's journal device; so every device of the unit holds
 * the same thread and places a colleague's reply in it. Its state (open / answered / closed,
 * the assignee) is derived on every device from the system notices in it; unread counts are per
 * person (synchronised between the person's own devices by `seen` notices), read receipts tell
 * the other side, and a citizen's device presents the evidence of its MitID registration to the
 * unit, which each caseworker device verifies itself (wakks_thread.identity).
 *
 * Which calls block: wakks_threads, wakks_thread_get, wakks_thread_messages, wakks_audit_list
 * and wakks_identity_reveal read the local store only (no network). wakks_thread_read,
 * wakks_thread_notice and wakks_thread_request_identity queue records like wakks_send_text and
 * return at once. wakks_tenant_info_get is a blocking HTTPS request; receiving a citizen's
 * presentation makes wakks_process fetch the tenant's information once (blocking HTTPS, then
 * kept for the connection). wakks_consent_check is asynchronous (an operation).
 */
enum wakks_thread_state { WAKKS_THREAD_OPEN = 0, WAKKS_THREAD_ANSWERED, WAKKS_THREAD_CLOSED };

/* The result of checking a citizen's presentation (spec/client.md §15). */
enum wakks_identity_status {
	WAKKS_ID_NOT_PRESENTED = 0, /* the citizen's device has presented nothing (yet) */
	WAKKS_ID_VERIFIED,          /* name and CPR verified with the provider's keys */
	WAKKS_ID_UNVERIFIED,        /* presented, but did not verify: reason */
};
enum wakks_identity_reason {
	WAKKS_IDR_NONE = 0,
	WAKKS_IDR_MALFORMED,
	WAKKS_IDR_UNAVAILABLE,      /* the tenant's information could not be fetched (tried again) */
	WAKKS_IDR_FOREIGN_PROVIDER, /* not a citizen provider of the tenant */
	WAKKS_IDR_SIGNATURE,        /* the provider's signature does not verify */
	WAKKS_IDR_AUDIENCE,
	WAKKS_IDR_KEY_BINDING,      /* the token is bound to another device key */
	WAKKS_IDR_CLAIMS,           /* no CPR number or no name */
};

typedef struct wakks_identity {
	int status;               /* enum wakks_identity_status */
	int reason;               /* enum wakks_identity_reason when unverified */
	char name[256];           /* verified: the name the provider attested */
	char cpr_masked[12];      /* verified: "DDMMYY-xxxx" (wakks_identity_reveal for the number) */
	uint64_t registered_ms;   /* verified: when the provider identified the citizen (iat) */
} wakks_identity;

enum wakks_thread_filter {
	WAKKS_FILTER_ALL = 0,
	WAKKS_FILTER_UNASSIGNED,
	WAKKS_FILTER_MINE,
	WAKKS_FILTER_UNREAD,
};

typedef struct wakks_thread {
	uint8_t id[WAKKS_ID_BYTES];
	uint8_t citizen[WAKKS_ID_BYTES];
	char tenant[WAKKS_SLUG_MAX + 1];
	char unit[WAKKS_SLUG_MAX + 1];
	int state;                         /* enum wakks_thread_state */
	bool assigned;
	uint8_t assignee[WAKKS_ID_BYTES];  /* when assigned */
	uint32_t messages;                 /* texts, files and notices held */
	uint32_t unread;                   /* the other side's messages after this person's mark */
	uint64_t last_seq;                 /* history position of the newest message */
	uint64_t last_ms;                  /* its time (stored, else sent) */
	wakks_identity identity;
} wakks_thread;

/* Threads held on this device, newest first (by last_seq), at most cap, only those with
 * last_seq < before_seq (0: from the newest), matching filter. *n receives the count. Paging:
 * call again with before_seq = the last one's last_seq. @return 0, WAKKS_E_INVAL, WAKKS_E_STORE,
 * WAKKS_E_CORRUPT, WAKKS_E_NOMEM. Non-blocking (store only). */
int wakks_threads(wakks_client *c, int filter, uint64_t before_seq, wakks_thread *out, size_t cap,
		  size_t *n);
/* One thread. @return 0, WAKKS_E_NOT_FOUND, ... */
int wakks_thread_get(wakks_client *c, const uint8_t thread[WAKKS_ID_BYTES], wakks_thread *out);
/* The thread's messages (texts, files, notices), newest first, at most max, only those with
 * seq < before_seq (0: from the newest); fn returns nonzero to stop. @return 0 or an error. */
int wakks_thread_messages(wakks_client *c, const uint8_t thread[WAKKS_ID_BYTES],
			  uint64_t before_seq, size_t max,
			  int (*fn)(const wakks_message *m, void *arg), void *arg);
/* The person has read the thread: moves the seen mark to the newest message, tells the person's
 * own other devices (a `seen` notice) and, when the tenant has read receipts on, the other side
 * (a read receipt naming the messages newly read). Queued; returns at once. */
int wakks_thread_read(wakks_client *c, const uint8_t thread[WAKKS_ID_BYTES]);
/* Queues a system notice to the unit's devices (spec/client.md §13): WAKKS_NOTICE_TAKE,
 * _HANDOVER (account = the colleague, note optional), _ANSWERED, _CLOSED (note optional),
 * _REOPENED, _JOURNAL_STATUS (ref = the message, state 1 journalised / 2 failed, note = reason).
 * account/ref may be NULL when the type does not use them. message_id (may be NULL) receives the
 * notice's id. @return 0 (then *op, may be NULL), WAKKS_E_INVAL, WAKKS_E_NOT_FOUND (no such
 * thread), WAKKS_E_STORE. */
int wakks_thread_notice(wakks_client *c, const uint8_t thread[WAKKS_ID_BYTES], int type,
			const uint8_t *account, const uint8_t *ref, int state, const char *note,
			uint8_t message_id[WAKKS_ID_BYTES], uint32_t *op);
/* Asks the citizen's devices to present their identity again (an identity_request). */
int wakks_thread_request_identity(wakks_client *c, const uint8_t thread[WAKKS_ID_BYTES]);
/* The full CPR number of a verified thread (10 digits and NUL, into cpr). Writes a reveal entry
 * to the device's local audit log first (time, thread, citizen; never the number).
 * @return 0, WAKKS_E_NOT_FOUND (no such thread), WAKKS_E_STATE (not verified), WAKKS_E_STORE. */
int wakks_identity_reveal(wakks_client *c, const uint8_t thread[WAKKS_ID_BYTES], char cpr[11]);

enum wakks_audit_type { WAKKS_AUDIT_CPR_REVEAL = 1 };
typedef struct wakks_audit_entry {
	uint64_t seq;
	int type;                          /* enum wakks_audit_type */
	uint64_t time_ms;
	uint8_t thread[WAKKS_ID_BYTES];
	uint8_t citizen[WAKKS_ID_BYTES];
} wakks_audit_entry;
/* The local audit log, oldest first. */
int wakks_audit_list(wakks_client *c, int (*fn)(const wakks_audit_entry *e, void *arg), void *arg);

/* Asks the relay whether the citizen's consent covers tenant/unit (caseworkers and journal
 * devices, for one of their units). The op's WAKKS_EV_DONE has result 0 and done.consent_active,
 * or a refusal (WAKKS_RELAY_FORBIDDEN, WAKKS_RELAY_NOT_FOUND). */
int wakks_consent_check(wakks_client *c, const uint8_t citizen[WAKKS_ID_BYTES], const char *tenant,
			const char *unit, uint32_t *op);

/* A tenant's public settings (GET /tenant/TENANT, spec/client.md §18). Blocking HTTPS.
 * @return 0, WAKKS_E_HTTP (incl. 404), WAKKS_E_PROTOCOL, WAKKS_E_TLS, WAKKS_E_NET. */
typedef struct wakks_tenant_info {
	char id[WAKKS_SLUG_MAX + 1];
	char name[256];
	uint32_t history_days;
	bool read_receipts;
	size_t n_citizen_idps;
} wakks_tenant_info;
int wakks_tenant_info_get(wakks_client *c, const char *tenant, wakks_tenant_info *out);

/* ---- Devices and safety numbers ------------------------------------------------------------ */
/* Lists this account's devices (result in the WAKKS_EV_DONE event). */
int wakks_devices_list(wakks_client *c, uint32_t *op);
/* Revokes a device of this account (this one too: a logout). */
int wakks_device_revoke(wakks_client *c, const uint8_t device[WAKKS_ID_BYTES], uint32_t *op);
/* The 60-digit safety number of this device and a known peer device (NUL-terminated).
 * @return 0, WAKKS_E_NOT_FOUND (no such peer device known), WAKKS_E_STORE. */
int wakks_safety_number(wakks_client *c, const uint8_t peer_device[WAKKS_ID_BYTES],
			char out[WAKKS_SAFETY_NUMBER_DIGITS + 1]);
/* Calls fn for every known peer device (account, device, identity key). */
int wakks_peers(wakks_client *c,
		int (*fn)(const uint8_t account[WAKKS_ID_BYTES], const uint8_t device[WAKKS_ID_BYTES],
			  const uint8_t identity_key[WAKKS_KEY_BYTES], void *arg),
		void *arg);

/* ---- Consent (spec/consent.md; citizens only) ------------------------------------------------ */
/* The text a citizen is shown, from GET /consent/TENANT[/UNIT] on the relay. */
typedef struct wakks_consent_text {
	char tenant[WAKKS_SLUG_MAX + 1];
	char unit[WAKKS_SLUG_MAX + 1];
	char version[33];
	char language[9];
	uint8_t sha256[32];
	char *text; /* malloc'd, NUL-terminated; wakks_consent_text_free */
} wakks_consent_text;
/* Blocking HTTPS GET; checks that sha256 is the hash of text. @return 0, WAKKS_E_HTTP (incl. 404),
 * WAKKS_E_PROTOCOL (bad JSON or hash), WAKKS_E_TLS, WAKKS_E_NET, WAKKS_E_INVAL. */
int wakks_consent_text_fetch(wakks_client *c, const char *tenant, const char *unit,
			     wakks_consent_text *out);
void wakks_consent_text_free(wakks_consent_text *t);

/* Builds the record of spec/consent.md §2 (kind 1 grant, 2 withdrawal) for this device and
 * signs it (§3). rec must hold 4096 bytes. For tests and auditors; grant/withdraw use it.
 * @return 0, WAKKS_E_INVAL, WAKKS_E_NOT_REGISTERED, WAKKS_E_TOO_LARGE. */
int wakks_consent_record(const wakks_client *c, int kind, const char *tenant, const char *unit,
			 const char *text_version, const uint8_t text_sha256[32],
			 const char *language, uint64_t time_ms, uint8_t *rec, size_t *rec_len,
			 uint8_t sig[64]);
/* Signs and sends a grant or withdrawal for the text shown. tenant/unit/version/sha/language come
 * from *text (unit "" = the whole tenant). */
int wakks_consent_grant(wakks_client *c, const wakks_consent_text *text, uint32_t *op);
int wakks_consent_withdraw(wakks_client *c, const wakks_consent_text *text, uint32_t *op);
/* The account's consent history (WAKKS_EV_DONE carries it). */
int wakks_consent_list(wakks_client *c, uint32_t *op);

/* ---- Small helpers --------------------------------------------------------------------------- */
/* Lowercase hex of an id (33 bytes with NUL) and back. wakks_id_parse: 0 or WAKKS_E_INVAL. */
void wakks_id_hex(const uint8_t id[WAKKS_ID_BYTES], char out[2 * WAKKS_ID_BYTES + 1]);
int wakks_id_parse(const char *hex, uint8_t out[WAKKS_ID_BYTES]);

#ifdef __cplusplus
}
#endif
#endif
