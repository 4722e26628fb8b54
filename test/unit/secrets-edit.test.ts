import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Span } from '../../src/config/types.js';
import { applySpanEdits } from '../../src/secrets/edit.js';

/** The span of the `occurrence`-th `needle` in `text`. */
function spanOf(text: string, needle: string, occurrence = 1): Span {
  let start = -1;
  for (let i = 0; i < occurrence; i++) start = text.indexOf(needle, start + 1);
  assert.ok(start >= 0, `${needle} not found`);
  return { start, end: start + needle.length };
}

describe('applySpanEdits', () => {
  it('replaces values in a CRLF file with comments and tabs, byte for byte', () => {
    const text =
      '# hpe.conf\r\n[DEFAULT]\r\n; comment = pw1\r\nhpe3par_password\t=\tpw1  # trailing\r\n' +
      'san_password = pw2\r\n\r\n[B2]\r\nhpe3par_password=pw1\r\n';
    const edits = [
      { span: spanOf(text, 'pw1', 2), value: 'enc:v1:00000001:AAAA' },
      { span: spanOf(text, 'pw2'), value: 'enc:v1:00000002:BBBBBBBB' },
      { span: spanOf(text, 'pw1', 3), value: 'x' },
    ];
    assert.equal(
      applySpanEdits(text, edits),
      '# hpe.conf\r\n[DEFAULT]\r\n; comment = pw1\r\nhpe3par_password\t=\tenc:v1:00000001:AAAA  # trailing\r\n' +
        'san_password = enc:v1:00000002:BBBBBBBB\r\n\r\n[B2]\r\nhpe3par_password=x\r\n',
    );
  });

  it('replaces a value inside a multi-line replication_device', () => {
    const text =
      '[DEFAULT]\nhpe3par_password = a\nreplication_device = backend_id:tgt,\n' +
      '    replication_mode:synchronous,\n    hpe3par_password:pw-target,\n\tsan_password:pw-san\n' +
      'cpg = FC_r1\n';
    const edits = [
      { span: spanOf(text, 'pw-target'), value: 'enc:v1:0000000a:CCCC' },
      { span: spanOf(text, 'pw-san'), value: 'enc:v1:0000000b:DDDD' },
    ];
    assert.equal(
      applySpanEdits(text, edits),
      '[DEFAULT]\nhpe3par_password = a\nreplication_device = backend_id:tgt,\n' +
        '    replication_mode:synchronous,\n    hpe3par_password:enc:v1:0000000a:CCCC,\n\tsan_password:enc:v1:0000000b:DDDD\n' +
        'cpg = FC_r1\n',
    );
  });

  it('keeps non-ASCII text around the edits', () => {
    const text = '# Zürich ☃\r\nhpe3par_password = pw\r\n# 日本\r\n';
    assert.equal(applySpanEdits(text, [{ span: spanOf(text, 'pw'), value: 'neu' }]), '# Zürich ☃\r\nhpe3par_password = neu\r\n# 日本\r\n');
  });

  it('changes nothing without edits, and accepts adjacent spans and edits at the ends', () => {
    const text = 'abcdef';
    assert.equal(applySpanEdits(text, []), text);
    assert.equal(
      applySpanEdits(text, [
        { span: { start: 2, end: 4 }, value: 'X' },
        { span: { start: 0, end: 2 }, value: 'YY' },
        { span: { start: 4, end: 6 }, value: '' },
      ]),
      'YYX',
    );
  });

  it('refuses overlapping or out-of-range spans and line breaks in values', () => {
    const text = 'abcdef';
    assert.throws(() => applySpanEdits(text, [{ span: { start: 0, end: 3 }, value: 'x' }, { span: { start: 2, end: 4 }, value: 'y' }]), RangeError);
    assert.throws(() => applySpanEdits(text, [{ span: { start: 1, end: 1 }, value: 'x' }, { span: { start: 1, end: 1 }, value: 'y' }]), RangeError);
    assert.throws(() => applySpanEdits(text, [{ span: { start: 4, end: 7 }, value: 'x' }]), RangeError);
    assert.throws(() => applySpanEdits(text, [{ span: { start: 3, end: 2 }, value: 'x' }]), RangeError);
    assert.throws(() => applySpanEdits(text, [{ span: { start: -1, end: 2 }, value: 'x' }]), RangeError);
    assert.throws(() => applySpanEdits(text, [{ span: { start: 0, end: 1 }, value: 'a\nb' }]), RangeError);
  });
});
