// Checks at load time that a service's certificate, key, CA and CRL files can be read and used, so a
// bad file is refused before `start` or `reload-config` touches the worker.
import { readFileSync, statSync } from 'node:fs';
import { constants, createHash, createPrivateKey } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { getSystemErrorCode } from '../errors.js';
import type { ServiceConfig } from './types.js';
import { computeSecureOptions } from './tls-options.js';
import { loadPskSecrets } from './psk-secrets.js';
import { DEFAULT_CIPHERS } from './defaults.js';
import { hasAnyCaCertificate, readCrls, readTrustedCertificates, splitCrls } from './trust-store.js';

export interface MaterialProblem {
  /** The option whose line is named; null for the section as a whole (`Service [x]: ...`). */
  option: 'cert' | 'key' | 'CAfile' | 'CRLfile' | 'CApath' | 'CRLpath' | 'PSKsecrets' | 'PSKidentity' | 'ciphers' | 'ciphersuites' | null;
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

/** Minimum RSA and EC key sizes of OpenSSL's security levels 0-5. */
const MIN_KEY_BITS: ReadonlyArray<{ rsa: number; ec: number }> = [
  { rsa: 0, ec: 0 }, { rsa: 1024, ec: 160 }, { rsa: 2048, ec: 224 }, { rsa: 3072, ec: 256 }, { rsa: 7680, ec: 384 }, { rsa: 15360, ec: 512 },
];
const EC_CURVE_BITS: Readonly<Record<string, number>> = { prime256v1: 256, secp384r1: 384, secp521r1: 521, secp224r1: 224 };

/**
 * OpenSSL refuses a certificate key below the service's securityLevel ("ee key too small"), but
 * Node applies the level after loading the certificate, so the check is made here, at load time.
 */
const checkKeyStrength = (keyPem: string, level: number): string | undefined => {
  const details = createPrivateKey(keyPem).asymmetricKeyDetails;
  const minimum = MIN_KEY_BITS[Math.min(Math.max(level, 0), 5)];
  if (details === undefined || minimum === undefined) return undefined;
  if (details.modulusLength !== undefined && details.modulusLength < minimum.rsa) {
    return `error:0A00018F:SSL routines::ee key too small (RSA ${details.modulusLength} bits; securityLevel = ${level} needs ${minimum.rsa})`;
  }
  const curveBits = details.namedCurve === undefined ? undefined : EC_CURVE_BITS[details.namedCurve];
  if (curveBits !== undefined && curveBits < minimum.ec) {
    return `error:0A00018F:SSL routines::ee key too small (EC ${curveBits} bits; securityLevel = ${level} needs ${minimum.ec})`;
  }
  return undefined;
};

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** The TLS 1.3 suites OpenSSL 3.0 knows by name. */
const TLS13_SUITES: ReadonlySet<string> = new Set([
  'TLS_AES_256_GCM_SHA384', 'TLS_AES_128_GCM_SHA256', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_CCM_SHA256', 'TLS_AES_128_CCM_8_SHA256',
]);

export const checkTlsMaterial = (service: ServiceConfig): MaterialProblem[] => {
  const problems: MaterialProblem[] = [];
  if (service.cert !== null && isPkcs12File(service.cert)) {
    try {
      createSecureContext({ pfx: readFileSync(service.cert) });
    } catch (error) {
      problems.push({ option: 'cert', message: `Failed to initialize TLS context: PKCS#12 ${service.cert}: ${describe(error)}` });
    }
    return problems;
  }
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
        const tooSmall = checkKeyStrength(key, service.securityLevel);
        if (tooSmall !== undefined) problems.push({ option: 'cert', message: `Failed to initialize TLS context: ${tooSmall}` });
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
  // OpenSSL refuses a TLS 1.3 suite list with no suite it knows ("no cipher match"), and stunnel with
  // it; Node 20 passes it over without a word, and the handshakes then use the defaults.
  if (!service.ciphersuites.split(':').some((name) => TLS13_SUITES.has(name.trim()))) {
    problems.push({ option: 'ciphersuites', message: 'Failed to initialize TLS context: SSL_CTX_set_ciphersuites: no cipher match' });
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
        // Each CRL on its own (Node parses one per entry); a file with none gets Node's parse error.
        const crls = splitCrls(crl);
        createSecureContext({ crl: crls.length > 0 ? crls : crl });
      } catch (error) {
        problems.push({ option: 'CRLfile', message: `Failed to initialize TLS context: ${describe(error)}` });
      }
    }
  }
  const pathProblem = (option: 'CApath' | 'CRLpath'): boolean => problems.some((problem) => problem.option === option);
  if (service.caPath !== null && !pathProblem('CApath')) {
    try {
      createSecureContext({ ca: readTrustedCertificates({ caFile: null, caPath: service.caPath }) });
    } catch (error) {
      problems.push({ option: 'CApath', message: `Failed to initialize TLS context: ${describe(error)}` });
    }
  }
  // stunnel refuses verification with nothing to verify against, as a TLS context failure.
  const verifies = service.verify.verifyChain || service.verify.verifyPeer;
  const caProblem = pathProblem('CApath') || problems.some((problem) => problem.option === 'CAfile');
  if (verifies && (service.caFile !== null || service.caPath !== null) && !caProblem) {
    try {
      if (!hasAnyCaCertificate(service)) {
        problems.push({ option: service.caFile === null ? 'CApath' : 'CAfile', message: 'No trusted certificates found' });
        problems.push({ option: null, message: 'Failed to initialize TLS context' });
      }
    } catch (error) {
      problems.push({ option: 'CApath', message: `Failed to initialize TLS context: ${describe(error)}` });
    }
  }
  if (service.crlPath !== null && !pathProblem('CRLpath')) {
    try {
      const crls = readCrls({ crlFile: null, crlPath: service.crlPath });
      // No CRL would leave Node checking no revocation at all; stunnel would reject every
      // certificate (`unable to get certificate CRL`) until a hashed CRL appears.
      if (crls.length === 0 && service.crlFile === null) {
        problems.push({
          option: 'CRLpath',
          message: `Failed to initialize TLS context: no CRL under a hashed name (HASH.rN) in ${service.crlPath}: run "openssl rehash ${service.crlPath}"`,
        });
      } else if (crls.length > 0) {
        createSecureContext({ crl: crls });
      }
    } catch (error) {
      problems.push({ option: 'CRLpath', message: `Failed to initialize TLS context: ${describe(error)}` });
    }
  }
  return problems;
};

/** The permission bits of "other" users: stunnel warns about a key file with any of them set. */
const OTHER_PERMISSION_BITS = 0o007;

/** The file holding the service's private key (`key`, else `cert`) when others may access it. */
export const findInsecureKeyFiles = (service: ServiceConfig): string[] =>
  // The private key's file, and the PSK secrets: stunnel checks every secret it opens.
  [service.key ?? service.cert, service.pskSecrets].filter((file): file is string => {
    if (file === null) return false;
    const mode = statSync(file, { throwIfNoEntry: false })?.mode;
    return mode !== undefined && (mode & OTHER_PERMISSION_BITS) !== 0;
  });

const SESSION_ID_CONTEXT_LENGTH = 32;
const DER_SEQUENCE_TAG = 0x30;

/** A `cert` file in PKCS#12 (DER, certificate and key together) rather than PEM, as stunnel accepts. */
export const isPkcs12File = (path: string): boolean => {
  let head: Buffer;
  try {
    head = readFileSync(path).subarray(0, 64);
  } catch (error) {
    // Unreadable: not PKCS#12 as far as we can tell; the PEM path reports the read error itself.
    if (getSystemErrorCode(error) === undefined) throw error;
    return false;
  }
  return head[0] === DER_SEQUENCE_TAG && !head.toString('latin1').includes('-----BEGIN');
};
/** PSK suites for TLS 1.2 when PSKsecrets is used with the default cipher list (stunnel's HIGH has them). */
const PSK_CIPHERS = 'ECDHE-PSK-CHACHA20-POLY1305:PSK-AES256-GCM-SHA384:PSK-AES128-GCM-SHA256:PSK-CHACHA20-POLY1305';

/**
 * The options for `tls.createSecureContext` of a service, read from disk. Node takes TLS 1.3 suites in
 * the same `ciphers` string (names starting `TLS_`) and silently caps the version at 1.2 when none is
 * there, so both lists always travel together.
 */
export const buildSecureContextOptions = (service: ServiceConfig): import('node:tls').SecureContextOptions => {
  const pkcs12 = service.cert !== null && isPkcs12File(service.cert);
  const cert = service.cert === null || pkcs12 ? undefined : readFileSync(service.cert, 'utf8');
  const key = service.key === null || pkcs12 ? undefined : service.key === service.cert ? cert : readFileSync(service.key, 'utf8');
  const options: import('node:tls').SecureContextOptions = {
    ciphers: [
      service.ciphersuites,
      service.ciphers,
      service.pskSecrets !== null && service.ciphers === DEFAULT_CIPHERS ? PSK_CIPHERS : '',
      // OpenSSL takes the security level inside the cipher string; a list that sets its own wins.
      /@SECLEVEL=/i.test(service.ciphers) ? '' : `@SECLEVEL=${service.securityLevel}`,
    ]
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
  };
  // A server's session cache is keyed by it. Not on a client: OpenSSL turns a client's pre-shared key
  // into a session with no context, and a context on the client then fails every TLS 1.3 PSK handshake
  // ("attempt to reuse session in different context").
  if (!service.client) options.sessionIdContext = createHash('sha256').update(service.name).digest('hex').slice(0, SESSION_ID_CONTEXT_LENGTH);
  if (pkcs12 && service.cert !== null) options.pfx = readFileSync(service.cert);
  if (cert !== undefined) options.cert = cert;
  if (key !== undefined) options.key = key;
  // Set even when empty: without `ca` Node would trust its bundled public roots instead.
  if (service.caFile !== null || service.caPath !== null) options.ca = readTrustedCertificates(service);
  // One entry per CRL: from one string Node loads only the first CRL.
  const crls = readCrls(service);
  if (crls.length > 0) options.crl = crls;
  if (service.ticketKeySecret !== null && service.ticketMacSecret !== null) {
    options.ticketKeys = buildTicketKeys(service.ticketKeySecret, service.ticketMacSecret);
  }
  return options;
};

/** `options = NO_TICKET` (or sessionResume = no): sessions resume through the server's session cache only. */
export const ticketsDisabled = (service: ServiceConfig): boolean =>
  !service.sessionResume || (computeSecureOptions(service.tlsOptions, []) & constants.SSL_OP_NO_TICKET) !== 0;

/** Node wants 48 bytes: 16 name, 16 HMAC secret, 16 AES key; derived from stunnel's two secrets. */
const buildTicketKeys = (keySecret: string, macSecret: string): Buffer => {
  const hex = (value: string): Buffer => Buffer.from(value.replace(/:/g, ''), 'hex');
  const key = hex(keySecret);
  const mac = hex(macSecret);
  const name = createHash('sha256').update(key).update(mac).digest().subarray(0, 16);
  return Buffer.concat([name, createHash('sha256').update(mac).digest().subarray(0, 16), createHash('sha256').update(key).digest().subarray(0, 16)]);
};
