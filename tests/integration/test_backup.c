/* SPDX-License-Identifier: MPL-2.0 */
/* Backup and restore end to end (docs/operations.md): a citizen with consent stores messages and
 * an attachment; while another citizen keeps sending messages and attachments, `wakks-relay
 * backup` copies the running relay. The backup is private and passes `backup --verify`; `restore`
 * puts it into a new data directory, and a relay started there delivers every envelope stored
 * before the backup began, the attachments they reference download, and a caseworker finds the
 * citizen again by CPR number; so does a relay started on the backup directory itself. A
 * tampered, missing or readable-by-others file fails the check, and a damaged backup is not
 * restored. */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "relay_proc.h"
#include "tclient.h"
#include "test.h"
#include "wakks_devidp.h"

#define CHUNK PROTO_MAX_BLOB_CHUNK_BYTES
#define BEFORE 40
#define LOAD_MAX 100000
/* The load and the downloads run far faster than a person; the rate limits (requests, and sends
 * per minute, which would end the load before the backup begins) are not under test. */
#define CONFIG "[limits]\nrequests_per_second = 100000\nrequest_burst = 100000\nsends_per_minute = 1000000\n"

static struct relay_proc relay, restored;
static struct tdev anna, bo, camilla;
static uint8_t before[BEFORE][16];
static uint8_t doc_id[16];
static uint8_t *doc;
static size_t doc_len;
static char backup_dir[400];

/* ---- frames ----------------------------------------------------------------------------------- */

static int blob_put(struct tdev *d, const uint8_t id[16], uint64_t size, const uint8_t sha[32])
{
	proto_frame f;
	proto_frame_init(&f, PROTO_T_BLOB_PUT, 0);
	f.body.blob_put = (proto_blob_put){ id, size, sha };
	return tdev_request(d, &f, 10000);
}

/* A blob's id is the first half of its ciphertext's SHA-256 (spec/protocol.md §10.1). */
static void blob_id_of(uint8_t id[16], const uint8_t *ct, size_t len)
{
	uint8_t sha[32];
	crypto_hash_sha256(sha, ct, len);
	memcpy(id, sha, 16);
}

static int upload(struct tdev *d, const uint8_t id[16], const uint8_t *ct, size_t len)
{
	static __thread proto_frame f;
	uint8_t sha[32];
	crypto_hash_sha256(sha, ct, len);
	int t = blob_put(d, id, len, sha);
	while (t == PROTO_T_BLOB_STATE && !d->frame.body.blob_state.done) {
		uint64_t have = d->frame.body.blob_state.have;
		size_t n = len - have < CHUNK ? len - have : CHUNK;
		proto_frame_init(&f, PROTO_T_BLOB_CHUNK, 0);
		f.body.blob_chunk = (proto_blob_chunk){ id, have, { ct + have, n } };
		t = tdev_request(d, &f, 20000);
	}
	return t == PROTO_T_BLOB_STATE ? 0 : t;
}

/* Downloads a blob of `size` bytes; 0 when it arrived whole and equals `want` (if given). */
static int download(struct tdev *d, const uint8_t id[16], size_t size, const uint8_t *want)
{
	size_t have = 0;
	while (have < size) {
		proto_frame f;
		proto_frame_init(&f, PROTO_T_BLOB_GET, 0);
		f.body.blob_get = (proto_blob_get){ id, have, CHUNK };
		if (tdev_request(d, &f, 10000) != PROTO_T_BLOB_DATA)
			return -1;
		const proto_blob_data *b = &d->frame.body.blob_data;
		if (b->offset != have || b->data.len == 0 || b->data.len > size - have ||
		    (want && memcmp(want + have, b->data.ptr, b->data.len) != 0))
			return -1;
		have += b->data.len;
	}
	return 0;
}

/* A citizen's message to the jobcenter (camilla's one device), optionally with one blob. */
static int send_unit(struct tdev *from, const uint8_t cmid[16], const uint8_t *blob,
		     const void *ct, size_t ct_len)
{
	static __thread proto_frame f;
	proto_frame_init(&f, PROTO_T_SEND, 0);
	proto_send *s = &f.body.send;
	s->cmid = cmid;
	s->tenant = (proto_str){ "varde", 5 };
	s->unit = (proto_str){ "jobcenter", 9 };
	s->env[s->env_count++] = (proto_envelope){ camilla.device_id, { ct, ct_len } };
	if (blob)
		s->blobs[s->blob_count++] = blob;
	return tdev_request(from, &f, 10000);
}

/* spec/consent.md §2: anna's grant for the whole municipality, on the served text. */
static int grant_consent(struct tdev *d)
{
	char version[33];
	uint8_t sha[32];
	if (tconsent_text(d->port, "varde", version, sha) != 0)
		return -1;
	return tdev_consent(d, 1, "varde", "", version, sha);
}

static int lookup(struct tdev *d, const char *cpr)
{
	proto_frame f;
	proto_frame_init(&f, PROTO_T_CITIZEN_LOOKUP, 0);
	f.body.citizen_lookup.cpr = (proto_str){ cpr, strlen(cpr) };
	return tdev_request(d, &f, 5000);
}

static int command(const char *a1, const char *a2, const char *a3, char **out)
{
	char *err = NULL, *o = NULL;
	char *args[] = { (char *)relay_binary(), "--config", relay.config_path, (char *)a1, (char *)a2,
			 (char *)a3, NULL };
	int rc = relay_run_command_io(args, NULL, &o, &err);
	if (rc != 0)
		fprintf(stderr, "  %s %s: exit %d: %s%s\n", a1, a2 ? a2 : "", rc, o ? o : "",
			err ? err : "");
	free(err);
	if (out)
		*out = o;
	else
		free(o);
	return rc;
}

static bool private_mode(const char *path, mode_t want)
{
	struct stat st;
	return stat(path, &st) == 0 && (st.st_mode & 0777) == want;
}

static char *doc_path(const char *root)
{
	static char path[600];
	uint8_t sha[32];
	char hex[65];
	crypto_hash_sha256(sha, doc, doc_len);
	sodium_bin2hex(hex, sizeof hex, sha, 32);
	snprintf(path, sizeof path, "%s/blobs/%s", root, hex);
	return path;
}

/* ---- the write load --------------------------------------------------------------------------- */

/* bo keeps sending: every fourth message carries a fresh attachment, named in the ciphertext
 * ('B', id, size) so the receiving test can download what a restored envelope references. */
static volatile int load_stop;
static volatile size_t load_stored;
static uint8_t load_cmid[LOAD_MAX][16];
static size_t load_before; /* of them stored before the backup began */

static void *write_load(void *unused)
{
	(void)unused;
	static uint8_t blob[48 * 1024];
	for (unsigned i = 0; !load_stop && load_stored < LOAD_MAX; i++) {
		uint8_t cmid[16], ct[21], id[16];
		randombytes_buf(cmid, 16);
		const uint8_t *ref = NULL;
		size_t ct_len = 8;
		memcpy(ct, "loadmsg!", 8);
		if (i % 4 == 0) {
			randombytes_buf(blob, sizeof blob);
			blob_id_of(id, blob, sizeof blob);
			if (upload(&bo, id, blob, sizeof blob) != 0)
				break;
			ct[0] = 'B';
			memcpy(ct + 1, id, 16);
			ct[17] = 0;
			ct[18] = (uint8_t)(sizeof blob >> 16);
			ct[19] = (uint8_t)(sizeof blob >> 8);
			ct[20] = (uint8_t)sizeof blob;
			ct_len = 21;
			ref = id;
		}
		if (send_unit(&bo, cmid, ref, ct, ct_len) != PROTO_T_STORED)
			break;
		memcpy(load_cmid[load_stored], cmid, 16);
		load_stored++;
	}
	return NULL;
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void people_register_and_anna_consents(void)
{
	tdev_init(&anna, relay.port);
	tdev_init(&bo, relay.port);
	tdev_init(&camilla, relay.port);
	REQUIRE(tdev_register(&anna, "dev-mitid", "anna", 5) == 0);
	REQUIRE(tdev_register(&bo, "dev-mitid", "bo", 5) == 0);
	REQUIRE(tdev_register(&camilla, "dev-adfs", "camilla", 5) == 0);
	REQUIRE(grant_consent(&anna) == PROTO_T_OK);
}

static void messages_and_attachment_stored_before_backup(void)
{
	doc_len = 600 * 1024 + 17;
	doc = malloc(doc_len);
	randombytes_buf(doc, doc_len);
	blob_id_of(doc_id, doc, doc_len);
	REQUIRE(upload(&anna, doc_id, doc, doc_len) == 0);
	for (int i = 0; i < BEFORE; i++) {
		randombytes_buf(before[i], 16);
		char text[32];
		int n = snprintf(text, sizeof text, "before backup %d", i);
		CHECK_EQ_INT(send_unit(&anna, before[i], i == 0 ? doc_id : NULL, text, (size_t)n),
			     PROTO_T_STORED);
	}
}

static void backup_under_write_load_is_private_and_verifies(void)
{
	pthread_t t;
	snprintf(backup_dir, sizeof backup_dir, "%s/backup", relay.dir);
	REQUIRE(pthread_create(&t, NULL, write_load, NULL) == 0);
	usleep(300 * 1000);
	load_before = load_stored;
	CHECK_EQ_INT(command("backup", backup_dir, NULL, NULL), 0);
	usleep(300 * 1000);
	load_stop = 1;
	pthread_join(t, NULL);
	fprintf(stderr, "  %zu messages stored by the load, %zu before the backup started\n",
		load_stored, load_before);
	CHECK(load_stored > load_before && load_before > 0);

	char path[600];
	CHECK(private_mode(backup_dir, 0700));
	const char *files[] = { "manifest", "db/data.mdb", "account-id.key" };
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/%s", backup_dir, files[i]);
		CHECK(private_mode(path, 0600));
	}
	CHECK(private_mode(doc_path(backup_dir), 0600));
	snprintf(path, sizeof path, "%s/db/lock.mdb", backup_dir);
	CHECK(access(path, F_OK) != 0);
	char *out = NULL;
	CHECK_EQ_INT(command("backup", "--verify", backup_dir, &out), 0);
	CHECK(out && strstr(out, "intact"));
	free(out);
	/* A backup never overwrites: the same directory again is refused. */
	CHECK_EQ_INT(command("backup", backup_dir, NULL, NULL), 1);
}

static void restored_relay_delivers_everything_stored_before(void)
{
	char target[400];
	snprintf(target, sizeof target, "%s/restored", relay.dir);
	CHECK_EQ_INT(command("restore", backup_dir, target, NULL), 0);
	CHECK(private_mode(target, 0700));
	/* Not into a directory in use. */
	CHECK_EQ_INT(command("restore", backup_dir, relay.data_dir, NULL), 2);
	CHECK_EQ_INT(relay_proc_stop(&relay), 0);

	struct relay_proc_opts o = { .dir = relay.dir, .data_subdir = "restored", .dev = true,
				     .extra_config = CONFIG };
	REQUIRE(relay_proc_start_opts(&restored, &o) == 0);
	tdev_disconnect(&camilla);
	camilla.port = anna.port = restored.port;
	REQUIRE(tdev_login(&camilla) == 0);

	static bool load_seen[LOAD_MAX];
	size_t load_found = 0;
	int found = 0, blobs_ok = 0, blobs = 0, delivered = 0;
	while (tdev_wait(&camilla, PROTO_T_DELIVER, 3000) == PROTO_T_DELIVER) {
		const proto_deliver *d = &camilla.frame.body.deliver;
		/* d points into the frame the next request replaces: keep what is needed. */
		uint64_t seq = d->seq;
		uint8_t cmid[16], ct[32];
		memcpy(cmid, d->cmid, 16);
		size_t ct_len = d->ciphertext.len < sizeof ct ? d->ciphertext.len : sizeof ct;
		memcpy(ct, d->ciphertext.ptr, ct_len);
		delivered++;
		for (int i = 0; i < BEFORE; i++)
			if (memcmp(cmid, before[i], 16) == 0) {
				found++;
				if (i == 0)
					CHECK_EQ_INT(download(&camilla, doc_id, doc_len, doc), 0);
			}
		for (size_t i = 0; i < load_before; i++)
			if (!load_seen[i] && memcmp(cmid, load_cmid[i], 16) == 0) {
				load_seen[i] = true;
				load_found++;
			}
		if (ct_len == 21 && ct[0] == 'B') {
			size_t size = (size_t)ct[18] << 16 | (size_t)ct[19] << 8 | ct[20];
			blobs++;
			blobs_ok += download(&camilla, ct + 1, size, NULL) == 0;
		}
		CHECK_EQ_INT(tdev_ack(&camilla, seq), PROTO_T_OK);
	}
	fprintf(stderr, "  restored relay delivered %d envelopes, %d with attachments\n", delivered,
		blobs);
	CHECK_EQ_INT(found, BEFORE);
	CHECK_EQ_INT(load_found, load_before);
	CHECK(blobs > 0);
	CHECK_EQ_INT(blobs_ok, blobs);
}

static void citizen_found_again_by_cpr(void)
{
	const devidp_user *a = devidp_demo_user("anna");
	REQUIRE(a != NULL);
	CHECK_EQ_INT(lookup(&camilla, a->cpr), PROTO_T_CITIZEN);
	CHECK(camilla.frame.body.citizen.reachable);
	CHECK(camilla.frame.body.citizen.account &&
	      memcmp(camilla.frame.body.citizen.account, anna.account_id, 16) == 0);
	/* anna's device authenticates with its registered key. */
	tdev_disconnect(&anna);
	CHECK_EQ_INT(tdev_login(&anna), 0);
}

static void verify_detects_tampered_missing_and_readable_files(void)
{
	char *out = NULL, moved[700], key[600], target[400];
	const char *blob = doc_path(backup_dir);
	FILE *f = fopen(blob, "r+b");
	REQUIRE(f != NULL);
	int c = fgetc(f);
	fseek(f, 0, SEEK_SET);
	fputc(c ^ 1, f);
	fclose(f);
	CHECK_EQ_INT(command("backup", "--verify", backup_dir, &out), 1);
	CHECK(out && strstr(out, "checksum differs"));
	free(out);
	snprintf(target, sizeof target, "%s/restored-bad", relay.dir);
	CHECK_EQ_INT(command("restore", backup_dir, target, NULL), 1);
	CHECK(access(target, F_OK) != 0);
	f = fopen(blob, "r+b");
	REQUIRE(f != NULL);
	fputc(c, f);
	fclose(f);
	CHECK_EQ_INT(command("backup", "--verify", backup_dir, NULL), 0);

	snprintf(key, sizeof key, "%s/account-id.key", backup_dir);
	snprintf(moved, sizeof moved, "%s.away", key);
	REQUIRE(rename(key, moved) == 0);
	CHECK_EQ_INT(command("backup", "--verify", backup_dir, &out), 1);
	CHECK(out && strstr(out, "account-id.key: missing"));
	free(out);
	REQUIRE(rename(moved, key) == 0);

	chmod(blob, 0644);
	CHECK_EQ_INT(command("backup", "--verify", backup_dir, &out), 1);
	CHECK(out && strstr(out, "not private"));
	free(out);
	chmod(blob, 0600);
	CHECK_EQ_INT(command("backup", "--verify", backup_dir, NULL), 0);
}

/* docs/operations.md: a relay may also be started on a backup directory itself. */
static void relay_starts_on_the_backup_itself(void)
{
	CHECK_EQ_INT(relay_proc_stop(&restored), 0);
	struct relay_proc on_backup;
	struct relay_proc_opts o = { .dir = relay.dir, .data_subdir = "backup", .dev = true,
				     .extra_config = CONFIG };
	REQUIRE(relay_proc_start_opts(&on_backup, &o) == 0);
	tdev_disconnect(&camilla);
	camilla.port = on_backup.port;
	REQUIRE(tdev_login(&camilla) == 0);
	const devidp_user *a = devidp_demo_user("anna");
	CHECK_EQ_INT(lookup(&camilla, a->cpr), PROTO_T_CITIZEN);
	CHECK(camilla.frame.body.citizen.reachable);
	int found = 0;
	while (found < BEFORE && tdev_wait(&camilla, PROTO_T_DELIVER, 3000) == PROTO_T_DELIVER)
		for (int i = 0; i < BEFORE; i++)
			found += memcmp(camilla.frame.body.deliver.cmid, before[i], 16) == 0;
	CHECK_EQ_INT(found, BEFORE);
	CHECK_EQ_INT(download(&camilla, doc_id, doc_len, doc), 0);
	tdev_disconnect(&camilla);
	relay_proc_cleanup(&on_backup);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* a connection the stopped relay closed */
	if (sodium_init() < 0 || relay_proc_start(&relay, CONFIG, true) != 0)
		return 1;
	RUN(people_register_and_anna_consents);
	RUN(messages_and_attachment_stored_before_backup);
	RUN(backup_under_write_load_is_private_and_verifies);
	RUN(restored_relay_delivers_everything_stored_before);
	RUN(citizen_found_again_by_cpr);
	RUN(verify_detects_tampered_missing_and_readable_files);
	RUN(relay_starts_on_the_backup_itself);
	tdev_free(&anna);
	tdev_free(&bo);
	tdev_free(&camilla);
	free(doc);
	relay_proc_cleanup(&restored);
	relay_proc_cleanup(&relay);
	return TEST_RESULT();
}
