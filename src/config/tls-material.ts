// Checks at load time that a service's certificate, key, CA and CRL files can be read and used, so a
// bad file is refused before `start` or `reload-config` touches the worker.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { getSystemErrorCode } from '../errors.js';
import type { ServiceConfig } from './types.js';
import { computeSecureOptions } from './tls-options.js';
import { loadPskSecrets } from './psk-secrets.js';
import { DEFAULT_CIPHERS } from './defaults.js';

export interface MaterialProblem {
  option: 'cert' | 'key' | 'CAfile' | 'CRLfile' | 'CApath' | 'CRLpath' | 'PSKsecrets' | 'PSKidentity' | 'ciphers';
  message: string;
}

const readOrProblem = (path: string, option: MaterialProblem['option'], problems: MaterialProblem[]): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = getSystemErrorCode(error) ?? 'EIO';
    problems.push({ option, message: `Failed to initialize TLS context: cannot read ${path}: ${code}` });
    return undefined;
  }
};

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export const checkTlsMaterial = (service: ServiceConfig): MaterialProblem[] => {
  const problems: MaterialProblem[] = [];
  const cert = service.cert === null ? undefined : readOrProblem(service.cert, 'cert', problems);
  const key = service.key === null || service.key === service.cert ? cert : readOrProblem(service.key, 'key', problems);
  if (cert !== undefined) {
    if (!cert.includes('-----BEGIN CERTIFICATE-----')) {
      problems.push({ option: 'cert', message: `Failed to initialize TLS context: no PEM certificate in ${service.cert}` });
    } else if (key === undefined || !/-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.test(key)) {
      problems.push({ option: service.key === service.cert ? 'cert' : 'key', message: `Failed to initialize TLS context: no private key in ${service.key}` });
    } else {
      try {
        createSecureContext({ cert, key });
      } catch (error) {
        problems.push({ option: 'cert', message: `Failed to initialize TLS context: ${describe(error)}` });
      }
    }
  }
  if (service.pskSecrets !== null) {
    const psk = readOrProblem(service.pskSecrets, 'PSKsecrets', problems) === undefined ? undefined : loadPskSecrets(service.pskSecrets);
    if (psk !== undefined && !psk.ok) problems.push({ option: 'PSKsecrets', message: psk.message });
    if (psk?.ok === true && service.pskIdentity !== null && !psk.keys.has(service.pskIdentity)) {
      problems.push({ option: 'PSKidentity', message: 'No key found for the specified PSK identity' });
    }
  }
  for (const [option, directory] of [['CApath', service.caPath], ['CRLpath', service.crlPath]] as const) {
    if (directory !== null && statSync(directory, { throwIfNoEntry: false })?.isDirectory() !== true) {
      problems.push({ option, message: `Failed to initialize TLS context: ${directory} is not a directory` });
    }
  }
  if (problems.length === 0) {
    try {
      createSecureContext({ ...buildSecureContextOptions(service), cert: undefined, key: undefined, ca: undefined, crl: undefined });
    } catch (error) {
      problems.push({ option: 'ciphers', message: `Failed to initialize TLS context: ${describe(error)}` });
    }
  }
  if (service.caFile !== null) {
    const ca = readOrProblem(service.caFile, 'CAfile', problems);
    if (ca !== undefined) {
      try {
        createSecureContext({ ca });
      } catch (error) {
        problems.push({ option: 'CAfile', message: `Failed to initialize TLS context: ${describe(error)}` });
      }
    }
  }
  if (service.crlFile !== null) {
    const crl = readOrProblem(service.crlFile, 'CRLfile', problems);
    if (crl !== undefined) {
      try {
        createSecureContext({ crl });
      } catch (error) {
        problems.push({ option: 'CRLfile', message: `Failed to initialize TLS context: ${describe(error)}` });
      }
    }
  }
  return problems;
};

const SESSION_ID_CONTEXT_LENGTH = 32;
/** PSK suites for TLS 1.2 when PSKsecrets is used with the default cipher list (stunnel's HIGH has them). */
const PSK_CIPHERS = 'ECDHE-PSK-CHACHA20-POLY1305:PSK-AES256-GCM-SHA384:PSK-AES128-GCM-SHA256:PSK-CHACHA20-POLY1305';

/** Every regular file of a CApath/CRLpath directory, concatenated (hashed names or not). */
const readPemDirectory = (directory: string | null): string => {
  if (directory === null) return '';
  return readdirSync(directory)
    .sort()
    .map((name) => join(directory, name))
    .filter((path) => statSync(path, { throwIfNoEntry: false })?.isFile() === true)
    .map((path) => readFileSync(path, 'utf8'))
    .join('\n');
};

/**
 * The options for `tls.createSecureContext` of a service, read from disk. Node takes TLS 1.3 suites in
 * the same `ciphers` string (names starting `TLS_`) and silently caps the version at 1.2 when none is
 * there, so both lists always travel together.
 */
export const buildSecureContextOptions = (service: ServiceConfig): import('node:tls').SecureContextOptions => {
  const cert = service.cert === null ? undefined : readFileSync(service.cert, 'utf8');
  const key = service.key === null ? undefined : service.key === service.cert ? cert : readFileSync(service.key, 'utf8');
  const options: import('node:tls').SecureContextOptions = {
    ciphers: [service.ciphersuites, service.ciphers, service.pskSecrets !== null && service.ciphers === DEFAULT_CIPHERS ? PSK_CIPHERS : '']
      .filter((list) => list !== '')
      .join(':'),
    ecdhCurve: service.curves,
    minVersion: service.minVersion,
    maxVersion: service.maxVersion,
    sessionTimeout: service.sessionCacheTimeoutSeconds,
    secureOptions: computeSecureOptions(service.tlsOptions, [
      ...(service.sessionResume ? [] : ['NO_TICKET']),
      ...(service.renegotiation ? [] : ['NO_RENEGOTIATION']),
    ]),
    sessionIdContext: createHash('sha256').update(service.name).digest('hex').slice(0, SESSION_ID_CONTEXT_LENGTH),
  };
  if (cert !== undefined) options.cert = cert;
  if (key !== undefined) options.key = key;
  const ca = [service.caFile === null ? '' : readFileSync(service.caFile, 'utf8'), readPemDirectory(service.caPath)].join('\n').trim();
  if (ca !== '') options.ca = ca;
  const crl = [service.crlFile === null ? '' : readFileSync(service.crlFile, 'utf8'), readPemDirectory(service.crlPath)].join('\n').trim();
  if (crl !== '') options.crl = crl;
  if (service.ticketKeySecret !== null && service.ticketMacSecret !== null) {
    options.ticketKeys = buildTicketKeys(service.ticketKeySecret, service.ticketMacSecret);
  }
  return options;
};

/** Node wants 48 bytes: 16 name, 16 HMAC secret, 16 AES key; derived from stunnel's two secrets. */
const buildTicketKeys = (keySecret: string, macSecret: string): Buffer => {
  const hex = (value: string): Buffer => Buffer.from(value.replace(/:/g, ''), 'hex');
  const key = hex(keySecret);
  const mac = hex(macSecret);
  const name = createHash('sha256').update(key).update(mac).digest().subarray(0, 16);
  return Buffer.concat([name, createHash('sha256').update(mac).digest().subarray(0, 16), createHash('sha256').update(key).digest().subarray(0, 16)]);
};
