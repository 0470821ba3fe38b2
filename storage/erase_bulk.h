/* SPDX-License-Identifier: MPL-2.0 */
/* The bounded bulk of an account's erasure, one algorithm for both engines (spec/storage.md §5,
 * spec/storage-postgresql.md §4): each device's mailbox, then the idempotency entries of its
 * sends, then the blobs the account uploaded, until STORE_ERASE_MAX entries are gone. Each
 * engine supplies its own deletions over its own transaction. */
#ifndef WAKKS_STORE_ERASE_BULK_H
#define WAKKS_STORE_ERASE_BULK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wakks_storage.h"

struct store__erase_steps {
	int (*mailbox_delete_some)(void *w, const uint8_t device[STORE_ID_BYTES], size_t max,
				   size_t *n, uint64_t *bytes, bool *more);
	int (*idem_delete_sender)(void *w, const uint8_t device[STORE_ID_BYTES], size_t max,
				  size_t *n, bool *more);
	int (*blob_erase_owner)(void *w, const uint8_t account[STORE_ID_BYTES], size_t max,
				size_t *n, bool *more);
};

/* Adds what it removed to res (envelopes, envelope_bytes, idempotency, blobs) and the envelopes
 * to *envelopes_deleted; sets res->more when entries remain for a later step. 0 or an error. */
int store__erase_bulk(const struct store__erase_steps *steps, void *w,
		      const uint8_t account[STORE_ID_BYTES], const uint8_t (*devices)[STORE_ID_BYTES],
		      size_t n_devices, struct store_erase_result *res, uint64_t *envelopes_deleted);

#endif
