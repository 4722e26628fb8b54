/** The keys of a plugin cluster (below host_etcd_prefix) and whose they are: what the two etcd roles grant. */

/**
 * A key as etcd holds it, host_etcd_prefix included (`/cluster-a` + `/backend/B1`): what every message that names
 * a key shows, so the admin can find it with etcdctl.
 */
export function prefixedKey(prefix: string | undefined, key: string): string {
  return (prefix ?? '') + key;
}

/**
 * What the plugin only reads: key records (`/backend/`, written by hpe3parencryptor), the cluster secrets key
 * record and the named secrets (written by the admin's commands).
 */
export const PluginReads: readonly { key: string; prefix: boolean }[] = [
  { key: '/backend/', prefix: true },
  // `/secrets/<name>` and `/secrets-key`: read (and watched) together as the one prefix `/secrets`, and etcd
  // checks a range read against the whole range.
  { key: '/secrets', prefix: true },
];

/** What the plugin writes: volume records and their name index, intents, locks (`/_locks/<kind>/<name>/…`), node presence. */
export const PluginWrites: readonly string[] = ['/volumes/', '/volume-names/', '/volume-intents/', '/volume-mount-intents/', '/_locks/', '/nodes/'];

/** A key only the admin writes (key records, secrets): the plugin's role reads it. */
export function isAdminOnlyKey(key: string): boolean {
  return PluginReads.some((g) => (g.prefix ? key.startsWith(g.key) : key === g.key));
}
