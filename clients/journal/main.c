/* SPDX-License-Identifier: MPL-2.0 */
/* wakks-journal: the tenant's journal device (spec/journal.md).
 *   wakks-journal run   --config FILE
 *   wakks-journal list  --config FILE          notes not yet journalised, and parked ones
 *   wakks-journal retry --config FILE KEY|all  hand parked notes over again */
#include <stdio.h>
#include <string.h>

#include "journal.h"

static int usage(void)
{
	fprintf(stderr, "usage: wakks-journal run|list|retry --config FILE [KEY|all]\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 4 || strcmp(argv[2], "--config") != 0)
		return usage();
	struct jconf c;
	if (jconf_load(argv[3], &c) != 0)
		return 1;
	if (strcmp(argv[1], "run") == 0 && argc == 4)
		return journal_run(&c);
	if (strcmp(argv[1], "list") == 0 && argc == 4)
		return journal_list(&c);
	if (strcmp(argv[1], "retry") == 0 && argc == 5)
		return journal_retry(&c, argv[4]);
	return usage();
}
