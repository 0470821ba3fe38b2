/* SPDX-License-Identifier: MPL-2.0 */
/* Uploading a note's documents by SFTP (libssh2) for the sf2900 destination: the server's host
 * key is checked against a configured SHA-256 fingerprint (as `ssh-keygen -lf` prints it,
 * "SHA256:..."), the client authenticates with a private key file only, and every file is written
 * under a temporary name and renamed over the final one, so a repeated upload of the same note
 * replaces the same files and a cut upload leaves no file of the final name half-written. */
#ifndef WAKKS_JOURNAL_SFTP_H
#define WAKKS_JOURNAL_SFTP_H

#include <stddef.h>

struct jsftp_conf {
	char host[256];
	int port;
	char user[64];
	char key_file[512];        /* private key (PEM or OpenSSH format); public key: KEY.pub */
	char host_fingerprint[128]; /* "SHA256:base64" */
	char remote_dir[256];      /* created if missing */
	int timeout_ms;
};

struct jsftp_file {
	const char *local_path;
	const char *remote_name; /* a single path component */
};

/* Uploads the files (one session). @return 0, or -1 with a reason in err (no content). */
int jsftp_upload(const struct jsftp_conf *c, const struct jsftp_file *files, size_t n, char *err,
		 size_t err_len);

#endif
