// SPDX-License-Identifier: MPL-2.0
// The caseworker's inbox: which threads a filter shows, and search across the messages this
// device holds. Pure functions of the conversations and messages, so they are tested in Node.

export const FILTERS = [
  ['all', 'Alle'],
  ['unassigned', 'Ikke tildelt'],
  ['mine', 'Mine'],
  ['unread', 'Ulæste'],
];

/** Folds case and Danish letters for searching ("Ærø" finds "ærø"). */
export const fold = (s) => String(s ?? '').toLocaleLowerCase('da-DK').normalize('NFC');

/**
 * The threads to list, newest first.
 * @param {object[]} convs conversations ({ id, last, unread, assignee?, state? })
 * @param {object} o filter: 'all'|'unassigned'|'mine'|'unread'; me: this caseworker's account
 *   (hex); q: search text; textsOf(id) -> the texts of a thread's messages; titleOf(conv) -> title
 * @returns {{ conv: object, hit: string|null }[]} hit: the first message text that matched
 */
export function listThreads(convs, o) {
  const q = fold(o.q).trim();
  const out = [];
  for (const c of convs) {
    if (o.filter === 'unassigned' && (c.assignee || c.state === 'closed')) continue;
    if (o.filter === 'mine' && c.assignee !== o.me) continue;
    if (o.filter === 'unread' && !c.unread) continue;
    let hit = null;
    if (q) {
      const inTitle = fold(o.titleOf?.(c)).includes(q);
      hit = (o.textsOf?.(c.id) ?? []).find((t) => fold(t).includes(q)) ?? null;
      if (!inTitle && hit === null) continue;
    }
    out.push({ conv: c, hit });
  }
  return out.sort((a, b) => Number(b.conv.last ?? 0) - Number(a.conv.last ?? 0));
}

/** A piece of `text` around the first place `q` occurs, for the list. */
export function snippet(text, q, width = 80) {
  const t = String(text ?? '');
  const at = fold(t).indexOf(fold(q).trim());
  if (at < 0 || t.length <= width) return t.slice(0, width);
  const from = Math.max(0, Math.min(at - Math.floor(width / 3), t.length - width));
  return `${from ? '…' : ''}${t.slice(from, from + width)}${from + width < t.length ? '…' : ''}`;
}

/** The number in the title and on the icon: unread threads' messages, capped for the icon. */
export const unreadLabel = (n) => (n > 99 ? '99+' : String(n));
