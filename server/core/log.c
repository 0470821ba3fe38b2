/* SPDX-License-Identifier: MPL-2.0 */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum relay_log_level relay_log_threshold = RELAY_LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

int relay_log_level_parse(const char *name)
{
	for (int i = 0; i < (int)(sizeof level_names / sizeof level_names[0]); i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

void relay_log__emit(enum relay_log_level level, const char *component, const char *event,
		     const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	char line[1024];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof line,
			 "time=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s component=%s event=%s",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, level_names[level], component, event);
	if (n < 0 || (size_t)n >= sizeof line)
		n = (int)sizeof line - 1;
	if (fmt[0] != '\0' && (size_t)n < sizeof line - 2) {
		line[n++] = ' ';
		va_list ap;
		va_start(ap, fmt);
		int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
		va_end(ap);
		if (m > 0)
			n += m;
		if ((size_t)n >= sizeof line)
			n = (int)sizeof line - 1;
	}
	line[n] = '\0';
	/* One write per line so lines from the storage thread never interleave mid-line. */
	fprintf(stderr, "%s\n", line);
}
