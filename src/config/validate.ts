/**
 * Turns the sections of hpe.conf into typed backends and host options, collecting every problem.
 * Each section is a backend checked on its own: as with upstream's oslo.config, a backend never
 * falls back to [DEFAULT]'s values. Host options are read from [DEFAULT] only.
 */
import { posix } from 'node:path';
import type { z } from 'zod';
import { ConfigError, type ConfigLocation } from '../errors.js';
import type { IniDocument, IniEntry, IniSection } from './dialect.js';
import {
  closestName,
  DeprecatedOptionNames,
  editDistanceWithin,
  isHostOption,
  KnownOptions,
} from './options.js';
import { DefaultSanSshPort, DefaultSshConnTimeoutSec, DefaultStateDir, DefaultStrictHostKeyPolicy, knownHostsFilePath } from './defaults.js';
import { NodeIdFix, nodeIdValue } from './node-id.js';
import { parseReplicationDevice } from './replication.js';
import {
  Drivers,
  type BackendConfig,
  type ConfigWarning,
  type DriverKind,
  type EtcdEndpoint,
  type HostConfig,
  type SecretValue,
} from './types.js';
import {
  ApiUrlFix,
  BooleanFix,
  booleanValue,
  etcdMembersValue,
  etcdPrefixValue,
  EtcdPrefixFix,
  etcdSingleValue,
  etcdUserValue,
  EtcdUserFix,
  httpUrlValue,
  iscsiTargetsFix,
  iscsiTargetsValue,
  LogLevelFix,
  logLevelValue,
  parseValueAll,
  PortFix,
  portValue,
  shown,
} from './values.js';

export interface ValidationResult {
  host: HostConfig;
  /** Only backends without any error, in file order. */
  backends: BackendConfig[];
  warnings: ConfigWarning[];
  errors: ConfigError[];
}

const DefaultBackend = 'DEFAULT';
const DefaultEtcd = { host: '0.0.0.0', port: 2379 } as const;
const DefaultLogLevel = 'WARNING';
const DefaultSanLogin = 'admin';

/** Lists, whose members may go on over indented lines; any other option is one line. */
const MultiLineOptions: ReadonlySet<string> = new Set([
  'replication_device',
  'hpe3par_cpg',
  'hpe3par_snapcpg',
  'hpe3par_iscsi_ips',
  'host_etcd_ip_address',
]);

/** `push(...items)` passes each item as an argument, which overflows the stack for a file with very many errors. */
function appendAll<T>(target: T[], items: readonly T[]): void {
  for (const item of items) target.push(item);
}

const DriverList = `${Drivers.iscsi} for iSCSI, ${Drivers.fc} for FC or ${Drivers.file} for file`;

/** Reads one section's options, reporting against it. */
class SectionReader {
  readonly errors: ConfigError[] = [];
  private readonly byKey: Map<string, IniEntry>;

  constructor(
    readonly section: IniSection,
    readonly file: string,
  ) {
    this.byKey = new Map(section.entries.map((e) => [e.key, e]));
  }

  get name(): string {
    return this.section.name;
  }

  entry(option: string): IniEntry | undefined {
    return this.byKey.get(option);
  }

  at(option: string, entry?: IniEntry): ConfigLocation {
    return { file: this.file, line: entry?.line ?? this.section.line, section: this.name, option };
  }

  fail(option: string, entry: IniEntry | undefined, problem: string, fix: string): void {
    this.errors.push(new ConfigError(this.at(option, entry), problem, fix));
  }

  /**
   * The entry of a required option with a non-empty value, else undefined after reporting it
   * missing (at the section header) or empty. `entry` overrides the lookup (old option names).
   */
  required(option: string, placeholder: string, options: { entry?: IniEntry; why?: string; where?: string } = {}): IniEntry | undefined {
    const entry = 'entry' in options ? options.entry : this.entry(option);
    if (entry !== undefined && !this.onOneLine(entry)) return undefined;
    const nothingInherited = this.name === DefaultBackend ? '' : ' (each backend must set its own; nothing is inherited from [DEFAULT])';
    const fix = `add \`${option} = ${placeholder}\` to [${this.name}]${nothingInherited}${options.where ?? ''}${this.misspellingHint(option)}`;
    if (entry === undefined) {
      this.fail(option, undefined, `is missing${options.why ?? ''}`, fix);
      return undefined;
    }
    if (entry.value.trim() === '') {
      this.fail(option, entry, `is empty${options.why ?? ''}`, `write a value: \`${option} = ${placeholder}\``);
      return undefined;
    }
    return entry;
  }

  /** Optional option whose empty value means unset, as in upstream (an empty string is falsy there). */
  optional(option: string): IniEntry | undefined {
    const entry = this.entry(option);
    if (entry === undefined || !this.onOneLine(entry)) return undefined;
    return entry.value.trim() === '' ? undefined : entry;
  }

  /** False, after reporting it, when a single-line option has continuation lines (likely a stray indent). */
  private onOneLine(entry: IniEntry): boolean {
    const continuation = entry.pieces[1];
    if (continuation === undefined || MultiLineOptions.has(entry.key)) return true;
    this.fail(
      entry.key,
      entry,
      `continues onto line ${continuation.line}, so its value would contain a line break`,
      `write the value on line ${entry.line} only, or remove the indentation of line ${continuation.line} if it starts a new option`,
    );
    return false;
  }

  /** Parses `entry` with `schema`; each zod issue becomes one ConfigError at the entry's line. */
  parse<T>(option: string, entry: IniEntry, schema: z.ZodType<T, string>, fix: string): T | undefined {
    const checked = parseValueAll(schema, entry.value);
    if (checked.ok) return checked.value;
    for (const problem of checked.problems) this.fail(option, entry, problem, fix);
    return undefined;
  }

  boolean(option: string, fallback: boolean): boolean | undefined {
    const entry = this.optional(option);
    return entry === undefined ? fallback : this.parse(option, entry, booleanValue, BooleanFix);
  }

  /** A password as written; it is never put in a message. */
  secret(option: 'hpe3par_password' | 'san_password', placeholder: string): SecretValue | undefined {
    const entry = this.required(option, placeholder);
    return entry === undefined ? undefined : { option, raw: entry.value, line: entry.line, span: { ...entry.span } };
  }

  /** An optional secret (empty means unset); never put in a message. */
  optionalSecret(option: 'san_private_key_passphrase'): SecretValue | undefined {
    const entry = this.optional(option);
    return entry === undefined ? undefined : { option, raw: entry.value, line: entry.line, span: { ...entry.span } };
  }

  /** `, `-separated names; blanks are dropped. */
  list(entry: IniEntry | undefined): string[] {
    return (entry?.value ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }

  /** A line that sets an unknown option close to `option`, which is then likely a misspelling of it. */
  private misspellingHint(option: string): string {
    const near = this.section.entries.find((e) => !KnownOptions.has(e.key) && editDistanceWithin(e.key, option, 2) <= 2);
    return near === undefined ? '' : `; line ${near.line} sets '${near.key}': is that a misspelling of it?`;
  }
}

function readDriver(r: SectionReader): DriverKind | undefined {
  const entry = r.required('hpedockerplugin_driver', '<driver>', { where: `; <driver> is ${DriverList}` });
  if (entry === undefined) return undefined;
  const kind = (Object.keys(Drivers) as DriverKind[]).find((k) => Drivers[k] === entry.value);
  if (kind === undefined) {
    r.fail('hpedockerplugin_driver', entry, `Bad driver name specified in hpe.conf: ${shown(entry.value)}`, `use ${DriverList}`);
  }
  return kind;
}

function readApiUrl(r: SectionReader, warnings: ConfigWarning[]): string | undefined {
  const current = r.entry('hpe3par_api_url');
  const [oldName] = Object.keys(DeprecatedOptionNames);
  const old = oldName === undefined ? undefined : r.entry(oldName);
  if (current !== undefined && old !== undefined) {
    warnings.push({
      line: old.line,
      section: r.name,
      option: old.key,
      message: `'${old.key}' is the old name of 'hpe3par_api_url', which is also set; it is ignored`,
    });
  }
  const entry = r.required('hpe3par_api_url', 'https://<array address>:8080/api/v1', { entry: current ?? old });
  return entry === undefined ? undefined : r.parse(entry.key, entry, httpUrlValue, ApiUrlFix);
}

/** Host options outside [DEFAULT] and unknown options, which are ignored. */
function ignoredOptionWarnings(section: IniSection): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  for (const { key, line } of section.entries) {
    const where = { line, section: section.name, option: key };
    if (section.name !== DefaultBackend && isHostOption(key)) {
      warnings.push({ ...where, message: `'${key}' is a host option, read from [DEFAULT] only; it is ignored here` });
    } else if (!KnownOptions.has(key)) {
      const suggestion = closestName(key, KnownOptions);
      const hint = suggestion === undefined ? '' : `; did you mean '${suggestion}'?`;
      warnings.push({ ...where, message: `unknown option '${key}' is ignored${hint}` });
    }
  }
  return warnings;
}

/** Checks one backend section; returns its config when it has no error. */
function readBackend(
  section: IniSection,
  file: string,
): { backend?: BackendConfig; driver?: DriverKind; errors: ConfigError[]; warnings: ConfigWarning[] } {
  const r = new SectionReader(section, file);
  const warnings = ignoredOptionWarnings(section);

  const driver = readDriver(r);
  const apiUrl = readApiUrl(r, warnings);
  const username = r.required('hpe3par_username', '<array user>')?.value;
  const password = r.secret('hpe3par_password', '<array password>');
  const sanIp = r.required('san_ip', '<array address>')?.value;
  const sanLogin = r.optional('san_login')?.value ?? DefaultSanLogin;
  const sanPassword = r.secret('san_password', '<array SSH password>');

  let cpg: string[] | undefined;
  const cpgEntry = r.required('hpe3par_cpg', '<CPG name>[,<CPG name>...]');
  if (cpgEntry !== undefined) {
    cpg = r.list(cpgEntry);
    if (cpg.length === 0) {
      r.fail('hpe3par_cpg', cpgEntry, 'lists no CPG', 'write at least one CPG name: `hpe3par_cpg = <CPG name>[,<CPG name>...]`');
      cpg = undefined;
    }
  }
  const snapCpgList = r.list(r.entry('hpe3par_snapcpg'));
  const snapCpg = snapCpgList.length > 0 ? snapCpgList : cpg;

  let iscsiIps: BackendConfig['iscsiIps'] | undefined = [];
  const ipsEntry =
    driver === 'iscsi'
      ? r.required('hpe3par_iscsi_ips', '<ip>[:<port>][,<ip>[:<port>]...]', { why: ' (required for the iSCSI driver)' })
      : r.optional('hpe3par_iscsi_ips');
  if (ipsEntry !== undefined) iscsiIps = r.parse('hpe3par_iscsi_ips', ipsEntry, iscsiTargetsValue(','), iscsiTargetsFix(','));
  else if (driver === 'iscsi') iscsiIps = undefined;

  const iscsiChapEnabled = r.boolean('hpe3par_iscsi_chap_enabled', false);
  const debug = r.boolean('hpe3par_debug', false);
  r.boolean('suppress_requests_ssl_warnings', false);

  const caCertEntry = r.optional('hpe3par_ca_cert');
  if (caCertEntry !== undefined && !posix.isAbsolute(caCertEntry.value)) {
    r.fail('hpe3par_ca_cert', caCertEntry, `'${shown(caCertEntry.value)}' is not an absolute path`, 'write the full path of the CA bundle, e.g. /etc/hpedockerplugin/array-ca.pem');
  }

  const ssh = readSsh(r);

  // Empty means no replication, as upstream's empty dict did.
  const replicationEntry = r.optional('replication_device');
  const replication =
    replicationEntry === undefined
      ? undefined
      : parseReplicationDevice(replicationEntry, section.name, file, { driver, username, password, sanIp, sanLogin, sanPassword });
  if (replication !== undefined) {
    appendAll(r.errors, replication.errors);
    appendAll(warnings, replication.warnings);
  }

  if (
    r.errors.length > 0 ||
    driver === undefined ||
    apiUrl === undefined ||
    username === undefined ||
    password === undefined ||
    sanIp === undefined ||
    sanPassword === undefined ||
    cpg === undefined ||
    snapCpg === undefined ||
    iscsiIps === undefined ||
    iscsiChapEnabled === undefined ||
    debug === undefined
  ) {
    return { driver, errors: r.errors, warnings };
  }
  const backend: BackendConfig = {
    name: section.name,
    line: section.line,
    driver,
    apiUrl,
    username,
    password,
    sanIp,
    sanLogin,
    sanPassword,
    cpg,
    snapCpg,
    iscsiIps,
    iscsiChapEnabled,
    debug,
    ...ssh,
    options: Object.fromEntries(section.entries.map((e) => [e.key, e.value])),
  };
  if (caCertEntry !== undefined) backend.caCert = caCertEntry.value;
  if (replication?.device !== undefined) backend.replication = replication.device;
  return { backend, driver, errors: r.errors, warnings };
}

const SshTimeoutFix = `write a whole number of seconds, e.g. ${DefaultSshConnTimeoutSec}`;

type BackendSsh = Pick<BackendConfig, 'sanSshPort' | 'sanPrivateKey' | 'sanPrivateKeyPassphrase' | 'sshConnTimeoutSec'>;

/** The backend's SSH options (the array's CLI, for snapshot schedules). */
function readSsh(r: SectionReader): BackendSsh {
  const out: BackendSsh = { sanSshPort: DefaultSanSshPort, sshConnTimeoutSec: DefaultSshConnTimeoutSec };
  const portEntry = r.optional('san_ssh_port');
  const port = portEntry === undefined ? undefined : r.parse('san_ssh_port', portEntry, portValue, PortFix);
  if (port !== undefined) out.sanSshPort = port;
  const timeoutEntry = r.optional('ssh_conn_timeout');
  if (timeoutEntry !== undefined) {
    if (/^\s*[1-9]\d{0,4}\s*$/.test(timeoutEntry.value)) out.sshConnTimeoutSec = Number(timeoutEntry.value);
    else r.fail('ssh_conn_timeout', timeoutEntry, `must be a whole number of seconds from 1 to 99999, not '${shown(timeoutEntry.value)}'`, SshTimeoutFix);
  }
  const keyEntry = r.optional('san_private_key');
  if (keyEntry !== undefined) {
    if (posix.isAbsolute(keyEntry.value)) out.sanPrivateKey = keyEntry.value;
    else r.fail('san_private_key', keyEntry, `'${shown(keyEntry.value)}' is not an absolute path`, 'write the full path of the private key file, e.g. /etc/hpedockerplugin/ssh/id_ed25519');
  }
  const passphrase = r.optionalSecret('san_private_key_passphrase');
  if (passphrase !== undefined) {
    if (keyEntry === undefined) {
      r.fail('san_private_key_passphrase', r.entry('san_private_key_passphrase')!, 'is set but san_private_key is not', 'set san_private_key to the key file this passphrase opens, or remove san_private_key_passphrase');
    }
    out.sanPrivateKeyPassphrase = passphrase;
  }
  return out;
}

function readEtcdEndpoints(r: SectionReader): EtcdEndpoint[] | undefined {
  const portEntry = r.optional('host_etcd_port_number');
  const port = portEntry === undefined ? DefaultEtcd.port : r.parse('host_etcd_port_number', portEntry, portValue, PortFix);
  const entry = r.entry('host_etcd_ip_address');
  if (entry === undefined) return port === undefined ? undefined : [{ host: DefaultEtcd.host, port }];
  if (r.required('host_etcd_ip_address', '<etcd host>') === undefined) return undefined;

  if (entry.value.includes(',')) {
    return r.parse(
      'host_etcd_ip_address',
      entry,
      etcdMembersValue,
      'in a comma-separated list every member needs its port, e.g. 10.0.0.1:2379,10.0.0.2:2379',
    );
  }
  const single = r.parse('host_etcd_ip_address', entry, etcdSingleValue, 'write a host name or IP address, optionally with :port');
  if (single === undefined || port === undefined) return undefined;
  return [{ host: single.host, port: single.port ?? port }];
}

const EtcdPasswordFix =
  'write `host_etcd_password = $file{/etc/hpedockerplugin/etcd-password}` (a root-only file holding the password) or `$env{NAME}` (a variable of the plugin\'s environment)';

/** host_etcd_prefix, and host_etcd_user with its password, which must be a placeholder: never plain in hpe.conf. */
function readEtcdKeyspaceAndUser(r: SectionReader, etcd: HostConfig['etcd']): void {
  const prefix = r.optional('host_etcd_prefix');
  if (prefix !== undefined) {
    const value = r.parse('host_etcd_prefix', prefix, etcdPrefixValue, EtcdPrefixFix);
    if (value !== undefined) etcd.prefix = value;
  }
  const user = r.optional('host_etcd_user');
  const password = r.optional('host_etcd_password');
  if (user !== undefined) {
    const name = r.parse('host_etcd_user', user, etcdUserValue, EtcdUserFix);
    if (name !== undefined) etcd.user = name;
    if (password === undefined) r.fail('host_etcd_user', user, 'is set but host_etcd_password is not', `${EtcdPasswordFix}, or remove host_etcd_user to authenticate by the client certificate's CN`);
  }
  if (password === undefined) return;
  if (user === undefined) {
    r.fail('host_etcd_password', password, 'is set but host_etcd_user is not', 'add `host_etcd_user = <etcd user>` to [DEFAULT], or remove host_etcd_password');
    return;
  }
  // The precise placeholder syntax is checked where it is resolved (secrets); here only its form.
  if (!/^\$(env|file)\{/.test(password.value.trim())) {
    r.fail('host_etcd_password', password, 'is written in plain text; it must be a $file{} or $env{} placeholder, so the etcd password is not in hpe.conf', EtcdPasswordFix);
    return;
  }
  etcd.password = { raw: password.value.trim(), line: password.line };
}

/** Host options, from [DEFAULT] only (defaults when there is no [DEFAULT]). */
function readHost(section: IniSection | undefined, file: string): { host: HostConfig; errors: ConfigError[] } {
  const host: HostConfig = { etcd: { endpoints: [{ ...DefaultEtcd }] }, logging: DefaultLogLevel, ssh: { strictHostKeyPolicy: DefaultStrictHostKeyPolicy } };
  if (section === undefined) return { host, errors: [] };
  const r = new SectionReader(section, file);

  const endpoints = readEtcdEndpoints(r);
  if (endpoints !== undefined) host.etcd.endpoints = endpoints;

  const cert = r.optional('host_etcd_client_cert');
  const key = r.optional('host_etcd_client_key');
  if (cert !== undefined && key === undefined) {
    r.fail('host_etcd_client_cert', cert, 'is set but host_etcd_client_key is not', 'set both host_etcd_client_cert and host_etcd_client_key for TLS client authentication, or neither');
  } else if (key !== undefined && cert === undefined) {
    r.fail('host_etcd_client_key', key, 'is set but host_etcd_client_cert is not', 'set both host_etcd_client_cert and host_etcd_client_key for TLS client authentication, or neither');
  } else if (cert !== undefined && key !== undefined) {
    host.etcd.clientCert = cert.value;
    host.etcd.clientKey = key.value;
  }
  const ca = r.optional('host_etcd_ca_cert');
  if (ca !== undefined) host.etcd.caCert = ca.value;
  readEtcdKeyspaceAndUser(r, host.etcd);

  const logging = r.optional('logging');
  if (logging !== undefined) {
    const level = r.parse('logging', logging, logLevelValue, LogLevelFix);
    if (level !== undefined) host.logging = level;
  }
  const mountPrefix = r.optional('mount_prefix');
  if (mountPrefix !== undefined) host.mountPrefix = mountPrefix.value;
  const nodeId = r.optional('node_id');
  if (nodeId !== undefined) {
    const id = r.parse('node_id', nodeId, nodeIdValue, NodeIdFix);
    if (id !== undefined) host.nodeId = id;
  }

  for (const option of ['use_multipath', 'enforce_multipath']) r.boolean(option, false);
  host.ssh.strictHostKeyPolicy = r.boolean('strict_ssh_host_key_policy', DefaultStrictHostKeyPolicy) ?? DefaultStrictHostKeyPolicy;
  const knownHosts = r.optional('ssh_hosts_key_file');
  if (knownHosts !== undefined) {
    if (posix.isAbsolute(knownHosts.value)) host.ssh.knownHostsFile = knownHosts.value;
    else r.fail('ssh_hosts_key_file', knownHosts, `'${shown(knownHosts.value)}' is not an absolute path`, `write the full path of the known-hosts file, e.g. ${knownHostsFilePath(DefaultStateDir)}`);
  }
  return { host, errors: r.errors };
}

/** Rules between sections: [DEFAULT] exists, DEFAULT_FILE is not block, a file [DEFAULT] has a DEFAULT_BLOCK. */
function checkDefaults(
  doc: IniDocument,
  drivers: ReadonlyMap<string, DriverKind | undefined>,
  file: string,
): { errors: ConfigError[]; warnings: ConfigWarning[] } {
  const errors: ConfigError[] = [];
  const warnings: ConfigWarning[] = [];
  const driverLine = (section: IniSection): number => section.entries.find((e) => e.key === 'hpedockerplugin_driver')?.line ?? section.line;
  const isBlock = (driver: DriverKind | undefined): boolean => driver === 'iscsi' || driver === 'fc';

  const defaultSection = doc.sections.find((s) => s.name === DefaultBackend);
  if (defaultSection === undefined) {
    errors.push(
      new ConfigError(
        { file },
        'has no [DEFAULT] section',
        'add a [DEFAULT] section: it is the default backend and holds the host options (etcd, logging)',
      ),
    );
  } else if (
    drivers.get(DefaultBackend) === 'file' &&
    [...drivers.values()].some(isBlock) &&
    !drivers.has('DEFAULT_BLOCK')
  ) {
    errors.push(
      new ConfigError(
        { file, line: driverLine(defaultSection), section: DefaultBackend, option: 'hpedockerplugin_driver' },
        'DEFAULT backend is not present for the BLOCK driver configuration: [DEFAULT] uses the file driver, so a DEFAULT_BLOCK backend must be configured for block',
        'add a [DEFAULT_BLOCK] section with a block driver and its own array options',
      ),
    );
  }
  const fileSection = doc.sections.find((s) => s.name === 'DEFAULT_FILE');
  if (fileSection !== undefined && isBlock(drivers.get(fileSection.name))) {
    errors.push(
      new ConfigError(
        { file, line: driverLine(fileSection), section: fileSection.name, option: 'hpedockerplugin_driver' },
        "'DEFAULT_FILE' backend cannot be defined for BLOCK driver",
        `rename the section, or set hpedockerplugin_driver = ${Drivers.file} if it is meant for files`,
      ),
    );
  }
  const sharedDefaults = doc.sections.find((s) => s.name === 'backend_defaults');
  if (sharedDefaults !== undefined) {
    warnings.push({
      line: sharedDefaults.line,
      section: sharedDefaults.name,
      message: '[backend_defaults] is read as an ordinary backend; other backends do not inherit its values',
    });
  }
  return { errors, warnings };
}

/** Checks every section of a parsed file; all problems are returned, none thrown. */
export function validateConfig(doc: IniDocument, file: string): ValidationResult {
  const errors: ConfigError[] = [];
  const warnings: ConfigWarning[] = [];
  const backends: BackendConfig[] = [];
  const drivers = new Map<string, DriverKind | undefined>();

  const hostResult = readHost(
    doc.sections.find((s) => s.name === DefaultBackend),
    file,
  );
  appendAll(errors, hostResult.errors);
  for (const section of doc.sections) {
    const result = readBackend(section, file);
    appendAll(errors, result.errors);
    appendAll(warnings, result.warnings);
    if (result.backend !== undefined) backends.push(result.backend);
    drivers.set(section.name, result.driver);
  }
  const cross = checkDefaults(doc, drivers, file);
  appendAll(errors, cross.errors);
  appendAll(warnings, cross.warnings);
  return { host: hostResult.host, backends, warnings, errors };
}
