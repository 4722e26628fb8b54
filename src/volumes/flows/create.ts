/**
 * Create of a plain volume (upstream §5 "Create volume"), and the array steps clones share:
 *   [GET /qos/vvset:<q>, GET /volumesets/<q>]            checks only, before anything is written
 *   intent → POST /volumes {name dcv-…, cpg, snapCPG, sizeMiB, comment, tpvv/tdvv/compression}
 *   flash-cache=true:  POST /volumesets {name vvs-…, domain, setmembers:[dcv-…]}, PUT /volumesets/vvs-… {flashCachePolicy:1}
 *   qos-name=<q>:      [PUT /volumesets/<q> {flashCachePolicy}]  (flash-cache given and unlike the set's, as upstream)
 *                      PUT /volumesets/<q> {action:1, setmembers:[dcv-…]}
 *   → record → intent deleted.
 * flash-cache=false makes no VV set (upstream's truthy "false" made one).
 */
import type { HeldLocks } from '../store/locks.js';
import { FlashCachePolicies, WsapiCodes, WsapiConnectionError, type CreateVolumeParams, type WsapiClient } from '../../array/index.js';
import { cpgDomain, type ReadyBackend } from '../backends/backends.js';
import { VolumeRequestError } from '../errors.js';
import { clientText, failedWith, hasAnyCode } from './failures.js';
import { runCreate, volumeCreateIntent, type FlowContext } from './flow.js';
import { arrayVolumeName, newVolumeId, vvSetName } from '../request/naming.js';
import type { CreateVolumeRequest } from '../request/options.js';
import { checkFlashCache, checkShape, createVolumeParams, fsOwnerText, newRecord, volumeComment, type VolumeShape } from '../request/plan.js';
import { deleteArrayVolume, ignoringMissing } from './array-ops.js';
import type { Undo } from './undo.js';
import type { VolumeIntent } from '../store/intents.js';

export function createWhat(name: string, backend: string): string {
  return `Failed to create volume ${name} on backend ${backend}`;
}

/** The CPG of a new volume: `-o cpg`, else the backend's first. */
function volumeCpg(b: ReadyBackend, requested: string | null): string {
  const cpg = requested ?? b.config.cpg[0];
  if (cpg === undefined) {
    throw new VolumeRequestError(`Invalid input received: backend ${b.name} has no CPG configured`, `set hpe3par_cpg in [${b.name}] of hpe.conf, or pass -o cpg=<cpg>`);
  }
  return cpg;
}

/** The VV sets a new volume joins. */
interface SetPlan {
  flashCache: boolean | null;
  /** An existing set (qos-name) to join. */
  qosSet?: string;
  /** The qos-name set's flash cache policy to set first (flash-cache given and different), and its policy before. */
  qosSetPolicy?: { policy: number; before: number | undefined };
  /** The plugin's own `vvs-` set, made for flash-cache=true. */
  ownSet?: string;
}

const FLASH_CACHE_FIX = 'check the flash cache of the array (createflashcache), or create the volume without -o flash-cache';

/**
 * Reads what the sets need before anything is written. A qos-name must be a VV set with a QoS rule. A volume
 * in a QoS set takes that set's flash cache policy: unset, it is recorded from the set (as upstream). Given
 * on a create (`applyPolicy`), it is applied to the set as upstream did — flash cache is a property of the
 * whole set, so this changes it for the set's other members too. A clone keeps the set as it is.
 */
export async function planSets(b: ReadyBackend, id: string, flashCache: boolean | null, qosName: string | null, applyPolicy: boolean): Promise<SetPlan> {
  if (flashCache === true) checkFlashCache(b.primary);
  if (qosName === null) return flashCache === true ? { flashCache, ownSet: vvSetName(id) } : { flashCache };
  const client = b.primary.client;
  let policy: number | undefined;
  try {
    await client.getQosRule(qosName);
    policy = (await client.getVolumeSet(qosName)).flashCachePolicy;
  } catch (err) {
    throw failedWith(`Failed to retrieve QOS from VV-Set ${qosName}: ${clientText(err)}`, err, {
      fix: `create the VV set ${qosName} with a QoS rule on the array, or correct -o qos-name`,
    });
  }
  const setEnabled = policy === FlashCachePolicies.ENABLED;
  if (flashCache === null) return { flashCache: setEnabled ? true : null, qosSet: qosName };
  if (applyPolicy && flashCache !== setEnabled) {
    checkFlashCache(b.primary);
    const wanted = flashCache ? FlashCachePolicies.ENABLED : FlashCachePolicies.DISABLED;
    return { flashCache, qosSet: qosName, qosSetPolicy: { policy: wanted, before: policy } };
  }
  return { flashCache, qosSet: qosName };
}

/** POST /volumes; the undo is registered even when the answer was lost (the volume may exist). */
export async function createArrayVolume(b: ReadyBackend, params: CreateVolumeParams, undo: Undo): Promise<void> {
  const client = b.primary.client;
  try {
    await client.createVolume(params);
  } catch (err) {
    if (err instanceof WsapiConnectionError && err.outcomeUnknown) undo.push(`delete volume ${params.name}`, () => deleteArrayVolume(client, params.name));
    if (hasAnyCode(err, WsapiCodes.EXISTENT_VOL)) {
      throw failedWith(`Volume (${params.name}) already exists on array`, err, { fix: `an array volume already has this name; remove it on array ${b.primary.array} or retry` });
    }
    throw err;
  }
  undo.push(`delete volume ${params.name}`, () => deleteArrayVolume(client, params.name));
}

/**
 * Joins the planned VV sets; each step registers its undo. Failures read as upstream's: a set that cannot be
 * made or joined gives hpe3parclient's text alone, a policy that cannot be set `Driver: Failed to set flash
 * cache policy - <text>`.
 */
export async function applySets(b: ReadyBackend, arrayName: string, cpg: string, sets: SetPlan, undo: Undo): Promise<void> {
  const client = b.primary.client;
  if (sets.ownSet !== undefined) {
    const own = sets.ownSet;
    try {
      const domain = await cpgDomain(b.primary, cpg);
      await client.createVolumeSet({ name: own, ...(domain === undefined ? {} : { domain }), setmembers: [arrayName] });
    } catch (err) {
      throw failedWith(clientText(err), err, { what: `creating VV set ${own} with ${arrayName} for flash cache`, fix: FLASH_CACHE_FIX });
    }
    undo.push(`delete VV set ${own}`, async () => {
      await ignoringMissing(() => client.removeVolumesFromSet(own, [arrayName]));
      await ignoringMissing(() => client.deleteVolumeSet(own));
    });
    await setPolicy(client, own, FlashCachePolicies.ENABLED);
  }
  if (sets.qosSet !== undefined) {
    const qos = sets.qosSet;
    const change = sets.qosSetPolicy;
    if (change !== undefined) {
      await setPolicy(client, qos, change.policy);
      const before = change.before;
      if (before !== undefined) undo.push(`restore the flash cache policy of VV set ${qos}`, () => client.setFlashCachePolicy(qos, before));
    }
    try {
      await client.addVolumesToSet(qos, [arrayName]);
    } catch (err) {
      throw failedWith(clientText(err), err, { what: `adding volume ${arrayName} to VV-Set ${qos}`, fix: `check the VV set ${qos} on array ${b.primary.array}` });
    }
    undo.push(`leave VV set ${qos}`, () => ignoringMissing(() => client.removeVolumesFromSet(qos, [arrayName])));
  }
}

async function setPolicy(client: WsapiClient, set: string, policy: number): Promise<void> {
  try {
    await client.setFlashCachePolicy(set, policy);
  } catch (err) {
    throw failedWith(`Driver: Failed to set flash cache policy - ${clientText(err)}`, err, { what: `VV set ${set}`, fix: FLASH_CACHE_FIX });
  }
}

/** What a plain Create decided before its array steps: the backend, the volume's ids and settings, its sets and intent. */
export interface PlainCreatePlan {
  b: ReadyBackend;
  cpg: string;
  snapCpg: string;
  shape: VolumeShape;
  id: string;
  arrayName: string;
  sets: SetPlan;
  intent: VolumeIntent;
}

/** Checks the request against its backend and plans the volume; reads the array only for a qos-name. */
async function planPlainVolume(ctx: FlowContext, req: CreateVolumeRequest): Promise<PlainCreatePlan> {
  const b = ctx.backends.require(req.backend);
  const cpg = volumeCpg(b, req.cpg);
  const snapCpg = req.snapCpg ?? b.config.snapCpg[0] ?? cpg;
  const shape: VolumeShape = { sizeGiB: req.size, provisioning: req.provisioning, compression: req.compression };
  checkShape(shape, b.primary);
  const id = newVolumeId();
  const arrayName = arrayVolumeName(id, false);
  const sets = await planSets(b, id, req.flashCache, req.qosName, true);
  const intent = volumeCreateIntent(ctx, 'volume', { id, name: req.name, backend: b.name, arrayName }, sets);
  return { b, cpg, snapCpg, shape, id, arrayName, sets, intent };
}

/**
 * The plan of a plain Create made before its lock, so that its intent can be written in the lock's own
 * transaction (one etcd write and one disk sync less): only when planning reads nothing on the array (no
 * qos-name), as a Create of a name that turns out to exist must not have touched the array. Everything that can
 * refuse the request is checked here, before the intent may be written.
 */
export async function planPlainVolumeBeforeLock(ctx: FlowContext, req: CreateVolumeRequest): Promise<PlainCreatePlan | undefined> {
  return req.qosName === null ? planPlainVolume(ctx, req) : undefined;
}

/**
 * `planned`: made by planPlainVolumeBeforeLock, with whether its intent was written with the lock
 * (HeldLocks.firstWritten).
 */
export async function createPlainVolume(ctx: FlowContext, req: CreateVolumeRequest, locks?: HeldLocks, planned?: { plan: PlainCreatePlan; written: boolean }): Promise<void> {
  const { b, cpg, snapCpg, shape, id, arrayName, sets, intent } = planned?.plan ?? (await planPlainVolume(ctx, req));
  const record = newRecord({
    id,
    displayName: req.name,
    arrayName,
    backend: b.name,
    shape,
    mountConflictDelay: req.mountConflictDelay,
    cpg,
    snapCpg,
    flashCache: sets.flashCache,
    qosName: req.qosName,
    fsOwner: fsOwnerText(req.fsOwner),
    fsMode: req.fsMode,
    fsType: req.fsType,
    now: ctx.now(),
  });
  await runCreate(ctx, {
    what: createWhat(req.name, b.name),
    intent,
    intentWritten: planned?.written ?? false,
    steps: async (undo) => {
      await createArrayVolume(b, createVolumeParams({ arrayName, cpg, snapCpg, shape, comment: volumeComment(id, req.name) }, b.primary), undo);
      await applySets(b, arrayName, cpg, sets, undo);
    },
    commit: async (alsoDelete) => {
      await ctx.store.create(record, alsoDelete);
    },
    recordExists: async () => (await ctx.store.getById(id)) !== undefined,
  }, locks);
}
