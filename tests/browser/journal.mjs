// SPDX-License-Identifier: MPL-2.0
// Journalisation on the caseworker's screen (issue 20), against its own relay: the tenant's
// journal device (wakks-journal, the development provider's `journal` user, `directory`
// destination into a temporary folder) runs beside the browsers; the citizen and a caseworker
// write to each other, the caseworker sees "Journaliseret" on each of the two messages, a note
// for each lies in the folder under the message's idempotency key, and the citizen sees no
// journal status at all.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startRelay } from './relay.mjs';

const DESK = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };

// Starts wakks-journal against the relay; resolves once it has registered ("journal started").
async function startJournal(buildDir, relay, dir) {
  const bin = resolve(buildDir, 'clients/journal/wakks-journal');
  if (!existsSync(bin)) throw new Error(`${bin} is not built`);
  const out = join(dir, 'out');
  const conf = join(dir, 'journal.conf');
  writeFileSync(conf, [
    `relay_url = wss://localhost:${relay.port}`, `ca_file = ${join(relay.dataDir, 'dev-cert.pem')}`,
    `state_dir = ${join(dir, 'state')}`, 'idp = dev-adfs', 'devidp_user = journal',
    'destination = directory', `directory = ${out}`, 'retry_base_ms = 100', '',
  ].join('\n'));
  const proc = spawn(bin, ['run', '--config', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`wakks-journal did not start:\n${log}`)), 15000);
    proc.stderr.on('data', () => { if (/ journal started /.test(log)) { clearTimeout(timer); ok(); } });
    proc.on('exit', (code) => { clearTimeout(timer); fail(new Error(`wakks-journal exited ${code}:\n${log}`)); });
  });
  return {
    out,
    log: () => log,
    // SIGTERM: the daemon finishes its loop and exits 0; anything else is a failure to report.
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      return new Promise((r) => {
        const t = setTimeout(() => { proc.kill('SIGKILL'); r(-1); }, 5000);
        proc.on('exit', (code) => { clearTimeout(t); r(code); });
      });
    },
  };
}

// spec/journal.md §3: SHA-256("wakks.journal.v1" 0x00 || tenant || 0x00 || thread || message id).
const noteKey = (tenant, threadHex, msgHex) => createHash('sha256')
  .update(Buffer.concat([Buffer.from('wakks.journal.v1\0'), Buffer.from(tenant), Buffer.from([0]), Buffer.from(threadHex, 'hex'), Buffer.from(msgHex, 'hex')]))
  .digest('hex');

export async function journalScenario({ step, browser, buildDir, web, axe, shot, login, send, watchCsp }) {
  const relay = await startRelay(buildDir, `${web}/dist`);
  const dir = mkdtempSync(join(tmpdir(), 'wakks-journal-'));
  const mine = [];
  const ctx = async (viewport) => {
    const c = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'da-DK', viewport });
    watchCsp(c);
    mine.push(c);
    return c;
  };
  let journal = null, A, C, failed = false, bad = false;
  // Every step's failure prints the daemon's log; a failed `must` skips the steps after it.
  const one = (name, fn) => step(name, async () => { try { await fn(); } catch (e) { bad = true; throw e; } });
  const must = async (name, fn) => { if (failed) { await step(name, async () => { throw new Error('skipped after an earlier failure'); }); return; } await one(name, async () => { try { await fn(); } catch (e) { failed = true; throw e; } }); };
  const ASK = 'Hej, her er min ansøgning om kørselsgodtgørelse.';
  const REPLY = 'Tak, vi behandler den i denne uge.';
  try {
    await must('journal: the tenant\'s journal device registers; a caseworker and the citizen log in', async () => {
      // First, so that every message of the thread is encrypted to it too.
      journal = await startJournal(buildDir, relay, dir);
      A = await login(await ctx(DESK), relay.url, 'caseworker', 'camilla');
      C = await login(await ctx(PHONE), relay.url, 'citizen', 'anna');
    });
    await must('journal: the citizen and the caseworker write; "Journaliseret" appears on each message on the caseworker\'s screen', async () => {
      await C.click('button[data-unit=jobcenter]');
      await C.click('#consent-inline-read');
      await C.click('#consent-inline-grant');
      await C.waitForSelector('#consent-inline .ok');
      await send(C, ASK);
      await A.click('.inbox button.conv', { timeout: 15000 });
      await A.waitForSelector(`.msg.theirs:has-text("${ASK}") .journal[data-journal=journalised]:has-text("Journaliseret")`, { timeout: 15000 });
      await send(A, REPLY);
      await A.waitForSelector(`.msg.mine:has-text("${REPLY}") .journal[data-journal=journalised]:has-text("Journaliseret")`, { timeout: 15000 });
      // on the message, not as a line of its own
      if (await A.locator('.notice[data-notice=journal_status]').count()) throw new Error('a journal status shown as a free-standing line');
      await axe(A, 'caseworker thread with journal status');
      await shot(A, 'caseworker-journalised');
    });
    await one('journal: a note for each message lies in the journal folder under its idempotency key', async () => {
      const msgs = await A.evaluate(([a, b]) => [...window.wakks.client.messaging.messages.values()]
        .filter((m) => m.text === a || m.text === b).map((m) => ({ id: m.id, conv: m.conv, text: m.text })), [ASK, REPLY]);
      if (msgs.length !== 2) throw new Error(`the caseworker's device holds ${msgs.length} of the 2 messages`);
      for (const m of msgs) {
        const file = join(journal.out, noteKey('varde', m.conv, m.id), 'note.json');
        if (!existsSync(file)) throw new Error(`no note ${file}`);
        const note = JSON.parse(readFileSync(file, 'utf8'));
        if (note.message_id !== m.id || note.text !== m.text || note.tenant !== 'varde' || note.unit !== 'jobcenter') {
          throw new Error(`note ${JSON.stringify({ id: note.message_id, text: note.text, tenant: note.tenant, unit: note.unit })} for ${JSON.stringify(m)}`);
        }
        if (note.text === ASK && (note.direction !== 'citizen_to_unit' || note.citizen?.cpr !== '0503841234')) {
          throw new Error(`citizen's note: direction ${note.direction}, identity ${note.citizen?.identity}`);
        }
      }
    });
    await one('journal: the citizen sees no journal status', async () => {
      await C.waitForSelector(`.msg.theirs:has-text("${REPLY}")`, { timeout: 15000 });
      const held = await C.evaluate(() => [...window.wakks.client.messaging.messages.values()].filter((m) => m.notice).length);
      const shown = await C.locator('.journal, :text("Journaliseret")').count();
      if (held || shown) throw new Error(`the citizen's device holds ${held} notices and shows ${shown} journal lines`);
    });
    await one('journal: the journal device stops cleanly', async () => {
      const code = await journal.stop();
      journal = null;
      if (code !== 0) throw new Error(`wakks-journal exited ${code}`);
    });
  } finally {
    for (const c of mine) await c.close().catch(() => {});
    if (journal) {
      if (bad) console.log(`wakks-journal log (tail):\n${journal.log().split('\n').slice(-20).join('\n')}`);
      await journal.stop();
    }
    await relay.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
