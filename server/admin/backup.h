/* SPDX-License-Identifier: MPL-2.0 */
/* Backup and restore of a relay's data directory (docs/operations.md, "Backup and restore").
 * A backup is a directory laid out like a data directory, private (files 0600 in 0700
 * directories), holding everything a relay needs to carry on:
 *   db/data.mdb       a compacted consistent copy of the LMDB environment
 *   account-id.key    K_acct, without which no citizen is found again (spec/identity.md §7.3)
 *   blobs/HEX(sha)    the file of every complete blob the copy holds
 *   blobs/tmp/HEX(id) the bytes an unfinished upload had stored when the copy was taken
 *   manifest          format, relay version, time, and size and SHA-256 of every file above
 * It can be restored into a new data directory, or a relay can be started on it directly. */
#ifndef WAKKS_RELAY_ADMIN_BACKUP_H
#define WAKKS_RELAY_ADMIN_BACKUP_H

#include "core/config.h"

/* wakks-relay backup DIR: DIR must not exist. Works while the relay runs. Returns the process
 * exit status: 0 written, 1 failure (nothing is left at DIR). */
int relay_backup(const struct relay_config *cfg, const char *dir);

/* wakks-relay backup --verify DIR: checks the manifest, every file's size, checksum and mode, and
 * that every blob the database holds has its file, without starting a relay. Returns 0 when the
 * backup is complete and intact, 1 otherwise (each problem is printed). */
int relay_backup_verify(const struct relay_config *cfg, const char *dir);

/* wakks-relay restore BACKUP [DATA_DIR]: verifies the backup, then copies it into DATA_DIR (the
 * configured data_dir when NULL), which must not exist or be empty. Returns 0, 1 or 2. */
int relay_restore(const struct relay_config *cfg, const char *backup, const char *data_dir);

#endif
