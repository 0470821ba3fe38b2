/* SPDX-License-Identifier: MPL-2.0 */
/* Internals of the PostgreSQL engine (spec/storage-postgresql.md): the engine's state hanging off
 * struct store, the writer's transaction context, binary parameter and result helpers, and the
 * engine's versions of every write operation and public read.
 *
 * Connections: the writer thread owns one (wconn) for the batch transactions; the loop thread owns
 * one for reads and broadcasts (rconn) and one that LISTENs (lconn). A PGconn is never used by two
 * threads. Every statement is parameterised (PQexecParams, binary parameters and results): no SQL
 * is ever built from values. */
#ifndef WAKKS_PG_INTERNAL_H
#define WAKKS_PG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <libpq-fe.h>
#include <uv.h>

#include "store_internal.h"

/* Type oids of the parameters we send (pg_type.h is a server header). */
#define PG_OID_BOOL 16
#define PG_OID_BYTEA 17
#define PG_OID_INT8 20
#define PG_OID_INT2 21
#define PG_OID_INT4 23
#define PG_OID_TEXT 25

/* Internal results of the writer's statements; never reach a callback. The batch must be rolled
 * back and run again (deadlock, serialization failure, a unique key raced by another relay) / the
 * connection is lost (the outcome of an open transaction is unknown until the reconnect). */
#define PG__ERETRY (-1903)
#define PG__ECONN (-1904)

/* Channels (spec/storage-postgresql.md §notifications). */
#define PG__WAKE_CHANNEL "wakks_wake"
#define PG__EVENT_CHANNEL "wakks_event"
#define PG__INSTANCE_BYTES 16

struct pg_poll {
	uv_poll_t h;
};

struct pgstore {
	struct store *store;
	char *conninfo;
	uint8_t instance[PG__INSTANCE_BYTES]; /* random per open: tells our own notifications */
	char instance_hex[2 * PG__INSTANCE_BYTES + 1];
	bool created;                         /* store_open created the schema */

	PGconn *wconn; /* writer thread (handed over at open) */
	/* writer thread: the server session wconn is (w_session == wconn once recorded) */
	PGconn *w_session;
	int w_pid;
	uint64_t w_start_us;
	PGconn *rconn; /* loop thread: reads, broadcasts */
	uint64_t read_retry_ms; /* loop thread: no reconnect of rconn before (monotonic ms) */

	/* Listening (loop thread). */
	PGconn *lconn;
	bool listening;    /* lconn is connected and has LISTENed */
	bool lconnecting;  /* PQconnectPoll in progress */
	bool ever_listened;
	struct pg_poll *poll_h; /* the socket's watcher; a new one per socket */
	bool poll_init;
	uv_timer_t timer;
	bool timer_init;
	unsigned backoff_ms;
	int handles_open; /* uv handles still to close before the struct may be freed */
	store_wake_cb wake;
	store_event_cb event;
	void *listen_data;

#ifdef WAKKS_TEST_HOOKS
	store_test_pg_hook_fn test_hook;
	void *test_hook_data;
	int writer_pid; /* atomic */
#endif
};

/* Device ids whose mailboxes got envelopes in the batch: notified at its end. */
struct pg_wakes {
	uint8_t (*ids)[STORE_ID_BYTES];
	size_t n, cap;
};

/* The writer's context while applying one request inside its savepoint (mirrors store__wtxn). */
struct pg_wtxn {
	struct store *store;
	PGconn *conn;
	uint64_t now_ms;        /* the batch's clock reading */
	struct store_req *req;
	/* counters accumulated by the request; added to the stats only if its batch commits */
	uint64_t envelopes_stored, envelopes_deleted, envelopes_expired;
	struct pg_wakes *wakes; /* the batch's */
};

/* The device a STORE_EQUOTA / STORE_ENODEVICE / STORE_EREVOKED ... failure refers to. */
static inline void pg__req_fail_device(struct pg_wtxn *w, const uint8_t device_id[STORE_ID_BYTES])
{
	w->req->has_failed_device = true;
	memcpy(w->req->failed_device, device_id, STORE_ID_BYTES);
}

/* Remember that a device's mailbox got an envelope in this request (STORE_ENOMEM). */
int pg__wake_add(struct pg_wtxn *w, const uint8_t device_id[STORE_ID_BYTES]);

/* Apply one operation on the writer thread, inside the request's savepoint. Must (re)write all of
 * the op's outputs: a batch may run again. A negative result aborts the request (its savepoint is
 * rolled back); PG__ERETRY and PG__ECONN abort the batch. */
#define PG__OP_DECL(name) int pg__op_##name##_apply(struct pg_wtxn *w, struct store__op *op);
STORE__OPS(PG__OP_DECL)
#undef PG__OP_DECL

/* Helpers other areas' operations share (erase uses them too). */
/* Drops the device's signed and one-time prekeys and its push subscription. */
int pg__device_drop_keys(struct pg_wtxn *w, const uint8_t id[STORE_ID_BYTES]);
/* Deletes up to max of a device's envelopes, lowest seq first, updating its counters and the
 * senders' shares; *more: envelopes remain after those. */
int pg__mailbox_delete_some(struct pg_wtxn *w, const uint8_t device_id[STORE_ID_BYTES], size_t max,
			    size_t *n, uint64_t *bytes, bool *more);
/* Deletes up to max idempotency entries of sends by sender_device; *more: entries remain. */
int pg__idem_delete_sender(struct pg_wtxn *w, const uint8_t sender_device[STORE_ID_BYTES],
			   size_t max, size_t *n, bool *more);

/* ---- parameters and results ------------------------------------------------------------------ */

#define PG_PARAMS_MAX 16

struct pg_params {
	int n;
	Oid types[PG_PARAMS_MAX];
	const char *values[PG_PARAMS_MAX];
	int lengths[PG_PARAMS_MAX];
	int formats[PG_PARAMS_MAX];
	uint8_t scratch[PG_PARAMS_MAX][8]; /* network-order integers */
};

void pg_p_init(struct pg_params *p);
void pg_p_bytea(struct pg_params *p, const void *v, size_t len);
void pg_p_int8(struct pg_params *p, uint64_t v); /* bigint; values above INT64_MAX wrap */
void pg_p_int2(struct pg_params *p, uint16_t v);
void pg_p_bool(struct pg_params *p, bool v);
void pg_p_text(struct pg_params *p, const char *s);
void pg_p_textn(struct pg_params *p, const char *s, size_t len);
void pg_p_null(struct pg_params *p, Oid type);

/* One-dimensional arrays in binary form (bytea[] or bigint[]) for = ANY($n) and unnest($n): one
 * statement for all the recipients of a send instead of one per recipient. */
#define PG_OID_BYTEA_ARRAY 1001
#define PG_OID_INT8_ARRAY 1016
struct pg_array {
	uint8_t *buf;
	size_t len, cap;
	uint32_t n;
	int err; /* STORE_ENOMEM once an append failed; the array is then unusable */
};
/* Starts an empty array of elem (PG_OID_BYTEA or PG_OID_INT8). */
void pg_a_init(struct pg_array *a, Oid elem);
void pg_a_bytes(struct pg_array *a, const void *v, size_t len);
void pg_a_int8(struct pg_array *a, uint64_t v);
void pg_a_free(struct pg_array *a);
/* Adds the array as parameter (the array must outlive the statement): STORE_ENOMEM if an append
 * failed, else 0. */
int pg_p_array(struct pg_params *p, struct pg_array *a, Oid array_type);

/* Binary result readers. Integers: 2-, 4- or 8-byte big-endian columns (smallint, int, bigint);
 * bool: 1 byte. */
uint64_t pg_r_int(const PGresult *r, int row, int col);
bool pg_r_bool(const PGresult *r, int row, int col);
bool pg_r_null(const PGresult *r, int row, int col);
const uint8_t *pg_r_bytes(const PGresult *r, int row, int col, size_t *len);
/* Copies a value of exactly len bytes; STORE_ECORRUPT when it has another length or is NULL. */
int pg_r_copy(const PGresult *r, int row, int col, void *out, size_t len);
/* Copies a text value and a NUL into out (cap bytes with the NUL); STORE_ECORRUPT if too long. */
int pg_r_text(const PGresult *r, int row, int col, char *out, size_t cap);

/* Runs one statement (p NULL: no parameters), results in binary. Returns the result when it is
 * PGRES_COMMAND_OK or PGRES_TUPLES_OK, else NULL with *err set by pg__err (the connection's
 * state included). */
PGresult *pg_exec(PGconn *c, const char *sql, const struct pg_params *p, int *err);
/* The same for statements whose result is not needed: 0 or the error. */
int pg_cmd(PGconn *c, const char *sql, const struct pg_params *p);
/* A failed result (or NULL) -> STORE_E*, PG__ERETRY or PG__ECONN. Never logs. */
int pg__err(PGconn *c, const PGresult *r);

/* Hex of bytes into out (2 * len + 1 with the NUL). */
void pg__hex(const uint8_t *b, size_t len, char *out);
/* Hex (exactly 2 * len characters) to bytes; -1 when malformed. */
int pg__unhex(const char *s, size_t slen, uint8_t *out, size_t len);

/* ---- connections and reads ------------------------------------------------------------------- */

/* Connects with conninfo; NULL when it cannot (nothing logged: the conninfo may hold a password).
 * Sets the session up (client encoding, synchronous_commit at least on). */
PGconn *pg__connect(const char *conninfo, const char *application_name);

/* A notice receiver that drops the notice: the library does not log. */
void pg__quiet_notice(void *arg, const PGresult *r);

/* A read on the loop thread's connection: reconnects once when the connection broke and runs the
 * statement again; a second failure is STORE_EIO. Returns the result or NULL with *err. */
PGresult *pg__read(struct store *s, const char *sql, const struct pg_params *p, int *err);

/* ---- engine (engine.c, writer.c, listen.c) --------------------------------------------------- */

/* store_open / store_close of the engine: connect, migrate, check identity / close connections.
 * pg__close leaves the uv handles' closing to pg__close_handles (loop thread). */
int pg__open(struct store *s);
void pg__close(struct store *s);

/* Commits a batch: results in each request (writer thread). */
void pg__run_batch(struct store *s, struct store_req **reqs, size_t n);

/* A notification (channel, NUL-terminated payload) from the database: PG__NOTIFY_WAKE (*n device
 * ids written into ids, room for PG__WAKE_MAX), PG__NOTIFY_EVENT (*msg_len bytes into msg, room
 * for STORE_BROADCAST_MAX), or PG__NOTIFY_IGNORE (this store's own, per own_hex, or malformed:
 * anyone who may NOTIFY on the database can send anything). */
#define PG__NOTIFY_IGNORE 0
#define PG__NOTIFY_WAKE 1
#define PG__NOTIFY_EVENT 2
#define PG__WAKE_MAX 250 /* what fits PostgreSQL's 8000-byte payload */
int pg__notify_parse(const char *channel, const char *payload, const char *own_hex,
		     uint8_t (*ids)[STORE_ID_BYTES], size_t *n, uint8_t *msg, size_t *msg_len);

/* Stops listening and closes the listening connection's handles; frees the pgstore once they
 * have closed. */
void pg__listen_stop(struct pgstore *pg);
int pg__listen_start(struct pgstore *pg);

/* The schema, one DDL string per area (schema_core.c, schema_records.c, schema_relay.c): version
 * 1 applies the three in this order. */
extern const char pg__schema_core_v1[];
extern const char pg__schema_records_v1[];
extern const char pg__schema_relay_v1[];

/* ---- reads: the public functions' engine versions -------------------------------------------- */

int pg_get_account(struct store *s, const uint8_t id[STORE_ID_BYTES], struct store_account *out);
int pg_list_unit_accounts(struct store *s, const char *tenant, const char *unit,
			  store_account_cb cb, void *data);
int pg_list_tenant_accounts(struct store *s, const char *tenant, uint8_t kind,
			    store_account_cb cb, void *data);
int pg_get_device(struct store *s, const uint8_t id[STORE_ID_BYTES], struct store_device *out);
int pg_list_devices(struct store *s, const uint8_t account_id[STORE_ID_BYTES],
		    bool include_revoked, struct store_device *out, size_t cap, size_t *n);
int pg_get_signed_prekey(struct store *s, const uint8_t device_id[STORE_ID_BYTES],
			 struct store_signed_prekey *out);
int pg_count_one_time_prekeys(struct store *s, const uint8_t device_id[STORE_ID_BYTES],
			      uint32_t *n);
int pg_mailbox_total(struct store *s, uint64_t *count);
int pg_mailbox_iter(struct store *s, const uint8_t device_id[STORE_ID_BYTES], uint64_t from_seq,
		    size_t max, store_mailbox_cb cb, void *data);
int pg_get_idempotency(struct store *s, const uint8_t sender_device[STORE_ID_BYTES],
		       const uint8_t message_id[STORE_ID_BYTES], struct store_idempotency *out,
		       struct store_seq *seqs, size_t cap);
int pg_list_push_subs(struct store *s, const uint8_t *after, size_t max,
		      void (*cb)(const uint8_t device_id[STORE_ID_BYTES], void *data), void *data);
int pg_get_push_sub(struct store *s, const uint8_t device_id[STORE_ID_BYTES],
		    struct store_push_sub *out);

/* The records area (consent, audit, blobs). */
int pg_consent_latest(struct store *s, const uint8_t account_id[STORE_ID_BYTES], const char *tenant,
		      const char *unit, uint8_t *kind, uint64_t *received_at_ms);
int pg_consent_iter(struct store *s, const uint8_t account_id[STORE_ID_BYTES], store_consent_cb cb,
		    void *data);
int pg_consent_report(struct store *s, const char *tenant, store_consent_report_cb cb, void *data);
int pg_audit_head(struct store *s, uint64_t *seq, uint8_t hash[STORE_AUDIT_HASH_BYTES]);
int pg_audit_iter(struct store *s, uint64_t from_seq, size_t max, store_audit_cb cb, void *data);
int pg_get_blob(struct store *s, const uint8_t id[STORE_ID_BYTES], struct store_blob *out);
int pg_list_blobs(struct store *s, store_blob_cb cb, void *data);
int pg_get_blob_file_count(struct store *s, const uint8_t sha256[STORE_BLOB_SHA_BYTES],
			   uint32_t *count);
int pg_get_blob_grant(struct store *s, const uint8_t blob_id[STORE_ID_BYTES],
		      const uint8_t device_id[STORE_ID_BYTES], uint32_t *count,
		      uint64_t *expires_at_ms);
int pg_get_blob_usage(struct store *s, const uint8_t account_id[STORE_ID_BYTES], uint64_t *bytes,
		      uint32_t *count);

/* The batch's row locks taken up front, in the global order (locks.c); a request that must
 * run in a batch of its own. */
int pg__batch_prelock(PGconn *c, struct store_req *const *reqs, size_t n);
bool pg__req_alone(const struct store_req *req);

/* Operations and metrics. */
int pg_backup(struct store *s, const char *dir);
int pg_check_data(struct store *s, store_check_cb cb, void *data, uint64_t *records);

#endif
