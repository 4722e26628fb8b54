/**
 * The simulator's SSH server (ssh2's server side), standing in for the array's CLI over SSH. It accepts the
 * simulator's users by their password, or by a public key from `sshAuthorizedKeys`; each exec runs cli-commands.ts.
 * Its ed25519 host key is generated on first start into `<stateDir>/ssh/ssh_host_ed25519_key` and kept, so clients
 * that remembered it keep trusting it across restarts.
 */
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { HpeError } from '../errors.js';
import { writeFileAtomicSync } from '../files.js';
import { runCli } from './cli-commands.js';
import type { Schedules } from './schedules.js';

export interface SshServerOptions {
  host: string;
  port: number;
  stateDir: string;
  users: Record<string, string>;
  /** OpenSSH public key lines (`ssh-ed25519 AAAA… comment`); each logs in as any of the users. */
  authorizedKeys: string[];
  schedules: Schedules;
}

export interface RunningSshServer {
  port: number;
  /** The host key's public line, `ssh-ed25519 AAAA…`, as a known-hosts file holds it after the host name. */
  hostKey: string;
  /** Connections accepted since start (a client that reuses its connection adds one). */
  readonly connections: number;
  /** Every exec's text, in order. */
  commandLog: string[];
  close(): Promise<void>;
}

/** The host key pair, made on first start. */
function ensureHostKey(stateDir: string): { privateKey: string; publicLine: string } {
  const dir = join(stateDir, 'ssh');
  const file = join(dir, 'ssh_host_ed25519_key');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'simulator host key' });
    writeFileAtomicSync(file, pair.private, { mode: 0o600 });
  }
  const privateKey = readFileSync(file, 'utf8');
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error) throw new HpeError(`the simulator's SSH host key ${file} cannot be read: ${parsed.message}`, `delete ${file}; the simulator makes a new one at its next start`);
  return { privateKey, publicLine: `${parsed.type} ${parsed.getPublicSSH().toString('base64')}` };
}

function parseAuthorizedKeys(lines: string[]): ssh2.ParsedKey[] {
  return lines.map((line) => {
    const parsed = ssh2.utils.parseKey(line.trim());
    if (parsed instanceof Error) throw new HpeError(`the simulator cannot use the authorized SSH key '${line.slice(0, 30)}…': ${parsed.message}`, 'pass OpenSSH public key lines (the content of a .pub file)');
    return parsed;
  });
}

export async function startSshServer(o: SshServerOptions): Promise<RunningSshServer> {
  const { privateKey, publicLine } = ensureHostKey(o.stateDir);
  const allowed = parseAuthorizedKeys(o.authorizedKeys);
  const commandLog: string[] = [];
  let connections = 0;
  const clients = new Set<ssh2.Connection>();

  const server = new ssh2.Server({ hostKeys: [privateKey] }, (client) => {
    connections++;
    clients.add(client);
    let user = '';
    client.on('authentication', (ctx) => {
      const known = Object.hasOwn(o.users, ctx.username);
      if (known && ctx.method === 'password' && ctx.password === o.users[ctx.username]) {
        user = ctx.username;
        return ctx.accept();
      }
      if (known && ctx.method === 'publickey') {
        const key = allowed.find((k) => k.type === ctx.key.algo && k.getPublicSSH().equals(ctx.key.data));
        if (key !== undefined && (ctx.signature === undefined || (ctx.blob !== undefined && key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true))) {
          user = ctx.username;
          return ctx.accept();
        }
      }
      ctx.reject(['password', 'publickey']);
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('exec', (accept, _reject, info) => {
          const channel = accept();
          commandLog.push(info.command);
          const result = runCli(info.command, { user, csv: false }, o.schedules);
          channel.write(result.output);
          channel.exit(result.code);
          channel.end();
        });
      });
    });
    client.on('error', () => undefined);
    client.on('close', () => clients.delete(client));
  });

  server.listen(o.port, o.host);
  try {
    await once(server, 'listening');
  } catch (err) {
    throw new HpeError(`the simulator cannot listen for SSH on ${o.host}:${o.port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'choose another SSH port (--ssh-port), or 0 for a free one');
  }
  return {
    port: (server.address() as AddressInfo).port,
    hostKey: publicLine,
    get connections() {
      return connections;
    },
    commandLog,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of clients) c.end();
      await closed;
    },
  };
}
