/**
 * Intents: crash safety for the steps that span the array and etcd.
 *
 * Before its first array call, a create writes `/volume-intents/<uuid>` naming everything it may make on the
 * array (the volume, its VV set, its remote copy group membership, the original name of an imported volume, a
 * snapshot schedule).
 * The record is written after the last array step, and the intent is deleted after the record. A remove writes
 * an intent before it touches the array and deletes it after the record is gone. So after a crash (kill -9,
 * power loss) at any point:
 *   - a create intent without a record: the create never finished, and Docker was told so → roll it back;
 *   - a create intent with its record: only the intent deletion was lost → drop the intent;
 *   - a remove intent: the user asked for the removal, and the array may be half way → finish it.
 * `repair()` does exactly this, holding the volume's lock (a live operation on another node holds it too, so
 * its intent is left alone). An array volume with a plugin name but neither record nor intent was not made by
 * this etcd's plugin as far as anyone can prove: it is reported, never deleted.
 */
import { z } from 'zod';
import type { EtcdClient } from '../../etcd/index.js';
import { INTENTS_PREFIX, prefixedKey, toEtcdError } from '../../etcd/index.js';
import { VolumeStoreError } from '../errors.js';
import { isUuid } from '../request/naming.js';
import { parseStored, type SchemaIssue } from './json.js';


const IntentFlows = ['volume', 'replicated', 'snapshot', 'clone', 'import'] as const;

const field = (name: string) => z.string({ error: `field ${name} is missing` });

const intentSchema = z
  .object({
    op: z.enum(['create', 'remove'], { error: 'op is not create or remove' }),
    flow: z.enum(IntentFlows, { error: 'unknown flow' }),
    /** The record's uuid. */
    id: field('id'),
    /** The Docker name. */
    name: field('name'),
    backend: field('backend'),
    /** dcv-/dcs- name on the array. */
    arrayName: field('arrayName'),
    /** An existing (QoS) VV set the volume joins. */
    qosSet: z.string().optional(),
    /** The plugin's own `vvs-` set (flash cache), deleted with the volume. */
    ownSet: z.string().optional(),
    /** Remote copy group membership; `created`: this create made the group, so an undo deletes it when empty. */
    rcg: z.object({ name: z.string(), created: z.boolean() }).optional(),
    /** An import renames an existing volume: rolling back renames it back. */
    importedFrom: z.object({ name: z.string(), comment: z.string().optional() }).optional(),
    /** A snapshot's parent (Docker name), for the parent's snapshot list. */
    parent: z.string().optional(),
    /**
     * A scheduled snapshot's schedule on the array. Create: the schedule it may have made (createsched runs after
     * the intent), removed on rollback only if it runs createsv with `prefix` on `parentArrayName` and no snapshot
     * of the parent claims it. Remove: the schedule removed first.
     */
    schedule: z.object({ name: z.string(), prefix: z.string(), parentArrayName: z.string() }).optional(),
    v: z.literal(1),
    node: z.string(),
    started: z.string(),
  })
  .refine((o) => isUuid(o.id), 'id is not a uuid');

export type VolumeIntent = z.output<typeof intentSchema>;

export function intentKey(id: string): string {
  return INTENTS_PREFIX + id;
}

/** The intent in `value`, or a description of why it is not one (naming the field and what is wrong). */
export function parseIntent(value: string): VolumeIntent | string {
  return parseStored(intentSchema, value, describeIssue);
}

function describeIssue(issue: SchemaIssue): string {
  if (issue.path.length === 0) return issue.code === 'custom' ? issue.message : 'not a JSON object';
  // The checks with a message of their own (op, flow, the required names) keep it; the others name the field.
  return issue.message.startsWith('Invalid input') ? `field ${issue.path.join('.')}: ${issue.message}` : issue.message;
}

interface IntentList {
  intents: VolumeIntent[];
  /** `key` as etcd holds it (host_etcd_prefix included), for the admin's etcdctl. */
  unreadable: { key: string; problem: string }[];
}

export class IntentStore {
  constructor(private readonly etcd: EtcdClient) {}

  /** The key and value `write` would put, for a caller that writes it in a transaction of its own. */
  entry(intent: VolumeIntent): { key: string; value: string } {
    return { key: intentKey(intent.id), value: JSON.stringify(intent) };
  }

  /** Writes (or replaces) the intent; an etcd failure means nothing was started. */
  async write(intent: VolumeIntent): Promise<void> {
    try {
      const { key, value } = this.entry(intent);
      await this.etcd.put(key, value);
    } catch (e) {
      const cause = toEtcdError(e, this.etcd.endpoint);
      throw new VolumeStoreError(`ETCD data save failed: ${intent.name}: ${cause.message}`, cause.fix, { retryable: cause.retryable, cause });
    }
  }

  async read(id: string): Promise<VolumeIntent | undefined> {
    const rec = await this.etcd.get(intentKey(id));
    if (rec === undefined) return undefined;
    const parsed = parseIntent(rec.value);
    return typeof parsed === 'string' ? undefined : parsed;
  }

  /** Deletes the intent. Throws on an etcd failure (the caller decides whether that matters). */
  async remove(id: string): Promise<void> {
    await this.etcd.delete(intentKey(id));
  }

  /** Every intent, in ONE etcd range read. */
  async list(): Promise<IntentList> {
    const all = await this.etcd.getPrefix(INTENTS_PREFIX);
    const out: IntentList = { intents: [], unreadable: [] };
    for (const [id, rec] of all) {
      const parsed = parseIntent(rec.value);
      if (typeof parsed === 'string') out.unreadable.push({ key: prefixedKey(this.etcd.prefix, intentKey(id)), problem: parsed });
      else out.intents.push(parsed);
    }
    return out;
  }
}
