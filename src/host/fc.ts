/**
 * Fibre Channel: the fabric already connects this host's HBAs to the array's ports, so attaching is a SCSI
 * rescan of the FC hosts for the LUN (repeated while waiting), then the same wait by WWN and multipath choice as
 * iSCSI. Detach releases the LUN; there is no session to end.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AttachError } from './errors.js';
import { multipathdRunning, normaliseWwn, readdirOrEmpty, locateLun, releaseLun, timeoutsOf, waitForLun } from './scsi.js';
import type { HostEnv, Transport } from './types.js';

export function fcTransport(env: HostEnv): Transport {
  return {
    kind: 'fc',
    async attach(conn, signal) {
      if (conn.transport !== 'fc') throw new AttachError(`the FC transport cannot attach a ${conn.transport} connection`, 'attach it with the transport the array exported it for');
      const wwn = normaliseWwn(conn.wwn);
      const hosts = await fcHosts(env);
      if (hosts.length === 0) {
        throw new AttachError('this host has no Fibre Channel HBA (nothing in /sys/class/fc_host)', 'load the HBA driver (`lsmod | grep -e lpfc -e qla2xxx`) or use hpe3par_iscsi_ips for iSCSI');
      }
      const multipath = await multipathdRunning(env, signal);
      const { fcRescanMs } = timeoutsOf(env);
      let lastRescan: number | undefined;
      const lun = await waitForLun(env, {
        wwn,
        multipath,
        describe: `FC LUN ${conn.lun} from array ports ${conn.targetWwns.join(', ') || 'none'} via ${hosts.join(', ')}`,
        beforeLook: async (elapsed) => {
          if (lastRescan !== undefined && elapsed - lastRescan < fcRescanMs) return;
          lastRescan = elapsed;
          await rescan(env, hosts, conn.lun);
        },
        signal,
      });
      return {
        transport: 'fc',
        device: lun.device,
        wwn,
        paths: lun.paths,
        ...(lun.multipath === undefined ? {} : { multipath: lun.multipath }),
      };
    },
    async detach(att) {
      await releaseLun(env, att);
    },
    locate: (att) => locateLun(env, att.wwn),
  };
}

async function fcHosts(env: HostEnv): Promise<string[]> {
  return (await readdirOrEmpty(join(env.sysRoot, 'class', 'fc_host'))).filter((h) => /^host\d+$/.test(h)).sort();
}

/** Asks each FC SCSI host to scan every channel and target for this LUN only (`- - <lun>`): faster than a full scan. */
async function rescan(env: HostEnv, hosts: string[], lun: number): Promise<void> {
  for (const host of hosts) await writeFile(join(env.sysRoot, 'class', 'scsi_host', host, 'scan'), `- - ${lun}`);
}
