/* SPDX-License-Identifier: MPL-2.0 */
/* The small HTTPS endpoint at which Serviceplatformen delivers SF2900 receipts: TLS with the
 * municipality's certificate, the caller's client certificate required and verified against a
 * configured CA, one POST per receipt (SOAP), answered after the receipt was recorded durably,
 * so Serviceplatformen delivers again whatever we did not confirm. Runs on a thread of its own;
 * the engine's callback records the receipt. */
#ifndef WAKKS_JOURNAL_RECEIPTS_H
#define WAKKS_JOURNAL_RECEIPTS_H

#include "sf2900_layout.h"

struct jreceipts_conf {
	char listen[64];     /* address, e.g. 127.0.0.1 */
	int port;            /* 0: any (jreceipts_port tells) */
	char cert_file[512]; /* our server certificate chain (PEM) */
	char key_file[512];
	char client_ca[512]; /* CA(s) the caller's client certificate must chain to */
	char path[128];      /* the service path, e.g. /sf2900/kvittering */
};

/* Records a receipt: 0 recorded (or already), 1 unknown transaction, -1 store error. */
typedef int (*jreceipt_fn)(const struct sf2900_receipt *r, void *arg);

typedef struct jreceipts jreceipts;
/* Binds and starts the thread. NULL with err on failure. */
jreceipts *jreceipts_start(const struct jreceipts_conf *c, jreceipt_fn fn, void *arg, char *err,
			   size_t err_len);
int jreceipts_port(const jreceipts *r);
void jreceipts_stop(jreceipts *r);

#endif
