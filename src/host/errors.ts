/**
 * Errors of the host side. Each names what the user can check on the host (the command that failed, the WWN
 * and portals of a device that never appeared) and carries the fix; none carries a secret.
 */
import { HpeError } from '../errors.js';

/** The packages that provide the commands the host side runs, for the fix of a missing command. */
const packageOf: Readonly<Record<string, string>> = {
  iscsiadm: 'open-iscsi',
  multipath: 'multipath-tools',
  multipathd: 'multipath-tools',
  losetup: 'util-linux',
  blkid: 'util-linux',
  mount: 'mount (util-linux)',
  umount: 'mount (util-linux)',
  'mkfs.ext4': 'e2fsprogs',
  'mkfs.xfs': 'xfsprogs',
};

export interface CommandFailure {
  /** The command line as text, secrets masked. */
  command: string;
  /** `null` when the command did not exit by itself (not found, killed, timed out). */
  exitCode: number | null;
  /** Trimmed, secrets masked. */
  stderr: string;
  timedOut: boolean;
  notFound: boolean;
}

/** A command failed, timed out or is not installed. The message names the command, its exit code and stderr. */
export class CommandError extends HpeError implements CommandFailure {
  readonly command: string;
  readonly exitCode: number | null;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly notFound: boolean;

  constructor(failure: CommandFailure, options: { fix?: string; timeoutMs?: number; cause?: unknown } = {}) {
    super(describeFailure(failure, options.timeoutMs), options.fix ?? defaultFix(failure), {
      retryable: failure.timedOut,
      cause: options.cause,
    });
    this.command = failure.command;
    this.exitCode = failure.exitCode;
    this.stderr = failure.stderr;
    this.timedOut = failure.timedOut;
    this.notFound = failure.notFound;
  }
}

function describeFailure(f: CommandFailure, timeoutMs: number | undefined): string {
  if (f.notFound) return `\`${f.command}\`: command not found`;
  const how = f.timedOut
    ? `did not finish within ${formatDuration(timeoutMs ?? 0)} and was killed`
    : f.exitCode === null
      ? 'was killed'
      : `exited with code ${f.exitCode}`;
  return `\`${f.command}\` ${how}${f.stderr === '' ? '' : `: ${f.stderr}`}`;
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}

function defaultFix(f: CommandFailure): string {
  const program = f.command.split(' ', 1)[0] ?? '';
  if (f.notFound) return `install ${packageOf[program] ?? `the package that provides ${program}`} on this host (in the plugin's rootfs when it runs as a managed plugin)`;
  if (f.timedOut) return `check what \`${program}\` waits for (the device, the array's ports, the service it talks to), then retry`;
  return `run \`${f.command}\` as root on this host to see why it fails`;
}

/** A volume could not be attached or detached on this host (a device that never appeared, an invalid request). */
export class AttachError extends HpeError {}

/** A device's filesystem could not be probed, made, mounted or prepared, or the request would destroy data. */
export class FilesystemError extends HpeError {}

/** This host's node id cannot be used: a damaged or unreadable .node_id file, or an invalid HPE_NODE_ID. */
export class NodeIdError extends HpeError {
  /** The file, option or setting that holds the bad id. */
  readonly where: string;

  constructor(where: string, message: string, fix: string, options: { cause?: unknown } = {}) {
    super(message, fix, options);
    this.where = where;
  }
}
