/**
 * The two etcd roles of a plugin cluster, as data: the plugin's (reads key records and secrets, writes its volume
 * records, locks, intents and presence) and the admin's (writes everything under host_etcd_prefix, key records
 * and secrets included). `hpedockerplugin etcd-roles` prints them as etcdctl lines or applies them.
 */
import { randomBytes } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import type { Etcd3Client } from './client.js';
import { prefixRangeEnd } from './gateway.js';
import { PluginReads, PluginWrites, prefixedKey } from './keyspace.js';

export type Access = 'read' | 'readwrite';

export interface Grant {
  /** The etcd key, host_etcd_prefix included. */
  key: string;
  /** Every key starting with `key` (etcdctl `--prefix=true`), else `key` alone. */
  prefix: boolean;
  access: Access;
}

export interface RolePlan {
  role: string;
  user: string;
  grants: Grant[];
}

export interface EtcdRolesPlan {
  prefix: string;
  plugin: RolePlan;
  admin: RolePlan;
}

/** `hpe-plugin` without a prefix, `hpe-plugin-cluster-a` for `/cluster/a`: one pair of roles per plugin cluster. */
function roleName(base: string, prefix: string): string {
  return prefix === '' ? base : `${base}${prefix.replaceAll('/', '-')}`;
}

/** The roles for host_etcd_prefix `prefix` ('' = none); users default to the role names. */
export function planEtcdRoles(prefix: string, users: { plugin?: string | undefined; admin?: string | undefined } = {}): EtcdRolesPlan {
  const pluginRole = roleName('hpe-plugin', prefix);
  const adminRole = roleName('hpe-admin', prefix);
  return {
    prefix,
    plugin: {
      role: pluginRole,
      user: users.plugin ?? pluginRole,
      grants: [
        ...PluginReads.map((g) => ({ key: prefixedKey(prefix, g.key), prefix: g.prefix, access: 'read' as const })),
        ...PluginWrites.map((key) => ({ key: prefixedKey(prefix, key), prefix: true, access: 'readwrite' as const })),
      ],
    },
    admin: { role: adminRole, user: users.admin ?? adminRole, grants: [{ key: `${prefix}/`, prefix: true, access: 'readwrite' }] },
  };
}

/**
 * The etcdctl lines that create the plan (no password in them: `user add` asks for it, or `--no-password` for a
 * user that authenticates by certificate CN only).
 */
export function etcdctlCommands(plan: EtcdRolesPlan): string[] {
  const lines: string[] = [];
  for (const r of [plan.plugin, plan.admin]) {
    lines.push(`etcdctl role add ${r.role}`);
    for (const g of r.grants) lines.push(`etcdctl role grant-permission ${r.role} ${g.access} ${g.key}${g.prefix ? ' --prefix=true' : ''}`);
  }
  for (const r of [plan.plugin, plan.admin]) {
    lines.push(`etcdctl user add ${r.user}    # asks for the password (a user known by its certificate CN needs none, but a password lets it use both)`);
    lines.push(`etcdctl user grant-role ${r.user} ${r.role}`);
  }
  return lines;
}

type AuthClient = Etcd3['auth'];

/** Role grants compare as strings; etcd answers `Read` / `Readwrite` for the permission type. */
function grantId(permType: string, key: Buffer, rangeEnd: Buffer | undefined): string {
  return `${permType.toLowerCase()} ${key.toString('hex')} ${rangeEnd?.toString('hex') ?? ''}`;
}

function rangeOf(g: Grant): { key: Buffer; rangeEnd: Buffer | undefined } {
  const key = Buffer.from(g.key, 'utf8');
  return { key, rangeEnd: g.prefix ? prefixRangeEnd(key) : undefined };
}

/**
 * Creates what is missing of the plan through etcd's auth API (the caller's identity must hold etcd's root role,
 * or etcd must not have authentication enabled yet); running it again changes nothing. Resolves to one line per
 * step, saying whether it was done or already so. Users it creates get a random password that is never shown:
 * certificate CN auth works at once, and password auth once the admin sets one (`etcdctl user passwd <user>`).
 * (etcd 3.4 keeps a user created with --no-password refusing every password, even after `user passwd`.)
 */
export function applyEtcdRoles(client: Etcd3Client, plan: EtcdRolesPlan): Promise<string[]> {
  return client.run(() => applySteps(client.root.auth, plan));
}

async function applySteps(auth: AuthClient, plan: EtcdRolesPlan): Promise<string[]> {
  const done: string[] = [];
  const roles = new Set((await auth.roleList()).roles);
  for (const r of [plan.plugin, plan.admin]) {
    if (roles.has(r.role)) {
      done.push(`role ${r.role}: exists`);
    } else {
      await auth.roleAdd({ name: r.role });
      done.push(`role ${r.role}: created`);
    }
    const held = new Set((await auth.roleGet({ role: r.role })).perm.map((p) => grantId(String(p.permType), p.key, p.range_end.length === 0 ? undefined : p.range_end)));
    for (const g of r.grants) {
      const { key, rangeEnd } = rangeOf(g);
      const permType = g.access === 'read' ? 'Read' : 'Readwrite';
      const label = `role ${r.role}: ${g.access} ${g.key}${g.prefix ? ' (prefix)' : ''}`;
      if (held.has(grantId(permType, key, rangeEnd))) {
        done.push(`${label}: granted already`);
        continue;
      }
      await auth.roleGrantPermission({ name: r.role, perm: { permType, key, range_end: rangeEnd ?? Buffer.alloc(0) } });
      done.push(`${label}: granted`);
    }
  }
  const users = new Set((await auth.userList()).users);
  for (const r of [plan.plugin, plan.admin]) {
    if (users.has(r.user)) {
      done.push(`user ${r.user}: exists`);
    } else {
      await auth.userAdd({ name: r.user, password: randomBytes(32).toString('base64') });
      done.push(`user ${r.user}: created (certificate CN auth works now; for password auth set its password with \`etcdctl user passwd ${r.user}\`)`);
    }
    const has = (await auth.userGet({ name: r.user })).roles.includes(r.role);
    if (!has) await auth.userGrantRole({ user: r.user, role: r.role });
    done.push(`user ${r.user}: role ${r.role} ${has ? 'held already' : 'granted'}`);
  }
  return done;
}
