// SPDX-License-Identifier: MPL-2.0
// A thread's state (spec/client.md §13): open, answered or closed, its assignee, and each
// message's journal status, derived on every device alike from the thread's records in history
// order. Nothing of it is on the relay.
import { toHex } from '../crypto/bytes.js';

/** A decoded notice (records.js) as a device keeps it with the thread: ids as hex. */
export function storedNotice(n) {
  return { name: n.name, account: n.account ? toHex(n.account) : null, note: n.note, state: n.state, ref: n.ref ? toHex(n.ref) : null };
}

/**
 * @param {object[]} records in history order: { notice: { name, account, note }, sender } for a
 *   kind-4 notice (sender: the account hex that sent it), { citizen: true } for a text or file of
 *   the citizen; anything else is ignored.
 * @returns {{ state: string, assignee: string|null, handover: object|null }} handover: the last
 *   handover, { from, to, note }, accounts as hex
 */
export function threadState(records) {
  let state = 'open', assignee = null, handover = null;
  for (const r of records) {
    if (r.citizen) { if (state !== 'open') state = 'open'; continue; }
    const n = r.notice;
    if (!n) continue;
    if (n.name === 'take') assignee = r.sender;
    else if (n.name === 'handover') { assignee = n.account; handover = { from: r.sender, to: n.account, note: n.note }; }
    else if (n.name === 'answered') state = 'answered';
    else if (n.name === 'closed') state = 'closed';
    else if (n.name === 'reopened') state = 'open';
  }
  return { state, assignee, handover };
}

export const STATE_LABEL = { open: 'Åben', answered: 'Besvaret', closed: 'Lukket' };

/**
 * Journal status per message (spec/client.md §13, spec/journal.md §6): the latest
 * `journal_status` notice naming each message, in history order.
 * @param {object[]} records the thread's records in history order; a notice is
 *   { notice: { name, ref, state, note } }, ref the message id hex
 * @returns {Map<string, { state: 'journalised'|'failed', reason: string }>} by message id hex
 */
export function journalStatus(records) {
  const out = new Map();
  for (const r of records) {
    const n = r.notice;
    if (n?.name !== 'journal_status' || !n.ref) continue;
    // State 1 or 2 only (a decoded notice has no other, but a stored one is not re-checked).
    if (n.state === 1) out.set(n.ref, { state: 'journalised', reason: '' });
    else if (n.state === 2) out.set(n.ref, { state: 'failed', reason: n.note ?? '' });
  }
  return out;
}

export const JOURNAL_LABEL = {
  journalised: () => 'Journaliseret',
  failed: (reason) => (reason ? `Journalisering mislykkedes: ${reason}` : 'Journalisering mislykkedes'),
};
