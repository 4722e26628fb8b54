/**
 * Backend lifecycle: one WSAPI session per array, for every block backend of hpe.conf and, when the backend
 * has a `replication_device`, for its replication target.
 *
 * Each backend goes INITIALIZING → OK, or → FAILED with a reason an admin can act on. Initialising an array is
 * `GET /api` (build, feature gates), the login (`GET /system` is the first authenticated call; its licences
 * serve the compression check later), and `GET /cpgs/<cpg>` for every configured CPG and snapshot CPG (on the
 * target: the right-hand sides of cpg_map / snap_cpg_map). Backends initialise in parallel and independently.
 * Upstream left a FAILED backend failed until the plugin restarted; here a backend that failed for a reason
 * that may clear (array down, wrong password changed on the array, CPG created later) is retried in the
 * background with capped exponential backoff (2 s doubling to 60 s; the clock is injectable), never blocking
 * the other backends or the server. The state follows what the array last answered: a transport error or a
 * refused login on any call of an OK backend's sessions (the client's outcome hook) makes it FAILED with that
 * reason and starts the same background re-initialisation, whose success makes it OK again. Reasons never
 * contain a password: the WSAPI client scrubs them.
 *
 * A replication target has a state of its own, kept, retried and recovered the same way: the backend is OK
 * when its own array is, so its plain volumes keep working through the target's outage; only operations that
 * need the target (replicated create and remove) are refused, with the target's reason (replicationTarget()).
 * The other way round, a Mount and its Unmount need only the arrays they export from (mountArrays(), arraysFor()):
 * while the backend's own array is FAILED, a replicated volume failed over to the target is served by the target.
 */
import { readFile } from 'node:fs/promises';
import {
  WsapiClient,
  WsapiConnectionError,
  WsapiError,
  WsapiCodes,
  WsapiFeatureBuilds,
  wsapiFeatures,
  type RetryPolicy,
  type SystemInfo,
  type WsapiFeatures,
  type WsapiOutcome,
} from '../../array/index.js';
import type { BackendConfig, HpeConfig, ReplicationDevice, SecretValue } from '../../config/index.js';
import { backoffDelay, systemClock, type Backoff, type Clock } from '../../clock.js';
import { HpeError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { classifySecret, type RevealedSecrets } from '../../secrets/index.js';
import { VolumeRequestError } from '../errors.js';
import { arrayCliOptionsOf, LazyArrayCli, type SshSettings } from './array-cli.js';
import {
  backendNotReady,
  targetNotReady,
  type ArrayRole,
  type BackendState,
  type BackendStatus,
  type BackendView,
  type CredentialStatus,
} from './state.js';

/** Backoff of the background re-initialisation of a FAILED backend. */
const defaultBackoff: Backoff = { initialMs: 2000, maxMs: 60_000 };

/** WSAPI client settings for the backends' sessions. */
export interface WsapiSettings {
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  clock?: Clock;
}

/**
 * Fewer, shorter in-call retries than the client's default (5 tries, up to 15 s apart): an array that refuses
 * connections is FAILED within ~3 s and retried by the backoff above, instead of sitting INITIALIZING.
 */
const defaultWsapiRetry: Partial<RetryPolicy> = { attempts: 3, baseDelayMs: 1000, maxDelayMs: 4000 };

// ---------------------------------------------------------------------------------------------------------
// What an initialised backend offers

/** One array with its session and what init learnt about it. */
export interface ArrayHandle {
  client: WsapiClient;
  /** `host:port`, as errors name it. */
  array: string;
  build: number;
  features: WsapiFeatures;
  system: SystemInfo;
  /** CPG name → its domain (undefined: no domain), for the configured CPGs; others are added when first read. */
  cpgDomains: Map<string, string | undefined>;
}

export interface ReplicationTarget extends ArrayHandle {
  device: ReplicationDevice;
}

/** A backend in state OK. */
export interface ReadyBackend {
  name: string;
  config: BackendConfig;
  primary: ArrayHandle;
  /** The replication target while it is OK (as it was when the backend was looked up). */
  target?: ReplicationTarget;
  /** The array's SSH CLI (snapshot schedules), connected on first use. */
  cli: LazyArrayCli;
}

/**
 * The arrays of a backend that a Mount, an Unmount or a takeover's fencing may use: its own array while OK, its
 * replication target while OK. A ReadyBackend is one; without `primary`, `primaryDown` is the backend's status
 * (its own array is FAILED: a replicated volume failed over to the target is served by the target alone).
 */
export interface MountArrays {
  name: string;
  config: BackendConfig;
  primary?: ArrayHandle;
  target?: ReplicationTarget;
  primaryDown?: BackendStatus;
}

/** The CPG's domain, read once per CPG and kept. */
export async function cpgDomain(handle: ArrayHandle, cpg: string): Promise<string | undefined> {
  if (handle.cpgDomains.has(cpg)) return handle.cpgDomains.get(cpg);
  const domain = (await handle.client.getCpg(cpg)).domain;
  handle.cpgDomains.set(cpg, domain);
  return domain;
}

// ---------------------------------------------------------------------------------------------------------
// Init of one array, and the reasons it gives

/** An init failure with its reason; `retry` false when only an edit of hpe.conf can fix it. */
class InitFailure extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
    /** The array refused the user and password (WSAPI code 5). */
    readonly loginRefused = false,
  ) {
    super(message);
  }
}

interface ArraySpec {
  backend: string;
  role: ArrayRole;
  /** The replication target's backend_id. */
  targetId?: string;
  apiUrl: string;
  username: string;
  password: string | undefined;
  /** `hpe3par_password` or `replication_device.hpe3par_password`: what the admin checks. */
  userOption: string;
  passwordOption: string;
  /** The named secret the password is (`$secret{NAME}`): the session follows it in etcd. */
  secret?: string;
  cpgs: { name: string; option: string }[];
  caCertFile: string | undefined;
}

function specsOf(backend: BackendConfig, secrets: RevealedSecrets | undefined): ArraySpec[] {
  const cpgs = dedupe([
    ...backend.cpg.map((name) => ({ name, option: 'hpe3par_cpg' })),
    ...backend.snapCpg.map((name) => ({ name, option: 'hpe3par_snapcpg' })),
  ]);
  const specs: ArraySpec[] = [
    {
      backend: backend.name,
      role: 'primary',
      apiUrl: backend.apiUrl,
      username: backend.username,
      password: secrets?.hpe3par_password,
      userOption: 'hpe3par_username',
      passwordOption: 'hpe3par_password',
      ...namedSecretOf(backend.password),
      cpgs,
      caCertFile: backend.caCert,
    },
  ];
  const r = backend.replication;
  if (r !== undefined) {
    specs.push({
      backend: backend.name,
      role: 'replication target',
      targetId: r.backendId,
      apiUrl: r.apiUrl,
      username: r.username,
      password: secrets?.['replication_device.hpe3par_password'],
      userOption: 'replication_device.hpe3par_username',
      passwordOption: 'replication_device.hpe3par_password',
      ...namedSecretOf(r.password),
      cpgs: dedupe([
        ...r.cpgMap.map((m) => ({ name: m.target, option: 'replication_device.cpg_map' })),
        ...r.snapCpgMap.map((m) => ({ name: m.target, option: 'replication_device.snap_cpg_map' })),
      ]),
      caCertFile: backend.caCert,
    });
  }
  return specs;
}

/** `{secret: NAME}` for a password written `$secret{NAME}`; a malformed value failed the start-up gate already. */
function namedSecretOf(password: SecretValue): { secret?: string } {
  try {
    const c = classifySecret(password.raw);
    return c.kind === 'named' ? { secret: c.name } : {};
  } catch {
    return {};
  }
}

/** The backend's own SSH secrets written `$secret{NAME}` (the SSH CLI of snapshot schedules uses them). */
function sshSecretsOf(config: BackendConfig): { option: 'san_password' | 'san_private_key_passphrase'; secret: string }[] {
  const out: { option: 'san_password' | 'san_private_key_passphrase'; secret: string }[] = [];
  const password = namedSecretOf(config.sanPassword).secret;
  if (password !== undefined) out.push({ option: 'san_password', secret: password });
  const passphrase = config.sanPrivateKeyPassphrase === undefined ? undefined : namedSecretOf(config.sanPrivateKeyPassphrase).secret;
  if (passphrase !== undefined) out.push({ option: 'san_private_key_passphrase', secret: passphrase });
  return out;
}

/** Each CPG once (hpe3par_snapcpg defaults to hpe3par_cpg), named by the first option that lists it. */
function dedupe(cpgs: { name: string; option: string }[]): { name: string; option: string }[] {
  const byName = new Map<string, { name: string; option: string }>();
  for (const c of cpgs) if (c.name !== '' && !byName.has(c.name)) byName.set(c.name, c);
  return [...byName.values()];
}

/** The admin-facing reason of a failed init step (no secrets: the client scrubbed them). */
function reasonOf(err: unknown, spec: ArraySpec, array: string): InitFailure {
  if (err instanceof InitFailure) return err;
  const where = `[${spec.backend}]`;
  if (err instanceof WsapiConnectionError) {
    switch (err.reason) {
      case 'refused':
        return new InitFailure(`array ${array} refused the connection`, true);
      case 'dns':
        return new InitFailure(`array host of ${err.url} does not resolve (${err.detail}) — check ${where}.${apiUrlOption(spec)}`, true);
      case 'tls':
        return new InitFailure(`TLS verification of array ${array} failed: ${err.detail} — check ${where}.hpe3par_ca_cert`, true);
      case 'timeout':
        return new InitFailure(`array ${array} did not answer: ${err.detail}`, true);
      case 'protocol':
        return new InitFailure(`${err.url} is not a WSAPI: ${err.detail} — check ${where}.${apiUrlOption(spec)}`, true);
      default:
        return new InitFailure(`cannot reach array ${array}: ${err.detail}`, true);
    }
  }
  if (err instanceof WsapiError && err.call.startsWith('POST /credentials')) {
    if (err.code === WsapiCodes.INV_USER_PASS) {
      return new InitFailure(`login failed: wrong user or password (WSAPI code 5) — check ${where}.${spec.userOption} and ${where}.${spec.passwordOption}`, true, true);
    }
    return new InitFailure(`login to array ${array} as "${spec.username}" failed: HTTP ${err.status}${err.code === undefined ? '' : `, WSAPI code ${err.code}`}${err.desc === '' ? '' : `: ${err.desc}`}`, true);
  }
  if (err instanceof HpeError) return new InitFailure(err.message, true);
  return new InitFailure(err instanceof Error ? err.message : String(err), true);
}

/** Why the array refused a rotated password's login (no secret value: the client scrubbed its texts). */
function refusalOf(err: unknown, spec: ArraySpec): string {
  if (err instanceof WsapiError && err.code === WsapiCodes.INV_USER_PASS) return `login as "${spec.username}" refused: wrong user or password (WSAPI code 5)`;
  return describeErr(err);
}

/** `backend` or `backend replication target <id>`, as log lines name an array of a backend. */
function describeSide(entry: Entry, side: Side): string {
  return side.spec.role === 'primary' ? entry.config.name : `${entry.config.name} replication target ${side.spec.targetId}`;
}

function apiUrlOption(spec: ArraySpec): string {
  return spec.role === 'primary' ? 'hpe3par_api_url' : 'replication_device.hpe3par_api_url';
}

function prefixed(spec: ArraySpec, reason: string): string {
  return spec.role === 'primary' ? reason : `replication target ${spec.targetId}: ${reason}`;
}

/** Builds the client for a spec; configuration problems (no password, unreadable CA, bad URL) are final. */
async function clientFor(spec: ArraySpec, wsapi: WsapiSettings): Promise<WsapiClient> {
  if (spec.password === undefined) {
    throw new InitFailure(`the password ${spec.passwordOption} of [${spec.backend}] could not be decrypted — run \`hpedockerplugin check\``, false);
  }
  let caCert: string | undefined;
  if (spec.caCertFile !== undefined) {
    try {
      caCert = await readFile(spec.caCertFile, 'utf8');
    } catch (err) {
      throw new InitFailure(`cannot read the CA certificate ${spec.caCertFile} (${(err as NodeJS.ErrnoException).code ?? describeErr(err)}) — check [${spec.backend}].hpe3par_ca_cert`, false);
    }
  }
  try {
    return new WsapiClient({
      apiUrl: spec.apiUrl,
      username: spec.username,
      password: spec.password,
      ...(caCert === undefined ? {} : { caCert }),
      ...(wsapi.timeoutMs === undefined ? {} : { timeoutMs: wsapi.timeoutMs }),
      retry: { ...defaultWsapiRetry, ...wsapi.retry },
      ...(wsapi.clock === undefined ? {} : { clock: wsapi.clock }),
    });
  } catch (err) {
    throw new InitFailure(`${describeErr(err)} — check [${spec.backend}].${apiUrlOption(spec)}`, false);
  }
}

function describeErr(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** GET /api, login (GET /system), GET /cpgs/<cpg> for each CPG. */
async function initArray(client: WsapiClient, spec: ArraySpec): Promise<ArrayHandle> {
  try {
    const version = await client.getApiVersion();
    const features = wsapiFeatures(version.build);
    if (!features.supported) {
      throw new InitFailure(
        `array ${client.array} runs WSAPI build ${version.build}; 3PAR OS 3.1.3 MU1 (build ${WsapiFeatureBuilds.minimum}) or later is needed`,
        false,
      );
    }
    const system = await client.getSystem();
    const cpgDomains = new Map<string, string | undefined>();
    for (const cpg of spec.cpgs) {
      try {
        cpgDomains.set(cpg.name, (await client.getCpg(cpg.name)).domain);
      } catch (err) {
        if (err instanceof WsapiError && err.status === 404) {
          throw new InitFailure(`CPG ${cpg.name} does not exist on the array ${client.array} — check [${spec.backend}].${cpg.option}`, true);
        }
        throw err;
      }
    }
    return { client, array: client.array, build: version.build, features, system, cpgDomains };
  } catch (err) {
    throw reasonOf(err, spec, client.array);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The backends of a config

interface BackendsOptions {
  logger: Pick<Logger, 'info' | 'warn' | 'debug'>;
  clock?: Clock;
  backoff?: Backoff;
  wsapi?: WsapiSettings;
  /** The arrays' SSH CLI settings (snapshot schedules). */
  ssh?: SshSettings;
  /** Called whenever the state of a backend's array (its primary, or its replication target) changes. */
  onStateChange?: (name: string, state: BackendState, role: ArrayRole) => void;
}

interface Side {
  spec: ArraySpec;
  client?: WsapiClient;
  state: BackendState;
  /** Why it is FAILED, without the `replication target <id>: ` prefix. */
  reason?: string;
  handle?: ArrayHandle;
  firstAttempt: Promise<void>;
  run?: Promise<void>;
  /** Set when the password is a named secret. */
  credentials?: CredentialStatus;
  /** Counts rotations: a rotation that a newer one overtook stops and reports nothing. */
  rotations: number;
  /** The last rotation queued; the next one runs after it. */
  rotation: Promise<void>;
  /** Aborted when a newer rotation (or an unusable version) overtakes the running one. */
  superseded?: AbortController;
  /** Ends the init loop's wait: a new password may clear what it waits for. */
  wake?: AbortController;
}

interface Entry {
  config: BackendConfig;
  primary: Side;
  target?: Side;
  cli: LazyArrayCli;
}

function sideStatus(side: Side): { state: BackendState; reason?: string; credentials?: CredentialStatus } {
  return {
    state: side.state,
    ...(side.reason === undefined ? {} : { reason: side.reason }),
    ...(side.credentials === undefined ? {} : { credentials: { ...side.credentials } }),
  };
}

function statusOf(e: Entry): BackendStatus {
  return {
    name: e.config.name,
    ...sideStatus(e.primary),
    ...(e.target === undefined ? {} : { target: { id: e.target.spec.targetId ?? '', ...sideStatus(e.target) } }),
  };
}

function sidesOf(e: Entry): Side[] {
  return e.target === undefined ? [e.primary] : [e.primary, e.target];
}

function newSide(spec: ArraySpec): Side {
  return {
    spec,
    state: 'INITIALIZING',
    firstAttempt: Promise.resolve(),
    rotations: 0,
    rotation: Promise.resolve(),
    ...(spec.secret === undefined ? {} : { credentials: { secret: spec.secret, state: 'current' } }),
  };
}

/** Block backends only: the File Persona driver is not served by this plugin. */
function blockBackends(config: HpeConfig): BackendConfig[] {
  return config.backends.filter((b) => b.driver !== 'file');
}

export class Backends {
  readonly #entries = new Map<string, Entry>();
  readonly #options: BackendsOptions;
  readonly #clock: Clock;
  readonly #backoff: Backoff;
  readonly #stop = new AbortController();

  constructor(config: HpeConfig, secrets: ReadonlyMap<string, RevealedSecrets>, options: BackendsOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#backoff = options.backoff ?? defaultBackoff;
    for (const backend of blockBackends(config)) {
      const [primary, target] = specsOf(backend, secrets.get(backend.name)).map(newSide);
      const ssh = options.ssh ?? {};
      const cli = new LazyArrayCli(backend.name, config.file, arrayCliOptionsOf(backend, secrets.get(backend.name), config.host, ssh), ssh.factory);
      this.#entries.set(backend.name, { config: backend, primary: primary!, ...(target === undefined ? {} : { target }), cli });
    }
  }

  /** Starts the initialisation of every backend's arrays in the background (in parallel). */
  start(): void {
    for (const entry of this.#entries.values()) {
      for (const side of sidesOf(entry)) {
        let markFirst!: () => void;
        side.firstAttempt = new Promise((resolve) => (markFirst = resolve));
        side.run = this.#initLoop(entry, side, markFirst);
      }
    }
  }

  /** Resolves when every array has finished its first attempt (OK or FAILED), or after `timeoutMs`. */
  async firstAttempts(timeoutMs?: number): Promise<void> {
    const all = Promise.all([...this.#entries.values()].flatMap(sidesOf).map((side) => side.firstAttempt)).then(() => undefined);
    if (timeoutMs === undefined) return all;
    const stop = new AbortController();
    await Promise.race([all, this.#clock.sleep(timeoutMs, stop.signal)]);
    stop.abort();
  }

  names(): string[] {
    return [...this.#entries.keys()];
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  states(): BackendStatus[] {
    return [...this.#entries.values()].map(statusOf);
  }

  /** What Create's option validation needs of each backend. */
  views(): BackendView[] {
    return [...this.#entries.values()].map((e) => ({
      ...statusOf(e),
      ...(e.config.replication === undefined ? {} : { replication: e.config.replication }),
    }));
  }

  /** The backend if its array is OK, with its replication target if that is OK too. */
  get(name: string): ReadyBackend | undefined {
    const entry = this.#entries.get(name);
    const primary = entry?.primary.handle;
    if (entry === undefined || primary === undefined) return undefined;
    const ready: ReadyBackend = { name, config: entry.config, primary, cli: entry.cli };
    const target = entry.target?.handle;
    if (target !== undefined && entry.config.replication !== undefined) ready.target = { ...target, device: entry.config.replication };
    return ready;
  }

  /** The OK backend, or the error Docker shows for it (upstream's text, plus why). */
  require(name: string): ReadyBackend {
    const entry = this.#entry(name);
    const ready = this.get(name);
    if (ready === undefined) throw backendNotReady(statusOf(entry));
    return ready;
  }

  /**
   * The backend's arrays for a Mount, which chooses among them (flows/replica-arrays.ts): the OK backend, or while
   * its own array is FAILED and it has a replication target that is OK, the target alone (a failed-over group is
   * served from there). Otherwise require()'s error.
   */
  mountArrays(name: string): MountArrays {
    const arrays = this.#arraysOf(this.#entry(name));
    if (arrays.primaryDown === undefined) return arrays;
    if (arrays.primaryDown.state !== 'FAILED' || arrays.target === undefined) throw backendNotReady(arrays.primaryDown);
    return arrays;
  }

  /**
   * The backend's arrays for a step that uses exactly `roles` (an Unmount's or a takeover's, as its Mount recorded
   * them): each must be OK, else the error of require() or replicationTarget(); an array it does not use may be down.
   */
  arraysFor(name: string, roles: readonly ArrayRole[]): MountArrays {
    if (roles.includes('primary') || roles.length === 0) {
      if (roles.includes('replication target')) this.replicationTarget(name);
      return this.require(name);
    }
    const entry = this.#entry(name);
    const arrays = this.#arraysOf(entry);
    const target = statusOf(entry).target;
    if (arrays.target === undefined && target !== undefined) throw targetNotReady(name, target);
    return arrays;
  }

  #arraysOf(entry: Entry): MountArrays {
    const name = entry.config.name;
    const ready = this.get(name);
    if (ready !== undefined) return ready;
    const target = entry.target?.handle;
    const replication = entry.config.replication;
    return { name, config: entry.config, ...(target === undefined || replication === undefined ? {} : { target: { ...target, device: replication } }), primaryDown: statusOf(entry) };
  }

  #entry(name: string): Entry {
    const entry = this.#entries.get(name);
    if (entry === undefined) {
      throw new VolumeRequestError(
        `Backend: ${name} not present in config.`,
        `add the [${name}] section back to hpe.conf, or use a configured backend (${this.names().join(', ')})`,
      );
    }
    return entry;
  }

  /**
   * The replication target of an OK backend, for an operation that needs it: undefined when the backend has
   * none; while it is not OK, the error naming the target and its reason.
   */
  replicationTarget(name: string): ReplicationTarget | undefined {
    const b = this.require(name);
    const target = statusOf(this.#entries.get(name)!).target;
    if (b.target === undefined && target !== undefined) throw targetNotReady(name, target);
    return b.target;
  }

  /** The named secrets that arrays' passwords are (`$secret{NAME}`), each once. */
  secretNames(): string[] {
    const names = new Set<string>();
    for (const e of this.#entries.values()) for (const side of sidesOf(e)) if (side.spec.secret !== undefined) names.add(side.spec.secret);
    for (const e of this.#entries.values()) for (const { secret } of sshSecretsOf(e.config)) names.add(secret);
    return [...names];
  }

  /**
   * `version` of the named secret `name` is its current value in etcd: every array session whose password is
   * `$secret{name}` logs in with it, on a login of its own, while calls keep the session they have. Accepted: calls
   * move to the new session (a FAILED array is initialised again at once). Refused: the old session is kept and
   * the status says so. An array that cannot be reached is tried again with backoff until a newer version comes.
   * Resolves once every session has logged in, been refused, or (unreachable) gone on trying in the background.
   */
  async rotateSecret(name: string, version: number, value: string): Promise<void> {
    const sides = [...this.#entries.values()].flatMap((e) => sidesOf(e).map((side) => ({ e, side })));
    const ssh = [...this.#entries.values()].flatMap((e) => sshSecretsOf(e.config).filter((s) => s.secret === name).map((s) => e.cli.rotate(s.option, value)));
    await Promise.all([...sides.filter(({ side }) => side.spec.secret === name).map(({ e, side }) => this.#rotate(e, side, name, version, value)), ...ssh]);
  }

  /**
   * The current version of the named secret `name` cannot be used (deleted from etcd, does not decrypt): the
   * sessions keep the value they have, and their status says why.
   */
  secretUnusable(name: string, version: number | undefined, reason: string): void {
    for (const e of this.#entries.values()) {
      for (const side of sidesOf(e)) {
        if (side.spec.secret !== name || side.credentials === undefined) continue;
        this.#supersede(side);
        side.credentials = { ...this.#kept(side), secret: name, ...(version === undefined ? {} : { version }), state: 'unreadable', reason };
        this.#options.logger.warn(
          { backend: e.config.name, role: side.spec.role, secretName: name, version, reason },
          `backend ${describeSide(e, side)}: $secret{${name}} cannot be used (${reason}); its session keeps the value it has`,
        );
      }
    }
  }

  /** The version the side's session uses, carried into a new status. */
  #kept(side: Side): { inUse?: number } {
    const inUse = side.credentials?.inUse;
    return inUse === undefined ? {} : { inUse };
  }

  /**
   * Claims the side's next rotation at once (an older one still logging in or waiting stops at its next step) and
   * runs it after the older one ends: one login at a time per session, so the value a session ends with is the
   * last one put.
   */
  #rotate(entry: Entry, side: Side, name: string, version: number, value: string): Promise<void> {
    const known = side.credentials;
    if (known?.version === version && known.state !== 'unreadable') return Promise.resolve(); // listed again after a broken watch
    const rotation = this.#supersede(side);
    const run = side.rotation.then(() => this.#rotateNow(entry, side, rotation, name, version, value));
    side.rotation = run.catch(() => undefined);
    return run;
  }

  /** Ends the side's current rotation (at its next step) and numbers the next one. */
  #supersede(side: Side): { id: number; signal: AbortSignal } {
    side.superseded?.abort();
    side.superseded = new AbortController();
    return { id: ++side.rotations, signal: side.superseded.signal };
  }

  async #rotateNow(entry: Entry, side: Side, rotation: { id: number; signal: AbortSignal }, name: string, version: number, value: string): Promise<void> {
    if (rotation.id !== side.rotations) return;
    if (value === side.spec.password) {
      // The value the session already uses: the first read of the record, or a rollback to it.
      side.credentials = { secret: name, version, state: 'current', inUse: version };
      return;
    }
    const which = describeSide(entry, side);
    const log = { backend: entry.config.name, role: side.spec.role, secretName: name, version };
    side.credentials = { ...this.#kept(side), secret: name, version, state: 'rotating' };
    this.#options.logger.info(log, `backend ${which}: logging in with $secret{${name}} version ${version}`);
    for (let attempt = 1; ; attempt++) {
      const client = side.client;
      if (client === undefined) {
        // No session yet (its client was never made): the next initialisation logs in with the new value.
        side.spec.password = value;
        side.credentials = { secret: name, version, state: 'current', inUse: version };
        side.wake?.abort();
        return;
      }
      try {
        await client.rotateCredentials(value);
        side.spec.password = value;
        if (rotation.id !== side.rotations) return;
        side.credentials = { secret: name, version, state: 'current', inUse: version };
        this.#options.logger.info(log, `backend ${which}: logged in with $secret{${name}} version ${version}; the previous session is logged out`);
        side.wake?.abort(); // a FAILED array is initialised again now, on the new session
        return;
      } catch (err) {
        if (rotation.id !== side.rotations || this.#stop.signal.aborted) return;
        if (!(err instanceof WsapiConnectionError)) {
          const reason = refusalOf(err, side.spec);
          side.credentials = { ...this.#kept(side), secret: name, version, state: 'refused', reason };
          this.#options.logger.warn(
            { ...log, reason },
            `backend ${which}: the array refused $secret{${name}} version ${version} (${reason}); its session keeps the previous value until a value the array accepts is put`,
          );
          return;
        }
        const delay = backoffDelay(this.#backoff, attempt);
        const reason = `${reasonOf(err, side.spec, client.array).message}; trying again in ${delay < 1000 ? `${delay} ms` : `${Math.round(delay / 1000)} s`}`;
        side.credentials = { ...this.#kept(side), secret: name, version, state: 'rotating', reason };
        if (attempt === 1) this.#options.logger.warn({ ...log, reason }, `backend ${which}: cannot log in with $secret{${name}} version ${version} yet: ${reason}`);
        await this.#clock.sleep(delay, AbortSignal.any([this.#stop.signal, rotation.signal]));
        if (rotation.id !== side.rotations || this.#stop.signal.aborted) return;
      }
    }
  }

  /**
   * Stops the retries, logs out of every array and ends the SSH connections. Closing a client also ends its connections, so an init
   * attempt waiting on a silent array fails at once instead of holding close() for the WSAPI timeout.
   */
  async close(): Promise<void> {
    this.#stop.abort();
    const sides = [...this.#entries.values()].flatMap(sidesOf);
    const closeClients = () => Promise.all(sides.map((side) => side.client?.close().catch(() => undefined)));
    await closeClients();
    await Promise.all(sides.map((side) => Promise.all([side.run?.catch(() => undefined), side.rotation])));
    // A client made while the first round closed (an attempt that was reading its CA file).
    await closeClients();
    await Promise.all([...this.#entries.values()].map((e) => e.cli.close()));
  }

  /**
   * A call of an OK array's session failed in transport or at the login: that array is FAILED with that
   * reason (requests get it from require() or replicationTarget()) and re-initialised in the background as at
   * start, whose success makes it OK again. A lost answer to a request the array received (`outcomeUnknown`)
   * is not an outage.
   */
  #lost(entry: Entry, side: Side, client: WsapiClient, outcome: WsapiOutcome): void {
    if (outcome.ok || side.state !== 'OK' || this.#stop.signal.aborted) return;
    if (outcome.error instanceof WsapiConnectionError && outcome.error.outcomeUnknown) return;
    const reason = reasonOf(outcome.error, side.spec, client.array).message;
    side.state = 'FAILED';
    side.reason = reason;
    delete side.handle;
    const full = prefixed(side.spec, reason);
    this.#options.logger.warn({ backend: entry.config.name, role: side.spec.role, reason: full }, `backend ${entry.config.name} FAILED Error: ${full}`);
    this.#options.onStateChange?.(entry.config.name, 'FAILED', side.spec.role);
    side.run = this.#initLoop(entry, side, () => undefined);
  }

  async #initLoop(entry: Entry, side: Side, markFirst: () => void): Promise<void> {
    const name = entry.config.name;
    const role = side.spec.role;
    const which = describeSide(entry, side);
    let attempt = 0;
    for (;;) {
      attempt++;
      let retry = true;
      const delay = backoffDelay(this.#backoff, attempt);
      try {
        side.handle = await this.#initOnce(entry, side);
        side.state = 'OK';
        delete side.reason;
        this.#options.logger.info({ backend: name, role, attempt }, `backend ${which} initialized: OK`);
        markFirst();
        this.#options.onStateChange?.(name, 'OK', role);
        return;
      } catch (err) {
        if (this.#stop.signal.aborted) return markFirst();
        const failure = err instanceof InitFailure ? err : new InitFailure(describeErr(err), true);
        retry = failure.retry;
        const changed = side.state !== 'FAILED' || side.reason !== failure.message;
        side.state = 'FAILED';
        side.reason = failure.message;
        if (changed || attempt === 1) {
          const full = prefixed(side.spec, failure.message);
          this.#options.logger.warn(
            { backend: name, role, attempt, reason: full, retryInMs: retry ? delay : undefined },
            `INITIALIZING backend: ${name} FAILED Error: ${full}`,
          );
        }
        markFirst();
        if (changed) this.#options.onStateChange?.(name, 'FAILED', role);
      }
      if (!retry) return;
      const wake = new AbortController();
      side.wake = wake;
      await this.#clock.sleep(delay, AbortSignal.any([this.#stop.signal, wake.signal]));
      if (this.#stop.signal.aborted) return;
    }
  }

  async #initOnce(entry: Entry, side: Side): Promise<ArrayHandle> {
    if (side.client === undefined) {
      const client = await clientFor(side.spec, this.#options.wsapi ?? {});
      client.onOutcome((outcome) => this.#lost(entry, side, client, outcome));
      side.client = client;
    }
    return initArray(side.client, side.spec);
  }
}

// ---------------------------------------------------------------------------------------------------------
// One-shot probe for `hpedockerplugin check`

interface BackendProbe {
  backend: string;
  role: ArrayRole;
  /** The target's backend_id for a replication target. */
  target?: string;
  apiUrl: string;
  /** The named secret the password is (`$secret{NAME}`). */
  secret?: string;
  ok: boolean;
  /** Why it failed (same texts as a FAILED backend). */
  reason?: string;
  /** The array refused the user and password. */
  loginRefused?: boolean;
  /** From `GET /api` and `GET /system` when reached. */
  build?: number;
  systemName?: string;
  model?: string;
  /** False when the array's certificate is not verified (no hpe3par_ca_cert, or plain http). */
  verifiesTls?: boolean;
}

/**
 * Checks every block backend once — array reachable, login accepted, CPGs present — and its replication
 * target. One result per backend and per replication target; logs out of every array before returning.
 */
export async function probeBackends(
  config: HpeConfig,
  secrets: ReadonlyMap<string, RevealedSecrets>,
  options: { wsapi?: WsapiSettings } = {},
): Promise<BackendProbe[]> {
  const wsapi = options.wsapi ?? {};
  const jobs = blockBackends(config).flatMap((backend) =>
    specsOf(backend, secrets.get(backend.name)).map(async (spec): Promise<BackendProbe> => {
      const base: BackendProbe = {
        backend: backend.name,
        role: spec.role,
        ...(spec.targetId === undefined ? {} : { target: spec.targetId }),
        apiUrl: spec.apiUrl,
        ...(spec.secret === undefined ? {} : { secret: spec.secret }),
        ok: false,
      };
      let client: WsapiClient | undefined;
      try {
        client = await clientFor(spec, wsapi);
        const handle = await initArray(client, spec);
        return { ...base, ok: true, build: handle.build, systemName: handle.system.name, model: handle.system.model, verifiesTls: client.verifiesTls };
      } catch (err) {
        const failure = err instanceof InitFailure ? err : new InitFailure(describeErr(err), true);
        return {
          ...base,
          reason: failure.message,
          ...(failure.loginRefused ? { loginRefused: true } : {}),
          ...(client ? { verifiesTls: client.verifiesTls } : {}),
        };
      } finally {
        await client?.close();
      }
    }),
  );
  return Promise.all(jobs);
}
