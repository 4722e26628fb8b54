/** The configured etcd endpoints, the labels errors name them by, and how long a silent one is skipped. */
import type { HostConfig } from '../config/types.js';

export type EtcdConfig = HostConfig['etcd'];

/** A host whose TCP connect timed out is skipped for this long (other hosts are tried, or the call fails fast). */
export const SILENT_HOST_SKIP_MS = 5000;

/** `host:port`, with brackets for an IPv6 literal. */
export function formatEndpoint(ep: { host: string; port: number }): string {
  // Only an IPv6 literal contains ':' (cheaper than net.isIPv6, whose first call compiles a large regex: ~4 ms).
  return ep.host.includes(':') ? `[${ep.host}]:${ep.port}` : `${ep.host}:${ep.port}`;
}

/** All endpoints as one label, e.g. `10.0.0.1:2379,10.0.0.2:2379`. */
export function endpointsLabel(cfg: EtcdConfig): string {
  return cfg.endpoints.map(formatEndpoint).join(',');
}
