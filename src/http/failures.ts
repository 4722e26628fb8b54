/**
 * One classification of transport failures (below HTTP or gRPC) by an error's code and message, shared by the
 * WSAPI client and both etcd transports. Each caller turns a kind into its own reason, wording and fix.
 */

export type TransportFailureKind =
  /** Nothing listens on the port (ECONNREFUSED). */
  | 'refused'
  /** No route to the host (EHOSTUNREACH, ENETUNREACH, ...). */
  | 'unreachable'
  /** The host name does not resolve. */
  | 'dns'
  /** The OS gave up connecting (ETIMEDOUT). */
  | 'connectTimeout'
  /** The server's TLS alert about our client certificate, or about its absence. */
  | 'tlsClientRejected'
  /** TLS spoken to a server that answered in plain text. */
  | 'tlsPlainServer'
  /** The server closed the connection during the TLS handshake (a TLS-only or a plain server: callers decide). */
  | 'tlsHandshakeDropped'
  /** The server's certificate failed verification. */
  | 'tlsUntrusted'
  | 'tls'
  /** An established connection dropped. */
  | 'reset'
  | 'other';

const unreachableCodes = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EHOSTDOWN', 'ENETDOWN']);
const dnsCodes = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME']);
const resetCodes = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);
const untrustedServerCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const tlsCodePattern = /^(ERR_TLS_|ERR_SSL_|ERR_OSSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH|EPROTO$)/;
const clientRejectedPattern = /alert (bad certificate|certificate required|unknown ca|certificate unknown|certificate expired|handshake failure|access denied)/i;
const untrustedMessagePattern = /certificate|self.signed|unable to (verify|get)|altnames|Hostname\/IP|CERT_/i;

/**
 * The kind of a failure, from its Node error code (empty when only a message is known, as with gRPC's
 * "Last error") and its message.
 */
export function classifyTransportFailure(code: string, message: string): TransportFailureKind {
  if (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(message)) return 'refused';
  if (dnsCodes.has(code)) return 'dns';
  if (code === 'ETIMEDOUT' || /ETIMEDOUT|timed out/i.test(message)) return 'connectTimeout';
  if (unreachableCodes.has(code)) return 'unreachable';
  if (clientRejectedPattern.test(message)) return 'tlsClientRejected';
  if (/secure TLS connection was established/i.test(message)) return 'tlsHandshakeDropped';
  if (/wrong version number|packet length too long/i.test(message)) return 'tlsPlainServer';
  if (untrustedServerCodes.has(code) || (!code.startsWith('ERR_SSL_') && untrustedMessagePattern.test(message))) return 'tlsUntrusted';
  if (tlsCodePattern.test(code) || /SSL|TLS|handshake/i.test(message)) return 'tls';
  if (resetCodes.has(code) || message === 'socket hang up') return 'reset';
  return 'other';
}

/** OpenSSL's "80EC…:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/…" → the reason. */
export function opensslReason(message: string): string {
  const ssl = /SSL routines:[^:]*:([^:]+)/.exec(message);
  return ssl ? `${ssl[1]!.trim()} (TLS alert from the server)` : message;
}
