/**
 * The line editing of a hidden prompt, apart from the terminal: keys in, the typed secret out. A terminal in
 * raw mode sends arrow and function keys as escape sequences and a paste between bracketed-paste markers;
 * none of that may end up in a password.
 */

export const LineOutcomes = { typing: 'typing', entered: 'entered', interrupted: 'interrupted' } as const;
export type LineOutcome = (typeof LineOutcomes)[keyof typeof LineOutcomes];

const Escape = '\u001b';
const ControlSequenceIntroducer = '[';
const SingleShift3 = 'O';

/** What has been typed so far, fed chunk by chunk (an escape sequence may be split across chunks). */
export class HiddenLineEditor {
  private typed: string[] = [];
  /** Where a split escape sequence left off: after ESC, after `ESC [` (with its parameters), or after `ESC O`. */
  private escape: 'none' | 'escape' | 'csi' | 'ss3' = 'none';
  private outcome: LineOutcome = LineOutcomes.typing;

  /** The secret typed, whole code points only. */
  get value(): string {
    return this.typed.join('');
  }

  /** Feeds keys; stops at Enter, Ctrl-D or Ctrl-C (what follows them is not read). */
  feed(chunk: string): LineOutcome {
    for (const key of chunk) {
      if (this.outcome !== LineOutcomes.typing) break;
      this.press(key);
    }
    return this.outcome;
  }

  private press(key: string): void {
    if (this.inEscapeSequence(key)) return;
    switch (key) {
      case '\r':
      case '\n':
      case '\u0004':
        this.outcome = LineOutcomes.entered;
        return;
      case '\u0003':
        this.outcome = LineOutcomes.interrupted;
        return;
      case '\u007f':
      case '\b':
        this.typed.pop();
        return;
      case '\u0015': // Ctrl-U: start again
        this.typed = [];
        return;
      case Escape:
        this.escape = 'escape';
        return;
    }
    if (!isControl(key)) this.typed.push(key);
  }

  /** True when `key` belongs to an escape sequence (and is dropped). */
  private inEscapeSequence(key: string): boolean {
    switch (this.escape) {
      case 'none':
        return false;
      case 'escape':
        if (key === ControlSequenceIntroducer) this.escape = 'csi';
        else if (key === SingleShift3) this.escape = 'ss3';
        else {
          // A lone ESC (or Alt plus a key): the ESC is dropped and the key read as itself.
          this.escape = 'none';
          return false;
        }
        return true;
      case 'csi':
        if (isCsiFinal(key)) this.escape = 'none';
        return true;
      case 'ss3':
        this.escape = 'none';
        return true;
    }
  }
}

/** A control sequence ends at its final byte, `@` to `~` (parameters and intermediates are below `@`). */
function isCsiFinal(key: string): boolean {
  const code = key.codePointAt(0) ?? 0;
  return code >= 0x40 && code <= 0x7e;
}

function isControl(key: string): boolean {
  const code = key.codePointAt(0) ?? 0;
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
}
