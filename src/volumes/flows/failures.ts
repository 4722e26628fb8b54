/**
 * Errors of the volume operations (create, remove, snapshot, clone, import, repair) once a request is valid:
 * one line naming the volume, the backend and the cause. A WSAPI failure keeps the array's text, which names
 * the array, the call and the WSAPI code (`array 10.0.0.5:8080: POST /volumes failed: HTTP 400, WSAPI code
 * 24 NO_SPACE: ...`); the fix of the original error is kept.
 */
import { WsapiError } from '../../array/index.js';
import { HpeError } from '../../errors.js';

/** A valid request that failed while it was carried out (array, etcd or lock). */
export class VolumeOperationError extends HpeError {}

/** `<what>: <cause>`, keeping the cause's fix and retryability. */
export function operationFailed(what: string, err: unknown, fix?: string): VolumeOperationError {
  if (err instanceof HpeError) {
    return new VolumeOperationError(`${what}: ${err.message}`, fix ?? err.fix, { retryable: err.retryable, cause: err });
  }
  const text = err instanceof Error ? err.message : String(err);
  return new VolumeOperationError(`${what}: ${text}`, fix ?? 'see the plugin log for details; retry, and report a bug if it persists', { cause: err });
}

/** The array answered this HTTP status (any code). */
export function isStatus(err: unknown, status: number): boolean {
  return err instanceof WsapiError && err.status === status;
}

/** The array answered with one of these WSAPI codes. */
export function hasAnyCode(err: unknown, ...codes: number[]): boolean {
  return err instanceof WsapiError && err.code !== undefined && codes.includes(err.code);
}

/** Text of any thrown value, for log lines and reports. */
export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
