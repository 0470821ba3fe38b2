/* SPDX-License-Identifier: MPL-2.0 */
/* Addresses behind a reverse proxy: the `trusted_proxies` list (addresses and CIDR blocks), the
 * client address a trusted proxy's X-Forwarded-For or Forwarded (RFC 7239) header names, and
 * which listen addresses are local to the machine (where a relay may run without TLS of its
 * own). Pure functions on strings: no sockets, no state. */
#ifndef WAKKS_RELAY_CORE_PROXY_ADDR_H
#define WAKKS_RELAY_CORE_PROXY_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELAY_MAX_TRUSTED_PROXIES 16
/* Longest textual address this module writes (an IPv6 address, NUL included). */
#define RELAY_ADDR_STR_MAX 46

struct relay_cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	int prefix; /* bits that must match */
};

/* Which header a trusted proxy sets: one only, so that a client cannot add the other one and
 * have it believed. */
enum relay_proxy_header { RELAY_PROXY_HEADER_XFF, RELAY_PROXY_HEADER_FORWARDED };

/* Parses "ADDR" or "ADDR/BITS" (IPv4 or IPv6). Returns 0 or -1. */
int relay_cidr_parse(const char *s, struct relay_cidr *out);

/* Parses a comma- or space-separated list of at most `max` entries into out. Returns the count,
 * or -1 with the offending entry described in why. */
int relay_cidr_list_parse(const char *value, struct relay_cidr *out, int max, char *why,
			  size_t why_len);

/* True when addr (textual IPv4 or IPv6; an IPv4-mapped IPv6 address counts as IPv4) lies in one
 * of the n blocks. */
bool relay_cidr_list_contains(const struct relay_cidr *list, int n, const char *addr);

/* A unix socket's peers have no address: they are counted and logged under this name. */
#define RELAY_UNIX_PEER "unix"
/* `listen = unix:/PATH`: the relay listens on a unix socket. */
#define RELAY_LISTEN_UNIX_PREFIX "unix:"

/* The client's address: `peer` itself unless peer is a trusted proxy; then the right-most address
 * of `header` (the chain of addresses proxies appended, client first) that is not a trusted proxy.
 * A chain of trusted proxies only yields its left-most address; an entry that is not an address
 * (garbage, "unknown", an obfuscated Forwarded identifier) ends the walk at the trusted hop to
 * its right, since nothing left of it can be believed. header may be NULL (absent). Writes the
 * normalised address to out (at least RELAY_ADDR_STR_MAX bytes) and returns true when it came
 * from the header. peer NULL: a peer on the relay's unix socket, which only local processes the
 * socket file's permissions admit can reach: it is the proxy, and its header is believed (its own
 * name, without a header, is RELAY_UNIX_PEER). */
bool relay_proxy_client_address(const struct relay_cidr *trusted, int n,
				 enum relay_proxy_header kind, const char *peer, const char *header,
				 char *out, size_t cap);

/* True when a `listen` value can only be reached from this machine: a loopback address
 * (127.0.0.0/8, ::1) or a unix socket (relay_listen_unix_path). */
bool relay_listen_is_local(const char *listen);

/* The socket path of `listen = unix:/PATH` (absolute, shorter than 108 bytes), or NULL when
 * listen is not a usable unix socket address. */
const char *relay_listen_unix_path(const char *listen);

#endif
