import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, retry, systemClock, waitFor } from '../../src/clock.js';
import { HpeError } from '../../src/errors.js';
import { InstantClock, ManualClock } from '../support/clock.js';

test('backoffDelay doubles from initialMs and stops at maxMs', () => {
  const b = { initialMs: 2000, maxMs: 60_000 };
  assert.deepEqual([1, 2, 3, 5, 6, 9].map((a) => backoffDelay(b, a)), [2000, 4000, 8000, 32_000, 60_000, 60_000]);
  assert.equal(backoffDelay({ initialMs: 100, maxMs: 10_000, factor: 3 }, 3), 900);
});

test('retry returns the first success and waits the backoff between failures', async () => {
  const clock = new InstantClock();
  let calls = 0;
  const value = await retry(
    async () => {
      calls++;
      if (calls < 3) throw new Error(`fail ${calls}`);
      return 'ok';
    },
    { delay: { initialMs: 10, maxMs: 15 }, clock },
  );
  assert.equal(value, 'ok');
  assert.deepEqual(clock.sleeps, [10, 15]);
});

test('retry rethrows the last failure when attempts run out', async () => {
  const clock = new InstantClock();
  let calls = 0;
  await assert.rejects(
    retry(async () => { throw new Error(`fail ${++calls}`); }, { attempts: 3, delay: 5, clock }),
    /fail 3/,
  );
  assert.equal(calls, 3);
});

test('retry stops at once on a failure that is not retryable', async () => {
  const clock = new InstantClock();
  let calls = 0;
  await assert.rejects(
    retry(async () => { throw new Error(`fail ${++calls}`); }, { delay: 5, clock, retryable: (err) => !String(err).includes('fail 2') }),
    /fail 2/,
  );
  assert.equal(calls, 2);
});

test('retry starts no attempt whose wait would end past the deadline', async () => {
  const clock = new InstantClock();
  let calls = 0;
  await assert.rejects(retry(async () => { throw new Error(`fail ${++calls}`); }, { deadlineMs: 1000, delay: 300, clock }));
  assert.equal(calls, 4); // waits end at 300, 600, 900; the next would end at 1200
});

test('retry ends its wait and rethrows when the signal aborts', async () => {
  const clock = new ManualClock();
  const stop = new AbortController();
  const run = retry(async () => { throw new Error('down'); }, { delay: 60_000, clock, signal: stop.signal });
  await clock.advance(0);
  assert.equal(clock.pending, 1);
  stop.abort();
  await assert.rejects(run, /down/);
});

test('systemClock.sleep resolves early on abort', async () => {
  const stop = new AbortController();
  const started = Date.now();
  const slept = systemClock.sleep(10_000, stop.signal);
  stop.abort();
  await slept;
  assert.ok(Date.now() - started < 1000);
});

test('waitFor polls until the probe answers, and returns the answer', async () => {
  const clock = new InstantClock();
  let calls = 0;
  const answer = await waitFor('the third call', () => (++calls < 3 ? undefined : `call ${calls}`), { clock, intervalMs: 100 });
  assert.equal(answer, 'call 3');
  assert.deepEqual(clock.sleeps, [100, 100]);
});

test('waitFor fails naming what it waited for once the time is up, or with the caller\'s error', async () => {
  const clock = new InstantClock();
  await assert.rejects(waitFor('the flag', () => false, { clock, timeoutMs: 1000, intervalMs: 300 }), (err: unknown) => err instanceof HpeError && /timed out waiting for the flag/.test(err.message));
  assert.deepEqual(clock.sleeps, [300, 300, 300, 300]);
  await assert.rejects(waitFor('x', () => undefined, { clock, timeoutMs: 0, timeoutError: () => new RangeError('mine') }), RangeError);
});

test('waitFor ends with the error of a probe that throws', async () => {
  await assert.rejects(waitFor('x', () => Promise.reject(new Error('died'))), /died/);
});
