/* SPDX-License-Identifier: MPL-2.0 */
#include "admin/check_data.h"

#include <stdio.h>

#include <uv.h>

#include "admin/offline_store.h"
#include "wakks_storage.h"

/* Keys name devices, accounts and sequence numbers, never content: hex is safe to print and is
 * what an operator needs to find the record (spec/storage.md §3 gives the layouts). */
static void report(const char *db, const void *key, size_t klen, void *data)
{
	(void)data;
	const unsigned char *k = key;
	printf("damaged: %s key=", db);
	for (size_t i = 0; i < klen; i++)
		printf("%02x", k[i]);
	printf("\n");
}

int relay_check_data(const struct relay_config *cfg)
{
	uv_loop_t loop;
	struct store *store;
	uint64_t records = 0;
	if (relay_command_store(cfg, &store, &loop) != 0)
		return 1;
	int n = store_check_data(store, report, NULL, &records);
	relay_command_store_close(store, &loop);
	if (n < 0) {
		fprintf(stderr, "wakks-relay: check-data failed: %s\n", store_strerror(n));
		return 1;
	}
	printf("%llu records checked, %d damaged\n", (unsigned long long)records, n);
	return n ? 1 : 0;
}
