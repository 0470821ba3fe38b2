/* SPDX-License-Identifier: MPL-2.0 */
/* Small text files the tests read: logs, and the shipped configuration files they adapt. */
#ifndef WAKKS_TEST_TEXT_FILE_H
#define WAKKS_TEST_TEXT_FILE_H

/* The whole file as a NUL-terminated string (malloc'd), or NULL. */
char *test_read_text(const char *path);

/* Replaces the one occurrence of from in *text (malloc'd) with to. Returns 0, or -1 when from
 * does not occur: the shipped file changed, and the test must follow it knowingly. */
int text_replace(char **text, const char *from, const char *to);

#endif
