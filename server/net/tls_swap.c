/* SPDX-License-Identifier: MPL-2.0 */
#include "net/tls_swap.h"

#include <stdio.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static int openssl_failed(char *err, size_t err_len, const char *what, const char *path)
{
	unsigned long e = ERR_get_error();
	char why[256] = "unknown error";
	if (e)
		ERR_error_string_n(e, why, sizeof why);
	ERR_clear_error();
	snprintf(err, err_len, "%s %s: %s", what, path, why);
	return -1;
}

static int load_pair(SSL_CTX *ctx, const char *cert_path, const char *key_path, char *err,
		     size_t err_len)
{
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1)
		return openssl_failed(err, err_len, "tls_cert", cert_path);
	if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1)
		return openssl_failed(err, err_len, "tls_key", key_path);
	if (SSL_CTX_check_private_key(ctx) != 1)
		return openssl_failed(err, err_len, "tls_key does not belong to tls_cert", key_path);
	return 0;
}

int relay_tls_pair_check(const char *cert_path, const char *key_path, char *err, size_t err_len)
{
	SSL_CTX *scratch = SSL_CTX_new(TLS_server_method());
	if (!scratch) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	int rc = load_pair(scratch, cert_path, key_path, err, err_len);
	SSL_CTX_free(scratch);
	return rc;
}

int relay_tls_swap(void *ctx, const char *cert_path, const char *key_path, char *err,
		   size_t err_len)
{
	if (!ctx) {
		snprintf(err, err_len, "the listener's TLS context is not known");
		return -1;
	}
	if (relay_tls_pair_check(cert_path, key_path, err, err_len) != 0)
		return -1;
	/* The files were just read successfully; a failure now (they changed in between) leaves
	 * the live context with a certificate whose key may not match, so the check is repeated
	 * there and reported. */
	return load_pair(ctx, cert_path, key_path, err, err_len);
}
