/* SPDX-License-Identifier: MPL-2.0 */
/* The audit hash chain: verification passes on an intact chain and names the first broken entry
 * after an edit, a deletion, a re-hashed edit, a truncation or a reordering. */
#include <stdlib.h>

#include "test.h"
#include "wakks_identity.h"

#define N 6

static id_audit_entry chain[N];

static void build(void)
{
	for (size_t i = 0; i < N; i++) {
		uint8_t subj[2][ID_AUDIT_SUBJECT_BYTES];
		memset(subj[0], (int)(0xa0 + i), sizeof subj[0]);
		memset(subj[1], (int)(0xd0 + i), sizeof subj[1]);
		char details[32];
		snprintf(details, sizeof details, "event %zu", i);
		int rc = id_audit_build(i ? chain[i - 1].seq : 0, i ? chain[i - 1].hash : NULL,
					1700000000000ull + i * 1000, ID_AUDIT_DEVICE_REGISTERED,
					(const uint8_t(*)[ID_AUDIT_SUBJECT_BYTES])subj, i % 3,
					(const uint8_t *)details, strlen(details), &chain[i]);
		CHECK_EQ_INT(rc, 0);
	}
}

static int verify(const id_audit_entry *e, size_t n, size_t *bad)
{
	*bad = 1000;
	return id_audit_verify_chain(e, n, 0, NULL, chain[N - 1].seq, chain[N - 1].hash, bad);
}

static void test_intact(void)
{
	size_t bad;
	CHECK_EQ_INT(verify(chain, N, &bad), 0);
	CHECK_EQ_INT(bad, 1000);
	CHECK_EQ_INT(chain[0].seq, 1);
	CHECK_EQ_INT(chain[N - 1].seq, N);
	/* A continuation verified from a checkpoint. */
	CHECK_EQ_INT(id_audit_verify_chain(chain + 3, N - 3, chain[2].seq, chain[2].hash, 0, NULL, &bad), 0);
}

static void test_edited_entry(void)
{
	id_audit_entry e[N];
	size_t bad;
	memcpy(e, chain, sizeof e);
	e[2].details[0] ^= 1;
	CHECK_EQ_INT(verify(e, N, &bad), ID_ERR_AUDIT_HASH);
	CHECK_EQ_INT(bad, 2);
	memcpy(e, chain, sizeof e);
	e[4].time_ms += 1;
	CHECK_EQ_INT(verify(e, N, &bad), ID_ERR_AUDIT_HASH);
	CHECK_EQ_INT(bad, 4);
	/* An editor who also recomputes the entry's hash breaks the next link. */
	memcpy(e, chain, sizeof e);
	uint8_t subj[1][ID_AUDIT_SUBJECT_BYTES] = { { 0 } };
	CHECK_EQ_INT(id_audit_build(e[0].seq, e[0].hash, e[1].time_ms, e[1].type,
				    (const uint8_t(*)[ID_AUDIT_SUBJECT_BYTES])subj, 1, e[1].details,
				    e[1].details_len, &e[1]), 0);
	CHECK_EQ_INT(verify(e, N, &bad), ID_ERR_AUDIT_PREV);
	CHECK_EQ_INT(bad, 2);
}

static void test_deleted_entry(void)
{
	id_audit_entry e[N];
	size_t bad;
	/* Delete entry index 2. */
	memcpy(e, chain, 2 * sizeof e[0]);
	memcpy(e + 2, chain + 3, (N - 3) * sizeof e[0]);
	CHECK_EQ_INT(verify(e, N - 1, &bad), ID_ERR_AUDIT_SEQ);
	CHECK_EQ_INT(bad, 2);
	/* The first entry deleted. */
	CHECK_EQ_INT(verify(chain + 1, N - 1, &bad), ID_ERR_AUDIT_SEQ);
	CHECK_EQ_INT(bad, 0);
	/* The last entry deleted: only the recorded head shows it. */
	CHECK_EQ_INT(verify(chain, N - 1, &bad), ID_ERR_AUDIT_HEAD);
	CHECK_EQ_INT(bad, N - 1);
	CHECK_EQ_INT(id_audit_verify_chain(chain, N - 1, 0, NULL, 0, NULL, &bad), 0);
	/* Deletion with the rest of the chain rebuilt: only the head shows it. */
	id_audit_entry r[N];
	r[0] = chain[0];
	r[1] = chain[1];
	for (size_t i = 3; i < N; i++)
		CHECK_EQ_INT(id_audit_build(r[i - 2].seq, r[i - 2].hash, chain[i].time_ms, chain[i].type,
					    (const uint8_t(*)[ID_AUDIT_SUBJECT_BYTES])chain[i].subjects,
					    chain[i].n_subjects, chain[i].details, chain[i].details_len, &r[i - 1]), 0);
	CHECK_EQ_INT(id_audit_verify_chain(r, N - 1, 0, NULL, 0, NULL, &bad), 0);
	CHECK_EQ_INT(verify(r, N - 1, &bad), ID_ERR_AUDIT_HEAD);
	/* Two entries swapped. */
	memcpy(e, chain, sizeof e);
	e[3] = chain[4];
	e[4] = chain[3];
	CHECK_EQ_INT(verify(e, N, &bad), ID_ERR_AUDIT_SEQ);
	CHECK_EQ_INT(bad, 3);
}

static void test_encoding(void)
{
	uint8_t buf[ID_AUDIT_ENCODED_MAX + ID_HASH_BYTES];
	id_audit_entry d;
	for (size_t i = 0; i < N; i++) {
		int n = id_audit_encode(&chain[i], buf, sizeof buf);
		CHECK(n > 0);
		memcpy(buf + n, chain[i].hash, ID_HASH_BYTES);
		CHECK_EQ_INT(id_audit_decode(buf, (size_t)n + ID_HASH_BYTES, &d), 0);
		CHECK_EQ_INT(d.seq, chain[i].seq);
		CHECK_EQ_INT(d.n_subjects, chain[i].n_subjects);
		CHECK_EQ_INT(d.details_len, chain[i].details_len);
		CHECK_MEM(d.hash, chain[i].hash, ID_HASH_BYTES);
		CHECK_MEM(d.prev_hash, chain[i].prev_hash, ID_HASH_BYTES);
		/* Truncated, extended, or with a wrong domain string. */
		CHECK_EQ_INT(id_audit_decode(buf, (size_t)n + ID_HASH_BYTES - 1, &d), ID_ERR_AUDIT_ENCODING);
		CHECK_EQ_INT(id_audit_decode(buf, (size_t)n + ID_HASH_BYTES + 1, &d), ID_ERR_AUDIT_ENCODING);
		buf[0] ^= 1;
		CHECK_EQ_INT(id_audit_decode(buf, (size_t)n + ID_HASH_BYTES, &d), ID_ERR_AUDIT_ENCODING);
	}
	CHECK_EQ_INT(id_audit_decode(buf, 3, &d), ID_ERR_AUDIT_ENCODING);
	/* Bounds on building. */
	uint8_t subj[5][ID_AUDIT_SUBJECT_BYTES] = { { 0 } };
	uint8_t big[ID_AUDIT_DETAILS_MAX + 1] = { 0 };
	CHECK_EQ_INT(id_audit_build(0, NULL, 1, 1, (const uint8_t(*)[ID_AUDIT_SUBJECT_BYTES])subj, 5, NULL, 0, &d), ID_ERR_INVALID_ARG);
	CHECK_EQ_INT(id_audit_build(0, NULL, 1, 1, NULL, 0, big, sizeof big, &d), ID_ERR_INVALID_ARG);
	CHECK_EQ_INT(id_audit_build(3, NULL, 1, 1, NULL, 0, NULL, 0, &d), ID_ERR_INVALID_ARG);
}

static void test_json_export(void)
{
	id_audit_entry back[N];
	size_t bad;
	for (size_t i = 0; i < N; i++) {
		char *line = id_audit_to_json(&chain[i]);
		REQUIRE(line != NULL);
		CHECK(strchr(line, '\n') == NULL);
		CHECK_EQ_INT(id_audit_from_json(line, strlen(line), &back[i]), 0);
		free(line);
	}
	/* The exported log verifies as the original does. */
	CHECK_EQ_INT(verify(back, N, &bad), 0);
	CHECK_MEM(back[3].details, chain[3].details, chain[3].details_len);
	/* An edited export line is caught. */
	char *line = id_audit_to_json(&chain[2]);
	REQUIRE(line != NULL);
	char *t = strstr(line, "\"time_ms\":") + 10;
	*t = *t == '1' ? '2' : '1';
	CHECK_EQ_INT(id_audit_from_json(line, strlen(line), &back[2]), 0);
	CHECK_EQ_INT(verify(back, N, &bad), ID_ERR_AUDIT_HASH);
	CHECK_EQ_INT(bad, 2);
	free(line);
	id_audit_entry x;
	const char *junk[] = { "", "[]", "{\"seq\":1}", "{\"seq\":-1,\"time_ms\":1,\"type\":1,\"subjects\":[],\"details\":\"\",\"prev_hash\":\"00\",\"hash\":\"00\"}",
			       "{\"seq\":1,\"time_ms\":1,\"type\":70000,\"subjects\":[],\"details\":\"\",\"prev_hash\":\"00\",\"hash\":\"00\"}" };
	for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
		CHECK_EQ_INT(id_audit_from_json(junk[i], strlen(junk[i]), &x), ID_ERR_AUDIT_ENCODING);
}

int main(void)
{
	build();
	RUN(test_intact);
	RUN(test_edited_entry);
	RUN(test_deleted_entry);
	RUN(test_encoding);
	RUN(test_json_export);
	return TEST_RESULT();
}
