import type { BackendConfig, HpeConfig, SecretOption, SecretValue } from '../config/index.js';
import { SecretError } from '../errors.js';
import { registerSecret } from '../log.js';
import { openSecret } from './box.js';
import { classifySecret } from './format.js';
import { keyForKid, type StoredKey } from './key-record.js';
import { decryptLegacy } from './legacy.js';
import { resolveNamedSecret, type NamedSecrets } from './named.js';
import { resolvePlaceholder } from './placeholders.js';

/** How a password is written in hpe.conf; what `status` shows instead of the value. */
export type SecretForm =
  | { form: 'plain' }
  | { form: 'encrypted'; kid: string }
  | { form: 'legacy' }
  | { form: 'placeholder'; source: 'env' | 'file'; ref: string }
  | { form: 'named'; name: string };

/** A backend's key record as read from etcd, or why it could not be used. */
export type KeyLookup = { found: true; stored: StoredKey } | { found: false } | { found: false; error: SecretError };

export type KeyLookups = ReadonlyMap<string, KeyLookup>;

/** The secrets of a backend written (or inherited) in this config, in a fixed order: the passwords, then the key's passphrase. */
export function backendSecrets(backend: BackendConfig): SecretValue[] {
  const own = [backend.password, backend.sanPassword];
  const replication = backend.replication === undefined ? [] : [backend.replication.password, backend.replication.sanPassword];
  const passphrase = backend.sanPrivateKeyPassphrase === undefined ? [] : [backend.sanPrivateKeyPassphrase];
  return [...own, ...replication, ...passphrase];
}

function legacyPassphraseOf(lookup: KeyLookup | undefined): string | undefined {
  if (lookup === undefined || !lookup.found) return undefined;
  const { stored } = lookup;
  return stored.format === 'legacy' ? stored.passphrase : stored.record.legacyPassphrase;
}

/** Classifies a raw value without decrypting it. Malformed `enc:` values throw. */
export function secretForm(raw: string, lookup: KeyLookup | undefined): SecretForm {
  const c = classifySecret(raw);
  if (c.kind === 'encrypted') return { form: 'encrypted', kid: c.kid };
  if (c.kind === 'placeholder') return { form: 'placeholder', source: c.source, ref: c.ref };
  if (c.kind === 'named') return { form: 'named', name: c.name };
  return legacyPassphraseOf(lookup) === undefined ? { form: 'plain' } : { form: 'legacy' };
}

function location(config: HpeConfig, backend: BackendConfig, secret: SecretValue) {
  return { file: config.file, line: secret.line, section: backend.name, option: secret.option };
}

function describeInheritance(secret: SecretValue): string {
  return secret.inheritedFrom === undefined ? '' : ` (inherited from ${secret.inheritedFrom})`;
}

/** Which backend's key record carries this kid, for the "copied from another backend" diagnosis. */
function ownerOfKid(lookups: KeyLookups, kid: string): string | undefined {
  for (const [name, lookup] of lookups) {
    if (lookup.found && lookup.stored.format === 'v1' && keyForKid(lookup.stored, kid) !== undefined) return name;
  }
  return undefined;
}

function revealNamed(name: string, named: NamedSecrets | undefined): string {
  if (named === undefined) {
    throw new SecretError(`names secret ${name}, but the named secrets were not read from etcd`, 'report this as a bug of hpedockerplugin');
  }
  return resolveNamedSecret(named, name);
}

async function revealOne(
  config: HpeConfig,
  backend: BackendConfig,
  secret: SecretValue,
  lookups: KeyLookups,
  env: NodeJS.ProcessEnv,
  named: NamedSecrets | undefined,
): Promise<string> {
  const where = location(config, backend, secret);
  const lookup = lookups.get(backend.name);
  const etcdKey = `/backend/${backend.name}`;
  let classified;
  try {
    classified = classifySecret(secret.raw);
  } catch (err) {
    if (err instanceof SecretError) throw new SecretError(err.message, err.fix, where, { cause: err });
    throw err;
  }
  const inherited = describeInheritance(secret);

  if (classified.kind === 'placeholder' || classified.kind === 'named') {
    try {
      return classified.kind === 'named' ? revealNamed(classified.name, named) : await resolvePlaceholder(classified, env);
    } catch (err) {
      if (err instanceof SecretError) throw new SecretError(err.message + inherited, err.fix, where, { cause: err });
      throw err;
    }
  }

  if (classified.kind === 'encrypted') {
    const { kid } = classified;
    if (lookup === undefined || !lookup.found) {
      if (lookup !== undefined && 'error' in lookup) throw lookup.error;
      throw new SecretError(
        `is encrypted with key ${kid}${inherited}, but etcd has no key record at ${etcdKey}: the key was deleted (hpe3parencryptor -d) or this host uses another etcd than the one the value was encrypted with`,
        `point [DEFAULT].host_etcd_ip_address at the etcd that holds the key, or write the plain password back and run \`hpe3parencryptor encrypt-config --backend ${backend.name}\``,
        where,
      );
    }
    if (lookup.stored.format === 'legacy') {
      throw new SecretError(
        `is encrypted with key ${kid}${inherited}, but ${etcdKey} holds a legacy passphrase, not a key record: the key record was replaced by py-3parencryptor`,
        `restore the key record from a backup, or write the plain password back and run \`hpe3parencryptor migrate --backend ${backend.name}\` then \`hpe3parencryptor encrypt-config --backend ${backend.name}\``,
        where,
      );
    }
    const key = keyForKid(lookup.stored, kid);
    if (key === undefined) {
      const owner = ownerOfKid(lookups, kid);
      const cause =
        owner !== undefined
          ? `key ${kid} belongs to backend ${owner}: the value was copied from [${owner}]`
          : `the key was replaced (hpe3parencryptor -d then -a) or the value was copied from another backend or host`;
      throw new SecretError(
        `is encrypted with key ${kid}${inherited}, but backend ${backend.name}'s key is ${lookup.stored.record.kid}; ${cause}`,
        `encrypt the password for this backend: \`hpe3parencryptor -a - - --backend ${backend.name}\`, or write it in plain text and run \`hpe3parencryptor encrypt-config --backend ${backend.name}\``,
        where,
      );
    }
    const plain = openSecret(key, classified.payload);
    if (plain === null) {
      throw new SecretError(
        `does not decrypt with key ${kid}${inherited}: the value was edited or damaged after it was encrypted`,
        `encrypt the password again: \`hpe3parencryptor -a - - --backend ${backend.name}\` and paste the result, or write it in plain text and run \`hpe3parencryptor encrypt-config --backend ${backend.name}\``,
        where,
      );
    }
    return plain;
  }

  const legacyPassphrase = legacyPassphraseOf(lookup);
  if (legacyPassphrase === undefined) return secret.raw;
  const plain = decryptLegacy(legacyPassphrase, secret.raw);
  if (plain === null) {
    throw new SecretError(
      `is not a legacy encrypted value for the passphrase stored at ${etcdKey}${inherited}: it is plain text, damaged, or was encrypted with another passphrase`,
      `encrypt it again with py-3parencryptor's passphrase, or run \`hpe3parencryptor migrate --backend ${backend.name}\` after writing the plain password`,
      where,
    );
  }
  return plain;
}

/**
 * The value of one password as the plugin would use it (decrypted, resolved), registered with the logger's
 * masker. Errors are located SecretErrors.
 */
export async function revealSecret(
  config: HpeConfig,
  backend: BackendConfig,
  secret: SecretValue,
  lookups: KeyLookups,
  env: NodeJS.ProcessEnv = process.env,
  named?: NamedSecrets,
): Promise<string> {
  const value = await revealOne(config, backend, secret, lookups, env, named);
  registerSecret(value);
  return value;
}

/** Decrypted passwords of one backend, by option. Held in memory only. */
export type RevealedSecrets = Partial<Record<SecretOption, string>>;

export interface RevealResult {
  secrets: Map<string, RevealedSecrets>;
  /** Every failure, located; a backend with any failure has no entry in `secrets`. */
  failures: SecretError[];
}

/** Every `$secret{NAME}` written in the config, by name: the `[backend].option` places that use it. */
export function namedSecretReferences(config: HpeConfig): Map<string, string[]> {
  const uses = new Map<string, string[]>();
  for (const backend of config.backends) {
    for (const secret of backendSecrets(backend)) {
      if (secret.span === undefined) continue;
      let classified;
      try {
        classified = classifySecret(secret.raw);
      } catch {
        continue; // malformed: the secrets check reports it
      }
      if (classified.kind !== 'named') continue;
      uses.set(classified.name, [...(uses.get(classified.name) ?? []), `[${backend.name}].${secret.option}`]);
    }
  }
  return uses;
}

/**
 * Decrypts or resolves every password of every backend (all four, replication included).
 * Fails closed: a value that says `enc:` is never used as plain text. Every revealed value is
 * registered with the logger so that it is masked in any log line.
 */
export async function revealConfigSecrets(
  config: HpeConfig,
  lookups: KeyLookups,
  env: NodeJS.ProcessEnv = process.env,
  /** Needed when the config holds `$secret{}` values: `loadNamedSecrets`, one etcd read. */
  named?: NamedSecrets,
): Promise<RevealResult> {
  const perBackend = await Promise.all(
    config.backends.map(async (backend) => {
      const revealed: RevealedSecrets = {};
      const backendFailures: SecretError[] = [];
      for (const secret of backendSecrets(backend)) {
        try {
          const value = await revealSecret(config, backend, secret, lookups, env, named);
          revealed[secret.option] = value;
        } catch (err) {
          if (!(err instanceof SecretError)) throw err;
          backendFailures.push(err);
        }
      }
      return { name: backend.name, revealed, backendFailures };
    }),
  );
  const secrets = new Map<string, RevealedSecrets>();
  const failures: SecretError[] = [];
  for (const { name, revealed, backendFailures } of perBackend) {
    if (backendFailures.length === 0) secrets.set(name, revealed);
    failures.push(...backendFailures);
  }
  return { secrets, failures };
}
