import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { etcdctlCommands, planEtcdRoles } from '../../src/etcd/index.js';

const srcDir = fileURLToPath(new URL('../../../src/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

describe('planEtcdRoles', () => {
  it('without a prefix: upstream\'s paths, roles hpe-plugin and hpe-admin', () => {
    const plan = planEtcdRoles('');
    assert.equal(plan.plugin.role, 'hpe-plugin');
    assert.equal(plan.admin.user, 'hpe-admin');
    assert.deepEqual(plan.admin.grants, [{ key: '/', prefix: true, access: 'readwrite' }]);
    assert.ok(plan.plugin.grants.some((g) => g.key === '/backend/' && g.access === 'read' && g.prefix));
  });

  it('with a prefix: every grant under it, one pair of roles per cluster, user names as given', () => {
    const plan = planEtcdRoles('/dc1/a', { plugin: 'node-cn' });
    assert.equal(plan.plugin.role, 'hpe-plugin-dc1-a');
    assert.equal(plan.plugin.user, 'node-cn');
    assert.equal(plan.admin.user, 'hpe-admin-dc1-a');
    for (const g of [...plan.plugin.grants, ...plan.admin.grants]) assert.ok(g.key.startsWith('/dc1/a/'), g.key);
    assert.deepEqual(plan.admin.grants, [{ key: '/dc1/a/', prefix: true, access: 'readwrite' }]);
  });

  it('the plugin may write none of the admin\'s keys (key records, secrets)', () => {
    const writes = planEtcdRoles('').plugin.grants.filter((g) => g.access !== 'read').map((g) => g.key);
    for (const key of writes) assert.ok(!key.startsWith('/backend') && !key.startsWith('/secrets'), key);
    const reads = planEtcdRoles('').plugin.grants.filter((g) => g.access === 'read');
    assert.deepEqual(
      reads.map((g) => [g.key, g.prefix]),
      [
        ['/backend/', true],
        // The named secrets and their key are read (and watched) as one range; etcd checks the whole range.
        ['/secrets', true],
      ],
    );
  });

  it('covers every key prefix the code declares (a new `…_PREFIX = \'/x/\'` needs a grant)', () => {
    const grants = planEtcdRoles('').plugin.grants;
    const declared = new Set<string>();
    for (const file of sources(srcDir)) {
      for (const m of readFileSync(file, 'utf8').matchAll(/\b[A-Z_]*PREFIX\s*=\s*'(\/[^']*)'/g)) declared.add(m[1]!);
    }
    assert.ok(declared.has('/volumes/') && declared.has('/_locks/'), `found ${[...declared].join(' ')}`);
    for (const key of declared) {
      if (key.startsWith('/opt/')) continue; // mount_prefix, a path on the host
      assert.ok(
        grants.some((g) => (g.prefix ? key.startsWith(g.key) : key === g.key)),
        `${key} is declared in src but the plugin's role has no grant for it (src/etcd/roles.ts)`,
      );
    }
  });
  it('each key prefix is written once, in src/etcd/keyspace.ts (the stores import it from there)', () => {
    const keyspace = join(srcDir, 'etcd', 'keyspace.ts');
    const granted = planEtcdRoles('').plugin.grants.map((g) => g.key);
    for (const file of sources(srcDir)) {
      if (file === keyspace) continue;
      const text = readFileSync(file, 'utf8');
      for (const key of granted) assert.ok(!text.includes(`'${key}'`), `${file} writes '${key}' again: import it from src/etcd instead`);
    }
  });
});

describe('etcdctlCommands', () => {
  it('prints role, grant and user lines, prefix grants with --prefix=true, and no password', () => {
    const lines = etcdctlCommands(planEtcdRoles('/c'));
    assert.equal(lines[0], 'etcdctl role add hpe-plugin-c');
    assert.ok(lines.includes('etcdctl role grant-permission hpe-plugin-c read /c/secrets --prefix=true'));
    assert.ok(lines.includes('etcdctl role grant-permission hpe-plugin-c readwrite /c/nodes/ --prefix=true'));
    assert.ok(lines.includes('etcdctl role grant-permission hpe-admin-c readwrite /c/ --prefix=true'));
    assert.ok(lines.some((l) => l.startsWith('etcdctl user add hpe-plugin-c ')));
    assert.ok(lines.includes('etcdctl user grant-role hpe-admin-c hpe-admin-c'));
    assert.ok(lines.every((l) => !/--new-user-password|--interactive=false|\w:\S/.test(l.split('#')[0]!)), 'no password on any line');
  });
});
