export { classifySecret, secretNameProblem, SecretNamePattern, SecretNameRule } from './format.js';
export { resolveEtcdPassword } from './etcd-password.js';
export { parseKeyRecord, PassphraseKeys, type KeyRecordV1, type StoredKey } from './key-record.js';
export { loadKeyLookups, lookupFor } from './keys.js';
export {
  backendsToEncrypt,
  checkBackendName,
  deleteBackendKey,
  describeSecretStatus,
  encryptConfigFile,
  encryptPassword,
  migrateLegacyBackend,
  obtainBackendKey,
  rotateBackendKey,
  RotationSteps,
  type BackendSecretStatus,
  type EncryptedOptions,
  type RotationStep,
  type StepHooks,
} from './operations.js';
export {
  backendSecrets,
  namedSecretReferences,
  revealSecret,
  revealConfigSecrets,
  secretForm,
  type KeyLookup,
  type KeyLookups,
  type RevealedSecrets,
  type RevealResult,
  type SecretForm,
} from './resolve.js';
export {
  loadNamedSecrets,
  namedSecretsFrom,
  parseClusterKey,
  parseNamedSecretEntry,
  resolveNamedSecret,
  withNamedSecret,
  type ClusterKeyLookup,
  type NamedSecretEntry,
  type NamedSecrets,
} from './named.js';
export { currentVersion, MaxSecretVersions, parseNamedSecretRecord, type NamedSecretRecordV1, type NamedSecretVersion } from './named-record.js';
export {
  clusterKeyExists,
  createNamedSecretsOnce,
  listNamedSecrets,
  namedSecretHistory,
  putNamedSecret,
  removeNamedSecret,
  rollbackNamedSecret,
  type NamedSecretRow,
  type NamedSecretsListing,
  type PutResult,
} from './named-operations.js';
export { checkClusterPassphrase, rotateClusterKey, type RotateClusterKeyResult } from './named-rotation.js';
export { parseSyncFile, SyncFileVersion, type SecretUse, type SyncFile, type SyncSecret } from './sync-file.js';
export {
  applySync,
  loadSyncState,
  planIsEmpty,
  planSync,
  SyncSteps,
  type PlannedCreate,
  type PlannedRewrite,
  type SkippedUse,
  type SyncOutcome,
  type SyncPlan,
  type SyncState,
  type SyncStep,
} from './sync.js';
