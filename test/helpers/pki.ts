// Per-run key material from the OpenSSL CLI: a self-signed RSA 2048 certificate for CN=localhost with
// loopback SANs, as separate cert/key files and as the cert+key PEM that stunnel configurations use.
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from './processes.js';

export interface Pki {
  certFile: string;
  keyFile: string;
  /** Certificate and private key concatenated (stunnel's `cert =` file). */
  pemFile: string;
}

const CERT_VALIDITY_DAYS = 2;

/** Generates a fresh key and self-signed certificate into `dir` (files prefixed with `name`). */
export const createPki = async (dir: string, name = 'test'): Promise<Pki> => {
  const certFile = join(dir, `${name}.crt.pem`);
  const keyFile = join(dir, `${name}.key.pem`);
  const pemFile = join(dir, `${name}.pem`);
  const result = await runCommand('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256',
    '-days', String(CERT_VALIDITY_DAYS),
    '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', keyFile, '-out', certFile,
  ]);
  if (result.code !== 0) throw new Error(`openssl req failed: ${result.stderr}`);
  chmodSync(keyFile, 0o600);
  writeFileSync(pemFile, Buffer.concat([readFileSync(certFile), readFileSync(keyFile)]), { mode: 0o600 });
  return { certFile, keyFile, pemFile };
};
