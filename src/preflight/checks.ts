import { stat } from 'node:fs/promises';
import type { HpeConfig } from '../config/index.js';
import { checkConfig, DefaultStateDir, readConfigText } from '../config/index.js';
import type { EtcdClient } from '../etcd/index.js';
import { checkMembers, createEtcdClient, keyRecordKey, prefixedKey } from '../etcd/index.js';
import { HpeError } from '../errors.js';
import { describeNodeId, findNodeId } from '../host/index.js';
import {
  backendSecrets,
  currentVersion,
  loadKeyLookups,
  loadNamedSecrets,
  lookupFor,
  namedSecretReferences,
  resolveEtcdPassword,
  revealConfigSecrets,
  secretForm,
  type KeyLookups,
  type NamedSecrets,
  type RevealedSecrets,
} from '../secrets/index.js';
import { plainPasswordWarnings } from './plain-passwords.js';
import { buildReport, type CheckResult, type PrerequisiteReport } from './report.js';
import { probeBackends } from '../volumes/index.js';

export interface PrerequisiteOutcome {
  report: PrerequisiteReport;
  /** Present only when the report passed: the validated config and every backend's passwords (memory only). */
  ready?: { config: HpeConfig; secrets: Map<string, RevealedSecrets> };
}

export interface CheckOptions {
  configFile: string;
  /** The plugin's state folder (host: the `state` mount's source): its .node_id, and the gate's last report. */
  stateDir?: string;
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
  etcdTimeouts?: { dialTimeoutMs?: number; requestTimeoutMs?: number };
  /**
   * Also log in to every array (and replication target) and check its CPGs. `hpedockerplugin check` does;
   * the start-up gate does not: one unreachable array must not keep the plugin from serving the others.
   */
  probeArrays?: boolean;
}

function fail(check: string, subject: string, err: unknown): CheckResult {
  if (err instanceof HpeError) {
    return { check, status: 'FAIL', subject, detail: err.message, fix: err.fix, ...(err.retryable ? { retryable: true } : {}) };
  }
  return { check, status: 'FAIL', subject, detail: (err as Error).message, fix: 'report this as a bug of hpedockerplugin' };
}

async function checkConfigFile(file: string, results: CheckResult[]): Promise<string | undefined> {
  let text: string;
  try {
    text = await readConfigText(file);
  } catch (err) {
    results.push(fail('config.file', 'config file', err));
    return undefined;
  }
  const mode = (await stat(file)).mode & 0o777;
  const modeText = `0${mode.toString(8)}`;
  results.push(
    (mode & 0o044) !== 0
      ? {
          check: 'config.file',
          status: 'warn',
          subject: 'config file',
          detail: `${file} is readable by ${mode & 0o004 ? 'every user' : 'its group'} (mode ${modeText}); it holds array passwords or their ciphertext`,
          fix: `chmod 600 ${file}`,
        }
      : { check: 'config.file', status: 'ok', subject: 'config file', detail: `${file} (mode ${modeText})` },
  );
  return text;
}

function checkConfigParse(file: string, text: string, results: CheckResult[]): HpeConfig | undefined {
  const { config, errors, warnings } = checkConfig(text, file);
  if (config !== undefined) {
    results.push({
      check: 'config.parse',
      status: 'ok',
      subject: 'config',
      detail: `${config.backends.length} backend${config.backends.length === 1 ? '' : 's'}: ${config.backends.map((b) => b.name).join(', ')}`,
    });
  }
  for (const e of errors) results.push({ check: 'config.parse', status: 'FAIL', subject: 'config', detail: e.message, fix: e.fix });
  for (const w of warnings) {
    const place = w.option === undefined ? `[${w.section}]` : `[${w.section}].${w.option}`;
    results.push({ check: 'config.parse', status: 'warn', subject: 'config', detail: `${file}:${w.line}: ${place}: ${w.message}` });
  }
  return errors.length === 0 ? config : undefined;
}

/** Reads only: an id the plugin would create at start is announced, not written. */
async function checkNodeId(config: HpeConfig, options: CheckOptions, results: CheckResult[]): Promise<void> {
  const check = 'node.id';
  const subject = 'node id';
  try {
    const lookup = await findNodeId({
      configFile: config.file,
      ...(config.host.nodeId === undefined ? {} : { configured: config.host.nodeId }),
      stateDir: options.stateDir ?? DefaultStateDir,
      env: options.env ?? process.env,
    });
    const detail = lookup.found ? describeNodeId(lookup) : `none yet; the plugin creates ${lookup.createAt} with a new id at its start`;
    results.push({ check, status: 'ok', subject, detail });
  } catch (err) {
    results.push(fail(check, subject, err));
  }
}

async function checkEtcd(config: HpeConfig, results: CheckResult[], timeouts: CheckOptions['etcdTimeouts'], password: string | undefined): Promise<boolean> {
  const members = await checkMembers(config.host.etcd, { ...timeouts, password });
  const reachable = members.filter((m) => m.ok).length;
  for (const m of members) {
    if (m.ok) {
      results.push({ check: 'etcd.member', status: 'ok', subject: `etcd ${m.endpoint}`, detail: `reachable${m.version ? ` (etcd ${m.version})` : ''}` });
    } else {
      const r = fail('etcd.member', `etcd ${m.endpoint}`, m.error);
      r.detail = r.detail.replace(`etcd ${m.endpoint}: `, ''); // the subject names the member already
      // With other members answering, the cluster still serves us: warn, do not block.
      results.push(reachable > 0 ? { ...r, status: 'warn' } : r);
    }
  }
  return reachable > 0;
}

/** Where and as whom the plugin reads etcd, when it is not upstream's default (no prefix, no etcd user). */
function describeEtcdScope(config: HpeConfig): string {
  const { prefix, user } = config.host.etcd;
  return `${prefix === undefined ? '' : ` under ${prefix}`}${user === undefined ? '' : ` as etcd user ${user}`}`;
}

/** host_etcd_password resolved; undefined with a FAIL result when its placeholder cannot be resolved. */
async function checkEtcdPassword(config: HpeConfig, env: NodeJS.ProcessEnv, results: CheckResult[]): Promise<{ password: string | undefined } | undefined> {
  try {
    return { password: await resolveEtcdPassword(config, env) };
  } catch (err) {
    results.push(fail('etcd.auth', `etcd user ${config.host.etcd.user ?? ''}`.trimEnd(), err));
    return undefined;
  }
}

function checkKeyRecords(config: HpeConfig, lookups: KeyLookups, results: CheckResult[]): void {
  for (const backend of config.backends) {
    const lookup = lookupFor(lookups, backend.name);
    const subject = `key [${backend.name}]`;
    const etcdKey = prefixedKey(config.host.etcd.prefix, keyRecordKey(backend.name));
    if (lookup.found) {
      const { stored } = lookup;
      if (stored.format === 'legacy') {
        results.push({
          check: 'keys',
          status: 'warn',
          subject,
          detail: `${etcdKey} holds a legacy py-3parencryptor passphrase (stored in clear in etcd)`,
          fix: `convert it with \`hpe3parencryptor migrate --backend ${backend.name}\``,
        });
      } else {
        const pending = stored.record.retired?.length
          ? { detail: `key ${stored.record.kid}; a rotation did not finish`, fix: `run \`hpe3parencryptor rotate --backend ${backend.name}\` again with the new passphrase` }
          : stored.record.legacyPassphrase !== undefined
            ? { detail: `key ${stored.record.kid}; a migration did not finish`, fix: `run \`hpe3parencryptor migrate --backend ${backend.name}\` again` }
            : undefined;
        results.push(
          pending === undefined
            ? { check: 'keys', status: 'ok', subject, detail: `key ${stored.record.kid} (created ${stored.record.created})` }
            : { check: 'keys', status: 'warn', subject, ...pending },
        );
      }
      continue;
    }
    if ('error' in lookup) {
      results.push(fail('keys', subject, lookup.error));
      continue;
    }
    const encrypted = backendSecrets(backend).filter((s) => {
      try {
        return secretForm(s.raw, lookup).form === 'encrypted';
      } catch {
        return true;
      }
    });
    if (encrypted.length > 0) {
      results.push({
        check: 'keys',
        status: 'FAIL',
        subject,
        detail: `no key record at ${etcdKey}, but ${encrypted.map((s) => `${s.option} (line ${s.line})`).join(', ')} ${encrypted.length === 1 ? 'is' : 'are'} encrypted`,
        fix: `point [DEFAULT].host_etcd_ip_address at the etcd that holds the key, or write the plain passwords back and run \`hpe3parencryptor encrypt-config --backend ${backend.name}\``,
      });
    } else {
      // Each plain password is warned about by the secrets check, key or no key.
      const plain = backendSecrets(backend).some((s) => s.span !== undefined && secretForm(s.raw, lookup).form === 'plain');
      results.push({ check: 'keys', status: 'ok', subject, detail: plain ? 'no key yet (no password is encrypted)' : 'no key needed (passwords come from placeholders)' });
    }
  }
}

/** Only when hpe.conf uses `$secret{}`: the cluster key and every named secret, in one request. */
async function readNamedSecrets(config: HpeConfig, client: EtcdClient, results: CheckResult[]): Promise<NamedSecrets | undefined> {
  const used = namedSecretReferences(config);
  if (used.size === 0) return undefined;
  const named = await loadNamedSecrets(client);
  const key = named.key.found ? `cluster secrets key ${named.key.record.kid}` : 'no usable cluster secrets key';
  results.push({
    check: 'etcd.secrets',
    status: 'ok',
    subject: 'etcd named secrets',
    detail: `${named.secrets.size} read in one request (${key}); hpe.conf uses ${used.size}: ${[...used.keys()].join(', ')}`,
  });
  return named;
}

/** What a failed array means once the plugin runs: the same as `-o help=backends` then shows. */
function arrayFailure(probe: Awaited<ReturnType<typeof probeBackends>>[number], subject: string, named: NamedSecrets | undefined): CheckResult {
  if (probe.loginRefused && probe.secret !== undefined) return refusedSecret(probe, probe.secret, subject, named);
  const where = `${probe.apiUrl}: ${probe.reason ?? 'unreachable'}`;
  if (probe.role === 'primary') {
    return {
      check: 'array',
      status: 'FAIL',
      subject,
      detail: `${where}; the plugin starts, but this backend stays FAILED until it passes`,
      fix: 'correct the option the reason names in hpe.conf, or make the array reachable from this host; the plugin retries by itself',
    };
  }
  return {
    check: 'array.replication',
    status: 'FAIL',
    subject,
    detail: `${where}; only replicated operations of [${probe.backend}] are refused until it passes, its plain volumes keep working`,
    fix: `correct the replication_device option the reason names in [${probe.backend}], or make the target array reachable from this host; the plugin retries the target by itself`,
  };
}

/**
 * The array refuses the current value of a `$secret{}` password. A running plugin follows the secret: it tried
 * this value on a login of its own and kept the session of the previous value (live rotation), so the backend
 * keeps serving until that session ends; say so, and how to recover.
 */
function refusedSecret(probe: Awaited<ReturnType<typeof probeBackends>>[number], secret: string, subject: string, named: NamedSecrets | undefined): CheckResult {
  const entry = named?.secrets.get(secret);
  const version = entry?.found ? ` version ${currentVersion(entry.record).version}` : '';
  const option = probe.role === 'primary' ? 'hpe3par_username' : 'replication_device.hpe3par_username';
  return {
    check: probe.role === 'primary' ? 'array' : 'array.replication',
    status: 'FAIL',
    subject,
    detail:
      `${probe.apiUrl}: login failed: the array refuses the value of $secret{${secret}}${version} (wrong user or password, WSAPI code 5); ` +
      `a running plugin keeps its session of the previous value until that session ends or a value the array accepts is put, ` +
      `and \`docker volume create -o help=backends\` shows which version it uses`,
    fix: `store the array's current password: \`hpe3parencryptor secret put ${secret}\` (on any host: every plugin logs in with it); or correct [${probe.backend}].${option}`,
  };
}

async function checkArrays(config: HpeConfig, secrets: Map<string, RevealedSecrets>, named: NamedSecrets | undefined, results: CheckResult[]): Promise<void> {
  // A backend whose passwords did not decrypt has already failed above; there is nothing to log in with.
  const usable = { ...config, backends: config.backends.filter((b) => secrets.has(b.name)) };
  for (const probe of await probeBackends(usable, secrets)) {
    const subject = probe.role === 'primary' ? `array [${probe.backend}]` : `array [${probe.backend}] replication target ${probe.target ?? ''}`.trim();
    const check = probe.role === 'primary' ? 'array' : 'array.replication';
    if (!probe.ok) {
      results.push(arrayFailure(probe, subject, named));
      continue;
    }
    const what = `${probe.apiUrl}: reachable, login ok, CPGs exist (${probe.model ?? 'array'} ${probe.systemName ?? ''}, WSAPI build ${probe.build ?? '?'})`;
    results.push(
      probe.verifiesTls === false && probe.apiUrl.startsWith('https:')
        ? { check, status: 'warn', subject, detail: `${what}; its TLS certificate is not verified`, fix: `set hpe3par_ca_cert in [${probe.backend}] to the array's CA certificate` }
        : { check, status: 'ok', subject, detail: what },
    );
  }
}

/**
 * Runs every prerequisite in order; later checks are skipped (not reported) when an earlier one they need
 * failed. Used by `hpedockerplugin check` and by the plugin's start-up gate.
 */
export async function runPrerequisiteChecks(options: CheckOptions): Promise<PrerequisiteOutcome> {
  const now = options.now ?? (() => new Date());
  const results: CheckResult[] = [];
  const done = () => ({ report: buildReport(options.configFile, results, now()) });

  const text = await checkConfigFile(options.configFile, results);
  if (text === undefined) return done();
  const config = checkConfigParse(options.configFile, text, results);
  if (config === undefined) return done();
  await checkNodeId(config, options, results);
  const credentials = await checkEtcdPassword(config, options.env ?? process.env, results);
  if (credentials === undefined) return done();
  if (!(await checkEtcd(config, results, options.etcdTimeouts, credentials.password))) return done();

  let client: EtcdClient | undefined;
  let lookups: KeyLookups;
  try {
    // One attempt: `check` answers now, and the gate retries the whole check within its own bound.
    client = await createEtcdClient(config.host.etcd, { transientRetryMs: 0, ...options.etcdTimeouts, password: credentials.password });
    lookups = await loadKeyLookups(client);
    results.push({ check: 'etcd.keys', status: 'ok', subject: 'etcd key records', detail: `${lookups.size} read in one request${describeEtcdScope(config)}` });
  } catch (err) {
    client?.close();
    results.push(fail('etcd.keys', 'etcd key records', err));
    return done();
  }
  let named: NamedSecrets | undefined;
  try {
    named = await readNamedSecrets(config, client, results);
  } catch (err) {
    results.push(fail('etcd.secrets', 'etcd named secrets', err));
    return done();
  } finally {
    client.close();
  }
  checkKeyRecords(config, lookups, results);

  const { secrets, failures } = await revealConfigSecrets(config, lookups, options.env ?? process.env, named);
  for (const backend of config.backends) {
    const own = failures.filter((f) => f.location?.section === backend.name);
    if (own.length === 0) {
      const forms = backendSecrets(backend).map((s) => secretForm(s.raw, lookupFor(lookups, backend.name)).form);
      const counts = new Map<string, number>();
      for (const f of forms) counts.set(f, (counts.get(f) ?? 0) + 1);
      const summary = [...counts].map(([form, n]) => `${n} ${form}`).join(', ');
      results.push({ check: 'secrets', status: 'ok', subject: `secrets [${backend.name}]`, detail: `${forms.length} passwords usable (${summary})` });
    }
    for (const f of own) results.push(fail('secrets', `secrets [${backend.name}]`, f));
    results.push(...plainPasswordWarnings(config.file, backend, lookupFor(lookups, backend.name)));
  }
  if (options.probeArrays) await checkArrays(config, secrets, named, results);
  const outcome = done();
  return outcome.report.passed ? { ...outcome, ready: { config, secrets } } : outcome;
}
