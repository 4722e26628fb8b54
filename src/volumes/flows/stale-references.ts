/**
 * References that dead containers left behind. dockerd restarted after a crash (or a kill) without live-restore
 * stops the containers that outlived it and never sends their Unmount (docker/for-linux#404): the record keeps
 * naming them, so the volume stays held by this node (`docker volume rm` refused, no takeover by another host).
 *
 * Nothing says which reference is whose, but the kernel says whether anything besides this plugin still mounts the
 * filesystem: with the plugin's own mount taken away (its copies in the propagated mount go with it), an exclusive
 * open of the device is refused (EBUSY) while any container's mount of it remains. Unused: released as the last
 * Unmount would (intent, unmount, detach, this host's VLUNs, record). In use: mounted back at once, never
 * formatted.
 *
 * The caller holds the volume's lock and makes sure no Mount of the volume was answered lately: a container binds
 * the mount folder only after its Mount returned, so a check in between would find its mount missing.
 */
import { transportFor } from '../../host/index.js';
import { VolumeOperationError } from './failures.js';
import type { StoredVolume } from '../store/records.js';
import { attachmentOf, releaseHere, type MountContext } from './mount.js';

export type StaleCheck = 'released' | 'in use' | 'not held here';

export async function releaseIfUnused(ctx: MountContext, stored: StoredVolume): Promise<StaleCheck> {
  const r = stored.record;
  if (r.node_mount_info?.[ctx.nodeId] === undefined) return 'not held here';
  const attachment = attachmentOf(r.path_info);
  const device = attachment === undefined ? undefined : await transportFor(attachment.transport, ctx.data.env).locate(attachment);
  if (device !== undefined) {
    const mountDir = r.path_info?.mount_dir ?? ctx.data.mountDirOf(r);
    const mounted = await ctx.data.fs.isMounted(mountDir);
    if (mounted) await ctx.data.fs.unmount(mountDir);
    if (await ctx.data.fs.inUse(device)) {
      if (mounted) await ctx.data.fs.mount(device, mountDir, { fsType: r.fs_type ?? (await fsTypeOn(ctx, device)), readOnly: r.is_snap });
      return 'in use';
    }
  }
  await releaseHere(ctx, stored);
  return 'released';
}

/** The filesystem a container still mounts (so there is one; the probe only names it for records without fs_type). */
async function fsTypeOn(ctx: MountContext, device: string): Promise<string> {
  const probe = await ctx.data.fs.probe(device);
  if (probe.empty) throw new VolumeOperationError(`${device} is in use but the probe finds no filesystem on it; it was left unmounted in the plugin`, 'check the device with `blkid -p` on the host; the containers using it keep their mount');
  return probe.type;
}
