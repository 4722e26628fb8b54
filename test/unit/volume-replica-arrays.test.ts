/** Which array a Mount of an Active/Passive replicated volume attaches from, given its group's two sides. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RcgRoles } from '../../src/array/index.js';
import { activeArray, sideText, type GroupSide } from '../../src/volumes/flows/replica-arrays.js';

const side = (role: number, roleReversed = role === RcgRoles.PRIMARY_REV || role === RcgRoles.SECONDARY_REV): GroupSide => ({ role, roleReversed });
const { PRIMARY, SECONDARY, PRIMARY_REV, SECONDARY_REV } = RcgRoles;
const down: GroupSide = { missing: 'unreadable on 10.0.0.2:8080 (connection refused)' };

const cases: { name: string; local: GroupSide; remote: GroupSide; active: ReturnType<typeof activeArray> }[] = [
  { name: 'natural direction', local: side(PRIMARY), remote: side(SECONDARY), active: 'primary' },
  { name: 'failed over, the old primary not recovered yet', local: side(PRIMARY), remote: side(PRIMARY_REV), active: 'replication target' },
  { name: 'failed over, the old primary unreachable', local: down, remote: side(PRIMARY_REV), active: 'replication target' },
  { name: 'recovered (replicating back)', local: side(SECONDARY_REV), remote: side(PRIMARY_REV), active: 'replication target' },
  { name: 'switched over', local: side(SECONDARY_REV), remote: side(PRIMARY_REV), active: 'replication target' },
  { name: 'restored', local: side(PRIMARY), remote: side(SECONDARY), active: 'primary' },
  { name: 'direction reversed for good (roles swapped, not reversed)', local: side(SECONDARY), remote: side(PRIMARY), active: 'replication target' },
  { name: 'roleReversed flag on a role 1 group counts as reversed', local: side(PRIMARY, true), remote: side(PRIMARY), active: 'primary' },
  { name: 'target down, group primary here', local: side(PRIMARY), remote: down, active: 'primary' },
  { name: 'restore half way: neither side primary', local: side(SECONDARY_REV), remote: side(SECONDARY), active: undefined },
  { name: 'both secondary', local: side(SECONDARY), remote: side(SECONDARY), active: undefined },
  { name: 'both primary, neither reversed (split)', local: side(PRIMARY), remote: side(PRIMARY), active: undefined },
  { name: 'both primary-rev', local: side(PRIMARY_REV), remote: side(PRIMARY_REV), active: undefined },
  { name: 'secondary here, target unreachable', local: side(SECONDARY), remote: down, active: undefined },
];

for (const c of cases) {
  test(`active array: ${c.name}`, () => {
    assert.equal(activeArray(c.local, c.remote), c.active);
  });
}

test('a side reads as the role name, or why it could not be read', () => {
  assert.equal(sideText(side(PRIMARY_REV)), 'primary-rev');
  assert.equal(sideText(side(SECONDARY)), 'secondary');
  assert.equal(sideText(side(PRIMARY, true)), 'primary (roleReversed)');
  assert.equal(sideText(down), 'unreadable on 10.0.0.2:8080 (connection refused)');
});
