/**
 * Mount intents: crash safety for Mount and Unmount, which span the array (VLUNs), this host (device, filesystem,
 * mount) and etcd (the record's `node_mount_info` / `path_info`).
 *
 * Before its first array call a Mount writes `/volume-mount-intents/<node>/<uuid>`, updates it with the attachment
 * once the device is there, and deletes it after the record says the volume is mounted here. An Unmount of the
 * last reference writes one before it unmounts and deletes it after the record no longer names this node. Keys
 * are per node because only the node that made a device or a mount can take it down; the node's repair at start
 * reads its own prefix (one range read):
 *   mount intent, record names this node with a path  → only the intent deletion was lost: drop it;
 *   mount intent, otherwise                           → roll back: unmount, detach, remove this host's VLUNs;
 *   unmount intent                                    → finish it: unmount, detach, remove VLUNs, clear the record;
 *   takeover intent, its old holders still not alive  → finish it: fence them again, move them out of the record;
 *   takeover intent, an old holder alive again        → drop it (the record still names that holder).
 */
import { z } from 'zod';
import type { EtcdClient } from '../../etcd/index.js';
import { MOUNT_INTENTS_PREFIX, prefixedKey, toEtcdError } from '../../etcd/index.js';
import { VolumeStoreError } from '../errors.js';
import { parseStored } from './json.js';


const attachmentSchema = z.object({
  transport: z.enum(['iscsi', 'fc', 'loop']),
  device: z.string(),
  wwn: z.string(),
  paths: z.array(z.string()),
  multipath: z.string().optional(),
  portals: z.array(z.string()).optional(),
  iqns: z.array(z.string()).optional(),
  file: z.string().optional(),
});

const mountIntentSchema = z.object({
  v: z.literal(1),
  op: z.enum(['mount', 'unmount', 'takeover']),
  /** The record's uuid. */
  id: z.string().uuid(),
  /** The Docker name. */
  name: z.string().min(1),
  backend: z.string().min(1),
  arrayName: z.string().min(1),
  node: z.string().min(1),
  mountDir: z.string().min(1),
  /** Set once the device is attached (a Mount), or taken from the record (an Unmount). */
  attachment: attachmentSchema.optional(),
  /**
   * The arrays of the backend the volume is (being) exported from: its own, its replication target, or both
   * (Peer Persistence). Absent: its own array only (intents written before replication-aware mounts).
   */
  arrays: z.array(z.enum(['primary', 'replication target'])).min(1).optional(),
  /** A takeover: the nodes it takes the volume from (whose VLUNs it removes). */
  from: z.array(z.string().min(1)).optional(),
  started: z.string(),
});

export type MountIntent = z.infer<typeof mountIntentSchema>;

export function mountIntentKey(node: string, id: string): string {
  return `${MOUNT_INTENTS_PREFIX}${node}/${id}`;
}

/** The intent in `value`, or why it is not one (`field: problem`). */
export function parseMountIntent(value: string): MountIntent | string {
  return parseStored(mountIntentSchema, value, (i) => `${i.path.length === 0 ? 'the intent' : `field ${i.path.join('.')}`}: ${i.message}`);
}

export class MountIntentStore {
  constructor(private readonly etcd: EtcdClient) {}

  /** Writes (or replaces) the intent; an etcd failure means nothing was started. */
  async write(intent: MountIntent): Promise<void> {
    try {
      await this.etcd.put(mountIntentKey(intent.node, intent.id), JSON.stringify(intent));
    } catch (e) {
      const cause = toEtcdError(e, this.etcd.endpoint);
      throw new VolumeStoreError(`ETCD data save failed: ${intent.name}: ${cause.message}`, cause.fix, { retryable: cause.retryable, cause });
    }
  }

  /** This node's intent for a volume, if one is left; an unreadable one reads as absent (repair reports it). */
  async read(node: string, id: string): Promise<MountIntent | undefined> {
    const rec = await this.etcd.get(mountIntentKey(node, id));
    const parsed = rec === undefined ? undefined : parseMountIntent(rec.value);
    return typeof parsed === 'string' ? undefined : parsed;
  }

  async remove(intent: Pick<MountIntent, 'node' | 'id'>): Promise<void> {
    await this.etcd.delete(mountIntentKey(intent.node, intent.id));
  }

  /** This node's intents, in ONE range read; unreadable ones are listed apart. */
  async listForNode(node: string): Promise<{ intents: MountIntent[]; unreadable: { key: string; problem: string }[] }> {
    const prefix = `${MOUNT_INTENTS_PREFIX}${node}/`;
    const all = await this.etcd.getPrefix(prefix);
    const out: { intents: MountIntent[]; unreadable: { key: string; problem: string }[] } = { intents: [], unreadable: [] };
    for (const [id, rec] of all) {
      const parsed = parseMountIntent(rec.value);
      if (typeof parsed === 'string') out.unreadable.push({ key: prefixedKey(this.etcd.prefix, prefix + id), problem: parsed });
      else out.intents.push(parsed);
    }
    return out;
  }
}
