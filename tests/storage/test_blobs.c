/* SPDX-License-Identifier: MPL-2.0 */
/* Attachment blob records: declare (resume, id clash, quota), progress and completion, references
 * stored with a send (not twice for a resend), release by acks down to removal, expiry of
 * unreferenced uploads, refused uploads, and shared content-addressed files. */
#include "test.h"
#include "storage_test.h"

struct b_res {
	int done, result;
	bool created;
	struct store_blob blob;
	bool has_blob;
	size_t n_removed;
	struct store_blob_removed removed[16];
	bool more;
	bool duplicate;
	struct store_erase_result erased;
};

static void b_cb(struct store_req *req, int result, void *data)
{
	struct b_res *r = data;
	r->done = 1;
	r->result = result;
	for (int i = 0; i < 8; i++) {
		bool created = false;
		const struct store_blob *b = store_req_blob_result(req, i, &created);
		if (b) {
			r->blob = *b;
			r->has_blob = true;
			r->created = created;
		}
		const struct store_blob_removal *rm = store_req_blob_removed(req, i);
		if (rm) {
			for (size_t j = 0; j < rm->n && r->n_removed < 16; j++)
				r->removed[r->n_removed++] = rm->items[j];
			r->more = rm->more;
		}
		const struct store_send_result *sr = store_req_send_result(req, i);
		if (sr)
			r->duplicate = sr->duplicate;
		const struct store_erase_result *er = store_req_erase_result(req, i);
		if (er)
			r->erased = *er;
	}
}

static int b_run(struct t_env *e, struct store_req *req, struct b_res *res)
{
	int rc = store_submit(req);
	if (rc)
		return rc;
	while (!res->done)
		uv_run(&e->loop, UV_RUN_ONCE);
	return res->result;
}

static void make_blob(struct store_blob *b, unsigned n, unsigned account, unsigned device,
		      uint64_t size, uint8_t sha_byte, uint64_t expires)
{
	memset(b, 0, sizeof *b);
	t_id(b->id, 'B', n);
	t_id(b->owner_account, 'A', account);
	t_id(b->owner_device, 'D', device);
	b->size = size;
	memset(b->sha256, sha_byte, sizeof b->sha256);
	b->expires_at_ms = expires;
}

static int declare(struct t_env *e, const struct store_blob *b, uint64_t quota, struct b_res *res)
{
	memset(res, 0, sizeof *res);
	struct store_req *req = store_req_new(e->s, b_cb, res);
	if (store_req_blob_declare(req, b, quota) < 0) {
		store_req_free(req);
		return -100;
	}
	return b_run(e, req, res);
}

static int progress(struct t_env *e, unsigned n, uint64_t from, uint64_t have, struct b_res *res)
{
	uint8_t id[16];
	t_id(id, 'B', n);
	memset(res, 0, sizeof *res);
	struct store_req *req = store_req_new(e->s, b_cb, res);
	if (store_req_blob_progress(req, id, from, have, 5000) < 0) {
		store_req_free(req);
		return -100;
	}
	return b_run(e, req, res);
}

static int complete(struct t_env *e, unsigned n, struct b_res *res)
{
	uint8_t id[16];
	t_id(id, 'B', n);
	memset(res, 0, sizeof *res);
	struct store_req *req = store_req_new(e->s, b_cb, res);
	if (store_req_blob_complete(req, id, 6000) < 0) {
		store_req_free(req);
		return -100;
	}
	return b_run(e, req, res);
}

/* A send from device 10 (account 2) with message msg to devices 1 and 2, referencing blob n. */
static int send_with_blob(struct t_env *e, unsigned msg, unsigned n, uint64_t expires, struct b_res *res)
{
	struct store_recipient r[2];
	uint8_t devs[2][16], blob[1][16];
	memset(r, 0, sizeof r);
	for (int i = 0; i < 2; i++) {
		t_id(r[i].device_id, 'D', (unsigned)i + 1);
		memcpy(devs[i], r[i].device_id, 16);
		r[i].payload = (const uint8_t *)"x";
		r[i].payload_len = 1;
		r[i].expires_at_ms = expires;
	}
	t_id(blob[0], 'B', n);
	struct store_send s = { .kind = STORE_KIND_ENVELOPE, .recipients = r, .n_recipients = 2 };
	t_id(s.sender_account, 'A', 2);
	t_id(s.sender_device, 'D', 10);
	t_id(s.message_id, 'M', msg);
	memset(res, 0, sizeof *res);
	struct store_req *req = store_req_new(e->s, b_cb, res);
	int op = store_req_store_envelopes(req, &s);
	if (op < 0 || store_req_blob_ref(req, (const uint8_t(*)[16])blob, 1,
					 (const uint8_t(*)[16])devs, 2, expires, op) < 0) {
		store_req_free(req);
		return -100;
	}
	return b_run(e, req, res);
}

/* Device dev acknowledges seq, releasing blob n. */
static int ack_with_blob(struct t_env *e, unsigned dev, uint64_t seq, unsigned n, struct b_res *res)
{
	uint8_t d[16], blob[1][16];
	t_id(d, 'D', dev);
	t_id(blob[0], 'B', n);
	memset(res, 0, sizeof *res);
	struct store_req *req = store_req_new(e->s, b_cb, res);
	int op = store_req_delete_envelope(req, d, seq);
	if (op < 0 || store_req_blob_release(req, (const uint8_t(*)[16])blob, 1, d, op) < 0) {
		store_req_free(req);
		return -100;
	}
	return b_run(e, req, res);
}

static int setup(struct t_env *e)
{
	if (t_setup(e) || t_open(e))
		return -1;
	if (t_put_account(e, 1, STORE_ACCOUNT_CASEWORKER) || t_put_account(e, 2, STORE_ACCOUNT_CITIZEN))
		return -1;
	if (t_put_device(e, 1, 1) || t_put_device(e, 1, 2))
		return -1;
	return t_put_device(e, 2, 10);
}

static void test_declare_resume_clash_quota(void)
{
	struct t_env e;
	struct b_res res;
	struct store_blob b, other;
	uint64_t used = 99;
	REQUIRE_OK(setup(&e));
	make_blob(&b, 1, 2, 10, 1000, 0xab, 4000);
	REQUIRE_OK(declare(&e, &b, 1500, &res));
	CHECK(res.created);
	CHECK_EQ_INT(res.blob.state, STORE_BLOB_UPLOADING);
	CHECK_EQ_INT((int)res.blob.have, 0);
	REQUIRE_OK(store_get_blob_usage(e.s, b.owner_account, &used, NULL));
	CHECK_EQ_INT((int)used, 1000);
	/* Declaring again resumes: same record, nothing added to the usage. */
	REQUIRE_OK(progress(&e, 1, 0, 300, &res));
	REQUIRE_OK(declare(&e, &b, 1500, &res));
	CHECK(!res.created);
	CHECK_EQ_INT((int)res.blob.have, 300);
	REQUIRE_OK(store_get_blob_usage(e.s, b.owner_account, &used, NULL));
	CHECK_EQ_INT((int)used, 1000);
	/* Another size under the same id, or another device: the id is taken. */
	other = b;
	other.size = 999;
	CHECK_EQ_INT(declare(&e, &other, 0, &res), STORE_EEXIST);
	/* Over the quota: nothing stored. */
	make_blob(&other, 2, 2, 10, 501, 0xcd, 4000);
	CHECK_EQ_INT(declare(&e, &other, 1500, &res), STORE_EQUOTA);
	CHECK_EQ_INT(store_get_blob(e.s, other.id, &b), STORE_ENOTFOUND);
	other.size = 500;
	REQUIRE_OK(declare(&e, &other, 1500, &res));
	t_teardown(&e);
}

static void test_progress_complete_reference_release(void)
{
	struct t_env e;
	struct b_res res;
	struct store_blob b;
	uint32_t count = 0;
	uint64_t used = 1, until = 0;
	REQUIRE_OK(setup(&e));
	make_blob(&b, 1, 2, 10, 100, 0x11, 4000);
	REQUIRE_OK(declare(&e, &b, 0, &res));
	/* Progress only from the stored offset and never past the size. */
	CHECK_EQ_INT(progress(&e, 1, 10, 20, &res), STORE_EINVAL);
	CHECK_EQ_INT(progress(&e, 1, 0, 101, &res), STORE_EINVAL);
	CHECK_EQ_INT(complete(&e, 1, &res), STORE_EINVAL); /* not all bytes yet */
	/* A send cannot reference an incomplete blob. */
	CHECK_EQ_INT(send_with_blob(&e, 1, 1, 9000, &res), STORE_ENOTFOUND);
	REQUIRE_OK(progress(&e, 1, 0, 60, &res));
	REQUIRE_OK(progress(&e, 1, 60, 100, &res));
	CHECK_EQ_INT((int)res.blob.expires_at_ms, 5000);
	REQUIRE_OK(complete(&e, 1, &res));
	CHECK_EQ_INT(res.blob.state, STORE_BLOB_COMPLETE);
	CHECK_EQ_INT((int)res.blob.expires_at_ms, 6000);

	REQUIRE_OK(send_with_blob(&e, 1, 1, 9000, &res));
	REQUIRE_OK(store_get_blob(e.s, b.id, &b));
	CHECK_EQ_INT((int)b.refs, 2);
	CHECK_EQ_INT((int)b.expires_at_ms, 9000);
	uint8_t d1[16], d3[16];
	t_id(d1, 'D', 1);
	t_id(d3, 'D', 3);
	REQUIRE_OK(store_get_blob_grant(e.s, b.id, d1, &count, &until));
	CHECK_EQ_INT((int)until, 9000);
	CHECK_EQ_INT((int)count, 1);
	CHECK_EQ_INT(store_get_blob_grant(e.s, b.id, d3, &count, NULL), STORE_ENOTFOUND);
	/* A resend of the same message references nothing more. */
	REQUIRE_OK(send_with_blob(&e, 1, 1, 9000, &res));
	CHECK(res.duplicate);
	REQUIRE_OK(store_get_blob(e.s, b.id, &b));
	CHECK_EQ_INT((int)b.refs, 2);

	/* An ack of an absent envelope releases nothing; device 1's ack ends its grant only. */
	REQUIRE_OK(ack_with_blob(&e, 1, 77, 1, &res));
	REQUIRE_OK(store_get_blob(e.s, b.id, &b));
	CHECK_EQ_INT((int)b.refs, 2);
	REQUIRE_OK(ack_with_blob(&e, 1, 1, 1, &res));
	CHECK_EQ_INT((int)res.n_removed, 0);
	CHECK_EQ_INT(store_get_blob_grant(e.s, b.id, d1, &count, NULL), STORE_ENOTFOUND);
	REQUIRE_OK(store_get_blob(e.s, b.id, &b));
	CHECK_EQ_INT((int)b.refs, 1);
	/* The last reference acknowledged: the blob goes, and its file is unused. */
	REQUIRE_OK(ack_with_blob(&e, 2, 1, 1, &res));
	CHECK_EQ_INT((int)res.n_removed, 1);
	CHECK(res.removed[0].file_unused);
	CHECK_EQ_INT(res.removed[0].state, STORE_BLOB_COMPLETE);
	CHECK_EQ_INT(res.removed[0].sha256[0], 0x11);
	CHECK_EQ_INT(store_get_blob(e.s, b.id, &b), STORE_ENOTFOUND);
	REQUIRE_OK(store_get_blob_usage(e.s, b.owner_account, &used, NULL));
	CHECK_EQ_INT((int)used, 0);
	t_teardown(&e);
}

static void test_expiry_and_delete(void)
{
	struct t_env e;
	struct b_res res;
	struct store_blob a, b, c;
	uint64_t used = 1;
	uint32_t count = 1;
	REQUIRE_OK(setup(&e));
	make_blob(&a, 1, 2, 10, 10, 0x21, 1000);
	make_blob(&b, 2, 2, 10, 10, 0x22, 3000);
	make_blob(&c, 3, 2, 10, 10, 0x23, 2000);
	REQUIRE_OK(declare(&e, &a, 0, &res));
	REQUIRE_OK(declare(&e, &b, 0, &res));
	REQUIRE_OK(declare(&e, &c, 0, &res));
	REQUIRE_OK(progress(&e, 3, 0, 10, &res));
	REQUIRE_OK(complete(&e, 3, &res)); /* expires at 6000 now */
	REQUIRE_OK(send_with_blob(&e, 1, 3, 8000, &res));

	memset(&res, 0, sizeof res);
	struct store_req *req = store_req_new(e.s, b_cb, &res);
	REQUIRE(store_req_blob_expire(req, 3000, 1) == 0);
	REQUIRE_OK(b_run(&e, req, &res));
	CHECK_EQ_INT((int)res.n_removed, 1);
	CHECK(res.more);
	CHECK_MEM(res.removed[0].id, a.id, 16);
	CHECK_EQ_INT(res.removed[0].state, STORE_BLOB_UPLOADING);
	CHECK(res.removed[0].file_unused);

	memset(&res, 0, sizeof res);
	req = store_req_new(e.s, b_cb, &res);
	REQUIRE(store_req_blob_expire(req, 8000, STORE_BLOB_EXPIRE_MAX) == 0);
	REQUIRE_OK(b_run(&e, req, &res));
	CHECK_EQ_INT((int)res.n_removed, 2); /* b, then c with its grants */
	CHECK(!res.more);
	CHECK_EQ_INT(store_get_blob_grant(e.s, c.id, (const uint8_t *)"\x44\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", &count, NULL),
		     STORE_ENOTFOUND);
	REQUIRE_OK(store_get_blob_usage(e.s, a.owner_account, &used, &count));
	CHECK_EQ_INT((int)used, 0);
	CHECK_EQ_INT((int)count, 0);

	/* A refused upload is deleted whatever its state. */
	REQUIRE_OK(declare(&e, &a, 0, &res));
	memset(&res, 0, sizeof res);
	req = store_req_new(e.s, b_cb, &res);
	REQUIRE(store_req_blob_delete(req, a.id) == 0);
	REQUIRE_OK(b_run(&e, req, &res));
	CHECK_EQ_INT((int)res.n_removed, 1);
	CHECK_EQ_INT(store_get_blob(e.s, a.id, &a), STORE_ENOTFOUND);
	t_teardown(&e);
}

/* Two complete blobs with the same ciphertext share one file: removing one keeps the file. */
static void test_shared_file_kept_until_last(void)
{
	struct t_env e;
	struct b_res res;
	struct store_blob a, b;
	REQUIRE_OK(setup(&e));
	make_blob(&a, 1, 2, 10, 10, 0x31, 1000);
	make_blob(&b, 2, 2, 10, 10, 0x31, 1000);
	REQUIRE_OK(declare(&e, &a, 0, &res));
	REQUIRE_OK(declare(&e, &b, 0, &res));
	REQUIRE_OK(progress(&e, 1, 0, 10, &res));
	REQUIRE_OK(progress(&e, 2, 0, 10, &res));
	REQUIRE_OK(complete(&e, 1, &res));
	REQUIRE_OK(complete(&e, 2, &res));
	memset(&res, 0, sizeof res);
	struct store_req *req = store_req_new(e.s, b_cb, &res);
	REQUIRE(store_req_blob_delete(req, a.id) == 0);
	REQUIRE_OK(b_run(&e, req, &res));
	CHECK(!res.removed[0].file_unused);
	memset(&res, 0, sizeof res);
	req = store_req_new(e.s, b_cb, &res);
	REQUIRE(store_req_blob_delete(req, b.id) == 0);
	REQUIRE_OK(b_run(&e, req, &res));
	CHECK(res.removed[0].file_unused);
	t_teardown(&e);
}

/* The byte quota alone would allow millions of one-byte blobs: the number per account is bounded. */
static void test_blob_count_per_account_bounded(void)
{
	struct t_env e;
	struct b_res res;
	struct store_blob b;
	uint64_t used = 0;
	uint32_t count = 0;
	REQUIRE_OK(setup(&e));
	for (unsigned i = 0; i < STORE_BLOB_MAX_PER_ACCOUNT;) {
		memset(&res, 0, sizeof res);
		struct store_req *req = store_req_new(e.s, b_cb, &res);
		for (unsigned k = 0; k < STORE_REQ_MAX_OPS && i < STORE_BLOB_MAX_PER_ACCOUNT; k++, i++) {
			make_blob(&b, 1000 + i, 2, 10, 1, 0x41, 4000);
			REQUIRE(store_req_blob_declare(req, &b, 0) >= 0);
		}
		REQUIRE_OK(b_run(&e, req, &res));
	}
	REQUIRE_OK(store_get_blob_usage(e.s, b.owner_account, &used, &count));
	CHECK_EQ_INT((int)count, STORE_BLOB_MAX_PER_ACCOUNT);
	CHECK_EQ_INT((int)used, STORE_BLOB_MAX_PER_ACCOUNT);
	make_blob(&b, 1, 2, 10, 1, 0x41, 4000);
	CHECK_EQ_INT(declare(&e, &b, 0, &res), STORE_ELIMIT);
	/* Another account is not affected. */
	make_blob(&b, 2, 1, 1, 1, 0x41, 4000);
	REQUIRE_OK(declare(&e, &b, 0, &res));
	t_teardown(&e);
}

/* GDPR erasure of an account takes the blobs it uploaded, referenced or not. */
static void test_erase_account_removes_its_blobs(void)
{
	struct t_env e;
	struct b_res res;
	struct store_blob a, b;
	uint64_t used = 1;
	uint32_t count = 1;
	REQUIRE_OK(setup(&e));
	make_blob(&a, 1, 2, 10, 10, 0x51, 4000);
	make_blob(&b, 2, 2, 10, 10, 0x52, 4000);
	REQUIRE_OK(declare(&e, &a, 0, &res));
	REQUIRE_OK(declare(&e, &b, 0, &res));
	REQUIRE_OK(progress(&e, 1, 0, 10, &res));
	REQUIRE_OK(complete(&e, 1, &res));
	REQUIRE_OK(send_with_blob(&e, 1, 1, 9000, &res));

	uint8_t account[16];
	size_t blobs_removed = 0;
	bool deleted = false;
	t_id(account, 'A', 2);
	for (int step = 0; step < 10 && !deleted; step++) {
		memset(&res, 0, sizeof res);
		struct store_req *req = store_req_new(e.s, b_cb, &res);
		REQUIRE(store_req_erase_account(req, account) == 0);
		REQUIRE_OK(b_run(&e, req, &res));
		REQUIRE(res.erased.found);
		blobs_removed += res.erased.blobs;
		deleted = res.erased.account_deleted;
	}
	CHECK(deleted);
	CHECK_EQ_INT((int)blobs_removed, 2);
	CHECK_EQ_INT(store_get_blob(e.s, a.id, &a), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_get_blob(e.s, b.id, &b), STORE_ENOTFOUND);
	uint8_t d1[16];
	t_id(d1, 'D', 1);
	CHECK_EQ_INT(store_get_blob_grant(e.s, a.id, d1, &count, NULL), STORE_ENOTFOUND);
	REQUIRE_OK(store_get_blob_usage(e.s, account, &used, &count));
	CHECK_EQ_INT((int)used, 0);
	CHECK_EQ_INT((int)count, 0);
	uint8_t sha[32];
	memset(sha, 0x51, sizeof sha);
	REQUIRE_OK(store_get_blob_file_count(e.s, sha, &count));
	CHECK_EQ_INT((int)count, 0);
	t_teardown(&e);
}

static void test_builders_validate(void)
{
	struct t_env e;
	struct store_blob b;
	uint8_t ids[17][16] = { { 0 } };
	REQUIRE_OK(setup(&e));
	struct b_res res = { 0 };
	struct store_req *req = store_req_new(e.s, b_cb, &res);
	make_blob(&b, 1, 2, 10, 0, 0, 1);
	CHECK_EQ_INT(store_req_blob_declare(req, &b, 0), STORE_EINVAL);
	CHECK_EQ_INT(store_req_blob_progress(req, b.id, 5, 4, 1), STORE_EINVAL);
	CHECK_EQ_INT(store_req_blob_ref(req, (const uint8_t(*)[16])ids, 17, (const uint8_t(*)[16])ids, 1, 1, -1),
		     STORE_ELIMIT);
	CHECK_EQ_INT(store_req_blob_expire(req, 1, STORE_BLOB_EXPIRE_MAX + 1), STORE_EINVAL);
	CHECK_EQ_INT(store_submit(req), STORE_EINVAL);
	t_teardown(&e);
}

struct walk {
	unsigned n, complete, stop_at;
	uint64_t have_sum;
};

static int walk_cb(const struct store_blob *b, void *data)
{
	struct walk *w = data;
	w->n++;
	w->complete += b->state == STORE_BLOB_COMPLETE;
	w->have_sum += b->have;
	return w->n == w->stop_at ? 7 : 0;
}

/* The backup walks every blob record of its copy, uploading and complete. */
static void test_list_blobs_walks_every_record(void)
{
	struct t_env e;
	struct b_res res;
	struct store_blob b;
	struct walk w = { 0 };
	REQUIRE_OK(setup(&e));
	REQUIRE_OK(store_list_blobs(e.s, walk_cb, &w));
	CHECK_EQ_INT(w.n, 0);
	for (unsigned i = 1; i <= 3; i++) {
		make_blob(&b, i, 2, 10, 100, (uint8_t)i, 4000);
		REQUIRE_OK(declare(&e, &b, 0, &res));
	}
	REQUIRE_OK(progress(&e, 1, 0, 100, &res));
	REQUIRE_OK(complete(&e, 1, &res));
	REQUIRE_OK(progress(&e, 2, 0, 40, &res));
	REQUIRE_OK(store_list_blobs(e.s, walk_cb, &w));
	CHECK_EQ_INT(w.n, 3);
	CHECK_EQ_INT(w.complete, 1);
	CHECK_EQ_INT((int)w.have_sum, 140);
	/* A callback's non-zero result stops the walk and is returned. */
	struct walk stop = { .stop_at = 2 };
	CHECK_EQ_INT(store_list_blobs(e.s, walk_cb, &stop), 7);
	CHECK_EQ_INT(stop.n, 2);
	CHECK_EQ_INT(store_list_blobs(e.s, NULL, NULL), STORE_EINVAL);
	t_teardown(&e);
}

int main(void)
{
	RUN(test_declare_resume_clash_quota);
	RUN(test_progress_complete_reference_release);
	RUN(test_expiry_and_delete);
	RUN(test_shared_file_kept_until_last);
	RUN(test_blob_count_per_account_bounded);
	RUN(test_erase_account_removes_its_blobs);
	RUN(test_builders_validate);
	RUN(test_list_blobs_walks_every_record);
	return TEST_RESULT();
}
