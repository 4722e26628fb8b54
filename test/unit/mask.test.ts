import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maskSecrets } from '../../src/mask.js';

test('a secret that is a prefix of another never leaves the other\'s tail visible, whatever the order given', () => {
  assert.equal(maskSecrets('pw=pass1234 and pass1', ['pass1', 'pass1234']), 'pw=[REDACTED] and [REDACTED]');
  assert.equal(maskSecrets('pw=pass1234 and pass1', ['pass1234', 'pass1']), 'pw=[REDACTED] and [REDACTED]');
});

test('overlapping secrets are masked as one span', () => {
  assert.equal(maskSecrets('xabcdefx', ['abcd', 'cdef']), 'x[REDACTED]x');
  assert.equal(maskSecrets('aaaa', ['aa']), '[REDACTED]');
});

test('the JSON-escaped form is masked too; empty and missing secrets change nothing', () => {
  assert.equal(maskSecrets(JSON.stringify({ m: 'q"s\\t' }), ['q"s\\t']), '{"m":"[REDACTED]"}');
  assert.equal(maskSecrets('plain text', ['', undefined]), 'plain text');
  assert.equal(maskSecrets('k=abc', ['abc'], '***'), 'k=***');
});
