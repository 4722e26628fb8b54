/**
 * Create of a replicated volume (upstream §5 "Replication"), under the volume's and the group's locks:
 *   target array (its own session): GET /system   (refused with the target's reason while it is down)
 *   GET /remotecopygroups/<g>                       (404: the group is created below)
 *   intent → POST /volumes {dcv-…}
 *   new group: POST /remotecopygroups {name, targets:[{targetName: backend_id, mode 1|2|4, userCPG, snapCPG}],
 *              localUserCPG, localSnapCPG}; PUT {targets:[{policies}]} (Peer Persistence) or
 *              PUT {targets:[{syncPeriod}]} (asynchronous / streaming); GET (remoteGroupName)
 *   started group: PUT {action:4} (stop)
 *   PUT {action:1, volumeName, targets:[{targetName, secVolumeName: dcv-…}], volumeAutoCreation:true}
 *   PUT {action:3} (start)
 *   target array (its own session): GET /volumes/<dcv-…>, GET /remotecopygroups/<remoteGroupName>
 *   → record (rcg_info) → intent deleted. Every step is undone in reverse on a later failure.
 */
import type { HeldLocks } from '../store/locks.js';
import { RcgRoles, WsapiError, type RemoteCopyGroup } from '../../array/index.js';
import type { ReadyBackend, ReplicationTarget } from '../backends/backends.js';
import { createArrayVolume, createWhat } from './create.js';
import { VolumeOperationError, clientText, describe, failedWith } from './failures.js';
import { newIntent, runCreate, type FlowContext } from './flow.js';
import { getGroup, hasVolume, ignoringMissing, isStarted, reachTarget } from './array-ops.js';
import { arrayVolumeName, newVolumeId } from '../request/naming.js';
import type { ReplicatedVolumeRequest } from '../request/options.js';
import { checkRcgName, checkShape, createRcgParams, createVolumeParams, newRecord, rcgTargetSettings, volumeComment, type VolumeShape } from '../request/plan.js';
import type { Undo } from './undo.js';

/** The target, or the error naming it and its reason while it is not OK. */
async function requireTarget(ctx: FlowContext, b: ReadyBackend): Promise<ReplicationTarget> {
  const target = await reachTarget(ctx.backends, b.name);
  if (target === undefined) {
    throw new VolumeOperationError(
      `Request to create replicated volume cannot be fulfilled without defining 'replication_device' entry defined in hpe.conf for the backend '${b.name}'. Please add it and execute the request again.`,
      `add a replication_device entry to [${b.name}] in hpe.conf`,
    );
  }
  return target;
}

/** An existing group must be primary here and replicate to the configured target. */
function checkExistingGroup(group: RemoteCopyGroup, b: ReadyBackend, target: ReplicationTarget): void {
  if (group.role !== RcgRoles.PRIMARY) {
    throw new VolumeOperationError(
      `Remote copy group ${group.name} is not primary on array ${b.primary.array} (role ${group.role}): volumes can only be added on its primary side`,
      'add the volume on the array where the group is primary, or use another replicationGroup',
    );
  }
  if (!group.targets.some((t) => t.targetName === target.device.backendId)) {
    throw new VolumeOperationError(
      `Remote copy group ${group.name} replicates to ${group.targets.map((t) => t.targetName).join(', ')}, not to ${target.device.backendId} (backend_id of [${b.name}].replication_device)`,
      'use another replicationGroup, or correct backend_id in replication_device',
    );
  }
}

export async function createReplicatedVolume(ctx: FlowContext, req: ReplicatedVolumeRequest, locks?: HeldLocks): Promise<void> {
  const b = ctx.backends.require(req.backend);
  const target = await requireTarget(ctx, b);
  const device = target.device;
  const group = req.replicationGroup;
  checkRcgName(group);
  const cpg = b.config.cpg[0];
  if (cpg === undefined) throw new VolumeOperationError(`backend ${b.name} has no CPG configured`, `set hpe3par_cpg in [${b.name}]`);
  const snapCpg = b.config.snapCpg[0] ?? cpg;
  const shape: VolumeShape = { sizeGiB: req.size, provisioning: req.provisioning, compression: req.compression };
  checkShape(shape, b.primary);
  const client = b.primary.client;
  const what = createWhat(req.name, b.name);

  let existing: RemoteCopyGroup | undefined;
  try {
    existing = await getGroup(client, group);
  } catch (err) {
    throw new VolumeOperationError(`${what}: cannot read remote copy group ${group}: ${describe(err)}`, 'check the array', { cause: err });
  }
  if (existing !== undefined) checkExistingGroup(existing, b, target);

  const id = newVolumeId();
  const arrayName = arrayVolumeName(id, false);
  let remoteGroupName = existing?.remoteGroupName;

  const steps = async (undo: Undo): Promise<void> => {
    await createArrayVolume(b, createVolumeParams({ arrayName, cpg, snapCpg, shape, comment: volumeComment(id, req.name) }, b.primary), undo);
    let current = existing;
    if (current === undefined) {
      await rcgStep(`Error encountered while creating remote copy group`, what, () => client.createRemoteCopyGroup(createRcgParams(group, device, cpg, snapCpg)));
      undo.push(`delete remote copy group ${group}`, () => ignoringMissing(() => client.deleteRemoteCopyGroup(group, { keepSnap: false })));
      const settings = rcgTargetSettings(device);
      if (settings !== undefined) {
        const step = device.quorumWitnessIp !== undefined ? `Error encountered while modifying remote copy group ${group}` : 'Error encountered while setting the sync period for the remote copy group';
        await rcgStep(step, what, () => client.modifyRemoteCopyGroup(group, settings));
      }
      current = await rcgStep('Error encountered while fetching the remote copy group after its creation', what, () => client.getRemoteCopyGroup(group));
    }
    remoteGroupName = current.remoteGroupName;
    if (isStarted(current)) {
      await client.stopRemoteCopy(group);
      undo.push(`start remote copy group ${group} again`, () => client.startRemoteCopy(group));
    }
    await client.addVolumeToRemoteCopyGroup(group, arrayName, {
      targets: [{ targetName: device.backendId, secVolumeName: arrayName }],
      volumeAutoCreation: true,
    });
    undo.push(`remove ${arrayName} and its secondary from remote copy group ${group}`, () =>
      ignoringMissing(() => client.removeVolumeFromRemoteCopyGroup(group, arrayName, { removeSecondaryVolume: true })),
    );
    await client.startRemoteCopy(group);
    undo.push(`stop remote copy group ${group}`, () => client.stopRemoteCopy(group));
    await verifySecondary(target, arrayName, remoteGroupName, req.name);
  };

  await runCreate(ctx, {
    what,
    intent: newIntent(ctx, { op: 'create', flow: 'replicated', id, name: req.name, backend: b.name, arrayName, rcg: { name: group, created: existing === undefined } }),
    steps,
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
          rcg: { local_rcg_name: group, remote_rcg_name: remoteGroupName ?? '' },
          fsType: req.fsType,
          now: ctx.now(),
        }),
        alsoDelete,
      );
    },
    recordExists: async () => (await ctx.store.getById(id)) !== undefined,
  }, locks);
}

/** A step of making the group; an array's refusal reads as upstream's (`Bad or unexpected response ...`). */
async function rcgStep<T>(upstreamStep: string, what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (!(err instanceof WsapiError)) throw err;
    throw failedWith(`Bad or unexpected response from the RCG backend API: ${upstreamStep}: ${clientText(err)}`, err, { what });
  }
}

/** Through the target's own session: the secondary volume exists and the mirror group holds it. */
async function verifySecondary(target: ReplicationTarget, arrayName: string, remoteGroupName: string | undefined, name: string): Promise<void> {
  const where = `replication target ${target.device.backendId} (${target.array})`;
  try {
    await target.client.getVolume(arrayName);
  } catch (err) {
    throw new VolumeOperationError(`secondary volume ${arrayName} of ${name} was not created on ${where}: ${describe(err)}`, 'check the remote copy links and the target CPGs (cpg_map)', { cause: err });
  }
  if (remoteGroupName === undefined || remoteGroupName === '') return;
  let mirror: RemoteCopyGroup;
  try {
    mirror = await target.client.getRemoteCopyGroup(remoteGroupName);
  } catch (err) {
    throw new VolumeOperationError(`remote copy group ${remoteGroupName} of ${name} is missing on ${where}: ${describe(err)}`, 'check the remote copy configuration of both arrays', { cause: err });
  }
  if (!hasVolume(mirror, arrayName)) {
    throw new VolumeOperationError(`remote copy group ${remoteGroupName} on ${where} does not hold ${arrayName}`, 'check the remote copy configuration of both arrays');
  }
}
