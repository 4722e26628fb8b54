/**
 * The one secret masker. Every place a secret could reach text (log lines, array and command errors) masks through
 * it, with the secrets it knows given explicitly. Each occurrence of each secret, and of its JSON-escaped form, is
 * found in the original text first and the union of those spans is masked at once, so a secret that is a prefix of
 * (or overlaps) another never leaves the other's tail visible.
 */
const MASK = '[REDACTED]';

/** Values shorter than this would mask ordinary text; callers decide whether to pass them. */
export const MIN_MASKED_LENGTH = 4;

export function maskSecrets(text: string, secrets: Iterable<string | undefined>, mask: string = MASK): string {
  const needles = new Set<string>();
  for (const s of secrets) {
    if (s === undefined || s === '') continue;
    needles.add(s);
    const escaped = JSON.stringify(s).slice(1, -1);
    if (escaped !== s) needles.add(escaped);
  }
  const spans: [number, number][] = [];
  for (const needle of needles) {
    for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) spans.push([at, at + needle.length]);
  }
  if (spans.length === 0) return text;
  spans.sort((a, b) => a[0] - b[0]);
  let out = '';
  let copied = 0;
  let [start, end] = spans[0]!;
  for (const [s, e] of spans.slice(1)) {
    if (s <= end) end = Math.max(end, e);
    else {
      out += text.slice(copied, start) + mask;
      copied = end;
      [start, end] = [s, e];
    }
  }
  return out + text.slice(copied, start) + mask + text.slice(end);
}
