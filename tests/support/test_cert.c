/* SPDX-License-Identifier: MPL-2.0 */
#include "test_cert.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static X509 *make_cert(EVP_PKEY *key)
{
	X509 *cert = X509_new();
	if (!cert)
		return NULL;
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
	X509_set_version(cert, 2);
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
	X509_NAME *name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost",
				   -1, -1, 0);
	X509_set_issuer_name(cert, name);
	if (!X509_set_pubkey(cert, key) || !X509_sign(cert, key, EVP_sha256())) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

static int write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		return -1;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -1;
	}
	int ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
		     : PEM_write_X509(f, cert);
	return fclose(f) == 0 && ok ? 0 : -1;
}

int test_cert_write(const char *dir, char *cert_path, char *key_path, size_t path_len)
{
	if ((size_t)snprintf(cert_path, path_len, "%s/test-cert.pem", dir) >= path_len ||
	    (size_t)snprintf(key_path, path_len, "%s/test-key.pem", dir) >= path_len)
		return -1;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = key ? make_cert(key) : NULL;
	int rc = cert && write_pem(key_path, 0600, key, NULL) == 0 &&
			 write_pem(cert_path, 0644, NULL, cert) == 0
		     ? 0
		     : -1;
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}
