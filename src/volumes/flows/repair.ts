/**
 * repair(): settles what a crash (kill -9, power loss, lost etcd answer) left between the array and etcd.
 *
 * 1. Every intent (one etcd range read), holding the volume's lock (and its group's) with a short wait, so an
 *    operation still running on another node keeps its intent (its lock is held; the intent is deferred):
 *      create + record present  → only the intent deletion was lost: drop it;
 *      create + no record       → roll back: an import is renamed back, anything else dismantled
 *                                 (a snapshot schedule it proves to have made, RCG membership and secondary,
 *                                 VV sets, the plugin's vvs- set, the volume);
 *      remove                   → finish it: dismantle (a scheduled snapshot's schedule first), delete the
 *                                 record (and the parent's list entry).
 * 2. For every OK backend: one `GET /volumes`, then the intents (read after the array, so a create racing with the
 *    scan is covered by its intent) against the records, listed once for every backend (at start: the list the
 *    reconcile used). Each finding is re-checked with reads of its own before it is reported:
 *      plugin-named (dcv-/dcs-) array volume without record or intent → reported, never deleted: it may belong
 *        to another etcd's plugin or to the Python plugin;
 *      record whose array volume is gone → reported (removed outside the plugin).
 * Intents of a backend that is not OK (of a replicated volume: whose replication target is not OK), or whose
 * lock is busy, are deferred: the manager runs another pass when the backend (or its target) turns OK or the
 * lock has expired.
 */
import { HpeError } from '../../errors.js';
import { dismantle, ignoringMissing } from './array-ops.js';
import type { ReadyBackend } from '../backends/backends.js';
import { LockTimeoutError, VolumeRequestError } from '../errors.js';
import { removeUnclaimedSchedule, scheduleFailed } from './schedule.js';
import { describe, isStatus } from './failures.js';
import type { FlowContext } from './flow.js';
import type { VolumeIntent } from '../store/intents.js';
import { rcgLock, volumeLock, type EtcdLocks, type LockTarget } from '../store/locks.js';
import { parseArrayName } from '../request/naming.js';
import type { VolumeList } from '../store/records.js';
import { deleteRecord, dismantleSpecOf } from './remove.js';

interface RepairItem {
  volume?: string;
  backend?: string;
  arrayName?: string;
  detail: string;
}

const RepairActions = ['rolled back create', 'completed create', 'completed remove'] as const;
type RepairAction = (typeof RepairActions)[number];

const RepairProblems = ['array volume without record', 'record without array volume', 'unreadable record', 'unreadable intent', 'repair failed'] as const;
type RepairProblem = (typeof RepairProblems)[number];

export interface RepairReport {
  /** What this pass put right. */
  fixed: (RepairItem & { action: RepairAction })[];
  /** What only an admin can decide; each detail says what to check or run. */
  needsAdmin: (RepairItem & { problem: RepairProblem })[];
  /** Left for a later pass (the manager schedules it): the backend is not OK, or the volume's lock is held. */
  deferred: (RepairItem & { reason: 'backend not OK' | 'replication target not OK' | 'lock busy' })[];
  scanned: { backends: string[]; records: number; intents: number; arrayVolumes: number };
}

interface RepairOptions {
  locks: EtcdLocks;
  /** How long to wait for a volume's lock before deferring its intent. */
  lockWaitMs: number;
  /** Limit the pass to these backends (a backend that just turned OK). */
  backends?: readonly string[];
  /** Settle the intents only, without scanning the arrays (after a failed request, while the plugin runs). */
  intentsOnly?: boolean;
  /** Every record, when the caller has listed them already (the repair at start); else listed once for all backends. */
  records?: VolumeList;
}

function emptyReport(): RepairReport {
  return { fixed: [], needsAdmin: [], deferred: [], scanned: { backends: [], records: 0, intents: 0, arrayVolumes: 0 } };
}

export async function repairPass(ctx: FlowContext, options: RepairOptions): Promise<RepairReport> {
  const report = emptyReport();
  const inScope = (backend: string) => options.backends === undefined || options.backends.includes(backend);

  const { intents, unreadable } = await ctx.intents.list();
  report.scanned.intents = intents.length;
  for (const u of unreadable) report.needsAdmin.push({ problem: 'unreadable intent', detail: `${u.key}: ${u.problem}; inspect it with \`etcdctl get ${u.key}\` and delete it once the volume is checked` });
  for (const intent of intents.filter((i) => inScope(i.backend))) await settleIntent(ctx, options, intent, report);
  if (options.intentsOnly === true) return report;

  let listed = options.records === undefined ? undefined : Promise.resolve(options.records);
  const records = () => (listed ??= ctx.store.list());
  for (const name of ctx.backends.names().filter(inScope)) {
    const b = ctx.backends.get(name);
    if (b === undefined) continue;
    try {
      await scanBackend(ctx, b, records, report);
      report.scanned.backends.push(name);
    } catch (err) {
      report.needsAdmin.push({ problem: 'repair failed', backend: name, detail: `scanning backend ${name} failed: ${describe(err)}; the next repair (at start) scans it again` });
    }
  }
  return report;
}

function item(intent: VolumeIntent, detail: string): RepairItem {
  return { volume: intent.name, backend: intent.backend, arrayName: intent.arrayName, detail };
}

async function settleIntent(ctx: FlowContext, options: RepairOptions, intent: VolumeIntent, report: RepairReport): Promise<void> {
  const b = ctx.backends.get(intent.backend);
  const targets: LockTarget[] = [volumeLock(intent.name)];
  if (intent.rcg !== undefined) targets.push(rcgLock(intent.rcg.name));
  // The parent's snapshot list says whether a schedule of that name is claimed: no create of it meanwhile.
  if (intent.schedule !== undefined && intent.parent !== undefined) targets.push(volumeLock(intent.parent));
  try {
    await options.locks.withLocks(
      targets,
      async () => {
        const current = await ctx.intents.read(intent.id);
        if (current === undefined) return; // finished meanwhile
        const stored = await ctx.store.getById(current.id);
        if (current.op === 'create' && stored !== undefined) {
          await ctx.intents.remove(current.id);
          report.fixed.push({ action: 'completed create', ...item(current, `the create of ${current.name} had finished; its leftover intent was dropped`) });
          return;
        }
        if (b === undefined) {
          report.deferred.push({ reason: 'backend not OK', ...item(current, `backend ${current.backend} is not OK; the ${current.op} of ${current.name} is settled when it is`) });
          return;
        }
        if (current.rcg !== undefined && b.config.replication !== undefined && b.target === undefined) {
          report.deferred.push({
            reason: 'replication target not OK',
            ...item(current, `the replication target of ${current.backend} is not OK; the ${current.op} of ${current.name} is settled when it is`),
          });
          return;
        }
        if (current.op === 'create') {
          await rollBackCreate(b, current, ctx);
          await ctx.intents.remove(current.id);
          report.fixed.push({
            action: 'rolled back create',
            ...item(current, `the ${current.flow} create of ${current.name} was cut short; ${current.flow === 'import' ? `${current.importedFrom?.name} was renamed back` : 'what it had made on the array was removed'}`),
          });
          return;
        }
        await dismantle(b, dismantleSpecOf(current, false), ctx.logger);
        if (stored !== undefined) await deleteRecord(ctx, stored);
        await ctx.intents.remove(current.id);
        report.fixed.push({ action: 'completed remove', ...item(current, `the removal of ${current.name} was cut short; it was finished`) });
      },
      { waitMs: options.lockWaitMs },
    );
  } catch (err) {
    if (err instanceof LockTimeoutError) {
      report.deferred.push({ reason: 'lock busy', ...item(intent, `${intent.name} is locked (an operation in progress, or a dead holder whose lock expires by itself); retried later`) });
      return;
    }
    report.needsAdmin.push({
      problem: 'repair failed',
      ...item(intent, `settling the ${intent.op} of ${intent.name} failed: ${describe(err)}${err instanceof HpeError ? `; ${err.fix}` : ''}; the intent stays and a later repair retries`),
    });
  }
}

async function rollBackCreate(b: ReadyBackend, intent: VolumeIntent, ctx: FlowContext): Promise<void> {
  if (intent.schedule !== undefined) {
    const parent = intent.parent === undefined ? undefined : await ctx.store.getByName(intent.parent);
    const volume = intent.name;
    try {
      await removeUnclaimedSchedule(b.cli.get(), intent.schedule, parent?.record);
    } catch (err) {
      throw err instanceof VolumeRequestError ? err : scheduleFailed('remove', err, { backend: b.name, volume });
    }
  }
  if (intent.flow === 'import' && intent.importedFrom !== undefined) {
    const from = intent.importedFrom;
    await ignoringMissing(() => b.primary.client.modifyVolume(intent.arrayName, { newName: from.name, comment: from.comment ?? '' }));
    return;
  }
  await dismantle(b, dismantleSpecOf(intent, false), ctx.logger);
}

async function scanBackend(ctx: FlowContext, b: ReadyBackend, records: () => Promise<VolumeList>, report: RepairReport): Promise<void> {
  const client = b.primary.client;
  const onArray = new Set((await client.queryVolumes()).map((v) => v.name));
  report.scanned.arrayVolumes += onArray.size;
  // Read after the array: a create that made a volume since has its intent by now. The records may have been
  // listed before the array (one list for every backend): each finding below is read again before it is reported.
  const intentIds = new Set((await ctx.intents.list()).intents.map((i) => i.id));
  const list = await records();
  report.scanned.records = list.volumes.length;
  if (report.scanned.backends.length === 0) {
    for (const u of list.unreadable) report.needsAdmin.push({ problem: 'unreadable record', detail: `${u.key}: ${u.problem}; inspect it with \`etcdctl get ${u.key}\`` });
  }
  const recordIds = new Set(list.volumes.map((v) => v.record.id));

  for (const name of onArray) {
    const parsed = parseArrayName(name);
    if (parsed === undefined || parsed.kind === 'vvSet' || recordIds.has(parsed.id) || intentIds.has(parsed.id)) continue;
    if ((await ctx.store.getById(parsed.id)) !== undefined || (await ctx.intents.read(parsed.id)) !== undefined) continue;
    if (!(await exists(() => client.getVolume(name)))) continue;
    report.needsAdmin.push({
      problem: 'array volume without record',
      backend: b.name,
      arrayName: name,
      detail: `array volume ${name} on ${b.primary.array} has a plugin name but no record in this etcd: it may belong to another plugin installation (another etcd, or the Python plugin); if it does not, remove it on the array (removevv ${name})`,
    });
  }

  for (const { record } of list.volumes) {
    if (record.backend !== b.name || intentIds.has(record.id) || onArray.has(record['3par_vol_name'])) continue;
    const again = await ctx.store.getById(record.id);
    if (again === undefined || onArray.has(again.record['3par_vol_name'])) continue;
    if (await exists(() => client.getVolume(again.record['3par_vol_name']))) continue;
    report.needsAdmin.push({
      problem: 'record without array volume',
      volume: record.display_name,
      backend: b.name,
      arrayName: record['3par_vol_name'],
      detail: `volume ${record.display_name} has a record but its array volume ${record['3par_vol_name']} is gone from ${b.primary.array} (removed outside the plugin, or expired): remove it with \`docker volume rm ${record.display_name}\``,
    });
  }
}

async function exists(get: () => Promise<unknown>): Promise<boolean> {
  try {
    await get();
    return true;
  } catch (err) {
    if (isStatus(err, 404)) return false;
    throw err;
  }
}
