/**
 * This host's side of the data path: attach an exported volume (iSCSI, FC, or loop for the simulator), put a
 * filesystem on it and mount it; and the reverse. Every command goes through one `CommandRunner`; /sys, /dev,
 * /etc and /proc are roots in `HostEnv` so tests run against a fake tree.
 */
import { fcTransport } from './fc.js';
import { iscsiTransport } from './iscsi.js';
import { loopTransport } from './loop.js';
import { createCommandRunner } from './runner.js';
import type { HostEnv, Transport, TransportKind } from './types.js';

export { AttachError, CommandError, FilesystemError, NodeIdError, type CommandFailure } from './errors.js';
export { FsTypes, hostFilesystem, type Filesystem, type FormatResult, type FsType, type MountOptions, type Probe } from './filesystem.js';
export { readInitiators, type Initiators } from './initiators.js';
export { parseMountInfo, type MountEntry } from './mountinfo.js';
export {
  describeNodeId,
  ensureNodeId,
  findNodeId,
  NodeIdEnv,
  type NodeId,
  type NodeIdLookup,
  type NodeIdPlaces,
  type NodeIdSource,
} from './node-id.js';
export {
  createCommandRunner,
  systemExecute,
  type CommandResult,
  type CommandRunner,
  type CommandRunnerOptions,
  type ExecOutcome,
  type Execute,
  type RunOptions,
} from './runner.js';
export { normaliseWwn, presentLun, presentWwns, type LocatedLun } from './scsi.js';
export { listLoopDevices } from './loop.js';
export {
  defaultHostTimeouts,
  TransportKinds,
  type Attachment,
  type Connection,
  type HostEnv,
  type HostTimeouts,
  type Transport,
  type TransportKind,
} from './types.js';

const transports: Readonly<Record<TransportKind, (env: HostEnv) => Transport>> = {
  iscsi: iscsiTransport,
  fc: fcTransport,
  loop: loopTransport,
};

export function transportFor(kind: TransportKind, env: HostEnv): Transport {
  return transports[kind](env);
}

/** The real host's roots; override any of them (and the runner) for tests or a managed plugin's rootfs. */
export function systemHostEnv(overrides: Partial<HostEnv> = {}): HostEnv {
  return { runner: createCommandRunner(), sysRoot: '/sys', devRoot: '/dev', etcRoot: '/etc', procRoot: '/proc', ...overrides };
}
