/** The keys of a plugin cluster (below host_etcd_prefix) and whose they are: what the two etcd roles grant. */

/**
 * A key as etcd holds it, host_etcd_prefix included (`/cluster-a` + `/backend/B1`): what every message that names
 * a key shows, so the admin can find it with etcdctl.
 */
export function prefixedKey(prefix: string | undefined, key: string): string {
  return (prefix ?? '') + key;
}

/** Backend key records, `/backend/<backend>` (upstream's path, so `-d` and old tools agree). */
export const KEY_RECORDS_PREFIX = '/backend/';
/** `/secrets-key` and `/secrets/…` share the text `/secrets`: one prefix read (and one grant) answers both. */
export const SECRETS_PREFIX = '/secrets';
/** One key per named secret below this prefix, so a watch of it sees each secret change alone. */
export const NAMED_SECRETS_PREFIX = `${SECRETS_PREFIX}/`;
/** The cluster secrets key record. Outside `/secrets/`, so a watch of that prefix sees only secrets. */
export const CLUSTER_SECRETS_KEY = `${SECRETS_PREFIX}-key`;

/** Volume records, `/volumes/<uuid>`. */
export const VOLUMES_PREFIX = '/volumes/';
/** The name index: Docker name → uuid. */
export const VOLUME_NAMES_PREFIX = '/volume-names/';
/** What a flow is about to do on the array, `/volume-intents/<uuid>`. */
export const INTENTS_PREFIX = '/volume-intents/';
/** A node's mounts in progress, `/volume-mount-intents/<node>/<uuid>`. */
export const MOUNT_INTENTS_PREFIX = '/volume-mount-intents/';
/** Lock queues, `/_locks/<kind>/<name>/…`. */
export const LOCKS_PREFIX = '/_locks/';
/** Node presence, `/nodes/<node>` (leased). */
export const NODES_PREFIX = '/nodes/';

/**
 * What the plugin only reads: key records (written by hpe3parencryptor), the cluster secrets key record and the
 * named secrets (written by the admin's commands).
 */
export const PluginReads: readonly { key: string; prefix: boolean }[] = [
  { key: KEY_RECORDS_PREFIX, prefix: true },
  // `/secrets/<name>` and `/secrets-key`: read (and watched) together as the one prefix `/secrets`, and etcd
  // checks a range read against the whole range.
  { key: SECRETS_PREFIX, prefix: true },
];

/** What the plugin writes. */
export const PluginWrites: readonly string[] = [VOLUMES_PREFIX, VOLUME_NAMES_PREFIX, INTENTS_PREFIX, MOUNT_INTENTS_PREFIX, LOCKS_PREFIX, NODES_PREFIX];

/** A key only the admin writes (key records, secrets): the plugin's role reads it. */
export function isAdminOnlyKey(key: string): boolean {
  return PluginReads.some((g) => (g.prefix ? key.startsWith(g.key) : key === g.key));
}
