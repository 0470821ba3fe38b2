// SPDX-License-Identifier: MPL-2.0
// A thread's state (spec/client.md §13): open, answered or closed, and its assignee, derived on
// every device alike from the thread's records in history order. Nothing of it is on the relay.

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
