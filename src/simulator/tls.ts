/** The simulator's self-signed certificate, made once by `openssl` and kept in `<stateDir>/tls`. */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

export interface CertificatePair {
  certPem: string;
  keyPem: string;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${cmd} failed: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });
}

/**
 * A P-256 self-signed certificate whose SAN names localhost, 127.0.0.1, ::1 and `hosts` (IPs as IP entries),
 * so a client verifying against it succeeds by IP or name.
 */
export async function ensureCertificate(dir: string, commonName: string, hosts: readonly string[]): Promise<CertificatePair> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    const names = new Set(['localhost', '127.0.0.1', '::1', ...hosts.filter((h) => h !== '' && h !== '0.0.0.0' && h !== '::')]);
    const san = [...names].map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '3650',
      '-subj', `/CN=${commonName}`, '-addext', `subjectAltName=${san}`,
    ]);
    chmodSync(keyFile, 0o600);
  }
  return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
}
