// SPDX-License-Identifier: MPL-2.0
// The caseworker's working day (issue 19) in the browser, against its own relay: two caseworkers
// of the Jobcenter (Camilla, Dennis) and a citizen (Anna) — her verified name on both screens, a
// shared thread, handover with a note, read receipts both ways, consent offered in the thread,
// log-out and history, a colleague who joins later, a forged identity shown as unverified, the
// split screen at 1366×768 and one pane at 390×844, and axe-core on every new screen.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startRelay } from './relay.mjs';

const run = promisify(execFile);

const DESK = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };

export async function inboxScenario({ step, browser, buildDir, web, root, axe, shot, login, waitOnline, send, watchCsp }) {
  const relay = await startRelay(buildDir, `${web}/dist`);
  const base = relay.url;
  const mine = [];
  const ctx = async (viewport) => {
    const c = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'da-DK', viewport });
    watchCsp(c);
    mine.push(c);
    return c;
  };
  let failed = false;
  const must = async (name, fn) => { if (failed) { await step(name, async () => { throw new Error('skipped after an earlier failure'); }); return; } await step(name, async () => { try { await fn(); } catch (e) { failed = true; throw e; } }); };
  const accOf = (p) => p.evaluate(() => [...window.wakks.client.device.acc].map((b) => b.toString(16).padStart(2, '0')).join(''));
  const openThread = async (p, who) => {
    await p.evaluate(() => window.wakks.go({ view: 'home' }));
    await p.click(`.inbox button.conv:has-text("${who}")`, { timeout: 20000 });
    await p.waitForSelector('.pane-read h2#thread-title');
  };
  const VERIFIED = 'Anna Jensen · 050384-xxxx · verificeret med MitID';
  let A, B, C, ctxB;
  try {
    await must('working day: two caseworkers of the Jobcenter and a citizen log in', async () => {
      A = await login(await ctx(DESK), base, 'caseworker', 'camilla');
      ctxB = await ctx(DESK);
      B = await login(ctxB, base, 'caseworker', 'dennis');
      C = await login(await ctx(PHONE), base, 'citizen', 'anna');
    });
    await must('before consent the citizen is told the unit cannot answer, and consents in the thread', async () => {
      await C.click('button[data-unit=jobcenter]');
      await C.waitForSelector('#consent-inline p.error:has-text("kan ikke svare dig")');
      await C.click('#consent-inline-read');
      await axe(C, 'citizen thread with consent offered (390×844)');
      await C.click('#consent-inline-grant');
      await C.waitForSelector('#consent-inline .ok');
    });
    await must('A finds the citizen by CPR number and writes first: her device presents itself, and the name shows before she writes', async () => {
      await A.click('nav button[data-view=lookup]');
      await A.fill('#cpr', '050384-1234');
      await A.click('form button[type=submit]');
      await A.click('#lookup-write');
      await send(A, 'Velkommen til Jobcentret.');
      await A.waitForSelector(`#citizen-identity:has-text("${VERIFIED}")`, { timeout: 15000 });
      await A.waitForSelector('.pane-read h2:has-text("Anna Jensen")');
      await C.waitForSelector('.msg.theirs:has-text("Velkommen til Jobcentret")', { timeout: 15000 });
    });
    await must('the citizen writes; both caseworkers see her verified name and masked CPR number', async () => {
      await send(C, 'Hej, jeg vil gerne tale om min ledighed.');
      for (const p of [A, B]) {
        await openThread(p, 'Anna Jensen');
        await p.waitForSelector(`#citizen-identity:has-text("${VERIFIED}")`);
        await p.waitForSelector('.msg.theirs:has-text("min ledighed")');
      }
      await A.waitForSelector('#consent-state.ok:has-text("har givet samtykke")');
      await axe(A, 'caseworker split screen with a verified citizen (1366×768)');
      // the list and the reading pane side by side
      const [l, r] = [await A.locator('.pane-list').boundingBox(), await A.locator('.pane-read').boundingBox()];
      if (!l || !r || r.x < l.x + l.width - 1 || Math.abs(r.y - l.y) > 40) throw new Error(`panes ${JSON.stringify([l, r])}`);
      await shot(A, 'caseworker-workday');
      // the full number only on request
      await A.click('#reveal-cpr');
      await A.waitForSelector('#citizen-cpr:has-text("050384-1234")');
    });
    await must('caseworker A\'s reply appears on B\'s screen in the same thread, and reaches the citizen', async () => {
      await send(A, 'Vi ringer til dig i morgen kl. 10.');
      await B.waitForSelector('.msg.theirs:has-text("Vi ringer til dig")', { timeout: 15000 });
      if (await B.locator('.inbox li').count() !== 1) throw new Error('the reply opened a second thread');
      await C.waitForSelector('.msg.theirs:has-text("Vi ringer til dig")', { timeout: 15000 });
    });
    await step('read receipts both ways: "Læst"', async () => {
      await A.waitForSelector('.msg.mine[data-read=true]:has-text("Vi ringer til dig") .status:has-text("Læst")', { timeout: 15000 });
      await C.waitForSelector('.msg.mine[data-read=true]:has-text("min ledighed") .status:has-text("Læst")', { timeout: 15000 });
    });
    await must('A takes the thread and hands it to B with a note; both inboxes show it', async () => {
      const bAcc = await accOf(B);
      await A.click('#take');
      await A.waitForSelector('#thread-status:has-text("Tildelt: dig")');
      await A.click('details.handover-box summary');
      await A.waitForSelector(`#handover-to option[value="${bAcc}"]`, { state: 'attached' });
      await A.selectOption('#handover-to', bAcc);
      await A.fill('#handover-note', 'Borgeren vil tale om ledighed – kan du tage den?');
      await axe(A, 'handover form');
      await A.click('.handover button[type=submit]');
      await A.waitForSelector('.inbox li .state:has-text("Hos Kollega")');
      await B.waitForSelector('.inbox li .state:has-text("Min")', { timeout: 15000 });
      await B.waitForSelector('.notice[data-notice=handover]:has-text("til dig"):has-text("kan du tage den")');
      await B.click('button[data-filter=mine]');
      await B.waitForSelector('.inbox button.conv:has-text("Anna Jensen")');
      await A.click('button[data-filter=mine]');
      await A.waitForSelector('.pane-list .empty');
      await A.click('button[data-filter=unassigned]');
      await A.waitForSelector('.pane-list .empty');
      await axe(A, 'inbox filtered');
      for (const p of [A, B]) await p.click('button[data-filter=all]');
    });
    await step('search across the threads on the device; the unread count in the title and the icon', async () => {
      await B.fill('#inbox-search', 'LEDIGHED');
      await B.waitForSelector('.inbox li .preview:has-text("ledighed")');
      await B.fill('#inbox-search', 'ingen-sådan-tekst');
      await B.waitForSelector('.pane-list .empty');
      await B.fill('#inbox-search', '');
      await B.click('nav button[data-view=settings]');
      await send(C, 'Et spørgsmål mere');
      await B.waitForFunction(() => document.title.startsWith('(1) '), null, { timeout: 15000 });
      const icon = await B.getAttribute('link[rel=icon]', 'href');
      if (!icon.startsWith('data:image/png')) throw new Error(`icon ${icon.slice(0, 30)}`);
      await openThread(B, 'Anna Jensen');
      await B.waitForFunction(() => !document.title.startsWith('('));
    });
    await step('Enter sends and Shift+Enter breaks the line; a standard phrase of the unit is inserted', async () => {
      await A.click('nav button[data-view=settings]');
      await A.fill('#phrase-name', 'Hilsen');
      await A.fill('#phrase-text', 'Venlig hilsen Jobcentret');
      await A.click('#phrase-add button[type=submit]');
      await A.waitForSelector('.phrase-list label:has-text("Hilsen")');
      await axe(A, 'settings');
      await openThread(A, 'Anna Jensen');
      // the thread opens at its newest message (the list scrolls; the newest is in view)
      const at = await A.evaluate(() => { const ol = document.getElementById('messages'); return [ol.scrollHeight > ol.clientHeight, ol.scrollTop + ol.clientHeight >= ol.scrollHeight - 8]; });
      if (!at[0] || !at[1]) throw new Error(`not at the newest message of a list that scrolls: ${JSON.stringify(at)}`);
      await A.selectOption('#phrase', { label: 'Hilsen' });
      await A.keyboard.press('Shift+Enter');
      await A.keyboard.type('Linje to');
      const v = await A.inputValue('#compose');
      if (v !== 'Venlig hilsen Jobcentret\nLinje to') throw new Error(`compose: ${JSON.stringify(v)}`);
      await A.keyboard.press('Enter');
      await A.waitForSelector('.msg.mine:has-text("Linje to")');
      await C.waitForSelector('.msg.theirs:has-text("Linje to")', { timeout: 15000 });
    });
    await step('notifications are offered from a button, not asked for on load; the citizen\'s log-out says what is lost', async () => {
      await A.evaluate(() => window.wakks.go({ view: 'home' }));
      if (await A.evaluate(() => Notification.permission) !== 'default') throw new Error('permission asked on load');
      await A.waitForSelector('#notify-no');
      await A.click('#notify-no');
      await A.waitForSelector('.pane-list h2');
      if (await A.isVisible('#notify-no')) throw new Error('the offer stays after "Nej tak"');
      await C.click('nav button[data-view=settings]');
      await axe(C, 'citizen settings (390×844)');
      const asked = new Promise((ok) => C.once('dialog', async (d) => { ok(d.message()); await d.dismiss(); }));
      await C.click('#logout');
      const q = await asked;
      if (!/slettes/.test(q) || !/kan ikke hentes igen/.test(q)) throw new Error(`log-out question: ${q}`);
      if (await C.evaluate(() => !window.wakks.client.device)) throw new Error('logged out although the person said no');
    });
    await step('at 390×844 the caseworker sees one pane at a time', async () => {
      await openThread(A, 'Anna Jensen');
      await A.setViewportSize(PHONE);
      if (await A.isVisible('.pane-list') || !await A.isVisible('.pane-read')) throw new Error('thread: both panes or none');
      await axe(A, 'caseworker thread (390×844)');
      await A.click('.pane-read button.link');
      await A.waitForSelector('.workday[data-open=list]');
      if (!await A.isVisible('.pane-list') || await A.isVisible('.pane-read')) throw new Error('list: both panes or none');
      await axe(A, 'caseworker inbox (390×844)');
      await A.setViewportSize(DESK);
    });
    await must('B logs out from the header and logs in again: the unit\'s history comes back', async () => {
      B.once('dialog', (d) => d.accept());
      await B.click('#logout');
      await B.waitForSelector('#login-caseworker');
      await B.close();
      B = await login(ctxB, base, 'caseworker', 'dennis');
      await openThread(B, 'Anna Jensen');
      await B.waitForSelector(`#citizen-identity:has-text("${VERIFIED}")`);
      await B.waitForSelector('.msg:has-text("min ledighed")');
      await B.waitForSelector('.msg:has-text("Vi ringer til dig")');
      await B.waitForSelector('.notice[data-notice=handover]:has-text("kan du tage den")');
    });
    let E;
    await step('a colleague who joins the unit\'s group later sees the unit\'s threads', async () => {
      E = await login(await ctx(DESK), base, 'caseworker', 'emma');
      await openThread(E, 'Anna Jensen');
      await E.waitForSelector('.msg:has-text("Et spørgsmål mere")');
      await E.waitForSelector(`#citizen-identity:has-text("${VERIFIED}")`);
    });
    await step('unread state is per person: reading on one of Emma\'s devices clears it on her other, not on Camilla\'s', async () => {
      const E2 = await login(await ctx(DESK), base, 'caseworker', 'emma');
      await E.click('nav button[data-view=settings]');
      await A.evaluate(() => window.wakks.go({ view: 'home' }));
      await C.click('nav button[data-view=home]');
      await C.click('button[data-unit=jobcenter]');
      await send(C, 'Til hele enheden');
      for (const p of [E, E2, A]) await p.waitForFunction(() => document.title.startsWith('(1) '), null, { timeout: 15000 });
      await openThread(E, 'Anna Jensen');
      await E2.waitForFunction(() => !document.title.startsWith('('), null, { timeout: 15000 });
      await E2.waitForSelector('.inbox li:not(.unread) button.conv:has-text("Anna Jensen")');
      if (!(await A.title()).startsWith('(1) ')) throw new Error('Emma\'s reading cleared Camilla\'s unread count');
    });
    await step('a forged identity (another name on a token whose signature then fails) is shown as unverified', async () => {
      const D = await login(await ctx(DESK), base, 'citizen', 'bo');
      const bo = await accOf(D);
      await D.evaluate(() => {
        const d = window.wakks.client.device;
        const [h, p, s] = d.presentation.token.split('.');
        const claims = JSON.parse(atob(p.replace(/-/g, '+').replace(/_/g, '/')));
        const forged = btoa(JSON.stringify({ ...claims, name: 'Anna Jensen', 'dk.cpr': '0503841234' })).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
        d.presentation = { ...d.presentation, token: `${h}.${forged}.${s}` };
      });
      await D.click('button[data-unit=jobcenter]');
      await send(D, 'Hej, det er Anna');
      await A.evaluate(() => window.wakks.go({ view: 'home' }));
      await A.click(`.inbox button.conv[data-citizen="${bo}"]`, { timeout: 15000 });
      await A.waitForSelector('#citizen-identity .unverified');
      await A.waitForSelector('#citizen-identity:has-text("signaturen er ikke gyldig")');
      if (await A.locator('.pane-read h2').textContent() === 'Anna Jensen') throw new Error('the forged name is shown');
      await axe(A, 'unverified citizen');
    });
    await step('mixed: the same citizen\'s command-line device presents his real MitID evidence, which the browser verifies, and they write to each other', async () => {
      const bin = [resolve(buildDir, 'clients/cli/wakks'), resolve(root, 'build/clients/cli/wakks')].find((p) => existsSync(p));
      if (!bin) { console.log('# skip: C command-line client not built'); return; }
      const store = mkdtempSync(join(tmpdir(), 'wakks-cli-'));
      const ca = ['dev-cert.pem', 'tls-cert.pem'].map((f) => join(relay.dataDir, f)).find((p) => existsSync(p));
      const wakks = (...args) => run(bin, ['--store', join(store, 's'), ...args], { timeout: 30000 });
      try {
        // Bo's browser presented a forged token above; his command-line device presents the real one.
        await wakks('--relay', `wss://localhost:${relay.port}`, ...(ca ? ['--ca', ca] : []), 'init');
        await wakks('login', '--user', 'bo', '--idp', 'dev-mitid');
        await wakks('consent', 'grant', 'varde', '--yes');
        await wakks('send', '--unit', 'varde/jobcenter', 'Skrevet fra kommandolinjen');
        await A.waitForSelector('.msg.theirs:has-text("Skrevet fra kommandolinjen")', { timeout: 15000 });
        await A.waitForSelector('#citizen-identity:has-text("Bo Nielsen · 171172-xxxx · verificeret med MitID")', { timeout: 15000 });
        if (await A.locator('.inbox li').count() !== 2) throw new Error('the command-line message opened a third thread');
        await send(A, 'Svar til kommandolinjen');
        const { stdout } = await wakks('receive', '--idle', '3');
        if (!stdout.includes('Svar til kommandolinjen')) throw new Error(`command-line client printed:\n${stdout}`);
      } finally {
        rmSync(store, { recursive: true, force: true });
      }
    });
    await step('mixed: a command-line caseworker device gets the unit\'s history, hands Anna\'s thread to Camilla with a note, and its reply lands in the browsers\' thread', async () => {
      const bin = [resolve(buildDir, 'clients/cli/wakks'), resolve(root, 'build/clients/cli/wakks')].find((p) => existsSync(p));
      if (!bin) { console.log('# skip: C command-line client not built'); return; }
      const store = mkdtempSync(join(tmpdir(), 'wakks-cli-'));
      const ca = ['dev-cert.pem', 'tls-cert.pem'].map((f) => join(relay.dataDir, f)).find((p) => existsSync(p));
      const wakks = (...args) => run(bin, ['--store', join(store, 's'), ...args], { timeout: 30000 });
      try {
        await wakks('--relay', `wss://localhost:${relay.port}`, ...(ca ? ['--ca', ca] : []), 'init');
        await wakks('login', '--user', 'emma', '--idp', 'dev-adfs');
        let anna = null;
        for (let i = 0; i < 15 && !anna; i++) {
          const { stdout } = await wakks('--json', 'threads');
          anna = stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((t) => t.name === 'Anna Jensen' && t.cpr === '050384-xxxx');
          if (!anna) await new Promise((r) => setTimeout(r, 1000));
        }
        if (!anna) throw new Error('the command-line device got no history with Anna\'s verified thread');
        const camilla = await accOf(A);
        await wakks('handover', anna.thread, camilla, 'Tilbage til dig, Camilla');
        await openThread(A, 'Anna Jensen');
        await A.waitForSelector('.notice[data-notice=handover]:has-text("til dig"):has-text("Tilbage til dig, Camilla")', { timeout: 15000 });
        await A.waitForSelector('#thread-status:has-text("Tildelt: dig")');
        await wakks('send', '--to', anna.citizen, '--unit', 'varde/jobcenter', 'Svar fra Emmas terminal');
        await A.waitForSelector('.msg:has-text("Svar fra Emmas terminal")', { timeout: 15000 });
        await C.waitForSelector('.msg.theirs:has-text("Svar fra Emmas terminal")', { timeout: 15000 });
      } finally {
        rmSync(store, { recursive: true, force: true });
      }
    });
  } finally {
    // This scenario's pages go before its relay does: they would only try to reconnect.
    for (const c of mine) await c.close().catch(() => {});
    await relay.stop();
  }
}
