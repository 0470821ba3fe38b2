// SPDX-License-Identifier: MPL-2.0
// The relay's branding answer as the app uses it: only a #rrggbb colour reaches the style sheet
// and only a logo path on the relay reaches an image source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appBrand, brandingMap } from '../src/app/branding.js';

test('a well-formed answer is kept as it is', () => {
  const m = brandingMap({ tenants: [{ id: 'varde', name: 'Varde Kommune', display_name: 'Varde', colour: '#0b5394', logo: '/branding/varde/logo' }] });
  assert.deepEqual(m.get('varde'), { id: 'varde', name: 'Varde Kommune', display_name: 'Varde', colour: '#0b5394', logo: '/branding/varde/logo' });
  assert.equal(appBrand(m).id, 'varde');
});

test('colours and logos that are not what the relay sends are dropped; nameless tenants left out', () => {
  const m = brandingMap({ tenants: [
    { id: 'a', name: 'A', display_name: 'A', colour: 'red; background: url(//x)', logo: 'https://elsewhere.example/x.png' },
    { id: 'b', name: 'B', display_name: 'B', colour: '#12345', logo: '/branding/b/../../x' },
    { id: 'c', name: 'C' },
    { display_name: 'no id' },
    null,
  ] });
  assert.deepEqual([...m.keys()], ['a', 'b']);
  assert.deepEqual(m.get('a'), { id: 'a', name: 'A', display_name: 'A' });
  assert.deepEqual(m.get('b'), { id: 'b', name: 'B', display_name: 'B' });
  assert.equal(appBrand(m), null); // two tenants: no single design for the whole app
});

test('an answer that is not a list of tenants gives no branding', () => {
  for (const a of [null, {}, { tenants: 'x' }, []]) assert.equal(brandingMap(a).size, 0);
});
