import type { Span } from '../config/types.js';

/*
 * In-place edits of hpe.conf. Written by hand because no INI library writes a file back byte for
 * byte: comments, CRLF line ends, tabs and the layout of `replication_device` must survive.
 */

export interface SpanEdit {
  span: Span;
  value: string;
}

function checkSpan(span: Span, length: number): void {
  const { start, end } = span;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || start > end || end > length) {
    throw new RangeError(`span ${start}..${end} is not inside a text of ${length} characters`);
  }
}

/** Replaces each span with its value; every byte outside the spans is kept. Spans must not overlap. */
export function applySpanEdits(text: string, edits: readonly SpanEdit[]): string {
  const ordered = [...edits].sort((a, b) => a.span.start - b.span.start);
  ordered.forEach((edit, i) => {
    checkSpan(edit.span, text.length);
    if (/[\r\n]/.test(edit.value)) throw new RangeError('a replacement value must not contain a line break');
    const previous = ordered[i - 1];
    if (previous !== undefined && (previous.span.end > edit.span.start || previous.span.start === edit.span.start)) {
      throw new RangeError(`edits at ${previous.span.start}..${previous.span.end} and ${edit.span.start}..${edit.span.end} overlap`);
    }
  });
  // From the end, so that offsets of the edits still to apply stay valid.
  let result = text;
  for (const { span, value } of ordered.reverse()) {
    result = result.slice(0, span.start) + value + result.slice(span.end);
  }
  return result;
}
