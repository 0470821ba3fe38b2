/* SPDX-License-Identifier: MPL-2.0 */
#include "note.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "fsutil.h"
#include "pdf.h"

void jnote_iso_time(uint64_t ms, char out[32])
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	char b[24];
	strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%s.%03uZ", b, (unsigned)(ms % 1000));
}

/* The text as valid UTF-8: a sender's client should never send anything else, but one byte
 * that is not must not cost the whole note (JSON strings must be UTF-8): each bad byte becomes
 * U+FFFD. */
static json_t *utf8_string(const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	if (j)
		return j;
	char *out = malloc(len * 3 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		size_t n = p[i] < 0x80 ? 1 : (p[i] & 0xE0) == 0xC0 ? 2 : (p[i] & 0xF0) == 0xE0 ? 3
			 : (p[i] & 0xF8) == 0xF0 ? 4 : 0;
		bool ok = n > 0 && i + n <= len && (n == 1 || p[i] >= 0xC2);
		for (size_t k = 1; ok && k < n; k++)
			ok = (p[i + k] & 0xC0) == 0x80;
		if (ok && n > 1) {
			json_t *probe = json_stringn(s + i, n); /* overlong, surrogates, > U+10FFFF */
			ok = probe != NULL;
			json_decref(probe);
		}
		if (ok) {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		}
	}
	j = json_stringn(out, o);
	free(out);
	return j;
}

static json_t *hex_or_null(const uint8_t *id, bool known)
{
	if (!known)
		return json_null();
	char h[33];
	wakks_id_hex(id, h);
	return json_string(h);
}

static void pdf_field(jpdf *p, const char *label, const char *value)
{
	char line[1024];
	snprintf(line, sizeof line, "%s: %s", label, value);
	jpdf_paragraph(p, line, strlen(line), 0);
}

static int render_pdf(const struct jnote *n, const char *sender_label, const char *doc_line,
		      uint64_t now_ms, const char *path)
{
	const wakks_message *m = n->m;
	char t[32], idh[33];
	jpdf *p = jpdf_new("Journalnotat - besked i sikker digital post (OS2wakks)", now_ms);
	if (!p)
		return -1;
	char unit[80];
	snprintf(unit, sizeof unit, "%s / %s", m->tenant, m->unit);
	pdf_field(p, "Myndighed / enhed", unit);
	if (n->citizen_cpr) {
		char who[256];
		snprintf(who, sizeof who, "%s, CPR %.6s-%.4s (verificeret med MitID)",
			 n->citizen_name ? n->citizen_name : "", n->citizen_cpr, n->citizen_cpr + 6);
		pdf_field(p, "Borger", who);
	} else {
		char acc[33] = "ukendt";
		if (n->citizen_known)
			wakks_id_hex(n->citizen, acc);
		char who[128];
		snprintf(who, sizeof who, "konto %s (identitet ikke verificeret)", acc);
		pdf_field(p, "Borger", who);
	}
	pdf_field(p, "Afsender", sender_label);
	jnote_iso_time(m->sent_ms, t);
	pdf_field(p, "Sendt (afsenderens ur, UTC)", t);
	jnote_iso_time(m->stored_ms, t);
	pdf_field(p, "Modtaget af OS2wakks (UTC)", t);
	wakks_id_hex(m->id, idh);
	pdf_field(p, "Besked-id", idh);
	wakks_id_hex(m->conversation, idh);
	pdf_field(p, "Samtale", idh);
	pdf_field(p, "Journalnoegle", n->key_hex);
	jpdf_space(p);
	if (m->attachment) {
		jpdf_paragraph(p, "Bilag", 5, 1);
		jpdf_paragraph(p, doc_line, strlen(doc_line), 0);
	} else {
		jpdf_paragraph(p, "Besked", 6, 1);
		jpdf_paragraph(p, m->text, m->text_len, 0);
	}
	uint8_t *pdf;
	size_t len;
	int rc = jpdf_finish(p, &pdf, &len);
	jpdf_free(p);
	if (rc != 0)
		return -1;
	rc = fs_write_new(path, pdf, len);
	free(pdf);
	return rc;
}

int jnote_spool(const char *spool, const struct jnote *n, uint64_t now_ms, char *err,
		size_t err_len)
{
	const wakks_message *m = n->m;
	char tmp[1024], fin[1024], path[1600];
	snprintf(tmp, sizeof tmp, "%s/.tmp-%s", spool, n->key_hex);
	snprintf(fin, sizeof fin, "%s/%s", spool, n->key_hex);
	/* A partial spool of an earlier run (crashed before its record was written) is redone. */
	if (fs_rm_rf(tmp) != 0 || fs_rm_rf(fin) != 0 || fs_mkdirs(tmp) != 0) {
		snprintf(err, err_len, "spool directory not writable");
		return -1;
	}
	char h[33], t[32];
	json_t *note = json_object();
	json_object_set_new(note, "schema", json_string("wakks.journal.note/1"));
	json_object_set_new(note, "key", json_string(n->key_hex));
	json_object_set_new(note, "tenant", json_string(m->tenant));
	json_object_set_new(note, "unit", json_string(m->unit));
	wakks_id_hex(m->conversation, h);
	json_object_set_new(note, "thread", json_string(h));
	wakks_id_hex(m->id, h);
	json_object_set_new(note, "message_id", json_string(h));
	json_t *cit = json_object();
	json_object_set_new(cit, "account", hex_or_null(n->citizen, n->citizen_known));
	json_object_set_new(cit, "cpr", n->citizen_cpr ? json_string(n->citizen_cpr) : json_null());
	json_object_set_new(cit, "name", n->citizen_name ? json_string(n->citizen_name) : json_null());
	json_object_set_new(cit, "identity",
			    json_string(n->citizen_cpr ? "verified_mitid" : "unverified"));
	if (!n->citizen_cpr && n->identity_reason)
		json_object_set_new(cit, "identity_reason", json_string(n->identity_reason));
	json_object_set_new(note, "citizen", cit);
	json_t *snd = json_object();
	json_object_set_new(snd, "role", json_string(n->from_citizen ? "citizen" : "caseworker"));
	json_object_set_new(snd, "account", hex_or_null(m->sender_account, true));
	json_object_set_new(snd, "device", hex_or_null(m->sender_device, true));
	json_object_set_new(snd, "name", n->sender_name ? json_string(n->sender_name) : json_null());
	json_object_set_new(note, "sender", snd);
	json_object_set_new(note, "direction",
			    json_string(n->from_citizen ? "citizen_to_unit" : "unit_to_citizen"));
	jnote_iso_time(m->sent_ms, t);
	json_object_set_new(note, "sent_at", json_string(t));
	jnote_iso_time(m->stored_ms, t);
	json_object_set_new(note, "stored_at", json_string(t));
	jnote_iso_time(now_ms, t);
	json_object_set_new(note, "noted_at", json_string(t));
	json_object_set_new(note, "text", utf8_string(m->text ? m->text : "", m->text_len));
	json_object_set_new(note, "rendering", json_string("note.pdf"));
	json_t *docs = json_array();
	char doc_line[700] = "";
	int rc = 0;
	if (m->attachment) {
		const wakks_attachment *a = m->attachment;
		json_t *d = json_object();
		json_object_set_new(d, "file_name", utf8_string(a->file_name, strlen(a->file_name)));
		json_object_set_new(d, "media_type", utf8_string(a->media_type, strlen(a->media_type)));
		json_object_set_new(d, "size", json_integer((json_int_t)a->size));
		if (a->state == WAKKS_ATT_SAVED && a->path && a->path[0]) {
			char safe[256], dir[1100];
			fs_safe_name(a->file_name, safe, sizeof safe);
			snprintf(dir, sizeof dir, "%s/documents", tmp);
			snprintf(path, sizeof path, "%s/%s", dir, safe);
			uint8_t sha[32];
			uint64_t size = 0;
			rc = fs_mkdirs(dir);
			if (rc == 0)
				rc = fs_copy_new(a->path, path, sha, &size);
			if (rc == 0)
				rc = fs_fsync_dir(dir);
			if (rc != 0 || size != a->size) {
				snprintf(err, err_len, "received file could not be copied to the spool");
				rc = -1;
			} else {
				char hex[65];
				for (int i = 0; i < 32; i++)
					snprintf(hex + 2 * i, 3, "%02x", sha[i]);
				json_object_set_new(d, "sha256", json_string(hex));
				char rel[300];
				snprintf(rel, sizeof rel, "documents/%s", safe);
				json_object_set_new(d, "path", json_string(rel));
				json_object_set_new(d, "state", json_string("received"));
				snprintf(doc_line, sizeof doc_line, "%s (%s, %llu bytes, SHA-256 %s)",
					 a->file_name, a->media_type, (unsigned long long)a->size, hex);
			}
		} else {
			/* The blob was gone or did not verify: the note says so; nothing is dropped. */
			json_object_set_new(d, "sha256", json_null());
			json_object_set_new(d, "path", json_null());
			json_object_set_new(d, "state", json_string("not_received"));
			snprintf(doc_line, sizeof doc_line, "%s (%s): filen kunne ikke modtages",
				 a->file_name, a->media_type);
		}
		json_array_append_new(docs, d);
	}
	json_object_set_new(note, "documents", docs);
	const char *sender_label = n->from_citizen ? "Borger" : "Sagsbehandler";
	char label[300];
	if (!n->from_citizen && n->sender_name) {
		snprintf(label, sizeof label, "Sagsbehandler %s", n->sender_name);
		sender_label = label;
	} else if (!n->from_citizen) {
		wakks_id_hex(m->sender_account, h);
		snprintf(label, sizeof label, "Sagsbehandler (konto %s)", h);
		sender_label = label;
	}
	if (rc == 0) {
		snprintf(path, sizeof path, "%s/note.pdf", tmp);
		rc = render_pdf(n, sender_label, doc_line, now_ms, path);
		if (rc != 0)
			snprintf(err, err_len, "note rendering could not be written");
	}
	if (rc == 0) {
		char *text = json_dumps(note, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
		snprintf(path, sizeof path, "%s/note.json", tmp);
		rc = text ? fs_write_new(path, text, strlen(text)) : -1;
		free(text);
		if (rc != 0)
			snprintf(err, err_len, "note could not be written");
	}
	json_decref(note);
	if (rc == 0 && (fs_fsync_dir(tmp) != 0 || fs_rename_durable(tmp, fin) != 0)) {
		snprintf(err, err_len, "spool rename failed");
		rc = -1;
	}
	if (rc != 0)
		fs_rm_rf(tmp);
	return rc;
}

static const char *js(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

int jnote_render_day_pdf(json_t *day, const char *path, uint64_t now_ms)
{
	char title[200];
	snprintf(title, sizeof title, "Journalnotat - samtale %s (OS2wakks)", js(day, "date"));
	jpdf *p = jpdf_new(title, now_ms);
	if (!p)
		return -1;
	char line[600];
	snprintf(line, sizeof line, "%s / %s", js(day, "tenant"), js(day, "unit"));
	pdf_field(p, "Myndighed / enhed", line);
	json_t *cit = json_object_get(day, "citizen");
	if (json_string_value(json_object_get(cit, "cpr")))
		snprintf(line, sizeof line, "%s, CPR %.6s-%.4s (verificeret med MitID)", js(cit, "name"),
			 js(cit, "cpr"), strlen(js(cit, "cpr")) == 10 ? js(cit, "cpr") + 6 : "");
	else
		snprintf(line, sizeof line, "konto %s (identitet ikke verificeret)",
			 json_string_value(json_object_get(cit, "account")) ? js(cit, "account") : "ukendt");
	pdf_field(p, "Borger", line);
	pdf_field(p, "Samtale", js(day, "thread"));
	pdf_field(p, "Dato", js(day, "date"));
	pdf_field(p, "Journalnoegle", js(day, "key"));
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(day, "messages"), i, m)
	{
		jpdf_space(p);
		json_t *snd = json_object_get(m, "sender");
		bool cw = strcmp(js(snd, "role"), "caseworker") == 0;
		snprintf(line, sizeof line, "%s  %s%s%s", js(m, "stored_at"), cw ? "Sagsbehandler" : "Borger",
			 cw ? " " : "", cw ? (json_string_value(json_object_get(snd, "name")) ? js(snd, "name") : js(snd, "account")) : "");
		jpdf_paragraph(p, line, strlen(line), 1);
		const char *t = js(m, "text");
		if (t[0])
			jpdf_paragraph(p, t, strlen(t), 0);
		size_t k;
		json_t *d;
		json_array_foreach(json_object_get(m, "documents"), k, d)
		{
			snprintf(line, sizeof line, "Bilag: %s (%s, %lld bytes%s%s)", js(d, "file_name"),
				 js(d, "media_type"), (long long)json_integer_value(json_object_get(d, "size")),
				 json_string_value(json_object_get(d, "sha256")) ? ", SHA-256 " : ", ikke modtaget",
				 js(d, "sha256"));
			jpdf_paragraph(p, line, strlen(line), 0);
		}
	}
	uint8_t *pdf;
	size_t len;
	int rc = jpdf_finish(p, &pdf, &len);
	jpdf_free(p);
	if (rc != 0)
		return -1;
	rc = fs_write_new(path, pdf, len);
	free(pdf);
	return rc;
}
