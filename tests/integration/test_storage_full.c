/* SPDX-License-Identifier: MPL-2.0 */
/* Storage full is visible to the operator and honest to the sender (spec/relay.md §11): a relay
 * whose map may grow to 1 MiB fills with 60 KiB messages. Crossing 90 % logs one warning; the
 * sends that no longer fit are refused with `unavailable`, "storage is full" and a retry time;
 * the refusals make one error line, not one per send; /metrics shows the map's use, its
 * maximum, the warning state and the refusals. A second relay, warned at a threshold below the
 * disk's present use, warns about the disk; an upload whose file is /dev/full (ENOSPC on every
 * write, as a full disk) is refused as "storage is full", logged once and counted in /metrics.
 * A third relay (root only: a loop mount) keeps its data_dir on a real 32 MiB ext4 file system
 * that another file fills: LMDB's commits fail in the middle of a write, and the sends are still
 * refused as "storage is full" by the storage library (not as an I/O error), and once the file is
 * removed the same send is stored and delivered. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "relay_proc.h"
#include "small_fs.h"
#include "tclient.h"
#include "test.h"

#define CONFIG "[storage]\nmap_size_initial_mb = 1\nmap_size_max_mb = 1\n"
#define MSG_BYTES (60 * 1024) /* within PROTO_MAX_CIPHERTEXT_BYTES */

static struct relay_proc relay;
static struct tdev anna, camilla;
static uint8_t msg[MSG_BYTES];

static int send_big(void)
{
	uint8_t cmid[16], devs[1][16];
	randombytes_buf(cmid, 16);
	memcpy(devs[0], camilla.device_id, 16);
	return tdev_send(&anna, cmid, NULL, 0, "varde", "jobcenter", (const uint8_t(*)[16])devs, 1,
			 msg, sizeof msg, false);
}

static bool refused_as_full(const struct tdev *d)
{
	const proto_error *e = &d->frame.body.error;
	return e->code == (uint32_t)-PROTO_E_UNAVAILABLE && e->has_details &&
	       e->details.retry_ms == 30000 && e->text.len &&
	       memmem(e->text.ptr, e->text.len, "storage is full", 15) != NULL;
}

static int count_in_log(const struct relay_proc *p, const char *needle)
{
	FILE *f = fopen(p->log_path, "r");
	char line[2048];
	int n = 0;
	while (f && fgets(line, sizeof line, f))
		n += strstr(line, needle) != NULL;
	if (f)
		fclose(f);
	return n;
}

static char *metrics(int admin_port)
{
	int status = 0;
	char *body = NULL;
	if (admin_get(admin_port, "/metrics", &status, &body) != 0 ||
	    status != 200) {
		free(body);
		return NULL;
	}
	return body;
}

static unsigned long long metric(const char *body, const char *name)
{
	char key[128];
	snprintf(key, sizeof key, "\n%s ", name);
	const char *p = body ? strstr(body, key) : NULL;
	return p ? strtoull(p + strlen(key), NULL, 10) : ~0ull;
}

static void people_register(void)
{
	tdev_init(&anna, relay.port);
	tdev_init(&camilla, relay.port);
	REQUIRE(tdev_register(&anna, "dev-mitid", "anna", 5) == 0);
	REQUIRE(tdev_register(&camilla, "dev-adfs", "camilla", 5) == 0);
}

static void full_map_refuses_with_retry_and_logs_once(void)
{
	randombytes_buf(msg, sizeof msg);
	int stored = 0, t;
	while ((t = send_big()) == PROTO_T_STORED && stored < 60)
		stored++;
	fprintf(stderr, "  %d messages of %d KiB stored before the map was full\n", stored,
		MSG_BYTES / 1024);
	CHECK(stored >= 3);
	REQUIRE(t == PROTO_T_ERROR);
	CHECK(refused_as_full(&anna));
	/* Once a second the relay looks at its storage: one warning, one error line. */
	usleep(1600 * 1000);
	CHECK_EQ_INT(count_in_log(&relay, "level=warn component=storage event=nearly_full what=map"), 1);
	CHECK_EQ_INT(count_in_log(&relay, "level=error component=storage event=writes_refused"), 1);
	/* More refusals within the minute add no line. */
	for (int i = 0; i < 5; i++) {
		CHECK_EQ_INT(send_big(), PROTO_T_ERROR);
		CHECK(refused_as_full(&anna));
	}
	usleep(1600 * 1000);
	CHECK_EQ_INT(count_in_log(&relay, "event=writes_refused"), 1);
	CHECK_EQ_INT(count_in_log(&relay, "event=nearly_full"), 1);
	/* The relay still reads and delivers what it holds. */
	REQUIRE(tdev_wait(&camilla, PROTO_T_DELIVER, 5000) == PROTO_T_DELIVER);
}

static void metrics_show_the_map_and_refusals(void)
{
	char *body = metrics(relay.admin_port);
	REQUIRE(body != NULL);
	CHECK_EQ_INT(metric(body, "wakks_store_map_max_bytes"), 1u << 20);
	unsigned long long used = metric(body, "wakks_store_map_used_bytes");
	CHECK(used >= (1u << 20) * 9 / 10 && used <= 1u << 20);
	CHECK_EQ_INT(metric(body, "wakks_store_map_nearly_full"), 1);
	CHECK(metric(body, "wakks_store_full_errors_total") >= 6 &&
	      metric(body, "wakks_store_full_errors_total") < 100);
	CHECK(metric(body, "wakks_disk_size_bytes") > 0 && metric(body, "wakks_disk_size_bytes") != ~0ull);
	CHECK(metric(body, "wakks_disk_available_bytes") != ~0ull);
	CHECK_EQ_INT(metric(body, "wakks_disk_full_errors_total"), 0);
	free(body);
	/* Not ready for new traffic: a load balancer sends it elsewhere. */
	int status = 0;
	REQUIRE(admin_get(relay.admin_port, "/readyz", &status, &body) == 0);
	CHECK_EQ_INT(status, 503);
	CHECK(strstr(body, "map_nearly_full") != NULL);
	free(body);
}

/* A second relay: warned at a threshold the disk has already passed, and with one upload whose
 * file is the kernel's /dev/full, where every write fails with ENOSPC as on a full disk. */
static void full_disk_warned_and_refused_as_storage_full(void)
{
	struct statvfs st;
	REQUIRE(statvfs(relay.dir, &st) == 0);
	unsigned long long used_pct =
		(unsigned long long)(st.f_blocks - st.f_bavail) * 100 / (st.f_blocks ? st.f_blocks : 1);
	if (used_pct < 1 || access("/dev/full", W_OK) != 0) {
		fprintf(stderr, "  skipped: the test's file system is empty or there is no /dev/full\n");
		return;
	}
	char config[128];
	snprintf(config, sizeof config, "[storage]\nstorage_warn_percent = %llu\n",
		 used_pct > 100 ? 100 : used_pct);
	struct relay_proc disk;
	struct tdev bo;
	REQUIRE(relay_proc_start(&disk, config, true) == 0);
	tdev_init(&bo, disk.port);
	REQUIRE(tdev_register(&bo, "dev-mitid", "bo", 5) == 0);

	uint8_t id[16], sha[32];
	char hex[33], path[600];
	crypto_hash_sha256(sha, msg, sizeof msg);
	memcpy(id, sha, 16); /* a blob's id is the first half of its digest (spec/protocol.md §10.1) */
	proto_frame f;
	proto_frame_init(&f, PROTO_T_BLOB_PUT, 0);
	f.body.blob_put = (proto_blob_put){ id, sizeof msg, sha };
	REQUIRE(tdev_request(&bo, &f, 5000) == PROTO_T_BLOB_STATE);
	sodium_bin2hex(hex, sizeof hex, id, 16);
	snprintf(path, sizeof path, "%s/blobs/tmp/%s", disk.data_dir, hex);
	REQUIRE(symlink("/dev/full", path) == 0);
	for (int i = 0; i < 3; i++) {
		proto_frame_init(&f, PROTO_T_BLOB_CHUNK, 0);
		f.body.blob_chunk = (proto_blob_chunk){ id, 0, { msg, 4096 } };
		CHECK_EQ_INT(tdev_request(&bo, &f, 5000), PROTO_T_ERROR);
		CHECK(refused_as_full(&bo));
	}

	usleep(1600 * 1000);
	CHECK_EQ_INT(count_in_log(&disk, "level=warn component=storage event=nearly_full what=disk"), 1);
	CHECK_EQ_INT(count_in_log(&disk, "what=map"), 0);
	CHECK_EQ_INT(count_in_log(&disk, "event=writes_refused reason=disk_full refused=3"), 1);
	CHECK_EQ_INT(count_in_log(&disk, "event=write_failed"), 0);
	char *body = metrics(disk.admin_port);
	CHECK_EQ_INT(metric(body, "wakks_disk_nearly_full"), 1);
	CHECK_EQ_INT(metric(body, "wakks_store_map_nearly_full"), 0);
	CHECK_EQ_INT(metric(body, "wakks_disk_full_errors_total"), 3);
	free(body);
	tdev_free(&bo);
	relay_proc_cleanup(&disk);
}

/* ---- LMDB on a real full file system ----------------------------------------------------------- */

static char fs_dir[256];
static struct small_fs fs;

static void fs_unmount(void)
{
	small_fs_unmount(&fs);
	if (fs_dir[0])
		rmdir(fs_dir);
}

/* A 32 MiB ext4 file system mounted at DIR/data, where the relay's data_dir goes. Returns 0, or
 * -1 with why. */
static int fs_mount(const char **why)
{
	const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(fs_dir, sizeof fs_dir, "%s/wakks-diskfull-XXXXXX", tmp);
	if (!mkdtemp(fs_dir)) {
		fs_dir[0] = '\0';
		return *why = "no temporary directory", -1;
	}
	return small_fs_mount(&fs, fs_dir, "data", 32, why);
}

static void lmdb_on_a_full_disk_refused_as_storage_full_then_recovers(void)
{
	const char *why = NULL;
	if (relay_test_engine_pg()) {
		fprintf(stderr, "  skipped: LMDB's file system, not PostgreSQL's\n");
		return;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "  skipped: a real full file system is a loop mount, which needs root "
				"(storage/file_size_limit covers the library without)\n");
		return;
	}
	if (fs_mount(&why) != 0) {
		fprintf(stderr, "  skipped: %s\n", why);
		return;
	}
	struct relay_proc disk;
	struct tdev bo, dorte;
	struct relay_proc_opts o = { .dir = fs_dir, .data_subdir = "data", .dev = true };
	REQUIRE(relay_proc_start_opts(&disk, &o) == 0);
	tdev_init(&bo, disk.port);
	tdev_init(&dorte, disk.port);
	REQUIRE(tdev_register(&bo, "dev-mitid", "bo", 5) == 0);
	REQUIRE(tdev_register(&dorte, "dev-adfs", "camilla", 5) == 0);
	uint8_t devs[1][16];
	memcpy(devs[0], dorte.device_id, 16);
	uint8_t cmid[16];
	randombytes_buf(cmid, 16);
	CHECK_EQ_INT(tdev_send(&bo, cmid, NULL, 0, "varde", "jobcenter", (const uint8_t(*)[16])devs,
			       1, msg, sizeof msg, false), PROTO_T_STORED);

	char filler[400];
	snprintf(filler, sizeof filler, "%s/filler", disk.data_dir);
	REQUIRE(small_fs_fill(filler, 3 * 4096) == 0);
	/* At once, before the relay's once-a-second look at the disk has seen it full: what the
	 * sender hears is the storage library's word alone. */
	for (int i = 0; i < 3; i++) {
		randombytes_buf(cmid, 16);
		CHECK_EQ_INT(tdev_send(&bo, cmid, NULL, 0, "varde", "jobcenter",
				       (const uint8_t(*)[16])devs, 1, msg, sizeof msg, false),
			     PROTO_T_ERROR);
		CHECK(refused_as_full(&bo));
	}
	usleep(1600 * 1000);
	/* One line (a once-a-second sample may fall between the sends: N is not always 3). */
	CHECK_EQ_INT(count_in_log(&disk, "event=writes_refused reason=disk_full"), 1);
	CHECK_EQ_INT(count_in_log(&disk, "event=writes_refused"), 1);
	CHECK_EQ_INT(count_in_log(&disk, "I/O error"), 0);
	char *body = metrics(disk.admin_port);
	/* Refused by the store as full (STORE_EFULL), not guessed from an I/O error. */
	CHECK_EQ_INT(metric(body, "wakks_store_full_errors_total"), 3);
	CHECK_EQ_INT(metric(body, "wakks_disk_full_errors_total"), 0);
	CHECK_EQ_INT(metric(body, "wakks_disk_nearly_full"), 1);
	free(body);

	/* Room again: the same send is stored and delivered, without a restart. */
	CHECK_EQ_INT(unlink(filler), 0);
	CHECK_EQ_INT(tdev_send(&bo, cmid, NULL, 0, "varde", "jobcenter", (const uint8_t(*)[16])devs,
			       1, msg, sizeof msg, false), PROTO_T_STORED);
	int delivered = 0;
	while (delivered < 2 && tdev_wait(&dorte, PROTO_T_DELIVER, 5000) == PROTO_T_DELIVER)
		delivered++;
	CHECK_EQ_INT(delivered, 2);
	tdev_free(&bo);
	tdev_free(&dorte);
	relay_proc_cleanup(&disk);
	/* the relay's config, log and certificate files in the caller's directory */
	char path[400];
	const char *names[] = { "relay.conf", "relay.log", "dev-cert.pem", "dev-key.pem" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", fs_dir, names[i]);
		unlink(path);
	}
}

int main(void)
{
	if (sodium_init() < 0 || relay_proc_start(&relay, CONFIG, true) != 0)
		return 1;
	RUN(people_register);
	RUN(full_map_refuses_with_retry_and_logs_once);
	RUN(metrics_show_the_map_and_refusals);
	RUN(full_disk_warned_and_refused_as_storage_full);
	RUN(lmdb_on_a_full_disk_refused_as_storage_full_then_recovers);
	fs_unmount();
	tdev_free(&anna);
	tdev_free(&camilla);
	relay_proc_cleanup(&relay);
	return TEST_RESULT();
}
