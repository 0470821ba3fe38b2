/* SPDX-License-Identifier: MPL-2.0 */
/* The development identity provider's instance: configuration copy, and its signing key,
 * generated on first use and kept in a 0600 file so tokens survive a restart. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "devidp_internal.h"

#define KEYFILE_MAX_BYTES 16384 /* an RSA-2048 private JWK is ~1.7 KiB */
#define RSA_BITS 2048

static const char *key_file_name(id_profile p)
{
	return p == ID_PROFILE_ADFS ? "devidp-rs256.jwk" : "devidp-es256.jwk";
}

static char *path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + 1 + strlen(name) + 1;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* True if the key is the private key of the profile's type. */
static bool key_fits(const cjose_jwk_t *k, id_profile p)
{
	cjose_err cerr;
	cjose_jwk_kty_t kty = cjose_jwk_get_kty(k, &cerr);
	if (p == ID_PROFILE_ADFS ? kty != CJOSE_JWK_KTY_RSA : kty != CJOSE_JWK_KTY_EC)
		return false;
	if (kty == CJOSE_JWK_KTY_EC && cjose_jwk_EC_get_curve(k, &cerr) != CJOSE_JWK_EC_P_256)
		return false;
	char *priv = cjose_jwk_to_json(k, true, &cerr);
	bool has_d = priv && strstr(priv, "\"d\"") != NULL;
	if (priv) {
		sodium_memzero(priv, strlen(priv));
		free(priv);
	}
	return has_d;
}

static int load_key(const char *path, id_profile p, cjose_jwk_t **out)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 1 : ID_ERR_IO;
	struct stat st;
	char *buf = NULL;
	int rc = DEVIDP_ERR_KEYFILE;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0777) != 0600 ||
	    st.st_uid != geteuid() || st.st_size <= 0 || st.st_size > KEYFILE_MAX_BYTES)
		goto done;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = ID_ERR_NOMEM;
		goto done;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r <= 0) {
			rc = ID_ERR_IO;
			goto done;
		}
		got += (size_t)r;
	}
	buf[got] = 0;
	cjose_err cerr;
	cjose_jwk_t *k = cjose_jwk_import(buf, got, &cerr);
	if (!k || !key_fits(k, p)) {
		if (k)
			cjose_jwk_release(k);
		goto done;
	}
	*out = k;
	rc = 0;
done:
	if (buf) {
		sodium_memzero(buf, (size_t)st.st_size);
		free(buf);
	}
	close(fd);
	return rc;
}

static int save_key(const char *dir, const char *path, const cjose_jwk_t *k)
{
	cjose_err cerr;
	char *json = cjose_jwk_to_json(k, true, &cerr);
	if (!json)
		return ID_ERR_CRYPTO;
	size_t len = strlen(json);
	char *tmp = malloc(strlen(path) + 5);
	int rc = ID_ERR_NOMEM, fd = -1;
	if (!tmp)
		goto done;
	sprintf(tmp, "%s.tmp", path);
	unlink(tmp);
	rc = ID_ERR_IO;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || fchmod(fd, 0600) != 0)
		goto done;
	size_t put = 0;
	while (put < len) {
		ssize_t w = write(fd, json + put, len - put);
		if (w <= 0)
			goto done;
		put += (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto done;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto done;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	if (rc != 0 && tmp)
		unlink(tmp);
	free(tmp);
	sodium_memzero(json, len);
	free(json);
	return rc;
}

static cjose_jwk_t *generate_key(id_profile p)
{
	cjose_err cerr;
	if (p == ID_PROFILE_ADFS) {
		static const uint8_t e65537[] = { 0x01, 0x00, 0x01 };
		return cjose_jwk_create_RSA_random(RSA_BITS, e65537, sizeof e65537, &cerr);
	}
	return cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &cerr);
}

static int build_jwks(devidp *d)
{
	cjose_err cerr;
	char *pub = cjose_jwk_to_json(d->key, false, &cerr);
	if (!pub)
		return ID_ERR_CRYPTO;
	json_error_t jerr;
	json_t *k = json_loads(pub, 0, &jerr);
	free(pub);
	if (!k)
		return ID_ERR_CRYPTO;
	json_object_set_new(k, "use", json_string("sig"));
	json_object_set_new(k, "alg", json_string(devidp_alg(d)));
	json_object_set_new(k, "kid", json_string(d->kid));
	json_t *doc = json_pack("{s:[o]}", "keys", k);
	if (!doc)
		return ID_ERR_NOMEM;
	d->jwks_json = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	return d->jwks_json ? 0 : ID_ERR_NOMEM;
}

static int copy_member(json_t *dst, const json_t *src, const char *name)
{
	json_t *v = json_object_get(src, name);
	return v && json_object_set(dst, name, v) == 0 ? 0 : -1;
}

/* RFC 7638 thumbprint of a public RSA or EC JWK, base64url: the key's kid. */
static int jwk_thumbprint(const cjose_jwk_t *jwk, char out[ID_NONCE_BUF_BYTES])
{
	cjose_err cerr;
	char *pub = cjose_jwk_to_json(jwk, false, &cerr);
	if (!pub)
		return ID_ERR_CRYPTO;
	json_error_t jerr;
	json_t *o = json_loads(pub, 0, &jerr);
	free(pub);
	if (!o)
		return ID_ERR_CRYPTO;
	/* RFC 7638: the required members only, lexicographic order, no whitespace. */
	json_t *canon = json_object();
	const char *kty = json_string_value(json_object_get(o, "kty"));
	static const char *const rsa[] = { "e", "kty", "n", NULL };
	static const char *const ec[] = { "crv", "kty", "x", "y", NULL };
	const char *const *names = kty && strcmp(kty, "RSA") == 0 ? rsa : ec;
	int rc = canon ? 0 : ID_ERR_NOMEM;
	for (size_t i = 0; rc == 0 && names[i]; i++)
		if (copy_member(canon, o, names[i]) != 0)
			rc = ID_ERR_CRYPTO;
	char *text = rc == 0 ? json_dumps(canon, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (rc == 0 && !text)
		rc = ID_ERR_NOMEM;
	if (rc == 0) {
		uint8_t h[ID_HASH_BYTES];
		crypto_hash_sha256(h, (const uint8_t *)text, strlen(text));
		id_b64url_encode(h, sizeof h, out, ID_NONCE_BUF_BYTES);
	}
	free(text);
	json_decref(canon);
	json_decref(o);
	return rc;
}

int devidp_open(const devidp_config *cfg, devidp **out)
{
	if (!cfg || !out || !cfg->issuer || !cfg->client_id || !cfg->key_dir ||
	    (cfg->profile != ID_PROFILE_MITID_BROKER && cfg->profile != ID_PROFILE_ADFS) ||
	    (cfg->n_redirect_uris && !cfg->redirect_uris))
		return ID_ERR_CONFIG;
	size_t ilen = strlen(cfg->issuer);
	if (ilen == 0 || ilen > ID_ISSUER_MAX_BYTES || cfg->issuer[ilen - 1] == '/' ||
	    strlen(cfg->client_id) == 0 || strlen(cfg->client_id) > DEVIDP__CLIENT_ID_MAX)
		return ID_ERR_CONFIG;
	if (sodium_init() < 0)
		return ID_ERR_CRYPTO;
	devidp *d = calloc(1, sizeof *d);
	char *path = NULL;
	int rc = ID_ERR_NOMEM;
	if (!d)
		return ID_ERR_NOMEM;
	d->profile = cfg->profile;
	d->token_lifetime = cfg->token_lifetime_seconds ? cfg->token_lifetime_seconds : 300;
	d->code_lifetime = cfg->code_lifetime_seconds ? cfg->code_lifetime_seconds : 60;
	d->issuer = strdup(cfg->issuer);
	d->client_id = strdup(cfg->client_id);
	if (!d->issuer || !d->client_id)
		goto fail;
	if (cfg->n_redirect_uris) {
		d->redirect_uris = calloc(cfg->n_redirect_uris, sizeof *d->redirect_uris);
		if (!d->redirect_uris)
			goto fail;
		for (size_t i = 0; i < cfg->n_redirect_uris; i++) {
			if (!cfg->redirect_uris[i] || strlen(cfg->redirect_uris[i]) > DEVIDP__REDIRECT_URI_MAX) {
				rc = ID_ERR_CONFIG;
				goto fail;
			}
			if (!(d->redirect_uris[i] = strdup(cfg->redirect_uris[i])))
				goto fail;
			d->n_redirect_uris++;
		}
	}
	if (mkdir(cfg->key_dir, 0700) != 0 && errno != EEXIST) {
		rc = ID_ERR_IO;
		goto fail;
	}
	path = path_join(cfg->key_dir, key_file_name(cfg->profile));
	if (!path)
		goto fail;
	rc = load_key(path, cfg->profile, &d->key);
	if (rc == 1) { /* first use */
		d->key = generate_key(cfg->profile);
		rc = d->key ? save_key(cfg->key_dir, path, d->key) : ID_ERR_CRYPTO;
	}
	if (rc != 0)
		goto fail;
	rc = jwk_thumbprint(d->key, d->kid);
	if (rc != 0)
		goto fail;
	cjose_err cerr;
	if (!cjose_jwk_set_kid(d->key, d->kid, strlen(d->kid), &cerr)) {
		rc = ID_ERR_CRYPTO;
		goto fail;
	}
	rc = build_jwks(d);
	if (rc != 0)
		goto fail;
	free(path);
	*out = d;
	return 0;
fail:
	free(path);
	devidp_close(d);
	return rc;
}

void devidp_close(devidp *d)
{
	if (!d)
		return;
	if (d->key)
		cjose_jwk_release(d->key);
	for (size_t i = 0; i < d->n_redirect_uris; i++)
		free(d->redirect_uris[i]);
	free(d->redirect_uris);
	free(d->issuer);
	free(d->client_id);
	free(d->jwks_json);
	sodium_memzero(d->codes, sizeof d->codes);
	free(d);
}

const char *devidp_issuer(const devidp *d)
{
	return d->issuer;
}

const char *devidp_kid(const devidp *d)
{
	return d->kid;
}

const char *devidp_alg(const devidp *d)
{
	return d->profile == ID_PROFILE_ADFS ? "RS256" : "ES256";
}

const char *devidp_jwks_json(const devidp *d)
{
	return d->jwks_json;
}

char *devidp_private_jwk_json(const devidp *d)
{
	cjose_err cerr;
	return cjose_jwk_to_json(d->key, true, &cerr);
}

id_kind devidp__kind(const devidp *d)
{
	return d->profile == ID_PROFILE_ADFS ? ID_KIND_CASEWORKER : ID_KIND_CITIZEN;
}

bool devidp__redirect_allowed(const devidp *d, const char *uri)
{
	if (!uri || !uri[0] || strlen(uri) > DEVIDP__REDIRECT_URI_MAX)
		return false;
	if (d->n_redirect_uris == 0)
		return strncmp(uri, "https://", 8) == 0 || strncmp(uri, "http://localhost", 16) == 0 ||
		       strncmp(uri, "http://127.0.0.1", 16) == 0;
	for (size_t i = 0; i < d->n_redirect_uris; i++)
		if (strcmp(d->redirect_uris[i], uri) == 0)
			return true;
	return false;
}
