/* SPDX-License-Identifier: MPL-2.0 */
/* Consent records: appended with per-account seqs and kept as evidence; the latest record per
 * (account, tenant, unit) answers the enforcement question, a unit-narrowed record included; the
 * history reads back oldest first with the record bytes and signature as stored; the tenant report
 * counts grants, withdrawals and active citizens per text version; the builder and the per-account
 * limit refuse with their codes. */
#include "test.h"
#include "storage_test.h"

static uint64_t fixed_clock(void *data)
{
	return *(uint64_t *)data;
}

struct cres {
	int done, result;
	uint64_t seq, received_at;
};

static void ccb(struct store_req *req, int result, void *data)
{
	struct cres *c = data;
	c->done = 1;
	c->result = result;
	const struct store_put_consent_result *r = store_req_put_consent_result(req, 0);
	if (r) {
		c->seq = r->seq;
		c->received_at = r->received_at_ms;
	}
}

static void make(struct store_consent *c, unsigned account, uint8_t kind, const char *tenant,
		 const char *unit, const char *text_version, const uint8_t *record, size_t len)
{
	memset(c, 0, sizeof *c);
	t_id(c->account_id, 'A', account);
	c->kind = kind;
	strcpy(c->tenant, tenant);
	strcpy(c->unit, unit);
	strcpy(c->text_version, text_version);
	c->record = record;
	c->record_len = len;
	memset(c->signature, 0x5a, sizeof c->signature);
	c->signature[63] = (uint8_t)len;
}

/* Puts one record (received_at from the store's clock) and waits. */
static int put(struct t_env *e, unsigned account, uint8_t kind, const char *tenant, const char *unit,
	       const char *tv, struct cres *out)
{
	uint8_t record[40];
	struct store_consent c;
	struct cres r = {0};
	int n = snprintf((char *)record, sizeof record, "%u/%u/%s/%s/%s", account, kind, tenant, unit, tv);
	make(&c, account, kind, tenant, unit, tv, record, (size_t)n);
	struct store_req *req = store_req_new(e->s, ccb, &r);
	int rc = store_req_put_consent(req, &c);
	if (rc < 0) {
		store_req_free(req);
		return rc;
	}
	if (store_submit(req) != 0)
		return -100;
	while (!r.done)
		uv_run(&e->loop, UV_RUN_ONCE);
	if (out)
		*out = r;
	return r.result;
}

static int put_account(struct t_env *e, unsigned n, uint8_t kind)
{
	return t_put_account(e, n, kind);
}

#define GRANT STORE_CONSENT_GRANT
#define WITHDRAW STORE_CONSENT_WITHDRAW

static int latest(struct t_env *e, unsigned account, const char *tenant, const char *unit,
		  uint8_t *kind, uint64_t *at)
{
	uint8_t id[STORE_ID_BYTES];
	t_id(id, 'A', account);
	return store_consent_latest(e->s, id, tenant, unit, kind, at);
}

static void test_latest_follows_grants_and_withdrawals(void)
{
	struct t_env e;
	uint64_t now = 1000;
	struct cres r;
	uint8_t kind = 0;
	uint64_t at = 0;
	REQUIRE_OK(t_setup(&e));
	e.cfg.now_ms = fixed_clock;
	e.cfg.clock_data = &now;
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(put_account(&e, 1, STORE_ACCOUNT_CITIZEN));
	REQUIRE_OK(put_account(&e, 2, STORE_ACCOUNT_CITIZEN));

	CHECK_EQ_INT(latest(&e, 1, "varde", "", &kind, &at), STORE_ENOTFOUND);
	CHECK_EQ_INT(put(&e, 1, GRANT, "varde", "", "2026-11", &r), 0);
	CHECK_EQ_INT(r.seq, 1);
	CHECK_EQ_INT(r.received_at, 1000);
	CHECK_EQ_INT(latest(&e, 1, "varde", "", &kind, &at), 0);
	CHECK_EQ_INT(kind, GRANT);
	CHECK_EQ_INT(at, 1000);
	CHECK_EQ_INT(latest(&e, 1, "varde", NULL, &kind, NULL), 0); /* NULL unit = whole tenant */
	CHECK_EQ_INT(latest(&e, 2, "varde", "", &kind, &at), STORE_ENOTFOUND);
	CHECK_EQ_INT(latest(&e, 1, "esbjerg", "", &kind, &at), STORE_ENOTFOUND);

	now = 2000;
	CHECK_EQ_INT(put(&e, 1, WITHDRAW, "varde", "", "2025-01", &r), 0);
	CHECK_EQ_INT(r.seq, 2);
	CHECK_EQ_INT(latest(&e, 1, "varde", "", &kind, &at), 0);
	CHECK_EQ_INT(kind, WITHDRAW);
	CHECK_EQ_INT(at, 2000);

	/* Narrowed to a unit: a record for the unit, not for the whole tenant, and the other way. */
	now = 3000;
	CHECK_EQ_INT(put(&e, 1, GRANT, "varde", "jobcenter", "2026-11", &r), 0);
	CHECK_EQ_INT(r.seq, 3);
	CHECK_EQ_INT(latest(&e, 1, "varde", "jobcenter", &kind, &at), 0);
	CHECK_EQ_INT(kind, GRANT);
	CHECK_EQ_INT(at, 3000);
	CHECK_EQ_INT(latest(&e, 1, "varde", "", &kind, &at), 0);
	CHECK_EQ_INT(kind, WITHDRAW);
	CHECK_EQ_INT(latest(&e, 1, "varde", "born", &kind, &at), STORE_ENOTFOUND);
	/* a tenant-wide grant leaves the unit's own latest alone */
	now = 4000;
	CHECK_EQ_INT(put(&e, 1, GRANT, "varde", "", "2026-11", &r), 0);
	CHECK_EQ_INT(put(&e, 1, WITHDRAW, "varde", "jobcenter", "2026-11", &r), 0);
	CHECK_EQ_INT(r.seq, 5);
	CHECK_EQ_INT(latest(&e, 1, "varde", "", &kind, &at), 0);
	CHECK_EQ_INT(kind, GRANT);
	CHECK_EQ_INT(latest(&e, 1, "varde", "jobcenter", &kind, &at), 0);
	CHECK_EQ_INT(kind, WITHDRAW);

	/* another account's seqs start at 1 */
	CHECK_EQ_INT(put(&e, 2, GRANT, "varde", "", "2026-11", &r), 0);
	CHECK_EQ_INT(r.seq, 1);

	/* survives a reopen */
	t_close(&e);
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(latest(&e, 1, "varde", "jobcenter", &kind, &at), 0);
	CHECK_EQ_INT(kind, WITHDRAW);
	CHECK_EQ_INT(at, 4000);
	CHECK_EQ_INT(put(&e, 1, GRANT, "varde", "born", "v1", &r), 0);
	CHECK_EQ_INT(r.seq, 6);

	CHECK_EQ_INT(latest(&e, 1, "", "", &kind, &at), STORE_EINVAL);
	CHECK_EQ_INT(latest(&e, 1, NULL, "", &kind, &at), STORE_EINVAL);
	t_teardown(&e);
}

struct hist {
	int n;
	struct store_consent c[8];
	uint8_t record[8][64];
};

static int hist_cb(const struct store_consent *c, void *data)
{
	struct hist *h = data;
	if (h->n < 8) {
		h->c[h->n] = *c;
		memcpy(h->record[h->n], c->record, c->record_len < 64 ? c->record_len : 64);
		h->c[h->n].record = NULL; /* the view dies with the call */
	}
	h->n++;
	return 0;
}

static void test_history_oldest_first(void)
{
	struct t_env e;
	uint64_t now = 500;
	struct hist h;
	REQUIRE_OK(t_setup(&e));
	e.cfg.now_ms = fixed_clock;
	e.cfg.clock_data = &now;
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(put_account(&e, 1, STORE_ACCOUNT_CITIZEN));
	REQUIRE_OK(put_account(&e, 2, STORE_ACCOUNT_CITIZEN));
	CHECK_EQ_INT(put(&e, 1, GRANT, "varde", "", "2026-11", NULL), 0);
	CHECK_EQ_INT(put(&e, 2, GRANT, "varde", "", "2026-11", NULL), 0);
	now = 600;
	CHECK_EQ_INT(put(&e, 1, WITHDRAW, "varde", "jobcenter", "2026-10", NULL), 0);

	/* an explicit received_at is kept */
	struct cres r = {0};
	struct store_consent c;
	static const uint8_t rec[] = {1, 1, 0xff, 0, 7};
	make(&c, 1, GRANT, "esbjerg", "", "x", rec, sizeof rec);
	c.received_at_ms = 12345;
	c.seq = 999; /* ignored */
	struct store_req *req = store_req_new(e.s, ccb, &r);
	CHECK_EQ_INT(store_req_put_consent(req, &c), 0);
	CHECK_EQ_INT(store_submit(req), 0);
	while (!r.done)
		uv_run(&e.loop, UV_RUN_ONCE);
	CHECK_EQ_INT(r.result, 0);
	CHECK_EQ_INT(r.seq, 3);
	CHECK_EQ_INT(r.received_at, 12345);

	memset(&h, 0, sizeof h);
	uint8_t id[STORE_ID_BYTES];
	t_id(id, 'A', 1);
	CHECK_EQ_INT(store_consent_iter(e.s, id, hist_cb, &h), 3);
	CHECK_EQ_INT(h.c[0].seq, 1);
	CHECK_EQ_INT(h.c[0].kind, GRANT);
	CHECK(strcmp(h.c[0].tenant, "varde") == 0);
	CHECK(strcmp(h.c[0].unit, "") == 0);
	CHECK(strcmp(h.c[0].text_version, "2026-11") == 0);
	CHECK_EQ_INT(h.c[0].received_at_ms, 500);
	CHECK_EQ_INT(h.c[0].record_len, strlen("1/1/varde//2026-11"));
	CHECK_MEM(h.record[0], "1/1/varde//2026-11", h.c[0].record_len);
	CHECK_EQ_INT(h.c[0].signature[0], 0x5a);
	CHECK_EQ_INT(h.c[0].signature[63], h.c[0].record_len);
	CHECK_MEM(h.c[0].account_id, id, STORE_ID_BYTES);
	CHECK_EQ_INT(h.c[1].seq, 2);
	CHECK_EQ_INT(h.c[1].kind, WITHDRAW);
	CHECK(strcmp(h.c[1].unit, "jobcenter") == 0);
	CHECK(strcmp(h.c[1].text_version, "2026-10") == 0);
	CHECK_EQ_INT(h.c[1].received_at_ms, 600);
	CHECK_EQ_INT(h.c[2].seq, 3);
	CHECK(strcmp(h.c[2].tenant, "esbjerg") == 0);
	CHECK_EQ_INT(h.c[2].record_len, sizeof rec);
	CHECK_MEM(h.record[2], rec, sizeof rec);

	t_id(id, 'A', 2);
	memset(&h, 0, sizeof h);
	CHECK_EQ_INT(store_consent_iter(e.s, id, hist_cb, &h), 1);
	t_id(id, 'A', 3);
	CHECK_EQ_INT(store_consent_iter(e.s, id, hist_cb, &h), 0);
	t_teardown(&e);
}

struct row {
	char unit[STORE_UNIT_ID_MAX + 1];
	char tv[STORE_CONSENT_TEXT_VERSION_MAX + 1];
	uint64_t grants, withdrawals, active;
};
struct report {
	int n;
	struct row rows[16];
};

static int report_cb(const struct store_consent_count *row, void *data)
{
	struct report *r = data;
	if (r->n < 16) {
		strcpy(r->rows[r->n].unit, row->unit);
		strcpy(r->rows[r->n].tv, row->text_version);
		r->rows[r->n].grants = row->grants;
		r->rows[r->n].withdrawals = row->withdrawals;
		r->rows[r->n].active = row->active;
	}
	r->n++;
	return 0;
}

static const struct row *find_row(const struct report *r, const char *unit, const char *tv)
{
	for (int i = 0; i < r->n && i < 16; i++)
		if (strcmp(r->rows[i].unit, unit) == 0 && strcmp(r->rows[i].tv, tv) == 0)
			return &r->rows[i];
	return NULL;
}

#define CHECK_ROW(rep, unit, tv, g, w, a)                                 \
	do {                                                             \
		const struct row *row__ = find_row((rep), (unit), (tv)); \
		CHECK(row__ != NULL);                                    \
		if (row__) {                                             \
			CHECK_EQ_INT(row__->grants, (g));                \
			CHECK_EQ_INT(row__->withdrawals, (w));           \
			CHECK_EQ_INT(row__->active, (a));                \
		}                                                        \
	} while (0)

static void test_tenant_report(void)
{
	struct t_env e;
	struct report rep;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	for (unsigned i = 1; i <= 5; i++)
		REQUIRE_OK(put_account(&e, i, STORE_ACCOUNT_CITIZEN));
	/* 1: grant v1, then grant v2 (re-consent to the new text): active moves to v2 */
	CHECK_EQ_INT(put(&e, 1, GRANT, "varde", "", "v1", NULL), 0);
	CHECK_EQ_INT(put(&e, 1, GRANT, "varde", "", "v2", NULL), 0);
	/* 2: grant v1, withdraw naming v1: not active */
	CHECK_EQ_INT(put(&e, 2, GRANT, "varde", "", "v1", NULL), 0);
	CHECK_EQ_INT(put(&e, 2, WITHDRAW, "varde", "", "v1", NULL), 0);
	/* 3: grant v1 and stays */
	CHECK_EQ_INT(put(&e, 3, GRANT, "varde", "", "v1", NULL), 0);
	/* 4: unit-narrowed grant only */
	CHECK_EQ_INT(put(&e, 4, GRANT, "varde", "jobcenter", "v2", NULL), 0);
	/* 5: another tenant */
	CHECK_EQ_INT(put(&e, 5, GRANT, "vardex", "", "v1", NULL), 0);
	CHECK_EQ_INT(put(&e, 5, GRANT, "esbjerg", "", "v1", NULL), 0);

	memset(&rep, 0, sizeof rep);
	CHECK_EQ_INT(store_consent_report(e.s, "varde", report_cb, &rep), 3);
	CHECK_ROW(&rep, "", "v1", 3, 1, 1);
	CHECK_ROW(&rep, "", "v2", 1, 0, 1);
	CHECK_ROW(&rep, "jobcenter", "v2", 1, 0, 1);
	/* order: the whole tenant first, then units */
	CHECK(strcmp(rep.rows[0].unit, "") == 0);
	CHECK(strcmp(rep.rows[2].unit, "jobcenter") == 0);

	/* 3 withdraws naming v2: v1 loses its active citizen, v2 gains a withdrawal */
	CHECK_EQ_INT(put(&e, 3, WITHDRAW, "varde", "", "v2", NULL), 0);
	memset(&rep, 0, sizeof rep);
	CHECK_EQ_INT(store_consent_report(e.s, "varde", report_cb, &rep), 3);
	CHECK_ROW(&rep, "", "v1", 3, 1, 0);
	CHECK_ROW(&rep, "", "v2", 1, 1, 1);

	memset(&rep, 0, sizeof rep);
	CHECK_EQ_INT(store_consent_report(e.s, "vardex", report_cb, &rep), 1);
	CHECK_ROW(&rep, "", "v1", 1, 0, 1);
	memset(&rep, 0, sizeof rep);
	CHECK_EQ_INT(store_consent_report(e.s, "aarhus", report_cb, &rep), 0);
	CHECK_EQ_INT(store_consent_report(e.s, "", report_cb, &rep), STORE_EINVAL);
	t_teardown(&e);
}

static void test_builder_and_account_checks(void)
{
	struct t_env e;
	struct store_consent c;
	static uint8_t big[STORE_CONSENT_RECORD_MAX + 1];
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(put_account(&e, 1, STORE_ACCOUNT_CITIZEN));
	REQUIRE_OK(put_account(&e, 2, STORE_ACCOUNT_CASEWORKER));
	struct t_res res = {0};
	struct store_req *req = store_req_new(e.s, t_cb, &res);

	make(&c, 1, GRANT, "varde", "", "v1", big, sizeof big);
	CHECK_EQ_INT(store_req_put_consent(req, &c), STORE_ELIMIT);
	make(&c, 1, GRANT, "varde", "", "v1", big, STORE_CONSENT_RECORD_MAX);
	CHECK_EQ_INT(store_req_put_consent(req, &c), 0); /* the largest record fits */
	make(&c, 1, GRANT, "varde", "", "v1", big, 0);
	CHECK_EQ_INT(store_req_put_consent(req, &c), STORE_EINVAL);
	make(&c, 1, 3, "varde", "", "v1", big, 10);
	CHECK_EQ_INT(store_req_put_consent(req, &c), STORE_EINVAL);
	make(&c, 1, GRANT, "", "", "v1", big, 10);
	CHECK_EQ_INT(store_req_put_consent(req, &c), STORE_EINVAL);
	make(&c, 1, GRANT, "varde", "", "", big, 10);
	CHECK_EQ_INT(store_req_put_consent(req, &c), STORE_EINVAL);
	make(&c, 1, GRANT, "varde", "", "v1", big, 10);
	memset(c.text_version, 'v', sizeof c.text_version); /* no terminator within 32 bytes */
	CHECK_EQ_INT(store_req_put_consent(req, &c), STORE_EINVAL);
	make(&c, 1, GRANT, "varde", "", "v1", NULL, 10);
	CHECK_EQ_INT(store_req_put_consent(req, &c), STORE_EINVAL);
	CHECK_EQ_INT(store_req_put_consent(req, NULL), STORE_EINVAL);
	CHECK_EQ_INT(t_run(&e, req, &res), 0);

	/* a caseworker gives no consent; a missing account neither */
	CHECK_EQ_INT(put(&e, 2, GRANT, "varde", "", "v1", NULL), STORE_EINVAL);
	CHECK_EQ_INT(put(&e, 9, GRANT, "varde", "", "v1", NULL), STORE_ENOTFOUND);
	t_teardown(&e);
}

/* STORE_CONSENT_MAX_PER_ACCOUNT records, then STORE_ELIMIT; another account is unaffected, and a
 * request that would cross the limit stores none of its records. */
static void test_per_account_limit(void)
{
	struct t_env e;
	static struct t_res res[STORE_CONSENT_MAX_PER_ACCOUNT / STORE_REQ_MAX_OPS];
	const size_t n_req = STORE_CONSENT_MAX_PER_ACCOUNT / STORE_REQ_MAX_OPS;
	static const uint8_t rec[] = "record";
	struct store_consent c;
	REQUIRE_OK(t_setup(&e));
	e.cfg.map_size_max = 1024u << 20;
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(put_account(&e, 1, STORE_ACCOUNT_CITIZEN));
	REQUIRE_OK(put_account(&e, 2, STORE_ACCOUNT_CITIZEN));
	memset(res, 0, sizeof res);
	for (size_t i = 0; i < n_req; i++) {
		struct store_req *req = store_req_new(e.s, t_cb, &res[i]);
		for (int j = 0; j < STORE_REQ_MAX_OPS; j++) {
			make(&c, 1, j % 2 ? WITHDRAW : GRANT, "varde", "", "v1", rec, sizeof rec);
			CHECK_EQ_INT(store_req_put_consent(req, &c), j);
		}
		CHECK_EQ_INT(store_submit(req), 0);
	}
	t_wait_all(&e, res, n_req);
	for (size_t i = 0; i < n_req; i++)
		CHECK_EQ_INT(res[i].result, 0);

	/* a request with a record for account 2 and one past the limit for account 1 */
	struct t_res r = {0};
	struct store_req *req = store_req_new(e.s, t_cb, &r);
	make(&c, 2, GRANT, "varde", "", "v1", rec, sizeof rec);
	CHECK_EQ_INT(store_req_put_consent(req, &c), 0);
	make(&c, 1, GRANT, "varde", "", "v1", rec, sizeof rec);
	CHECK_EQ_INT(store_req_put_consent(req, &c), 1);
	CHECK_EQ_INT(t_run(&e, req, &r), STORE_ELIMIT);
	uint8_t kind;
	CHECK_EQ_INT(latest(&e, 2, "varde", "", &kind, NULL), STORE_ENOTFOUND);
	CHECK_EQ_INT(latest(&e, 1, "varde", "", &kind, NULL), 0);
	CHECK_EQ_INT(kind, WITHDRAW); /* the last stored, not the refused grant */
	CHECK_EQ_INT(put(&e, 2, GRANT, "varde", "", "v1", NULL), 0);

	struct hist h;
	memset(&h, 0, sizeof h);
	uint8_t id[STORE_ID_BYTES];
	t_id(id, 'A', 1);
	CHECK_EQ_INT(store_consent_iter(e.s, id, hist_cb, &h), STORE_CONSENT_MAX_PER_ACCOUNT);
	struct report rep;
	memset(&rep, 0, sizeof rep);
	CHECK_EQ_INT(store_consent_report(e.s, "varde", report_cb, &rep), 1);
	CHECK_ROW(&rep, "", "v1", STORE_CONSENT_MAX_PER_ACCOUNT / 2 + 1, STORE_CONSENT_MAX_PER_ACCOUNT / 2, 1);
	t_teardown(&e);
}

int main(void)
{
	RUN(test_latest_follows_grants_and_withdrawals);
	RUN(test_history_oldest_first);
	RUN(test_tenant_report);
	RUN(test_builder_and_account_checks);
	RUN(test_per_account_limit);
	return TEST_RESULT();
}
