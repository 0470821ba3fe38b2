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

#include "dest.h"
#include "fsutil.h"

struct dirdest {
	jdest base;
	char out[900];
};

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

static void dir_close(jdest *base)
{
	free(base->self);
}

jdest *jdest_directory_new(const char *out_dir, char *err, size_t err_len)
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
	d->base = (jdest){ .name = "directory", .self = d, .handover = dir_handover,
			   .close = dir_close };
	return &d->base;
}
