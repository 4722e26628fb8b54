/**
 * Names: the array names derived from a volume's uuid, and the Docker-side names the plugin accepts.
 *
 * Array names are upstream's (hpedockerplugin/hpe/utils.py `_encode_name`): the uuid's 16 bytes in standard
 * base64, `+` → `.`, `/` → `-`, the `==` padding removed, giving 22 characters; a volume is `dcv-<22>`, a
 * snapshot `dcs-<22>`, the plugin's VV set `vvs-<22>` (26 characters, under 3PAR's 31-character limit). So
 * volumes made by the Python plugin keep their names, and an array name leads back to its etcd record.
 */
import { randomUUID } from 'node:crypto';
import { VolumeRequestError } from '../errors.js';

const ArrayNamePrefixes = { volume: 'dcv-', snapshot: 'dcs-', vvSet: 'vvs-' } as const;
type ArrayNameKind = keyof typeof ArrayNamePrefixes;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** 21 free characters, then one carrying the last 2 bits (its low 4 bits are zero in canonical base64). */
const ENCODED_PATTERN = /^[A-Za-z0-9.-]{21}[AQgw]$/;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

/** A new volume id (uuid v4, lower case), as upstream's `uuid.uuid4()`. */
export function newVolumeId(): string {
  return randomUUID();
}

/** The 22-character array-safe encoding of a uuid. */
export function encodeUuid(uuid: string): string {
  if (!isUuid(uuid)) throw new TypeError(`not a uuid: ${JSON.stringify(uuid)}`);
  const b64 = Buffer.from(uuid.replace(/-/g, ''), 'hex').toString('base64');
  return b64.replace(/\+/g, '.').replace(/\//g, '-').replace(/=+$/, '');
}

/** The uuid (lower case) behind a 22-character encoding, or undefined if it is not one. */
export function decodeUuid(encoded: string): string | undefined {
  if (!ENCODED_PATTERN.test(encoded)) return undefined;
  const hex = Buffer.from(encoded.replace(/\./g, '+').replace(/-/g, '/') + '==', 'base64').toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** `dcv-<22>` for a volume, `dcs-<22>` for a snapshot. */
export function arrayVolumeName(uuid: string, isSnapshot: boolean): string {
  return (isSnapshot ? ArrayNamePrefixes.snapshot : ArrayNamePrefixes.volume) + encodeUuid(uuid);
}

/** `vvs-<22>`: the VV set the plugin creates for a volume's flash-cache policy. */
export function vvSetName(uuid: string): string {
  return ArrayNamePrefixes.vvSet + encodeUuid(uuid);
}

/** What a plugin-made array name says: its kind and the uuid of its etcd record. */
interface ParsedArrayName {
  kind: ArrayNameKind;
  id: string;
}

export function parseArrayName(name: string): ParsedArrayName | undefined {
  for (const [kind, prefix] of Object.entries(ArrayNamePrefixes) as [ArrayNameKind, string][]) {
    if (!name.startsWith(prefix)) continue;
    const id = decodeUuid(name.slice(prefix.length));
    return id === undefined ? undefined : { kind, id };
  }
  return undefined;
}

/**
 * True for a volume or snapshot name this plugin (or the Python plugin) gives on the array: `dcv-`/`dcs-` and
 * a canonical 22-character uuid encoding. Import refuses such names as already managed.
 */
export function isPluginArrayName(name: string): boolean {
  const parsed = parseArrayName(name);
  return parsed !== undefined && parsed.kind !== 'vvSet';
}

/**
 * Docker volume names accepted on Create: upstream's rule (request_validator.py), at least two characters,
 * letters and digits first, then also `_` and `-`. Stricter than Docker's own (which allows `.`), so names
 * stay usable in etcd keys, `vol/snap` Get names and array comments.
 */
// One leading character, not `[A-Za-z0-9]+`: two overlapping `+` backtrack quadratically on a long bad name.
const VOLUME_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]+$/;

export function isValidVolumeName(name: string): boolean {
  return VOLUME_NAME_PATTERN.test(name);
}

/** A Get name: `vol`, or `vol/snap` to ask for one snapshot of a volume. */
interface GetName {
  volume: string;
  snapshot?: string;
}

/** Splits a Get name; more than one `/` (or an empty part) is refused with upstream's text. */
export function parseGetName(name: string): GetName {
  const parts = name.split('/');
  if (parts.length > 2 || parts.some((p) => p.length === 0)) {
    throw new InvalidGetNameError(name);
  }
  const [volume, snapshot] = parts as [string, string | undefined];
  return snapshot === undefined ? { volume } : { volume, snapshot };
}

export class InvalidGetNameError extends VolumeRequestError {
  constructor(readonly getName: string) {
    super(`invalid volume or snapshot name ${getName}`, 'name a volume, or a snapshot of it as <volume>/<snapshot>');
  }
}
