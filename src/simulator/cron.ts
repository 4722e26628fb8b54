/**
 * The five cron fields of a `createsched` frequency (minute hour day-of-month month day-of-week; `*`, lists, ranges,
 * steps; day-of-week 0–7 with 0 and 7 Sunday) and the `@hourly`-style names, matched against a time in UTC.
 * Hand-written: no cron package is among the project's dependencies, and this is all the simulator needs.
 */

export interface CronSpec {
  minute: ReadonlySet<number>;
  hour: ReadonlySet<number>;
  dayOfMonth: ReadonlySet<number>;
  month: ReadonlySet<number>;
  dayOfWeek: ReadonlySet<number>;
  /** Whether day-of-month / day-of-week were restricted (not `*`): when both are, either may match, as in cron. */
  domRestricted: boolean;
  dowRestricted: boolean;
}

const ranges = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day of week', min: 0, max: 7 },
] as const;

export const CronNicknames: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@hourly': '0 * * * *',
};

function parseNumber(text: string): number | undefined {
  return /^\d{1,2}$/.test(text) ? Number(text) : undefined;
}

/** One field into its set of values; undefined when malformed or out of range. */
export function parseCronField(text: string, min: number, max: number): Set<number> | undefined {
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const [range, stepText, extra] = part.split('/');
    if (range === undefined || extra !== undefined) return undefined;
    const step = stepText === undefined ? 1 : parseNumber(stepText);
    if (step === undefined || step < 1) return undefined;
    let low: number | undefined;
    let high: number | undefined;
    if (range === '*') {
      low = min;
      high = max;
    } else {
      const [a, b, more] = range.split('-');
      if (a === undefined || more !== undefined) return undefined;
      low = parseNumber(a);
      high = b === undefined ? (stepText === undefined ? low : max) : parseNumber(b);
    }
    if (low === undefined || high === undefined || low < min || high > max || low > high) return undefined;
    for (let v = low; v <= high; v += step) values.add(v);
  }
  return values;
}

/** Five fields separated by single spaces, or a nickname; undefined when malformed. */
export function parseCron(text: string): CronSpec | undefined {
  const fields = (CronNicknames[text] ?? text).split(' ');
  if (fields.length !== 5) return undefined;
  const sets = fields.map((f, i) => parseCronField(f, ranges[i]!.min, ranges[i]!.max));
  const [minute, hour, dayOfMonth, month, dayOfWeek] = sets;
  if (minute === undefined || hour === undefined || dayOfMonth === undefined || month === undefined || dayOfWeek === undefined) return undefined;
  if (dayOfWeek.delete(7)) dayOfWeek.add(0);
  return { minute, hour, dayOfMonth, month, dayOfWeek, domRestricted: fields[2] !== '*', dowRestricted: fields[4] !== '*' };
}

/** Whether the minute of `time` (ms since the epoch, UTC) is one the spec runs at. */
export function cronMatches(spec: CronSpec, time: number): boolean {
  const d = new Date(time);
  if (!spec.minute.has(d.getUTCMinutes()) || !spec.hour.has(d.getUTCHours()) || !spec.month.has(d.getUTCMonth() + 1)) return false;
  const dom = spec.dayOfMonth.has(d.getUTCDate());
  const dow = spec.dayOfWeek.has(d.getUTCDay());
  return spec.domRestricted && spec.dowRestricted ? dom || dow : dom && dow;
}
