/**
 * The WSAPI `?query="..."` language, as far as the driver uses it, evaluated on the JSON objects the simulator
 * answers with:
 *   `field EQ value`                       (copyOf EQ v1, snapCPG EQ FC_r5, volumeName EQ v1, hostname EQ h1)
 *   `List[field==a OR field==b]`           (FCPaths[wwn==A OR wwn==B], iSCSIPaths[name==iqn...]); any element
 *   terms joined by AND / OR (AND binds tighter).
 * Matches inside `[...]` ignore case (and colons in WWNs). Anything else is 400 code 12, as an array refuses
 * queries it cannot parse.
 */
import { WsapiCodes } from '../array/index.js';
import { badRequest } from './errors.js';

type Term =
  | { kind: 'eq'; field: string; value: string }
  | { kind: 'any'; list: string; alternatives: { field: string; value: string }[] };

type Predicate = (obj: Record<string, unknown>) => boolean;

class Scanner {
  pos = 0;
  constructor(readonly text: string) {}

  take(re: RegExp): string | undefined {
    const sticky = new RegExp(re.source, 'y');
    sticky.lastIndex = this.pos;
    const m = sticky.exec(this.text);
    if (m === null) return undefined;
    this.pos = sticky.lastIndex;
    return m[0];
  }

  need(re: RegExp, what: string): string {
    const v = this.take(re);
    if (v === undefined) throw badRequest(WsapiCodes.INV_INPUT, `invalid query: expected ${what} at position ${this.pos}`);
    return v;
  }

  get done(): boolean {
    return this.pos >= this.text.length;
  }
}

const ident = /[A-Za-z][A-Za-z0-9_]*/;
const ws = /\s+/;

function parseTerm(s: Scanner): Term {
  const name = s.need(ident, 'a field name');
  if (s.take(/\[/) !== undefined) {
    const alternatives: { field: string; value: string }[] = [];
    for (;;) {
      s.take(ws);
      const field = s.need(ident, 'a field name');
      s.need(/==/, '==');
      const value = s.need(/[^\s\]]+/, 'a value');
      alternatives.push({ field, value });
      s.take(ws);
      if (s.take(/\]/) !== undefined) break;
      s.need(/OR\b/, 'OR or ]');
    }
    return { kind: 'any', list: name, alternatives };
  }
  s.need(ws, 'a space');
  s.need(/EQ\b/, 'EQ');
  s.need(ws, 'a space');
  return { kind: 'eq', field: name, value: s.need(/[^\s]+/, 'a value') };
}

function norm(field: string, v: unknown): string {
  const text = String(v).toLowerCase();
  return field.toLowerCase() === 'wwn' ? text.replace(/:/g, '') : text;
}

function matches(term: Term, obj: Record<string, unknown>): boolean {
  if (term.kind === 'eq') {
    const v = obj[term.field];
    return v !== undefined && v !== null && String(v) === term.value;
  }
  const list = obj[term.list];
  if (!Array.isArray(list)) return false;
  return list.some(
    (el) =>
      typeof el === 'object' &&
      el !== null &&
      term.alternatives.some((a) => {
        const v = (el as Record<string, unknown>)[a.field];
        return v !== undefined && norm(a.field, v) === norm(a.field, a.value);
      }),
  );
}

/** Parses the raw `query` parameter (with its surrounding double quotes). */
function parseQuery(raw: string): Predicate {
  if (raw.length < 2 || !raw.startsWith('"') || !raw.endsWith('"')) {
    throw badRequest(WsapiCodes.INV_INPUT, 'invalid query: it must be in double quotes, e.g. query="name EQ v1"');
  }
  const s = new Scanner(raw.slice(1, -1).trim());
  const groups: Term[][] = [[parseTerm(s)]];
  while (!s.done) {
    s.need(ws, 'a space');
    const op = s.need(/(AND|OR)\b/, 'AND or OR');
    s.need(ws, 'a space');
    const term = parseTerm(s);
    if (op === 'OR') groups.push([term]);
    else groups[groups.length - 1]!.push(term);
  }
  return (obj) => groups.some((g) => g.every((t) => matches(t, obj)));
}

/** Filters rendered objects by the request's `query` parameter, if any. */
export function applyQuery<T extends Record<string, unknown>>(items: T[], query: URLSearchParams): T[] {
  const raw = query.get('query');
  if (raw === null) return items;
  const pred = parseQuery(raw);
  return items.filter(pred);
}
