/* SPDX-License-Identifier: MPL-2.0 */
/* wakks storage: one LMDB environment holding accounts, devices, prekeys, per-device mailboxes, the
 * idempotency index, consent records and the hash-chained audit log of the relay. Record formats
 * and key layouts: spec/storage.md.
 *
 * Threads
 *   The store belongs to one libuv loop (the "loop thread"). Reads (store_get_*, store_list_*,
 *   store_count_*, store_mailbox_*) run synchronously on the calling thread in a short read-only
 *   transaction; they never wait for a write transaction (MVCC) and never see half of a write
 *   request. Only while the writer grows the map (rare, short) does a read wait for it.
 *   Writes are request objects (struct store_req) holding a list of operations; store_submit hands
 *   a request to the single writer thread, which commits many queued requests in one synchronous
 *   LMDB transaction (group commit, fsync before completion) and then runs each request's
 *   completion callback on the loop thread through uv_async. All functions except store_backup
 *   and store_strerror must be called on the loop thread. The one exception to "callbacks run on
 *   the loop thread" is an audit append's build callback, which the writer calls inside its
 *   transaction (store_req_audit_append).
 *
 * Atomicity and durability
 *   A request's operations are applied together in one nested transaction: all of them or none.
 *   When the callback reports 0 the request is on disk. A failing request never affects the other
 *   requests of its batch.
 *
 * Engines
 *   LMDB is the default. With store_config.pg_conninfo the store keeps everything in a PostgreSQL
 *   database instead, which several relays may share (spec/storage-postgresql.md): the same
 *   requests, results and errors; the writer commits each batch as one PostgreSQL transaction
 *   (durable when COMMIT returns, on the synchronous standby too if there is one); reads run
 *   synchronously on a connection of the loop thread (one statement, one snapshot each), so a
 *   read waits for the network, and for a reconnect after a fail-over. Sends committed by other
 *   relays are announced through store_set_listeners.
 *
 * Errors
 *   Every int result is 0 (success) or a negative STORE_E* code; store_strerror names it.
 *   The library does not log.
 */
#ifndef WAKKS_STORAGE_H
#define WAKKS_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sizes and limits ------------------------------------------------------------------------ */

#define STORE_ID_BYTES 16  /* account id, device id, client message id: opaque */
#define STORE_KEY_BYTES 32 /* Ed25519 / X25519 public keys */
#define STORE_SIG_BYTES 64 /* Ed25519 signature */

/* Tenant and unit identifiers are short ASCII names from the configuration ("varde", "jobcenter"). */
#define STORE_TENANT_MAX 64
#define STORE_UNIT_ID_MAX 64
/* A device's label is chosen by the device (spec/protocol.md §5.1, MAX_LABEL_BYTES): UTF-8 bytes. */
#define STORE_DEVICE_LABEL_MAX 64
/* A caseworker belongs to a handful of units; more is a configuration error, not a use case. */
#define STORE_ACCOUNT_UNITS_MAX 16
/* Hard ceilings of the record formats; the relay configures tighter limits of its own. Each is a
 * quantity a peer controls (directly or through the relay) and bounds the work of one request. */
#define STORE_SEND_MAX_RECIPIENTS 1024         /* devices one send may address (u16 in records) */
#define STORE_PAYLOAD_MAX (4u * 1024u * 1024u) /* bytes of one stored envelope */
#define STORE_OTPK_BATCH_MAX 200               /* one-time prekeys added by one operation */
#define STORE_OTPK_MAX_PER_DEVICE 1000         /* one-time prekeys stored for one device */
#define STORE_TAKE_MAX_DEVICES 1024            /* devices in one take-one-time-prekeys operation */
#define STORE_EXPIRE_MAX 4096                  /* envelopes removed by one expire operation */
#define STORE_REQ_MAX_OPS 64                   /* operations in one request */
#define STORE_BATCH_MAX 4096                   /* ceiling for store_config.max_batch */
/* Envelopes removed by one delete-mailbox operation, and envelopes plus idempotency entries removed
 * by one erase-account operation: a mailbox may hold as many envelopes as the relay's quota allows
 * (up to 10^8 by configuration), so these operations work in bounded steps and report `more`. */
#define STORE_DELETE_MAILBOX_MAX 4096
#define STORE_ERASE_MAX 4096

/* Audit log. Entries are opaque bytes built by the relay's callback (spec/identity.md §10: the
 * encoding followed by its hash, at most about 1.2 KiB); 4096 leaves room for a later entry
 * version while keeping one entry small. */
#define STORE_AUDIT_HASH_BYTES 32
#define STORE_AUDIT_ENTRY_MAX 4096 /* bytes of one stored entry */
#define STORE_AUDIT_INPUT_MAX 4096 /* bytes of the input handed to the build callback */

/* Consent records (spec/consent.md). */
#define STORE_CONSENT_RECORD_MAX 4096     /* signed record bytes, as the protocol's limit */
#define STORE_CONSENT_TEXT_VERSION_MAX 32 /* text version id, 1..32 bytes */
/* Records are evidence and never overwritten, so each grant or withdrawal a citizen's device signs
 * stays until the account is erased. 4096 per account (at most about 17 MiB) is far beyond any
 * honest use and stops one device from filling the disk by toggling its consent. */
#define STORE_CONSENT_MAX_PER_ACCOUNT 4096

/* ---- errors ---------------------------------------------------------------------------------- */

/* Codes lie in -1001..-1999, apart from every other library of the project (protocol's wire
 * codes are -1..-63) and from libuv's, so a storage result can never be taken for a wire code. */

#define STORE_ERRNO_MAP(X)                                                                      \
	X(EINVAL, -1001, "invalid argument")                                                    \
	X(ENOMEM, -1002, "out of memory")                                                       \
	X(ENOTFOUND, -1003, "record not found")                                                 \
	X(EEXIST, -1004, "already exists")                                                      \
	X(EFULL, -1005, "storage full")                                                         \
	X(EQUOTA, -1006, "mailbox quota exceeded")                                              \
	X(ENODEVICE, -1007, "unknown device")                                                   \
	X(EREVOKED, -1008, "device revoked")                                                    \
	X(ELIMIT, -1009, "limit exceeded")                                                      \
	X(ESCHEMA_NEWER, -1010, "database schema is newer than this program")                   \
	X(ESCHEMA, -1011, "database schema migration failed")                                   \
	X(ECORRUPT, -1012, "stored record malformed")                                           \
	X(EIO, -1013, "storage I/O error")                                                      \
	X(EACCES, -1014, "permission denied")                                                   \
	X(EBUSY, -1015, "storage busy")                                                         \
	X(ECLOSED, -1016, "store is closing")                                                   \
	X(EINTERNAL, -1017, "internal storage error")                                           \
	X(EAUDIT, -1018, "audit entry could not be built")                                      \
	X(ESHARE, -1019, "the sender's share of a mailbox is full")                             \
	X(EIDENTITY, -1020, "database is not the one expected")                                  \
	X(EKEY, -1021, "account-id key does not belong to this database")                       \
	X(ENOKEY, -1022, "account-id key is new but the database holds accounts or another key") \
	X(ENOTSUP, -1023, "not supported by this storage engine")

enum store_errno {
#define STORE__ERRNO_ENUM(name, code, text) STORE_##name = (code),
	STORE_ERRNO_MAP(STORE__ERRNO_ENUM)
#undef STORE__ERRNO_ENUM
};

/* A static string for any int result (0 included); never NULL. Thread-safe. */
const char *store_strerror(int err);

/* ---- records --------------------------------------------------------------------------------- */

enum store_account_kind {
	STORE_ACCOUNT_CITIZEN = 1,
	STORE_ACCOUNT_CASEWORKER = 2,
	STORE_ACCOUNT_JOURNAL = 3,
};

struct store_account {
	uint8_t id[STORE_ID_BYTES];
	uint8_t kind;                          /* enum store_account_kind */
	char tenant[STORE_TENANT_MAX + 1];     /* NUL-terminated, 1..STORE_TENANT_MAX bytes */
	uint8_t n_units;                       /* 0..STORE_ACCOUNT_UNITS_MAX */
	char units[STORE_ACCOUNT_UNITS_MAX][STORE_UNIT_ID_MAX + 1]; /* NUL-terminated, 1..64 bytes */
	uint64_t created_ms;
};

struct store_device {
	uint8_t id[STORE_ID_BYTES];
	uint8_t account_id[STORE_ID_BYTES];
	uint8_t identity_key[STORE_KEY_BYTES]; /* Ed25519 public */
	uint64_t created_ms;
	bool revoked;
	uint64_t revoked_ms;      /* 0 unless revoked */
	/* The label the device gave itself: label_len (0..STORE_DEVICE_LABEL_MAX, 0 = none) bytes of
	 * valid UTF-8, stored as given (a NUL inside included); label[label_len] is a NUL. */
	uint8_t label_len;
	char label[STORE_DEVICE_LABEL_MAX + 1];
	/* Maintained by the store; ignored by put device. */
	uint64_t next_seq;        /* sequence number the next envelope for this device gets (from 1) */
	uint64_t mailbox_count;   /* envelopes in the mailbox */
	uint64_t mailbox_bytes;   /* sum of their payload lengths */
};

/* A device's push subscription (spec/storage.md §4.19): how the relay wakes it while offline. */
#define STORE_PUSH_WEB 1  /* Web Push: addr is the endpoint URL, p256dh and auth its keys */
#define STORE_PUSH_APNS 2 /* APNs: app names the configured app, addr is the device token */
#define STORE_PUSH_FCM 3  /* FCM: app names the configured app, addr is the registration token */
#define STORE_PUSH_ADDR_MAX 2048
#define STORE_PUSH_APP_MAX 32

struct store_push_sub {
	uint8_t kind;                      /* STORE_PUSH_* */
	uint64_t updated_ms;               /* set by the store: the commit that wrote it */
	uint8_t p256dh[65];                /* Web Push: uncompressed P-256 point; else zero */
	uint8_t auth[16];                  /* Web Push: auth secret; else zero */
	char app[STORE_PUSH_APP_MAX + 1];  /* APNs/FCM: NUL-terminated, 1..32 bytes; Web Push: "" */
	size_t addr_len;                   /* 1..STORE_PUSH_ADDR_MAX printable ASCII bytes */
	char addr[STORE_PUSH_ADDR_MAX + 1];
};

struct store_signed_prekey {
	uint32_t id;
	uint8_t public_key[STORE_KEY_BYTES];
	uint64_t created_ms;
	uint8_t signature[STORE_SIG_BYTES];
};

struct store_prekey {
	uint32_t id;
	uint8_t public_key[STORE_KEY_BYTES];
};

enum store_envelope_kind {
	STORE_KIND_ENVELOPE = 1, /* client ciphertext */
	STORE_KIND_RECEIPT = 2,  /* relay-made delivery/expiry receipt */
	STORE_KIND_NOTICE = 3,   /* relay-made notice (device added, revoked, ...) */
};

/* A sequence number assigned to one recipient device. */
struct store_seq {
	uint8_t device_id[STORE_ID_BYTES];
	uint64_t seq;
};

/* Identifies a stored envelope and where it came from; what the relay needs for a receipt. */
struct store_envelope_ref {
	uint8_t device_id[STORE_ID_BYTES]; /* recipient device (mailbox) */
	uint64_t seq;
	uint8_t kind;
	uint8_t sender_account[STORE_ID_BYTES];
	uint8_t sender_device[STORE_ID_BYTES];
	uint8_t message_id[STORE_ID_BYTES];  /* client message id */
};

/* A mailbox entry as seen during store_mailbox_iter. payload points into the database map. */
struct store_envelope {
	struct store_envelope_ref ref;
	uint64_t stored_at_ms;
	uint64_t expires_at_ms;
	const uint8_t *payload;
	size_t payload_len;
	/* The stored copy failed its checksum or its decoder (spec/storage.md §2.1): only
	 * ref.device_id and ref.seq (from the key) mean anything; payload is NULL. */
	bool damaged;
};

enum store_consent_kind {
	STORE_CONSENT_GRANT = 1,
	STORE_CONSENT_WITHDRAW = 2,
};

/* A stored consent record (spec/consent.md): the signed record bytes as received, with the fields
 * the relay parsed from them and the time it received them. During store_consent_iter, record
 * points into the database map. */
struct store_consent {
	uint8_t account_id[STORE_ID_BYTES];       /* the citizen account */
	uint64_t seq;                             /* per account, from 1, in storing order; set by the store */
	uint8_t kind;                             /* enum store_consent_kind */
	char tenant[STORE_TENANT_MAX + 1];        /* NUL-terminated, 1..STORE_TENANT_MAX bytes */
	char unit[STORE_UNIT_ID_MAX + 1];         /* NUL-terminated, 0..STORE_UNIT_ID_MAX; "" = whole tenant */
	char text_version[STORE_CONSENT_TEXT_VERSION_MAX + 1]; /* NUL-terminated, 1..32 bytes */
	uint64_t received_at_ms;                  /* 0 when putting: the writer's clock at the batch */
	const uint8_t *record;                    /* the signed record bytes */
	size_t record_len;                        /* 1..STORE_CONSENT_RECORD_MAX */
	uint8_t signature[STORE_SIG_BYTES];       /* the device's signature over the record */
};

/* ---- opening and closing --------------------------------------------------------------------- */

struct store;

struct store_config {
	const char *path;            /* directory of the environment; created (0700) if missing */
	/* Non-NULL selects the PostgreSQL engine (spec/storage-postgresql.md): a libpq connection
	 * string, possibly multi-host with target_session_attrs=read-write so that a reconnect finds
	 * the new primary after a fail-over. path and the map sizes are then unused. */
	const char *pg_conninfo;
	size_t map_size_initial;     /* bytes, >= 64 KiB; 0 = 64 MiB. The map doubles when full ... */
	size_t map_size_max;         /* ... up to this; 0 = 64 GiB. Past it writes fail STORE_EFULL */
	unsigned max_batch;          /* requests per group commit; 0 = 256, at most STORE_BATCH_MAX */
	uint64_t mailbox_max_envelopes; /* per device mailbox; 0 = unlimited */
	uint64_t mailbox_max_bytes;     /* per device mailbox, payload bytes; 0 = unlimited */
	/* Envelopes from one sender account in one device's mailbox; 0 = unlimited. A send past it
	 * fails STORE_ESHARE: one sender fills only its share, so others still get through. */
	uint64_t mailbox_max_per_sender;
	/* Wall clock in ms since the Unix epoch, read by the writer for stored_at; NULL = realtime
	 * clock. Called on the writer thread. */
	uint64_t (*now_ms)(void *clock_data);
	void *clock_data;
	/* The database's identity (spec/storage.md §2a), checked in the opening transaction before
	 * anything is written. expect_db_id: the id the database must carry (STORE_DB_ID_BYTES),
	 * else STORE_EIDENTITY; NULL accepts any, and a database without an id is given a random one.
	 * account_key_fp: the fingerprint of the key that derives account ids (STORE_KEY_FP_BYTES),
	 * recorded when the database has none, else it must match (STORE_EKEY); NULL skips both.
	 * account_key_new: that key was created just now, so a database that holds accounts or a
	 * recorded fingerprint is refused with STORE_ENOKEY (its own key was lost). */
	const uint8_t *expect_db_id;
	const uint8_t *account_key_fp;
	bool account_key_new;
	/* LMDB: leave data.mdb's page cache and length alone (spec/storage.md §2b), for a short
	 * open by an offline command or of a backup copy: no dropping and populating of the cache,
	 * no sparse headroom. false (the relay's store) keeps the cache at page granularity. */
	bool page_cache_off;
};

#define STORE_DB_ID_BYTES 16
#define STORE_KEY_FP_BYTES 32

/* Checks DIR/data.mdb against its meta pages without mapping it (LMDB would die of SIGBUS on a
 * truncated file): a regular file holding both meta pages, LMDB's magic and data version, a
 * sane page size, and the newest meta page's last page inside the file.
 * @return 0 (valid), STORE_ENOTFOUND (DIR or data.mdb does not exist), STORE_ECORRUPT with the
 *         reason in why (DIR is no directory, data.mdb is no regular file, empty, truncated, ...),
 *         STORE_EACCES or STORE_EIO. why may be NULL. */
int store_check_file(const char *dir, char *why, size_t why_len);

/* The database's id (spec/storage.md §2a), as read or created by store_open. */
void store_db_id(const struct store *store, uint8_t out[STORE_DB_ID_BYTES]);

/* How data.mdb's page cache is kept (spec/storage.md §2b), for the relay's one log line at open:
 * "single-pages" (dropped at open, populated through a MADV_RANDOM mapping, sparse headroom),
 * "unsupported" (the kernel lacks MADV_POPULATE_READ: LMDB's own caching), "failed" (a step
 * failed; only the write amplification differs), "off" (store_config.page_cache_off), "none"
 * (PostgreSQL). May change from "single-pages" to "failed" later (the warm-up thread). */
const char *store_page_cache_mode(const struct store *store);

/* Whether store_open created the environment (there was no data.mdb; PostgreSQL: the schema was
 * created by this open). */
bool store_created(const struct store *store);

/* The engine: "lmdb" or "postgresql". */
const char *store_engine(const struct store *store);

/* Whether several relays may share the store (PostgreSQL): sends committed by another relay
 * arrive through the wake listener, and state the relay would otherwise keep in memory alone must
 * be global. */
bool store_shared(const struct store *store);

/* ---- cross-relay notification (PostgreSQL only; an LMDB store never calls the listeners) ----- */

/* Another relay committed envelopes for these devices (loop thread). device_ids NULL and n 0:
 * notifications may have been missed (the listening connection was re-established): re-check
 * every online device. */
typedef void (*store_wake_cb)(const uint8_t (*device_ids)[STORE_ID_BYTES], size_t n, void *data);
/* A message another relay passed to store_broadcast (loop thread); valid during the call. */
typedef void (*store_event_cb)(const uint8_t *msg, size_t len, void *data);
/* Sets (or, with NULLs, clears) the listeners. Loop thread. */
void store_set_listeners(struct store *store, store_wake_cb wake, store_event_cb event, void *data);

#define STORE_BROADCAST_MAX 3000
/* Sends msg (1..STORE_BROADCAST_MAX bytes) to every other relay on the same database, delivered
 * to their event listeners; not to this store's own. A no-op returning 0 for LMDB. Loop thread.
 * @return 0, STORE_EINVAL, STORE_EIO, ... */
int store_broadcast(struct store *store, const uint8_t *msg, size_t len);

/* Opens (creating if needed) the environment and starts the writer thread.
 * A database with a newer schema version is refused; an older one is migrated in one transaction.
 * The store uses one uv_async handle on loop.
 * A data.mdb that exists must pass store_check_file (else STORE_ECORRUPT): it is never mapped
 * when damaged, and never replaced.
 * @return 0 and *out, or STORE_EINVAL, STORE_ENOMEM, STORE_EACCES, STORE_EIO, STORE_ECORRUPT,
 *         STORE_ESCHEMA_NEWER, STORE_ESCHEMA, STORE_EIDENTITY, STORE_EKEY, STORE_ENOKEY.
 *         *out is written only on success. */
int store_open(struct store **out, uv_loop_t *loop, const struct store_config *cfg);

/* Refuses new requests, lets the writer commit everything already submitted, runs those
 * completion callbacks (from inside store_close), joins the writer and closes the environment.
 * The store's memory is released when its uv_async handle has closed, so the loop must run once
 * more (its normal course, or uv_run(loop, UV_RUN_NOWAIT)). NULL is a no-op. */
void store_close(struct store *store);

/* ---- reads (loop thread; short read-only transactions) -------------------------------------- */

/* Copy the record into *out. @return 0, STORE_ENOTFOUND, STORE_ECORRUPT, STORE_EIO, STORE_EBUSY */
int store_get_account(struct store *store, const uint8_t id[STORE_ID_BYTES],
		      struct store_account *out);
int store_get_device(struct store *store, const uint8_t id[STORE_ID_BYTES],
		     struct store_device *out);
int store_get_signed_prekey(struct store *store, const uint8_t device_id[STORE_ID_BYTES],
			    struct store_signed_prekey *out);

/* The devices of an account in device-id order. Writes at most cap records into out and the total
 * number matching into *n (which may exceed cap). @return 0 (also when none), errors as above. */
int store_list_devices(struct store *store, const uint8_t account_id[STORE_ID_BYTES],
		       bool include_revoked, struct store_device *out, size_t cap, size_t *n);

/* Called once per account id; return nonzero to stop. Runs after the read transaction has ended,
 * so it may call into the store (store_list_devices ...). */
typedef int (*store_account_cb)(const uint8_t account_id[STORE_ID_BYTES], void *data);

/* The accounts whose unit list names (tenant, unit), in account-id order.
 * @return the number of callbacks made (>= 0), or STORE_EINVAL, STORE_ENOMEM, ... */
int store_list_unit_accounts(struct store *store, const char *tenant, const char *unit,
			     store_account_cb cb, void *data);

/* The accounts of a tenant of one kind (enum store_account_kind; 0 = every kind), ordered by
 * kind then account id; e.g. the tenant's journal accounts. Return as above. */
int store_list_tenant_accounts(struct store *store, const char *tenant, uint8_t kind,
			       store_account_cb cb, void *data);

/* Number of one-time prekeys stored for a device (0 for an unknown device). */
int store_count_one_time_prekeys(struct store *store, const uint8_t device_id[STORE_ID_BYTES],
				 uint32_t *n);

/* Mailbox depth of a device. @return 0, STORE_ENOTFOUND (unknown device), ... */
/* Envelopes in every mailbox together (one entry each in the mailbox database). */
int store_mailbox_total(struct store *store, uint64_t *count);
int store_mailbox_depth(struct store *store, const uint8_t device_id[STORE_ID_BYTES],
			uint64_t *count, uint64_t *bytes);

/* Called for each envelope; the view (payload included) is valid only during the call, and the
 * callback must not call into the store. Return nonzero to stop early. */
typedef int (*store_mailbox_cb)(const struct store_envelope *env, void *data);

/* Visits a device's envelopes with seq >= from_seq in sequence order, at most max of them.
 * @return the number visited (>= 0) or a negative error. */
int store_mailbox_iter(struct store *store, const uint8_t device_id[STORE_ID_BYTES],
		       uint64_t from_seq, size_t max, store_mailbox_cb cb, void *data);

/* The idempotency entry of (sender device, client message id): what the original send got. */
struct store_idempotency {
	uint64_t stored_at_ms;
	uint64_t expires_at_ms; /* the entry is deleted by an expire operation after this */
	size_t n;               /* number of recipients of the original send */
};
/* Writes *out and at most cap assigned sequence numbers (original recipient order) into seqs.
 * @return 0, STORE_ENOTFOUND, ... */
int store_get_idempotency(struct store *store, const uint8_t sender_device[STORE_ID_BYTES],
			  const uint8_t message_id[STORE_ID_BYTES], struct store_idempotency *out,
			  struct store_seq *seqs, size_t cap);

/* The latest consent record of (account, tenant, unit); unit NULL or "" = the whole tenant (a
 * record for a unit is not a record for the whole tenant, nor the other way round: the relay asks
 * for both). Writes *kind (enum store_consent_kind) and *received_at_ms (either may be NULL).
 * @return 0, STORE_ENOTFOUND (no record), STORE_EINVAL, STORE_ECORRUPT, ... O(1): one index read. */
int store_consent_latest(struct store *store, const uint8_t account_id[STORE_ID_BYTES],
			 const char *tenant, const char *unit, uint8_t *kind, uint64_t *received_at_ms);

/* Called for each record; the view (record bytes included) is valid only during the call, and the
 * callback must not call into the store. Return nonzero to stop early. */
typedef int (*store_consent_cb)(const struct store_consent *consent, void *data);

/* Visits an account's consent records oldest first (at most STORE_CONSENT_MAX_PER_ACCOUNT).
 * @return the number visited (>= 0) or a negative error. */
int store_consent_iter(struct store *store, const uint8_t account_id[STORE_ID_BYTES],
		       store_consent_cb cb, void *data);

/* One row of a tenant's consent report: the records the store holds for (tenant, unit) naming one
 * text version. */
struct store_consent_count {
	const char *unit;         /* "" = whole tenant */
	const char *text_version;
	uint64_t grants;          /* grant records */
	uint64_t withdrawals;     /* withdrawal records */
	uint64_t active;          /* citizens whose latest record for (tenant, unit) is a grant of this
				   * text version */
};
typedef int (*store_consent_report_cb)(const struct store_consent_count *row, void *data);

/* Visits the tenant's report rows ordered by unit, then text version (each by length, then bytes;
 * the whole tenant "" first). Counters are kept by every write, so this reads only the rows.
 * Views valid during the call; the callback must not call into the store; nonzero stops.
 * @return the number of rows visited or a negative error. */
int store_consent_report(struct store *store, const char *tenant, store_consent_report_cb cb,
			 void *data);

/* The head of the audit log: the seq and hash of the last appended entry; 0 and 32 zero bytes
 * while the log is empty. @return 0, STORE_ECORRUPT, ... */
int store_audit_head(struct store *store, uint64_t *seq, uint8_t hash[STORE_AUDIT_HASH_BYTES]);

/* Called for each entry with the seq of its key and the entry bytes as built by the append
 * callback; the view is valid only during the call, the callback must not call into the store.
 * Return nonzero to stop early. */
typedef int (*store_audit_cb)(uint64_t seq, const uint8_t *entry, size_t len, void *data);

/* Visits the audit entries with seq >= from_seq in seq order, at most max of them. The store does
 * not interpret the bytes: a verifier checks the chain (spec/identity.md §10.2).
 * @return the number visited (>= 0) or a negative error. */
int store_audit_iter(struct store *store, uint64_t from_seq, size_t max, store_audit_cb cb,
		     void *data);

/* ---- writes ---------------------------------------------------------------------------------- */

struct store_req;

/* Runs on the loop thread once per submitted request. The request and every result view obtained
 * from it are valid only during the call; the store frees the request when the callback returns.
 * result is 0 or a STORE_E* code; on failure none of the request's operations took effect. */
typedef void (*store_done_cb)(struct store_req *req, int result, void *data);

/* A new empty request. @return NULL when out of memory. */
struct store_req *store_req_new(struct store *store, store_done_cb cb, void *data);

/* Frees a request that was never submitted (including one whose building failed). */
void store_req_free(struct store_req *req);

/* Hands the request to the writer. On 0 the callback runs exactly once, later, on the loop thread.
 * On error (STORE_ECLOSED, STORE_EINVAL for an empty request) the request is freed and the
 * callback never runs. */
int store_submit(struct store_req *req);

/* Operation builders. Each copies its inputs into the request (the caller's buffers may be freed
 * at once) and returns the operation's index (>= 0), used to fetch its result in the callback,
 * or STORE_EINVAL / STORE_ELIMIT / STORE_ENOMEM (the request stays valid, without that operation).
 */

/* Insert or replace an account. */
int store_req_put_account(struct store_req *req, const struct store_account *account);

/* Insert or replace a device's identity fields (account, key, created, revoked, label). The
 * account must exist (else STORE_ENOTFOUND); the mailbox counters of an existing device are kept.
 * STORE_EINVAL for a label longer than STORE_DEVICE_LABEL_MAX or not valid UTF-8. */
int store_req_put_device(struct store_req *req, const struct store_device *device);

/* Mark a device revoked at at_ms and drop its one-time and signed prekeys. Its mailbox is kept
 * until expiry unless the request also deletes it (store_req_delete_mailbox).
 * STORE_ENOTFOUND for an unknown device; revoking twice keeps the first time. */
int store_req_revoke_device(struct store_req *req, const uint8_t device_id[STORE_ID_BYTES],
			    uint64_t at_ms);

/* Insert or replace the device's signed prekey. STORE_ENODEVICE for an unknown device. */
int store_req_put_signed_prekey(struct store_req *req, const uint8_t device_id[STORE_ID_BYTES],
				const struct store_signed_prekey *spk);

/* Add n (1..STORE_OTPK_BATCH_MAX) one-time prekeys; an existing id is replaced. Fails with
 * STORE_ELIMIT when the device would hold more than STORE_OTPK_MAX_PER_DEVICE. */
int store_req_add_one_time_prekeys(struct store_req *req, const uint8_t device_id[STORE_ID_BYTES],
				   const struct store_prekey *keys, size_t n);

/* Take (remove and return) one one-time prekey, the lowest id, per listed device. A device without
 * one (or unknown) yields found = false, not an error. No key is ever handed out twice. */
int store_req_take_one_time_prekeys(struct store_req *req,
				    const uint8_t (*device_ids)[STORE_ID_BYTES], size_t n);

struct store_taken_prekey {
	uint8_t device_id[STORE_ID_BYTES];
	bool found;
	struct store_prekey key;
};
struct store_take_result {
	size_t n; /* as many as devices asked, in the same order */
	const struct store_taken_prekey *keys;
};
const struct store_take_result *store_req_take_result(const struct store_req *req, int op);

/* Store one send's envelopes. */
struct store_recipient {
	uint8_t device_id[STORE_ID_BYTES];
	const uint8_t *payload; /* copied */
	size_t payload_len;     /* 0..STORE_PAYLOAD_MAX */
	uint64_t expires_at_ms;
};

#define STORE_SEND_NO_IDEMPOTENCY 0x1u /* relay-made receipts/notices: no idempotency entry */

struct store_send {
	uint8_t sender_account[STORE_ID_BYTES];
	uint8_t sender_device[STORE_ID_BYTES];
	uint8_t message_id[STORE_ID_BYTES]; /* client message id */
	uint8_t kind;                        /* enum store_envelope_kind */
	uint32_t flags;                      /* STORE_SEND_* */
	const struct store_recipient *recipients; /* 1..STORE_SEND_MAX_RECIPIENTS, distinct devices */
	size_t n_recipients;
};

/* If (sender device, message id) is already in the idempotency index, stores nothing and reports
 * the original result (duplicate = true). Otherwise gives each recipient device its next sequence
 * number, stores the envelopes and the idempotency entry (expiring with the latest envelope).
 * Fails the whole request with STORE_ENODEVICE / STORE_EREVOKED for an unknown / revoked
 * recipient, or STORE_EQUOTA when a recipient's mailbox would exceed the configured quota;
 * store_req_failed_device names that device. */
int store_req_store_envelopes(struct store_req *req, const struct store_send *send);

struct store_send_result {
	bool duplicate;
	uint64_t stored_at_ms;
	size_t n;                    /* recipients, in the order given (original order if duplicate) */
	const struct store_seq *seqs;
};
const struct store_send_result *store_req_send_result(const struct store_req *req, int op);

/* Delete one envelope (the recipient device's ack). Deleting an absent envelope is not an error:
 * the result says found = false. */
int store_req_delete_envelope(struct store_req *req, const uint8_t device_id[STORE_ID_BYTES],
			      uint64_t seq);

struct store_delete_result {
	bool found;
	struct store_envelope_ref ref; /* valid when found */
	bool damaged; /* found, but damaged: ref holds only the device and seq */
};
const struct store_delete_result *store_req_delete_result(const struct store_req *req, int op);

/* Delete at most max (1..STORE_EXPIRE_MAX) envelopes with expires_at <= now_ms, oldest expiry
 * first, and at most max idempotency entries past their expiry. */
int store_req_expire(struct store_req *req, uint64_t now_ms, size_t max);

struct store_expire_result {
	size_t n; /* envelopes expired */
	const struct store_envelope_ref *items;
	size_t idempotency_deleted;
	bool more; /* the bound was hit; call again */
};
const struct store_expire_result *store_req_expire_result(const struct store_req *req, int op);

/* Delete a device's mailbox: up to STORE_DELETE_MAILBOX_MAX envelopes, lowest seq first, with
 * their expiry index entries, keeping the device's counters (revocation cleanup). An unknown
 * device or an empty mailbox is not an error (n = 0). When more is set, submit the operation again
 * (in a new request); a revoked device receives no new envelopes, so repeating ends. */
int store_req_delete_mailbox(struct store_req *req, const uint8_t device_id[STORE_ID_BYTES]);

struct store_delete_mailbox_result {
	size_t n;       /* envelopes deleted */
	uint64_t bytes; /* their payload bytes */
	bool more;      /* envelopes remain */
};
const struct store_delete_mailbox_result *
store_req_delete_mailbox_result(const struct store_req *req, int op);

/* Append one audit entry, chained onto the head inside the writer's transaction. The writer calls
 *   cb(prev_seq, prev_hash, input, input_len, out, out_cap, &out_len, out_hash)
 * with the current head (0 and 32 zero bytes for an empty log); cb writes the entry bytes
 * (1..out_cap = STORE_AUDIT_ENTRY_MAX) into out and the entry's hash into out_hash, and returns 0.
 * The store puts the bytes under seq prev_seq + 1 and makes (prev_seq + 1, out_hash) the head.
 * Several appends in one request or one batch chain in order. A nonzero return or a bad length
 * fails the request with STORE_EAUDIT; as always, a failed request appends nothing.
 * cb runs on the writer thread: it must not call into the store and must only read data that
 * stays unchanged until completion (input is the request's own copy of 0..STORE_AUDIT_INPUT_MAX
 * bytes). It may run more than once for one request (a batch is retried after the map grew);
 * the last run's output is what is stored, so it should depend on its arguments only. */
typedef int (*store_audit_build_cb)(uint64_t prev_seq, const uint8_t prev_hash[STORE_AUDIT_HASH_BYTES],
				    const void *input, size_t input_len, uint8_t *out, size_t out_cap,
				    size_t *out_len, uint8_t out_hash[STORE_AUDIT_HASH_BYTES]);
int store_req_audit_append(struct store_req *req, store_audit_build_cb cb, const void *input,
			   size_t input_len);

struct store_audit_append_result {
	uint64_t seq;                           /* the entry's seq */
	uint8_t hash[STORE_AUDIT_HASH_BYTES];   /* its hash: the new head */
};
const struct store_audit_append_result *store_req_audit_result(const struct store_req *req,
							      int op);

/* Append a consent record (seq and, when 0, received_at_ms are set by the writer). Names and
 * lengths are checked by the builder (STORE_EINVAL / STORE_ELIMIT). The account must exist and be
 * a citizen (STORE_ENOTFOUND / STORE_EINVAL); an account holding STORE_CONSENT_MAX_PER_ACCOUNT
 * records fails with STORE_ELIMIT. Updates the latest index of (account, tenant, unit) and the
 * tenant's report counters in the same transaction. */
int store_req_put_consent(struct store_req *req, const struct store_consent *consent);

struct store_put_consent_result {
	uint64_t seq;
	uint64_t received_at_ms;
};
const struct store_put_consent_result *store_req_put_consent_result(const struct store_req *req,
								   int op);

/* GDPR erase of an account: its devices (records, account index), their mailboxes (with expiry
 * entries), signed and one-time prekeys, the idempotency entries of sends by its devices (with
 * expiry entries), its consent records, their latest-index entries (report counters adjusted),
 * its unit and tenant index entries, and finally the account record. The audit log is left alone,
 * and so are envelopes the account sent that sit in other devices' mailboxes.
 * Works in steps: each operation removes at most STORE_ERASE_MAX envelopes plus idempotency
 * entries; while those remain it sets more and keeps the rest (account, devices, consents), so
 * submitting it again continues. Erasing an absent account succeeds with found = false.
 * Revoke the account's devices first so that nothing new arrives meanwhile. */
int store_req_erase_account(struct store_req *req, const uint8_t account_id[STORE_ID_BYTES]);

struct store_erase_result {
	bool found;              /* the account existed when the operation ran */
	bool more;               /* not finished: submit again */
	bool account_deleted;    /* this step removed the account record (the last step) */
	size_t devices;
	size_t envelopes;
	uint64_t envelope_bytes;
	size_t signed_prekeys;
	size_t one_time_prekeys;
	size_t idempotency;
	size_t consents;
	size_t consent_latest;   /* latest-index entries */
	size_t index_entries;    /* unit and tenant index entries */
	size_t blobs;            /* attachment blobs the account uploaded (their files are swept) */
};
const struct store_erase_result *store_req_erase_result(const struct store_req *req, int op);

/* ---- attachment blobs (spec/storage.md §4.13-§4.17, §5.10) -----------------------------------
 * The relay keeps the ciphertext of an attachment in a file; the store keeps what it knows about
 * it: who uploaded it, its declared size and SHA-256, how much is stored (`have`), whether it is
 * complete, when it expires, and which devices hold unacknowledged envelopes referencing it. */

#define STORE_BLOB_SHA_BYTES 32
/* Blobs one reference or release operation names: the protocol allows 16 per send. */
#define STORE_BLOB_REF_MAX 16
/* Blobs removed by one expire-blobs operation; each removal is a handful of entries plus the
 * grants of its recipients, so this keeps one pass short. */
#define STORE_BLOB_EXPIRE_MAX 256
/* Blobs one account may hold at once (uploading or complete): the byte quota alone would let a
 * device create millions of one-byte records; 10000 is far beyond a caseworker's attachments
 * awaiting acknowledgement. */
#define STORE_BLOB_MAX_PER_ACCOUNT 10000

enum store_blob_state {
	STORE_BLOB_UPLOADING = 1,
	STORE_BLOB_COMPLETE = 2,
};

struct store_blob {
	uint8_t id[STORE_ID_BYTES];             /* chosen by the uploading client */
	uint8_t state;                          /* enum store_blob_state */
	uint8_t owner_account[STORE_ID_BYTES];
	uint8_t owner_device[STORE_ID_BYTES];   /* the uploading device */
	uint64_t size;                          /* declared ciphertext bytes, >= 1 */
	uint64_t have;                          /* bytes stored so far, 0..size */
	uint8_t sha256[STORE_BLOB_SHA_BYTES];   /* declared SHA-256 of the whole ciphertext */
	uint64_t created_ms;                    /* set by the writer */
	uint64_t expires_at_ms;
	uint32_t refs;                          /* unacknowledged envelopes referencing it */
};

/* @return 0, STORE_ENOTFOUND, STORE_ECORRUPT, ... */
int store_get_blob(struct store *store, const uint8_t id[STORE_ID_BYTES], struct store_blob *out);

/* Calls cb for every blob record (uploading and complete), in id order, in one read snapshot; a
 * non-zero return from cb stops the walk and is returned. The backup uses it on its copy to know
 * which files the copy refers to. */
typedef int (*store_blob_cb)(const struct store_blob *blob, void *data);
int store_list_blobs(struct store *store, store_blob_cb cb, void *data);

/* Number of complete blobs whose content-addressed file is named by sha256 (0 when none). */
int store_get_blob_file_count(struct store *store, const uint8_t sha256[STORE_BLOB_SHA_BYTES],
			      uint32_t *count);

/* Whether device holds an unacknowledged envelope referencing the blob: 0, *count (>= 1) and
 * *expires_at_ms (may be NULL: the latest expiry of those envelopes; past it they are gone even
 * if the expiry pass has not run yet), or STORE_ENOTFOUND. */
int store_get_blob_grant(struct store *store, const uint8_t blob_id[STORE_ID_BYTES],
			 const uint8_t device_id[STORE_ID_BYTES], uint32_t *count,
			 uint64_t *expires_at_ms);

/* Bytes (declared sizes) and number of the blobs an account has uploaded and that still exist;
 * 0 if none. count may be NULL. */
int store_get_blob_usage(struct store *store, const uint8_t account_id[STORE_ID_BYTES],
			 uint64_t *bytes, uint32_t *count);

/* Declare a blob: state uploading, have 0, refs 0, created now, expiring at expires_at_ms, and
 * its size added to the owner account's usage. When a blob with that id exists already and has
 * the same owner device, size and SHA-256, nothing changes and the result is the stored record
 * (created = false): declaring again is how a client resumes. Another blob under the id fails
 * with STORE_EEXIST; usage + size > quota_bytes (0 = no quota) fails with STORE_EQUOTA, and an
 * account holding STORE_BLOB_MAX_PER_ACCOUNT blobs with STORE_ELIMIT. */
int store_req_blob_declare(struct store_req *req, const struct store_blob *blob,
			   uint64_t quota_bytes);

/* Record that the bytes [from, have) are on disk (fsynced): the blob must be uploading with
 * exactly `from` stored (else STORE_EINVAL; STORE_ENOTFOUND when absent) and have <= size. Moves
 * its expiry to expires_at_ms. */
int store_req_blob_progress(struct store_req *req, const uint8_t id[STORE_ID_BYTES], uint64_t from,
			    uint64_t have, uint64_t expires_at_ms);

/* Mark an uploading blob whose have == size complete (its file is in place) and move its expiry
 * to expires_at_ms. STORE_ENOTFOUND, STORE_EINVAL (not all bytes stored). A complete blob stays
 * complete (no error). */
int store_req_blob_complete(struct store_req *req, const uint8_t id[STORE_ID_BYTES],
			    uint64_t expires_at_ms);

/* The result of the three operations above: the record as written. */
const struct store_blob *store_req_blob_result(const struct store_req *req, int op,
					       bool *created);

/* A send references blobs: for each of the n (1..STORE_BLOB_REF_MAX) complete blobs (else
 * STORE_ENOTFOUND, failing the request) refs grows by n_devices and expires_at becomes at least
 * expires_at_ms; each of the n_devices (1..STORE_SEND_MAX_RECIPIENTS) recipient devices gets a
 * grant (counted, valid until the latest expiry of its referencing envelopes). send_op, if >= 0, is the index of this request's store-envelopes operation:
 * when that turned out to be a duplicate, this operation does nothing. */
int store_req_blob_ref(struct store_req *req, const uint8_t (*blob_ids)[STORE_ID_BYTES], size_t n,
		       const uint8_t (*device_ids)[STORE_ID_BYTES], size_t n_devices,
		       uint64_t expires_at_ms, int send_op);

/* A recipient device acknowledged an envelope referencing these blobs: its grant count and each
 * blob's refs drop by one; a complete blob whose refs reach 0 is removed. Absent blobs and grants
 * are skipped. delete_op, if >= 0, is the index of this request's delete-envelope operation:
 * when that found no envelope, this operation does nothing. Result: store_req_blob_removed. */
int store_req_blob_release(struct store_req *req, const uint8_t (*blob_ids)[STORE_ID_BYTES],
			   size_t n, const uint8_t device_id[STORE_ID_BYTES], int delete_op);

/* Remove one blob whatever its state (a refused upload). Absent is not an error (n = 0). */
int store_req_blob_delete(struct store_req *req, const uint8_t id[STORE_ID_BYTES]);

/* Remove at most max (1..STORE_BLOB_EXPIRE_MAX) blobs with expires_at <= now_ms, oldest first. */
int store_req_blob_expire(struct store_req *req, uint64_t now_ms, size_t max);

/* A removed blob: its record is gone with its expiry entry, grants and usage; the relay deletes
 * the file: the temporary one of an uploading blob, the content-addressed one of a complete blob
 * when file_unused (no other complete blob names the same SHA-256). */
struct store_blob_removed {
	uint8_t id[STORE_ID_BYTES];
	uint8_t state;
	uint8_t sha256[STORE_BLOB_SHA_BYTES];
	bool file_unused;
};
struct store_blob_removal {
	size_t n;
	const struct store_blob_removed *items;
	bool more; /* expire: the bound was hit */
};
/* For release, delete and expire operations. */
const struct store_blob_removal *store_req_blob_removed(const struct store_req *req, int op);

/* Store (insert or replace) the push subscription of a device. STORE_EINVAL for a subscription
 * that breaks the record's rules; the request fails with STORE_ENOTFOUND / STORE_EREVOKED for an
 * unknown / revoked device. */
int store_req_put_push_sub(struct store_req *req, const uint8_t device_id[STORE_ID_BYTES],
			   const struct store_push_sub *sub);
/* Delete a device's push subscription; absent is no error. With if_updated_ms nonzero only a
 * subscription written at exactly that time is deleted (the one a push service refused, not one
 * the device registered since). */
int store_req_delete_push_sub(struct store_req *req, const uint8_t device_id[STORE_ID_BYTES],
			      uint64_t if_updated_ms);
/* Visits the devices that have a push subscription, in device id order, starting after `after`
 * (NULL: from the first), at most max of them; cb returns nonzero to stop. Loop thread.
 * @return the number visited (>= 0) or a negative error. */
int store_list_push_subs(struct store *store, const uint8_t *after, size_t max,
			 void (*cb)(const uint8_t device_id[STORE_ID_BYTES], void *data), void *data);
/* The push subscription of a device; STORE_ENOTFOUND when it has none. Loop thread. */
int store_get_push_sub(struct store *store, const uint8_t device_id[STORE_ID_BYTES],
		       struct store_push_sub *out);

/* The device an STORE_EQUOTA / STORE_ENODEVICE / STORE_EREVOKED failure refers to, else NULL.
 * Valid during the callback. */
const uint8_t *store_req_failed_device(const struct store_req *req);

/* ---- operations and metrics ------------------------------------------------------------------ */

/* Copy the environment, compacted, into dir, which must not exist (it is created 0700; the copy,
 * data.mdb, is 0600). Consistent snapshot while the relay runs; blocks the caller for the copy, so call it from a
 * thread other than the loop (uv_queue_work) or from the command line. Map growth waits for it.
 * PostgreSQL: STORE_ENOTSUP, the server's tools copy it (pg_basebackup, WAL archiving).
 * @return 0, STORE_EEXIST, STORE_EACCES, STORE_EIO, STORE_EFULL, STORE_ENOTSUP, ... */
int store_backup(struct store *store, const char *dir);

#define STORE_BATCH_HIST_BUCKETS 8 /* batch sizes 1, 2-3, 4-7, ..., 64-127, >= 128 */

/* The commit-latency histogram's upper bounds in microseconds, and one more bucket above them. */
#define STORE_COMMIT_HIST_BUCKETS 15
extern const uint64_t store_commit_hist_bounds_us[STORE_COMMIT_HIST_BUCKETS - 1];

struct store_stats {
	uint64_t batches;             /* committed parent transactions */
	uint64_t requests;            /* completed requests (any result) */
	uint64_t requests_failed;
	uint64_t last_batch_size;
	uint64_t max_batch_size;
	uint64_t batch_hist[STORE_BATCH_HIST_BUCKETS];
	uint64_t last_commit_us;      /* latency of the last commit (fsync included) */
	uint64_t total_commit_us;     /* sum over all batches; average = total / batches */
	/* Commits by latency: commit_hist[i] counts those <= store_commit_hist_bounds_us[i] (and
	 * above the bound before); the last bucket holds the rest. Not cumulative. */
	uint64_t commit_hist[STORE_COMMIT_HIST_BUCKETS];
	uint64_t envelopes_stored;
	uint64_t envelopes_deleted;
	uint64_t envelopes_expired;
	uint64_t map_size;            /* bytes currently mapped */
	uint64_t map_size_max;        /* the configured maximum the map may grow to */
	uint64_t map_used;            /* bytes up to the highest page in use (freed pages are reused
	                               * before the map grows, so this is the high-water mark) */
	uint64_t map_grows;
	uint64_t full_errors;         /* requests failed with STORE_EFULL */
	uint64_t disk_full_errors;    /* of those, failed because the file system was full (ENOSPC,
	                               * EDQUOT, the file size limit), not the map; LMDB only */
	uint64_t corrupt_reads;       /* values read that failed their checksum or decoder */
};
void store_get_stats(struct store *store, struct store_stats *out);

/* Called by store_check_data for each value whose checksum fails (spec/storage.md §2.1): the
 * database's name and the key as stored (valid only during the call). */
typedef void (*store_check_cb)(const char *db, const void *key, size_t klen, void *data);

/* Walks every value of every database in one read snapshot and verifies its checksum.
 * *records (may be NULL) gets the number of values read.
 * PostgreSQL: reads every row of every table whole (the cluster's page checksums verify it) and
 * checks the derived record rows (spec/storage-postgresql.md §4.6); cb gets the table's name and
 * no key for a table that could not be read, and *records counts rows.
 * @return the number of damaged values (>= 0), or a negative error. */
int store_check_data(struct store *store, store_check_cb cb, void *data, uint64_t *records);

/* The schema version this program writes. */
#define STORE_SCHEMA_VERSION 5
/* The PostgreSQL engine's schema version (spec/storage-postgresql.md). */
#define STORE_PG_SCHEMA_VERSION 1

#ifdef WAKKS_TEST_HOOKS
/* Test builds only: while paused the writer takes no requests, so tests can queue a batch. */
void store_test_pause_writer(struct store *store, bool paused);
/* Test builds only: waits until the page cache's warm-up after open has populated the file. */
void store_test_page_cache_wait(struct store *store);
/* Test builds only: pretend this program's schema version is version (0 = the real one), with a
 * migration from version - 1 that runs fn on the opening LMDB transaction (MDB_txn *); fn returns
 * 0 or fails the migration. Process-wide; not thread-safe. */
typedef int (*store_test_migration_fn)(void *mdb_txn, void *data);
void store_test_set_schema(uint32_t version, store_test_migration_fn fn, void *data);
/* Test builds only, PostgreSQL: the same for the PostgreSQL schema; fn gets the opening
 * connection (PGconn *) inside the opening transaction. */
void store_test_set_pg_schema(uint32_t version, store_test_migration_fn fn, void *data);
/* Test builds only, PostgreSQL: called on the writer thread with the writer's connection
 * (PGconn *) at a point of each batch: STORE_TEST_PG_BEFORE_COMMIT (the batch applied, COMMIT not
 * yet sent) or STORE_TEST_PG_AFTER_COMMIT (COMMIT succeeded). A nonzero return at
 * AFTER_COMMIT makes the writer treat the commit's outcome as unknown, as if the connection had
 * died before the answer arrived (the fn kills the connection's backend to make it so). A return
 * of 2 at BEFORE_COMMIT makes the writer abandon the connection without closing it, as a network
 * partition would (the server keeps the session, in its transaction, holding its locks); the fn
 * then owns the PGconn and must PQfinish it later. */
#define STORE_TEST_PG_BEFORE_COMMIT 1
#define STORE_TEST_PG_AFTER_COMMIT 2
typedef int (*store_test_pg_hook_fn)(int point, void *pgconn, void *data);
void store_test_set_pg_hook(struct store *store, store_test_pg_hook_fn fn, void *data);
/* Test builds only, PostgreSQL: the backend pid of the writer's connection (0 when none). */
int store_test_pg_writer_pid(struct store *store);
/* Test builds only: an operation that replaces (len > 0) or deletes (len == 0) the audit entry
 * under seq without touching the head, so tests can show that a verifier notices edits,
 * deletions and truncation. */
int store_test_req_audit_raw(struct store_req *req, uint64_t seq, const uint8_t *bytes, size_t len);
#endif

/* ==== PostgreSQL engine: relay-wide state and blob bytes ======================================
 * Only for a store where store_shared() is true; with LMDB every function here returns
 * STORE_EINVAL. They do not go through the writer: each runs its statements on a connection of a
 * small pool of its own (struct store_aux), so that they may be called from libuv's threadpool
 * (blob bytes) or, for one short statement, from the loop thread (rates). A connection lost to a
 * fail-over is replaced once and the statement retried (each function is idempotent, or atomic in
 * one transaction whose outcome is re-read); then STORE_EIO. Layout: spec/storage-postgresql.md. */

struct store_aux;

/* A pool of at most max_conns (1..16) connections to the store's database, opened on demand.
 * Loop thread; the pool is thread-safe and must be closed before the store.
 * @return 0 and *out, STORE_EINVAL (not a shared store), STORE_ENOMEM. */
int store_aux_open(struct store *store, unsigned max_conns, struct store_aux **out);
void store_aux_close(struct store_aux *aux);

/* Takes one token from the bucket (key, kind), shared by every relay on the database: refilled at
 * per_minute (>= 1) tokens a minute by the database's clock, holding at most per_minute, full when
 * first used. One statement (INSERT ... ON CONFLICT DO UPDATE ... RETURNING): two relays taking
 * at once never both get the last token. *taken tells whether a token was taken; when not,
 * *retry_ms is the wait for the next one. Any thread.
 * @return 0, STORE_EINVAL, STORE_EIO. */
int store_rate_take(struct store_aux *aux, const uint8_t key[STORE_ID_BYTES], uint8_t kind,
		    uint32_t per_minute, bool *taken, uint64_t *retry_ms);

/* Deletes buckets unused for longer than idle_ms (they are full again, the same as absent).
 * @return the number deleted (>= 0) or STORE_EIO. */
int store_rate_sweep(struct store_aux *aux, uint64_t idle_ms);

/* Login challenges (spec/identity.md §2.2) shared by the relays: a client that fetched one from
 * one relay may register through another. One per identity key; put replaces it. Any thread.
 * put: 0, STORE_EINVAL, STORE_EIO. get: 0 and out, STORE_ENOTFOUND (none, or expired), STORE_EIO.
 * take: deletes it only if it is still `challenge` (used once, whichever relay asks first wins):
 * 0, STORE_ENOTFOUND (another relay took it, or it expired), STORE_EIO. sweep: deletes the expired
 * ones, returns how many (>= 0) or STORE_EIO. */
int store_challenge_put(struct store_aux *aux, const uint8_t ik[STORE_KEY_BYTES],
			const uint8_t challenge[32], uint64_t ttl_ms);
int store_challenge_get(struct store_aux *aux, const uint8_t ik[STORE_KEY_BYTES],
			uint8_t out[32]);
int store_challenge_take(struct store_aux *aux, const uint8_t ik[STORE_KEY_BYTES],
			 const uint8_t challenge[32]);
int store_challenge_sweep(struct store_aux *aux);

/* Blob bytes (the records are store_req_blob_*): an upload's chunks under its blob id, a sealed
 * blob's bytes under its SHA-256 (shared by blobs with the same content). */

/* Writes len (1..STORE_BLOB_CHUNK_MAX) bytes at offset of the upload of blob id, durably (the
 * commit is synchronous); whatever the upload held at or past offset (a chunk written but never
 * recorded) is replaced. Any thread. @return 0, STORE_EINVAL, STORE_EFULL, STORE_EIO. */
#define STORE_BLOB_CHUNK_MAX (1u << 20)
int store_blob_data_write(struct store_aux *aux, const uint8_t id[STORE_ID_BYTES], uint64_t offset,
			  const uint8_t *data, size_t len);

/* Checks that the upload of blob id is exactly size bytes, contiguous from 0, with this SHA-256,
 * and makes it readable under sha256 (in one transaction: the upload's chunks become the sealed
 * content, or are dropped when that content is sealed already). Any thread.
 * @return 0, STORE_EINVAL (missing bytes, wrong size or digest: the upload stays as it was),
 *         STORE_EIO. */
int store_blob_data_seal(struct store_aux *aux, const uint8_t id[STORE_ID_BYTES],
			 const uint8_t sha256[STORE_BLOB_SHA_BYTES], uint64_t size);

/* Reads up to len bytes at offset of sealed content into buf; *got is less than len only at the
 * end of the content. Any thread. @return 0, STORE_ENOTFOUND (no such content), STORE_EIO. */
int store_blob_data_read(struct store_aux *aux, const uint8_t sha256[STORE_BLOB_SHA_BYTES],
			 uint64_t offset, uint8_t *buf, size_t len, size_t *got);

/* Removes an upload's chunks (key_len STORE_ID_BYTES: a blob id) or sealed content (key_len
 * STORE_BLOB_SHA_BYTES: a SHA-256), unless it was written or sealed less than min_age_ms ago by
 * the database's clock (0: whatever its age). Absent is no error. Any thread.
 * @return 0, STORE_EINVAL, STORE_EIO. */
int store_blob_data_remove(struct store_aux *aux, const uint8_t *key, size_t key_len,
			   uint64_t min_age_ms);

/* Lists at most max keys of stored blob data last written or sealed at least min_age_ms ago
 * (database clock): uploads' blob ids (key_len STORE_ID_BYTES) or sealed contents' SHA-256
 * (STORE_BLOB_SHA_BYTES), into keys (max * key_len bytes), in key order after `after` (NULL:
 * from the first). The sweep checks each against the records and removes those none names.
 * Any thread. @return the number listed (>= 0), STORE_EINVAL, STORE_EIO. */
int store_blob_data_list(struct store_aux *aux, size_t key_len, const uint8_t *after,
			 uint64_t min_age_ms, uint8_t *keys, size_t max);

/* ==== end of the relay-wide block =============================================================== */

#ifdef __cplusplus
}
#endif

#endif
