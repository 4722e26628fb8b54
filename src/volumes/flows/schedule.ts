/**
 * Snapshot schedules on the array's SSH CLI, for the snapshot flow (create), remove and repair:
 *   create: showsched <name> (refused when the name is taken) → intent naming the schedule → createsched
 *           (upstream's order: the schedule, then the Docker snapshot) → the records
 *   remove: removesched -f <name> before the snapshot's array volume goes
 *   repair of a create cut short: the schedule is removed when it runs createsv with the request's prefix on the
 *           parent and none of the parent's snapshots claims it (a crash can fall between createsched and the
 *           record; Docker was never told the create succeeded, so it is rolled back like every create).
 * Errors keep upstream's texts (`Creation of snapshot schedule failed: Create snapschedule failed Error is '<line>' `)
 * and add, in parentheses, the array and the fix.
 */
import { ArrayCliError, ArrayCliFailures, type ArrayCli, type ScheduleSpec } from '../../array/index.js';
import type { ReadyBackend } from '../backends/backends.js';
import { VolumeRequestError } from '../errors.js';
import { isUnclaimedSchedule } from '../request/plan.js';
import type { VolumeIntent } from '../store/intents.js';
import type { VolumeRecord } from '../store/records.js';
import { VolumeOperationError, describe } from './failures.js';

type ScheduleVerb = 'create' | 'remove';

const Upstream: Record<ScheduleVerb, { failed: string; array: (line: string) => string }> = {
  create: { failed: 'Creation of snapshot schedule failed', array: (line) => `Create snapschedule failed Error is '${line}' ` },
  remove: { failed: 'Removal of snapshot schedule failed', array: (line) => `Removing snapschedule failed. Error is '${line}' ` },
};

/** A schedule command failed: upstream's text (the array's own line when it printed one), then ours. */
export function scheduleFailed(verb: ScheduleVerb, err: unknown, context: { backend: string; volume: string }): VolumeOperationError {
  const u = Upstream[verb];
  const reason = err instanceof ArrayCliError && err.arrayText !== undefined ? u.array(err.arrayText) : describe(err);
  const fix = err instanceof ArrayCliError ? err.fix : 'see the plugin log for details; retry';
  const where = `${verb === 'create' ? 'creating the snapshot schedule of' : 'removing the snapshot schedule of'} ${context.volume} on backend ${context.backend}`;
  return new VolumeOperationError(`${u.failed}: ${reason} (${where}; fix: ${fix})`, fix, {
    retryable: err instanceof ArrayCliError && err.retryable,
    cause: err,
  });
}

/** The array may have run the command although it did not answer (a lost connection or time-out mid-command). */
export function mayHaveRun(err: unknown): boolean {
  if (!(err instanceof ArrayCliError)) return true;
  return err.command !== 'connect' && err.failure !== ArrayCliFailures.command && err.failure !== ArrayCliFailures.argument;
}

/** Refuses a schedule name the array already has (createsched would fail, and its owner's schedule must stay). */
export async function requireFreeScheduleName(cli: ArrayCli, spec: ScheduleSpec, b: ReadyBackend, volume: string): Promise<void> {
  let existing;
  try {
    existing = await cli.getSchedule(spec.scheduleName);
  } catch (err) {
    throw scheduleFailed('create', err, { backend: b.name, volume });
  }
  if (existing !== undefined) {
    throw new VolumeRequestError(
      `${Upstream.create.failed}: a schedule named ${spec.scheduleName} already exists on array ${b.cli.array} (it runs: ${existing.command})`,
      `choose another -o scheduleName; if nothing uses that schedule, remove it on the array (removesched -f ${spec.scheduleName})`,
    );
  }
}

/** What a create intent records of the schedule it may make. */
export function scheduleOfIntent(spec: ScheduleSpec): NonNullable<VolumeIntent['schedule']> {
  return { name: spec.scheduleName, prefix: spec.snapshotPrefix, parentArrayName: spec.parentVolume };
}

/**
 * Removes the schedule a create cut short may have made: only when it runs createsv with the create's prefix on
 * the parent and no snapshot of the parent claims it. Returns whether it removed one.
 */
export async function removeUnclaimedSchedule(cli: ArrayCli, made: NonNullable<VolumeIntent['schedule']>, parent: Pick<VolumeRecord, 'snapshots'> | undefined): Promise<boolean> {
  const shown = await cli.getSchedule(made.name);
  if (shown === undefined || !isUnclaimedSchedule(shown, made, parent)) return false;
  return cli.removeSchedule(made.name);
}

/** `removesched -f <name>` for a removal; a schedule already gone counts as removed. */
export async function removeScheduleOf(b: ReadyBackend, name: string, volume: string): Promise<void> {
  try {
    await b.cli.get().removeSchedule(name);
  } catch (err) {
    if (err instanceof VolumeRequestError) throw err;
    throw scheduleFailed('remove', err, { backend: b.name, volume });
  }
}
