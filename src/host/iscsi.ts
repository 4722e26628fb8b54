/**
 * iSCSI: discover and log in to each target portal (CHAP written into the node record first when the array gave
 * one), wait for the LUN by WWN, prefer the multipath map. Detach releases the LUN, then logs out of each target
 * that has no LUN left on this host — other volumes may share the session.
 */
import { access, readFile, realpath, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../files.js';
import { AttachError, CommandError } from './errors.js';
import { multipathdRunning, normaliseWwn, readdirOrEmpty, locateLun, releaseLun, waitForLun } from './scsi.js';
import type { Connection, HostEnv, Transport } from './types.js';

type IscsiConnection = Extract<Connection, { transport: 'iscsi' }>;
type Target = IscsiConnection['targets'][number];

/** iscsiadm's exit codes the transport accepts. */
const ISCSI_ERR_SESS_EXISTS = 15;
const ISCSI_ERR_NO_OBJS_FOUND = 21;

export function iscsiTransport(env: HostEnv): Transport {
  return {
    kind: 'iscsi',
    async attach(conn, signal) {
      if (conn.transport !== 'iscsi') throw new AttachError(`the iSCSI transport cannot attach a ${conn.transport} connection`, 'attach it with the transport the array exported it for');
      if (conn.targets.length === 0) throw new AttachError(`the array gave no iSCSI target for WWN ${conn.wwn}`, 'check hpe3par_iscsi_ips in hpe.conf and that those ports are ready on the array');
      const wwn = normaliseWwn(conn.wwn);
      const multipath = await multipathdRunning(env, signal);
      await loginAll(env, conn, signal);
      const lun = await waitForLun(env, {
        wwn,
        multipath,
        describe: `iSCSI LUN ${conn.lun} via ${conn.targets.map((t) => `${t.portal} ${t.iqn}`).join(', ')}`,
        signal,
      });
      return {
        transport: 'iscsi',
        device: lun.device,
        wwn,
        paths: lun.paths,
        ...(lun.multipath === undefined ? {} : { multipath: lun.multipath }),
        portals: conn.targets.map((t) => t.portal),
        iqns: conn.targets.map((t) => t.iqn),
      };
    },
    async detach(att) {
      const deleted = new Set(await releaseLun(env, att));
      const portals = att.portals ?? [];
      const iqns = att.iqns ?? [];
      const seen = new Set<string>();
      for (const [i, portal] of portals.entries()) {
        const iqn = iqns[i];
        if (iqn === undefined || seen.has(`${portal} ${iqn}`)) continue;
        seen.add(`${portal} ${iqn}`);
        if (await targetHasLuns(env, portal, iqn, deleted)) continue;
        await env.runner.run(['iscsiadm', '-m', 'node', '-T', iqn, '-p', portal, '--logout'], { okExitCodes: [ISCSI_ERR_NO_OBJS_FOUND] });
      }
    },
    locate: (att) => locateLun(env, att.wwn),
  };
}

/** Logs in to every target; one reachable target is enough (multipath adds the others when they come back). */
async function loginAll(env: HostEnv, conn: IscsiConnection, signal?: AbortSignal): Promise<void> {
  const failures: unknown[] = [];
  for (const target of conn.targets) {
    try {
      await login(env, target, conn.chap, signal);
    } catch (err) {
      if (!(err instanceof CommandError || err instanceof AttachError)) throw err;
      failures.push(err);
    }
  }
  if (failures.length === conn.targets.length) throw failures[0];
}

async function login(env: HostEnv, target: Target, chap: IscsiConnection['chap'], signal?: AbortSignal): Promise<void> {
  const { portal, iqn } = target;
  const discovered = await env.runner.run(['iscsiadm', '-m', 'discovery', '-t', 'sendtargets', '-p', portal], {
    signal,
    fix: `check that this host reaches the array's iSCSI port ${portal} (\`ping\`, firewall, hpe3par_iscsi_ips in hpe.conf)`,
  });
  const offered = parseSendTargets(discovered.stdout);
  const found = offered.find((t) => t.iqn === iqn && t.portal === portal) ?? offered.find((t) => t.iqn === iqn);
  if (found === undefined) {
    throw new AttachError(
      `the iSCSI portal ${portal} does not offer target ${iqn} (it offers: ${[...new Set(offered.map((t) => t.iqn))].join(', ') || 'none'})`,
      `run \`iscsiadm -m discovery -t sendtargets -p ${portal}\` and check the array's iSCSI ports`,
    );
  }
  const node = ['iscsiadm', '-m', 'node', '-T', iqn, '-p', portal];
  if (chap !== undefined) await writeChap(env, { portal, iqn, tpgt: found.tpgt }, chap);
  const loggedIn = await env.runner.run([...node, '--login'], {
    okExitCodes: [ISCSI_ERR_SESS_EXISTS],
    secrets: chap === undefined ? [] : [chap.secret],
    signal,
    fix: `check the CHAP settings of this host on the array (\`showhost -chap\`) and the portal ${portal}; \`iscsiadm -m session\` lists this host's sessions`,
  });
  // An existing session does not see a LUN exported since it was opened until it is rescanned.
  if (loggedIn.exitCode === ISCSI_ERR_SESS_EXISTS) await env.runner.run([...node, '--rescan'], { signal });
}

/**
 * CHAP goes into the node record that discovery wrote (`<etc>/iscsi/nodes/<iqn>/<ip>,<port>,<tpgt>[/default]`),
 * not through `iscsiadm --op update -v <secret>`: a process argument is readable by every local user (`ps`).
 * iscsiadm reads the record at login. Written atomically, mode 0600, as iscsiadm keeps it.
 */
async function writeChap(env: HostEnv, target: { portal: string; iqn: string; tpgt: number }, chap: NonNullable<IscsiConnection['chap']>): Promise<void> {
  const sep = target.portal.lastIndexOf(':');
  const ip = target.portal.slice(0, sep).replace(/^\[(.*)\]$/, '$1');
  const entry = join(env.etcRoot, 'iscsi', 'nodes', target.iqn, `${ip},${target.portal.slice(sep + 1)},${target.tpgt}`);
  const record = (await stat(entry).catch(() => undefined))?.isDirectory() ? join(entry, 'default') : entry;
  let text: string;
  try {
    text = await readFile(record, 'utf8');
  } catch {
    throw new AttachError(
      `no iSCSI node record ${record} after discovering ${target.portal}, so CHAP cannot be set for ${target.iqn}`,
      '`iscsiadm -m node` lists the records open-iscsi made; the plugin needs the host\'s /etc/iscsi (its `etc` mount)',
    );
  }
  await writeFileAtomic(record, withSettings(text, { 'node.session.auth.authmethod': 'CHAP', 'node.session.auth.username': chap.username, 'node.session.auth.password': chap.secret }), { mode: 0o600 });
}

/** The record with each `name = value` line set: replaced where present, else added before `# END RECORD`. */
export function withSettings(record: string, settings: Readonly<Record<string, string>>): string {
  const lines = record.split('\n');
  for (const [name, value] of Object.entries(settings)) {
    const line = `${name} = ${value}`;
    const at = lines.findIndex((l) => l.split('=')[0]!.trim() === name);
    if (at >= 0) lines[at] = line;
    else {
      const end = lines.findIndex((l) => l.trim() === '# END RECORD');
      lines.splice(end >= 0 ? end : lines.length, 0, line);
    }
  }
  return lines.join('\n');
}

/** `iscsiadm -m discovery -t sendtargets` lines: `10.0.0.1:3260,21 iqn.2000-05.com.3pardata:...`. */
export function parseSendTargets(stdout: string): { portal: string; tpgt: number; iqn: string }[] {
  const out: { portal: string; tpgt: number; iqn: string }[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\s*(\S+),(\d+)\s+(\S+)\s*$/.exec(line);
    if (m) out.push({ portal: m[1]!, tpgt: Number(m[2]), iqn: m[3]! });
  }
  return out;
}

/** Whether a LUN of this target is still on this host: a udev by-path link to a SCSI device that exists and was not just deleted. */
async function targetHasLuns(env: HostEnv, portal: string, iqn: string, deleted: ReadonlySet<string>): Promise<boolean> {
  const byPath = join(env.devRoot, 'disk', 'by-path');
  const prefix = `ip-${portal}-iscsi-${iqn}-lun-`;
  for (const link of await readdirOrEmpty(byPath)) {
    if (!link.startsWith(prefix) || link.includes('-part')) continue;
    try {
      const device = basename(await realpath(join(byPath, link)));
      if (deleted.has(device)) continue;
      await access(join(env.sysRoot, 'block', device));
      return true;
    } catch {
      // a link udev has not removed yet, to a device already deleted
    }
  }
  return false;
}
