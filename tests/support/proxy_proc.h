/* SPDX-License-Identifier: MPL-2.0 */
/* Debian's reverse proxies run by the tests in front of relays: the shipped configuration files
 * read and their site-specific lines substituted, the proxy started in the foreground on a
 * loopback port and stopped again. */
#ifndef WAKKS_TEST_PROXY_PROC_H
#define WAKKS_TEST_PROXY_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A TCP port on 127.0.0.1 free at the moment, or -1. */
int loopback_free_port(void);

/* Whether something accepts connections on 127.0.0.1:port. */
bool loopback_port_open(int port);

/* Starts argv (argv[0] looked up in PATH) with its output in out_path; it gets SIGTERM when the
 * test process ends. Waits until it accepts on 127.0.0.1:port (at most 5 s). Returns its pid, or
 * -1 after printing its output. */
pid_t proxy_run(char *const argv[], const char *out_path, int port);

/* Writes DIR/haproxy.pem, the certificate followed by its key, as HAProxy's `crt` wants; its
 * path into pem. 0 or -1. */
int haproxy_pem(const char *dir, const char *cert, const char *key, char *pem, size_t cap);

/* Writes DIR/haproxy.cfg (a global section of the test's, then cfg) and runs HAProxy on it in the
 * foreground, its output in DIR/haproxy.stderr (written into log). Returns the pid or -1. */
pid_t haproxy_run(const char *dir, const char *cfg, int port, char *log, size_t log_cap);

/* Sends sig and waits up to 5 s for the process to end; SIGKILL after that. */
void proxy_stop(pid_t pid, int sig);

#endif
