/**
 * The TLS material of the etcd config (host_etcd_client_cert + host_etcd_client_key, and/or host_etcd_ca_cert):
 * read and checked at client creation, each problem naming its option, the path and the OS or parser reason.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import { EtcdError } from '../errors.js';
import { endpointsLabel, type EtcdConfig } from './endpoints.js';

export interface EtcdTlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** The client certificate's CN: the etcd user when etcd authenticates by certificate. */
  cn?: string;
}

const FileOptions = {
  clientCert: 'host_etcd_client_cert',
  clientKey: 'host_etcd_client_key',
  caCert: 'host_etcd_ca_cert',
} as const;

function osReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  // "ENOENT: no such file or directory, open '/x'" → "ENOENT: no such file or directory"
  return (err.message ?? String(e)).replace(/, \w+ '.*'$/, '');
}

function tlsFileError(endpoint: string, option: string, file: string, problem: string, fix: string, cause?: unknown): EtcdError {
  return new EtcdError(endpoint, 'tls', `[DEFAULT].${option} ${file}: ${problem}`, fix, { cause });
}

async function readPem(endpoint: string, option: string, file: string): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (e) {
    throw tlsFileError(endpoint, option, file, `cannot be read: ${osReason(e)}`, `make ${file} readable by the plugin, or correct ${option} in [DEFAULT]`, e);
  }
  if (data.length === 0) throw tlsFileError(endpoint, option, file, 'is empty', `put the PEM file in ${file}, or correct ${option} in [DEFAULT]`);
  return data;
}

/**
 * Reads and checks the TLS files named in the config. Undefined when TLS is off (no cert, key or CA given).
 * Throws an `EtcdError` (reason 'tls') naming the option, the path and the reason.
 */
export async function loadEtcdTls(cfg: EtcdConfig): Promise<EtcdTlsMaterial | undefined> {
  const endpoint = endpointsLabel(cfg);
  const { clientCert, clientKey, caCert } = cfg;
  if (clientCert === undefined && clientKey === undefined && caCert === undefined) return undefined;
  if ((clientCert === undefined) !== (clientKey === undefined)) {
    const [set, unset] = clientCert === undefined ? [FileOptions.clientKey, FileOptions.clientCert] : [FileOptions.clientCert, FileOptions.clientKey];
    throw new EtcdError(endpoint, 'tls', `[DEFAULT].${set} is set but ${unset} is not`, `set both host_etcd_client_cert and host_etcd_client_key, or neither`);
  }
  const material: EtcdTlsMaterial = {};
  if (caCert !== undefined) {
    const ca = await readPem(endpoint, FileOptions.caCert, caCert);
    try {
      tls.createSecureContext({ ca });
      new X509Certificate(ca);
    } catch (e) {
      throw tlsFileError(endpoint, FileOptions.caCert, caCert, `is not a PEM certificate: ${(e as Error).message}`, `point host_etcd_ca_cert at the PEM file of the CA that signed etcd's server certificate`, e);
    }
    material.ca = ca;
  }
  if (clientCert !== undefined && clientKey !== undefined) {
    const [cert, key] = await Promise.all([readPem(endpoint, FileOptions.clientCert, clientCert), readPem(endpoint, FileOptions.clientKey, clientKey)]);
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(cert);
    } catch (e) {
      throw tlsFileError(endpoint, FileOptions.clientCert, clientCert, `is not a PEM certificate: ${(e as Error).message}`, `point host_etcd_client_cert at the client certificate (PEM)`, e);
    }
    try {
      createPrivateKey(key);
    } catch (e) {
      throw tlsFileError(endpoint, FileOptions.clientKey, clientKey, `is not an unencrypted PEM private key: ${(e as Error).message}`, `point host_etcd_client_key at the client certificate's private key (PEM, without passphrase)`, e);
    }
    try {
      tls.createSecureContext({ cert, key });
    } catch (e) {
      throw tlsFileError(
        endpoint,
        FileOptions.clientKey,
        clientKey,
        `does not belong to the certificate in host_etcd_client_cert ${clientCert}: ${(e as Error).message}`,
        `set host_etcd_client_key to the key of that certificate`,
        e,
      );
    }
    const notAfter = new Date(x509.validTo);
    if (notAfter.getTime() < Date.now()) {
      throw tlsFileError(endpoint, FileOptions.clientCert, clientCert, `expired on ${notAfter.toISOString()}`, `renew the client certificate and update ${clientCert}`);
    }
    material.cert = cert;
    material.key = key;
    const cn = /^CN=(.*)$/m.exec(x509.subject)?.[1];
    if (cn !== undefined) material.cn = cn;
  }
  return material;
}
