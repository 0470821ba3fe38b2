/* SPDX-License-Identifier: MPL-2.0 */
#include "bitrot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bitrot_flip(const char *path, const char *needle, size_t at, uint8_t mask)
{
	FILE *f = fopen(path, "r+b");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = size > 0 ? malloc((size_t)size) : NULL;
	int rc = 0;
	if (buf && fread(buf, 1, (size_t)size, f) == (size_t)size) {
		size_t nl = strlen(needle);
		for (long i = 0; i + (long)nl <= size && i + (long)at < size; i++) {
			if (memcmp(buf + i, needle, nl) == 0) {
				fseek(f, i + (long)at, SEEK_SET);
				fputc(buf[i + at] ^ mask, f);
				rc++;
			}
		}
	}
	free(buf);
	fclose(f);
	return rc;
}
