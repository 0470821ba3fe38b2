// SPDX-License-Identifier: MPL-2.0
// One connection per browser: the tab that holds the lock leads, the others call through it, and
// a waiting tab leads when the leader gives the lock up. Node's BroadcastChannel carries the
// messages; the lock manager is a minimal one with the Web Locks semantics the module uses
// (exclusive, granted in request order, released when the callback's promise settles, aborted by
// a signal while waiting).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tabs } from '../src/app/tabs.js';

function lockManager() {
  const queue = [];
  let held = false;
  const next = () => {
    if (held || !queue.length) return;
    const { cb, resolve, reject } = queue.shift();
    held = true;
    Promise.resolve(cb()).then(resolve, reject).finally(() => { held = false; next(); });
  };
  return {
    request(name, opts, cb) {
      return new Promise((resolve, reject) => {
        const entry = { cb, resolve, reject };
        opts.signal?.addEventListener('abort', () => {
          const i = queue.indexOf(entry);
          if (i >= 0) { queue.splice(i, 1); reject(new Error('AbortError')); }
        });
        queue.push(entry);
        next();
      });
    },
  };
}

const until = async (fn) => { for (let i = 0; i < 200 && !fn(); i++) await new Promise((r) => setTimeout(r, 5)); assert.ok(fn()); };

test('one leader; a follower calls through it and hears its announcements; the follower leads when the leader stops', async () => {
  const env = { locks: lockManager(), BroadcastChannel };
  const led = [], heard = [];
  const mk = (name) => new Tabs({
    leader: () => led.push(name),
    serve: async (op, args) => { if (op === 'fail') throw Object.assign(new Error('x'), { code: 'consent_required', det: { n: 1 } }); return { by: name, op, args }; },
    heard: (m) => heard.push([name, m.kind, m.what]),
  }, env);
  const a = mk('a'), b = mk('b');
  try {
    a.start();
    await until(() => a.leader);
    b.start();
    assert.equal(b.waiting, true);
    assert.equal(b.leader, false);
    assert.deepEqual(await b.call('sendText', [{ id: 'c1' }, 'hej', new Uint8Array([1, 2])]), { by: 'a', op: 'sendText', args: [{ id: 'c1' }, 'hej', new Uint8Array([1, 2])] });
    await assert.rejects(b.call('fail', []), (e) => e.code === 'consent_required' && e.det.n === 1);
    a.announce({ what: 'messages', status: 'online' });
    await until(() => heard.some((x) => x[0] === 'b' && x[1] === 'changed' && x[2] === 'messages'));
    b.announce({ what: 'nothing' }); // only the leader announces
    a.stop();
    await until(() => b.leader);
    assert.deepEqual(led, ['a', 'b']);
    assert.equal((await new Promise((r) => { const c = mk('c'); c.start(); c.call('ping', []).then((v) => { c.close(); r(v); }); })).by, 'b');
  } finally { a.close(); b.close(); }
  assert.ok(!heard.some((x) => x[2] === 'nothing'));
});

test('without Web Locks every tab leads on its own', () => {
  let led = 0;
  const t = new Tabs({ leader: () => { led++; }, serve: async () => null, heard: () => {} }, { locks: undefined, BroadcastChannel });
  t.start();
  assert.equal(t.leader, true);
  assert.equal(led, 1);
  t.close();
});
