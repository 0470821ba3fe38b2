/* SPDX-License-Identifier: MPL-2.0 */
/* The TLS client context of the test and benchmark clients. */
#ifndef WAKKS_TEST_TLS_CLIENT_H
#define WAKKS_TEST_TLS_CLIENT_H

#include <openssl/ssl.h>

/* TLS 1.2+, certificate not verified (the relay under test has a development certificate),
 * partial writes allowed (non-blocking callers) and buffers released when idle (many held
 * connections). NULL on error. */
SSL_CTX *tls_client_ctx_new(void);

#endif
