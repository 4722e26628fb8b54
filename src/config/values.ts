/**
 * Shapes of option values, as zod schemas from the raw string to the typed value. Each schema's
 * issue message is the `problem` of the ConfigError the caller builds, so it names the offending
 * text (never for passwords: no schema here is applied to a password).
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { LogLevels, type EtcdEndpoint, type IscsiTarget, type LogLevel } from './types.js';

const DefaultIscsiPort = 3260;

/**
 * A value as quoted in a message: its first line only, cut before any word mentioning a password
 * or secret (a missing comma or a stray indent can glue a password pair onto a harmless value).
 */
export function shown(value: string): string {
  let text = value;
  const lineBreak = text.indexOf('\n');
  if (lineBreak >= 0) text = `${text.slice(0, lineBreak)}...`;
  const secret = /password|passwd|secret/i.exec(text);
  if (secret !== null) text = `${text.slice(0, wordStart(text, secret.index)).trimEnd()}...`;
  return text;
}

/** Where the run of non-whitespace holding `at` starts; a backward scan keeps `shown` linear in the value. */
function wordStart(text: string, at: number): number {
  let start = at;
  while (start > 0 && !/\s/.test(text.charAt(start - 1))) start -= 1;
  return start;
}

const TrueWords = new Set(['true', 'yes', 'on', '1']);
const FalseWords = new Set(['false', 'no', 'off', '0']);
export const BooleanFix = 'write true or false (yes/no, on/off and 1/0 are accepted too)';

export const booleanValue = z
  .string()
  .refine((s) => TrueWords.has(s.trim().toLowerCase()) || FalseWords.has(s.trim().toLowerCase()), {
    error: (issue) => `must be true or false, not '${shown(String(issue.input))}'`,
  })
  .transform((s) => TrueWords.has(s.trim().toLowerCase()));

export const PortFix = 'write a port number from 1 to 65535';

export const portValue = z
  .string()
  .trim()
  .regex(/^\d+$/, { error: (issue) => `must be a port number from 1 to 65535, not '${shown(String(issue.input))}'` })
  .transform(Number)
  .pipe(
    z
      .number()
      .min(1, { error: (issue) => `must be a port number from 1 to 65535, not ${shown(String(issue.input))}` })
      .max(65535, { error: (issue) => `must be a port number from 1 to 65535, not ${shown(String(issue.input))}` }),
  );

export const ApiUrlFix = 'write it as https://<array address>:8080/api/v1';

/** The URL itself is not echoed: it may carry `user:password@`. */
export const httpUrlValue = z.string().refine(
  (s) => {
    if (!URL.canParse(s)) return false;
    const url = new URL(s);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  },
  { error: 'must be an http:// or https:// URL' },
);

export const EtcdPrefixFix = 'write a path such as /hpe-cluster-a: it starts with /, has no trailing / and uses only letters, digits and . _ - between the slashes';

/** Letters, digits and `._-` only, so the etcdctl lines printed by `etcd-roles` need no quoting. */
export const etcdPrefixValue = z
  .string()
  .trim()
  .refine((s) => /^(\/[A-Za-z0-9._-]+)+$/.test(s), {
    error: (issue) => {
      const text = String(issue.input).trim();
      if (!text.startsWith('/')) return `must start with /, not '${shown(text)}'`;
      if (text.endsWith('/')) return `must not end with /: '${shown(text)}'`;
      return `must be /-separated names of letters, digits and . _ - only, not '${shown(text)}'`;
    },
  });

export const EtcdUserFix = 'write the etcd user name (letters, digits and . _ @ - only), as created by `hpedockerplugin etcd-roles`';

export const etcdUserValue = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9._@-]+$/, { error: (issue) => `must be an etcd user name of letters, digits and . _ @ - only, not '${shown(String(issue.input))}'` });

export const LogLevelFix = `write one of ${LogLevels.join(', ')}`;

export const logLevelValue = z
  .string()
  .refine((s) => (LogLevels as readonly string[]).includes(s.trim().toUpperCase()), {
    error: (issue) => `must be one of ${LogLevels.join(', ')}, not '${shown(String(issue.input))}'`,
  })
  .transform((s) => s.trim().toUpperCase() as LogLevel);

/** `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address; port undefined when absent. */
function splitHostPort(text: string): { host: string; port?: string } | undefined {
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed !== null) {
    const host = bracketed[1] ?? '';
    return isIP(host) === 6 ? { host, port: bracketed[2] } : undefined;
  }
  if (isIP(text) === 6) return { host: text };
  const parts = text.split(':');
  if (parts.length > 2) return undefined;
  return { host: parts[0] ?? '', port: parts[1] };
}

function toPort(port: string | undefined, fallback: number): number | undefined {
  if (port === undefined) return fallback;
  if (!/^\d+$/.test(port)) return undefined;
  const n = Number(port);
  return n >= 1 && n <= 65535 ? n : undefined;
}

function iscsiTarget(text: string): IscsiTarget | undefined {
  const split = splitHostPort(text);
  if (split === undefined || isIP(split.host) === 0) return undefined;
  const port = toPort(split.port, DefaultIscsiPort);
  return port === undefined ? undefined : { ip: split.host, port };
}

/** A list of iSCSI target ports `ip` / `ip:port` separated by `separator`; blanks are ignored. */
export function iscsiTargetsValue(separator: ',' | ';') {
  return z
    .string()
    .transform((s) =>
      s
        .split(separator)
        .map((member) => member.trim())
        .filter((member) => member !== ''),
    )
    .pipe(
      z
        .array(
          z.string().transform((member, ctx): IscsiTarget => {
            const target = iscsiTarget(member);
            if (target === undefined) {
              ctx.issues.push({ code: 'custom', input: member, message: `entry '${shown(member)}' is not an IP address or ip:port` });
              return z.NEVER;
            }
            return target;
          }),
        )
        .min(1, { error: 'lists no IP address' }),
    );
}

export function iscsiTargetsFix(separator: ',' | ';'): string {
  return `write iSCSI target ports as ip or ip:port (port ${DefaultIscsiPort} when omitted), separated by '${separator}'`;
}

function isHostName(text: string): boolean {
  return text !== '' && !/[\s/,@]/.test(text);
}

/** `host:port`, the form every member of a comma-separated etcd list must have. */
const etcdMemberValue = z.string().transform((member, ctx): EtcdEndpoint => {
  const split = splitHostPort(member);
  const port = split?.port === undefined ? undefined : toPort(split.port, 0);
  if (split === undefined || !isHostName(split.host) || port === undefined) {
    ctx.issues.push({ code: 'custom', input: member, message: `member '${shown(member)}' is not host:port` });
    return z.NEVER;
  }
  return { host: split.host, port };
});

/** A comma-separated list of etcd members, each `host:port`; blanks are ignored. */
export const etcdMembersValue = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((member) => member.trim())
      .filter((member) => member !== ''),
  )
  .pipe(z.array(etcdMemberValue).min(1, { error: 'lists no etcd member' }));

/**
 * The host part of a single etcd address, with its port when written as `host:port`
 * (upstream passed `host:port` on as a host name; we read the port).
 */
export const etcdSingleValue = z.string().transform((text, ctx): { host: string; port?: number } => {
  const split = splitHostPort(text);
  const port = split?.port === undefined ? undefined : toPort(split.port, 0);
  if (split === undefined || !isHostName(split.host) || (split.port !== undefined && port === undefined)) {
    ctx.issues.push({ code: 'custom', input: text, message: `'${shown(text)}' is not a host name, an IP address or host:port` });
    return z.NEVER;
  }
  return port === undefined ? { host: split.host } : { host: split.host, port };
});

/** Every issue's message (a list schema reports each bad member), or the parsed value. */
export function parseValueAll<T>(schema: z.ZodType<T, string>, input: string): { ok: true; value: T } | { ok: false; problems: string[] } {
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, problems: result.error.issues.map((issue) => issue.message) };
}
