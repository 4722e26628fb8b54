/** One warning per password written in plain text in hpe.conf, with or without a key for its backend. */
import type { BackendConfig } from '../config/index.js';
import { backendSecrets, secretForm, type KeyLookup } from '../secrets/index.js';
import type { CheckResult } from './report.js';

/**
 * Passwords inherited by replication_device (no place of their own in the file) are warned about where they
 * are written. A value that is not even well-formed is reported by the secrets check, not here.
 */
export function plainPasswordWarnings(configFile: string, backend: BackendConfig, lookup: KeyLookup): CheckResult[] {
  const warnings: CheckResult[] = [];
  for (const secret of backendSecrets(backend)) {
    if (secret.span === undefined || formOf(secret.raw, lookup) !== 'plain') continue;
    warnings.push({
      check: 'secrets',
      status: 'warn',
      subject: `secrets [${backend.name}]`,
      detail: `${configFile}:${secret.line}: [${backend.name}].${secret.option}: is plain text`,
      fix: `encrypt it in place with \`hpe3parencryptor encrypt-config --backend ${backend.name}\``,
    });
  }
  return warnings;
}

function formOf(raw: string, lookup: KeyLookup): string | undefined {
  try {
    return secretForm(raw, lookup).form;
  } catch {
    return undefined;
  }
}
