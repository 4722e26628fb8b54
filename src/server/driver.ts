/**
 * The Docker VolumeDriver protocol as one small interface: each endpoint of the server calls one method.
 * The volume manager implements it; errors thrown are answered as `{"Err": message}`.
 */
export interface VolumeSummary {
  Name: string;
  Mountpoint: string;
  Devicename?: string;
  /** GiB: List's entries carry it, as upstream's did. */
  size?: number;
  /** ISO 8601. */
  CreatedAt?: string;
  Status: Record<string, unknown>;
}

export interface VolumeDriver {
  create(name: string, opts: Record<string, string> | undefined): Promise<void>;
  remove(name: string): Promise<void>;
  /** undefined: no such volume. */
  get(name: string): Promise<VolumeSummary | undefined>;
  /** The same array while nothing changed (the server then reuses its JSON); never mutated once answered. */
  list(): Promise<readonly VolumeSummary[]>;
  /** '' while the volume is not mounted; throws for an unknown volume. */
  path(name: string): Promise<string>;
  /** Mounts for caller `id` (first one attaches and mounts; others count references); throws for an unknown volume. */
  mount(name: string, id: string): Promise<{ Mountpoint: string; Devicename: string }>;
  /** Releases caller `id`; the last one unmounts and detaches. */
  unmount(name: string, id: string): Promise<void>;
}
