/**
 * etcd: the client (bounded, mapped errors; reads over the JSON gateway, the rest over etcd3, loaded on first
 * need), per-member health, and the backend key-record store. Importing this module does not load etcd3.
 */
export { createEtcdClient, Etcd3Client, type EtcdClient, type KeyRange } from './client.js';
export { toEtcdError } from './errors.js';
export { prefixRangeEnd } from './gateway.js';
export { ifEveryKeyUnder } from './range-compare.js';
export { endpointsLabel } from './endpoints.js';
export { checkMembers } from './members.js';
export { applyEtcdRoles, etcdctlCommands, planEtcdRoles, type EtcdRolesPlan, type Grant } from './roles.js';
export { waitForKeyEvent, type KeyEvent, type KeyWatch } from './key-watch.js';
export { listPrefix, PrefixWatch, type PrefixEntry, type PrefixListing, type PrefixWatchHandlers, type PrefixWatchOptions } from './prefix-watch.js';
export {
  prefixedKey,
  KEY_RECORDS_PREFIX,
  SECRETS_PREFIX,
  NAMED_SECRETS_PREFIX,
  CLUSTER_SECRETS_KEY,
  VOLUMES_PREFIX,
  VOLUME_NAMES_PREFIX,
  INTENTS_PREFIX,
  MOUNT_INTENTS_PREFIX,
  LOCKS_PREFIX,
  NODES_PREFIX,
} from './keyspace.js';
export { keyRecordKey, readAllKeyRecords, readKeyRecord, createKeyRecord, replaceKeyRecord, deleteKeyRecord } from './key-store.js';
export {
  namedSecretKey,
  readNamedSecretRecords,
  readClusterKeyRecord,
  createClusterKeyRecord,
  readNamedSecret,
  writeNamedSecret,
  deleteNamedSecret,
  replaceClusterKeyAndSecrets,
  type GuardedRecord,
  type NamedSecretRecords,
} from './secret-store.js';
