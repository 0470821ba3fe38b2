/* SPDX-License-Identifier: MPL-2.0 */
#include "core/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum relay_log_level relay_log_threshold = RELAY_LOG_INFO;
enum relay_log_format relay_log_format = RELAY_LOG_LOGFMT;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

/* A line longer than this is cut (a log line is an event, never a payload). */
#define LOG_LINE_MAX 1024

int relay_log_level_parse(const char *name)
{
	for (int i = 0; i < (int)(sizeof level_names / sizeof level_names[0]); i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

int relay_log_format_parse(const char *name)
{
	if (strcmp(name, "logfmt") == 0)
		return RELAY_LOG_LOGFMT;
	if (strcmp(name, "json") == 0)
		return RELAY_LOG_JSON;
	return -1;
}

void relay_log_quote(char *out, size_t cap, const char *value)
{
	size_t n = strnlen(out, cap);
	bool bare = value[0] != '\0';
	for (const char *c = value; *c && bare; c++)
		bare = *c != ' ' && *c != '"' && *c != '=' && *c != '\\' && (unsigned char)*c >= 0x20 &&
		       *c != 0x7f;
	if (bare) {
		snprintf(out + n, cap - n, "%s", value);
		return;
	}
	/* Room is kept for the closing quote and the NUL. */
	if (n + 3 > cap)
		return;
	out[n++] = '"';
	for (const char *c = value; *c && n + 4 <= cap; c++) {
		char esc = *c == '"' ? '"' : *c == '\\' ? '\\' : *c == '\n' ? 'n' : *c == '\t' ? 't' : 0;
		if (esc) {
			out[n++] = '\\';
			out[n++] = esc;
		} else if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			out[n++] = '?';
		} else {
			out[n++] = *c;
		}
	}
	out[n++] = '"';
	out[n] = '\0';
}

/* Appends s as the body of a JSON string (no quotes). */
static size_t json_chars(char *out, size_t n, size_t cap, const char *s, size_t len)
{
	for (size_t i = 0; i < len && n + 7 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
		} else {
			out[n++] = (char)c;
		}
	}
	return n;
}

/* The logfmt pairs in `in` as JSON members (",\"k\":\"v\"" each). A quoted value keeps its
 * escapes' meaning; a word without '=' (a caller's slip) becomes the value of "msg". */
static size_t json_pairs(char *out, size_t n, size_t cap, const char *in)
{
	const char *p = in;
	while (*p && n + 16 < cap) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		const char *k = p;
		while (*p && *p != '=' && *p != ' ')
			p++;
		size_t klen = (size_t)(p - k);
		char val[LOG_LINE_MAX];
		size_t vlen = 0;
		if (*p != '=') {
			memcpy(val, k, klen);
			vlen = klen;
			k = "msg";
			klen = 3;
		} else if (*++p == '"') {
			for (p++; *p && *p != '"' && vlen + 1 < sizeof val; p++) {
				if (*p == '\\' && p[1]) {
					p++;
					val[vlen++] = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
				} else {
					val[vlen++] = *p;
				}
			}
			if (*p == '"')
				p++;
		} else {
			while (*p && *p != ' ' && vlen + 1 < sizeof val)
				val[vlen++] = *p++;
		}
		out[n++] = ',';
		out[n++] = '"';
		n = json_chars(out, n, cap, k, klen);
		if (n + 4 >= cap)
			break;
		memcpy(out + n, "\":\"", 3);
		n += 3;
		n = json_chars(out, n, cap, val, vlen);
		if (n + 2 >= cap)
			break;
		out[n++] = '"';
	}
	return n;
}

void relay_log__emit(enum relay_log_level level, const char *component, const char *event,
		     const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	char pairs[LOG_LINE_MAX] = "";
	/* Room for every pair escaped (a quote or backslash doubles; control characters never reach
	 * here unescaped, relay_log_quote replaces them). */
	char line[8 * LOG_LINE_MAX];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (fmt[0] != '\0') {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(pairs, sizeof pairs, fmt, ap);
		va_end(ap);
	}
	char when[64];
	snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	size_t n;
	if (relay_log_format == RELAY_LOG_JSON) {
		int m = snprintf(line, sizeof line,
				 "{\"time\":\"%s\",\"level\":\"%s\",\"component\":\"%s\",\"event\":\"%s\"",
				 when, level_names[level], component, event);
		n = m < 0 || (size_t)m >= sizeof line ? 0 : (size_t)m;
		n = json_pairs(line, n, sizeof line - 2, pairs);
		line[n++] = '}';
	} else {
		int m = snprintf(line, sizeof line, "time=%s level=%s component=%s event=%s%s%s", when,
				 level_names[level], component, event, pairs[0] ? " " : "", pairs);
		n = m < 0 ? 0 : (size_t)m >= sizeof line - 1 ? sizeof line - 2 : (size_t)m;
	}
	line[n++] = '\n';
	line[n] = '\0';
	/* One write per line so lines from the storage thread never interleave mid-line. */
	fputs(line, stderr);
}
