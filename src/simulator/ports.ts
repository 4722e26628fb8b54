/**
 * The simulated target ports: iSCSI ports n:2:1 (one per configured portal IP, nodes alternating; portal TCP
 * 3260 on loopback by default) and FC ports 0:1:1 and 1:1:1. All target mode, link ready.
 */
import { PortLinkStates, PortModes, PortProtocols, PortTypes, type Port, type PortPos } from '../array/index.js';
import { collection, type SimContext } from './context.js';
import type { Router } from './router.js';

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

export function nspOf(p: PortPos): string {
  return `${p.node}:${p.slot}:${p.cardPort}`;
}

export function samePort(a: PortPos | undefined, b: PortPos | undefined): boolean {
  return a !== undefined && b !== undefined && a.node === b.node && a.slot === b.slot && a.cardPort === b.cardPort;
}

export function simPorts(ctx: SimContext): Port[] {
  const sys = hex(ctx.state.systemId, 6);
  const iscsi = ctx.options.iscsiPortals.map((ip, i): Port => {
    const portPos = { node: i % 2, slot: 2, cardPort: 1 + Math.floor(i / 2) };
    return {
      portPos,
      mode: PortModes.TARGET,
      linkState: PortLinkStates.READY,
      protocol: PortProtocols.ISCSI,
      type: PortTypes.ISCSI,
      label: `iSCSI_${nspOf(portPos)}`,
      IPAddr: ip,
      iSCSIName: `iqn.2000-05.com.3pardata:2${portPos.node}${portPos.slot}${portPos.cardPort}0002ac${sys}`,
      iSCSIPortInfo: { vlan: 0, iSNSAddr: '0.0.0.0', iSNSPort: 3205, mtu: 1500 },
    };
  });
  const fc = [0, 1].map((node): Port => {
    const portPos = { node, slot: 1, cardPort: 1 };
    return {
      portPos,
      mode: PortModes.TARGET,
      linkState: PortLinkStates.READY,
      protocol: PortProtocols.FC,
      type: PortTypes.HOST,
      label: `FC_${nspOf(portPos)}`,
      nodeWWN: `2FF70002AC${sys}`.toUpperCase(),
      portWWN: `2${node}110002AC${sys}`.toUpperCase(),
    };
  });
  return [...iscsi, ...fc];
}

export function registerPorts(router: Router, ctx: SimContext): void {
  router.on('GET', '/ports', () => ({ status: 200, body: collection(simPorts(ctx)) }));
}
