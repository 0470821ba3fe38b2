/* SPDX-License-Identifier: MPL-2.0 */
/* A small, thread-safe pool of connections to the store's PostgreSQL database for work that does
 * not go through the writer: rate buckets from the loop thread, blob bytes from the threadpool.
 * Connections are opened on demand (libpq's multi-host connection string with
 * target_session_attrs=read-write finds the primary) and replaced when broken. */
#include <arpa/inet.h>
#include <endian.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "aux_internal.h"
#include "pg_internal.h"
#include "store_internal.h"

#define AUX_MAX_CONNS 16

struct store_aux {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *conninfo;
	PGconn *idle[AUX_MAX_CONNS];
	unsigned n_idle;
	unsigned open; /* connections handed out or idle, or being opened */
	unsigned max;
	/* Calls of aux_run under way; a pool closed meanwhile is freed by the last of them (blob
	 * work on the threadpool may outlive the relay's stop). */
	unsigned users;
	bool closing;
};

static void pool_free(struct store_aux *a)
{
	for (unsigned i = 0; i < a->n_idle; i++)
		PQfinish(a->idle[i]);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	/* The string may hold a password. */
	explicit_bzero(a->conninfo, strlen(a->conninfo));
	free(a->conninfo);
	free(a);
}

int store_aux_open(struct store *store, unsigned max_conns, struct store_aux **out)
{
	if (!store || !store->pg || max_conns < 1 || max_conns > AUX_MAX_CONNS)
		return STORE_EINVAL;
	struct store_aux *a = calloc(1, sizeof *a);
	if (!a)
		return STORE_ENOMEM;
	a->conninfo = strdup(store->pg->conninfo);
	if (!a->conninfo) {
		free(a);
		return STORE_ENOMEM;
	}
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	a->max = max_conns;
	*out = a;
	return 0;
}

void store_aux_close(struct store_aux *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->closing = true;
	bool last = a->users == 0;
	pthread_mutex_unlock(&a->mu);
	if (last)
		pool_free(a);
}

/* A connection of the pool, opened if none is idle and fewer than max are open; waits for one
 * otherwise. NULL when a new one cannot be opened. */
static PGconn *take(struct store_aux *a)
{
	pthread_mutex_lock(&a->mu);
	while (a->n_idle == 0 && a->open >= a->max)
		pthread_cond_wait(&a->cv, &a->mu);
	if (a->n_idle) {
		PGconn *c = a->idle[--a->n_idle];
		pthread_mutex_unlock(&a->mu);
		return c;
	}
	a->open++;
	pthread_mutex_unlock(&a->mu);
	PGconn *c = pg__connect(a->conninfo, "wakks-aux");
	if (PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		pthread_mutex_lock(&a->mu);
		a->open--;
		pthread_cond_signal(&a->cv);
		pthread_mutex_unlock(&a->mu);
		return NULL;
	}
	return c;
}

/* Returns a connection to the pool; a broken one, or one left inside a transaction, is closed. */
static void give(struct store_aux *a, PGconn *c, bool drop)
{
	bool keep = !drop && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE;
	if (!keep)
		PQfinish(c);
	pthread_mutex_lock(&a->mu);
	if (keep)
		a->idle[a->n_idle++] = c;
	else
		a->open--;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

static int run(struct store_aux *a, aux_fn fn, void *arg)
{
	int rc = PG__ECONN;
	for (int attempt = 0; attempt < 2; attempt++) {
		PGconn *c = take(a);
		if (!c)
			continue; /* the next attempt opens another (the primary may have moved) */
		rc = fn(c, arg);
		/* Lost, or reached a server that is no longer the primary (read-only, shutting down):
		 * this connection goes, and the next one finds the primary through the conninfo. */
		bool drop = rc == PG__ECONN || PQstatus(c) != CONNECTION_OK;
		if (rc != 0 && !drop && PQtransactionStatus(c) != PQTRANS_IDLE)
			(void)aux_simple(c, "ROLLBACK");
		give(a, c, drop);
		/* A deadlock or serialization failure rolled the transaction back: once more. */
		if (rc != PG__ECONN && rc != PG__ERETRY)
			return rc;
	}
	return rc == PG__ERETRY ? STORE_EBUSY : STORE_EIO;
}

int aux_run(struct store_aux *a, aux_fn fn, void *arg)
{
	pthread_mutex_lock(&a->mu);
	if (a->closing) {
		pthread_mutex_unlock(&a->mu);
		return STORE_ECLOSED;
	}
	a->users++;
	pthread_mutex_unlock(&a->mu);
	int rc = run(a, fn, arg);
	pthread_mutex_lock(&a->mu);
	bool last = --a->users == 0 && a->closing;
	pthread_mutex_unlock(&a->mu);
	if (last)
		pool_free(a);
	return rc;
}

void aux_param_bytes(struct aux_params *p, const uint8_t *b, size_t len)
{
	int i = p->n++;
	p->values[i] = (const char *)b;
	p->lengths[i] = (int)len;
	p->formats[i] = 1;
	p->types[i] = AUX_OID_BYTEA;
}

void aux_param_i64(struct aux_params *p, int64_t v)
{
	int i = p->n++;
	uint64_t be = htobe64((uint64_t)v);
	memcpy(p->ints[i], &be, 8);
	p->values[i] = (const char *)p->ints[i];
	p->lengths[i] = 8;
	p->formats[i] = 1;
	p->types[i] = AUX_OID_INT8;
}

PGresult *aux_exec(PGconn *conn, const char *sql, const struct aux_params *p, int *err)
{
	PGresult *res = PQexecParams(conn, sql, p ? p->n : 0, p ? p->types : NULL,
				     p ? p->values : NULL, p ? p->lengths : NULL,
				     p ? p->formats : NULL, 1);
	ExecStatusType st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	*err = pg__err(conn, res); /* the engine's SQLSTATE map; PG__ECONN, PG__ERETRY for run() */
	PQclear(res);
	return NULL;
}

int aux_simple(PGconn *conn, const char *sql)
{
	int err = 0;
	PGresult *res = aux_exec(conn, sql, NULL, &err);
	PQclear(res);
	return res ? 0 : err;
}

int64_t aux_get_i64(const PGresult *res, int row, int col)
{
	uint64_t be;
	memcpy(&be, PQgetvalue(res, row, col), 8);
	return (int64_t)be64toh(be);
}

double aux_get_f64(const PGresult *res, int row, int col)
{
	uint64_t be, host;
	double d;
	memcpy(&be, PQgetvalue(res, row, col), 8);
	host = be64toh(be);
	memcpy(&d, &host, 8);
	return d;
}

bool aux_get_bool(const PGresult *res, int row, int col)
{
	return PQgetvalue(res, row, col)[0] != 0;
}

int64_t aux_lock_key(const uint8_t *key)
{
	uint64_t v;
	memcpy(&v, key, 8);
	return (int64_t)v;
}
