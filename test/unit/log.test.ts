import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger, maskKnownSecrets, registerSecret } from '../../src/log.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, stream };
}

test('password, passphrase and key fields are redacted at any depth', () => {
  const { lines, stream } = capture();
  const log = createLogger('DEBUG', stream);
  log.info({ password: 'p1-value', backend: { san_password: 'p2-value', key: 'k-value' }, passphrase: 'pp-value' }, 'login');
  const out = lines.join('');
  for (const v of ['p1-value', 'p2-value', 'k-value', 'pp-value']) assert.equal(out.includes(v), false, `${v} leaked`);
  assert.match(out, /\[REDACTED\]/);
  assert.match(out, /"msg":"login"/);
});

test('a registered secret is masked even inside a message or an error text', () => {
  registerSecret('Sup3r-Secret-Value');
  const { lines, stream } = capture();
  const log = createLogger('INFO', stream);
  log.error({ err: new Error('login failed for Sup3r-Secret-Value') }, 'array said Sup3r-Secret-Value is wrong');
  const out = lines.join('');
  assert.equal(out.includes('Sup3r-Secret-Value'), false);
  assert.equal(out.split('[REDACTED]').length - 1 >= 2, true);
});

test('maskKnownSecrets also catches the JSON-escaped form of a secret', () => {
  registerSecret('quote"and\\slash');
  assert.equal(maskKnownSecrets(JSON.stringify({ msg: 'x quote"and\\slash y' })), '{"msg":"x [REDACTED] y"}');
});

test('levels use upstream names and filter', () => {
  const { lines, stream } = capture();
  const log = createLogger('WARNING', stream);
  log.info('hidden');
  log.warn('shown');
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /shown/);
});

test('debug and info lines go to the out stream, warnings and errors to the err stream (dockerd: level=info vs level=error)', () => {
  const out = capture();
  const err = capture();
  const log = createLogger('DEBUG', { out: out.stream, err: err.stream });
  log.debug('d-line');
  log.info('i-line');
  log.warn('w-line');
  log.error('e-line');
  const msgs = (lines: string[]) => lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
  assert.deepEqual(msgs(out.lines), ['d-line', 'i-line']);
  assert.deepEqual(msgs(err.lines), ['w-line', 'e-line']);
});

test('secrets are masked on both streams', () => {
  registerSecret('Split-Stream-Secret');
  const out = capture();
  const err = capture();
  const log = createLogger('DEBUG', { out: out.stream, err: err.stream });
  log.info('info Split-Stream-Secret');
  log.error('error Split-Stream-Secret');
  assert.equal([...out.lines, ...err.lines].join('').includes('Split-Stream-Secret'), false);
  assert.equal(out.lines.length + err.lines.length, 2);
});
