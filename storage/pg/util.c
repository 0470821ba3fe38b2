/* SPDX-License-Identifier: MPL-2.0 */
/* Binary parameters and results, running statements, SQLSTATE -> STORE_E*, connecting, and the
 * loop thread's reads with their one reconnect. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_internal.h"

void pg_p_init(struct pg_params *p)
{
	p->n = 0;
}

static int add(struct pg_params *p, Oid type, const void *v, size_t len)
{
	int i = p->n++;
	/* A programming error, not a runtime condition: every statement has a fixed count. */
	if (i >= PG_PARAMS_MAX)
		__builtin_trap();
	p->types[i] = type;
	p->values[i] = v;
	p->lengths[i] = (int)len;
	p->formats[i] = 1;
	return i;
}

void pg_p_bytea(struct pg_params *p, const void *v, size_t len)
{
	/* A zero-length value must not be NULL to libpq, which reads NULL as SQL NULL. */
	add(p, PG_OID_BYTEA, v ? v : "", len);
}

void pg_p_int8(struct pg_params *p, uint64_t v)
{
	int i = p->n;
	for (int k = 7; k >= 0; k--, v >>= 8)
		p->scratch[i][k] = (uint8_t)v;
	add(p, PG_OID_INT8, p->scratch[i], 8);
}

void pg_p_int2(struct pg_params *p, uint16_t v)
{
	int i = p->n;
	p->scratch[i][0] = (uint8_t)(v >> 8);
	p->scratch[i][1] = (uint8_t)v;
	add(p, PG_OID_INT2, p->scratch[i], 2);
}

void pg_p_bool(struct pg_params *p, bool v)
{
	int i = p->n;
	p->scratch[i][0] = v ? 1 : 0;
	add(p, PG_OID_BOOL, p->scratch[i], 1);
}

void pg_p_text(struct pg_params *p, const char *s)
{
	add(p, PG_OID_TEXT, s, strlen(s));
}

void pg_p_textn(struct pg_params *p, const char *s, size_t len)
{
	add(p, PG_OID_TEXT, len ? s : "", len);
}

void pg_p_null(struct pg_params *p, Oid type)
{
	int i = add(p, type, NULL, 0);
	p->values[i] = NULL;
}

uint64_t pg_r_int(const PGresult *r, int row, int col)
{
	const uint8_t *v = (const uint8_t *)PQgetvalue(r, row, col);
	int len = PQgetlength(r, row, col);
	if (PQgetisnull(r, row, col) || (len != 2 && len != 4 && len != 8))
		return 0;
	/* sign-extend smaller integers so that -1 stays -1 */
	uint64_t x = (v[0] & 0x80) ? UINT64_MAX : 0;
	for (int i = 0; i < len; i++)
		x = (x << 8) | v[i];
	return x;
}

bool pg_r_bool(const PGresult *r, int row, int col)
{
	return !PQgetisnull(r, row, col) && PQgetlength(r, row, col) == 1 &&
	       PQgetvalue(r, row, col)[0] != 0;
}

bool pg_r_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) != 0;
}

const uint8_t *pg_r_bytes(const PGresult *r, int row, int col, size_t *len)
{
	*len = (size_t)PQgetlength(r, row, col);
	return (const uint8_t *)PQgetvalue(r, row, col);
}

int pg_r_copy(const PGresult *r, int row, int col, void *out, size_t len)
{
	if (PQgetisnull(r, row, col) || (size_t)PQgetlength(r, row, col) != len)
		return STORE_ECORRUPT;
	memcpy(out, PQgetvalue(r, row, col), len);
	return 0;
}

int pg_r_text(const PGresult *r, int row, int col, char *out, size_t cap)
{
	size_t len = (size_t)PQgetlength(r, row, col);
	if (PQgetisnull(r, row, col) || len >= cap)
		return STORE_ECORRUPT;
	memcpy(out, PQgetvalue(r, row, col), len);
	out[len] = '\0';
	return 0;
}

/* SQLSTATE classes and codes: PostgreSQL's documentation, appendix A. */
int pg__err(PGconn *c, const PGresult *r)
{
	if (!r || (c && PQstatus(c) == CONNECTION_BAD))
		return PG__ECONN;
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (!st || strlen(st) != 5)
		return PQresultStatus(r) == PGRES_FATAL_ERROR && c && PQstatus(c) != CONNECTION_OK
			       ? PG__ECONN
			       : STORE_EIO;
	if (!strcmp(st, "40P01") || !strcmp(st, "40001") || !strcmp(st, "23505"))
		return PG__ERETRY;
	/* connection exceptions; admin/crash shutdown, cannot connect now (a standby starting up);
	 * read-only transaction: we reached a standby (after a fail-over the conninfo's
	 * target_session_attrs finds the new primary on reconnect) */
	if (!strncmp(st, "08", 2) || !strcmp(st, "57P01") || !strcmp(st, "57P02") ||
	    !strcmp(st, "57P03") || !strcmp(st, "25006"))
		return PG__ECONN;
	if (!strcmp(st, "53100"))
		return STORE_EFULL;
	if (!strcmp(st, "53200"))
		return STORE_ENOMEM;
	if (!strncmp(st, "53", 2) || !strcmp(st, "55P03") || !strcmp(st, "57014"))
		return STORE_EBUSY; /* insufficient resources, lock not available, query canceled */
	if (!strcmp(st, "42501") || !strncmp(st, "28", 2))
		return STORE_EACCES;
	if (!strcmp(st, "XX001") || !strcmp(st, "XX002"))
		return STORE_ECORRUPT;
	if (!strncmp(st, "22", 2))
		return STORE_EINVAL; /* data exception: a value the column refuses */
	if (!strncmp(st, "58", 2))
		return STORE_EIO;
	return STORE_EINTERNAL;
}

/* ---- prepared statements ----------------------------------------------------------------------
 * Every statement with parameters is prepared once per connection (PQprepare) and then executed
 * by name: the engine runs the same few dozen statements all the time, and parsing and planning
 * them anew each time cost more than running them. The cache is per thread (a connection is only
 * ever used by one thread at a time), keyed by the connection and its backend pid (a new
 * connection at a recycled address is another key), and per connection by the text and the
 * parameter types. Names carry a generation that is never reused on the thread, so a connection
 * whose cache entry was dropped (or that another thread uses later) never prepares a name
 * twice. */
#define STMT_CONNS 32 /* connections per thread (a pool may lend a thread many) */
#define STMT_MAX 512

struct stmt_cache {
	PGconn *conn;
	int pid;
	unsigned gen;
	uint64_t used; /* LRU tick */
	size_t n;
	uint64_t hash[STMT_MAX];
	char *sql[STMT_MAX];
};

/* STMT_CONNS entries, allocated on a thread's first statement and freed when it ends. */
static __thread struct stmt_cache *stmt_caches;
static unsigned stmt_gen; /* atomic: names unique in the process */
static __thread uint64_t stmt_tick;
static pthread_key_t stmt_key;
static pthread_once_t stmt_once = PTHREAD_ONCE_INIT;

static void stmt_free(void *p)
{
	struct stmt_cache *caches = p;
	for (int i = 0; i < STMT_CONNS; i++)
		for (size_t k = 0; k < caches[i].n; k++)
			free(caches[i].sql[k]);
	free(caches);
}

static void stmt_key_create(void)
{
	pthread_key_create(&stmt_key, stmt_free);
}

static uint64_t stmt_hash(const char *sql, const struct pg_params *p)
{
	uint64_t h = 0xcbf29ce484222325u; /* FNV-1a */
	for (const unsigned char *c = (const unsigned char *)sql; *c; c++)
		h = (h ^ *c) * 0x100000001b3u;
	for (int i = 0; i < p->n; i++)
		h = (h ^ p->types[i]) * 0x100000001b3u;
	return h;
}

static void cache_reset(struct stmt_cache *e, PGconn *c, int pid)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->sql[i]);
	e->conn = c;
	e->pid = pid;
	e->gen = __atomic_add_fetch(&stmt_gen, 1, __ATOMIC_RELAXED);
	e->n = 0;
}

static struct stmt_cache *cache_for(PGconn *c)
{
	if (!stmt_caches) {
		pthread_once(&stmt_once, stmt_key_create);
		stmt_caches = calloc(STMT_CONNS, sizeof *stmt_caches);
		if (!stmt_caches)
			return NULL;
		pthread_setspecific(stmt_key, stmt_caches);
	}
	int pid = PQbackendPID(c);
	struct stmt_cache *victim = &stmt_caches[0];
	stmt_tick++;
	for (int i = 0; i < STMT_CONNS; i++) {
		struct stmt_cache *e = &stmt_caches[i];
		if (e->conn == c && e->pid == pid) {
			e->used = stmt_tick;
			return e;
		}
		if (e->used < victim->used)
			victim = e;
	}
	cache_reset(victim, c, pid);
	victim->used = stmt_tick;
	return victim;
}

/* The statement's name on c, preparing it first if needed; NULL (and *prepared NULL) when the
 * cache is full: execute it unprepared. NULL with *err set when preparing failed. */
static const char *prepared(PGconn *c, const char *sql, const struct pg_params *p, char *name,
			    size_t cap, int *err)
{
	struct stmt_cache *e = cache_for(c);
	if (!e)
		return NULL;
	uint64_t h = stmt_hash(sql, p);
	size_t i;
	for (i = 0; i < e->n; i++)
		if (e->hash[i] == h && strcmp(e->sql[i], sql) == 0)
			break;
	snprintf(name, cap, "w%u_%zu", e->gen, i);
	if (i < e->n)
		return name;
	if (e->n == STMT_MAX || !(e->sql[i] = strdup(sql)))
		return NULL;
	PGresult *r = PQprepare(c, name, sql, p->n, p->types);
	if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
		*err = pg__err(c, r);
		PQclear(r);
		free(e->sql[i]);
		return NULL;
	}
	PQclear(r);
	e->hash[i] = h;
	e->n++;
	return name;
}

PGresult *pg_exec(PGconn *c, const char *sql, const struct pg_params *p, int *err)
{
	PGresult *r;
	if (!c) {
		*err = PG__ECONN;
		return NULL;
	}
	if (p && p->n) {
		char name[32];
		*err = 0;
		const char *stmt = prepared(c, sql, p, name, sizeof name, err);
		if (*err)
			return NULL;
		r = stmt ? PQexecPrepared(c, stmt, p->n, p->values, p->lengths, p->formats, 1)
			 : PQexecParams(c, sql, p->n, p->types, p->values, p->lengths, p->formats, 1);
	} else {
		r = PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 1);
	}
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	*err = pg__err(c, r);
	PQclear(r);
	return NULL;
}

int pg_cmd(PGconn *c, const char *sql, const struct pg_params *p)
{
	int err = 0;
	PGresult *r = pg_exec(c, sql, p, &err);
	if (!r)
		return err;
	PQclear(r);
	return 0;
}

void pg__hex(const uint8_t *b, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * len] = '\0';
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int pg__unhex(const char *s, size_t slen, uint8_t *out, size_t len)
{
	if (slen != 2 * len)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Notices (a WARNING of the server) go nowhere: libpq's default prints them on stderr, and the
 * library does not log. */
void pg__quiet_notice(void *arg, const PGresult *r)
{
	(void)arg;
	(void)r;
}

PGconn *pg__connect(const char *conninfo, const char *application_name)
{
	/* expand_dbname: conninfo may be a URI or a key=value string. Keys are applied in order:
	 * conninfo may override the application name before it, not the encoding after it. */
	/* A dead host (no RST) must not hold a connect or a statement for minutes: connect timeout
	 * and TCP keepalives, unless conninfo says otherwise. */
	const char *keys[] = {"application_name", "connect_timeout", "keepalives", "keepalives_idle",
			      "keepalives_interval", "keepalives_count", "dbname", "client_encoding",
			      NULL};
	const char *vals[] = {application_name, "10", "1", "10", "5", "3", conninfo, "UTF8", NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (!c)
		return NULL;
	if (PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeReceiver(c, pg__quiet_notice, NULL);
	/* "stored" means durable: a server configured with synchronous_commit off or local would
	 * make it mean less, so the session asks for at least on (a stronger server setting such
	 * as remote_apply is kept). */
	int err = 0;
	PGresult *r = pg_exec(c, "SELECT current_setting('synchronous_commit')", NULL, &err);
	if (!r) {
		PQfinish(c);
		return NULL;
	}
	bool weak = PQntuples(r) == 1 && (!strcmp(PQgetvalue(r, 0, 0), "off") ||
					  !strcmp(PQgetvalue(r, 0, 0), "local"));
	PQclear(r);
	if (weak && pg_cmd(c, "SET synchronous_commit = on", NULL) != 0) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

PGresult *pg__read(struct store *s, const char *sql, const struct pg_params *p, int *err)
{
	struct pgstore *pg = s->pg;
	if (s->closing && !pg->rconn) {
		*err = STORE_ECLOSED;
		return NULL;
	}
	for (int attempt = 0;; attempt++) {
		if (!pg->rconn) {
			/* Each connect may block the loop (up to connect_timeout): after a failed one,
			 * reads fail at once for a second instead of each trying again. */
			uint64_t now = store__mono_us() / 1000u;
			if (now < pg->read_retry_ms) {
				*err = STORE_EIO;
				return NULL;
			}
			pg->rconn = pg__connect(pg->conninfo, "wakks-relay");
			if (!pg->rconn) {
				pg->read_retry_ms = now + 1000u;
				*err = STORE_EIO;
				return NULL;
			}
		}
		PGresult *r = pg_exec(pg->rconn, sql, p, err);
		if (r)
			return r;
		if (*err == PG__ERETRY) /* a read conflicts with nothing; never seen here */
			*err = STORE_EBUSY;
		if (*err != PG__ECONN)
			return NULL;
		/* The connection broke (a restart, a fail-over): once more on a new one, which the
		 * conninfo's hosts and target_session_attrs lead to the primary. */
		if (pg->rconn)
			PQfinish(pg->rconn);
		pg->rconn = NULL;
		if (attempt == 1) {
			*err = STORE_EIO;
			return NULL;
		}
	}
}

/* Array layout (PostgreSQL's array_send): ndim, has-nulls flag, element type, then per dimension
 * its length and lower bound, then each element as length and bytes. The count is patched when
 * the array is added. */
#define ARRAY_HEAD 20

static void a_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint8_t *a_room(struct pg_array *a, size_t need)
{
	if (a->err)
		return NULL;
	if (a->len + need > a->cap) {
		size_t cap = a->cap ? a->cap : 256;
		while (cap < a->len + need)
			cap *= 2;
		uint8_t *nb = realloc(a->buf, cap);
		if (!nb) {
			a->err = STORE_ENOMEM;
			return NULL;
		}
		a->buf = nb;
		a->cap = cap;
	}
	uint8_t *p = a->buf + a->len;
	a->len += need;
	return p;
}

void pg_a_init(struct pg_array *a, Oid elem)
{
	memset(a, 0, sizeof *a);
	uint8_t *p = a_room(a, ARRAY_HEAD);
	if (!p)
		return;
	a_put32(p, 1);
	a_put32(p + 4, 0);
	a_put32(p + 8, elem);
	a_put32(p + 12, 0); /* count: patched */
	a_put32(p + 16, 1);
}

void pg_a_bytes(struct pg_array *a, const void *v, size_t len)
{
	uint8_t *p = a_room(a, 4 + len);
	if (!p)
		return;
	a_put32(p, (uint32_t)len);
	if (len)
		memcpy(p + 4, v, len);
	a->n++;
}

void pg_a_int8(struct pg_array *a, uint64_t v)
{
	uint8_t b[8];
	for (int k = 7; k >= 0; k--, v >>= 8)
		b[k] = (uint8_t)v;
	pg_a_bytes(a, b, 8);
}

void pg_a_free(struct pg_array *a)
{
	free(a->buf);
	memset(a, 0, sizeof *a);
}

int pg_p_array(struct pg_params *p, struct pg_array *a, Oid array_type)
{
	if (a->err || !a->buf)
		return STORE_ENOMEM;
	a_put32(a->buf + 12, a->n);
	if (a->n == 0) {
		/* An empty array has no dimensions. */
		a_put32(a->buf, 0);
		add(p, array_type, a->buf, 12);
		return 0;
	}
	a_put32(a->buf, 1);
	add(p, array_type, a->buf, a->len);
	return 0;
}
