/* SPDX-License-Identifier: MPL-2.0 */
/* Test devices on libwakks against a real relay process: each has its own store directory and
 * records the events it saw. */
#ifndef WAKKS_TEST_CLIENT_HARNESS_H
#define WAKKS_TEST_CLIENT_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "wakks.h"

#define TH_MAX_MSGS 64

struct th_msg {
	char text[256];
	uint8_t id[16], sender_account[16], sender_device[16], conversation[16];
	bool outgoing;
	char tenant[33], unit[33];
	/* a file message: its attachment as the message event reported it */
	bool file;
	int file_state;
	uint64_t file_size;
	char file_name[256], media_type[128], file_path[1024];
	uint64_t delivery; /* manual_ack: the envelope to acknowledge */
};

struct th_dev {
	const char *name;
	wakks_client *c;
	char dir[512];
	uint8_t key[32];
	int port;
	char ca[512];
	struct th_msg msgs[TH_MAX_MSGS];
	int n_msgs;
	int n_sent;
	int n_key_changes, n_device_changes, n_errors, n_receipts;
	char last_safety[61];
	int n_consents, last_consent_kind; /* from the last consent list */
	int n_prekey_uploads, n_spk_rotations;
	int n_disconnects; /* connection losses seen (state events) */
	uint64_t spk_rotate_ms; /* set before th_open/th_reopen; 0: the library's default */
	uint8_t last_change_device[16];
	char last_error[128];    /* the last error event's description */
	int last_error_code;
	const char *files_dir;   /* set before th_open/th_reopen; NULL: the library's default */
	/* set before th_reopen: the client's log function (user = this th_dev) */
	void (*on_log)(int level, const char *line, void *user);
	bool manual_ack;         /* set before th_reopen: deferred acknowledgement */
	int consent_active;      /* the last consent_check's answer (1 active, 0 not) */
};

/* Creates a store directory (under base) and opens the client; connects. */
int th_open(struct th_dev *d, const char *name, const char *base, int port, const char *ca);
/* As th_open with a signed prekey rotation interval (ms). */
int th_open_rotating(struct th_dev *d, const char *name, const char *base, int port,
		     const char *ca, uint64_t spk_rotate_ms);
/* Closes the client (store kept) and opens it again from the store; connects. */
int th_reopen(struct th_dev *d);
void th_close(struct th_dev *d);
/* Connect (if needed), log in at the development provider as `user`, register. 0 on success. */
int th_register(struct th_dev *d, const char *idp, const char *user);
/* Pumps every open device until cond(arg) or timeout. Returns 0 or -1 on timeout. */
int th_pump_until(bool (*cond)(void *arg), void *arg, int timeout_ms);
/* Pumps all devices for ms milliseconds. */
void th_pump(int ms);
/* Waits until device d has n messages, or timeout. */
int th_wait_msgs(struct th_dev *d, int n, int timeout_ms);
int th_wait_ready(struct th_dev *d, int timeout_ms);
/* Waits until device d has a message with this text. Returns 0 or -1 on timeout. */
int th_wait_text(struct th_dev *d, const char *text, int timeout_ms);
/* Sends text and waits for `stored`. Returns the operation's result. */
int th_send(struct th_dev *d, const uint8_t *account, const char *tenant, const char *unit,
	    const char *text);
/* Index of the file message named name in d (the last one), or -1. */
int th_find_file(const struct th_dev *d, const char *name);
/* Waits until d has a file message named name in a final state (saved or failed). */
int th_wait_file(struct th_dev *d, const char *name, int timeout_ms);
/* Index of the message with text in d, or -1. */
int th_find(const struct th_dev *d, const char *text);
int th_count(const struct th_dev *d, const char *text);

/* For wakks_history: counts one device's own sends (those it made itself, not copies from its
 * history) and how many of them carry a larger client message id than the one before. */
struct th_own_order {
	const uint8_t *device;
	uint8_t last[16];
	int n, ordered;
};
int th_own_ids_in_order(const wakks_message *m, void *arg);

#endif
