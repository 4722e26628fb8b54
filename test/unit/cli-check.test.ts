import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCheck } from '../../src/cli/check.js';
import { lastReportFile } from '../../src/preflight/index.js';

const dirs: string[] = [];
after(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function stateWithLastStart(configFile: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hpe-check-'));
  dirs.push(dir);
  const report = { checkedAt: '2026-01-02T03:04:05.000Z', configFile, results: [{ check: 'config.file', status: 'ok', subject: 'config file', detail: configFile }], passed: true };
  await writeFile(join(dir, lastReportFile), JSON.stringify({ source: 'plugin start', attempts: 1, report }));
  return dir;
}

async function check(config: string, state: string, json = false) {
  const out: string[] = [];
  const code = await runCheck({ config, state, json }, { out: (l) => out.push(l), err: (l) => out.push(l) }, {});
  return { code, text: out.join('\n') };
}

test('a missing config file is a FAIL with its fix, and another config\'s last start is not shown as this one\'s', async () => {
  const state = await stateWithLastStart('/srv/other/hpe.conf');
  const missing = join(tmpdir(), 'hpe-check-no-such', 'hpe.conf');
  const r = await check(missing, state);
  assert.equal(r.code, 1);
  assert.match(r.text, new RegExp(`^FAIL config file: .*${missing.replace(/[.]/g, '\\.')}.*does not exist.* — fix: `, 'm'));
  assert.match(r.text, /^failed: 1 prerequisite is not met/m);
  assert.match(r.text, /^the plugin's last start was for \/srv\/other\/hpe\.conf, not this config \(2026-01-02T03:04:05\.000Z, 1 attempt\): passed$/m);
  assert.doesNotMatch(r.text, /^passed/m);
  const json = JSON.parse((await check(missing, state, true)).text) as { passed: boolean; pluginLastStart: { forThisConfig: boolean } };
  assert.equal(json.passed, false);
  assert.equal(json.pluginLastStart.forThisConfig, false);
});

test('the last start of this same config names it', async () => {
  const missing = join(tmpdir(), 'hpe-check-no-such', 'hpe.conf');
  const state = await stateWithLastStart(missing);
  const r = await check(missing, state);
  assert.match(r.text, new RegExp(`^the plugin's last start with ${missing.replace(/[.]/g, '\\.')} \\(2026-01-02T03:04:05\\.000Z, 1 attempt\\): passed$`, 'm'));
});
