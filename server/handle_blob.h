/* SPDX-License-Identifier: MPL-2.0 */
/* What send, ack and expiry need from the blob handlers (handle_blob.c). Loop thread only. */
#ifndef WAKKS_RELAY_HANDLE_BLOB_H
#define WAKKS_RELAY_HANDLE_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "wakks_storage.h"

struct relay;
struct relay_conn;

/* A send from c may reference these n blobs: each is complete and was uploaded by c's account or
 * is referenced by an unacknowledged envelope in c's device's mailbox. Returns 0 or -1. */
int relay_blob_check_refs(struct relay_conn *c, const uint8_t *const *ids, size_t n);

/* Deletes the files of blobs that storage removed (rm may be NULL). */
void relay_blob_removed(struct relay *r, const struct store_blob_removal *rm);

/* Frees the list of blobs with a write in flight (at stop). */
void relay_blob_busy_free(struct relay *r);

#endif
