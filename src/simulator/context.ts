/** What every resource handler works with, and the lookups they share (each failing as the array does). */
import { WsapiCodes, type WsapiFeatures } from '../array/index.js';
import type { Clock } from '../clock.js';
import type { CopyTasks } from './copy-tasks.js';
import type { LaterWork } from './later.js';
import type { VolumeFiles } from './disk.js';
import { notFound } from './errors.js';
import type { ResolvedSimulatorOptions } from './options.js';
import type { Peers } from './peers.js';
import type { SimHost, SimRcg, SimState, SimVolume, SimVolumeSet } from './state.js';

export interface SimContext {
  readonly options: ResolvedSimulatorOptions;
  readonly state: SimState;
  readonly files: VolumeFiles;
  readonly features: WsapiFeatures;
  readonly peers: Peers;
  readonly copies: CopyTasks;
  /** The simulator's clock: volume times, expiration, snapshot schedules, role change transitions. */
  readonly clock: Clock;
  /** Work done after a request was answered, on `clock`; ended by stop(). */
  readonly later: LaterWork;
  /** Records that volume `name` was added, changed or removed, so that the next save writes it. */
  volumeChanged(name: string): void;
  /** Writes what changed (after every change that is not followed by the server's own save). */
  save(): void;
}

export function nextId(ctx: SimContext, kind: keyof SimState['nextId']): number {
  const id = ctx.state.nextId[kind];
  ctx.state.nextId[kind] = id + 1;
  return id;
}

export function isoNow(): string {
  return new Date().toISOString();
}

export function volumeIdInUse(ctx: SimContext, id: number): boolean {
  return ctx.state.volumeIds.has(id);
}

/** Removes a volume's record (its file on disk goes at the next save). */
export function dropVolume(ctx: SimContext, v: SimVolume): void {
  ctx.state.volumes.delete(v.name);
  ctx.state.volumeIds.delete(v.id);
  ctx.volumeChanged(v.name);
}

export function volumeOr404(ctx: SimContext, name: string): SimVolume {
  const v = ctx.state.volumes.get(name);
  if (v === undefined) throw notFound(WsapiCodes.NON_EXISTENT_VOL, `volume '${name}' does not exist`);
  return v;
}

export function cpgOr404(ctx: SimContext, name: string): string {
  if (!ctx.options.cpgs.includes(name)) throw notFound(WsapiCodes.NON_EXISTENT_CPG, `CPG '${name}' does not exist`);
  return name;
}

export function hostOr404(ctx: SimContext, name: string): SimHost {
  const h = ctx.state.hosts.get(name);
  if (h === undefined) throw notFound(WsapiCodes.NON_EXISTENT_HOST, `host '${name}' does not exist`);
  return h;
}

export function volumeSetOr404(ctx: SimContext, name: string): SimVolumeSet {
  const s = ctx.state.volumeSets.get(name);
  if (s === undefined) throw notFound(WsapiCodes.NON_EXISTENT_SET, `volume set '${name}' does not exist`);
  return s;
}

export function rcgOr404(ctx: SimContext, name: string): SimRcg {
  const g = ctx.state.rcgs.get(name);
  if (g === undefined) throw notFound(WsapiCodes.NON_EXISTENT_RCOPY_GROUP, `remote copy group '${name}' does not exist`);
  return g;
}

/** The remote copy group a volume belongs to, if any. */
export function rcgOfVolume(ctx: SimContext, volume: string): SimRcg | undefined {
  for (const g of ctx.state.rcgs.values()) if (g.volumes.some((v) => v.localVolumeName === volume)) return g;
  return undefined;
}

export function collection(members: unknown[]): { total: number; members: unknown[] } {
  return { total: members.length, members };
}
