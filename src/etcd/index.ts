/**
 * etcd: the client (bounded, mapped errors; reads over the JSON gateway, the rest over etcd3, loaded on first
 * need), per-member health, and the backend key-record store. Importing this module does not load etcd3.
 */
export {
  createEtcdClient,
  createEtcdClientWith,
  loadEtcdTls,
  toEtcdError,
  loadEtcd3,
  formatEndpoint,
  Etcd3Client,
  DEFAULT_DIAL_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type EtcdClient,
  type EtcdClientOptions,
  type EtcdConfig,
  type EtcdRecord,
  type EtcdTlsMaterial,
} from './client.js';
export { checkMembers, CHECK_DIAL_TIMEOUT_MS, CHECK_REQUEST_TIMEOUT_MS, type MemberStatus } from './members.js';
export {
  KEY_RECORD_PREFIX,
  keyRecordKey,
  readAllKeyRecords,
  readKeyRecord,
  createKeyRecord,
  replaceKeyRecord,
  deleteKeyRecord,
  type StoredKeyRecord,
} from './key-store.js';
