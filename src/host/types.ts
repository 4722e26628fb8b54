/**
 * The host side's vocabulary: what the array side hands over (`Connection`), what the host keeps after attaching
 * (`Attachment`, stored in the volume's etcd record so a crash can be repaired) and the environment every host
 * operation runs in (`HostEnv`: the command runner and the roots of /sys, /dev, /etc and /proc, injectable for tests).
 */
import type { Connection } from '../array/index.js';
import type { Clock } from '../clock.js';
import type { CommandRunner } from './runner.js';

/** How this host reaches an exported volume: the array side's result (its `simulatorVolumeFile` is relative to `HostEnv.simulatorRoot`). */
export type { Connection };

export const TransportKinds = ['iscsi', 'fc', 'loop'] as const;
export type TransportKind = (typeof TransportKinds)[number];

/** An attached volume on this host. JSON-serialisable: it is stored in the volume's etcd record for crash repair. */
export interface Attachment {
  transport: TransportKind;
  /** What to mount: `/dev/dm-N`, `/dev/sdX` or `/dev/loopN`. */
  device: string;
  /** Lower-case hex, no `0x`. */
  wwn: string;
  /** The SCSI path devices (`sdb`, `sdc`), names only; empty for loop. */
  paths: string[];
  /** The device-mapper name of the multipath map, when multipathd made one. */
  multipath?: string;
  /** iSCSI: the targets logged in to, pairwise (`portals[i]` serves `iqns[i]`). */
  portals?: string[];
  iqns?: string[];
  /** loop: the absolute path of the backing file. */
  file?: string;
}

export interface Transport {
  readonly kind: TransportKind;
  /** Idempotent: attaching an attached volume again gives the same result. */
  attach(conn: Connection, signal?: AbortSignal): Promise<Attachment>;
  /** Idempotent: detaching what is already gone succeeds. */
  detach(att: Attachment): Promise<void>;
  /** The device of an attachment still present on this host (after a plugin restart or a reboot), without attaching anything. */
  locate(att: Attachment): Promise<string | undefined>;
}

/** Bounded waits of the host side, in ms. */
export interface HostTimeouts {
  /** How long a LUN's SCSI device may take to appear after login or rescan. */
  deviceMs: number;
  /** How long multipathd may take to build the map once a path exists. */
  multipathMs: number;
  /** How often a wait looks again. */
  pollMs: number;
  /** FC: how often (in ms of waiting) the SCSI hosts are rescanned again while the LUN has not appeared. */
  fcRescanMs: number;
}

export const defaultHostTimeouts: HostTimeouts = { deviceMs: 30_000, multipathMs: 15_000, pollMs: 500, fcRescanMs: 5_000 };

export interface HostEnv {
  runner: CommandRunner;
  /** `/sys` */
  sysRoot: string;
  /** `/dev` */
  devRoot: string;
  /** `/etc` */
  etcRoot: string;
  /** `/proc` */
  procRoot: string;
  /** The simulators' root folder; loop attachments refuse files outside it. */
  simulatorRoot?: string;
  clock?: Clock;
  timeouts?: Partial<HostTimeouts>;
}
