// SPDX-License-Identifier: MPL-2.0
// Starts a real relay for the browser tests: a fresh data directory, an ephemeral port, the
// development identity provider and the built web client; stops it at the end. The monitoring
// listener takes an ephemeral port too, so several relays (and `make run`) can run side by side.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// `extra`: configuration lines after the [relay] section (tenants and their branding).
export async function startRelay(buildDir, webRoot, extra = []) {
  const dir = mkdtempSync(join(tmpdir(), 'wakks-web-'));
  const conf = join(dir, 'relay.conf');
  writeFileSync(conf, [
    '[relay]', `data_dir = ${join(dir, 'data')}`, 'listen = 127.0.0.1', 'port = 0', `web_root = ${resolve(webRoot)}`,
    // an ephemeral monitoring port: two of these relays run at once (run.mjs, webapp.mjs)
    'admin_listen = 127.0.0.1:0', '', ...extra, '',
  ].join('\n'));
  const proc = spawn(resolve(buildDir, 'server/wakks-relay'), ['--config', conf, '--dev'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const port = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`relay did not start:\n${log}`)), 15000);
    proc.stderr.on('data', (d) => {
      log += d;
      const m = /event=listening port=(\d+)/.exec(log);
      if (m) { clearTimeout(timer); ok(Number(m[1])); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); fail(new Error(`relay exited ${code}:\n${log}`)); });
  });
  return {
    port, dir, dataDir: join(dir, 'data'), url: `https://localhost:${port}`,
    log: () => log,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => { const t = setTimeout(() => { proc.kill('SIGKILL'); r(); }, 5000); proc.on('exit', () => { clearTimeout(t); r(); }); });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
