/** What applies when hpe.conf or the command line does not say: the one place other folders take these from. */

/** The plugin's state folder on the host (`--state`; the managed plugin's `state` mount): node id, reports, known hosts. */
export const DefaultStateDir = '/var/lib/hpedockerplugin';

/** `san_ssh_port` when unset; how errors name an array leaves it out. */
export const DefaultSanSshPort = 22;

/** `ssh_conn_timeout` when unset, as upstream. */
export const DefaultSshConnTimeoutSec = 30;

/** `strict_ssh_host_key_policy` when unset: remember an unknown array's key on first connect, as upstream. */
export const DefaultStrictHostKeyPolicy = false;

/** `ssh_hosts_key_file` when set, else `ssh_known_hosts` in the plugin's state folder (cinder's `$state_path/ssh_known_hosts`). */
export function knownHostsFilePath(stateDir: string, configured?: string): string {
  return configured ?? `${stateDir.replace(/\/+$/, '')}/ssh_known_hosts`;
}
