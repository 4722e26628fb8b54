import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyTransportFailure, opensslReason } from '../../src/http/index.js';

const alert =
  '80EC2B5FE67F0000:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1605:SSL alert number 42';

test('Node errors: one kind each, by code first, then by message', () => {
  const cases: [string, string, string][] = [
    ['ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1', 'refused'],
    ['EHOSTUNREACH', 'connect EHOSTUNREACH 10.9.9.9:8080', 'unreachable'],
    ['ENETDOWN', 'connect ENETDOWN 10.9.9.9:8080', 'unreachable'],
    ['ENOTFOUND', 'getaddrinfo ENOTFOUND array.invalid', 'dns'],
    ['EAI_AGAIN', 'getaddrinfo EAI_AGAIN array.example', 'dns'],
    ['ETIMEDOUT', 'connect ETIMEDOUT 10.9.9.9:8080', 'connectTimeout'],
    ['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', alert, 'tlsClientRejected'],
    ['ECONNRESET', 'Client network socket disconnected before secure TLS connection was established', 'tlsHandshakeDropped'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'SSL routines:ssl3_get_record:wrong version number', 'tlsPlainServer'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate', 'tlsUntrusted'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames: IP: 127.0.0.2 is not in the cert's list", 'tlsUntrusted'],
    ['EPROTO', 'write EPROTO', 'tls'],
    ['ECONNRESET', 'socket hang up', 'reset'],
    ['ECONNRESET', 'read ECONNRESET', 'reset'],
    ['EPIPE', 'write EPIPE', 'reset'],
    ['', 'socket hang up', 'reset'],
    ['', 'something unexpected', 'other'],
  ];
  for (const [code, message, kind] of cases) assert.equal(classifyTransportFailure(code, message), kind, `${code} ${message}`);
});

test("gRPC's \"Last error\" text (no code): the same kinds by message", () => {
  const cases: [string, string][] = [
    ['connect ECONNREFUSED 127.0.0.1:2379', 'refused'],
    ['Connection timed out', 'connectTimeout'],
    [`${opensslReason(alert)}`, 'tlsClientRejected'],
    ['Client network socket disconnected before secure TLS connection was established', 'tlsHandshakeDropped'],
    ['unable to verify the first certificate', 'tlsUntrusted'],
    ['CERT_HAS_EXPIRED', 'tlsUntrusted'],
    ['TLS handshake timeout', 'tls'],
    ['Connection dropped', 'other'],
  ];
  for (const [message, kind] of cases) assert.equal(classifyTransportFailure('', message), kind, message);
});

test('opensslReason keeps only the reason of an OpenSSL error line', () => {
  assert.equal(opensslReason(alert), 'sslv3 alert bad certificate (TLS alert from the server)');
  assert.equal(opensslReason('connect ECONNREFUSED 127.0.0.1:1'), 'connect ECONNREFUSED 127.0.0.1:1');
});
