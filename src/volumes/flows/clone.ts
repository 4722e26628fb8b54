/**
 * Clone (`-o cloneOf=<vol>`), on the source's backend, under the clone's and the source's locks:
 *   same size (online):  intent → POST /volumes/<src> {action:"createPhysicalCopy", parameters:{destVolume,
 *                        destCPG, online:true, snapCPG, tpvv/tdvv/compression}} → PUT /volumes/<dst> {comment}
 *                        (the array makes the destination, usable at once; upstream left it without comment)
 *   larger (offline):    intent → POST /volumes {dst, size, ...} → POST /volumes/<src> {action:
 *                        "createPhysicalCopy", parameters:{destVolume, online:false, priority:1}} → GET
 *                        /tasks/<id> until done
 *   then the source's VV sets (its flash cache → a new vvs- set; its QoS set) → record → intent deleted.
 */
import type { HeldLocks } from '../store/locks.js';
import { WsapiCodes, WsapiConnectionError } from '../../array/index.js';
import { deleteArrayVolume } from './array-ops.js';
import { applySets, createArrayVolume, planSets } from './create.js';
import { VolumeRequestError } from '../errors.js';
import { VolumeOperationError, describe, failedWith, hasAnyCode } from './failures.js';
import { runCreate, volumeCreateIntent, type FlowContext } from './flow.js';
import { arrayVolumeName, newVolumeId } from '../request/naming.js';
import type { CloneRequest } from '../request/options.js';
import { checkShape, createVolumeParams, optionBool, newRecord, offlineCopyParams, onlineCopyParams, volumeComment, type VolumeShape } from '../request/plan.js';
import type { StoredVolume } from '../store/records.js';

export async function createClone(ctx: FlowContext, req: CloneRequest, source: StoredVolume, locks?: HeldLocks): Promise<void> {
  const src = source.record;
  if (src.is_snap) throw new VolumeRequestError(`cloning a snapshot ${req.source} is not allowed`, 'clone the parent volume instead');
  const b = ctx.backends.require(src.backend);
  const size = req.size ?? src.size;
  if (size < src.size) {
    throw new VolumeRequestError(`clone volume size ${size} is less than source volume size ${src.size}`, `give -o size=${src.size} or more, or leave size out`);
  }
  const cpg = req.cpg ?? src.cpg ?? b.config.cpg[0];
  if (cpg === undefined) throw new VolumeRequestError(`Invalid input received: backend ${b.name} has no CPG configured`, `pass -o cpg=<cpg>`);
  const snapCpg = req.snapCpg ?? src.snap_cpg ?? cpg;
  const shape: VolumeShape = { sizeGiB: size, provisioning: src.provisioning, compression: optionBool(src.compression) };
  checkShape(shape, b.primary);
  const id = newVolumeId();
  const arrayName = arrayVolumeName(id, false);
  const sets = await planSets(b, id, optionBool(src.flash_cache), src.qos_name, false);
  const client = b.primary.client;
  const srcArray = src['3par_vol_name'];
  const comment = volumeComment(id, req.name);
  const online = size === src.size;

  await runCreate(ctx, {
    what: `Failed to clone volume ${req.source} to ${req.name} on backend ${b.name}`,
    intent: volumeCreateIntent(ctx, 'clone', { id, name: req.name, backend: b.name, arrayName }, sets),
    steps: async (undo) => {
      if (online) {
        try {
          await client.copyVolume(srcArray, arrayName, onlineCopyParams({ cpg, snapCpg, shape }, b.primary));
        } catch (err) {
          if (err instanceof WsapiConnectionError && err.outcomeUnknown) undo.push(`delete clone ${arrayName}`, () => deleteArrayVolume(client, arrayName));
          if (hasAnyCode(err, WsapiCodes.EXISTENT_VOL)) throw failedWith(`Volume (${arrayName}) already exists on array`, err, { fix: 'retry' });
          throw err;
        }
        undo.push(`delete clone ${arrayName} (stopping its copy)`, () => deleteArrayVolume(client, arrayName));
        await client.setVolumeComment(arrayName, comment);
      } else {
        await createArrayVolume(b, createVolumeParams({ arrayName, cpg, snapCpg, shape, comment }, b.primary), undo);
        const { taskid } = await client.copyVolume(srcArray, arrayName, offlineCopyParams);
        undo.push(`stop the copy into ${arrayName}`, () => client.stopOfflinePhysicalCopy(arrayName).catch(() => undefined));
        try {
          await client.waitForTask(taskid, ctx.taskWait);
        } catch (err) {
          throw new VolumeOperationError(`Failed to clone volume ${req.source} to ${req.name}: copy task ${taskid} did not complete: ${describe(err)}`, 'see the task on the array (showtask -d)', { cause: err });
        }
      }
      await applySets(b, arrayName, cpg, sets, undo);
    },
    commit: async (alsoDelete) => {
      await ctx.store.create(
        newRecord({
          id,
          displayName: req.name,
          arrayName,
          backend: b.name,
          shape,
          mountConflictDelay: req.mountConflictDelay,
          cpg,
          snapCpg,
          flashCache: sets.flashCache,
          qosName: src.qos_name,
          fsOwner: src.fsOwner,
          fsMode: src.fsMode,
          fsType: src.fs_type ?? null,
          options: req.options,
          now: ctx.now(),
        }),
        alsoDelete,
      );
    },
    recordExists: async () => (await ctx.store.getById(id)) !== undefined,
  }, locks);
}
