/**
 * The array's SSH CLI, for what the WSAPI lacks: snapshot schedules (`createsched`, `removesched`, `showsched`).
 * One connection per array, opened on first need and reused like the WSAPI session; every command is bounded in
 * time. Errors are `ArrayCliError`s naming the array and the CLI command (never a password or key).
 */

/** What `createsched` is asked to make: a schedule running `createsv` on one parent volume. */
export interface ScheduleSpec {
  /** The schedule's name on the array (≤ 31 characters). */
  scheduleName: string;
  /** Five cron fields separated by single spaces, as upstream passes them. */
  frequency: string;
  /** Prefix of the scheduled snapshots' names (≤ 15 characters). */
  snapshotPrefix: string;
  /** The parent's array volume name (`dcv-…`). */
  parentVolume: string;
  expirationHours?: number;
  retentionHours?: number;
}

/** A schedule as `showsched` lists it. */
export interface SnapSchedule {
  name: string;
  /** The command the schedule runs (`createsv -f … <prefix>.@y@@m@@d@@H@@M@@S@ <parent>`). */
  command: string;
  /** The five cron fields. */
  when: string;
}

export interface ArrayCli {
  createSchedule(spec: ScheduleSpec): Promise<void>;
  /** Removes a schedule; `false` when the array has none of that name. */
  removeSchedule(name: string): Promise<boolean>;
  getSchedule(name: string): Promise<SnapSchedule | undefined>;
  /** Ends the SSH connection; later calls open a new one. */
  close(): Promise<void>;
}
