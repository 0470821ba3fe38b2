/* SPDX-License-Identifier: MPL-2.0 */
/* Units of wakks-journal without a relay: the PDF writer (read back by poppler's pdftotext and
 * pdfinfo), the sf2900 layouts (a request our own parser and the receipt parser round-trip,
 * escapes, malformed input), and the journal store's read-modify-write. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "fsutil.h"
#include "jstore.h"
#include "pdf.h"
#include "sf2900_layout.h"
#include "test.h"

static char dir[256];

static char *run_capture(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	if (!p)
		return NULL;
	char *buf = calloc(1, 1 << 18);
	if (buf && fread(buf, 1, (1 << 18) - 1, p) == 0)
		buf[0] = '\0';
	pclose(p);
	return buf;
}

/* pdfinfo's "Name:   value" line has value (the padding varies by version). */
static bool field_is(const char *info, const char *name, const char *value)
{
	const char *p = info ? strstr(info, name) : NULL;
	if (!p)
		return false;
	p += strlen(name);
	while (*p == ' ')
		p++;
	return strncmp(p, value, strlen(value)) == 0 && p[strlen(value)] == '\n';
}

static void pdf_reads_back_with_danish_letters_escapes_and_pages(void)
{
	jpdf *p = jpdf_new("Journalnotat (prøve) \\ test", 1764730000000ull);
	REQUIRE(p);
	const char *t = "Æblegrød og blåbær – 100 € (parentes) og \\backslash\\";
	jpdf_paragraph(p, t, strlen(t), 0);
	/* A long paragraph that wraps, and enough lines for three pages. */
	char longp[4000];
	size_t n = 0;
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(longp + n, sizeof longp - n, "ord%d ", i);
	jpdf_paragraph(p, longp, n, 0);
	for (int i = 0; i < 120; i++) {
		char l[32];
		snprintf(l, sizeof l, "linje %d", i);
		jpdf_paragraph(p, l, strlen(l), i % 10 == 0);
	}
	const char bad[] = { 'a', (char)0xff, 'b', 0x01, 'c', 0 };
	jpdf_paragraph(p, bad, strlen(bad), 0);
	uint8_t *out;
	size_t len;
	REQUIRE(jpdf_finish(p, &out, &len) == 0);
	jpdf_free(p);
	char path[400];
	snprintf(path, sizeof path, "%s/t.pdf", dir);
	REQUIRE(fs_write_new(path, out, len) == 0);
	free(out);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "pdfinfo '%s' 2>&1", path);
	char *info = run_capture(cmd);
	CHECK(field_is(info, "Pages:", "3"));
	CHECK(field_is(info, "Title:", "Journalnotat (prøve) \\ test"));
	CHECK(info && !strstr(info, "Error") && !strstr(info, "Syntax"));
	free(info);
	snprintf(cmd, sizeof cmd, "pdftotext -enc UTF-8 '%s' - 2>&1", path);
	char *txt = run_capture(cmd);
	CHECK(txt && strstr(txt, t));
	CHECK(txt && strstr(txt, "ord299"));
	CHECK(txt && strstr(txt, "linje 119"));
	CHECK(txt && strstr(txt, "a?b c")); /* not Windows-1252: '?'; a control byte: a space */
	CHECK(txt && !strstr(txt, "Error"));
	free(txt);
}

static void receipts_parse_and_refuse(void)
{
	const char *ok = "<s:Envelope><s:Body><fk:FordelingskvitteringModtagRequest>"
			 "<fk:TransaktionsId>abc</fk:TransaktionsId><fk:KvitteringsType>Forretning"
			 "</fk:KvitteringsType><fk:Status>Afvist</fk:Status><fk:Aarsag>A &lt;b&gt; &amp; "
			 "c</fk:Aarsag></fk:FordelingskvitteringModtagRequest></s:Body></s:Envelope>";
	struct sf2900_receipt r;
	char why[200];
	CHECK_EQ_INT(sf2900_receipt_parse(ok, strlen(ok), &r, why, sizeof why), 0);
	CHECK_EQ_INT(r.kind, SF2900_BUSINESS);
	CHECK(!r.accepted);
	CHECK(strcmp(r.transaction_id, "abc") == 0);
	CHECK(strcmp(r.reason, "A <b> & c") == 0);
	const char *bad[] = {
		"<fk:FordelingskvitteringModtagRequest><fk:KvitteringsType>Teknisk</fk:KvitteringsType>",
		"<fk:FordelingskvitteringModtagRequest><fk:TransaktionsId>a</fk:TransaktionsId>"
		"<fk:KvitteringsType>Andet</fk:KvitteringsType><fk:Status>Accepteret</fk:Status>",
		"<fk:FordelingskvitteringModtagRequest><fk:TransaktionsId>a<b/></fk:TransaktionsId>",
		"<fk:FordelingskvitteringModtagRequest><fk:TransaktionsId>a</fk:TransaktionsId>"
		"<fk:KvitteringsType>Teknisk</fk:KvitteringsType><fk:Status>Accepteret",
		"<Other/>",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_EQ_INT(sf2900_receipt_parse(bad[i], strlen(bad[i]), &r, why, sizeof why), -1);
	char *ans = sf2900_receipt_answer(false, "x < y");
	CHECK(ans && strstr(ans, "<faultstring>x &lt; y</faultstring>"));
	free(ans);
}

static void handover_request_escapes_and_names_the_documents(void)
{
	json_t *note = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:n}, s:{s:s, s:s}}", "text",
				 "<script>&\"'", "tenant", "varde", "unit", "jobcenter", "direction",
				 "citizen_to_unit", "sent_at", "2026-12-03T04:00:00.000Z", "citizen",
				 "account", "00112233445566778899aabbccddeeff", "cpr", "sender", "role",
				 "caseworker", "account", "ff");
	REQUIRE(note);
	struct sf2900_doc d = { "Journalnotat", "a&b.pdf", "application/pdf", 12, "00", "/up/k-0-a&b.pdf" };
	char *x = sf2900_handover_request("<saml:Assertion ID=\"_1\"/>", "29189781", "s", "r", "KEY",
					  note, &d, 1);
	REQUIRE(x);
	CHECK(strstr(x, "<fk:Notat>&lt;script&gt;&amp;&quot;&apos;</fk:Notat>"));
	CHECK(strstr(x, "<fk:PartReference>00112233445566778899aabbccddeeff</fk:PartReference>"));
	CHECK(strstr(x, "<fk:SftpReference>/up/k-0-a&amp;b.pdf</fk:SftpReference>"));
	CHECK(strstr(x, "<wsse:Security><saml:Assertion ID=\"_1\"/></wsse:Security>"));
	char text[100];
	CHECK_EQ_INT(sf2900_xml_text(x, strlen(x), "Notat", text, sizeof text), 0);
	CHECK(strcmp(text, "<script>&\"'") == 0);
	CHECK_EQ_INT(sf2900_xml_text(x, strlen(x), "TransaktionsId", text, sizeof text), 0);
	CHECK(strcmp(text, "KEY") == 0);
	free(x);
	json_decref(note);
	char reason[100];
	const char *f = "<soap:Fault><faultcode>soap:Server</faultcode><faultstring>nede</faultstring></soap:Fault>";
	CHECK_EQ_INT(sf2900_handover_parse(f, strlen(f), reason, sizeof reason), 2);
	CHECK(strcmp(reason, "nede") == 0);
	const char *okr = "<fk:FordelingsobjektAfsendResponse><fk:Status>Modtaget</fk:Status></fk:FordelingsobjektAfsendResponse>";
	CHECK_EQ_INT(sf2900_handover_parse(okr, strlen(okr), reason, sizeof reason), 0);
}

static int bump(json_t **rec, void *arg)
{
	(void)arg;
	if (!*rec)
		*rec = json_object();
	json_int_t n = json_integer_value(json_object_get(*rec, "n"));
	json_object_set_new(*rec, "n", json_integer(n + 1));
	return 1;
}

static bool active_n(json_t *rec)
{
	return json_integer_value(json_object_get(rec, "n")) < 3;
}

static int count_one(const uint8_t key[JKEY_BYTES], json_t *rec, void *arg)
{
	(void)key;
	(void)rec;
	(*(int *)arg)++;
	return 0;
}

static void store_updates_in_place(void)
{
	char path[400], err[200];
	snprintf(path, sizeof path, "%s/j.lmdb", dir);
	jstore *s;
	REQUIRE(jstore_open(path, active_n, &s, err, sizeof err) == 0);
	uint8_t key[JKEY_BYTES] = { 1 };
	json_t *rec;
	CHECK_EQ_INT(jstore_get(s, key, &rec), 1);
	CHECK_EQ_INT(jstore_update(s, key, bump, NULL), 1);
	CHECK_EQ_INT(jstore_update(s, key, bump, NULL), 1);
	jstore_close(s);
	REQUIRE(jstore_open(path, active_n, &s, err, sizeof err) == 0); /* durable across a reopen */
	CHECK_EQ_INT(jstore_get(s, key, &rec), 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(rec, "n")), 2);
	json_decref(rec);
	/* Active while n < 3: in the scanned index; then out of it, the record kept. */
	int seen = 0;
	CHECK_EQ_INT(jstore_each_active(s, count_one, &seen), 0);
	CHECK_EQ_INT(seen, 1);
	CHECK_EQ_INT(jstore_update(s, key, bump, NULL), 1);
	seen = 0;
	CHECK_EQ_INT(jstore_each_active(s, count_one, &seen), 0);
	CHECK_EQ_INT(seen, 0);
	seen = 0;
	CHECK_EQ_INT(jstore_each(s, count_one, &seen), 0);
	CHECK_EQ_INT(seen, 1);
	uint8_t conv[16] = { 9 }, cit[16] = { 7 }, got[16];
	CHECK_EQ_INT(jstore_thread_get(s, conv, got), 1);
	CHECK_EQ_INT(jstore_thread_put(s, conv, cit), 0);
	CHECK_EQ_INT(jstore_thread_get(s, conv, got), 0);
	CHECK(memcmp(got, cit, 16) == 0);
	jstore_close(s);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/wakks-journal-units-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	RUN(pdf_reads_back_with_danish_letters_escapes_and_pages);
	RUN(receipts_parse_and_refuse);
	RUN(handover_request_escapes_and_names_the_documents);
	RUN(store_updates_in_place);
	fs_rm_rf(dir);
	return TEST_RESULT();
}
