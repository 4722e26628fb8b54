/**
 * The lengths the array enforces on what a Create sends it (WSAPI error 57 and the comment bound), checked
 * while the request is validated, so that nothing is written (an intent in etcd, a POST to the array) for a
 * request the array would refuse, and the message names the limit.
 */
import { VolumeRequestError } from '../errors.js';
import { snapshotComment, volumeComment } from './comments.js';
import { arrayVolumeName } from './naming.js';

/** WSAPI's bound on a volume's comment, which holds the Docker name (comments.ts). */
const MAX_ARRAY_COMMENT = 511;
/** WSAPI's bound on an object name: a volume, a CPG, a VV set. */
const MAX_ARRAY_NAME = 31;
/** The target's group is `<name>.r<systemId>`, so the name leaves room for that within 31 characters. */
const MAX_RCG_NAME = 25;

/** Ids have one length, so any id measures the comment's JSON around the name. */
const SampleId = '00000000-0000-4000-8000-000000000000';

/** 379: what the volume comment's JSON leaves of 511 characters (names are letters, digits, `_` and `-`, never escaped). */
export const MAX_VOLUME_NAME = MAX_ARRAY_COMMENT - volumeComment(SampleId, '').length;

/** A snapshot's comment holds its own name and its volume's, so its room depends on the volume's name. */
export function maxSnapshotName(volumeName: string): number {
  const parent = { '3par_vol_name': arrayVolumeName(SampleId, false), id: SampleId, display_name: volumeName };
  return MAX_ARRAY_COMMENT - snapshotComment(parent, '').length;
}

/** A long value as quoted in a message: never more than 40 characters of it. */
function quotedStart(value: string): string {
  return value.length <= 40 ? value : `${value.slice(0, 40)}...`;
}

/** A name longer than the array keeps, refused with the limit. */
export function checkArrayName(option: string, what: string, value: string, max = MAX_ARRAY_NAME): void {
  if (value.length <= max) return;
  throw new VolumeRequestError(
    `Invalid value '${quotedStart(value)}' specified for ${option}. ${what} has at most ${max} characters on the array; this one has ${value.length}.`,
    `give -o ${option} a name of at most ${max} characters`,
  );
}

export function checkRcgName(name: string): void {
  if (name.length > MAX_RCG_NAME) {
    throw new VolumeRequestError(
      `Invalid input received: replicationGroup name '${quotedStart(name)}' is too long: at most ${MAX_RCG_NAME} characters`,
      `use a remote copy group name of at most ${MAX_RCG_NAME} characters (the array names the target's group <name>.r<system id>, within its 31)`,
    );
  }
}

/** A new volume's (or clone's, or imported volume's) Docker name, which its comment holds. */
export function checkVolumeNameLength(name: string): void {
  if (name.length <= MAX_VOLUME_NAME) return;
  throw new VolumeRequestError(
    `Invalid input received: Invalid volume name: '${quotedStart(name)}' has ${name.length} characters; at most ${MAX_VOLUME_NAME} fit, since the array keeps the name in the volume's comment (at most ${MAX_ARRAY_COMMENT} characters).`,
    `use a volume name of at most ${MAX_VOLUME_NAME} characters`,
  );
}

/** A snapshot's Docker name, which its comment holds together with its volume's. */
export function checkSnapshotNameLength(name: string, volumeName: string): void {
  const max = maxSnapshotName(volumeName);
  if (name.length <= max) return;
  throw new VolumeRequestError(
    `Invalid input received: Invalid snapshot name: '${quotedStart(name)}' has ${name.length} characters; a snapshot of '${quotedStart(volumeName)}' may have at most ${Math.max(max, 0)}, since the array keeps both names in the snapshot's comment (at most ${MAX_ARRAY_COMMENT} characters).`,
    `use a snapshot name of at most ${Math.max(max, 0)} characters (a volume with a shorter name leaves its snapshots more)`,
  );
}
