import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { simulatorDefaults, startSimulator, type RemoteTarget } from '../simulator/index.js';
import { ExitCodes, type Io } from './output.js';

const simulatorUsage = `Usage: hpedockerplugin simulator [--listen HOST:PORT] [--state DIR] [options]

A 3PAR WSAPI SIMULATOR — not an array. It speaks the array's REST protocol (sessions, volumes, snapshots,
copies, hosts, VLUNs, ports, volume sets, QoS, remote copy groups, WSAPI error codes) so the plugin can be
tried and tested where no array is reachable. GET /system says its model is a Simulator. Volumes are sparse
files in the state folder, and the state survives restarts.

Options:
  --listen HOST:PORT       where to listen (default ${simulatorDefaults.listen.host}:${simulatorDefaults.listen.port})
  --state DIR              state folder (default ./simulator-state)
  --tls                    serve HTTPS with a self-signed certificate kept in DIR/tls (its PEM: DIR/tls/cert.pem)
  --user NAME              a WSAPI user (default ${Object.keys(simulatorDefaults.users)[0]}); its password comes from
  --password-file F        (default: the demo password ${Object.values(simulatorDefaults.users)[0]}, fine for a simulator only)
  --cpg NAME               a CPG that exists; repeat for more (default ${simulatorDefaults.cpgs.join(', ')})
  --system-name NAME       the system name (default ${simulatorDefaults.systemName}); peers know it as a remote copy target by it
  --session-ttl SECONDS    idle session keys expire after this (default ${simulatorDefaults.sessionTtlMs / 1000})
  --target NAME=URL        a remote copy target (another simulator's WSAPI URL); repeat for more. It is reached with
                           the same user and password as this one unless --target-user / --target-password-file say
  --target-user NAME
  --target-password-file F
  --ssh-port PORT          also serve the array's SSH CLI subset (setclienv, createsched, removesched, showsched) on
                           this port of the --listen host (0: a free one); the user logs in with its password or a key
                           from --ssh-authorized-keys. Scheduled snapshots are made at their minutes (UTC) and removed
                           when they expire. The host key is made on first start in DIR/ssh.
  --ssh-authorized-keys F  OpenSSH public keys (one per line, as in authorized_keys) that may log in as the user
  -h, --help               this text
Stop it with Ctrl-C or SIGTERM.`;

const options = {
  listen: { type: 'string' },
  state: { type: 'string' },
  tls: { type: 'boolean' },
  user: { type: 'string' },
  'password-file': { type: 'string' },
  cpg: { type: 'string', multiple: true },
  'system-name': { type: 'string' },
  'session-ttl': { type: 'string' },
  target: { type: 'string', multiple: true },
  'target-user': { type: 'string' },
  'target-password-file': { type: 'string' },
  'ssh-port': { type: 'string' },
  'ssh-authorized-keys': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parseListen(text: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(text);
  const port = Number(m?.[2]);
  if (m === null || !(port >= 0 && port <= 65535)) throw new UsageError(`--listen ${text} is not HOST:PORT`, 'e.g. --listen 127.0.0.1:8080');
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

async function secretFrom(file: string | undefined, fallback: string): Promise<string> {
  if (file === undefined) return fallback;
  return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
}

export async function runSimulator(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args: argv, options, allowPositionals: false });
  if (values.help) {
    io.out(simulatorUsage);
    return ExitCodes.ok;
  }
  const user = values.user ?? Object.keys(simulatorDefaults.users)[0]!;
  const password = await secretFrom(values['password-file'], Object.values(simulatorDefaults.users)[0]!);
  const remoteTargets: Record<string, RemoteTarget> = {};
  for (const t of values.target ?? []) {
    const eq = t.indexOf('=');
    if (eq < 1) throw new UsageError(`--target ${t} is not NAME=URL`, 'e.g. --target remote3par=http://127.0.0.1:8081/api/v1');
    remoteTargets[t.slice(0, eq)] = {
      apiUrl: t.slice(eq + 1),
      username: values['target-user'] ?? user,
      password: await secretFrom(values['target-password-file'], password),
    };
  }
  const ttl = values['session-ttl'] === undefined ? undefined : Number(values['session-ttl']) * 1000;
  const sshPort = values['ssh-port'] === undefined ? undefined : Number(values['ssh-port']);
  if (sshPort !== undefined && !(Number.isInteger(sshPort) && sshPort >= 0 && sshPort <= 65535)) {
    throw new UsageError(`--ssh-port ${values['ssh-port']} is not a port number`, 'e.g. --ssh-port 2222, or 0 for a free port');
  }
  const authorizedKeys = values['ssh-authorized-keys'] === undefined ? [] : (await readFile(values['ssh-authorized-keys'], 'utf8')).split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  const sim = await startSimulator({
    listen: values.listen === undefined ? undefined : parseListen(values.listen),
    stateDir: values.state ?? 'simulator-state',
    tls: values.tls ?? false,
    users: { [user]: password },
    ...(values.cpg ? { cpgs: values.cpg } : {}),
    ...(values['system-name'] ? { systemName: values['system-name'] } : {}),
    ...(ttl !== undefined && ttl > 0 ? { sessionTtlMs: ttl } : {}),
    remoteTargets,
    ...(sshPort === undefined ? {} : { sshPort, sshAuthorizedKeys: authorizedKeys }),
  });
  io.out(`3PAR WSAPI simulator "${sim.systemName}" (id ${sim.systemId}) listening at ${sim.apiUrl} — a simulator, not an array`);
  if (sim.sshPort !== undefined) io.out(`the simulator's SSH CLI listens on port ${sim.sshPort}; its host key: ${sim.sshHostKey}`);
  const stop = () => {
    sim.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  await new Promise(() => {});
  return ExitCodes.ok;
}
