import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../src/log.js';
import { CommandError, createCommandRunner } from '../../src/host/index.js';

const runner = createCommandRunner({ timeoutMs: 5000 });

test('a command runs from an argv array, its output captured', async () => {
  const out = await runner.run(['printf', '%s|', 'a b', '$HOME', ';rm -rf /']);
  assert.deepEqual(out, { exitCode: 0, stdout: 'a b|$HOME|;rm -rf /|', stderr: '' });
});

test('a failing command rejects with a CommandError naming the command, exit code and stderr', async () => {
  const err = await runner.run(['sh', '-c', 'echo "no such LUN" >&2; exit 3']).catch((e: unknown) => e);
  assert.ok(err instanceof CommandError);
  assert.equal(err.exitCode, 3);
  assert.equal(err.stderr, 'no such LUN');
  assert.equal(err.message, "`sh -c 'echo \"no such LUN\" >&2; exit 3'` exited with code 3: no such LUN");
  assert.match(err.fix, /^run `sh -c .*` as root on this host/);
});

test('exit codes listed as fine resolve', async () => {
  assert.equal((await runner.run(['sh', '-c', 'exit 15'], { okExitCodes: [15] })).exitCode, 15);
});

test('a command past its time-out is killed and reported as such (retryable)', async () => {
  const started = Date.now();
  const err = await runner.run(['sleep', '30'], { timeoutMs: 200 }).catch((e: unknown) => e);
  assert.ok(Date.now() - started < 5000);
  assert.ok(err instanceof CommandError);
  assert.equal(err.timedOut, true);
  assert.equal(err.retryable, true);
  assert.match(err.message, /^`sleep 30` did not finish within 200 ms and was killed/);
});

test('a missing command names the package to install', async () => {
  const err = await runner.run(['iscsiadm-not-installed-here']).catch((e: unknown) => e);
  assert.ok(err instanceof CommandError && err.notFound);
  const missing = await createCommandRunner({ execute: async () => ({ exitCode: null, stdout: '', stderr: '', timedOut: false, notFound: true, aborted: false }) })
    .run(['mkfs.xfs', '-q', '/dev/sdb'])
    .catch((e: unknown) => e);
  assert.ok(missing instanceof CommandError);
  assert.equal(missing.message, '`mkfs.xfs -q /dev/sdb`: command not found');
  assert.match(missing.fix, /install xfsprogs/);
});

test('secrets are masked in the command line, stderr, the fix and the debug log', async () => {
  const secret = "s3cr'et pass";
  const lines: string[] = [];
  const logger = createLogger('DEBUG', new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
  const logged = createCommandRunner({ logger });
  const err = await logged.run(['sh', '-c', 'echo "$1" >&2; exit 2', 'sh', secret], { secrets: [secret] }).catch((e: unknown) => e);
  assert.ok(err instanceof CommandError);
  const text = JSON.stringify({ m: err.message, f: err.fix, c: err.command, s: err.stderr, log: lines });
  assert.ok(!text.includes(secret) && !text.includes('s3cr'), text);
  assert.match(err.message, /\[REDACTED\]` exited with code 2: \[REDACTED\]$/);
  assert.equal(lines.length, 1);
});

test('an aborted command rejects with the abort reason', async () => {
  const ac = new AbortController();
  const pending = runner.run(['sleep', '30'], { signal: ac.signal });
  ac.abort(new Error('request cancelled'));
  await assert.rejects(pending, /request cancelled/);
});
