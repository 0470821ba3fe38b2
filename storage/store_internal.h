/* SPDX-License-Identifier: MPL-2.0 */
/* Internals shared by the storage files: the store object, write requests and their operations,
 * the writer's transaction context, and the read-transaction helpers. */
#ifndef WAKKS_STORE_INTERNAL_H
#define WAKKS_STORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <lmdb.h>
#include <uv.h>

#include "wakks_storage.h"

/* The named databases. Their key and value layouts are in spec/storage.md. A database added here
 * is created by store_open in any environment that lacks it (MDB_CREATE), so an environment of
 * the same schema version written before the line existed opens with it empty. */
#define STORE__DBS(X)                                                                        \
	X(META, "meta")                                                                      \
	X(ACCOUNTS, "accounts")                                                              \
	X(UNIT_ACCOUNTS, "unit_accounts")                                                    \
	X(TENANT_ACCOUNTS, "tenant_accounts")                                                \
	X(DEVICES, "devices")                                                                \
	X(ACCOUNT_DEVICES, "account_devices")                                                \
	X(SIGNED_PREKEYS, "signed_prekeys")                                                  \
	X(ONE_TIME_PREKEYS, "one_time_prekeys")                                              \
	X(MAILBOXES, "mailboxes")                                                            \
	X(MAILBOX_EXPIRY, "mailbox_expiry")                                                  \
	X(IDEMPOTENCY, "idempotency")                                                        \
	X(IDEMPOTENCY_EXPIRY, "idempotency_expiry")                                          \
	X(AUDIT, "audit")                                                                    \
	X(CONSENTS, "consents")                                                              \
	X(CONSENT_LATEST, "consent_latest")                                                  \
	X(CONSENT_COUNTS, "consent_counts")                                                  \
	X(BLOBS, "blobs")                                                                    \
	X(BLOB_EXPIRY, "blob_expiry")                                                        \
	X(BLOB_GRANTS, "blob_grants")                                                        \
	X(BLOB_USAGE, "blob_usage")                                                          \
	X(BLOB_FILES, "blob_files")                                                          \
	X(ACCOUNT_BLOBS, "account_blobs")                                                    \
	X(MAILBOX_SENDERS, "mailbox_senders")                                                \
	X(PUSH_SUBS, "push_subs")

enum store__db {
#define STORE__DB_ENUM(id, name) STORE__DB_##id,
	STORE__DBS(STORE__DB_ENUM)
#undef STORE__DB_ENUM
	STORE__DB_COUNT
};

/* Reset read transactions a store keeps: the loop thread reads one at a time, a backup or check
 * thread and the tests' threads add a few; a reader finding the pool empty begins a new one. */
#define STORE__READ_POOL 4

/* Room for the databases later schema versions add without a change of max_dbs. */
#define STORE__MAX_DBS 32

struct store_req;
struct pgstore;

/* The data file's page cache (page_cache.c). */
enum store__pc_mode { STORE__PC_OFF, STORE__PC_ON, STORE__PC_UNSUPPORTED, STORE__PC_FAILED };
struct store__pcache {
	int mode;               /* enum store__pc_mode; atomic (the warm-up thread may set FAILED) */
	int fd;                 /* LMDB's data file descriptor */
	uint64_t psize;         /* LMDB's page size */
	uint64_t prepared_end;  /* writer thread (and open): the file's length as extended */
	pthread_t warm;         /* populates the used part once after open */
	bool warm_started;
	bool warm_stop;         /* atomic: store__pc_stop asks the warm-up to end */
	/* the warm-up's ranges: the tail [warm_used, warm_end), then [0, warm_head) */
	uint64_t warm_used, warm_end, warm_head;
};

struct store {
	uv_loop_t *loop;
	uv_async_t async; /* writer -> loop: completions ready */
	MDB_env *env;
	MDB_dbi dbi[STORE__DB_COUNT];
	struct store_config cfg;
	char *path;

	pthread_t writer;
	bool writer_started;
	struct store_req **batch; /* writer thread: the batch being committed, max_batch slots */

	/* lock guards everything below up to stats */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct store_req *queue_head, *queue_tail;
	struct store_req *done_head, *done_tail;
	bool stopping; /* no more submissions; the writer drains the queue and exits */
	bool paused;   /* test hook */
	struct store_stats stats;

	/* Readers (loop thread, backups) hold it shared for the life of their read transaction; the
	 * writer holds it exclusively while it changes the map size, because LMDB requires that no
	 * transaction be active in the process then. */
	pthread_rwlock_t map_lock;
	size_t map_size; /* writer thread only (and open/close) */
	/* Set (under map_lock held exclusively) if remapping failed and the environment has no map
	 * any more: every later read and write fails with STORE_EIO instead of touching it. */
	bool unmapped;

	struct store__pcache pc;

	bool closing; /* loop thread */
	bool created; /* store_open found no data.mdb */
	uint8_t db_id[STORE_DB_ID_BYTES];

	/* Values that failed their checksum, on any thread (atomic; store_get_stats reads it). */
	uint64_t corrupt_reads;

	/* Finished read transactions kept for the next read (mdb_txn_reset: no snapshot, but still
	 * owning its reader slot, MDB_NOTLS): renewing one costs neither the allocation nor the
	 * reader-table lock of a new one, and sees the newest commit all the same. Any reading
	 * thread takes and returns them by atomic exchange; a slot is NULL when empty. store_close
	 * aborts them before it closes the environment (read.c). */
	MDB_txn *read_pool[STORE__READ_POOL];

	/* The PostgreSQL engine (storage/pg), NULL for LMDB: env is then NULL, and every read and
	 * the batch commit go to the engine's functions. */
	struct pgstore *pg;
};

/* ---- write requests -------------------------------------------------------------------------- */

/* Every write operation. Adding one: a line here, a member of the union in struct store__op, an
 * apply function store__op_<name>_apply (and release if it owns memory), a public builder. */
#define STORE__OPS(X)                                                                        \
	X(put_account)                                                                       \
	X(put_device)                                                                        \
	X(revoke_device)                                                                     \
	X(put_signed_prekey)                                                                 \
	X(add_one_time_prekeys)                                                              \
	X(take_one_time_prekeys)                                                             \
	X(store_envelopes)                                                                   \
	X(delete_envelope)                                                                   \
	X(expire)                                                                            \
	X(delete_mailbox)                                                                    \
	X(audit_append)                                                                      \
	X(put_consent)                                                                       \
	X(erase_account)                                                                     \
	X(blob_declare)                                                                      \
	X(blob_progress)                                                                     \
	X(blob_complete)                                                                     \
	X(blob_ref)                                                                          \
	X(blob_release)                                                                      \
	X(blob_delete)                                                                       \
	X(blob_expire)                                                                       \
	X(put_push_sub)                                                                      \
	X(delete_push_sub)                                                                   \
	STORE__TEST_OPS(X)

#ifdef WAKKS_TEST_HOOKS
#define STORE__TEST_OPS(X) X(test_audit_raw)
#else
#define STORE__TEST_OPS(X)
#endif

enum store__op_kind {
#define STORE__OP_ENUM(name) STORE__OP_##name,
	STORE__OPS(STORE__OP_ENUM)
#undef STORE__OP_ENUM
	STORE__OP_COUNT
};

struct store__send_op {
	struct store_send send;         /* recipients points at recips */
	struct store_recipient *recips; /* payloads point into payloads */
	uint8_t *payloads;
	struct store_seq *seqs;         /* result, seqs_cap entries (>= n_recipients) */
	size_t seqs_cap;
	struct store_send_result result;
};

struct store__op {
	enum store__op_kind kind;
	union {
		struct store_account *put_account;
		struct store_device put_device;
		struct {
			uint8_t device_id[STORE_ID_BYTES];
			uint64_t at_ms;
		} revoke_device;
		struct {
			uint8_t device_id[STORE_ID_BYTES];
			struct store_signed_prekey spk;
		} put_signed_prekey;
		struct {
			uint8_t device_id[STORE_ID_BYTES];
			size_t n;
			struct store_prekey *keys;
		} add_one_time_prekeys;
		struct {
			struct store_taken_prekey *keys; /* device ids in, keys out */
			struct store_take_result result;
		} take_one_time_prekeys;
		struct store__send_op *store_envelopes;
		struct {
			uint8_t device_id[STORE_ID_BYTES];
			uint64_t seq;
			struct store_delete_result result;
		} delete_envelope;
		struct {
			uint64_t now_ms;
			size_t max;
			struct store_envelope_ref *items;
			uint64_t *due; /* scratch: expires_at of items[i] while collecting */
			struct store_expire_result result;
		} expire;
		struct {
			uint8_t device_id[STORE_ID_BYTES];
			struct store_delete_mailbox_result result;
		} delete_mailbox;
		struct {
			store_audit_build_cb cb;
			uint8_t *input;  /* owned copy, input_len bytes (NULL when 0) */
			size_t input_len;
			uint8_t *out;    /* owned, STORE_AUDIT_ENTRY_MAX bytes */
			struct store_audit_append_result result;
		} audit_append;
		struct {
			struct store_consent c; /* record points at the owned copy */
			uint8_t *record;
			struct store_put_consent_result result;
		} put_consent;
		struct {
			uint8_t account_id[STORE_ID_BYTES];
			struct store_erase_result result;
		} erase_account;
		struct {
			struct store_blob blob;    /* in: the declared blob; out: the stored record */
			uint64_t quota;            /* declare only */
			uint64_t from, have;       /* progress only */
			bool created;
		} blob_one; /* blob_declare, blob_progress, blob_complete */
		struct {
			uint8_t (*ids)[STORE_ID_BYTES];     /* owned, n */
			size_t n;
			uint8_t (*devices)[STORE_ID_BYTES]; /* owned, n_devices (ref) or 1 (release) */
			size_t n_devices;
			uint64_t expires_at_ms;
			int guard_op;                       /* send_op / delete_op, or -1 */
			uint64_t now_ms;                    /* expire */
			size_t max;                         /* expire */
			struct store_blob_removed *removed; /* owned, cap entries */
			size_t cap;
			struct store_blob_removal result;
		} blob_many; /* blob_ref, blob_release, blob_delete, blob_expire */
		struct {
			uint8_t device_id[STORE_ID_BYTES];
			struct store_push_sub *sub; /* put: owned copy */
			uint64_t if_updated_ms;     /* delete */
			bool found;                 /* delete */
		} push_sub; /* put_push_sub, delete_push_sub */
#ifdef WAKKS_TEST_HOOKS
		struct {
			uint64_t seq;
			uint8_t *bytes; /* owned; NULL and len 0 = delete */
			size_t len;
		} test_audit_raw;
#endif
	} u;
};

struct store_req {
	struct store *store;
	store_done_cb cb;
	void *data;
	struct store__op *ops;
	size_t n_ops, cap_ops;
	int result;
	bool has_failed_device;
	uint8_t failed_device[STORE_ID_BYTES];
	struct store_req *next;
};

/* The writer's context while applying one request inside its child transaction. */
struct store__wtxn {
	struct store *store;
	MDB_txn *txn;
	uint64_t now_ms;        /* the batch's clock reading */
	struct store_req *req;
	/* counters accumulated by the request; added to the stats only if its batch commits */
	uint64_t envelopes_stored, envelopes_deleted, envelopes_expired;
};

/* Apply one operation; called on the writer thread. Must (re)write all of the op's outputs, since
 * a batch may be retried after the map grew. A negative result aborts the request. */
#define STORE__OP_DECL(name) int store__op_##name##_apply(struct store__wtxn *w, struct store__op *op);
STORE__OPS(STORE__OP_DECL)
#undef STORE__OP_DECL

/* Appends a zeroed operation; NULL when out of memory or past STORE_REQ_MAX_OPS (*err set). */
struct store__op *store__req_add(struct store_req *req, enum store__op_kind kind, int *index,
				 int *err);
void store__req_fail_device(struct store__wtxn *w, const uint8_t device_id[STORE_ID_BYTES]);
/* Whether an operation guarded by operation `guard` of the same request acts (spec: a blob
 * reference follows its send unless that was a duplicate, a release its delete when it found the
 * envelope); -1 = unguarded. Both engines' blob operations ask it. */
bool store__req_guard_allows(const struct store_req *req, int guard);
int store__req_apply(struct store__wtxn *w);
void store__req_destroy(struct store_req *req);

/* ---- writer ---------------------------------------------------------------------------------- */

int store__writer_start(struct store *s);
void store__writer_stop(struct store *s); /* drains, joins */
void store__async_cb(uv_async_t *handle);
void store__run_completions(struct store *s);
int store__queue_push(struct store *s, struct store_req *req); /* 0 or STORE_ECLOSED */
uint64_t store__mono_us(void);
/* Adds a committed batch to the stats (both engines). */
void store__stats_batch(struct store *s, size_t n, uint64_t commit_us, uint64_t stored,
			uint64_t deleted, uint64_t expired);
/* The PostgreSQL engine's batch commit (storage/pg/writer.c). */
void pg__run_batch(struct store *s, struct store_req **reqs, size_t n);

/* ---- environment ----------------------------------------------------------------------------- */

/* ---- the data file's page cache (page_cache.c; LMDB only, every step best effort) ----------- */

void store__pc_drop(struct store *s);         /* after mdb_env_open: drops the clean cache */
void store__pc_start(struct store *s);        /* after the opening transaction, before the writer */
void store__pc_after_commit(struct store *s); /* writer thread: keeps the headroom */
void store__pc_stop(struct store *s);         /* before the environment closes */

int store__grow_map(struct store *s);          /* writer thread; STORE_EFULL at the maximum */
uint64_t store__now_ms(struct store *s);

/* ---- reads ----------------------------------------------------------------------------------- */

/* A read-only transaction on the newest committed snapshot, holding map_lock shared until
 * store__read_end (which keeps the transaction for reuse). */
int store__read_begin(struct store *s, MDB_txn **txn);
void store__read_end(struct store *s, MDB_txn *txn);
/* Aborts the kept read transactions; store_close, with no read in progress, before
 * mdb_env_close. */
void store__read_pool_drain(struct store *s);

/* Internal results the writer acts on; never reach a callback. The map is full (grow it and retry
 * the batch) / the transaction has too many dirty pages (commit the batch's requests one by one). */
#define STORE__EMAPFULL (-1901)
#define STORE__ETXNFULL (-1902)

/* LMDB or errno code -> STORE_E* (or one of the two above) */
int store__err(int rc);
/* The same for the result of committing a write transaction (mdb_txn_commit): an EIO there may
 * be LMDB's word for a write cut short by a full disk, which is found out (short_write.c). Only
 * where no write transaction is active in the process (the writer thread, or opening). */
int store__commit_err(struct store *s, int rc);

/* Called for each entry before store__delete_prefix deletes it; nonzero stops with that error. */
typedef int (*store__entry_fn)(const MDB_val *key, const MDB_val *val, void *data);
/* Deletes every entry of db whose key starts with prefix (fn, if not NULL, sees each first);
 * *deleted (may be NULL) gets the count. */
int store__delete_prefix(struct store *s, MDB_txn *txn, enum store__db db, const void *prefix,
			 size_t plen, store__entry_fn fn, void *data, size_t *deleted);

/* Small helpers over a transaction; they add (put) and verify and strip (get) the checksum
 * trailer. get returns STORE_ENOTFOUND when absent, STORE_ECORRUPT when the checksum fails. */
int store__get(struct store *s, MDB_txn *txn, enum store__db db, const void *key, size_t klen,
	       MDB_val *val);
int store__put(struct store *s, MDB_txn *txn, enum store__db db, const void *key, size_t klen,
	       const void *val, size_t vlen);
int store__del(struct store *s, MDB_txn *txn, enum store__db db, const void *key, size_t klen);

/* Schema 2 -> 3: counts the envelopes of every mailbox per sender account (mailbox.c). */
int store__mailbox_senders_build(struct store *s, MDB_txn *txn);
/* ---- checksums (checksum.c, spec/storage.md §2.1) ------------------------------------------- */

/* Every value stored is the record followed by this many checksum bytes. */
#define STORE__CHECK_LEN 8

/* The checksum is the first 8 bytes of a 16-byte keyed BLAKE2b. */
#define STORE__CHECK_HASH_LEN 16

void store__checksum(const void *key, size_t klen, const void *val, size_t vlen,
		     uint8_t out[STORE__CHECK_LEN]);
/* Verifies v's trailer against k and strips it from v. STORE_ECORRUPT (and counted, if s) when
 * it does not match; v is then unchanged. */
int store__check(struct store *s, const MDB_val *k, MDB_val *v);
/* mdb_cursor_get that verifies and strips the value's trailer: MDB_CORRUPTED (k and the raw v
 * still set) when the checksum fails, else LMDB's own result. */
int store__cursor_get(struct store *s, MDB_cursor *cur, MDB_val *k, MDB_val *v, MDB_cursor_op op);
/* mdb_put with MDB_RESERVE of vlen bytes plus the trailer; the caller writes the vlen bytes at
 * *out and then calls store__seal. Returns LMDB's result (MDB_KEYEXIST stays distinguishable). */
int store__reserve(struct store *s, MDB_txn *txn, enum store__db db, const void *key, size_t klen,
		   size_t vlen, unsigned flags, void **out);
void store__seal(const void *key, size_t klen, void *val, size_t vlen);

/* Device record helpers shared by the write operations (devices.c). */
int store__device_load(struct store *s, MDB_txn *txn, const uint8_t id[STORE_ID_BYTES],
		       struct store_device *out);
int store__device_save(struct store *s, MDB_txn *txn, const struct store_device *dev);
/* Schema 3 -> 4: rewrites every device record in the layout with a label (none). */
int store__devices_add_label(struct store *s, MDB_txn *txn);

/* Push subscriptions (push_subs.c): the record decoder (the fuzzer's too), deleting a device's
 * subscription in a transaction (revocation, erasure), and schema 4 -> 5. */
int store__push_sub_decode(const uint8_t *v, size_t len, struct store_push_sub *out);
/* Writes the record (at most 96 + STORE_PUSH_APP_MAX + STORE_PUSH_ADDR_MAX bytes); its length. */
size_t store__push_sub_encode(const struct store_push_sub *p, uint8_t *out);
int store__push_sub_drop(struct store *s, MDB_txn *txn, const uint8_t device[STORE_ID_BYTES]);
int store__push_subs_create(struct store *s, MDB_txn *txn);

/* Prekey helpers (prekeys.c). *n (may be NULL) gets the number deleted. */
int store__otpk_delete_all(struct store *s, MDB_txn *txn, const uint8_t device_id[STORE_ID_BYTES],
			   size_t *n);

/* Account helpers (accounts.c): adds (del = false) or removes the unit and tenant index entries
 * of an account; *n (may be NULL) gets the number of entries put or removed. */
int store__account_index(struct store__wtxn *w, const struct store_account *a, bool del, size_t *n);

/* Mailbox helpers (mailbox.c): delete one envelope with its expiry index entry and update the
 * device's counters. *found = false (and 0) when absent; ref and *damaged written when found.
 * A damaged envelope (checksum or decoder failed) is deleted too; its ref holds only the device
 * and seq. */
int store__mailbox_delete(struct store__wtxn *w, const uint8_t device_id[STORE_ID_BYTES],
			  uint64_t seq, bool *found, struct store_envelope_ref *ref, bool *damaged);
/* Deletes up to max of a device's envelopes, lowest seq first, with their expiry entries, and
 * updates its counters if the device record exists. *more: envelopes remain after those. */
int store__mailbox_delete_some(struct store__wtxn *w, const uint8_t device_id[STORE_ID_BYTES],
			       size_t max, size_t *n, uint64_t *bytes, bool *more);

/* Idempotency helpers (idempotency.c). lookup: 1 and the original result in so->result when the
 * entry exists, 0 when not, or a negative error. */
int store__idem_lookup(struct store__wtxn *w, struct store__send_op *so);
int store__idem_put(struct store__wtxn *w, const struct store__send_op *so, uint64_t expires_at);
int store__idem_expire(struct store__wtxn *w, uint64_t now_ms, size_t max, size_t *deleted,
		       bool *more);
/* Deletes up to max idempotency entries of sends by sender_device, with their expiry entries.
 * *more: entries remain after those. */
int store__idem_delete_sender(struct store__wtxn *w, const uint8_t sender_device[STORE_ID_BYTES],
			      size_t max, size_t *n, bool *more);

/* Blob helpers (blobs.c): removes up to max blobs uploaded by the account (records, expiry
 * entries, grants, usage, file counts); *more: blobs remain. Their files are left for the relay's
 * sweep of unreferenced files. */
int store__blob_erase_owner(struct store__wtxn *w, const uint8_t account[STORE_ID_BYTES],
			    size_t max, size_t *n, bool *more);
/* What the relay is told of a removed blob, in either engine: files_left is how many complete
 * blobs still name its content-addressed file (an uploading blob's temporary file is always
 * unused once its record goes). */
void store__blob_removed_fill(struct store_blob_removed *out, const struct store_blob *b,
			      uint64_t files_left);

/* Consent helpers (consent.c): removes all consent records and latest-index entries of an account,
 * adjusting the report counters. */
int store__consent_erase(struct store__wtxn *w, const uint8_t account_id[STORE_ID_BYTES],
			 size_t *records, size_t *latest);

#endif
