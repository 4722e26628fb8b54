/**
 * Snapshot (`-o virtualCopyOf=<vol>`), under the snapshot's and the parent's locks:
 *   GET /tasks                                  refuse while a task (a copy) runs on the parent
 *   [schedule: SSH showsched <name>             refuse a name the array has]
 *   intent → [schedule: SSH createsched "createsv -f [-exp <n>h ][-retain <n>h ]<prefix>.@y@@m@@d@@H@@M@@S@ <parent
 *            dcv-…>" "<freq>" <name>, as upstream, before the snapshot]
 *   → POST /volumes/<parent dcv-…> {action:"createSnapshot", parameters:{name dcs-…, comment,
 *            expirationHours?, retentionHours?}}
 *   → ONE etcd transaction: the snapshot's record (+ `has_schedule`, `snap_metadata.snap_schedule`) + the parent's
 *     `snapshots` list → intent deleted.
 * Upstream's active-task check never matched (it passed `*<dcv>` to an exact-name match); this one does.
 */
import type { HeldLocks } from '../store/locks.js';
import { TaskStatuses, WsapiCodes } from '../../array/index.js';
import { deleteArrayVolume } from './array-ops.js';
import { VolumeRecordConflictError, VolumeRequestError } from '../errors.js';
import { VolumeOperationError, hasAnyCode, isStatus, failedAsUpstream } from './failures.js';
import { newIntent, runCreate, type FlowContext } from './flow.js';
import { arrayVolumeName, newVolumeId } from '../request/naming.js';
import type { SnapshotRequest } from '../request/options.js';
import { newRecord, optionBool, scheduleNameOf, scheduleSpec, snapScheduleOf, snapshotComment, snapshotMetadata, withSnapshotEntry } from '../request/plan.js';
import { mayHaveRun, removeUnclaimedSchedule, requireFreeScheduleName, scheduleFailed, scheduleOfIntent } from './schedule.js';
import type { StoredVolume } from '../store/records.js';

/** Re-reads the parent when a concurrent change (a mount) moved its revision; bounded. */
const COMMIT_ATTEMPTS = 5;

export function sourceMissing(source: string): VolumeRequestError {
  return new VolumeRequestError(`source volume: ${source} does not exist`, `check the name with \`docker volume ls\``);
}

export async function createSnapshotVolume(ctx: FlowContext, req: SnapshotRequest, parent: StoredVolume, locks?: HeldLocks): Promise<void> {
  const p = parent.record;
  if (p.is_snap) {
    throw new VolumeRequestError(`source volume: ${req.source} is a snapshot, creating hierarchy of snapshots is not allowed.`, 'snapshot the parent volume instead');
  }
  if (p.snapshots.some((s) => s.name === req.name)) throw new VolumeRequestError(`snapshot ${req.name} already exists`, 'choose another name');
  const b = ctx.backends.require(p.backend);
  const client = b.primary.client;
  const parentArray = p['3par_vol_name'];
  const what = `Failed to create snapshot ${req.name} of volume ${req.source} on backend ${b.name}`;

  let busy: boolean;
  try {
    busy = (await client.getTasks()).some((t) => t.status === TaskStatuses.ACTIVE && (t.name === parentArray || t.name.endsWith(` ${parentArray}`)));
  } catch (err) {
    throw failedAsUpstream(what, err, 'check the array');
  }
  if (busy) {
    throw new VolumeOperationError(
      `source volume: ${req.source} / ${parentArray} is having some active task running on array`,
      'wait for the task (e.g. the copy of a new clone) to finish, then retry',
      { retryable: true },
    );
  }

  // The SSH settings and the schedule's name are checked before anything is made.
  const cli = req.schedule === undefined ? undefined : b.cli.get();
  const schedule = req.schedule === undefined ? undefined : scheduleSpec(req.schedule, scheduleNameOf(req.schedule.name, ctx.now()), parentArray);
  if (cli !== undefined && schedule !== undefined) await requireFreeScheduleName(cli, schedule, b, req.name);

  const id = newVolumeId();
  const arrayName = arrayVolumeName(id, true);
  const meta = snapshotMetadata({
    id,
    name: req.name,
    parent: p,
    expirationHours: req.expirationHours,
    retentionHours: req.retentionHours,
    ...(schedule === undefined ? {} : { schedule: snapScheduleOf(schedule) }),
  });
  const record = newRecord({
    id,
    displayName: req.name,
    arrayName,
    backend: p.backend,
    shape: { sizeGiB: p.size, provisioning: p.provisioning, compression: optionBool(p.compression) },
    mountConflictDelay: req.mountConflictDelay,
    cpg: p.cpg,
    snapCpg: p.snap_cpg,
    fsOwner: p.fsOwner,
    fsMode: p.fsMode,
    fsType: p.fs_type ?? null,
    snapMetadata: meta,
    now: ctx.now(),
  });

  await runCreate(ctx, {
    what,
    intent: newIntent(ctx, {
      op: 'create',
      flow: 'snapshot',
      id,
      name: req.name,
      backend: b.name,
      arrayName,
      parent: req.source,
      ...(schedule === undefined ? {} : { schedule: scheduleOfIntent(schedule) }),
    }),
    steps: async (undo) => {
      if (cli !== undefined && schedule !== undefined) {
        try {
          await cli.createSchedule(schedule);
        } catch (err) {
          if (mayHaveRun(err)) undo.push(`remove schedule ${schedule.scheduleName} if made`, () => removeUnclaimedSchedule(cli, scheduleOfIntent(schedule), p));
          throw scheduleFailed('create', err, { backend: b.name, volume: req.name });
        }
        undo.push(`remove schedule ${schedule.scheduleName}`, () => cli.removeSchedule(schedule.scheduleName));
      }
      try {
        await client.createSnapshot(parentArray, arrayName, {
          comment: snapshotComment(p, req.name),
          ...(req.expirationHours === null ? {} : { expirationHours: req.expirationHours }),
          ...(req.retentionHours === null ? {} : { retentionHours: req.retentionHours }),
        });
      } catch (err) {
        if (hasAnyCode(err, WsapiCodes.EXISTENT_VOL)) throw new VolumeRequestError(`snapshot ${req.name} already exists`, 'choose another name');
        if (isStatus(err, 404)) {
          throw new VolumeOperationError(`source volume: ${req.source} / ${parentArray} does not exist on array ${b.primary.array}`, 'the array volume was removed outside the plugin; remove the Docker volume', { cause: err });
        }
        throw err;
      }
      undo.push(`delete snapshot ${arrayName}`, () => deleteArrayVolume(client, arrayName));
    },
    commit: async (alsoDelete) => {
      let current: StoredVolume = parent;
      for (let attempt = 1; ; attempt++) {
        try {
          await ctx.store.commit({ create: [record], update: [{ record: withSnapshotEntry(current.record, meta), modRevision: current.modRevision }], alsoDelete });
          return;
        } catch (err) {
          if (!(err instanceof VolumeRecordConflictError) || err.volumeName !== p.display_name || attempt >= COMMIT_ATTEMPTS) throw err;
          const again = await ctx.store.getById(p.id);
          if (again === undefined) throw sourceMissing(req.source);
          current = again;
        }
      }
    },
    recordExists: async () => (await ctx.store.getById(id)) !== undefined,
  }, locks);
}
