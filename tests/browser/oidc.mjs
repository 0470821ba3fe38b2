// SPDX-License-Identifier: MPL-2.0
// The web client logs in through a certified OpenID provider we did not write (oidc-provider,
// tests/oidc/provider.mjs) by full-page redirect: as a citizen through a MitID-broker-like
// provider whose confidential client is the relay (private_key_jwt: the relay completes the code
// exchange), and as a caseworker through an AD FS-like provider as a public client (PKCE, the
// browser exchanges the code). Its own relay, configured without the development provider.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ATTESTATION_S = 8;

const freePort = () => new Promise((ok, fail) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
  s.on('error', fail);
});

function waitFor(proc, re, what, ms = 30000) {
  let out = '';
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${what} did not start:\n${out}`)), ms);
    const on = (d) => { out += d; const m = re.exec(out); if (m) { clearTimeout(timer); ok(m); } };
    proc.stdout?.on('data', on);
    proc.stderr?.on('data', on);
    proc.on('exit', (code) => { clearTimeout(timer); fail(new Error(`${what} exited ${code}:\n${out}`)); });
  });
}

export async function oidcLogins({ step, browser, buildDir, root, webRoot, waitOnline }) {
  const dir = mkdtempSync(join(tmpdir(), 'wakks-web-oidc-'));
  const procs = [];
  const stopAll = () => { for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL'); };
  try {
    const cert = join(dir, 'cert.pem'), key = join(dir, 'key.pem');
    const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
    if (gen.status !== 0) throw new Error('openssl could not make a test certificate');
    const [relayPort, brokerPort, adfsPort] = [await freePort(), await freePort(), await freePort()];
    const callback = `https://localhost:${relayPort}/callback.html`;
    const clientKey = join(dir, 'relay-client-key.json');
    // A Node start that has not listened within 10 s is killed and tried again (as in
    // tests/integration/test_oidc.c: Node 20 now and then stalls early in its start).
    const provider = async (mode, port, clients) => {
      for (let attempt = 0; ; attempt++) {
        const p = spawn('node', [resolve(root, 'tests/oidc/provider.mjs')], {
          env: { ...process.env, OIDC_TEST_CONFIG: JSON.stringify({ port, mode, cert, key, signing_keys: join(dir, `${mode}-signing.json`), clients }) },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        procs.push(p);
        try {
          return await waitFor(p, /listening /, `provider ${mode}`, attempt < 2 ? 10000 : 30000);
        } catch (e) {
          p.kill('SIGKILL');
          if (attempt === 2) throw e;
        }
      }
    };
    const web = { redirect_uris: [callback], grant_types: ['authorization_code'], response_types: ['code'] };
    await Promise.all([
      provider('mitid', brokerPort, [{ client_id: 'wakks-web', token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'RS256', jwks_file: clientKey, ...web }]),
      provider('adfs', adfsPort, [{ client_id: 'wakks-web-cw', token_endpoint_auth_method: 'none', ...web }]),
    ]);
    const conf = join(dir, 'relay.conf');
    const broker = `https://127.0.0.1:${brokerPort}`, adfs = `https://127.0.0.1:${adfsPort}`;
    writeFileSync(conf, [
      '[relay]', `data_dir = ${join(dir, 'data')}`, 'listen = 127.0.0.1', `port = ${relayPort}`, `web_root = ${resolve(webRoot)}`,
      `tls_cert = ${cert}`, `tls_key = ${key}`, 'admin_listen = off', '',
      // Short, so the re-attestation step sees two rounds in seconds.
      '[limits]', `caseworker_attestation_seconds = ${ATTESTATION_S}`, '',
      '[idp broker]', `issuer = ${broker}`, 'audience = wakks-web', `discovery = ${broker}/.well-known/openid-configuration`,
      `ca_file = ${cert}`, 'algs = RS256', 'kind = citizen', 'profile = mitid-broker', 'display_name = MitID',
      'acr_values = https://data.gov.dk/concept/core/nsis/loa/Substantial', 'client_auth = private_key_jwt', `client_key_file = ${clientKey}`, '',
      '[idp adfs]', `issuer = ${adfs}`, 'audience = wakks-web-cw', `discovery = ${adfs}/.well-known/openid-configuration`,
      `ca_file = ${cert}`, 'kind = caseworker', 'profile = adfs', 'display_name = Varde Kommune', '',
      '[tenant varde]', 'name = Varde Kommune', 'cvr = 29189781', 'idps = broker, adfs',
      '[unit varde/jobcenter]', 'name = Jobcenter', 'groups = VARDE\\Jobcenter', '',
    ].join('\n'));
    const relay = spawn(resolve(buildDir, 'server/wakks-relay'), ['--config', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    procs.push(relay);
    const started = Promise.all([waitFor(relay, /idp_keys_fetched idp=broker/, 'relay'), waitFor(relay, /idp_keys_fetched idp=adfs/, 'relay')]);
    await started;
    const base = `https://localhost:${relayPort}`;

    const loginAs = async (role, user) => {
      const ctx = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'da-DK' });
      const page = await ctx.newPage();
      await page.goto(base);
      await page.click(`#login-${role}`);
      // The provider's own page, in place of the app.
      await page.waitForSelector('input[name=login]', { timeout: 15000 });
      await page.fill('input[name=login]', user);
      await page.click('button[type=submit]');
      await page.waitForSelector('nav button[data-view=devices]', { timeout: 20000 });
      await waitOnline(page);
      return { ctx, page };
    };
    await step('web client logs in by full-page redirect through a certified provider as a citizen (relay exchanges the code with private_key_jwt)', async () => {
      const { ctx, page } = await loginAs('citizen', 'anna');
      const role = await page.evaluate(() => window.wakks.client.device.role);
      if (role !== 'citizen') throw new Error(`role ${role}`);
      // Nothing of the log-in is left behind in the tab.
      const left = await page.evaluate(() => sessionStorage.length);
      if (left !== 0) throw new Error(`${left} sessionStorage entries left`);
      await ctx.close();
    });
    let cw;
    await step('web client logs in by full-page redirect through a certified provider as a caseworker (public client, PKCE)', async () => {
      cw = await loginAs('caseworker', 'camilla');
      const unit = await cw.page.evaluate(() => window.wakks.client.device.unit);
      if (unit !== 'jobcenter') throw new Error(`unit ${unit}`);
    });
    await step('the caseworker re-attests before the attestation lifetime ends: silently while the provider has a session, through its log-in page when not', async () => {
      if (!cw) throw new Error('no caseworker');
      const { ctx, page } = cw;
      const attested = () => page.evaluate(() => window.wakks?.client?.device?.attested ?? 0).catch(() => 0);
      const seen = [];
      page.on('request', (r) => { if (r.isNavigationRequest()) seen.push(r.url()); });
      // Silent: prompt=none, answered at once from the provider's session; no form is filled.
      await page.waitForFunction(() => (window.wakks?.client?.device?.attested ?? 0) > 0, null, { timeout: 30000 });
      await waitOnline(page);
      if (!seen.some((u) => u.includes('prompt=none'))) throw new Error(`no silent request: ${seen.join(' ')}`);
      const first = await attested();
      // The provider's session is gone: prompt=none answers login_required, and the page goes to
      // the provider's log-in form, which the caseworker fills in.
      await ctx.clearCookies();
      await page.waitForSelector('input[name=login]', { timeout: 30000 });
      await page.fill('input[name=login]', 'camilla');
      await page.click('button[type=submit]');
      await page.waitForFunction((t) => (window.wakks?.client?.device?.attested ?? 0) > t, first, { timeout: 30000 });
      await waitOnline(page);
      const unit = await page.evaluate(() => window.wakks.client.device.unit);
      if (unit !== 'jobcenter') throw new Error(`unit ${unit} after re-attestation`);
      await ctx.close();
    });
  } finally {
    stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}
