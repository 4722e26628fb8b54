import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ExportError,
  PortLinkStates,
  PortModes,
  PortProtocols,
  PortTypes,
  arrayHostName,
  chapUsername,
  fcExportPorts,
  iscsiExportPorts,
  isSimulator,
  missingPaths,
  newChapSecret,
  transportInitiators,
  type Host,
  type Port,
} from '../../src/array/index.js';

function iscsiPort(node: number, cardPort: number, ip: string, linkState: number = PortLinkStates.READY): Port {
  return {
    portPos: { node, slot: 2, cardPort },
    mode: PortModes.TARGET,
    linkState,
    protocol: PortProtocols.ISCSI,
    IPAddr: ip,
    iSCSIName: `iqn.2000-05.com.3pardata:2${node}2${cardPort}`,
  };
}

function fcPort(node: number, wwn: string): Port {
  return { portPos: { node, slot: 1, cardPort: 1 }, mode: PortModes.TARGET, linkState: PortLinkStates.READY, protocol: PortProtocols.FC, type: PortTypes.HOST, portWWN: wwn };
}

function host(partial: Partial<Host>): Host {
  return { id: 1, name: 'h1', FCPaths: [], iSCSIPaths: [], ...partial };
}

describe('export rules', () => {
  it('names the array host as upstream: cut at the first dot, then to 31 characters', () => {
    assert.equal(arrayHostName('node1.example.com'), 'node1');
    assert.equal(arrayHostName('node1'), 'node1');
    assert.equal(arrayHostName('a'.repeat(40) + '.x'), 'a'.repeat(31));
  });

  it('uses the full hostname as CHAP user unless it cannot be stored as metadata (31 characters)', () => {
    assert.equal(chapUsername('node1.example.com'), 'node1.example.com');
    assert.equal(chapUsername('node1.a-rather-long-domain.example.com'), 'node1');
  });

  it('makes 16-character CHAP secrets of letters and digits, different each time', () => {
    const a = newChapSecret();
    assert.match(a, /^[A-Za-z0-9]{16}$/);
    assert.notEqual(a, newChapSecret());
  });

  it('takes the initiators of the transport, WWNs as the array keeps them', () => {
    const i = { iscsiNames: ['iqn.1994-05.com.redhat:n1'], fcWwns: ['10:00:00:00:c9:aa:bb:01'] };
    assert.deepEqual(transportInitiators(i, 'iscsi'), ['iqn.1994-05.com.redhat:n1']);
    assert.deepEqual(transportInitiators(i, 'fc'), ['10000000C9AABB01']);
  });

  it('finds the paths a host lacks, ignoring case and colons', () => {
    const h = host({ iSCSIPaths: [{ name: 'IQN.1994-05.com.redhat:n1' }], FCPaths: [{ wwn: '10000000C9AABB01' }] });
    assert.deepEqual(missingPaths(h, 'iscsi', ['iqn.1994-05.com.redhat:n1', 'iqn.x:n2']), ['iqn.x:n2']);
    assert.deepEqual(missingPaths(h, 'fc', ['10:00:00:00:c9:aa:bb:01', '10000000C9AABB02']), ['10000000C9AABB02']);
  });

  it('exports over iSCSI on the ready target ports with the configured IPs, or on all ready ones without IPs', () => {
    const ports = [iscsiPort(0, 1, '10.0.0.1'), iscsiPort(1, 1, '10.0.0.2'), iscsiPort(0, 2, '10.0.0.3', PortLinkStates.OFFLINE), fcPort(0, '20110002AC001234')];
    assert.deepEqual(iscsiExportPorts('dcv-a', ports, ['10.0.0.2', '10.0.0.3']).map((p) => p.IPAddr), ['10.0.0.2']);
    assert.deepEqual(iscsiExportPorts('dcv-a', ports, undefined).map((p) => p.IPAddr), ['10.0.0.1', '10.0.0.2']);
    assert.deepEqual(iscsiExportPorts('dcv-a', ports, []).map((p) => p.IPAddr), ['10.0.0.1', '10.0.0.2']);
  });

  it('refuses an iSCSI export with no matching port, naming the volume, the IPs, the ports seen and the fix', () => {
    const ports = [iscsiPort(0, 1, '10.0.0.1'), iscsiPort(0, 2, '10.0.0.3', PortLinkStates.OFFLINE)];
    const err = (() => {
      try {
        iscsiExportPorts('dcv-abc', ports, ['10.0.0.3', '10.9.9.9']);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof ExportError);
    assert.equal(err.volume, 'dcv-abc');
    assert.match(err.message, /dcv-abc/);
    assert.match(err.message, /hpe3par_iscsi_ips \(10\.0\.0\.3, 10\.9\.9\.9\)/);
    assert.match(err.message, /0:2:1 10\.0\.0\.1 \(ready target\)/);
    assert.match(err.message, /0:2:2 10\.0\.0\.3 \(mode 2 linkState 10\)/);
    assert.match(err.fix, /hpe3par_iscsi_ips/);
  });

  it("exports over FC on the ready target ports the host's paths are logged in to", () => {
    const ports = [fcPort(0, '20110002AC001234'), fcPort(1, '21110002AC001234'), iscsiPort(0, 1, '10.0.0.1')];
    const h = host({ FCPaths: [{ wwn: '10000000C9AABB01', portPos: { node: 1, slot: 1, cardPort: 1 } }, { wwn: '10000000C9AABB02' }] });
    assert.deepEqual(fcExportPorts('dcv-a', ports, h).map((p) => p.portWWN), ['21110002AC001234']);
    assert.throws(() => fcExportPorts('dcv-a', ports, host({ FCPaths: [{ wwn: '10000000C9AABB02' }] })), (e: unknown) => {
      assert.ok(e instanceof ExportError);
      assert.match(e.message, /dcv-a over FC.*10000000C9AABB02.*0:1:1 20110002AC001234/);
      assert.match(e.fix, /zone/);
      return true;
    });
  });

  it("recognises the project's simulator, not an array or HPE's own simulator", () => {
    assert.equal(isSimulator({ model: 'HPE 3PAR Simulator (hpedockerplugin)' }), true);
    assert.equal(isSimulator({ model: 'HPE Primera Simulator (hpedockerplugin)' }), true);
    assert.equal(isSimulator({ model: 'HPE_3PAR 8200' }), false);
    assert.equal(isSimulator({ model: 'HP_3PAR Simulator' }), false);
  });
});
