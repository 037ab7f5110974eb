// Checks at load time that a service's certificate, key, CA and CRL files can be read and used, so a
// bad file is refused before `start` or `reload-config` touches the worker.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { getSystemErrorCode } from '../errors.js';
import type { ServiceConfig } from './types.js';

export interface MaterialProblem {
  option: 'cert' | 'key' | 'CAfile' | 'CRLfile' | 'PSKsecrets';
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
