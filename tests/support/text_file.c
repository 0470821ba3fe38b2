/* SPDX-License-Identifier: MPL-2.0 */
#include "text_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *test_read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
	fclose(f);
	if (buf)
		buf[got] = '\0';
	return buf;
}

int text_replace(char **text, const char *from, const char *to)
{
	char *at = strstr(*text, from);
	if (!at) {
		fprintf(stderr, "shipped file: '%s' not found\n", from);
		return -1;
	}
	size_t head = (size_t)(at - *text), fl = strlen(from), tl = strlen(to);
	size_t rest = strlen(at + fl);
	char *out = malloc(head + tl + rest + 1);
	if (!out)
		return -1;
	memcpy(out, *text, head);
	memcpy(out + head, to, tl);
	memcpy(out + head + tl, at + fl, rest + 1);
	free(*text);
	*text = out;
	return 0;
}
