/* SPDX-License-Identifier: MPL-2.0 */
/* Replacing the public listener's certificate and key while it runs (a reload). libwebsockets
 * 4.1's lws_tls_cert_updated() only updates vhosts whose certificate path equals the one given
 * (a reload that names a new file would change nothing) and does not report a file that fails to
 * load; re-creating the vhost would drop the listening socket. But lws hands the server's SSL_CTX
 * to protocol 0 once, at LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS (net/http.c keeps it
 * in r->tls_ctx), and the relay loads the checked pair into that context itself. OpenSSL
 * copies a context's certificate into each SSL object when the connection is accepted, so loading
 * the new pair into the context changes what new handshakes present, and leaves every
 * established connection as it is. */
#ifndef WAKKS_RELAY_NET_TLS_SWAP_H
#define WAKKS_RELAY_NET_TLS_SWAP_H

#include <stddef.h>

/* Checks that cert_path (a PEM chain) and key_path (its private key) load and belong together,
 * without touching any live context. Returns 0, or -1 with the reason in err. */
int relay_tls_pair_check(const char *cert_path, const char *key_path, char *err, size_t err_len);

/* Loads the pair into ctx (an SSL_CTX *), after relay_tls_pair_check passed. Returns 0, or -1
 * with the reason in err (the context keeps its previous pair then: the new one is checked in
 * a scratch context first). */
int relay_tls_swap(void *ctx, const char *cert_path, const char *key_path, char *err,
		   size_t err_len);

#endif
