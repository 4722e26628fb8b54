/** What creating a volume, a snapshot and an online copy share: the provisioning asked for, and adding the record. */
import { randomUUID } from 'node:crypto';
import { ProvisioningTypes, WsapiCodes, type VolumePolicies } from '../array/index.js';
import { nextId, volumeIdInUse, type SimContext } from './context.js';
import { SimError, badRequest } from './errors.js';
import type { SimVolume } from './state.js';
import { optionalBool, type Body } from './validate.js';

const defaultPolicies: VolumePolicies = { staleSS: true, oneHost: false, zeroDetect: false, system: false, caching: true };

export type ProvisioningFields = Pick<SimVolume, 'provisioningType' | 'compression' | 'dedup'>;

/** `tpvv`/`tdvv`/`compression` (3PAR, feature-gated by build) or `tpvv`/`reduce` (Primera). */
export function provisioningFrom(ctx: SimContext, body: Body, sizeMiB: number): ProvisioningFields {
  const tpvv = optionalBool(body, 'tpvv');
  const tdvv = optionalBool(body, 'tdvv');
  const compression = optionalBool(body, 'compression');
  const reduce = optionalBool(body, 'reduce');
  if (ctx.features.primera) {
    for (const key of ['tdvv', 'compression'] as const) {
      if (body[key] !== undefined) throw badRequest(WsapiCodes.INV_INPUT, `invalid input: unknown parameter '${key}' (Primera: use reduce)`, key);
    }
    if ((tpvv === true) === (reduce === true)) throw badRequest(WsapiCodes.INV_INPUT_ONE_REQUIRED, 'invalid input: exactly one of tpvv and reduce is required', 'tpvv,reduce');
    return reduce === true
      ? { provisioningType: ProvisioningTypes.TDVV, compression: true, dedup: true }
      : { provisioningType: ProvisioningTypes.TPVV, compression: false, dedup: false };
  }
  if (reduce !== undefined) throw badRequest(WsapiCodes.INV_INPUT, "invalid input: unknown parameter 'reduce'", 'reduce');
  if (tdvv !== undefined && !ctx.features.dedup) throw badRequest(WsapiCodes.INV_INPUT, "invalid input: unknown parameter 'tdvv' (needs a newer WSAPI build)", 'tdvv');
  if (compression !== undefined && !ctx.features.compression) {
    throw badRequest(WsapiCodes.INV_INPUT, "invalid input: unknown parameter 'compression' (needs WSAPI 1.6)", 'compression');
  }
  if (tpvv === true && tdvv === true) throw badRequest(WsapiCodes.INV_INPUT_PARAM_CONFLICT, 'invalid input: tpvv and tdvv cannot both be true', 'tpvv,tdvv');
  if (compression === true) {
    if (tpvv !== true && tdvv !== true) throw badRequest(WsapiCodes.INV_INPUT_PARAM_CONFLICT, 'invalid input: compression needs a thin (tpvv) or dedup (tdvv) volume', 'compression');
    if (sizeMiB < 16384) throw badRequest(WsapiCodes.INV_INPUT_EXCEEDS_RANGE, 'invalid input: a compressed volume must be at least 16384 MiB', 'sizeMiB');
  }
  return {
    provisioningType: tdvv === true ? ProvisioningTypes.TDVV : tpvv === true ? ProvisioningTypes.TPVV : ProvisioningTypes.FULL,
    compression: compression === true,
    dedup: tdvv === true,
  };
}

function wwnFor(id: number, systemId: number): string {
  return `60002AC${id.toString(16).padStart(16, '0')}${systemId.toString(16).padStart(9, '0')}`.toUpperCase();
}

export type NewVolume = Omit<SimVolume, 'id' | 'uuid' | 'wwn' | 'baseId' | 'creationTimeSec' | 'metadata' | 'policies'> & {
  id?: number;
  baseId?: number;
  policies?: VolumePolicies;
  expirationHours?: number;
  retentionHours?: number;
};

/** Adds the record (ids, WWN, times) and its sparse file; no checks. */
export function addVolume(ctx: SimContext, v: NewVolume): SimVolume {
  const id = v.id ?? nextFreeVolumeId(ctx);
  const now = Math.floor(ctx.clock.now() / 1000);
  const { expirationHours, retentionHours, ...fields } = v;
  const record: SimVolume = {
    ...fields,
    id,
    uuid: randomUUID(),
    wwn: wwnFor(id, ctx.state.systemId),
    baseId: v.baseId ?? id,
    policies: { ...defaultPolicies, ...v.policies },
    creationTimeSec: now,
    metadata: {},
  };
  if (expirationHours !== undefined) record.expirationTimeSec = now + expirationHours * 3600;
  if (retentionHours !== undefined) record.retentionTimeSec = now + retentionHours * 3600;
  try {
    ctx.files.create(record.name, record.sizeMiB);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SimError(400, WsapiCodes.NO_SPACE, `the simulator cannot back ${record.sizeMiB} MiB with a file here (${code ?? 'error'})`);
  }
  ctx.state.volumes.set(record.name, record);
  ctx.state.volumeIds.add(record.id);
  ctx.volumeChanged(record.name);
  return record;
}

function nextFreeVolumeId(ctx: SimContext): number {
  let id = nextId(ctx, 'volume');
  while (volumeIdInUse(ctx, id)) id = nextId(ctx, 'volume');
  return id;
}
