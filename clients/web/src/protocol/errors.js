// SPDX-License-Identifier: MPL-2.0
// The error table of spec/protocol.md §12: wire code, name, and the Danish text a user may see.

export const ERRORS = [
  [1, 'malformed'], [2, 'truncated'], [3, 'trailing_bytes'], [4, 'frame_too_large'],
  [5, 'too_deep'], [6, 'bad_shape'], [7, 'unknown_type'], [8, 'bad_request_id'],
  [9, 'wrong_type'], [10, 'bad_length'], [11, 'over_limit'], [12, 'missing_field'],
  [13, 'duplicate_field'], [14, 'out_of_range'], [15, 'bad_string'], [16, 'invalid'],
  [17, 'no_space'], [18, 'out_of_memory'], [19, 'bad_argument'],
  [32, 'not_authenticated'], [33, 'already_authenticated'], [34, 'auth_failed'],
  [35, 'attestation_rejected'], [36, 'not_found'], [37, 'device_mismatch'],
  [38, 'quota_exceeded'], [39, 'rate_limited'], [40, 'consent_required'], [41, 'forbidden'],
  [42, 'bad_signature'], [43, 'too_many_devices'], [44, 'unavailable'], [45, 'internal'],
  [46, 'bad_digest'],
];

const byName = new Map(ERRORS.map(([c, n]) => [n, c]));
const byCode = new Map(ERRORS.map(([c, n]) => [c, n]));

export function errcode(name) { return byName.get(name); }
// An unknown code is treated like `internal` (§4.4, §13 rule 5).
export function errname(code) { return byCode.get(code) ?? 'internal'; }

/** A frame that fails to decode: `name` is the wire error name, `field` the offending key. */
export class ProtoError extends Error {
  constructor(name, field) {
    super(field ? `${name} (${field})` : name);
    this.name = 'ProtoError';
    this.code = name;
    this.wire = byName.get(name);
    this.field = field;
  }
}
