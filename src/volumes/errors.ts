/**
 * Errors of the volumes module. A `VolumeRequestError`'s message is exactly the text Docker shows the user
 * (`Error response from daemon: create vol1: VolumeDriver.Create: <message>`), so it keeps upstream's wording
 * where users may grep for it. Store and lock errors name the volume and carry the etcd cause.
 */
import { HpeError } from '../errors.js';

const HELP_FIX = 'run `docker volume create -d hpe -o help` for the valid options';

/** A Create request the plugin refuses; `message` is the `Err` text returned to Docker. */
export class VolumeRequestError extends HpeError {
  constructor(message: string, fix: string = HELP_FIX, options: { retryable?: boolean } = {}) {
    super(message, fix, options);
  }
}

/** etcd failed while reading or writing a volume record. `cause` is the mapped `EtcdError`. */
export class VolumeStoreError extends HpeError {}

/** `create` found the Docker name (or, improbably, the uuid) already taken. */
export class VolumeExistsError extends HpeError {
  constructor(readonly volumeName: string, detail = `volume ${volumeName} already exists`) {
    super(detail, 'choose another name, or use the existing volume');
  }
}

/** A compare-and-swap lost: the record changed or was removed since it was read. Re-read and retry. */
export class VolumeRecordConflictError extends HpeError {
  constructor(readonly volumeName: string) {
    super(
      `volume ${volumeName} was changed or removed by another request while this one ran`,
      'read the volume again and retry the operation',
      { retryable: true },
    );
  }
}

/** A volume or replication-group lock was not obtained within the bounded wait. */
export class LockTimeoutError extends HpeError {
  constructor(
    readonly lockName: string,
    readonly waitedMs: number,
    holder: string | undefined,
    ttlSeconds: number,
  ) {
    const by = holder === undefined ? '' : ` (held by ${holder})`;
    super(
      `${lockName} is busy: another operation on it did not finish within ${formatSeconds(waitedMs)}${by}`,
      `retry when the other operation has finished; a lock whose holder stopped expires by itself within ${ttlSeconds} s`,
      { retryable: true },
    );
  }
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}
