// A service's trust store as OpenSSL, and so stunnel, finds it: CAfile's certificates and CApath's
// under hashed names; CRLfile's CRLs and CRLpath's under hashed names. Node takes them as PEM, one
// certificate or CRL per array entry, so they are read and split here, at load time.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parsePemBlocks } from '../certs/pem-blocks.js';
import type { ServiceConfig } from './types.js';

type TrustPaths = Pick<ServiceConfig, 'caFile' | 'caPath'>;
type CrlPaths = Pick<ServiceConfig, 'crlFile' | 'crlPath'>;

/**
 * OpenSSL looks a directory up by subject hash only (`openssl rehash` / `c_rehash` names): HASH.N
 * for certificates, HASH.rN for CRLs. Any other file there is never read.
 */
const HASHED_CERTIFICATE_NAME = /^[0-9a-f]{8}\.\d+$/;
const HASHED_CRL_NAME = /^[0-9a-f]{8}\.r\d+$/;

/** The labels OpenSSL's PEM reader takes as a certificate. */
const CERTIFICATE_LABELS: ReadonlySet<string> = new Set(['CERTIFICATE', 'X509 CERTIFICATE', 'TRUSTED CERTIFICATE']);
const CRL_LABELS: ReadonlySet<string> = new Set(['X509 CRL']);

/** Texts of the regular files of `directory` (links followed) whose names match, in name order. */
const readDirectoryFiles = (directory: string, names: RegExp | undefined): string[] =>
  readdirSync(directory)
    .filter((name) => names === undefined || names.test(name))
    .sort()
    .map((name) => join(directory, name))
    .filter((path) => statSync(path, { throwIfNoEntry: false })?.isFile() === true)
    .map((path) => readFileSync(path, 'utf8'));

const pemBlocksLabelled = (texts: readonly string[], labels: ReadonlySet<string>): string[] =>
  texts.flatMap((text) => parsePemBlocks(text).filter((block) => labels.has(block.label)).map((block) => block.text));

/** SHA-256 of the DER inside a PEM block: a file and its hash link hold the same certificate or CRL. */
const derDigest = (pem: string): string =>
  createHash('sha256').update(Buffer.from(pem.replace(/-----[A-Z0-9 ]+-----/g, ''), 'base64')).digest('hex');

const withoutRepeats = (pems: readonly string[]): string[] => {
  const seen = new Set<string>();
  return pems.filter((pem) => {
    const digest = derDigest(pem);
    if (seen.has(digest)) return false;
    seen.add(digest);
    return true;
  });
};

/**
 * The trust anchors: CAfile's certificates, then CApath's under hashed names, each certificate once
 * (Node also sends every one's subject in the CertificateRequest, so a repeat would be listed twice).
 */
export const readTrustedCertificates = (service: TrustPaths): string[] =>
  withoutRepeats(pemBlocksLabelled([
    ...(service.caFile === null ? [] : [readFileSync(service.caFile, 'utf8')]),
    ...(service.caPath === null ? [] : readDirectoryFiles(service.caPath, HASHED_CERTIFICATE_NAME)),
  ], CERTIFICATE_LABELS));

/** Every CRL of CRLfile and of CRLpath's hashed names, one entry each: Node parses one CRL per entry. */
export const readCrls = (service: CrlPaths): string[] =>
  withoutRepeats(pemBlocksLabelled([
    ...(service.crlFile === null ? [] : [readFileSync(service.crlFile, 'utf8')]),
    ...(service.crlPath === null ? [] : readDirectoryFiles(service.crlPath, HASHED_CRL_NAME)),
  ], CRL_LABELS));

/** The CRLs of one PEM text (a CRLfile). */
export const splitCrls = (text: string): string[] => pemBlocksLabelled([text], CRL_LABELS);

/**
 * Whether CAfile or CApath holds any certificate, counted as stunnel counts them for "No trusted
 * certificates found": in CApath every file counts, hashed name or not (OpenSSL's
 * SSL_add_dir_cert_subjects_to_stack reads them all, unlike certificate lookup).
 */
export const hasAnyCaCertificate = (service: TrustPaths): boolean =>
  readTrustedCertificates(service).length > 0 ||
  (service.caPath !== null && pemBlocksLabelled(readDirectoryFiles(service.caPath, undefined), CERTIFICATE_LABELS).length > 0);
