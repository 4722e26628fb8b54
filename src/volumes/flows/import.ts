/**
 * Import (`-o importVol=<array name>`): bring an existing array volume or snapshot under the plugin.
 *   GET /volumes/<ref>; GET /vluns?query="volumeName EQ <ref>" (refused when exported);
 *   GET /remotecopygroups (refused when replicated)
 *   intent → PUT /volumes/<ref> {newName: dcv-…|dcs-…, comment, snapCPG?} → record (a snapshot also joins its
 *   parent's list, in the same transaction) → intent deleted. Size, provisioning, compression and CPGs come
 *   from the array. Rolling back renames the volume back and restores its comment.
 */
import type { HeldLocks } from '../store/locks.js';
import { WsapiConnectionError, type Volume, type WsapiClient } from '../../array/index.js';
import type { ReadyBackend } from '../backends/backends.js';
import { ignoringMissing } from './array-ops.js';
import { VolumeRecordConflictError, VolumeRequestError } from '../errors.js';
import { clientText, failedWith, isStatus, failedAsUpstream } from './failures.js';
import { newIntent, runCreate, type FlowContext } from './flow.js';
import { arrayVolumeName, isPluginArrayName, newVolumeId, parseArrayName } from '../request/naming.js';
import type { ImportRequest } from '../request/options.js';
import { importedShape, isVirtualCopy, newRecord, snapshotComment, snapshotMetadata, volumeComment, withSnapshotEntry } from '../request/plan.js';
import type { VolumeIntent } from '../store/intents.js';
import type { SnapshotMetadata, StoredVolume, VolumeRecord } from '../store/records.js';
import type { Undo } from './undo.js';

export async function importVolume(ctx: FlowContext, req: ImportRequest, locks?: HeldLocks): Promise<void> {
  const ref = req.existingName;
  refuseManagedName(ref);
  const b = ctx.backends.require(req.backend);
  const client = b.primary.client;
  const what = `Failed to import ${ref} as volume ${req.name} on backend ${b.name}`;
  const vol = await readArrayVolume(b, ref, what);
  await refuseExportedOrReplicated(client, ref, what);
  const parent = isVirtualCopy(vol) ? await managedParent(ctx, vol) : undefined;
  const plan = planImport(ctx, req, b.name, vol, parent);

  await runCreate(ctx, {
    what,
    intent: importIntent(ctx, req, b.name, vol, plan, parent),
    steps: (undo) => renameOnArray(client, ref, vol, plan, undo),
    commit: (alsoDelete) => commitImport(ctx, plan, parent, alsoDelete),
    recordExists: async () => (await ctx.store.getById(plan.id)) !== undefined,
  }, locks);
}

/** What the imported volume becomes: its new names, comment and record. */
interface ImportPlan {
  id: string;
  arrayName: string;
  snapshot: boolean;
  comment: string;
  record: VolumeRecord;
  /** The snapshot's entry in its parent's list; null for a volume. */
  meta: SnapshotMetadata | null;
}

function refuseManagedName(ref: string): void {
  if (ref.startsWith('dcv-') || ref.startsWith('dcs-') || isPluginArrayName(ref)) {
    throw new VolumeRequestError(`target: ${ref} is already in-use`, 'it is already managed by a Docker volume plugin; use that Docker volume');
  }
}

async function readArrayVolume(b: ReadyBackend, ref: string, what: string): Promise<Volume> {
  try {
    return await b.primary.client.getVolume(ref);
  } catch (err) {
    if (isStatus(err, 404) || isStatus(err, 400)) {
      throw failedWith(`Volume:${ref} does not exists Error: ${clientText(err)}`, err, { fix: `check the name with showvv on array ${b.primary.array}` });
    }
    throw failedAsUpstream(what, err, 'check the array');
  }
}

async function refuseExportedOrReplicated(client: WsapiClient, ref: string, what: string): Promise<void> {
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
    throw failedAsUpstream(what, err, 'check the array');
  }
}

/** A snapshot is imported only under its parent's Docker volume. */
async function managedParent(ctx: FlowContext, vol: Volume): Promise<StoredVolume> {
  const parsed = vol.copyOf === undefined ? undefined : parseArrayName(vol.copyOf);
  const parent = parsed === undefined || parsed.kind !== 'volume' ? undefined : await ctx.store.getById(parsed.id);
  if (parent === undefined) {
    throw new VolumeRequestError(`Manage snapshot failed because parent volume: ${vol.copyOf ?? '?'} is unmanaged.`, 'import the parent volume first');
  }
  return parent;
}

/** The new names, comment and record; a snapshot takes its owner and mode from its parent. */
function planImport(ctx: FlowContext, req: ImportRequest, backend: string, vol: Volume, parent: StoredVolume | undefined): ImportPlan {
  const id = newVolumeId();
  const snapshot = parent !== undefined;
  const arrayName = arrayVolumeName(id, snapshot);
  const meta = parent === undefined ? null : snapshotMetadata({ id, name: req.name, parent: parent.record, expirationHours: null, retentionHours: null });
  const record = newRecord({
    id,
    displayName: req.name,
    arrayName,
    backend,
    shape: importedShape(vol),
    mountConflictDelay: req.mountConflictDelay,
    cpg: vol.userCPG ?? null,
    snapCpg: vol.snapCPG ?? vol.userCPG ?? null,
    fsOwner: parent?.record.fsOwner ?? null,
    fsMode: parent?.record.fsMode ?? null,
    options: req.options,
    snapMetadata: meta,
    now: ctx.now(),
  });
  const comment = parent === undefined ? volumeComment(id, req.name) : snapshotComment(parent.record, req.name);
  return { id, arrayName, snapshot, comment, record, meta };
}

function importIntent(ctx: FlowContext, req: ImportRequest, backend: string, vol: Volume, plan: ImportPlan, parent: StoredVolume | undefined): VolumeIntent {
  return newIntent(ctx, {
    op: 'create',
    flow: 'import',
    id: plan.id,
    name: req.name,
    backend,
    arrayName: plan.arrayName,
    importedFrom: { name: req.existingName, ...(vol.comment === undefined ? {} : { comment: vol.comment }) },
    ...(parent === undefined ? {} : { parent: parent.record.display_name }),
  });
}

/** Renames the volume into the plugin's namespace; undone by renaming it back with its old comment. */
async function renameOnArray(client: WsapiClient, ref: string, vol: Volume, plan: ImportPlan, undo: Undo): Promise<void> {
  const { arrayName } = plan;
  const setSnapCpg = !plan.snapshot && vol.snapCPG === undefined && vol.userCPG !== undefined;
  const renameBack = () => ignoringMissing(() => client.modifyVolume(arrayName, { newName: ref, comment: vol.comment ?? '' }));
  try {
    await client.modifyVolume(ref, { newName: arrayName, comment: plan.comment, ...(setSnapCpg ? { snapCPG: vol.userCPG } : {}) });
  } catch (err) {
    if (err instanceof WsapiConnectionError && err.outcomeUnknown) undo.push(`rename ${arrayName} back to ${ref}`, renameBack);
    throw err;
  }
  undo.push(`rename ${arrayName} back to ${ref}`, renameBack);
}

/** The record, and for a snapshot its parent's list in the same transaction (re-read when a mount moved it). */
async function commitImport(ctx: FlowContext, plan: ImportPlan, parent: StoredVolume | undefined, alsoDelete: readonly string[]): Promise<void> {
  const { record, meta } = plan;
  if (parent === undefined || meta === null) {
    await ctx.store.create(record, alsoDelete);
    return;
  }
  let current = parent;
  for (let attempt = 1; ; attempt++) {
    try {
      await ctx.store.commit({ create: [record], update: [{ record: withSnapshotEntry(current.record, meta), modRevision: current.modRevision }], alsoDelete });
      return;
    } catch (err) {
      if (!(err instanceof VolumeRecordConflictError) || err.volumeName !== current.record.display_name || attempt >= 5) throw err;
      const again = await ctx.store.getById(current.record.id);
      if (again === undefined) throw err;
      current = again;
    }
  }
}
