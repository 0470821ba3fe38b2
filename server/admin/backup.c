/* SPDX-License-Identifier: MPL-2.0 */
#include "admin/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "admin/offline_store.h"
#include "core/clock.h"
#include "wakks_storage.h"
#include "wakks_version.h"

#define MANIFEST_FORMAT "wakks-backup 1"
#define MANIFEST_NAME "manifest"
#define KEY_NAME "account-id.key"
#define DB_NAME "db/data.mdb"
/* A blob file can vanish between the database copy and the file copy (its last envelope was
 * acknowledged meanwhile); the backup then starts over, which a few attempts always settle. */
#define BACKUP_ATTEMPTS 8
#define BK_PATH_MAX (RELAY_CONFIG_PATH_MAX + 128)
#define REL_MAX 96 /* "blobs/" + 64 hex digits is the longest name a backup holds */

struct entry {
	char rel[REL_MAX];
	uint64_t size;
	uint8_t sha[crypto_hash_sha256_BYTES];
};

struct manifest {
	char version[64];
	uint64_t created_ms;
	struct entry *v;
	size_t n, cap;
};

static void manifest_free(struct manifest *m)
{
	free(m->v);
	memset(m, 0, sizeof *m);
}

static struct entry *manifest_add(struct manifest *m, const char *rel)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct entry *v = realloc(m->v, cap * sizeof *v);
		if (!v)
			return NULL;
		m->v = v;
		m->cap = cap;
	}
	struct entry *e = &m->v[m->n++];
	memset(e, 0, sizeof *e);
	snprintf(e->rel, sizeof e->rel, "%s", rel);
	return e;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->rel, ((const struct entry *)b)->rel);
}

static bool manifest_has(const struct manifest *m, const char *rel)
{
	struct entry key;
	snprintf(key.rel, sizeof key.rel, "%s", rel);
	return m->n && bsearch(&key, m->v, m->n, sizeof *m->v, entry_cmp) != NULL;
}

/* ---- files ------------------------------------------------------------------------------------ */

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads src (its first `limit` bytes; UINT64_MAX: all of it) into *e's size and checksum and, when
 * dst is not NULL, into a new private file dst, synced. Returns 0, -ENOENT when src is missing or
 * shorter than limit, or another -errno. */
static int copy_file(const char *src, const char *dst, uint64_t limit, struct entry *e)
{
	static uint8_t buf[1 << 16];
	crypto_hash_sha256_state st;
	int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out = -1, rc = 0;
	if (in < 0)
		return -errno;
	if (dst && (out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		rc = -errno;
		close(in);
		return rc;
	}
	crypto_hash_sha256_init(&st);
	uint64_t total = 0;
	while (total < limit) {
		size_t want = limit - total < sizeof buf ? (size_t)(limit - total) : sizeof buf;
		ssize_t r = read(in, buf, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			break;
		}
		if (r == 0) {
			if (limit != UINT64_MAX)
				rc = -ENOENT; /* shorter than the database says: changed under us */
			break;
		}
		crypto_hash_sha256_update(&st, buf, (size_t)r);
		if (out >= 0 && write_all(out, buf, (size_t)r) != 0) {
			rc = -(errno ? errno : EIO);
			break;
		}
		total += (uint64_t)r;
	}
	if (rc == 0 && out >= 0 && fsync(out) != 0)
		rc = -errno;
	if (out >= 0 && close(out) != 0 && rc == 0)
		rc = -errno;
	close(in);
	if (rc == 0) {
		e->size = total;
		crypto_hash_sha256_final(&st, e->sha);
	}
	return rc;
}

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) == 0 ? 0 : -errno;
	close(fd);
	return rc;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_tree(const char *dir)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The directories a data directory (and so a backup) has, private. */
static int make_dirs(const char *root)
{
	static const char *const sub[] = { "db", "blobs", "blobs/tmp" };
	char path[BK_PATH_MAX];
	for (size_t i = 0; i < sizeof sub / sizeof *sub; i++) {
		snprintf(path, sizeof path, "%s/%s", root, sub[i]);
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return -errno;
	}
	return 0;
}

static int sync_dirs(const char *root)
{
	static const char *const sub[] = { "db", "blobs", "blobs/tmp", "." };
	char path[BK_PATH_MAX];
	for (size_t i = 0; i < sizeof sub / sizeof *sub; i++) {
		snprintf(path, sizeof path, "%s/%s", root, sub[i]);
		int rc = fsync_dir(path);
		if (rc)
			return rc;
	}
	return 0;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	sodium_bin2hex(out, 2 * n + 1, p, n);
}

/* ---- the manifest ----------------------------------------------------------------------------- */

static int write_manifest(const char *dir, const struct manifest *m)
{
	char tmp[BK_PATH_MAX], path[BK_PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s/" MANIFEST_NAME ".tmp", dir);
	snprintf(path, sizeof path, "%s/" MANIFEST_NAME, dir);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	fprintf(f, MANIFEST_FORMAT "\nrelay-version %s\ncreated-ms %" PRIu64 "\nschema %d\n",
		m->version, m->created_ms, STORE_SCHEMA_VERSION);
	for (size_t i = 0; i < m->n; i++) {
		char h[2 * crypto_hash_sha256_BYTES + 1];
		hex(m->v[i].sha, sizeof m->v[i].sha, h);
		fprintf(f, "file %s %" PRIu64 " %s\n", h, m->v[i].size, m->v[i].rel);
	}
	int rc = fflush(f) == 0 && fsync(fd) == 0 ? 0 : -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	return rc;
}

/* A manifest path names a file of a backup: no way out of the directory, nothing unexpected. */
static bool rel_ok(const char *rel)
{
	if (!rel[0] || rel[0] == '/' || strstr(rel, ".."))
		return false;
	for (const char *p = rel; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '/' ||
		      *p == '.' || *p == '-'))
			return false;
	return true;
}

/* Reads DIR/manifest into *m (entries sorted). Returns 0, or -1 after printing why. */
static int read_manifest(const char *dir, struct manifest *m)
{
	char path[BK_PATH_MAX], line[512];
	memset(m, 0, sizeof *m);
	snprintf(path, sizeof path, "%s/" MANIFEST_NAME, dir);
	FILE *f = fopen(path, "r");
	if (!f) {
		printf("%s: no manifest (%s): not a complete backup\n", dir, strerror(errno));
		return -1;
	}
	int rc = 0, lineno = 0;
	while (rc == 0 && fgets(line, sizeof line, f)) {
		lineno++;
		char h[80], rel[REL_MAX + 8];
		uint64_t size;
		uint8_t sha[crypto_hash_sha256_BYTES];
		line[strcspn(line, "\n")] = '\0';
		if (lineno == 1) {
			rc = strcmp(line, MANIFEST_FORMAT) == 0 ? 0 : -1;
		} else if (strncmp(line, "relay-version ", 14) == 0) {
			snprintf(m->version, sizeof m->version, "%.63s", line + 14);
		} else if (sscanf(line, "created-ms %" SCNu64, &m->created_ms) == 1 ||
			   strncmp(line, "schema ", 7) == 0) {
			continue;
		} else if (sscanf(line, "file %79s %" SCNu64 " %103s", h, &size, rel) == 3 &&
			   strlen(rel) < REL_MAX && rel_ok(rel) &&
			   sodium_hex2bin(sha, sizeof sha, h, strlen(h), NULL, NULL, NULL) == 0 &&
			   strlen(h) == 2 * sizeof sha) {
			struct entry *e = manifest_add(m, rel);
			if (!e)
				rc = -1;
			else {
				e->size = size;
				memcpy(e->sha, sha, sizeof sha);
			}
		} else {
			rc = -1;
		}
	}
	fclose(f);
	if (rc != 0 || lineno == 0) {
		printf("%s: manifest line %d is not understood\n", dir, lineno);
		manifest_free(m);
		return -1;
	}
	qsort(m->v, m->n, sizeof *m->v, entry_cmp);
	return 0;
}

/* ---- backup ----------------------------------------------------------------------------------- */

struct blob_walk {
	const struct relay_config *cfg;
	const char *dir;
	struct manifest *m;
	bool vanished;
	int err;
};

/* Copies the file the blob record refers to: the whole content-addressed file of a complete blob
 * (once, however many blobs share it), the stored prefix of an unfinished upload. */
static int copy_blob_file(const struct store_blob *b, void *data)
{
	struct blob_walk *w = data;
	char rel[REL_MAX], h[2 * STORE_BLOB_SHA_BYTES + 1], src[BK_PATH_MAX], dst[BK_PATH_MAX];
	uint64_t limit = UINT64_MAX;
	if (b->state == STORE_BLOB_COMPLETE) {
		hex(b->sha256, STORE_BLOB_SHA_BYTES, h);
		snprintf(rel, sizeof rel, "blobs/%s", h);
	} else {
		if (b->have == 0)
			return 0; /* nothing stored yet: the first chunk creates the file */
		hex(b->id, STORE_ID_BYTES, h);
		snprintf(rel, sizeof rel, "blobs/tmp/%s", h);
		limit = b->have;
	}
	snprintf(src, sizeof src, "%s/%s", w->cfg->data_dir, rel);
	snprintf(dst, sizeof dst, "%s/%s", w->dir, rel);
	struct entry e;
	int rc = copy_file(src, dst, limit, &e);
	if (rc == -EEXIST)
		return 0;
	if (rc == 0 && b->state == STORE_BLOB_COMPLETE && e.size != b->size)
		rc = -ENOENT; /* replaced meanwhile: treat like a vanished file */
	if (rc == -ENOENT) {
		w->vanished = true;
		return 1;
	}
	if (rc) {
		w->err = rc;
		fprintf(stderr, "wakks-relay: backup: cannot copy %s: %s\n", rel, strerror(-rc));
		return 1;
	}
	struct entry *ne = manifest_add(w->m, rel);
	if (!ne) {
		w->err = -ENOMEM;
		return 1;
	}
	*ne = e;
	snprintf(ne->rel, sizeof ne->rel, "%s", rel);
	return 0;
}

/* Opens the database at root/db on a private loop and walks its blob records with cb. Returns the
 * walk's result, or a storage error. lock.mdb, which opening creates, is removed again. */
static int walk_blobs(const struct relay_config *cfg, const char *root, store_blob_cb cb, void *data)
{
	char path[BK_PATH_MAX], lock[BK_PATH_MAX];
	snprintf(path, sizeof path, "%s/db", root);
	snprintf(lock, sizeof lock, "%s/db/lock.mdb", root);
	bool had_lock = access(lock, F_OK) == 0;
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct store_config sc = {
		.path = path,
		.map_size_initial = (size_t)cfg->map_size_initial_mb << 20,
		.map_size_max = (size_t)cfg->map_size_max_mb << 20,
		/* A backup copy is read as it is: no sparse tail added to the file the manifest
		 * describes (spec/storage.md §2b). */
		.page_cache_off = true,
	};
	struct store *s;
	int rc = store_open(&s, &loop, &sc);
	if (rc == 0) {
		rc = store_list_blobs(s, cb, data);
		store_close(s);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	uv_loop_close(&loop);
	if (!had_lock)
		unlink(lock);
	return rc;
}

enum attempt { ATTEMPT_DONE, ATTEMPT_AGAIN, ATTEMPT_FAILED };

static enum attempt backup_once(const struct relay_config *cfg, struct store *store, const char *dir,
				struct manifest *m)
{
	char path[BK_PATH_MAX], src[BK_PATH_MAX];
	m->n = 0;
	m->created_ms = relay_now_ms();
	snprintf(m->version, sizeof m->version, "%s", WAKKS_BUILD_VERSION);

	/* The database first: the files are then copied for what this snapshot refers to. */
	snprintf(path, sizeof path, "%s/db", dir);
	int rc = store_backup(store, path);
	if (rc) {
		fprintf(stderr, "wakks-relay: backup: database copy failed: %s\n", store_strerror(rc));
		return ATTEMPT_FAILED;
	}
	if (make_dirs(dir) != 0) {
		fprintf(stderr, "wakks-relay: backup: cannot create %s/blobs: %s\n", dir, strerror(errno));
		return ATTEMPT_FAILED;
	}
	snprintf(src, sizeof src, "%s/" KEY_NAME, cfg->data_dir);
	snprintf(path, sizeof path, "%s/" KEY_NAME, dir);
	struct entry *e = manifest_add(m, KEY_NAME);
	rc = e ? copy_file(src, path, UINT64_MAX, e) : -ENOMEM;
	if (rc || e->size != 32) {
		fprintf(stderr, "wakks-relay: backup: cannot copy %s: %s\n", src,
			rc ? strerror(-rc) : "not a 32-byte key");
		return ATTEMPT_FAILED;
	}

	struct blob_walk w = { .cfg = cfg, .dir = dir, .m = m };
	rc = walk_blobs(cfg, dir, copy_blob_file, &w);
	if (w.vanished)
		return ATTEMPT_AGAIN;
	if (rc < 0 || w.err) {
		if (rc < 0)
			fprintf(stderr, "wakks-relay: backup: cannot read the copy: %s\n",
				store_strerror(rc));
		return ATTEMPT_FAILED;
	}
	snprintf(path, sizeof path, "%s/" DB_NAME, dir);
	if (!(e = manifest_add(m, DB_NAME)) || copy_file(path, NULL, UINT64_MAX, e) != 0 ||
	    write_manifest(dir, m) != 0 || sync_dirs(dir) != 0) {
		fprintf(stderr, "wakks-relay: backup: cannot write the manifest in %s\n", dir);
		return ATTEMPT_FAILED;
	}
	return ATTEMPT_DONE;
}

int relay_backup(const struct relay_config *cfg, const char *dir)
{
	/* Everything the backup writes is private, whatever the operator's umask. */
	umask(077);
	if (mkdir(dir, 0700) != 0) {
		fprintf(stderr, "wakks-relay: backup: cannot create %s: %s\n", dir, strerror(errno));
		return 1;
	}
	uv_loop_t loop;
	struct store *store;
	if (relay_command_store(cfg, &store, &loop) != 0) {
		rmdir(dir);
		return 1;
	}
	struct manifest m = { 0 };
	enum attempt a = ATTEMPT_AGAIN;
	int attempt = 0;
	while (a == ATTEMPT_AGAIN && attempt++ < BACKUP_ATTEMPTS) {
		a = backup_once(cfg, store, dir, &m);
		if (a != ATTEMPT_DONE) {
			remove_tree(dir);
			if (a == ATTEMPT_AGAIN && mkdir(dir, 0700) != 0)
				a = ATTEMPT_FAILED;
		}
	}
	relay_command_store_close(store, &loop);
	if (a != ATTEMPT_DONE) {
		if (a == ATTEMPT_AGAIN) {
			fprintf(stderr, "wakks-relay: backup: blob files kept changing during %d attempts\n",
				BACKUP_ATTEMPTS);
			remove_tree(dir);
		}
		manifest_free(&m);
		return 1;
	}
	printf("backup written to %s: %zu files, relay version %s\n", dir, m.n, m.version);
	manifest_free(&m);
	return 0;
}

/* ---- verify ----------------------------------------------------------------------------------- */

struct verify_walk {
	const struct manifest *m;
	unsigned problems;
};

static int blob_listed(const struct store_blob *b, void *data)
{
	struct verify_walk *w = data;
	char rel[REL_MAX], h[2 * STORE_BLOB_SHA_BYTES + 1];
	if (b->state == STORE_BLOB_COMPLETE) {
		hex(b->sha256, STORE_BLOB_SHA_BYTES, h);
		snprintf(rel, sizeof rel, "blobs/%s", h);
	} else if (b->have) {
		hex(b->id, STORE_ID_BYTES, h);
		snprintf(rel, sizeof rel, "blobs/tmp/%s", h);
	} else {
		return 0;
	}
	if (!manifest_has(w->m, rel)) {
		printf("%s: the database refers to it, the backup does not hold it\n", rel);
		w->problems++;
	}
	return 0;
}

static bool private_dir(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 077) == 0;
}

/* Checks everything but the database's references. Returns the number of problems (printed). */
static unsigned verify_files(const char *dir, const struct manifest *m)
{
	unsigned problems = 0;
	char path[BK_PATH_MAX];
	static const char *const dirs[] = { ".", "db", "blobs", "blobs/tmp" };
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, dirs[i]);
		if (!private_dir(path)) {
			printf("%s: missing or not a private directory (0700)\n", dirs[i]);
			problems++;
		}
	}
	if (!manifest_has(m, DB_NAME) || !manifest_has(m, KEY_NAME)) {
		printf("manifest: does not list both " DB_NAME " and " KEY_NAME "\n");
		problems++;
	}
	for (size_t i = 0; i < m->n; i++) {
		const struct entry *want = &m->v[i];
		struct stat st;
		struct entry got;
		snprintf(path, sizeof path, "%s/%s", dir, want->rel);
		if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
			printf("%s: missing\n", want->rel);
			problems++;
			continue;
		}
		if (st.st_mode & 077) {
			printf("%s: not private (mode %03o, want 0600)\n", want->rel,
			       (unsigned)(st.st_mode & 0777));
			problems++;
		}
		int rc = copy_file(path, NULL, UINT64_MAX, &got);
		if (rc) {
			printf("%s: unreadable: %s\n", want->rel, strerror(-rc));
			problems++;
		} else if (got.size != want->size) {
			printf("%s: %" PRIu64 " bytes, the manifest says %" PRIu64 "\n", want->rel,
			       got.size, want->size);
			problems++;
		} else if (sodium_memcmp(got.sha, want->sha, sizeof got.sha) != 0) {
			printf("%s: checksum differs from the manifest\n", want->rel);
			problems++;
		}
	}
	return problems;
}

int relay_backup_verify(const struct relay_config *cfg, const char *dir)
{
	if (!dir) {
		fprintf(stderr, "wakks-relay: backup --verify needs a backup directory\n");
		return 2;
	}
	struct manifest m;
	if (read_manifest(dir, &m) != 0)
		return 1;
	unsigned problems = verify_files(dir, &m);
	/* The database is opened only once its bytes are known to be the ones written. */
	if (problems == 0) {
		struct verify_walk w = { .m = &m };
		int rc = walk_blobs(cfg, dir, blob_listed, &w);
		if (rc < 0) {
			printf(DB_NAME ": does not open: %s\n", store_strerror(rc));
			problems++;
		}
		problems += w.problems;
	}
	if (problems)
		printf("backup %s is NOT usable: %u problems\n", dir, problems);
	else
		printf("backup %s intact: %zu files, relay version %s, taken at %" PRIu64 " ms\n", dir,
		       m.n, m.version[0] ? m.version : "?", m.created_ms);
	manifest_free(&m);
	return problems ? 1 : 0;
}

/* ---- restore ---------------------------------------------------------------------------------- */

static bool empty_dir(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return false;
	struct dirent *ent;
	bool empty = true;
	while (empty && (ent = readdir(d)))
		empty = strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0;
	closedir(d);
	return empty;
}

static int restore_files(const char *backup, const char *target, const struct manifest *m)
{
	char src[BK_PATH_MAX], dst[BK_PATH_MAX];
	if (make_dirs(target) != 0)
		return -errno;
	for (size_t i = 0; i < m->n; i++) {
		struct entry got;
		snprintf(src, sizeof src, "%s/%s", backup, m->v[i].rel);
		snprintf(dst, sizeof dst, "%s/%s", target, m->v[i].rel);
		int rc = copy_file(src, dst, UINT64_MAX, &got);
		if (rc)
			return rc;
		/* The copy is checked as it is made: a backup changed since the verification is not
		 * restored half. */
		if (got.size != m->v[i].size || sodium_memcmp(got.sha, m->v[i].sha, sizeof got.sha) != 0)
			return -EILSEQ;
	}
	return sync_dirs(target);
}

int relay_restore(const struct relay_config *cfg, const char *backup, const char *data_dir)
{
	if (!backup) {
		fprintf(stderr, "wakks-relay: restore needs a backup directory\n");
		return 2;
	}
	const char *target = data_dir ? data_dir : cfg->data_dir;
	umask(077);
	bool existed = false;
	if (mkdir(target, 0700) != 0) {
		if (errno != EEXIST || !empty_dir(target)) {
			fprintf(stderr, "wakks-relay: restore: %s exists and is not empty; restore into a "
					"new data directory\n", target);
			return 2;
		}
		existed = true;
		chmod(target, 0700);
	}
	struct manifest m = { 0 };
	if (relay_backup_verify(cfg, backup) != 0 || read_manifest(backup, &m) != 0) {
		fprintf(stderr, "wakks-relay: restore: %s is not a usable backup; nothing restored\n",
			backup);
		goto fail;
	}
	int rc = restore_files(backup, target, &m);
	if (rc) {
		fprintf(stderr, "wakks-relay: restore into %s failed: %s; nothing restored\n", target,
			strerror(-rc));
		goto fail;
	}
	printf("restored %s (relay version %s) into %s\n", backup, m.version, target);
	manifest_free(&m);
	return 0;
fail:
	/* Nothing half-restored: the target is left as it was found. */
	remove_tree(target);
	if (existed)
		mkdir(target, 0700);
	manifest_free(&m);
	return 1;
}
