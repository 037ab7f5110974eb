// Certificates for one benchmark run, made with the openssl CLI: RSA-2048 and ECDSA P-256,
// self-signed, key and certificate in one PEM (the form both implementations read from `cert`).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runToCompletion } from './processes.js';

export type KeyType = 'rsa' | 'ecdsa';

export interface RunCertificates {
  rsa: string;
  ecdsa: string;
}

const OPENSSL_TIMEOUT_MS = 30_000;

const KEY_OPTIONS: Record<KeyType, string[]> = {
  rsa: ['-newkey', 'rsa:2048'],
  ecdsa: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
};

const generateOne = async (dir: string, type: KeyType): Promise<string> => {
  const keyFile = join(dir, `${type}.key`);
  const certFile = join(dir, `${type}.crt`);
  const result = await runToCompletion('openssl', [
    'req', '-x509', ...KEY_OPTIONS[type], '-nodes', '-sha256', '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', keyFile, '-out', certFile,
  ], { timeoutMs: OPENSSL_TIMEOUT_MS });
  if (result.code !== 0) throw new Error(`openssl req (${type}) failed: ${result.stderr.trim()}`);
  const pemFile = join(dir, `${type}.pem`);
  writeFileSync(pemFile, readFileSync(certFile, 'utf8') + readFileSync(keyFile, 'utf8'), { mode: 0o600 });
  return pemFile;
};

export const generateCertificates = async (dir: string): Promise<RunCertificates> => {
  const [rsa, ecdsa] = await Promise.all([generateOne(dir, 'rsa'), generateOne(dir, 'ecdsa')]);
  return { rsa, ecdsa };
};
