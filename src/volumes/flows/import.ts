/**
 * Import (`-o importVol=<array name>`): bring an existing array volume or snapshot under the plugin.
 *   GET /volumes/<ref>; GET /vluns?query="volumeName EQ <ref>" (refused when exported);
 *   GET /remotecopygroups (refused when replicated)
 *   intent → PUT /volumes/<ref> {newName: dcv-…|dcs-…, comment, snapCPG?} → record (a snapshot also joins its
 *   parent's list, in the same transaction) → intent deleted. Size, provisioning, compression and CPGs come
 *   from the array. Rolling back renames the volume back and restores its comment.
 */
import { WsapiConnectionError, type Volume } from '../../array/index.js';
import { ignoringMissing } from './array-ops.js';
import { VolumeRecordConflictError, VolumeRequestError } from '../errors.js';
import { VolumeOperationError, describe, isStatus } from './failures.js';
import { newIntent, runCreate, type FlowContext } from './flow.js';
import { arrayVolumeName, isPluginArrayName, newVolumeId, parseArrayName } from '../request/naming.js';
import type { ImportRequest } from '../request/options.js';
import { importedShape, isVirtualCopy, newRecord, snapshotComment, snapshotMetadata, volumeComment, withSnapshotEntry } from '../request/plan.js';
import type { StoredVolume, VolumeRecord } from '../store/records.js';

export async function importVolume(ctx: FlowContext, req: ImportRequest): Promise<void> {
  const ref = req.existingName;
  if (ref.startsWith('dcv-') || ref.startsWith('dcs-') || isPluginArrayName(ref)) {
    throw new VolumeRequestError(`target: ${ref} is already in-use`, 'it is already managed by a Docker volume plugin; use that Docker volume');
  }
  const b = ctx.backends.require(req.backend);
  const client = b.primary.client;
  const what = `Failed to import ${ref} as volume ${req.name} on backend ${b.name}`;

  let vol: Volume;
  try {
    vol = await client.getVolume(ref);
  } catch (err) {
    if (isStatus(err, 404) || isStatus(err, 400)) {
      throw new VolumeRequestError(`Volume:${ref} does not exists Error: ${describe(err)}`, `check the name with showvv on array ${b.primary.array}`);
    }
    throw new VolumeOperationError(`${what}: ${describe(err)}`, 'check the array', { cause: err });
  }
  try {
    if ((await client.getVolumeVluns(ref)).length > 0) {
      throw new VolumeRequestError(
        `Manage volume failed Error: Failed to manage volume/snapshot because its attached:Managing volume ${ref} failed because it is attached.`,
        `unexport the volume on the array first (removevlun ${ref} ...)`,
      );
    }
    if ((await client.getRemoteCopyGroups()).some((g) => g.volumes.some((v) => v.localVolumeName === ref))) {
      throw new VolumeRequestError('ERROR: Volume associated with a replication group cannot be imported', `remove ${ref} from its remote copy group first`);
    }
  } catch (err) {
    if (err instanceof VolumeRequestError) throw err;
    throw new VolumeOperationError(`${what}: ${describe(err)}`, 'check the array', { cause: err });
  }

  const snapshot = isVirtualCopy(vol);
  let parent: StoredVolume | undefined;
  if (snapshot) {
    const parsed = vol.copyOf === undefined ? undefined : parseArrayName(vol.copyOf);
    parent = parsed === undefined || parsed.kind !== 'volume' ? undefined : await ctx.store.getById(parsed.id);
    if (parent === undefined) {
      throw new VolumeRequestError(`Manage snapshot failed because parent volume: ${vol.copyOf ?? '?'} is unmanaged.`, 'import the parent volume first');
    }
  }

  const id = newVolumeId();
  const arrayName = arrayVolumeName(id, snapshot);
  const shape = importedShape(vol);
  const cpg = vol.userCPG ?? null;
  const snapCpg = vol.snapCPG ?? vol.userCPG ?? null;
  const meta = parent === undefined ? null : snapshotMetadata({ id, name: req.name, parent: parent.record, expirationHours: null, retentionHours: null });
  const record: VolumeRecord = newRecord({
    id,
    displayName: req.name,
    arrayName,
    backend: b.name,
    shape,
    mountConflictDelay: req.mountConflictDelay,
    cpg,
    snapCpg,
    fsOwner: parent?.record.fsOwner ?? null,
    fsMode: parent?.record.fsMode ?? null,
    options: req.options,
    snapMetadata: meta,
    now: ctx.now(),
  });
  const comment = parent === undefined ? volumeComment(id, req.name) : snapshotComment(parent.record, req.name);

  await runCreate(ctx, {
    what,
    intent: newIntent(ctx, {
      op: 'create',
      flow: 'import',
      id,
      name: req.name,
      backend: b.name,
      arrayName,
      importedFrom: { name: ref, ...(vol.comment === undefined ? {} : { comment: vol.comment }) },
      ...(parent === undefined ? {} : { parent: parent.record.display_name }),
    }),
    steps: async (undo) => {
      const setSnapCpg = !snapshot && vol.snapCPG === undefined && vol.userCPG !== undefined;
      const renameBack = () => ignoringMissing(() => client.modifyVolume(arrayName, { newName: ref, comment: vol.comment ?? '' }));
      try {
        await client.modifyVolume(ref, { newName: arrayName, comment, ...(setSnapCpg ? { snapCPG: vol.userCPG } : {}) });
      } catch (err) {
        if (err instanceof WsapiConnectionError && err.outcomeUnknown) undo.push(`rename ${arrayName} back to ${ref}`, renameBack);
        throw err;
      }
      undo.push(`rename ${arrayName} back to ${ref}`, renameBack);
    },
    commit: async () => {
      if (parent === undefined || meta === null) {
        await ctx.store.create(record);
        return;
      }
      let current = parent;
      for (let attempt = 1; ; attempt++) {
        try {
          await ctx.store.commit({ create: [record], update: [{ record: withSnapshotEntry(current.record, meta), modRevision: current.modRevision }] });
          return;
        } catch (err) {
          if (!(err instanceof VolumeRecordConflictError) || err.volumeName !== current.record.display_name || attempt >= 5) throw err;
          const again = await ctx.store.getById(current.record.id);
          if (again === undefined) throw err;
          current = again;
        }
      }
    },
    recordExists: async () => (await ctx.store.getById(id)) !== undefined,
  });
}
