/**
 * Errors of the volume operations (create, remove, snapshot, clone, import, repair) once a request is valid.
 * An array's error answer is reported as HPE's plugin reported it — upstream's wording with hpe3parclient's
 * text of the WSAPI error in it (`Not found (HTTP 404) 23 - volume does not exist`), which scripts and runbooks
 * grep for — and then, in parentheses, what this plugin adds: the operation, the array and the call, the fix:
 *   `Bad request (HTTP 400) 24 - no space (Failed to create volume v1 on backend DEFAULT; array 10.0.0.5:8080:
 *    POST /volumes, WSAPI code NO_SPACE; fix: free space in the CPG or choose another CPG)`.
 * Other causes, and Mount / Unmount failures (upstream answered those with an empty body), read
 * `<what>: <cause>`. The fix of the original error is kept.
 */
import { hpe3parClientText, wsapiCodeName, WsapiError } from '../../array/index.js';
import { HpeError } from '../../errors.js';

/** A valid request that failed while it was carried out (array, etcd or lock). */
export class VolumeOperationError extends HpeError {}

/** hpe3parclient's text of an array's error answer (what upstream embedded in its messages); else the message. */
export function clientText(err: unknown): string {
  return err instanceof WsapiError ? hpe3parClientText(err) : describe(err);
}

/** `array A: CALL, WSAPI code NAME` for an array's error answer; undefined for any other error. */
export function arrayContext(err: unknown): string | undefined {
  if (!(err instanceof WsapiError)) return undefined;
  const name = wsapiCodeName(err.code);
  return `array ${err.array}: ${err.call}${name === undefined ? '' : `, WSAPI code ${name}`}`;
}

/** `clientText (array A: CALL, WSAPI code NAME)`: an array error for log lines and Get's status texts. */
export function describeArrayError(err: unknown): string {
  const where = arrayContext(err);
  return where === undefined ? describe(err) : `${clientText(err)} (${where})`;
}

/**
 * `<upstream> (<what>; <array context>; fix: <fix>)`: upstream's text first and verbatim, then ours.
 * `upstream` is upstream's whole message, usually built around `clientText(err)`.
 */
export function failedWith(upstream: string, err: unknown, context: { what?: string; fix?: string; retryable?: boolean } = {}): VolumeOperationError {
  const fix = context.fix ?? (err instanceof HpeError ? err.fix : 'see the plugin log for details; retry, and report a bug if it persists');
  const parts = [context.what, arrayContext(err), `fix: ${fix}`].filter((p): p is string => p !== undefined);
  return new VolumeOperationError(`${upstream} (${parts.join('; ')})`, fix, {
    retryable: context.retryable ?? (err instanceof HpeError && err.retryable),
    cause: err,
  });
}

/**
 * A volume operation (create, remove, snapshot, clone, import) failed with `err`: an array's error answer in
 * upstream's form (its client's text first, see `failedWith`), any other cause as `operationFailed` puts it.
 */
export function failedAsUpstream(what: string, err: unknown, fix?: string): VolumeOperationError {
  if (err instanceof WsapiError) return failedWith(clientText(err), err, { what, ...(fix === undefined ? {} : { fix }) });
  return operationFailed(what, err, fix);
}

/** `<what>: <cause>`, keeping the cause's fix and retryability (Mount and Unmount, which upstream had no text for). */
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
