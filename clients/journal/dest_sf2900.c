/* SPDX-License-Identifier: MPL-2.0 */
#include "dest_sf2900.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "fsutil.h"
#include "sf2900_layout.h"

struct sfdest {
	jdest base;
	struct jsf2900_conf c;
	char *token;
	uint64_t token_expires_ms;
};

struct body {
	char *p;
	size_t len;
};

static size_t on_data(char *ptr, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t add = size * n;
	if (b->len + add > (4u << 20))
		return 0; /* an answer this large is not one of ours */
	char *p = realloc(b->p, b->len + add + 1);
	if (!p)
		return 0;
	memcpy(p + b->len, ptr, add);
	b->p = p;
	b->len += add;
	p[b->len] = '\0';
	return add;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* POST xml to url with the system certificate. @return the HTTP status (0: no answer). */
static long post(struct sfdest *d, const char *url, const char *action, const char *xml,
		 struct body *out, char *reason, size_t reason_len)
{
	CURL *h = curl_easy_init();
	if (!h) {
		snprintf(reason, reason_len, "libcurl unavailable");
		return 0;
	}
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: text/xml; charset=utf-8");
	char sa[300];
	snprintf(sa, sizeof sa, "SOAPAction: \"%s\"", action);
	hdr = curl_slist_append(hdr, sa);
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, xml);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_SSLCERT, d->c.cert_file);
	curl_easy_setopt(h, CURLOPT_SSLKEY, d->c.key_file);
	if (d->c.ca_file[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, d->c.ca_file);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)d->c.timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)d->c.timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	CURLcode rc = curl_easy_perform(h);
	long status = 0;
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	else
		snprintf(reason, reason_len, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return status;
}

static int get_token(struct sfdest *d, char *reason, size_t reason_len)
{
	/* Kept until a minute before it expires (a token without expiry: five minutes). */
	if (d->token && now_ms() + 60000 < d->token_expires_ms)
		return 0;
	free(d->token);
	d->token = NULL;
	char *req = sf2900_sts_request(d->c.entity_id);
	struct body b = { 0 };
	long st = req ? post(d, d->c.sts_url, "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue",
			     req, &b, reason, reason_len) : 0;
	free(req);
	int rc = -1;
	uint64_t exp = 0;
	if (st == 200 && b.p && sf2900_sts_parse(b.p, b.len, &d->token, &exp) == 0) {
		d->token_expires_ms = exp ? exp : now_ms() + 300000;
		rc = 0;
	} else if (st != 0) {
		snprintf(reason, reason_len, "STS refused the token request (HTTP %ld)", st);
	}
	free(b.p);
	return rc;
}

struct docs {
	struct sf2900_doc d[16];
	struct jsftp_file f[16];
	char local[16][1200], remote[16][300], sftp_path[16][600];
	size_t n;
};

static int add_doc(struct docs *ds, const char *key_hex, const char *local, const char *title,
		   const char *file_name, const char *media_type, uint64_t size, const char *sha)
{
	if (ds->n == 16)
		return -1;
	size_t i = ds->n++;
	char safe[200];
	fs_safe_name(file_name, safe, sizeof safe);
	snprintf(ds->local[i], sizeof ds->local[i], "%s", local);
	/* Named by the idempotency key: a repeated upload replaces the same files. */
	snprintf(ds->remote[i], sizeof ds->remote[i], "%.64s-%zu-%s", key_hex, i, safe);
	ds->f[i] = (struct jsftp_file){ ds->local[i], ds->remote[i] };
	return 0;
}

static int sha256_file(const char *path, char hex[65], uint64_t *size)
{
	uint8_t *data;
	size_t len;
	if (fs_read(path, &data, &len) != 0)
		return -1;
	unsigned char d[32];
	crypto_hash_sha256(d, data, len);
	free(data);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	*size = len;
	return 0;
}

static int sf_handover(jdest *base, const char *note_dir, const char *key_hex, unsigned attempt,
		       char *reason, size_t reason_len)
{
	(void)attempt;
	struct sfdest *d = base->self;
	char path[1100];
	snprintf(path, sizeof path, "%s/note.json", note_dir);
	json_t *note = json_load_file(path, 0, NULL);
	if (!note) {
		snprintf(reason, reason_len, "the spooled note is unreadable");
		return JDEST_REJECTED;
	}
	struct docs *ds = calloc(1, sizeof *ds);
	char pdf_sha[65];
	uint64_t pdf_size;
	snprintf(path, sizeof path, "%s/note.pdf", note_dir);
	int res = JDEST_RETRY;
	if (!ds || sha256_file(path, pdf_sha, &pdf_size) != 0 ||
	    add_doc(ds, key_hex, path, "Journalnotat", "journalnotat.pdf", "application/pdf",
		    pdf_size, pdf_sha) != 0) {
		snprintf(reason, reason_len, "the spooled rendering is unreadable");
		goto out;
	}
	ds->d[0] = (struct sf2900_doc){ "Journalnotat", "journalnotat.pdf", "application/pdf",
					pdf_size, NULL, NULL };
	char shas[16][65];
	memcpy(shas[0], pdf_sha, 65);
	json_t *doc;
	size_t i;
	json_array_foreach(json_object_get(note, "documents"), i, doc)
	{
		const char *rel = json_string_value(json_object_get(doc, "path"));
		if (!rel)
			continue; /* not received: the note's text says so */
		char local[1200];
		snprintf(local, sizeof local, "%s/%s", note_dir, rel);
		const char *name = json_string_value(json_object_get(doc, "file_name"));
		const char *sha = json_string_value(json_object_get(doc, "sha256"));
		size_t k = ds->n;
		if (!name || !sha || strlen(sha) != 64 ||
		    add_doc(ds, key_hex, local, name, name,
			    json_string_value(json_object_get(doc, "media_type")),
			    (uint64_t)json_integer_value(json_object_get(doc, "size")), sha) != 0) {
			snprintf(reason, reason_len, "a spooled document entry is malformed");
			res = JDEST_REJECTED;
			goto out;
		}
		memcpy(shas[k], sha, 65);
		const char *mt = json_string_value(json_object_get(doc, "media_type"));
		ds->d[k] = (struct sf2900_doc){ name, name, mt ? mt : "application/octet-stream",
						(uint64_t)json_integer_value(json_object_get(doc, "size")),
						NULL, NULL };
	}
	for (size_t k = 0; k < ds->n; k++) {
		ds->d[k].sha256_hex = shas[k];
		snprintf(ds->sftp_path[k], sizeof ds->sftp_path[k], "%s/%s", d->c.sftp.remote_dir,
			 ds->remote[k]);
		ds->d[k].sftp_path = ds->sftp_path[k];
	}
	if (jsftp_upload(&d->c.sftp, ds->f, ds->n, reason, reason_len) != 0)
		goto out;
	if (get_token(d, reason, reason_len) != 0)
		goto out;
	char *req = sf2900_handover_request(d->token, d->c.cvr, d->c.sender_system,
					    d->c.recipient_system, key_hex, note, ds->d, ds->n);
	if (!req) {
		snprintf(reason, reason_len, "out of memory");
		goto out;
	}
	struct body b = { 0 };
	long st = post(d, d->c.service_url, "FordelingsobjektAfsend", req, &b, reason, reason_len);
	free(req);
	if (st == 0) {
		res = JDEST_RETRY; /* no answer: the same transaction id is sent again later */
	} else {
		int pr = b.p ? sf2900_handover_parse(b.p, b.len, reason, reason_len) : -1;
		if (st == 200 && pr == 0) {
			res = JDEST_SENT;
		} else if (pr == 1) {
			res = JDEST_REJECTED;
		} else {
			if (pr == -1 || !reason[0])
				snprintf(reason, reason_len, "Serviceplatformen answered HTTP %ld", st);
			/* An expired or refused token: fetch a new one next time. */
			free(d->token);
			d->token = NULL;
			res = JDEST_RETRY;
		}
	}
	free(b.p);
out:
	free(ds);
	json_decref(note);
	return res;
}

static void sf_close(jdest *base)
{
	struct sfdest *d = base->self;
	free(d->token);
	free(d);
}

jdest *jdest_sf2900_new(const struct jsf2900_conf *c, char *err, size_t err_len)
{
	if (!c->service_url[0] || !c->sts_url[0] || !c->cert_file[0] || !c->key_file[0] ||
	    !c->sftp.host[0] || !c->sftp.key_file[0] || !c->sftp.host_fingerprint[0]) {
		snprintf(err, err_len, "sf2900 needs sf2900_service_url, sf2900_sts_url, sf2900_cert, "
				       "sf2900_key, sftp_host, sftp_key and sftp_host_fingerprint");
		return NULL;
	}
	static int inited;
	if (!inited && curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		snprintf(err, err_len, "libcurl initialisation failed");
		return NULL;
	}
	inited = 1;
	struct sfdest *d = calloc(1, sizeof *d);
	if (!d) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	d->c = *c;
	d->base = (jdest){ .name = "sf2900", .self = d, .handover = sf_handover, .close = sf_close };
	return &d->base;
}
