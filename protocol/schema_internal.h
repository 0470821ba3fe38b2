/* SPDX-License-Identifier: MPL-2.0 */
/* The frame schemas: one table per body, read by the decoder, the validator and the encoder, so
 * the three cannot disagree about a key, a type or a limit. spec/protocol.md mirrors these tables. */
#ifndef WAKKS_PROTOCOL_SCHEMA_INTERNAL_H
#define WAKKS_PROTOCOL_SCHEMA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "wakks_protocol.h"

enum proto__kind {
	PROTO__K_U32,    /* positive integer in [min, max] */
	PROTO__K_U64,    /* positive integer in [min, max] */
	PROTO__K_BOOL,   /* true/false; optional ones are omitted when false */
	PROTO__K_FIXBIN, /* bin of exactly min bytes, stored as const uint8_t * */
	PROTO__K_BIN,    /* bin of min..max bytes, stored as proto_bytes */
	PROTO__K_TEXT,   /* str, valid UTF-8, min..max bytes, stored as proto_str */
	PROTO__K_ASCII,  /* str of printable ASCII 0x21..0x7e (tokens, error names) */
	PROTO__K_SLUG,   /* str of [a-z0-9-], starting with [a-z0-9] (tenant and unit ids) */
	PROTO__K_MAP,    /* nested map described by sub */
	PROTO__K_ARRAY,  /* array of min..max elements of elem_kind */
};

#define PROTO__NO_AUX 0xffffu

struct proto__schema;

struct proto__field {
	const char *key;
	uint8_t key_len;
	uint8_t kind;
	uint8_t required;
	uint8_t elem_kind;  /* ARRAY: kind of each element (FIXBIN or MAP) */
	uint16_t offset;    /* value (ARRAY: first element) within the parent struct */
	uint16_t aux;       /* ARRAY: offset of the uint32_t count; optional MAP: offset of its bool */
	uint16_t elem_size; /* ARRAY: sizeof one element */
	uint32_t elem_len;  /* ARRAY of FIXBIN: bytes per element */
	uint64_t min, max;  /* integer range, byte length, or element count */
	const struct proto__schema *sub; /* MAP, ARRAY of MAP */
};

struct proto__schema {
	const char *name;
	const struct proto__field *fields;
	uint8_t nfields;
	/* Bit i set when fields[i] is required. Written out by hand for schemas with optional
	 * fields (tests/protocol checks it against the fields); all bits otherwise. */
	uint32_t required;
	/* Cross-field rules on a fully decoded or caller-built body; NULL when there are none.
	 * Returns 0 or a PROTO_E_* code and may set *field. */
	int (*check)(const void *body, const char **field);
};

/* The body schema of a frame type, or NULL for an unknown type. */
const struct proto__schema *proto__schema_for(uint32_t type);

/* String classes (strings.c). Return 0 or PROTO_E_BAD_STRING. */
int proto__check_utf8(const uint8_t *s, size_t len);
int proto__check_ascii(const uint8_t *s, size_t len);
int proto__check_slug(const uint8_t *s, size_t len);
int proto__check_string(uint8_t kind, const uint8_t *s, size_t len);

/* Request id rules for a type's flags: 0 or PROTO_E_BAD_REQUEST_ID. */
int proto__check_request_id(unsigned flags, uint32_t request_id);

/* 1 if an optional field holds a value (required fields always count as present). Absent means:
 * NULL pointer, zero integer, false, count 0, has-flag false. */
int proto__field_present(const struct proto__field *f, const uint8_t *base);

/* Checks a body struct against its schema, as the decoder would. 0 or PROTO_E_*; sets *field. */
int proto__validate_body(const struct proto__schema *s, const uint8_t *base, const char **field);

/* Cheap structural scan of raw msgpack (scan.c): exactly one well-formed value filling
 * buf[0..len), every declared length backed by bytes present, depth <= PROTO_MAX_DEPTH, at most
 * PROTO__MAX_OBJECTS objects. Runs before msgpack-c allocates anything. */
int proto__scan(const uint8_t *buf, size_t len);

#endif
