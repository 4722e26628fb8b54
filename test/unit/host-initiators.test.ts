import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { readInitiators } from '../../src/host/index.js';
import { InstantClock } from '../support/clock.js';
import { FakeCommands, FakeHostTree } from '../support/fake-host.js';

let tree: FakeHostTree;
beforeEach(() => (tree = new FakeHostTree()));
afterEach(() => tree.remove());

test('readInitiators reads the iSCSI initiator name and the FC port WWNs', async () => {
  tree.write(
    'etc/iscsi/initiatorname.iscsi',
    '## DO NOT EDIT OR REMOVE THIS FILE!\n## If you remove this file, the iSCSI daemon will not start.\n' +
      '## If you change the InitiatorName, existing access control lists\n## may reject this initiator.\n' +
      'InitiatorName=iqn.1993-08.org.debian:01:5f1e2d3c4b5a\n',
  );
  tree.write('sys/class/fc_host/host8/port_name', '0x10000090FA1B2C3E\n');
  tree.write('sys/class/fc_host/host7/port_name', '0x10000090fa1b2c3d\n');
  tree.write('sys/class/fc_host/host9/port_name', '0x2000024ff7e1\n');
  assert.deepEqual(await readInitiators(tree.env(new FakeCommands(), new InstantClock())), {
    iscsiNames: ['iqn.1993-08.org.debian:01:5f1e2d3c4b5a'],
    fcWwns: ['10000090fa1b2c3d', '10000090fa1b2c3e', '00002000024ff7e1'],
  });
});

test('readInitiators gives empty lists on a host without open-iscsi or FC', async () => {
  assert.deepEqual(await readInitiators(tree.env(new FakeCommands(), new InstantClock())), { iscsiNames: [], fcWwns: [] });
});
