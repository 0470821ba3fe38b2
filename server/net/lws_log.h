/* SPDX-License-Identifier: MPL-2.0 */
/* libwebsockets' own log lines go through the relay's logger (core/log.h), so that they reach
 * the log in the same format as every other line (logfmt or JSON) instead of lws's own
 * "[date] E: text" lines mixed in:
 *   time=... level=warn component=lws event=lws_log msg="..."
 * lws's error and warning lines are logged at error and warn; its notices only at log_level debug
 * (they describe the listener's set-up); its info and debug lines only with WAKKS_LWS_DEBUG set
 * in the environment (they are per connection and very many). */
#ifndef WAKKS_RELAY_NET_LWS_LOG_H
#define WAKKS_RELAY_NET_LWS_LOG_H

/* Sets lws's log mask for the relay's log level (enum relay_log_level) and routes its lines to
 * the relay's logger. */
void relay_lws_log_setup(int relay_log_level);

#endif
