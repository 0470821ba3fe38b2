/* SPDX-License-Identifier: MPL-2.0 */
/* Login challenges shared by the relays on one database (table login_challenges,
 * schema_relay.c): one relay hands a challenge out over HTTPS, the client's page is replaced by
 * the provider's, and it registers through whichever relay the load balancer picks. */
#include <stdlib.h>
#include <string.h>

#include "aux_internal.h"

struct ch_args {
	const uint8_t *ik;
	const uint8_t *challenge;
	int64_t ttl_ms;
	uint8_t *out;
	int64_t count;
};

static int put_fn(PGconn *conn, void *arg)
{
	struct ch_args *a = arg;
	struct aux_params p = { 0 };
	aux_param_bytes(&p, a->ik, STORE_KEY_BYTES);
	aux_param_bytes(&p, a->challenge, 32);
	aux_param_i64(&p, a->ttl_ms);
	int err = 0;
	PGresult *res = aux_exec(conn,
				 "INSERT INTO login_challenges (ik, challenge, expires_ms)"
				 " VALUES ($1, $2, " AUX_NOW_MS " + $3)"
				 " ON CONFLICT (ik) DO UPDATE SET challenge = excluded.challenge,"
				 " expires_ms = excluded.expires_ms",
				 &p, &err);
	PQclear(res);
	return res ? 0 : err;
}

int store_challenge_put(struct store_aux *aux, const uint8_t ik[STORE_KEY_BYTES],
			const uint8_t challenge[32], uint64_t ttl_ms)
{
	if (!aux || ttl_ms == 0 || ttl_ms > INT64_MAX / 2)
		return STORE_EINVAL;
	struct ch_args a = { .ik = ik, .challenge = challenge, .ttl_ms = (int64_t)ttl_ms };
	return aux_run(aux, put_fn, &a);
}

static int get_fn(PGconn *conn, void *arg)
{
	struct ch_args *a = arg;
	struct aux_params p = { 0 };
	aux_param_bytes(&p, a->ik, STORE_KEY_BYTES);
	int err = 0;
	PGresult *res = aux_exec(conn,
				 "SELECT challenge FROM login_challenges WHERE ik = $1"
				 " AND expires_ms > " AUX_NOW_MS,
				 &p, &err);
	if (!res)
		return err;
	int rc = STORE_ENOTFOUND;
	if (PQntuples(res) == 1 && PQgetlength(res, 0, 0) == 32) {
		memcpy(a->out, PQgetvalue(res, 0, 0), 32);
		rc = 0;
	}
	PQclear(res);
	return rc;
}

int store_challenge_get(struct store_aux *aux, const uint8_t ik[STORE_KEY_BYTES], uint8_t out[32])
{
	if (!aux)
		return STORE_EINVAL;
	uint8_t got[32];
	struct ch_args a = { .ik = ik, .out = got };
	int rc = aux_run(aux, get_fn, &a);
	if (rc == 0)
		memcpy(out, got, 32);
	return rc;
}

static int take_fn(PGconn *conn, void *arg)
{
	struct ch_args *a = arg;
	struct aux_params p = { 0 };
	aux_param_bytes(&p, a->ik, STORE_KEY_BYTES);
	aux_param_bytes(&p, a->challenge, 32);
	int err = 0;
	PGresult *res = aux_exec(conn,
				 "DELETE FROM login_challenges WHERE ik = $1 AND challenge = $2"
				 " AND expires_ms > " AUX_NOW_MS,
				 &p, &err);
	if (!res)
		return err;
	a->count = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

int store_challenge_take(struct store_aux *aux, const uint8_t ik[STORE_KEY_BYTES],
			 const uint8_t challenge[32])
{
	if (!aux)
		return STORE_EINVAL;
	struct ch_args a = { .ik = ik, .challenge = challenge };
	int rc = aux_run(aux, take_fn, &a);
	return rc ? rc : a.count == 1 ? 0 : STORE_ENOTFOUND;
}

static int sweep_fn(PGconn *conn, void *arg)
{
	struct ch_args *a = arg;
	int err = 0;
	PGresult *res = aux_exec(conn,
				 "DELETE FROM login_challenges WHERE expires_ms <= " AUX_NOW_MS,
				 NULL, &err);
	if (!res)
		return err;
	a->count = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

int store_challenge_sweep(struct store_aux *aux)
{
	if (!aux)
		return STORE_EINVAL;
	struct ch_args a = { 0 };
	int rc = aux_run(aux, sweep_fn, &a);
	return rc ? rc : (int)(a.count > 1000000000 ? 1000000000 : a.count);
}
