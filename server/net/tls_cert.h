/* SPDX-License-Identifier: MPL-2.0 */
#ifndef WAKKS_RELAY_NET_TLS_CERT_H
#define WAKKS_RELAY_NET_TLS_CERT_H

#include <stddef.h>

/* Makes sure a development certificate exists in `data_dir` (dev-cert.pem, dev-key.pem): a
 * self-signed EC P-256 certificate for localhost and 127.0.0.1, its key file mode 0600.
 * Writes the two paths; `*created` tells whether this call generated them.
 * Returns 0, or -1 with a reason in `err`. */
int relay_dev_cert_ensure(const char *data_dir, char *cert_path, char *key_path, size_t path_len,
			  int *created, char *err, size_t err_len);

#endif
