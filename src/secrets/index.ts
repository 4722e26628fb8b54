export { classifySecret, secretNameProblem, SecretNamePattern, SecretNameRule } from './format.js';
export { parseKeyRecord, type KeyRecordV1, type StoredKey } from './key-record.js';
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
  namedSecretPath,
  namedSecretsFrom,
  parseClusterKey,
  parseNamedSecretEntry,
  resolveNamedSecret,
  withNamedSecret,
  type ClusterKeyLookup,
  type NamedSecretEntry,
  type NamedSecrets,
} from './named.js';
export { MaxSecretVersions, parseNamedSecretRecord, type NamedSecretRecordV1, type NamedSecretVersion } from './named-record.js';
export {
  clusterKeyExists,
  listNamedSecrets,
  namedSecretHistory,
  putNamedSecret,
  removeNamedSecret,
  rollbackNamedSecret,
  type NamedSecretRow,
  type NamedSecretsListing,
  type PutResult,
} from './named-operations.js';
