// What an operator sees of a certificate (names, validity, fingerprints, key, SANs), read with
// Node's native X509Certificate; shared by generate and inspect so both print the same thing.

import type { X509Certificate } from 'node:crypto';
import {
  getCertificateFingerprintSha256,
  getPublicKeyFingerprintSha256,
  getPublicKeyPinSha256,
} from './fingerprint.js';

/** The subject of a test-only certificate carries these, so nobody mistakes it for production. */
export const TEST_ONLY_ORGANIZATION = 'stunnelctl test certificate';
export const TEST_ONLY_ORGANIZATIONAL_UNIT = 'TEST ONLY - NOT FOR PRODUCTION';

export interface CertificateSummary {
  /** RFC 4514 order, most specific first: `CN=host, OU=..., O=...`. */
  readonly subject: string;
  readonly issuer: string;
  readonly selfSigned: boolean;
  /** The subject carries the test-only marks of `install`'s certificate. */
  readonly testOnly: boolean;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Uppercase hex, as `openssl x509 -serial` prints it. */
  readonly serialHex: string;
  readonly certFingerprintSha256: string;
  readonly publicKeyFingerprintSha256: string;
  /** curl's `--pinnedpubkey` form: `sha256//<base64>`. */
  readonly publicKeyPinSha256: string;
  /** `rsa`, `ec`, `ed25519`, ... (Node's asymmetricKeyType). */
  readonly keyType: string;
  readonly keyBits: number | undefined;
  /** EC keys only: the OpenSSL curve name. */
  readonly keyCurve: string | undefined;
  /** `DNS:name` / `IP:address`, in certificate order. */
  readonly subjectAltNames: readonly string[];
}

const EC_CURVE_KEY_BITS: Readonly<Record<string, number>> = {
  prime256v1: 256,
  secp384r1: 384,
  secp521r1: 521,
};

const OPENSSL_MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** OpenSSL's `Nov  5 17:18:00 2025 GMT` (Node 20's validFrom / validTo) -> Date. */
export const parseOpenSslTime = (text: string): Date => {
  const match = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4}) GMT$/.exec(text);
  const month = OPENSSL_MONTHS.indexOf(match?.[1] ?? '');
  if (match === null || month < 0) {
    throw new TypeError(`Unrecognised certificate time: ${JSON.stringify(text)}`);
  }
  const [, , day, hours, minutes, seconds, year] = match.map(Number);
  return new Date(Date.UTC(year ?? 0, month, day, hours, minutes, seconds));
};

/** Node's one-attribute-per-line name (RFC 2253 escaped, certificate order) -> `CN=..., O=...`. */
export const formatDistinguishedName = (multiline: string): string =>
  multiline.split('\n').filter((line) => line !== '').reverse().join(', ');

const SAN_ENTRY_PATTERN = /([^:,]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;
const SAN_TYPE_NAMES: Readonly<Record<string, string>> = { 'IP Address': 'IP' };

/** Node's `DNS:a, IP Address:1.2.3.4` (values with `,` JSON-quoted) -> [`DNS:a`, `IP:1.2.3.4`]. */
export const parseSubjectAltNames = (text: string | undefined): string[] =>
  Array.from(text?.matchAll(SAN_ENTRY_PATTERN) ?? [], ([, type = '', value = '']) => {
    const plain = value.startsWith('"') ? (JSON.parse(value) as string) : value;
    return `${SAN_TYPE_NAMES[type] ?? type}:${plain}`;
  });

const getKeyBits = (certificate: X509Certificate): number | undefined => {
  const details = certificate.publicKey.asymmetricKeyDetails;
  if (details?.modulusLength !== undefined) {
    return details.modulusLength;
  }
  return details?.namedCurve === undefined ? undefined : EC_CURVE_KEY_BITS[details.namedCurve];
};

const hasTestOnlyMarks = (subjectLines: readonly string[]): boolean =>
  subjectLines.includes(`O=${TEST_ONLY_ORGANIZATION}`) &&
  subjectLines.includes(`OU=${TEST_ONLY_ORGANIZATIONAL_UNIT}`);

export const summarizeCertificate = (certificate: X509Certificate): CertificateSummary => {
  const { publicKey } = certificate;
  return {
    subject: formatDistinguishedName(certificate.subject),
    issuer: formatDistinguishedName(certificate.issuer),
    // Not checkIssued(): OpenSSL's issuer check also demands keyCertSign, which a leaf lacks.
    selfSigned: certificate.subject === certificate.issuer && certificate.verify(publicKey),
    testOnly: hasTestOnlyMarks(certificate.subject.split('\n')),
    notBefore: parseOpenSslTime(certificate.validFrom),
    notAfter: parseOpenSslTime(certificate.validTo),
    serialHex: certificate.serialNumber.toUpperCase(),
    certFingerprintSha256: getCertificateFingerprintSha256(certificate.raw),
    publicKeyFingerprintSha256: getPublicKeyFingerprintSha256(publicKey),
    publicKeyPinSha256: getPublicKeyPinSha256(publicKey),
    keyType: publicKey.asymmetricKeyType ?? 'unknown',
    keyBits: getKeyBits(certificate),
    keyCurve: publicKey.asymmetricKeyDetails?.namedCurve,
    subjectAltNames: parseSubjectAltNames(certificate.subjectAltName),
  };
};
