/**
 * What every flow works with, and the frame of a create: intent → array steps (each pushing its undo) →
 * record → intent deleted. On failure the completed steps are undone in reverse and the original error is
 * reported; if an undo step fails, or etcd cannot say whether the record was written, the intent stays for
 * `repair()` and the message says so.
 */
import { HpeError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Backends } from '../backends/backends.js';
import { VolumeRequestError, VolumeStoreError } from '../errors.js';
import { VolumeOperationError, describe, failedAsUpstream } from './failures.js';
import { intentKey, type IntentStore, type VolumeIntent } from '../store/intents.js';
import type { HeldLocks } from '../store/locks.js';
import type { VolumeStore } from '../store/records.js';
import { Undo } from './undo.js';

export interface FlowContext {
  store: VolumeStore;
  intents: IntentStore;
  backends: Backends;
  logger: Logger;
  nodeId: string;
  /** Called when an intent stays behind after a request, so the running plugin settles it soon. */
  intentLeft?: () => void;
  /** Offline clone copies: how often and how long to wait for the array task. */
  taskWait: { pollIntervalMs: number; timeoutMs: number };
  now(): Date;
}

export function newIntent(ctx: FlowContext, fields: Omit<VolumeIntent, 'v' | 'node' | 'started'>): VolumeIntent {
  return { v: 1, ...fields, node: ctx.nodeId, started: ctx.now().toISOString() };
}

/** The intent of a create that makes one array volume and, with it, maybe its QoS set or its own flash-cache set. */
export function volumeCreateIntent(
  ctx: FlowContext,
  flow: 'volume' | 'clone',
  volume: { id: string; name: string; backend: string; arrayName: string },
  sets: { qosSet?: string; ownSet?: string },
): VolumeIntent {
  return newIntent(ctx, {
    op: 'create',
    flow,
    ...volume,
    ...(sets.qosSet === undefined ? {} : { qosSet: sets.qosSet }),
    ...(sets.ownSet === undefined ? {} : { ownSet: sets.ownSet }),
  });
}

/** Errors that already are the one line the user should see. */
function isFinal(err: unknown): boolean {
  return err instanceof VolumeRequestError || err instanceof VolumeOperationError;
}

interface CreateFrame {
  /** `Failed to create volume v1 on backend DEFAULT`: the prefix of array / etcd errors. */
  what: string;
  intent: VolumeIntent;
  /** The intent was already written, in the transaction that took the lock (EtcdLocks' FirstWrite). */
  intentWritten?: boolean;
  /** The array steps; each pushes its undo. */
  steps(undo: Undo): Promise<void>;
  /**
   * Writes the record (and, for a snapshot, the parent's list) in one etcd transaction, which also deletes the
   * keys `alsoDelete` (the intent: a create's last write is one transaction, one disk sync).
   */
  commit(alsoDelete: readonly string[]): Promise<void>;
  /** Whether the record exists, asked when the commit's outcome is unknown. */
  recordExists(): Promise<boolean>;
}

/**
 * `locks`: the volume's locks, deleted in the record's transaction when given (the create's last write is then
 * the only one after the intent).
 */
export async function runCreate(ctx: FlowContext, frame: CreateFrame, locks?: HeldLocks): Promise<void> {
  const log = { volume: frame.intent.name, backend: frame.intent.backend, arrayName: frame.intent.arrayName, flow: frame.intent.flow };
  if (frame.intentWritten !== true) {
    try {
      await ctx.intents.write(frame.intent);
    } catch (err) {
      throw failedAsUpstream(frame.what, err);
    }
  }
  const undo = new Undo();
  try {
    await frame.steps(undo);
  } catch (err) {
    throw await rollBack(ctx, frame, undo, err, log);
  }
  try {
    await frame.commit([intentKey(frame.intent.id), ...(locks?.keys ?? [])]);
    locks?.deleted();
  } catch (err) {
    if (err instanceof VolumeStoreError) {
      let exists: boolean;
      try {
        exists = await frame.recordExists();
      } catch {
        ctx.logger.warn({ ...log, err: describe(err) }, 'record write outcome unknown; intent kept for a background repair');
        throw failedAsUpstream(frame.what, err, 'check etcd; the plugin settles this volume in the background as soon as etcd answers (or at its next start)');
      }
      if (!exists) throw await rollBack(ctx, frame, undo, err, log);
    } else {
      throw await rollBack(ctx, frame, undo, err, log);
    }
  }
  // The intent went with the record, in the same transaction.
  ctx.logger.info(log, 'volume created');
}

async function rollBack(ctx: FlowContext, frame: CreateFrame, undo: Undo, err: unknown, log: Record<string, unknown>): Promise<HpeError> {
  ctx.logger.warn({ ...log, err: describe(err), undoSteps: undo.size }, 'create failed; undoing its completed steps');
  const failed = await undo.run(ctx.logger, log);
  if (failed.length === 0) await dropIntent(ctx, frame.intent);
  const base = isFinal(err) ? (err as HpeError) : failedAsUpstream(frame.what, err);
  if (failed.length === 0) return base;
  return new VolumeOperationError(
    `${base.message} (cleanup incomplete: ${failed.join('; ')}; the plugin finishes it in the background, or at its next start)`,
    base.fix,
    { retryable: base.retryable, cause: err },
  );
}

/** Deletes the intent; a failure only leaves work for repair(), which then finds the record and drops it. */
export async function dropIntent(ctx: FlowContext, intent: VolumeIntent): Promise<void> {
  try {
    await ctx.intents.remove(intent.id);
  } catch (err) {
    ctx.logger.warn({ volume: intent.name, intent: intent.id, err: describe(err) }, 'intent not deleted; a background repair will');
    ctx.intentLeft?.();
  }
}
