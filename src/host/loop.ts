/**
 * loop, for the WSAPI simulator only: its volumes are sparse files under the simulators' root, attached as loop
 * devices. An existing loop device for the file is reused, so attaching twice gives the same device.
 */
import { access } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { AttachError } from './errors.js';
import type { Attachment, Connection, HostEnv, Transport } from './types.js';

export function loopTransport(env: HostEnv): Transport {
  return {
    kind: 'loop',
    async attach(conn, signal) {
      const file = await simulatorFile(env, conn);
      const existing = await loopDevicesOf(env, file, signal);
      const device =
        existing[0] ?? (await env.runner.run(['losetup', '--find', '--show', file], { signal, fix: 'free a loop device (`losetup -a`) or load the loop module (`modprobe loop`)' })).stdout.trim();
      if (!/^\/dev\/loop\d+$/.test(device)) throw new AttachError(`losetup gave "${device}" for ${file}, not a loop device`, 'run `losetup -a` to see the loop devices');
      return { transport: 'loop', device, wwn: conn.wwn.toLowerCase(), paths: [], file };
    },
    async detach(att: Attachment) {
      if (att.file === undefined) throw new AttachError(`the loop attachment of ${att.device} names no file`, 'detach it by hand with `losetup -d`');
      // Only devices still backed by this file: after a crash the stored device number may serve another file.
      for (const device of await loopDevicesOf(env, att.file)) await env.runner.run(['losetup', '-d', device]);
    },
    async locate(att: Attachment) {
      if (att.file === undefined) return undefined;
      try {
        await access(att.file);
      } catch {
        return undefined; // no file, no device backed by it
      }
      return (await loopDevicesOf(env, att.file))[0];
    },
  };
}

async function simulatorFile(env: HostEnv, conn: Connection): Promise<string> {
  const rel = conn.simulatorVolumeFile;
  if (env.simulatorRoot === undefined || rel === undefined) {
    throw new AttachError(`the loop transport needs a simulator volume file and root (WWN ${conn.wwn})`, 'use loop only with the WSAPI simulator; real arrays attach over iSCSI or FC');
  }
  if (rel === '' || isAbsolute(rel) || rel.split('/').includes('..')) {
    throw new AttachError(`the simulator volume file "${rel}" is not a path inside the simulators' root`, 'the simulator must give a relative path without ".."');
  }
  const file = join(env.simulatorRoot, rel);
  try {
    await access(file);
  } catch {
    throw new AttachError(`the simulator volume file ${file} does not exist`, 'check that the simulator runs with its state under the configured simulator root and that the volume exists');
  }
  return file;
}

/** `losetup -j <file>` lines: `/dev/loop0: [2049]:1311 (/path/file)`. */
export function parseLosetupAssociations(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((line) => /^(\/dev\/loop\d+):/.exec(line)?.[1])
    .filter((d): d is string => d !== undefined);
}

async function loopDevicesOf(env: HostEnv, file: string, signal?: AbortSignal): Promise<string[]> {
  return parseLosetupAssociations((await env.runner.run(['losetup', '-j', file], { signal })).stdout);
}

/** Every loop device with its backing file (`losetup --list`), for the reconcile at start. */
export async function listLoopDevices(env: HostEnv): Promise<{ device: string; file: string }[]> {
  const out = await env.runner.run(['losetup', '--list', '--noheadings', '--raw', '-O', 'NAME,BACK-FILE']);
  return parseLosetupList(out.stdout);
}

/** `losetup --list --raw -O NAME,BACK-FILE` lines: `/dev/loop0 /path/file` (a deleted file ends in ` (deleted)`). */
function parseLosetupList(stdout: string): { device: string; file: string }[] {
  const out: { device: string; file: string }[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^(\/dev\/loop\d+) (.+)$/.exec(line.trim());
    if (m) out.push({ device: m[1]!, file: m[2]!.replace(/ \(deleted\)$/, '').replace(/\\x20/g, ' ') });
  }
  return out;
}
