/* SPDX-License-Identifier: MPL-2.0 */
/* The PostgreSQL side of blob_files.h (blob_files_pg.c): the same operations with the same
 * callbacks, the bytes in the shared database instead of DATA_DIR/blobs. blob_files.c hands
 * every call here when the relay runs on a shared store. */
#ifndef WAKKS_RELAY_SERVICES_BLOB_FILES_INTERNAL_H
#define WAKKS_RELAY_SERVICES_BLOB_FILES_INTERNAL_H

#include "services/blob_files.h"

int blob_pg_append(struct relay *r, const uint8_t id[STORE_ID_BYTES], uint64_t offset,
		   const uint8_t *data, size_t len, blob_store_cb cb, void *arg);
int blob_pg_seal(struct relay *r, const uint8_t id[STORE_ID_BYTES],
		 const uint8_t sha256[STORE_BLOB_SHA_BYTES], uint64_t size, blob_store_cb cb,
		 void *arg);
int blob_pg_read(struct relay *r, const uint8_t sha256[STORE_BLOB_SHA_BYTES], uint64_t offset,
		 size_t len, blob_store_cb cb, void *arg);
void blob_pg_remove(struct relay *r, const struct store_blob_removed *rm);
void blob_pg_sweep(struct relay *r);
/* Closes the relay's pools now, or once the queued work has finished. */
void blob_pg_stop(struct relay *r);
size_t blob_pg_inflight_bytes(void);

#endif
