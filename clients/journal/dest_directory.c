/* SPDX-License-Identifier: MPL-2.0 */
/* The `directory` destination: for case systems that import files, and for operators who want
 * to look. A note is complete in OUT/KEY or absent: the copy is assembled in OUT/.tmp-KEY (every
 * file fsynced), that directory fsynced, renamed to OUT/KEY and OUT fsynced. A note whose KEY
 * directory exists was accepted by an earlier run that crashed before recording it: the same
 * note, so DONE without writing it twice. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "dest.h"
#include "fsutil.h"
#include "note.h"

struct dirdest {
	jdest base;
	char out[900];
	bool by_day;
};

static int day_handover(struct dirdest *d, const char *note_dir, char *reason, size_t reason_len);

static int copy_tree(const char *from, const char *to)
{
	if (fs_mkdirs(to) != 0)
		return -1;
	DIR *d = opendir(from);
	if (!d)
		return -1;
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char a[2048], b[2048];
		snprintf(a, sizeof a, "%s/%s", from, e->d_name);
		snprintf(b, sizeof b, "%s/%s", to, e->d_name);
		if (e->d_type == DT_DIR)
			rc = copy_tree(a, b);
		else if (e->d_type == DT_REG)
			rc = fs_copy_new(a, b, NULL, NULL);
	}
	closedir(d);
	if (rc == 0)
		rc = fs_fsync_dir(to);
	return rc;
}

static int dir_handover(jdest *base, const char *note_dir, const char *key_hex, unsigned attempt,
			char *reason, size_t reason_len)
{
	(void)attempt;
	struct dirdest *d = base->self;
	if (d->by_day)
		return day_handover(d, note_dir, reason, reason_len);
	char tmp[1100], fin[1100];
	snprintf(tmp, sizeof tmp, "%s/.tmp-%s", d->out, key_hex);
	snprintf(fin, sizeof fin, "%s/%s", d->out, key_hex);
	if (fs_exists(fin))
		return JDEST_DONE;
	if (fs_rm_rf(tmp) != 0 || copy_tree(note_dir, tmp) != 0 ||
	    fs_rename_durable(tmp, fin) != 0) {
		fs_rm_rf(tmp);
		snprintf(reason, reason_len, "the journal directory could not be written");
		return JDEST_RETRY;
	}
	return JDEST_DONE;
}

/* The local date of an ISO time ("2026-12-03T23:30:00.000Z" -> "2026-12-04" in Copenhagen). */
static int local_date(const char *iso, char out[11])
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	if (!strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm))
		return -1;
	time_t t = timegm(&tm);
	struct tm lt;
	localtime_r(&t, &lt);
	return strftime(out, 11, "%Y-%m-%d", &lt) == 10 ? 0 : -1;
}

static void day_key(const char *tenant, const char *thread, const char *date, char hex[65])
{
	uint8_t k[32];
	crypto_hash_sha256_state h;
	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, (const uint8_t *)"wakks.journal.v1.day", 21);
	crypto_hash_sha256_update(&h, (const uint8_t *)tenant, strlen(tenant) + 1);
	crypto_hash_sha256_update(&h, (const uint8_t *)thread, strlen(thread) + 1);
	crypto_hash_sha256_update(&h, (const uint8_t *)date, strlen(date));
	crypto_hash_sha256_final(&h, k);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", k[i]);
}

static int by_stored_at(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	return strcmp(json_string_value(json_object_get(x, "stored_at")),
		      json_string_value(json_object_get(y, "stored_at")));
}

/* One note per conversation and day: the day's note in OUT/DAYKEY gains this message (unless it
 * holds it already: the same message handed over again), is assembled whole in .tmp-DAYKEY and
 * exchanged with the old one in one step (renameat2 RENAME_EXCHANGE), so a reader or a crash
 * sees the old revision or the new one, never a mix. */
static int day_handover(struct dirdest *d, const char *note_dir, char *reason, size_t reason_len)
{
	char path[1300];
	snprintf(path, sizeof path, "%s/note.json", note_dir);
	json_t *msg = json_load_file(path, 0, NULL);
	if (!msg) {
		snprintf(reason, reason_len, "the spooled note is unreadable");
		return JDEST_REJECTED;
	}
	const char *tenant = json_string_value(json_object_get(msg, "tenant"));
	const char *thread = json_string_value(json_object_get(msg, "thread"));
	const char *stored = json_string_value(json_object_get(msg, "stored_at"));
	const char *mid = json_string_value(json_object_get(msg, "message_id"));
	char date[11], key[65], tmp[1100], fin[1100];
	if (!tenant || !thread || !stored || !mid || local_date(stored, date) != 0) {
		json_decref(msg);
		snprintf(reason, reason_len, "the spooled note lacks its thread or time");
		return JDEST_REJECTED;
	}
	day_key(tenant, thread, date, key);
	snprintf(tmp, sizeof tmp, "%s/.tmp-%s", d->out, key);
	snprintf(fin, sizeof fin, "%s/%s", d->out, key);
	json_t *day = NULL;
	if (fs_exists(fin)) {
		snprintf(path, sizeof path, "%s/note.json", fin);
		day = json_load_file(path, 0, NULL);
	}
	int res = JDEST_RETRY;
	json_t *msgs = day ? json_object_get(day, "messages") : NULL;
	size_t i;
	json_t *m;
	json_array_foreach(msgs, i, m)
	{
		const char *id = json_string_value(json_object_get(m, "message_id"));
		if (id && strcmp(id, mid) == 0) {
			res = JDEST_DONE;
			goto out;
		}
	}
	if (fs_rm_rf(tmp) != 0 || (day ? copy_tree(fin, tmp) : fs_mkdirs(tmp)) != 0)
		goto fail;
	if (!day) {
		day = json_pack("{s:s, s:s, s:s, s:O, s:s, s:O, s:s, s:[]}", "schema",
				"wakks.journal.day-note/1", "key", key, "tenant", tenant, "unit",
				json_object_get(msg, "unit"), "thread", thread, "citizen",
				json_object_get(msg, "citizen"), "date", date, "messages");
		if (!day)
			goto fail;
		msgs = json_object_get(day, "messages");
	}
	/* A caseworker's message may be the first of the day; the citizen is then filled in by a
	 * later message that names them. */
	if (!json_string_value(json_object_get(json_object_get(day, "citizen"), "account")))
		json_object_set(day, "citizen", json_object_get(msg, "citizen"));
	json_t *entry = json_deep_copy(msg);
	json_object_del(entry, "schema");
	json_object_del(entry, "rendering");
	json_object_set(entry, "message_key", json_object_get(entry, "key"));
	json_object_del(entry, "key");
	json_t *doc;
	json_array_foreach(json_object_get(entry, "documents"), i, doc)
	{
		const char *rel = json_string_value(json_object_get(doc, "path"));
		if (!rel)
			continue;
		/* documents/ of the day note: prefixed by the message id, so names never clash */
		char src[1300], dst[1600], nrel[400];
		snprintf(src, sizeof src, "%s/%s", note_dir, rel);
		snprintf(nrel, sizeof nrel, "documents/%.16s-%s", mid, strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel);
		snprintf(dst, sizeof dst, "%s/documents", tmp);
		if (fs_mkdirs(dst) != 0)
			goto fail_entry;
		snprintf(dst, sizeof dst, "%s/%s", tmp, nrel);
		unlink(dst);
		if (fs_copy_new(src, dst, NULL, NULL) != 0)
			goto fail_entry;
		json_object_set_new(doc, "path", json_string(nrel));
	}
	json_array_append_new(msgs, entry);
	entry = NULL;
	/* Messages in the order the relay stored them, whatever order they were handed over in. */
	size_t n = json_array_size(msgs);
	json_t **v = calloc(n ? n : 1, sizeof *v);
	if (!v)
		goto fail;
	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(msgs, i));
	qsort(v, n, sizeof *v, by_stored_at);
	json_array_clear(msgs);
	for (i = 0; i < n; i++)
		json_array_append_new(msgs, v[i]);
	free(v);
	char dp[1200];
	snprintf(dp, sizeof dp, "%s/documents", tmp);
	if (fs_exists(dp) && fs_fsync_dir(dp) != 0)
		goto fail;
	snprintf(path, sizeof path, "%s/note.json", tmp);
	unlink(path);
	char *text = json_dumps(day, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	int wrc = text ? fs_write_new(path, text, strlen(text)) : -1;
	free(text);
	snprintf(path, sizeof path, "%s/note.pdf", tmp);
	unlink(path);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (wrc != 0 || jnote_render_day_pdf(day, path, (uint64_t)ts.tv_sec * 1000) != 0 ||
	    fs_fsync_dir(tmp) != 0)
		goto fail;
	if (fs_exists(fin)) {
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, fin, RENAME_EXCHANGE) != 0 ||
		    fs_fsync_dir(d->out) != 0)
			goto fail;
		fs_rm_rf(tmp); /* the previous revision */
	} else if (fs_rename_durable(tmp, fin) != 0) {
		goto fail;
	}
	res = JDEST_DONE;
	goto out;
fail_entry:
	json_decref(entry);
fail:
	fs_rm_rf(tmp);
	snprintf(reason, reason_len, "the journal directory could not be written");
	res = JDEST_RETRY;
out:
	json_decref(day);
	json_decref(msg);
	return res;
}

static void dir_close(jdest *base)
{
	free(base->self);
}

jdest *jdest_directory_new(const char *out_dir, bool by_day, char *err, size_t err_len)
{
	if (fs_mkdirs(out_dir) != 0) {
		snprintf(err, err_len, "journal directory %s cannot be created", out_dir);
		return NULL;
	}
	struct dirdest *d = calloc(1, sizeof *d);
	if (!d) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	snprintf(d->out, sizeof d->out, "%s", out_dir);
	d->by_day = by_day;
	d->base = (jdest){ .name = "directory", .self = d, .handover = dir_handover,
			   .close = dir_close };
	return &d->base;
}
