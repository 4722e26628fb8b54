/**
 * One SSH connection to one array, opened on first need and reused for every command (like the WSAPI session);
 * opened again after it drops. Commands run one at a time, each on its own exec channel, each bounded in time.
 * The array's host key is checked against a known-hosts file (see ssh-known-hosts.ts) before any credential is sent.
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import ssh2 from 'ssh2';
import type { Logger } from '../log.js';
import { ArrayCliError, ArrayCliFailures, type ArrayCliFailure } from './array-cli-errors.js';
import { decideHostKey, hostKeyAlgorithmsFor, hostKeyFingerprint, hostKeyOf, knownHostName, knownHostsLine, parseKnownHosts, type HostKeyDecision } from './ssh-known-hosts.js';
import { maskSecrets } from '../mask.js';

export type SshAuth = { password: string } | { privateKeyPath: string; passphrase?: string };

export interface SshTimeouts {
  /** TCP connect, key exchange and authentication together. Default 30 s (upstream's `ssh_conn_timeout`). */
  connectMs: number;
  /** One command, from opening its channel to its exit. Default 60 s. */
  commandMs: number;
}

export const defaultSshTimeouts: SshTimeouts = { connectMs: 30_000, commandMs: 60_000 };

export interface SshSessionOptions {
  /** How errors and logs name the array (the backend name, or `host:port`). */
  arrayLabel: string;
  host: string;
  port: number;
  user: string;
  auth: SshAuth;
  /** OpenSSH known-hosts file; created (mode 600) when missing. */
  knownHostsFile: string;
  /** True: refuse a host the file does not know. False (upstream's default): remember it on first connect. */
  strictHostKeyPolicy: boolean;
  timeouts?: Partial<SshTimeouts>;
  log?: Logger;
}

export interface CommandOutput {
  stdout: string;
  stderr: string;
  /** Exit status; undefined when the server sent none. */
  code: number | undefined;
}

interface Connection {
  client: ssh2.Client;
  closed: boolean;
}

export class SshSession {
  readonly #o: SshSessionOptions;
  readonly #timeouts: SshTimeouts;
  #connection: Promise<Connection> | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: SshSessionOptions) {
    this.#o = options;
    this.#timeouts = { ...defaultSshTimeouts, ...options.timeouts };
  }

  /** Runs `line` on the array; `command` names it in errors (`createsched`). */
  run(line: string, command: string): Promise<CommandOutput> {
    const next = this.#queue.then(() => this.#runNow(line, command));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    const pending = this.#connection;
    this.#connection = undefined;
    const connection = await pending?.catch(() => undefined);
    if (connection !== undefined && !connection.closed) {
      await new Promise<void>((resolve) => {
        connection.client.once('close', () => resolve());
        connection.client.end();
      });
    }
  }

  #error(command: string, failure: ArrayCliFailure, message: string, fix: string, cause?: unknown): ArrayCliError {
    // ssh2's and the array's texts are quoted here: scrubbed of the password and passphrase, as the WSAPI's are.
    const auth = this.#o.auth;
    const secrets = 'password' in auth ? [auth.password] : [auth.passphrase];
    return new ArrayCliError({ array: this.#o.arrayLabel, command, failure, message: maskSecrets(message, secrets), fix, cause });
  }

  async #runNow(line: string, command: string): Promise<CommandOutput> {
    const connection = await this.#connect();
    this.#o.log?.debug({ array: this.#o.arrayLabel, command }, 'array CLI command');
    return new Promise<CommandOutput>((resolve, reject) => {
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(() => {
        // A command that hangs leaves the connection in doubt: drop it, the next command opens a new one.
        this.#drop(connection);
        reject(this.#error(command, ArrayCliFailures.timeout, `no answer within ${this.#timeouts.commandMs} ms; the array may or may not have run it`, 'check that the array is responsive (`showsys` over SSH), then retry'));
      }, this.#timeouts.commandMs);
      connection.client.exec(line, (err, channel) => {
        if (err !== undefined && err !== null) {
          clearTimeout(timer);
          this.#drop(connection);
          reject(this.#error(command, ArrayCliFailures.unreachable, `cannot open a channel: ${err.message}`, 'retry; if it persists, check the array\'s SSH session limit (`showuser -l`)', err));
          return;
        }
        channel.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
        channel.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
        channel.on('close', (code: number | undefined) => {
          clearTimeout(timer);
          resolve({ stdout, stderr, code: typeof code === 'number' ? code : undefined });
        });
      });
    });
  }

  /** The next command opens a new connection if `connection` is still the current one. */
  #forget(connection: Connection): void {
    if (this.#connection === undefined) return;
    void this.#connection.then((c) => {
      if (c === connection) this.#connection = undefined;
    }, () => undefined);
  }

  #drop(connection: Connection): void {
    this.#forget(connection);
    connection.client.end();
  }

  #connect(): Promise<Connection> {
    this.#connection ??= this.#open().catch((err: unknown) => {
      this.#connection = undefined;
      throw err;
    });
    return this.#connection;
  }

  async #credentials(): Promise<{ password: string } | { privateKey: Buffer; passphrase?: string }> {
    const auth = this.#o.auth;
    if ('password' in auth) return { password: auth.password };
    let privateKey: Buffer;
    try {
      privateKey = await readFile(auth.privateKeyPath);
    } catch (err) {
      throw this.#error('connect', ArrayCliFailures.privateKey, `cannot read the private key ${auth.privateKeyPath} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, 'check san_private_key: the file must exist and be readable by the plugin', err);
    }
    const parsed = ssh2.utils.parseKey(privateKey, auth.passphrase);
    if (parsed instanceof Error) {
      const encrypted = /encrypted|passphrase|bad decrypt/i.test(parsed.message);
      throw this.#error(
        'connect',
        ArrayCliFailures.privateKey,
        encrypted ? `the private key ${auth.privateKeyPath} is encrypted and its passphrase is missing or wrong` : `${auth.privateKeyPath} is not a private key ssh2 can read`,
        encrypted ? 'set san_private_key_passphrase to the key\'s passphrase (encrypt it with `hpe3parencryptor encrypt-config`)' : 'use an OpenSSH or PEM private key (RSA, ECDSA or Ed25519), e.g. made by `ssh-keygen -t ed25519`',
      );
    }
    return auth.passphrase === undefined ? { privateKey } : { privateKey, passphrase: auth.passphrase };
  }

  /** The known-hosts file's text; an absent file is made (empty), so the first key can be remembered. */
  async #knownHostsText(): Promise<string> {
    const o = this.#o;
    try {
      return await readFile(o.knownHostsFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(dirname(o.knownHostsFile), { recursive: true, mode: 0o700 });
      await appendFile(o.knownHostsFile, '', { mode: 0o600 });
      return '';
    }
  }

  async #checkHostKey(blob: Buffer): Promise<HostKeyDecision> {
    const o = this.#o;
    const name = knownHostName(o.host, o.port);
    const key = hostKeyOf(blob);
    const text = await this.#knownHostsText();
    const decision = decideHostKey(parseKnownHosts(text), name, key, o.strictHostKeyPolicy);
    if (decision.action === 'remember') {
      await appendFile(o.knownHostsFile, `${text === '' || text.endsWith('\n') ? '' : '\n'}${knownHostsLine(name, key)}`, { mode: 0o600 });
      o.log?.warn({ array: o.arrayLabel, host: name, fingerprint: hostKeyFingerprint(key) }, `first SSH connection to the array: its ${key.type} host key is now remembered in ${o.knownHostsFile}`);
    }
    return decision;
  }

  #hostKeyError(decision: HostKeyDecision, blob: Buffer): ArrayCliError {
    const o = this.#o;
    const name = knownHostName(o.host, o.port);
    const key = hostKeyOf(blob);
    if (decision.action === 'refuse-changed') {
      return this.#error(
        'connect',
        ArrayCliFailures.hostKeyChanged,
        `the array's SSH host key has changed: ${o.knownHostsFile} line ${decision.line} holds another ${decision.knownType} key for ${name}, the array now offers ${key.type} ${hostKeyFingerprint(key)}; this may be someone intercepting the connection, or the array's key was regenerated`,
        `confirm the new fingerprint on the array's console (\`showsshkey\` or the controller's host key), then delete line ${decision.line} of ${o.knownHostsFile} (\`ssh-keygen -R '${name}' -f ${o.knownHostsFile}\`) so the next connection remembers the new key`,
      );
    }
    return this.#error(
      'connect',
      ArrayCliFailures.hostKeyUnknown,
      `the array ${name} is not in ${o.knownHostsFile} and strict_ssh_host_key_policy is True (its ${key.type} key is ${hostKeyFingerprint(key)})`,
      `add the array's key after checking its fingerprint: \`ssh-keyscan ${o.port === 22 ? '' : `-p ${o.port} `}${o.host} >> ${o.knownHostsFile}\`, or set strict_ssh_host_key_policy = False to remember it on first connect`,
    );
  }

  async #open(): Promise<Connection> {
    const o = this.#o;
    const credentials = await this.#credentials();
    const serverHostKey = hostKeyAlgorithmsFor(parseKnownHosts(await this.#knownHostsText()), knownHostName(o.host, o.port));
    const client = new ssh2.Client();
    const connection: Connection = { client, closed: false };
    let refusal: ArrayCliError | undefined;
    let hostKeyProblem: unknown;
    await new Promise<void>((resolve, reject) => {
      let ready = false;
      client.on('ready', () => {
        ready = true;
        o.log?.debug({ array: o.arrayLabel, host: o.host, port: o.port }, 'SSH connection to the array opened');
        resolve();
      });
      client.on('error', (err: Error & { level?: string; code?: string }) => {
        if (ready) {
          o.log?.warn({ array: o.arrayLabel, err: err.message }, 'SSH connection to the array failed; the next command opens a new one');
          return;
        }
        reject(refusal ?? this.#connectError(err, hostKeyProblem));
      });
      client.on('close', () => {
        connection.closed = true;
        this.#forget(connection);
        if (!ready) reject(refusal ?? this.#error('connect', ArrayCliFailures.unreachable, `the connection to ${o.host}:${o.port} closed during the handshake`, 'check san_ip and san_ssh_port point at the array\'s SSH service'));
      });
      client.connect({
        host: o.host,
        port: o.port,
        username: o.user,
        ...credentials,
        ...(serverHostKey === undefined ? {} : { algorithms: { serverHostKey: serverHostKey as ssh2.ServerHostKeyAlgorithm[] } }),
        readyTimeout: this.#timeouts.connectMs,
        tryKeyboard: false,
        hostVerifier: (blob: Buffer, verify: (valid: boolean) => void) => {
          this.#checkHostKey(blob).then(
            (decision) => {
              if (decision.action === 'refuse-changed' || decision.action === 'refuse-unknown') refusal = this.#hostKeyError(decision, blob);
              verify(refusal === undefined);
            },
            (err: unknown) => {
              hostKeyProblem = err;
              verify(false);
            },
          );
        },
      });
    });
    return connection;
  }

  #connectError(err: Error & { level?: string; code?: string }, hostKeyProblem: unknown): ArrayCliError {
    const o = this.#o;
    const where = `${o.host}:${o.port}`;
    if (hostKeyProblem !== undefined) {
      const code = (hostKeyProblem as NodeJS.ErrnoException).code ?? 'error';
      return this.#error('connect', ArrayCliFailures.knownHostsFile, `cannot use the known-hosts file ${o.knownHostsFile} (${code})`, 'make ssh_hosts_key_file\'s folder writable by the plugin, or point ssh_hosts_key_file at a file it can read and write', hostKeyProblem);
    }
    switch (err.level) {
      case 'client-timeout':
        return this.#error('connect', ArrayCliFailures.timeout, `no SSH handshake with ${where} within ${this.#timeouts.connectMs} ms`, 'check that san_ip is the array and that a firewall lets this host reach its SSH port (san_ssh_port)', err);
      case 'client-authentication': {
        const how = 'password' in o.auth ? 'san_password' : 'san_private_key';
        return this.#error('connect', ArrayCliFailures.auth, `the array refused user ${o.user} (${how})`, `check san_login and ${how}; the user needs a role that may run createsched (edit or higher)${'password' in o.auth ? '' : ', and its public key must be set on the array (`setsshkey`)'}`, err);
      }
      default:
        return this.#error('connect', ArrayCliFailures.unreachable, `cannot reach ${where}: ${err.code ?? err.message}`, 'check san_ip and san_ssh_port, and that the array\'s SSH service is reachable from this host', err);
    }
  }
}
