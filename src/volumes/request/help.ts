/**
 * `-o help` texts, returned to Docker in `Err` (upstream's way: Docker prints it as the error of the
 * `docker volume create` command, and no volume is made).
 */
import type { BackendStatus, CredentialStatus } from '../backends/state.js';
import { MAX_VOLUME_NAME, maxSnapshotName } from './limits.js';
import { DEFAULT_MOUNT_CONFLICT_DELAY, DEFAULT_SIZE_GIB, MAX_SCHEDULE_NAME, MAX_SNAPSHOT_HOURS, MAX_SNAPSHOT_PREFIX } from './options.js';

export const CREATE_HELP = `
HPE 3PAR / Primera Docker volume plugin: docker volume create -d hpe --name <name> [-o option=value ...]

A name has 2 to ${MAX_VOLUME_NAME} characters: letters and digits first, then letters, digits, _ or -
(a snapshot's name and its volume's together at most ${maxSnapshotName('')}: the array keeps both in a 511-character comment).

Create a volume:
  -o size=<GiB>                 size in GiB (default ${DEFAULT_SIZE_GIB})
  -o provisioning=thin|full|dedup
                                thin (default), fully provisioned, or thin with deduplication
  -o compression=true|false     compress on the array (needs 16 GiB or more, not with full provisioning)
  -o flash-cache=true|false     enable or disable the array's flash cache for the volume
  -o qos-name=<vvset>           add the volume to an existing VV set carrying a QoS rule
  -o cpg=<cpg>                  CPG of the volume (default: the first of hpe3par_cpg)
  -o snapcpg=<cpg>              CPG of its snapshots (default: the first of hpe3par_snapcpg, else the cpg)
  -o fsOwner=<uid>:<gid>        owner of the filesystem's root directory, set at mount
  -o fsMode=<octal>             mode of the filesystem's root directory, e.g. 0755
  -o fsType=ext4|xfs            filesystem made at the first mount (default ext4)
  -o mountConflictDelay=<s>     seconds to wait for another node to unmount before taking the volume
                                over (default ${DEFAULT_MOUNT_CONFLICT_DELAY})
  -o backend=<name>             a backend section of hpe.conf (default DEFAULT, or DEFAULT_BLOCK)

Create a replicated volume (the backend needs a replication_device entry in hpe.conf):
  -o replicationGroup=<rcg>     the remote copy group; created on the arrays if it does not exist
  also allowed: size, provisioning, compression, backend, mountConflictDelay, fsType

Clone a volume (on the source's backend; the clone is independent of its source):
  -o cloneOf=<volume>           the Docker name of the volume to copy
  also allowed: size (not below the source's; default the source's), cpg, snapcpg, mountConflictDelay

Snapshot a volume (read-only virtual copy on the source's backend):
  -o virtualCopyOf=<volume>     the Docker name of the volume to snapshot
  -o expirationHours=<h>        the array deletes the snapshot after this many hours (1 to ${MAX_SNAPSHOT_HOURS})
  -o retentionHours=<h>         the snapshot cannot be deleted for this many hours (1 to ${MAX_SNAPSHOT_HOURS})
  also allowed: mountConflictDelay
  docker volume inspect <volume> lists its snapshots; docker volume inspect <volume>/<snapshot> shows one.

Snapshot a volume and schedule more snapshots of it on the array (needs the backend's SSH settings, san_ip,
san_login and san_password or san_private_key, in hpe.conf):
  -o virtualCopyOf=<volume>     the Docker name of the volume to snapshot
  -o scheduleName=<name>        the schedule's name on the array, at most ${MAX_SCHEDULE_NAME} characters (auto: from the time)
  -o scheduleFrequency="<m> <h> <dom> <mon> <dow>"
                                when the array takes a snapshot, five cron fields, e.g. "0 * * * *" hourly
  -o snapshotPrefix=<prefix>    scheduled snapshots are named <prefix>.<date and time>; at most ${MAX_SNAPSHOT_PREFIX} characters
  -o expHrs=<h>                 the array deletes each scheduled snapshot after this many hours (1 to ${MAX_SNAPSHOT_HOURS})
  -o retHrs=<h>                 each scheduled snapshot cannot be deleted for this many hours (not above expHrs)
  also allowed: mountConflictDelay
  The Docker volume named by the request is a snapshot like the one above; removing it removes the schedule.

Import a volume or snapshot that already exists on the array (it is renamed to the plugin's naming):
  -o importVol=<array name>     the array's name of a volume or snapshot not exported to any host
  also allowed: backend, mountConflictDelay

Help:
  -o help                       this text
  -o help=backends              the configured backends and their state
`;

/** The backends table of `-o help=backends`, in upstream's layout, with each failed backend's reason. */
export function formatBackendsTable(backends: readonly BackendStatus[]): string {
  const rule = '='.repeat(54);
  let out = `\n${rule}\nNAME${' '.repeat(42)}STATUS\n${rule}\n`;
  for (const b of backends) {
    out += row(b.name, b);
    if (b.target !== undefined) out += row(`  replication target ${b.target.id}`, b.target);
  }
  return out;
}

/** One line on a password that follows a named secret: which version the session uses, and what a rotation did. */
function describeCredentials(c: CredentialStatus): string {
  const version = c.version === undefined ? '' : ` version ${c.version}`;
  const what = `password $secret{${c.secret}}${version}`;
  const kept = c.inUse === undefined ? 'the value it started with' : `version ${c.inUse}`;
  const why = c.reason === undefined ? '' : `: ${c.reason}`;
  switch (c.state) {
    case 'current':
      return `${what}: logged in with it`;
    case 'rotating':
      return `${what}: logging in with it${why}; the session of ${kept} serves meanwhile`;
    case 'refused':
      return `${what}: REFUSED by the array${why}; the session of ${kept} keeps serving until a value the array accepts is put (\`hpe3parencryptor secret put ${c.secret}\`)`;
    case 'unreadable':
      return `${what}: NOT USABLE${why}; the session of ${kept} keeps serving`;
  }
}

/**
 * `name<pad to 45>  STATE` (upstream's row), then indented below it a FAILED array's reason and, for a password
 * that is a named secret, its line.
 */
function row(label: string, s: { state: string; reason?: string; credentials?: CredentialStatus }): string {
  let out = `${label.padEnd(45)}  ${s.state}\n`;
  const below = [...(s.state === 'FAILED' && s.reason ? s.reason.split('\n') : []), ...(s.credentials ? [describeCredentials(s.credentials)] : [])];
  for (const line of below) out += `    ${line}\n`;
  return out;
}
