/* SPDX-License-Identifier: MPL-2.0 */
/* The relay's one logging path: structured lines on stderr, one event per line, in logfmt
 *   time=2026-11-26T15:02:08.123Z level=info component=relay event=listening port=8443
 * or (log_format = json) as one JSON object per line with the same fields, all strings:
 *   {"time":"2026-11-26T15:02:08.123Z","level":"info","component":"relay","event":"listening","port":"8443"}
 * The level is checked before anything is formatted. Never pass message content, tokens, keys or
 * CPR numbers to it: the log is read by operators, not by the people the messages belong to. */
#ifndef WAKKS_RELAY_CORE_LOG_H
#define WAKKS_RELAY_CORE_LOG_H

#include <stddef.h>

enum relay_log_level { RELAY_LOG_DEBUG, RELAY_LOG_INFO, RELAY_LOG_WARN, RELAY_LOG_ERROR };
enum relay_log_format { RELAY_LOG_LOGFMT, RELAY_LOG_JSON };

extern enum relay_log_level relay_log_threshold;
extern enum relay_log_format relay_log_format;

/* Parses "logfmt" or "json"; returns -1 for anything else. */
int relay_log_format_parse(const char *name);

/* Appends `value` to `out` (of `cap` bytes, NUL-terminated) as one logfmt value: bare when it
 * holds no space, quote, '=' or control character, else double-quoted with \" \\ \n \t escaped.
 * For values that come from outside the relay (a library's message, a peer's string). */
void relay_log_quote(char *out, size_t cap, const char *value);

/* Parses "debug", "info", "warn" or "error"; returns -1 for anything else. */
int relay_log_level_parse(const char *name);

/* `fmt` continues the line with space-separated key=value pairs. */
void relay_log__emit(enum relay_log_level level, const char *component, const char *event,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define RLOG(level, component, event, ...)                                               \
	do {                                                                             \
		if ((level) >= relay_log_threshold)                                      \
			relay_log__emit((level), (component), (event), "" __VA_ARGS__);  \
	} while (0)

#define RLOG_DEBUG(c, e, ...) RLOG(RELAY_LOG_DEBUG, c, e, __VA_ARGS__)
#define RLOG_INFO(c, e, ...) RLOG(RELAY_LOG_INFO, c, e, __VA_ARGS__)
#define RLOG_WARN(c, e, ...) RLOG(RELAY_LOG_WARN, c, e, __VA_ARGS__)
#define RLOG_ERROR(c, e, ...) RLOG(RELAY_LOG_ERROR, c, e, __VA_ARGS__)

#endif
