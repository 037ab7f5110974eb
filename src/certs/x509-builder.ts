// Lays out a self-signed X.509 v3 server certificate with node-forge's ASN.1 model and signs it
// with Node's native crypto.sign, one path for RSA and EC (forge itself can only sign with RSA).

import { createHash, sign } from 'node:crypto';
import type * as ForgeTypes from 'node-forge';
import { forge } from './forge.js';
import { getSubjectPublicKeyInfoDer } from './fingerprint.js';
import type { NativeKeyPair } from './key-pair.js';

const { asn1 } = forge;
type Asn1 = ForgeTypes.asn1.Asn1;

export const DIGESTS = ['sha256', 'sha384', 'sha512'] as const;
export type Digest = (typeof DIGESTS)[number];

export type SubjectAltName =
  | { readonly kind: 'dns'; readonly value: string }
  | { readonly kind: 'ip'; readonly value: string };

/** Subject attribute short names -> OIDs, in the order they are written (most significant first). */
export const NAME_ATTRIBUTE_OIDS = { O: '2.5.4.10', OU: '2.5.4.11', CN: '2.5.4.3' } as const;
export type NameAttributeName = keyof typeof NAME_ATTRIBUTE_OIDS;

export interface NameAttribute {
  readonly shortName: NameAttributeName;
  readonly value: string;
}

export interface SelfSignedCertificateSpec {
  /** Positive, minimally encoded: the first byte is 0x01..0x7f. */
  readonly serial: Buffer;
  readonly subject: readonly NameAttribute[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly subjectAltNames: readonly SubjectAltName[];
  readonly digest: Digest;
  readonly keyPair: NativeKeyPair;
}

/** sha*WithRSAEncryption (RFC 4055, parameters NULL) and ecdsa-with-SHA* (RFC 5758, parameters absent). */
const SIGNATURE_ALGORITHM_OIDS = {
  rsa: { sha256: '1.2.840.113549.1.1.11', sha384: '1.2.840.113549.1.1.12', sha512: '1.2.840.113549.1.1.13' },
  ec: { sha256: '1.2.840.10045.4.3.2', sha384: '1.2.840.10045.4.3.3', sha512: '1.2.840.10045.4.3.4' },
} as const;

const SAN_TYPE_DNS_NAME = 2;
const SAN_TYPE_IP_ADDRESS = 7;
const X509_VERSION_3 = 2;
/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 on. */
const FIRST_GENERALIZED_TIME_YEAR = 2050;

// node-forge has these, @types/node-forge does not declare them: fromDer's options object, and
// the encoder for an extension list that forge's own certificate model has filled in.
type FromDerWithOptions = (
  bytes: string,
  options: { strict: boolean; decodeBitStrings: boolean },
) => Asn1;
const fromDer = forge.asn1.fromDer as unknown as FromDerWithOptions;
const { certificateExtensionsToAsn1 } = forge.pki as unknown as {
  certificateExtensionsToAsn1: (extensions: unknown[]) => Asn1;
};

const toBinary = (bytes: Uint8Array): string => Buffer.from(bytes).toString('binary');

const createAsn1 = (type: number, value: string | Asn1[]): Asn1 =>
  asn1.create(asn1.Class.UNIVERSAL, type, Array.isArray(value), value);

const createOid = (oid: string): Asn1 =>
  createAsn1(asn1.Type.OID, asn1.oidToDer(oid).getBytes());

const createTime = (date: Date): Asn1 =>
  date.getUTCFullYear() < FIRST_GENERALIZED_TIME_YEAR
    ? createAsn1(asn1.Type.UTCTIME, asn1.dateToUtcTime(date))
    : createAsn1(asn1.Type.GENERALIZEDTIME, asn1.dateToGeneralizedTime(date));

const getSignatureKeyType = (keyPair: NativeKeyPair): 'rsa' | 'ec' => {
  const type = keyPair.privateKey.asymmetricKeyType;
  if (type === 'rsa' || type === 'ec') {
    return type;
  }
  throw new TypeError(`Unsupported key type for a certificate: ${String(type)}`);
};

const createSignatureAlgorithm = (keyType: 'rsa' | 'ec', digest: Digest): Asn1 => {
  const oid = createOid(SIGNATURE_ALGORITHM_OIDS[keyType][digest]);
  return createAsn1(asn1.Type.SEQUENCE, keyType === 'rsa' ? [oid, createAsn1(asn1.Type.NULL, '')] : [oid]);
};

const createName = (attributes: readonly NameAttribute[]): Asn1 =>
  forge.pki.distinguishedNameToAsn1({
    attributes: attributes.map(({ shortName, value }) => ({
      type: NAME_ATTRIBUTE_OIDS[shortName],
      value,
      // UTF8String, as OpenSSL writes by default: PrintableString cannot hold `_`, `@` or `*`.
      valueTagClass: asn1.Type.UTF8 as number as ForgeTypes.asn1.Class,
    })),
  });

/** RFC 5280 4.2.1.2 method 1: SHA-1 over the subjectPublicKey BIT STRING (without its unused-bits octet). */
const computeSubjectKeyIdentifier = (spki: Asn1): string => {
  const { value } = spki;
  const subjectPublicKey = Array.isArray(value) ? value[1] : undefined;
  if (subjectPublicKey === undefined || typeof subjectPublicKey.value !== 'string') {
    throw new TypeError('SubjectPublicKeyInfo without a subjectPublicKey BIT STRING');
  }
  const keyBytes = Buffer.from(subjectPublicKey.value.slice(1), 'binary');
  return toBinary(createHash('sha1').update(keyBytes).digest());
};

const createExtensions = (spec: SelfSignedCertificateSpec, keyType: 'rsa' | 'ec', spki: Asn1) => {
  // forge's certificate model encodes named extensions; the SKI is passed ready-made because
  // forge can only derive it from an RSA key.
  const model = forge.pki.createCertificate();
  model.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    // keyEncipherment only where the key can do RSA key transport (TLS 1.2 RSA key exchange).
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: keyType === 'rsa', critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    {
      name: 'subjectAltName',
      altNames: spec.subjectAltNames.map((san) =>
        san.kind === 'ip'
          ? { type: SAN_TYPE_IP_ADDRESS, ip: san.value }
          : { type: SAN_TYPE_DNS_NAME, value: san.value },
      ),
    },
    {
      name: 'subjectKeyIdentifier',
      value: createAsn1(asn1.Type.OCTETSTRING, computeSubjectKeyIdentifier(spki)),
    },
  ]);
  return certificateExtensionsToAsn1(model.extensions);
};

/** The DER certificate. */
export const buildSelfSignedCertificate = (spec: SelfSignedCertificateSpec): Buffer => {
  const keyType = getSignatureKeyType(spec.keyPair);
  const signatureAlgorithm = createSignatureAlgorithm(keyType, spec.digest);
  const name = createName(spec.subject);
  // The key's own SubjectPublicKeyInfo, taken verbatim: forge can only encode RSA keys.
  const spki = fromDer(toBinary(getSubjectPublicKeyInfoDer(spec.keyPair.publicKey)), {
    strict: true,
    decodeBitStrings: false,
  });
  const tbsCertificate = createAsn1(asn1.Type.SEQUENCE, [
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
      createAsn1(asn1.Type.INTEGER, asn1.integerToDer(X509_VERSION_3).getBytes()),
    ]),
    createAsn1(asn1.Type.INTEGER, toBinary(spec.serial)),
    signatureAlgorithm,
    name,
    createAsn1(asn1.Type.SEQUENCE, [createTime(spec.notBefore), createTime(spec.notAfter)]),
    name,
    spki,
    createExtensions(spec, keyType, spki),
  ]);
  const tbsDer = Buffer.from(asn1.toDer(tbsCertificate).getBytes(), 'binary');
  // RSA: PKCS#1 v1.5; EC: a DER-encoded ECDSA-Sig-Value, which is what X.509 carries.
  const signature = sign(spec.digest, tbsDer, spec.keyPair.privateKey);
  const certificate = createAsn1(asn1.Type.SEQUENCE, [
    tbsCertificate,
    signatureAlgorithm,
    createAsn1(asn1.Type.BITSTRING, `\u0000${toBinary(signature)}`),
  ]);
  return Buffer.from(asn1.toDer(certificate).getBytes(), 'binary');
};
