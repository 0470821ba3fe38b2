// SPDX-License-Identifier: MPL-2.0
// Fan-out (spec/crypto.md §12): one content record, one envelope per recipient device. Every
// session is checked before any is used, so a fan-out produces all envelopes or changes nothing.
import { encodeContent } from './content.js';
import { encrypt } from './ratchet.js';
import { fail } from './errors.js';

/** sessions: array of sessions in recipient order. Returns { sessions, envelopes }. */
export function fanout(sessions, content) {
  for (const s of sessions) if (!s || !s.cks || s.ns >= 0xfffffffe) fail();
  const record = content instanceof Uint8Array ? content : encodeContent(content);
  const out = sessions.map((s) => encrypt(s, record));
  return { sessions: out.map((x) => x[0]), envelopes: out.map((x) => x[1]) };
}
