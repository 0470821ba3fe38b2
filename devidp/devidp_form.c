/* SPDX-License-Identifier: MPL-2.0 */
/* Form and query-string decoding, HTML and URL escaping for the development identity provider. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devidp_internal.h"
#include "wakks_bytes.h"

/* Percent-decodes s[0..n) into a fresh string; NULL on malformed input or NUL bytes. */
static char *decode(const char *s, size_t n, int *err)
{
	char *out = malloc(n + 1);
	size_t o = 0;
	if (!out) {
		*err = ID_ERR_NOMEM;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (i + 2 >= n || wakks_hexval((unsigned char)s[i + 1]) < 0 || wakks_hexval((unsigned char)s[i + 2]) < 0) {
				free(out);
				*err = ID_ERR_INVALID_ARG;
				return NULL;
			}
			c = (char)(wakks_hexval((unsigned char)s[i + 1]) * 16 + wakks_hexval((unsigned char)s[i + 2]));
			i += 2;
		}
		if (c == 0) {
			free(out);
			*err = ID_ERR_INVALID_ARG;
			return NULL;
		}
		out[o++] = c;
	}
	out[o] = 0;
	return out;
}

int devidp__form_parse(const char *s, size_t len, devidp__form *f)
{
	memset(f, 0, sizeof *f);
	if (!s)
		return 0;
	if (len > DEVIDP__FORM_MAX_BYTES)
		return ID_ERR_INVALID_ARG;
	size_t i = 0;
	while (i < len) {
		size_t end = i;
		while (end < len && s[end] != '&')
			end++;
		if (end > i) {
			const char *eq = memchr(s + i, '=', end - i);
			size_t nlen = eq ? (size_t)(eq - (s + i)) : end - i;
			if (f->n == DEVIDP__FORM_MAX_PARAMS)
				return ID_ERR_INVALID_ARG;
			int err = 0;
			char *name = decode(s + i, nlen, &err);
			char *value = name ? (eq ? decode(eq + 1, (size_t)(s + end - eq - 1), &err) : strdup("")) : NULL;
			if (!name || !value) {
				free(name);
				free(value);
				return err ? err : ID_ERR_NOMEM;
			}
			if (devidp__form_get(f, name)) { /* RFC 6749 §3.1: no repeated parameters */
				free(name);
				free(value);
				return ID_ERR_INVALID_ARG;
			}
			f->name[f->n] = name;
			f->value[f->n] = value;
			f->n++;
		}
		i = end + 1;
	}
	return 0;
}

const char *devidp__form_get(const devidp__form *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->name[i], name) == 0)
			return f->value[i];
	return NULL;
}

void devidp__form_free(devidp__form *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->name[i]);
		free(f->value[i]);
	}
	f->n = 0;
}

char *devidp__html_escape(const char *s)
{
	size_t n = 0;
	for (const char *p = s; *p; p++)
		n += (*p == '&') ? 5 : (*p == '<' || *p == '>') ? 4 : (*p == '"' || *p == '\'') ? 6 : 1;
	char *out = malloc(n + 1), *o = out;
	if (!out)
		return NULL;
	for (const char *p = s; *p; p++) {
		const char *rep = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" :
				  *p == '"' ? "&quot;" : *p == '\'' ? "&#x27;" : NULL;
		if (rep) {
			memcpy(o, rep, strlen(rep));
			o += strlen(rep);
		} else {
			*o++ = *p;
		}
	}
	*o = 0;
	return out;
}

char *devidp__url_encode(const char *s)
{
	char *out = malloc(strlen(s) * 3 + 1), *o = out;
	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			*o++ = (char)*p;
		} else {
			sprintf(o, "%%%02X", *p);
			o += 3;
		}
	}
	*o = 0;
	return out;
}
