// SPDX-License-Identifier: MPL-2.0
// Interoperability with the C client: a `wakks` command-line citizen and the browser caseworker
// write to each other. Skipped when the command-line client is not built.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function cliInterop({ step, relay, buildDir, root, cw, openNav, send, waitStatus }) {
  const bin = [resolve(buildDir, 'clients/cli/wakks'), resolve(root, 'build/clients/cli/wakks')].find((p) => existsSync(p));
  if (!bin) { console.log('# skip: C command-line client not built'); return; }
  const store = mkdtempSync(join(tmpdir(), 'wakks-cli-'));
  const ca = ['dev-cert.pem', 'tls-cert.pem'].map((f) => join(relay.dataDir, f)).find((p) => existsSync(p));
  const wakks = (...args) => run(bin, ['--store', join(store, 's'), ...args], { timeout: 30000, env: { ...process.env } });
  try {
    await step('C client citizen registers through the development provider and grants consent', async () => {
      await wakks('--relay', `wss://localhost:${relay.port}`, ...(ca ? ['--ca', ca] : []), 'init');
      await wakks('login', '--user', 'bo', '--idp', 'dev-mitid');
      await wakks('consent', 'grant', 'varde', '--yes'); // no terminal here: the explicit yes
    });
    await step('a message from the C client appears in the caseworker\'s browser', async () => {
      await wakks('send', '--unit', 'varde/jobcenter', 'Hej fra kommandolinjen');
      await openNav(cw, 'home');
      await cw.waitForSelector('.inbox button.conv:has-text("ulæste")', { timeout: 15000 }).catch(async (e) => {
        const alive = await Promise.race([cw.evaluate(() => ({ status: window.wakks.client.status, leader: window.wakks.client.tabs.leader, convs: window.wakks.client.messaging?.conversations.size,
          inbox: window.wakks.client.messaging?.inbox().map((x) => ({ citizen: !!x.citizen, unread: x.unread, n: window.wakks.client.messaging.thread(x.id).length })),
          shown: document.querySelector('.inbox')?.innerText.slice(0, 300) ?? null, unit: window.wakks.client.device?.unit ?? null })), new Promise((r) => setTimeout(() => r('page does not answer'), 3000))]);
        throw new Error(`${e.message.split('\n')[0]}; page: ${JSON.stringify(alive)}`);
      });
      await cw.click('.inbox li.unread button.conv');
      await cw.waitForSelector('.msg.theirs:has-text("Hej fra kommandolinjen")', { timeout: 15000 });
    });
    await step('the C client receives the caseworker\'s reply', async () => {
      await send(cw, 'Svar til kommandolinjen');
      await waitStatus(cw, 'Svar til kommandolinjen', 'sent').catch(() => waitStatus(cw, 'Svar til kommandolinjen', 'delivered'));
      const { stdout } = await wakks('receive', '--idle', '3');
      if (!stdout.includes('Svar til kommandolinjen')) throw new Error(`C client printed:\n${stdout}`);
      await waitStatus(cw, 'Svar til kommandolinjen', 'delivered');
    });
    await step('the C client and the browser show the same safety number', async () => {
      const dev = await cw.evaluate(() => window.wakks.client.myDevHex());
      const { stdout } = await wakks('--json', 'safety-number', dev);
      const cli = JSON.parse(stdout.trim().split('\n')[0]).safety_number;
      await cw.click('details.safety summary');
      await cw.waitForSelector('details.safety .number');
      const web = (await cw.locator('details.safety .number').first().textContent()).replace(/ /g, '');
      if (cli !== web) throw new Error(`C client ${cli}, browser ${web}`);
    });
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
}
