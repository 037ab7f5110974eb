// `install`'s per-install test certificate and `make-self-signed-cert`'s production key pair:
// options with their defaults and checks, a native key pair, a forge-laid-out X.509 v3 certificate.

import { X509Certificate, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { StunnelctlError } from '../errors.js';
import { TEST_ONLY_ORGANIZATION, TEST_ONLY_ORGANIZATIONAL_UNIT, summarizeCertificate } from './certificate-summary.js';
import type { CertificateSummary } from './certificate-summary.js';
import { EC_CURVE_BITS, KEY_TYPES, RSA_KEY_BITS, createKeyPair } from './key-pair.js';
import type { EcCurve, KeyPairSpec, KeyType, NativeKeyPair, RsaKeyBits } from './key-pair.js';
import { formatPem } from './pem-blocks.js';
import { DIGESTS, buildSelfSignedCertificate } from './x509-builder.js';
import type { Digest, NameAttribute, SubjectAltName } from './x509-builder.js';

export interface SelfSignedOptions {
  keyType?: KeyType;
  rsaBits?: RsaKeyBits | number;
  ecCurve?: EcCurve;
  digest?: Digest;
  /** Default: this machine's hostname. */
  commonName?: string;
  /** IP addresses become iPAddress SANs, anything else a dNSName. Default: [CN, localhost, 127.0.0.1]. */
  subjectAltNames?: readonly string[];
  days?: number;
  organization?: string;
  organizationalUnit?: string;
  /** Mark the subject `O=stunnelctl test certificate, OU=TEST ONLY - NOT FOR PRODUCTION`. */
  testOnly?: boolean;
}

export interface SelfSignedCertificate extends CertificateSummary {
  /** Certificate then PKCS#8 private key: the one file stunnel's `cert =` reads. */
  readonly pem: string;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

export const DEFAULT_KEY_TYPE: KeyType = 'rsa';
export const DEFAULT_RSA_BITS: RsaKeyBits = 2048;
export const DEFAULT_EC_CURVE: EcCurve = 'prime256v1';
export const DEFAULT_DIGEST: Digest = 'sha256';
/** 825 days: the longest validity Apple platforms accept for a TLS server certificate. */
export const DEFAULT_VALIDITY_DAYS = 825;
export const MAX_VALIDITY_DAYS = 36_525;
/** notBefore lies this far in the past, so a peer whose clock is slightly behind accepts it. */
const CLOCK_SKEW_ALLOWANCE_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
const SERIAL_BYTES = 16;
/** X.520 upper bound for CN, O and OU. */
const MAX_NAME_ATTRIBUTE_LENGTH = 64;
const MAX_DNS_NAME_LENGTH = 253;
const DNS_LABEL = '[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
/** Host names of 63-character labels, optionally a leading `*.` wildcard. */
const DNS_NAME_PATTERN = new RegExp(`^(\\*\\.)?${DNS_LABEL}(\\.${DNS_LABEL})*$`);
const CONTROL_CHARACTER_PATTERN = /[\u0000-\u001f\u007f]/;

export interface NormalizedSelfSignedOptions {
  readonly keyPairSpec: KeyPairSpec;
  readonly digest: Digest;
  readonly subject: readonly NameAttribute[];
  readonly subjectAltNames: readonly SubjectAltName[];
  readonly days: number;
}

const isOneOf = <T>(values: readonly T[], value: unknown): value is T => values.includes(value as T);

/** A SAN entry, or the reason it cannot be one. */
const parseSubjectAltName = (text: string): SubjectAltName | string => {
  const ipVersion = isIP(text);
  if (ipVersion !== 0) {
    // forge's iPAddress encoder reads neither zone ids (`%eth0`) nor dotted IPv6 tails (`::ffff:1.2.3.4`).
    return ipVersion === 6 && /[%.]/.test(text)
      ? `subject alternative name "${text}": write the IPv6 address in hex only, without a zone id`
      : { kind: 'ip', value: text };
  }
  return text.length <= MAX_DNS_NAME_LENGTH && DNS_NAME_PATTERN.test(text)
    ? { kind: 'dns', value: text }
    : `subject alternative name "${text}" is neither an IP address nor a DNS name`;
};

const isSameSubjectAltName = (a: SubjectAltName, b: SubjectAltName): boolean =>
  a.kind === b.kind && a.value.toLowerCase() === b.value.toLowerCase();

const normalizeSubjectAltNames = (
  requested: readonly string[] | undefined,
  commonName: string,
  problems: string[],
): SubjectAltName[] => {
  const explicit = requested !== undefined;
  const entries: SubjectAltName[] = [];
  for (const text of requested ?? [commonName, 'localhost', '127.0.0.1']) {
    const parsed = parseSubjectAltName(text);
    if (typeof parsed === 'string') {
      // By default the CN is only added when it is a host name (it may be free text).
      if (explicit) {
        problems.push(parsed);
      }
    } else if (!entries.some((entry) => isSameSubjectAltName(entry, parsed))) {
      entries.push(parsed);
    }
  }
  if (explicit && requested.length === 0) {
    problems.push('subjectAltNames must name at least one host name or IP address');
  }
  return entries;
};

const checkNameAttribute = (label: string, value: string, problems: string[]): void => {
  if (value.length === 0 || value.length > MAX_NAME_ATTRIBUTE_LENGTH) {
    problems.push(`${label} must be 1 to ${MAX_NAME_ATTRIBUTE_LENGTH} characters long, not ${value.length}`);
  } else if (CONTROL_CHARACTER_PATTERN.test(value)) {
    problems.push(`${label} must not contain control characters`);
  }
};

const normalizeSubject = (options: SelfSignedOptions, commonName: string, problems: string[]): NameAttribute[] => {
  const { organization, organizationalUnit, testOnly = false } = options;
  if (testOnly && (organization !== undefined || organizationalUnit !== undefined)) {
    problems.push('organization / organizationalUnit cannot be combined with testOnly (it sets both)');
  }
  const subject: NameAttribute[] = [];
  const o = testOnly ? TEST_ONLY_ORGANIZATION : organization;
  const ou = testOnly ? TEST_ONLY_ORGANIZATIONAL_UNIT : organizationalUnit;
  if (o !== undefined) {
    checkNameAttribute('organization', o, problems);
    subject.push({ shortName: 'O', value: o });
  }
  if (ou !== undefined) {
    checkNameAttribute('organizationalUnit', ou, problems);
    subject.push({ shortName: 'OU', value: ou });
  }
  checkNameAttribute('commonName', commonName, problems);
  subject.push({ shortName: 'CN', value: commonName });
  return subject;
};

const normalizeKeyPairSpec = (options: SelfSignedOptions, problems: string[]): KeyPairSpec => {
  const { keyType = DEFAULT_KEY_TYPE, rsaBits = DEFAULT_RSA_BITS, ecCurve = DEFAULT_EC_CURVE } = options;
  if (!isOneOf(KEY_TYPES, keyType)) {
    problems.push(`keyType must be one of ${KEY_TYPES.join(', ')}, not "${String(keyType)}"`);
  }
  if (keyType === 'ec') {
    if (!isOneOf(Object.keys(EC_CURVE_BITS), ecCurve)) {
      problems.push(`ecCurve must be one of ${Object.keys(EC_CURVE_BITS).join(', ')}, not "${String(ecCurve)}"`);
    }
    return { keyType, ecCurve };
  }
  if (!isOneOf(RSA_KEY_BITS, rsaBits)) {
    problems.push(`rsaBits must be one of ${RSA_KEY_BITS.join(', ')}, not ${String(rsaBits)}`);
  }
  return { keyType: 'rsa', rsaBits: rsaBits as RsaKeyBits };
};

/** Applies the defaults and collects every problem at once (SCTL_ERR_USAGE naming all of them). */
export const normalizeSelfSignedOptions = (options: SelfSignedOptions = {}): NormalizedSelfSignedOptions => {
  const problems: string[] = [];
  const { digest = DEFAULT_DIGEST, days = DEFAULT_VALIDITY_DAYS, commonName = hostname() || 'localhost' } = options;
  const keyPairSpec = normalizeKeyPairSpec(options, problems);
  if (!isOneOf(DIGESTS, digest)) {
    problems.push(`digest must be one of ${DIGESTS.join(', ')}, not "${String(digest)}"`);
  }
  if (!Number.isInteger(days) || days < 1 || days > MAX_VALIDITY_DAYS) {
    problems.push(`days must be a whole number from 1 to ${MAX_VALIDITY_DAYS}, not ${String(days)}`);
  }
  const subject = normalizeSubject(options, commonName, problems);
  const subjectAltNames = normalizeSubjectAltNames(options.subjectAltNames, commonName, problems);
  if (problems.length > 0) {
    throw new StunnelctlError('SCTL_ERR_USAGE', `Invalid certificate options: ${problems.join('; ')}`, {
      hint: 'Correct the options named above; "stunnelctl make-self-signed-cert --help" lists them with their defaults',
    });
  }
  return { keyPairSpec, digest, subject, subjectAltNames, days };
};

/** 16 random bytes read as a positive, minimally encoded DER INTEGER (first byte 0x01..0x7f). */
const createSerial = (): Buffer => {
  const serial = randomBytes(SERIAL_BYTES);
  serial[0] = ((serial[0] ?? 0) & 0x7f) || 0x01;
  return serial;
};

const createNativeKeyPair = async (spec: KeyPairSpec): Promise<NativeKeyPair> => {
  try {
    return await createKeyPair(spec);
  } catch (error) {
    throw new StunnelctlError('SCTL_ERR_CERT', `Could not generate the ${spec.keyType.toUpperCase()} key pair`, {
      hint: 'Check that Node was built with OpenSSL support for this key type',
      cause: error,
    });
  }
};

export const generateSelfSigned = async (options: SelfSignedOptions = {}): Promise<SelfSignedCertificate> => {
  const { keyPairSpec, digest, subject, subjectAltNames, days } = normalizeSelfSignedOptions(options);
  const keyPair = await createNativeKeyPair(keyPairSpec);
  const notBefore = new Date(Math.floor((Date.now() - CLOCK_SKEW_ALLOWANCE_MS) / 1000) * 1000);
  // Validity spans exactly `days` (notAfter - notBefore): some clients cap the span, not the end.
  const notAfter = new Date(notBefore.getTime() + days * DAY_MS);
  const der = buildSelfSignedCertificate({
    serial: createSerial(),
    subject,
    notBefore,
    notAfter,
    subjectAltNames,
    digest,
    keyPair,
  });
  const certificate = new X509Certificate(der);
  if (!certificate.verify(keyPair.publicKey)) {
    throw new StunnelctlError('SCTL_ERR_INTERNAL', 'The generated certificate does not verify with its own key', {
      hint: 'Report this as a bug in stunnelctl, with the options used',
    });
  }
  const certificatePem = formatPem('CERTIFICATE', der);
  const privateKeyPem = keyPair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { ...summarizeCertificate(certificate), pem: certificatePem + privateKeyPem, certificatePem, privateKeyPem };
};
