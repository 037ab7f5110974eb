// Fingerprints in the forms operators compare: OpenSSL's colon-separated SHA-256 hex
// (`openssl x509 -fingerprint -sha256`) and curl's `sha256//<base64>` public-key pin.

import { createHash, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

const sha256 = (data: Uint8Array): Buffer => createHash('sha256').update(data).digest();

/** `AB:CD:...`: uppercase hex pairs separated by `:`. */
export const formatFingerprint = (digest: Uint8Array): string =>
  Buffer.from(digest).toString('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');

/** The DER SubjectPublicKeyInfo of a key (a private key yields its public half). */
export const getSubjectPublicKeyInfoDer = (key: KeyObject): Buffer =>
  (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' });

/** SHA-256 over the DER certificate. */
export const getCertificateFingerprintSha256 = (certificateDer: Uint8Array): string =>
  formatFingerprint(sha256(certificateDer));

/** SHA-256 over the DER SubjectPublicKeyInfo: what the MT9750 (like SSH) pins. */
export const getPublicKeyFingerprintSha256 = (key: KeyObject): string =>
  formatFingerprint(sha256(getSubjectPublicKeyInfoDer(key)));

/** The same digest in curl's `--pinnedpubkey` form: `sha256//<base64>`. */
export const getPublicKeyPinSha256 = (key: KeyObject): string =>
  `sha256//${sha256(getSubjectPublicKeyInfoDer(key)).toString('base64')}`;
