/** The option names hpe.conf may hold, grouped by how this plugin treats them. */

/** Read from every backend section (each section sets its own; nothing comes from [DEFAULT]). */
export const BackendOptions = [
  'hpedockerplugin_driver',
  'hpe3par_api_url',
  'hpe3par_username',
  'hpe3par_password',
  'san_ip',
  'san_login',
  'san_password',
  'hpe3par_cpg',
  'hpe3par_snapcpg',
  'hpe3par_iscsi_ips',
  'hpe3par_iscsi_chap_enabled',
  'hpe3par_debug',
  'hpe3par_ca_cert',
  'replication_device',
  'san_private_key',
  'san_private_key_passphrase',
  'san_ssh_port',
  'ssh_conn_timeout',
] as const;

/** Pre-rename spelling still accepted, mapped to its current name. */
export const DeprecatedOptionNames: Readonly<Record<string, (typeof BackendOptions)[number]>> = {
  hp3par_api_url: 'hpe3par_api_url',
};

/** Read from [DEFAULT] only; elsewhere they are ignored with a warning. */
export const HostOptions = [
  'host_etcd_ip_address',
  'host_etcd_port_number',
  'host_etcd_client_cert',
  'host_etcd_client_key',
  'host_etcd_ca_cert',
  'logging',
  'mount_prefix',
  'node_id',
  'ssh_hosts_key_file',
  'use_multipath',
  'enforce_multipath',
  'strict_ssh_host_key_policy',
] as const;
export type HostOption = (typeof HostOptions)[number];

/** Upstream options this plugin does not use; accepted silently in any section so old files load. */
const AcceptedUnusedOptions = [
  'iscsi_ip_address',
  'iscsi_port',
  'timeout',
  'use_chap_auth',
  'chap_username',
  'chap_password',
  'hpe3par_default_fpg_size',
  'hpe3par_server_ip_pool',
  'suppress_requests_ssl_warnings',
] as const;

/** Keys of the `replication_device` dictionary. */
export const ReplicationKeys = [
  'backend_id',
  'replication_mode',
  'cpg_map',
  'snap_cpg_map',
  'quorum_witness_ip',
  'sync_period',
  'hpe3par_api_url',
  'hpe3par_username',
  'hpe3par_password',
  'san_ip',
  'san_login',
  'san_password',
  'hpe3par_iscsi_ips',
] as const;

export const KnownOptions: ReadonlySet<string> = new Set<string>([
  ...BackendOptions,
  ...Object.keys(DeprecatedOptionNames),
  ...HostOptions,
  ...AcceptedUnusedOptions,
]);

export function isHostOption(name: string): name is HostOption {
  return (HostOptions as readonly string[]).includes(name);
}

/**
 * Levenshtein distance when it is at most `max`, else `max + 1`. Bounded so that a 100 kB key costs
 * no more than a short one: lengths further apart than `max` are never compared.
 */
export function editDistanceWithin(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      const distance = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
      current.push(distance);
      rowMin = Math.min(rowMin, distance);
    }
    if (rowMin > max) return max + 1;
    previous = current;
  }
  return Math.min(previous[b.length] ?? 0, max + 1);
}

/** The one candidate within edit distance 2 of `name`, closest first; undefined if none or a tie. */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  let tie = false;
  for (const candidate of candidates) {
    const distance = editDistanceWithin(name, candidate, 2);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
      tie = false;
    } else if (distance === bestDistance) {
      tie = true;
    }
  }
  return tie ? undefined : best;
}
