/* SPDX-License-Identifier: MPL-2.0 */
/* A self-signed certificate for a relay started without --dev: production mode requires tls_cert
 * and tls_key, so the tests give it a certificate of their own rather than relax that rule. */
#ifndef WAKKS_TEST_CERT_H
#define WAKKS_TEST_CERT_H

#include <stddef.h>

/* Writes DIR/test-cert.pem and DIR/test-key.pem (EC P-256, CN=localhost, key 0600) and their
 * paths into cert_path and key_path. Returns 0 or -1. */
int test_cert_write(const char *dir, char *cert_path, char *key_path, size_t path_len);

#endif
