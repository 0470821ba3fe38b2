/* SPDX-License-Identifier: MPL-2.0 */
/* The journal device's own store (spec/journal.md §3): one small LMDB environment, separate from
 * the device store of libwakks, holding per idempotency key the note's state record, and per
 * thread the citizen account it belongs to. Every write is one committed (durable) transaction;
 * records are JSON objects so an operator's listing needs no decoder. LMDB allows a second
 * process (the operator's `wakks-journal list` / `retry`) to use it while the daemon runs. */
#ifndef WAKKS_JOURNAL_JSTORE_H
#define WAKKS_JOURNAL_JSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define JKEY_BYTES 32

typedef struct jstore jstore;

/* Whether a record still needs the engine's attention. Notes that do not (journalised, nothing
 * left to do) are kept but leave the index the engine scans, so a scan costs what is in
 * progress, not the whole history. */
typedef bool (*jstore_active_fn)(json_t *rec);

/* Opens (creating) PATH (a file; its lock file is PATH-lock). @return 0 or -1 (errno-style
 * message in err). */
int jstore_open(const char *path, jstore_active_fn active, jstore **out, char *err,
		size_t err_len);
void jstore_close(jstore *s);

/* The note record of key: *rec a new reference. @return 0, 1 (none), -1 (store error). */
int jstore_get(jstore *s, const uint8_t key[JKEY_BYTES], json_t **rec);
/* Writes the record (replacing any) and commits. @return 0 or -1. */
int jstore_put(jstore *s, const uint8_t key[JKEY_BYTES], json_t *rec);
/* Calls fn for every note record in key order; fn returns nonzero to stop. The record is only
 * valid during the call. @return 0 or -1. */
int jstore_each(jstore *s, int (*fn)(const uint8_t key[JKEY_BYTES], json_t *rec, void *arg),
		void *arg);
/* The same for the records the active function called active when they were written. */
int jstore_each_active(jstore *s,
		       int (*fn)(const uint8_t key[JKEY_BYTES], json_t *rec, void *arg), void *arg);

/* The citizen account of a thread (by conversation id). @return 0, 1 (unknown), -1. */
int jstore_thread_get(jstore *s, const uint8_t conversation[16], uint8_t citizen[16]);
int jstore_thread_put(jstore *s, const uint8_t conversation[16], const uint8_t citizen[16]);



/* Read-modify-write of one note record in one write transaction (atomic against the daemon's
 * other thread and the operator's command): fn gets the record (NULL when none) and returns 1 to
 * store *rec (it may replace it: the old reference is then its to drop), 0 to leave it, or < 0
 * to fail. *rec is released afterwards. @return fn's result (0/1), or -1. */
int jstore_update(jstore *s, const uint8_t key[JKEY_BYTES], int (*fn)(json_t **rec, void *arg),
		  void *arg);
#endif
