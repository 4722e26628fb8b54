/**
 * iSCSI: discover and log in to each target portal (CHAP set on the node record first when the array gave
 * one), wait for the LUN by WWN, prefer the multipath map. Detach releases the LUN, then logs out of each target
 * that has no LUN left on this host — other volumes may share the session.
 */
import { access, realpath } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { AttachError, CommandError } from './errors.js';
import { multipathdRunning, normaliseWwn, readdirOrEmpty, releaseLun, waitForLun } from './scsi.js';
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
  if (!offered.some((t) => t.iqn === iqn)) {
    throw new AttachError(
      `the iSCSI portal ${portal} does not offer target ${iqn} (it offers: ${[...new Set(offered.map((t) => t.iqn))].join(', ') || 'none'})`,
      `run \`iscsiadm -m discovery -t sendtargets -p ${portal}\` and check the array's iSCSI ports`,
    );
  }
  const node = ['iscsiadm', '-m', 'node', '-T', iqn, '-p', portal];
  if (chap !== undefined) {
    const secrets = [chap.secret];
    for (const [name, value] of [
      ['node.session.auth.authmethod', 'CHAP'],
      ['node.session.auth.username', chap.username],
      ['node.session.auth.password', chap.secret],
    ] as const) {
      await env.runner.run([...node, '--op', 'update', '-n', name, '-v', value], { secrets, signal });
    }
  }
  const loggedIn = await env.runner.run([...node, '--login'], {
    okExitCodes: [ISCSI_ERR_SESS_EXISTS],
    secrets: chap === undefined ? [] : [chap.secret],
    signal,
    fix: `check the CHAP settings of this host on the array (\`showhost -chap\`) and the portal ${portal}; \`iscsiadm -m session\` lists this host's sessions`,
  });
  // An existing session does not see a LUN exported since it was opened until it is rescanned.
  if (loggedIn.exitCode === ISCSI_ERR_SESS_EXISTS) await env.runner.run([...node, '--rescan'], { signal });
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
