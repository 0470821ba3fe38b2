/* SPDX-License-Identifier: MPL-2.0 */
#include "net/lws_log.h"

#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "core/log.h"

static void emit(int level, const char *line)
{
	enum relay_log_level ours = level & LLL_ERR	 ? RELAY_LOG_ERROR
				    : level & LLL_WARN	 ? RELAY_LOG_WARN
				    : level & LLL_NOTICE ? RELAY_LOG_INFO
							 : RELAY_LOG_DEBUG;
	if (ours < relay_log_threshold)
		return;
	char text[512];
	size_t n = strnlen(line, sizeof text - 1);
	memcpy(text, line, n);
	while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
		n--;
	text[n] = '\0';
	char q[1100] = "";
	relay_log_quote(q, sizeof q, text);
	relay_log__emit(ours, "lws", "lws_log", "msg=%s", q);
}

void relay_lws_log_setup(int relay_log_level)
{
	int mask = LLL_ERR | LLL_WARN;
	if (relay_log_level <= RELAY_LOG_DEBUG)
		mask |= LLL_NOTICE;
	if (getenv("WAKKS_LWS_DEBUG"))
		mask |= LLL_NOTICE | LLL_INFO | LLL_DEBUG;
	lws_set_log_level(mask, emit);
}
