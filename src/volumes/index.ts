/** volumes: the Docker-facing volume manager, and what its tests and `check` use of its request, store and backend parts. */
export {
  VolumeRequestError,
  VolumeStoreError,
  VolumeExistsError,
  VolumeRecordConflictError,
  LockTimeoutError,
} from './errors.js';
export { parseCreateRequest, pythonList, type Opts, type VolumeRequest } from './request/options.js';
export { CREATE_HELP, formatBackendsTable } from './request/help.js';
export {
  newVolumeId,
  encodeUuid,
  decodeUuid,
  arrayVolumeName,
  vvSetName,
  parseArrayName,
  isPluginArrayName,
  isValidVolumeName,
  parseGetName,
  InvalidGetNameError,
} from './request/naming.js';
export { VolumeStore, type VolumeRecord } from './store/records.js';
export { EtcdLocks, LockError, volumeLock, rcgLock, lockPrefix, DEFAULT_LOCK_WAIT_MS } from './store/locks.js';
export type { RepairReport } from './flows/repair.js';
export type { BackendView } from './backends/state.js';
export { probeBackends } from './backends/backends.js';
export { createVolumeManager, type VolumeManager, type VolumeManagerOptions } from './manager.js';
