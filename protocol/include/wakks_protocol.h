/* SPDX-License-Identifier: MPL-2.0 */
/*
 * OS2wakks wire protocol v1: frame codec and validation (spec/protocol.md).
 *
 * A frame is one msgpack value per binary WebSocket message: the array
 *
 *     [type: uint, request_id: uint, body: map with short string keys]
 *
 * proto_frame_decode() validates a whole frame (msgpack well-formedness, types, lengths, required
 * fields, limits, request id rules) and fills a plain C struct; proto_frame_encode() validates a
 * struct the same way and writes the canonical encoding. Both are thread-safe and never log. Library results are `int`: 0 on success, a negative PROTO_E_* code otherwise; the
 * same codes (positive) travel in `error` frames.
 *
 * Ownership and lifetime of views
 *   Every pointer in a decoded proto_frame (ids, keys, signatures, proto_bytes, proto_str) is a
 *   zero-copy view into the buffer passed to proto_frame_decode(). The frame owns nothing: the
 *   views stay valid exactly as long as that buffer is neither freed nor modified. Copy what must
 *   outlive the frame buffer (a libwebsockets receive buffer, for instance, is reused after the
 *   callback returns). proto_str views are NOT NUL-terminated. An empty bin or str that is present
 *   points at a static empty string instead (never NULL: NULL means absent).
 *   Fixed-size fields (PROTO_ID_BYTES, PROTO_KEY_BYTES, ...) are `const uint8_t *` pointing at
 *   exactly that many bytes; an optional one that is absent is NULL.
 *   When encoding, the caller owns every buffer the struct points to; the encoder only reads them.
 *
 * Memory
 *   proto_frame embeds fixed arrays bounded by the PROTO_MAX_* limits, so decoding never allocates
 *   from a peer-declared length: msgpack-c's object tree is built in a zone only after a scan has
 *   checked that every declared length is backed by bytes actually present and that the frame has
 *   at most PROTO_MAX_OBJECTS objects (a zone of ~400 KiB at most; one 4 KiB chunk for a typical
 *   send). Each thread keeps one such zone between decodes, cut back to its first 4 KiB chunk
 *   after every frame and freed when the thread exits. sizeof(proto_frame) is about 40 KiB: keep
 *   one per connection or on the heap, not on small stacks.
 *
 * Threads
 *   Every function may be called from any thread; a proto_frame must not be decoded into while
 *   another thread reads it.
 */
#ifndef WAKKS_PROTOCOL_H
#define WAKKS_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Transport ------------------------------------------------------------------------------ */

#define PROTO_VERSION 1u
#define PROTO_WS_PATH "/v1"
#define PROTO_WS_SUBPROTOCOL "wakks.v1"

/* ---- Sizes of fixed fields ------------------------------------------------------------------ */

#define PROTO_ID_BYTES 16u        /* account id, device id, client message id */
#define PROTO_KEY_BYTES 32u       /* X25519 / Ed25519 public keys */
#define PROTO_SIG_BYTES 64u       /* Ed25519 signatures */
#define PROTO_CHALLENGE_BYTES 32u /* hello challenge */

/* auth signs PROTO_AUTH_CONTEXT || 0x00 || challenge(32) || device_id(16): 62 bytes. */
#define PROTO_AUTH_CONTEXT "wakks.v1 auth"
#define PROTO_AUTH_CONTEXT_BYTES 13u
#define PROTO_AUTH_MSG_BYTES (PROTO_AUTH_CONTEXT_BYTES + 1u + PROTO_CHALLENGE_BYTES + PROTO_ID_BYTES)

/* ---- Limits on peer-controlled quantities (each with its reason; see spec/protocol.md §8) ---- */

/* The relay buffers a whole frame before decoding; 1 MiB bounds per-connection memory while
 * holding a full send to a large unit (512 devices x 2 KiB). */
#define PROTO_MAX_FRAME_BYTES (1u << 20)
/* Nesting of msgpack containers anywhere in a frame, unknown fields included. v1 needs 4; the
 * bound keeps scanning iterative and stack use fixed. */
#define PROTO_MAX_DEPTH 8u
/* msgpack objects (every value, key and container) in one frame. msgpack-c allocates a 24-byte
 * object per array element and two per map entry, so this bounds its zone to ~400 KiB whatever a
 * frame declares; the largest legal v1 frame (a full bundles reply) has about 11800. */
#define PROTO_MAX_OBJECTS 16384u
/* Keys in one map, unknown ones included: bounds the work spent skipping unknown fields. */
#define PROTO_MAX_MAP_KEYS 32u
/* Per-device envelopes in one send: every device of the addressed accounts, of the unit's
 * caseworkers, the journal device and the sender's own devices. A large unit has ~150
 * caseworkers with 2-3 devices each. */
#define PROTO_MAX_RECIPIENT_DEVICES 512u
/* Accounts addressed directly by one send (a citizen and a few colleagues; groups are units). */
#define PROTO_MAX_RECIPIENT_ACCOUNTS 32u
/* One ciphertext: a text message with its ratchet header and padding. Files are attachments
 * (blobs, below) and never travel inline. */
#define PROTO_MAX_CIPHERTEXT_BYTES (64u * 1024u)
/* Attachments (spec/protocol.md §10). One chunk of a blob upload or download: with the frame's
 * few other bytes it stays well under PROTO_MAX_FRAME_BYTES, and one write or read of it keeps
 * the relay's per-request memory small. */
#define PROTO_MAX_BLOB_CHUNK_BYTES (256u * 1024u)
/* Blobs one send may reference: a message with a handful of photos or documents. */
#define PROTO_MAX_BLOBS_PER_SEND 16u
/* The largest blob size the wire accepts; the relay's configured limit (25 MiB by default) is
 * tighter. Bounds offsets and sizes a peer can name. */
#define PROTO_MAX_BLOB_BYTES (1ull << 30)
#define PROTO_SHA256_BYTES 32u
/* One-time prekeys per upload or registration: enough for ~100 new sessions between
 * top-ups; a bigger batch would only hand out more keys to exhaust. */
#define PROTO_MAX_PREKEYS_PER_UPLOAD 100u
/* Devices of one account (phone, tablet, browsers); also bounds the device list reply. */
#define PROTO_MAX_DEVICES_PER_ACCOUNT 16u
/* Entries in a device set or bundle reply: the same bound as a send's recipients. */
#define PROTO_MAX_DEVICE_SET PROTO_MAX_RECIPIENT_DEVICES
/* An OpenID Connect ID token (compact JWS). Real MitID/ADFS tokens are 1-4 KiB; 16 KiB leaves
 * room for large group claims without letting a peer park megabytes before authenticating. */
#define PROTO_MAX_ATTESTATION_BYTES (16u * 1024u)
/* A signed consent record (spec/identity.md): a few ids, a hash and a time. */
#define PROTO_MAX_CONSENT_RECORD_BYTES 4096u
/* Consent records returned by one consent_list: a citizen's whole history over many years. */
#define PROTO_MAX_CONSENTS 256u
/* A CPR number: 10 digits, optionally with a dash after the sixth. */
#define PROTO_MIN_CPR_BYTES 10u
#define PROTO_MAX_CPR_BYTES 11u
/* Tenants (municipalities: Denmark has 98) and units per tenant in directory replies. */
#define PROTO_MAX_TENANTS 256u
#define PROTO_MAX_UNITS 256u
/* Tenant and unit ids: lowercase ASCII slugs such as "varde", "jobcenter". */
#define PROTO_MAX_SLUG_BYTES 32u
/* Human-readable UTF-8 strings: display names, device labels, error texts. */
#define PROTO_MAX_NAME_BYTES 128u
#define PROTO_MAX_LABEL_BYTES 64u
#define PROTO_MAX_ERROR_TEXT_BYTES 256u
#define PROTO_MAX_ERROR_NAME_BYTES 32u

/* ---- Result codes ----------------------------------------------------------------------------
 * One table for the library and the wire: functions return -code, `error` frames carry +code
 * with its symbolic name. 1..31 are frame-level (codec) errors, 32..63 are relay errors.
 * Results therefore lie in -1..-63, a range no other library of this project uses (storage
 * -1000.., crypto -2000.., libwakks -100..-199, identity -5000.., the relay's own -6000..), so a
 * code from another layer can never pass for a wire code. */
#define PROTO_ERRNO_MAP(X)                                                                       \
	X(MALFORMED, 1, "malformed", "not well-formed msgpack")                                   \
	X(TRUNCATED, 2, "truncated", "frame ends inside a value")                                 \
	X(TRAILING, 3, "trailing_bytes", "bytes follow the frame value")                          \
	X(TOO_LARGE, 4, "frame_too_large", "frame exceeds the frame size limit")                  \
	X(TOO_DEEP, 5, "too_deep", "containers nested deeper than allowed")                       \
	X(BAD_SHAPE, 6, "bad_shape", "frame is not [type, request_id, body map]")                 \
	X(UNKNOWN_TYPE, 7, "unknown_type", "unknown frame type")                                  \
	X(BAD_REQUEST_ID, 8, "bad_request_id", "request id zero on a request or nonzero on a push") \
	X(WRONG_TYPE, 9, "wrong_type", "field has the wrong msgpack type")                        \
	X(BAD_LENGTH, 10, "bad_length", "field has the wrong length")                             \
	X(OVER_LIMIT, 11, "over_limit", "field or list exceeds its limit")                        \
	X(MISSING_FIELD, 12, "missing_field", "required field missing")                           \
	X(DUPLICATE_FIELD, 13, "duplicate_field", "field appears twice")                          \
	X(OUT_OF_RANGE, 14, "out_of_range", "integer out of range")                               \
	X(BAD_STRING, 15, "bad_string", "string is not valid UTF-8 or not a valid id")            \
	X(INVALID, 16, "invalid", "fields are inconsistent with each other")                      \
	X(NO_SPACE, 17, "no_space", "output buffer too small")                                    \
	X(NOMEM, 18, "out_of_memory", "out of memory")                                            \
	X(BAD_ARGUMENT, 19, "bad_argument", "invalid argument")                                   \
	X(NOT_AUTHENTICATED, 32, "not_authenticated", "authenticate first")                       \
	X(ALREADY_AUTHENTICATED, 33, "already_authenticated", "connection is already authenticated") \
	X(AUTH_FAILED, 34, "auth_failed", "authentication failed")                                \
	X(ATTESTATION_REJECTED, 35, "attestation_rejected", "identity attestation rejected")      \
	X(NOT_FOUND, 36, "not_found", "no such account, device, tenant or unit")                  \
	X(DEVICE_MISMATCH, 37, "device_mismatch", "recipient device set is not current")          \
	X(QUOTA_EXCEEDED, 38, "quota_exceeded", "a recipient mailbox or quota is full")           \
	X(RATE_LIMITED, 39, "rate_limited", "too many requests")                                  \
	X(CONSENT_REQUIRED, 40, "consent_required", "no active consent for this conversation")    \
	X(FORBIDDEN, 41, "forbidden", "not allowed for this device")                              \
	X(BAD_SIGNATURE, 42, "bad_signature", "signature does not verify")                        \
	X(TOO_MANY_DEVICES, 43, "too_many_devices", "account has the maximum number of devices")  \
	X(UNAVAILABLE, 44, "unavailable", "relay temporarily unavailable, retry later")           \
	X(INTERNAL, 45, "internal", "internal relay error")                                       \
	X(BAD_DIGEST, 46, "bad_digest", "uploaded bytes do not match the declared SHA-256")

enum proto_errno {
	PROTO_OK = 0,
#define PROTO__ERRNO_ENUM(name, code, sym, text) PROTO_E_##name = -(code),
	PROTO_ERRNO_MAP(PROTO__ERRNO_ENUM)
#undef PROTO__ERRNO_ENUM
};

/* Human text for a result code (either sign); "unknown error" for codes not in the table.
 * Returns a static string. */
const char *proto_strerror(int err);
/* Symbolic wire name ("device_mismatch") for a result code (either sign), or NULL if unknown. */
const char *proto_errname(int err);
/* Code (negative) for a symbolic wire name, or 0 if unknown. Length-delimited, need not end in NUL. */
int proto_errcode(const char *name, size_t len);

/* ---- Frame types -----------------------------------------------------------------------------
 * X(NAME, wire number, wire name, body member, flags). Directions: C2R client -> relay, R2C relay
 * -> client. REQUEST: nonzero request id, answered by a reply echoing it. PUSH: request id 0.
 * REPLY: echoes a request's id. PRE_AUTH / POST_AUTH: when a client may send it. */
#define PROTO_F_C2R 0x01u
#define PROTO_F_R2C 0x02u
#define PROTO_F_REQUEST 0x04u
#define PROTO_F_REPLY 0x08u
#define PROTO_F_PUSH 0x10u
#define PROTO_F_PRE_AUTH 0x20u
#define PROTO_F_POST_AUTH 0x40u

#define PROTO__REQ_PRE (PROTO_F_C2R | PROTO_F_REQUEST | PROTO_F_PRE_AUTH)
#define PROTO__REQ_POST (PROTO_F_C2R | PROTO_F_REQUEST | PROTO_F_POST_AUTH)
#define PROTO__REPLY (PROTO_F_R2C | PROTO_F_REPLY)
#define PROTO__PUSH (PROTO_F_R2C | PROTO_F_PUSH)

#define PROTO_TYPE_MAP(X)                                                                        \
	X(HELLO, 1, "hello", hello, PROTO__PUSH)                                                  \
	X(AUTH, 2, "auth", auth, PROTO__REQ_PRE)                                                  \
	X(AUTH_OK, 3, "auth_ok", auth_ok, PROTO__REPLY)                                           \
	X(OK, 4, "ok", ok, PROTO__REPLY)                                                          \
	X(ERROR, 5, "error", error, PROTO__REPLY | PROTO_F_PUSH)                                   \
	X(REGISTER, 16, "register", reg, PROTO__REQ_PRE)                                          \
	X(REGISTERED, 17, "registered", registered, PROTO__REPLY)                                 \
	X(DEVICES_LIST, 18, "devices_list", devices_list, PROTO__REQ_POST)                        \
	X(DEVICES, 19, "devices", devices, PROTO__REPLY)                                          \
	X(DEVICE_REVOKE, 20, "device_revoke", device_revoke, PROTO__REQ_POST)                     \
	X(UNIT_DEVICES_CHANGED, 21, "unit_devices_changed", unit_devices_changed, PROTO__PUSH)    \
	X(PREKEYS_UPLOAD, 32, "prekeys_upload", prekeys_upload, PROTO__REQ_POST)                  \
	X(SPK_ROTATE, 33, "spk_rotate", spk_rotate, PROTO__REQ_POST)                              \
	X(KEY_COUNT_GET, 34, "key_count_get", key_count_get, PROTO__REQ_POST)                     \
	X(KEY_COUNT, 35, "key_count", key_count, PROTO__REPLY)                                    \
	X(PREKEYS_LOW, 36, "prekeys_low", prekeys_low, PROTO__PUSH)                               \
	X(BUNDLES_FETCH, 37, "bundles_fetch", bundles_fetch, PROTO__REQ_POST)                     \
	X(BUNDLES, 38, "bundles", bundles, PROTO__REPLY)                                          \
	X(TENANTS_LIST, 48, "tenants_list", tenants_list, PROTO__REQ_POST)                        \
	X(TENANTS, 49, "tenants", tenants, PROTO__REPLY)                                          \
	X(UNITS_LIST, 50, "units_list", units_list, PROTO__REQ_POST)                              \
	X(UNITS, 51, "units", units, PROTO__REPLY)                                                \
	X(DEVICE_SET_GET, 52, "device_set_get", device_set_get, PROTO__REQ_POST)                  \
	X(DEVICE_SET, 53, "device_set", device_set, PROTO__REPLY)                                 \
	X(SEND, 64, "send", send, PROTO__REQ_POST)                                                \
	X(STORED, 65, "stored", stored, PROTO__REPLY)                                             \
	X(DELIVER, 66, "deliver", deliver, PROTO__PUSH)                                           \
	X(ACK, 67, "ack", ack, PROTO__REQ_POST)                                                   \
	X(RECEIPT, 68, "receipt", receipt, PROTO__PUSH)                                           \
	X(EXPIRED, 69, "expired", expired, PROTO__PUSH)                                           \
	X(CONSENT_GRANT, 80, "consent_grant", consent_grant, PROTO__REQ_POST)                     \
	X(CONSENT_WITHDRAW, 81, "consent_withdraw", consent_withdraw, PROTO__REQ_POST)            \
	X(CONSENT_LIST, 82, "consent_list", consent_list, PROTO__REQ_POST)                        \
	X(CONSENTS, 83, "consents", consents, PROTO__REPLY)                                       \
	X(CITIZEN_LOOKUP, 84, "citizen_lookup", citizen_lookup, PROTO__REQ_POST)                  \
	X(CITIZEN, 85, "citizen", citizen, PROTO__REPLY)                                          \
	X(CONSENT_CHANGED, 86, "consent_changed", consent_changed, PROTO__PUSH)                   \
	X(DEVICES_CHANGED, 87, "devices_changed", devices_changed, PROTO__PUSH)                   \
	X(CONSENT_CHECK, 88, "consent_check", consent_check, PROTO__REQ_POST)                     \
	X(CONSENT_STATE, 89, "consent_state", consent_state, PROTO__REPLY)                        \
	X(BLOB_PUT, 96, "blob_put", blob_put, PROTO__REQ_POST)                                    \
	X(BLOB_STATE, 97, "blob_state", blob_state, PROTO__REPLY)                                 \
	X(BLOB_CHUNK, 98, "blob_chunk", blob_chunk, PROTO__REQ_POST)                              \
	X(BLOB_STATUS, 99, "blob_status", blob_status, PROTO__REQ_POST)                           \
	X(BLOB_GET, 100, "blob_get", blob_get, PROTO__REQ_POST)                                   \
	X(BLOB_DATA, 101, "blob_data", blob_data, PROTO__REPLY)

enum proto_type {
	PROTO_T_NONE = 0,
#define PROTO__TYPE_ENUM(name, num, wire, member, flags) PROTO_T_##name = (num),
	PROTO_TYPE_MAP(PROTO__TYPE_ENUM)
#undef PROTO__TYPE_ENUM
};

/* Wire name of a frame type ("send"), or NULL if the type is unknown. */
const char *proto_type_name(uint32_t type);

/* PROTO_F_* flags of a frame type, or 0 if the type is unknown. */
unsigned proto_type_flags(uint32_t type);

/* True when s[0..len) is a tenant or unit id the wire can carry (`slug`, spec/protocol.md §1):
 * 1..PROTO_MAX_SLUG_BYTES bytes of a-z 0-9 '-', not starting with '-'. The one rule for these
 * ids, so that nothing (configuration, storage, clients) accepts an id no frame can address. */
bool proto_slug_valid(const char *s, size_t len);

/* True when s[0..len) is valid UTF-8 (no overlong forms, surrogates or code points beyond
 * U+10FFFF): the rule of the `text` type (spec/protocol.md §1), for what is stored to be sent as
 * text later (device labels). Bounds are the caller's. */
bool proto_text_valid(const void *s, size_t len);

/* ---- Views -------------------------------------------------------------------------------- */

/* A msgpack bin view. ptr may be NULL only when len is 0 (absent optional field). */
typedef struct proto_bytes {
	const uint8_t *ptr;
	size_t len;
} proto_bytes;

/* A msgpack str view, NOT NUL-terminated. ptr NULL means the optional field is absent. */
typedef struct proto_str {
	const char *ptr;
	size_t len;
} proto_str;

/* ---- Shared sub-structures ----------------------------------------------------------------- */

typedef struct proto_prekey { /* {id, pub} */
	uint32_t id;
	const uint8_t *pub; /* PROTO_KEY_BYTES */
} proto_prekey;

typedef struct proto_signed_prekey { /* {id, pub, time, sig}; sig per spec/crypto.md */
	uint32_t id;
	const uint8_t *pub; /* PROTO_KEY_BYTES */
	uint64_t time;      /* created, ms since the Unix epoch */
	const uint8_t *sig; /* PROTO_SIG_BYTES */
} proto_signed_prekey;

/* ---- Bodies (spec/protocol.md §4-§7 names every key) --------------------------------------- */

typedef struct proto_hello {
	uint32_t version;         /* "ver": PROTO_VERSION */
	uint64_t time;            /* "time": relay clock, ms */
	const uint8_t *challenge; /* "chal": PROTO_CHALLENGE_BYTES, fresh per connection */
} proto_hello;

typedef struct proto_auth {
	const uint8_t *device; /* "dev" */
	const uint8_t *sig;    /* "sig": Ed25519 over proto_auth_message() */
} proto_auth;

typedef struct proto_auth_ok {
	const uint8_t *account; /* "acc" */
} proto_auth_ok;

typedef struct proto_empty {
	char unused_; /* C11 has no empty structs; never read or written on the wire */
} proto_empty;

typedef struct proto_error_details {
	uint32_t missing_count;                                /* "missing": [bin16] devices to add */
	const uint8_t *missing[PROTO_MAX_RECIPIENT_DEVICES];
	uint32_t stale_count;                                  /* "stale": [bin16] devices to drop */
	const uint8_t *stale[PROTO_MAX_RECIPIENT_DEVICES];
	uint64_t limit;                                        /* "limit": the limit hit; 0 = absent */
	uint64_t retry_ms;                                     /* "retry": retry after ms; 0 = absent */
} proto_error_details;

typedef struct proto_error {
	uint32_t code;  /* "code": positive PROTO_E_* code */
	proto_str name; /* "name": proto_errname(), ASCII */
	proto_str text; /* "text": human text, UTF-8, for logs only */
	bool has_details;
	proto_error_details details; /* "det": optional map */
} proto_error;

typedef struct proto_register {
	proto_str attestation;          /* "att": OIDC ID token (compact JWS) */
	const uint8_t *identity_key;    /* "ik": Ed25519 public key */
	proto_signed_prekey spk;        /* "spk" */
	uint32_t opk_count;             /* "opk": 0..PROTO_MAX_PREKEYS_PER_UPLOAD */
	proto_prekey opk[PROTO_MAX_PREKEYS_PER_UPLOAD];
	proto_str label;                /* "label": optional, UTF-8 */
} proto_register;

typedef struct proto_registered {
	const uint8_t *account; /* "acc" */
	const uint8_t *device;  /* "dev" */
} proto_registered;

typedef struct proto_device_info {
	const uint8_t *device;       /* "dev" */
	const uint8_t *identity_key; /* "ik" */
	uint64_t time;               /* "time": registered, ms */
	proto_str label;             /* "label": optional */
} proto_device_info;

typedef struct proto_devices {
	uint32_t count; /* "list" */
	proto_device_info list[PROTO_MAX_DEVICES_PER_ACCOUNT];
} proto_devices;

typedef struct proto_device_ref {
	const uint8_t *device; /* "dev" */
} proto_device_ref;

typedef struct proto_prekeys_upload {
	uint32_t opk_count; /* "opk": 1..PROTO_MAX_PREKEYS_PER_UPLOAD */
	proto_prekey opk[PROTO_MAX_PREKEYS_PER_UPLOAD];
} proto_prekeys_upload;

typedef struct proto_spk_rotate {
	proto_signed_prekey spk; /* "spk" */
} proto_spk_rotate;

typedef struct proto_key_count {
	uint32_t count; /* "n": one-time prekeys left on the relay */
} proto_key_count;

/* An addressee: exactly one of an account, or a unit (tenant id and unit id together). */
typedef struct proto_target {
	const uint8_t *account; /* "acc": optional */
	proto_str tenant;       /* "ten": optional slug */
	proto_str unit;         /* "unit": optional slug */
	/* "devs": bundles_fetch only, optional: just these devices of the addressee, so a sender
	 * missing sessions with a few devices spends one prekey each of those, not of every member.
	 * Distinct ids, 1..PROTO_MAX_DEVICE_SET; dev_count 0 = absent (every device). */
	uint32_t dev_count;
	const uint8_t *devs[PROTO_MAX_DEVICE_SET];
} proto_target;

typedef struct proto_bundle {
	const uint8_t *account;      /* "acc" */
	const uint8_t *device;       /* "dev" */
	const uint8_t *identity_key; /* "ik" */
	proto_signed_prekey spk;     /* "spk" */
	bool has_opk;                /* "opk": optional; absent when the device ran out */
	proto_prekey opk;
} proto_bundle;

typedef struct proto_bundles {
	uint32_t count; /* "list" */
	proto_bundle list[PROTO_MAX_DEVICE_SET];
} proto_bundles;

typedef struct proto_directory_entry {
	proto_str id;   /* "id": slug */
	proto_str name; /* "name": display name, UTF-8 */
} proto_directory_entry;

typedef struct proto_tenants {
	uint32_t count; /* "list" */
	proto_directory_entry list[PROTO_MAX_TENANTS];
} proto_tenants;

typedef struct proto_units_list {
	proto_str tenant; /* "ten" */
} proto_units_list;

typedef struct proto_units {
	proto_str tenant; /* "ten" */
	uint32_t count;   /* "list" */
	proto_directory_entry list[PROTO_MAX_UNITS];
} proto_units;

typedef struct proto_device_addr {
	const uint8_t *account; /* "acc" */
	const uint8_t *device;  /* "dev" */
} proto_device_addr;

typedef struct proto_device_set {
	uint32_t count; /* "list" */
	proto_device_addr list[PROTO_MAX_DEVICE_SET];
} proto_device_set;

typedef struct proto_envelope {
	const uint8_t *device; /* "dev": recipient device */
	proto_bytes ciphertext; /* "ct": 1..PROTO_MAX_CIPHERTEXT_BYTES */
} proto_envelope;

typedef struct proto_send {
	const uint8_t *cmid;   /* "cmid": client message id, idempotency key */
	uint32_t to_count;     /* "to": optional, accounts addressed */
	const uint8_t *to[PROTO_MAX_RECIPIENT_ACCOUNTS];
	proto_str tenant;      /* "ten": optional, with "unit" */
	proto_str unit;        /* "unit": optional, with "ten" */
	bool receipts;         /* "rcpt": optional, false when absent */
	uint32_t env_count;    /* "env": 1..PROTO_MAX_RECIPIENT_DEVICES */
	proto_envelope env[PROTO_MAX_RECIPIENT_DEVICES];
	uint32_t blob_count;   /* "blobs": optional, blob ids the envelopes reference */
	const uint8_t *blobs[PROTO_MAX_BLOBS_PER_SEND];
} proto_send;

typedef struct proto_stored {
	const uint8_t *cmid; /* "cmid" */
	uint64_t time;       /* "time": when the relay stored it */
} proto_stored;

typedef struct proto_deliver {
	uint64_t seq;           /* "seq": mailbox sequence, what ack names */
	const uint8_t *cmid;    /* "cmid" */
	const uint8_t *account; /* "acc": sender account (authenticated by the relay) */
	const uint8_t *device;  /* "dev": sender device */
	uint64_t time;          /* "time": stored, ms */
	proto_str tenant;       /* "ten": optional, when sent to a unit */
	proto_str unit;         /* "unit": optional, with "ten" */
	proto_bytes ciphertext; /* "ct" */
} proto_deliver;

typedef struct proto_ack {
	uint64_t seq; /* "seq" */
} proto_ack;

/* receipt (delivered and acknowledged) and expired (dropped unread at TTL) to the sender. */
typedef struct proto_receipt {
	const uint8_t *cmid;    /* "cmid" */
	const uint8_t *account; /* "acc": recipient account */
	const uint8_t *device;  /* "dev": recipient device */
	uint64_t time;          /* "time": ack or expiry, ms */
} proto_receipt;

/* A signed consent record: exact bytes (spec/identity.md) and the device's signature over them. */
typedef struct proto_consent {
	proto_bytes record; /* "rec": 1..PROTO_MAX_CONSENT_RECORD_BYTES */
	const uint8_t *sig; /* "sig" */
} proto_consent;

#define PROTO_CONSENT_GRANT 1u
#define PROTO_CONSENT_WITHDRAW 2u

typedef struct proto_consent_entry {
	uint32_t kind;      /* "kind": PROTO_CONSENT_GRANT or PROTO_CONSENT_WITHDRAW */
	proto_bytes record; /* "rec" */
	const uint8_t *sig; /* "sig" */
	uint64_t time;      /* "time": received by the relay, ms */
} proto_consent_entry;

typedef struct proto_consents {
	uint32_t count; /* "list" */
	proto_consent_entry list[PROTO_MAX_CONSENTS];
} proto_consents;

/* A caseworker asks whether a citizen, given by CPR number, can be reached (spec/consent.md §6). */
typedef struct proto_citizen_lookup {
	proto_str cpr; /* "cpr": ASCII "DDMMYYXXXX" or "DDMMYY-XXXX" */
} proto_citizen_lookup;

/* The one answer: reachable (consent active) with the citizen's devices, or not reachable —
 * the same for an unknown citizen and one without consent. */
typedef struct proto_citizen {
	bool reachable;                                    /* "reach" */
	const uint8_t *account;                            /* "acc": optional, only when reachable */
	uint32_t device_count;                             /* "devs": optional, only when reachable */
	const uint8_t *devices[PROTO_MAX_DEVICES_PER_ACCOUNT];
} proto_citizen;

/* Pushed to the citizen's other devices and the tenant's unit devices when consent changes. */
typedef struct proto_consent_changed {
	const uint8_t *account; /* "acc": the citizen */
	proto_str tenant;       /* "ten" */
	proto_str unit;         /* "unit": optional; absent = the whole tenant */
	uint32_t kind;          /* "kind": PROTO_CONSENT_GRANT or PROTO_CONSENT_WITHDRAW */
	uint64_t time;          /* "time": when the relay stored the record, ms */
} proto_consent_changed;

/* Pushed to an account's devices when a device of it is registered or revoked: refresh the set. */
typedef struct proto_devices_changed {
	const uint8_t *account; /* "acc" */
} proto_devices_changed;

/* Pushed to a unit's member devices when a device of a member registers (spec/protocol.md §5.5). */
typedef struct proto_unit_devices_changed {
	proto_str tenant; /* "ten" */
	proto_str unit;   /* "unit" */
} proto_unit_devices_changed;

/* A caseworker asks whether a citizen's consent covers one of its units (spec/protocol.md §9.3). */
typedef struct proto_consent_check {
	const uint8_t *account; /* "acc": the citizen */
	proto_str tenant;       /* "ten" */
	proto_str unit;         /* "unit" */
} proto_consent_check;

typedef struct proto_consent_state {
	bool active; /* "active" */
} proto_consent_state;

/* Attachments: a blob is ciphertext the client encrypted (spec/crypto.md §attachments), named by
 * an id of 16 random bytes the uploading client chose. */
typedef struct proto_blob_put {
	const uint8_t *id;     /* "id" */
	uint64_t size;         /* "size": ciphertext bytes, 1..PROTO_MAX_BLOB_BYTES */
	const uint8_t *sha256; /* "sha": SHA-256 of the whole ciphertext, PROTO_SHA256_BYTES */
} proto_blob_put;

/* The reply to blob_put, blob_chunk and blob_status: how many bytes the relay holds. */
typedef struct proto_blob_state {
	const uint8_t *id; /* "id" */
	uint64_t size;     /* "size": declared size */
	uint64_t have;     /* "have": bytes stored, 0..size; the next chunk's offset */
	bool done;         /* "done": optional, true once complete and checked */
} proto_blob_state;

typedef struct proto_blob_chunk {
	const uint8_t *id;  /* "id" */
	uint64_t offset;    /* "off": must equal the relay's "have" */
	proto_bytes data;   /* "data": 1..PROTO_MAX_BLOB_CHUNK_BYTES */
} proto_blob_chunk;

typedef struct proto_blob_ref {
	const uint8_t *id; /* "id" */
} proto_blob_ref;

typedef struct proto_blob_get {
	const uint8_t *id; /* "id" */
	uint64_t offset;   /* "off": 0..PROTO_MAX_BLOB_BYTES - 1 */
	uint32_t length;   /* "len": 1..PROTO_MAX_BLOB_CHUNK_BYTES */
} proto_blob_get;

typedef struct proto_blob_data {
	const uint8_t *id; /* "id" */
	uint64_t offset;   /* "off" */
	proto_bytes data;  /* "data": 1..PROTO_MAX_BLOB_CHUNK_BYTES; fewer than asked at the end */
} proto_blob_data;

/* ---- The frame ------------------------------------------------------------------------------ */

typedef struct proto_frame {
	uint32_t type;       /* enum proto_type */
	uint32_t request_id; /* nonzero on requests and their replies, 0 on pushes */
	union {
		proto_hello hello;
		proto_auth auth;
		proto_auth_ok auth_ok;
		proto_empty ok;
		proto_error error;
		proto_register reg;
		proto_registered registered;
		proto_empty devices_list;
		proto_devices devices;
		proto_device_ref device_revoke;
		proto_prekeys_upload prekeys_upload;
		proto_spk_rotate spk_rotate;
		proto_empty key_count_get;
		proto_key_count key_count;
		proto_key_count prekeys_low;
		proto_target bundles_fetch;
		proto_bundles bundles;
		proto_empty tenants_list;
		proto_tenants tenants;
		proto_units_list units_list;
		proto_units units;
		proto_target device_set_get;
		proto_device_set device_set;
		proto_send send;
		proto_stored stored;
		proto_deliver deliver;
		proto_ack ack;
		proto_receipt receipt;
		proto_receipt expired;
		proto_consent consent_grant;
		proto_consent consent_withdraw;
		proto_empty consent_list;
		proto_consents consents;
		proto_citizen_lookup citizen_lookup;
		proto_citizen citizen;
		proto_consent_changed consent_changed;
		proto_devices_changed devices_changed;
		proto_unit_devices_changed unit_devices_changed;
		proto_consent_check consent_check;
		proto_consent_state consent_state;
		proto_blob_put blob_put;
		proto_blob_state blob_state;
		proto_blob_chunk blob_chunk;
		proto_blob_ref blob_status;
		proto_blob_get blob_get;
		proto_blob_data blob_data;
	} body;
} proto_frame;

/* ---- Codec ------------------------------------------------------------------------------------ */

/* Zeroes the header and the body member of `type` (the rest of the union is left as it was) and
 * sets type and request id: the start of building a frame of that type. */
void proto_frame_init(proto_frame *f, uint32_t type, uint32_t request_id);

/* Reads only the frame header [type, request_id, ...] so the relay can answer a frame that fails
 * to decode (unknown type included) with an `error` echoing its request id. Written on success.
 * @return 0, PROTO_E_TRUNCATED, PROTO_E_MALFORMED, PROTO_E_BAD_SHAPE, PROTO_E_OUT_OF_RANGE,
 *         PROTO_E_TOO_LARGE. An unknown type is NOT an error here. */
int proto_frame_peek(const uint8_t *buf, size_t len, uint32_t *type, uint32_t *request_id);

/* The request id an `error` about a frame that fails to decode carries (spec/protocol.md §3.4):
 * the second element when the frame begins with an array head of two or more elements and two
 * non-negative integers, the second within uint32; else 0. Never fails. */
uint32_t proto_frame_error_request_id(const uint8_t *buf, size_t len);

/* Decodes and fully validates one frame occupying exactly buf[0..len). On success *out holds views
 * into buf (see "Ownership and lifetime of views" above). On failure out->type is PROTO_T_NONE
 * (or *out is untouched when the failure precedes the body) and the body is unspecified: the
 * frame is decoded in place rather than copied, to keep a large struct off the hot path.
 * Unknown keys in any body map are skipped (they must still be well-formed msgpack, and unique).
 * @return 0 or a negative PROTO_E_* code from 1..19 saying what was wrong. */
int proto_frame_decode(const uint8_t *buf, size_t len, proto_frame *out);

/* As proto_frame_decode(); on failure also points *field (if field is not NULL) at a static string
 * naming the innermost offending key (e.g. "ct"), or "" when the error concerns the frame or a
 * map as a whole. For diagnostics only: the wire carries the code, not the key. */
int proto_frame_decode_diag(const uint8_t *buf, size_t len, proto_frame *out, const char **field);

/* Checks a frame struct against every rule the decoder enforces. @return 0 or PROTO_E_*. */
int proto_frame_validate(const proto_frame *f);

/* Validates *f and writes its canonical encoding (schema key order, smallest msgpack forms,
 * optional fields omitted when absent) to buf[0..cap). *out_len is written on success only.
 * A buffer of PROTO_MAX_FRAME_BYTES always suffices for a frame the peer may accept.
 * @return 0, PROTO_E_NO_SPACE (cap too small), PROTO_E_TOO_LARGE (cap exceeds
 *         PROTO_MAX_FRAME_BYTES and the frame does not fit in that), or the validation error. */
int proto_frame_encode(const proto_frame *f, uint8_t *buf, size_t cap, size_t *out_len);

/* The exact bytes a device signs in `auth`: PROTO_AUTH_CONTEXT || 0x00 || challenge || device. */
void proto_auth_message(uint8_t out[PROTO_AUTH_MSG_BYTES],
			const uint8_t challenge[PROTO_CHALLENGE_BYTES],
			const uint8_t device[PROTO_ID_BYTES]);

#ifdef __cplusplus
}
#endif

#endif
