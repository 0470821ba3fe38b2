/* SPDX-License-Identifier: MPL-2.0 */
/* See sf2900_layout.h: every name below marked SF2900_ is to be checked against KOMBIT's
 * integration description v2.4 before production. */
#define _XOPEN_SOURCE 700
#include "sf2900_layout.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Standards (SOAP 1.1, WS-Security 1.0, WS-Trust 1.3, WS-Addressing, WS-Policy). */
#define NS_SOAP "http://schemas.xmlsoap.org/soap/envelope/"
#define NS_WSSE "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
#define NS_WST "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
#define NS_WSA "http://www.w3.org/2005/08/addressing"
#define NS_WSP "http://schemas.xmlsoap.org/ws/2004/09/policy"
#define WST_ISSUE "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue"

/* SF2900 (placeholders: check against the integration description v2.4). */
#define SF2900_NS "urn:oio:kombit:sf2900:fordeling:2.4"
#define SF2900_HANDOVER_OP "FordelingsobjektAfsendRequest"
#define SF2900_CONTEXT "AnvenderKontekst"
#define SF2900_CVR "Cvr"
#define SF2900_TRANSACTION "TransaktionsId"
#define SF2900_SENDER "Afsender"
#define SF2900_RECIPIENT "Modtager"
#define SF2900_SYSTEM "SystemId"
#define SF2900_NOTE "Journalnotat"
#define SF2900_TITLE "Titel"
#define SF2900_TEXT "Notat"
#define SF2900_PARTY "Part"
#define SF2900_PARTY_CPR "CprNummer"
#define SF2900_PARTY_REF "PartReference"
#define SF2900_PARTY_NAME "Navn"
#define SF2900_UNIT "Enhed"
#define SF2900_CASEWORKER "Sagsbehandler"
#define SF2900_TIME "Tidspunkt"
#define SF2900_DIRECTION "Retning"
#define SF2900_DOCUMENT "Dokument"
#define SF2900_FILE_NAME "Filnavn"
#define SF2900_MEDIA_TYPE "MimeType"
#define SF2900_SIZE "Stoerrelse"
#define SF2900_CHECKSUM "Sha256"
#define SF2900_SFTP_REF "SftpReference"
#define SF2900_HANDOVER_ANSWER "FordelingsobjektAfsendResponse"
#define SF2900_RECEIPT_OP "FordelingskvitteringModtagRequest"
#define SF2900_RECEIPT_ANSWER "FordelingskvitteringModtagResponse"
#define SF2900_RECEIPT_KIND "KvitteringsType"
#define SF2900_KIND_TECHNICAL "Teknisk"
#define SF2900_KIND_BUSINESS "Forretning"
#define SF2900_STATUS "Status"
#define SF2900_ACCEPTED "Accepteret"
#define SF2900_REJECTED "Afvist"
#define SF2900_REASON "Aarsag"
#define SF2900_RECEIVED "Modtaget"

struct sb {
	char *p;
	size_t len, cap;
	int oom;
};

static void sb_put(struct sb *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_puts(struct sb *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

/* Text content, escaped; control characters other than tab and newline are not allowed in
 * XML 1.0 and become spaces. */
static void sb_text(struct sb *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': sb_puts(b, "&amp;"); break;
		case '<': sb_puts(b, "&lt;"); break;
		case '>': sb_puts(b, "&gt;"); break;
		case '"': sb_puts(b, "&quot;"); break;
		case '\'': sb_puts(b, "&apos;"); break;
		default:
			if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t' && *s != '\r')
				sb_put(b, " ", 1);
			else
				sb_put(b, s, 1);
		}
	}
}

/* <fk:NAME>text</fk:NAME> */
static void el(struct sb *b, const char *name, const char *text)
{
	sb_puts(b, "<fk:");
	sb_puts(b, name);
	sb_puts(b, ">");
	sb_text(b, text);
	sb_puts(b, "</fk:");
	sb_puts(b, name);
	sb_puts(b, ">");
}

static void open_el(struct sb *b, const char *name)
{
	sb_puts(b, "<fk:");
	sb_puts(b, name);
	sb_puts(b, ">");
}

static void close_el(struct sb *b, const char *name)
{
	sb_puts(b, "</fk:");
	sb_puts(b, name);
	sb_puts(b, ">");
}

static char *sb_done(struct sb *b)
{
	if (b->oom) {
		free(b->p);
		return NULL;
	}
	return b->p;
}

char *sf2900_sts_request(const char *service_entity_id)
{
	struct sb b = { 0 };
	sb_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope xmlns:soap=\"" NS_SOAP
		    "\" xmlns:wst=\"" NS_WST "\" xmlns:wsa=\"" NS_WSA "\" xmlns:wsp=\"" NS_WSP
		    "\"><soap:Body><wst:RequestSecurityToken><wst:RequestType>" WST_ISSUE
		    "</wst:RequestType><wsp:AppliesTo><wsa:EndpointReference><wsa:Address>");
	sb_text(&b, service_entity_id);
	sb_puts(&b, "</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>"
		    "<wst:TokenType>http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0"
		    "</wst:TokenType></wst:RequestSecurityToken></soap:Body></soap:Envelope>\n");
	return sb_done(&b);
}

/* Finds the start tag <prefix:local or <local (followed by space, '>' or '/'): returns a pointer
 * to '<', or NULL. */
static const char *find_start(const char *xml, const char *end, const char *local)
{
	size_t ll = strlen(local);
	for (const char *p = xml; p && p < end; p++) {
		p = memchr(p, '<', (size_t)(end - p));
		if (!p)
			return NULL;
		const char *n = p + 1;
		if (n < end && (*n == '/' || *n == '?' || *n == '!'))
			continue;
		const char *q = n;
		while (q < end && *q != '>' && *q != ' ' && *q != '/' && *q != ':' && *q != '\n')
			q++;
		if (q < end && *q == ':')
			n = q + 1;
		if ((size_t)(end - n) > ll && memcmp(n, local, ll) == 0 &&
		    (n[ll] == '>' || n[ll] == ' ' || n[ll] == '/' || n[ll] == '\n' || n[ll] == '\t'))
			return p;
	}
	return NULL;
}

/* The content between the start tag at p and its matching end tag (same qualified name; no
 * nesting of the same name). */
static int inner(const char *p, const char *end, const char **s, const char **e)
{
	const char *gt = memchr(p, '>', (size_t)(end - p));
	if (!gt)
		return -1;
	if (gt[-1] == '/') { /* <x/> */
		*s = *e = gt + 1;
		return 0;
	}
	size_t ql = 0;
	while (p + 1 + ql < gt && p[1 + ql] != ' ' && p[1 + ql] != '\n' && p[1 + ql] != '\t')
		ql++;
	char close[160];
	if (ql + 4 > sizeof close)
		return -1;
	snprintf(close, sizeof close, "</%.*s>", (int)ql, p + 1);
	size_t cl = strlen(close);
	for (const char *q = gt + 1; q + cl <= end; q++)
		if (memcmp(q, close, cl) == 0) {
			*s = gt + 1;
			*e = q;
			return 0;
		}
	return -1;
}

int sf2900_xml_text(const char *xml, size_t len, const char *local, char *out, size_t out_len)
{
	const char *end = xml + len, *s, *e;
	const char *p = find_start(xml, end, local);
	if (!p)
		return 1;
	if (inner(p, end, &s, &e) != 0)
		return -1;
	size_t o = 0;
	for (const char *q = s; q < e; q++) {
		char c = *q;
		if (c == '<')
			return -1; /* child elements, comments or CDATA: not a text element */
		if (c == '&') {
			static const struct {
				const char *ent;
				char c;
			} ents[] = { { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
				     { "&quot;", '"' }, { "&apos;", '\'' } };
			size_t k;
			for (k = 0; k < 5; k++) {
				size_t el_len = strlen(ents[k].ent);
				if ((size_t)(e - q) >= el_len && memcmp(q, ents[k].ent, el_len) == 0) {
					c = ents[k].c;
					q += el_len - 1;
					break;
				}
			}
			if (k == 5)
				return -1; /* numeric references are not used by these messages */
		}
		if (o + 1 >= out_len)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

static uint64_t parse_iso_ms(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *r = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!r)
		return 0;
	time_t t = timegm(&tm);
	return t > 0 ? (uint64_t)t * 1000 : 0;
}

int sf2900_sts_parse(const char *xml, size_t len, char **token, uint64_t *expires_ms)
{
	const char *end = xml + len, *s, *e;
	const char *p = find_start(xml, end, "RequestedSecurityToken");
	if (!p || inner(p, end, &s, &e) != 0 || e == s)
		return -1;
	while (s < e && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t'))
		s++;
	if (s == e || *s != '<')
		return -1;
	*token = strndup(s, (size_t)(e - s));
	if (!*token)
		return -1;
	char exp[64];
	*expires_ms = sf2900_xml_text(xml, len, "Expires", exp, sizeof exp) == 0 ? parse_iso_ms(exp) : 0;
	return 0;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

char *sf2900_handover_request(const char *token, const char *cvr, const char *sender_system,
			      const char *recipient_system, const char *transaction_id,
			      json_t *note, const struct sf2900_doc *docs, size_t n_docs)
{
	struct sb b = { 0 };
	sb_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope xmlns:soap=\"" NS_SOAP
		    "\" xmlns:wsse=\"" NS_WSSE "\" xmlns:fk=\"" SF2900_NS "\"><soap:Header>"
		    "<wsse:Security>");
	sb_puts(&b, token); /* the STS's token, verbatim (it is signed XML) */
	sb_puts(&b, "</wsse:Security></soap:Header><soap:Body>");
	open_el(&b, SF2900_HANDOVER_OP);
	open_el(&b, SF2900_CONTEXT);
	el(&b, SF2900_CVR, cvr);
	close_el(&b, SF2900_CONTEXT);
	el(&b, SF2900_TRANSACTION, transaction_id);
	open_el(&b, SF2900_SENDER);
	el(&b, SF2900_SYSTEM, sender_system);
	close_el(&b, SF2900_SENDER);
	open_el(&b, SF2900_RECIPIENT);
	el(&b, SF2900_SYSTEM, recipient_system);
	close_el(&b, SF2900_RECIPIENT);
	open_el(&b, SF2900_NOTE);
	el(&b, SF2900_TITLE, "Besked i sikker digital post (OS2wakks)");
	el(&b, SF2900_TEXT, jstr(note, "text"));
	json_t *cit = json_object_get(note, "citizen");
	open_el(&b, SF2900_PARTY);
	if (json_string_value(json_object_get(cit, "cpr"))) {
		el(&b, SF2900_PARTY_CPR, jstr(cit, "cpr"));
		el(&b, SF2900_PARTY_NAME, jstr(cit, "name"));
	} else {
		/* Identity not verified: the party by its OS2wakks account only. */
		el(&b, SF2900_PARTY_REF, jstr(cit, "account"));
	}
	close_el(&b, SF2900_PARTY);
	char unit[200];
	snprintf(unit, sizeof unit, "%s/%s", jstr(note, "tenant"), jstr(note, "unit"));
	el(&b, SF2900_UNIT, unit);
	json_t *snd = json_object_get(note, "sender");
	if (strcmp(jstr(snd, "role"), "caseworker") == 0)
		el(&b, SF2900_CASEWORKER,
		   json_string_value(json_object_get(snd, "name")) ? jstr(snd, "name") : jstr(snd, "account"));
	el(&b, SF2900_DIRECTION, jstr(note, "direction"));
	el(&b, SF2900_TIME, jstr(note, "sent_at"));
	for (size_t i = 0; i < n_docs; i++) {
		char size[24];
		snprintf(size, sizeof size, "%llu", (unsigned long long)docs[i].size);
		open_el(&b, SF2900_DOCUMENT);
		el(&b, SF2900_TITLE, docs[i].title);
		el(&b, SF2900_FILE_NAME, docs[i].file_name);
		el(&b, SF2900_MEDIA_TYPE, docs[i].media_type);
		el(&b, SF2900_SIZE, size);
		el(&b, SF2900_CHECKSUM, docs[i].sha256_hex);
		el(&b, SF2900_SFTP_REF, docs[i].sftp_path);
		close_el(&b, SF2900_DOCUMENT);
	}
	close_el(&b, SF2900_NOTE);
	close_el(&b, SF2900_HANDOVER_OP);
	sb_puts(&b, "</soap:Body></soap:Envelope>\n");
	return sb_done(&b);
}

int sf2900_handover_parse(const char *xml, size_t len, char *reason, size_t reason_len)
{
	char buf[400];
	if (find_start(xml, xml + len, "Fault")) {
		char code[100] = "";
		if (sf2900_xml_text(xml, len, "faultstring", buf, sizeof buf) != 0)
			snprintf(buf, sizeof buf, "SOAP fault");
		sf2900_xml_text(xml, len, "faultcode", code, sizeof code);
		snprintf(reason, reason_len, "%s", buf);
		/* SOAP 1.1: a Client fault is the request's; anything else the service's. */
		return strstr(code, "Client") ? 1 : 2;
	}
	if (!find_start(xml, xml + len, SF2900_HANDOVER_ANSWER) ||
	    sf2900_xml_text(xml, len, SF2900_STATUS, buf, sizeof buf) != 0) {
		snprintf(reason, reason_len, "the answer is not a handover response");
		return -1;
	}
	if (strcmp(buf, SF2900_RECEIVED) != 0) {
		snprintf(reason, reason_len, "the answer's status is not received");
		return -1;
	}
	return 0;
}

int sf2900_receipt_parse(const char *xml, size_t len, struct sf2900_receipt *r, char *reason,
			 size_t reason_len)
{
	memset(r, 0, sizeof *r);
	char kind[40], status[40];
	if (!find_start(xml, xml + len, SF2900_RECEIPT_OP)) {
		snprintf(reason, reason_len, "not a receipt (" SF2900_RECEIPT_OP ")");
		return -1;
	}
	if (sf2900_xml_text(xml, len, SF2900_TRANSACTION, r->transaction_id,
			    sizeof r->transaction_id) != 0 || !r->transaction_id[0]) {
		snprintf(reason, reason_len, SF2900_TRANSACTION " missing or malformed");
		return -1;
	}
	if (sf2900_xml_text(xml, len, SF2900_RECEIPT_KIND, kind, sizeof kind) != 0 ||
	    (strcmp(kind, SF2900_KIND_TECHNICAL) != 0 && strcmp(kind, SF2900_KIND_BUSINESS) != 0)) {
		snprintf(reason, reason_len, SF2900_RECEIPT_KIND " missing or unknown");
		return -1;
	}
	r->kind = strcmp(kind, SF2900_KIND_TECHNICAL) == 0 ? SF2900_TECHNICAL : SF2900_BUSINESS;
	if (sf2900_xml_text(xml, len, SF2900_STATUS, status, sizeof status) != 0 ||
	    (strcmp(status, SF2900_ACCEPTED) != 0 && strcmp(status, SF2900_REJECTED) != 0)) {
		snprintf(reason, reason_len, SF2900_STATUS " missing or unknown");
		return -1;
	}
	r->accepted = strcmp(status, SF2900_ACCEPTED) == 0;
	if (sf2900_xml_text(xml, len, SF2900_REASON, r->reason, sizeof r->reason) < 0) {
		snprintf(reason, reason_len, SF2900_REASON " malformed or too long");
		return -1;
	}
	return 0;
}

char *sf2900_receipt_answer(bool ok, const char *reason)
{
	struct sb b = { 0 };
	sb_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope xmlns:soap=\"" NS_SOAP
		    "\" xmlns:fk=\"" SF2900_NS "\"><soap:Body>");
	if (ok) {
		open_el(&b, SF2900_RECEIPT_ANSWER);
		el(&b, SF2900_STATUS, SF2900_RECEIVED);
		close_el(&b, SF2900_RECEIPT_ANSWER);
	} else {
		sb_puts(&b, "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>");
		sb_text(&b, reason);
		sb_puts(&b, "</faultstring></soap:Fault>");
	}
	sb_puts(&b, "</soap:Body></soap:Envelope>\n");
	return sb_done(&b);
}
