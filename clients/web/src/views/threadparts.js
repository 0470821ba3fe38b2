// SPDX-License-Identifier: MPL-2.0
// Parts of a caseworker's thread (issue 19): who the citizen is (verified with MitID or not, and
// why), who has the thread and how far it is, handover with a note, the system notices in the
// thread, each message's journal status (issue 20), and whether the citizen's consent lets the
// unit answer.
import { toHex } from '../crypto/bytes.js';
import { maskCpr } from '../app/records.js';
import { JOURNAL_LABEL, STATE_LABEL } from '../app/threadstate.js';
import { REASONS } from '../identity/presentation.js';
import { h, fmtTime, short } from './dom.js';

/** A colleague's name as this device knows it: itself by name, others by account. */
export function colleagueName(app, accHex) {
  const d = app.client.device;
  if (accHex === toHex(d.acc)) return d.name ? `${d.name} (dig)` : 'Dig';
  return `Kollega ${short(accHex)}`;
}

export function identityLine(app, conv) {
  const id = conv.identity;
  if (id?.ok) {
    const cpr = h('span', { class: 'cpr', id: 'citizen-cpr' }, maskCpr(id.cpr));
    const show = h('button', { type: 'button', class: 'link', id: 'reveal-cpr', onclick: async () => {
      cpr.textContent = `${id.cpr.slice(0, 6)}-${id.cpr.slice(6)}`;
      show.remove();
      await app.client.messaging.threads.reveal(conv);
    } }, 'Vis hele CPR-nummeret');
    return h('p', { class: 'identity', id: 'citizen-identity' },
      h('span', { class: 'name' }, id.name), ' · ', cpr, ' · ',
      h('span', { class: 'verified' }, 'verificeret med MitID'),
      id.iat ? h('span', { class: 'help' }, ` (${fmtTime(id.iat * 1000)})`) : null, ' ', show);
  }
  const reason = REASONS[id?.reason ?? 'not_presented'] ?? REASONS.not_presented;
  return h('p', { class: 'identity', id: 'citizen-identity' },
    h('span', { class: 'unverified' }, 'Ikke verificeret'), `: ${reason}. `,
    h('button', { type: 'button', class: 'link', id: 'ask-identity', onclick: async (ev) => {
      ev.target.disabled = true;
      await app.client.messaging.threads.requestIdentity(conv).catch(() => {});
      ev.target.replaceWith(h('span', { role: 'status' }, 'Borgerens enhed er bedt om at vise sin identitet.'));
    } }, 'Bed om identitet'));
}

// The colleague chosen for a handover, per thread: a re-render (a new message) keeps the choice.
const chosen = new Map();

export function threadActions(app, conv, me) {
  const t = app.client.messaging.threads;
  const send = (name, opts) => t.sendNotice(conv, name, opts);
  const who = conv.assignee ? (conv.assignee === me ? 'dig' : colleagueName(app, conv.assignee)) : 'ingen';
  const buttons = [];
  if (conv.assignee !== me) buttons.push(h('button', { type: 'button', id: 'take', onclick: () => send('take') }, 'Tag samtalen'));
  if (conv.state !== 'answered') buttons.push(h('button', { type: 'button', class: 'secondary', id: 'mark-answered', onclick: () => send('answered') }, 'Markér som besvaret'));
  if (conv.state !== 'closed') buttons.push(h('button', { type: 'button', class: 'secondary', id: 'mark-closed', onclick: () => send('closed') }, 'Luk'));
  if (conv.state !== 'open') buttons.push(h('button', { type: 'button', class: 'secondary', id: 'reopen', onclick: () => send('reopened') }, 'Genåbn'));
  const select = h('select', { id: 'handover-to', name: 'modtager' }, h('option', { value: '' }, 'Henter kolleger …'));
  const note = h('textarea', { id: 'handover-note', name: 'note', rows: 2, maxlength: 2000 });
  const problem = h('p', { class: 'error', role: 'alert', id: 'handover-problem' });
  const form = h('form', { class: 'handover', onsubmit: async (ev) => {
    ev.preventDefault();
    if (!select.value) { problem.textContent = 'Vælg den kollega, der skal have samtalen.'; return; }
    await send('handover', { account: select.value, note: note.value.trim() });
  } },
  h('label', { for: 'handover-to' }, 'Overdrag til'), select,
  h('label', { for: 'handover-note' }, 'Note til kollegaen (valgfri)'), note, problem,
  h('button', { type: 'submit' }, 'Overdrag'));
  const details = h('details', { class: 'handover-box' }, h('summary', {}, 'Overdrag til en kollega'), form);
  details.addEventListener('toggle', async () => {
    if (!details.open) return;
    const list = await app.client.messaging.deviceSet({ ten: conv.ten, unit: conv.unit }).catch(() => null);
    const accs = [...new Set((list ?? []).map((x) => toHex(x.acc)))].filter((a) => a !== me && a !== conv.citizen);
    select.replaceChildren(h('option', { value: '' }, accs.length ? 'Vælg en kollega' : 'Ingen kolleger fundet'),
      ...accs.map((a) => h('option', { value: a }, colleagueName(app, a))));
    if (accs.includes(chosen.get(conv.id))) select.value = chosen.get(conv.id);
  });
  select.addEventListener('change', () => chosen.set(conv.id, select.value));
  return h('div', { class: 'thread-state' },
    h('p', { id: 'thread-status' }, `Status: ${STATE_LABEL[conv.state ?? 'open']} · Tildelt: ${who}`),
    h('div', { class: 'thread-actions' }, buttons), details);
}

const NOTICE_TEXT = {
  take: (n, by) => `${by} tog samtalen.`,
  answered: (n, by) => `${by} markerede samtalen som besvaret.`,
  closed: (n, by) => `${by} lukkede samtalen${n.note ? `: ${n.note}` : '.'}`,
  reopened: (n, by) => `${by} genåbnede samtalen.`,
  history_offer: (n, by) => `${by} gav en ny enhed enhedens samtaler.`,
};

/** A message's journal status, on the message itself (spec/journal.md §6): a journal_status
 * notice is not a line of its own. In words, not colour alone. */
export function journalLine(status) {
  if (!status) return null;
  const failed = status.state === 'failed';
  return h('p', { class: `journal journal-${failed ? 'failed' : 'ok'}`, 'data-journal': status.state }, JOURNAL_LABEL[status.state](status.reason));
}

export function noticeLine(app, conv, m, me) {
  const n = m.notice;
  const by = colleagueName(app, m.senderAcc);
  if (n.name === 'handover') {
    const to = n.account === me ? 'dig' : colleagueName(app, n.account);
    return h('li', { class: 'notice', 'data-notice': 'handover' }, h('p', {}, `${by} overdrog samtalen til ${to} · `, h('time', {}, fmtTime(m.time))),
      n.note ? h('p', { class: 'handover-note' }, `Note: ${n.note}`) : null);
  }
  const text = NOTICE_TEXT[n.name]?.(n, by);
  return text ? h('li', { class: 'notice', 'data-notice': n.name }, h('p', {}, text, ' · ', h('time', {}, fmtTime(m.time)))) : null;
}

/** Whether the unit may write to the citizen now, asked from the relay when the thread opens. */
export function consentLine(app, conv) {
  const p = h('p', { class: 'consent-state', id: 'consent-state', role: 'status' });
  if (!conv.citizen || app.client.status !== 'online') return p;
  app.client.messaging.threads.consentActive(conv).then((active) => {
    p.textContent = active ? 'Borgeren har givet samtykke: enheden kan svare.' : 'Borgeren har ikke givet samtykke til enheden. Du kan ikke svare, før borgeren giver samtykke.';
    p.className = `consent-state ${active ? 'ok' : 'error'}`;
  }).catch(() => {});
  return p;
}
