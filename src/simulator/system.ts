/** `GET /api`, `/system`, `/wsapiconfiguration`, `/capacity`, CPGs and the space reporter. */
import { createHash } from 'node:crypto';
import { ProvisioningTypes, SimulatorModelMarker } from '../array/index.js';
import { collection, cpgOr404, type SimContext } from './context.js';
import type { Router } from './router.js';
import { allowOnly, requireBody, requireString } from './validate.js';

const MiB_PER_TiB = 1024 * 1024;
/** What the simulated system offers in all: 64 TiB. */
export const totalCapacityMiB = 64 * MiB_PER_TiB;

/** The WSAPI minor version that went with a build, roughly (3.1.3 → 1.3, 3.2.x → 1.5, 3.3.1 → 1.6, Primera 4.x → 1.10). */
export function apiVersion(build: number): { major: number; minor: number; revision: number; build: number } {
  const minor = build >= 40000000 ? 10 : build >= 30301000 ? 6 : build >= 30201000 ? 5 : build >= 30103000 ? 3 : 2;
  return { major: 1, minor, revision: 0, build };
}

/** `30301460` → `3.3.1.460`. */
function systemVersion(build: number): string {
  const s = String(build).padStart(8, '0');
  return `${Number(s.slice(0, 1))}.${Number(s.slice(1, 3))}.${Number(s.slice(3, 5))}.${Number(s.slice(5))}`;
}

export function allocatedMiB(ctx: SimContext): number {
  let used = 0;
  for (const v of ctx.state.volumes.values()) {
    used += v.provisioningType === ProvisioningTypes.FULL ? v.sizeMiB : ctx.files.allocatedMiB(v.name);
  }
  return used;
}

export function freeCapacityMiB(ctx: SimContext): number {
  return totalCapacityMiB - allocatedMiB(ctx);
}

function stableUuid(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function renderCpg(ctx: SimContext, name: string): Record<string, unknown> {
  const vols = [...ctx.state.volumes.values()].filter((v) => v.userCPG === name && v.copyType === 1);
  const usedMiB = vols.reduce((n, v) => n + (v.provisioningType === ProvisioningTypes.FULL ? v.sizeMiB : ctx.files.allocatedMiB(v.name)), 0);
  const raid = /r(\d)/i.exec(name)?.[1];
  const raidType = raid === '0' ? 1 : raid === '1' ? 2 : raid === '5' ? 3 : raid === '6' ? 4 : 2;
  return {
    id: ctx.options.cpgs.indexOf(name),
    uuid: stableUuid(`${ctx.state.systemId}/cpg/${name}`),
    name,
    numFPVVs: vols.filter((v) => v.provisioningType === ProvisioningTypes.FULL).length,
    numTPVVs: vols.filter((v) => v.provisioningType === ProvisioningTypes.TPVV).length,
    numTDVVs: vols.filter((v) => v.provisioningType === ProvisioningTypes.TDVV).length,
    UsrUsage: { totalMiB: usedMiB, usedMiB, rawTotalMiB: usedMiB * 2, rawUsedMiB: usedMiB * 2 },
    SAUsage: { totalMiB: 0, usedMiB: 0, rawTotalMiB: 0, rawUsedMiB: 0 },
    SDUsage: { totalMiB: 0, usedMiB: 0, rawTotalMiB: 0, rawUsedMiB: 0 },
    SAGrowth: { incrementMiB: 8192, LDLayout: { HA: 3 } },
    SDGrowth: { incrementMiB: 32768, LDLayout: { RAIDType: raidType, HA: 3 } },
    state: 1,
  };
}

export function registerSystem(router: Router, ctx: SimContext, listenHost: () => string, sessionsInUse: () => number): void {
  router.on('GET', '/system', () => {
    const allocated = allocatedMiB(ctx);
    const primera = ctx.features.primera;
    return {
      status: 200,
      body: {
        id: ctx.state.systemId,
        name: ctx.options.systemName,
        systemVersion: systemVersion(ctx.options.wsapiBuild),
        IPv4Addr: listenHost(),
        model: `${primera ? 'HPE Primera' : 'HPE 3PAR'} ${SimulatorModelMarker}`,
        serialNumber: `SIM${ctx.state.systemId}`,
        totalNodes: 2,
        masterNode: 0,
        onlineNodes: [0, 1],
        clusterNodes: [0, 1],
        chunkletSizeMiB: 1024,
        totalCapacityMiB,
        allocatedCapacityMiB: allocated,
        freeCapacityMiB: totalCapacityMiB - allocated,
        failedCapacityMiB: 0,
        location: 'simulator',
        comment: 'WSAPI simulator of hpedockerplugin; not a storage array',
        licenseInfo: {
          licenses: [
            { name: 'Thin Provisioning' },
            { name: 'Virtual Copy' },
            { name: 'Remote Copy' },
            { name: 'Adaptive Flash Cache' },
            { name: 'Priority Optimization' },
            ...(ctx.features.compression ? [{ name: 'Compression' }] : []),
          ],
        },
      },
    };
  });

  router.on('GET', '/wsapiconfiguration', () => ({
    status: 200,
    body: {
      httpState: 'Enabled',
      httpPort: 8008,
      httpsState: 'Enabled',
      httpsPort: 8080,
      version: `1.${apiVersion(ctx.options.wsapiBuild).minor}`,
      sessionsInUse: sessionsInUse(),
      sessionTimeout: Math.round(ctx.options.sessionTtlMs / 60000),
    },
  }));

  router.on('GET', '/capacity', () => {
    const allocated = allocatedMiB(ctx);
    const all = { totalMiB: totalCapacityMiB, allocated: { totalAllocatedMiB: allocated }, freeMiB: totalCapacityMiB - allocated, failedCapacityMiB: 0 };
    const none = { totalMiB: 0, allocated: { totalAllocatedMiB: 0 }, freeMiB: 0, failedCapacityMiB: 0 };
    return { status: 200, body: { allCapacity: all, FCCapacity: all, NLCapacity: none, SSDCapacity: none } };
  });

  router.on('GET', '/cpgs', () => ({ status: 200, body: collection(ctx.options.cpgs.map((c) => renderCpg(ctx, c))) }));
  router.on('GET', '/cpgs/:name', (req) => ({ status: 200, body: renderCpg(ctx, cpgOr404(ctx, req.params['name']!)) }));

  router.on('POST', '/spacereporter', (req) => {
    const body = requireBody(req.body);
    allowOnly(body, ['cpg']);
    cpgOr404(ctx, requireString(body, 'cpg'));
    const free = freeCapacityMiB(ctx);
    return { status: 200, body: { rawFreeMiB: free * 2, usableFreeMiB: free } };
  });
}
