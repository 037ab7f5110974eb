// A service's revocation lists as stunnel loads them: every CRL of CRLfile and CRLpath. Node takes
// them as PEM, one CRL per array entry, so they are read and split here, at load time.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parsePemBlocks } from '../certs/pem-blocks.js';
import type { ServiceConfig } from './types.js';

type CrlPaths = Pick<ServiceConfig, 'crlFile' | 'crlPath'>;

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

/** SHA-256 of the DER inside a PEM block: a file and its hash link hold the same CRL. */
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

/** Every CRL of CRLfile and of CRLpath's files, one entry each: Node parses one CRL per entry. */
export const readCrls = (service: CrlPaths): string[] =>
  withoutRepeats(pemBlocksLabelled([
    ...(service.crlFile === null ? [] : [readFileSync(service.crlFile, 'utf8')]),
    ...(service.crlPath === null ? [] : readDirectoryFiles(service.crlPath, undefined)),
  ], CRL_LABELS));

/** The CRLs of one PEM text (a CRLfile). */
export const splitCrls = (text: string): string[] => pemBlocksLabelled([text], CRL_LABELS);
