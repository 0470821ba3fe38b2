/* SPDX-License-Identifier: MPL-2.0 */
/* The `sf2900` destination: a note handed to KOMBIT's Fordelingskomponent through
 * Serviceplatformen. Per handover: a token from the STS (kept until shortly before it expires),
 * the note's documents (note.pdf and attachments) uploaded by SFTP under names derived from the
 * idempotency key, then the SOAP request naming them, with the idempotency key as transaction id
 * (a repeated request of the same key is the same handover). All over TLS with the
 * municipality's system certificate as client certificate (libcurl, blocking with timeouts). The
 * receipts arrive later at the receipt endpoint (receipts.h). */
#ifndef WAKKS_JOURNAL_DEST_SF2900_H
#define WAKKS_JOURNAL_DEST_SF2900_H

#include "dest.h"
#include "sftp.h"

struct jsf2900_conf {
	char service_url[512];   /* the SF2900 service on Serviceplatformen */
	char sts_url[512];
	char entity_id[256];     /* the service's entity id the token is for */
	char cert_file[512];     /* the municipality's system certificate (PEM) */
	char key_file[512];
	char ca_file[512];       /* trusted CA for Serviceplatformen's and the STS's servers */
	char cvr[16];
	char sender_system[128];
	char recipient_system[128];
	int timeout_ms;
	struct jsftp_conf sftp;
};

jdest *jdest_sf2900_new(const struct jsf2900_conf *c, char *err, size_t err_len);

#endif
