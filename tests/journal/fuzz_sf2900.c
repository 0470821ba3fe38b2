/* SPDX-License-Identifier: MPL-2.0 */
/* The sf2900 decoders of what other systems send us: receipts (posted to the receipt endpoint by
 * anyone who holds a trusted certificate), the STS's and the service's answers. Each must reject
 * or accept without reading outside the input, and an accepted receipt must be well-formed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sf2900_layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Decoders take (pointer, length): no NUL terminator is promised. */
	char *xml = malloc(size ? size : 1);
	if (!xml)
		return 0;
	memcpy(xml, data, size);
	struct sf2900_receipt r;
	char why[200];
	if (sf2900_receipt_parse(xml, size, &r, why, sizeof why) == 0) {
		if (r.kind != SF2900_TECHNICAL && r.kind != SF2900_BUSINESS)
			abort();
		if (!r.transaction_id[0] || strlen(r.transaction_id) >= sizeof r.transaction_id)
			abort();
	}
	char *token = NULL;
	uint64_t exp;
	if (sf2900_sts_parse(xml, size, &token, &exp) == 0 && (!token || token[0] != '<'))
		abort();
	free(token);
	sf2900_handover_parse(xml, size, why, sizeof why);
	char text[64];
	sf2900_xml_text(xml, size, "Status", text, sizeof text);
	free(xml);
	return 0;
}
