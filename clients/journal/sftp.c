/* SPDX-License-Identifier: MPL-2.0 */
#define _POSIX_C_SOURCE 200809L
#include "sftp.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <sodium.h>

static int tcp_connect(const char *host, int port, int timeout_ms)
{
	char ps[16];
	snprintf(ps, sizeof ps, "%d", port);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	if (getaddrinfo(host, ps, &hints, &res) != 0)
		return -1;
	int fd = -1;
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		int fl = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		int rc = connect(fd, a->ai_addr, a->ai_addrlen);
		if (rc != 0) {
			struct pollfd p = { fd, POLLOUT, 0 };
			int err = 0;
			socklen_t el = sizeof err;
			if (poll(&p, 1, timeout_ms) != 1 ||
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
				close(fd);
				fd = -1;
				continue;
			}
		}
		fcntl(fd, F_SETFL, fl);
	}
	freeaddrinfo(res);
	return fd;
}

static int host_key_matches(LIBSSH2_SESSION *s, const char *want)
{
	const char *h = libssh2_hostkey_hash(s, LIBSSH2_HOSTKEY_HASH_SHA256);
	if (!h || strncmp(want, "SHA256:", 7) != 0)
		return 0;
	char b64[64];
	sodium_bin2base64(b64, sizeof b64, (const unsigned char *)h, 32,
			  sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	return strcmp(b64, want + 7) == 0;
}

static int put_one(LIBSSH2_SFTP *sftp, const char *dir, const struct jsftp_file *f, char *err,
		   size_t err_len)
{
	char tmp[600], fin[600];
	snprintf(tmp, sizeof tmp, "%s/.part-%s", dir, f->remote_name);
	snprintf(fin, sizeof fin, "%s/%s", dir, f->remote_name);
	FILE *in = fopen(f->local_path, "rb");
	if (!in) {
		snprintf(err, err_len, "a spooled document is unreadable");
		return -1;
	}
	LIBSSH2_SFTP_HANDLE *h = libssh2_sftp_open(sftp, tmp,
						   LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT |
							   LIBSSH2_FXF_TRUNC,
						   0600);
	if (!h) {
		fclose(in);
		snprintf(err, err_len, "sftp: cannot create a file in the upload directory");
		return -1;
	}
	char buf[32768];
	int rc = 0;
	size_t n;
	while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0) {
		size_t off = 0;
		while (off < n) {
			ssize_t w = libssh2_sftp_write(h, buf + off, n - off);
			if (w <= 0) {
				rc = -1;
				break;
			}
			off += (size_t)w;
		}
	}
	if (ferror(in))
		rc = -1;
	fclose(in);
	if (rc == 0 && libssh2_sftp_fsync(h) != 0)
		rc = 0; /* fsync@openssh.com is an extension: not every server offers it */
	if (libssh2_sftp_close(h) != 0)
		rc = -1;
	if (rc == 0 &&
	    libssh2_sftp_rename_ex(sftp, tmp, (unsigned)strlen(tmp), fin, (unsigned)strlen(fin),
				   LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC |
					   LIBSSH2_SFTP_RENAME_NATIVE) != 0) {
		/* SFTP v3 servers refuse renaming over an existing file: remove it, then rename. */
		libssh2_sftp_unlink(sftp, fin);
		if (libssh2_sftp_rename(sftp, tmp, fin) != 0)
			rc = -1;
	}
	if (rc != 0)
		snprintf(err, err_len, "sftp: upload of a document failed");
	return rc;
}

int jsftp_upload(const struct jsftp_conf *c, const struct jsftp_file *files, size_t n, char *err,
		 size_t err_len)
{
	static int inited;
	if (!inited) {
		if (libssh2_init(0) != 0) {
			snprintf(err, err_len, "libssh2 initialisation failed");
			return -1;
		}
		inited = 1;
	}
	int fd = tcp_connect(c->host, c->port, c->timeout_ms);
	if (fd < 0) {
		snprintf(err, err_len, "sftp: cannot connect to %s:%d", c->host, c->port);
		return -1;
	}
	LIBSSH2_SESSION *s = libssh2_session_init();
	LIBSSH2_SFTP *sftp = NULL;
	int rc = -1;
	if (!s) {
		snprintf(err, err_len, "out of memory");
		goto out;
	}
	libssh2_session_set_timeout(s, c->timeout_ms);
	if (libssh2_session_handshake(s, fd) != 0) {
		snprintf(err, err_len, "sftp: SSH handshake failed");
		goto out;
	}
	if (!host_key_matches(s, c->host_fingerprint)) {
		snprintf(err, err_len, "sftp: the server's host key does not match the configured fingerprint");
		goto out;
	}
	char pub[600];
	snprintf(pub, sizeof pub, "%s.pub", c->key_file);
	if (libssh2_userauth_publickey_fromfile(s, c->user, pub, c->key_file, NULL) != 0) {
		snprintf(err, err_len, "sftp: the server refused the key");
		goto out;
	}
	if (!(sftp = libssh2_sftp_init(s))) {
		snprintf(err, err_len, "sftp: subsystem not available");
		goto out;
	}
	libssh2_sftp_mkdir(sftp, c->remote_dir, 0700); /* exists already: fine */
	rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = put_one(sftp, c->remote_dir, &files[i], err, err_len);
out:
	if (sftp)
		libssh2_sftp_shutdown(sftp);
	if (s) {
		libssh2_session_disconnect(s, "done");
		libssh2_session_free(s);
	}
	close(fd);
	return rc;
}
