/** etcd: the client (bounded, mapped errors), per-member health, and the backend key-record store. */
export {
  createEtcdClient,
  createEtcdClientWith,
  loadEtcdTls,
  toEtcdError,
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
