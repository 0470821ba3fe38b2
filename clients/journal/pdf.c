/* SPDX-License-Identifier: MPL-2.0 */
/* The PDF writer: lines are laid out first (wrapping by the Helvetica widths below), then each
 * page becomes one content stream; objects are written in order while their byte offsets are
 * recorded for the cross-reference table, which must be exact (readers rebuild a wrong one, but a
 * case system's validator may not). */
#include "pdf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE_W 595 /* A4 in points */
#define PAGE_H 842
#define MARGIN 56
#define FONT_SIZE 10
#define LEADING 14
#define LINES_PER_PAGE ((PAGE_H - 2 * MARGIN) / LEADING)
#define TEXT_WIDTH (PAGE_W - 2 * MARGIN)

struct line {
	char *s; /* Windows-1252 bytes */
	size_t n;
	int bold;
};

struct jpdf {
	char *title; /* Windows-1252 */
	uint64_t created_ms;
	struct line *lines;
	size_t n, cap;
	int oom;
};

/* Advance widths (1/1000 em) of Helvetica for 32..126, from the standard font metrics; the
 * Latin-1 letters above 127 use the width of their base letter (close enough for wrapping). */
static const unsigned short helv_w[95] = {
	278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556,
	556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722,
	722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722,
	667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556,
	556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500,
	500, 334, 260, 334, 584
};

static unsigned char_width(unsigned char c, int bold)
{
	unsigned w = c >= 32 && c <= 126 ? helv_w[c - 32] : c >= 0xC0 ? 667 : 556;
	return bold ? w + w / 16 : w; /* Helvetica-Bold is a little wider */
}

/* UTF-8 to Windows-1252 (Latin-1 range plus the euro sign and typographic quotes and dashes);
 * anything else, and malformed UTF-8, becomes '?'. Control characters other than '\n' become
 * spaces. */
static size_t to_cp1252(const char *in, size_t len, char *out)
{
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)in;
	for (size_t i = 0; i < len;) {
		unsigned cp;
		int n;
		if (p[i] < 0x80) {
			cp = p[i];
			n = 1;
		} else if ((p[i] & 0xE0) == 0xC0 && i + 1 < len && (p[i + 1] & 0xC0) == 0x80) {
			cp = ((p[i] & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu);
			n = 2;
		} else if ((p[i] & 0xF0) == 0xE0 && i + 2 < len && (p[i + 1] & 0xC0) == 0x80 &&
			   (p[i + 2] & 0xC0) == 0x80) {
			cp = ((p[i] & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu);
			n = 3;
		} else {
			cp = '?';
			n = 1;
			while (i + (size_t)n < len && (p[i + (size_t)n] & 0xC0) == 0x80)
				n++;
		}
		i += (size_t)n;
		char c;
		if (cp == '\n')
			c = '\n';
		else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0))
			c = ' ';
		else if (cp < 0x100)
			c = (char)cp;
		else if (cp == 0x20AC)
			c = (char)0x80;
		else if (cp == 0x2013)
			c = (char)0x96;
		else if (cp == 0x2014)
			c = (char)0x97;
		else if (cp == 0x2018)
			c = (char)0x91;
		else if (cp == 0x2019)
			c = (char)0x92;
		else if (cp == 0x201C)
			c = (char)0x93;
		else if (cp == 0x201D)
			c = (char)0x94;
		else if (cp == 0x2022)
			c = (char)0x95;
		else
			c = '?';
		out[o++] = c;
	}
	return o;
}

jpdf *jpdf_new(const char *title, uint64_t created_ms)
{
	jpdf *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	size_t tl = strlen(title);
	d->title = malloc(tl + 1);
	if (!d->title) {
		free(d);
		return NULL;
	}
	d->title[to_cp1252(title, tl, d->title)] = '\0';
	d->created_ms = created_ms;
	jpdf_paragraph(d, title, tl, 1);
	jpdf_space(d);
	return d;
}

static void add_line(jpdf *d, const char *s, size_t n, int bold)
{
	if (d->oom)
		return;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct line *l = realloc(d->lines, cap * sizeof *l);
		if (!l) {
			d->oom = 1;
			return;
		}
		d->lines = l;
		d->cap = cap;
	}
	char *copy = malloc(n + 1);
	if (!copy) {
		d->oom = 1;
		return;
	}
	memcpy(copy, s, n);
	copy[n] = '\0';
	d->lines[d->n++] = (struct line){ copy, n, bold };
}

void jpdf_space(jpdf *d)
{
	add_line(d, "", 0, 0);
}

/* Wraps one line of cp1252 text to TEXT_WIDTH at spaces (a word longer than a line is cut). */
static void wrap(jpdf *d, const char *s, size_t n, int bold)
{
	const unsigned max = TEXT_WIDTH * 1000u / FONT_SIZE;
	while (n > 0) {
		unsigned w = 0;
		size_t i = 0, last_space = 0;
		while (i < n && w + char_width((unsigned char)s[i], bold) <= max) {
			w += char_width((unsigned char)s[i], bold);
			if (s[i] == ' ')
				last_space = i;
			i++;
		}
		if (i < n && last_space > 0)
			i = last_space; /* break at the last space; it is dropped */
		add_line(d, s, i, bold);
		s += i;
		n -= i;
		while (n > 0 && *s == ' ') {
			s++;
			n--;
		}
	}
}

void jpdf_paragraph(jpdf *d, const char *text, size_t len, int bold)
{
	char *buf = malloc(len + 1);
	if (!buf) {
		d->oom = 1;
		return;
	}
	size_t n = to_cp1252(text, len, buf);
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || buf[i] == '\n') {
			if (i == start)
				add_line(d, "", 0, bold);
			else
				wrap(d, buf + start, i - start, bold);
			start = i + 1;
		}
	}
	free(buf);
}

struct out {
	char *p;
	size_t len, cap;
	int oom;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->oom)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;
		while (cap < o->len + n + 1)
			cap *= 2;
		char *p = realloc(o->p, cap);
		if (!p) {
			o->oom = 1;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0)
		put(o, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* A PDF literal string: backslash, parentheses escaped; bytes outside printable ASCII octal. */
static void put_string(struct out *o, const char *s, size_t n)
{
	put(o, "(", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '(' || c == ')' || c == '\\') {
			char e[2] = { '\\', (char)c };
			put(o, e, 2);
		} else if (c < 32 || c > 126) {
			putf(o, "\\%03o", c);
		} else {
			put(o, (const char *)&c, 1);
		}
	}
	put(o, ")", 1);
}

int jpdf_finish(jpdf *d, uint8_t **out, size_t *out_len)
{
	if (d->oom)
		return -1;
	size_t pages = d->n ? (d->n + LINES_PER_PAGE - 1) / LINES_PER_PAGE : 1;
	/* Objects: 1 catalog, 2 pages, 3 font, 4 bold font, 5 info, then per page: page, content. */
	size_t n_obj = 5 + 2 * pages;
	size_t *off = calloc(n_obj + 1, sizeof *off);
	if (!off)
		return -1;
	struct out o = { 0 };
	put(&o, "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n", 15);
	off[1] = o.len;
	putf(&o, "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
	off[2] = o.len;
	putf(&o, "2 0 obj\n<< /Type /Pages /Count %zu /Kids [", pages);
	for (size_t p = 0; p < pages; p++)
		putf(&o, " %zu 0 R", 6 + 2 * p);
	putf(&o, " ] /MediaBox [0 0 %d %d] >>\nendobj\n", PAGE_W, PAGE_H);
	off[3] = o.len;
	putf(&o, "3 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
		 "/Encoding /WinAnsiEncoding >>\nendobj\n");
	off[4] = o.len;
	putf(&o, "4 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold "
		 "/Encoding /WinAnsiEncoding >>\nendobj\n");
	off[5] = o.len;
	time_t secs = (time_t)(d->created_ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	char date[32];
	strftime(date, sizeof date, "D:%Y%m%d%H%M%SZ", &tm);
	putf(&o, "5 0 obj\n<< /Title ");
	put_string(&o, d->title, strlen(d->title));
	putf(&o, " /Producer (OS2wakks journal) /CreationDate (%s) /ModDate (%s) >>\nendobj\n",
	     date, date);
	for (size_t p = 0; p < pages; p++) {
		struct out s = { 0 };
		put(&s, "BT\n", 3);
		putf(&s, "%d TL\n%d %d Td\n", LEADING, MARGIN, PAGE_H - MARGIN - FONT_SIZE);
		int cur_bold = -1;
		for (size_t i = p * LINES_PER_PAGE; i < d->n && i < (p + 1) * LINES_PER_PAGE; i++) {
			if (d->lines[i].bold != cur_bold) {
				cur_bold = d->lines[i].bold;
				putf(&s, "/F%d %d Tf\n", cur_bold ? 2 : 1, FONT_SIZE);
			}
			put_string(&s, d->lines[i].s, d->lines[i].n);
			put(&s, " '\n", 3);
		}
		putf(&s, "ET\n");
		off[6 + 2 * p] = o.len;
		putf(&o, "%zu 0 obj\n<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 3 0 R "
			 "/F2 4 0 R >> >> /Contents %zu 0 R >>\nendobj\n",
		     6 + 2 * p, 7 + 2 * p);
		off[7 + 2 * p] = o.len;
		putf(&o, "%zu 0 obj\n<< /Length %zu >>\nstream\n", 7 + 2 * p, s.len);
		put(&o, s.p ? s.p : "", s.len);
		putf(&o, "\nendstream\nendobj\n");
		o.oom |= s.oom;
		free(s.p);
	}
	size_t xref = o.len;
	putf(&o, "xref\n0 %zu\n0000000000 65535 f \n", n_obj + 1);
	for (size_t i = 1; i <= n_obj; i++)
		putf(&o, "%010zu 00000 n \n", off[i]);
	putf(&o, "trailer\n<< /Size %zu /Root 1 0 R /Info 5 0 R >>\nstartxref\n%zu\n%%%%EOF\n",
	     n_obj + 1, xref);
	free(off);
	if (o.oom) {
		free(o.p);
		return -1;
	}
	*out = (uint8_t *)o.p;
	*out_len = o.len;
	return 0;
}

void jpdf_free(jpdf *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->lines[i].s);
	free(d->lines);
	free(d->title);
	free(d);
}
