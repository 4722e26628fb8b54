export { classifySecret } from './format.js';
export { resolveEtcdPassword } from './etcd-password.js';
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
  revealConfigSecrets,
  secretForm,
  type KeyLookup,
  type KeyLookups,
  type RevealedSecrets,
  type RevealResult,
  type SecretForm,
} from './resolve.js';
