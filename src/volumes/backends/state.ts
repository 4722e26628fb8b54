/**
 * A backend's state as requests see it, and the one set of errors a request to a backend that is not OK gets
 * (the same whether option validation or a flow finds it).
 */
import type { ReplicationDevice } from '../../config/index.js';
import { VolumeRequestError } from '../errors.js';

export type BackendState = 'INITIALIZING' | 'OK' | 'FAILED';

export interface BackendStatus {
  name: string;
  state: BackendState;
  /** Why a FAILED backend failed (no secret values). */
  reason?: string;
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
