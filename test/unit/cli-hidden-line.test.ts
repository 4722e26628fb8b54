import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { HiddenLineEditor, LineOutcomes } from '../../src/cli/hidden-line.js';
import { obtainSecret, StdinLines } from '../../src/cli/input.js';
import { UsageError } from '../../src/errors.js';

/** Feeds the chunks as a terminal in raw mode would send them; the secret and how the line ended. */
function typed(...chunks: string[]): { value: string; outcome: string } {
  const editor = new HiddenLineEditor();
  let outcome: string = LineOutcomes.typing;
  for (const chunk of chunks) outcome = editor.feed(chunk);
  return { value: editor.value, outcome };
}

describe('hidden prompt line editing', () => {
  it('ends at Enter or Ctrl-D; Ctrl-C interrupts', () => {
    assert.deepEqual(typed('pass', 'word\r', 'after'), { value: 'password', outcome: 'entered' });
    assert.deepEqual(typed('pw\u0004'), { value: 'pw', outcome: 'entered' });
    assert.deepEqual(typed('pw\u0003'), { value: 'pw', outcome: 'interrupted' });
    assert.deepEqual(typed('pw'), { value: 'pw', outcome: 'typing' });
  });

  it("arrow, Home/End, Delete and function keys' escape sequences never enter the secret, even split across chunks", () => {
    assert.deepEqual(typed('ab\u001b[D\u001b[Cc\u001b[A\u001b[B\r'), { value: 'abc', outcome: 'entered' });
    assert.deepEqual(typed('a\u001b[1;5Cb\u001b[3~c\u001bOPd\u001b[Hx\r'), { value: 'abcdx', outcome: 'entered' });
    assert.deepEqual(typed('a\u001b', '[', '1;5', 'Db\r'), { value: 'ab', outcome: 'entered' });
    assert.deepEqual(typed('a\u001b', 'O', 'Qb\r'), { value: 'ab', outcome: 'entered' });
  });

  it('a bracketed paste keeps the pasted text and drops its markers; a lone ESC is dropped', () => {
    assert.deepEqual(typed('\u001b[200~pasted secret\u001b[201~\r'), { value: 'pasted secret', outcome: 'entered' });
    assert.deepEqual(typed('a\u001bb\r'), { value: 'ab', outcome: 'entered' });
    assert.deepEqual(typed('a\u001b\r'), { value: 'a', outcome: 'entered' });
  });

  it('backspace removes one whole character, never half of a surrogate pair', () => {
    assert.deepEqual(typed('p😀\u007f\r'), { value: 'p', outcome: 'entered' });
    assert.deepEqual(typed('a𝄞b\u007f\u007f\r'), { value: 'a', outcome: 'entered' });
    assert.deepEqual(typed('ab\b\b\b\u007fc\r'), { value: 'c', outcome: 'entered' });
    const value = typed('x😀😀\u007f\r').value;
    assert.equal(value, 'x😀');
  });

  it('Ctrl-U starts again; other control characters are never part of the secret', () => {
    assert.deepEqual(typed('wrong\u0015right\r'), { value: 'right', outcome: 'entered' });
    assert.deepEqual(typed('a\u0000b\tc\u0007d\u0085e\r'), { value: 'abcde', outcome: 'entered' });
  });
});

describe('hidden prompt terminal', () => {
  /** A stream that says it is a terminal, as the one a prompt reads. */
  function fakeTerminal(): PassThrough & { isTTY: boolean; rawModes: boolean[]; setRawMode: (mode: boolean) => void } {
    const stream = new PassThrough() as PassThrough & { isTTY: boolean; rawModes: boolean[]; setRawMode: (mode: boolean) => void };
    stream.isTTY = true;
    stream.rawModes = [];
    stream.setRawMode = (mode: boolean) => void stream.rawModes.push(mode);
    return stream;
  }

  it('prompts on the stream it reads when that stream is a terminal (whatever process.stdin is)', async () => {
    const terminal = fakeTerminal();
    const secret = obtainSecret({ what: 'password' }, new StdinLines(terminal), () => {});
    terminal.write('se\u001b[Dcret\r');
    assert.equal(await secret, 'secret');
    assert.deepEqual(terminal.rawModes, [true, false]);
  });

  it('refuses to prompt on a stream that is not a terminal, even when process.stdin is one', async () => {
    const wasTty = process.stdin.isTTY;
    process.stdin.isTTY = true;
    try {
      await assert.rejects(obtainSecret({ what: 'password' }, new StdinLines(new PassThrough()), () => {}), (e: unknown) => {
        assert.ok(e instanceof UsageError);
        assert.equal(e.message, 'no password given');
        return true;
      });
    } finally {
      process.stdin.isTTY = wasTty;
    }
  });
});
