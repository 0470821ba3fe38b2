/* SPDX-License-Identifier: MPL-2.0 */
/* Fuzz target for the PostgreSQL engine's notification decoder (storage/pg/listen.c): payloads
 * arrive from whoever may NOTIFY on the database. Input: one selector byte (channel: wake, event,
 * another; and whether the payload claims this store's own instance id), then the payload. What
 * decodes must re-encode to the payload's hex (case aside), and this store's own payloads and
 * other channels must never decode. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pg_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char own[] = "00112233445566778899aabbccddeeff";

static void same_hex(const uint8_t *b, size_t n, const char *hex)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++)
		if (tolower((unsigned char)hex[2 * i]) != digits[b[i] >> 4] ||
		    tolower((unsigned char)hex[2 * i + 1]) != digits[b[i] & 15])
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 9000)
		return 0;
	static const char *const channels[] = {PG__WAKE_CHANNEL, PG__EVENT_CHANNEL, "other"};
	const char *channel = channels[(data[0] & 3) % 3];
	bool mine = data[0] & 4;
	char *payload = malloc(size + sizeof own);
	if (!payload)
		return 0;
	size_t off = 0;
	if (mine) {
		memcpy(payload, own, 32);
		off = 32;
	}
	memcpy(payload + off, data + 1, size - 1);
	payload[off + size - 1] = '\0'; /* libpq hands out NUL-terminated text */
	size_t plen = strlen(payload);
	uint8_t ids[PG__WAKE_MAX][STORE_ID_BYTES], msg[STORE_BROADCAST_MAX];
	size_t n = 0, mlen = 0;
	int kind = pg__notify_parse(channel, payload, own, ids, &n, msg, &mlen);
	if (kind != PG__NOTIFY_IGNORE && (mine || plen < 32 || strncmp(payload, own, 32) == 0))
		abort();
	if (kind == PG__NOTIFY_WAKE) {
		if (strcmp(channel, PG__WAKE_CHANNEL) != 0 || n == 0 || n > PG__WAKE_MAX ||
		    plen != 32 + n * 32)
			abort();
		for (size_t i = 0; i < n; i++)
			same_hex(ids[i], STORE_ID_BYTES, payload + 32 + i * 32);
	} else if (kind == PG__NOTIFY_EVENT) {
		if (strcmp(channel, PG__EVENT_CHANNEL) != 0 || mlen == 0 ||
		    mlen > STORE_BROADCAST_MAX || plen != 32 + 2 * mlen)
			abort();
		same_hex(msg, mlen, payload + 32);
	} else if (kind != PG__NOTIFY_IGNORE) {
		abort();
	}
	free(payload);
	return 0;
}
