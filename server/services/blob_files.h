/* SPDX-License-Identifier: MPL-2.0 */
/* The files of attachment blobs (spec/relay.md §9): DATA_DIR/blobs/tmp/<hex id> while a blob is
 * uploaded, DATA_DIR/blobs/<hex sha256> once it is complete and checked. Every write, fsync,
 * rename, read and unlink runs on libuv's threadpool (uv_fs_*, uv_queue_work); the loop thread
 * never waits for the disk. Callbacks run on the loop thread, exactly once per started operation,
 * also while the relay stops (they must then not touch the store). The relay only ever holds
 * ciphertext here: it never decrypts, and it never logs blob contents.
 * On a shared store (the PostgreSQL engine) the same operations keep the bytes in the database
 * instead (blob_files_pg.c), so that every relay serves what any relay stored; the callers do not
 * see the difference. */
#ifndef WAKKS_RELAY_SERVICES_BLOB_FILES_H
#define WAKKS_RELAY_SERVICES_BLOB_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "wakks_storage.h"

struct relay;

/* The relay's own result codes lie in -6001..-6999: below every libuv code (down to -4095),
 * which travel in the same int, and apart from every library's range.
 * The uploaded bytes do not hash to the declared SHA-256 (or are not the declared size). */
#define BLOB_STORE_EDIGEST (-6001)

/* result: 0, BLOB_STORE_EDIGEST, or a negative libuv code. data/len: the bytes read (read only;
 * valid during the call). */
typedef void (*blob_store_cb)(int result, const uint8_t *data, size_t len, void *arg);

/* Creates DATA_DIR/blobs and DATA_DIR/blobs/tmp (0700) at start-up. Returns 0 or -1. */
int blob_store_init(struct relay *r);

/* Writes len bytes (copied) at offset of the blob's temporary file, creating it, and fdatasyncs
 * it. Returns 0 (cb will run) or a negative libuv code (it will not). */
int blob_store_append(struct relay *r, const uint8_t id[STORE_ID_BYTES], uint64_t offset,
		      const uint8_t *data, size_t len, blob_store_cb cb, void *arg);

/* Hashes the whole temporary file on the threadpool; if it is size bytes with this SHA-256,
 * renames it to its content-addressed name and fsyncs the directory. Otherwise the result is
 * BLOB_STORE_EDIGEST and the file stays where it is (the caller removes the blob). */
int blob_store_seal(struct relay *r, const uint8_t id[STORE_ID_BYTES],
		    const uint8_t sha256[STORE_BLOB_SHA_BYTES], uint64_t size, blob_store_cb cb,
		    void *arg);

/* Reads up to len bytes at offset of a complete blob's file. */
int blob_store_read(struct relay *r, const uint8_t sha256[STORE_BLOB_SHA_BYTES], uint64_t offset,
		    size_t len, blob_store_cb cb, void *arg);

/* Deletes the file of a removed blob (its temporary file, or its content-addressed file when no
 * other blob uses it). Fire and forget: a failure is logged. */
void blob_store_remove(struct relay *r, const struct store_blob_removed *rm);

/* Deletes, asynchronously, files in DATA_DIR/blobs and DATA_DIR/blobs/tmp that no blob record
 * names: leftovers of a crash, and the files of blobs removed while the relay was not running or
 * by an account's erasure (which removes records only). Skipped while a blob is being written. */
void blob_store_sweep(struct relay *r);

/* At stop, after the store's last use: a shared store's connection pools (relay.aux_*) are
 * closed once the blob work queued on the threadpool has finished. */
void blob_store_stop(struct relay *r);

/* Bytes of blob data held in memory by operations in flight (reads and writes). */
size_t blob_store_inflight_bytes(const struct relay *r);

/* ---- references from send, ack and expiry ---- */

struct relay_conn;

/* A send from c may reference these n blobs: each is complete and was uploaded by c's account or
 * is referenced by an unacknowledged envelope in c's device's mailbox. Returns 0 or -1. */
int relay_blob_check_refs(struct relay_conn *c, const uint8_t *const *ids, size_t n);

/* Deletes the files of blobs that storage removed (rm may be NULL). */
void relay_blob_removed(struct relay *r, const struct store_blob_removal *rm);

#endif
