import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { DefaultStateDir, knownHostsFilePath, resolveConfigPath } from '../config/index.js';
import { createEtcdClient } from '../etcd/index.js';
import { HpeError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import { createLogger, type Logger } from '../log.js';
import { passGate, type PrerequisiteReport } from '../preflight/index.js';
import { createVolumeDriverApp, DeferredDriver, defaultSocketPath, listenOnSocket } from '../server/index.js';
import { describeNodeId, ensureNodeId, NodeIdEnv, systemHostEnv, type NodeId } from '../host/index.js';
import { resolveEtcdPassword } from '../secrets/index.js';
import { createVolumeManager } from '../volumes/index.js';
import { ExitCodes, type Io } from './output.js';

const serveUsage = `Usage: hpedockerplugin serve [--config PATH] [--socket PATH] [--state DIR]

Serves Docker's VolumeDriver protocol on a unix socket once every prerequisite passes (the start-up gate):
hpe.conf is read and validated, etcd answers, and every password of every backend decrypts. While the only
failures are ones that may clear by themselves (etcd still starting), the checks are retried for
HPE_GATE_WAIT_SECONDS (default 8, under dockerd's ~9.5 s window); any other failure stops at once. Either
way the report is saved in the state folder, and \`hpedockerplugin check\` shows it; each failed check is
also printed as one line (dockerd's log), and the process exits 1, so \`docker plugin enable\` fails.
Exception, for reboots: the first start after a reboot of a host where the plugin served before, when
only etcd is still missing after the window, opens the socket anyway, answers every request with the
reason, and serves as soon as the checks pass — so dockerd does not leave the plugin disabled after a
reboot in which etcd comes up late. (Within one boot, e.g. a dockerd restart, it refuses as above.)

Options:
  --config PATH   hpe.conf (default: $HPEDOCKERPLUGIN_CONFIG, else /etc/hpedockerplugin/hpe.conf)
  --socket PATH   the unix socket (default ${defaultSocketPath})
  --state DIR     the state folder (default ${DefaultStateDir})
This host's node id (the key of its entries in volume records) is, first found: ${NodeIdEnv}, [DEFAULT].node_id
of hpe.conf, .node_id next to hpe.conf (HPE's plugin kept it there), .node_id in the state folder, which is
created with a new uuid when none of these exists.
Environment: DEBUG=true logs at DEBUG level whatever hpe.conf says; HPE_GATE_WAIT_SECONDS (see above); ${NodeIdEnv}.
Testing aids, to run a second plugin on one machine as another host (real hosts need neither): HPE_HOST_NAME,
this host's name on the arrays (default: the host name); HPE_HOST_ETC, the folder read as this host's /etc for
its iSCSI initiator name and node database (default /etc).`;

const options = {
  config: { type: 'string' },
  socket: { type: 'string' },
  state: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** SIGTERM must be handled: as PID 1 of a managed plugin, an unhandled SIGTERM is dropped and disable takes 10 s. */
function onTermination(stop: () => Promise<void>, logger: Logger): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    // Whatever hangs (an array that does not answer its logout), the process is gone within a second.
    setTimeout(() => process.exit(0), 900).unref();
    stop().then(
      () => process.exit(0),
      () => process.exit(0),
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

function failedSubjects(report: PrerequisiteReport): string[] {
  return report.results.filter((r) => r.status === 'FAIL').map((r) => r.subject);
}

/**
 * Marks that the plugin served during this boot of the host. After a reboot (another boot id), a start where
 * only etcd is missing waits for it instead of refusing: dockerd restores the plugin at boot and would
 * otherwise leave it disabled. An explicit `docker plugin enable` in the same boot still refuses, so the
 * admin sees the reason at once.
 */
const servedMarker = 'served';
const bootIdFile = '/proc/sys/kernel/random/boot_id';

async function currentBootId(): Promise<string> {
  return (await readFile(bootIdFile, 'utf8').catch(() => 'unknown')).trim();
}

/** True when the plugin served on this host before, and the host has rebooted since. */
export function isFirstStartAfterReboot(marker: string | undefined, bootId: string): boolean {
  if (marker === undefined) return false;
  try {
    const served = JSON.parse(marker) as { bootId?: string };
    return typeof served.bootId === 'string' && served.bootId !== bootId;
  } catch {
    return false;
  }
}

async function markServed(stateDir: string, bootId: string): Promise<void> {
  const body = JSON.stringify({ bootId, at: new Date().toISOString() });
  await writeFileAtomic(join(stateDir, servedMarker), `${body}\n`, { mode: 0o600 }).catch(() => undefined);
}

/** The gate has read it already (a damaged file fails there); what is left to fail is creating it. */
async function thisNodeId(configFile: string, configured: string | undefined, stateDir: string, env: NodeJS.ProcessEnv, io: Io): Promise<NodeId> {
  try {
    return await ensureNodeId({ configFile, ...(configured === undefined ? {} : { configured }), stateDir, env });
  } catch (err) {
    const fix = err instanceof HpeError ? err.fix : 'see hpedockerplugin check';
    io.err(`hpedockerplugin refuses to start: node id: ${(err as Error).message} — fix: ${fix}`);
    process.exit(ExitCodes.failed);
  }
}

export async function runServe(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values } = parseArgs({ args: argv, options, allowPositionals: false });
  if (values.help) {
    io.out(serveUsage);
    return ExitCodes.ok;
  }
  const debug = env.DEBUG === 'true' || env.DEBUG === '1';
  let logger = createLogger(debug ? 'DEBUG' : 'INFO');
  const closers: (() => Promise<void>)[] = [];
  onTermination(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }, logger);

  const configFile = resolveConfigPath(values.config, env);
  const stateDir = values.state ?? DefaultStateDir;
  const socketPath = values.socket ?? defaultSocketPath;
  const waitSeconds = Number(env.HPE_GATE_WAIT_SECONDS ?? 8);
  const gateOptions = {
    configFile,
    env,
    stateDir,
    waitMs: Number.isFinite(waitSeconds) && waitSeconds >= 0 ? waitSeconds * 1000 : 8000,
    onAttempt: (report: PrerequisiteReport, attempt: number) => {
      if (!report.passed) logger.info({ attempt, failed: failedSubjects(report) }, 'prerequisites not met yet');
    },
  };
  const bootId = await currentBootId();
  const afterReboot = isFirstStartAfterReboot(await readFile(join(stateDir, servedMarker), 'utf8').catch(() => undefined), bootId);
  let gate = await passGate(gateOptions);
  let deferred: DeferredDriver | undefined;
  if (gate.ready === undefined) {
    const failed = gate.report.results.filter((x) => x.status === 'FAIL');
    if (!afterReboot || !failed.every((r) => r.retryable)) {
      for (const r of failed) io.err(`hpedockerplugin refuses to start: ${r.subject}: ${r.detail} — fix: ${r.fix ?? 'see hpedockerplugin check'}`);
      io.err(`hpedockerplugin refuses to start: ${failed.length} prerequisite(s) not met after ${gate.attempts} attempt(s); run \`hpedockerplugin check\` on the host for the full report`);
      // Exit now, whatever handles the checks left open (etcd channels): dockerd should see the refusal at once.
      process.exit(ExitCodes.failed);
    }
    // Restored by dockerd after a reboot, and only waiting for something that clears by itself (etcd): stay
    // enabled, refuse every request with the reason, and keep checking.
    deferred = new DeferredDriver(failed.map((r) => `${r.subject}: ${r.detail}`).join('; '));
    const { close } = await listenOnSocket(createVolumeDriverApp(deferred, logger), socketPath);
    closers.push(close);
    io.err(`hpedockerplugin waits for its prerequisites (${failedSubjects(gate.report).join(', ')}); it serves once they pass`);
    while (gate.ready === undefined) {
      gate = await passGate({ ...gateOptions, waitMs: 60_000, retryEveryMs: 2000 });
      if (gate.ready === undefined) {
        const stillFailed = gate.report.results.filter((x) => x.status === 'FAIL');
        deferred.waiting(stillFailed.map((r) => `${r.subject}: ${r.detail}`).join('; '));
        await delay(2000); // a failure that needs the admin returns at once: do not spin
      }
    }
  }

  const { config, secrets } = gate.ready;
  if (!debug) logger = createLogger(config.host.logging);
  const nodeId = await thisNodeId(configFile, config.host.nodeId, stateDir, env, io);
  const etcd = await createEtcdClient(config.host.etcd, { password: await resolveEtcdPassword(config, env) });
  closers.push(async () => etcd.close());
  // Testing aids: the simulators' state folders (config.json's `simulators` mount; unused with real arrays), and,
  // for a second plugin on one machine playing another host, that host's name and /etc (initiators) on the arrays.
  const simulatorRoot = process.env['HPE_SIMULATOR_ROOT'];
  const { HPE_HOST_NAME: hostname, HPE_HOST_ETC: etcRoot } = env;
  const host = systemHostEnv({ ...(simulatorRoot ? { simulatorRoot } : {}), ...(etcRoot ? { etcRoot } : {}) });
  const ssh = { knownHostsFile: knownHostsFilePath(stateDir, config.host.ssh.knownHostsFile) };
  const manager = createVolumeManager({ config, secrets, etcd, logger, host, ssh, nodeId: nodeId.id, ...(hostname ? { hostname } : {}) });
  closers.push(() => manager.close());
  if (deferred === undefined) {
    const { close } = await listenOnSocket(createVolumeDriverApp(manager, logger), socketPath);
    closers.push(close);
  } else {
    deferred.ready(manager);
  }
  // After listening: dockerd's window is short, and requests are safe meanwhile (each takes its volume's lock).
  manager.repair({ newBoot: afterReboot }).then(
    (report) => logger.info({ repair: report }, 'repair at start'),
    (err: unknown) => logger.error({ err: (err as Error).message }, 'repair at start failed'),
  );
  await markServed(stateDir, bootId);
  logger.info({ socket: socketPath, backends: config.backends.map((b) => b.name), nodeId: nodeId.id, nodeIdSource: nodeId.from }, 'serving');
  io.out(`hpedockerplugin serving on ${socketPath} (backends: ${config.backends.map((b) => b.name).join(', ')}; node id ${describeNodeId(nodeId)})`);
  await new Promise(() => {}); // until a signal
  return ExitCodes.ok;
}
