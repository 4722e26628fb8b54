/**
 * A backend's state as requests see it, and the one set of errors a request to a backend that is not OK gets
 * (the same whether option validation or a flow finds it).
 */
import type { ReplicationDevice } from '../../config/index.js';
import { VolumeRequestError } from '../errors.js';

export type BackendState = 'INITIALIZING' | 'OK' | 'FAILED';

/** Which array of a backend: its own, or the replication target of its `replication_device`. */
export type ArrayRole = 'primary' | 'replication target';

/**
 * Where an array session's password (`hpe3par_password`, or the target's) stands when it is `$secret{NAME}`: the
 * plugin follows the secret in etcd and logs in again with each new version.
 *  - current: the session logged in with this version (or the value did not change);
 *  - rotating: logging in with this version; calls keep the session of the previous value meanwhile;
 *  - refused: the array refused this version: the session of the previous value is kept;
 *  - unreadable: this version cannot be used (deleted from etcd, does not decrypt): the previous value is kept.
 */
export type CredentialState = 'current' | 'rotating' | 'refused' | 'unreadable';

export interface CredentialStatus {
  secret: string;
  /** The version in etcd this state is about; undefined until the plugin has read the secret's record. */
  version?: number;
  state: CredentialState;
  /** The version the session logged in with; undefined for the value read at start, before the record was read. */
  inUse?: number;
  /** Why it is refused or unreadable, or why a rotation waits (no secret values). */
  reason?: string;
}

export interface BackendStatus {
  name: string;
  /** The state of the backend's own array: requests to the backend need it OK. */
  state: BackendState;
  /** Why a FAILED backend failed (no secret values). */
  reason?: string;
  /** Set when hpe3par_password is `$secret{NAME}`. */
  credentials?: CredentialStatus;
  /** The replication target's own state; only replicated operations need it OK. */
  target?: { id: string; state: BackendState; reason?: string; credentials?: CredentialStatus };
}

/** What option validation needs to know of a configured block backend. */
export interface BackendView extends BackendStatus {
  /** Set when the section has a `replication_device`. */
  replication?: ReplicationDevice;
}

/** The error Docker shows for a request to a backend that is INITIALIZING or FAILED (upstream's text, plus why). */
export function backendNotReady(backend: BackendStatus): VolumeRequestError {
  if (backend.state === 'INITIALIZING') {
    return new VolumeRequestError(
      `ERROR: Backend '${backend.name}' is still initializing. Please retry in a few seconds.`,
      'retry shortly; `-o help=backends` shows when it is OK',
      { retryable: true },
    );
  }
  const reason = backend.reason ? ` Reason: ${backend.reason}` : '';
  return new VolumeRequestError(
    `ERROR: Backend '${backend.name}' was NOT initialized successfully. Please check hpe.conf for incorrect entries and rectify it.${reason}`,
    // hpe.conf is read once, at start; what the array or the network fixes is picked up by the background retries.
    'fix what the reason names: on the array or the network, and the plugin retries the backend by itself; in hpe.conf, then run `hpedockerplugin check` and restart the plugin',
  );
}

/** A replication target's state, as `-o help=backends` shows it under its backend. */
export type TargetStatus = NonNullable<BackendStatus['target']>;

/**
 * The error of an operation that needs the replication target (a replicated create or remove) while the target
 * is INITIALIZING or FAILED; the backend's plain volumes keep working meanwhile.
 */
export function targetNotReady(backend: string, target: TargetStatus): VolumeRequestError {
  const which = `Replication target ${target.id} of backend '${backend}'`;
  const scope = `replicated operations are refused until it is OK; plain volumes of '${backend}' keep working.`;
  if (target.state === 'INITIALIZING') {
    return new VolumeRequestError(`ERROR: ${which} is still initializing: ${scope}`, 'retry shortly; `-o help=backends` shows when the target is OK', { retryable: true });
  }
  const reason = target.reason ? ` Reason: ${target.reason}` : '';
  return new VolumeRequestError(
    `ERROR: ${which} is not available: ${scope}${reason}`,
    `fix what the reason names: on the target array or the network, and the plugin retries the target by itself; in [${backend}].replication_device of hpe.conf, then run \`hpedockerplugin check\` and restart the plugin`,
  );
}
