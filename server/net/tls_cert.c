/* SPDX-License-Identifier: MPL-2.0 */
#include "net/tls_cert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Long enough that a developer never meets an expired certificate, short of "forever". */
#define DEV_CERT_DAYS 825

static int add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -1;
	int ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static X509 *make_cert(EVP_PKEY *key)
{
	X509 *cert = X509_new();
	if (!cert)
		return NULL;
	unsigned char serial[16];
	ASN1_INTEGER *sn = NULL;
	BIGNUM *bn = NULL;
	if (RAND_bytes(serial, sizeof serial) != 1)
		goto fail;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof serial, NULL);
	sn = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	if (!sn || !X509_set_serialNumber(cert, sn) || !X509_set_version(cert, 2))
		goto fail;
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), (long)DEV_CERT_DAYS * 86400);
	X509_NAME *name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
				   (const unsigned char *)"OS2wakks development", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost",
				   -1, -1, 0);
	X509_set_issuer_name(cert, name);
	if (!X509_set_pubkey(cert, key) ||
	    add_ext(cert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") != 0 ||
	    add_ext(cert, NID_basic_constraints, "critical,CA:TRUE") != 0 ||
	    add_ext(cert, NID_key_usage, "critical,digitalSignature,keyCertSign") != 0 ||
	    add_ext(cert, NID_ext_key_usage, "serverAuth") != 0 ||
	    !X509_sign(cert, key, EVP_sha256()))
		goto fail;
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	return cert;
fail:
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	X509_free(cert);
	return NULL;
}

/* Writes through a temporary name and renames, so a crash never leaves half a key. */
static int write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert)
{
	char tmp[1100];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
	if (fd < 0)
		return -1;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -1;
	}
	int ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
		     : PEM_write_X509(f, cert);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ok = 0;
	fclose(f);
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int relay_dev_cert_ensure(const char *data_dir, char *cert_path, char *key_path, size_t path_len,
			  int *created, char *err, size_t err_len)
{
	snprintf(cert_path, path_len, "%s/dev-cert.pem", data_dir);
	snprintf(key_path, path_len, "%s/dev-key.pem", data_dir);
	*created = 0;
	if (access(cert_path, R_OK) == 0 && access(key_path, R_OK) == 0)
		return 0;

	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = key ? make_cert(key) : NULL;
	int rc = -1;
	if (!cert) {
		snprintf(err, err_len, "cannot generate the development certificate");
		goto done;
	}
	if (write_pem(key_path, 0600, key, NULL) != 0 ||
	    write_pem(cert_path, 0644, NULL, cert) != 0) {
		snprintf(err, err_len, "cannot write the development certificate in %s: %s",
			 data_dir, strerror(errno));
		goto done;
	}
	*created = 1;
	rc = 0;
done:
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}
