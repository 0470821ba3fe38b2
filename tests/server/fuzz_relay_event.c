/* SPDX-License-Identifier: MPL-2.0 */
/* Fuzz target: an event another relay sent through the shared database (services/cluster.c).
 * Any relay with the database's credentials can send one, so it is decoded as hostile input:
 * whatever the bytes, decoding returns 0 or -1 and never reads past them, and an accepted event
 * encodes back to exactly the same bytes (one encoding per event). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/cluster_events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	/* A copy of exactly size bytes, so that a read past the end is caught by the sanitizers. */
	uint8_t *msg = malloc(size ? size : 1);
	memcpy(msg, data, size);
	struct relay_event ev;
	if (relay_event_decode(msg, size, &ev) == 0) {
		uint8_t again[RELAY_EVENT_MAX];
		int n = relay_event_encode(&ev, again, sizeof again);
		if (n < 0 || (size_t)n != size || memcmp(again, msg, size) != 0)
			abort();
	}
	free(msg);
	return 0;
}
