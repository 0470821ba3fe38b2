// SPDX-License-Identifier: MPL-2.0
// Conversation ids: a citizen with a unit has one conversation, the same on every device of
// both sides whoever writes first (the derivation the C client library uses).
import { sodium } from '../crypto/sodium.js';
import { ascii, concat, toHex } from '../crypto/bytes.js';

const CTX = concat(ascii('wakks/v1/conversation'), Uint8Array.of(0));
const z = (s) => concat(ascii(s), Uint8Array.of(0));

export function conversationId(citizenAcc, tenant, unit) {
  return sodium.crypto_hash_sha256(concat(CTX, citizenAcc, z(tenant), z(unit))).slice(0, 16);
}
export const conversationKey = (citizenAcc, tenant, unit) => toHex(conversationId(citizenAcc, tenant, unit));
