/* SPDX-License-Identifier: MPL-2.0 */
/* The blob handlers' own state that outlives a request: blobs with a chunk being written. */
#ifndef WAKKS_RELAY_HANDLERS_BLOBS_H
#define WAKKS_RELAY_HANDLERS_BLOBS_H

struct relay;

/* Frees the list of blobs with a write in flight (at stop). */
void relay_blob_busy_free(struct relay *r);

#endif
