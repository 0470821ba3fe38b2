/* SPDX-License-Identifier: MPL-2.0 */
/* Every message layout of the sf2900 destination, and nothing else: the STS request, the
 * handover request (Fordelingskomponenten, SF2900), its answer, the technical and business
 * receipts Serviceplatformen sends to us, and our answer to them.
 *
 * TO BE CHECKED BEFORE PRODUCTION: KOMBIT's integration description for SF2900 (version 2.4) was
 * not reachable when this was written. The structure follows KOMBIT's public description (a
 * synchronous SOAP request naming documents uploaded by SFTP; a technical receipt, then a
 * business receipt, delivered by Serviceplatformen to a service of the sending system; access
 * with a system certificate and an STS token), and the SOAP 1.1, WS-Security and WS-Trust names
 * are the standards' own. The Fordelingskomponent's namespace, operation and element names
 * (the SF2900_* macros in sf2900_layout.c) are placeholders in KOMBIT's naming style and MUST be
 * checked, and corrected here and only here, against the integration description and its WSDL
 * before production. The test stand-in (tests/journal/sf2900_standin.py) uses the same names. */
#ifndef WAKKS_JOURNAL_SF2900_LAYOUT_H
#define WAKKS_JOURNAL_SF2900_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct sf2900_doc {
	const char *title;
	const char *file_name;
	const char *media_type;
	uint64_t size;
	const char *sha256_hex;
	const char *sftp_path; /* where it was uploaded */
};

/* WS-Trust Issue request for the service's entity id, authenticated by the TLS client
 * certificate (malloc'd, NUL-terminated; NULL on out-of-memory). */
char *sf2900_sts_request(const char *service_entity_id);
/* The issued token (the XML inside RequestedSecurityToken, verbatim, malloc'd) and its expiry
 * (ms since the epoch; 0 when absent). @return 0 or -1 (not a token response). */
int sf2900_sts_parse(const char *xml, size_t len, char **token, uint64_t *expires_ms);

/* The handover request of one journal note (note: the spooled note.json). */
char *sf2900_handover_request(const char *token, const char *cvr, const char *sender_system,
			      const char *recipient_system, const char *transaction_id,
			      json_t *note, const struct sf2900_doc *docs, size_t n_docs);
/* The answer: 0 received; 1 a SOAP fault the sender caused (fix needed: reason), 2 a fault of
 * the service (try again: reason); -1 not understood. */
int sf2900_handover_parse(const char *xml, size_t len, char *reason, size_t reason_len);

enum sf2900_receipt_kind { SF2900_TECHNICAL = 1, SF2900_BUSINESS = 2 };
struct sf2900_receipt {
	int kind;
	char transaction_id[80];
	bool accepted;
	char reason[400];
};
/* A receipt posted to us. @return 0 or -1 (malformed: reason says which part). */
int sf2900_receipt_parse(const char *xml, size_t len, struct sf2900_receipt *r, char *reason,
			 size_t reason_len);
/* Our answer to a receipt: received (ok) or a SOAP fault with reason. */
char *sf2900_receipt_answer(bool ok, const char *reason);

/* Text of the first element with this local name (any prefix), entity-decoded, in out.
 * Elements with child elements or CDATA are refused. @return 0, 1 (absent), -1 (malformed). */
int sf2900_xml_text(const char *xml, size_t len, const char *local, char *out, size_t out_len);

#endif
