/**
 * Per-member health for `hpedockerplugin check`: each configured endpoint is asked on its own (one client per
 * endpoint, one `Maintenance.Status` call, through the JSON gateway like every read), all in parallel, so one
 * line per member can be printed.
 */
import { EtcdError } from '../errors.js';
import { createEtcdClientWith, type EtcdClientOptions } from './client.js';
import { formatEndpoint, type EtcdConfig } from './endpoints.js';
import { loadEtcdTls, type EtcdTlsMaterial } from './tls.js';

interface MemberStatus {
  /** `host:port` as configured. */
  endpoint: string;
  ok: boolean;
  error?: EtcdError;
  /** etcd server version, e.g. `3.4.23`. */
  version?: string;
  /** Whether this member is the raft leader right now. */
  leader?: boolean;
}

/** Short defaults: a check answers within about 3 s even with silent members (all are asked in parallel). */
const CHECK_DIAL_TIMEOUT_MS = 1000;
const CHECK_REQUEST_TIMEOUT_MS = 2000;

function asEtcdError(e: unknown, endpoint: string): EtcdError {
  if (e instanceof EtcdError) return e;
  const message = e instanceof Error ? e.message : String(e);
  const fix = typeof (e as { fix?: unknown }).fix === 'string' ? (e as { fix: string }).fix : `check etcd's health on ${endpoint}`;
  return new EtcdError(endpoint, 'unavailable', message, fix, { cause: e });
}

/**
 * Status of each configured endpoint, in config order. Never rejects: a problem with the TLS files (unreadable,
 * not PEM…) is reported as every member's error, since no member can be reached without them.
 */
export async function checkMembers(cfg: EtcdConfig, opts: EtcdClientOptions = {}): Promise<MemberStatus[]> {
  const clientOptions: EtcdClientOptions = {
    ...opts,
    dialTimeoutMs: opts.dialTimeoutMs ?? CHECK_DIAL_TIMEOUT_MS,
    requestTimeoutMs: opts.requestTimeoutMs ?? CHECK_REQUEST_TIMEOUT_MS,
    // Each member's own answer, now: a member without a leader is shown as such, not waited for.
    transientRetryMs: opts.transientRetryMs ?? 0,
  };
  let material: EtcdTlsMaterial | undefined;
  try {
    material = await loadEtcdTls(cfg);
  } catch (e) {
    return cfg.endpoints.map((ep) => {
      const endpoint = formatEndpoint(ep);
      return { endpoint, ok: false, error: asEtcdError(e, endpoint) };
    });
  }
  return Promise.all(
    cfg.endpoints.map(async (ep): Promise<MemberStatus> => {
      const endpoint = formatEndpoint(ep);
      const client = createEtcdClientWith({ ...cfg, endpoints: [ep] }, material, clientOptions);
      try {
        const status = await client.memberStatus();
        return { endpoint, ok: true, version: status.version, leader: status.leader };
      } catch (e) {
        return { endpoint, ok: false, error: asEtcdError(e, endpoint) };
      } finally {
        client.close();
      }
    }),
  );
}
