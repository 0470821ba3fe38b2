// SPDX-License-Identifier: MPL-2.0
// The caseworker's inbox filters and search, and the standard phrases' limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listThreads, snippet, unreadLabel } from '../src/app/inbox.js';
import { cleanPhrases, MAX_PHRASES, MAX_PHRASE_NAME } from '../src/app/settings.js';

const ME = 'aa'.repeat(16), OTHER = 'bb'.repeat(16);
const convs = [
  { id: 'c1', last: 10, unread: 0, title: 'Anna Jensen' },
  { id: 'c2', last: 30, unread: 2, assignee: ME, title: 'Bo Nielsen' },
  { id: 'c3', last: 20, unread: 1, assignee: OTHER, title: 'Åse Ærø' },
  { id: 'c4', last: 40, unread: 0, state: 'closed', title: 'Lukket Sag' },
];
const texts = { c1: ['Hej, jeg har et spørgsmål om mit møde'], c2: ['Tak for svaret'], c3: ['Mit CV er vedhæftet'], c4: [] };
const list = (filter, q = '') => listThreads(convs, { filter, me: ME, q, titleOf: (c) => c.title, textsOf: (id) => texts[id] }).map((r) => r.conv.id);

test('filters: all, unassigned, mine, unread; newest first', () => {
  assert.deepEqual(list('all'), ['c4', 'c2', 'c3', 'c1']);
  assert.deepEqual(list('unassigned'), ['c1']); // a closed thread waits for no one
  assert.deepEqual(list('mine'), ['c2']);
  assert.deepEqual(list('unread'), ['c2', 'c3']);
});

test('search finds titles and message texts, ignoring case and with Danish letters', () => {
  assert.deepEqual(list('all', 'MØDE'), ['c1']);
  assert.deepEqual(list('all', 'ærø'), ['c3']);
  assert.deepEqual(list('all', 'cv'), ['c3']);
  assert.deepEqual(list('mine', 'cv'), []);
  assert.deepEqual(list('all', 'findes ikke'), []);
  const [hit] = listThreads(convs, { filter: 'all', q: 'møde', titleOf: (c) => c.title, textsOf: (id) => texts[id] });
  assert.equal(hit.hit, texts.c1[0]);
});

test('snippet shows the place of the hit', () => {
  const long = `${'a'.repeat(200)} nøgleordet ${'b'.repeat(200)}`;
  const s = snippet(long, 'NØGLEORDET', 60);
  assert.ok(s.includes('nøgleordet'), s);
  assert.ok(s.startsWith('…') && s.endsWith('…'));
  assert.equal(snippet('kort', 'x'), 'kort');
  assert.equal(unreadLabel(7), '7');
  assert.equal(unreadLabel(120), '99+');
});

test('standard phrases are trimmed, bounded and never empty', () => {
  assert.deepEqual(cleanPhrases([{ name: ' Hilsen ', text: ' Venlig hilsen\nJobcentret ' }, { name: '', text: 'x' }, { name: 'y', text: '  ' }, null]),
    [{ name: 'Hilsen', text: 'Venlig hilsen\nJobcentret' }]);
  assert.deepEqual(cleanPhrases('not a list'), []);
  const many = Array.from({ length: MAX_PHRASES + 5 }, (_, i) => ({ name: `n${i}`.padEnd(MAX_PHRASE_NAME + 10, 'x'), text: 't' }));
  const out = cleanPhrases(many);
  assert.equal(out.length, MAX_PHRASES);
  assert.equal(out[0].name.length, MAX_PHRASE_NAME);
});
