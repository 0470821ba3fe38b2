/* SPDX-License-Identifier: MPL-2.0 */
/* A small PDF writer for journal notes: text only, A4, one of the PDF standard 14 fonts
 * (Helvetica, WinAnsiEncoding), lines wrapped and paginated. The output is a plain PDF 1.4 file
 * with an Info dictionary and no scripts, forms or external references. It is *not* claimed to be
 * PDF/A: the standard 14 fonts are referenced, not embedded (spec/journal.md §4 says why that is
 * acceptable for a case file and what PDF/A would need). */
#ifndef WAKKS_JOURNAL_PDF_H
#define WAKKS_JOURNAL_PDF_H

#include <stddef.h>
#include <stdint.h>

typedef struct jpdf jpdf;

/* A new document with a title (UTF-8, for the Info dictionary and the first heading) and a
 * creation time (ms since the epoch, UTC). NULL on out-of-memory. */
jpdf *jpdf_new(const char *title, uint64_t created_ms);
/* Appends a paragraph (UTF-8; characters outside Windows-1252 become '?'); bold for headings.
 * Newlines in text start new lines; long lines are wrapped at word boundaries. */
void jpdf_paragraph(jpdf *d, const char *text, size_t len, int bold);
/* An empty line. */
void jpdf_space(jpdf *d);
/* Renders the document into *out (malloc'd). @return 0, or -1 on out-of-memory. */
int jpdf_finish(jpdf *d, uint8_t **out, size_t *out_len);
void jpdf_free(jpdf *d);

#endif
