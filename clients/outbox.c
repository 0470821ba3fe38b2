/* SPDX-License-Identifier: MPL-2.0 */
/* The outbox: the messages queued as pending and not yet stored by the relay (spec/client.md §5),
 * listed in the order they go out, and dropped on request so that a person who gave up on a
 * message (or sent it again) does not have it go out later as a duplicate. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wakks_internal.h"

struct seqs {
	uint64_t *v;
	size_t n, cap;
};

static int collect_seq(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen, void *arg)
{
	(void)key;
	(void)klen;
	struct seqs *s = arg;
	if (vlen != 8)
		return WAKKS_E_CORRUPT;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		uint64_t *v = realloc(s->v, cap * sizeof *v);
		if (!v)
			return WAKKS_E_NOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = wakks_load_be64(val);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int wakks_outbox(wakks_client *c, int (*fn)(const wakks_message *m, void *arg), void *arg)
{
	if (!c || !fn)
		return WAKKS_E_INVAL;
	wakks__txn *t;
	int rc = wakks__txn_begin(c->store, false, &t);
	if (rc != 0)
		return rc;
	struct seqs s = { 0 };
	rc = wakks__store_each(t, WT_PENDING, collect_seq, &s);
	if (rc == 0 && s.n)
		qsort(s.v, s.n, sizeof *s.v, cmp_u64); /* history order: the order they are sent in */
	for (size_t i = 0; rc == 0 && i < s.n; i++) {
		wakks_message m;
		uint8_t *raw = NULL;
		size_t rl = 0;
		rc = wakks__msg_get(t, s.v[i], &m, NULL, &raw, &rl);
		if (rc != 0)
			break;
		rc = wakks__msg_hidden(&m) ? 0 : wakks__msg_present(t, &m, fn, arg);
		wakks__store_free(raw, rl);
		if (rc == 1) { /* fn asked to stop */
			rc = 0;
			break;
		}
	}
	free(s.v);
	wakks__txn_abort(t);
	return rc;
}

int wakks_outbox_drop(wakks_client *c, const uint8_t message_id[WAKKS_ID_BYTES])
{
	if (!c || !message_id)
		return WAKKS_E_INVAL;
	wakks__txn *t;
	int rc = wakks__txn_begin(c->store, true, &t);
	if (rc != 0)
		return rc;
	uint8_t *v = NULL, *raw = NULL, *pv = NULL;
	size_t vl = 0, rl = 0, pl = 0;
	uint64_t seq = 0;
	wakks_message m;
	struct wakks__att a;
	bool has_att = false;
	rc = wakks__store_get(t, WT_MID, message_id, 16, &v, &vl);
	if (rc == 0 && vl != 8)
		rc = WAKKS_E_CORRUPT;
	if (rc == 0) {
		seq = wakks_load_be64(v);
		rc = wakks__msg_get(t, seq, &m, NULL, &raw, &rl);
	}
	/* Only our own messages still waiting for `stored` are in the outbox. */
	if (rc == 0 && !m.outgoing)
		rc = WAKKS_E_NOT_FOUND;
	if (rc == 0)
		rc = wakks__store_get(t, WT_PENDING, m.cmid, 16, &pv, &pl);
	/* The head of the queue may be on its way to the relay right now: it cannot be called back. */
	if (rc == 0 && c->send.active && memcmp(c->send.cmid, m.cmid, 16) == 0)
		rc = WAKKS_E_STATE;
	if (rc == 0)
		rc = wakks__msg_put(t, &m, true);
	if (rc == 0)
		rc = wakks__store_del(t, WT_PENDING, m.cmid, 16);
	if (rc == 0) {
		int arc = wakks__att_get(t, seq, &a);
		has_att = arc == 0;
		if (has_att) {
			a.state = WAKKS_ATT_FAILED;
			rc = wakks__att_put(t, seq, &a);
		} else if (arc != WAKKS_E_NOT_FOUND) {
			rc = arc;
		}
	}
	uint8_t cmid[16];
	if (rc == 0)
		memcpy(cmid, m.cmid, 16);
	if (rc == 0)
		rc = wakks__txn_commit(t);
	else
		wakks__txn_abort(t);
	if (rc == 0 && has_att) {
		char path[WAKKS__PATH_MAX];
		wakks__outbox_path(c, a.blob, path, sizeof path);
		unlink(path);
	}
	if (has_att)
		wakks__att_wipe(&a);
	wakks__store_free(v, vl);
	wakks__store_free(raw, rl);
	wakks__store_free(pv, pl);
	/* Whoever waits on the send that queued it learns it will not be stored. */
	for (size_t i = 0; rc == 0 && i < 64; i++)
		if (c->send_ops[i].op && memcmp(c->send_ops[i].cmid, cmid, 16) == 0) {
			uint32_t op = c->send_ops[i].op;
			c->send_ops[i].op = 0;
			wakks__op_finish(c, op, WAKKS_E_NOT_FOUND);
		}
	return rc;
}
