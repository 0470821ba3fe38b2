/* SPDX-License-Identifier: MPL-2.0 */
#include "erase_bulk.h"

int store__erase_bulk(const struct store__erase_steps *steps, void *w,
		      const uint8_t account[STORE_ID_BYTES], const uint8_t (*devices)[STORE_ID_BYTES],
		      size_t n_devices, struct store_erase_result *res, uint64_t *envelopes_deleted)
{
	size_t budget = STORE_ERASE_MAX;
	for (size_t i = 0; i < n_devices && !res->more; i++) {
		size_t n = 0;
		uint64_t bytes = 0;
		bool more = false;
		int rc = steps->mailbox_delete_some(w, devices[i], budget, &n, &bytes, &more);
		if (rc)
			return rc;
		res->envelopes += n;
		res->envelope_bytes += bytes;
		budget -= n;
		*envelopes_deleted += n;
		if (more) {
			res->more = true;
			break;
		}
		rc = steps->idem_delete_sender(w, devices[i], budget, &n, &more);
		if (rc)
			return rc;
		res->idempotency += n;
		budget -= n;
		res->more = more;
	}
	if (!res->more) {
		size_t n = 0;
		int rc = steps->blob_erase_owner(w, account, budget, &n, &res->more);
		if (rc)
			return rc;
		res->blobs = n;
	}
	return 0;
}
