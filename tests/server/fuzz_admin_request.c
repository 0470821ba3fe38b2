/* SPDX-License-Identifier: MPL-2.0 */
/* The monitoring listener's request-line parser on arbitrary bytes: it never reads past the
 * input, and what it accepts is a method of A-Z and a path that starts with '/', fits, and holds
 * no space, control character or query. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/admin_listener.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *head = malloc(size + 1);
	if (!head)
		return 0;
	memcpy(head, data, size);
	head[size] = '\0';
	char method[8], path[256];
	if (relay_admin_parse_request(head, method, sizeof method, path, sizeof path) == 0) {
		size_t m = strlen(method), n = strlen(path);
		if (m == 0 || m > 7 || strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != m)
			abort();
		if (n == 0 || path[0] != '/' || n >= sizeof path || strchr(path, '?'))
			abort();
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)path[i] <= ' ' || path[i] == 0x7f)
				abort();
	}
	free(head);
	return 0;
}
