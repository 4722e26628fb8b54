/**
 * Remove (upstream §5 "Delete volume"), under the volume's lock (and its parent's for a snapshot, its group's
 * for a replicated volume):
 *   refused while the record lists snapshots (upstream's text)
 *   replicated: GET /system on the target's session (refused with the target's reason while it is down)
 *   intent → a scheduled snapshot: SSH removesched -f <schedule> (upstream's order; a schedule already gone is fine)
 *   → replicated: GET /remotecopygroups/<g> (must be primary), PUT {action:4}, DELETE
 *   /remotecopygroups/<g>/volumes/<v>?removeSecondaryVolume=true, then DELETE the group when empty
 *   (?keepSnap=false) or PUT {action:3} to start it again
 *   → PUT /volumesets/<qos> {action:2} → PUT /volumesets/vvs-… {action:2}, DELETE /volumesets/vvs-… (upstream
 *   left the plugin's set behind) → DELETE /volumes/<v> (404 done; 409 34 → leave every set, retry; busy →
 *   stop the copy, retry)
 *   → ONE etcd transaction: the record (+ for a snapshot, its parent's list) → intent deleted.
 */
import { WsapiConnectionError } from '../../array/index.js';
import { dismantle, reachTarget, type DismantleSpec } from './array-ops.js';
import { VolumeRecordConflictError, VolumeRequestError } from '../errors.js';
import { VolumeOperationError, failedAsUpstream } from './failures.js';
import { dropIntent, newIntent, type FlowContext } from './flow.js';
import { mountHolders } from './mount.js';
import { intentKey, type VolumeIntent } from '../store/intents.js';
import type { FirstWrite, HeldLocks } from '../store/locks.js';
import { arrayVolumeName, vvSetName } from '../request/naming.js';
import { withoutSnapshot } from '../request/plan.js';
import type { StoredVolume, VolumeRecord } from '../store/records.js';

export function notFoundForRemove(name: string): VolumeRequestError {
  return new VolumeRequestError(`Volume name to remove not found: ${name}`, 'check the name with `docker volume ls`');
}

/** Upstream kept option values as strings ('true'/'false'); this plugin as booleans. */
function hasFlashCacheOption(r: VolumeRecord): boolean {
  return r.flash_cache !== null && r.flash_cache !== undefined;
}

/** What the array holds for a record, to take it all down. */
function removeIntentOf(ctx: FlowContext, r: VolumeRecord): VolumeIntent {
  return newIntent(ctx, {
    op: 'remove',
    flow: r.is_snap ? 'snapshot' : r.rcg_info !== null ? 'replicated' : 'volume',
    id: r.id,
    name: r.display_name,
    backend: r.backend,
    arrayName: r['3par_vol_name'],
    ...(r.qos_name ? { qosSet: r.qos_name } : {}),
    // Upstream made a vvs- set for any flash-cache value, "false" included.
    ...(hasFlashCacheOption(r) && !r.qos_name ? { ownSet: vvSetName(r.id) } : {}),
    ...(r.rcg_info !== null ? { rcg: { name: r.rcg_info.local_rcg_name, created: false } } : {}),
    ...(r.snap_metadata !== null ? { parent: r.snap_metadata.parent_name } : {}),
    ...(scheduleOf(r) === undefined ? {} : { schedule: scheduleOf(r)! }),
  });
}

/** The schedule a scheduled snapshot's record names (upstream kept it in `snap_metadata.snap_schedule`). */
function scheduleOf(r: VolumeRecord): VolumeIntent['schedule'] {
  const s = r.snap_metadata?.snap_schedule;
  if (!r.has_schedule || s === undefined || r.snap_metadata === null) return undefined;
  return { name: s.schedule_name, prefix: s.snap_name_prefix, parentArrayName: arrayVolumeName(r.snap_metadata.parent_id, false) };
}

/** The array teardown an intent describes: a remove deletes an emptied group; a rolled-back create only its own. */
export function dismantleSpecOf(intent: VolumeIntent, requirePrimary: boolean): DismantleSpec {
  return {
    arrayName: intent.arrayName,
    name: intent.name,
    ...(intent.qosSet === undefined ? {} : { qosSet: intent.qosSet }),
    ...(intent.ownSet === undefined ? {} : { ownSet: intent.ownSet }),
    ...(intent.rcg === undefined ? {} : { rcg: { name: intent.rcg.name, deleteIfEmpty: intent.op === 'remove' || intent.rcg.created } }),
    // A rolled-back create removes its schedule only when it proves to be its own (repair.ts).
    ...(intent.schedule === undefined || intent.op !== 'remove' ? {} : { schedule: intent.schedule.name }),
    requirePrimary,
  };
}

/**
 * The intent of removing `stored`, to write with the locks (`FirstWrite`) when nothing stands in the way: a Remove
 * then costs two disk syncs (locks + intent, record + intent + locks). Not for a replicated volume: its target must
 * answer before any intent is written.
 */
export function removeIntentWithLocks(ctx: FlowContext, stored: StoredVolume): { intent: VolumeIntent; firstWrite: FirstWrite } | undefined {
  const r = stored.record;
  if (r.snapshots.length > 0 || r.rcg_info !== null || mountHolders(r).length > 0) return undefined;
  const intent = removeIntentOf(ctx, r);
  return { intent, firstWrite: { ifModRevision: ctx.store.guardOf(stored), put: ctx.intents.entry(intent) } };
}

/**
 * Removes a volume or snapshot whose record is `stored`; the caller holds the locks (`locks`: deleted in the
 * record's transaction when given). `written`: the intent already written with the locks (removeIntentWithLocks).
 */
export async function removeStored(ctx: FlowContext, stored: StoredVolume, locks?: HeldLocks, written?: VolumeIntent): Promise<void> {
  const r = stored.record;
  if (r.snapshots.length > 0) {
    throw new VolumeRequestError(`Err: Volume ${r.display_name} has one or more child snapshots - volume cannot be deleted!`, `remove its snapshots first (${r.snapshots.map((s) => s.name).join(', ')})`);
  }
  const b = ctx.backends.require(r.backend);
  // Its secondary on the target goes with it: refused while the target is down, rather than left behind there.
  if (r.rcg_info !== null) await reachTarget(ctx.backends, r.backend);
  const what = `Failed to remove volume ${r.display_name} on backend ${b.name}`;
  const intent = written ?? removeIntentOf(ctx, r);
  if (written === undefined) {
    try {
      await ctx.intents.write(intent);
    } catch (err) {
      throw failedAsUpstream(what, err);
    }
  }
  try {
    await dismantle(b, dismantleSpecOf(intent, true), ctx.logger);
  } catch (err) {
    // A definite refusal changed nothing worth finishing later; a lost answer is left to repair().
    if (!(err instanceof WsapiConnectionError && err.outcomeUnknown)) await dropIntent(ctx, intent);
    // Upstream's own texts (role, busy) are already whole; an array's bare answer gets upstream's form.
    throw err instanceof VolumeRequestError || err instanceof VolumeOperationError ? err : failedAsUpstream(what, err);
  }
  try {
    // The record and the intent go in one transaction: the removal is complete in one round trip.
    await deleteRecord(ctx, stored, intent, locks);
  } catch (err) {
    throw failedAsUpstream(what, err, 'check etcd; the plugin finishes the removal in the background as soon as etcd answers (or at its next start)');
  }
  ctx.logger.info({ volume: r.display_name, backend: b.name, arrayName: r['3par_vol_name'] }, 'volume removed');
}

/** Deletes the record; a snapshot also leaves its parent's list, in the same transaction. */
export async function deleteRecord(ctx: FlowContext, stored: StoredVolume, intent?: VolumeIntent, locks?: HeldLocks): Promise<void> {
  const alsoDelete = [...(intent === undefined ? [] : [intentKey(intent.id)]), ...(locks?.keys ?? [])];
  let current = stored;
  for (let attempt = 1; ; attempt++) {
    const parentId = current.record.snap_metadata?.parent_id;
    const parent = parentId === undefined ? undefined : await ctx.store.getById(parentId);
    try {
      if (parent === undefined) await ctx.store.commit({ remove: [current], alsoDelete });
      else await ctx.store.commit({ remove: [current], update: [{ record: withoutSnapshot(parent.record, current.record.id), modRevision: parent.modRevision }], alsoDelete });
      locks?.deleted();
      return;
    } catch (err) {
      if (!(err instanceof VolumeRecordConflictError) || attempt >= 5) throw err;
      const again = await ctx.store.getById(current.record.id);
      if (again === undefined) {
        if (intent !== undefined) await dropIntent(ctx, intent);
        return;
      }
      current = again;
    }
  }
}
