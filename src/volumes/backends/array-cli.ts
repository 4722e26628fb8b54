/**
 * A backend's SSH CLI (snapshot schedules): its settings from hpe.conf, made on first need and kept for the
 * backend's life, closed at shutdown. It is apart from the backend's state: an SSH outage fails the schedule
 * operations of that backend only, never its WSAPI requests.
 */
import { createArrayCli, type ArrayCli, type ArrayCliOptions, type SshAuth, type SshTimeouts } from '../../array/index.js';
import { DefaultSanSshPort, DefaultStateDir, knownHostsFilePath, type BackendConfig, type HostConfig } from '../../config/index.js';
import type { Logger } from '../../log.js';
import type { RevealedSecrets } from '../../secrets/index.js';
import { VolumeRequestError } from '../errors.js';

export type ArrayCliFactory = (options: ArrayCliOptions) => ArrayCli;

/** What the plugin as a whole sets for every array's SSH connection; each unset one comes from hpe.conf's [DEFAULT]. */
export interface SshSettings {
  /**
   * Where the arrays' host keys are remembered; `serve` passes the file of its state folder. Unset: hpe.conf's
   * `ssh_hosts_key_file`, else the file in the default state folder.
   */
  knownHostsFile?: string;
  timeouts?: Partial<SshTimeouts>;
  /** Makes the client (tests pass a fake); default createArrayCli. */
  factory?: ArrayCliFactory;
}

/**
 * The backend's createArrayCli options, or the hpe.conf options it lacks (the only check of the SSH credentials: the
 * error names them as `[backend].option`). A private key, when set, is used instead of the password.
 */
export function arrayCliOptionsOf(
  backend: BackendConfig,
  secrets: RevealedSecrets | undefined,
  host: Pick<HostConfig, 'ssh'>,
  settings: SshSettings,
  log?: Logger,
): ArrayCliOptions | { missing: string[] } {
  const auth = sshAuthOf(backend, secrets);
  const missing: string[] = [];
  if (backend.sanIp === '') missing.push('san_ip');
  if (backend.sanLogin === '') missing.push('san_login');
  if (auth === undefined) missing.push('san_password (or san_private_key)');
  if (auth === undefined || missing.length > 0) return { missing };
  const port = backend.sanSshPort;
  return {
    arrayLabel: `${backend.sanIp}${port === DefaultSanSshPort ? '' : `:${port}`}`,
    host: backend.sanIp,
    port,
    user: backend.sanLogin,
    auth,
    knownHostsFile: settings.knownHostsFile ?? knownHostsFilePath(DefaultStateDir, host.ssh.knownHostsFile),
    strictHostKeyPolicy: host.ssh.strictHostKeyPolicy,
    timeouts: { connectMs: backend.sshConnTimeoutSec * 1000, ...settings.timeouts },
    ...(log === undefined ? {} : { log }),
  };
}

function sshAuthOf(backend: BackendConfig, secrets: RevealedSecrets | undefined): SshAuth | undefined {
  const privateKeyPath = backend.sanPrivateKey || undefined;
  const password = secrets?.san_password || undefined;
  const passphrase = secrets?.san_private_key_passphrase || undefined;
  if (privateKeyPath !== undefined) return passphrase === undefined ? { privateKeyPath } : { privateKeyPath, passphrase };
  return password === undefined ? undefined : { password };
}

/** The error of a schedule operation on a backend whose SSH is not configured; `configFile` is the hpe.conf loaded. */
export function noSshError(backend: string, missing: readonly string[], configFile: string): VolumeRequestError {
  const options = missing.map((m) => `[${backend}].${m}`).join(', ');
  return new VolumeRequestError(
    `snapshot schedules need the array's SSH CLI, and backend '${backend}' has no SSH settings: set ${options} in hpe.conf`,
    `set ${options} in ${configFile} (the array's SSH address, user and password or private key), run \`hpedockerplugin check\` and restart the plugin`,
  );
}

/** One backend's ArrayCli, made on first use. */
export class LazyArrayCli {
  #cli: ArrayCli | undefined;

  /** `configFile`: the hpe.conf the backend was read from, which the no-SSH error names. */
  constructor(
    private readonly backend: string,
    private readonly configFile: string,
    private options: ArrayCliOptions | { missing: string[] },
    private readonly factory: ArrayCliFactory = createArrayCli,
  ) {}

  /**
   * A new value of the SSH password or key passphrase (a rotated `$secret{}`): the open connection is closed, and the
   * next schedule operation connects with the new value. SSH has no session to keep, so a value the array refuses
   * fails that operation with the array's answer (the WSAPI sessions, which can be kept, are rotated apart).
   */
  async rotate(option: 'san_password' | 'san_private_key_passphrase', value: string): Promise<void> {
    if ('missing' in this.options) return;
    const { auth } = this.options;
    if (option === 'san_password' && 'password' in auth) this.options = { ...this.options, auth: { password: value } };
    if (option === 'san_private_key_passphrase' && 'privateKeyPath' in auth) this.options = { ...this.options, auth: { ...auth, passphrase: value } };
    await this.close();
  }

  /** The client; throws the no-SSH error when hpe.conf lacks the settings. */
  get(): ArrayCli {
    if ('missing' in this.options) throw noSshError(this.backend, this.options.missing, this.configFile);
    this.#cli ??= this.factory(this.options);
    return this.#cli;
  }

  /** How errors name the array: `san_ip[:port]`. */
  get array(): string {
    return 'missing' in this.options ? this.backend : this.options.arrayLabel;
  }

  async close(): Promise<void> {
    const cli = this.#cli;
    this.#cli = undefined;
    await cli?.close().catch(() => undefined);
  }
}
