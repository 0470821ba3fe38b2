/* SPDX-License-Identifier: MPL-2.0 */
/* Fuzz target: a proxy header as any client can shape it (what it sends is what nginx passes on,
 * with the client's address appended), and the trusted_proxies list parser. First byte: which
 * header (even: X-Forwarded-For, odd: Forwarded); the rest: the header's value. Whatever the
 * input, the address chosen is the peer itself or a well-formed address, and a header can only
 * name the client when the peer is a trusted proxy. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/proxy_addr.h"

static bool is_address(const char *s)
{
	uint8_t buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	enum relay_proxy_header kind = data[0] & 1 ? RELAY_PROXY_HEADER_FORWARDED : RELAY_PROXY_HEADER_XFF;
	char *header = malloc(size);
	memcpy(header, data + 1, size - 1);
	header[size - 1] = '\0';

	static struct relay_cidr trusted[RELAY_MAX_TRUSTED_PROXIES];
	char why[128];
	int n = relay_cidr_list_parse("127.0.0.1, 10.0.0.0/8, 2001:db8::/32", trusted,
				      RELAY_MAX_TRUSTED_PROXIES, why, sizeof why);
	if (n != 3)
		abort();
	char out[RELAY_ADDR_STR_MAX];
	bool from_header = relay_proxy_client_address(trusted, n, kind, "127.0.0.1", header, out,
						      sizeof out);
	if (!is_address(out) || (!from_header && strcmp(out, "127.0.0.1") != 0))
		abort();
	/* A unix socket's peer (NULL) is the local proxy: its header is read, or it is "unix". */
	relay_proxy_client_address(trusted, n, kind, NULL, header, out, sizeof out);
	if (!is_address(out) && strcmp(out, RELAY_UNIX_PEER) != 0)
		abort();
	/* An untrusted peer's header is never read. */
	if (relay_proxy_client_address(trusted, n, kind, "198.51.100.1", header, out, sizeof out) ||
	    strcmp(out, "198.51.100.1") != 0)
		abort();

	/* The same bytes as a trusted_proxies value: parsed or refused with a reason, never more
	 * entries than asked for. */
	struct relay_cidr list[4];
	int m = relay_cidr_list_parse(header, list, 4, why, sizeof why);
	if (m > 4 || (m < 0 && !why[0]))
		abort();
	for (int i = 0; i < m; i++)
		if (list[i].prefix < 0 || list[i].prefix > (list[i].family == AF_INET ? 32 : 128))
			abort();
	free(header);
	return 0;
}
