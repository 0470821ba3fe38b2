/* SPDX-License-Identifier: MPL-2.0 */
#include "core/proxy_addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* Parses a bare address; an IPv4-mapped IPv6 address becomes the IPv4 address it carries, so
 * that one client has one spelling whichever way its connection arrived. */
static int parse_addr(const char *s, int *family, uint8_t addr[16])
{
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		if (memcmp(addr, mapped, 12) == 0) {
			memmove(addr, addr + 12, 4);
			*family = AF_INET;
		} else {
			*family = AF_INET6;
		}
		return 0;
	}
	return -1;
}

int relay_cidr_parse(const char *s, struct relay_cidr *out)
{
	char buf[64];
	if (!s || strlen(s) >= sizeof buf)
		return -1;
	memcpy(buf, s, strlen(s) + 1);
	char *slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	memset(out, 0, sizeof *out);
	if (parse_addr(buf, &out->family, out->addr) != 0)
		return -1;
	int max = out->family == AF_INET ? 32 : 128;
	out->prefix = max;
	if (slash) {
		char *end;
		const char *bits = slash + 1;
		if (!isdigit((unsigned char)bits[0]))
			return -1;
		long b = strtol(bits, &end, 10);
		if (*end || b < 0 || b > max)
			return -1;
		out->prefix = (int)b;
	}
	return 0;
}

int relay_cidr_list_parse(const char *value, struct relay_cidr *out, int max, char *why,
			  size_t why_len)
{
	char buf[1024];
	if (strlen(value) >= sizeof buf) {
		snprintf(why, why_len, "the list is longer than %zu bytes", sizeof buf - 1);
		return -1;
	}
	memcpy(buf, value, strlen(value) + 1);
	int n = 0;
	char *save = NULL;
	for (char *tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if (n == max) {
			snprintf(why, why_len, "more than %d entries", max);
			return -1;
		}
		if (relay_cidr_parse(tok, &out[n]) != 0) {
			snprintf(why, why_len, "'%.64s' is not an address or ADDRESS/BITS block", tok);
			return -1;
		}
		n++;
	}
	return n;
}

static bool in_block(const struct relay_cidr *c, int family, const uint8_t addr[16])
{
	if (c->family != family)
		return false;
	int full = c->prefix / 8, rest = c->prefix % 8;
	if (memcmp(c->addr, addr, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (c->addr[full] & mask) == (addr[full] & mask);
}

static bool contains(const struct relay_cidr *list, int n, int family, const uint8_t addr[16])
{
	for (int i = 0; i < n; i++)
		if (in_block(&list[i], family, addr))
			return true;
	return false;
}

bool relay_cidr_list_contains(const struct relay_cidr *list, int n, const char *addr)
{
	int family;
	uint8_t a[16];
	return parse_addr(addr, &family, a) == 0 && contains(list, n, family, a);
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* The address of one X-Forwarded-For entry or one Forwarded element's for= parameter, without
 * quotes, brackets or port. Returns 0 and fills family/addr, or -1. */
static int entry_addr(char *e, enum relay_proxy_header kind, int *family, uint8_t addr[16])
{
	e = trim(e);
	if (kind == RELAY_PROXY_HEADER_FORWARDED) {
		char *found = NULL, *save = NULL;
		for (char *pair = strtok_r(e, ";", &save); pair; pair = strtok_r(NULL, ";", &save)) {
			pair = trim(pair);
			if (strncasecmp(pair, "for=", 4) == 0)
				found = pair + 4;
		}
		if (!found)
			return -1;
		e = found;
		size_t n = strlen(e);
		if (n >= 2 && e[0] == '"' && e[n - 1] == '"') {
			e[n - 1] = '\0';
			e++;
		}
	}
	if (e[0] == '[') { /* [v6] or [v6]:port */
		char *close = strchr(e, ']');
		if (!close || (close[1] && close[1] != ':'))
			return -1;
		*close = '\0';
		e++;
	} else {
		char *colon = strchr(e, ':');
		if (colon && !strchr(colon + 1, ':'))
			*colon = '\0'; /* v4:port; a bare IPv6 address has more than one colon */
	}
	return parse_addr(e, family, addr);
}

bool relay_proxy_client_address(const struct relay_cidr *trusted, int n,
				 enum relay_proxy_header kind, const char *peer, const char *header,
				 char *out, size_t cap)
{
	snprintf(out, cap, "%s", peer ? peer : RELAY_UNIX_PEER);
	int family;
	uint8_t a[16];
	if (!header || !header[0])
		return false;
	if (peer && (parse_addr(peer, &family, a) != 0 || !contains(trusted, n, family, a)))
		return false;
	char buf[1024];
	snprintf(buf, sizeof buf, "%s", header);
	/* Right to left: each step goes one proxy further from us. */
	bool from_header = false;
	for (;;) {
		char *comma = strrchr(buf, ',');
		char *entry = comma ? comma + 1 : buf;
		if (entry_addr(entry, kind, &family, a) != 0)
			break;
		char text[RELAY_ADDR_STR_MAX];
		inet_ntop(family, a, text, sizeof text);
		snprintf(out, cap, "%s", text);
		from_header = true;
		if (!contains(trusted, n, family, a) || !comma)
			break;
		*comma = '\0';
	}
	return from_header;
}

bool relay_listen_is_local(const char *listen)
{
	if (strncmp(listen, RELAY_LISTEN_UNIX_PREFIX, strlen(RELAY_LISTEN_UNIX_PREFIX)) == 0)
		return relay_listen_unix_path(listen) != NULL;
	int family;
	uint8_t a[16];
	if (parse_addr(listen, &family, a) != 0)
		return false;
	if (family == AF_INET)
		return a[0] == 127;
	static const uint8_t loop6[16] = { [15] = 1 };
	return memcmp(a, loop6, 16) == 0;
}

const char *relay_listen_unix_path(const char *listen)
{
	size_t n = strlen(RELAY_LISTEN_UNIX_PREFIX);
	if (strncmp(listen, RELAY_LISTEN_UNIX_PREFIX, n) != 0)
		return NULL;
	const char *path = listen + n;
	/* An absolute path that fits sockaddr_un's sun_path (108 bytes with its NUL). */
	return path[0] == '/' && strlen(path) < 108 ? path : NULL;
}
