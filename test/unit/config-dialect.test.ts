import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIni, type IniDocument, type IniEntry } from '../../src/config/dialect.js';

function entryOf(doc: IniDocument, section: string, key: string): IniEntry {
  const entry = doc.sections.find((s) => s.name === section)?.entries.find((e) => e.key === key);
  assert.ok(entry, `[${section}] ${key} not found`);
  return entry;
}

function messages(doc: IniDocument): string[] {
  return doc.errors.map((e) => e.message);
}

describe('config dialect: sections and options', () => {
  it('reads sections in file order with their header lines', () => {
    const doc = parseIni('[DEFAULT]\na = 1\n\n[3par2]\nb = 2\n', 'hpe.conf');
    assert.deepEqual(messages(doc), []);
    assert.deepEqual(
      doc.sections.map((s) => [s.name, s.line, s.entries.map((e) => [e.key, e.value, e.line])]),
      [
        ['DEFAULT', 1, [['a', '1', 2]]],
        ['3par2', 4, [['b', '2', 5]]],
      ],
    );
  });

  it('splits at whichever of = and : comes first', () => {
    const text = [
      '[DEFAULT]',
      'replication_device = backend_id:x',
      'hpe3par_api_url: https://10.0.0.1:8080/api/v1',
      'a:b=c',
      'd=e:f',
    ].join('\n');
    const doc = parseIni(text, 'hpe.conf');
    assert.equal(entryOf(doc, 'DEFAULT', 'replication_device').value, 'backend_id:x');
    assert.equal(entryOf(doc, 'DEFAULT', 'hpe3par_api_url').value, 'https://10.0.0.1:8080/api/v1');
    assert.equal(entryOf(doc, 'DEFAULT', 'a').value, 'b=c');
    assert.equal(entryOf(doc, 'DEFAULT', 'd').value, 'e:f');
  });

  it('has no inline comments, and trims key and value', () => {
    const doc = parseIni('[DEFAULT]\n  \nkey   =   b # c ; d   \n', 'hpe.conf');
    assert.equal(entryOf(doc, 'DEFAULT', 'key').value, 'b # c ; d');
  });

  it('skips # and ; comment lines, indented ones too', () => {
    const text = ['# top', '[DEFAULT]', '; note', 'a = x,', '    # commented-out pair', '    y', '  ; another', 'b = 2'].join('\n');
    const doc = parseIni(text, 'hpe.conf');
    assert.deepEqual(messages(doc), []);
    assert.equal(entryOf(doc, 'DEFAULT', 'a').value, 'x,\ny');
    assert.equal(entryOf(doc, 'DEFAULT', 'b').value, '2');
  });

  it('removes quotes wrapping a whole value, and the span covers the inside', () => {
    const text = '[DEFAULT]\na = "p@ss word"\nb = \'x\'\nc = "mismatched\'\nd = "in"side\ne = ""\n';
    const doc = parseIni(text, 'hpe.conf');
    const expected: Record<string, string> = { a: 'p@ss word', b: 'x', c: '"mismatched\'', d: '"in"side', e: '' };
    for (const [key, value] of Object.entries(expected)) {
      const entry = entryOf(doc, 'DEFAULT', key);
      assert.equal(entry.value, value, key);
      assert.equal(text.slice(entry.span.start, entry.span.end), value, key);
    }
  });

  it('an empty value has an empty span right after the separator', () => {
    const text = '[DEFAULT]\nhpe3par_password =\n';
    const entry = entryOf(parseIni(text, 'hpe.conf'), 'DEFAULT', 'hpe3par_password');
    assert.equal(entry.value, '');
    assert.equal(entry.span.start, entry.span.end);
  });
});

describe('config dialect: continuation lines', () => {
  const text = ['[DEFAULT]', 'a = one,', '    two,', '\tthree', 'b = 2', ''].join('\n');

  it('joins indented lines with \\n, trimmed', () => {
    const entry = entryOf(parseIni(text, 'hpe.conf'), 'DEFAULT', 'a');
    assert.equal(entry.value, 'one,\ntwo,\nthree');
    assert.equal(entry.line, 2);
  });

  it('keeps each piece with its exact offset and line', () => {
    const entry = entryOf(parseIni(text, 'hpe.conf'), 'DEFAULT', 'a');
    assert.deepEqual(
      entry.pieces.map((p) => [p.text, p.line]),
      [
        ['one,', 2],
        ['two,', 3],
        ['three', 4],
      ],
    );
    for (const piece of entry.pieces) assert.equal(text.slice(piece.start, piece.start + piece.text.length), piece.text);
    assert.equal(text.slice(entry.span.start, entry.span.end), 'one,\n    two,\n\tthree');
  });

  it('a blank line ends a value; an indented line after it is an error naming the closed option', () => {
    const doc = parseIni('[DEFAULT]\na = 1\n\n  2\n', 'hpe.conf');
    assert.equal(entryOf(doc, 'DEFAULT', 'a').value, '1');
    assert.deepEqual(messages(doc), ["hpe.conf:4: indented line follows a blank line, which ended the value of 'a' (line 2)"]);
    assert.equal(doc.errors[0]?.fix, 'remove the blank line to continue that value, or remove the indentation to start a new option');
  });

  it('an indented line before any option is an error', () => {
    const doc = parseIni('  a = 1\n[DEFAULT]\n  b\n', 'hpe.conf');
    assert.deepEqual(messages(doc), ['hpe.conf:1: indented line continues no option', 'hpe.conf:3: indented line continues no option']);
  });

  it('a value may start on the next line', () => {
    const entry = entryOf(parseIni('[DEFAULT]\na =\n  x\n', 'hpe.conf'), 'DEFAULT', 'a');
    assert.equal(entry.value, '\nx');
  });
});

describe('config dialect: line endings', () => {
  it('handles \\r\\n with exact offsets', () => {
    const text = '[DEFAULT]\r\nhpe3par_password = s3cr=t\r\nreplication_device = a:b,\r\n    c:d\r\n\r\n[b2]\r\nx = "q"\r\n';
    const doc = parseIni(text, 'hpe.conf');
    assert.deepEqual(messages(doc), []);
    const password = entryOf(doc, 'DEFAULT', 'hpe3par_password');
    assert.equal(password.value, 's3cr=t');
    assert.equal(text.slice(password.span.start, password.span.end), 's3cr=t');
    const replication = entryOf(doc, 'DEFAULT', 'replication_device');
    assert.equal(replication.value, 'a:b,\nc:d');
    for (const piece of replication.pieces) assert.equal(text.slice(piece.start, piece.start + piece.text.length), piece.text);
    const quoted = entryOf(doc, 'b2', 'x');
    assert.equal(text.slice(quoted.span.start, quoted.span.end), 'q');
    assert.deepEqual(
      doc.sections.map((s) => s.line),
      [1, 6],
    );
  });

  it('handles a lone \\r, a missing final newline and a UTF-8 byte-order mark', () => {
    const text = '\uFEFF[DEFAULT]\ra = 1\rb = 2';
    const doc = parseIni(text, 'hpe.conf');
    assert.deepEqual(messages(doc), []);
    const b = entryOf(doc, 'DEFAULT', 'b');
    assert.equal(b.line, 3);
    assert.equal(text.slice(b.span.start, b.span.end), '2');
  });
});

describe('config dialect: errors', () => {
  it('an option before any section', () => {
    const doc = parseIni('a = 1\n[DEFAULT]\n', 'hpe.conf');
    assert.deepEqual(messages(doc), ["hpe.conf:1: option 'a' comes before any [section] header"]);
    assert.equal(doc.errors[0]?.fix, 'move it under [DEFAULT] or another backend section, or add a [DEFAULT] header above it');
  });

  it('a line that is neither header, option nor comment, without echoing it', () => {
    const doc = parseIni('[DEFAULT]\nTopSecret42\n', 'hpe.conf');
    assert.deepEqual(messages(doc), ['hpe.conf:2: [DEFAULT]: line is not a [section] header, a `key = value` option or a comment']);
    assert.ok(!doc.errors[0]?.describe().includes('TopSecret42'));
  });

  it('a repeated key names both lines and keeps the first', () => {
    const doc = parseIni('[DEFAULT]\nhpe3par_password = old\nx = 1\nhpe3par_password = new\n', 'hpe.conf');
    assert.deepEqual(messages(doc), ['hpe.conf:4: [DEFAULT].hpe3par_password: is set twice, at lines 2 and 4']);
    assert.equal(doc.errors[0]?.fix, 'keep only one of them (upstream silently used the last one)');
    assert.equal(entryOf(doc, 'DEFAULT', 'hpe3par_password').line, 2);
  });

  it('a repeated section names both lines, and its keys count as the same backend', () => {
    const doc = parseIni('[DEFAULT]\na = 1\n[b]\nc = 1\n[DEFAULT]\na = 2\n', 'hpe.conf');
    assert.deepEqual(messages(doc), [
      'hpe.conf:5: [DEFAULT]: section is defined twice, at lines 1 and 5',
      'hpe.conf:6: [DEFAULT].a: is set twice, at lines 2 and 6',
    ]);
    assert.deepEqual(
      doc.sections.map((s) => s.name),
      ['DEFAULT', 'b'],
    );
  });

  it('broken headers; their options are not reported again', () => {
    const doc = parseIni('[DEFAULT\na = 1\n[]\nb = 2\n[ok]\nc = 3\n', 'hpe.conf');
    assert.deepEqual(messages(doc), ["hpe.conf:1: section header has no closing ']'", 'hpe.conf:3: section header has no name']);
    assert.deepEqual(
      doc.sections.map((s) => s.name),
      ['ok'],
    );
  });

  it('an option without a name', () => {
    const doc = parseIni('[DEFAULT]\n= 1\n: 2\n', 'hpe.conf');
    assert.deepEqual(messages(doc), [
      "hpe.conf:2: [DEFAULT]: option has no name before '='",
      "hpe.conf:3: [DEFAULT]: option has no name before ':'",
    ]);
  });

  it('collects every error of the file', () => {
    const doc = parseIni('a = 1\n[DEFAULT]\nbad line\nb = 1\nb = 2\n\n  x\n', 'f.conf');
    assert.equal(doc.errors.length, 4);
    assert.deepEqual(
      doc.errors.map((e) => e.location.line),
      [1, 3, 5, 7],
    );
  });
});
