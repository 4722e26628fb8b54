/** `host_etcd_password`: the etcd user's password, from its `$env{}` or `$file{}` placeholder (never plain in hpe.conf). */
import type { HpeConfig } from '../config/index.js';
import { SecretError } from '../errors.js';
import { registerSecret } from '../log.js';
import { classifySecret } from './format.js';
import { resolvePlaceholder } from './placeholders.js';

/**
 * The password the etcd client authenticates `host_etcd_user` with (undefined without one), masked in every log
 * line from now on. Errors are located at `[DEFAULT].host_etcd_password` and name the variable or file only.
 */
export async function resolveEtcdPassword(config: Pick<HpeConfig, 'file' | 'host'>, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const ref = config.host.etcd.password;
  if (ref === undefined) return undefined;
  const where = { file: config.file, line: ref.line, section: 'DEFAULT', option: 'host_etcd_password' };
  try {
    const classified = classifySecret(ref.raw);
    // The config refuses any other form; this guards callers that build an EtcdConfig by hand.
    if (classified.kind !== 'placeholder') throw new SecretError('must be a $file{} or $env{} placeholder', 'write `host_etcd_password = $file{/path}` or `$env{NAME}`');
    const password = await resolvePlaceholder(classified, env);
    registerSecret(password);
    return password;
  } catch (err) {
    if (err instanceof SecretError) throw new SecretError(err.message, err.fix, where, { cause: err });
    throw err;
  }
}
