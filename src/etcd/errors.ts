/**
 * etcd's failures: the one mapping of transport failures (classified by src/http) and of etcd3's errors to an
 * `EtcdError` reason, detail and fix, the same for the JSON gateway, the gRPC dial check and gRPC calls.
 */
import { EtcdError, HpeError, type EtcdFailureReason } from '../errors.js';
import { classifyTransportFailure, opensslReason, type HttpFailure, type TransportFailureKind } from '../http/index.js';
import { loadEtcd3 } from './etcd3.js';

/** How each TLS failure's detail starts (the fix is chosen by it). */
export const TlsDetail = {
  noClientCert: 'etcd requires a client certificate and none is configured',
  clientRejected: 'etcd rejected the client certificate',
  serverUntrusted: "etcd's server certificate is not trusted",
  plainServer: 'TLS handshake failed, etcd probably serves plain http',
  tlsServer: 'the connection was closed during the HTTP/2 handshake; etcd probably requires TLS',
  tlsServerHttp: 'the connection was closed before etcd answered the http request; etcd probably requires TLS',
} as const;

const ADDRESS_OPTIONS = 'host_etcd_ip_address / host_etcd_port_number in [DEFAULT]';
const TLS_OPTIONS = 'host_etcd_client_cert / host_etcd_client_key / host_etcd_ca_cert in [DEFAULT]';

function fixFor(reason: EtcdFailureReason, endpoint: string, detail = ''): string {
  switch (reason) {
    case 'refused':
      return `start etcd on ${endpoint}, or correct ${ADDRESS_OPTIONS}`;
    case 'timeout':
      return `check that etcd on ${endpoint} is running and reachable from this host (firewall, routing, load), or correct ${ADDRESS_OPTIONS}`;
    case 'tls':
      if (detail.startsWith(TlsDetail.noClientCert)) {
        return `etcd on ${endpoint} requires client certificates (--client-cert-auth): set host_etcd_client_cert and host_etcd_client_key in [DEFAULT] to a certificate signed by a CA etcd trusts`;
      }
      if (detail.startsWith(TlsDetail.clientRejected)) {
        return `check host_etcd_client_cert / host_etcd_client_key in [DEFAULT]: the certificate must be signed by a CA in etcd's --trusted-ca-file, be valid now and allow client auth`;
      }
      if (detail.startsWith(TlsDetail.serverUntrusted)) {
        return `set host_etcd_ca_cert in [DEFAULT] to the CA that signed etcd's server certificate, and make sure that certificate's SAN covers the host written in host_etcd_ip_address`;
      }
      if (detail.startsWith(TlsDetail.plainServer)) {
        return `etcd on ${endpoint} serves plain http: remove host_etcd_client_cert / host_etcd_client_key / host_etcd_ca_cert from [DEFAULT], or start etcd with TLS`;
      }
      if (detail.startsWith(TlsDetail.tlsServer) || detail.startsWith(TlsDetail.tlsServerHttp)) {
        return `etcd on ${endpoint} serves https: set host_etcd_client_cert and host_etcd_client_key (and host_etcd_ca_cert) in [DEFAULT]`;
      }
      return `check ${TLS_OPTIONS}: the client certificate must be signed by a CA in etcd's --trusted-ca-file and allow client auth, and host_etcd_ca_cert must be the CA of etcd's server certificate`;
    case 'auth':
      return `etcd has authentication enabled: host_etcd_user (with host_etcd_password) or the CN of host_etcd_client_cert must name an etcd user; \`hpedockerplugin etcd-roles\` prints the commands that create the users`;
    case 'permission':
      return `the etcd user this host authenticates as (host_etcd_user, or the CN of host_etcd_client_cert) lacks a grant: compare its role with \`hpedockerplugin etcd-roles\` (--apply adds what is missing)`;
    case 'unavailable':
      if (/does not resolve/.test(detail)) return `correct host_etcd_ip_address in [DEFAULT]: the host name does not resolve on this host`;
      return `check etcd's health on ${endpoint} (\`etcdctl --endpoints=${endpoint} endpoint health\`) and its log`;
    case 'conflict':
      return `retry: the key was changed by someone else meanwhile`;
  }
}

/** Who the client is to etcd: what an auth or permission failure names. */
export type EtcdIdentity = { by: 'user'; user: string } | { by: 'cert'; cn: string | undefined } | { by: 'none' };

/** The key an operation touched, for a permission failure (the etcd key, prefix included). */
export interface EtcdAccess {
  /** One key, or several as one text (`a, b and c`) for a transaction. */
  key: string;
  write: boolean;
  /** A key record or secret: only the admin's role writes it. */
  adminOnly: boolean;
}

const AuthNotEnabled = /authentication is not enabled/i;

function describeIdentity(identity: EtcdIdentity): string {
  if (identity.by === 'user') return `etcd user ${identity.user} (host_etcd_user)`;
  if (identity.by === 'cert') return identity.cn === undefined ? 'the CN of host_etcd_client_cert' : `etcd user ${identity.cn} (the CN of host_etcd_client_cert)`;
  return 'an anonymous client (neither host_etcd_user nor a client certificate is configured)';
}

/**
 * An auth or permission failure, said again with who we are and which key was refused, and the fix that fits:
 * the roles come from `hpedockerplugin etcd-roles`. Other errors pass unchanged.
 */
export function explainAccessFailure(err: HpeError, identity: EtcdIdentity, access?: EtcdAccess): HpeError {
  if (!(err instanceof EtcdError) || (err.reason !== 'auth' && err.reason !== 'permission')) return err;
  const detail = err.message.replace(/^etcd \S+: \w+: /, '');
  const who = describeIdentity(identity);
  if (err.reason === 'permission') {
    const what = access === undefined ? 'this request' : `${access.write ? 'writing' : 'reading'} ${access.key}`;
    const fix =
      access?.write && access.adminOnly
        ? `the plugin's role only reads key records and secrets: write them as the admin (an hpe.conf naming the admin's etcd user or certificate); \`hpedockerplugin etcd-roles\` shows both roles`
        : `the role of ${who} lacks a grant for this key: compare it with \`hpedockerplugin etcd-roles\` (--apply adds what is missing)`;
    return new EtcdError(err.endpoint, 'permission', `${who} may not do ${what}: ${detail}`, fix, { cause: err });
  }
  if (AuthNotEnabled.test(detail)) {
    return new EtcdError(
      err.endpoint,
      'auth',
      `${who}: ${detail}`,
      `etcd on ${err.endpoint} does not authenticate: remove host_etcd_user / host_etcd_password from [DEFAULT], or enable etcd's authentication (\`hpedockerplugin etcd-roles --apply\`, then \`etcdctl auth enable\`)`,
      { cause: err },
    );
  }
  const fix =
    identity.by === 'user'
      ? `check host_etcd_user and the password host_etcd_password names: etcd must have user ${identity.user} with that password (\`etcdctl user passwd ${identity.user}\` sets it; \`hpedockerplugin etcd-roles\` prints the commands that create the user and its role)`
      : identity.by === 'cert'
        ? `etcd has authentication enabled and the client certificate's CN${identity.cn === undefined ? '' : ` (${identity.cn})`} must name an etcd user: create it with the commands \`hpedockerplugin etcd-roles\` prints, or set host_etcd_client_cert to a certificate of such a user`
        : `etcd has authentication enabled: set host_etcd_user and host_etcd_password in [DEFAULT], or a client certificate (host_etcd_client_cert / host_etcd_client_key) whose CN is an etcd user; \`hpedockerplugin etcd-roles\` prints the commands that create the users`;
  return new EtcdError(err.endpoint, 'auth', `${who}: ${detail}`, fix, { cause: err });
}

export function etcdError(endpoint: string, reason: EtcdFailureReason, detail: string, cause?: unknown): EtcdError {
  return new EtcdError(endpoint, reason, detail, fixFor(reason, endpoint, detail), { cause });
}

/** A failure on one host or, after every host failed, on all of them (`host` = the endpoint label). */
export class HostFailure extends Error {
  constructor(
    readonly host: string,
    readonly reason: EtcdFailureReason,
    detail: string,
    /** The host could not be used at all (connect, TLS, unavailable): the next host may serve the call. */
    readonly failover: boolean,
    /** The TCP connect failed (only those make the composite "no member reachable" failure). */
    readonly dial = false,
  ) {
    super(detail);
    this.name = 'HostFailure';
  }
}

interface Described {
  reason: EtcdFailureReason;
  detail: string;
}

interface Host {
  /** `host:port`. */
  label: string;
  host: string;
}

/** A TCP connect that failed; undefined for a failure of another kind. */
function connectFailure(kind: TransportFailureKind, code: string, message: string, host: Host): Described | undefined {
  switch (kind) {
    case 'refused':
      return { reason: 'refused', detail: `connection refused (nothing listens on ${host.label})` };
    case 'dns':
      return { reason: 'unavailable', detail: `host name ${host.host} does not resolve (${code})` };
    case 'connectTimeout':
      return { reason: 'timeout', detail: `TCP connect timed out (${code || message})` };
    case 'unreachable':
      return { reason: 'unavailable', detail: `cannot connect: ${message}` };
    default:
      return undefined;
  }
}

/** A TLS failure; undefined for a failure of another kind. `brief` is the message without OpenSSL's noise. */
function tlsFailure(kind: TransportFailureKind, brief: string, untrusted: string, clientCert: boolean): Described | undefined {
  switch (kind) {
    case 'tlsClientRejected':
      return { reason: 'tls', detail: `${clientCert ? TlsDetail.clientRejected : TlsDetail.noClientCert}: ${brief}` };
    case 'tlsPlainServer':
    case 'tlsHandshakeDropped':
      return { reason: 'tls', detail: `${TlsDetail.plainServer}: ${brief}` };
    case 'tlsUntrusted':
      return { reason: 'tls', detail: `${TlsDetail.serverUntrusted}: ${untrusted}` };
    case 'tls':
      return { reason: 'tls', detail: `TLS handshake failed: ${brief}` };
    default:
      return undefined;
  }
}

/** The gRPC dial check's TCP connect failed. */
export function dialFailure(err: NodeJS.ErrnoException, host: Host): HostFailure {
  const code = err.code ?? '';
  const described = connectFailure(classifyTransportFailure(code, err.message), code, err.message, host) ?? {
    reason: 'unavailable',
    detail: `cannot connect: ${err.message}`,
  };
  return new HostFailure(host.label, described.reason, described.detail, true, true);
}

/** A JSON gateway request to `host` got no answer. */
export function gatewayFailure(f: HttpFailure, host: Host, opts: { tls: boolean; clientCert: boolean }): HostFailure {
  if (f.kind === 'answerTimeout') return new HostFailure(host.label, 'timeout', f.message, false);
  if (f.kind === 'dialTimeout') return new HostFailure(host.label, 'timeout', f.message, true, true);
  const connect = connectFailure(f.kind, f.code, f.message, host);
  if (connect) return new HostFailure(host.label, connect.reason, connect.detail, true, true);
  const untrusted = `${f.message}${f.code ? ` (${f.code})` : ''}`;
  const described = tlsFailure(f.kind, opensslReason(f.message), untrusted, opts.clientCert) ?? droppedOrOther(f, opts.tls);
  return new HostFailure(host.label, described.reason, described.detail, true);
}

function droppedOrOther(f: HttpFailure, tlsOn: boolean): Described {
  if (f.kind !== 'reset') return { reason: 'unavailable', detail: `cannot connect: ${f.message}` };
  // A plain http request to etcd's TLS port: etcd drops the fresh connection without a word.
  if (!tlsOn && !f.reusedSocket && !f.answered) return { reason: 'tls', detail: `${TlsDetail.tlsServerHttp} (${f.message})` };
  return { reason: 'unavailable', detail: `the connection was closed before etcd answered (${f.message})` };
}

/** `Error: connect ECONNREFUSED 1.2.3.4:5` → the part after gRPC's "Last error:", without its noise. */
function grpcLastError(message: string): string {
  const m = /Last error: (?:Error: )?([\s\S]*?)(?:\s*\(\d{4}-\d\d-\d\dT[^)]*\))?\.?\s*(?:Resolution note:.*)?$/.exec(message);
  return opensslReason((m?.[1] ?? message).trim());
}

/** A gRPC UNAVAILABLE that did not come from etcd itself. */
function grpcTransportFailure(message: string, tlsOn: boolean, clientCert: boolean): Described {
  const last = grpcLastError(message);
  const kind = classifyTransportFailure('', last);
  if (kind === 'refused') return { reason: 'refused', detail: `connection refused (${last})` };
  if (kind === 'connectTimeout') return { reason: 'timeout', detail: last };
  const tls = tlsFailure(kind, last, last, clientCert);
  if (tls) return tls;
  if (!tlsOn && /Failed to connect|Connection dropped|HTTP status code 400|protocol error/i.test(last)) {
    return { reason: 'tls', detail: `${TlsDetail.tlsServer} (${last})` };
  }
  return { reason: 'unavailable', detail: last };
}

/**
 * Maps any error from etcd3 (or this module) to an `EtcdError` naming `endpoint`. An `EtcdError` or other
 * `HpeError` passes through unchanged. Exported for modules that use `client.raw` (leases, locks, watches).
 */
export function toEtcdError(
  err: unknown,
  endpoint: string,
  opts: { tls?: boolean; clientCert?: boolean; requestTimeoutMs?: number } = {},
): HpeError {
  if (err instanceof HpeError) return err;
  if (err instanceof HostFailure) {
    return etcdError(endpoint, err.reason, err.host === endpoint ? err.message : `${err.host}: ${err.message}`, err);
  }
  if (!(err instanceof Error)) return etcdError(endpoint, 'unavailable', String(err), err);
  const msg = err.message;
  // Any other error comes from etcd3 (through `raw`), so it is loaded already; loading it here costs nothing then.
  const {
    EtcdAuthenticationFailedError,
    EtcdInvalidAuthTokenError,
    EtcdPermissionDeniedError,
    EtcdRoleNotGrantedError,
    EtcdUserNotFoundError,
    GRPCDeadlineExceededError,
    GRPCInvalidArgumentError,
    GRPCUnauthenticatedError,
    GRPCUnavailableError,
    ClientClosedError,
  } = loadEtcd3();
  if (err instanceof EtcdPermissionDeniedError) return etcdError(endpoint, 'permission', `permission denied (${msg})`, err);
  if (
    err instanceof EtcdAuthenticationFailedError ||
    err instanceof EtcdInvalidAuthTokenError ||
    err instanceof EtcdUserNotFoundError ||
    err instanceof EtcdRoleNotGrantedError ||
    err instanceof GRPCUnauthenticatedError ||
    (err instanceof GRPCInvalidArgumentError && /user name is empty|invalid auth/i.test(msg))
  ) {
    return etcdError(endpoint, 'auth', `authentication failed (${msg})`, err);
  }
  if (AuthNotEnabled.test(msg)) return etcdError(endpoint, 'auth', msg.replace(/^\d+ [A-Z_]+: /, ''), err);
  // e.g. `2 UNKNOWN: auth: authentication failed, password was given for no password user` (no class of etcd3's).
  if (/authentication failed/i.test(msg)) return etcdError(endpoint, 'auth', `authentication failed (${msg.replace(/^\d+ [A-Z_]+: /, '')})`, err);
  if (err instanceof GRPCDeadlineExceededError) {
    const within = opts.requestTimeoutMs === undefined ? '' : ` within ${opts.requestTimeoutMs} ms`;
    return etcdError(endpoint, 'timeout', `no answer${within} (${msg.replace(/^\d+ DEADLINE_EXCEEDED: /, '')})`, err);
  }
  if (err instanceof GRPCUnavailableError) {
    if (/etcdserver:/.test(msg)) return etcdError(endpoint, 'unavailable', msg.replace(/^\d+ UNAVAILABLE: /, ''), err);
    const { reason, detail } = grpcTransportFailure(msg, opts.tls ?? false, opts.clientCert ?? false);
    return etcdError(endpoint, reason, detail, err);
  }
  if (err instanceof ClientClosedError) return etcdError(endpoint, 'unavailable', 'the etcd client was already closed', err);
  return etcdError(endpoint, 'unavailable', msg, err);
}

/**
 * A failure that a leader election or a lost member causes and that passes once the cluster has a leader again:
 * no answer in time from a host that was reached (DEADLINE_EXCEEDED, a gateway request timeout), or etcd's own
 * UNAVAILABLE (`etcdserver: no leader`, `leader changed`, `request timed out…`, `too many requests`). Not a host
 * that cannot be reached at all (refused, silent to a TCP connect, TLS): with every member so, etcd is down, and
 * that is reported at once. Raw etcd3 errors and `HostFailure`s only; a mapped `EtcdError` is final.
 */
export function isTransientFailure(err: unknown): boolean {
  if (err instanceof HostFailure) return !err.dial && (err.reason === 'timeout' || (err.reason === 'unavailable' && /etcdserver:/.test(err.message)));
  if (!(err instanceof Error) || err instanceof HpeError) return false;
  // etcd3 spells the RESOURCE_EXHAUSTED class this way.
  const { GRPCDeadlineExceededError, GRPCUnavailableError, GRPCResourceExhastedError } = loadEtcd3();
  if (err instanceof GRPCDeadlineExceededError) return true;
  return (err instanceof GRPCUnavailableError || err instanceof GRPCResourceExhastedError) && /etcdserver:/.test(err.message);
}
