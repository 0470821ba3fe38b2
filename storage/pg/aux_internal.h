/* SPDX-License-Identifier: MPL-2.0 */
/* The pool of connections of struct store_aux (aux_pool.c) and the statement helpers that
 * rates.c and blob_data.c share. */
#ifndef WAKKS_STORAGE_PG_AUX_INTERNAL_H
#define WAKKS_STORAGE_PG_AUX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "wakks_storage.h"

/* The database's clock in milliseconds since the epoch, as SQL: every relay on the database
 * measures ages and refills with this one clock. */
#define AUX_NOW_MS "(extract(epoch from statement_timestamp()) * 1000)::bigint"

/* Type oids of the parameters we send (binary format). */
#define AUX_OID_BYTEA 17
#define AUX_OID_INT8 20

/* One statement's parameters, all binary: bytea values as given, integers as int8 in network
 * byte order (int8 storage lives in the struct). */
#define AUX_MAX_PARAMS 6
struct aux_params {
	int n;
	const char *values[AUX_MAX_PARAMS];
	int lengths[AUX_MAX_PARAMS];
	int formats[AUX_MAX_PARAMS];
	unsigned int types[AUX_MAX_PARAMS];
	uint8_t ints[AUX_MAX_PARAMS][8];
};

void aux_param_bytes(struct aux_params *p, const uint8_t *b, size_t len);
void aux_param_i64(struct aux_params *p, int64_t v);

/* Runs one statement with binary results. The result is PGRES_COMMAND_OK or PGRES_TUPLES_OK, or
 * NULL with *err set by the engine's SQLSTATE map (pg__err): a STORE_E* code, or PG__ECONN (the
 * connection is lost or reached a server that is not the primary) or PG__ERETRY (deadlock,
 * serialization failure), which aux_run handles and never returns. */
PGresult *aux_exec(PGconn *conn, const char *sql, const struct aux_params *p, int *err);
/* A statement without parameters or results (BEGIN, COMMIT, ROLLBACK): 0 or *err's value. */
int aux_simple(PGconn *conn, const char *sql);

/* Integers and booleans of a binary result. */
int64_t aux_get_i64(const PGresult *res, int row, int col);
double aux_get_f64(const PGresult *res, int row, int col);
bool aux_get_bool(const PGresult *res, int row, int col);

/* An advisory lock key for a blob id or SHA-256 (its first 8 bytes): writes, seals and removals
 * of one key take it for their transaction, so they never interleave. */
int64_t aux_lock_key(const uint8_t *key);

/* Runs fn(conn, arg) on a pooled connection. When fn fails with PG__ECONN (a fail-over, a
 * restarted server) the connection is dropped, and with PG__ERETRY rolled back; fn then runs once
 * more: fn must be safe to repeat (each is idempotent, or one transaction). What still fails so
 * becomes STORE_EIO (or STORE_EBUSY). */
typedef int (*aux_fn)(PGconn *conn, void *arg);
int aux_run(struct store_aux *aux, aux_fn fn, void *arg);

#endif
